#include "config.h"
#include <berth/archive.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/storage.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* The diff of two mounted trees, as Docker's naive diff driver makes it:
 * metadata is compared (not contents), a deleted directory is reported once,
 * and a directory counts as changed when its own metadata (mtime included,
 * which moves whenever a child is added or removed) differs. */

static gint
cmp_change (gconstpointer a, gconstpointer b)
{
  const BerthChange *x = *(BerthChange *const *) a, *y = *(BerthChange *const *) b;
  return strcmp (x->path, y->path);
}

static gboolean
append_xattr (const char *name, const void *value, gsize len, gpointer blob, GError **error)
{
  guint32 l = len;
  g_byte_array_append (blob, (const guint8 *) name, strlen (name) + 1);
  g_byte_array_append (blob, (const guint8 *) &l, sizeof l);
  g_byte_array_append (blob, value, len);
  return TRUE;
}

/* All xattrs of @name in @dirfd but overlay's own, sorted, as one blob. */
static GByteArray *
xattr_blob (int dirfd, const char *name, GError **error)
{
  g_autoptr (GByteArray) blob = g_byte_array_new ();
  if (!berth_read_xattrs (dirfd, name, append_xattr, blob, error))
    return NULL;
  return g_steal_pointer (&blob);
}

static gboolean
same_link (int lfd, int pfd, const char *name, gboolean *same, GError **error)
{
  char a[PATH_MAX + 1], b[PATH_MAX + 1];
  ssize_t na = readlinkat (lfd, name, a, sizeof a);
  ssize_t nb = na < 0 ? -1 : readlinkat (pfd, name, b, sizeof b);
  if (na < 0 || nb < 0)
    return berth_fail_errno (error, errno, "readlink %s", name);
  *same = na == nb && memcmp (a, b, na) == 0;
  return TRUE;
}

static gboolean
same_xattrs (int lfd, int pfd, const char *name, gboolean *same, GError **error)
{
  g_autoptr (GByteArray) a = xattr_blob (lfd, name, error);
  g_autoptr (GByteArray) b = a ? xattr_blob (pfd, name, error) : NULL;
  if (b == NULL)
    return FALSE;
  *same = a->len == b->len && (a->len == 0 || memcmp (a->data, b->data, a->len) == 0);
  return TRUE;
}

static gboolean
differs (int lfd, int pfd, const char *name, const struct stat *l, const struct stat *p,
         gboolean *changed, GError **error)
{
  *changed = TRUE;
  if (l->st_mode != p->st_mode || l->st_uid != p->st_uid || l->st_gid != p->st_gid
      || l->st_mtim.tv_sec != p->st_mtim.tv_sec || l->st_mtim.tv_nsec != p->st_mtim.tv_nsec)
    return TRUE;
  /* a directory's size is the filesystem's business, not content */
  if (!S_ISDIR (l->st_mode) && l->st_size != p->st_size)
    return TRUE;
  if ((S_ISCHR (l->st_mode) || S_ISBLK (l->st_mode)) && l->st_rdev != p->st_rdev)
    return TRUE;
  gboolean same = TRUE;
  if (S_ISLNK (l->st_mode) && !same_link (lfd, pfd, name, &same, error))
    return FALSE;
  if (same && !same_xattrs (lfd, pfd, name, &same, error))
    return FALSE;
  *changed = !same;
  return TRUE;
}

static int
open_subdir (int dirfd, const char *name, const char *path, GError **error)
{
  int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    berth_fail_errno (error, errno, "open %s", path);
  return fd;
}

static gboolean walk (int lfd, int pfd, const char *prefix, GPtrArray *out, GError **error);

/* Compare entry @name of layer dir @lfd with the same in parent dir @pfd (-1:
 * none), and go down when the layer has a directory there. */
static gboolean
compare_entry (int lfd, int pfd, GHashTable *in_parent, const char *name, const char *prefix,
               GPtrArray *out, GError **error)
{
  g_autofree char *path = g_strconcat (prefix, "/", name, NULL);
  struct stat l, p;
  if (fstatat (lfd, name, &l, AT_SYMLINK_NOFOLLOW) < 0)
    return berth_fail_errno (error, errno, "stat %s", path);
  gboolean have_p = g_hash_table_contains (in_parent, name);
  if (have_p && fstatat (pfd, name, &p, AT_SYMLINK_NOFOLLOW) < 0)
    return berth_fail_errno (error, errno, "stat parent's %s", path);
  gboolean changed = TRUE;
  if (have_p && !differs (lfd, pfd, name, &l, &p, &changed, error))
    return FALSE;
  if (!have_p)
    berth_changes_add (out, BERTH_CHANGE_ADDED, path);
  else if (changed)
    berth_changes_add (out, BERTH_CHANGE_MODIFIED, path);
  if (!S_ISDIR (l.st_mode))
    return TRUE;
  int sub_l = open_subdir (lfd, name, path, error);
  if (sub_l < 0)
    return FALSE;
  int sub_p = have_p && S_ISDIR (p.st_mode) ? open_subdir (pfd, name, path, error) : -1;
  guint before = out->len;
  gboolean ok = !(have_p && S_ISDIR (p.st_mode) && sub_p < 0)
                && walk (sub_l, sub_p, path, out, error);
  /* As Docker: a directory holding a change is itself reported changed. */
  if (ok && have_p && !changed && out->len > before)
    berth_changes_add (out, BERTH_CHANGE_MODIFIED, path);
  close (sub_l);
  if (sub_p >= 0)
    close (sub_p);
  return ok;
}

