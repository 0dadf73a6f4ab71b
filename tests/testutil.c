/* Helpers shared by berth's tests; see testutil.h. */
#include "config.h"
#include "testutil.h"
#include <errno.h>
#include <gio/gio.h>
#include <signal.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/mman.h>
#include <berth/storage.h>

char *
tu_mkdtemp (const char *prefix)
{
  g_autofree char *tmpl = g_strdup_printf ("/var/tmp/%s-XXXXXX", prefix);
  char *dir = g_mkdtemp_full (tmpl, 0755);
  if (dir == NULL)
    g_error ("mkdtemp %s: %s", tmpl, g_strerror (errno));
  g_steal_pointer (&tmpl);
  return dir;
}

int
tu_run (char **argv, char **out, char **err)
{
  g_autofree char *o = NULL, *e = NULL;
  g_autoptr (GError) error = NULL;
  int status = 0;
  if (!g_spawn_sync (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &o, &e, &status,
                     &error))
    {
      if (err)
        *err = g_strdup (error->message);
      if (out)
        *out = g_strdup ("");
      return 127;
    }
  if (out)
    *out = g_steal_pointer (&o);
  if (err)
    *err = g_steal_pointer (&e);
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return 255;
}

/* Undo the octal escapes (\040 for a space) of a mountinfo path. */
static char *
unescape_mount_path (const char *s)
{
  GString *out = g_string_new (NULL);
  for (const char *p = s; *p; p++)
    {
      if (p[0] == '\\' && g_ascii_isdigit (p[1]) && g_ascii_isdigit (p[2])
          && g_ascii_isdigit (p[3]))
        {
          g_string_append_c (out, (char) (((p[1] - '0') << 6) | ((p[2] - '0') << 3)
                                          | (p[3] - '0')));
          p += 3;
        }
      else
        g_string_append_c (out, *p);
    }
  return g_string_free (out, FALSE);
}

static gboolean
path_at_or_below (const char *mnt, const char *path)
{
  gsize len = strlen (path);
  while (len > 1 && path[len - 1] == '/')
    len--;
  if (strncmp (mnt, path, len) != 0)
    return FALSE;
  return mnt[len] == '\0' || mnt[len] == '/';
}

/* Mount points at or below @path, deepest (longest) first. */
static GPtrArray *
mounts_below (const char *path)
{
  GPtrArray *found = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/self/mountinfo", &text, NULL, NULL))
    return found;
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      g_auto (GStrv) fields = g_strsplit (*l, " ", 6);
      if (g_strv_length (fields) < 5)
        continue;
      g_autofree char *mnt = unescape_mount_path (fields[4]);
      if (path_at_or_below (mnt, path))
        g_ptr_array_add (found, g_steal_pointer (&mnt));
    }
  return found;
}

gboolean
tu_mounted_below (const char *path)
{
  g_autoptr (GPtrArray) found = mounts_below (path);
  return found->len > 0;
}

