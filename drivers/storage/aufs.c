/* The aufs driver, laid out like Docker's old aufs graphdriver. Under the
 * home H:
 *
 *   H/diff/<id>    the layer's branch: its own files, aufs whiteouts included
 *   H/layers/<id>  the ids of its ancestors, nearest parent first, one a line
 *                  (empty for a base layer); written last and atomically, so
 *                  it is what makes a layer exist
 *   H/mnt/<id>     where the union is mounted
 *
 * A union is diff/<id> as the one writable branch over the ancestors' branches
 * read-only ("=ro+wh": their whiteouts count). Every layer is mounted, even a
 * base one, so the view always comes through aufs.
 *
 * aufs whiteouts are the OCI ones (".wh.NAME" files, ".wh..wh..opq" in an
 * opaque directory), so apply_diff keeps them as files and diff, changes and
 * diff_size read the branch directory alone, without mounting anything. aufs
 * also keeps its own entries in a writable branch: ".wh..wh.aufs" (the file
 * its whiteouts are hardlinks of), ".wh..wh.plnk" (pseudo-links),
 * ".wh..wh.orph" and ".wh..wh.<tmp>" directories left by rmdir; every
 * ".wh..wh." name but the opaque marker is aufs's and never layer content.
 *
 * dirperm1 is found out once per process by a throw-away mount that asks for
 * it: aufs version strings changed form across aufs3/4/5 and distributions
 * patch aufs, so whether the kernel takes the option is the one sure answer.
 *
 * put remounts with clean_plink, then unmounts. When a file with several hard
 * links is copied up, aufs keeps a pseudo-link to the copy (a list in memory,
 * backed by .wh..wh.plnk) so that its other names follow it. clean_plink has
 * aufs drop that list while every branch is still in place, rather than
 * leaving it to the teardown; Docker ran aufs-util's "auplink flush" before
 * each unmount for the same reason, and berth, which does not depend on
 * aufs-util, asks the kernel directly. The diff never reads .wh..wh.plnk. An
 * aufs that refuses the option (EINVAL) is unmounted all the same; recent
 * ones accept and ignore it. */
#include "config.h"
#include "aufs.h"
#include <berth/storage.h>
#include <berth/archive.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* rename */
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/magic.h>
#include <gio/gio.h>

#define WH_PREFIX ".wh."
#define WH_META ".wh..wh."
#define WH_OPQ ".wh..wh..opq"
#define RW_PERM "=rw"
#define RO_PERM "=ro+wh"
#define AUFS_MAGIC 0x61756673 /* "aufs"; no kernel header carries it */

/* ---- mount data within one page ---- */

/* aufs splits its data at ',', a branch list at ':', and takes a branch's
 * permission from its first '='; a path holding one cannot be named. */
static gboolean
branch_ok (const char *branch, GError **error)
{
  if (branch[0] == '\0' || strpbrk (branch, ":,=") != NULL)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "aufs branch '%s' is empty or holds ':', ',' or '=', which aufs "
                       "mount data cannot carry",
                       branch);
  return TRUE;
}

/* Whether @s grown by @extra bytes, with its NUL, stays under a page. */
static gboolean
fits (const GString *s, gsize extra, gsize page_size)
{
  return s->len + extra + 1 < page_size;
}

static gboolean
too_long (GError **error, const char *branch, gsize need, gsize page_size)
{
  return berth_fail (error, BERTH_ERROR_INVALID,
                     "aufs branch %s cannot be mounted: naming it takes %zu bytes, and "
                     "mount(2) takes at most %zu",
                     branch, need + 1, page_size - 1);
}

/* The remounts: "append:DIR=ro+wh" options, as many to a string as fit.
 * aufs reads a remount's options left to right, so the order holds. */
static gboolean
plan_remounts (GPtrArray *out, const char *const *rest, gsize page_size, GError **error)
{
  g_autoptr (GString) cur = g_string_new (NULL);
  for (; *rest; rest++)
    {
      g_autofree char *opt = g_strdup_printf ("append:%s" RO_PERM, *rest);
      gsize len = strlen (opt);
      if (cur->len && !fits (cur, len + 1, page_size))
        {
          g_ptr_array_add (out, g_strdup (cur->str));
          g_string_truncate (cur, 0);
        }
      if (!fits (cur, len, page_size))
        return too_long (error, *rest, len, page_size);
      if (cur->len)
        g_string_append_c (cur, ',');
      g_string_append (cur, opt);
    }
  if (cur->len)
    g_ptr_array_add (out, g_strdup (cur->str));
  return TRUE;
}

