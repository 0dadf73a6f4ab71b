/* The overlay driver, laid out like Docker's overlay2. Under the home H:
 *
 *   H/<id>/diff    the layer's own files: the upperdir when it is mounted
 *   H/<id>/work    overlay's workdir
 *   H/<id>/merged  where the merged view is mounted
 *   H/<id>/link    a 26-character short name SHORT, with H/l/SHORT -> ../<id>/diff
 *   H/<id>/lower   "l/A:l/B:..." the short names of all ancestors, nearest first
 *   H/<id>/parent  the parent id, to know when a native diff applies
 *
 * The short relative names keep the mount options of a deep chain inside the
 * one page that mount(2) accepts. A base layer is never mounted: its diff is
 * already the whole tree. Whiteouts are overlay's own (0/0 character devices,
 * trusted.overlay.opaque="y"), so diff, changes and apply work on the upper
 * directory alone, without mounting anything. */
#include "config.h"
#include <berth/storage.h>
#include <berth/archive.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/magic.h>

#define OPAQUE_XATTR "trusted.overlay.opaque"
#define LINK_LEN 26

typedef struct {
  char *home;
  char *links; /* H/l */
} OvlPriv;

static OvlPriv *
priv (BerthStorage *s)
{
  return s->priv;
}

static char *
layer_file (BerthStorage *s, const char *id, const char *name)
{
  return g_build_filename (priv (s)->home, id, name, NULL);
}

static gboolean
is_whiteout (const struct stat *st)
{
  return S_ISCHR (st->st_mode) && st->st_rdev == makedev (0, 0);
}

/* Read H/<id>/<name>; a missing file gives TRUE with *out NULL, since
 * "lower" and "parent" are absent for a base layer. */
static gboolean
read_meta (BerthStorage *s, const char *id, const char *name, char **out, GError **error)
{
  g_autofree char *path = layer_file (s, id, name);
  g_autoptr (GError) local = NULL;
  *out = NULL;
  if (g_file_get_contents (path, out, NULL, &local))
    return TRUE;
  if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    return TRUE;
  return berth_fail (error, BERTH_ERROR_FAILED, "%s", local->message);
}

/* Mount overlay on @target with the working directory at @dir, so that the
 * relative layer names in the options resolve there. This changes the cwd of
 * the whole process for a moment: berth mounts from one thread only. */
static gboolean
mount_in (const char *dir, const char *lower, const char *upper, const char *work,
          const char *target, GError **error)
{
  g_autofree char *opts = g_strdup_printf (
      "lowerdir=%s,upperdir=%s,workdir=%s,index=off,redirect_dir=off,metacopy=off", lower,
      upper, work);
  /* redirect_dir and metacopy would leave renames and data outside the upper
   * directory, which the native diff reads alone; rule them out explicitly. */
  long page = sysconf (_SC_PAGESIZE);
  if ((long) strlen (opts) >= page)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "overlay mount options for %s are %zu bytes, over the %ld-byte limit "
                       "of mount(2): too many layers in the chain",
                       target, strlen (opts), page);
  int cwd = open (".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (cwd < 0)
    return berth_fail_errno (error, errno, "open the current directory");
  if (chdir (dir) < 0)
    {
      int errsv = errno;
      close (cwd);
      return berth_fail_errno (error, errsv, "chdir %s", dir);
    }
  int r = mount ("overlay", target, "overlay", 0, opts);
  int errsv = errno;
  if (fchdir (cwd) < 0)
    {
      int errsv2 = errno;
      close (cwd);
      if (r == 0)
        umount2 (target, MNT_DETACH); /* do not leave a mount the caller never learns of */
      return berth_fail_errno (error, errsv2, "restore the working directory after mounting %s",
                               target);
    }
  close (cwd);
  if (r < 0)
    return berth_fail_errno (error, errsv, "mount overlay on %s (upperdir %s in %s)", target,
                             upper, dir);
  return TRUE;
}

