/* Where images and layers came from and went: <root>/origins.json keeps
 * each image's manifest digests by repository (Docker's RepoDigests) and,
 * for each layer (by diff id), the compressed blobs registries hold of it,
 * so that a push can skip or mount a blob instead of compressing it again.
 * Only a cache: entries of images and blobs the store no longer has are
 * dropped at the next write, and a lost file costs a recompression. */
#include "config.h"
#include "store-internal.h"
#include <berth/error.h>
#include <berth/json.h>
#include <string.h>

#define MAX_SOURCES_PER_LAYER 16

static JsonObject *
origins_load (BerthStore *store)
{
  g_autofree char *path = berth_store_path (store, "origins.json", NULL);
  g_autoptr (JsonNode) node = berth_json_read (path, NULL);
  JsonObject *obj = node ? berth_json_node_object (node) : NULL;
  return obj ? json_object_ref (obj) : json_object_new ();
}

static JsonObject *
member_object (JsonObject *parent, const char *name)
{
  JsonObject *child = berth_json_object (parent, name);
  if (child == NULL)
    {
      child = json_object_new ();
      json_object_set_object_member (parent, name, child);
    }
  return child;
}

/* Entries whose image or blob is gone. */
static void
prune (BerthStore *store, JsonObject *origins)
{
  JsonObject *images = member_object (origins, "images");
  g_autoptr (GList) ids = json_object_get_members (images);
  for (GList *l = ids; l; l = l->next)
    {
      g_autofree char *file = g_strdup_printf ("%s.json", (const char *) l->data);
      g_autofree char *path = berth_store_path (store, "images", file, NULL);
      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        json_object_remove_member (images, l->data);
    }
  JsonObject *layers = member_object (origins, "layers");
  g_autoptr (GList) diff_ids = json_object_get_members (layers);
  for (GList *l = diff_ids; l; l = l->next)
    {
      g_autofree char *path = berth_blob_path (store, l->data);
      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        json_object_remove_member (layers, l->data);
    }
}

static void
add_unique_string (JsonObject *obj, const char *member, const char *value)
{
  JsonArray *arr = berth_json_array (obj, member);
  if (arr == NULL)
    {
      arr = json_array_new ();
      json_object_set_array_member (obj, member, arr);
    }
  for (guint i = 0; i < json_array_get_length (arr); i++)
    if (g_strcmp0 (json_node_get_string (json_array_get_element (arr, i)), value) == 0)
      return;
  json_array_add_string_element (arr, value);
}

static void
add_source (JsonObject *layers, const BerthBlobSource *src)
{
  JsonArray *arr = berth_json_array (layers, src->diff_id);
  if (arr == NULL)
    {
      arr = json_array_new ();
      json_object_set_array_member (layers, src->diff_id, arr);
    }
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonObject *o = berth_json_array_object (arr, i);
      if (o && g_strcmp0 (berth_json_string (o, "digest", NULL), src->digest) == 0
          && g_strcmp0 (berth_json_string (o, "repository", NULL), src->repository) == 0)
        return;
    }
  if (json_array_get_length (arr) >= MAX_SOURCES_PER_LAYER)
    json_array_remove_element (arr, 0);
  JsonObject *o = json_object_new ();
  json_object_set_string_member (o, "digest", src->digest);
  json_object_set_string_member (o, "repository", src->repository);
  json_object_set_string_member (o, "mediaType", src->media_type);
  json_object_set_int_member (o, "size", src->size);
  json_array_add_object_element (arr, o);
}

gboolean
berth_origin_record (BerthStore *store, const char *image_id, const char *repo_digest,
                     GPtrArray *sources, GError **error)
{
  g_autoptr (JsonObject) origins = origins_load (store);
  prune (store, origins);
  if (image_id && repo_digest)
    add_unique_string (member_object (origins, "images"), image_id, repo_digest);
  JsonObject *layers = member_object (origins, "layers");
  for (guint i = 0; sources && i < sources->len; i++)
    add_source (layers, sources->pdata[i]);
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), origins);
  g_autofree char *path = berth_store_path (store, "origins.json", NULL);
  return berth_json_write (path, node, error);
}

char **
berth_origin_repo_digests (BerthStore *store, const char *image_id)
{
  g_autoptr (JsonObject) origins = origins_load (store);
  JsonObject *images = berth_json_object (origins, "images");
  char **found = images ? berth_json_strv (images, image_id) : NULL;
  return found ? found : g_new0 (char *, 1);
}

BerthBlobSource *
berth_blob_source_new (const char *diff_id, const char *digest, const char *repository,
                       const char *media_type, gint64 size)
{
  BerthBlobSource *src = g_new0 (BerthBlobSource, 1);
  src->diff_id = g_strdup (diff_id);
  src->digest = g_strdup (digest);
  src->repository = g_strdup (repository);
  src->media_type = g_strdup (media_type);
  src->size = size;
  return src;
}

void
berth_blob_source_free (BerthBlobSource *src)
{
  g_free (src->diff_id);
  g_free (src->digest);
  g_free (src->repository);
  g_free (src->media_type);
  g_free (src);
}

GPtrArray *
berth_origin_blob_sources (BerthStore *store, const char *diff_id)
{
  g_autoptr (JsonObject) origins = origins_load (store);
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) berth_blob_source_free);
  JsonObject *layers = berth_json_object (origins, "layers");
  JsonArray *arr = layers ? berth_json_array (layers, diff_id) : NULL;
  for (guint i = 0; arr && i < json_array_get_length (arr); i++)
    {
      JsonObject *o = berth_json_array_object (arr, i);
      const char *digest = o ? berth_json_string (o, "digest", NULL) : NULL;
      const char *repo = o ? berth_json_string (o, "repository", NULL) : NULL;
      if (digest == NULL || repo == NULL)
        continue;
      g_ptr_array_add (out, berth_blob_source_new (diff_id, digest, repo,
                                                   berth_json_string (o, "mediaType", ""),
                                                   berth_json_int (o, "size", -1)));
    }
  return out;
}
