/* The vfs driver: every layer is a full copy of its parent in <home>/dir/<id>.
 * Slow and space-hungry, but it works on any filesystem, so it is the last
 * resort in the registry. Nothing is mounted: get just names the directory. */
#include "config.h"
#include <berth/storage.h>
#include <berth/copy.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

typedef struct {
  char *dir; /* <home>/dir */
} VfsPriv;

static VfsPriv *
priv (BerthStorage *s)
{
  return s->priv;
}

static char *
layer_path (BerthStorage *s, const char *id)
{
  return g_build_filename (priv (s)->dir, id, NULL);
}

static gboolean
vfs_probe (const char *home, GError **error)
{
  return TRUE;
}

static gpointer
vfs_init (const char *home, char **options, GError **error)
{
  if (options && options[0])
    {
      berth_fail (error, BERTH_ERROR_INVALID, "unknown option '%s' for the vfs driver",
                  options[0]);
      return NULL;
    }
  g_autofree char *dir = g_build_filename (home, "dir", NULL);
  if (!berth_mkdir_p (dir, 0700, error))
    return NULL;
  VfsPriv *p = g_new0 (VfsPriv, 1);
  p->dir = g_steal_pointer (&dir);
  return p;
}

static gboolean
vfs_sweep (BerthStorage *s, GError **error)
{
  return berth_remove_stale_temps (priv (s)->dir, error);
}

static void
vfs_cleanup (BerthStorage *s)
{
  VfsPriv *p = priv (s);
  if (p == NULL)
    return;
  g_free (p->dir);
  g_free (p);
  s->priv = NULL;
}

static gboolean
copy_parent (BerthStorage *s, const char *parent, const char *dst, GError **error)
{
  g_autofree char *src = layer_path (s, parent);
  int src_fd = open (src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (src_fd < 0)
    return berth_fail_errno (error, errno, "open %s", src);
  int dst_fd = open (dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dst_fd < 0)
    {
      int errsv = errno;
      close (src_fd);
      return berth_fail_errno (error, errsv, "open %s", dst);
    }
  gboolean ok = berth_copy_tree (src_fd, dst_fd, NULL, error);
  close (src_fd);
  close (dst_fd);
  return ok;
}

/* Build in a temporary name and rename into place, so the real id never
 * names a half-made copy, even after a crash mid-copy. */
static gboolean
vfs_create (BerthStorage *s, const char *id, const char *parent, gboolean writable,
            GError **error)
{
  g_autofree char *final = layer_path (s, id);
  g_autofree char *tmp = g_strdup_printf ("%s.tmp-XXXXXX", final);
  if (g_mkdtemp_full (tmp, 0755) == NULL)
    return berth_fail_errno (error, errno, "mkdir %s", tmp);
  gboolean ok;
  if (parent)
    ok = copy_parent (s, parent, tmp, error);
  else if (chmod (tmp, 0755) < 0) /* the umask may have narrowed it */
    ok = berth_fail_errno (error, errno, "chmod %s", tmp);
  else
    ok = TRUE;
  if (ok && rename (tmp, final) < 0)
    ok = berth_fail_errno (error, errno, "rename %s to %s", tmp, final);
  if (!ok)
    berth_rm_rf (tmp, NULL); /* best effort: the first error is the one to report */
  return ok;
}

static gboolean
vfs_remove (BerthStorage *s, const char *id, GError **error)
{
  g_autofree char *path = layer_path (s, id);
  return berth_rm_rf (path, error);
}

static gboolean
vfs_exists (BerthStorage *s, const char *id)
{
  g_autofree char *path = layer_path (s, id);
  struct stat st;
  return lstat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

static char *
vfs_get (BerthStorage *s, const char *id, GError **error)
{
  if (!vfs_exists (s, id))
    {
      berth_fail (error, BERTH_ERROR_NOT_FOUND, "layer %s is not in vfs", id);
      return NULL;
    }
  return layer_path (s, id);
}

static gboolean
vfs_put (BerthStorage *s, const char *id, GError **error)
{
  return TRUE;
}

/* Whether FICLONE works in @dir, tried on two unnamed temporary files so
 * nothing is left behind. -1 when it cannot be told. */
static int
reflink_supported (const char *dir)
{
  int a = open (dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (a < 0)
    return -1;
  int b = open (dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (b < 0)
    {
      close (a);
      return -1;
    }
  int r = write (a, "x", 1) == 1 ? (ioctl (b, FICLONE, a) == 0) : -1;
  close (a);
  close (b);
  return r;
}

static void
vfs_status (BerthStorage *s, GPtrArray *pairs)
{
  g_ptr_array_add (pairs, g_strdup ("backing filesystem"));
  g_ptr_array_add (pairs, g_strdup (berth_fs_type_name (priv (s)->dir)));
  int reflink = reflink_supported (priv (s)->dir);
  if (reflink >= 0)
    {
      g_ptr_array_add (pairs, g_strdup ("reflink"));
      g_ptr_array_add (pairs, g_strdup (reflink ? "yes" : "no"));
    }
}

static GPtrArray *
vfs_list (BerthStorage *s, GError **error)
{
  return berth_storage_list_dir (s, priv (s)->dir, "", error);
}

const BerthStorageOps berth_storage_vfs_ops = {
  .name = "vfs",
  .concurrent_unpack = TRUE,
  .probe = vfs_probe,
  .init = vfs_init,
  .cleanup = vfs_cleanup,
  .sweep = vfs_sweep,
  .create = vfs_create,
  .remove = vfs_remove,
  .get = vfs_get,
  .put = vfs_put,
  .exists = vfs_exists,
  .list = vfs_list,
  .status = vfs_status,
};
