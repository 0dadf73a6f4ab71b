/* Images in and out of the store: rootfs tarballs, docker-save and OCI
 * image-layout archives. Whatever fails leaves the store as it was. */
#include "config.h"
#include "store-internal.h"
#include <berth/archive.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

static int
open_input (const char *path, GError **error)
{
  if (g_strcmp0 (path, "-") == 0)
    {
      int fd = dup (STDIN_FILENO);
      if (fd < 0)
        berth_fail_errno (error, errno, "dup standard input");
      return fd;
    }
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    berth_fail_errno (error, errno, "open %s", path);
  return fd;
}

/* @wanted, or the default for what @fd is (see BerthImportLimits). */
static gint64
stream_limit (int fd, gint64 wanted)
{
  struct stat st;
  if (wanted > 0)
    return wanted;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    return BERTH_LIMIT_UNSIZED;
  if (st.st_size > G_MAXINT64 / BERTH_LIMIT_RATIO)
    return G_MAXINT64;
  return MAX (BERTH_LIMIT_FLOOR, st.st_size * BERTH_LIMIT_RATIO);
}

static gboolean
image_exists (BerthStore *store, const char *id)
{
  g_autofree char *file = g_strdup_printf ("%s.json", id);
  g_autofree char *path = berth_store_path (store, "images", file, NULL);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* Store @config, unpack its layers into @driver; on failure undo. */
static char *
commit_image (BerthStore *store, const char *config, gsize len, const char *driver,
              gboolean *existed, GError **error)
{
  g_autofree char *id = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) config, len);
  *existed = image_exists (store, id);
  g_free (id);
  id = berth_image_store_config (store, config, len, error);
  if (id == NULL)
    {
      berth_store_collect_garbage (store, NULL);
      return NULL;
    }
  BerthStorage *storage = berth_store_driver (store, driver, error);
  g_autoptr (BerthImage) image = storage ? berth_image_lookup (store, id, error) : NULL;
  g_autoptr (GError) local = NULL;
  /* The top layer's id is not kept: a container finds it again. */
  g_free (image ? berth_layer_ensure (store, storage, image, &local) : NULL);
  if (image == NULL || local)
    {
      if (local)
        g_propagate_error (error, g_steal_pointer (&local));
      berth_image_undo (store, id, *existed);
      return NULL;
    }
  return g_steal_pointer (&id);
}

/* Unpack the staged layers @diff_id_lists name into @driver before the
 * commit, without the store lock, where the driver allows it
 * (berth_layer_prepare); the holds returned keep them until the commit has
 * the lock (lock_for_commit). What a failure made is collected. */
static BerthLayerHolds *
unpack_staged (BerthStore *store, const char *driver, const char *staging,
               GPtrArray *diff_id_lists, GError **error)
{
  /* Opening a driver may record the store's default driver, and the
   * holds are made under the lock too (berth_layer_holds_new). */
  if (!berth_store_lock (store, error))
    return NULL;
  BerthStorage *storage = berth_store_driver (store, driver, error);
  g_autoptr (BerthLayerHolds) holds = storage ? berth_layer_holds_new (store, error) : NULL;
  berth_store_unlock (store);
  if (holds && berth_layer_prepare (store, storage, holds, diff_id_lists, staging, error))
    return g_steal_pointer (&holds);
  g_clear_pointer (&holds, berth_layer_holds_free);
  if (berth_store_lock (store, NULL))
    {
      berth_store_collect_garbage (store, NULL);
      berth_store_unlock (store);
    }
  return NULL;
}

/* Take the store lock and the change mark for a commit. From then on the
 * lock guards the layers @holds kept, and garbage collection (of a failed
 * commit) must see them unheld. */
static gboolean
lock_for_commit (BerthStore *store, BerthLayerHolds **holds, GError **error)
{
  gboolean locked = berth_store_lock (store, error);
  g_clear_pointer (holds, berth_layer_holds_free);
  return locked && berth_store_begin_change (store, error);
}

/* The store lock is given up while the layer is read and hashed into
 * staging and unpacked into the driver, and taken again for the commit:
 * the blob into the content store, the config, the tag. */
