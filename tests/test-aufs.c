/* The aufs driver's parts that need no aufs in the kernel: the mount data
 * planned within one page, the whiteouts apply_diff keeps as files, the
 * native changes/diff/diff_size read off a branch directory, the on-disk
 * layout through the vtable (nothing mounted), and the probe's refusal on a
 * kernel without aufs. The conformance suite (tests/test-storage.c) covers
 * the mounted views where the kernel has aufs. */
#include "config.h"
#include "testutil.h"
#include "../drivers/storage/aufs.h"
#include <berth/archive.h>
#include <berth/error.h>
#include <berth/family.h>
#include <berth/storage.h>
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096
#define RO_SUFFIX "=ro+wh"

/* ---- helpers ---- */

static char *
sub (const char *dir, const char *rel)
{
  return g_build_filename (dir, rel, NULL);
}

static void
make_entry (const char *dir, const char *spec)
{
  const char *arg = strchr (spec + 2, '=');
  g_autofree char *rel = arg ? g_strndup (spec + 2, arg - spec - 2) : g_strdup (spec + 2);
  g_autofree char *p = sub (dir, rel);
  g_autofree char *parent = g_path_get_dirname (p);
  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  if (spec[0] == 'd')
    g_assert_cmpint (g_mkdir_with_parents (p, 0755), ==, 0);
  else if (spec[0] == 'f')
    tu_write_file (p, arg + 1, 0644);
  else
    {
      g_autofree char *target = sub (dir, arg + 1);
      g_assert_cmpint (link (target, p), ==, 0);
    }
}

/* Make the entries of @spec under @dir, parents as needed: "d:PATH" a
 * directory, "f:PATH=TEXT" a file, "l:PATH=OTHER" a hardlink to OTHER. */
static void
make_tree (const char *dir, const char *const *spec)
{
  for (; *spec; spec++)
    make_entry (dir, *spec);
}

static gboolean
kernel_lists_aufs (void)
{
  g_autofree char *text = NULL;
  return g_file_get_contents ("/proc/filesystems", &text, NULL, NULL)
         && strstr (text, "\taufs\n") != NULL;
}

/* ---- the branch limit ---- */

/* aufs's /sys/fs/aufs/config as the kernel prints it (conf.mk: one
 * CONFIG_AUFS_*=y|m line each), for each of the limits Kconfig offers. */
