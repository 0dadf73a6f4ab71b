/* What a command knows of registries before it talks to one: the
 * registries file (mirrors, insecure hosts, CA directories) and the
 * credentials files docker and podman write. */
#include "config.h"
#include "distribution-internal.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_REGISTRIES_CONFIG "/etc/berth/registries.json"
#define DOCKER_HUB_AUTH_KEY "https://index.docker.io/v1/"

JsonNode *
berth_registries_config_read (const BerthRegistryOptions *options, GError **error)
{
  const char *path = options->config_path;
  if (path == NULL)
    path = g_getenv ("BERTH_REGISTRIES_CONFIG");
  if (path == NULL)
    path = DEFAULT_REGISTRIES_CONFIG;
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonNode) node = berth_json_read (path, &local);
  if (node == NULL)
    {
      if (g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
        return NULL;
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "registries config: ");
      return NULL;
    }
  if (berth_json_node_object (node) == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "registries config %s: not a JSON object", path),
           NULL;
  return g_steal_pointer (&node);
}

/* "registry-mirrors" is Docker's list for docker.io, or an object of
 * lists by domain. */
char **
berth_registries_mirrors (JsonNode *config, const char *domain)
{
  JsonObject *obj = config ? berth_json_node_object (config) : NULL;
  if (obj == NULL || !json_object_has_member (obj, "registry-mirrors"))
    return NULL;
  JsonObject *by_domain = berth_json_object (obj, "registry-mirrors");
  if (by_domain)
    return berth_json_strv (by_domain, domain);
  return strcmp (domain, "docker.io") == 0 ? berth_json_strv (obj, "registry-mirrors") : NULL;
}

gboolean
berth_registries_insecure (JsonNode *config, const char *domain)
{
  JsonObject *obj = config ? berth_json_node_object (config) : NULL;
  g_auto (GStrv) hosts = obj ? berth_json_strv (obj, "insecure-registries") : NULL;
  return hosts && g_strv_contains ((const char *const *) hosts, domain);
}

char **
berth_registries_certs_dirs (JsonNode *config, const BerthRegistryOptions *options)
{
  (void) options;
  g_autoptr (GStrvBuilder) dirs = g_strv_builder_new ();
  JsonObject *obj = config ? berth_json_node_object (config) : NULL;
  g_auto (GStrv) listed = obj ? berth_json_strv (obj, "certs-dirs") : NULL;
  if (listed)
    g_strv_builder_addv (dirs, (const char **) listed);
  else
    {
      g_strv_builder_add (dirs, "/etc/berth/certs.d");
      g_strv_builder_add (dirs, "/etc/docker/certs.d");
      g_strv_builder_add (dirs, "/etc/containers/certs.d");
    }
  return g_strv_builder_end (dirs);
}

/* --- credentials --- */

char *
berth_auth_key (const char *domain)
{
  return g_strdup (strcmp (domain, "docker.io") == 0 ? DOCKER_HUB_AUTH_KEY : domain);
}

static char *
docker_config_path (void)
{
  const char *dir = g_getenv ("DOCKER_CONFIG");
  if (dir)
    return g_build_filename (dir, "config.json", NULL);
  return g_build_filename (g_get_home_dir (), ".docker", "config.json", NULL);
}

char *
berth_auth_file_for_write (const BerthRegistryOptions *options)
{
  if (options->auth_file)
    return g_strdup (options->auth_file);
  if (g_getenv ("REGISTRY_AUTH_FILE"))
    return g_strdup (g_getenv ("REGISTRY_AUTH_FILE"));
  return docker_config_path ();
}

/* The files to read, in podman's order, then docker's. */
static GPtrArray *
auth_files (const BerthRegistryOptions *options)
{
  GPtrArray *files = g_ptr_array_new_with_free_func (g_free);
  if (options->auth_file)
    {
      g_ptr_array_add (files, g_strdup (options->auth_file));
      return files;
    }
  if (g_getenv ("REGISTRY_AUTH_FILE"))
    g_ptr_array_add (files, g_strdup (g_getenv ("REGISTRY_AUTH_FILE")));
  if (g_getenv ("XDG_RUNTIME_DIR"))
    g_ptr_array_add (files, g_build_filename (g_getenv ("XDG_RUNTIME_DIR"), "containers",
                                              "auth.json", NULL));
  g_ptr_array_add (files, docker_config_path ());
  return files;
}

