/* The OCI runtime's container store (include/berth/oci.h). */
#include "config.h"
#include <berth/error.h>
#include <berth/family.h>
#include <berth/fsutil.h>
#include <berth/hooks.h>
#include <berth/json.h>
#include <berth/oci.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* runc's rule: the id names a directory, so nothing that could leave it. */
static gboolean
check_id (const char *id, GError **error)
{
  gboolean ok = id && *id && strlen (id) <= 1024 && strcmp (id, ".") != 0 && strcmp (id, "..") != 0;
  for (const char *p = id; ok && *p; p++)
    ok = g_ascii_isalnum (*p) || strchr ("_+-.", *p);
  return ok ? TRUE : berth_fail (error, BERTH_ERROR_INVALID,
                                 "container id '%s': use letters, digits, '_', '+', '-' and '.'",
                                 id ? id : "");
}

static JsonNode *
read_json (const char *path, const char *what, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonNode) root = berth_json_read (path, &local);
  if (root == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "%s %s", what, local->message), NULL;
  if (!JSON_NODE_HOLDS_OBJECT (root))
    return berth_fail (error, BERTH_ERROR_INVALID, "%s %s: not a JSON object", what, path), NULL;
  return g_steal_pointer (&root);
}

/* root.path, made absolute against the bundle as the spec says. */
static char *
rootfs_of (JsonNode *spec, const char *bundle, GError **error)
{
  const char *path = berth_json_string (berth_json_object (berth_json_node_object (spec), "root"), "path", NULL);
  if (path == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "bundle %s: config.json has no root.path", bundle), NULL;
  g_autofree char *full = g_path_is_absolute (path) ? g_strdup (path) : g_build_filename (bundle, path, NULL);
  if (!g_file_test (full, G_FILE_TEST_IS_DIR))
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "bundle %s: root.path %s is not a directory", bundle, full), NULL;
  return g_steal_pointer (&full);
}

static BerthExec *
exec_handle (const char *dir, const char *id, const char *bundle, const char *rootfs,
             JsonNode *spec, GError **error)
{
  const BerthExecOps *ops = berth_exec_family_for (BERTH_EXEC_BUNDLES)->ops;
  g_autofree char *state_dir = g_build_filename (dir, "exec", NULL);
  if (!berth_mkdir_p (state_dir, 0700, error))
    return NULL;
  BerthExec *c = berth_exec_new (ops, id, state_dir, rootfs, spec);
  c->bundle = g_strdup (bundle);
  return c;
}

static gboolean
save_record (const char *dir, const char *bundle, const char *rootfs, GError **error)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *created = g_date_time_format_iso8601 (now);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  const char *fields[][2] = { { "bundle", bundle }, { "rootfs", rootfs }, { "created", created } };
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      json_builder_set_member_name (b, fields[i][0]);
      json_builder_add_string_value (b, fields[i][1]);
    }
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  g_autofree char *path = g_build_filename (dir, "oci.json", NULL);
  return berth_json_write (path, node, error);
}

JsonNode *
berth_oci_read_bundle (const char *bundle, GError **error)
{
  g_autofree char *config = g_build_filename (bundle, "config.json", NULL);
  return read_json (config, "bundle config", error);
}

