/* Named volumes: <root>/volumes/<name>/ holds volume.json (name, creation
 * time, whether it is anonymous) and _data/, the directory containers
 * mount. A volume is made in the store's staging directory and renamed
 * into place, so a crash leaves none half-made. Which containers use one
 * is read from their config.json mounts, not kept twice. */
#include "config.h"
#include "store-internal.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/json.h>
#include <berth/names.h>
#include <errno.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>

void
berth_volume_free (BerthVolume *v)
{
  if (v == NULL)
    return;
  g_free (v->name);
  g_free (v->mountpoint);
  g_free (v->created);
  g_free (v);
}

/* Docker's rule: [a-zA-Z0-9][a-zA-Z0-9_.-]+, so two characters at least. */
static gboolean
validate_volume_name (const char *name, GError **error)
{
  gsize n = strlen (name);
  gboolean ok = n >= 2 && n <= 255 && g_ascii_isalnum (name[0]);
  for (const char *p = name; ok && *p; p++)
    ok = g_ascii_isalnum (*p) || *p == '_' || *p == '.' || *p == '-';
  return ok || berth_fail (error, BERTH_ERROR_INVALID,
                           "invalid volume name '%s': use [a-zA-Z0-9][a-zA-Z0-9_.-]+", name);
}

static char *
volume_dir (BerthStore *store, const char *name)
{
  return berth_store_path (store, "volumes", name, NULL);
}

BerthVolume *
berth_volume_lookup (BerthStore *store, const char *name, GError **error)
{
  if (!validate_volume_name (name, error))
    return NULL;
  g_autofree char *dir = volume_dir (store, name);
  g_autofree char *meta = g_build_filename (dir, "volume.json", NULL);
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonNode) node = berth_json_read (meta, &local);
  if (node == NULL && g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "no such volume: %s", name), NULL;
  JsonObject *obj = node ? berth_json_node_object (node) : NULL;
  if (obj == NULL)
    {
      if (local)
        g_propagate_error (error, g_steal_pointer (&local));
      else
        berth_fail (error, BERTH_ERROR_INVALID, "%s: not a JSON object", meta);
      return NULL;
    }
  BerthVolume *v = g_new0 (BerthVolume, 1);
  v->name = g_strdup (name);
  v->mountpoint = g_build_filename (dir, "_data", NULL);
  v->created = g_strdup (berth_json_string (obj, "CreatedAt", ""));
  v->anonymous = berth_json_bool (obj, "Anonymous", FALSE);
  return v;
}

/* Made in staging (volume.json and _data), then renamed into volumes/:
 * FALSE with *@raced set when another command made it meanwhile. */
static gboolean
make_volume (BerthStore *store, const char *name, gboolean anonymous, gboolean *raced,
             GError **error)
{
  g_autofree char *parent = berth_store_path (store, "volumes", NULL);
  if (!berth_mkdir_p (parent, 0700, error))
    return FALSE;
  g_autofree char *staging = berth_store_mkdtemp (store, error);
  if (staging == NULL)
    return FALSE;
  g_autofree char *data = g_build_filename (staging, "_data", NULL);
  g_autofree char *meta = g_build_filename (staging, "volume.json", NULL);
  g_autoptr (JsonObject) obj = json_object_new ();
  g_autofree char *now = berth_now_rfc3339 ();
  json_object_set_string_member (obj, "Name", name);
  json_object_set_string_member (obj, "CreatedAt", now);
  json_object_set_boolean_member (obj, "Anonymous", anonymous);
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), obj);
  g_autofree char *dir = volume_dir (store, name);
  gboolean ok = FALSE;
  /* 0755 as Docker's: a container's non-root user reaches what root puts there. */
  if (mkdir (data, 0755) < 0)
    berth_fail_errno (error, errno, "mkdir %s", data);
  else if (berth_json_write (meta, node, error))
    {
      ok = rename (staging, dir) == 0;
      *raced = !ok && (errno == EEXIST || errno == ENOTEMPTY);
      if (!ok && !*raced)
        berth_fail_errno (error, errno, "rename %s to %s", staging, dir);
    }
  if (!ok)
    berth_rm_rf (staging, NULL);
  return ok;
}

