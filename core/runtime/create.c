/* A container's birth and end as the runtime sees them: create is the
 * store's record plus the OCI config built from the image; remove is a
 * stop (if it runs) plus the record's removal. */
#include "config.h"
#include "runtime-internal.h"
#include <berth/error.h>
#include <berth/family.h>
#include <berth/fsutil.h>
#include <berth/spec.h>
#include <stdlib.h>
#include <string.h>

/* A user or group given by name is looked up in the image's /etc/passwd,
 * which needs the image mounted; so is a uid without a group, whose
 * group is its passwd entry's (Docker's -u 65534 runs as 65534:65534
 * where passwd says so). Only UID:GID needs nothing of the image. */
static gboolean
needs_name_lookup (const char *user)
{
  if (user && *user && strchr (user, ':') == NULL)
    return TRUE;
  for (const char *p = user; p && *p; p++)
    if (!g_ascii_isdigit (*p) && *p != ':')
      return TRUE;
  return FALSE;
}

static JsonNode *
build_spec (BerthStore *store, BerthImage *image, BerthContainer *c,
            const BerthSpecOptions *options, GError **error)
{
  JsonObject *cfg = berth_json_object (berth_json_node_object (image->config), "config");
  const char *user = options->user ? options->user : berth_json_string (cfg, "User", NULL);
  if (!needs_name_lookup (user))
    return berth_spec_build (c->id, image->config, NULL, options, error);
  BerthStorage *storage = berth_store_driver (store, c->driver, error);
  if (storage == NULL)
    return NULL;
  g_autofree char *rootfs = berth_storage_get_transient (storage, c->id, error);
  if (rootfs == NULL)
    return NULL;
  JsonNode *spec = berth_spec_build (c->id, image->config, rootfs, options, error);
  if (!berth_storage_put_transient (storage, c->id, spec ? error : NULL) && spec)
    g_clear_pointer (&spec, json_node_unref);
  return spec;
}

/* A network named by --network must be there when the container is made,
 * as Docker checks (the default one is made when a container starts on
 * it); container:NAME is kept as the container's id, which a rename or a
 * reused name cannot change. NULL with @error, else the --network to use. */
static char *
resolve_network (BerthStore *store, const BerthSpecOptions *options, GError **error)
{
  const char *name = options ? options->network : NULL;
  if (name && g_str_has_prefix (name, "container:"))
    {
      g_autoptr (BerthContainer) other = berth_container_lookup (store, name + 10, error);
      return other ? g_strconcat ("container:", other->id, NULL) : NULL;
    }
  if (name && strcmp (name, "none") != 0 && strcmp (name, "host") != 0
      && strcmp (name, BERTH_DEFAULT_NETWORK) != 0 && berth_validate_name (name, NULL))
    {
      g_autoptr (BerthNetwork) net = berth_store_network (store, name, error);
      if (net == NULL)
        return NULL;
    }
  return g_strdup (name ? name : "");
}

/* Docker's --init: its docker-init, which Debian's docker.io links to
 * tini-static (a static binary, so any image can run it). */
static char *
find_init (GError **error)
{
  static const char *const candidates[] = { "/usr/bin/docker-init",
                                            "/usr/libexec/docker/docker-init",
                                            "/usr/bin/tini-static" };
  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      char *real = realpath (candidates[i], NULL);
      if (real && g_file_test (real, G_FILE_TEST_IS_EXECUTABLE))
        return real;
      free (real);
    }
  return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "--init: no init on this host "
                     "(/usr/bin/docker-init or /usr/bin/tini-static; apt-get install tini)"),
         NULL;
}

static char **
add_init_volume (char **volumes, const char *init_path)
{
  g_autoptr (GStrvBuilder) out = g_strv_builder_new ();
  g_strv_builder_addv (out, (const char **) (volumes ? volumes : (char *[]) { NULL }));
  g_autofree char *bind = g_strconcat (init_path, ":" BERTH_INIT_DESTINATION ":ro", NULL);
  g_strv_builder_add (out, bind);
  return g_strv_builder_end (out);
}

/* Docker's: the image's Labels, then each --label KEY[=VALUE] over them
 * (a later one over an earlier one). */
/* Docker refuses the two together: a container removed at its exit is not
 * there to restart. */
static gboolean
refuse_restart_and_remove (BerthContainer *c, GError **error)
{
  if (c->auto_remove && g_strcmp0 (c->restart_policy, "no") != 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "restart policy %s and auto-remove (--rm) "
                       "conflict: a container removed at its exit cannot be restarted",
                       c->restart_policy);
  return TRUE;
}

static gboolean
set_labels (BerthContainer *c, BerthImage *image, char **labels, GError **error)
{
  JsonObject *config = berth_json_object (berth_json_node_object (image->config), "config");
  g_auto (GStrv) from_image = berth_json_labels (berth_json_object (config, "Labels"));
  g_autoptr (GHashTable) by_key = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  char **lists[] = { from_image, labels };
  for (guint l = 0; l < G_N_ELEMENTS (lists); l++)
    for (char **p = lists[l]; p && *p; p++)
      {
        const char *eq = strchr (*p, '=');
        g_autofree char *key = eq ? g_strndup (*p, eq - *p) : g_strdup (*p);
        if (key[0] == '\0' || strpbrk (key, " \t\n") != NULL)
          return berth_fail (error, BERTH_ERROR_INVALID, "--label '%s': a label is KEY[=VALUE], "
                             "the key not empty and without white space", *p);
        g_hash_table_replace (by_key, g_steal_pointer (&key),
                              eq ? g_strdup (*p) : g_strconcat (*p, "=", NULL));
      }
  g_autoptr (GPtrArray) merged = g_ptr_array_new ();
  GHashTableIter it;
  gpointer value;
  g_hash_table_iter_init (&it, by_key);
  while (g_hash_table_iter_next (&it, NULL, &value))
    g_ptr_array_add (merged, g_strdup (value));
  g_ptr_array_sort (merged, berth_compare_string_slots);
  g_ptr_array_add (merged, NULL);
  g_strfreev (c->labels);
  c->labels = (char **) g_ptr_array_free (g_steal_pointer (&merged), FALSE);
  return TRUE;
}

