#include "config.h"
#include <berth/names.h>
#include <berth/error.h>
#include <string.h>

#define NAME_MAX_LEN 128

static gboolean
is_name_char (char c)
{
  return g_ascii_islower (c) || g_ascii_isdigit (c) || c == '_' || c == '.' || c == '-';
}

static gboolean
valid_component (const char *s, gsize len)
{
  if (len == 0 || !(g_ascii_islower (s[0]) || g_ascii_isdigit (s[0])))
    return FALSE;
  for (gsize i = 1; i < len; i++)
    if (!is_name_char (s[i]))
      return FALSE;
  return TRUE;
}

gboolean
berth_validate_name (const char *name, GError **error)
{
  if (strlen (name) > NAME_MAX_LEN || !valid_component (name, strlen (name)))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "invalid name '%s': use [a-z0-9][a-z0-9_.-]*, at most %d characters",
                       name, NAME_MAX_LEN);
  return TRUE;
}

gboolean
berth_is_hex_id (const char *s)
{
  if (strlen (s) != 64)
    return FALSE;
  for (const char *p = s; *p; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}

/* A registry host as Docker reads one: dot-separated [A-Za-z0-9-] labels
 * and an optional ":PORT". */
static gboolean
valid_domain (const char *s)
{
  const char *colon = strchr (s, ':');
  gsize host_len = colon ? (gsize) (colon - s) : strlen (s);
  if (host_len == 0 || s[0] == '.' || s[0] == '-' || s[host_len - 1] == '.'
      || s[host_len - 1] == '-')
    return FALSE;
  for (gsize i = 0; i < host_len; i++)
    if (!(g_ascii_isalnum (s[i]) || s[i] == '.' || s[i] == '-'))
      return FALSE;
  if (colon == NULL)
    return TRUE;
  if (colon[1] == '\0' || strlen (colon + 1) > 5)
    return FALSE;
  for (const char *p = colon + 1; *p; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

/* Docker's rule: a first component, before another, that holds '.' or ':'
 * or is "localhost" names the registry ("registry.example.com:5000/app"). */
static gboolean
names_registry (char **parts)
{
  return parts[0] && parts[1]
         && (strchr (parts[0], '.') || strchr (parts[0], ':') || strcmp (parts[0], "localhost") == 0);
}

static gboolean
valid_repo (const char *repo)
{
  if (strlen (repo) > 255)
    return FALSE;
  g_auto (GStrv) parts = g_strsplit (repo, "/", -1);
  char **path = parts;
  if (names_registry (parts) && !valid_domain (*path++))
    return FALSE;
  for (char **p = path; *p; p++)
    if (!valid_component (*p, strlen (*p)))
      return FALSE;
  return TRUE;
}

static gboolean
valid_tag (const char *tag)
{
  gsize len = strlen (tag);
  if (len == 0 || len > 128 || !(g_ascii_isalnum (tag[0]) || tag[0] == '_'))
    return FALSE;
  for (const char *p = tag; *p; p++)
    if (!(g_ascii_isalnum (*p) || *p == '_' || *p == '.' || *p == '-'))
      return FALSE;
  return TRUE;
}

gboolean
berth_parse_reference (const char *ref, char **name, char **tag, GError **error)
{
  const char *colon = strrchr (ref, ':');
  const char *slash = strrchr (ref, '/');
  if (colon && slash && colon < slash)
    colon = NULL;
  g_autofree char *n = colon ? g_strndup (ref, colon - ref) : g_strdup (ref);
  g_autofree char *t = g_strdup (colon ? colon + 1 : "latest");
  if (berth_is_hex_id (n))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "invalid image name '%s': 64 hex digits would read as an image id", ref);
  if (!valid_repo (n))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "invalid image name '%s': use lower-case [a-z0-9][a-z0-9_.-]* "
                       "components separated by '/', after an optional registry HOST[:PORT]/",
                       ref);
  if (!valid_tag (t))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "invalid tag in '%s': use [A-Za-z0-9_][A-Za-z0-9_.-]*, at most 128", ref);
  if (name)
    *name = g_steal_pointer (&n);
  if (tag)
    *tag = g_steal_pointer (&t);
  return TRUE;
}

char *
berth_resolve_prefix (GPtrArray *ids, const char *ref, const char *what, GError **error)
{
  gsize len = strlen (ref);
  const char *found = NULL;
  gboolean hex = len > 0 && len <= 64;
  for (const char *p = ref; *p && hex; p++)
    hex = g_ascii_isxdigit (*p) && !g_ascii_isupper (*p);
  if (!hex)
    {
      berth_fail (error, BERTH_ERROR_NOT_FOUND, "no such %s: %s", what, ref);
      return NULL;
    }
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = ids->pdata[i];
      if (strncmp (id, ref, len) != 0)
        continue;
      if (found && strcmp (found, id) != 0)
        {
          berth_fail (error, BERTH_ERROR_INVALID, "%s id prefix '%s' is ambiguous", what, ref);
          return NULL;
        }
      found = id;
    }
  if (found == NULL)
    {
      berth_fail (error, BERTH_ERROR_NOT_FOUND, "no such %s: %s", what, ref);
      return NULL;
    }
  return g_strdup (found);
}

