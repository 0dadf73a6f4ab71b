/* Pseudo-terminals (include/berth/pty.h). */
#include "config.h"
#include <berth/error.h>
#include <berth/pty.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

gboolean
berth_pty_open (int *master, int *slave, GError **error)
{
  *master = posix_openpt (O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (*master < 0)
    return berth_fail_errno (error, errno, "open a pseudo-terminal");
  char name[128];
  if (grantpt (*master) < 0 || unlockpt (*master) < 0 || ptsname_r (*master, name, sizeof name) != 0
      || (*slave = open (name, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0)
    {
      int errsv = errno;
      close (*master);
      *master = -1;
      return berth_fail_errno (error, errsv, "open a pseudo-terminal");
    }
  struct winsize ws;
  if (ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
    ioctl (*master, TIOCSWINSZ, &ws);
  return TRUE;
}

static int
connect_unix (const char *path, GError **error)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (strlen (path) >= sizeof addr.sun_path)
    return berth_fail (error, BERTH_ERROR_INVALID, "console socket %s: path too long", path), -1;
  strcpy (addr.sun_path, path);
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return berth_fail_errno (error, errno, "console socket %s: socket", path), -1;
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      int errsv = errno;
      close (fd);
      return berth_fail_errno (error, errsv, "console socket %s: connect", path), -1;
    }
  return fd;
}

gboolean
berth_pty_send_master (const char *socket_path, int master, GError **error)
{
  char name[128];
  if (ptsname_r (master, name, sizeof name) != 0)
    return berth_fail_errno (error, errno, "console socket %s: name the pty", socket_path);
  int sock = connect_unix (socket_path, error);
  if (sock < 0)
    return FALSE;
  struct iovec iov = { .iov_base = name, .iov_len = strlen (name) };
  union {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } control;
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                        .msg_controllen = sizeof control.buf };
  struct cmsghdr *cm = CMSG_FIRSTHDR (&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN (sizeof (int));
  memcpy (CMSG_DATA (cm), &master, sizeof (int));
  gboolean ok = sendmsg (sock, &msg, MSG_NOSIGNAL) == (ssize_t) iov.iov_len
                || berth_fail_errno (error, errno, "console socket %s: send the pty master", socket_path);
  close (sock);
  return ok;
}
