/* Containers on the storage side: a writable layer on an image's top layer,
 * plus metadata in containers/<id>/container.json. */
#include "config.h"
#include "store-internal.h"
#include <berth/archive.h>
#include <berth/error.h>
#include <berth/family.h>
#include <berth/fsutil.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <string.h>
#include <unistd.h>

void
berth_container_free (BerthContainer *c)
{
  if (c == NULL)
    return;
  g_free (c->id);
  g_free (c->name);
  g_free (c->image_id);
  g_free (c->image_ref);
  g_free (c->driver);
  g_free (c->parent_layer);
  g_strfreev (c->cmd);
  g_free (c->created);
  g_free (c->exec_driver);
  g_free (c->restart_policy);
  g_strfreev (c->labels);
  g_free (c);
}

static char *
container_file (BerthStore *store, const char *id)
{
  return berth_store_path (store, "containers", id, "container.json", NULL);
}

static gboolean
container_save (BerthStore *store, BerthContainer *c, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "Id");
  json_builder_add_string_value (b, c->id);
  json_builder_set_member_name (b, "Name");
  json_builder_add_string_value (b, c->name);
  json_builder_set_member_name (b, "Image");
  json_builder_add_string_value (b, c->image_id);
  json_builder_set_member_name (b, "ImageRef");
  json_builder_add_string_value (b, c->image_ref);
  json_builder_set_member_name (b, "StorageDriver");
  json_builder_add_string_value (b, c->driver);
  json_builder_set_member_name (b, "ParentLayer");
  json_builder_add_string_value (b, c->parent_layer);
  json_builder_set_member_name (b, "Cmd");
  json_builder_add_value (b, berth_json_strv_node (c->cmd));
  json_builder_set_member_name (b, "Created");
  json_builder_add_string_value (b, c->created);
  json_builder_set_member_name (b, "ExecDriver");
  json_builder_add_string_value (b, c->exec_driver);
  json_builder_set_member_name (b, "LogConfig");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "MaxSize");
  json_builder_add_int_value (b, c->log_max_size);
  json_builder_set_member_name (b, "MaxFile");
  json_builder_add_int_value (b, c->log_max_file);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "Labels");
  json_builder_add_value (b, berth_json_labels_node (c->labels));
  json_builder_set_member_name (b, "AutoRemove");
  json_builder_add_boolean_value (b, c->auto_remove);
  json_builder_set_member_name (b, "RestartPolicy");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "Name");
  json_builder_add_string_value (b, c->restart_policy ? c->restart_policy : "no");
  json_builder_set_member_name (b, "MaximumRetryCount");
  json_builder_add_int_value (b, c->restart_max);
  json_builder_end_object (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  g_autofree char *path = container_file (store, c->id);
  return berth_json_write (path, node, error);
}

static BerthContainer *
container_read (BerthStore *store, const char *id, GError **error)
{
  g_autofree char *path = container_file (store, id);
  g_autoptr (JsonNode) node = berth_json_read (path, error);
  if (node == NULL)
    return NULL;
  JsonObject *o = berth_json_node_object (node);
  if (o == NULL)
    {
      berth_fail (error, BERTH_ERROR_FAILED, "%s: not a JSON object", path);
      return NULL;
    }
  g_autoptr (BerthContainer) c = g_new0 (BerthContainer, 1);
  c->id = g_strdup (id);
  c->name = g_strdup (json_object_get_string_member_with_default (o, "Name", ""));
  c->image_id = g_strdup (json_object_get_string_member_with_default (o, "Image", ""));
  c->image_ref = g_strdup (json_object_get_string_member_with_default (o, "ImageRef", ""));
  c->driver = g_strdup (json_object_get_string_member_with_default (o, "StorageDriver", ""));
  c->parent_layer = g_strdup (json_object_get_string_member_with_default (o, "ParentLayer", NULL));
  c->cmd = berth_json_strv (o, "Cmd");
  c->created = g_strdup (json_object_get_string_member_with_default (o, "Created", ""));
  /* A record from before ExecDriver was written ran on the default. */
  const char *old_default = berth_exec_family_for (BERTH_EXEC_DEFAULT)->name;
  c->exec_driver = g_strdup (berth_json_string (o, "ExecDriver", old_default));
  /* containers made before log rotation get the defaults */
  JsonObject *log = berth_json_object (o, "LogConfig");
  c->log_max_size = MAX (0, berth_json_int (log, "MaxSize", BERTH_LOG_MAX_SIZE_DEFAULT));
  c->log_max_file = CLAMP (berth_json_int (log, "MaxFile", BERTH_LOG_MAX_FILE_DEFAULT), 1,
                           G_MAXINT);
  c->labels = berth_json_labels (berth_json_object (o, "Labels"));
  JsonObject *restart = berth_json_object (o, "RestartPolicy");
  c->restart_policy = g_strdup (berth_json_string (restart, "Name", "no"));
  c->restart_max = CLAMP (berth_json_int (restart, "MaximumRetryCount", 0), 0, G_MAXINT);
  c->auto_remove = berth_json_bool (o, "AutoRemove", FALSE);
  return g_steal_pointer (&c);
}

