/* berth's one error domain, threaded through every fallible call as GError **.
 * The codes let callers act on the cause (fall back to another driver on
 * NOT_SUPPORTED or BACKING_FS, report NOT_FOUND as "no such ..."), while the
 * message is always one line naming the thing and the reason. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

#define BERTH_ERROR (berth_error_quark ())

typedef enum {
  BERTH_ERROR_FAILED,        /* a syscall or library call failed */
  BERTH_ERROR_NOT_SUPPORTED, /* the kernel or build lacks a feature */
  BERTH_ERROR_BACKING_FS,    /* the store's filesystem is unsuitable */
  BERTH_ERROR_INVALID,       /* a bad name, id, option or argument */
  BERTH_ERROR_NOT_FOUND,
  BERTH_ERROR_EXISTS,
  BERTH_ERROR_BUSY,          /* in use: mounted, referenced by a container */
  BERTH_ERROR_BAD_ARCHIVE,   /* a tar stream that is malformed or unsafe */
  BERTH_ERROR_NO_SPACE,      /* the store's space is used up (a full thin pool) */
} BerthError;

GQuark berth_error_quark (void);

/* Sets "<formatted what>: <strerror(errsv)>" and returns FALSE, so a syscall
 * failure is reported in one line:  return berth_fail_errno (error, errno, "mkdir %s", p); */
gboolean berth_fail_errno (GError **error, int errsv, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* Sets a message with a BerthError code and returns FALSE. */
gboolean berth_fail (GError **error, BerthError code, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* Sets INVALID "<what>: unpacks to more than <limit> (raise the limit with
 * <option>)":
 * a size limit that stopped a stream before it filled the disk. */
gboolean berth_fail_limit (GError **error, const char *what, gint64 limit, const char *option);

G_END_DECLS
