/* Pseudo-terminals (include/berth/pty.h). */
#include "config.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/pty.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

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
  gboolean ok = berth_send_with_fd (sock, name, strlen (name), master) == (gssize) strlen (name)
                || berth_fail_errno (error, errno, "console socket %s: send the pty master", socket_path);
  close (sock);
  return ok;
}

/* ---- the attached terminal and forwarded signals ---- */

static const int forwarded_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2,
                                         SIGWINCH };

static void
forwarded_set (sigset_t *set)
{
  sigemptyset (set);
  for (guint i = 0; i < G_N_ELEMENTS (forwarded_signals); i++)
    sigaddset (set, forwarded_signals[i]);
}

gboolean
berth_attach_hold_signals (sigset_t *old, GError **error)
{
  sigset_t set;
  forwarded_set (&set);
  if (sigprocmask (SIG_BLOCK, &set, old) < 0)
    return berth_fail_errno (error, errno, "block the signals a foreground container gets");
  return TRUE;
}

void
berth_attach_release_signals (const sigset_t *old)
{
  if (sigprocmask (SIG_SETMASK, old, NULL) < 0)
    g_printerr ("berth: restore the signal mask: %s\n", g_strerror (errno));
}

/* A signal already pending when the signalfd is made is read from it.
 * -1 with *held FALSE when the mask could not be changed: then nothing is
 * forwarded and there is no mask to put back. */
static int
block_signals (sigset_t *old, gboolean *held)
{
  g_autoptr (GError) error = NULL;
  *held = berth_attach_hold_signals (old, &error);
  if (!*held)
    {
      g_printerr ("berth: %s\n", error->message);
      return -1;
    }
  sigset_t set;
  forwarded_set (&set);
  int sigfd = signalfd (-1, &set, SFD_CLOEXEC);
  if (sigfd < 0)
    g_printerr ("berth: signalfd: %s: signals are not passed on to the container\n",
                g_strerror (errno));
  return sigfd;
}

static void
copy_once (int from, int to, gboolean *open)
{
  char buf[16384];
  ssize_t n = read (from, buf, sizeof buf);
  if (n <= 0 && !(n < 0 && errno == EINTR))
    *open = FALSE;
  else if (n > 0)
    berth_write_all (to, buf, n);
}

static void
forward_signal (BerthAttachment *a, int sigfd)
{
  struct signalfd_siginfo si;
  if (read (sigfd, &si, sizeof si) != sizeof si)
    return;
  if ((int) si.ssi_signo == SIGWINCH)
    {
      struct winsize ws;
      if (a->pty_master >= 0 && ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
        ioctl (a->pty_master, TIOCSWINSZ, &ws);
      return;
    }
  kill (a->target, si.ssi_signo);
}

/* @old: the mask to put back, NULL when block_signals changed none. */
static void
restore_terminal (gboolean raw, struct termios *saved, int pidfd, int sigfd, const sigset_t *old)
{
  if (raw)
    tcsetattr (STDIN_FILENO, TCSANOW, saved);
  if (pidfd >= 0)
    close (pidfd);
  if (sigfd >= 0)
    close (sigfd);
  if (old != NULL)
    berth_attach_release_signals (old);
}

/* The monitor's "<code>", or -1 when it closed the pipe without one. */
static int
read_exit_code (int fd)
{
  char text[16];
  ssize_t n;
  while ((n = read (fd, text, sizeof text - 1)) < 0 && errno == EINTR)
    ;
  if (n <= 0)
    return -1;
  text[n] = '\0';
  return atoi (text);
}

int
berth_attach (BerthAttachment *a)
{
  sigset_t old;
  gboolean held;
  int sigfd = block_signals (&old, &held);
  int pidfd = syscall (SYS_pidfd_open, a->child, 0);
  struct termios saved;
  gboolean raw = a->pty_master >= 0 && isatty (STDIN_FILENO) && tcgetattr (STDIN_FILENO, &saved) == 0;
  struct winsize ws;
  /* a pty made in the container starts without a size */
  if (raw && ioctl (STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
    ioctl (a->pty_master, TIOCSWINSZ, &ws);
  if (raw)
    {
      struct termios t = saved;
      cfmakeraw (&t);
      tcsetattr (STDIN_FILENO, TCSANOW, &t);
    }
  gboolean pty_open = a->relay_pty;
  gboolean in_open = (a->relay_pty && a->interactive) || a->stdin_pipe >= 0;
  int in_to = a->stdin_pipe >= 0 ? a->stdin_pipe : a->pty_master;
  int status = 0;
  for (;;)
    {
      struct pollfd p[5] = {
        { .fd = sigfd, .events = POLLIN },
        { .fd = pidfd, .events = POLLIN },
        { .fd = pty_open ? a->pty_master : -1, .events = POLLIN },
        { .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN },
        { .fd = a->exit_fd, .events = POLLIN },
      };
      if (poll (p, 5, -1) < 0 && errno != EINTR)
        break;
      int reported = p[4].revents ? read_exit_code (a->exit_fd) : -1;
      if (reported >= 0)
        {
          restore_terminal (raw, &saved, pidfd, sigfd, held ? &old : NULL);
          return reported;
        }
      if (p[4].revents)
        a->exit_fd = -1; /* closed without a code: wait for the monitor itself */
      if (p[0].revents)
        forward_signal (a, sigfd);
      if (p[2].revents)
        copy_once (a->pty_master, STDOUT_FILENO, &pty_open);
      if (p[3].revents)
        copy_once (STDIN_FILENO, in_to, &in_open);
      if (!in_open && a->stdin_pipe >= 0)
        {
          close (a->stdin_pipe); /* the process reads EOF */
          a->stdin_pipe = -1;
        }
      if (p[1].revents && !pty_open)
        break;
      if (p[1].revents && pty_open && !(p[2].revents & POLLIN))
        break;
    }
  while (waitpid (a->child, &status, 0) < 0 && errno == EINTR)
    ;
  restore_terminal (raw, &saved, pidfd, sigfd, held ? &old : NULL);
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  return WIFSIGNALED (status) ? 128 + WTERMSIG (status) : 255;
}
