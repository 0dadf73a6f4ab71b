/* /images/...: list and inspect here, remove through berth rmi. */
#include "config.h"
#include "api.h"
#include <berth/error.h>
#include <berth/json.h>
#include <string.h>

/* NULL after replying, in Docker's words when there is no such image. */
static BerthImage *
open_image (BerthApi *api, SoupServerMessage *msg, const char *ref, BerthStore **store)
{
  g_autoptr (GError) error = NULL;
  *store = berth_api_open_store (api, FALSE, &error);
  BerthImage *image = *store ? berth_image_lookup (*store, ref, &error) : NULL;
  if (image == NULL && g_error_matches (error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
    berth_api_reply_message (msg, SOUP_STATUS_NOT_FOUND, "No such image: %s", ref);
  else if (image == NULL)
    berth_api_reply_error (msg, error);
  return image;
}

static gint64
unix_time (const char *rfc3339)
{
  g_autoptr (GDateTime) t = rfc3339 && *rfc3339 ? g_date_time_new_from_iso8601 (rfc3339, NULL)
                                                : NULL;
  return t ? g_date_time_to_unix (t) : 0;
}

static JsonNode *
summary (BerthStore *store, BerthImage *image)
{
  JsonObject *config = berth_json_node_object (image->config);
  g_autoptr (JsonObject) o = json_object_new ();
  g_autofree char *id = g_strconcat ("sha256:", image->id, NULL);
  json_object_set_string_member (o, "Id", id);
  json_object_set_string_member (o, "ParentId", "");
  JsonArray *tags = json_array_new ();
  for (guint i = 0; i < image->tags->len; i++)
    json_array_add_string_element (tags, image->tags->pdata[i]);
  if (image->tags->len == 0)
    json_array_add_string_element (tags, "<none>:<none>");
  json_object_set_array_member (o, "RepoTags", tags);
  g_auto (GStrv) digests = berth_origin_repo_digests (store, image->id);
  json_object_set_member (o, "RepoDigests", berth_json_strv_node (digests));
  json_object_set_int_member (o, "Created", unix_time (berth_json_string (config, "created", "")));
  gint64 size = berth_image_size (store, image);
  json_object_set_int_member (o, "Size", size);
  json_object_set_int_member (o, "VirtualSize", size);
  json_object_set_int_member (o, "SharedSize", -1);
  json_object_set_int_member (o, "Containers", -1);
  JsonObject *labels = berth_json_object (berth_json_object (config, "config"), "Labels");
  json_object_set_member (o, "Labels", labels ? json_node_init_object (json_node_alloc (), labels)
                                              : json_node_init_object (json_node_alloc (),
                                                                       json_object_new ()));
  return json_node_init_object (json_node_alloc (), o);
}

void
berth_api_images_list (BerthApi *api, SoupServerMessage *msg, const char *arg, GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = berth_api_open_store (api, FALSE, &error);
  g_autoptr (GPtrArray) list = store ? berth_image_list (store, &error) : NULL;
  if (list == NULL)
    {
      berth_api_reply_error (msg, error);
      return;
    }
  g_autoptr (JsonArray) out = json_array_new ();
  for (guint i = 0; i < list->len; i++)
    json_array_add_element (out, summary (store, list->pdata[i]));
  g_autoptr (JsonNode) node = json_node_init_array (json_node_alloc (), out);
  berth_api_reply_json (msg, SOUP_STATUS_OK, node);
}

void
berth_api_images_inspect (BerthApi *api, SoupServerMessage *msg, const char *arg,
                          GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = NULL;
  g_autoptr (BerthImage) image = open_image (api, msg, arg, &store);
  if (image == NULL)
    return;
  g_autoptr (JsonNode) node = berth_image_inspect (store, image->id, &error);
  if (node == NULL)
    berth_api_reply_error (msg, error);
  else
    berth_api_reply_json (msg, SOUP_STATUS_OK, node);
}

/* Docker's answer: what was untagged and what was deleted. berth rmi
 * removes the image the name points to. */
static gboolean
removed (SoupServerMessage *msg, const char *out, gpointer data)
{
  char **what = data;
  g_autoptr (JsonArray) list = json_array_new ();
  JsonObject *untagged = json_object_new ();
  json_object_set_string_member (untagged, "Untagged", what[0]);
  json_array_add_object_element (list, untagged);
  JsonObject *deleted = json_object_new ();
  json_object_set_string_member (deleted, "Deleted", what[1]);
  json_array_add_object_element (list, deleted);
  g_autoptr (JsonNode) node = json_node_init_array (json_node_alloc (), g_steal_pointer (&list));
  berth_api_reply_json (msg, SOUP_STATUS_OK, node);
  return TRUE;
}

void
berth_api_images_remove (BerthApi *api, SoupServerMessage *msg, const char *arg,
                         GHashTable *query)
{
  g_autoptr (BerthStore) store = NULL;
  g_autoptr (BerthImage) image = open_image (api, msg, arg, &store);
  if (image == NULL)
    return;
  char **what = g_new0 (char *, 3);
  what[0] = g_strdup (arg);
  what[1] = g_strconcat ("sha256:", image->id, NULL);
  gboolean force = berth_api_query_bool (query, "force");
  const char *args[] = { "rmi", force ? "--force" : arg, force ? arg : NULL, NULL };
  berth_api_run_berth (api, msg, args, removed, what, (GDestroyNotify) g_strfreev);
}