static void
test_branch_max (void)
{
  static const struct {
    const char *config;
    guint max;
  } cases[] = {
    { "CONFIG_AUFS_FS=y\nCONFIG_AUFS_BRANCH_MAX_127=y\nCONFIG_AUFS_SBILIST=y\n", 127 },
    { "CONFIG_AUFS_FS=m\nCONFIG_AUFS_BRANCH_MAX_511=y\n", 511 },
    { "CONFIG_AUFS_FS=y\nCONFIG_AUFS_BRANCH_MAX_1023=y\n", 1023 },
    { "CONFIG_AUFS_BRANCH_MAX_32767=y\nCONFIG_AUFS_XATTR=y\n", 32767 },
    /* no limit line, an unset one, garbage, no file: aufs's default */
    { "CONFIG_AUFS_FS=y\n", BERTH_AUFS_DEFAULT_BRANCH_MAX },
    { "CONFIG_AUFS_BRANCH_MAX_511=n\n", BERTH_AUFS_DEFAULT_BRANCH_MAX },
    { "CONFIG_AUFS_BRANCH_MAX_=y\n", BERTH_AUFS_DEFAULT_BRANCH_MAX },
    { "", BERTH_AUFS_DEFAULT_BRANCH_MAX },
    { NULL, BERTH_AUFS_DEFAULT_BRANCH_MAX },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpuint (berth_aufs_branch_max (cases[i].config), ==, cases[i].max);
}

/* ---- mount data ---- */

/* A store root as long as a real one under a deep --root can be. */
#define LONG_HOME                                                                          \
  "/var/tmp/berth-test-store-0123456789abcdef/with/a/rather/deeply/nested/root/directory/" \
  "storage/aufs"

static char *
branch_path (const char *label)
{
  g_autofree char *id = tu_layer_id (label);
  return g_strdup_printf (LONG_HOME "/diff/%s", id);
}

/* @n_ro read-only branches, NULL-terminated. */
static char **
ro_branches (guint n_ro)
{
  char **ro = g_new0 (char *, n_ro + 1);
  for (guint i = 0; i < n_ro; i++)
    {
      g_autofree char *label = g_strdup_printf ("layer-%u", i);
      ro[i] = branch_path (label);
    }
  return ro;
}

static char *
strip_ro (const char *spec)
{
  g_assert_true (g_str_has_suffix (spec, RO_SUFFIX));
  return g_strndup (spec, strlen (spec) - strlen (RO_SUFFIX));
}

/* The branches the first string names: rw first, then the read-only ones
 * appended to @seen; returns the options after the branch list. */
static char *
parse_first (const char *first, const char *rw, GPtrArray *seen)
{
  g_assert_true (g_str_has_prefix (first, "br:"));
  const char *comma = strchr (first, ',');
  g_assert_nonnull (comma);
  g_autofree char *list = g_strndup (first + 3, comma - first - 3);
  g_auto (GStrv) brs = g_strsplit (list, ":", -1);
  g_autofree char *rw_spec = g_strconcat (rw, "=rw", NULL);
  g_assert_cmpstr (brs[0], ==, rw_spec);
  for (guint k = 1; brs[k]; k++)
    g_ptr_array_add (seen, strip_ro (brs[k]));
  return g_strdup (comma + 1);
}

static void
parse_remount (const char *data, GPtrArray *seen)
{
  g_auto (GStrv) opts = g_strsplit (data, ",", -1);
  for (guint k = 0; opts[k]; k++)
    {
      g_assert_true (g_str_has_prefix (opts[k], "append:"));
      g_ptr_array_add (seen, strip_ro (opts[k] + strlen ("append:")));
    }
}

/* A string that ends before the branch after it must have had no room left
 * for it: the plan fills each page before starting the next. */
static void
assert_full (const char *data, gsize extra, gsize page)
{
  g_assert_cmpuint (strlen (data) + extra + 1, >=, page);
}

static void
assert_plan (GPtrArray *plan, const char *rw, char **ro, gsize page, gboolean dirperm1)
{
  g_autoptr (GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  g_assert_cmpuint (plan->len, >=, 1);
  for (guint i = 0; i < plan->len; i++)
    g_assert_cmpuint (strlen (plan->pdata[i]) + 1, <, page);
  g_autofree char *opts = parse_first (plan->pdata[0], rw, seen);
  g_assert_cmpstr (opts, ==, dirperm1 ? "dio,xino=/dev/shm/aufs.xino,dirperm1"
                                      : "dio,xino=/dev/shm/aufs.xino");
  guint in_first = seen->len;
  if (ro[in_first] && plan->len > 1)
    assert_full (plan->pdata[0], 1 + strlen (ro[in_first]) + strlen (RO_SUFFIX), page);
  for (guint i = 1; i < plan->len; i++)
    {
      parse_remount (plan->pdata[i], seen);
      const char *next = ro[seen->len];
      if (next)
        assert_full (plan->pdata[i], 1 + strlen ("append:") + strlen (next) + strlen (RO_SUFFIX),
                     page);
    }
  g_assert_cmpuint (seen->len, ==, g_strv_length (ro));
  for (guint k = 0; k < seen->len; k++)
    g_assert_cmpstr (seen->pdata[k], ==, ro[k]);
}

static void
test_plan_chains (void)
{
  g_autofree char *rw = branch_path ("container");
  for (guint n = 1; n <= 128; n++)
    for (int dirperm1 = 0; dirperm1 <= 1; dirperm1++)
      {
        g_auto (GStrv) ro = ro_branches (n - 1);
        g_autoptr (GError) error = NULL;
        g_autoptr (GPtrArray) plan
            = berth_aufs_mount_data (rw, (const char *const *) ro, PAGE, dirperm1, &error);
        g_assert_no_error (error);
        g_assert_nonnull (plan);
        assert_plan (plan, rw, ro, PAGE, dirperm1);
        if (n == 1)
          g_assert_cmpuint (plan->len, ==, 1);
        if (n == 128)
          {
            /* about 25 KB of branches: remounts, each carrying many */
            g_assert_cmpuint (plan->len, >, 2);
            g_assert_cmpuint (plan->len, <, 10);
          }
      }
}

/* Every page size from tiny to large over branches of mixed lengths: the
 * plan keeps every rule, and it fails exactly when the rw branch with the
 * options, or one read-only branch alone in a remount, cannot fit. */
static void
test_plan_page_sizes (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (4);
  const char *rw = "/var/lib/berth/storage/aufs/diff/rw";
  char *ro[41] = { NULL };
  gsize longest = 0;
  for (guint i = 0; i < 40; i++)
    {
      g_autofree char *pad = g_strnfill (g_rand_int_range (r, 1, 200), 'x');
      ro[i] = g_strdup_printf ("/b%u/%s", i, pad);
      longest = MAX (longest, strlen (ro[i]));
    }
  /* bytes with the NUL */
  gsize rw_need = strlen ("br:") + strlen (rw) + strlen ("=rw,dio,xino=/dev/shm/aufs.xino") + 1;
  gsize ro_need = strlen ("append:") + longest + strlen (RO_SUFFIX) + 1;
  guint made = 0, refused = 0;
  for (gsize page = 64; page <= PAGE; page += 29)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) plan
          = berth_aufs_mount_data (rw, (const char *const *) ro, page, FALSE, &error);
      g_assert_cmpint (plan != NULL, ==, rw_need < page && ro_need < page);
      if (plan)
        {
          g_assert_no_error (error);
          assert_plan (plan, rw, ro, page, FALSE);
          made++;
        }
      else
        {
          g_assert_error (error, BERTH_ERROR, BERTH_ERROR_INVALID);
          refused++;
        }
    }
  g_assert_cmpuint (made, >, 0);
  g_assert_cmpuint (refused, >, 0);
  for (guint i = 0; i < 40; i++)
    g_free (ro[i]);
}