GPtrArray *
berth_aufs_mount_data (const char *rw_branch, const char *const *ro_branches, gsize page_size,
                       gboolean dirperm1, GError **error)
{
  if (!branch_ok (rw_branch, error))
    return NULL;
  for (const char *const *b = ro_branches; *b; b++)
    if (!branch_ok (*b, error))
      return NULL;
  const char *opts = dirperm1 ? ",dio,xino=" BERTH_AUFS_XINO ",dirperm1"
                              : ",dio,xino=" BERTH_AUFS_XINO;
  g_autoptr (GString) first = g_string_new (NULL);
  g_string_printf (first, "br:%s" RW_PERM, rw_branch);
  if (!fits (first, strlen (opts), page_size))
    {
      too_long (error, rw_branch, first->len + strlen (opts), page_size);
      return NULL;
    }
  const char *const *rest = ro_branches;
  for (; *rest; rest++)
    {
      gsize add = 1 + strlen (*rest) + strlen (RO_PERM);
      if (!fits (first, add + strlen (opts), page_size))
        break;
      g_string_append_printf (first, ":%s" RO_PERM, *rest);
    }
  g_string_append (first, opts);
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (out, g_strdup (first->str));
  if (!plan_remounts (out, rest, page_size, error))
    return NULL;
  return g_steal_pointer (&out);
}

guint
berth_aufs_branch_max (const char *config_text)
{
  static const char key[] = "CONFIG_AUFS_BRANCH_MAX_";
  for (const char *at = config_text ? strstr (config_text, key) : NULL; at; at = strstr (at + 1, key))
    {
      char *end = NULL;
      guint64 n = g_ascii_strtoull (at + strlen (key), &end, 10);
      if (end && g_str_has_prefix (end, "=y") && n > 0 && n <= G_MAXUINT)
        return (guint) n;
    }
  return BERTH_AUFS_DEFAULT_BRANCH_MAX;
}

/* ---- whiteouts: kept as the files they are ---- */

/* An empty regular file of our own making: whatever a duplicate entry of the
 * stream left under the name goes first. */