static gboolean
parse_max_file (const char *opt, const char *value, guint *n, GError **error)
{
  guint64 v = 0;
  if (!g_ascii_string_to_unsigned (value, 10, 1, 10000, &v, NULL))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "--log-opt '%s': max-file is a count of files from 1 to 10000", opt);
  *n = (guint) v;
  return TRUE;
}

gboolean
berth_log_opts_parse (char **opts, BerthContainer *c, GError **error)
{
  c->log_max_size = BERTH_LOG_MAX_SIZE_DEFAULT;
  c->log_max_file = BERTH_LOG_MAX_FILE_DEFAULT;
  for (char **o = opts; o && *o; o++)
    {
      const char *eq = strchr (*o, '=');
      if (g_str_has_prefix (*o, "max-size=") && strcmp (eq + 1, "-1") == 0)
        c->log_max_size = 0;
      else if (g_str_has_prefix (*o, "max-size="))
        {
          if (!berth_parse_size (eq + 1, "--log-opt max-size", &c->log_max_size, error))
            return FALSE;
          if (c->log_max_size == 0)
            return berth_fail (error, BERTH_ERROR_INVALID,
                               "--log-opt '%s': max-size must be more than 0 (-1: no limit)", *o);
        }
      else if (g_str_has_prefix (*o, "max-file="))
        {
          if (!parse_max_file (*o, eq + 1, &c->log_max_file, error))
            return FALSE;
        }
      else
        return berth_fail (error, BERTH_ERROR_INVALID,
                           "--log-opt '%s': unknown (max-size=SIZE, max-file=N)", *o);
    }
  return TRUE;
}

gboolean
berth_restart_policy_parse (const char *policy, BerthContainer *c, GError **error)
{
  g_free (c->restart_policy);
  c->restart_policy = g_strdup ("no");
  c->restart_max = 0;
  if (policy == NULL || policy[0] == '\0')
    return TRUE;
  const char *colon = strchr (policy, ':');
  g_autofree char *name = colon ? g_strndup (policy, colon - policy) : g_strdup (policy);
  if (strcmp (name, "no") != 0 && strcmp (name, "always") != 0
      && strcmp (name, "unless-stopped") != 0 && strcmp (name, "on-failure") != 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "--restart '%s': unknown policy (no, always, "
                       "unless-stopped, on-failure[:N])", policy);
  if (colon && strcmp (name, "on-failure") != 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "--restart '%s': a maximum retry count is "
                       "only for on-failure", policy);
  guint64 max = 0;
  if (colon && !g_ascii_string_to_unsigned (colon + 1, 10, 0, G_MAXINT, &max, NULL))
    return berth_fail (error, BERTH_ERROR_INVALID, "--restart '%s': the maximum retry count "
                       "must be a number of 0 or more", policy);
  g_free (c->restart_policy);
  c->restart_policy = g_steal_pointer (&name);
  c->restart_max = (guint) max;
  return TRUE;
}

/* containers/<id>/: a directory named by the container's id. */
static char *
container_id_of (const char *name)
{
  return berth_is_hex_id (name) ? g_strdup (name) : NULL;
}

static GPtrArray *
container_ids (BerthStore *store, GError **error)
{
  return berth_store_list_ids (store, "containers", container_id_of, error);
}