static void
assert_plan_fails (const char *rw, const char *const *ro, gsize page)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) plan = berth_aufs_mount_data (rw, ro, page, TRUE, &error);
  g_assert_null (plan);
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_INVALID);
}

static void
test_plan_impossible (void)
{
  g_autofree char *rw = branch_path ("container");
  g_autofree char *lower = branch_path ("lower");
  g_autofree char *huge = g_strnfill (5000, 'x');
  g_autofree char *huge_path = g_strconcat ("/", huge, NULL);
  const char *none[] = { NULL };
  g_autofree char *pad = g_strnfill (239, 'y');
  g_autofree char *long_path = g_strconcat ("/", pad, NULL);
  const char *long_ro[] = { long_path, NULL };
  const char *huge_ro[] = { lower, huge_path, NULL };
  const char *colon[] = { "/a:b", NULL };
  const char *comma[] = { "/a,b", NULL };
  const char *equals[] = { "/a=b", NULL };
  assert_plan_fails (rw, none, 128);      /* the rw branch and options alone */
  assert_plan_fails (huge_path, none, PAGE);
  assert_plan_fails (rw, huge_ro, PAGE);  /* a read-only branch no remount holds */
  assert_plan_fails ("/r", long_ro, 250); /* its own remount cannot hold it */
  assert_plan_fails (rw, colon, PAGE);
  assert_plan_fails (rw, comma, PAGE);
  assert_plan_fails (rw, equals, PAGE);
  assert_plan_fails ("/x:y", none, PAGE);
}

/* ---- whiteouts kept as files ---- */

static void
tar_add (struct archive *a, const char *name, unsigned type, const char *text)
{
  struct archive_entry *e = archive_entry_new ();
  gsize len = text ? strlen (text) : 0;
  archive_entry_set_pathname (e, name);
  archive_entry_set_filetype (e, type);
  archive_entry_set_perm (e, type == AE_IFDIR ? 0755 : 0644);
  archive_entry_set_size (e, len);
  archive_entry_set_mtime (e, 1000000000, 0);
  g_assert_cmpint (archive_write_header (a, e), ==, ARCHIVE_OK);
  if (len)
    g_assert_cmpint (archive_write_data (a, text, len), ==, (la_ssize_t) len);
  archive_entry_free (e);
}

/* OCI whiteouts, normal files, and entries of aufs's own that a layer made
 * by an aufs host may carry (the extractor drops those). */