static gboolean
make_probe_dirs (const char *tmp, GError **error)
{
  const char *names[] = { "lower", "upper", "work", "merged" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *p = g_build_filename (tmp, names[i], NULL);
      if (mkdir (p, 0700) < 0)
        return berth_fail_errno (error, errno, "mkdir %s", p);
    }
  return TRUE;
}

/* The real test: some kernels and filesystems pass every static check and
 * still refuse the mount (no xattrs, no tmpfile, a user namespace). */
static gboolean
try_mount (const char *base, GError **error)
{
  /* ".tmp-": left by a kill, it is swept (and unmounted) when the store is opened. */
  g_autofree char *tmp = g_build_filename (base, ".berth-overlay-probe.tmp-XXXXXX", NULL);
  if (g_mkdtemp_full (tmp, 0700) == NULL)
    return berth_fail (error, BERTH_ERROR_BACKING_FS, "cannot make a test directory in %s: %s",
                       base, g_strerror (errno));
  g_autofree char *merged = g_build_filename (tmp, "merged", NULL);
  g_autoptr (GError) local = NULL;
  gboolean ok = make_probe_dirs (tmp, &local)
                && mount_in (tmp, "lower", "upper", "work", merged, &local)
                && berth_unmount (merged, &local);
  if (!berth_rm_rf (tmp, ok ? &local : NULL))
    ok = FALSE;
  if (ok)
    return TRUE;
  BerthError code = local->code == BERTH_ERROR_NOT_SUPPORTED ? BERTH_ERROR_NOT_SUPPORTED
                                                              : BERTH_ERROR_BACKING_FS;
  return berth_fail (error, code, "test overlay mount in %s failed: %s", base, local->message);
}

/* The full probe (d_type, a test mount) costs a few milliseconds on every
 * berth command; its verdict holds until the kernel or the filesystem under
 * the home changes, so it is remembered in the home keyed by both. */
static char *
probe_stamp (const char *home)
{
  struct utsname u;
  struct stat st;
  if (uname (&u) < 0 || stat (home, &st) < 0)
    return NULL;
  return g_strdup_printf ("%s %s %lu\n", u.release, u.version, (unsigned long) st.st_dev);
}

static gboolean
probe_remembered (const char *home)
{
  g_autofree char *path = g_build_filename (home, "probed", NULL);
  g_autofree char *saved = NULL;
  g_autofree char *now = probe_stamp (home);
  return now && g_file_get_contents (path, &saved, NULL, NULL) && strcmp (saved, now) == 0;
}

static void
remember_probe (const char *home)
{
  g_autofree char *path = g_build_filename (home, "probed", NULL);
  g_autofree char *now = probe_stamp (home);
  if (now)
    berth_write_file_atomic (path, now, strlen (now), 0600, NULL); /* only a cache */
}

static gboolean
ovl_probe (const char *home, GError **error)
{
  if (!berth_kernel_has_filesystem ("overlay", NULL, error))
    return FALSE;
  if (probe_remembered (home))
    return TRUE;
  g_autofree char *base = berth_nearest_existing_dir (home, error);
  if (base == NULL)
    return FALSE;
  struct statfs sfs;
  if (statfs (base, &sfs) < 0)
    return berth_fail_errno (error, errno, "statfs %s", base);
  if ((unsigned long) sfs.f_type == OVERLAYFS_SUPER_MAGIC)
    return berth_fail (error, BERTH_ERROR_BACKING_FS,
                       "backing filesystem at %s is itself overlay, which cannot hold an "
                       "upper layer; put the store on ext4, xfs or btrfs",
                       base);
  gboolean d_type = FALSE;
  g_autoptr (GError) local = NULL;
  if (!berth_fs_supports_d_type (base, &d_type, &local))
    return berth_fail (error, BERTH_ERROR_BACKING_FS, "%s", local->message);
  if (!d_type)
    return berth_fail (error, BERTH_ERROR_BACKING_FS,
                       "backing filesystem %s at %s does not support d_type (xfs needs "
                       "ftype=1; reformat with mkfs.xfs -n ftype=1)",
                       berth_fs_type_name (base), base);
  if (!try_mount (base, error))
    return FALSE;
  if (strcmp (base, home) == 0)
    remember_probe (home);
  return TRUE;
}

