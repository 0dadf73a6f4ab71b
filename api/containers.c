/* /containers/...: list, create, inspect and remove here; start, stop,
 * restart, kill, wait and logs through the berth command (api.h says why). */
#include "config.h"
#include "api.h"
#include <berth/error.h>
#include <berth/host.h>
#include <berth/json.h>
#include <string.h>

/* The container @ref in the store, opened for reading (@store); NULL
 * after replying with the error, in Docker's words when there is no such
 * container (clients match them). */
static BerthContainer *
open_container (BerthApi *api, SoupServerMessage *msg, const char *ref, BerthStore **store)
{
  g_autoptr (GError) error = NULL;
  *store = berth_api_open_store (api, FALSE, &error);
  BerthContainer *c = *store ? berth_container_lookup (*store, ref, &error) : NULL;
  if (c == NULL && g_error_matches (error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
    berth_api_reply_message (msg, SOUP_STATUS_NOT_FOUND, "No such container: %s", ref);
  else if (c == NULL)
    berth_api_reply_error (msg, error);
  return c;
}

/* The container @ref and its state from a fresh look at the store; NULL
 * after replying with the error. */
static BerthContainer *
lookup (BerthApi *api, SoupServerMessage *msg, const char *ref, BerthContainerState **state)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = NULL;
  g_autoptr (BerthContainer) c = open_container (api, msg, ref, &store);
  if (c == NULL)
    return NULL;
  g_autoptr (BerthContainerState) s = berth_container_state (store, c, &error);
  if (s == NULL)
    {
      berth_api_reply_error (msg, error);
      return NULL;
    }
  if (state)
    *state = g_steal_pointer (&s);
  return g_steal_pointer (&c);
}

/* ---- GET /containers/json ---- */

static gint64
unix_time (const char *rfc3339)
{
  g_autoptr (GDateTime) t = rfc3339 && *rfc3339 ? g_date_time_new_from_iso8601 (rfc3339, NULL)
                                                : NULL;
  return t ? g_date_time_to_unix (t) : 0;
}

/* Docker's State word: berth's "starting" has a process on its way. */
static const char *
docker_state (const BerthContainerState *s)
{
  return g_strcmp0 (s->status, "starting") == 0 ? "running" : s->status;
}

static JsonNode *
summary (BerthContainer *c, BerthContainerState *s)
{
  g_autoptr (JsonObject) o = json_object_new ();
  json_object_set_string_member (o, "Id", c->id);
  JsonArray *names = json_array_new ();
  g_autofree char *slashed = g_strconcat ("/", c->name, NULL);
  json_array_add_string_element (names, slashed);
  json_object_set_array_member (o, "Names", names);
  json_object_set_string_member (o, "Image", c->image_ref);
  g_autofree char *image_id = g_strconcat ("sha256:", c->image_id, NULL);
  json_object_set_string_member (o, "ImageID", image_id);
  g_autofree char *cmd = c->cmd ? g_strjoinv (" ", c->cmd) : g_strdup ("");
  json_object_set_string_member (o, "Command", cmd);
  json_object_set_int_member (o, "Created", unix_time (c->created));
  json_object_set_string_member (o, "State", docker_state (s));
  g_autofree char *status = berth_container_status_text (s);
  json_object_set_string_member (o, "Status", status);
  json_object_set_array_member (o, "Ports", json_array_new ());
  json_object_set_member (o, "Labels", berth_json_labels_node (c->labels));
  json_object_set_array_member (o, "Mounts", json_array_new ());
  return json_node_init_object (json_node_alloc (), o);
}

typedef struct {
  BerthContainer *c;
  BerthContainerState *s;
} ListItem;

/* ?filters= of docker ps and compose: each key's values are alternatives. */
static const char *const filter_keys[] = { "id", "name", "status", "label", NULL };

static gboolean
filter_matches (const char *key, const char *value, gpointer data)
{
  BerthContainer *c = ((ListItem *) data)->c;
  if (strcmp (key, "id") == 0)
    return g_str_has_prefix (c->id, value);
  if (strcmp (key, "name") == 0)
    return strstr (c->name, value) != NULL;
  if (strcmp (key, "status") == 0)
    return strcmp (docker_state (((ListItem *) data)->s), value) == 0;
  return berth_labels_match (c->labels, value);
}

void
berth_api_containers_list (BerthApi *api, SoupServerMessage *msg, const char *arg,
                           GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) filters = NULL;
  if (!berth_api_filters_parse (query, filter_keys, &filters, &error))
    {
      berth_api_reply_error (msg, error);
      return;
    }
  gboolean all = berth_api_query_bool (query, "all");
  g_autoptr (BerthStore) store = berth_api_open_store (api, FALSE, &error);
  g_autoptr (GPtrArray) list = store ? berth_container_list (store, &error) : NULL;
  if (list == NULL)
    {
      berth_api_reply_error (msg, error);
      return;
    }
  g_autoptr (JsonArray) out = json_array_new ();
  for (guint i = 0; i < list->len; i++)
    {
      BerthContainer *c = list->pdata[i];
      g_autoptr (BerthContainerState) s = berth_container_state (store, c, NULL);
      ListItem item = { c, s };
      if (s == NULL || (!all && !berth_container_state_is_live (s))
          || !berth_api_filters_match (filters, filter_matches, &item))
        continue;
      json_array_add_element (out, summary (c, s));
    }
  g_autoptr (JsonNode) node = json_node_init_array (json_node_alloc (), out);
  berth_api_reply_json (msg, SOUP_STATUS_OK, node);
}

