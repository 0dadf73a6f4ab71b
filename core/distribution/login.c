/* berth login and logout: credentials checked against the registry, then
 * kept in the file docker and podman read. */
#include "config.h"
#include "distribution-internal.h"
#include <berth/error.h>
#include <string.h>

/* "https://index.docker.io/v1/", "registry-1.docker.io" and the like are
 * docker.io; a scheme or a trailing path is dropped. */
static char *
registry_domain (const char *registry, GError **error)
{
  const char *p = registry;
  if (g_str_has_prefix (p, "https://"))
    p += 8;
  else if (g_str_has_prefix (p, "http://"))
    p += 7;
  g_autofree char *host = g_strndup (p, strcspn (p, "/"));
  if (*host == '\0' || strpbrk (host, " \t\n@"))
    return berth_fail (error, BERTH_ERROR_INVALID, "invalid registry '%s': give HOST[:PORT]",
                       registry), NULL;
  if (strcmp (host, "index.docker.io") == 0 || strcmp (host, "registry-1.docker.io") == 0)
    return g_strdup ("docker.io");
  return g_ascii_strdown (host, -1);
}

char *
berth_login (const char *registry, const char *username, const char *password,
             const BerthRegistryOptions *options, GError **error)
{
  g_autofree char *domain = registry_domain (registry, error);
  if (domain == NULL)
    return NULL;
  if (username == NULL || *username == '\0' || strchr (username, ':'))
    return berth_fail (error, BERTH_ERROR_INVALID, "login %s: a user name, without ':', is needed",
                       domain), NULL;
  BerthRegistryOptions with = *options;
  with.username = username;
  with.password = password ? password : "";
  /* The probe authenticates: a wrong password fails here. */
  g_autoptr (BerthRegistryClient) client = berth_registry_client_new (domain, NULL, NULL, &with,
                                                                      error);
  if (client == NULL)
    return g_prefix_error (error, "login: "), NULL;
  g_autofree char *path = berth_auth_file_for_write (options);
  if (!berth_auth_store (path, domain, username, with.password, error))
    return g_prefix_error (error, "login %s: ", domain), NULL;
  return g_steal_pointer (&path);
}

gboolean
berth_logout (const char *registry, const BerthRegistryOptions *options, GError **error)
{
  g_autofree char *domain = registry_domain (registry, error);
  if (domain == NULL)
    return FALSE;
  g_autofree char *path = berth_auth_file_for_write (options);
  if (!berth_auth_store (path, domain, NULL, NULL, error))
    return g_prefix_error (error, "logout %s: ", domain), FALSE;
  return TRUE;
}