/* A create killed between making its short link and renaming its layer
 * into place leaves a link to nothing. */
static gboolean
remove_dangling_links (const char *links, GError **error)
{
  g_autoptr (GDir) d = g_dir_open (links, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree char *path = g_build_filename (links, name, NULL);
      struct stat st;
      if (stat (path, &st) < 0 && errno == ENOENT && unlink (path) < 0 && errno != ENOENT)
        return berth_fail_errno (error, errno, "unlink %s", path);
    }
  return TRUE;
}

static gpointer
ovl_init (const char *home, char **options, GError **error)
{
  if (options && options[0])
    {
      berth_fail (error, BERTH_ERROR_INVALID, "unknown option '%s' for the overlay driver",
                  options[0]);
      return NULL;
    }
  g_autofree char *links = g_build_filename (home, "l", NULL);
  if (!berth_mkdir_p (links, 0700, error))
    return NULL;
  OvlPriv *p = g_new0 (OvlPriv, 1);
  p->home = g_strdup (home);
  p->links = g_steal_pointer (&links);
  return p;
}

static gboolean
ovl_sweep (BerthStorage *s, GError **error)
{
  return berth_remove_stale_temps (priv (s)->home, error)
         && remove_dangling_links (priv (s)->links, error);
}

static void
ovl_cleanup (BerthStorage *s)
{
  OvlPriv *p = priv (s);
  if (p == NULL)
    return;
  g_free (p->home);
  g_free (p->links);
  g_free (p);
  s->priv = NULL;
}

/* Ids become path components under H, next to "l" and "refs". */
static gboolean
check_id (const char *id, GError **error)
{
  if (id[0] == '\0' || id[0] == '.' || strchr (id, '/') || strcmp (id, "l") == 0
      || strcmp (id, "refs") == 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "invalid layer id '%s'", id);
  return TRUE;
}

/* Pick an unused short name and point it at the layer's (future) diff. */
static char *
make_link (BerthStorage *s, const char *id, GError **error)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  g_autofree char *target = g_strdup_printf ("../%s/diff", id);
  for (int attempt = 0; attempt < 16; attempt++)
    {
      char name[LINK_LEN + 1];
      for (int i = 0; i < LINK_LEN; i++)
        name[i] = alphabet[g_random_int_range (0, sizeof alphabet - 1)];
      name[LINK_LEN] = '\0';
      g_autofree char *path = g_build_filename (priv (s)->links, name, NULL);
      if (symlink (target, path) == 0)
        return g_strdup (name);
      if (errno != EEXIST)
        {
          berth_fail_errno (error, errno, "symlink %s", path);
          return NULL;
        }
    }
  berth_fail (error, BERTH_ERROR_FAILED, "no free short name in %s", priv (s)->links);
  return NULL;
}

static gboolean
write_meta (const char *dir, const char *name, const char *text, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  return berth_write_file_atomic (path, text, strlen (text), 0600, error);
}

/* The new diff root takes the parent's root attributes, as overlay shows the
 * upper root's; a base layer gets the empty 0755 root of the contract. */
