#include "config.h"
#include <berth/archive.h>
#include <berth/copy.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define WH_PREFIX ".wh."
#define WH_META_PREFIX ".wh..wh."
#define WH_OPAQUE ".wh..wh..opq"
#define CHUNK (64 * 1024)
/* read side: a plain tar of small files is mostly headers; big reads keep the
 * read(2) count low */
#define READ_BLOCK (1024 * 1024)

typedef struct archive BerthArchive;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthArchive, archive_read_free)
typedef struct archive_entry BerthArchiveEntry;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthArchiveEntry, archive_entry_free)

/* A path under @dirfd as a path string, so the l*xattr calls (which have no
 * *at form in glibc) still start from the already-resolved directory. */
static char *
fd_path (int dirfd, const char *relpath)
{
  if (dirfd == AT_FDCWD || relpath[0] == '/')
    return g_strdup (relpath);
  return g_strdup_printf ("/proc/self/fd/%d/%s", dirfd, relpath);
}

static const char *
archive_reason (struct archive *a)
{
  const char *s = archive_error_string (a);
  return s ? s : "unknown libarchive error";
}

/* ------------------------------------------------------------------ reading */

typedef struct {
  char *relpath;
  struct timespec ts[2];
} DirTime;

static void
dir_time_free (gpointer p)
{
  DirTime *d = p;
  g_free (d->relpath);
  g_free (d);
}

typedef struct {
  int root_fd;
  const BerthWhiteoutOps *whiteouts;
  GHashTable *written;   /* relpaths made by this extraction */
  GPtrArray *dir_times;  /* applied last: creating children moves a dir's mtime */
  gint64 bytes;
  gint64 data_written;    /* bytes of file data written (holes not counted) */
  gint64 max;             /* refuse to write more than this; 0: no limit */
  const char *max_option; /* what raises @max, for the error */
  gint64 owner_uid, owner_gid; /* >= 0: every entry gets this owner, not the tar's */
  /* The last resolved parent directory. Tar streams group entries by
   * directory, so consecutive entries mostly share it. It is only reused while
   * nothing has been removed, replaced or made a symlink since it was resolved:
   * new names cannot change what an existing path resolves to, so the fd is
   * what openat2 would give again. */
  int parent_fd;        /* -1: none cached */
  GString *parent_path; /* what parent_fd was resolved from */
  gboolean changed;     /* this entry removed/replaced something or made a symlink */
} Extractor;

static void
drop_parent (Extractor *x)
{
  if (x->parent_fd >= 0)
    close (x->parent_fd);
  x->parent_fd = -1;
}

static gboolean
bad_entry (GError **error, const char *name, const char *reason)
{
  /* names may be PATH_MAX long; keep the message one readable line */
  if (strlen (name) > 200)
    return berth_fail (error, BERTH_ERROR_BAD_ARCHIVE, "archive entry '%.200s...': %s", name,
                       reason);
  return berth_fail (error, BERTH_ERROR_BAD_ARCHIVE, "archive entry '%s': %s", name, reason);
}

/* The layer-relative form of a tar name: no "./", "." or empty components and
 * no trailing slash; "" is the layer root itself. NULL with @problem set if
 * the name is unsafe. */
static char *
normalise_name (const char *raw, const char **problem)
{
  if (raw == NULL || raw[0] == '\0')
    return *problem = "empty name", NULL;
  if (strlen (raw) >= PATH_MAX)
    return *problem = "name longer than PATH_MAX", NULL;
  if (raw[0] == '/')
    return *problem = "absolute path", NULL;
  g_autofree char *out = g_malloc (strlen (raw) + 1);
  gsize len = 0;
  for (const char *p = raw; *p;)
    {
      const char *end = strchrnul (p, '/');
      gsize n = end - p;
      if (n == 2 && p[0] == '.' && p[1] == '.')
        return *problem = "'..' component", NULL;
      if (n > NAME_MAX)
        return *problem = "component longer than NAME_MAX", NULL;
      if (n > 0 && !(n == 1 && p[0] == '.'))
        {
          if (len > 0)
            out[len++] = '/';
          memcpy (out + len, p, n);
          len += n;
        }
      p = *end ? end + 1 : end;
    }
  out[len] = '\0';
  return g_steal_pointer (&out);
}

int
berth_open_in_root (int root_fd, const char *relpath, guint64 flags)
{
  struct open_how how = {
    .flags = flags | O_CLOEXEC,
    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
  };
  for (int tries = 0;; tries++)
    {
      long fd = syscall (SYS_openat2, root_fd, relpath, &how, sizeof how);
      /* EAGAIN: a concurrent rename raced the lookup; the kernel asks to retry */
      if (fd >= 0 || errno != EAGAIN || tries >= 16)
        return (int) fd;
    }
}

static gboolean
parent_error (GError **error, const char *rel, const char *prefix, int errsv)
{
  if (errsv == ENOTDIR || errsv == ELOOP || errsv == EEXIST || errsv == ENOENT)
    {
      g_autofree char *why = g_strdup_printf ("parent '%s' is not a directory", prefix);
      return bad_entry (error, rel, why);
    }
  return berth_fail_errno (error, errsv, "open parent of %s", rel);
}

/* @name under @dirfd is taken yet did not resolve to a directory: a symlink
 * whose target the layer does not have (it resolves among the layer's own
 * entries only), or something that is no directory. */
static gboolean
unresolved_parent (int dirfd, const char *name, const char *rel, const char *prefix,
                   GError **error)
{
  char target[PATH_MAX];
  ssize_t n = readlinkat (dirfd, name, target, sizeof target - 1);
  if (n < 0)
    return parent_error (error, rel, prefix, EEXIST);
  target[n] = '\0';
  g_autofree char *why = g_strdup_printf ("parent '%s' is a symlink to '%.200s', "
                                          "which is not in this layer", prefix, target);
  return bad_entry (error, rel, why);
}

