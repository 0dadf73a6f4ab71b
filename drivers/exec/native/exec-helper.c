/* berth-exec-helper: the last program berth itself runs inside a container.
 *
 * The native driver executes this small static binary from a sealed memfd
 * copy, and it executes the container's program. So every process that runs
 * inside the container has as its executable either this sealed copy or the
 * container's own program, never the berth binary on the host. A script
 * whose interpreter is #!/proc/self/exe therefore finds this memfd, which
 * cannot be written (F_SEAL_WRITE), and not berth (the CVE-2019-5736 class).
 *
 * Usage (by the driver only): berth-exec-helper --berth-exec PROGRAM ARGV0 [ARG...]
 * Exit codes as a shell's: 127 not found, 126 found but not runnable. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
main (int argc, char **argv, char **envp)
{
  if (argc < 4 || strcmp (argv[1], "--berth-exec") != 0)
    {
      fprintf (stderr, "berth-exec-helper: started by something other than berth; refusing\n");
      return 126;
    }
  execve (argv[2], argv + 3, envp);
  int errsv = errno;
  fprintf (stderr, "berth: exec %s: %s\n", argv[2], strerror (errsv));
  return errsv == ENOENT ? 127 : 126;
}
