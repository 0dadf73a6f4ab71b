/* /networks: list and inspect from libberth, in Docker's shape; create,
 * remove, connect and disconnect through the berth command (they change
 * the host: a bridge, its nftables rules, a container's interfaces). */
#include "config.h"
#include "api.h"
#include <berth/error.h>
#include <berth/json.h>
#include <berth/network.h>
#include <string.h>

/* Docker's network object. Its Id is berth's record's, hashed (a
 * network's name is its key in berth). */
static JsonNode *
network_node (BerthStore *store, BerthNetwork *net)
{
  g_autoptr (JsonObject) o = json_object_new ();
  g_autofree char *id = g_compute_checksum_for_string (G_CHECKSUM_SHA256, net->owner, -1);
  json_object_set_string_member (o, "Name", net->name);
  json_object_set_string_member (o, "Id", id);
  json_object_set_string_member (o, "Scope", "local");
  json_object_set_string_member (o, "Driver", net->driver);
  json_object_set_boolean_member (o, "EnableIPv6", FALSE);
  json_object_set_boolean_member (o, "Internal", FALSE);
  json_object_set_boolean_member (o, "Attachable", FALSE);
  JsonObject *ipam = json_object_new ();
  json_object_set_string_member (ipam, "Driver", "default");
  JsonArray *configs = json_array_new ();
  JsonObject *config = json_object_new ();
  json_object_set_string_member (config, "Subnet", net->subnet);
  json_object_set_string_member (config, "Gateway", net->gateway);
  json_array_add_object_element (configs, config);
  json_object_set_array_member (ipam, "Config", configs);
  json_object_set_object_member (o, "IPAM", ipam);
  JsonObject *containers = json_object_new ();
  g_autoptr (GPtrArray) members = berth_network_members (store, net->name, NULL);
  for (guint i = 0; members && i < members->len; i++)
    {
      g_auto (GStrv) pair = g_strsplit (members->pdata[i], " ", 2);
      JsonObject *m = json_object_new ();
      json_object_set_string_member (m, "Name", pair[0]);
      json_object_set_string_member (m, "IPv4Address", pair[1] ? pair[1] : "");
      json_object_set_object_member (containers, pair[0], m);
    }
  json_object_set_object_member (o, "Containers", containers);
  json_object_set_object_member (o, "Options", json_object_new ());
  json_object_set_object_member (o, "Labels", json_object_new ());
  return json_node_init_object (json_node_alloc (), g_steal_pointer (&o));
}

static const char *const filter_keys[] = { "name", "id", "driver", NULL };

typedef struct {
  BerthNetwork *net;
  JsonObject *node;
} ListItem;

static gboolean
filter_matches (const char *key, const char *value, gpointer data)
{
  ListItem *item = data;
  if (strcmp (key, "name") == 0)
    return strstr (item->net->name, value) != NULL;
  if (strcmp (key, "id") == 0)
    return g_str_has_prefix (berth_json_string (item->node, "Id", ""), value);
  return strcmp (item->net->driver, value) == 0;
}

/* The store is opened for writing: the default network's record is made
 * on first use. */
void
berth_api_networks_list (BerthApi *api, SoupServerMessage *msg, const char *arg,
                         GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) filters = NULL;
  g_autoptr (BerthStore) store = NULL;
  g_autoptr (GPtrArray) list = NULL;
  if (!berth_api_filters_parse (query, filter_keys, &filters, &error)
      || (store = berth_api_open_store (api, TRUE, &error)) == NULL
      || (list = berth_store_networks (store, &error)) == NULL)
    {
      berth_api_reply_error (msg, error);
      return;
    }
  g_autoptr (JsonArray) out = json_array_new ();
  for (guint i = 0; i < list->len; i++)
    {
      JsonNode *node = network_node (store, list->pdata[i]);
      ListItem item = { list->pdata[i], json_node_get_object (node) };
      if (berth_api_filters_match (filters, filter_matches, &item))
        json_array_add_element (out, node);
      else
        json_node_unref (node);
    }
  g_autoptr (JsonNode) node = json_node_init_array (json_node_alloc (), g_steal_pointer (&out));
  berth_api_reply_json (msg, SOUP_STATUS_OK, node);
}

/* By name, else by an Id prefix. NULL after replying. */
static BerthNetwork *
find_network (BerthApi *api, SoupServerMessage *msg, const char *ref, BerthStore **store)
{
  g_autoptr (GError) error = NULL;
  *store = berth_api_open_store (api, TRUE, &error);
  if (*store == NULL)
    {
      berth_api_reply_error (msg, error);
      return NULL;
    }
  BerthNetwork *net = berth_store_network (*store, ref, NULL);
  if (net)
    return net;
  g_autoptr (GPtrArray) list = berth_store_networks (*store, NULL);
  for (guint i = 0; list && i < list->len; i++)
    {
      BerthNetwork *n = list->pdata[i];
      g_autofree char *id = g_compute_checksum_for_string (G_CHECKSUM_SHA256, n->owner, -1);
      if (strlen (ref) >= 12 && g_str_has_prefix (id, ref))
        return berth_store_network (*store, n->name, NULL);
    }
  berth_api_reply_message (msg, SOUP_STATUS_NOT_FOUND, "network %s not found", ref);
  return NULL;
}

void
berth_api_networks_inspect (BerthApi *api, SoupServerMessage *msg, const char *arg,
                            GHashTable *query)
{
  g_autoptr (BerthStore) store = NULL;
  g_autoptr (BerthNetwork) net = find_network (api, msg, arg, &store);
  if (net == NULL)
    return;
  g_autoptr (JsonNode) node = network_node (store, net);
  berth_api_reply_json (msg, SOUP_STATUS_OK, node);
}