/* ---- POST /containers/create ---- */

/* What a create body holds, owned: BerthSpecOptions points into it. */
typedef struct {
  BerthSpecOptions o;
  char **cmd, **env, **volumes, **tmpfs, **labels, **cap_add, **cap_drop, **dns, **dns_search;
  char **add_hosts, **volumes_from;
  char *entrypoint, *restart;
} CreateRequest;

static void
create_request_clear (CreateRequest *r)
{
  g_strfreev (r->cmd);
  g_strfreev (r->env);
  g_strfreev (r->volumes);
  g_strfreev (r->tmpfs);
  g_strfreev (r->labels);
  g_strfreev (r->cap_add);
  g_strfreev (r->cap_drop);
  g_strfreev (r->dns);
  g_strfreev (r->dns_search);
  g_strfreev (r->add_hosts);
  g_strfreev (r->volumes_from);
  g_free (r->entrypoint);
  g_free (r->restart);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CreateRequest, create_request_clear)

static const char *
nonempty (JsonObject *o, const char *member)
{
  const char *s = berth_json_string (o, member, NULL);
  return s && *s ? s : NULL;
}

/* Entrypoint (a string or an array) and Cmd: berth's entrypoint is one
 * program, so an array's other words go before Cmd's. [] or "": none. */
static void
read_command (JsonObject *config, CreateRequest *r)
{
  g_auto (GStrv) cmd = berth_json_strv (config, "Cmd");
  JsonNode *ep = json_object_get_member (config, "Entrypoint");
  g_auto (GStrv) entry = NULL;
  if (ep && JSON_NODE_HOLDS_VALUE (ep) && json_node_get_string (ep))
    entry = g_strsplit_set (json_node_get_string (ep), " ", -1);
  else if (ep && JSON_NODE_HOLDS_ARRAY (ep))
    entry = berth_json_strv (config, "Entrypoint");
  if (entry == NULL)
    {
      r->cmd = g_steal_pointer (&cmd);
      return;
    }
  r->entrypoint = g_strdup (entry[0] ? entry[0] : "");
  GStrvBuilder *b = g_strv_builder_new ();
  for (char **w = entry[0] ? entry + 1 : entry; *w; w++)
    g_strv_builder_add (b, *w);
  for (char **w = cmd; w && *w; w++)
    g_strv_builder_add (b, *w);
  r->cmd = g_strv_builder_end (b);
  g_strv_builder_unref (b);
  if (r->cmd[0] == NULL)
    g_clear_pointer (&r->cmd, g_strfreev);
}