static int
whiteout_tar (void)
{
  int fd = tu_memfd ("aufs-test.tar");
  struct archive *a = archive_write_new ();
  g_assert_cmpint (archive_write_set_format_pax_restricted (a), ==, ARCHIVE_OK);
  g_assert_cmpint (archive_write_open_fd (a, fd), ==, ARCHIVE_OK);
  tar_add (a, "dir", AE_IFDIR, NULL);
  tar_add (a, "dir/keep.txt", AE_IFREG, "keep\n");
  tar_add (a, "dir/.wh.gone", AE_IFREG, NULL);
  tar_add (a, "opq", AE_IFDIR, NULL);
  tar_add (a, "opq/.wh..wh..opq", AE_IFREG, NULL);
  tar_add (a, "opq/new.txt", AE_IFREG, "new\n");
  tar_add (a, "top.txt", AE_IFREG, "top\n");
  tar_add (a, ".wh.rootgone", AE_IFREG, NULL);
  tar_add (a, ".wh..wh.plnk", AE_IFDIR, NULL);
  tar_add (a, ".wh..wh.plnk/1234.5", AE_IFREG, "pseudo-link\n");
  tar_add (a, ".wh..wh.aufs", AE_IFREG, NULL);
  g_assert_cmpint (archive_write_close (a), ==, ARCHIVE_OK);
  archive_write_free (a);
  return fd;
}

static void
assert_marker (const char *dir, const char *rel)
{
  g_autofree char *p = sub (dir, rel);
  struct stat st;
  if (lstat (p, &st) < 0)
    g_error ("whiteout %s was not created: %s", rel, g_strerror (errno));
  g_assert_true (S_ISREG (st.st_mode));
  g_assert_cmpint (st.st_size, ==, 0);
}

static void
assert_file (const char *dir, const char *rel, const char *text)
{
  g_autofree char *p = sub (dir, rel);
  g_autofree char *got = NULL;
  g_assert_true (g_file_get_contents (p, &got, NULL, NULL));
  g_assert_cmpstr (got, ==, text);
}

static void
assert_absent (const char *dir, const char *rel)
{
  g_autofree char *p = sub (dir, rel);
  struct stat st;
  g_assert_cmpint (lstat (p, &st), <, 0);
  g_assert_cmpint (errno, ==, ENOENT);
}

static void
extract_whiteout_tar (const char *dir)
{
  g_autoptr (GError) error = NULL;
  int fd = whiteout_tar ();
  g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
  int root = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (root, >=, 0);
  gint64 size = berth_archive_extract (root, fd, &berth_aufs_whiteout_ops, &error);
  g_assert_no_error (error);
  g_assert_cmpint (size, ==, strlen ("keep\n") + strlen ("new\n") + strlen ("top\n"));
  close (root);
  close (fd);
}

static void
test_whiteouts_extract (void)
{
  g_autofree char *dir = tu_mkdtemp ("berth-aufs-wh");
  /* already in the branch: a whiteout hides lower branches, never its own */
  const char *const before[] = { "f:opq/old.txt=old\n", "f:dir/gone=same layer\n", NULL };
  make_tree (dir, before);
  for (int round = 0; round < 2; round++) /* a second pass meets its own markers */
    {
      extract_whiteout_tar (dir);
      assert_marker (dir, "dir/.wh.gone");
      assert_marker (dir, "opq/.wh..wh..opq");
      assert_marker (dir, ".wh.rootgone");
      assert_file (dir, "dir/keep.txt", "keep\n");
      assert_file (dir, "opq/new.txt", "new\n");
      assert_file (dir, "top.txt", "top\n");
      assert_file (dir, "opq/old.txt", "old\n");
      assert_file (dir, "dir/gone", "same layer\n");
      assert_absent (dir, ".wh..wh.plnk");
      assert_absent (dir, ".wh..wh.aufs");
    }
  tu_remove_tree (dir);
}

/* ---- changes, diff and size off a hand-made branch ---- */

/* L1 (bottom), L2 on it, and the branch B on both, the way aufs leaves a
 * writable branch: whiteouts as hardlinks of .wh..wh.aufs, its plnk and orph
 * directories, and a temporary ".wh..wh." directory an rmdir left. */
static const char *const lower1[] = {
  "f:etc/passwd=root\n", "f:etc/group=root\n", "f:var/log/old.log=old\n", "f:opq/a=a\n",
  "f:opq/sub/b=b\n", "f:gone/x=x\n", NULL,
};