static char *
import_fd (BerthStore *store, int fd, const char *ref, const char *driver, char **cmd,
           const char *created_by, gint64 max, BerthProgressFunc progress, gpointer data,
           GError **error)
{
  if (ref && !berth_parse_reference (ref, NULL, NULL, error))
    return NULL;
  berth_store_unlock (store);
  g_autofree char *staging = berth_store_mkdtemp (store, error);
  if (staging == NULL)
    return NULL;
  g_autofree char *digest = berth_blob_stage (staging, fd, max, progress, data, error);
  g_autoptr (GPtrArray) layers = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  if (digest)
    g_ptr_array_add (layers, g_strdupv ((char *[]) { digest, NULL }));
  g_autoptr (BerthLayerHolds) holds = digest ? unpack_staged (store, driver, staging, layers, error)
                                             : NULL;
  char *result = NULL;
  if (holds && lock_for_commit (store, &holds, error)
      && berth_blob_commit_staged (store, staging, digest, error))
    {
      gsize len = 0;
      g_autofree char *config = berth_image_config_new (NULL, digest, created_by, cmd, &len);
      gboolean existed = FALSE;
      g_autofree char *id = commit_image (store, config, len, driver, &existed, error);
      if (id && ref && !berth_tag_set (store, ref, id, error))
        berth_image_undo (store, id, existed);
      else
        result = g_steal_pointer (&id);
    }
  berth_rm_rf (staging, NULL);
  return result;
}

char *
berth_image_import (BerthStore *store, const char *tar_path, const char *ref, const char *driver,
                    const BerthImportLimits *limits, BerthProgressFunc progress, gpointer data,
                    GError **error)
{
  if (ref && !berth_parse_reference (ref, NULL, NULL, error))
    return NULL;
  int fd = open_input (tar_path, error);
  if (fd < 0)
    return NULL;
  g_autofree char *base = g_path_get_basename (tar_path);
  g_autofree char *created_by = g_strdup_printf ("berth image import %s", base);
  gint64 max = stream_limit (fd, limits ? limits->max_layer_size : 0);
  char *id = import_fd (store, fd, ref, driver, NULL, created_by, max, progress, data, error);
  close (fd);
  if (id == NULL)
    g_prefix_error (error, "import %s: ", tar_path);
  else
    berth_event_record (store, "image", "import", id, NULL);
  return id;
}

char *
berth_image_import_tree_fd (BerthStore *store, int tar_fd, const char *ref, const char *driver,
                            char **cmd, const char *created_by, GError **error)
{
  /* berth's own trees (bootstrap): no bomb to guard against */
  return import_fd (store, tar_fd, ref, driver, cmd, created_by, 0, NULL, NULL, error);
}

/* --- load --- */

/* Open @relpath inside the unpacked archive at @root_fd, never leaving it. */
static int
open_inside (int root_fd, const char *relpath, GError **error)
{
  /* O_NONBLOCK: an archive may plant a fifo where a file is expected, and
   * an open that waits would hold the store lock for ever. */
  struct open_how how = { .flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC,
                          .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  int fd = syscall (SYS_openat2, root_fd, relpath, &how, sizeof how);
  if (fd < 0)
    return berth_fail_errno (error, errno, "image archive: %s", relpath), -1;
  struct stat st;
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      close (fd);
      return berth_fail (error, BERTH_ERROR_BAD_ARCHIVE, "image archive: %s is not a regular file",
                         relpath), -1;
    }
  return fd;
}