BerthExec *
berth_oci_create (const char *root, const char *id, const char *bundle_arg, JsonNode *spec,
                  const BerthExecStdio *stdio, GError **error)
{
  if (!check_id (id, error))
    return NULL;
  const char *version = berth_json_string (berth_json_node_object (spec), "ociVersion", NULL);
  if (version && !g_str_has_prefix (version, "1."))
    return berth_fail (error, BERTH_ERROR_INVALID, "ociVersion %s: berth-runc runs specs of version 1.x",
                       version), NULL;
  g_autofree char *bundle = g_canonicalize_filename (bundle_arg, NULL);
  g_autofree char *rootfs = rootfs_of (spec, bundle, error);
  if (rootfs == NULL)
    return NULL;
  g_autofree char *dir = g_build_filename (root, id, NULL);
  if (!berth_mkdir_p (root, 0700, error))
    return NULL;
  if (mkdir (dir, 0700) < 0)
    return errno == EEXIST ? (berth_fail (error, BERTH_ERROR_EXISTS, "container %s exists", id), NULL)
                           : (berth_fail_errno (error, errno, "mkdir %s", dir), NULL);
  g_autofree char *copy = g_build_filename (dir, "config.json", NULL);
  g_autoptr (BerthExec) c = NULL;
  /* Read back at once: every later command (delete too) reads this copy,
   * so a value that does not survive the round trip is refused now. */
  g_autoptr (JsonNode) stored = NULL;
  if (berth_json_write (copy, spec, error)
      && (stored = read_json (copy, "stored container config", error)) != NULL
      && save_record (dir, bundle, rootfs, error)
      && (c = exec_handle (dir, id, bundle, rootfs, spec, error)) != NULL
      && berth_exec_create (c, stdio, error))
    return g_steal_pointer (&c);
  berth_rm_rf (dir, NULL);
  return NULL;
}

BerthExec *
berth_oci_open (const char *root, const char *id, GError **error)
{
  if (!check_id (id, error))
    return NULL;
  g_autofree char *dir = g_build_filename (root, id, NULL);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "container %s does not exist", id), NULL;
  g_autofree char *config = g_build_filename (dir, "config.json", NULL);
  g_autofree char *record_path = g_build_filename (dir, "oci.json", NULL);
  g_autoptr (JsonNode) spec = read_json (config, "container config", error);
  g_autoptr (JsonNode) record = spec ? read_json (record_path, "container record", error) : NULL;
  if (record == NULL)
    return NULL;
  JsonObject *r = berth_json_node_object (record);
  g_autoptr (BerthExec) c = exec_handle (dir, id, berth_json_string (r, "bundle", ""),
                                         berth_json_string (r, "rootfs", ""), spec, error);
  if (c == NULL)
    return NULL;
  /* No driver state yet: a create is still under way (its hooks, say).
   * The handle stays pid 0, which state reports as "creating". */
  g_autoptr (GError) local = NULL;
  if (!berth_exec_load (c, &local) && !g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  return g_steal_pointer (&c);
}

JsonNode *
berth_oci_state (const char *root, BerthExec *c, GError **error)
{
  BerthExecStatus status = BERTH_EXEC_STOPPED;
  if (c->pid > 0 && !berth_exec_state (c, &status, error))
    return NULL;
  g_autofree char *record_path = g_build_filename (root, c->id, "oci.json", NULL);
  g_autoptr (JsonNode) record = read_json (record_path, "container record", error);
  if (record == NULL)
    return NULL;
  JsonObject *annotations = berth_json_object (berth_json_node_object (c->spec), "annotations");
  JsonNode *state = berth_hook_state (c->id, c->pid > 0 ? berth_exec_status_name (status) : "creating",
                                      status == BERTH_EXEC_STOPPED ? 0 : c->pid, c->bundle,
                                      annotations);
  /* runc's addition, for `list`: when the container was made. */
  json_object_set_string_member (berth_json_node_object (state), "created",
                                 berth_json_string (berth_json_node_object (record), "created", ""));
  return state;
}

/* After SIGKILL: the first process is gone once the driver says stopped. */
static gboolean
wait_stopped (BerthExec *c, GError **error)
{
  for (int waited = 0; waited < 10000; waited += 10)
    {
      BerthExecStatus status;
      if (!berth_exec_state (c, &status, error))
        return FALSE;
      if (status == BERTH_EXEC_STOPPED)
        return TRUE;
      g_usleep (10000);
    }
  return berth_fail (error, BERTH_ERROR_BUSY, "container %s: still running 10 s after SIGKILL", c->id);
}