static const char *const lower2[] = {
  "f:etc/hosts=localhost\n", "f:.wh.gone=", "f:usr/bin/tool=tool\n", NULL,
};

static const char *const top_branch[] = {
  "f:.wh..wh.aufs=",
  "f:.wh..wh.plnk/77.88=pseudo\n",
  "d:.wh..wh.orph",
  "f:etc/passwd=root\nuser\n",
  "f:etc/hosts=localhost\nhost\n",
  "l:etc/.wh.group=.wh..wh.aufs",
  "f:new.txt=brand new\n",
  "f:hard1=hard\n",
  "l:hard2=hard1",
  "f:gone/x=again\n",
  "f:opq/.wh..wh..opq=",
  "f:opq/a=fresh a\n",
  "f:var/log/new.log=new\n",
  "f:var/.wh..wh.d1234.5678/junk=being removed\n",
  "d:usr",
  "l:usr/.wh.bin=.wh..wh.aufs",
  NULL,
};

/* L1 (bottom), L2 on it, and the branch B on both, the way aufs leaves a
 * writable branch: whiteouts as hardlinks of .wh..wh.aufs, its plnk and orph
 * directories, and a temporary ".wh..wh." directory an rmdir left. */
static void
build_branches (const char *dir)
{
  g_autofree char *l1 = sub (dir, "L1");
  g_autofree char *l2 = sub (dir, "L2");
  g_autofree char *b = sub (dir, "B");
  make_tree (l1, lower1);
  make_tree (l2, lower2);
  make_tree (b, top_branch);
}

static const char *const expected_changes[] = {
  "C /etc",
  "D /etc/group",
  "C /etc/hosts",
  "C /etc/passwd",
  "A /gone",
  "A /gone/x",
  "A /hard1",
  "A /hard2",
  "A /new.txt",
  "C /opq",
  "A /opq/a",
  "C /usr",
  "D /usr/bin",
  "C /var",
  "C /var/log",
  "A /var/log/new.log",
  NULL,
};

static char *
lines_text (const char *const *lines)
{
  GString *s = g_string_new (NULL);
  for (; *lines; lines++)
    g_string_append_printf (s, "%s\n", *lines);
  return g_string_free (s, FALSE);
}

static void
test_changes (void)
{
  g_autofree char *dir = tu_mkdtemp ("berth-aufs-changes");
  build_branches (dir);
  g_autofree char *b = sub (dir, "B");
  g_autofree char *l1 = sub (dir, "L1");
  g_autofree char *l2 = sub (dir, "L2");
  const char *lowers[] = { l2, l1, NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) changes = berth_aufs_changes (b, lowers, &error);
  g_assert_no_error (error);
  g_autofree char *got = tu_changes_text (changes);
  g_autofree char *want = lines_text (expected_changes);
  g_assert_cmpstr (got, ==, want);
  tu_remove_tree (dir);
}