BerthContainer *
berth_container_create (BerthStore *store, const char *image_ref, const char *name,
                        const char *driver, const char *exec_driver,
                        const BerthSpecOptions *options, GError **error)
{
  if (exec_driver == NULL)
    exec_driver = berth_exec_family_for (BERTH_EXEC_DEFAULT)->name;
  if (berth_exec_driver_lookup (exec_driver, error) == NULL)
    return NULL;
  g_autofree char *network = resolve_network (store, options, error);
  if (network == NULL)
    return NULL;
  g_autoptr (BerthImage) image = NULL;
  g_autoptr (BerthContainer) c =
      berth_container_record_begin (store, image_ref, name, driver, exec_driver,
                                    options ? options->log_opts : NULL,
                                    options ? options->cmd : NULL, &image, error);
  if (c == NULL)
    return NULL;
  c->auto_remove = options && options->auto_remove;
  if (!berth_restart_policy_parse (options ? options->restart : NULL, c, error)
      || !refuse_restart_and_remove (c, error)
      || !set_labels (c, image, options ? options->labels : NULL, error))
    {
      berth_container_record_abort (store, c);
      return NULL;
    }
  BerthSpecOptions with_etc = options ? *options : (BerthSpecOptions){ 0 };
  g_autofree char *etc_dir = berth_container_dir (store, c, NULL);
  with_etc.etc_dir = etc_dir;
  with_etc.network = *network ? network : NULL;
  /* Volumes this create made go again if it fails: the store as it was. */
  g_autoptr (GPtrArray) made = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) volumes = NULL;
  g_auto (GStrv) inherited = NULL;
  g_auto (GStrv) with_volumes = NULL;
  g_autofree char *init_path = NULL;
  g_autoptr (JsonNode) spec = NULL;
  if (with_etc.init)
    {
      if (!(init_path = find_init (error)))
        goto fail;
      with_volumes = add_init_volume (with_etc.volumes, init_path);
      with_etc.volumes = with_volumes;
      with_etc.init_path = init_path;
    }
  if (with_etc.volumes_from)
    {
      inherited = berth_container_volumes_from (store, with_etc.volumes, with_etc.volumes_from,
                                                error);
      if (inherited == NULL)
        goto fail;
      with_etc.volumes = inherited;
    }
  if (with_etc.volumes
      && !(volumes = berth_container_resolve_volumes (store, c, with_etc.volumes, made, error)))
    goto fail;
  if (volumes)
    with_etc.volumes = volumes;
  spec = build_spec (store, image, c, &with_etc, error);
  if (spec == NULL || !berth_container_write_etc (store, c, spec, NULL, error)
      || !berth_container_record_commit (store, c, spec, error))
    goto fail;
  berth_container_event (store, c, "create", NULL);
  return g_steal_pointer (&c);
fail:
  berth_container_record_abort (store, c);
  berth_container_drop_volumes (store, made);
  return NULL;
}

gboolean
berth_container_rename (BerthStore *store, BerthContainer *c, const char *name, GError **error)
{
  g_autofree char *old_name = g_strconcat ("oldName=", c->name, NULL);
  if (!berth_container_record_rename (store, c, name, error))
    return FALSE;
  berth_container_event (store, c, "rename", old_name);
  berth_container_network_names_changed (store, c);
  return TRUE;
}

static gboolean
remove_container (BerthStore *store, const char *ref, gboolean force, gboolean volumes,
                  GError **error)
{
  g_autoptr (BerthContainer) c = berth_container_lookup (store, ref, error);
  if (c == NULL)
    return FALSE;
  /* The store is marked changing only after the wait for the container to
   * stop, which lets go of the store. A monitor that removed its --rm
   * container meanwhile has done what was asked. */
  g_autoptr (GError) local = NULL;
  if (!berth_container_ensure_stopped (store, c, force, &local))
    {
      g_autofree char *meta = berth_container_dir (store, c, "container.json");
      if (g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND)
          && !g_file_test (meta, G_FILE_TEST_EXISTS))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  /* A start killed after its lease leaves one on a stopped container, or
   * a default network made for it alone. */
  if (!berth_container_network_release (store, c, error))
    return FALSE;
  berth_network_drop_idle_default (store, BERTH_DEFAULT_NETWORK, c->id);
  g_autoptr (GPtrArray) anonymous = volumes ? berth_container_anonymous_volumes (store, c) : NULL;
  if (!berth_container_record_remove (store, c, force, error))
    return FALSE;
  berth_container_event (store, c, "destroy", NULL);
  /* One another container mounts too (-v NAME) stays. */
  for (guint i = 0; anonymous && i < anonymous->len; i++)
    {
      g_autoptr (GError) gone = NULL;
      if (!berth_volume_remove (store, anonymous->pdata[i], &gone)
          && !g_error_matches (gone, BERTH_ERROR, BERTH_ERROR_BUSY))
        g_printerr ("berth: container %s: %s\n", c->name, gone->message);
    }
  return TRUE;
}

gboolean
berth_container_remove (BerthStore *store, const char *ref, gboolean force, GError **error)
{
  return remove_container (store, ref, force, FALSE, error);
}

gboolean
berth_container_remove_with_volumes (BerthStore *store, const char *ref, gboolean force,
                                     GError **error)
{
  return remove_container (store, ref, force, TRUE, error);
}
