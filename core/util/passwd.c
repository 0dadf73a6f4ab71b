/* An image's user database, read safely from its rootfs: shared by the
 * spec builder (users and groups by name) and the exec drivers (HOME). */
#include "config.h"
#include <berth/error.h>
#include <berth/passwd.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

/* /etc/passwd and /etc/group come from the image: bound what we read. */
#define MAX_ETC_FILE (16 * 1024 * 1024)

static int
open_in_root (int root_fd, const char *relpath)
{
  /* O_NONBLOCK: the image may plant a fifo where the file should be */
  struct open_how how = { .flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC,
                          .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  for (int tries = 0;; tries++)
    {
      long fd = syscall (SYS_openat2, root_fd, relpath, &how, sizeof how);
      /* EAGAIN: a concurrent rename raced the lookup; the kernel asks to retry */
      if (fd >= 0 || errno != EAGAIN || tries >= 16)
        return (int) fd;
    }
}

static char *
read_fd_bounded (int fd, const char *what, GError **error)
{
  struct stat st;
  if (fstat (fd, &st) < 0)
    return berth_fail_errno (error, errno, "stat %s", what), NULL;
  if (!S_ISREG (st.st_mode) || st.st_size > MAX_ETC_FILE)
    return berth_fail (error, BERTH_ERROR_INVALID, "%s: not a regular file of at most 16 MiB", what),
           NULL;
  g_autofree char *buf = g_malloc ((gsize) st.st_size + 1);
  gsize len = 0;
  while (len < (gsize) st.st_size)
    {
      ssize_t n = read (fd, buf + len, (gsize) st.st_size - len);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return berth_fail_errno (error, errno, "read %s", what), NULL;
      if (n == 0)
        break;
      len += (gsize) n;
    }
  buf[len] = '\0';
  return g_steal_pointer (&buf);
}

/* The contents of @relpath in the image's rootfs, resolved inside it: the
 * image's /etc/passwd may be a symlink to anywhere on the host. A missing
 * file (or no rootfs) gives "" so numeric ids still work. */
char *
berth_rootfs_read_file (const char *rootfs_dir, const char *relpath, GError **error)
{
  if (rootfs_dir == NULL)
    return g_strdup ("");
  g_autofree char *what = g_build_filename (rootfs_dir, relpath, NULL);
  int root_fd = open (rootfs_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return berth_fail_errno (error, errno, "open %s", rootfs_dir), NULL;
  int fd = open_in_root (root_fd, relpath);
  int errsv = errno;
  close (root_fd);
  if (fd < 0 && errsv == ENOENT)
    return g_strdup ("");
  if (fd < 0)
    return berth_fail_errno (error, errsv, "open %s", what), NULL;
  char *data = read_fd_bounded (fd, what, error);
  close (fd);
  return data;
}

/* A decimal id as the kernel and runc take it: 0 .. 2^31-1. */
gboolean
berth_passwd_parse_id (const char *s, guint32 *id)
{
  guint64 v;
  if (*s == '\0' || strspn (s, "0123456789") != strlen (s))
    return FALSE;
  if (!g_ascii_string_to_unsigned (s, 10, 0, G_MAXINT32, &v, NULL))
    return FALSE;
  *id = (guint32) v;
  return TRUE;
}

/* The fields of the first line of @data (an /etc/passwd or /etc/group) with
 * at least @min_fields fields, a numeric id in field 2, and @name in field 0
 * (or, when @name is NULL, @id in field 2). Malformed lines are skipped. */
char **
berth_passwd_find_entry (const char *data, guint min_fields, const char *name, guint32 id)
{
  g_auto (GStrv) lines = g_strsplit (data, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      g_auto (GStrv) f = g_strsplit (*l, ":", -1);
      guint32 entry_id;
      if (g_strv_length (f) < min_fields || !berth_passwd_parse_id (f[2], &entry_id))
        continue;
      if (name ? strcmp (f[0], name) == 0 : entry_id == id)
        return g_steal_pointer (&f);
    }
  return NULL;
}

char *
berth_passwd_user_home (const char *rootfs_dir, guint32 uid)
{
  g_autofree char *passwd = berth_rootfs_read_file (rootfs_dir, "etc/passwd", NULL);
  g_auto (GStrv) entry = passwd ? berth_passwd_find_entry (passwd, 6, NULL, uid) : NULL;
  return g_strdup (entry && *entry[5] ? entry[5] : "/");
}