static gint
cmp_str_ptr (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* One line per entry (directories end in '/'), "name" or "name -> target" for a hardlink entry,
 * sorted; @bytes: content of the regular entries that are not links. */
static char *
tar_listing (int fd, gint64 *bytes)
{
  g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
  struct archive *a = archive_read_new ();
  archive_read_support_format_tar (a);
  g_assert_cmpint (archive_read_open_fd (a, fd, 65536), ==, ARCHIVE_OK);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  struct archive_entry *e;
  int r;
  *bytes = 0;
  while ((r = archive_read_next_header (a, &e)) == ARCHIVE_OK)
    {
      const char *link = archive_entry_hardlink (e);
      const char *name = archive_entry_pathname (e);
      g_ptr_array_add (names, link ? g_strdup_printf ("%s -> %s", name, link) : g_strdup (name));
      if (archive_entry_filetype (e) == AE_IFREG && link == NULL)
        *bytes += archive_entry_size (e);
    }
  g_assert_cmpint (r, ==, ARCHIVE_EOF);
  archive_read_free (a);
  g_ptr_array_sort (names, cmp_str_ptr);
  g_ptr_array_add (names, NULL);
  return lines_text ((const char *const *) names->pdata);
}

/* The whiteouts come out as plain markers, not as links to each other (aufs
 * made them hardlinks of .wh..wh.aufs); aufs's own entries stay out. */
static const char *const expected_tar[] = {
  "etc/",
  "etc/.wh.group",
  "etc/hosts",
  "etc/passwd",
  "gone/",
  "gone/x",
  "hard1",
  "hard2 -> hard1",
  "new.txt",
  "opq/",
  "opq/.wh..wh..opq",
  "opq/a",
  "usr/",
  "usr/.wh.bin",
  "var/",
  "var/log/",
  "var/log/new.log",
  NULL,
};

static void
test_diff_tar (void)
{
  g_autofree char *dir = tu_mkdtemp ("berth-aufs-diff");
  build_branches (dir);
  g_autofree char *b = sub (dir, "B");
  g_autoptr (GError) error = NULL;
  int fd = tu_memfd ("aufs-test.tar");
  g_assert_true (berth_aufs_diff_tar (b, fd, &error));
  g_assert_no_error (error);
  gint64 bytes = 0;
  g_autofree char *got = tar_listing (fd, &bytes);
  g_autofree char *want = lines_text (expected_tar);
  g_assert_cmpstr (got, ==, want);
  close (fd);

  gint64 size = berth_aufs_branch_size (b, &error);
  g_assert_no_error (error);
  g_assert_cmpint (size, ==, bytes);
  g_assert_cmpint (size, ==, strlen ("root\nuser\n") + strlen ("localhost\nhost\n")
                                 + strlen ("brand new\n") + strlen ("hard\n")
                                 + strlen ("again\n") + strlen ("fresh a\n")
                                 + strlen ("new\n"));
  tu_remove_tree (dir);
}

/* ---- the layout, through the vtable, nothing mounted ---- */

typedef struct {
  char *dir;
  BerthStorage s;
} Layout;

static void
layout_open (Layout *l)
{
  g_autoptr (GError) error = NULL;
  l->dir = tu_mkdtemp ("berth-aufs-layout");
  l->s.ops = berth_storage_driver_lookup ("aufs");
  l->s.home = sub (l->dir, "aufs");
  g_assert_cmpint (g_mkdir_with_parents (l->s.home, 0700), ==, 0);
  l->s.priv = l->s.ops->init (l->s.home, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (l->s.priv);
}

static void
layout_close (Layout *l)
{
  l->s.ops->cleanup (&l->s);
  g_assert_null (l->s.priv);
  tu_remove_tree (l->dir);
  g_free (l->dir);
  g_free (l->s.home);
}

static int
tree_tar (const char *tree, const char *const *whiteouts, const char *const *opaques)
{
  g_autoptr (GError) error = NULL;
  int fd = tu_memfd ("aufs-test.tar");
  g_autoptr (BerthTarWriter) w = berth_tar_writer_new (fd, &error);
  g_assert_no_error (error);
  int dfd = open (tree, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (dfd, >=, 0);
  g_assert_true (berth_tar_writer_add_tree (w, dfd, &error));
  close (dfd);
  for (; whiteouts && *whiteouts; whiteouts++)
    g_assert_true (berth_tar_writer_add_whiteout (w, *whiteouts, &error));
  for (; opaques && *opaques; opaques++)
    g_assert_true (berth_tar_writer_add_opaque (w, *opaques, &error));
  g_assert_true (berth_tar_writer_finish (w, &error));
  g_assert_no_error (error);
  g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
  return fd;
}

static void
create_ok (Layout *l, const char *id, const char *parent, gboolean writable)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (berth_storage_create (&l->s, id, parent, writable, &error));
  g_assert_no_error (error);
  g_assert_true (berth_storage_exists (&l->s, id));
}

static void
apply_ok (Layout *l, const char *id, const char *parent, int fd)
{
  g_autoptr (GError) error = NULL;
  gint64 size = berth_storage_apply_diff (&l->s, id, parent, fd, &error);
  g_assert_no_error (error);
  g_assert_cmpint (size, >=, 0);
}

static void
assert_empty_dir (const char *home, const char *rel)
{
  g_autofree char *p = sub (home, rel);
  g_autoptr (GDir) d = g_dir_open (p, 0, NULL);
  g_assert_nonnull (d);
  const char *n = g_dir_read_name (d);
  if (n)
    g_error ("%s still holds %s", rel, n);
}

/* Three layers: base (a, d/x), mid (deletes a, makes d opaque with d/y, adds
 * b) and a writable top. */
static void
build_layout (Layout *l, char *ids[3])
{
  ids[0] = tu_layer_id ("base");
  ids[1] = tu_layer_id ("mid");
  ids[2] = tu_layer_id ("top");
  g_autofree char *t1 = sub (l->dir, "t1");
  g_autofree char *t2 = sub (l->dir, "t2");
  const char *const tree1[] = { "f:a=a\n", "f:d/x=x\n", NULL };
  const char *const tree2[] = { "f:b=bb\n", "f:d/y=yyy\n", NULL };
  make_tree (t1, tree1);
  make_tree (t2, tree2);
  const char *wh[] = { "a", NULL };
  const char *opq[] = { "d", NULL };
  create_ok (l, ids[0], NULL, FALSE);
  int fd1 = tree_tar (t1, NULL, NULL);
  apply_ok (l, ids[0], NULL, fd1);
  close (fd1);
  create_ok (l, ids[1], ids[0], FALSE);
  int fd2 = tree_tar (t2, wh, opq);
  apply_ok (l, ids[1], ids[0], fd2);
  close (fd2);
  create_ok (l, ids[2], ids[1], TRUE);
}

static void
assert_layout_files (Layout *l, char *ids[3])
{
  g_autofree char *f0 = g_strconcat ("layers/", ids[0], NULL);
  g_autofree char *f2 = g_strconcat ("layers/", ids[2], NULL);
  g_autofree char *chain = g_strdup_printf ("%s\n%s\n", ids[1], ids[0]);
  assert_file (l->s.home, f0, "");
  assert_file (l->s.home, f2, chain);
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *branch = g_build_filename (l->s.home, "diff", ids[i], NULL);
      g_autofree char *mnt = g_build_filename (l->s.home, "mnt", ids[i], NULL);
      struct stat st;
      g_assert_cmpint (lstat (branch, &st), ==, 0);
      g_assert_true (S_ISDIR (st.st_mode));
      g_assert_cmpint (st.st_mode & 07777, ==, 0755);
      g_assert_true (g_file_test (mnt, G_FILE_TEST_IS_DIR));
    }
  g_autofree char *mid = g_build_filename (l->s.home, "diff", ids[1], NULL);
  assert_marker (mid, ".wh.a");
  assert_marker (mid, "d/.wh..wh..opq");
}

static void
assert_layout_diff (Layout *l, char *ids[3])
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) changes = berth_storage_changes (&l->s, ids[1], ids[0], &error);
  g_assert_no_error (error);
  g_autofree char *got = tu_changes_text (changes);
  g_assert_cmpstr (got, ==, "D /a\nA /b\nC /d\nA /d/y\n");
  g_assert_cmpint (berth_storage_diff_size (&l->s, ids[1], ids[0], &error), ==, 7);
  g_assert_no_error (error);
  /* the native diff only reads a layer against its own parent */
  int fd = tu_memfd ("aufs-test.tar");
  g_assert_false (berth_storage_diff (&l->s, ids[2], ids[0], fd, &error));
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_INVALID);
  close (fd);
}