static char *
read_inside (int root_fd, const char *relpath, gsize *len, GError **error)
{
  int fd = open_inside (root_fd, relpath, error);
  if (fd < 0)
    return NULL;
  g_autoptr (GMappedFile) map = g_mapped_file_new_from_fd (fd, FALSE, NULL);
  close (fd);
  if (map == NULL)
    {
      berth_fail (error, BERTH_ERROR_BAD_ARCHIVE, "image archive: cannot read %s", relpath);
      return NULL;
    }
  *len = g_mapped_file_get_length (map);
  if (*len == 0)
    return berth_fail (error, BERTH_ERROR_BAD_ARCHIVE, "image archive: %s is empty", relpath), NULL;
  /* A manifest or config is kilobytes; parsed, JSON costs several times
   * its size in memory, so a huge one is refused before it is read. */
  if (*len > BERTH_JSON_MAX_DOCUMENT)
    return berth_fail (error, BERTH_ERROR_BAD_ARCHIVE,
                       "image archive: %s is %" G_GSIZE_FORMAT " bytes; berth reads at most %d MiB",
                       relpath, *len, BERTH_JSON_MAX_DOCUMENT >> 20), NULL;
  return g_strndup (g_mapped_file_get_contents (map), *len);
}

static JsonNode *
parse_inside (int root_fd, const char *relpath, GError **error)
{
  gsize len;
  g_autofree char *text = read_inside (root_fd, relpath, &len, error);
  if (text == NULL)
    return NULL;
  g_autoptr (GError) local = NULL;
  JsonNode *node = berth_json_parse (text, len, &local);
  if (node == NULL)
    berth_fail (error, BERTH_ERROR_BAD_ARCHIVE, "image archive: %s is not JSON: %s", relpath,
                local->message);
  return node;
}

typedef struct {
  char *config;      /* the config's bytes, kept exact so the image id matches */
  gsize config_len;
  GPtrArray *layers; /* paths inside the archive */
  GPtrArray *tags;
} LoadItem;

static void
load_item_free (LoadItem *item)
{
  g_free (item->config);
  g_ptr_array_unref (item->layers);
  g_ptr_array_unref (item->tags);
  g_free (item);
}

static LoadItem *
load_item_new (void)
{
  LoadItem *item = g_new0 (LoadItem, 1);
  item->layers = g_ptr_array_new_with_free_func (g_free);
  item->tags = g_ptr_array_new_with_free_func (g_free);
  return item;
}

static char *
blob_relpath (const char *digest, GError **error)
{
  if (!g_str_has_prefix (digest, "sha256:") || !berth_is_hex_id (digest + 7))
    {
      berth_fail (error, BERTH_ERROR_BAD_ARCHIVE, "image archive: bad digest '%s'", digest);
      return NULL;
    }
  return g_strdup_printf ("blobs/sha256/%s", digest + 7);
}

static GPtrArray *
read_docker_manifest (int root_fd, GError **error)
{
  g_autoptr (JsonNode) node = parse_inside (root_fd, "manifest.json", error);
  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return berth_fail (error, BERTH_ERROR_BAD_ARCHIVE, "manifest.json is not an array"), NULL;
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify) load_item_free);
  JsonArray *arr = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonObject *m = berth_json_array_object (arr, i);
      const char *config = m ? json_object_get_string_member_with_default (m, "Config", NULL) : NULL;
      g_auto (GStrv) layers = m ? berth_json_strv (m, "Layers") : NULL;
      if (config == NULL || layers == NULL)
        return berth_fail (error, BERTH_ERROR_BAD_ARCHIVE,
                           "manifest.json entry %u lacks Config or Layers", i), NULL;
      LoadItem *item = load_item_new ();
      g_ptr_array_add (items, item);
      item->config = read_inside (root_fd, config, &item->config_len, error);
      if (item->config == NULL)
        return NULL;
      for (char **l = layers; *l; l++)
        g_ptr_array_add (item->layers, g_strdup (*l));
      g_auto (GStrv) tags = berth_json_strv (m, "RepoTags");
      for (char **t = tags; t && *t; t++)
        {
          /* Checked now, so a bad tag fails the load before anything lands. */
          if (!berth_parse_reference (*t, NULL, NULL, error))
            return g_prefix_error (error, "manifest.json: "), NULL;
          g_ptr_array_add (item->tags, g_strdup (*t));
        }
    }
  return g_steal_pointer (&items);
}

