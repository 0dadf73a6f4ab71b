#include "config.h"
#include <berth/archive.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/storage.h>
#include "testutil.h"
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* A scratch area per test: root/ (the layer), host/planted.txt (a host file
 * the archives aim at) and in.tar (the archive under test). */
typedef struct {
  char *base;
  char *root;
  char *host;
  char *host_file;
  char *tar;
  int root_fd;
  struct stat host_st;
} Env;

#define HOST_DATA "host data, must stay\n"
#define FIXED_MTIME 1000000000

static void
env_setup (Env *env, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  env->base = g_dir_make_tmp ("berth-archive-XXXXXX", &error);
  g_assert_no_error (error);
  env->root = g_build_filename (env->base, "root", NULL);
  env->host = g_build_filename (env->base, "host", NULL);
  env->host_file = g_build_filename (env->host, "planted.txt", NULL);
  env->tar = g_build_filename (env->base, "in.tar", NULL);
  g_assert_cmpint (mkdir (env->root, 0755), ==, 0);
  g_assert_cmpint (mkdir (env->host, 0755), ==, 0);
  g_file_set_contents (env->host_file, HOST_DATA, -1, &error);
  g_assert_no_error (error);
  struct timespec ts[2] = { { FIXED_MTIME, 0 }, { FIXED_MTIME, 0 } };
  g_assert_cmpint (utimensat (AT_FDCWD, env->host_file, ts, 0), ==, 0);
  g_assert_cmpint (stat (env->host_file, &env->host_st), ==, 0);
  env->root_fd = open (env->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (env->root_fd, >=, 0);
}

static void
env_teardown (Env *env, gconstpointer data)
{
  close (env->root_fd);
  g_autoptr (GError) error = NULL;
  berth_rm_rf (env->base, &error);
  g_assert_no_error (error);
  g_free (env->base);
  g_free (env->root);
  g_free (env->host);
  g_free (env->host_file);
  g_free (env->tar);
}

static gint
cmp_str_ptr (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static char *
dir_listing (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  const char *n;
  while ((n = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, (gpointer) n);
  g_ptr_array_sort (names, cmp_str_ptr);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (",", (char **) names->pdata);
}

/* Nothing outside root/ changed: the host file keeps content and mtime, and no
 * new name appeared next to root/, inside host/, or next to the scratch dir. */
static void
assert_host_untouched (Env *env)
{
  g_autofree char *contents = NULL;
  g_assert_true (g_file_get_contents (env->host_file, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, HOST_DATA);
  struct stat st;
  g_assert_cmpint (stat (env->host_file, &st), ==, 0);
  g_assert_cmpint (st.st_mtim.tv_sec, ==, env->host_st.st_mtim.tv_sec);
  g_assert_cmpint (st.st_nlink, ==, 1);
  g_autofree char *host = dir_listing (env->host);
  g_assert_cmpstr (host, ==, "planted.txt");
  g_autofree char *outer = g_path_get_dirname (env->base);
  g_autofree char *escaped = g_build_filename (outer, "berth-escaped", NULL);
  g_assert_false (g_file_test (escaped, G_FILE_TEST_EXISTS));
  g_autofree char *beside = g_build_filename (env->base, "berth-escaped", NULL);
  g_assert_false (g_file_test (beside, G_FILE_TEST_EXISTS));
}

/* ------------------------------------------------------------ tar building */

static struct archive *
tb_open (const char *path, int filter)
{
  struct archive *a = archive_write_new ();
  g_assert_cmpint (archive_write_set_format_pax_restricted (a), ==, ARCHIVE_OK);
  if (filter != ARCHIVE_FILTER_NONE)
    g_assert_cmpint (archive_write_add_filter (a, filter), ==, ARCHIVE_OK);
  g_assert_cmpint (archive_write_open_filename (a, path), ==, ARCHIVE_OK);
  return a;
}

static void
tb_entry (struct archive *a, const char *name, mode_t type, const char *data,
          const char *link, dev_t rdev)
{
  struct archive_entry *e = archive_entry_new ();
  archive_entry_set_pathname (e, name);
  archive_entry_set_filetype (e, type);
  archive_entry_set_perm (e, type == AE_IFDIR ? 0755 : 0644);
  archive_entry_set_mtime (e, FIXED_MTIME, 0);
  archive_entry_set_size (e, type == AE_IFREG && data && !link ? strlen (data) : 0);
  if (type == AE_IFLNK)
    archive_entry_set_symlink (e, data);
  if (link)
    archive_entry_set_hardlink (e, link);
  if (type == AE_IFCHR || type == AE_IFBLK)
    {
      archive_entry_set_rdevmajor (e, major (rdev));
      archive_entry_set_rdevminor (e, minor (rdev));
    }
  g_assert_cmpint (archive_write_header (a, e), ==, ARCHIVE_OK);
  if (type == AE_IFREG && data && !link)
    g_assert_cmpint (archive_write_data (a, data, strlen (data)), ==, (la_ssize_t) strlen (data));
  archive_entry_free (e);
}

static void
tb_file (struct archive *a, const char *name, const char *data)
{
  tb_entry (a, name, AE_IFREG, data, NULL, 0);
}

static void
tb_close (struct archive *a)
{
  g_assert_cmpint (archive_write_close (a), ==, ARCHIVE_OK);
  archive_write_free (a);
}

static gint64
extract (Env *env, const char *tar, const BerthWhiteoutOps *ops, GError **error)
{
  int fd = open (tar, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  gint64 r = berth_archive_extract (env->root_fd, fd, ops, error);
  close (fd);
  return r;
}

static void
write_bytes (const char *path, const void *data, gsize len)
{
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, data, len, &error);
  g_assert_no_error (error);
}

static char *
root_path (Env *env, const char *rel)
{
  return g_build_filename (env->root, rel, NULL);
}

/* --------------------------------------------------------------- bad cases */

typedef struct {
  const char *name;
  void (*build) (Env *env);
  gboolean contained; /* may succeed, as long as every write stays in root/ */
  void (*check) (Env *env);
} BadCase;

static void
build_traversal (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_file (a, "../../berth-escaped", "x");
  tb_close (a);
}

static void
build_traversal_middle (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_file (a, "a/../../berth-escaped", "x");
  tb_close (a);
}

static void
build_absolute (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_file (a, env->host_file, "overwritten");
  tb_close (a);
}

static void
build_symlink_dir_escape (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_entry (a, "link", AE_IFLNK, env->host, NULL, 0);
  tb_file (a, "link/planted.txt", "overwritten");
  tb_file (a, "link/berth-new", "x");
  tb_close (a);
}

static void
check_symlink_dir_escape (Env *env)
{
  /* if it was accepted, the file went to root/<host path>/ */
  g_autofree char *inside = g_build_filename (env->root, env->host, "planted.txt", NULL);
  g_autofree char *contents = NULL;
  g_assert_true (g_file_get_contents (inside, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "overwritten");
}

/* The same, with the link's target present inside the root: accepted, and
 * the write lands under root/<host path>/. */
static void
build_symlink_dir_contained (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_entry (a, env->host + 1, AE_IFDIR, NULL, NULL, 0);
  tb_entry (a, "link", AE_IFLNK, env->host, NULL, 0);
  tb_file (a, "link/planted.txt", "overwritten");
  tb_close (a);
}

static void
build_symlink_parent (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_entry (a, "l", AE_IFLNK, "..", NULL, 0);
  tb_file (a, "l/berth-escaped", "x");
  tb_entry (a, "deep", AE_IFLNK, "../../../../../../..", NULL, 0);
  tb_file (a, "deep/berth-escaped2", "y");
  tb_close (a);
}

static void
check_symlink_parent (Env *env)
{
  g_autofree char *x = root_path (env, "berth-escaped");
  g_autofree char *y = root_path (env, "berth-escaped2");
  g_assert_true (g_file_test (x, G_FILE_TEST_IS_REGULAR));
  g_assert_true (g_file_test (y, G_FILE_TEST_IS_REGULAR));
}

static void
build_hardlink_absolute (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_entry (a, "h", AE_IFREG, NULL, env->host_file, 0);
  tb_close (a);
}

static void
build_hardlink_dotdot (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_entry (a, "h", AE_IFREG, NULL, "../host/planted.txt", 0);
  tb_close (a);
}

static void
build_hardlink_via_symlink (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_entry (a, "l", AE_IFLNK, env->host, NULL, 0);
  g_autofree char *target = g_strdup ("l/planted.txt");
  tb_entry (a, "h", AE_IFREG, NULL, target, 0);
  tb_close (a);
}

static void
build_hardlink_missing (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_entry (a, "h", AE_IFREG, NULL, "nothing-here", 0);
  tb_close (a);
}

static void
build_hardlink_dir (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_entry (a, "d", AE_IFDIR, NULL, NULL, 0);
  tb_entry (a, "h", AE_IFREG, NULL, "d", 0);
  tb_close (a);
}

static void
build_chardev (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_entry (a, "dev", AE_IFDIR, NULL, NULL, 0);
  tb_entry (a, "dev/null", AE_IFCHR, NULL, NULL, makedev (1, 3));
  tb_close (a);
}

static void
build_blockdev (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_entry (a, "sda", AE_IFBLK, NULL, NULL, makedev (8, 0));
  tb_close (a);
}

static void
build_truncated (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  g_autofree char *big = g_strnfill (100000, 'z');
  tb_file (a, "big", big);
  tb_close (a);
  g_autofree char *data = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (env->tar, &data, &len, NULL));
  write_bytes (env->tar, data, len / 2);
}

static void
build_not_tar (Env *env)
{
  guint8 junk[4096];
  GRand *r = g_rand_new_with_seed (42);
  for (gsize i = 0; i < sizeof junk; i++)
    junk[i] = g_rand_int (r);
  g_rand_free (r);
  write_bytes (env->tar, junk, sizeof junk);
}

static void
build_empty (Env *env)
{
  write_bytes (env->tar, "", 0);
}

static void
build_duplicate (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_file (a, "f", "one");
  tb_entry (a, "f", AE_IFLNK, env->host_file, NULL, 0);
  tb_file (a, "f", "two");
  tb_close (a);
}

static void
check_duplicate (Env *env)
{
  g_autofree char *f = root_path (env, "f");
  g_autofree char *contents = NULL;
  g_assert_false (g_file_test (f, G_FILE_TEST_IS_SYMLINK));
  g_assert_true (g_file_get_contents (f, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "two");
}

static void
build_huge_name (Env *env)
{
  g_autoptr (GString) name = g_string_new (NULL);
  while (name->len < PATH_MAX + 100)
    g_string_append (name, "abcdefghij/");
  g_string_append (name, "f");
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_file (a, name->str, "x");
  tb_close (a);
}

static void
build_long_component (Env *env)
{
  g_autofree char *comp = g_strnfill (NAME_MAX + 1, 'c');
  g_autofree char *name = g_strconcat ("d/", comp, NULL);
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_file (a, name, "x");
  tb_close (a);
}

static void
build_whiteout_refused (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_file (a, "etc/.wh.passwd", "");
  tb_close (a);
}

static void
build_corrupt_gzip (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_GZIP);
  for (int i = 0; i < 20; i++)
    {
      g_autofree char *name = g_strdup_printf ("f%d", i);
      g_autofree char *data = g_strdup_printf ("%d%s", i, "some compressible text text text");
      tb_file (a, name, data);
    }
  tb_close (a);
  g_autofree char *data = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (env->tar, &data, &len, NULL));
  g_assert_cmpuint (len, >, 40);
  for (gsize i = 20; i < len - 8; i += 3)
    data[i] ^= 0x5a;
  write_bytes (env->tar, data, len);
}

static void
build_empty_name (Env *env)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_file (a, "./", "x");
  tb_close (a);
}

static const BadCase bad_cases[] = {
  { "traversal", build_traversal, FALSE, NULL },
  { "traversal-middle", build_traversal_middle, FALSE, NULL },
  { "absolute", build_absolute, FALSE, NULL },
  { "symlink-dir-escape", build_symlink_dir_escape, TRUE, check_symlink_dir_escape },
  { "symlink-dir-contained", build_symlink_dir_contained, TRUE, check_symlink_dir_escape },
  { "symlink-parent", build_symlink_parent, TRUE, check_symlink_parent },
  { "hardlink-absolute", build_hardlink_absolute, FALSE, NULL },
  { "hardlink-dotdot", build_hardlink_dotdot, FALSE, NULL },
  { "hardlink-via-symlink", build_hardlink_via_symlink, FALSE, NULL },
  { "hardlink-missing", build_hardlink_missing, FALSE, NULL },
  { "hardlink-dir", build_hardlink_dir, FALSE, NULL },
  { "chardev", build_chardev, FALSE, NULL },
  { "blockdev", build_blockdev, FALSE, NULL },
  { "truncated", build_truncated, FALSE, NULL },
  { "not-tar", build_not_tar, FALSE, NULL },
  { "empty-file", build_empty, FALSE, NULL },
  { "duplicate-through-symlink", build_duplicate, TRUE, check_duplicate },
  { "huge-name", build_huge_name, FALSE, NULL },
  { "long-component", build_long_component, FALSE, NULL },
  { "whiteout-refused", build_whiteout_refused, FALSE, NULL },
  { "corrupt-gzip", build_corrupt_gzip, FALSE, NULL },
  { "root-as-file", build_empty_name, FALSE, NULL },
};

static void
test_bad (Env *env, gconstpointer data)
{
  const BadCase *c = data;
  c->build (env);
  g_autoptr (GError) error = NULL;
  gint64 r = extract (env, env->tar, NULL, &error);
  if (r < 0)
    {
      g_assert_error (error, BERTH_ERROR, BERTH_ERROR_BAD_ARCHIVE);
      g_test_message ("%s: %s", c->name, error->message);
    }
  else
    {
      g_assert_true (c->contained);
      g_assert_no_error (error);
      if (c->check)
        c->check (env);
    }
  if (!c->contained)
    g_assert_cmpint (r, ==, -1);
  assert_host_untouched (env);
}

/* -------------------------------------------------------------- good paths */

static void
test_empty_tar (Env *env, gconstpointer data)
{
  char zeros[1024] = { 0 };
  write_bytes (env->tar, zeros, sizeof zeros);
  g_autoptr (GError) error = NULL;
  g_assert_cmpint (extract (env, env->tar, NULL, &error), ==, 0);
  g_assert_no_error (error);
}

static void
test_filters (Env *env, gconstpointer data)
{
  const int filters[] = { ARCHIVE_FILTER_NONE, ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_XZ,
                          ARCHIVE_FILTER_ZSTD };
  for (gsize i = 0; i < G_N_ELEMENTS (filters); i++)
    {
      struct archive *a = tb_open (env->tar, filters[i]);
      g_autofree char *name = g_strdup_printf ("dir/f%zu", i);
      tb_file (a, name, "12345");
      tb_close (a);
      g_autoptr (GError) error = NULL;
      g_assert_cmpint (extract (env, env->tar, NULL, &error), ==, 5);
      g_assert_no_error (error);
      g_autofree char *p = root_path (env, name);
      g_assert_true (g_file_test (p, G_FILE_TEST_IS_REGULAR));
    }
}

/* The limit counts data as it is written, across entries: a stream whose
 * files add up to more stops in one line naming the option, whatever it
 * already wrote left for the caller to remove; exactly the limit is fine. */
static void
test_extract_max (Env *env, gconstpointer data)
{
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_GZIP);
  tb_file (a, "one", "12345");
  tb_file (a, "two", "67890");
  tb_close (a);
  int fd = open (env->tar, O_RDONLY | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_autoptr (GError) error = NULL;
  g_assert_cmpint (berth_archive_extract_max (env->root_fd, fd, NULL, 9, "--max-test", &error),
                   ==, -1);
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_INVALID);
  g_assert_cmpstr (error->message, ==,
                   "archive: unpacks to more than 9 bytes (raise the limit with --max-test)");
  g_clear_error (&error);
  g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
  g_autofree char *two = root_path (env, "two");
  unlink (two);
  g_autofree char *one = root_path (env, "one");
  unlink (one);
  g_assert_cmpint (berth_archive_extract_max (env->root_fd, fd, NULL, 10, "--max-test", &error),
                   ==, 10);
  g_assert_no_error (error);
  close (fd);
}

static void
mkfile (const char *dir, const char *rel, const char *data)
{
  g_autofree char *p = g_build_filename (dir, rel, NULL);
  g_autofree char *d = g_path_get_dirname (p);
  g_assert_cmpint (g_mkdir_with_parents (d, 0755), ==, 0);
  write_bytes (p, data, strlen (data));
}

static void
test_whiteouts (Env *env, gconstpointer data)
{
  mkfile (env->root, "a/keep", "k");
  mkfile (env->root, "a/gone", "g");
  mkfile (env->root, "b/x", "x");
  mkfile (env->root, "c/old1", "o");
  mkfile (env->root, "c/sub/old2", "o");
  struct archive *a = tb_open (env->tar, ARCHIVE_FILTER_NONE);
  tb_file (a, "a/.wh.gone", "");
  tb_file (a, ".wh.b", "");
  tb_file (a, ".wh.never-existed", "");
  tb_entry (a, "c", AE_IFDIR, NULL, NULL, 0);
  tb_file (a, "c/new", "n");
  tb_file (a, "c/.wh..wh..opq", "");
  tb_file (a, "c/newer", "n");
  tb_close (a);
  g_autoptr (GError) error = NULL;
  g_assert_cmpint (extract (env, env->tar, &berth_whiteout_delete_ops, &error), ==, 2);
  g_assert_no_error (error);
  g_autofree char *la = g_build_filename (env->root, "a", NULL);
  g_autofree char *lc = g_build_filename (env->root, "c", NULL);
  g_autofree char *a_list = dir_listing (la);
  g_autofree char *c_list = dir_listing (lc);
  g_autofree char *root_list = dir_listing (env->root);
  g_assert_cmpstr (a_list, ==, "keep");
  g_assert_cmpstr (c_list, ==, "new,newer");
  g_assert_cmpstr (root_list, ==, "a,c");
  assert_host_untouched (env);
}

/* One line per entry: what a round trip must keep. */
static void
describe (GString *out, const char *dir, const char *rel)
{
  g_autofree char *p = g_build_filename (dir, rel, NULL);
  struct stat st;
  g_assert_cmpint (lstat (p, &st), ==, 0);
  g_string_append_printf (out, "%s %o %u:%u %jd", rel, st.st_mode, st.st_uid, st.st_gid,
                          S_ISDIR (st.st_mode) ? 0 : (intmax_t) st.st_size);
  if (!S_ISLNK (st.st_mode))
    g_string_append_printf (out, " t=%jd", (intmax_t) st.st_mtim.tv_sec);
  if (S_ISLNK (st.st_mode))
    {
      g_autofree char *t = g_file_read_link (p, NULL);
      g_string_append_printf (out, " -> %s", t);
    }
  if (S_ISREG (st.st_mode))
    {
      g_autofree char *c = NULL;
      gsize len;
      g_assert_true (g_file_get_contents (p, &c, &len, NULL));
      g_autofree char *sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (guint8 *) c, len);
      char x[64] = "", y[64] = "";
      ssize_t n = lgetxattr (p, "user.x", x, sizeof x - 1);
      ssize_t m = lgetxattr (p, "user.a", y, sizeof y - 1);
      g_string_append_printf (out, " %s x=%s a=%s nlink=%ju", sum, n > 0 ? x : "",
                              m > 0 ? y : "", (uintmax_t) st.st_nlink);
    }
  g_string_append_c (out, '\n');
  if (!S_ISDIR (st.st_mode))
    return;
  g_autoptr (GDir) d = g_dir_open (p, 0, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *n;
  while ((n = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (n));
  g_ptr_array_sort (names, cmp_str_ptr);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *sub = rel[0] ? g_build_filename (rel, names->pdata[i], NULL)
                                    : g_strdup (names->pdata[i]);
      describe (out, dir, sub);
    }
}

static char *
tree_description (const char *dir)
{
  GString *out = g_string_new (NULL);
  describe (out, dir, "");
  return g_string_free (out, FALSE);
}

static void
set_mtime (const char *path, time_t t)
{
  struct timespec ts[2] = { { t, 0 }, { t, 0 } };
  g_assert_cmpint (utimensat (AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), ==, 0);
}

static void
make_sample_tree (const char *src)
{
  mkfile (src, "d/file", "hello");
  mkfile (src, "setuid", "#!/bin/sh\n");
  g_autofree char *file = g_build_filename (src, "d/file", NULL);
  g_autofree char *hard = g_build_filename (src, "d/hard", NULL);
  g_autofree char *sym = g_build_filename (src, "sym", NULL);
  g_autofree char *fifo = g_build_filename (src, "fifo", NULL);
  g_autofree char *sparse = g_build_filename (src, "sparse", NULL);
  g_autofree char *setuid = g_build_filename (src, "setuid", NULL);
  g_autofree char *d = g_build_filename (src, "d", NULL);
  g_assert_cmpint (link (file, hard), ==, 0);
  g_assert_cmpint (symlink ("d/file", sym), ==, 0);
  g_assert_cmpint (mkfifo (fifo, 0640), ==, 0);
  g_assert_cmpint (lsetxattr (file, "user.x", "val", 3, 0), ==, 0);
  g_assert_cmpint (chown (file, 1000, 1000), ==, 0);
  g_assert_cmpint (chmod (file, 0640), ==, 0);
  g_assert_cmpint (chmod (setuid, 04755), ==, 0);
  int fd = open (sparse, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pwrite (fd, "end", 3, 1 << 20), ==, 3);
  close (fd);
  g_assert_cmpint (chmod (d, 0750), ==, 0);
  set_mtime (file, 1234567890);
  set_mtime (d, 1111111111);
  set_mtime (src, 1222222222);
}

static void
test_round_trip (Env *env, gconstpointer data)
{
  if (getuid () != 0)
    {
      g_test_skip ("needs root for chown");
      return;
    }
  g_autofree char *src = g_build_filename (env->base, "src", NULL);
  g_assert_cmpint (mkdir (src, 0755), ==, 0);
  make_sample_tree (src);
  g_autoptr (GError) error = NULL;
  int out = open (env->tar, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int src_fd = open (src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_autoptr (BerthTarWriter) w = berth_tar_writer_new (out, &error);
  g_assert_no_error (error);
  g_assert_true (berth_tar_writer_add_tree (w, src_fd, &error));
  g_assert_true (berth_tar_writer_finish (w, &error));
  g_assert_no_error (error);
  close (out);
  close (src_fd);
  gint64 n = extract (env, env->tar, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 5 + 10 + (1 << 20) + 3);
  /* the roots themselves belong to the driver: compare what is below */
  g_autofree char *want = tree_description (src);
  g_autofree char *got = tree_description (env->root);
  const char *w_body = strchr (want, '\n') + 1, *g_body = strchr (got, '\n') + 1;
  g_assert_cmpstr (g_body, ==, w_body);
  struct stat a, b;
  g_autofree char *file = root_path (env, "d/file");
  g_autofree char *hard = root_path (env, "d/hard");
  g_assert_cmpint (stat (file, &a), ==, 0);
  g_assert_cmpint (stat (hard, &b), ==, 0);
  g_assert_cmpint (a.st_ino, ==, b.st_ino);
}

static void
test_sparse (Env *env, gconstpointer data)
{
  g_autofree char *tar = tu_find_program_or_skip ("tar", "GNU tar makes the sparse archive");
  if (tar == NULL)
    return;
  g_autofree char *src = g_build_filename (env->base, "src", NULL);
  g_autofree char *sparse = g_build_filename (src, "sparse", NULL);
  g_assert_cmpint (mkdir (src, 0755), ==, 0);
  int fd = open (sparse, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  g_assert_cmpint (pwrite (fd, "start", 5, 0), ==, 5);
  g_assert_cmpint (pwrite (fd, "end", 3, 8 << 20), ==, 3);
  close (fd);
  const char *argv[] = { tar, "--sparse", "--format=pax", "-cf", env->tar, "-C", src,
                         "sparse", NULL };
  int status;
  g_autoptr (GError) error = NULL;
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status,
                &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpint (extract (env, env->tar, NULL, &error), ==, (8 << 20) + 3);
  g_assert_no_error (error);
  g_autofree char *p = root_path (env, "sparse");
  g_autofree char *c = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (p, &c, &len, NULL));
  g_assert_cmpuint (len, ==, (8 << 20) + 3);
  g_assert_cmpmem (c, 5, "start", 5);
  g_assert_cmpmem (c + (8 << 20), 3, "end", 3);
  g_assert_cmpint (c[4 << 20], ==, 0);
  struct stat st;
  g_assert_cmpint (stat (p, &st), ==, 0);
  g_assert_cmpint (st.st_blocks * 512, <, 1 << 20);
}

static void
test_writer_markers (Env *env, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  int out = open (env->tar, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  g_autoptr (BerthTarWriter) w = berth_tar_writer_new (out, &error);
  g_assert_true (berth_tar_writer_add_whiteout (w, "/a/b", &error));
  g_assert_true (berth_tar_writer_add_whiteout (w, "top", &error));
  g_assert_true (berth_tar_writer_add_opaque (w, "c/d/", &error));
  g_assert_true (berth_tar_writer_finish (w, &error));
  g_assert_no_error (error);
  close (out);
  struct archive *a = archive_read_new ();
  archive_read_support_format_tar (a);
  g_assert_cmpint (archive_read_open_filename (a, env->tar, 10240), ==, ARCHIVE_OK);
  g_autoptr (GString) names = g_string_new (NULL);
  struct archive_entry *e;
  while (archive_read_next_header (a, &e) == ARCHIVE_OK)
    g_string_append_printf (names, "%s;", archive_entry_pathname (e));
  archive_read_free (a);
  g_assert_cmpstr (names->str, ==, "a/.wh.b;.wh.top;c/d/.wh..wh..opq;");
}

static void
copy_tree (const char *from, const char *to)
{
  const char *argv[] = { "cp", "-a", from, to, NULL };
  int status;
  g_autoptr (GError) error = NULL;
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

static void
make_parent_tree (const char *dir)
{
  g_assert_cmpint (mkdir (dir, 0755), ==, 0);
  mkfile (dir, "keep", "k");
  mkfile (dir, "mod", "a");
  mkfile (dir, "gone/child", "c");
  mkfile (dir, "d/f", "f");
  mkfile (dir, "x", "x");
  g_autofree char *sym = g_build_filename (dir, "sym", NULL);
  g_assert_cmpint (symlink ("keep", sym), ==, 0);
  const char *all[] = { "keep", "mod", "gone/child", "gone", "d/f", "d", "x", "sym", "" };
  for (gsize i = 0; i < G_N_ELEMENTS (all); i++)
    {
      g_autofree char *p = g_build_filename (dir, all[i], NULL);
      set_mtime (p, FIXED_MTIME);
    }
}

static void
test_naive (Env *env, gconstpointer data)
{
  g_autofree char *parent = g_build_filename (env->base, "parent", NULL);
  g_autofree char *layer = g_build_filename (env->base, "layer", NULL);
  make_parent_tree (parent);
  copy_tree (parent, layer);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) none = berth_naive_changes (layer, parent, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (none->len, ==, 0);

  mkfile (layer, "mod", "bb");
  g_autofree char *gone = g_build_filename (layer, "gone", NULL);
  g_assert_true (berth_rm_rf (gone, &error));
  mkfile (layer, "new", "new!");
  mkfile (layer, "d/new2", "22");
  g_autofree char *sym = g_build_filename (layer, "sym", NULL);
  g_assert_cmpint (unlink (sym), ==, 0);
  g_assert_cmpint (symlink ("mod", sym), ==, 0);
  set_mtime (sym, FIXED_MTIME);
  g_autofree char *x = g_build_filename (layer, "x", NULL);
  g_assert_cmpint (lsetxattr (x, "user.a", "1", 1, 0), ==, 0);
  g_autofree char *d = g_build_filename (layer, "d", NULL);
  set_mtime (d, FIXED_MTIME + 5);
  set_mtime (layer, FIXED_MTIME);

  g_autoptr (GPtrArray) changes = berth_naive_changes (layer, parent, &error);
  g_assert_no_error (error);
  g_autoptr (GString) got = g_string_new (NULL);
  for (guint i = 0; i < changes->len; i++)
    {
      BerthChange *c = changes->pdata[i];
      g_string_append_printf (got, "%c %s;", c->kind, c->path);
    }
  g_assert_cmpstr (got->str, ==, "C /d;A /d/new2;D /gone;C /mod;A /new;C /sym;C /x;");
  g_assert_cmpint (berth_naive_diff_size (layer, parent, &error), ==, 2 + 4 + 2 + 1);
  g_assert_no_error (error);

  /* the diff applied on a copy of the parent gives the layer back */
  int out = open (env->tar, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  g_assert_true (berth_naive_diff (layer, parent, out, &error));
  g_assert_no_error (error);
  close (out);
  g_assert_cmpint (rmdir (env->root), ==, 0);
  copy_tree (parent, env->root);
  close (env->root_fd);
  env->root_fd = open (env->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (extract (env, env->tar, &berth_whiteout_delete_ops, &error), ==, 9);
  g_assert_no_error (error);
  g_autofree char *want = tree_description (layer);
  g_autofree char *have = tree_description (env->root);
  /* the root line is the driver's; the rest must match */
  g_assert_cmpstr (strchr (have, '\n'), ==, strchr (want, '\n'));
  g_assert_nonnull (strstr (have, "a=1"));

  g_autoptr (GPtrArray) all = berth_naive_changes (layer, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (all->len, ==, 8);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/archive/bad/%s", bad_cases[i].name);
      g_test_add (path, Env, &bad_cases[i], env_setup, test_bad, env_teardown);
    }
  g_test_add ("/archive/empty-tar", Env, NULL, env_setup, test_empty_tar, env_teardown);
  g_test_add ("/archive/filters", Env, NULL, env_setup, test_filters, env_teardown);
  g_test_add ("/archive/whiteouts", Env, NULL, env_setup, test_whiteouts, env_teardown);
  g_test_add ("/archive/round-trip", Env, NULL, env_setup, test_round_trip, env_teardown);
  g_test_add ("/archive/sparse", Env, NULL, env_setup, test_sparse, env_teardown);
  g_test_add ("/archive/extract-max", Env, NULL, env_setup, test_extract_max, env_teardown);
  g_test_add ("/archive/writer-markers", Env, NULL, env_setup, test_writer_markers,
              env_teardown);
  g_test_add ("/archive/naive", Env, NULL, env_setup, test_naive, env_teardown);
  return g_test_run ();
}
