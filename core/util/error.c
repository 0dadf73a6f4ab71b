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

gboolean
berth_fail_limit (GError **error, const char *what, gint64 limit, const char *option)
{
  /* g_format_size puts a no-break space before the unit, which the CLI's
   * one-line printer would show as '?' */
  static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
  double value = (double) limit;
  guint u = 0;
  while (value >= 1024 && u + 1 < G_N_ELEMENTS (units))
    value /= 1024, u++;
  g_autofree char *size = u ? g_strdup_printf ("%.1f %s", value, units[u])
                            : g_strdup_printf ("%" G_GINT64_FORMAT " bytes", limit);
  return berth_fail (error, BERTH_ERROR_INVALID, "%s: unpacks to more than %s (raise the limit with %s)",
                     what, size, option);
}
