/* Image references as Docker reads them: DOMAIN/PATH[:TAG][@DIGEST], with
 * docker.io and library/ filled in for a short name. */
#include "config.h"
#include <berth/distribution.h>
#include <berth/error.h>
#include <berth/names.h>
#include <string.h>

void
berth_image_ref_free (BerthImageRef *ref)
{
  if (ref == NULL)
    return;
  g_free (ref->domain);
  g_free (ref->path);
  g_free (ref->tag);
  g_free (ref->digest);
  g_free (ref);
}

/* The first component is a registry when it could not be a repository
 * name: it has a dot or a port, or is localhost (Docker's rule). */
static gboolean
looks_like_domain (const char *component)
{
  return strchr (component, '.') || strchr (component, ':') || strcmp (component, "localhost") == 0;
}

static gboolean
valid_path_component (const char *c)
{
  gsize n = strlen (c);
  if (n == 0 || !g_ascii_isalnum (c[0]) || !g_ascii_isalnum (c[n - 1]))
    return FALSE;
  for (const char *p = c; *p; p++)
    if (!(g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '.' || *p == '_' || *p == '-'))
      return FALSE;
  return TRUE;
}

static gboolean
valid_path (const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);
  for (char **p = parts; *p; p++)
    if (!valid_path_component (*p))
      return FALSE;
  return parts[0] != NULL && strlen (path) <= 255;
}

static gboolean
valid_tag (const char *tag)
{
  gsize n = strlen (tag);
  if (n == 0 || n > 128 || !(g_ascii_isalnum (tag[0]) || tag[0] == '_'))
    return FALSE;
  for (const char *p = tag; *p; p++)
    if (!(g_ascii_isalnum (*p) || *p == '_' || *p == '.' || *p == '-'))
      return FALSE;
  return TRUE;
}

static gboolean
valid_digest (const char *digest)
{
  return g_str_has_prefix (digest, "sha256:") && berth_is_hex_id (digest + 7);
}

BerthImageRef *
berth_image_ref_parse (const char *text, GError **error)
{
  g_autoptr (BerthImageRef) ref = g_new0 (BerthImageRef, 1);
  g_autofree char *rest = g_strdup (text);
  char *at = strchr (rest, '@');
  if (at)
    {
      *at = '\0';
      ref->digest = g_strdup (at + 1);
      if (!valid_digest (ref->digest))
        return berth_fail (error, BERTH_ERROR_INVALID,
                           "invalid reference '%s': a digest is sha256: and 64 hex digits", text),
               NULL;
    }
  char *slash = strchr (rest, '/');
  char *colon = strrchr (rest, ':');
  if (colon && (slash == NULL || colon > strrchr (rest, '/')))
    {
      *colon = '\0';
      ref->tag = g_strdup (colon + 1);
      if (!valid_tag (ref->tag))
        return berth_fail (error, BERTH_ERROR_INVALID,
                           "invalid reference '%s': a tag is [A-Za-z0-9_][A-Za-z0-9_.-]*, at most 128",
                           text),
               NULL;
    }
  slash = strchr (rest, '/');
  if (slash && looks_like_domain ((*slash = '\0', rest)))
    {
      ref->domain = g_strdup (rest);
      ref->path = g_strdup (slash + 1);
    }
  else
    {
      if (slash)
        *slash = '/';
      ref->domain = g_strdup ("docker.io");
      ref->path = g_strdup (rest);
    }
  if (strcmp (ref->domain, "index.docker.io") == 0)
    {
      g_free (ref->domain);
      ref->domain = g_strdup ("docker.io");
    }
  if (strcmp (ref->domain, "docker.io") == 0 && strchr (ref->path, '/') == NULL)
    {
      char *full = g_strconcat ("library/", ref->path, NULL);
      g_free (ref->path);
      ref->path = full;
    }
  if (!valid_path (ref->path))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "invalid reference '%s': use lower-case [a-z0-9][a-z0-9_.-]* components "
                       "separated by '/', after an optional registry HOST[:PORT]/", text),
           NULL;
  if (ref->tag == NULL && ref->digest == NULL)
    ref->tag = g_strdup ("latest");
  return g_steal_pointer (&ref);
}

static char *
with_tag_and_digest (const char *name, const BerthImageRef *ref)
{
  return g_strconcat (name, ref->tag ? ":" : "", ref->tag ? ref->tag : "",
                      ref->digest ? "@" : "", ref->digest ? ref->digest : "", NULL);
}

char *
berth_image_ref_canonical (const BerthImageRef *ref)
{
  g_autofree char *name = g_strconcat (ref->domain, "/", ref->path, NULL);
  return with_tag_and_digest (name, ref);
}

char *
berth_image_ref_familiar (const BerthImageRef *ref)
{
  const char *path = ref->path;
  g_autofree char *first = g_strndup (path, strcspn (path, "/"));
  /* docker.io/r.io/x keeps its domain: without it, r.io would read as one. */
  if (strcmp (ref->domain, "docker.io") != 0 || (strchr (path, '/') && looks_like_domain (first)))
    {
      g_autofree char *name = g_strconcat (ref->domain, "/", path, NULL);
      return with_tag_and_digest (name, ref);
    }
  if (g_str_has_prefix (path, "library/") && strchr (path + 8, '/') == NULL)
    path += 8;
  return with_tag_and_digest (path, ref);
}