static void
assert_create_refusals (Layout *l, char *ids[3])
{
  GError *error = NULL;
  g_autofree char *orphan = tu_layer_id ("orphan");
  g_autofree char *missing = tu_layer_id ("missing");
  g_assert_false (berth_storage_create (&l->s, ids[0], NULL, FALSE, &error));
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_false (l->s.ops->create (&l->s, orphan, missing, FALSE, &error));
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (berth_storage_exists (&l->s, orphan));
}

static void
assert_status (Layout *l)
{
  g_autoptr (GPtrArray) pairs = berth_storage_status (&l->s);
  g_assert_cmpuint (pairs->len, ==, 8);
  g_assert_cmpstr (pairs->pdata[0], ==, "backing filesystem");
  g_assert_cmpstr (pairs->pdata[2], ==, "dirperm1");
  g_assert_true (g_str_equal (pairs->pdata[3], "yes") || g_str_equal (pairs->pdata[3], "no"));
  g_assert_cmpstr (pairs->pdata[4], ==, "branches per mount");
  g_assert_true (g_str_has_prefix (pairs->pdata[5], "at most "));
  g_assert_cmpuint (g_ascii_strtoull ((char *) pairs->pdata[5] + strlen ("at most "), NULL, 10), >, 1);
  if (!kernel_lists_aufs ())
    {
      /* No aufs, so no config line for it: aufs's own default. */
      g_assert_cmpstr (pairs->pdata[3], ==, "no");
      g_assert_cmpstr (pairs->pdata[5], ==, "at most 127");
    }
  g_assert_cmpstr (pairs->pdata[6], ==, "layers");
  g_assert_cmpstr (pairs->pdata[7], ==, "3");
}

