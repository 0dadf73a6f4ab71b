/* update: new limits for a running container's cgroup, from a runtime-spec
 * linux.resources object (--resources FILE, or - for stdin as
 * containerd's shim passes it) and the command line's own flags. */
#include "config.h"
#include "runc.h"
#include <berth/error.h>
#include <berth/json.h>
#include <berth/oci.h>
#include <berth/spec.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  char *resources, *memory, *memory_swap, *cpus, *mems;
  gint64 pids, shares, quota, period;
} UpdateOptions;

static void
update_options_clear (UpdateOptions *o)
{
  g_free (o->resources);
  g_free (o->memory);
  g_free (o->memory_swap);
  g_free (o->cpus);
  g_free (o->mems);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (UpdateOptions, update_options_clear)

static JsonObject *
read_resources (const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonNode) root = strcmp (path, "-") == 0
                                  ? berth_json_read_fd (STDIN_FILENO, "stdin", &local)
                                  : berth_json_read (path, &local);
  if (root == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "--resources %s", local->message), NULL;
  if (!JSON_NODE_HOLDS_OBJECT (root))
    return berth_fail (error, BERTH_ERROR_INVALID, "--resources %s: not a JSON object", path), NULL;
  return json_object_ref (json_node_get_object (root));
}

static JsonObject *
section (JsonObject *res, const char *name)
{
  JsonObject *s = berth_json_object (res, name);
  if (s == NULL)
    {
      s = json_object_new ();
      json_object_set_object_member (res, name, s);
    }
  return s;
}

/* memory.@member from @text, a flag's size; nothing when not given. */
static gboolean
set_size (JsonObject *res, const char *member, const char *text, const char *flag, GError **error)
{
  gint64 bytes;
  if (text == NULL)
    return TRUE;
  if (!berth_parse_size (text, flag, &bytes, error))
    return FALSE;
  json_object_set_int_member (section (res, "memory"), member, bytes);
  return TRUE;
}

/* The flags over the file's object; -1 (the flags' default) is "not given". */
static gboolean
apply_flags (JsonObject *res, UpdateOptions *o, GError **error)
{
  if (!set_size (res, "limit", o->memory, "--memory", error)
      || !set_size (res, "swap", o->memory_swap, "--memory-swap", error))
    return FALSE;
  if (o->pids >= 0)
    json_object_set_int_member (section (res, "pids"), "limit", o->pids);
  const struct { const char *member; gint64 value; } cpu_ints[] = {
    { "shares", o->shares }, { "quota", o->quota }, { "period", o->period },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cpu_ints); i++)
    if (cpu_ints[i].value >= 0)
      json_object_set_int_member (section (res, "cpu"), cpu_ints[i].member, cpu_ints[i].value);
  if (o->cpus)
    json_object_set_string_member (section (res, "cpu"), "cpus", o->cpus);
  if (o->mems)
    json_object_set_string_member (section (res, "cpu"), "mems", o->mems);
  return TRUE;
}

int
berth_runc_update (BerthRunc *r, int argc, char **argv)
{
  g_auto (UpdateOptions) o = { .pids = -1, .shares = -1, .quota = -1, .period = -1 };
  const GOptionEntry entries[] = {
    { "resources", 'r', 0, G_OPTION_ARG_FILENAME, &o.resources,
      "linux.resources JSON (- for stdin)", "FILE" },
    { "memory", 'm', 0, G_OPTION_ARG_STRING, &o.memory, "Memory limit (bytes, k, m, g)", "SIZE" },
    { "memory-swap", 0, 0, G_OPTION_ARG_STRING, &o.memory_swap, "Memory plus swap limit", "SIZE" },
    { "pids-limit", 0, 0, G_OPTION_ARG_INT64, &o.pids, "Most processes", "N" },
    { "cpu-shares", 0, 0, G_OPTION_ARG_INT64, &o.shares, "CPU shares (v1) or weight", "N" },
    { "cpu-quota", 0, 0, G_OPTION_ARG_INT64, &o.quota, "CPU time per period (us)", "US" },
    { "cpu-period", 0, 0, G_OPTION_ARG_INT64, &o.period, "CPU period (us)", "US" },
    { "cpuset-cpus", 0, 0, G_OPTION_ARG_STRING, &o.cpus, "CPUs allowed (0-3,5)", "LIST" },
    { "cpuset-mems", 0, 0, G_OPTION_ARG_STRING, &o.mems, "Memory nodes allowed", "LIST" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_runc_parse (r, &argc, &argv, entries, "ID", FALSE))
    return 2;
  if (argc != 2)
    return berth_runc_usage (r, "update needs one container id");
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) res = o.resources ? read_resources (o.resources, &error) : json_object_new ();
  if (res == NULL || !apply_flags (res, &o, &error))
    return berth_runc_fail (r, error);
  g_autoptr (BerthExec) c = berth_oci_open (r->root, argv[1], &error);
  if (c == NULL || !berth_oci_update (r->root, c, res, &error))
    return berth_runc_fail (r, error);
  return 0;
}