static gboolean
read_oci_manifest (int root_fd, JsonObject *desc, GPtrArray *items, GError **error)
{
  const char *digest = json_object_get_string_member_with_default (desc, "digest", "");
  g_autofree char *path = blob_relpath (digest, error);
  g_autoptr (JsonNode) node = path ? parse_inside (root_fd, path, error) : NULL;
  if (node == NULL)
    return FALSE;
  JsonObject *m = berth_json_node_object (node);
  JsonObject *cfg = berth_json_object (m, "config");
  JsonArray *layers = berth_json_array (m, "layers");
  if (cfg == NULL || layers == NULL)
    return berth_fail (error, BERTH_ERROR_BAD_ARCHIVE, "OCI manifest %s lacks config or layers", digest);
  LoadItem *item = load_item_new ();
  g_ptr_array_add (items, item);
  g_autofree char *cfg_path = blob_relpath (json_object_get_string_member_with_default (cfg, "digest", ""), error);
  if (cfg_path == NULL)
    return FALSE;
  item->config = read_inside (root_fd, cfg_path, &item->config_len, error);
  if (item->config == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (layers); i++)
    {
      JsonObject *l = berth_json_array_object (layers, i);
      char *lp = blob_relpath (l ? json_object_get_string_member_with_default (l, "digest", "") : "",
                               error);
      if (lp == NULL)
        return FALSE;
      g_ptr_array_add (item->layers, lp);
    }
  JsonObject *ann = berth_json_object (desc, "annotations");
  const char *name = ann ? json_object_get_string_member_with_default (ann, "io.containerd.image.name", NULL) : NULL;
  if (name == NULL && ann)
    name = json_object_get_string_member_with_default (ann, "org.opencontainers.image.ref.name", NULL);
  if (name && berth_parse_reference (name, NULL, NULL, NULL) && strchr (name, ':'))
    g_ptr_array_add (item->tags, g_strdup (name));
  return TRUE;
}

static GPtrArray *
read_oci_index (int root_fd, GError **error)
{
  g_autoptr (JsonNode) node = parse_inside (root_fd, "index.json", error);
  if (node == NULL)
    return NULL;
  JsonArray *manifests = berth_json_array (berth_json_node_object (node), "manifests");
  if (manifests == NULL)
    return berth_fail (error, BERTH_ERROR_BAD_ARCHIVE, "index.json has no manifests"), NULL;
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify) load_item_free);
  for (guint i = 0; i < json_array_get_length (manifests); i++)
    {
      JsonObject *desc = berth_json_array_object (manifests, i);
      if (desc == NULL)
        return berth_fail (error, BERTH_ERROR_BAD_ARCHIVE, "index.json: manifest %u is not an object", i), NULL;
      if (!read_oci_manifest (root_fd, desc, items, error))
        return NULL;
    }
  return g_steal_pointer (&items);
}

/* Stage every layer (no store lock) and check it is the one the config
 * names; the config's diff ids go to @diff_id_lists. */
static gboolean
stage_layers (int root_fd, const char *staging, LoadItem *item, gint64 max_layer,
              GPtrArray *diff_id_lists, BerthProgressFunc progress, gpointer data,
              GError **error)
{
  g_auto (GStrv) diff_ids = NULL;
  g_autoptr (JsonNode) cfg = berth_image_config_parse (item->config, item->config_len, &diff_ids,
                                                       error);
  if (cfg == NULL)
    return FALSE;
  g_ptr_array_add (diff_id_lists, g_strdupv (diff_ids));
  if (g_strv_length (diff_ids) != item->layers->len)
    return berth_fail (error, BERTH_ERROR_BAD_ARCHIVE,
                       "image archive: config lists %u layers, manifest %u",
                       g_strv_length (diff_ids), item->layers->len);
  for (guint i = 0; i < item->layers->len; i++)
    {
      int fd = open_inside (root_fd, item->layers->pdata[i], error);
      if (fd < 0)
        return FALSE;
      g_autofree char *digest = berth_blob_stage (staging, fd, stream_limit (fd, max_layer),
                                                  progress, data, error);
      close (fd);
      if (digest == NULL)
        return g_prefix_error (error, "%s: ", (char *) item->layers->pdata[i]), FALSE;
      if (strcmp (digest, diff_ids[i]) != 0)
        return berth_fail (error, BERTH_ERROR_BAD_ARCHIVE,
                           "image archive: layer %s has diff id %s, the config says %s",
                           (char *) item->layers->pdata[i], digest, diff_ids[i]);
    }
  return TRUE;
}