/* Walk @parent one component at a time, making the missing directories inside
 * the already-resolved one, so a dangling symlink is never created through. */
static int
make_parents (Extractor *x, const char *rel, const char *parent, GError **error)
{
  g_auto (GStrv) comps = g_strsplit (parent, "/", -1);
  g_autoptr (GString) prefix = g_string_new (NULL);
  int cur = openat (x->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cur < 0)
    return berth_fail_errno (error, errno, "open layer root"), -1;
  for (char **c = comps; *c; c++)
    {
      if (prefix->len > 0)
        g_string_append_c (prefix, '/');
      g_string_append (prefix, *c);
      int next = berth_open_in_root (x->root_fd, prefix->str, O_RDONLY | O_DIRECTORY);
      if (next < 0 && errno == ENOENT)
        {
          if (mkdirat (cur, *c, 0755) < 0)
            {
              int errsv = errno;
              if (errsv == EEXIST)
                unresolved_parent (cur, *c, rel, prefix->str, error);
              else
                parent_error (error, rel, prefix->str, errsv);
              close (cur);
              return -1;
            }
          g_hash_table_add (x->written, g_strdup (prefix->str));
          next = openat (cur, *c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
      int errsv = errno;
      close (cur);
      if (next < 0)
        return parent_error (error, rel, prefix->str, errsv), -1;
      cur = next;
    }
  return cur;
}

static int
resolve_parent (Extractor *x, const char *rel, const char *parent, GError **error)
{
  if (parent[0] == '\0')
    {
      int fd = openat (x->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0)
        berth_fail_errno (error, errno, "open layer root");
      return fd;
    }
  int fd = berth_open_in_root (x->root_fd, parent, O_RDONLY | O_DIRECTORY);
  if (fd >= 0)
    return fd;
  if (errno != ENOENT)
    return parent_error (error, rel, parent, errno), -1;
  return make_parents (x, rel, parent, error);
}

/* The entry's parent, resolved inside the layer; owned by @x (do not close).
 * A miss resolves afresh through openat2 RESOLVE_IN_ROOT. */
static int
open_parent (Extractor *x, const char *rel, const char *parent, GError **error)
{
  if (x->parent_fd >= 0 && strcmp (x->parent_path->str, parent) == 0)
    return x->parent_fd;
  drop_parent (x);
  int fd = resolve_parent (x, rel, parent, error);
  if (fd < 0)
    return -1;
  g_string_assign (x->parent_path, parent);
  return x->parent_fd = fd;
}

/* Clear the way for a new entry. A directory stays when the entry is one too
 * (tars re-declare parents); anything else goes, so nothing is written through
 * an existing symlink. */
static gboolean
make_room (Extractor *x, int pfd, const char *base, const char *rel, gboolean want_dir,
           gboolean *kept_dir, GError **error)
{
  struct stat st;
  *kept_dir = FALSE;
  if (fstatat (pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? TRUE : berth_fail_errno (error, errno, "stat %s", rel);
  if (S_ISDIR (st.st_mode) && want_dir)
    return *kept_dir = TRUE;
  /* set before removing: a half-done removal has changed the tree too */
  x->changed = TRUE;
  if (S_ISDIR (st.st_mode))
    return berth_rm_rf_at (pfd, base, error);
  if (unlinkat (pfd, base, 0) < 0)
    return berth_fail_errno (error, errno, "unlink %s", rel);
  return TRUE;
}

/* On @fd when it is open (regular files), else on @base under @pfd. */
static gboolean
apply_xattrs (struct archive_entry *e, int fd, int pfd, const char *base, const char *rel,
              GError **error)
{
  if (archive_entry_xattr_reset (e) == 0)
    return TRUE;
  g_autofree char *path = fd < 0 ? fd_path (pfd, base) : NULL;
  const char *name;
  const void *value;
  size_t size;
  while (archive_entry_xattr_next (e, &name, &value, &size) == ARCHIVE_OK)
    {
      if (berth_is_overlay_xattr (name))
        continue;
      if ((fd >= 0 ? fsetxattr (fd, name, value, size, 0)
                   : lsetxattr (path, name, value, size, 0)) == 0)
        continue;
      /* Filesystems and symlinks refuse some namespaces; the file is still
       * usable without them, as with tar --xattrs. */
      if (errno == ENOTSUP || errno == EPERM)
        {
          g_debug ("%s: xattr %s not kept: %s", rel, name, g_strerror (errno));
          continue;
        }
      return berth_fail_errno (error, errno, "set xattr %s on %s", name, rel);
    }
  return TRUE;
}

static void
entry_times (struct archive_entry *e, struct timespec ts[2])
{
  ts[1].tv_sec = archive_entry_mtime (e);
  ts[1].tv_nsec = archive_entry_mtime_nsec (e);
  ts[0] = ts[1];
  if (archive_entry_atime_is_set (e))
    {
      ts[0].tv_sec = archive_entry_atime (e);
      ts[0].tv_nsec = archive_entry_atime_nsec (e);
    }
}

/* Owner, mode, xattrs and times, in that order: chown clears setuid bits and
 * file capabilities. Through @fd when it is open (a regular file just
 * written), else by name under @pfd. */
static gboolean
apply_meta (Extractor *x, struct archive_entry *e, int fd, int pfd, const char *base,
            const char *rel, GError **error)
{
  mode_t type = archive_entry_filetype (e);
  la_int64_t uid = x->owner_uid >= 0 ? x->owner_uid : archive_entry_uid (e);
  la_int64_t gid = x->owner_gid >= 0 ? x->owner_gid : archive_entry_gid (e);
  if (uid < 0 || uid >= G_MAXUINT32 || gid < 0 || gid >= G_MAXUINT32)
    return bad_entry (error, rel, "owner out of range");
  if ((fd >= 0 ? fchown (fd, uid, gid) : fchownat (pfd, base, uid, gid, AT_SYMLINK_NOFOLLOW))
      < 0)
    return berth_fail_errno (error, errno, "chown %s", rel);
  if (type != AE_IFLNK
      && (fd >= 0 ? fchmod (fd, archive_entry_perm (e))
                  : fchmodat (pfd, base, archive_entry_perm (e), 0)) < 0)
    return berth_fail_errno (error, errno, "chmod %s", rel);
  if (!apply_xattrs (e, fd, pfd, base, rel, error))
    return FALSE;
  struct timespec ts[2];
  entry_times (e, ts);
  if (type == AE_IFDIR)
    {
      DirTime *d = g_new0 (DirTime, 1);
      d->relpath = g_strdup (rel);
      memcpy (d->ts, ts, sizeof ts);
      g_ptr_array_add (x->dir_times, d);
      return TRUE;
    }
  if ((fd >= 0 ? futimens (fd, ts) : utimensat (pfd, base, ts, AT_SYMLINK_NOFOLLOW)) < 0)
    return berth_fail_errno (error, errno, "set times of %s", rel);
  return TRUE;
}

/* Data blocks come with offsets; a gap between them is a hole of a sparse
 * file, so seek over it instead of writing zeros. */
static gboolean
copy_data (Extractor *x, struct archive *a, struct archive_entry *e, int fd, const char *rel,
           GError **error)
{
  off_t pos = 0;
  for (;;)
    {
      const void *buf;
      size_t len;
      la_int64_t off;
      int r = archive_read_data_block (a, &buf, &len, &off);
      if (r == ARCHIVE_EOF)
        break;
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return bad_entry (error, rel, archive_reason (a));
      if (off != pos && lseek (fd, off, SEEK_SET) < 0)
        return berth_fail_errno (error, errno, "seek in %s", rel);
      /* Counted before the write: a bomb must stop before it fills the disk. */
      x->data_written += len;
      if (x->max > 0 && x->data_written > x->max)
        return berth_fail_limit (error, "archive", x->max, x->max_option);
      if (!berth_write_all (fd, buf, len))
        return berth_fail_errno (error, errno, "write %s", rel);
      pos = off + len;
    }
  la_int64_t size = archive_entry_size (e);
  if (size > pos && ftruncate (fd, size) < 0)
    return berth_fail_errno (error, errno, "truncate %s", rel);
  return TRUE;
}

/* O_EXCL never opens through an existing name (symlink or not); only when
 * the name is taken is it cleared, as for the other types, and tried again. */
static gboolean
make_regular (Extractor *x, struct archive *a, struct archive_entry *e, int pfd,
              const char *base, const char *rel, GError **error)
{
  const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int fd = openat (pfd, base, flags, 0600);
  if (fd < 0 && errno == EEXIST)
    {
      gboolean kept;
      if (!make_room (x, pfd, base, rel, FALSE, &kept, error))
        return FALSE;
      fd = openat (pfd, base, flags, 0600);
    }
  if (fd < 0)
    return berth_fail_errno (error, errno, "create %s", rel);
  gboolean ok = copy_data (x, a, e, fd, rel, error) && apply_meta (x, e, fd, pfd, base, rel, error);
  if (close (fd) < 0 && ok)
    ok = berth_fail_errno (error, errno, "close %s", rel);
  if (ok)
    x->bytes += archive_entry_size (e);
  return ok;
}

static gboolean
make_hardlink (Extractor *x, struct archive_entry *e, int pfd, const char *base,
               const char *rel, GError **error)
{
  const char *raw = archive_entry_hardlink (e), *problem;
  g_autofree char *target = normalise_name (raw, &problem);
  if (target == NULL)
    {
      g_autofree char *why = g_strdup_printf ("hardlink target '%.200s': %s", raw, problem);
      return bad_entry (error, rel, why);
    }
  int tfd = berth_open_in_root (x->root_fd, target, O_PATH | O_NOFOLLOW);
  if (tfd < 0)
    {
      g_autofree char *why = g_strdup_printf ("hardlink target '%s': %s", target,
                                              g_strerror (errno));
      return bad_entry (error, rel, why);
    }
  struct stat tst, cur;
  gboolean ok = TRUE, kept;
  if (fstat (tfd, &tst) < 0)
    ok = berth_fail_errno (error, errno, "stat %s", target);
  else if (S_ISDIR (tst.st_mode))
    ok = bad_entry (error, rel, "hardlink to a directory");
  else if (fstatat (pfd, base, &cur, AT_SYMLINK_NOFOLLOW) == 0 && cur.st_dev == tst.st_dev
           && cur.st_ino == tst.st_ino)
    ok = TRUE; /* already that inode: unlinking first would lose it */
  else if (!make_room (x, pfd, base, rel, FALSE, &kept, error))
    ok = FALSE;
  else if (linkat (tfd, "", pfd, base, AT_EMPTY_PATH) < 0)
    ok = berth_fail_errno (error, errno, "link %s to %s", rel, target);
  close (tfd);
  return ok;
}

static gboolean
make_node (Extractor *x, struct archive *a, struct archive_entry *e, int pfd,
           const char *base, const char *rel, GError **error)
{
  mode_t type = archive_entry_filetype (e);
  if (type == AE_IFREG)
    return make_regular (x, a, e, pfd, base, rel, error);
  gboolean kept;
  if (!make_room (x, pfd, base, rel, type == AE_IFDIR, &kept, error))
    return FALSE;
  switch (type)
    {
    case AE_IFDIR:
      if (!kept && mkdirat (pfd, base, 0700) < 0)
        return berth_fail_errno (error, errno, "mkdir %s", rel);
      break;
    case AE_IFLNK:
      {
        const char *target = archive_entry_symlink (e);
        if (target == NULL || target[0] == '\0')
          return bad_entry (error, rel, "empty symlink target");
        /* stored as is: readers resolve it inside the container's root */
        x->changed = TRUE;
        if (symlinkat (target, pfd, base) < 0)
          return berth_fail_errno (error, errno, "symlink %s", rel);
        break;
      }
    case AE_IFIFO:
      if (mknodat (pfd, base, S_IFIFO | 0600, 0) < 0)
        return berth_fail_errno (error, errno, "mkfifo %s", rel);
      break;
    default:
      g_assert_not_reached ();
    }
  return apply_meta (x, e, -1, pfd, base, rel, error);
}

static gboolean
make_entry (Extractor *x, struct archive *a, struct archive_entry *e, int pfd,
            const char *base, const char *rel, GError **error)
{
  if (archive_entry_hardlink (e) != NULL)
    return make_hardlink (x, e, pfd, base, rel, error);
  switch (archive_entry_filetype (e))
    {
    case AE_IFREG:
    case AE_IFDIR:
    case AE_IFLNK:
    case AE_IFIFO:
      return make_node (x, a, e, pfd, base, rel, error);
    case AE_IFCHR:
    case AE_IFBLK:
      /* the runtime builds /dev; a layer must not hand out raw disks */
      return bad_entry (error, rel, "device nodes are not allowed in layers");
    default:
      return bad_entry (error, rel, "unsupported entry type");
    }
}

typedef enum { WH_NONE, WH_SKIP, WH_FILE, WH_OPQ } WhKind;

/* What the whiteout convention makes of @parent/@base; FALSE if it is unsafe. */
static gboolean
classify_whiteout (Extractor *x, const char *rel, const char *parent, const char *base,
                   WhKind *kind, GError **error)
{
  *kind = WH_NONE;
  /* each component of @parent: at the start or just after a '/' */
  for (const char *c = parent; *c; c = strchrnul (c, '/'), c = *c ? c + 1 : c)
    {
      /* aufs keeps hardlink scratch space under .wh..wh.*; not layer content */
      if (x->whiteouts && g_str_has_prefix (c, WH_META_PREFIX))
        return *kind = WH_SKIP, TRUE;
      if (g_str_has_prefix (c, WH_PREFIX))
        return bad_entry (error, rel, "whiteout used as a directory");
    }
  if (!g_str_has_prefix (base, WH_PREFIX))
    return TRUE;
  if (x->whiteouts == NULL)
    return bad_entry (error, rel, "whiteout entries are not allowed here");
  if (strcmp (base, WH_OPAQUE) == 0)
    return *kind = WH_OPQ, TRUE;
  if (g_str_has_prefix (base, WH_META_PREFIX))
    return *kind = WH_SKIP, TRUE;
  const char *name = base + strlen (WH_PREFIX);
  if (name[0] == '\0' || strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
    return bad_entry (error, rel, "bad whiteout name");
  *kind = WH_FILE;
  return TRUE;
}

static gboolean
extract_entry (Extractor *x, struct archive *a, struct archive_entry *e, GError **error)
{
  const char *raw = archive_entry_pathname (e);
  if (raw == NULL)
    raw = archive_entry_pathname_utf8 (e);
  const char *problem;
  g_autofree char *rel = normalise_name (raw, &problem);
  if (rel == NULL)
    return bad_entry (error, raw ? raw : "", problem);
  if (rel[0] == '\0')
    {
      /* "./": the layer root belongs to the driver, which already made it */
      if (archive_entry_filetype (e) == AE_IFDIR && archive_entry_hardlink (e) == NULL)
        return TRUE;
      return bad_entry (error, raw, "names the layer root");
    }
  const char *slash = strrchr (rel, '/');
  char parent[PATH_MAX]; /* rel is shorter than PATH_MAX (normalise_name) */
  gsize plen = slash ? (gsize) (slash - rel) : 0;
  memcpy (parent, rel, plen);
  parent[plen] = '\0';
  const char *base = slash ? slash + 1 : rel;
  WhKind wh;
  if (!classify_whiteout (x, rel, parent, base, &wh, error))
    return FALSE;
  if (wh == WH_SKIP)
    return TRUE;
  int pfd = open_parent (x, rel, parent, error);
  if (pfd < 0)
    return FALSE;
  gboolean ok;
  x->changed = FALSE;
  if (wh == WH_OPQ || wh == WH_FILE)
    {
      /* driver code may remove or replace anything below pfd */
      x->changed = TRUE;
      if (wh == WH_OPQ)
        ok = x->whiteouts->opaque (pfd, parent, x->written, x->whiteouts->data, error);
      else
        ok = x->whiteouts->whiteout (pfd, parent, base + strlen (WH_PREFIX),
                                     x->whiteouts->data, error);
    }
  else if ((ok = make_entry (x, a, e, pfd, base, rel, error)))
    g_hash_table_add (x->written, g_steal_pointer (&rel));
  if (x->changed)
    drop_parent (x);
  return ok;
}

static gboolean
apply_dir_times (Extractor *x, GError **error)
{
  for (guint i = 0; i < x->dir_times->len; i++)
    {
      DirTime *d = x->dir_times->pdata[i];
      int fd = berth_open_in_root (x->root_fd, d->relpath, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
        continue; /* a later entry replaced or whited it out */
      if (fd < 0)
        return berth_fail_errno (error, errno, "open %s", d->relpath);
      int r = futimens (fd, d->ts);
      int errsv = errno;
      close (fd);
      if (r < 0)
        return berth_fail_errno (error, errsv, "set times of %s", d->relpath);
    }
  return TRUE;
}

static gboolean
open_reader (struct archive *a, int in_fd, GError **error)
{
  /* only in-library decompressors: no helper programs run on layer data */
  if (archive_read_support_filter_gzip (a) < ARCHIVE_WARN
      || archive_read_support_filter_xz (a) < ARCHIVE_WARN
      || archive_read_support_filter_zstd (a) < ARCHIVE_WARN
      || archive_read_support_format_tar (a) != ARCHIVE_OK)
    return berth_fail (error, BERTH_ERROR_FAILED, "set up archive reader: %s",
                       archive_reason (a));
  if (archive_read_open_fd (a, in_fd, READ_BLOCK) != ARCHIVE_OK)
    return berth_fail (error, BERTH_ERROR_BAD_ARCHIVE, "bad archive: %s", archive_reason (a));
  return TRUE;
}

static gboolean
extract_all (Extractor *x, struct archive *a, GError **error)
{
  for (;;)
    {
      struct archive_entry *e;
      int r = archive_read_next_header (a, &e);
      if (r == ARCHIVE_EOF)
        return TRUE;
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        return berth_fail (error, BERTH_ERROR_BAD_ARCHIVE, "bad archive: %s",
                           archive_reason (a));
      if (!extract_entry (x, a, e, error))
        return FALSE;
    }
}

static gint64
extract_stream (Extractor *x, int in_fd, GError **error)
{
  g_autoptr (BerthArchive) a = archive_read_new ();
  if (a == NULL)
    return berth_fail (error, BERTH_ERROR_FAILED, "archive_read_new: out of memory"), -1;
  g_autoptr (GHashTable) written = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GPtrArray) dir_times = g_ptr_array_new_with_free_func (dir_time_free);
  g_autoptr (GString) parent_path = g_string_new (NULL);
  x->written = written;
  x->dir_times = dir_times;
  x->parent_fd = -1;
  x->parent_path = parent_path;
  gboolean ok = open_reader (a, in_fd, error) && extract_all (x, a, error);
  drop_parent (x);
  if (!ok || !apply_dir_times (x, error))
    return -1;
  return x->bytes;
}

gint64
berth_archive_extract (int root_fd, int in_fd, const BerthWhiteoutOps *whiteouts,
                       GError **error)
{
  return berth_archive_extract_max (root_fd, in_fd, whiteouts, 0, NULL, error);
}

gint64
berth_archive_extract_max (int root_fd, int in_fd, const BerthWhiteoutOps *whiteouts, gint64 max,
                           const char *max_option, GError **error)
{
  Extractor x = {
    .root_fd = root_fd, .whiteouts = whiteouts, .max = max, .max_option = max_option,
    .owner_uid = -1, .owner_gid = -1,
  };
  return extract_stream (&x, in_fd, error);
}

gint64
berth_archive_extract_owned (int root_fd, int in_fd, gint64 uid, gint64 gid, GError **error)
{
  Extractor x = { .root_fd = root_fd, .owner_uid = uid, .owner_gid = gid };
  return extract_stream (&x, in_fd, error);
}

/* ------------------------------------------------------- full-tree whiteouts */

static gboolean
delete_whiteout (int dirfd, const char *dir_relpath, const char *name, gpointer data,
                 GError **error)
{
  return berth_rm_rf_at (dirfd, name, error);
}

static gboolean
delete_opaque (int dirfd, const char *dir_relpath, GHashTable *written, gpointer data,
               GError **error)
{
  int fd = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", dir_relpath);
  DIR *d = fdopendir (fd);
  if (d == NULL)
    {
      int errsv = errno;
      close (fd);
      return berth_fail_errno (error, errsv, "opendir %s", dir_relpath);
    }
  g_autoptr (GPtrArray) doomed = g_ptr_array_new_with_free_func (g_free);
  struct dirent *de;
  while ((errno = 0, de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      g_autofree char *rel = dir_relpath[0] ? g_strconcat (dir_relpath, "/", de->d_name, NULL)
                                            : g_strdup (de->d_name);
      if (!g_hash_table_contains (written, rel))
        g_ptr_array_add (doomed, g_strdup (de->d_name));
    }
  int errsv = errno;
  closedir (d);
  if (errsv != 0)
    return berth_fail_errno (error, errsv, "read directory %s", dir_relpath);
  /* removed after the scan: deleting while readdir runs may skip entries */
  for (guint i = 0; i < doomed->len; i++)
    if (!berth_rm_rf_at (dirfd, doomed->pdata[i], error))
      return FALSE;
  return TRUE;
}

const BerthWhiteoutOps berth_whiteout_delete_ops = {
  .whiteout = delete_whiteout,
  .opaque = delete_opaque,
  .data = NULL,
};

/* ------------------------------------------------- applying onto a full tree */

/* vfs, btrfs and devicemapper make a layer as a copy of its parent's tree.
 * Unpacking straight into that copy resolves the layer's paths through the
 * parent's entries: "lib/x" follows a lower symlink "lib" (or is refused where
 * the link leads nowhere or "lib" is a file). Overlay unpacks a layer into an
 * empty directory, so there "lib/x" makes a directory "lib" that hides the
 * lower link. To give one result on every driver, the layer is unpacked the
 * overlay way, into an empty staging directory inside the tree (same
 * filesystem, so entries move by rename), and then moved in by overlay's
 * rules. */

#define STAGE_PREFIX ".berth-apply-"

typedef struct {
  /* Inode numbers of the staged directories marked opaque. An inode freed and
   * reused within one extraction could be taken for opaque: that needs a tar
   * that removes an opaque directory and makes another, and can only hide
   * lower entries, which the tar could do anyway. */
  GHashTable *opaque;
  guint whiteouts; /* made so far; none: nothing to strip from moved trees */
  char name[32];   /* the staging directory's, in the tree root */
} Stage;

static gboolean
is_staged_whiteout (const struct stat *st)
{
  /* the extractor refuses device nodes, so only stage_whiteout makes these */
  return S_ISCHR (st->st_mode) && st->st_rdev == makedev (0, 0);
}

gboolean
berth_whiteout_mknod (int dirfd, const char *dir_relpath, const char *name, GError **error)
{
  if (!berth_rm_rf_at (dirfd, name, error))
    return FALSE;
  if (mknodat (dirfd, name, S_IFCHR | 0000, makedev (0, 0)) < 0)
    return berth_fail_errno (error, errno, "make whiteout %s/%s",
                             dir_relpath && *dir_relpath ? dir_relpath : ".", name);
  return TRUE;
}

static gboolean
stage_whiteout (int dirfd, const char *dir_relpath, const char *name, gpointer data,
                GError **error)
{
  Stage *st = data;
  if (!berth_whiteout_mknod (dirfd, dir_relpath, name, error))
    return FALSE;
  st->whiteouts++;
  return TRUE;
}

static gboolean
stage_opaque (int dirfd, const char *dir_relpath, GHashTable *written, gpointer data,
              GError **error)
{
  Stage *st = data;
  struct stat sb;
  if (fstat (dirfd, &sb) < 0)
    return berth_fail_errno (error, errno, "stat %s", dir_relpath[0] ? dir_relpath : ".");
  gint64 ino = sb.st_ino;
  g_hash_table_add (st->opaque, g_memdup2 (&ino, sizeof ino));
  return TRUE;
}

static gboolean
is_opaque (Stage *st, const struct stat *sb)
{
  gint64 ino = sb->st_ino;
  return g_hash_table_contains (st->opaque, &ino);
}

/* Unlink the whiteouts left in a staged tree moved in whole: there was
 * nothing below it to hide. */
static gboolean
strip_whiteouts (int dirfd, const char *name, const char *rel, GError **error)
{
  int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", rel);
  g_autoptr (GPtrArray) names = berth_dir_names_sorted (fd, rel, error);
  gboolean ok = names != NULL;
  for (guint i = 0; ok && i < names->len; i++)
    {
      const char *n = names->pdata[i];
      g_autofree char *crel = g_strconcat (rel, "/", n, NULL);
      struct stat sb;
      if (fstatat (fd, n, &sb, AT_SYMLINK_NOFOLLOW) < 0)
        ok = berth_fail_errno (error, errno, "stat %s", crel);
      else if (is_staged_whiteout (&sb) && unlinkat (fd, n, 0) < 0)
        ok = berth_fail_errno (error, errno, "unlink %s", crel);
      else if (S_ISDIR (sb.st_mode))
        ok = strip_whiteouts (fd, n, crel, error);
    }
  close (fd);
  return ok;
}

static gboolean stage_merge_dir (Stage *st, int sfd, int tfd, const char *rel, GError **error);

/* Both are directories and the staged one is not opaque: its entries go into
 * the tree's, which then takes its owner, mode, xattrs and times, as overlay
 * shows the upper directory's. @sb: the staged directory, before its entries
 * moved out. */
static gboolean
stage_merge_into (Stage *st, int sfd, int tfd, const char *name, const char *rel,
                  const struct stat *sb, GError **error)
{
  const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  int cs = openat (sfd, name, flags);
  if (cs < 0)
    return berth_fail_errno (error, errno, "open staged %s", rel);
  int ct = openat (tfd, name, flags);
  gboolean ok = ct >= 0 ? stage_merge_dir (st, cs, ct, rel, error)
                              && berth_copy_fd_meta (cs, ct, sb, rel, error)
                        : berth_fail_errno (error, errno, "open %s", rel);
  close (cs);
  if (ct >= 0)
    close (ct);
  return ok;
}

/* Staged entry @name of @sfd onto the tree's directory @tfd, by overlay's
 * rules: a whiteout deletes what is below; a directory merges with one below
 * unless opaque; anything else replaces what is below, whatever it is. */
static gboolean
stage_place (Stage *st, int sfd, int tfd, const char *name, const char *rel, GError **error)
{
  struct stat sb, tb;
  if (fstatat (sfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
    return berth_fail_errno (error, errno, "stat staged %s", rel);
  gboolean below = fstatat (tfd, name, &tb, AT_SYMLINK_NOFOLLOW) == 0;
  if (!below && errno != ENOENT)
    return berth_fail_errno (error, errno, "stat %s", rel);
  if (is_staged_whiteout (&sb))
    return berth_rm_rf_at (tfd, name, error);
  if (S_ISDIR (sb.st_mode) && below && S_ISDIR (tb.st_mode) && !is_opaque (st, &sb))
    return stage_merge_into (st, sfd, tfd, name, rel, &sb, error);
  if (below && !berth_rm_rf_at (tfd, name, error))
    return FALSE;
  if (renameat (sfd, name, tfd, name) < 0)
    return berth_fail_errno (error, errno, "move %s into the layer", rel);
  if (S_ISDIR (sb.st_mode) && st->whiteouts > 0)
    return strip_whiteouts (tfd, name, rel, error);
  return TRUE;
}

static gboolean
stage_merge_dir (Stage *st, int sfd, int tfd, const char *rel, GError **error)
{
  g_autoptr (GPtrArray) names = berth_dir_names_sorted (sfd, rel[0] ? rel : ".", error);
  if (names == NULL)
    return FALSE;
  for (guint i = 0; i < names->len; i++)
    {
      const char *n = names->pdata[i];
      g_autofree char *crel = rel[0] ? g_strconcat (rel, "/", n, NULL) : g_strdup (n);
      if (!stage_place (st, sfd, tfd, n, crel, error))
        return FALSE;
    }
  return TRUE;
}

/* An opaque layer root: everything of the parent goes but the staging dir. */
static gboolean
clear_below (Stage *st, int root_fd, GError **error)
{
  g_autoptr (GPtrArray) names = berth_dir_names_sorted (root_fd, "the layer root", error);
  if (names == NULL)
    return FALSE;
  for (guint i = 0; i < names->len; i++)
    if (strcmp (names->pdata[i], st->name) != 0
        && !berth_rm_rf_at (root_fd, names->pdata[i], error))
      return FALSE;
  return TRUE;
}

static gboolean
stage_merge_root (Stage *st, int sfd, int root_fd, GError **error)
{
  struct stat sb;
  if (fstat (sfd, &sb) < 0)
    return berth_fail_errno (error, errno, "stat %s", st->name);
  if (is_opaque (st, &sb) && !clear_below (st, root_fd, error))
    return FALSE;
  /* a layer entry of that name would be moved onto the staging dir itself */
  if (faccessat (sfd, st->name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
    return bad_entry (error, st->name, "name reserved while the layer is applied");
  return stage_merge_dir (st, sfd, root_fd, "", error);
}

/* mkdir a fresh staging directory in @root_fd and open it. */
static int
make_stage (Stage *st, int root_fd, GError **error)
{
  for (int tries = 0; tries < 16; tries++)
    {
      g_snprintf (st->name, sizeof st->name, STAGE_PREFIX "%08x", g_random_int ());
      if (mkdirat (root_fd, st->name, 0700) == 0)
        {
          int fd = openat (root_fd, st->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (fd < 0)
            berth_fail_errno (error, errno, "open %s", st->name);
          return fd;
        }
      if (errno != EEXIST)
        break;
    }
  return berth_fail_errno (error, errno, "make a staging directory in the layer"), -1;
}

gint64
berth_archive_apply_layer (int root_fd, int in_fd, GError **error)
{
  g_autoptr (GHashTable) opaque = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                                         NULL);
  Stage st = { .opaque = opaque };
  int sfd = make_stage (&st, root_fd, error);
  if (sfd < 0)
    return -1;
  const BerthWhiteoutOps ops = { stage_whiteout, stage_opaque, &st };
  gint64 size = berth_archive_extract (sfd, in_fd, &ops, error);
  if (size >= 0 && !stage_merge_root (&st, sfd, root_fd, error))
    size = -1;
  close (sfd);
  /* what is left: whiteouts, and the directories emptied into the tree */
  if (!berth_rm_rf_at (root_fd, st.name, size >= 0 ? error : NULL))
    size = -1;
  return size;
}

/* ------------------------------------------------------------------ writing */

struct BerthTarWriter {
  struct archive *a;
  GHashTable *links; /* "dev:ino" -> first name, for files with nlink > 1 */
  gboolean finished;
};

static gboolean
writer_fail (BerthTarWriter *w, GError **error, const char *what)
{
  return berth_fail (error, BERTH_ERROR_FAILED, "%s: %s", what, archive_reason (w->a));
}

BerthTarWriter *
berth_tar_writer_new (int out_fd, GError **error)
{
  g_autoptr (BerthTarWriter) w = g_new0 (BerthTarWriter, 1);
  w->links = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  w->a = archive_write_new ();
  if (w->a == NULL)
    return berth_fail (error, BERTH_ERROR_FAILED, "archive_write_new: out of memory"), NULL;
  if (archive_write_set_format_pax_restricted (w->a) != ARCHIVE_OK
      || archive_write_open_fd (w->a, out_fd) != ARCHIVE_OK)
    return writer_fail (w, error, "open tar writer"), NULL;
  return g_steal_pointer (&w);
}

void
berth_tar_writer_free (BerthTarWriter *w)
{
  if (w == NULL)
    return;
  if (w->a)
    {
      /* an unfinished stream must not get an end marker that makes it look whole */
      if (!w->finished)
        archive_write_fail (w->a);
      archive_write_free (w->a);
    }
  g_hash_table_unref (w->links);
  g_free (w);
}

static gboolean
add_xattr (const char *name, const void *value, gsize len, gpointer entry, GError **error)
{
  archive_entry_xattr_add_entry (entry, name, value, len);
  return TRUE;
}

static gboolean
read_xattrs (struct archive_entry *e, int dirfd, const char *relpath, GError **error)
{
  return berth_read_xattrs (dirfd, relpath, add_xattr, e, error);
}

static gboolean
read_link_target (struct archive_entry *e, int dirfd, const char *relpath, GError **error)
{
  char buf[PATH_MAX + 1];
  ssize_t n = readlinkat (dirfd, relpath, buf, sizeof buf);
  if (n < 0)
    return berth_fail_errno (error, errno, "readlink %s", relpath);
  if ((size_t) n >= sizeof buf)
    return berth_fail (error, BERTH_ERROR_FAILED, "readlink %s: target too long", relpath);
  buf[n] = '\0';
  archive_entry_set_symlink (e, buf);
  return TRUE;
}

/* Only what a layer needs, no atime/ctime/dev/ino, so that equal trees give
 * equal tars (layer digests). */
static struct archive_entry *
entry_from_stat (BerthTarWriter *w, const struct stat *st, const char *name)
{
  struct archive_entry *e = archive_entry_new ();
  archive_entry_set_pathname (e, name);
  archive_entry_set_filetype (e, st->st_mode & S_IFMT);
  archive_entry_set_perm (e, st->st_mode & 07777);
  archive_entry_set_uid (e, st->st_uid);
  archive_entry_set_gid (e, st->st_gid);
  archive_entry_set_mtime (e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
  archive_entry_set_size (e, S_ISREG (st->st_mode) ? st->st_size : 0);
  if (S_ISCHR (st->st_mode) || S_ISBLK (st->st_mode))
    {
      archive_entry_set_rdevmajor (e, major (st->st_rdev));
      archive_entry_set_rdevminor (e, minor (st->st_rdev));
    }
  if (!S_ISDIR (st->st_mode) && st->st_nlink > 1)
    {
      g_autofree char *key = g_strdup_printf ("%ju:%ju", (uintmax_t) st->st_dev,
                                              (uintmax_t) st->st_ino);
      const char *first = g_hash_table_lookup (w->links, key);
      if (first)
        {
          archive_entry_set_hardlink (e, first);
          archive_entry_set_size (e, 0);
        }
      else
        g_hash_table_insert (w->links, g_steal_pointer (&key), g_strdup (name));
    }
  return e;
}

static gboolean
write_data (BerthTarWriter *w, int fd, gint64 size, const char *relpath, GError **error)
{
  g_autofree char *buf = g_malloc (CHUNK);
  while (size > 0)
    {
      ssize_t n = read (fd, buf, MIN (size, CHUNK));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return berth_fail_errno (error, errno, "read %s", relpath);
      if (n == 0)
        break; /* shrank while being archived: libarchive pads with zeros */
      if (archive_write_data (w->a, buf, n) < 0)
        return writer_fail (w, error, relpath);
      size -= n;
    }
  return TRUE;
}

static gboolean
write_entry (BerthTarWriter *w, struct archive_entry *e, int data_fd, const char *relpath,
             GError **error)
{
  if (archive_write_header (w->a, e) < ARCHIVE_WARN)
    return writer_fail (w, error, relpath);
  if (data_fd >= 0 && !write_data (w, data_fd, archive_entry_size (e), relpath, error))
    return FALSE;
  if (archive_write_finish_entry (w->a) < ARCHIVE_WARN)
    return writer_fail (w, error, relpath);
  return TRUE;
}

static gboolean
add_stat (BerthTarWriter *w, int dirfd, const char *relpath, const char *name,
          struct stat *st, GError **error)
{
  if (fstatat (dirfd, relpath, st, AT_SYMLINK_NOFOLLOW) < 0)
    return berth_fail_errno (error, errno, "stat %s", relpath);
  if (S_ISSOCK (st->st_mode))
    return TRUE; /* tar cannot hold sockets; they belong to a running process anyway */
  while (name[0] == '/')
    name++;
  g_autoptr (BerthArchiveEntry) e = entry_from_stat (w, st, name);
  if (S_ISLNK (st->st_mode) && !read_link_target (e, dirfd, relpath, error))
    return FALSE;
  if (!read_xattrs (e, dirfd, relpath, error))
    return FALSE;
  int fd = -1;
  /* opened before the header goes out, so a failure leaves no half entry */
  if (archive_entry_hardlink (e) == NULL && S_ISREG (st->st_mode)
      && (fd = openat (dirfd, relpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
    return berth_fail_errno (error, errno, "open %s", relpath);
  gboolean ok = write_entry (w, e, fd, relpath, error);
  if (fd >= 0)
    close (fd);
  return ok;
}

gboolean
berth_tar_writer_add (BerthTarWriter *w, int dirfd, const char *relpath, const char *name,
                      GError **error)
{
  struct stat st;
  return add_stat (w, dirfd, relpath, name, &st, error);
}

static gboolean
add_marker (BerthTarWriter *w, const char *name, GError **error)
{
  g_autoptr (BerthArchiveEntry) e = archive_entry_new ();
  archive_entry_set_pathname (e, name);
  archive_entry_set_filetype (e, AE_IFREG);
  archive_entry_set_perm (e, 0644);
  archive_entry_set_size (e, 0);
  archive_entry_set_mtime (e, 0, 0);
  return write_entry (w, e, -1, name, error);
}

gboolean
berth_tar_writer_add_whiteout (BerthTarWriter *w, const char *name, GError **error)
{
  while (name[0] == '/')
    name++;
  g_autofree char *dir = g_path_get_dirname (name);
  g_autofree char *base = g_path_get_basename (name);
  g_autofree char *wh = strcmp (dir, ".") == 0 ? g_strconcat (WH_PREFIX, base, NULL)
                                               : g_strconcat (dir, "/" WH_PREFIX, base, NULL);
  return add_marker (w, wh, error);
}

gboolean
berth_tar_writer_add_opaque (BerthTarWriter *w, const char *dir_name, GError **error)
{
  while (dir_name[0] == '/')
    dir_name++;
  g_autofree char *dir = g_strdup (dir_name);
  while (g_str_has_suffix (dir, "/"))
    dir[strlen (dir) - 1] = '\0';
  g_autofree char *name = dir[0] && strcmp (dir, ".") != 0
                            ? g_strconcat (dir, "/" WH_OPAQUE, NULL)
                            : g_strdup (WH_OPAQUE);
  return add_marker (w, name, error);
}

/* Everything below @rel (under @root_fd; "" for @root_fd itself), named
 * @name/... in the archive (just ... when @name is ""). */
static gboolean
add_children (BerthTarWriter *w, int root_fd, const char *rel, const char *name, GError **error)
{
  int fd = openat (root_fd, rel[0] ? rel : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", rel[0] ? rel : ".");
  g_autoptr (GPtrArray) names = berth_dir_names_sorted (fd, rel, error);
  close (fd);
  if (names == NULL)
    return FALSE;
  for (guint i = 0; i < names->len; i++)
    {
      const char *n = names->pdata[i];
      g_autofree char *child_rel = rel[0] ? g_strconcat (rel, "/", n, NULL) : g_strdup (n);
      g_autofree char *child_name = name[0] ? g_strconcat (name, "/", n, NULL) : g_strdup (n);
      struct stat st;
      if (!add_stat (w, root_fd, child_rel, child_name, &st, error))
        return FALSE;
      if (S_ISDIR (st.st_mode) && !add_children (w, root_fd, child_rel, child_name, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
berth_tar_writer_add_tree (BerthTarWriter *w, int dirfd, GError **error)
{
  return add_children (w, dirfd, "", "", error);
}

gboolean
berth_tar_writer_add_subtree (BerthTarWriter *w, int dirfd, const char *relpath,
                              const char *name, GError **error)
{
  struct stat st;
  if (name[0] == '\0')
    return add_children (w, dirfd, relpath, "", error);
  if (!add_stat (w, dirfd, relpath, name, &st, error))
    return FALSE;
  return !S_ISDIR (st.st_mode) || add_children (w, dirfd, relpath, name, error);
}

gboolean
berth_tar_writer_finish (BerthTarWriter *w, GError **error)
{
  if (archive_write_close (w->a) != ARCHIVE_OK)
    return writer_fail (w, error, "finish tar");
  w->finished = TRUE;
  return TRUE;
}