static JsonObject *
find_entry (JsonObject *auths, const char *domain)
{
  g_autofree char *key = berth_auth_key (domain);
  JsonObject *entry = berth_json_object (auths, key);
  if (entry == NULL)
    entry = berth_json_object (auths, domain);
  if (entry == NULL)
    {
      g_autofree char *https = g_strconcat ("https://", domain, NULL);
      entry = berth_json_object (auths, https);
    }
  return entry;
}

gboolean
berth_auth_decode (const char *b64, const char *path, const char *domain, char **username,
             char **password, GError **error)
{
  gsize len = 0;
  g_autofree guchar *raw = g_base64_decode (b64, &len);
  g_autofree char *pair = g_strndup ((const char *) raw, len);
  char *colon = strchr (pair, ':');
  if (colon == NULL || !g_utf8_validate (pair, -1, NULL))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "credentials file %s: the entry for %s is not base64 of USER:PASSWORD",
                       path, domain);
  *colon = '\0';
  *username = g_strdup (pair);
  *password = g_strdup (colon + 1);
  return TRUE;
}

gboolean
berth_auth_lookup (const char *domain, const BerthRegistryOptions *options, char **username,
                   char **password, GError **error)
{
  g_autoptr (GPtrArray) files = auth_files (options);
  for (guint i = 0; i < files->len; i++)
    {
      const char *path = files->pdata[i];
      g_autoptr (GError) local = NULL;
      g_autoptr (JsonNode) node = berth_json_read (path, &local);
      if (node == NULL)
        {
          if (g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
            continue;
          g_propagate_prefixed_error (error, g_steal_pointer (&local), "credentials file: ");
          return FALSE;
        }
      JsonObject *root = berth_json_node_object (node);
      JsonObject *auths = root ? berth_json_object (root, "auths") : NULL;
      JsonObject *entry = auths ? find_entry (auths, domain) : NULL;
      const char *b64 = entry ? berth_json_string (entry, "auth", NULL) : NULL;
      if (b64 && *b64)
        return berth_auth_decode (b64, path, domain, username, password, error);
    }
  return FALSE;
}

gboolean
berth_auth_store (const char *path, const char *domain, const char *username,
                  const char *password, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonNode) node = berth_json_read (path, &local);
  if (node == NULL && !g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "credentials file: ");
      return FALSE;
    }
  if (node == NULL)
    node = json_node_init_object (json_node_alloc (), json_object_new ());
  JsonObject *root = berth_json_node_object (node);
  if (root == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "credentials file %s: not a JSON object", path);
  JsonObject *auths = berth_json_object (root, "auths");
  if (auths == NULL)
    {
      auths = json_object_new ();
      json_object_set_object_member (root, "auths", auths);
    }
  g_autofree char *key = berth_auth_key (domain);
  if (username == NULL)
    {
      if (find_entry (auths, domain) == NULL)
        return berth_fail (error, BERTH_ERROR_NOT_FOUND, "not logged in to %s (%s)", domain, path);
      g_autofree char *https = g_strconcat ("https://", domain, NULL);
      const char *keys[] = { key, domain, https };
      for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
        if (json_object_has_member (auths, keys[i]))
          json_object_remove_member (auths, keys[i]);
    }
  else
    {
      g_autofree char *pair = g_strconcat (username, ":", password, NULL);
      JsonObject *entry = json_object_new ();
      g_autofree char *b64 = g_base64_encode ((const guchar *) pair, strlen (pair));
      json_object_set_string_member (entry, "auth", b64);
      json_object_set_object_member (auths, key, entry);
    }
  g_autofree char *dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0700) < 0)
    return berth_fail_errno (error, errno, "mkdir %s", dir);
  /* Passwords: the file is never readable by others, not even briefly. */
  mode_t old = umask (077);
  gboolean ok = berth_json_write (path, node, error);
  umask (old);
  return ok;
}