GPtrArray *
berth_container_list (BerthStore *store, GError **error)
{
  g_autoptr (GPtrArray) ids = container_ids (store, error);
  if (ids == NULL)
    return NULL;
  g_autoptr (GPtrArray) list =
      g_ptr_array_new_with_free_func ((GDestroyNotify) berth_container_free);
  for (guint i = 0; i < ids->len; i++)
    {
      /* A directory without metadata is a create that died half-way. */
      g_autofree char *path = container_file (store, ids->pdata[i]);
      if (!g_file_test (path, G_FILE_TEST_EXISTS))
        continue;
      /* Removed since we looked (a reader holds no lock): not listed. */
      g_autoptr (GError) local = NULL;
      BerthContainer *c = container_read (store, ids->pdata[i], &local);
      if (c == NULL && g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
        continue;
      if (c == NULL)
        return g_propagate_error (error, g_steal_pointer (&local)), NULL;
      g_ptr_array_add (list, c);
    }
  return g_steal_pointer (&list);
}

int
berth_container_lock (BerthStore *store, const char *id, GError **error)
{
  g_autofree char *path = berth_store_path (store, "containers", id, "lock", NULL);
  int fd = open (path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT)
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "container %.12s is gone", id), -1;
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", path), -1;
  while (flock (fd, LOCK_EX) < 0)
    if (errno != EINTR)
      {
        berth_fail_errno (error, errno, "lock %s", path);
        close (fd);
        return -1;
      }
  /* Removed while we waited: the lock is on a file no one else will open. */
  g_autofree char *meta = container_file (store, id);
  if (!g_file_test (meta, G_FILE_TEST_EXISTS))
    {
      close (fd);
      return berth_fail (error, BERTH_ERROR_NOT_FOUND, "container %.12s is gone", id), -1;
    }
  return fd;
}

void
berth_container_unlock (int fd)
{
  if (fd >= 0)
    close (fd);
}

BerthContainer *
berth_container_lookup (BerthStore *store, const char *ref, GError **error)
{
  g_autoptr (GPtrArray) list = berth_container_list (store, error);
  if (list == NULL)
    return NULL;
  g_autoptr (GPtrArray) ids = g_ptr_array_new ();
  for (guint i = 0; i < list->len; i++)
    {
      BerthContainer *c = list->pdata[i];
      if (g_strcmp0 (c->name, ref) == 0 || g_strcmp0 (c->id, ref) == 0)
        return container_read (store, c->id, error);
      g_ptr_array_add (ids, c->id);
    }
  g_autofree char *id = berth_resolve_prefix (ids, ref, "container", error);
  if (id == NULL)
    return NULL;
  return container_read (store, id, error);
}

char *
berth_random_hex_id (void)
{
  guint32 words[8];
  for (guint i = 0; i < G_N_ELEMENTS (words); i++)
    words[i] = g_random_int ();
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) words, sizeof words);
}

/* Docker-style generated names are fun but unhelpful in scripts; a short id
 * suffix keeps them unique and obviously berth's. */
static char *
generated_name (const char *id)
{
  return g_strdup_printf ("berth-%.12s", id);
}

static gboolean
name_taken (BerthStore *store, const char *name, GError **error)
{
  g_autoptr (GPtrArray) list = berth_container_list (store, error);
  if (list == NULL)
    return TRUE;
  for (guint i = 0; i < list->len; i++)
    if (g_strcmp0 (((BerthContainer *) list->pdata[i])->name, name) == 0)
      return berth_fail (error, BERTH_ERROR_EXISTS, "container name '%s' is already in use",
                         name), TRUE;
  return FALSE;
}

BerthContainer *
berth_container_record_begin (BerthStore *store, const char *image_ref, const char *name,
                              const char *driver, const char *exec_driver, char **log_opts,
                              char **cmd, BerthImage **image_out, GError **error)
{
  if (name && !berth_validate_name (name, error))
    return NULL;
  if (name && name_taken (store, name, error))
    return NULL;
  g_autoptr (BerthContainer) c = g_new0 (BerthContainer, 1);
  if (!berth_log_opts_parse (log_opts, c, error))
    return NULL;
  if (!berth_store_begin_change (store, error))
    return NULL;
  /* What an earlier create killed half-way left goes before another is
   * made; what cannot go (a busy mount) is no reason to refuse this one. */
  g_autoptr (GError) sweep_error = NULL;
  if (!berth_container_sweep_incomplete (store, &sweep_error))
    g_printerr ("berth: warning: %s\n", sweep_error->message);
  g_autoptr (BerthImage) image = berth_image_lookup (store, image_ref, error);
  if (image == NULL)
    return NULL;
  BerthStorage *storage = berth_store_driver (store, driver, error);
  if (storage == NULL)
    return NULL;
  g_autoptr (GError) local = NULL;
  g_autofree char *parent = berth_layer_ensure (store, storage, image, &local);
  if (local)
    return g_propagate_error (error, g_steal_pointer (&local)), NULL;

  c->id = berth_random_hex_id ();
  c->name = name ? g_strdup (name) : generated_name (c->id);
  c->image_id = g_strdup (image->id);
  c->image_ref = g_strdup (image_ref);
  c->driver = g_strdup (storage->ops->name);
  c->exec_driver = g_strdup (exec_driver);
  c->parent_layer = g_steal_pointer (&parent);
  JsonObject *cfg = berth_json_object (berth_json_node_object (image->config), "config");
  c->cmd = (cmd && cmd[0]) ? g_strdupv (cmd) : berth_json_strv (cfg, "Cmd");
  c->created = berth_now_rfc3339 ();

  g_autofree char *dir = berth_store_path (store, "containers", c->id, NULL);
  if (!berth_mkdir_p (dir, 0700, error))
    return NULL;
  if (!berth_storage_create (storage, c->id, c->parent_layer, TRUE, error))
    {
      berth_rm_rf (dir, NULL);
      return NULL;
    }
  if (image_out)
    *image_out = g_steal_pointer (&image);
  return g_steal_pointer (&c);
}