static gboolean
make_diff_dir (BerthStorage *s, const char *tmp, const char *parent, GError **error)
{
  g_autofree char *diff = g_build_filename (tmp, "diff", NULL);
  struct stat st = { .st_mode = 0755, .st_uid = 0, .st_gid = 0 };
  if (parent)
    {
      g_autofree char *pdiff = layer_file (s, parent, "diff");
      if (stat (pdiff, &st) < 0)
        return berth_fail_errno (error, errno, "stat %s", pdiff);
    }
  if (mkdir (diff, 0700) < 0)
    return berth_fail_errno (error, errno, "mkdir %s", diff);
  if (chown (diff, st.st_uid, st.st_gid) < 0)
    return berth_fail_errno (error, errno, "chown %s", diff);
  if (chmod (diff, st.st_mode & 07777) < 0)
    return berth_fail_errno (error, errno, "chmod %s", diff);
  return TRUE;
}

static gboolean
write_lower (BerthStorage *s, const char *tmp, const char *parent, GError **error)
{
  g_autofree char *plink = NULL;
  g_autofree char *plower = NULL;
  if (!read_meta (s, parent, "link", &plink, error) || !read_meta (s, parent, "lower", &plower, error))
    return FALSE;
  if (plink == NULL)
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "parent layer %s has no link file", parent);
  g_autofree char *lower = plower ? g_strdup_printf ("l/%s:%s", plink, plower)
                                  : g_strdup_printf ("l/%s", plink);
  return write_meta (tmp, "lower", lower, error) && write_meta (tmp, "parent", parent, error);
}

static gboolean
fill_layer (BerthStorage *s, const char *tmp, const char *id, const char *parent,
            char **link, GError **error)
{
  g_autofree char *work = g_build_filename (tmp, "work", NULL);
  g_autofree char *merged = g_build_filename (tmp, "merged", NULL);
  if (!make_diff_dir (s, tmp, parent, error))
    return FALSE;
  if (mkdir (work, 0700) < 0)
    return berth_fail_errno (error, errno, "mkdir %s", work);
  if (mkdir (merged, 0700) < 0)
    return berth_fail_errno (error, errno, "mkdir %s", merged);
  if (parent && !write_lower (s, tmp, parent, error))
    return FALSE;
  *link = make_link (s, id, error);
  return *link && write_meta (tmp, "link", *link, error);
}

/* Built under a temporary name and renamed into place, so H/<id>/diff (what
 * exists() checks) never names a half-made layer, even after a crash. */
static gboolean
ovl_create (BerthStorage *s, const char *id, const char *parent, gboolean writable,
            GError **error)
{
  if (!check_id (id, error))
    return FALSE;
  g_autofree char *final = g_build_filename (priv (s)->home, id, NULL);
  g_autofree char *tmp = g_strdup_printf ("%s/.tmp-%s-XXXXXX", priv (s)->home, id);
  if (g_mkdtemp_full (tmp, 0700) == NULL)
    return berth_fail_errno (error, errno, "mkdir %s", tmp);
  g_autofree char *link = NULL;
  gboolean ok = fill_layer (s, tmp, id, parent, &link, error);
  if (ok && rename (tmp, final) < 0)
    ok = berth_fail_errno (error, errno, "rename %s to %s", tmp, final);
  if (ok)
    return TRUE;
  /* Best effort: the first error is the one to report. */
  if (link)
    {
      g_autofree char *lpath = g_build_filename (priv (s)->links, link, NULL);
      unlink (lpath);
    }
  berth_rm_rf (tmp, NULL);
  return FALSE;
}

static gboolean
ovl_remove (BerthStorage *s, const char *id, GError **error)
{
  g_autofree char *merged = layer_file (s, id, "merged");
  g_autofree char *dir = g_build_filename (priv (s)->home, id, NULL);
  g_autofree char *link = NULL;
  if (!berth_unmount (merged, error) || !read_meta (s, id, "link", &link, error))
    return FALSE;
  /* The short name first, then the layer in one rename out of sight: a
   * kill between them leaves a whole layer (removed again by collection),
   * after them a staged tree the next command sweeps, never a link to
   * nothing or a layer with half its files. */
  if (link)
    {
      g_autofree char *lpath = g_build_filename (priv (s)->links, link, NULL);
      if (unlink (lpath) < 0 && errno != ENOENT)
        return berth_fail_errno (error, errno, "unlink %s", lpath);
    }
  return berth_rm_rf_staged (dir, error);
}