gboolean
tu_cgroup_line_placeable (const char *line)
{
  const char *controllers = strchr (line, ':');
  if (controllers && g_str_has_prefix (controllers, ":misc:"))
    return FALSE;
  if (!g_str_has_prefix (line, "0::"))
    return TRUE;
  struct statfs sfs;
  return tu_cgroup_is_v2_only ()
         || (statfs ("/sys/fs/cgroup/unified", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC);
}

gboolean
tu_cgroup_is_v2_only (void)
{
  struct statfs sfs;
  return statfs ("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC;
}

char *
tu_cgroup_hierarchy (const char *controller)
{
  if (tu_cgroup_is_v2_only ())
    return g_strdup ("/sys/fs/cgroup");
  /* A v1 hierarchy, not a directory: podman makes CONTROLLER/ on the tmpfs
   * for a controller no hierarchy holds. */
  g_autofree char *v1 = g_build_filename ("/sys/fs/cgroup", controller, NULL);
  if (controller && tu_cgroup_is_v1 (v1))
    return g_steal_pointer (&v1);
  return g_strdup ("/sys/fs/cgroup/unified");
}

gboolean
tu_cgroup_is_v1 (const char *hierarchy)
{
  struct statfs sfs;
  return statfs (hierarchy, &sfs) == 0 && sfs.f_type == CGROUP_SUPER_MAGIC;
}

char *
tu_cgroup_controller_missing (const char *controller)
{
  g_autofree char *h = tu_cgroup_hierarchy (controller);
  if (tu_cgroup_is_v1 (h))
    return NULL;
  g_autofree char *list_path = g_build_filename (h, "cgroup.controllers", NULL);
  g_autofree char *list = NULL;
  if (!g_file_get_contents (list_path, &list, NULL, NULL))
    return g_strdup_printf ("no v1 hierarchy has the %s controller and there is no cgroup2 "
                            "(%s unreadable)", controller, list_path);
  g_auto (GStrv) have = g_strsplit_set (g_strstrip (list), " ", -1);
  if (!g_strv_contains ((const char *const *) have, controller))
    return g_strdup_printf ("the %s cgroup controller is not available (%s: %s)", controller,
                            list_path, list);
  return NULL;
}

static gint
cmp_longest_first (gconstpointer a, gconstpointer b)
{
  const char *sa = *(const char *const *) a, *sb = *(const char *const *) b;
  gsize la = strlen (sa), lb = strlen (sb);
  return la == lb ? strcmp (sa, sb) : (la > lb ? -1 : 1);
}

static void
umount_all_below (const char *dir)
{
  for (int round = 0; round < 8 && tu_mounted_below (dir); round++)
    {
      g_autoptr (GPtrArray) found = mounts_below (dir);
      g_ptr_array_sort (found, cmp_longest_first);
      for (guint i = 0; i < found->len; i++)
        {
          const char *mnt = found->pdata[i];
          if (umount2 (mnt, 0) < 0 && umount2 (mnt, MNT_DETACH) < 0)
            g_printerr ("# tu_remove_tree: umount %s: %s\n", mnt, g_strerror (errno));
        }
    }
}

void
tu_remove_tree (const char *dir)
{
  if (dir == NULL)
    return;
  umount_all_below (dir);
  char *argv[] = { "rm", "-rf", "--one-file-system", (char *) dir, NULL };
  g_autofree char *err = NULL;
  if (tu_run (argv, NULL, &err) != 0)
    g_printerr ("# tu_remove_tree %s: %s\n", dir, err ? err : "");
}

static gboolean
run_or_fail (char **argv, const char *what, GError **error)
{
  g_autofree char *err = NULL;
  int status = tu_run (argv, NULL, &err);
  if (status == 0)
    return TRUE;
  g_strstrip (err);
  g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s failed (exit %d): %s", what, status,
               err);
  return FALSE;
}

gboolean
tu_btrfs_mount (const char *workdir, const char *mountpoint, GError **error)
{
  g_autofree char *mkfs = g_find_program_in_path ("mkfs.btrfs");
  if (mkfs == NULL)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "mkfs.btrfs is not installed");
      return FALSE;
    }
  g_autofree char *img = g_build_filename (workdir, "btrfs.img", NULL);
  int fd = open (img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ftruncate (fd, (off_t) 2 << 30) < 0)
    {
      int errsv = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv), "create %s: %s", img,
                   g_strerror (errsv));
      return FALSE;
    }
  close (fd);
  if (g_mkdir_with_parents (mountpoint, 0755) < 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "mkdir %s: %s",
                   mountpoint, g_strerror (errno));
      return FALSE;
    }
  char *mkfs_argv[] = { mkfs, "-q", "-f", img, NULL };
  if (!run_or_fail (mkfs_argv, "mkfs.btrfs", error))
    return FALSE;
  char *mount_argv[] = { "mount", "-t", "btrfs", "-o", "loop", img, (char *) mountpoint, NULL };
  return run_or_fail (mount_argv, "mount -o loop (btrfs)", error);
}

void
tu_btrfs_umount (const char *mountpoint)
{
  for (int i = 0; i < 50; i++)
    {
      if (umount2 (mountpoint, 0) == 0 || errno == EINVAL || errno == ENOENT)
        return;
      if (errno != EBUSY)
        break;
      g_usleep (100 * 1000);
    }
  if (umount2 (mountpoint, MNT_DETACH) < 0 && errno != EINVAL)
    g_printerr ("# tu_btrfs_umount %s: %s\n", mountpoint, g_strerror (errno));
}

void
tu_write_file (const char *path, const char *contents, mode_t mode)
{
  g_autoptr (GError) error = NULL;
  if (!g_file_set_contents (path, contents, -1, &error))
    g_error ("write %s: %s", path, error->message);
  if (chmod (path, mode) < 0)
    g_error ("chmod %s: %s", path, g_strerror (errno));
}

/* ---- tree manifest ---- */

