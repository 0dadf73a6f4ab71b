#include "config.h"
#include <berth/error.h>
#include <string.h>

G_DEFINE_QUARK (berth-error-quark, berth_error)

static BerthError
code_for_errno (int errsv)
{
  switch (errsv)
    {
    case ENOENT: return BERTH_ERROR_NOT_FOUND;
    case EEXIST: return BERTH_ERROR_EXISTS;
    case EBUSY: return BERTH_ERROR_BUSY;
    case ENODEV:
    case ENOSYS:
    case EOPNOTSUPP: return BERTH_ERROR_NOT_SUPPORTED;
    case EINVAL: return BERTH_ERROR_INVALID;
    case ENOSPC: return BERTH_ERROR_NO_SPACE;
    default: return BERTH_ERROR_FAILED;
    }
}

gboolean
berth_fail_errno (GError **error, int errsv, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, BERTH_ERROR, code_for_errno (errsv), "%s: %s", what, g_strerror (errsv));
  return FALSE;
}

gboolean
berth_fail (GError **error, BerthError code, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error_literal (error, BERTH_ERROR, code, msg);
  return FALSE;
}
