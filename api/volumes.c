/* /volumes: list, create, inspect and remove, from libberth (local
 * volumes under the store, as berth volume's). */
#include "config.h"
#include "api.h"
#include <berth/error.h>
#include <berth/json.h>
#include <string.h>

void
berth_api_volumes_list (BerthApi *api, SoupServerMessage *msg, const char *arg, GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = berth_api_open_store (api, FALSE, &error);
  g_autoptr (GPtrArray) list = store ? berth_volume_list (store, &error) : NULL;
  if (list == NULL)
    {
      berth_api_reply_error (msg, error);
      return;
    }
  JsonArray *volumes = json_array_new ();
  for (guint i = 0; i < list->len; i++)
    json_array_add_element (volumes, berth_volume_inspect (list->pdata[i]));
  g_autoptr (JsonObject) o = json_object_new ();
  json_object_set_array_member (o, "Volumes", volumes);
  json_object_set_array_member (o, "Warnings", json_array_new ());
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), g_steal_pointer (&o));
  berth_api_reply_json (msg, SOUP_STATUS_OK, node);
}

/* Docker answers a create of a volume that exists with that volume. */
void
berth_api_volumes_create (BerthApi *api, SoupServerMessage *msg, const char *arg,
                          GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = berth_api_request_json (msg, &error);
  JsonObject *o = body ? berth_json_node_object (body) : NULL;
  const char *name = o ? berth_json_string (o, "Name", "") : NULL;
  const char *driver = o ? berth_json_string (o, "Driver", "local") : NULL;
  if (o && *driver && strcmp (driver, "local") != 0)
    berth_fail (&error, BERTH_ERROR_INVALID, "volume driver '%s': only local volumes are "
                "served", driver);
  g_autoptr (BerthStore) store = error ? NULL : berth_api_open_store (api, TRUE, &error);
  gboolean created = FALSE;
  g_autoptr (BerthVolume) v = store ? berth_volume_ensure (store, *name ? name : NULL, &created,
                                                           &error)
                                    : NULL;
  if (v == NULL)
    {
      berth_api_reply_error (msg, error);
      return;
    }
  g_autoptr (JsonNode) node = berth_volume_inspect (v);
  berth_api_reply_json (msg, SOUP_STATUS_CREATED, node);
}

void
berth_api_volumes_inspect (BerthApi *api, SoupServerMessage *msg, const char *arg,
                           GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = berth_api_open_store (api, FALSE, &error);
  g_autoptr (BerthVolume) v = store ? berth_volume_lookup (store, arg, &error) : NULL;
  if (v == NULL)
    {
      berth_api_reply_error (msg, error);
      return;
    }
  g_autoptr (JsonNode) node = berth_volume_inspect (v);
  berth_api_reply_json (msg, SOUP_STATUS_OK, node);
}

/* force=1: no error for a volume that is not there (one in use is never
 * removed: 409). */
void
berth_api_volumes_remove (BerthApi *api, SoupServerMessage *msg, const char *arg,
                          GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = berth_api_open_store (api, TRUE, &error);
  if (store && (berth_volume_remove (store, arg, &error)
                || (berth_api_query_bool (query, "force")
                    && g_error_matches (error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))))
    berth_api_reply_empty (msg, SOUP_STATUS_NO_CONTENT);
  else
    berth_api_reply_error (msg, error);
}
