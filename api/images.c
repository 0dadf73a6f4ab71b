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

static gboolean reference_matches_tag (const char *tag, const char *pattern);

/* With reference filters (@patterns), only the tags they match are listed,
 * as dockerd does: docker images REPO shows REPO's rows alone. */
static JsonNode *
summary (BerthStore *store, BerthImage *image, char **patterns)
{
  JsonObject *config = berth_json_node_object (image->config);
  g_autoptr (JsonObject) o = json_object_new ();
  g_autofree char *id = g_strconcat ("sha256:", image->id, NULL);
  json_object_set_string_member (o, "Id", id);
  json_object_set_string_member (o, "ParentId", "");
  JsonArray *tags = json_array_new ();
  for (guint i = 0; i < image->tags->len; i++)
    {
      gboolean wanted = patterns == NULL || patterns[0] == NULL;
      for (char **p = patterns; p && *p && !wanted; p++)
        wanted = reference_matches_tag (image->tags->pdata[i], *p);
      if (wanted)
        json_array_add_string_element (tags, image->tags->pdata[i]);
    }
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

/* docker images [REPOSITORY[:TAG]] sends reference=, a pattern (* and ?)
 * of the repository, or of repository:tag when it names a tag. */
static gboolean
reference_matches_tag (const char *tag, const char *pattern)
{
  const char *slash = strrchr (pattern, '/');
  gboolean with_tag = strchr (slash ? slash : pattern, ':') != NULL;
  const char *colon = strrchr (tag, ':');
  g_autofree char *repo = colon && !strchr (colon, '/') ? g_strndup (tag, colon - tag)
                                                        : g_strdup (tag);
  return g_pattern_match_simple (pattern, with_tag ? tag : repo);
}

static gboolean
reference_matches (BerthImage *image, const char *pattern)
{
  for (guint i = 0; i < image->tags->len; i++)
    if (reference_matches_tag (image->tags->pdata[i], pattern))
      return TRUE;
  return FALSE;
}

static const char *const filter_keys[] = { "reference", "dangling", "label", NULL };

static gboolean
filter_matches (const char *key, const char *value, gpointer data)
{
  BerthImage *image = data;
  if (strcmp (key, "reference") == 0)
    return reference_matches (image, value);
  if (strcmp (key, "dangling") == 0)
    return (image->tags->len == 0) == (strcmp (value, "true") == 0 || strcmp (value, "1") == 0);
  JsonObject *labels = berth_json_object (berth_json_object (berth_json_node_object (image->config),
                                                             "config"), "Labels");
  g_auto (GStrv) list = berth_json_labels (labels);
  return berth_labels_match (list, value);
}

void
berth_api_images_list (BerthApi *api, SoupServerMessage *msg, const char *arg, GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) filters = NULL;
  if (!berth_api_filters_parse (query, filter_keys, &filters, &error))
    {
      berth_api_reply_error (msg, error);
      return;
    }
  g_autoptr (BerthStore) store = berth_api_open_store (api, FALSE, &error);
  g_autoptr (GPtrArray) list = store ? berth_image_list (store, &error) : NULL;
  if (list == NULL)
    {
      berth_api_reply_error (msg, error);
      return;
    }
  g_autoptr (JsonArray) out = json_array_new ();
  g_auto (GStrv) patterns = berth_api_filter_values (filters, "reference");
  for (guint i = 0; i < list->len; i++)
    if (berth_api_filters_match (filters, filter_matches, list->pdata[i]))
      json_array_add_element (out, summary (store, list->pdata[i], patterns));
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

/* Docker's progress stream, the lines a pull that is over would have sent:
 * clients print each "status". */
static gboolean
pulled (SoupServerMessage *msg, const char *out, gpointer data)
{
  const char *ref = data;
  g_autoptr (GString) text = g_string_new (NULL);
  const char *lines[] = { "Pulling from ", "Status: Downloaded newer image for " };
  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      g_autoptr (JsonObject) o = json_object_new ();
      g_autofree char *status = g_strconcat (lines[i], ref, NULL);
      json_object_set_string_member (o, "status", status);
      g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), g_steal_pointer (&o));
      g_autofree char *line = berth_json_to_string (node, NULL);
      g_string_append_printf (text, "%s\r\n", line);
    }
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  gsize len = text->len;
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE,
                                    g_string_free (g_steal_pointer (&text), FALSE), len);
  return TRUE;
}

/* POST /images/create?fromImage=NAME&tag=TAG: berth pull, with the
 * credentials of berth login (X-Registry-Auth is not read). fromSrc
 * (docker import) is not served. */
void
berth_api_images_create (BerthApi *api, SoupServerMessage *msg, const char *arg,
                         GHashTable *query)
{
  const char *from = berth_api_query (query, "fromImage");
  const char *tag = berth_api_query (query, "tag");
  if (from == NULL || *from == '\0')
    {
      berth_api_reply_message (msg, SOUP_STATUS_BAD_REQUEST, "only fromImage (docker pull) is "
                               "served: fromSrc (docker import) is not");
      return;
    }
  /* A digest or a tag may come in fromImage itself or in tag. */
  char *ref = tag && *tag ? g_strdup_printf ("%s%s%s", from, g_str_has_prefix (tag, "sha256:")
                                                                 ? "@" : ":", tag)
                          : g_strdup (from);
  const char *args[] = { "pull", ref, NULL };
  berth_api_run_berth (api, msg, args, pulled, ref, g_free);
}