static gboolean
walk (int lfd, int pfd, const char *prefix, GPtrArray *out, GError **error)
{
  g_autoptr (GPtrArray) lnames = berth_dir_names_sorted (lfd, prefix, error);
  if (lnames == NULL)
    return FALSE;
  g_autoptr (GPtrArray) pnames = pfd >= 0 ? berth_dir_names_sorted (pfd, prefix, error)
                                          : g_ptr_array_new_with_free_func (g_free);
  if (pnames == NULL)
    return FALSE;
  g_autoptr (GHashTable) in_parent = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) in_layer = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < pnames->len; i++)
    g_hash_table_add (in_parent, pnames->pdata[i]);
  for (guint i = 0; i < lnames->len; i++)
    {
      g_hash_table_add (in_layer, lnames->pdata[i]);
      if (!compare_entry (lfd, pfd, in_parent, lnames->pdata[i], prefix, out, error))
        return FALSE;
    }
  /* only the top of a deleted subtree: removing it removes the rest */
  for (guint i = 0; i < pnames->len; i++)
    if (!g_hash_table_contains (in_layer, pnames->pdata[i]))
      {
        g_autofree char *path = g_strconcat (prefix, "/", (char *) pnames->pdata[i], NULL);
        berth_changes_add (out, BERTH_CHANGE_DELETED, path);
      }
  return TRUE;
}

GPtrArray *
berth_naive_changes (const char *layer_dir, const char *parent_dir, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) berth_change_free);
  int lfd = open (layer_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lfd < 0)
    return berth_fail_errno (error, errno, "open %s", layer_dir), NULL;
  int pfd = parent_dir ? open (parent_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  gboolean ok = parent_dir == NULL || pfd >= 0
                  ? walk (lfd, pfd, "", out, error)
                  : berth_fail_errno (error, errno, "open %s", parent_dir);
  close (lfd);
  if (pfd >= 0)
    close (pfd);
  if (!ok)
    return NULL;
  g_ptr_array_sort (out, cmp_change);
  return g_steal_pointer (&out);
}

static gboolean
write_changes (GPtrArray *changes, int lfd, int out_fd, GError **error)
{
  g_autoptr (BerthTarWriter) w = berth_tar_writer_new (out_fd, error);
  if (w == NULL)
    return FALSE;
  for (guint i = 0; i < changes->len; i++)
    {
      BerthChange *c = changes->pdata[i];
      const char *rel = c->path + 1;
      gboolean ok = c->kind == BERTH_CHANGE_DELETED
                      ? berth_tar_writer_add_whiteout (w, rel, error)
                      : berth_tar_writer_add (w, lfd, rel, rel, error);
      if (!ok)
        return FALSE;
    }
  return berth_tar_writer_finish (w, error);
}

gboolean
berth_naive_diff (const char *layer_dir, const char *parent_dir, int out_fd, GError **error)
{
  g_autoptr (GPtrArray) changes = berth_naive_changes (layer_dir, parent_dir, error);
  if (changes == NULL)
    return FALSE;
  int lfd = open (layer_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lfd < 0)
    return berth_fail_errno (error, errno, "open %s", layer_dir);
  gboolean ok = write_changes (changes, lfd, out_fd, error);
  close (lfd);
  return ok;
}

gint64
berth_naive_diff_size (const char *layer_dir, const char *parent_dir, GError **error)
{
  g_autoptr (GPtrArray) changes = berth_naive_changes (layer_dir, parent_dir, error);
  if (changes == NULL)
    return -1;
  int lfd = open (layer_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (lfd < 0)
    return berth_fail_errno (error, errno, "open %s", layer_dir), -1;
  gint64 size = 0;
  for (guint i = 0; i < changes->len && size >= 0; i++)
    {
      BerthChange *c = changes->pdata[i];
      struct stat st;
      if (c->kind == BERTH_CHANGE_DELETED)
        continue;
      if (fstatat (lfd, c->path + 1, &st, AT_SYMLINK_NOFOLLOW) < 0)
        size = (berth_fail_errno (error, errno, "stat %s", c->path), -1);
      else if (S_ISREG (st.st_mode))
        size += st.st_size;
    }
  close (lfd);
  return size;
}
