#include "config.h"
#include <berth/loop.h>
#include <berth/error.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/loop.h>

/* LOOP_CONFIGURE (Linux 5.8) sets file and flags in one call; older kernels
 * need SET_FD then SET_STATUS64, where autoclear is set a moment later. */
static gboolean
configure_loop (int loop_fd, int file_fd, const char *path, gboolean read_only, GError **error)
{
  struct loop_config config = { .fd = (guint32) file_fd };
  config.info.lo_flags = LO_FLAGS_AUTOCLEAR | (read_only ? LO_FLAGS_READ_ONLY : 0);
  g_strlcpy ((char *) config.info.lo_file_name, path, LO_NAME_SIZE);
  if (ioctl (loop_fd, LOOP_CONFIGURE, &config) == 0)
    return TRUE;
  if (errno != EINVAL && errno != ENOTTY)
    return berth_fail_errno (error, errno, "attach %s to a loop device", path);
  if (ioctl (loop_fd, LOOP_SET_FD, file_fd) < 0)
    return berth_fail_errno (error, errno, "attach %s to a loop device", path);
  if (ioctl (loop_fd, LOOP_SET_STATUS64, &config.info) < 0)
    {
      int errsv = errno;
      ioctl (loop_fd, LOOP_CLR_FD, 0);
      return berth_fail_errno (error, errsv, "set autoclear on the loop device for %s", path);
    }
  return TRUE;
}

static int
open_free_loop (int control_fd, char **dev_path, GError **error)
{
  int n = ioctl (control_fd, LOOP_CTL_GET_FREE);
  if (n < 0)
    {
      berth_fail_errno (error, errno, "find a free loop device (/dev/loop-control)");
      return -1;
    }
  g_autofree char *dev = g_strdup_printf ("/dev/loop%d", n);
  int fd = open (dev, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    {
      berth_fail_errno (error, errno, "open %s", dev);
      return -1;
    }
  *dev_path = g_steal_pointer (&dev);
  return fd;
}

int
berth_loop_attach (const char *path, gboolean read_only, char **dev_path, GError **error)
{
  int file_fd = open (path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (file_fd < 0)
    {
      berth_fail_errno (error, errno, "open %s", path);
      return -1;
    }
  int control_fd = open ("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (control_fd < 0)
    {
      berth_fail_errno (error, errno, "open /dev/loop-control (no loop device support?)");
      close (file_fd);
      return -1;
    }
  int loop_fd = -1;
  /* Another process may take the free device between GET_FREE and our
   * configure (EBUSY): ask again. */
  for (int attempt = 0; attempt < 16 && loop_fd < 0; attempt++)
    {
      g_autofree char *dev = NULL;
      g_autoptr (GError) local = NULL;
      int fd = open_free_loop (control_fd, &dev, error);
      if (fd < 0)
        break;
      if (configure_loop (fd, file_fd, path, read_only, &local))
        {
          loop_fd = fd;
          *dev_path = g_steal_pointer (&dev);
          break;
        }
      close (fd);
      if (!g_error_matches (local, BERTH_ERROR, BERTH_ERROR_BUSY) || attempt == 15)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          break;
        }
    }
  close (control_fd);
  close (file_fd);
  return loop_fd;
}