static gboolean
ovl_exists (BerthStorage *s, const char *id)
{
  if (!check_id (id, NULL))
    return FALSE;
  g_autofree char *diff = layer_file (s, id, "diff");
  struct stat st;
  return lstat (diff, &st) == 0 && S_ISDIR (st.st_mode);
}

/* The core may call get again for a layer whose count it believes is above
 * zero (a stale count after a reboot), so an existing mount is reused. */
static char *
ovl_get (BerthStorage *s, const char *id, GError **error)
{
  g_autofree char *lower = NULL;
  if (!read_meta (s, id, "lower", &lower, error))
    return NULL;
  if (lower == NULL)
    return layer_file (s, id, "diff");
  g_autofree char *merged = layer_file (s, id, "merged");
  if (berth_is_mountpoint (merged))
    return g_steal_pointer (&merged);
  g_autofree char *upper = g_build_filename (id, "diff", NULL);
  g_autofree char *work = g_build_filename (id, "work", NULL);
  if (!mount_in (priv (s)->home, g_strstrip (lower), upper, work, merged, error))
    return NULL;
  return g_steal_pointer (&merged);
}

static gboolean
ovl_put (BerthStorage *s, const char *id, GError **error)
{
  g_autofree char *merged = layer_file (s, id, "merged");
  return berth_unmount (merged, error);
}

static void
ovl_status (BerthStorage *s, GPtrArray *pairs)
{
  const char *home = priv (s)->home;
  gboolean d_type = FALSE;
  guint layers = 0;
  DIR *d = opendir (home);
  struct dirent *de;
  while (d && (de = readdir (d)) != NULL)
    {
      struct stat st;
      g_autofree char *diff = g_build_filename (home, de->d_name, "diff", NULL);
      if (de->d_name[0] != '.' && lstat (diff, &st) == 0 && S_ISDIR (st.st_mode))
        layers++;
    }
  if (d)
    closedir (d);
  g_ptr_array_add (pairs, g_strdup ("backing filesystem"));
  g_ptr_array_add (pairs, g_strdup (berth_fs_type_name (home)));
  g_ptr_array_add (pairs, g_strdup ("supports d_type"));
  g_ptr_array_add (pairs, g_strdup (berth_fs_supports_d_type (home, &d_type, NULL)
                                        ? (d_type ? "yes" : "no")
                                        : "unknown"));
  g_ptr_array_add (pairs, g_strdup ("layers"));
  g_ptr_array_add (pairs, g_strdup_printf ("%u", layers));
}

/* ---- Native diff: everything comes from the upper (diff) directory. ---- */

/* Missing xattr or no xattr support both mean "not opaque". */
static gboolean
fd_is_opaque (int fd)
{
  char v = 0;
  return fgetxattr (fd, OPAQUE_XATTR, &v, 1) == 1 && v == 'y';
}

static gboolean
path_is_opaque (const char *path)
{
  char v = 0;
  return lgetxattr (path, OPAQUE_XATTR, &v, 1) == 1 && v == 'y';
}

/* Called for each entry of the upper dir, parents before children.
 * @opaque: the entry is an opaque directory; @hidden: an ancestor is, so the
 * lower layers show nothing at this path. */
typedef gboolean (*Visit) (int root_fd, const char *rel, const struct stat *st, gboolean opaque,
                           gboolean hidden, gpointer data, GError **error);

static gboolean walk (int dir_fd, int root_fd, const char *rel, gboolean hidden, Visit visit,
                      gpointer data, GError **error);