static gboolean
network_made (SoupServerMessage *msg, const char *out, gpointer data)
{
  BerthApi *api = data;
  g_autoptr (BerthStore) store = NULL;
  g_autofree char *name = g_strstrip (g_strdup (out ? out : ""));
  g_autoptr (BerthNetwork) net = find_network (api, msg, name, &store);
  if (net == NULL)
    return TRUE;
  g_autofree char *id = g_compute_checksum_for_string (G_CHECKSUM_SHA256, net->owner, -1);
  g_autoptr (JsonObject) o = json_object_new ();
  json_object_set_string_member (o, "Id", id);
  json_object_set_string_member (o, "Warning", "");
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), g_steal_pointer (&o));
  berth_api_reply_json (msg, SOUP_STATUS_CREATED, node);
  return TRUE;
}

/* Name, Driver and IPAM.Config[0].Subnet/Gateway are taken; Labels,
 * Options and the rest are not kept. */
void
berth_api_networks_create (BerthApi *api, SoupServerMessage *msg, const char *arg,
                           GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = berth_api_request_json (msg, &error);
  JsonObject *o = body ? berth_json_node_object (body) : NULL;
  const char *name = o ? berth_json_string (o, "Name", "") : "";
  if (o && *name == '\0')
    berth_fail (&error, BERTH_ERROR_INVALID, "Name: a network needs a name");
  if (error)
    {
      berth_api_reply_error (msg, error);
      return;
    }
  JsonObject *config = berth_json_array_object (berth_json_array (berth_json_object (o, "IPAM"),
                                                                  "Config"), 0);
  const char *driver = berth_json_string (o, "Driver", "");
  const char *subnet = berth_json_string (config, "Subnet", "");
  const char *gateway = berth_json_string (config, "Gateway", "");
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_ptr_array_add (args, (char *) "network");
  g_ptr_array_add (args, (char *) "create");
  const char *with_value[][2] = { { "--driver", driver }, { "--subnet", subnet },
                                  { "--gateway", gateway } };
  for (guint i = 0; i < G_N_ELEMENTS (with_value); i++)
    if (*with_value[i][1])
      {
        g_ptr_array_add (args, (char *) with_value[i][0]);
        g_ptr_array_add (args, (char *) with_value[i][1]);
      }
  g_ptr_array_add (args, (char *) name);
  g_ptr_array_add (args, NULL);
  berth_api_run_berth (api, msg, (const char *const *) args->pdata, network_made, api, NULL);
}

void
berth_api_networks_remove (BerthApi *api, SoupServerMessage *msg, const char *arg,
                           GHashTable *query)
{
  g_autoptr (BerthStore) store = NULL;
  g_autoptr (BerthNetwork) net = find_network (api, msg, arg, &store);
  if (net == NULL)
    return;
  const char *args[] = { "network", "rm", net->name, NULL };
  berth_api_run_berth (api, msg, args, NULL, NULL, NULL);
}

/* POST /networks/ID/connect and /disconnect: {"Container": ..., and for
 * connect "EndpointConfig": {"IPAMConfig": {"IPv4Address": ...}}}. */
static void
connect_or_disconnect (BerthApi *api, SoupServerMessage *msg, const char *arg, gboolean connect)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = berth_api_request_json (msg, &error);
  JsonObject *o = body ? berth_json_node_object (body) : NULL;
  const char *container = o ? berth_json_string (o, "Container", "") : "";
  if (o && *container == '\0')
    berth_fail (&error, BERTH_ERROR_INVALID, "Container: which container?");
  g_autoptr (BerthStore) store = NULL;
  g_autoptr (BerthNetwork) net = error ? NULL : find_network (api, msg, arg, &store);
  if (error)
    berth_api_reply_error (msg, error);
  if (net == NULL)
    return;
  /* Compose connects each container to the network it was created on:
   * it is on it already (Docker answers so when the endpoint is the same). */
  g_autoptr (BerthContainer) c = connect ? berth_container_lookup (store, container, NULL) : NULL;
  g_autoptr (JsonNode) spec = c ? berth_container_spec (store, c, NULL) : NULL;
  JsonObject *annotations = spec ? berth_json_object (berth_json_node_object (spec), "annotations")
                                 : NULL;
  if (g_strcmp0 (berth_json_string (annotations, "org.berth.network", NULL), net->name) == 0)
    {
      berth_api_reply_empty (msg, SOUP_STATUS_OK);
      return;
    }
  const char *ip = berth_json_string (berth_json_object (berth_json_object (o, "EndpointConfig"),
                                                         "IPAMConfig"), "IPv4Address", "");
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_ptr_array_add (args, (char *) "network");
  g_ptr_array_add (args, (char *) (connect ? "connect" : "disconnect"));
  if (connect && *ip)
    {
      g_ptr_array_add (args, (char *) "--ip");
      g_ptr_array_add (args, (char *) ip);
    }
  g_ptr_array_add (args, net->name);
  g_ptr_array_add (args, (char *) container);
  g_ptr_array_add (args, NULL);
  berth_api_run_berth (api, msg, (const char *const *) args->pdata, NULL, NULL, NULL);
}

void
berth_api_networks_connect (BerthApi *api, SoupServerMessage *msg, const char *arg,
                            GHashTable *query)
{
  connect_or_disconnect (api, msg, arg, TRUE);
}

void
berth_api_networks_disconnect (BerthApi *api, SoupServerMessage *msg, const char *arg,
                               GHashTable *query)
{
  connect_or_disconnect (api, msg, arg, FALSE);
}
