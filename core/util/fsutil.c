#include "config.h"
#include <berth/fsutil.h>
#include <berth/error.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/magic.h>

gboolean
berth_write_all (int fd, const void *data, gsize len)
{
  const char *p = data;
  while (len > 0)
    {
      ssize_t n = write (fd, p, len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return FALSE;
      p += n;
      len -= n;
    }
  return TRUE;
}

gint
berth_compare_string_slots (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

GPtrArray *
berth_dir_names_sorted (int dirfd, const char *what, GError **error)
{
  /* A fresh open, not dup: the caller's fd keeps its own offset. */
  int fd = openat (dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", what), NULL;
  DIR *d = fdopendir (fd);
  if (d == NULL)
    {
      int errsv = errno;
      close (fd);
      return berth_fail_errno (error, errsv, "opendir %s", what), NULL;
    }
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  struct dirent *de;
  while ((errno = 0, de = readdir (d)) != NULL)
    if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
      g_ptr_array_add (names, g_strdup (de->d_name));
  int errsv = errno;
  closedir (d);
  if (errsv != 0)
    return berth_fail_errno (error, errsv, "read directory %s", what), NULL;
  g_ptr_array_sort (names, berth_compare_string_slots);
  return g_steal_pointer (&names);
}

gboolean
berth_is_overlay_xattr (const char *name)
{
  return g_str_has_prefix (name, "trusted.overlay.") || g_str_has_prefix (name, "user.overlay.");
}

gboolean
berth_read_xattrs (int dirfd, const char *name, BerthXattrFunc func, gpointer data,
                   GError **error)
{
  /* glibc has no *at form of the l*xattr calls: go through the resolved fd. */
  g_autofree char *path = (dirfd == AT_FDCWD || name[0] == '/')
                              ? g_strdup (name)
                              : g_strdup_printf ("/proc/self/fd/%d/%s", dirfd, name);
  ssize_t n = llistxattr (path, NULL, 0);
  if (n < 0 && errno == ENOTSUP)
    return TRUE;
  if (n <= 0)
    return n == 0 ? TRUE : berth_fail_errno (error, errno, "list xattrs of %s", name);
  g_autofree char *names = g_malloc (n);
  if ((n = llistxattr (path, names, n)) < 0)
    return berth_fail_errno (error, errno, "list xattrs of %s", name);
  g_autoptr (GPtrArray) sorted = g_ptr_array_new ();
  for (char *p = names; p < names + n; p += strlen (p) + 1)
    if (!berth_is_overlay_xattr (p))
      g_ptr_array_add (sorted, p);
  g_ptr_array_sort (sorted, berth_compare_string_slots);
  for (guint i = 0; i < sorted->len; i++)
    {
      const char *x = sorted->pdata[i];
      ssize_t len = lgetxattr (path, x, NULL, 0);
      g_autofree char *value = len >= 0 ? g_malloc (len + 1) : NULL;
      if (len >= 0)
        len = lgetxattr (path, x, value, len);
      if (len < 0)
        return berth_fail_errno (error, errno, "get xattr %s of %s", x, name);
      if (!func (x, value, len, data, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
fsync_parent_dir (const char *path, GError **error)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", dir);
  int r = fsync (fd);
  int errsv = errno;
  close (fd);
  if (r < 0)
    return berth_fail_errno (error, errsv, "fsync %s", dir);
  return TRUE;
}

static gboolean
write_replace (const char *path, const void *data, gsize len, mode_t mode, gboolean durable,
               GError **error)
{
  g_autofree char *tmp = g_strdup_printf ("%s.tmp-XXXXXX", path);
  int fd = g_mkstemp_full (tmp, O_WRONLY | O_CLOEXEC, mode);
  if (fd < 0)
    return berth_fail_errno (error, errno, "create %s", tmp);
  if (!berth_write_all (fd, data, len) || (durable && fsync (fd) < 0))
    {
      int errsv = errno;
      close (fd);
      unlink (tmp);
      return berth_fail_errno (error, errsv, "write %s", path);
    }
  if (close (fd) < 0 || rename (tmp, path) < 0)
    {
      int errsv = errno;
      unlink (tmp);
      return berth_fail_errno (error, errsv, "write %s", path);
    }
  return !durable || fsync_parent_dir (path, error);
}

gboolean
berth_write_file_atomic (const char *path, const void *data, gsize len, mode_t mode,
                         GError **error)
{
  return write_replace (path, data, len, mode, TRUE, error);
}

gboolean
berth_write_file_replace (const char *path, const void *data, gsize len, mode_t mode,
                          GError **error)
{
  return write_replace (path, data, len, mode, FALSE, error);
}

gboolean
berth_mkdir_p (const char *path, mode_t mode, GError **error)
{
  if (g_mkdir_with_parents (path, mode) < 0)
    return berth_fail_errno (error, errno, "mkdir %s", path);
  return TRUE;
}

static gboolean rm_children (int dirfd, const char *what, dev_t dev, GError **error);

static gboolean
rm_entry (int dirfd, const char *name, const char *what, dev_t dev, GError **error)
{
  struct stat st;
  if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT)
        return TRUE;
      return berth_fail_errno (error, errno, "stat %s/%s", what, name);
    }
  if (!S_ISDIR (st.st_mode))
    {
      if (unlinkat (dirfd, name, 0) < 0 && errno != ENOENT)
        return berth_fail_errno (error, errno, "unlink %s/%s", what, name);
      return TRUE;
    }
  if (st.st_dev != dev)
    return berth_fail (error, BERTH_ERROR_BUSY, "remove %s/%s: a filesystem is mounted there",
                       what, name);
  int fd = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s/%s", what, name);
  g_autofree char *sub = g_strdup_printf ("%s/%s", what, name);
  gboolean ok = rm_children (fd, sub, dev, error);
  close (fd);
  if (!ok)
    return FALSE;
  if (unlinkat (dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    {
      /* A btrfs subvolume nested in the tree is removed like a directory
       * by rmdir on recent kernels; anything else is a real failure. */
      return berth_fail_errno (error, errno, "rmdir %s", sub);
    }
  return TRUE;
}

static gboolean
rm_children (int dirfd, const char *what, dev_t dev, GError **error)
{
  int fd = dup (dirfd);
  if (fd < 0)
    return berth_fail_errno (error, errno, "dup");
  DIR *d = fdopendir (fd);
  if (d == NULL)
    {
      close (fd);
      return berth_fail_errno (error, errno, "opendir %s", what);
    }
  struct dirent *de;
  gboolean ok = TRUE;
  while (ok && (errno = 0, de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      ok = rm_entry (dirfd, de->d_name, what, dev, error);
    }
  closedir (d);
  return ok;
}

gboolean
berth_rm_rf_at (int dirfd, const char *name, GError **error)
{
  struct stat st;
  if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    {
      if (errno == ENOENT)
        return TRUE;
      return berth_fail_errno (error, errno, "stat %s", name);
    }
  return rm_entry (dirfd, name, name, st.st_dev, error);
}

gboolean
berth_rm_rf (const char *path, GError **error)
{
  return berth_rm_rf_at (AT_FDCWD, path, error);
}

gboolean
berth_rm_rf_staged (const char *path, GError **error)
{
  g_autofree char *staged = g_strdup_printf ("%s.tmp-%08x", path, g_random_int ());
  if (rename (path, staged) < 0)
    {
      if (errno == ENOENT)
        return TRUE;
      return berth_fail_errno (error, errno, "rename %s", path);
    }
  return berth_rm_rf (staged, error);
}

gboolean
berth_remove_stale_temps (const char *dir, GError **error)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  if (d == NULL)
    return TRUE;
  const char *name;
  while ((name = g_dir_read_name (d)))
    if (strstr (name, ".tmp-"))
      {
        g_autofree char *path = g_build_filename (dir, name, NULL);
        berth_unmount_below (path); /* a probe's test mount, killed before its unmount */
        if (!berth_rm_rf (path, error))
          return FALSE;
      }
  return TRUE;
}

static gboolean
mountinfo_has (const char *path)
{
  g_autofree char *contents = NULL;
  g_autofree char *real = realpath (path, NULL);
  if (real == NULL || !g_file_get_contents ("/proc/self/mountinfo", &contents, NULL, NULL))
    return FALSE;
  g_auto (GStrv) lines = g_strsplit (contents, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      g_auto (GStrv) f = g_strsplit (*l, " ", 6);
      if (g_strv_length (f) < 5)
        continue;
      g_autofree char *mp = g_strcompress (f[4]); /* octal escapes like \040 */
      if (strcmp (mp, real) == 0)
        return TRUE;
    }
  return FALSE;
}

/* statx answers in one syscall on the mount path (kernel 5.8+); older
 * kernels do not fill STATX_ATTR_MOUNT_ROOT and fall back to mountinfo. */
gboolean
berth_is_mountpoint (const char *path)
{
  struct statx stx;
  if (statx (AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
    return FALSE;
  if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
    return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  return mountinfo_has (path);
}

const char *
berth_fs_type_name (const char *path)
{
  struct statfs sfs;
  if (statfs (path, &sfs) < 0)
    return "unknown";
  switch ((unsigned long) sfs.f_type)
    {
    case EXT4_SUPER_MAGIC: return "ext4";
    case BTRFS_SUPER_MAGIC: return "btrfs";
    case TMPFS_MAGIC: return "tmpfs";
    case XFS_SUPER_MAGIC: return "xfs";
    case OVERLAYFS_SUPER_MAGIC: return "overlay";
    case 0x65735546: return "fuse";
    case 0x2fc12fc1: return "zfs";
    case NFS_SUPER_MAGIC: return "nfs";
    case SQUASHFS_MAGIC: return "squashfs";
    default: return "other";
    }
}

gboolean
berth_fs_supports_d_type (const char *dir, gboolean *supported, GError **error)
{
  /* ".tmp-": a probe killed half-way is swept when the store is opened. */
  g_autofree char *probe = g_build_filename (dir, ".d_type-probe.tmp-XXXXXX", NULL);
  if (g_mkdtemp (probe) == NULL)
    return berth_fail_errno (error, errno, "probe d_type in %s", dir);
  g_autofree char *file = g_build_filename (probe, "f", NULL);
  int fd = open (file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int errsv = errno;
      rmdir (probe);
      return berth_fail_errno (error, errsv, "probe d_type in %s", dir);
    }
  close (fd);
  *supported = FALSE;
  DIR *d = opendir (probe);
  struct dirent *de;
  while (d && (de = readdir (d)) != NULL)
    if (strcmp (de->d_name, "f") == 0)
      *supported = de->d_type != DT_UNKNOWN;
  if (d)
    closedir (d);
  unlink (file);
  rmdir (probe);
  return TRUE;
}

guint64
berth_process_start_time (pid_t pid)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  if (pid <= 0 || !g_file_get_contents (path, &stat, NULL, NULL))
    return 0;
  /* comm may hold spaces and parentheses: the fields resume after the last ')'. */
  const char *p = strrchr (stat, ')');
  if (p == NULL || p[1] == '\0' || p[2] == 'Z' || p[2] == 'X')
    return 0;
  g_auto (GStrv) fields = g_strsplit (p + 2, " ", 22);
  if (g_strv_length (fields) < 21)
    return 0;
  return g_ascii_strtoull (fields[19], NULL, 10);
}

gboolean
berth_kernel_has_filesystem (const char *fstype, const char *hint, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents ("/proc/filesystems", &text, NULL, &local))
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "cannot read /proc/filesystems: %s",
                       local->message);
  /* Each line is "nodev\tNAME" or "\tNAME". */
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      const char *tab = strrchr (*l, '\t');
      if (strcmp (tab ? tab + 1 : *l, fstype) == 0)
        return TRUE;
    }
  return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                     "kernel has no %s (not listed in /proc/filesystems%s%s)", fstype,
                     hint ? "; " : "", hint ? hint : "");
}

char *
berth_nearest_existing_dir (const char *path, GError **error)
{
  g_autofree char *p = g_strdup (path);
  struct stat st;
  while (stat (p, &st) < 0 || !S_ISDIR (st.st_mode))
    {
      if ((errno != ENOENT && errno != ENOTDIR) || strcmp (p, "/") == 0 || strcmp (p, ".") == 0)
        {
          berth_fail_errno (error, errno ? errno : ENOTDIR, "stat %s", p);
          return NULL;
        }
      char *up = g_path_get_dirname (p);
      g_free (p);
      p = up;
    }
  return g_steal_pointer (&p);
}

gboolean
berth_unmount (const char *target, GError **error)
{
  if (!berth_is_mountpoint (target))
    return TRUE;
  if (umount2 (target, UMOUNT_NOFOLLOW) == 0)
    return TRUE;
  if (errno == EBUSY)
    return berth_fail (error, BERTH_ERROR_BUSY,
                       "unmount %s: still in use (a process has files open or its working "
                       "directory there)", target);
  return berth_fail_errno (error, errno, "unmount %s", target);
}

static int
longest_first (gconstpointer a, gconstpointer b)
{
  return (int) strlen (*(char *const *) b) - (int) strlen (*(char *const *) a);
}

void
berth_unmount_below (const char *dir)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/self/mountinfo", &text, NULL, NULL))
    return;
  g_autofree char *prefix = g_strconcat (dir, "/", NULL);
  g_autoptr (GPtrArray) targets = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      g_auto (GStrv) f = g_strsplit (*l, " ", 6);
      if (g_strv_length (f) < 5)
        continue;
      char *target = g_strcompress (f[4]); /* octal escapes like \040 */
      if (g_str_has_prefix (target, prefix))
        g_ptr_array_add (targets, target);
      else
        g_free (target);
    }
  g_ptr_array_sort (targets, longest_first);
  for (guint i = 0; i < targets->len; i++)
    if (umount2 (targets->pdata[i], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
      g_warning ("unmount %s: %s", (char *) targets->pdata[i], g_strerror (errno));
}

gssize
berth_send_with_fd (int sock, const void *data, gsize len, int fd)
{
  union {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } control;
  memset (&control, 0, sizeof control);
  struct iovec iov = { .iov_base = (void *) data, .iov_len = len };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
  if (fd >= 0)
    {
      msg.msg_control = control.buf;
      msg.msg_controllen = sizeof control.buf;
      struct cmsghdr *cm = CMSG_FIRSTHDR (&msg);
      cm->cmsg_level = SOL_SOCKET;
      cm->cmsg_type = SCM_RIGHTS;
      cm->cmsg_len = CMSG_LEN (sizeof (int));
      memcpy (CMSG_DATA (cm), &fd, sizeof (int));
    }
  return sendmsg (sock, &msg, MSG_NOSIGNAL);
}

gssize
berth_recv_with_fd (int sock, void *buf, gsize size, int *fd)
{
  union {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } control;
  struct iovec iov = { .iov_base = buf, .iov_len = size };
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                        .msg_controllen = sizeof control.buf };
  gssize n;
  *fd = -1;
  while ((n = recvmsg (sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
    ;
  struct cmsghdr *cm = n >= 0 ? CMSG_FIRSTHDR (&msg) : NULL;
  if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
    memcpy (fd, CMSG_DATA (cm), sizeof (int));
  return n;
}

/* An unnamed file in @path's directory, or -1 with errno set. */
static int
open_unnamed_beside (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  return open (dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
}

gboolean
berth_output_file_open (BerthOutputFile *out, const char *path, GError **error)
{
  *out = (BerthOutputFile) { .fd = -1 };
  struct stat st;
  if (lstat (path, &st) == 0 && !S_ISREG (st.st_mode))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "%s: not a regular file (%s); refusing to replace it", path,
                       S_ISLNK (st.st_mode) ? "a symlink" : S_ISDIR (st.st_mode) ? "a directory"
                       : S_ISFIFO (st.st_mode) ? "a FIFO" : S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode)
                           ? "a device node" : "a special file");
  out->fd = open_unnamed_beside (path);
  /* A filesystem without O_TMPFILE: a named temp file, which a kill leaves. */
  if (out->fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR))
    {
      out->tmp = g_strdup_printf ("%s.tmp-XXXXXX", path);
      out->fd = g_mkstemp_full (out->tmp, O_WRONLY | O_CLOEXEC, 0644);
    }
  if (out->fd < 0)
    {
      int errsv = errno;
      g_clear_pointer (&out->tmp, g_free);
      return berth_fail_errno (error, errsv, "create %s", path);
    }
  out->path = g_strdup (path);
  return TRUE;
}

/* Give the unnamed file @fd the name @path; FALSE with errno set. */
static gboolean
link_unnamed (int fd, const char *path)
{
  char proc[64];
  g_snprintf (proc, sizeof proc, "/proc/self/fd/%d", fd);
  return linkat (AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0;
}

/* Only a rename replaces a file atomically, and a rename needs a name:
 * the unnamed file gets a temporary one just before it, so a kill leaves
 * a temp file only between those two calls. */
static gboolean
replace_with_unnamed (BerthOutputFile *out, GError **error)
{
  for (int tries = 0; tries < 100; tries++)
    {
      g_autofree char *tmp = g_strdup_printf ("%s.tmp-%08x", out->path, g_random_int ());
      if (!link_unnamed (out->fd, tmp))
        {
          if (errno == EEXIST)
            continue;
          return berth_fail_errno (error, errno, "link %s", tmp);
        }
      if (rename (tmp, out->path) == 0)
        return TRUE;
      int errsv = errno;
      unlink (tmp);
      return berth_fail_errno (error, errsv, "rename %s", out->path);
    }
  return berth_fail_errno (error, EEXIST, "link a temporary name beside %s", out->path);
}

/* A missing @out->path is linked straight in: nothing is ever left. */
static gboolean
publish_output (BerthOutputFile *out, GError **error)
{
  if (out->tmp)
    {
      if (rename (out->tmp, out->path) < 0)
        return berth_fail_errno (error, errno, "rename %s", out->path);
      return TRUE;
    }
  if (link_unnamed (out->fd, out->path))
    return TRUE;
  if (errno != EEXIST)
    return berth_fail_errno (error, errno, "link %s", out->path);
  return replace_with_unnamed (out, error);
}

gboolean
berth_output_file_close (BerthOutputFile *out, gboolean ok, GError **error)
{
  if (ok && fsync (out->fd) < 0)
    ok = berth_fail_errno (error, errno, "fsync %s", out->path);
  if (ok)
    ok = publish_output (out, error);
  close (out->fd);
  if (!ok && out->tmp)
    unlink (out->tmp);
  g_clear_pointer (&out->path, g_free);
  g_clear_pointer (&out->tmp, g_free);
  out->fd = -1;
  return ok;
}