BerthVolume *
berth_volume_ensure (BerthStore *store, const char *name, gboolean *created, GError **error)
{
  g_autofree char *anonymous = name ? NULL : berth_random_hex_id ();
  const char *want = name ? name : anonymous;
  *created = FALSE;
  if (!validate_volume_name (want, error))
    return NULL;
  g_autoptr (GError) local = NULL;
  BerthVolume *v = berth_volume_lookup (store, want, &local);
  if (v || !g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
    {
      if (local)
        g_propagate_error (error, g_steal_pointer (&local));
      return v;
    }
  gboolean raced = FALSE;
  if (!make_volume (store, want, anonymous != NULL, &raced, error) && !raced)
    return NULL;
  *created = !raced;
  if (*created)
    berth_event_record (store, "volume", "create", want, (char *[]) { "driver=local", NULL });
  return berth_volume_lookup (store, want, error);
}

static gboolean
is_volume_entry (const char *name)
{
  return name[0] != '.';
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
berth_volume_list (BerthStore *store, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) berth_volume_free);
  g_autofree char *parent = berth_store_path (store, "volumes", NULL);
  g_autoptr (GError) local = NULL;
  g_autoptr (GDir) dir = g_dir_open (parent, 0, &local);
  if (dir == NULL)
    {
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return g_steal_pointer (&out);
      return berth_fail (error, BERTH_ERROR_FAILED, "%s", local->message), NULL;
    }
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (dir)))
    if (is_volume_entry (name))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      BerthVolume *v = berth_volume_lookup (store, names->pdata[i], error);
      if (v == NULL)
        return NULL;
      g_ptr_array_add (out, v);
    }
  return g_steal_pointer (&out);
}

/* Does container @id's config mount @mountpoint? */
static gboolean
container_mounts (BerthStore *store, const char *id, const char *mountpoint)
{
  g_autofree char *path = berth_store_path (store, "containers", id, "config.json", NULL);
  g_autoptr (JsonNode) node = berth_json_read (path, NULL);
  JsonObject *spec = node ? berth_json_node_object (node) : NULL;
  JsonArray *mounts = spec ? berth_json_array (spec, "mounts") : NULL;
  for (guint i = 0; mounts && i < json_array_get_length (mounts); i++)
    {
      JsonObject *m = berth_json_array_object (mounts, i);
      if (m && g_strcmp0 (berth_json_string (m, "source", NULL), mountpoint) == 0)
        return TRUE;
    }
  return FALSE;
}

GPtrArray *
berth_volume_users (BerthStore *store, BerthVolume *v, GError **error)
{
  g_autoptr (GPtrArray) containers = berth_container_list (store, error);
  if (containers == NULL)
    return NULL;
  GPtrArray *users = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < containers->len; i++)
    {
      BerthContainer *c = containers->pdata[i];
      if (container_mounts (store, c->id, v->mountpoint))
        g_ptr_array_add (users, g_strdup (c->name));
    }
  return users;
}

gboolean
berth_volume_remove (BerthStore *store, const char *name, GError **error)
{
  g_autoptr (BerthVolume) v = berth_volume_lookup (store, name, error);
  if (v == NULL)
    return FALSE;
  g_autoptr (GPtrArray) users = berth_volume_users (store, v, error);
  if (users == NULL)
    return FALSE;
  if (users->len > 0)
    return berth_fail (error, BERTH_ERROR_BUSY, "volume %s is in use by container %s: remove "
                       "the container first", name, (const char *) users->pdata[0]);
  /* Out of volumes/ first, in one rename: a crash leaves it whole or in
   * tmp/ (swept), never half-deleted under its name. */
  g_autofree char *dir = volume_dir (store, name);
  g_autofree char *staging = berth_store_mkdtemp (store, error);
  if (staging == NULL)
    return FALSE;
  g_autofree char *doomed = g_build_filename (staging, "volume", NULL);
  gboolean ok = rename (dir, doomed) == 0 || berth_fail_errno (error, errno, "rename %s", dir);
  berth_rm_rf (staging, NULL);
  if (ok)
    berth_event_record (store, "volume", "destroy", name, (char *[]) { "driver=local", NULL });
  return ok;
}