/* Under the store lock: @item's staged blobs into the content store. */
static gboolean
commit_blobs (BerthStore *store, const char *staging, LoadItem *item, GError **error)
{
  g_auto (GStrv) diff_ids = NULL;
  g_autoptr (JsonNode) cfg = berth_image_config_parse (item->config, item->config_len, &diff_ids,
                                                       error);
  for (char **d = cfg ? diff_ids : NULL; d && *d; d++)
    if (!berth_blob_commit_staged (store, staging, *d, error))
      return FALSE;
  return cfg != NULL;
}

static GPtrArray *commit_items (BerthStore *store, const char *staging, GPtrArray *items,
                                GPtrArray *layers, const char *driver, GError **error);

/* Every layer is read and hashed into @staging and unpacked into the
 * driver first, without the store lock; the lock is taken again for the
 * commit, which checks what changed meanwhile (a blob, an image or a layer
 * stored by someone else is used, not stored twice). */
static GPtrArray *
load_items (BerthStore *store, int root_fd, const char *staging, GPtrArray *items,
            const char *driver, gint64 max_layer, BerthProgressFunc progress, gpointer data,
            GError **error)
{
  g_autoptr (GPtrArray) layers = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  for (guint i = 0; i < items->len; i++)
    if (!stage_layers (root_fd, staging, items->pdata[i], max_layer, layers, progress, data,
                       error))
      return NULL;
  return commit_items (store, staging, items, layers, driver, error);
}

/* Unpack (without the store lock) and commit @items, whose layers, listed
 * by diff id in @layers, are staged in @staging; the tags they name
 * are set last. */
static GPtrArray *
commit_items (BerthStore *store, const char *staging, GPtrArray *items, GPtrArray *layers,
              const char *driver, GError **error)
{
  g_autoptr (BerthLayerHolds) holds = unpack_staged (store, driver, staging, layers, error);
  if (holds == NULL || !lock_for_commit (store, &holds, error))
    return NULL;
  g_autoptr (GPtrArray) made = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) loaded = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < items->len; i++)
    {
      LoadItem *item = items->pdata[i];
      gboolean existed = FALSE;
      g_autofree char *id = NULL;
      if (commit_blobs (store, staging, item, error))
        id = commit_image (store, item->config, item->config_len, driver, &existed, error);
      if (id == NULL)
        {
          for (guint j = 0; j < made->len; j++)
            berth_image_undo (store, made->pdata[j], FALSE);
          berth_store_collect_garbage (store, NULL);
          return NULL;
        }
      if (!existed)
        g_ptr_array_add (made, g_strdup (id));
    }
  /* Tags last, in one rewrite of tags.json: a load that fails half-way
   * never moves an existing tag, and 20k tags cost one fsync, not 20k. */
  g_autoptr (GPtrArray) refs = g_ptr_array_new ();
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < items->len; i++)
    {
      LoadItem *item = items->pdata[i];
      g_autofree char *id = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                                         (const guchar *) item->config, item->config_len);
      for (guint t = 0; t < item->tags->len; t++)
        {
          g_ptr_array_add (refs, item->tags->pdata[t]);
          g_ptr_array_add (ids, g_strdup (id));
          g_ptr_array_add (loaded, g_strdup (item->tags->pdata[t]));
        }
      if (item->tags->len == 0)
        g_ptr_array_add (loaded, g_strdup_printf ("sha256:%s", id));
    }
  if (!berth_tags_set (store, refs, ids, error))
    {
      for (guint j = 0; j < made->len; j++)
        berth_image_undo (store, made->pdata[j], FALSE);
      return NULL;
    }
  return g_steal_pointer (&loaded);
}

