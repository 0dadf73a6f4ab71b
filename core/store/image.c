/* Images: OCI image configs under images/, tags in tags.json. */
#include "config.h"
#include "store-internal.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void
berth_image_free (BerthImage *image)
{
  if (image == NULL)
    return;
  g_free (image->id);
  if (image->config)
    json_node_unref (image->config);
  g_strfreev (image->diff_ids);
  if (image->tags)
    g_ptr_array_unref (image->tags);
  g_free (image);
}

static JsonObject *
tags_load (BerthStore *store, GError **error)
{
  g_autofree char *path = berth_store_path (store, "tags.json", NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return json_object_new ();
  g_autoptr (JsonNode) node = berth_json_read (path, error);
  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    {
      berth_fail (error, BERTH_ERROR_FAILED, "%s: not a JSON object", path);
      return NULL;
    }
  return json_object_ref (json_node_get_object (node));
}

static gboolean
tags_save (BerthStore *store, JsonObject *tags, GError **error)
{
  g_autofree char *path = berth_store_path (store, "tags.json", NULL);
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  json_node_set_object (node, tags);
  return berth_json_write (path, node, error);
}

static char *
normalise_ref (const char *ref, GError **error)
{
  g_autofree char *name = NULL, *tag = NULL;
  if (!berth_parse_reference (ref, &name, &tag, error))
    return NULL;
  return g_strdup_printf ("%s:%s", name, tag);
}

static gboolean
validate_config (JsonNode *config, char ***diff_ids, const char *what, GError **error)
{
  JsonObject *rootfs = berth_json_object (berth_json_node_object (config), "rootfs");
  g_auto (GStrv) ids = berth_json_strv (rootfs, "diff_ids");
  if (ids == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "image config %s has no rootfs.diff_ids", what);
  for (char **d = ids; *d; d++)
    if (!g_str_has_prefix (*d, "sha256:") || !berth_is_hex_id (*d + 7))
      return berth_fail (error, BERTH_ERROR_INVALID, "image config %s: bad diff id '%s'", what, *d);
  *diff_ids = g_steal_pointer (&ids);
  return TRUE;
}

static BerthImage *
image_read (BerthStore *store, const char *id, JsonObject *tags, GError **error)
{
  g_autofree char *file = g_strdup_printf ("%s.json", id);
  g_autofree char *path = berth_store_path (store, "images", file, NULL);
  g_autoptr (BerthImage) image = g_new0 (BerthImage, 1);
  image->id = g_strdup (id);
  image->config = berth_json_read (path, error);
  if (image->config == NULL)
    return NULL;
  if (!validate_config (image->config, &image->diff_ids, path, error))
    return NULL;
  image->tags = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GList) members = json_object_get_members (tags);
  for (GList *l = members; l; l = l->next)
    if (g_strcmp0 (json_object_get_string_member (tags, l->data), id) == 0)
      g_ptr_array_add (image->tags, g_strdup (l->data));
  g_ptr_array_sort (image->tags, berth_compare_string_slots);
  struct stat st;
  if (stat (path, &st) == 0)
    image->size = st.st_size;
  return g_steal_pointer (&image);
}

/* images/<id>.json: the 64-character id and ".json". */
static char *
image_id_of (const char *name)
{
  return g_str_has_suffix (name, ".json") && strlen (name) == 69 ? g_strndup (name, 64) : NULL;
}

static GPtrArray *
image_ids (BerthStore *store, GError **error)
{
  return berth_store_list_ids (store, "images", image_id_of, error);
}

/* "debian:bookworm, debian:sid": the tags of @full's repository, or
 * NULL when it has none, for a hint beside "no such image: debian". */
