/* The content store (uncompressed layer tars by diff id) and the unpacking
 * of image layers into storage drivers on demand. */
#include "config.h"
#include "store-internal.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <archive.h>
#include <archive_entry.h>
#include <berth/digest.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

char *
berth_blob_path (BerthStore *store, const char *digest)
{
  const char *hex = g_str_has_prefix (digest, "sha256:") ? digest + 7 : digest;
  return berth_store_path (store, "blobs", "sha256", hex, NULL);
}

/* Decompress @in_fd into @out_fd (libarchive's "raw" format undoes gzip,
 * xz, zstd or nothing), hashing what is written. Counted as it streams, so
 * a gzip bomb stops at @max bytes (0: no limit) instead of filling the disk. */
static char *
decompress_and_hash (int in_fd, int out_fd, const char *what, gint64 max, gint64 *size,
                     BerthProgressFunc progress, gpointer data, GError **error)
{
  struct archive *a = archive_read_new ();
  archive_read_support_filter_all (a);
  archive_read_support_format_raw (a);
  struct sha256_ctx sum;
  sha256_init (&sum);
  struct archive_entry *entry;
  gint64 total = 0;
  char *digest = NULL;
  int r;
  if (archive_read_open_fd (a, in_fd, 1 << 20) != ARCHIVE_OK)
    {
      berth_fail (error, BERTH_ERROR_BAD_ARCHIVE, "%s: %s", what, archive_error_string (a));
      goto out;
    }
  r = archive_read_next_header (a, &entry);
  if (r == ARCHIVE_OK)
    {
      g_autofree char *buf = g_malloc (1 << 20);
      ssize_t n;
      while ((n = archive_read_data (a, buf, 1 << 20)) > 0)
        {
          if (max > 0 && total + n > max)
            {
              berth_fail_limit (error, what, max, "--max-layer-size");
              goto out;
            }
          sha256_update (&sum, n, (const uint8_t *) buf);
          if (!berth_write_all (out_fd, buf, n))
            {
              berth_fail_errno (error, errno, "write %s", what);
              goto out;
            }
          total += n;
          if (progress)
            progress (total, data);
        }
      if (n < 0)
        {
          berth_fail (error, BERTH_ERROR_BAD_ARCHIVE, "%s: %s", what, archive_error_string (a));
          goto out;
        }
    }
  else if (r != ARCHIVE_EOF)
    {
      berth_fail (error, BERTH_ERROR_BAD_ARCHIVE, "%s: %s", what, archive_error_string (a));
      goto out;
    }
  *size = total;
  digest = berth_sha256_finish (&sum);
out:
  archive_read_free (a);
  return digest;
}

char *
berth_blob_ingest (BerthStore *store, int in_fd, gint64 *size, BerthProgressFunc progress,
                   gpointer data, GError **error)
{
  return berth_blob_ingest_max (store, in_fd, 0, size, progress, data, error);
}

/* Decompress @in_fd into a new file named after @template (mkstemp, which
 * fills it in), fsynced; its digest. Nothing is left on failure. */
static char *
ingest_to_temp (char *template, int in_fd, gint64 max, gint64 *size, BerthProgressFunc progress,
                gpointer data, GError **error)
{
  int fd = g_mkstemp_full (template, O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      berth_fail_errno (error, errno, "create %s", template);
      return NULL;
    }
  gint64 n = 0;
  g_autofree char *digest = decompress_and_hash (in_fd, fd, "layer archive", max, &n,
                                                 progress, data, error);
  gboolean ok = digest != NULL;
  if (ok && fsync (fd) < 0)
    ok = berth_fail_errno (error, errno, "fsync %s", template);
  close (fd);
  if (!ok)
    {
      unlink (template);
      return NULL;
    }
  if (size)
    *size = n;
  return g_steal_pointer (&digest);
}

char *
berth_blob_ingest_max (BerthStore *store, int in_fd, gint64 max, gint64 *size,
                       BerthProgressFunc progress, gpointer data, GError **error)
{
  g_autofree char *tmp = berth_store_path (store, "blobs", "sha256", ".tmp-ingest-XXXXXX", NULL);
  g_autofree char *digest = ingest_to_temp (tmp, in_fd, max, size, progress, data, error);
  if (digest == NULL)
    return NULL;
  g_autofree char *path = berth_blob_path (store, digest);
  if (rename (tmp, path) < 0)
    {
      berth_fail_errno (error, errno, "rename %s", path);
      unlink (tmp);
      return NULL;
    }
  return g_steal_pointer (&digest);
}

char *
berth_blob_stage (const char *staging, int in_fd, gint64 max, BerthProgressFunc progress,
                  gpointer data, GError **error)
{
  g_autofree char *tmp = g_build_filename (staging, "blob.tmp-XXXXXX", NULL);
  g_autofree char *digest = ingest_to_temp (tmp, in_fd, max, NULL, progress, data, error);
  if (digest == NULL)
    return NULL;
  g_autofree char *path = g_build_filename (staging, digest + 7, NULL);
  if (rename (tmp, path) < 0)
    {
      berth_fail_errno (error, errno, "rename %s", path);
      unlink (tmp);
      return NULL;
    }
  return g_steal_pointer (&digest);
}