/* Binds, Mounts, Tmpfs and Config.Volumes as berth's -v and --tmpfs. */
static gboolean
read_mounts (JsonObject *config, JsonObject *host, CreateRequest *r, GError **error)
{
  GStrvBuilder *vols = g_strv_builder_new ();
  GStrvBuilder *tmpfs = g_strv_builder_new ();
  g_auto (GStrv) binds = berth_json_strv (host, "Binds");
  for (char **b = binds; b && *b; b++)
    g_strv_builder_add (vols, *b);
  /* Config.Volumes: an anonymous volume at each path that no bind or
   * mount of HostConfig covers (compose sends both for a service's
   * volumes; Docker's binds win). */
  g_autoptr (GHashTable) targets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (char **b = binds; b && *b; b++)
    {
      g_auto (GStrv) parts = g_strsplit (*b, ":", 3);
      if (parts[0] && parts[1])
        g_hash_table_add (targets, g_strdup (parts[1]));
    }
  JsonArray *mount_list = berth_json_array (host, "Mounts");
  for (guint i = 0; mount_list && i < json_array_get_length (mount_list); i++)
    g_hash_table_add (targets, g_strdup (berth_json_string (berth_json_array_object (mount_list, i),
                                                            "Target", "")));
  JsonObject *anonymous = berth_json_object (config, "Volumes");
  g_autoptr (GList) paths = anonymous ? json_object_get_members (anonymous) : NULL;
  for (GList *p = paths; p; p = p->next)
    if (!g_hash_table_contains (targets, p->data))
      g_strv_builder_add (vols, p->data);
  JsonObject *tmpfs_map = berth_json_object (host, "Tmpfs");
  g_autoptr (GList) tpaths = tmpfs_map ? json_object_get_members (tmpfs_map) : NULL;
  for (GList *p = tpaths; p; p = p->next)
    {
      const char *opts = berth_json_string (tmpfs_map, p->data, "");
      g_autofree char *entry = *opts ? g_strdup_printf ("%s:%s", (char *) p->data, opts)
                                     : g_strdup (p->data);
      g_strv_builder_add (tmpfs, entry);
    }
  JsonArray *mounts = berth_json_array (host, "Mounts");
  gboolean ok = TRUE;
  for (guint i = 0; ok && mounts && i < json_array_get_length (mounts); i++)
    {
      JsonObject *m = berth_json_array_object (mounts, i);
      const char *type = berth_json_string (m, "Type", "volume");
      const char *target = berth_json_string (m, "Target", "");
      const char *source = berth_json_string (m, "Source", "");
      gboolean ro = berth_json_bool (m, "ReadOnly", FALSE);
      if (*target != '/')
        ok = berth_fail (error, BERTH_ERROR_INVALID, "Mounts[%u]: Target must be an absolute "
                         "path", i);
      else if (strcmp (type, "tmpfs") == 0)
        g_strv_builder_add (tmpfs, target);
      else if (strcmp (type, "bind") == 0 || strcmp (type, "volume") == 0)
        {
          g_autofree char *entry = *source ? g_strdup_printf ("%s:%s%s", source, target,
                                                              ro ? ":ro" : "")
                                           : g_strdup (target);
          g_strv_builder_add (vols, entry);
        }
      else
        ok = berth_fail (error, BERTH_ERROR_INVALID, "Mounts[%u]: Type '%s' is not supported "
                         "(bind, volume, tmpfs are)", i, type);
    }
  r->volumes = g_strv_builder_end (vols);
  r->tmpfs = g_strv_builder_end (tmpfs);
  g_strv_builder_unref (vols);
  g_strv_builder_unref (tmpfs);
  return ok;
}

