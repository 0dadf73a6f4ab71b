/* Tree copy for full-copy layers. One thread walks the source and creates
 * every entry in the destination (so names, links and directories appear in
 * walk order); regular files' data and metadata are then finished by a small
 * thread pool, because on a many-file tree the per-file syscalls, not the
 * bytes, dominate. Everything is reached through directory fds, so path
 * length never matters except for hardlink targets (relative to the root). */
#include "config.h"
#include <berth/copy.h>
#include <berth/error.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/fs.h>

#define COPY_WORKERS 4
/* Each queued job holds two fds; bounding the queue bounds fd use. */
#define MAX_PENDING 128

typedef struct {
  GThreadPool *pool;
  GMutex lock;
  GCond drained;
  guint pending;
  GError *error; /* the first failure, from the walk or a worker */
  gboolean failed;
  gint no_reflink; /* set once FICLONE proved unsupported here */
  BerthCopyStats stats;
  int dst_root_fd;
  GHashTable *links; /* "dev:ino" -> destination path relative to the root */
} CopyCtx;

typedef struct {
  int src_fd;
  int dst_fd;
  struct stat st;
  char *what; /* the path relative to the root, for messages */
} FileJob;

/* Where xattrs are read or written: an open fd, or a path whose last
 * component is not followed (symlinks, device nodes, fifos). */
typedef struct {
  int fd;
  const char *path;
} XTarget;

static gboolean
ctx_failed (CopyCtx *ctx)
{
  g_mutex_lock (&ctx->lock);
  gboolean failed = ctx->failed;
  g_mutex_unlock (&ctx->lock);
  return failed;
}

/* Keep only the first error: later ones are usually its consequences. */
static void
ctx_take_error (CopyCtx *ctx, GError *error)
{
  g_mutex_lock (&ctx->lock);
  if (ctx->error == NULL)
    ctx->error = error;
  else
    g_error_free (error);
  ctx->failed = TRUE;
  g_mutex_unlock (&ctx->lock);
}

static ssize_t
x_list (const XTarget *t, char *buf, size_t size)
{
  return t->path ? llistxattr (t->path, buf, size) : flistxattr (t->fd, buf, size);
}

static ssize_t
x_get (const XTarget *t, const char *name, void *buf, size_t size)
{
  return t->path ? lgetxattr (t->path, name, buf, size) : fgetxattr (t->fd, name, buf, size);
}

static int
x_set (const XTarget *t, const char *name, const void *value, size_t size)
{
  return t->path ? lsetxattr (t->path, name, value, size, 0)
                 : fsetxattr (t->fd, name, value, size, 0);
}

/* Read a list or a value whose size may change between the two calls. */
static ssize_t
x_read (const XTarget *t, const char *name, char **out)
{
  for (;;)
    {
      ssize_t size = name ? x_get (t, name, NULL, 0) : x_list (t, NULL, 0);
      if (size <= 0)
        return size;
      g_autofree char *buf = g_malloc (size);
      ssize_t n = name ? x_get (t, name, buf, size) : x_list (t, buf, size);
      if (n >= 0)
        {
          *out = g_steal_pointer (&buf);
          return n;
        }
      if (errno != ERANGE)
        return -1;
    }
}

static gboolean
copy_xattrs (const XTarget *src, const XTarget *dst, const char *what, GError **error)
{
  g_autofree char *names = NULL;
  ssize_t len = x_read (src, NULL, &names);
  if (len < 0 && (errno == ENOTSUP || errno == ENODATA))
    return TRUE; /* the source filesystem has no xattrs to give */
  if (len < 0)
    return berth_fail_errno (error, errno, "list xattrs of %s", what);
  if (len == 0)
    return TRUE; /* none; names is NULL, and NULL + 0 is undefined */
  for (char *n = names; n < names + len; n += strlen (n) + 1)
    {
      g_autofree char *value = NULL;
      ssize_t vlen = x_read (src, n, &value);
      if (vlen < 0 && errno == ENODATA)
        continue; /* removed since the listing */
      if (vlen < 0)
        return berth_fail_errno (error, errno, "read xattr %s of %s", n, what);
      if (x_set (dst, n, value, vlen) < 0)
        return berth_fail_errno (error, errno, "set xattr %s on %s", n, what);
    }
  return TRUE;
}