static void
walk_dir (const char *root, const char *rel, GPtrArray *paths)
{
  g_autofree char *full = rel[0] ? g_build_filename (root, rel, NULL) : g_strdup (root);
  DIR *d = opendir (full);
  if (d == NULL)
    g_error ("opendir %s: %s", full, g_strerror (errno));
  struct dirent *de;
  g_autoptr (GPtrArray) subdirs = g_ptr_array_new_with_free_func (g_free);
  while ((de = readdir (d)) != NULL)
    {
      if (strcmp (de->d_name, ".") == 0 || strcmp (de->d_name, "..") == 0)
        continue;
      char *child = rel[0] ? g_strconcat (rel, "/", de->d_name, NULL) : g_strdup (de->d_name);
      g_ptr_array_add (paths, child);
      g_autofree char *cfull = g_build_filename (root, child, NULL);
      struct stat st;
      if (lstat (cfull, &st) == 0 && S_ISDIR (st.st_mode))
        g_ptr_array_add (subdirs, g_strdup (child));
    }
  closedir (d);
  for (guint i = 0; i < subdirs->len; i++)
    walk_dir (root, subdirs->pdata[i], paths);
}

static gint
cmp_str (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static char *
file_sha256 (const char *path)
{
  int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0)
    return g_strdup_printf ("<open: %s>", g_strerror (errno));
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  guchar buf[65536];
  ssize_t n;
  while ((n = read (fd, buf, sizeof buf)) > 0)
    g_checksum_update (sum, buf, n);
  int errsv = errno;
  close (fd);
  if (n < 0)
    return g_strdup_printf ("<read: %s>", g_strerror (errsv));
  return g_strdup (g_checksum_get_string (sum));
}

static void
append_xattrs (GString *line, const char *path)
{
  char names[65536];
  ssize_t len = llistxattr (path, names, sizeof names);
  if (len <= 0)
    return;
  g_autoptr (GPtrArray) sorted = g_ptr_array_new ();
  for (char *n = names; n < names + len; n += strlen (n) + 1)
    if (!g_str_has_prefix (n, "trusted.overlay."))
      g_ptr_array_add (sorted, n);
  g_ptr_array_sort (sorted, cmp_str);
  for (guint i = 0; i < sorted->len; i++)
    {
      const char *n = sorted->pdata[i];
      char value[65536];
      ssize_t vlen = lgetxattr (path, n, value, sizeof value);
      g_autofree char *hex = NULL;
      if (vlen >= 0)
        {
          GString *h = g_string_new (NULL);
          for (ssize_t k = 0; k < vlen; k++)
            g_string_append_printf (h, "%02x", (guchar) value[k]);
          hex = g_string_free (h, FALSE);
        }
      g_string_append_printf (line, " xattr:%s=%s", n, hex ? hex : "<unreadable>");
    }
}

static char
type_char (mode_t mode)
{
  switch (mode & S_IFMT)
    {
    case S_IFREG: return 'f';
    case S_IFDIR: return 'd';
    case S_IFLNK: return 'l';
    case S_IFIFO: return 'p';
    case S_IFSOCK: return 's';
    case S_IFCHR: return 'c';
    case S_IFBLK: return 'b';
    default: return '?';
    }
}

static void
append_entry (GString *out, const char *root, const char *rel, GHashTable *inodes)
{
  g_autofree char *full = g_build_filename (root, rel, NULL);
  struct stat st;
  g_autofree char *esc = g_strescape (rel, NULL);
  if (lstat (full, &st) < 0)
    {
      g_string_append_printf (out, "/%s <lstat: %s>\n", esc, g_strerror (errno));
      return;
    }
  GString *line = g_string_new (NULL);
  g_string_append_printf (line, "/%s %c %04o %u:%u", esc, type_char (st.st_mode),
                          (unsigned) (st.st_mode & 07777), (unsigned) st.st_uid,
                          (unsigned) st.st_gid);
  if (S_ISREG (st.st_mode))
    {
      g_autofree char *sum = file_sha256 (full);
      g_string_append_printf (line, " size=%lld sha256=%s", (long long) st.st_size, sum);
    }
  else if (S_ISLNK (st.st_mode))
    {
      g_autofree char *target = g_file_read_link (full, NULL);
      g_autofree char *etarget = g_strescape (target ? target : "<unreadable>", NULL);
      g_string_append_printf (line, " -> %s", etarget);
    }
  else if (S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode))
    g_string_append_printf (line, " rdev=%u,%u", major (st.st_rdev), minor (st.st_rdev));
  append_xattrs (line, full);
  if (!S_ISDIR (st.st_mode) && st.st_nlink > 1)
    {
      g_autofree char *key = g_strdup_printf ("%ju:%ju", (uintmax_t) st.st_dev,
                                              (uintmax_t) st.st_ino);
      const char *first = g_hash_table_lookup (inodes, key);
      if (first == NULL)
        {
          g_hash_table_insert (inodes, g_steal_pointer (&key), g_strdup (rel));
          first = rel;
        }
      g_autofree char *efirst = g_strescape (first, NULL);
      g_string_append_printf (line, " link=/%s", efirst);
    }
  g_string_append_c (line, '\n');
  g_string_append (out, line->str);
  g_string_free (line, TRUE);
}