gboolean
berth_container_record_rename (BerthStore *store, BerthContainer *c, const char *name,
                               GError **error)
{
  if (!berth_validate_name (name, error) || name_taken (store, name, error))
    return FALSE;
  g_autofree char *old = g_steal_pointer (&c->name);
  c->name = g_strdup (name);
  if (container_save (store, c, error))
    return TRUE;
  g_free (c->name);
  c->name = g_steal_pointer (&old);
  return FALSE;
}

gboolean
berth_container_record_commit (BerthStore *store, BerthContainer *c, JsonNode *spec,
                               GError **error)
{
  g_autofree char *spec_path = berth_store_path (store, "containers", c->id, "config.json", NULL);
  return berth_json_write (spec_path, spec, error) && container_save (store, c, error);
}

void
berth_container_record_abort (BerthStore *store, BerthContainer *c)
{
  g_autoptr (GError) local = NULL;
  BerthStorage *storage = berth_store_driver (store, c->driver, &local);
  if (storage)
    berth_storage_remove (storage, c->id, NULL);
  g_autofree char *dir = berth_store_path (store, "containers", c->id, NULL);
  berth_rm_rf (dir, NULL);
}

GPtrArray *
berth_container_list_incomplete (BerthStore *store, GError **error)
{
  g_autoptr (GPtrArray) ids = container_ids (store, error);
  if (ids == NULL)
    return NULL;
  for (guint i = ids->len; i-- > 0;)
    {
      g_autofree char *meta = container_file (store, ids->pdata[i]);
      if (g_file_test (meta, G_FILE_TEST_EXISTS))
        g_ptr_array_remove_index (ids, i);
    }
  return g_steal_pointer (&ids);
}

/* A container directory without metadata is a create killed between making
 * its directory and saving container.json: remove its writable layer (from
 * whichever driver holds it) and the directory. Every command holds the
 * store lock while it creates, so no such directory is being made now. */