static gboolean
walk_entry (int dir_fd, int root_fd, const char *name, const char *rel, gboolean hidden,
            Visit visit, gpointer data, GError **error)
{
  struct stat st;
  if (fstatat (dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return berth_fail_errno (error, errno, "stat %s", rel);
  if (!S_ISDIR (st.st_mode))
    return visit (root_fd, rel, &st, FALSE, hidden, data, error);
  int fd = openat (dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", rel);
  gboolean opaque = fd_is_opaque (fd);
  gboolean ok = visit (root_fd, rel, &st, opaque, hidden, data, error)
                && walk (fd, root_fd, rel, hidden || opaque, visit, data, error);
  close (fd);
  return ok;
}

static gboolean
walk (int dir_fd, int root_fd, const char *rel, gboolean hidden, Visit visit, gpointer data,
      GError **error)
{
  g_autoptr (GPtrArray) names = berth_dir_names_sorted (dir_fd, rel ? rel : ".", error);
  if (names == NULL)
    return FALSE;
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      g_autofree char *child = rel ? g_strdup_printf ("%s/%s", rel, name) : g_strdup (name);
      if (!walk_entry (dir_fd, root_fd, name, child, hidden, visit, data, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
walk_upper (BerthStorage *s, const char *id, Visit visit, gpointer data, GError **error)
{
  g_autofree char *diff = layer_file (s, id, "diff");
  int fd = open (diff, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", diff);
  gboolean ok = walk (fd, fd, NULL, FALSE, visit, data, error);
  close (fd);
  return ok;
}

/* The native diff reads the layer against the lower chain it was made on. */
static gboolean
check_parent (BerthStorage *s, const char *id, const char *parent, GError **error)
{
  g_autofree char *recorded = NULL;
  if (!read_meta (s, id, "parent", &recorded, error))
    return FALSE;
  if (g_strcmp0 (recorded, parent) != 0)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "overlay layer %s can only be diffed against its own parent %s",
                       id, recorded ? recorded : "(none)");
  return TRUE;
}

typedef enum { LOWER_MISS, LOWER_HIT, LOWER_HIDDEN } LowerState;

/* What lower layer @layer says about @comps: has it, hides it (whiteout,
 * non-directory ancestor, opaque ancestor), or leaves it to the layers below. */
static gboolean
probe_lower (const char *layer, char **comps, LowerState *state, GError **error)
{
  g_autoptr (GString) path = g_string_new (layer);
  gboolean opaque = FALSE;
  for (guint k = 0; comps[k]; k++)
    {
      g_string_append_printf (path, "/%s", comps[k]);
      struct stat st;
      if (lstat (path->str, &st) < 0)
        {
          if (errno != ENOENT && errno != ENOTDIR)
            return berth_fail_errno (error, errno, "stat %s", path->str);
          *state = opaque ? LOWER_HIDDEN : LOWER_MISS;
          return TRUE;
        }
      if (is_whiteout (&st) || (comps[k + 1] && !S_ISDIR (st.st_mode)))
        {
          *state = LOWER_HIDDEN;
          return TRUE;
        }
      if (comps[k + 1] == NULL)
        {
          *state = LOWER_HIT;
          return TRUE;
        }
      opaque = opaque || path_is_opaque (path->str);
    }
  *state = LOWER_MISS;
  return TRUE;
}

typedef struct {
  GPtrArray *lowers; /* absolute paths through H/l/SHORT, nearest first */
  GPtrArray *changes;
} ChangesCtx;

static gboolean
in_lower_view (ChangesCtx *c, const char *rel, gboolean *found, GError **error)
{
  g_auto (GStrv) comps = g_strsplit (rel, "/", -1);
  *found = FALSE;
  for (guint i = 0; i < c->lowers->len; i++)
    {
      LowerState state = LOWER_MISS;
      if (!probe_lower (c->lowers->pdata[i], comps, &state, error))
        return FALSE;
      if (state != LOWER_MISS)
        {
          *found = state == LOWER_HIT;
          break;
        }
    }
  return TRUE;
}

/* A directory in the upper dir that the lower view also has is reported as
 * changed even if only a child was copied up, as Docker does. */
static gboolean
visit_change (int root_fd, const char *rel, const struct stat *st, gboolean opaque,
              gboolean hidden, gpointer data, GError **error)
{
  ChangesCtx *c = data;
  if (is_whiteout (st))
    {
      berth_changes_add (c->changes, BERTH_CHANGE_DELETED, rel);
      return TRUE;
    }
  gboolean found = FALSE;
  if (!hidden && !in_lower_view (c, rel, &found, error))
    return FALSE;
  berth_changes_add (c->changes, found ? BERTH_CHANGE_MODIFIED : BERTH_CHANGE_ADDED, rel);
  return TRUE;
}

static GPtrArray *
lower_paths (BerthStorage *s, const char *id, GError **error)
{
  g_autofree char *lower = NULL;
  if (!read_meta (s, id, "lower", &lower, error))
    return NULL;
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  if (lower == NULL)
    return paths;
  g_auto (GStrv) parts = g_strsplit (g_strstrip (lower), ":", -1);
  for (char **p = parts; *p; p++)
    g_ptr_array_add (paths, g_build_filename (priv (s)->home, *p, NULL));
  return paths;
}

static gint
compare_changes (gconstpointer a, gconstpointer b)
{
  const BerthChange *x = *(BerthChange *const *) a;
  const BerthChange *y = *(BerthChange *const *) b;
  return strcmp (x->path, y->path);
}

static GPtrArray *
ovl_changes (BerthStorage *s, const char *id, const char *parent, GError **error)
{
  if (!check_parent (s, id, parent, error))
    return NULL;
  g_autoptr (GPtrArray) lowers = lower_paths (s, id, error);
  if (lowers == NULL)
    return NULL;
  g_autoptr (GPtrArray) changes = g_ptr_array_new_with_free_func ((GDestroyNotify) berth_change_free);
  ChangesCtx c = { lowers, changes };
  if (!walk_upper (s, id, visit_change, &c, error))
    return NULL;
  g_ptr_array_sort (changes, compare_changes);
  return g_steal_pointer (&changes);
}

static gboolean
visit_tar (int root_fd, const char *rel, const struct stat *st, gboolean opaque,
           gboolean hidden, gpointer data, GError **error)
{
  BerthTarWriter *w = data;
  if (is_whiteout (st))
    return berth_tar_writer_add_whiteout (w, rel, error);
  if (!berth_tar_writer_add (w, root_fd, rel, rel, error))
    return FALSE;
  return !opaque || berth_tar_writer_add_opaque (w, rel, error);
}

static gboolean
ovl_diff (BerthStorage *s, const char *id, const char *parent, int out_fd, GError **error)
{
  if (!check_parent (s, id, parent, error))
    return FALSE;
  g_autoptr (BerthTarWriter) w = berth_tar_writer_new (out_fd, error);
  return w && walk_upper (s, id, visit_tar, w, error) && berth_tar_writer_finish (w, error);
}

typedef struct {
  gint64 size;
  GHashTable *inodes; /* hardlinked inodes already counted */
} SizeCtx;

static gboolean
visit_size (int root_fd, const char *rel, const struct stat *st, gboolean opaque,
            gboolean hidden, gpointer data, GError **error)
{
  SizeCtx *c = data;
  if (!S_ISREG (st->st_mode))
    return TRUE;
  if (st->st_nlink > 1)
    {
      char *key = g_strdup_printf ("%ju:%ju", (uintmax_t) st->st_dev, (uintmax_t) st->st_ino);
      if (!g_hash_table_add (c->inodes, key))
        return TRUE;
    }
  c->size += st->st_size;
  return TRUE;
}

static gint64
ovl_diff_size (BerthStorage *s, const char *id, const char *parent, GError **error)
{
  if (!check_parent (s, id, parent, error))
    return -1;
  g_autoptr (GHashTable) inodes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  SizeCtx c = { 0, inodes };
  return walk_upper (s, id, visit_size, &c, error) ? c.size : -1;
}

/* A base layer has nothing below it to hide: its whiteouts only delete, and
 * it carries no overlay markers (its diff is handed out unmounted). */
typedef struct {
  gboolean has_lower;
  guint whiteouts; /* made by this apply: then those hiding nothing are pruned */
} ApplyCtx;

static gboolean
apply_whiteout (int dirfd, const char *dir_relpath, const char *name, gpointer data,
                GError **error)
{
  ApplyCtx *c = data;
  if (!c->has_lower)
    return berth_rm_rf_at (dirfd, name, error);
  if (!berth_whiteout_mknod (dirfd, dir_relpath, name, error))
    return FALSE;
  c->whiteouts++;
  return TRUE;
}

static gboolean
apply_opaque (int dirfd, const char *dir_relpath, GHashTable *written, gpointer data,
              GError **error)
{
  ApplyCtx *c = data;
  if (c->has_lower && fsetxattr (dirfd, OPAQUE_XATTR, "y", 1, 0) < 0)
    return berth_fail_errno (error, errno, "mark %s opaque",
                             dir_relpath && *dir_relpath ? dir_relpath : ".");
  return TRUE;
}

/* A whiteout that hides nothing is not harmless: in a directory overlay does
 * not merge (a new one, an opaque one, or one that replaces a lower symlink or
 * file) readdir lists it as a name that cannot be opened. The full-tree
 * drivers, whose whiteouts only delete, never show one; so neither does this. */
static gboolean
visit_prune (int root_fd, const char *rel, const struct stat *st, gboolean opaque,
             gboolean hidden, gpointer data, GError **error)
{
  ChangesCtx *c = data;
  gboolean found = FALSE;
  if (!is_whiteout (st))
    return TRUE;
  if (!hidden && !in_lower_view (c, rel, &found, error))
    return FALSE;
  if (!found && unlinkat (root_fd, rel, 0) < 0)
    return berth_fail_errno (error, errno, "unlink whiteout %s", rel);
  return TRUE;
}

static gboolean
prune_whiteouts (BerthStorage *s, const char *id, GError **error)
{
  g_autoptr (GPtrArray) lowers = lower_paths (s, id, error);
  if (lowers == NULL)
    return FALSE;
  ChangesCtx c = { lowers, NULL };
  return walk_upper (s, id, visit_prune, &c, error);
}

static gint64
ovl_apply_diff (BerthStorage *s, const char *id, const char *parent, int in_fd, GError **error)
{
  if (!check_parent (s, id, parent, error))
    return -1;
  ApplyCtx ctx = { .has_lower = parent != NULL };
  const BerthWhiteoutOps ops = { apply_whiteout, apply_opaque, &ctx };
  g_autofree char *diff = layer_file (s, id, "diff");
  int fd = open (diff, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    {
      berth_fail_errno (error, errno, "open %s", diff);
      return -1;
    }
  gint64 size = berth_archive_extract (fd, in_fd, &ops, error);
  close (fd);
  if (size >= 0 && ctx.whiteouts > 0 && !prune_whiteouts (s, id, error))
    return -1;
  return size;
}

static GPtrArray *
ovl_list (BerthStorage *s, GError **error)
{
  return berth_storage_list_dir (s, priv (s)->home, "", error);
}

const BerthStorageOps berth_storage_overlay_ops = {
  .name = "overlay",
  .concurrent_unpack = TRUE,
  .probe = ovl_probe,
  .init = ovl_init,
  .cleanup = ovl_cleanup,
  .sweep = ovl_sweep,
  .create = ovl_create,
  .remove = ovl_remove,
  .get = ovl_get,
  .put = ovl_put,
  .exists = ovl_exists,
  .list = ovl_list,
  .status = ovl_status,
  .diff = ovl_diff,
  .changes = ovl_changes,
  .apply_diff = ovl_apply_diff,
  .diff_size = ovl_diff_size,
};
