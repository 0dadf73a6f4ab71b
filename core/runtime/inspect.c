/* Docker's inspect documents for a container and an image, shared by
 * `berth inspect` and `berth serve`'s GET /containers/ID/json and
 * /images/NAME/json, so the two never disagree. */
#include "config.h"
#include <berth/error.h>
#include <berth/json.h>
#include <berth/runtime.h>
#include <string.h>

static void
add_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
add_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value ? value : "");
}

static void
add_bool (JsonBuilder *b, const char *name, gboolean value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, value);
}

/* @member of @from, copied; null when it is absent. */
static void
add_copy (JsonBuilder *b, const char *name, JsonObject *from, const char *member)
{
  JsonNode *node = from ? json_object_get_member (from, member) : NULL;
  json_builder_set_member_name (b, name);
  json_builder_add_value (b, node ? json_node_copy (node) : json_node_new (JSON_NODE_NULL));
}

gboolean
berth_container_state_is_live (const BerthContainerState *s)
{
  return g_strcmp0 (s->status, "running") == 0 || g_strcmp0 (s->status, "paused") == 0
         || g_strcmp0 (s->status, "starting") == 0;
}

/* "Up", "Exited (N)", "Created", as docker ps shows them, and "Starting". */
char *
berth_container_status_text (const BerthContainerState *s)
{
  if (g_strcmp0 (s->status, "running") == 0)
    return g_strdup ("Up");
  if (g_strcmp0 (s->status, "paused") == 0)
    return g_strdup ("Up (Paused)");
  /* Its monitor lives, the program's pid is not known yet. */
  if (g_strcmp0 (s->status, "starting") == 0)
    return g_strdup ("Starting");
  if (g_strcmp0 (s->status, "exited") == 0)
    return g_strdup_printf ("Exited (%d)", s->exit_code);
  if (g_strcmp0 (s->status, "restarting") == 0)
    return g_strdup_printf ("Restarting (%d)", s->exit_code);
  return g_strdup ("Created");
}

static void
add_state (JsonBuilder *b, BerthContainerState *s)
{
  json_builder_set_member_name (b, "State");
  json_builder_begin_object (b);
  add_string (b, "Status", s->status);
  add_bool (b, "Running", berth_container_state_is_live (s));
  add_bool (b, "Paused", g_strcmp0 (s->status, "paused") == 0);
  add_bool (b, "Restarting", g_strcmp0 (s->status, "restarting") == 0);
  add_int (b, "Pid", s->pid);
  add_int (b, "MonitorPid", s->monitor_pid);
  add_int (b, "ExitCode", s->exit_code);
  add_bool (b, "OOMKilled", s->oom_killed);
  add_bool (b, "Dead", FALSE);
  add_string (b, "Error", s->error);
  add_string (b, "StartedAt", s->started_at);
  add_string (b, "FinishedAt", s->finished_at);
  json_builder_end_object (b);
}

/* The limits as Docker's HostConfig names them, read back from config.json. */
static void
add_host_config (JsonBuilder *b, BerthContainer *c, BerthContainerState *s, JsonObject *spec)
{
  JsonObject *res = berth_json_object (berth_json_object (spec, "linux"), "resources");
  JsonObject *mem = berth_json_object (res, "memory");
  JsonObject *cpu = berth_json_object (res, "cpu");
  gint64 quota = berth_json_int (cpu, "quota", 0), period = berth_json_int (cpu, "period", 100000);
  json_builder_set_member_name (b, "HostConfig");
  json_builder_begin_object (b);
  add_int (b, "Memory", berth_json_int (mem, "limit", 0));
  add_int (b, "MemorySwap", berth_json_int (mem, "swap", 0));
  add_int (b, "NanoCpus", period ? quota * 1000000000 / period : 0);
  add_int (b, "CpuShares", berth_json_int (cpu, "shares", 0));
  add_string (b, "CpusetCpus", berth_json_string (cpu, "cpus", ""));
  add_int (b, "PidsLimit", berth_json_int (berth_json_object (res, "pids"), "limit", 0));
  add_int (b, "BlkioWeight", berth_json_int (berth_json_object (res, "blockIO"), "weight", 0));
  add_bool (b, "ReadonlyRootfs", berth_json_bool (berth_json_object (spec, "root"), "readonly", FALSE));
  add_bool (b, "AutoRemove", c->auto_remove || s->auto_remove);
  /* The monitor's log is json-file's: one JSON record a line. */
  json_builder_set_member_name (b, "LogConfig");
  json_builder_begin_object (b);
  add_string (b, "Type", "json-file");
  json_builder_set_member_name (b, "Config");
  json_builder_begin_object (b);
  json_builder_end_object (b);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "RestartPolicy");
  json_builder_begin_object (b);
  add_string (b, "Name", c->restart_policy);
  add_int (b, "MaximumRetryCount", c->restart_max);
  json_builder_end_object (b);
  json_builder_end_object (b);
}