static gboolean
read_create (JsonObject *config, CreateRequest *r, GError **error)
{
  JsonObject *host = berth_json_object (config, "HostConfig");
  BerthSpecOptions *o = &r->o;
  read_command (config, r);
  o->cmd = r->cmd;
  o->entrypoint = r->entrypoint;
  o->env = r->env = berth_json_strv (config, "Env");
  o->user = nonempty (config, "User");
  o->workdir = nonempty (config, "WorkingDir");
  o->hostname = nonempty (config, "Hostname");
  o->tty = berth_json_bool (config, "Tty", FALSE);
  o->interactive = berth_json_bool (config, "OpenStdin", FALSE);
  o->labels = r->labels = berth_json_labels (berth_json_object (config, "Labels"));
  if (!read_mounts (config, host, r, error))
    return FALSE;
  o->volumes = r->volumes[0] ? r->volumes : NULL;
  o->tmpfs = r->tmpfs[0] ? r->tmpfs : NULL;
  o->volumes_from = r->volumes_from = berth_json_strv (host, "VolumesFrom");
  o->memory = berth_json_int (host, "Memory", 0);
  o->memory_swap = berth_json_int (host, "MemorySwap", 0);
  o->cpus = berth_json_int (host, "NanoCpus", 0) / 1e9;
  o->cpu_shares = berth_json_int (host, "CpuShares", 0);
  o->cpuset_cpus = nonempty (host, "CpusetCpus");
  o->pids_limit = berth_json_int (host, "PidsLimit", 0);
  o->blkio_weight = berth_json_int (host, "BlkioWeight", 0);
  o->read_only = berth_json_bool (host, "ReadonlyRootfs", FALSE);
  o->auto_remove = berth_json_bool (host, "AutoRemove", FALSE);
  o->init = berth_json_bool (host, "Init", FALSE);
  o->cap_add = r->cap_add = berth_json_strv (host, "CapAdd");
  o->cap_drop = r->cap_drop = berth_json_strv (host, "CapDrop");
  o->dns = r->dns = berth_json_strv (host, "Dns");
  o->dns_search = r->dns_search = berth_json_strv (host, "DnsSearch");
  o->add_hosts = r->add_hosts = berth_json_strv (host, "ExtraHosts");
  const char *mode = nonempty (host, "NetworkMode");
  o->network = mode && strcmp (mode, "default") != 0 ? mode : NULL;
  JsonObject *restart = berth_json_object (host, "RestartPolicy");
  const char *policy = nonempty (restart, "Name");
  gint64 max = berth_json_int (restart, "MaximumRetryCount", 0);
  if (policy)
    o->restart = r->restart = max > 0 && strcmp (policy, "on-failure") == 0
                                  ? g_strdup_printf ("on-failure:%" G_GINT64_FORMAT, max)
                                  : g_strdup (policy);
  return TRUE;
}

void
berth_api_containers_create (BerthApi *api, SoupServerMessage *msg, const char *arg,
                             GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = berth_api_request_json (msg, &error);
  g_auto (CreateRequest) r = { 0 };
  JsonObject *config = body ? berth_json_node_object (body) : NULL;
  const char *image = config ? nonempty (config, "Image") : NULL;
  if (config && image == NULL)
    berth_fail (&error, BERTH_ERROR_INVALID, "Image: a container needs an image");
  if (image == NULL || !read_create (config, &r, &error))
    {
      berth_api_reply_error (msg, error);
      return;
    }
  /* The berth command's default network when the client names none. */
  g_autofree char *rule = NULL;
  if (r.o.network == NULL)
    r.o.network = berth_host_default_network (&rule);
  g_autoptr (BerthStore) store = berth_api_open_store (api, TRUE, &error);
  g_autoptr (BerthContainer) c = store ? berth_container_create (store, image,
                                                                 berth_api_query (query, "name"),
                                                                 NULL, NULL, &r.o, &error)
                                       : NULL;
  if (c == NULL)
    {
      berth_api_reply_error (msg, error);
      return;
    }
  g_autoptr (JsonObject) o = json_object_new ();
  json_object_set_string_member (o, "Id", c->id);
  json_object_set_array_member (o, "Warnings", json_array_new ());
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), o);
  berth_api_reply_json (msg, SOUP_STATUS_CREATED, node);
}

/* ---- GET /containers/ID/json ---- */

void
berth_api_containers_inspect (BerthApi *api, SoupServerMessage *msg, const char *arg,
                              GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = NULL;
  g_autoptr (BerthContainer) c = open_container (api, msg, arg, &store);
  if (c == NULL)
    return;
  g_autoptr (JsonNode) node = berth_container_inspect (store, c, &error);
  if (node == NULL)
    {
      berth_api_reply_error (msg, error);
      return;
    }
  /* Docker's Name has a leading slash; berth inspect's never had. */
  JsonObject *o = berth_json_node_object (node);
  g_autofree char *slashed = g_strconcat ("/", c->name, NULL);
  json_object_set_string_member (o, "Name", slashed);
  berth_api_reply_json (msg, SOUP_STATUS_OK, node);
}

/* ---- the process side ---- */