gboolean
berth_container_sweep_incomplete (BerthStore *store, GError **error)
{
  g_autoptr (GPtrArray) ids = berth_container_list_incomplete (store, error);
  if (ids == NULL)
    return FALSE;
  /* Only drivers this store has used: opening another would set it up
   * (devicemapper builds a pool) for nothing. */
  g_autoptr (GPtrArray) used = ids->len ? berth_store_used_drivers (store) : NULL;
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = ids->pdata[i];
      for (guint d = 0; d < used->len; d++)
        {
          BerthStorage *s = used->pdata[d];
          if (berth_storage_exists (s, id) && !berth_storage_remove (s, id, error))
            return FALSE;
        }
      g_autofree char *dir = berth_store_path (store, "containers", id, NULL);
      if (!berth_rm_rf (dir, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
berth_container_record_remove (BerthStore *store, BerthContainer *c, gboolean force,
                               GError **error)
{
  if (!berth_store_begin_change (store, error))
    return FALSE;
  BerthStorage *storage = berth_store_driver (store, c->driver, error);
  if (storage == NULL)
    return FALSE;
  if (berth_storage_refcount (storage, c->id) > 0 && !force)
    return berth_fail (error, BERTH_ERROR_BUSY,
                       "container %s is mounted; umount it or use --force", c->name);
  /* The record goes first: killed after this, what is left is an
   * Incomplete container, swept by the next command, never a container
   * listed without its layer. */
  g_autofree char *meta = container_file (store, c->id);
  if (unlink (meta) < 0)
    return berth_fail_errno (error, errno, "unlink %s", meta);
  if (berth_storage_exists (storage, c->id) && !berth_storage_remove (storage, c->id, error))
    return FALSE;
  g_autofree char *dir = berth_store_path (store, "containers", c->id, NULL);
  return berth_rm_rf (dir, error);
}

gint64
berth_container_size (BerthStore *store, BerthContainer *c, GError **error)
{
  BerthStorage *storage = berth_store_driver (store, c->driver, error);
  if (storage == NULL)
    return -1;
  return berth_storage_diff_size (storage, c->id, c->parent_layer, error);
}

char *
berth_container_mount (BerthStore *store, BerthContainer *c, GError **error)
{
  BerthStorage *storage = berth_store_driver (store, c->driver, error);
  if (storage == NULL)
    return NULL;
  return berth_storage_get (storage, c->id, error);
}

gboolean
berth_container_umount (BerthStore *store, BerthContainer *c, GError **error)
{
  BerthStorage *storage = berth_store_driver (store, c->driver, error);
  if (storage == NULL)
    return FALSE;
  return berth_storage_put (storage, c->id, error);
}

GPtrArray *
berth_container_changes (BerthStore *store, BerthContainer *c, GError **error)
{
  BerthStorage *storage = berth_store_driver (store, c->driver, error);
  if (storage == NULL)
    return NULL;
  return berth_storage_changes (storage, c->id, c->parent_layer, error);
}

char *
berth_container_commit (BerthStore *store, BerthContainer *c, const char *ref, GError **error)
{
  if ((ref && !berth_parse_reference (ref, NULL, NULL, error))
      || !berth_store_begin_change (store, error))
    return NULL;
  BerthStorage *storage = berth_store_driver (store, c->driver, error);
  if (storage == NULL)
    return NULL;
  g_autoptr (BerthImage) base = berth_image_lookup (store, c->image_id, error);
  if (base == NULL)
    return NULL;
  g_autofree char *tmpdir = berth_store_mkdtemp (store, error);
  if (tmpdir == NULL)
    return NULL;
  g_autofree char *tarpath = g_build_filename (tmpdir, "diff.tar", NULL);
  int fd = open (tarpath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      berth_fail_errno (error, errno, "create %s", tarpath);
      berth_rm_rf (tmpdir, NULL);
      return NULL;
    }
  g_autofree char *digest = NULL;
  if (berth_storage_diff (storage, c->id, c->parent_layer, fd, error))
    {
      if (lseek (fd, 0, SEEK_SET) < 0)
        berth_fail_errno (error, errno, "seek %s", tarpath);
      else
        digest = berth_blob_ingest (store, fd, NULL, NULL, NULL, error);
    }
  close (fd);
  berth_rm_rf (tmpdir, NULL);
  if (digest == NULL)
    return NULL;
  g_autofree char *created_by = g_strdup_printf ("berth commit %s", c->name);
  gsize len = 0;
  g_autofree char *config = berth_image_config_new (base->config, digest, created_by, NULL, &len);
  g_autofree char *id = berth_image_store_config (store, config, len, error);
  if (id == NULL || (ref && !berth_tag_set (store, ref, id, error)))
    {
      /* A fresh config holds a new timestamp, so the image is always this commit's. */
      berth_image_undo (store, id, FALSE);
      return NULL;
    }
  return g_steal_pointer (&id);
}

gboolean
berth_container_export (BerthStore *store, BerthContainer *c, int out_fd, GError **error)
{
  BerthStorage *storage = berth_store_driver (store, c->driver, error);
  if (storage == NULL)
    return FALSE;
  g_autofree char *dir = berth_storage_get_transient (storage, c->id, error);
  if (dir == NULL)
    return FALSE;
  gboolean ok = FALSE;
  int root = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    berth_fail_errno (error, errno, "open %s", dir);
  else
    {
      g_autoptr (BerthTarWriter) w = berth_tar_writer_new (out_fd, error);
      ok = w && berth_tar_writer_add_tree (w, root, error) && berth_tar_writer_finish (w, error);
      close (root);
    }
  return berth_storage_put_transient (storage, c->id, ok ? error : NULL) && ok;
}
