/* Pseudo-terminals for containers: berth's own `-t` and the OCI runtime's
 * --console-socket, where the caller (containerd's shim) receives the
 * master of the pty the exec driver made in the container over a unix
 * socket. */
#pragma once
#include <glib.h>
#include <signal.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Send @master to the unix stream socket at @socket_path (SCM_RIGHTS, one
 * message whose data is the pty's name), as runc does for
 * --console-socket. The caller still owns and closes @master. */
gboolean berth_pty_send_master (const char *socket_path, int master, GError **error);

/* A process someone waits for in the foreground: the signals sent to us
 * (INT, TERM, HUP, QUIT, USR1, USR2) go to @target, the window size to
 * the pty, and with @relay_pty our stdin and stdout are copied to and from
 * its master (our terminal raw meanwhile). */
typedef struct {
  pid_t child;        /* ours to reap: the monitor, or the process itself */
  pid_t target;       /* where signals go */
  int pty_master;     /* the container's terminal: its master, or (berth run -t, whose
                       * monitor holds the master) its slave, for raw mode and the
                       * window size; -1 without a terminal */
  gboolean relay_pty; /* copy between the pty and our stdin/stdout */
  int exit_fd;        /* a monitor reports the exit code here ("<code>"); -1 */
  gboolean interactive; /* copy our stdin too */
  int stdin_pipe;     /* without a pty: our stdin is copied here, closed at its EOF; -1 */
} BerthAttachment;

/* Until @a->child exits (or exit_fd reports); the exit code, 128 + the
 * signal for a killed process. */
int berth_attach (BerthAttachment *a);

/* Blocks the signals berth_attach forwards, so that one arriving after the
 * container's program starts but before berth_attach runs waits for it
 * (and is forwarded) instead of killing us. @old gets the mask to put
 * back with berth_attach_release_signals once berth_attach has returned.
 * A child forked while they are held starts with them blocked: it must
 * put @old back itself. FALSE with @error if the mask cannot be changed. */
gboolean berth_attach_hold_signals (sigset_t *old, GError **error);
/* Puts back the mask berth_attach_hold_signals saved in @old. */
void berth_attach_release_signals (const sigset_t *old);

G_END_DECLS