static void
test_layout (void)
{
  Layout l = { 0 };
  char *ids[3];
  layout_open (&l);
  build_layout (&l, ids);
  assert_layout_files (&l, ids);
  assert_layout_diff (&l, ids);
  assert_create_refusals (&l, ids);
  assert_status (&l);
  for (int i = 2; i >= 0; i--)
    {
      g_autoptr (GError) error = NULL;
      g_assert_true (berth_storage_remove (&l.s, ids[i], &error));
      g_assert_no_error (error);
      g_assert_false (berth_storage_exists (&l.s, ids[i]));
      g_free (ids[i]);
    }
  assert_empty_dir (l.s.home, "diff");
  assert_empty_dir (l.s.home, "layers");
  assert_empty_dir (l.s.home, "mnt");
  layout_close (&l);
}

/* A branch left without its layers file (a create killed half-way) is not a
 * layer, and the next create of that id clears it. */
static void
test_layout_debris (void)
{
  Layout l = { 0 };
  g_autofree char *id = tu_layer_id ("debris");
  layout_open (&l);
  g_autofree char *branch = g_build_filename (l.s.home, "diff", id, NULL);
  const char *const debris[] = { "f:half/file=left over\n", NULL };
  make_tree (branch, debris);
  g_assert_false (berth_storage_exists (&l.s, id));
  create_ok (&l, id, NULL, TRUE);
  assert_absent (branch, "half");
  layout_close (&l);
}

static void
test_unknown_option (void)
{
  g_autofree char *dir = tu_mkdtemp ("berth-aufs-opt");
  g_autoptr (GError) error = NULL;
  char *options[] = { "aufs.nosuch=1", NULL };
  gpointer p = berth_storage_driver_lookup ("aufs")->init (dir, options, &error);
  g_assert_null (p);
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "aufs.nosuch=1"));
  /* none in its table entry: the store refuses aufs.* keys itself */
  g_assert_null (berth_storage_family_lookup ("aufs")->option_prefix);
  tu_remove_tree (dir);
}

/* ---- the probe on this host ---- */

static void
test_probe (void)
{
  if (kernel_lists_aufs ())
    {
      g_test_skip ("this kernel lists aufs in /proc/filesystems: the probe's refusal "
                   "cannot be seen here");
      return;
    }
  g_autofree char *dir = tu_mkdtemp ("berth-aufs-probe");
  g_autofree char *root = sub (dir, "store");
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStorage) s = berth_storage_open (root, "aufs", NULL, &error);
  g_assert_null (s);
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_NOT_SUPPORTED);
  g_assert_nonnull (strstr (error->message, "kernel has no aufs"));
  g_assert_false (g_file_test (root, G_FILE_TEST_EXISTS));
  tu_remove_tree (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/aufs/branch-max", test_branch_max);
  g_test_add_func ("/aufs/mount-data/chains", test_plan_chains);
  g_test_add_func ("/aufs/mount-data/page-sizes", test_plan_page_sizes);
  g_test_add_func ("/aufs/mount-data/impossible", test_plan_impossible);
  g_test_add_func ("/aufs/whiteouts/extract", test_whiteouts_extract);
  g_test_add_func ("/aufs/changes", test_changes);
  g_test_add_func ("/aufs/diff-tar", test_diff_tar);
  g_test_add_func ("/aufs/layout", test_layout);
  g_test_add_func ("/aufs/layout-debris", test_layout_debris);
  g_test_add_func ("/aufs/unknown-option", test_unknown_option);
  g_test_add_func ("/aufs/probe", test_probe);
  return g_test_run ();
}