char *
tu_tree_manifest (const char *dir)
{
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  walk_dir (dir, "", paths);
  g_ptr_array_sort (paths, cmp_str);
  g_autoptr (GHashTable) inodes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                         g_free);
  GString *out = g_string_new (NULL);
  for (guint i = 0; i < paths->len; i++)
    append_entry (out, dir, paths->pdata[i], inodes);
  return g_string_free (out, FALSE);
}

const char *
tu_berth_bin (void)
{
  const char *bin = g_getenv ("BERTH_BIN");
  return bin ? bin : "./berth";
}

void
tu_argv_add_va (GPtrArray *argv, va_list args)
{
  for (const char *a = va_arg (args, const char *); a; a = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) a);
}

int
tu_berth_va (const char *root, char **out, char **err, va_list args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) tu_berth_bin ());
  g_ptr_array_add (argv, "--root");
  g_ptr_array_add (argv, (gpointer) root);
  tu_argv_add_va (argv, args);
  return tu_berth_argv (argv, out, err);
}

int
tu_berth_argv (GPtrArray *argv, char **out, char **err)
{
  g_ptr_array_add (argv, NULL);
  g_autofree char *o = NULL, *e = NULL;
  int status = tu_run ((char **) argv->pdata, &o, &e);
  g_ptr_array_remove_index (argv, argv->len - 1);
  if (status != 0)
    g_test_message ("berth exited %d: %s", status, e ? e : "");
  if (out)
    *out = g_steal_pointer (&o);
  if (err)
    *err = g_steal_pointer (&e);
  return status;
}

int
tu_berth (const char *root, char **out, char **err, ...)
{
  va_list ap;
  va_start (ap, err);
  int status = tu_berth_va (root, out, err, ap);
  va_end (ap);
  return status;
}

void
tu_assert_one_line_error (const char *err, const char *needle)
{
  g_assert_nonnull (err);
  g_assert_true (g_str_has_prefix (err, "berth: "));
  g_assert_nonnull (strstr (err, needle));
  g_assert_cmpint (strchr (err, '\n') - err, ==, (int) strlen (err) - 1);
}

char *
tu_layer_id (const char *label)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, label, -1);
}

int
tu_memfd (const char *name)
{
  int fd = memfd_create (name, MFD_CLOEXEC);
  if (fd < 0)
    g_error ("memfd_create: %s", g_strerror (errno));
  return fd;
}

char *
tu_changes_text (GPtrArray *changes)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < changes->len; i++)
    {
      const BerthChange *ch = changes->pdata[i];
      g_string_append_printf (s, "%c %s\n", (char) ch->kind, ch->path);
    }
  return g_string_free (s, FALSE);
}

char *
tu_find_program_or_skip (const char *name, const char *why)
{
  char *path = g_find_program_in_path (name);
  if (path == NULL)
    {
      g_autofree char *reason = g_strdup_printf ("%s is not installed: %s", name, why);
      g_test_skip (reason);
    }
  return path;
}

char *
tu_term_trap_script (int code)
{
  return g_strdup_printf ("trap 'echo got TERM; exit %d' TERM; echo ready; "
                          "while true; do sleep 0.05; done", code);
}

void
tu_assert_term_relayed (const char *const *argv, int code)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error (error);
  g_autoptr (GDataInputStream) lines = g_data_input_stream_new (g_subprocess_get_stdout_pipe (p));
  g_autofree char *first = g_data_input_stream_read_line (lines, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (first, ==, "ready");
  g_subprocess_send_signal (p, SIGTERM);
  g_assert_true (g_subprocess_wait (p, NULL, &error));
  g_assert_true (g_subprocess_get_if_exited (p));
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, code);
  g_autofree char *second = g_data_input_stream_read_line (lines, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (second, ==, "got TERM");
}