static gboolean
put_marker (int dirfd, const char *dir_relpath, const char *name, GError **error)
{
  const char *dir = dir_relpath && dir_relpath[0] ? dir_relpath : ".";
  if (!berth_rm_rf_at (dirfd, name, error))
    return FALSE;
  int fd = openat (dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
  if (fd < 0)
    return berth_fail_errno (error, errno, "create %s/%s", dir, name);
  if (close (fd) < 0)
    return berth_fail_errno (error, errno, "close %s/%s", dir, name);
  return TRUE;
}

/* Nothing is deleted: in aufs a whiteout hides the lower branches only, the
 * same rule OCI gives a whiteout against its own layer. */
static gboolean
keep_whiteout (int dirfd, const char *dir_relpath, const char *name, gpointer data,
               GError **error)
{
  g_autofree char *wh = g_strconcat (WH_PREFIX, name, NULL);
  return put_marker (dirfd, dir_relpath, wh, error);
}

static gboolean
keep_opaque (int dirfd, const char *dir_relpath, GHashTable *written, gpointer data,
             GError **error)
{
  return put_marker (dirfd, dir_relpath, WH_OPQ, error);
}

const BerthWhiteoutOps berth_aufs_whiteout_ops = {
  .whiteout = keep_whiteout,
  .opaque = keep_opaque,
  .data = NULL,
};

/* ---- walking one branch ---- */

typedef struct Walk Walk;
struct Walk {
  int root_fd;
  gboolean root_opaque;
  /* An entry of the branch. @opaque: a directory with the opaque marker;
   * @hidden: below one, so no lower branch shows this path. */
  gboolean (*entry) (Walk *w, const char *rel, const struct stat *st, gboolean opaque,
                     gboolean hidden, GError **error);
  /* @rel: the path a ".wh." file deletes. */
  gboolean (*whiteout) (Walk *w, const char *rel, GError **error);
  gpointer data;
};

static char *
join_rel (const char *prefix, const char *name)
{
  return prefix[0] ? g_strconcat (prefix, "/", name, NULL) : g_strdup (name);
}

static gboolean
has_opaque_marker (int dirfd, const char *rel, gboolean *opaque, GError **error)
{
  struct stat st;
  *opaque = fstatat (dirfd, WH_OPQ, &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (!*opaque && errno != ENOENT)
    return berth_fail_errno (error, errno, "stat %s/" WH_OPQ, rel[0] ? rel : ".");
  return TRUE;
}

static gboolean walk_dir (Walk *w, int dirfd, const char *prefix, gboolean hidden,
                          GError **error);

static gboolean
walk_entry (Walk *w, int dirfd, const char *name, const char *rel, gboolean hidden,
            GError **error)
{
  struct stat st;
  if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return berth_fail_errno (error, errno, "stat %s", rel);
  if (!S_ISDIR (st.st_mode))
    return w->entry (w, rel, &st, FALSE, hidden, error);
  int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", rel);
  gboolean opaque = FALSE;
  gboolean ok = has_opaque_marker (fd, rel, &opaque, error)
                && w->entry (w, rel, &st, opaque, hidden, error)
                && walk_dir (w, fd, rel, hidden || opaque, error);
  close (fd);
  return ok;
}

static gboolean
walk_dir (Walk *w, int dirfd, const char *prefix, gboolean hidden, GError **error)
{
  g_autoptr (GPtrArray) names = berth_dir_names_sorted (dirfd, prefix[0] ? prefix : ".", error);
  if (names == NULL)
    return FALSE;
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      gboolean ok = TRUE;
      /* aufs's own entries, and the opaque marker the directory's visit carries */
      if (g_str_has_prefix (name, WH_META))
        continue;
      if (g_str_has_prefix (name, WH_PREFIX) && name[strlen (WH_PREFIX)])
        {
          g_autofree char *gone = join_rel (prefix, name + strlen (WH_PREFIX));
          ok = w->whiteout (w, gone, error);
        }
      else
        {
          g_autofree char *rel = join_rel (prefix, name);
          ok = walk_entry (w, dirfd, name, rel, hidden, error);
        }
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
walk_branch (const char *branch, Walk *w, GError **error)
{
  int fd = open (branch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", branch);
  w->root_fd = fd;
  gboolean ok = has_opaque_marker (fd, "", &w->root_opaque, error)
                && walk_dir (w, fd, "", w->root_opaque, error);
  close (fd);
  return ok;
}

/* ---- changes ---- */

typedef enum { BRANCH_SILENT, BRANCH_SHOWS, BRANCH_HIDES } BranchSays;

/* Whether @path exists; FALSE with an error only when it cannot be told. */
static gboolean
path_present (const char *path, gboolean *present, GError **error)
{
  struct stat st;
  *present = lstat (path, &st) == 0;
  if (!*present && errno != ENOENT)
    return berth_fail_errno (error, errno, "stat %s", path);
  return TRUE;
}

/* What one lower branch says of the path @comps: shows it, hides it (a
 * whiteout, a non-directory on the way, an opaque directory on the way that
 * lacks the rest), or leaves it to the branches below. */
static gboolean
branch_says (const char *branch, char **comps, BranchSays *says, GError **error)
{
  g_autofree char *dir = g_strdup (branch);
  gboolean opaque = FALSE;
  *says = BRANCH_SILENT;
  for (guint k = 0; comps[k]; k++)
    {
      g_autofree char *opq = g_strconcat (dir, "/" WH_OPQ, NULL);
      g_autofree char *path = g_strconcat (dir, "/", comps[k], NULL);
      g_autofree char *wh = g_strconcat (dir, "/" WH_PREFIX, comps[k], NULL);
      gboolean whited = FALSE;
      struct stat st;
      if (!path_present (opq, &opaque, error))
        return FALSE;
      if (lstat (path, &st) < 0)
        {
          if (errno != ENOENT)
            return berth_fail_errno (error, errno, "stat %s", path);
          if (!path_present (wh, &whited, error))
            return FALSE;
          *says = whited || opaque ? BRANCH_HIDES : BRANCH_SILENT;
          return TRUE;
        }
      if (comps[k + 1] == NULL)
        return *says = BRANCH_SHOWS, TRUE;
      if (!S_ISDIR (st.st_mode))
        return *says = BRANCH_HIDES, TRUE;
      g_free (dir);
      dir = g_steal_pointer (&path);
    }
  return TRUE;
}

static gboolean
lowers_show (const char *const *lowers, const char *rel, gboolean *shown, GError **error)
{
  g_auto (GStrv) comps = g_strsplit (rel, "/", -1);
  *shown = FALSE;
  for (const char *const *l = lowers; *l; l++)
    {
      BranchSays says;
      if (!branch_says (*l, comps, &says, error))
        return FALSE;
      if (says != BRANCH_SILENT)
        {
          *shown = says == BRANCH_SHOWS;
          break;
        }
    }
  return TRUE;
}

typedef struct {
  const char *const *lowers;
  GPtrArray *changes;
} ChangeWalk;

/* Every directory the branch holds is reported, changed where a lower branch
 * has it too, as Docker's aufs driver did: aufs copies a directory up only
 * to change something in or below it. An opaque directory replaces what the
 * lowers had, so it counts as changed. */
static gboolean
change_entry (Walk *w, const char *rel, const struct stat *st, gboolean opaque, gboolean hidden,
              GError **error)
{
  ChangeWalk *c = w->data;
  gboolean below = FALSE;
  if (!hidden && !opaque && !lowers_show (c->lowers, rel, &below, error))
    return FALSE;
  berth_changes_add (c->changes, !hidden && (opaque || below) ? BERTH_CHANGE_MODIFIED : BERTH_CHANGE_ADDED,
          rel);
  return TRUE;
}

static gboolean
change_whiteout (Walk *w, const char *rel, GError **error)
{
  ChangeWalk *c = w->data;
  berth_changes_add (c->changes, BERTH_CHANGE_DELETED, rel);
  return TRUE;
}

static gint
by_path (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(BerthChange *const *) a)->path, (*(BerthChange *const *) b)->path);
}

GPtrArray *
berth_aufs_changes (const char *branch, const char *const *lowers, GError **error)
{
  g_autoptr (GPtrArray) changes
      = g_ptr_array_new_with_free_func ((GDestroyNotify) berth_change_free);
  ChangeWalk c = { lowers, changes };
  Walk w = { .entry = change_entry, .whiteout = change_whiteout, .data = &c };
  if (!walk_branch (branch, &w, error))
    return NULL;
  g_ptr_array_sort (changes, by_path);
  return g_steal_pointer (&changes);
}

/* ---- diff tar and size ---- */

/* Whiteouts go out as canonical markers, not as the branch's files: aufs
 * makes its own whiteouts hardlinks of .wh..wh.aufs, which a tar would
 * otherwise carry as links between whiteouts. */
static gboolean
tar_entry (Walk *w, const char *rel, const struct stat *st, gboolean opaque, gboolean hidden,
           GError **error)
{
  BerthTarWriter *tw = w->data;
  return berth_tar_writer_add (tw, w->root_fd, rel, rel, error)
         && (!opaque || berth_tar_writer_add_opaque (tw, rel, error));
}

static gboolean
tar_whiteout (Walk *w, const char *rel, GError **error)
{
  return berth_tar_writer_add_whiteout (w->data, rel, error);
}

gboolean
berth_aufs_diff_tar (const char *branch, int out_fd, GError **error)
{
  g_autoptr (BerthTarWriter) tw = berth_tar_writer_new (out_fd, error);
  if (tw == NULL)
    return FALSE;
  Walk w = { .entry = tar_entry, .whiteout = tar_whiteout, .data = tw };
  return walk_branch (branch, &w, error)
         && (!w.root_opaque || berth_tar_writer_add_opaque (tw, "", error))
         && berth_tar_writer_finish (tw, error);
}

typedef struct {
  gint64 total;
  GHashTable *inodes; /* of files with several links, counted once */
} SizeWalk;

static gboolean
size_entry (Walk *w, const char *rel, const struct stat *st, gboolean opaque, gboolean hidden,
            GError **error)
{
  SizeWalk *z = w->data;
  if (!S_ISREG (st->st_mode))
    return TRUE;
  /* one branch is one filesystem, so the inode number alone names a file */
  if (st->st_nlink > 1)
    {
      gint64 *ino = g_new (gint64, 1);
      *ino = (gint64) st->st_ino;
      if (!g_hash_table_add (z->inodes, ino))
        return TRUE;
    }
  z->total += st->st_size;
  return TRUE;
}

static gboolean
size_whiteout (Walk *w, const char *rel, GError **error)
{
  return TRUE;
}

gint64
berth_aufs_branch_size (const char *branch, GError **error)
{
  g_autoptr (GHashTable) inodes = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  SizeWalk z = { 0, inodes };
  Walk w = { .entry = size_entry, .whiteout = size_whiteout, .data = &z };
  return walk_branch (branch, &w, error) ? z.total : -1;
}

/* ---- the driver ---- */

typedef struct {
  char *home;
  char *diff;   /* H/diff */
  char *layers; /* H/layers */
  char *mnt;    /* H/mnt */
  /* What this kernel's aufs allows, probed on first use: it is built in or
   * loaded once per boot, and asking mounts (dirperm1) or reads files. */
  gboolean probed;
  gboolean dirperm1;
  guint branch_max;
} AufsPriv;

static void
aufs_priv_free (AufsPriv *p)
{
  if (p == NULL)
    return;
  g_free (p->home);
  g_free (p->diff);
  g_free (p->layers);
  g_free (p->mnt);
  g_free (p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AufsPriv, aufs_priv_free)

static AufsPriv *
priv (BerthStorage *s)
{
  return s->priv;
}

static char *
branch_of (BerthStorage *s, const char *id)
{
  return g_build_filename (priv (s)->diff, id, NULL);
}

static char *
chain_file (BerthStorage *s, const char *id)
{
  return g_build_filename (priv (s)->layers, id, NULL);
}

static char *
mountpoint_of (BerthStorage *s, const char *id)
{
  return g_build_filename (priv (s)->mnt, id, NULL);
}

/* Ids become names in diff/, layers/ and mnt/, next to the ".tmp-" debris
 * that the sweep op removes. */
static gboolean
check_id (const char *id, GError **error)
{
  if (id[0] == '\0' || id[0] == '.' || strchr (id, '/') || strstr (id, ".tmp-"))
    return berth_fail (error, BERTH_ERROR_INVALID, "invalid layer id '%s'", id);
  return TRUE;
}

static char *
read_chain_text (BerthStorage *s, const char *id, GError **error)
{
  g_autofree char *path = chain_file (s, id);
  g_autoptr (GError) local = NULL;
  char *text = NULL;
  if (g_file_get_contents (path, &text, NULL, &local))
    return text;
  if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    berth_fail (error, BERTH_ERROR_NOT_FOUND, "layer %s is not in aufs", id);
  else
    berth_fail (error, BERTH_ERROR_FAILED, "%s", local->message);
  return NULL;
}

/* The ancestors of @id, nearest first. */
static GPtrArray *
read_chain (BerthStorage *s, const char *id, GError **error)
{
  g_autofree char *text = read_chain_text (s, id, error);
  if (text == NULL)
    return NULL;
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      if (**l == '\0')
        continue;
      if (!check_id (*l, error))
        return NULL;
      g_ptr_array_add (ids, g_strdup (*l));
    }
  return g_steal_pointer (&ids);
}

/* The native diff reads the branch against the chain it was made on. */
static gboolean
parent_matches (BerthStorage *s, const char *id, const char *parent, GError **error)
{
  g_autoptr (GPtrArray) chain = read_chain (s, id, error);
  if (chain == NULL)
    return FALSE;
  const char *own = chain->len ? chain->pdata[0] : NULL;
  if (g_strcmp0 (own, parent) == 0)
    return TRUE;
  return berth_fail (error, BERTH_ERROR_INVALID,
                     "aufs layer %s can only be compared with its own parent %s", id,
                     own ? own : "(none)");
}

/* The branches under @id, nearest first, NULL-terminated. */
static GPtrArray *
lower_branches (BerthStorage *s, const char *id, GError **error)
{
  g_autoptr (GPtrArray) chain = read_chain (s, id, error);
  if (chain == NULL)
    return NULL;
  GPtrArray *dirs = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < chain->len; i++)
    g_ptr_array_add (dirs, branch_of (s, chain->pdata[i]));
  g_ptr_array_add (dirs, NULL);
  return dirs;
}

/* ---- probe ---- */

static gboolean
aufs_probe (const char *home, GError **error)
{
  if (!berth_kernel_has_filesystem ("aufs", "aufs is an out-of-tree patch", error))
    return FALSE;
  g_autofree char *where = berth_nearest_existing_dir (home, error);
  if (where == NULL)
    return FALSE;
  struct statfs sfs;
  if (statfs (where, &sfs) < 0)
    return berth_fail_errno (error, errno, "statfs %s", where);
  if ((unsigned long) sfs.f_type == AUFS_MAGIC)
    return berth_fail (error, BERTH_ERROR_BACKING_FS,
                       "backing filesystem at %s is itself aufs, which cannot hold aufs "
                       "branches; put the store on ext4 or xfs",
                       where);
  if ((unsigned long) sfs.f_type == BTRFS_SUPER_MAGIC)
    return berth_fail (error, BERTH_ERROR_BACKING_FS,
                       "backing filesystem at %s is btrfs, which aufs does not support as a "
                       "branch (inode numbers repeat across btrfs subvolumes, and aufs's xino "
                       "table needs them unique); put the store on ext4 or xfs, or use the "
                       "btrfs driver",
                       where);
  return TRUE;
}

/* ---- what this kernel's aufs allows ---- */

/* A mount that asks for dirperm1; any failure means "no", which is the
 * verdict wanted, so the calls here report nothing. */
static gboolean
try_dirperm1 (const char *home)
{
  g_autofree char *tmp = g_build_filename (home, ".tmp-dirperm1-XXXXXX", NULL);
  if (g_mkdtemp_full (tmp, 0700) == NULL)
    return FALSE;
  g_autofree char *base = g_build_filename (tmp, "base", NULL);
  g_autofree char *target = g_build_filename (tmp, "union", NULL);
  gboolean yes = FALSE;
  if (mkdir (base, 0700) == 0 && mkdir (target, 0700) == 0)
    {
      g_autofree char *data
          = g_strdup_printf ("br:%s" RW_PERM ",dirperm1,xino=" BERTH_AUFS_XINO, base);
      yes = mount ("none", target, "aufs", 0, data) == 0;
      if (yes && umount2 (target, 0) < 0)
        umount2 (target, MNT_DETACH);
    }
  berth_rm_rf (tmp, NULL); /* a leftover has ".tmp-" in its name: the sweep op removes it */
  return yes;
}

/* The text of a gzip file, NUL-terminated, or NULL. */
static char *
read_gzip (const char *path)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileInputStream) in = g_file_read (file, NULL, NULL);
  if (in == NULL)
    return NULL;
  g_autoptr (GZlibDecompressor) gunzip = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
  g_autoptr (GInputStream) text
      = g_converter_input_stream_new (G_INPUT_STREAM (in), G_CONVERTER (gunzip));
  g_autoptr (GOutputStream) out = g_memory_output_stream_new_resizable ();
  if (g_output_stream_splice (out, text, G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE, NULL, NULL) < 0
      || !g_output_stream_write_all (out, "", 1, NULL, NULL, NULL)
      || !g_output_stream_close (out, NULL, NULL))
    return NULL;
  return g_memory_output_stream_steal_data (G_MEMORY_OUTPUT_STREAM (out));
}