gboolean
berth_blob_commit_staged (BerthStore *store, const char *staging, const char *digest,
                          GError **error)
{
  g_autofree char *path = berth_blob_path (store, digest);
  /* Stored meanwhile (another load of the same layer, or this load's own
   * second copy): the staged one goes with the staging directory. */
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    return TRUE;
  g_autofree char *staged = g_build_filename (staging, digest + 7, NULL);
  if (rename (staged, path) < 0)
    return berth_fail_errno (error, errno, "rename %s to %s", staged, path);
  return TRUE;
}

gboolean
berth_blob_remove (BerthStore *store, const char *digest, GError **error)
{
  g_autofree char *path = berth_blob_path (store, digest);
  if (unlink (path) < 0 && errno != ENOENT)
    return berth_fail_errno (error, errno, "unlink %s", path);
  return TRUE;
}

static char *
marker_path (BerthStore *store, BerthStorage *storage, const char *chain)
{
  return berth_store_path (store, "layers", storage->ops->name, chain, NULL);
}

/* Make layer @chain in @storage from the layer tar at @blob and mark it
 * complete; a failure leaves no layer. */
static gboolean
unpack_layer (BerthStore *store, BerthStorage *storage, const char *chain, const char *parent,
              const char *diff_id, const char *blob, GError **error)
{
  int fd = open (blob, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "layer %.19s: blob %s", diff_id, blob);
  if (!berth_storage_create (storage, chain, parent, FALSE, error))
    {
      close (fd);
      return FALSE;
    }
  gint64 size = berth_storage_apply_diff (storage, chain, parent, fd, error);
  close (fd);
  if (size < 0)
    {
      g_prefix_error (error, "layer %.19s: ", diff_id);
      berth_storage_remove (storage, chain, NULL);
      return FALSE;
    }
  g_autofree char *text = g_strdup_printf ("{\"diff_id\":\"%s\",\"size\":%" G_GINT64_FORMAT "}\n",
                                           diff_id, size);
  g_autofree char *marker = marker_path (store, storage, chain);
  if (!berth_write_file_atomic (marker, text, strlen (text), 0600, error))
    {
      berth_storage_remove (storage, chain, NULL);
      return FALSE;
    }
  return TRUE;
}

static gboolean
layer_complete (BerthStore *store, BerthStorage *storage, const char *chain)
{
  g_autofree char *marker = marker_path (store, storage, chain);
  return g_file_test (marker, G_FILE_TEST_EXISTS) && berth_storage_exists (storage, chain);
}

/* Make @chain again from @blob: no marker means a half-made layer from a
 * crash, or one never unpacked. */
static gboolean
remake_layer (BerthStore *store, BerthStorage *storage, const char *chain, const char *parent,
              const char *diff_id, const char *blob, GError **error)
{
  g_autofree char *marker = marker_path (store, storage, chain);
  unlink (marker);
  if (berth_storage_exists (storage, chain) && !berth_storage_remove (storage, chain, error))
    return FALSE;
  return unpack_layer (store, storage, chain, parent, diff_id, blob, error);
}

char *
berth_layer_ensure (BerthStore *store, BerthStorage *storage, BerthImage *image, GError **error)
{
  g_autofree char *parent = NULL;
  for (int i = 0; image->diff_ids[i]; i++)
    {
      g_autofree char *chain = berth_image_chain_id (image, i);
      if (!layer_complete (store, storage, chain))
        {
          /* Under the store lock, which must not wait on a hold. */
          if (berth_layer_is_held (store, storage, chain))
            return berth_fail (error, BERTH_ERROR_BUSY, "layer %.12s is being unpacked by "
                               "another berth command; try again when it is done", chain),
                   NULL;
          g_autofree char *blob = berth_blob_path (store, image->diff_ids[i]);
          if (!remake_layer (store, storage, chain, parent, image->diff_ids[i], blob, error))
            return NULL;
        }
      g_free (parent);
      parent = g_steal_pointer (&chain);
    }
  return g_steal_pointer (&parent);
}

static gboolean
prepare_image_layers (BerthStore *store, BerthStorage *storage, char **diff_ids,
                      const char *staging, GError **error)
{
  g_autofree char *parent = NULL;
  for (int i = 0; diff_ids[i]; i++)
    {
      g_autofree char *chain = berth_chain_id (diff_ids, i);
      g_autofree char *blob = g_build_filename (staging, diff_ids[i] + 7, NULL);
      if (!layer_complete (store, storage, chain)
          && !remake_layer (store, storage, chain, parent, diff_ids[i], blob, error))
        return FALSE;
      g_free (parent);
      parent = g_steal_pointer (&chain);
    }
  return TRUE;
}