char *
berth_image_commit_staged (BerthStore *store, const char *staging, const char *config,
                           gsize len, const char *ref, const char *driver, GError **error)
{
  g_auto (GStrv) diff_ids = NULL;
  g_autoptr (JsonNode) cfg = berth_image_config_parse (config, len, &diff_ids, error);
  if (cfg == NULL)
    return NULL;
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify) load_item_free);
  LoadItem *item = load_item_new ();
  item->config = g_memdup2 (config, len);
  item->config_len = len;
  if (ref)
    g_ptr_array_add (item->tags, g_strdup (ref));
  g_ptr_array_add (items, item);
  g_autoptr (GPtrArray) layers = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  g_ptr_array_add (layers, g_steal_pointer (&diff_ids));
  g_autoptr (GPtrArray) done = commit_items (store, staging, items, layers, driver, error);
  if (done == NULL)
    return NULL;
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) config, len);
}

gboolean
berth_blob_stage_existing (BerthStore *store, const char *staging, const char *diff_id)
{
  g_autofree char *path = berth_blob_path (store, diff_id);
  g_autofree char *staged = g_build_filename (staging, diff_id + 7, NULL);
  /* A link, not a look: the staged name keeps the blob even if a garbage
   * collection unlinks the store's name before this commit. */
  return link (path, staged) == 0 || errno == EEXIST;
}

GPtrArray *
berth_image_archive_read (int root_fd, GError **error)
{
  if (faccessat (root_fd, "manifest.json", F_OK, 0) == 0)
    return read_docker_manifest (root_fd, error);
  if (faccessat (root_fd, "index.json", F_OK, 0) == 0)
    return read_oci_index (root_fd, error);
  return berth_fail (error, BERTH_ERROR_BAD_ARCHIVE,
                     "not an image archive: no manifest.json (docker save) or index.json (OCI layout)"),
         NULL;
}