/* Where aufs is a module, only /sys/fs/aufs/config lists its config; a
 * built-in aufs is in the kernel's own (/proc/config.gz, /boot/config-RELEASE). */
static char *
read_aufs_config (void)
{
  char *text = NULL;
  if (g_file_get_contents ("/sys/fs/aufs/config", &text, NULL, NULL))
    return text;
  if ((text = read_gzip ("/proc/config.gz")) != NULL)
    return text;
  struct utsname u;
  if (uname (&u) < 0)
    return NULL;
  g_autofree char *boot = g_strdup_printf ("/boot/config-%s", u.release);
  return g_file_get_contents (boot, &text, NULL, NULL) ? text : NULL;
}

/* Beyond the limit aufs refuses a branch with ENOSPC; Docker kept images to
 * 125 layers for the default 127. dirperm1 checks a directory's permission
 * bits on the top branch only, so a mode a container set on its copy is the
 * one that counts. */
static AufsPriv *
probed_priv (BerthStorage *s)
{
  AufsPriv *p = s->priv;
  if (!p->probed)
    {
      g_autofree char *config = read_aufs_config ();
      p->branch_max = berth_aufs_branch_max (config);
      p->dirperm1 = try_dirperm1 (p->home);
      p->probed = TRUE;
    }
  return p;
}