static char *
tags_of_repository (JsonObject *tags, const char *full)
{
  g_autofree char *prefix = g_strndup (full, strrchr (full, ':') - full + 1);
  g_autoptr (GList) names = json_object_get_members (tags);
  names = g_list_sort (names, (GCompareFunc) strcmp);
  g_autoptr (GString) found = g_string_new (NULL);
  for (GList *n = names; n; n = n->next)
    if (g_str_has_prefix (n->data, prefix))
      g_string_append_printf (found, "%s%s", found->len ? ", " : "", (const char *) n->data);
  return found->len ? g_string_free (g_steal_pointer (&found), FALSE) : NULL;
}

/* The image id a reference names, or NULL with NOT_FOUND / INVALID. */
static char *
resolve_image_id (BerthStore *store, const char *ref, JsonObject *tags, GError **error)
{
  g_autoptr (GError) parse_error = NULL;
  g_autofree char *full = normalise_ref (ref, &parse_error);
  if (full && json_object_has_member (tags, full))
    return g_strdup (json_object_get_string_member (tags, full));
  const char *hex = g_str_has_prefix (ref, "sha256:") ? ref + 7 : ref;
  g_autoptr (GPtrArray) ids = image_ids (store, error);
  if (ids == NULL)
    return NULL;
  g_autoptr (GError) prefix_error = NULL;
  char *id = berth_resolve_prefix (ids, hex, "image", &prefix_error);
  if (id)
    return id;
  g_autofree char *others = full ? tags_of_repository (tags, full) : NULL;
  if (others && g_error_matches (prefix_error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "no such image: %s (this store has %s)",
                       full, others), NULL;
  if (parse_error && !g_error_matches (prefix_error, BERTH_ERROR, BERTH_ERROR_INVALID))
    g_propagate_error (error, g_steal_pointer (&parse_error));
  else
    g_propagate_error (error, g_steal_pointer (&prefix_error));
  return NULL;
}

BerthImage *
berth_image_lookup (BerthStore *store, const char *ref, GError **error)
{
  g_autoptr (JsonObject) tags = tags_load (store, error);
  if (tags == NULL)
    return NULL;
  g_autofree char *id = resolve_image_id (store, ref, tags, error);
  if (id == NULL)
    return NULL;
  return image_read (store, id, tags, error);
}

GPtrArray *
berth_image_list (BerthStore *store, GError **error)
{
  g_autoptr (JsonObject) tags = tags_load (store, error);
  if (tags == NULL)
    return NULL;
  g_autoptr (GPtrArray) ids = image_ids (store, error);
  if (ids == NULL)
    return NULL;
  g_autoptr (GPtrArray) images = g_ptr_array_new_with_free_func ((GDestroyNotify) berth_image_free);
  for (guint i = 0; i < ids->len; i++)
    {
      /* Removed since we looked (a reader holds no lock): not listed. */
      g_autoptr (GError) local = NULL;
      BerthImage *image = image_read (store, ids->pdata[i], tags, &local);
      if (image == NULL && g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
        continue;
      if (image == NULL)
        return g_propagate_error (error, g_steal_pointer (&local)), NULL;
      g_ptr_array_add (images, image);
    }
  return g_steal_pointer (&images);
}

JsonNode *
berth_image_config_parse (const char *config_json, gsize len, char ***diff_ids, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonNode) config = berth_json_parse (config_json, len, &local);
  if (config == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "image config is not JSON: %s", local->message),
           NULL;
  if (!validate_config (config, diff_ids, "", error))
    return NULL;
  return g_steal_pointer (&config);
}

char *
berth_image_store_config (BerthStore *store, const char *config_json, gsize len, GError **error)
{
  g_auto (GStrv) diff_ids = NULL;
  g_autoptr (JsonNode) config = berth_image_config_parse (config_json, len, &diff_ids, error);
  if (config == NULL)
    return NULL;
  g_autofree char *id = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                                     (const guchar *) config_json, len);
  g_autofree char *file = g_strdup_printf ("%s.json", id);
  g_autofree char *path = berth_store_path (store, "images", file, NULL);
  if (!berth_write_file_atomic (path, config_json, len, 0600, error))
    return NULL;
  return g_steal_pointer (&id);
}