/* --- sizes --- */

static gboolean
not_a_size (GError **error, const char *what, const char *text)
{
  return berth_fail (error, BERTH_ERROR_INVALID, "%s '%s': not a size (use 512m, 1g)", what, text);
}

/* The shift for unit letter @c ("b" or none: bytes), or -1. */
static int
unit_shift (char c)
{
  static const char units[] = "kmgtp";
  const char *u = c ? strchr (units, g_ascii_tolower (c)) : NULL;
  return u ? 10 * (int) (u - units + 1) : -1;
}

gboolean
berth_parse_size (const char *text, const char *what, gint64 *bytes, GError **error)
{
  const char *p = text;
  guint64 whole = 0;
  if (!g_ascii_isdigit (*p))
    return not_a_size (error, what, text);
  for (; g_ascii_isdigit (*p); p++)
    {
      if (whole > (G_MAXINT64 - (guint64) (*p - '0')) / 10)
        return berth_fail (error, BERTH_ERROR_INVALID, "%s '%s': too large", what, text);
      whole = whole * 10 + (guint64) (*p - '0');
    }
  /* "1.5g", as Docker accepts; nine digits are more precision than any unit needs */
  guint64 frac = 0, scale = 1;
  if (*p == '.')
    {
      for (p++; g_ascii_isdigit (*p) && scale < 1000000000; p++, scale *= 10)
        frac = frac * 10 + (guint64) (*p - '0');
      if (scale == 1 || g_ascii_isdigit (*p))
        return not_a_size (error, what, text);
    }
  int shift = unit_shift (*p);
  if (shift > 0)
    {
      p++;
      if (g_ascii_tolower (*p) == 'i')
        p++;
    }
  else
    shift = 0;
  if (g_ascii_tolower (*p) == 'b')
    p++;
  if (*p != '\0')
    return not_a_size (error, what, text);
  guint64 unit = G_GUINT64_CONSTANT (1) << shift;
  guint64 frac_bytes = (guint64) ((double) frac / (double) scale * (double) unit);
  if (whole > ((guint64) G_MAXINT64 >> shift) || (whole << shift) > G_MAXINT64 - frac_bytes)
    return berth_fail (error, BERTH_ERROR_INVALID, "%s '%s': too large", what, text);
  *bytes = (gint64) ((whole << shift) + frac_bytes);
  return TRUE;
}

/* --- points in time --- */

/* "1h30m", "90s", "250ms" -> µs; FALSE when it is not one. */
static gboolean
parse_duration (const char *text, gint64 *us)
{
  static const struct { const char *unit; gint64 us; } units[] = {
    { "ms", 1000 }, { "h", G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC },
    { "m", G_GINT64_CONSTANT (60) * G_USEC_PER_SEC },
    { "s", G_USEC_PER_SEC },
  };
  /* Summed as a double and bounded (about 3000 years), so that no sum
   * of terms can overflow the µs count. */
  double total = 0;
  const char *p = text;
  while (*p)
    {
      char *end = NULL;
      double n = g_ascii_strtod (p, &end);
      if (end == p || !(n >= 0) || n > 1e9)
        return FALSE;
      guint i = 0;
      while (i < G_N_ELEMENTS (units) && !g_str_has_prefix (end, units[i].unit))
        i++;
      if (i == G_N_ELEMENTS (units))
        return FALSE;
      total += n * units[i].us;
      if (total > 1e17)
        return FALSE;
      p = end + strlen (units[i].unit);
    }
  *us = (gint64) total;
  return p != text;
}

gboolean
berth_parse_time (const char *text, const char *what, gint64 now_us, gint64 *out,
                  GError **error)
{
  gint64 ago = 0;
  if (parse_duration (text, &ago))
    {
      *out = now_us - ago;
      return TRUE;
    }
  char *end = NULL;
  double seconds = g_ascii_strtod (text, &end);
  /* Up to the year 5000 or so: beyond, not a time a log line has. */
  if (end != text && *end == '\0' && seconds >= 0 && seconds < 1e11 && g_ascii_isdigit (*text))
    {
      *out = (gint64) (seconds * G_USEC_PER_SEC);
      return TRUE;
    }
  g_autoptr (GTimeZone) utc = g_time_zone_new_utc ();
  g_autofree char *as_day = strlen (text) == 10 ? g_strconcat (text, "T00:00:00", NULL) : NULL;
  g_autoptr (GDateTime) t = g_date_time_new_from_iso8601 (as_day ? as_day : text, utc);
  if (t == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "%s '%s': not a time (use "
                       "2026-12-07T10:00:00Z, Unix seconds, or a duration such as 10m)",
                       what, text);
  *out = g_date_time_to_unix (t) * G_USEC_PER_SEC + g_date_time_get_microsecond (t);
  return TRUE;
}