/* Docker's Config: what the container runs, as its config.json says. */
static void
add_config (JsonBuilder *b, BerthContainer *c, JsonObject *spec)
{
  JsonObject *process = berth_json_object (spec, "process");
  json_builder_set_member_name (b, "Config");
  json_builder_begin_object (b);
  add_string (b, "Hostname", berth_json_string (spec, "hostname", ""));
  /* The uid and gid the process runs as: the name given to --user is not kept. */
  JsonObject *user = berth_json_object (process, "user");
  gint64 uid = berth_json_int (user, "uid", 0), gid = berth_json_int (user, "gid", 0);
  g_autofree char *user_text = uid || gid ? g_strdup_printf ("%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT,
                                                             uid, gid) : g_strdup ("");
  add_string (b, "User", user_text);
  add_bool (b, "Tty", berth_json_bool (process, "terminal", FALSE));
  add_copy (b, "Env", process, "env");
  json_builder_set_member_name (b, "Cmd");
  json_builder_add_value (b, berth_json_strv_node (c->cmd));
  add_string (b, "Image", c->image_ref);
  add_string (b, "WorkingDir", berth_json_string (process, "cwd", "/"));
  json_builder_set_member_name (b, "Labels");
  json_builder_add_value (b, berth_json_labels_node (c->labels));
  json_builder_end_object (b);
}

JsonNode *
berth_container_inspect (BerthStore *store, BerthContainer *c, GError **error)
{
  g_autoptr (BerthContainerState) s = berth_container_state (store, c, error);
  if (s == NULL)
    return NULL;
  g_autoptr (JsonNode) spec = berth_container_spec (store, c, error);
  if (spec == NULL)
    return NULL;
  JsonObject *so = berth_json_node_object (spec);
  JsonObject *process = berth_json_object (so, "process");
  JsonArray *args = berth_json_array (process, "args");
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_string (b, "Id", c->id);
  add_string (b, "Name", c->name);
  add_string (b, "Created", c->created);
  add_string (b, "Path", args && json_array_get_length (args) > 0
                             ? json_array_get_string_element (args, 0) : "");
  /* berth's Args has always held the whole command, Path included. */
  add_copy (b, "Args", process, "args");
  add_string (b, "Image", c->image_id);
  add_string (b, "ImageRef", c->image_ref);
  add_string (b, "Driver", c->driver);
  add_string (b, "ExecDriver", c->exec_driver);
  add_string (b, "Rootfs", s->rootfs);
  add_state (b, s);
  add_int (b, "RestartCount", s->restart_count);
  add_config (b, c, so);
  add_host_config (b, c, s, so);
  json_builder_set_member_name (b, "NetworkSettings");
  json_builder_add_value (b, berth_container_network_settings (store, c));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

JsonNode *
berth_image_inspect (BerthStore *store, const char *ref, GError **error)
{
  g_autoptr (BerthImage) image = berth_image_lookup (store, ref, error);
  if (image == NULL)
    return NULL;
  JsonObject *config = berth_json_node_object (image->config);
  g_autoptr (JsonObject) o = json_object_new ();
  g_autofree char *id = g_strconcat ("sha256:", image->id, NULL);
  json_object_set_string_member (o, "Id", id);
  JsonArray *tags = json_array_new ();
  for (guint i = 0; i < image->tags->len; i++)
    json_array_add_string_element (tags, image->tags->pdata[i]);
  json_object_set_array_member (o, "RepoTags", tags);
  g_auto (GStrv) digests = berth_origin_repo_digests (store, image->id);
  json_object_set_member (o, "RepoDigests", berth_json_strv_node (digests));
  const char *strings[][2] = { { "Created", "created" }, { "Architecture", "architecture" },
                               { "Os", "os" } };
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    json_object_set_string_member (o, strings[i][0], berth_json_string (config, strings[i][1], ""));
  gint64 size = berth_image_size (store, image);
  json_object_set_int_member (o, "Size", size);
  json_object_set_int_member (o, "VirtualSize", size);
  const char *objects[][2] = { { "Config", "config" }, { "RootFS", "rootfs" } };
  for (guint i = 0; i < G_N_ELEMENTS (objects); i++)
    {
      JsonObject *member = berth_json_object (config, objects[i][1]);
      json_object_set_member (o, objects[i][0],
                              member ? json_node_init_object (json_node_alloc (), member)
                                     : json_node_new (JSON_NODE_NULL));
    }
  return json_node_init_object (json_node_alloc (), o);
}

JsonNode *
berth_volume_inspect (const BerthVolume *v)
{
  g_autoptr (JsonObject) o = json_object_new ();
  json_object_set_string_member (o, "CreatedAt", v->created);
  json_object_set_string_member (o, "Driver", "local");
  json_object_set_null_member (o, "Labels");
  json_object_set_string_member (o, "Mountpoint", v->mountpoint);
  json_object_set_string_member (o, "Name", v->name);
  json_object_set_null_member (o, "Options");
  json_object_set_string_member (o, "Scope", "local");
  json_object_set_boolean_member (o, "Anonymous", v->anonymous);
  return json_node_init_object (json_node_alloc (), g_steal_pointer (&o));
}