void
berth_api_containers_start (BerthApi *api, SoupServerMessage *msg, const char *arg,
                            GHashTable *query)
{
  g_autoptr (BerthContainerState) s = NULL;
  g_autoptr (BerthContainer) c = lookup (api, msg, arg, &s);
  if (c == NULL)
    return;
  if (berth_container_state_is_live (s))
    {
      berth_api_reply_empty (msg, SOUP_STATUS_NOT_MODIFIED);
      return;
    }
  if (berth_api_attach_start (api, msg, c->id))
    return;
  const char *args[] = { "start", c->id, NULL };
  berth_api_run_berth (api, msg, args, NULL, NULL, NULL);
}

static char *
stop_timeout (GHashTable *query)
{
  const char *t = berth_api_query (query, "t");
  gint64 secs = 10;
  if (t && !g_ascii_string_to_signed (t, 10, 0, G_MAXINT, &secs, NULL))
    secs = 10;
  return g_strdup_printf ("%" G_GINT64_FORMAT, secs);
}

void
berth_api_containers_stop (BerthApi *api, SoupServerMessage *msg, const char *arg,
                           GHashTable *query)
{
  g_autoptr (BerthContainerState) s = NULL;
  g_autoptr (BerthContainer) c = lookup (api, msg, arg, &s);
  if (c == NULL)
    return;
  if (!berth_container_state_is_live (s))
    {
      berth_api_reply_empty (msg, SOUP_STATUS_NOT_MODIFIED);
      return;
    }
  g_autofree char *t = stop_timeout (query);
  const char *args[] = { "stop", "-t", t, c->id, NULL };
  berth_api_run_berth (api, msg, args, NULL, NULL, NULL);
}

/* Restart = stop (when it runs), then start: the start is run once the
 * stop's berth has ended. */
typedef struct {
  BerthApi *api;
  char *id;
} Restart;

static void
restart_free (gpointer data)
{
  Restart *r = data;
  g_free (r->id);
  g_free (r);
}

/* The start's run takes the message over, still paused. */
static gboolean
restart_stopped (SoupServerMessage *msg, const char *out, gpointer data)
{
  Restart *r = data;
  const char *args[] = { "start", r->id, NULL };
  berth_api_run_berth (r->api, msg, args, NULL, NULL, NULL);
  return FALSE;
}

void
berth_api_containers_restart (BerthApi *api, SoupServerMessage *msg, const char *arg,
                              GHashTable *query)
{
  g_autoptr (BerthContainerState) s = NULL;
  g_autoptr (BerthContainer) c = lookup (api, msg, arg, &s);
  if (c == NULL)
    return;
  if (!berth_container_state_is_live (s))
    {
      const char *start[] = { "start", c->id, NULL };
      berth_api_run_berth (api, msg, start, NULL, NULL, NULL);
      return;
    }
  g_autofree char *t = stop_timeout (query);
  Restart *r = g_new0 (Restart, 1);
  r->api = api;
  r->id = g_strdup (c->id);
  const char *args[] = { "stop", "-t", t, c->id, NULL };
  berth_api_run_berth (api, msg, args, restart_stopped, r, restart_free);
}

void
berth_api_containers_kill (BerthApi *api, SoupServerMessage *msg, const char *arg,
                           GHashTable *query)
{
  g_autoptr (BerthContainerState) s = NULL;
  g_autoptr (BerthContainer) c = lookup (api, msg, arg, &s);
  if (c == NULL)
    return;
  if (!berth_container_state_is_live (s))
    {
      berth_api_reply_message (msg, SOUP_STATUS_CONFLICT, "container %s is not running", arg);
      return;
    }
  const char *signal = berth_api_query (query, "signal");
  const char *args[] = { "kill", "-s", signal && *signal ? signal : "KILL", c->id, NULL };
  berth_api_run_berth (api, msg, args, NULL, NULL, NULL);
}

JsonNode *
berth_api_wait_result (int status, const char *error)
{
  g_autoptr (JsonObject) o = json_object_new ();
  json_object_set_int_member (o, "StatusCode", status);
  if (error)
    {
      JsonObject *e = json_object_new ();
      json_object_set_string_member (e, "Message", error);
      json_object_set_object_member (o, "Error", e);
    }
  else
    json_object_set_null_member (o, "Error");
  return json_node_init_object (json_node_alloc (), g_steal_pointer (&o));
}

