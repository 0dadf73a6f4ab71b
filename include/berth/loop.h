/* Loop devices: a regular file seen as a block device.
 *
 * berth attaches loops only with autoclear, so the kernel detaches a loop by
 * itself once its last user (an open fd, a mount, a device-mapper table)
 * lets go: a crash can never leak one. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* Attach @path to a free loop device. Returns an fd open on the loop device
 * (the caller's reference: close it once something else holds the loop) and
 * its path in @dev_path; -1 with the reason. */
int berth_loop_attach (const char *path, gboolean read_only, char **dev_path, GError **error);

G_END_DECLS
