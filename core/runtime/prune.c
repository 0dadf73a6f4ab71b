/* docker system df and system prune over the store: what images,
 * containers and volumes take, what is in use, and removing what is not.
 * Sizes are apparent bytes (Docker's): an image counts each of its
 * layers' uncompressed blobs once however many images share them; a
 * container its writable layer (ps -s); a volume the files under _data. */
#include "config.h"
#include "runtime-internal.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Apparent bytes of the regular files below @dir_fd (closed here), not
 * following symlinks or crossing into other mounts. */
static gint64
tree_bytes_at (int dir_fd, dev_t dev, GError **error)
{
  DIR *d = fdopendir (dir_fd);
  if (d == NULL)
    {
      int errsv = errno;
      close (dir_fd);
      return berth_fail_errno (error, errsv, "read a volume's directory"), -1;
    }
  gint64 total = 0;
  struct dirent *e;
  while (total >= 0 && (e = readdir (d)))
    {
      if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
        continue;
      struct stat st;
      if (fstatat (dirfd (d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        continue; /* removed meanwhile */
      if (S_ISREG (st.st_mode))
        total += st.st_size;
      else if (S_ISDIR (st.st_mode) && st.st_dev == dev)
        {
          int sub = openat (dirfd (d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          gint64 below = sub >= 0 ? tree_bytes_at (sub, dev, error) : 0;
          total = below < 0 ? -1 : total + below;
        }
    }
  closedir (d);
  return total;
}

static gint64
tree_bytes (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      int errsv = errno;
      if (fd >= 0)
        close (fd);
      return errsv == ENOENT ? 0 : (berth_fail_errno (error, errsv, "open %s", path), -1);
    }
  return tree_bytes_at (fd, st.st_dev, error);
}

/* Image ids the containers are made from. */
static GHashTable *
images_in_use (GPtrArray *containers)
{
  GHashTable *used = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < containers->len; i++)
    g_hash_table_add (used, ((BerthContainer *) containers->pdata[i])->image_id);
  return used;
}

static gint64
blob_bytes (BerthStore *store, const char *diff_id)
{
  g_autofree char *path = berth_blob_path (store, diff_id);
  struct stat st;
  return stat (path, &st) == 0 ? st.st_size : 0;
}

static void
image_usage (BerthStore *store, GPtrArray *images, GHashTable *used, BerthUsage *u)
{
  g_autoptr (GHashTable) counted = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) needed = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < images->len; i++)
    {
      BerthImage *image = images->pdata[i];
      gboolean active = g_hash_table_contains (used, image->id);
      u->total++;
      u->active += active;
      for (char **d = image->diff_ids; d && *d; d++)
        if (active)
          g_hash_table_add (needed, *d);
    }
  for (guint i = 0; i < images->len; i++)
    for (char **d = ((BerthImage *) images->pdata[i])->diff_ids; d && *d; d++)
      if (g_hash_table_add (counted, *d))
        {
          gint64 bytes = blob_bytes (store, *d);
          u->size += bytes;
          if (!g_hash_table_contains (needed, *d))
            u->reclaimable += bytes;
        }
}

static gboolean
container_usage (BerthStore *store, GPtrArray *containers, BerthUsage *u, GError **error)
{
  for (guint i = 0; i < containers->len; i++)
    {
      BerthContainer *c = containers->pdata[i];
      g_autoptr (BerthContainerState) s = berth_container_state (store, c, error);
      if (s == NULL)
        return FALSE;
      gint64 bytes = berth_container_size (store, c, error);
      if (bytes < 0)
        return FALSE;
      gboolean live = berth_state_is_live (s);
      u->total++;
      u->active += live;
      u->size += bytes;
      if (!live)
        u->reclaimable += bytes;
    }
  return TRUE;
}

/* Each volume with whether a container mounts it and its bytes. */
typedef struct {
  BerthVolume *volume;
  gboolean used;
  gint64 bytes;
} VolumeRow;

static void
volume_row_free (VolumeRow *row)
{
  berth_volume_free (row->volume);
  g_free (row);
}

static GPtrArray *
volume_rows (BerthStore *store, GError **error)
{
  g_autoptr (GPtrArray) volumes = berth_volume_list (store, error);
  if (volumes == NULL)
    return NULL;
  g_autoptr (GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) volume_row_free);
  for (guint i = 0; i < volumes->len; i++)
    {
      BerthVolume *v = volumes->pdata[i];
      g_autoptr (GPtrArray) users = berth_volume_users (store, v, error);
      gint64 bytes = users ? tree_bytes (v->mountpoint, error) : -1;
      if (bytes < 0)
        return NULL;
      VolumeRow *row = g_new0 (VolumeRow, 1);
      row->volume = g_steal_pointer (&volumes->pdata[i]);
      row->used = users->len > 0;
      row->bytes = bytes;
      g_ptr_array_add (rows, row);
    }
  return g_steal_pointer (&rows);
}

static gboolean
volume_usage (BerthStore *store, BerthUsage *u, GError **error)
{
  g_autoptr (GPtrArray) rows = volume_rows (store, error);
  if (rows == NULL)
    return FALSE;
  for (guint i = 0; i < rows->len; i++)
    {
      VolumeRow *row = rows->pdata[i];
      u->total++;
      u->active += row->used;
      u->size += row->bytes;
      if (!row->used)
        u->reclaimable += row->bytes;
    }
  return TRUE;
}

