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

/* Close every descriptor >= @first but the @n_keep in @keep (any order;
 * negative entries ignored): close_range over each gap between them (Linux
 * 5.9+). Where close_range fails (ENOSYS before 5.9; EINVAL or EPERM from a
 * seccomp filter), each fd listed in /proc/self/fd, and without /proc every
 * number up to RLIMIT_NOFILE's hard limit. */
int berth_fd_close_except (int first, const int *keep, size_t n_keep);

G_END_DECLS