gboolean
berth_tags_set (BerthStore *store, GPtrArray *refs, GPtrArray *image_ids, GError **error)
{
  g_autoptr (JsonObject) tags = tags_load (store, error);
  if (tags == NULL)
    return FALSE;
  for (guint i = 0; i < refs->len; i++)
    {
      g_autofree char *full = normalise_ref (refs->pdata[i], error);
      if (full == NULL)
        return FALSE;
      json_object_set_string_member (tags, full, image_ids->pdata[i]);
    }
  if (!tags_save (store, tags, error))
    return FALSE;
  for (guint i = 0; i < refs->len; i++)
    {
      g_autofree char *name = g_strconcat ("name=", (char *) refs->pdata[i], NULL);
      berth_event_record (store, "image", "tag", image_ids->pdata[i], (char *[]) { name, NULL });
    }
  return TRUE;
}

gboolean
berth_tag_set (BerthStore *store, const char *ref, const char *image_id, GError **error)
{
  g_autoptr (GPtrArray) refs = g_ptr_array_new ();
  g_autoptr (GPtrArray) ids = g_ptr_array_new ();
  g_ptr_array_add (refs, (gpointer) ref);
  g_ptr_array_add (ids, (gpointer) image_id);
  return berth_tags_set (store, refs, ids, error);
}

static gboolean
image_in_use (BerthStore *store, const char *id, char **container, GError **error)
{
  g_autoptr (GPtrArray) containers = berth_container_list (store, error);
  if (containers == NULL)
    return TRUE;
  for (guint i = 0; i < containers->len; i++)
    {
      BerthContainer *c = containers->pdata[i];
      if (g_strcmp0 (c->image_id, id) == 0)
        {
          *container = g_strdup (c->name);
          return TRUE;
        }
    }
  return FALSE;
}

static void
untag_all (JsonObject *tags, const char *id)
{
  g_autoptr (GList) members = json_object_get_members (tags);
  for (GList *l = members; l; l = l->next)
    if (g_strcmp0 (json_object_get_string_member (tags, l->data), id) == 0)
      json_object_remove_member (tags, l->data);
}

gboolean
berth_image_remove (BerthStore *store, const char *ref, gboolean force, GError **error)
{
  if (!berth_store_begin_change (store, error))
    return FALSE;
  g_autoptr (JsonObject) tags = tags_load (store, error);
  if (tags == NULL)
    return FALSE;
  g_autofree char *id = resolve_image_id (store, ref, tags, error);
  if (id == NULL)
    return FALSE;
  g_autoptr (BerthImage) image = image_read (store, id, tags, error);
  if (image == NULL)
    return FALSE;
  g_autofree char *full = normalise_ref (ref, NULL);
  gboolean by_tag = full && json_object_has_member (tags, full);

  g_autofree char *name = g_strconcat ("name=", ref, NULL);
  char *attributes[] = { name, NULL };
  if (by_tag && image->tags->len > 1)
    {
      json_object_remove_member (tags, full);
      if (!tags_save (store, tags, error))
        return FALSE;
      berth_event_record (store, "image", "untag", id, attributes);
      return TRUE;
    }
  if (!by_tag && image->tags->len > 1 && !force)
    return berth_fail (error, BERTH_ERROR_BUSY,
                       "image %.12s is tagged %u times; remove the tags or use --force", id,
                       image->tags->len);
  g_autofree char *user = NULL;
  g_autoptr (GError) list_error = NULL;
  if (image_in_use (store, id, &user, &list_error))
    {
      if (list_error)
        return g_propagate_error (error, g_steal_pointer (&list_error)), FALSE;
      if (!force)
        return berth_fail (error, BERTH_ERROR_BUSY,
                           "image %s is used by container %s; remove the container first",
                           ref, user);
      untag_all (tags, id); /* --force: the image stays for its container, untagged */
      if (!tags_save (store, tags, error))
        return FALSE;
      berth_event_record (store, "image", "untag", id, attributes);
      return TRUE;
    }
  untag_all (tags, id);
  if (!tags_save (store, tags, error))
    return FALSE;
  g_autofree char *file = g_strdup_printf ("%s.json", id);
  g_autofree char *path = berth_store_path (store, "images", file, NULL);
  if (unlink (path) < 0)
    return berth_fail_errno (error, errno, "unlink %s", path);
  berth_event_record (store, "image", "delete", id, attributes);
  return berth_store_collect_garbage (store, error);
}

