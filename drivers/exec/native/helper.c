/* Finding berth-exec-helper and copying it into a sealed memfd: a file
 * that, once sealed, nothing can write, not even root in the container
 * through /proc/PID/exe. See exec-helper.c for why. */
#include "config.h"
#include "native.h"
#include <berth/error.h>
#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define HELPER_NAME "berth-exec-helper"

static char *
helper_path (void)
{
  const char *env = g_getenv ("BERTH_EXEC_HELPER");
  if (env && *env)
    return g_strdup (env);
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = self ? g_path_get_dirname (self) : NULL;
  char *beside = dir ? g_build_filename (dir, HELPER_NAME, NULL) : NULL;
  if (beside && access (beside, X_OK) == 0)
    return beside;
  g_free (beside);
  return g_build_filename (BERTH_HELPER_DIR, HELPER_NAME, NULL);
}

static gboolean
copy_all (int from, int to, off_t size)
{
  off_t done = 0;
  while (done < size)
    {
      ssize_t n = sendfile (to, from, &done, size - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
    }
  return TRUE;
}

int
berth_exec_helper_memfd (GError **error)
{
  g_autofree char *path = helper_path ();
  int in = open (path, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return berth_fail_errno (error, errno, "open %s (berth's exec helper; reinstall berth)", path), -1;
  struct stat st;
  int out = memfd_create (HELPER_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  gboolean ok = fstat (in, &st) == 0 && out >= 0 && copy_all (in, out, st.st_size)
                && fchmod (out, 0555) == 0
                && fcntl (out, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) == 0;
  int errsv = errno;
  close (in);
  if (!ok)
    {
      if (out >= 0)
        close (out);
      return berth_fail_errno (error, errsv, "copy %s into a sealed memfd", path), -1;
    }
  return out;
}

const char **
berth_exec_helper_argv (const char *program, char *const *args, const char *sync_fd)
{
  guint argc = g_strv_length ((char **) args), n = 0;
  const char **argv = g_new0 (const char *, argc + 5);
  argv[n++] = "berth-exec-helper";
  argv[n++] = sync_fd ? "--berth-exec-sync" : "--berth-exec";
  if (sync_fd)
    argv[n++] = sync_fd;
  argv[n++] = program;
  memcpy (argv + n, args, argc * sizeof (char *));
  return argv;
}