GPtrArray *
berth_image_load (BerthStore *store, const char *tar_path, const char *driver,
                  const BerthImportLimits *limits, BerthProgressFunc progress, gpointer data,
                  GError **error)
{
  int in_fd = open_input (tar_path, error);
  if (in_fd < 0)
    return NULL;
  gint64 max_archive = stream_limit (in_fd, limits ? limits->max_archive_size : 0);
  gint64 max_layer = limits ? limits->max_layer_size : 0;
  /* Reading and unpacking the archive, hashing its layers and unpacking
   * them into the driver is the long part: it holds no store lock
   * (load_items takes it for the commit). */
  berth_store_unlock (store);
  g_autofree char *tmp = berth_store_mkdtemp (store, error);
  /* The archive in tmp/archive/, the staged blobs beside it by digest. */
  g_autofree char *unpacked = tmp ? g_build_filename (tmp, "archive", NULL) : NULL;
  int root_fd = -1;
  if (unpacked && (mkdir (unpacked, 0700) < 0
                   || (root_fd = open (unpacked, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0))
    berth_fail_errno (error, errno, "open %s", unpacked);
  GPtrArray *loaded = NULL;
  if (root_fd >= 0 && berth_archive_extract_max (root_fd, in_fd, NULL, max_archive, "--max-archive-size", error) >= 0)
    {
      g_autoptr (GPtrArray) items = berth_image_archive_read (root_fd, error);
      if (items)
        loaded = load_items (store, root_fd, tmp, items, driver, max_layer, progress, data, error);
    }
  if (root_fd >= 0)
    close (root_fd);
  close (in_fd);
  if (tmp)
    berth_rm_rf (tmp, NULL);
  if (loaded == NULL)
    g_prefix_error (error, "load %s: ", tar_path);
  for (guint i = 0; loaded && i < loaded->len; i++)
    {
      g_autofree char *name = g_strconcat ("name=", (char *) loaded->pdata[i], NULL);
      berth_event_record (store, "image", "load", loaded->pdata[i], (char *[]) { name, NULL });
    }
  return loaded;
}

/* --- save (docker-save layout, which docker, podman and berth all load) --- */

static JsonNode *
save_manifest (GPtrArray *images, GPtrArray *tags_per_image)
{
  JsonArray *arr = json_array_new ();
  for (guint i = 0; i < images->len; i++)
    {
      BerthImage *image = images->pdata[i];
      JsonObject *m = json_object_new ();
      g_autofree char *cfg = g_strdup_printf ("%s.json", image->id);
      json_object_set_string_member (m, "Config", cfg);
      JsonArray *layers = json_array_new ();
      for (char **d = image->diff_ids; *d; d++)
        {
          g_autofree char *l = g_strdup_printf ("%s/layer.tar", *d + 7);
          json_array_add_string_element (layers, l);
        }
      json_object_set_array_member (m, "Layers", layers);
      json_object_set_member (m, "RepoTags",
                              berth_json_strv_node ((char **) ((GPtrArray *) tags_per_image->pdata[i])->pdata));
      json_array_add_object_element (arr, m);
    }
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);
  json_node_take_array (node, arr);
  return node;
}

static gboolean
write_save_tar (BerthStore *store, GPtrArray *images, const char *staging, int out_fd,
                GError **error)
{
  g_autofree char *images_dir = berth_store_path (store, "images", NULL);
  g_autofree char *blobs_dir = berth_store_path (store, "blobs", "sha256", NULL);
  int img_fd = open (images_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int blob_fd = open (blobs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int stage_fd = open (staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  gboolean ok = img_fd >= 0 && blob_fd >= 0 && stage_fd >= 0;
  if (!ok)
    berth_fail_errno (error, errno, "open store directories");
  g_autoptr (BerthTarWriter) w = ok ? berth_tar_writer_new (out_fd, error) : NULL;
  ok = ok && w && berth_tar_writer_add (w, stage_fd, "manifest.json", "manifest.json", error);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; ok && i < images->len; i++)
    {
      BerthImage *image = images->pdata[i];
      g_autofree char *cfg = g_strdup_printf ("%s.json", image->id);
      ok = berth_tar_writer_add (w, img_fd, cfg, cfg, error);
      for (char **d = image->diff_ids; ok && *d; d++)
        {
          if (!g_hash_table_add (seen, *d + 7))
            continue;
          g_autofree char *name = g_strdup_printf ("%s/layer.tar", *d + 7);
          ok = berth_tar_writer_add (w, blob_fd, *d + 7, name, error);
        }
    }
  ok = ok && berth_tar_writer_finish (w, error);
  if (img_fd >= 0) close (img_fd);
  if (blob_fd >= 0) close (blob_fd);
  if (stage_fd >= 0) close (stage_fd);
  return ok;
}

gboolean
berth_image_save (BerthStore *store, char **refs, const char *out_path, GError **error)
{
  g_autoptr (GPtrArray) images = g_ptr_array_new_with_free_func ((GDestroyNotify) berth_image_free);
  g_autoptr (GPtrArray) tags = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  for (char **r = refs; *r; r++)
    {
      BerthImage *image = berth_image_lookup (store, *r, error);
      if (image == NULL)
        return FALSE;
      g_ptr_array_add (images, image);
      GPtrArray *t = g_ptr_array_new_with_free_func (g_free);
      for (guint i = 0; i < image->tags->len; i++)
        g_ptr_array_add (t, g_strdup (image->tags->pdata[i]));
      g_ptr_array_add (t, NULL);
      g_ptr_array_add (tags, t);
    }
  g_autofree char *staging = berth_store_mkdtemp (store, error);
  if (staging == NULL)
    return FALSE;
  g_autoptr (JsonNode) manifest = save_manifest (images, tags);
  g_autofree char *mpath = g_build_filename (staging, "manifest.json", NULL);
  gboolean to_stdout = g_strcmp0 (out_path, "-") == 0;
  BerthOutputFile out = { .fd = STDOUT_FILENO };
  gboolean opened = !to_stdout && berth_output_file_open (&out, out_path, error);
  gboolean ok = (to_stdout || opened) && berth_json_write (mpath, manifest, error)
                && write_save_tar (store, images, staging, out.fd, error);
  if (opened)
    ok = berth_output_file_close (&out, ok, ok ? error : NULL);
  berth_rm_rf (staging, NULL);
  return ok;
}
