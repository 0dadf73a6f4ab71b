/* File-descriptor helpers for the code between clone and exec: async-signal
 * safe, nothing allocated, errors as -1 with errno (no GError there). */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* Mark every descriptor >= @first close-on-exec. close_range's
 * CLOSE_RANGE_CLOEXEC does it in one call on Linux 5.11+; on older kernels
 * (EINVAL, or ENOSYS before 5.9) each fd listed in /proc/self/fd is marked,
 * and without /proc every number up to RLIMIT_NOFILE's hard limit. */
int berth_fd_cloexec_from (int first);

/* Not for after clone (it allocates): the descriptors >= @first this
 * process has open now, ascending, read from /proc/self/fd (the one it
 * opens to read them left out). */
GArray *berth_fd_list_open (int first, GError **error);

G_END_DECLS