/* Owner first: chown clears setuid/setgid and file capabilities, so the mode
 * and the xattrs must come after it. Times last: the rest changes ctime only. */
static gboolean
set_fd_meta (int src_fd, int dst_fd, const struct stat *st, const char *what, GError **error)
{
  if (fchown (dst_fd, st->st_uid, st->st_gid) < 0)
    return berth_fail_errno (error, errno, "chown %s", what);
  if (fchmod (dst_fd, st->st_mode & 07777) < 0)
    return berth_fail_errno (error, errno, "chmod %s", what);
  XTarget xs = { src_fd, NULL }, xd = { dst_fd, NULL };
  if (!copy_xattrs (&xs, &xd, what, error))
    return FALSE;
  struct timespec ts[2] = { st->st_atim, st->st_mtim };
  if (futimens (dst_fd, ts) < 0)
    return berth_fail_errno (error, errno, "set times of %s", what);
  return TRUE;
}

gboolean
berth_copy_fd_meta (int src_fd, int dst_fd, const struct stat *st, const char *what,
                    GError **error)
{
  return set_fd_meta (src_fd, dst_fd, st, what, error);
}

/* The same for an entry that cannot be opened (symlink, device, fifo). */
static gboolean
set_path_meta (int src_dirfd, int dst_dirfd, const char *name, const char *what,
               const struct stat *st, GError **error)
{
  if (fchownat (dst_dirfd, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
    return berth_fail_errno (error, errno, "chown %s", what);
  /* Symlink modes are fixed; everything else here is a fresh non-link node. */
  if (!S_ISLNK (st->st_mode) && fchmodat (dst_dirfd, name, st->st_mode & 07777, 0) < 0)
    return berth_fail_errno (error, errno, "chmod %s", what);
  g_autofree char *sp = g_strdup_printf ("/proc/self/fd/%d/%s", src_dirfd, name);
  g_autofree char *dp = g_strdup_printf ("/proc/self/fd/%d/%s", dst_dirfd, name);
  XTarget xs = { -1, sp }, xd = { -1, dp };
  if (!copy_xattrs (&xs, &xd, what, error))
    return FALSE;
  struct timespec ts[2] = { st->st_atim, st->st_mtim };
  if (utimensat (dst_dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
    return berth_fail_errno (error, errno, "set times of %s", what);
  return TRUE;
}

/* Plain read/write, for filesystem pairs copy_file_range refuses. */
static gboolean
copy_rw (int src_fd, int dst_fd, off_t off, off_t end, const char *what, GError **error)
{
  g_autofree char *buf = g_malloc (128 * 1024);
  while (off < end)
    {
      ssize_t n = pread (src_fd, buf, MIN ((off_t) 128 * 1024, end - off), off);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return berth_fail_errno (error, errno, "read %s", what);
      if (n == 0)
        break; /* the source shrank under us */
      for (ssize_t done = 0; done < n;)
        {
          ssize_t w = pwrite (dst_fd, buf + done, n - done, off + done);
          if (w < 0 && errno != EINTR)
            return berth_fail_errno (error, errno, "write %s", what);
          done += MAX (w, 0);
        }
      off += n;
    }
  return TRUE;
}

static gboolean
copy_range (int src_fd, int dst_fd, off_t off, off_t end, const char *what, GError **error)
{
  while (off < end)
    {
      loff_t in = off, out = off;
      ssize_t n = copy_file_range (src_fd, &in, dst_fd, &out, end - off, 0);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP
                    || errno == EINVAL))
        return copy_rw (src_fd, dst_fd, off, end, what, error);
      if (n < 0)
        return berth_fail_errno (error, errno, "copy %s", what);
      if (n == 0)
        break;
      off += n;
    }
  return TRUE;
}

/* Copy only the data segments, so holes stay holes; ftruncate sets the size. */
static gboolean
copy_sparse (int src_fd, int dst_fd, off_t size, const char *what, GError **error)
{
  off_t pos = 0;
  while (pos < size)
    {
      off_t data = lseek (src_fd, pos, SEEK_DATA);
      if (data < 0 && errno == ENXIO)
        break; /* only a hole is left */
      if (data < 0)
        {
          /* No SEEK_DATA here: copy the rest densely. */
          if (!copy_range (src_fd, dst_fd, pos, size, what, error))
            return FALSE;
          break;
        }
      off_t hole = lseek (src_fd, data, SEEK_HOLE);
      if (hole < 0)
        return berth_fail_errno (error, errno, "seek %s", what);
      if (!copy_range (src_fd, dst_fd, data, MIN (hole, size), what, error))
        return FALSE;
      pos = hole;
    }
  if (ftruncate (dst_fd, size) < 0)
    return berth_fail_errno (error, errno, "truncate %s", what);
  return TRUE;
}

static gboolean
try_reflink (CopyCtx *ctx, int src_fd, int dst_fd)
{
  if (g_atomic_int_get (&ctx->no_reflink))
    return FALSE;
  if (ioctl (dst_fd, FICLONE, src_fd) == 0)
    return TRUE;
  /* These mean "never on this filesystem pair": stop paying the syscall. */
  if (errno == EOPNOTSUPP || errno == ENOTTY || errno == EXDEV || errno == ENOSYS)
    g_atomic_int_set (&ctx->no_reflink, 1);
  return FALSE;
}

static gboolean
copy_file_data (CopyCtx *ctx, FileJob *job, GError **error)
{
  const struct stat *st = &job->st;
  gboolean cloned = st->st_size > 0 && try_reflink (ctx, job->src_fd, job->dst_fd);
  if (!cloned && st->st_size > 0)
    {
      /* Only files with fewer blocks than bytes can have holes; the rest
       * skip the two lseeks. */
      gboolean ok = (off_t) st->st_blocks * 512 < st->st_size
                      ? copy_sparse (job->src_fd, job->dst_fd, st->st_size, job->what, error)
                      : copy_range (job->src_fd, job->dst_fd, 0, st->st_size, job->what, error);
      if (!ok)
        return FALSE;
    }
  if (!set_fd_meta (job->src_fd, job->dst_fd, st, job->what, error))
    return FALSE;
  g_mutex_lock (&ctx->lock);
  ctx->stats.files++;
  ctx->stats.bytes += st->st_size;
  ctx->stats.reflinked += cloned ? 1 : 0;
  g_mutex_unlock (&ctx->lock);
  return TRUE;
}

static void
file_job_run (gpointer data, gpointer user_data)
{
  FileJob *job = data;
  CopyCtx *ctx = user_data;
  GError *error = NULL;
  if (!ctx_failed (ctx) && !copy_file_data (ctx, job, &error))
    ctx_take_error (ctx, error);
  close (job->src_fd);
  close (job->dst_fd);
  g_free (job->what);
  g_free (job);
  g_mutex_lock (&ctx->lock);
  if (--ctx->pending < MAX_PENDING)
    g_cond_signal (&ctx->drained);
  g_mutex_unlock (&ctx->lock);
}

static void
queue_file (CopyCtx *ctx, FileJob *job)
{
  g_mutex_lock (&ctx->lock);
  while (ctx->pending >= MAX_PENDING)
    g_cond_wait (&ctx->drained, &ctx->lock);
  ctx->pending++;
  g_mutex_unlock (&ctx->lock);
  g_thread_pool_push (ctx->pool, job, NULL);
}

static gboolean
create_file (CopyCtx *ctx, int src_dirfd, int dst_dirfd, const char *name, const char *what,
             const struct stat *st, GError **error)
{
  int src_fd = openat (src_dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
  if (src_fd < 0)
    return berth_fail_errno (error, errno, "open %s", what);
  /* 0600 until the worker sets the real mode: never briefly too open. */
  int dst_fd = openat (dst_dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                       0600);
  if (dst_fd < 0)
    {
      int errsv = errno;
      close (src_fd);
      return berth_fail_errno (error, errsv, "create %s", what);
    }
  FileJob *job = g_new (FileJob, 1);
  *job = (FileJob){ src_fd, dst_fd, *st, g_strdup (what) };
  queue_file (ctx, job);
  return TRUE;
}

static gboolean
create_symlink (int src_dirfd, int dst_dirfd, const char *name, const char *what,
                const struct stat *st, GError **error)
{
  /* st_size is the target length on real filesystems, but 0 on some (procfs). */
  gsize size = st->st_size > 0 ? (gsize) st->st_size + 1 : 256;
  for (;;)
    {
      g_autofree char *target = g_malloc (size);
      ssize_t n = readlinkat (src_dirfd, name, target, size);
      if (n < 0)
        return berth_fail_errno (error, errno, "readlink %s", what);
      if ((gsize) n < size)
        {
          target[n] = '\0';
          if (symlinkat (target, dst_dirfd, name) < 0)
            return berth_fail_errno (error, errno, "symlink %s", what);
          return set_path_meta (src_dirfd, dst_dirfd, name, what, st, error);
        }
      size *= 2;
    }
}

static gboolean
create_node (int src_dirfd, int dst_dirfd, const char *name, const char *what,
             const struct stat *st, GError **error)
{
  if (mknodat (dst_dirfd, name, st->st_mode & (S_IFMT | 0777), st->st_rdev) < 0)
    return berth_fail_errno (error, errno, "mknod %s", what);
  return set_path_meta (src_dirfd, dst_dirfd, name, what, st, error);
}

/* A second name of an inode already copied becomes a hardlink to its copy.
 * Returns TRUE in *linked when it did so. */
static gboolean
maybe_link (CopyCtx *ctx, int dst_dirfd, const char *name, const char *rel,
            const struct stat *st, gboolean *linked, GError **error)
{
  *linked = FALSE;
  if (st->st_nlink < 2)
    return TRUE;
  g_autofree char *key = g_strdup_printf ("%ju:%ju", (uintmax_t) st->st_dev,
                                          (uintmax_t) st->st_ino);
  const char *first = g_hash_table_lookup (ctx->links, key);
  if (first == NULL)
    {
      g_hash_table_insert (ctx->links, g_steal_pointer (&key), g_strdup (rel));
      return TRUE;
    }
  if (linkat (ctx->dst_root_fd, first, dst_dirfd, name, 0) < 0)
    return berth_fail_errno (error, errno, "link %s to %s", rel, first);
  *linked = TRUE;
  return TRUE;
}

static gboolean copy_dir (CopyCtx *ctx, int src_fd, int dst_fd, const char *rel_dir,
                          GError **error);

static gboolean
copy_subdir (CopyCtx *ctx, int src_dirfd, int dst_dirfd, const char *name, const char *rel,
             GError **error)
{
  /* Private while it fills; copy_dir gives it its real mode at the end. */
  if (mkdirat (dst_dirfd, name, 0700) < 0)
    return berth_fail_errno (error, errno, "mkdir %s", rel);
  int src_fd = openat (src_dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (src_fd < 0)
    return berth_fail_errno (error, errno, "open %s", rel);
  int dst_fd = openat (dst_dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dst_fd < 0)
    {
      int errsv = errno;
      close (src_fd);
      return berth_fail_errno (error, errsv, "open %s", rel);
    }
  gboolean ok = copy_dir (ctx, src_fd, dst_fd, rel, error);
  close (src_fd);
  close (dst_fd);
  return ok;
}

static gboolean
copy_entry (CopyCtx *ctx, int src_dirfd, int dst_dirfd, const char *rel_dir,
            const char *name, GError **error)
{
  g_autofree char *rel = *rel_dir ? g_strconcat (rel_dir, "/", name, NULL) : g_strdup (name);
  struct stat st;
  if (fstatat (src_dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    return berth_fail_errno (error, errno, "stat %s", rel);
  if (S_ISDIR (st.st_mode))
    return copy_subdir (ctx, src_dirfd, dst_dirfd, name, rel, error);
  gboolean linked;
  if (!maybe_link (ctx, dst_dirfd, name, rel, &st, &linked, error))
    return FALSE;
  if (linked)
    return TRUE;
  if (S_ISREG (st.st_mode))
    return create_file (ctx, src_dirfd, dst_dirfd, name, rel, &st, error);
  if (S_ISLNK (st.st_mode))
    return create_symlink (src_dirfd, dst_dirfd, name, rel, &st, error);
  return create_node (src_dirfd, dst_dirfd, name, rel, &st, error);
}

/* Fills @dst_fd from @src_fd, then gives it @src_fd's metadata. Directory
 * times can be set here, before the pool drains: the workers only write into
 * already-created files, which never touches a directory's times. */
static gboolean
copy_dir (CopyCtx *ctx, int src_fd, int dst_fd, const char *rel_dir, GError **error)
{
  const char *what = *rel_dir ? rel_dir : ".";
  /* A new open file description: readdir must not move the caller's offset. */
  int list_fd = openat (src_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (list_fd < 0)
    return berth_fail_errno (error, errno, "open %s", what);
  DIR *d = fdopendir (list_fd);
  if (d == NULL)
    {
      int errsv = errno;
      close (list_fd);
      return berth_fail_errno (error, errsv, "opendir %s", what);
    }
  gboolean ok = TRUE;
  struct dirent *de;
  while (ok && (errno = 0, de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      ok = !ctx_failed (ctx) && copy_entry (ctx, src_fd, dst_fd, rel_dir, de->d_name, error);
    }
  if (ok && errno != 0)
    ok = berth_fail_errno (error, errno, "readdir %s", what);
  closedir (d);
  struct stat st;
  if (ok && fstat (src_fd, &st) < 0)
    ok = berth_fail_errno (error, errno, "stat %s", what);
  return ok && set_fd_meta (src_fd, dst_fd, &st, what, error);
}

gboolean
berth_copy_tree (int src_dirfd, int dst_dirfd, BerthCopyStats *stats, GError **error)
{
  CopyCtx ctx = { 0 };
  g_mutex_init (&ctx.lock);
  g_cond_init (&ctx.drained);
  ctx.dst_root_fd = dst_dirfd;
  ctx.links = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  ctx.pool = g_thread_pool_new (file_job_run, &ctx, COPY_WORKERS, FALSE, error);
  gboolean ok = ctx.pool != NULL;
  GError *walk_error = NULL;
  if (ok && !copy_dir (&ctx, src_dirfd, dst_dirfd, "", &walk_error))
    {
      /* A walk that stopped because a worker failed has no error of its own. */
      if (walk_error)
        ctx_take_error (&ctx, walk_error);
    }
  if (ctx.pool)
    g_thread_pool_free (ctx.pool, FALSE, TRUE); /* runs the queued jobs, then returns */
  if (ok && ctx.error)
    {
      g_propagate_error (error, ctx.error);
      ok = FALSE;
    }
  else
    g_clear_error (&ctx.error);
  if (ok && stats)
    *stats = ctx.stats;
  g_hash_table_unref (ctx.links);
  g_cond_clear (&ctx.drained);
  g_mutex_clear (&ctx.lock);
  return ok;
}