gboolean
berth_oci_delete (const char *root, BerthExec *c, gboolean force, GError **error)
{
  g_autofree char *dir = g_build_filename (root, c->id, NULL);
  /* A create that never finished (killed midway) is only removed by force:
   * one still under way owns the directory. */
  if (c->pid == 0 && !force)
    return berth_fail (error, BERTH_ERROR_BUSY,
                       "container %s is being created: wait, or delete --force", c->id);
  /* What such a create made: its cgroup (and whatever runs in it). */
  if (c->pid == 0)
    return berth_exec_delete (c, error) && berth_rm_rf (dir, error);
  BerthExecStatus status;
  if (!berth_exec_state (c, &status, error))
    return FALSE;
  if ((status == BERTH_EXEC_RUNNING || status == BERTH_EXEC_PAUSED) && !force)
    return berth_fail (error, BERTH_ERROR_BUSY,
                       "container %s is %s: kill it first, or delete --force", c->id,
                       berth_exec_status_name (status));
  /* A frozen process does not act on SIGKILL until it is thawed (cgroup
   * v1's freezer): runc thaws after signalling, and so does this. */
  if (status != BERTH_EXEC_STOPPED
      && (!berth_exec_kill (c, SIGKILL, TRUE, error)
          || (status == BERTH_EXEC_PAUSED && !berth_exec_unpause (c, error))
          || !wait_stopped (c, error)))
    return FALSE;
  if (!berth_exec_delete (c, error))
    return FALSE;
  return berth_rm_rf (dir, error);
}

GPtrArray *
berth_oci_list (const char *root, GError **error)
{
  GPtrArray *ids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) local = NULL;
  g_autoptr (GDir) dir = g_dir_open (root, 0, &local);
  if (dir == NULL && !g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      g_ptr_array_unref (ids);
      return berth_fail (error, BERTH_ERROR_FAILED, "%s", local->message), NULL;
    }
  const char *name;
  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree char *record = g_build_filename (root, name, "oci.json", NULL);
      if (g_file_test (record, G_FILE_TEST_EXISTS))
        g_ptr_array_add (ids, g_strdup (name));
    }
  g_ptr_array_sort (ids, berth_compare_string_slots);
  return ids;
}

/* Members of @from over @into, objects merged member by member. */
static void
merge_objects (JsonObject *into, JsonObject *from)
{
  g_autoptr (GList) names = json_object_get_members (from);
  for (GList *n = names; n; n = n->next)
    {
      JsonNode *value = json_object_get_member (from, n->data);
      JsonObject *old = berth_json_object (into, n->data);
      if (old && JSON_NODE_HOLDS_OBJECT (value))
        merge_objects (old, json_node_get_object (value));
      else
        json_object_set_member (into, n->data, json_node_copy (value));
    }
}

gboolean
berth_oci_update (const char *root, BerthExec *c, JsonObject *resources, GError **error)
{
  if (!berth_exec_update (c, resources, error))
    return FALSE;
  JsonObject *linux_ = berth_json_object (berth_json_node_object (c->spec), "linux");
  if (linux_ == NULL)
    return TRUE;
  JsonObject *old = berth_json_object (linux_, "resources");
  if (old)
    merge_objects (old, resources);
  else
    json_object_set_object_member (linux_, "resources", json_object_ref (resources));
  g_autofree char *copy = g_build_filename (root, c->id, "config.json", NULL);
  return berth_json_write (copy, c->spec, error);
}

JsonNode *
berth_oci_features (GError **error)
{
  const BerthExecOps *ops = berth_exec_family_for (BERTH_EXEC_BUNDLES)->ops;
  g_autoptr (JsonObject) f = json_object_new ();
  json_object_set_string_member (f, "ociVersionMin", "1.0.0");
  json_object_set_string_member (f, "ociVersionMax", BERTH_OCI_VERSION);
  const char *hooks[] = { "prestart", "createRuntime", "createContainer", "startContainer",
                          "poststart", "poststop", NULL };
  json_object_set_member (f, "hooks", berth_json_strv_node ((char **) hooks));
  if (ops->features)
    ops->features (f);
  return json_node_init_object (json_node_alloc (), f);
}