static void
wait_finished (GObject *source, GAsyncResult *result, gpointer data)
{
  GSubprocess *proc = G_SUBPROCESS (source);
  SoupServerMessage *msg = data;
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;
  gint64 code = -1;
  g_autoptr (JsonNode) node = NULL;
  if (!g_subprocess_communicate_utf8_finish (proc, result, &out, &err, &error))
    node = berth_api_wait_result (-1, error->message);
  else if (!g_ascii_string_to_signed (g_strstrip (out), 10, G_MININT, G_MAXINT, &code, NULL))
    node = berth_api_wait_result (-1, *g_strstrip (err) ? err : "berth wait failed");
  else
    node = berth_api_wait_result (code, NULL);
  berth_api_end_late_json (msg, node);
  g_object_unref (proc);
}

/* condition=not-running (the default), next-exit and removed: a client
 * attached to a container not started yet is answered at the exit of the
 * start it attached to; otherwise when the process has exited, at once for
 * a container not running (docs/engine-api.md). The headers go at once:
 * clients wait for them before they start the container. */
void
berth_api_containers_wait (BerthApi *api, SoupServerMessage *msg, const char *arg,
                           GHashTable *query)
{
  g_autoptr (BerthContainer) c = lookup (api, msg, arg, NULL);
  if (c == NULL || berth_api_attach_wait (api, msg, c->id))
    return;
  const char *args[] = { "wait", c->id, NULL };
  g_autoptr (GError) error = NULL;
  GSubprocess *proc = berth_api_spawn (api, args, &error);
  if (proc == NULL)
    {
      berth_api_reply_error (msg, error);
      return;
    }
  berth_api_begin_late_json (msg);
  g_subprocess_communicate_utf8_async (proc, NULL, NULL, wait_finished, msg);
}

void
berth_api_containers_logs (BerthApi *api, SoupServerMessage *msg, const char *arg,
                           GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = NULL;
  g_autoptr (BerthContainer) c = open_container (api, msg, arg, &store);
  if (c == NULL)
    return;
  g_autoptr (JsonNode) spec = berth_container_spec (store, c, &error);
  if (spec == NULL)
    {
      berth_api_reply_error (msg, error);
      return;
    }
  gboolean tty = berth_json_bool (berth_json_object (berth_json_node_object (spec), "process"),
                                  "terminal", FALSE);
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_ptr_array_add (args, (char *) "logs");
  if (berth_api_query_bool (query, "follow"))
    g_ptr_array_add (args, (char *) "--follow");
  if (berth_api_query_bool (query, "timestamps"))
    g_ptr_array_add (args, (char *) "--timestamps");
  const char *with_value[][2] = { { "tail", "--tail" }, { "since", "--since" },
                                  { "until", "--until" } };
  for (guint i = 0; i < G_N_ELEMENTS (with_value); i++)
    {
      const char *v = berth_api_query (query, with_value[i][0]);
      /* since=0 and until=0 are Docker's "not given". */
      if (v && *v && strcmp (v, "0") != 0 && strcmp (v, "all") != 0)
        {
          g_ptr_array_add (args, (char *) with_value[i][1]);
          g_ptr_array_add (args, (char *) v);
        }
    }
  g_ptr_array_add (args, c->id);
  g_ptr_array_add (args, NULL);
  berth_api_stream_berth (api, msg, (const char *const *) args->pdata, tty);
}

void
berth_api_containers_remove (BerthApi *api, SoupServerMessage *msg, const char *arg,
                             GHashTable *query)
{
  g_autoptr (BerthContainerState) s = NULL;
  g_autoptr (BerthContainer) c = lookup (api, msg, arg, &s);
  if (c == NULL)
    return;
  gboolean force = berth_api_query_bool (query, "force");
  if (berth_container_state_is_live (s) && !force)
    {
      berth_api_reply_message (msg, SOUP_STATUS_CONFLICT, "container %s is running: stop it "
                               "before removing it, or force the removal", arg);
      return;
    }
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_ptr_array_add (args, (char *) "rm");
  if (force)
    g_ptr_array_add (args, (char *) "--force");
  if (berth_api_query_bool (query, "v"))
    g_ptr_array_add (args, (char *) "--volumes");
  g_ptr_array_add (args, c->id);
  g_ptr_array_add (args, NULL);
  berth_api_run_berth (api, msg, (const char *const *) args->pdata, NULL, NULL, NULL);
}