gboolean
berth_disk_usage (BerthStore *store, BerthDiskUsage *usage, GError **error)
{
  *usage = (BerthDiskUsage){ 0 };
  g_autoptr (GPtrArray) containers = berth_container_list (store, error);
  g_autoptr (GPtrArray) images = containers ? berth_image_list (store, error) : NULL;
  if (images == NULL)
    return FALSE;
  g_autoptr (GHashTable) used = images_in_use (containers);
  image_usage (store, images, used, &usage->images);
  return container_usage (store, containers, &usage->containers, error)
         && volume_usage (store, &usage->volumes, error);
}

void
berth_prune_report_clear (BerthPruneReport *report)
{
  g_clear_pointer (&report->containers, g_ptr_array_unref);
  g_clear_pointer (&report->images, g_ptr_array_unref);
  g_clear_pointer (&report->volumes, g_ptr_array_unref);
}

static gboolean
prune_containers (BerthStore *store, BerthPruneReport *report, GError **error)
{
  g_autoptr (GPtrArray) containers = berth_container_list (store, error);
  if (containers == NULL)
    return FALSE;
  for (guint i = 0; i < containers->len; i++)
    {
      BerthContainer *c = containers->pdata[i];
      g_autoptr (BerthContainerState) s = berth_container_state (store, c, error);
      if (s == NULL)
        return FALSE;
      if (berth_state_is_live (s) || g_strcmp0 (s->status, "restarting") == 0)
        continue;
      gint64 bytes = berth_container_size (store, c, NULL);
      if (!berth_container_remove (store, c->id, FALSE, error))
        return FALSE;
      report->reclaimed += MAX (bytes, 0);
      g_ptr_array_add (report->containers, g_strdup (c->id));
    }
  return TRUE;
}

/* What removing these images frees: their layers no image left uses. */
static gint64
freed_layer_bytes (BerthStore *store, GPtrArray *before, GHashTable *removed)
{
  g_autoptr (GHashTable) kept = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) counted = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < before->len; i++)
    {
      BerthImage *image = before->pdata[i];
      if (!g_hash_table_contains (removed, image->id))
        for (char **d = image->diff_ids; d && *d; d++)
          g_hash_table_add (kept, *d);
    }
  gint64 freed = 0;
  for (guint i = 0; i < before->len; i++)
    {
      BerthImage *image = before->pdata[i];
      if (g_hash_table_contains (removed, image->id))
        for (char **d = image->diff_ids; d && *d; d++)
          if (!g_hash_table_contains (kept, *d) && g_hash_table_add (counted, *d))
            freed += blob_bytes (store, *d);
    }
  return freed;
}

static gboolean
prune_images (BerthStore *store, gboolean all, BerthPruneReport *report, GError **error)
{
  g_autoptr (GPtrArray) containers = berth_container_list (store, error);
  g_autoptr (GPtrArray) images = containers ? berth_image_list (store, error) : NULL;
  if (images == NULL)
    return FALSE;
  g_autoptr (GHashTable) used = images_in_use (containers);
  g_autoptr (GHashTable) unused = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < images->len; i++)
    {
      BerthImage *image = images->pdata[i];
      if (!g_hash_table_contains (used, image->id) && (all || image->tags->len == 0))
        g_hash_table_add (unused, image->id);
    }
  /* counted while the layers are still there */
  gint64 freed = freed_layer_bytes (store, images, unused);
  for (guint i = 0; i < images->len; i++)
    {
      BerthImage *image = images->pdata[i];
      if (!g_hash_table_contains (unused, image->id))
        continue;
      if (!berth_image_remove (store, image->id, TRUE, error))
        return FALSE;
      g_ptr_array_add (report->images, g_strconcat ("sha256:", image->id, NULL));
    }
  report->reclaimed += freed;
  return TRUE;
}

static gboolean
prune_volumes (BerthStore *store, BerthPruneReport *report, GError **error)
{
  g_autoptr (GPtrArray) rows = volume_rows (store, error);
  if (rows == NULL)
    return FALSE;
  for (guint i = 0; i < rows->len; i++)
    {
      VolumeRow *row = rows->pdata[i];
      if (row->used)
        continue;
      if (!berth_volume_remove (store, row->volume->name, error))
        return FALSE;
      report->reclaimed += row->bytes;
      g_ptr_array_add (report->volumes, g_strdup (row->volume->name));
    }
  return TRUE;
}

gboolean
berth_prune (BerthStore *store, const BerthPruneOptions *options, BerthPruneReport *report,
             GError **error)
{
  *report = (BerthPruneReport){
    .containers = g_ptr_array_new_with_free_func (g_free),
    .images = g_ptr_array_new_with_free_func (g_free),
    .volumes = g_ptr_array_new_with_free_func (g_free),
  };
  return (!options->containers || prune_containers (store, report, error))
         && (!options->volumes || prune_volumes (store, report, error))
         && (!options->images || prune_images (store, options->all_images, report, error));
}