/* Forget an image this command made and whatever only it referenced. */
void
berth_image_undo (BerthStore *store, const char *id, gboolean existed)
{
  if (id && !existed)
    {
      g_autofree char *file = g_strdup_printf ("%s.json", id);
      g_autofree char *path = berth_store_path (store, "images", file, NULL);
      unlink (path);
    }
  berth_store_collect_garbage (store, NULL);
}

char *
berth_chain_id (char **diff_ids, int n)
{
  if (n < 0)
    return g_strdup ("");
  g_autofree char *chain = g_strdup (diff_ids[0] + 7);
  for (int i = 1; i <= n; i++)
    {
      g_autofree char *input = g_strdup_printf ("sha256:%s %s", chain, diff_ids[i]);
      g_free (chain);
      chain = g_compute_checksum_for_string (G_CHECKSUM_SHA256, input, -1);
    }
  return g_steal_pointer (&chain);
}

char *
berth_image_chain_id (BerthImage *image, int n)
{
  return berth_chain_id (image->diff_ids, n);
}

char *
berth_image_config_new (JsonNode *base_config, const char *diff_id, const char *created_by,
                        char **cmd, gsize *len)
{
  g_autoptr (JsonNode) node = base_config ? json_node_copy (base_config)
                                          : json_from_string ("{}", NULL);
  JsonObject *obj = json_node_get_object (node); /* validated when the image was stored */
  g_autofree char *now = berth_now_rfc3339 ();
  json_object_set_string_member (obj, "created", now);
  if (!json_object_has_member (obj, "architecture"))
    json_object_set_string_member (obj, "architecture", "amd64");
  json_object_set_string_member (obj, "os", "linux");
  if (berth_json_object (obj, "config") == NULL)
    json_object_set_object_member (obj, "config", json_object_new ());
  JsonObject *cfg = berth_json_object (obj, "config");
  if (cmd && cmd[0])
    json_object_set_member (cfg, "Cmd", berth_json_strv_node (cmd));
  if (berth_json_object (obj, "rootfs") == NULL)
    {
      JsonObject *rootfs = json_object_new ();
      json_object_set_string_member (rootfs, "type", "layers");
      json_object_set_array_member (rootfs, "diff_ids", json_array_new ());
      json_object_set_object_member (obj, "rootfs", rootfs);
    }
  JsonObject *rootfs = berth_json_object (obj, "rootfs");
  json_array_add_string_element (berth_json_array (rootfs, "diff_ids"), diff_id);
  if (berth_json_array (obj, "history") == NULL)
    json_object_set_array_member (obj, "history", json_array_new ());
  JsonObject *h = json_object_new ();
  json_object_set_string_member (h, "created", now);
  json_object_set_string_member (h, "created_by", created_by);
  json_array_add_object_element (berth_json_array (obj, "history"), h);
  return berth_json_to_string (node, len);
}

gint64
berth_image_size (BerthStore *store, BerthImage *image)
{
  gint64 total = 0;
  for (char **d = image->diff_ids; *d; d++)
    {
      g_autofree char *path = berth_blob_path (store, *d);
      struct stat st;
      if (stat (path, &st) == 0)
        total += st.st_size;
    }
  return total;
}

GBytes *
berth_image_config_bytes (BerthStore *store, const char *id, GError **error)
{
  g_autofree char *file = g_strdup_printf ("%s.json", id);
  g_autofree char *path = berth_store_path (store, "images", file, NULL);
  g_autofree char *text = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &text, &len, error))
    return NULL;
  return g_bytes_new_take (g_steal_pointer (&text), len);
}