gboolean
berth_layer_prepare (BerthStore *store, BerthStorage *storage, BerthLayerHolds *holds,
                     GPtrArray *diff_id_lists, const char *staging, GError **error)
{
  if (!storage->ops->concurrent_unpack)
    return TRUE;
  g_autoptr (GPtrArray) chains = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < diff_id_lists->len; i++)
    {
      char **diff_ids = diff_id_lists->pdata[i];
      for (int n = 0; diff_ids[n]; n++)
        g_ptr_array_add (chains, berth_chain_id (diff_ids, n));
    }
  if (!berth_layer_holds_take (holds, store, storage, chains, error))
    return FALSE;
  for (guint i = 0; i < diff_id_lists->len; i++)
    if (!prepare_image_layers (store, storage, diff_id_lists->pdata[i], staging, error))
      return FALSE;
  return TRUE;
}

/* --- garbage collection --- */

static void
add_needed (BerthStore *store, GHashTable *chains, GHashTable *blobs, GError **error)
{
  g_autoptr (GPtrArray) images = berth_image_list (store, error);
  for (guint i = 0; images && i < images->len; i++)
    {
      BerthImage *image = images->pdata[i];
      for (int n = 0; image->diff_ids[n]; n++)
        {
          g_hash_table_add (chains, berth_image_chain_id (image, n));
          g_hash_table_add (blobs, g_strdup (image->diff_ids[n] + 7));
        }
    }
}

/* Layers the driver holds that no image needs and no marker or container
 * names: an unpack killed before it wrote its marker. One being made now,
 * by a load without the store lock, is held (core/store/hold.c). */
static gboolean
collect_unmarked (BerthStore *store, BerthStorage *storage, GHashTable *needed,
                  GHashTable *containers, GError **error)
{
  g_autoptr (GPtrArray) ids = berth_storage_list (storage, error);
  if (ids == NULL)
    return FALSE;
  for (guint i = 0; i < ids->len; i++)
    {
      const char *id = ids->pdata[i];
      g_autofree char *marker = marker_path (store, storage, id);
      if (g_hash_table_contains (needed, id) || g_hash_table_contains (containers, id) ||
          g_file_test (marker, G_FILE_TEST_EXISTS) || berth_storage_refcount (storage, id) > 0
          || berth_layer_is_held (store, storage, id))
        continue;
      if (!berth_storage_remove (storage, id, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
collect_marked (BerthStore *store, BerthStorage *storage, GHashTable *needed, GError **error)
{
  g_autofree char *dir = berth_store_path (store, "layers", storage->ops->name, NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    {
      if (!berth_is_hex_id (name) || g_hash_table_contains (needed, name))
        continue;
      /* Mounted by someone, or being unpacked or used as a parent by a
       * load: collected on a later pass. */
      if (berth_storage_refcount (storage, name) > 0 || berth_layer_is_held (store, storage, name))
        continue;
      if (berth_storage_exists (storage, name) && !berth_storage_remove (storage, name, error))
        return FALSE;
      g_autofree char *marker = g_build_filename (dir, name, NULL);
      if (unlink (marker) < 0)
        return berth_fail_errno (error, errno, "unlink %s", marker);
    }
  return TRUE;
}

/* The ids of the containers there are (complete ones: run after the sweep). */
static GHashTable *
container_set (BerthStore *store, GError **error)
{
  g_autoptr (GPtrArray) list = berth_container_list (store, error);
  if (list == NULL)
    return NULL;
  GHashTable *ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < list->len; i++)
    g_hash_table_add (ids, g_strdup (((BerthContainer *) list->pdata[i])->id));
  return ids;
}

gboolean
berth_store_collect_garbage (BerthStore *store, GError **error)
{
  g_autoptr (GHashTable) chains = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GHashTable) blobs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GError) local = NULL;
  add_needed (store, chains, blobs, &local);
  if (local)
    return g_propagate_error (error, g_steal_pointer (&local)), FALSE;
  if (!berth_container_sweep_incomplete (store, error))
    return FALSE;
  g_autoptr (GHashTable) containers = container_set (store, error);
  if (containers == NULL)
    return FALSE;

  /* Only the drivers this store has used: a layer marker is made after its
   * driver's home. */
  g_autoptr (GPtrArray) used = berth_store_used_drivers (store);
  for (guint i = 0; i < used->len; i++)
    if (!collect_marked (store, used->pdata[i], chains, error) ||
        !collect_unmarked (store, used->pdata[i], chains, containers, error))
      return FALSE;

  g_autofree char *blobdir = berth_store_path (store, "blobs", "sha256", NULL);
  g_autoptr (GDir) b = g_dir_open (blobdir, 0, error);
  if (b == NULL)
    return FALSE;
  const char *name;
  while ((name = g_dir_read_name (b)))
    if (berth_is_hex_id (name) && !g_hash_table_contains (blobs, name) &&
        !berth_blob_remove (store, name, error))
      return FALSE;
  return TRUE;
}