/* ---- init, create, remove ---- */

static gpointer
aufs_init (const char *home, char **options, GError **error)
{
  /* no tunables: the core hands none, but refuse any all the same */
  if (options && options[0])
    return berth_fail (error, BERTH_ERROR_INVALID, "unknown option '%s' for the aufs driver",
                       options[0]), NULL;
  g_autoptr (AufsPriv) p = g_new0 (AufsPriv, 1);
  p->home = g_strdup (home);
  p->diff = g_build_filename (home, "diff", NULL);
  p->layers = g_build_filename (home, "layers", NULL);
  p->mnt = g_build_filename (home, "mnt", NULL);
  if (!berth_mkdir_p (p->diff, 0700, error) || !berth_mkdir_p (p->layers, 0700, error)
      || !berth_mkdir_p (p->mnt, 0700, error))
    return NULL;
  return g_steal_pointer (&p);
}

static gboolean
aufs_sweep (BerthStorage *s, GError **error)
{
  return berth_remove_stale_temps (priv (s)->home, error)
         && berth_remove_stale_temps (priv (s)->diff, error)
         && berth_remove_stale_temps (priv (s)->layers, error);
}

static void
aufs_cleanup (BerthStorage *s)
{
  g_clear_pointer ((AufsPriv **) &s->priv, aufs_priv_free);
}

