/* berth-exec-helper: the last program berth itself runs inside a container.
 *
 * The native driver executes this small static binary from a sealed memfd
 * copy, and it executes the container's program. So every process that runs
 * inside the container has as its executable either this sealed copy or the
 * container's own program, never the berth binary on the host. A script
 * whose interpreter is #!/proc/self/exe therefore finds this memfd, which
 * cannot be written (F_SEAL_WRITE), and not berth (the CVE-2019-5736 class).
 *
 * Usage (by the drivers only):
 *   berth-exec-helper --berth-exec PROGRAM ARGV0 [ARG...]
 *   berth-exec-helper --berth-exec-sync FD PROGRAM ARGV0 [ARG...]
 * With --berth-exec-sync, FD is the native driver's sync socket, kept open
 * across our own exec: it closes at the program's exec, which is how the
 * driver learns that the program (not this helper) is running.
 * Exit codes as a shell's: 127 not found, 126 found but not runnable. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main (int argc, char **argv, char **envp)
{
  int first;
  if (argc >= 5 && strcmp (argv[1], "--berth-exec-sync") == 0)
    {
      int fd = atoi (argv[2]);
      /* a filter that denies fcntl: close it now, a moment early */
      if (fd > 2 && fcntl (fd, F_SETFD, FD_CLOEXEC) < 0)
        close (fd);
      first = 3;
    }
  else if (argc >= 4 && strcmp (argv[1], "--berth-exec") == 0)
    first = 2;
  else
    {
      fprintf (stderr, "berth-exec-helper: started by something other than berth; refusing\n");
      return 126;
    }
  execve (argv[first], argv + first + 1, envp);
  int errsv = errno;
  fprintf (stderr, "berth: exec %s: %s\n", argv[first], strerror (errsv));
  return errsv == ENOENT ? 127 : 126;
}
