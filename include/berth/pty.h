/* Pseudo-terminals for containers: berth's own `-t` and the OCI runtime's
 * --console-socket, where the caller (containerd's shim) receives the pty
 * master over a unix socket and the container gets the slave. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* A new pty pair, both close-on-exec; the master takes the window size of
 * our stdin where that is a terminal. */
gboolean berth_pty_open (int *master, int *slave, GError **error);

/* Send @master to the unix stream socket at @socket_path (SCM_RIGHTS, one
 * message whose data is the pty's name), as runc does for
 * --console-socket. The caller still owns and closes @master. */
gboolean berth_pty_send_master (const char *socket_path, int master, GError **error);

G_END_DECLS