/* mkdir with exactly @mode, whatever the umask; an existing one is fine
 * when @may_exist (a mount point a killed remove left). */
static gboolean
make_dir (const char *path, mode_t mode, gboolean may_exist, GError **error)
{
  if (mkdir (path, mode) < 0 && !(may_exist && errno == EEXIST))
    return berth_fail_errno (error, errno, "mkdir %s", path);
  if (chmod (path, mode) < 0)
    return berth_fail_errno (error, errno, "chmod %s", path);
  return TRUE;
}

/* What layers/<id> says for a child of @parent: the parent, then its chain. */
static char *
child_chain (BerthStorage *s, const char *parent, GError **error)
{
  if (parent == NULL)
    return g_strdup ("");
  g_autofree char *above = read_chain_text (s, parent, error);
  return above ? g_strconcat (parent, "\n", above, NULL) : NULL;
}

/* The layers file goes last: until it is there the layer does not exist,
 * and a branch without one is debris from a killed create or remove. */
static gboolean
aufs_create (BerthStorage *s, const char *id, const char *parent, gboolean writable,
             GError **error)
{
  if (!check_id (id, error))
    return FALSE;
  g_autofree char *chain = child_chain (s, parent, error);
  if (chain == NULL)
    return FALSE;
  g_autofree char *branch = branch_of (s, id);
  g_autofree char *mnt = mountpoint_of (s, id);
  g_autofree char *file = chain_file (s, id);
  if (!berth_rm_rf (branch, error))
    return FALSE;
  gboolean ok = make_dir (branch, 0755, FALSE, error) && make_dir (mnt, 0755, TRUE, error)
                && berth_write_file_atomic (file, chain, strlen (chain), 0600, error);
  if (ok)
    return TRUE;
  berth_rm_rf (branch, NULL); /* best effort: the first error is the one to report */
  rmdir (mnt);
  return FALSE;
}

