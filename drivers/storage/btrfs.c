/* The btrfs driver: every layer is a subvolume in <home>/subvolumes/<id>, a
 * child layer a snapshot of its parent's. Snapshots share extents, so a
 * layer costs only what it changes and is made in constant time. Nothing is
 * mounted: the subvolume is reachable as a directory. */
#include "config.h"
#include <berth/storage.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <btrfsutil.h>
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

typedef struct {
  char *subvolumes; /* <home>/subvolumes */
} BtrfsPriv;

static BtrfsPriv *
priv (BerthStorage *s)
{
  return s->priv;
}

static char *
subvol_path (BerthStorage *s, const char *id)
{
  return g_build_filename (priv (s)->subvolumes, id, NULL);
}

/* libbtrfsutil leaves errno from the failing syscall; report both. */
static gboolean
fail_btrfs (GError **error, enum btrfs_util_error err, const char *what, const char *path)
{
  int errsv = errno;
  return berth_fail_errno (error, errsv, "%s %s: %s", what, path, btrfs_util_strerror (err));
}

/* The home may not exist yet; the filesystem it will live on is that of
 * its nearest existing ancestor. */
static gboolean
btrfs_probe (const char *home, GError **error)
{
  if (!berth_kernel_has_filesystem ("btrfs", NULL, error))
    return FALSE;
  g_autofree char *path = berth_nearest_existing_dir (home, error);
  if (path == NULL)
    return FALSE;
  struct statfs sfs;
  if (statfs (path, &sfs) < 0)
    return berth_fail_errno (error, errno, "statfs %s", path);
  if ((unsigned long) sfs.f_type != BTRFS_SUPER_MAGIC)
    return berth_fail (error, BERTH_ERROR_BACKING_FS, "store %s is on %s, not btrfs", home,
                       berth_fs_type_name (path));
  return TRUE;
}

static gpointer
btrfs_init (const char *home, char **options, GError **error)
{
  if (options && options[0])
    {
      berth_fail (error, BERTH_ERROR_INVALID, "unknown option '%s' for the btrfs driver",
                  options[0]);
      return NULL;
    }
  g_autofree char *dir = g_build_filename (home, "subvolumes", NULL);
  if (!berth_mkdir_p (dir, 0700, error))
    return NULL;
  BtrfsPriv *p = g_new0 (BtrfsPriv, 1);
  p->subvolumes = g_steal_pointer (&dir);
  return p;
}

static void
btrfs_cleanup (BerthStorage *s)
{
  BtrfsPriv *p = priv (s);
  if (p == NULL)
    return;
  g_free (p->subvolumes);
  g_free (p);
  s->priv = NULL;
}

static gboolean
create_base (const char *path, GError **error)
{
  enum btrfs_util_error err = btrfs_util_create_subvolume (path, 0, NULL, NULL);
  if (err != BTRFS_UTIL_OK)
    return fail_btrfs (error, err, "create subvolume", path);
  /* Kernels make subvolume roots 0755 today; the contract promises it, so
   * do not depend on that. */
  if (chmod (path, 0755) < 0)
    {
      int errsv = errno;
      btrfs_util_delete_subvolume (path, 0);
      return berth_fail_errno (error, errsv, "chmod %s", path);
    }
  return TRUE;
}

/* A snapshot appears atomically and complete, so no temporary name is needed. */
static gboolean
btrfs_create (BerthStorage *s, const char *id, const char *parent, gboolean writable,
              GError **error)
{
  g_autofree char *path = subvol_path (s, id);
  if (parent == NULL)
    return create_base (path, error);
  g_autofree char *src = subvol_path (s, parent);
  enum btrfs_util_error err = btrfs_util_create_snapshot (src, path, 0, NULL, NULL);
  if (err != BTRFS_UTIL_OK)
    return fail_btrfs (error, err, "snapshot", src);
  return TRUE;
}

/* Recursive: a container may have made subvolumes inside its layer. */
static gboolean
btrfs_remove (BerthStorage *s, const char *id, GError **error)
{
  g_autofree char *path = subvol_path (s, id);
  enum btrfs_util_error err =
    btrfs_util_delete_subvolume (path, BTRFS_UTIL_DELETE_SUBVOLUME_RECURSIVE);
  if (err != BTRFS_UTIL_OK)
    return fail_btrfs (error, err, "delete subvolume", path);
  return TRUE;
}

static gboolean
btrfs_exists (BerthStorage *s, const char *id)
{
  g_autofree char *path = subvol_path (s, id);
  return btrfs_util_is_subvolume (path) == BTRFS_UTIL_OK;
}

static char *
btrfs_get (BerthStorage *s, const char *id, GError **error)
{
  if (!btrfs_exists (s, id))
    {
      berth_fail (error, BERTH_ERROR_NOT_FOUND, "layer %s is not in btrfs", id);
      return NULL;
    }
  return subvol_path (s, id);
}

static gboolean
btrfs_put (BerthStorage *s, const char *id, GError **error)
{
  return TRUE;
}

static guint
count_subvolumes (const char *dir)
{
  DIR *d = opendir (dir);
  if (d == NULL)
    return 0;
  guint n = 0;
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    if (de->d_name[0] != '.')
      n++;
  closedir (d);
  return n;
}

static void
btrfs_status (BerthStorage *s, GPtrArray *pairs)
{
  g_ptr_array_add (pairs, g_strdup ("backing filesystem"));
  g_ptr_array_add (pairs, g_strdup (berth_fs_type_name (priv (s)->subvolumes)));
  g_ptr_array_add (pairs, g_strdup ("subvolumes"));
  g_ptr_array_add (pairs, g_strdup_printf ("%u", count_subvolumes (priv (s)->subvolumes)));
}

static GPtrArray *
btrfs_list (BerthStorage *s, GError **error)
{
  return berth_storage_list_dir (s, priv (s)->subvolumes, "", error);
}

const BerthStorageOps berth_storage_btrfs_ops = {
  .name = "btrfs",
  .concurrent_unpack = TRUE,
  .probe = btrfs_probe,
  .init = btrfs_init,
  .cleanup = btrfs_cleanup,
  .create = btrfs_create,
  .remove = btrfs_remove,
  .get = btrfs_get,
  .put = btrfs_put,
  .exists = btrfs_exists,
  .list = btrfs_list,
  .status = btrfs_status,
};