static gboolean
release_mount (const char *target, GError **error)
{
  if (!berth_is_mountpoint (target))
    return TRUE;
  if (mount ("none", target, "aufs", MS_REMOUNT, "clean_plink") < 0 && errno != EINVAL)
    return berth_fail_errno (error, errno, "remount %s with clean_plink", target);
  return berth_unmount (target, error);
}

/* The branch leaves its name first, so exists() turns false at once and a
 * crash from there on leaves a ".tmp-" name that the sweep op removes. */
static gboolean
aufs_remove (BerthStorage *s, const char *id, GError **error)
{
  if (!check_id (id, error))
    return FALSE;
  g_autofree char *mnt = mountpoint_of (s, id);
  g_autofree char *branch = branch_of (s, id);
  g_autofree char *doomed = g_strconcat (branch, ".tmp-removing", NULL);
  g_autofree char *file = chain_file (s, id);
  if (!release_mount (mnt, error) || !berth_rm_rf (doomed, error))
    return FALSE;
  if (rename (branch, doomed) < 0 && errno != ENOENT)
    return berth_fail_errno (error, errno, "rename %s to %s", branch, doomed);
  if (unlink (file) < 0 && errno != ENOENT)
    return berth_fail_errno (error, errno, "unlink %s", file);
  if (!berth_rm_rf (doomed, error))
    return FALSE;
  if (rmdir (mnt) < 0 && errno != ENOENT)
    return berth_fail_errno (error, errno, "rmdir %s", mnt);
  return TRUE;
}

static gboolean
aufs_exists (BerthStorage *s, const char *id)
{
  if (!check_id (id, NULL))
    return FALSE;
  g_autofree char *file = chain_file (s, id);
  g_autofree char *branch = branch_of (s, id);
  struct stat st;
  return lstat (file, &st) == 0 && S_ISREG (st.st_mode) && lstat (branch, &st) == 0
         && S_ISDIR (st.st_mode);
}

/* ---- get, put ---- */

static GPtrArray *
plan_mount (BerthStorage *s, const char *id, GError **error)
{
  g_autoptr (GPtrArray) lowers = lower_branches (s, id, error);
  if (lowers == NULL)
    return NULL;
  guint branches = lowers->len; /* the NULL at the end stands for the writable one */
  guint max = probed_priv (s)->branch_max;
  if (branches > max)
    {
      berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                  "layer %s needs %u aufs branches (its chain of layers), and this kernel's aufs "
                  "takes at most %u (CONFIG_AUFS_BRANCH_MAX_%u); use overlay, or an image of "
                  "fewer layers",
                  id, branches, max, max);
      return NULL;
    }
  g_autofree char *rw = branch_of (s, id);
  long page = sysconf (_SC_PAGESIZE);
  if (page <= 0)
    {
      berth_fail_errno (error, errno, "sysconf _SC_PAGESIZE");
      return NULL;
    }
  return berth_aufs_mount_data (rw, (const char *const *) lowers->pdata, (gsize) page,
                                probed_priv (s)->dirperm1, error);
}

/* The first string mounts, the rest append branches by remount. */
static gboolean
mount_union (const char *target, GPtrArray *data, GError **error)
{
  if (mount ("none", target, "aufs", 0, data->pdata[0]) < 0)
    return berth_fail_errno (error, errno, "mount aufs on %s", target);
  for (guint i = 1; i < data->len; i++)
    if (mount ("none", target, "aufs", MS_REMOUNT, data->pdata[i]) < 0)
      {
        int errsv = errno;
        umount2 (target, MNT_DETACH); /* a union missing branches must not be handed out */
        return berth_fail_errno (error, errsv, "append branches to the aufs mount on %s "
                                 "(remount %u of %u)", target, i, data->len - 1);
      }
  return TRUE;
}

/* The core may call get for a layer it already counts as mounted (a stale
 * count after a reboot), so an existing mount is reused. */
static char *
aufs_get (BerthStorage *s, const char *id, GError **error)
{
  g_autofree char *mnt = mountpoint_of (s, id);
  if (berth_is_mountpoint (mnt))
    return g_steal_pointer (&mnt);
  g_autoptr (GPtrArray) data = plan_mount (s, id, error);
  if (data == NULL || !make_dir (mnt, 0755, TRUE, error) || !mount_union (mnt, data, error))
    return NULL;
  return g_steal_pointer (&mnt);
}

static gboolean
aufs_put (BerthStorage *s, const char *id, GError **error)
{
  g_autofree char *mnt = mountpoint_of (s, id);
  return release_mount (mnt, error);
}

static void
aufs_status (BerthStorage *s, GPtrArray *pairs)
{
  guint layers = 0;
  g_autoptr (GDir) d = g_dir_open (priv (s)->layers, 0, NULL);
  for (const char *n = d ? g_dir_read_name (d) : NULL; n; n = g_dir_read_name (d))
    if (!strstr (n, ".tmp-"))
      layers++;
  g_ptr_array_add (pairs, g_strdup ("backing filesystem"));
  g_ptr_array_add (pairs, g_strdup (berth_fs_type_name (priv (s)->home)));
  g_ptr_array_add (pairs, g_strdup ("dirperm1"));
  g_ptr_array_add (pairs, g_strdup (probed_priv (s)->dirperm1 ? "yes" : "no"));
  g_ptr_array_add (pairs, g_strdup ("branches per mount"));
  g_ptr_array_add (pairs, g_strdup_printf ("at most %u", probed_priv (s)->branch_max));
  g_ptr_array_add (pairs, g_strdup ("layers"));
  g_ptr_array_add (pairs, g_strdup_printf ("%u", layers));
}

/* ---- native diff: the branch alone ---- */

static GPtrArray *
aufs_changes (BerthStorage *s, const char *id, const char *parent, GError **error)
{
  if (!parent_matches (s, id, parent, error))
    return NULL;
  g_autoptr (GPtrArray) lowers = lower_branches (s, id, error);
  if (lowers == NULL)
    return NULL;
  g_autofree char *branch = branch_of (s, id);
  return berth_aufs_changes (branch, (const char *const *) lowers->pdata, error);
}

static gboolean
aufs_diff (BerthStorage *s, const char *id, const char *parent, int out_fd, GError **error)
{
  if (!parent_matches (s, id, parent, error))
    return FALSE;
  g_autofree char *branch = branch_of (s, id);
  return berth_aufs_diff_tar (branch, out_fd, error);
}

static gint64
aufs_diff_size (BerthStorage *s, const char *id, const char *parent, GError **error)
{
  if (!parent_matches (s, id, parent, error))
    return -1;
  g_autofree char *branch = branch_of (s, id);
  return berth_aufs_branch_size (branch, error);
}

static gint64
aufs_apply_diff (BerthStorage *s, const char *id, const char *parent, int in_fd, GError **error)
{
  if (!parent_matches (s, id, parent, error))
    return -1;
  g_autofree char *branch = branch_of (s, id);
  int fd = open (branch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", branch), -1;
  gint64 size = berth_archive_extract (fd, in_fd, &berth_aufs_whiteout_ops, error);
  close (fd);
  return size;
}

static GPtrArray *
aufs_list (BerthStorage *s, GError **error)
{
  return berth_storage_list_dir (s, priv (s)->layers, "", error);
}

const BerthStorageOps berth_storage_aufs_ops = {
  .name = "aufs",
  .concurrent_unpack = TRUE,
  .probe = aufs_probe,
  .init = aufs_init,
  .cleanup = aufs_cleanup,
  .sweep = aufs_sweep,
  .create = aufs_create,
  .remove = aufs_remove,
  .get = aufs_get,
  .put = aufs_put,
  .exists = aufs_exists,
  .list = aufs_list,
  .status = aufs_status,
  .diff = aufs_diff,
  .changes = aufs_changes,
  .apply_diff = aufs_apply_diff,
  .diff_size = aufs_diff_size,
};
