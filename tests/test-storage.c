/* The storage-driver conformance suite: the same cases for every driver built
 * into berth, on real mounts (a loop-mounted btrfs for the btrfs driver).
 *
 * Each case runs in a subprocess (g_test_trap_subprocess) so that a failing
 * driver cannot abort the rest of the suite, and so that the parent can always
 * unmount and remove what the case left behind. The child writes a skip reason
 * into <case dir>/skip-reason when the driver cannot run on this host. */
#include "config.h"
#include "testutil.h"
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
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <signal.h>
#include <berth/fsutil.h>
#include <unistd.h>

#define CASE_DIR_ENV "BERTH_TEST_CASE_DIR"
#define N_DEEP 128

typedef struct {
  const char *driver;
  char *dir;     /* the case's temp dir (ext4) */
  char *root;    /* the store root (on btrfs for the btrfs driver) */
  char *scratch; /* expected trees and tar sources, always on ext4 */
  BerthStorage *s;
  gboolean prepared;
} Ctx;

typedef void (*CaseFunc) (Ctx *c);

typedef struct {
  const char *driver;
  const char *name;
  CaseFunc func;
  gboolean long_path;
  gboolean own_pool; /* devicemapper: needs a loop-lvm pool of its own */
} Case;

/* ---- small helpers ---- */

static char *
sub (const char *dir, const char *rel)
{
  return g_build_filename (dir, rel, NULL);
}

static void
mkd (const char *dir, const char *rel, mode_t mode)
{
  g_autofree char *p = sub (dir, rel);
  if (mkdir (p, mode) < 0 && errno != EEXIST)
    g_error ("mkdir %s: %s", p, g_strerror (errno));
  g_assert_cmpint (chmod (p, mode), ==, 0);
}

static void
put (const char *dir, const char *rel, const char *contents, mode_t mode)
{
  g_autofree char *p = sub (dir, rel);
  tu_write_file (p, contents, mode);
}

static void
put_bytes (const char *dir, const char *rel, const guint8 *data, gsize len, mode_t mode)
{
  g_autofree char *p = sub (dir, rel);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (p, (const char *) data, len, &error));
  g_assert_cmpint (chmod (p, mode), ==, 0);
}

static void
chown_rel (const char *dir, const char *rel, uid_t uid, gid_t gid)
{
  g_autofree char *p = sub (dir, rel);
  g_assert_cmpint (lchown (p, uid, gid), ==, 0);
}

static void
run_ok (char **argv)
{
  g_autofree char *err = NULL;
  int status = tu_run (argv, NULL, &err);
  if (status != 0)
    g_error ("%s %s failed (%d): %s", argv[0], argv[1], status, err);
}

static void
rm_rf (const char *path)
{
  char *argv[] = { "rm", "-rf", (char *) path, NULL };
  run_ok (argv);
}

/* cp -a, merging the contents of @src into @dst (created if missing); an
 * existing non-directory is replaced, as tar extraction does. */
static void
cp_a (const char *src, const char *dst)
{
  g_autofree char *from = g_strconcat (src, "/.", NULL);
  char *argv[] = { "cp", "-a", "--remove-destination", from, (char *) dst, NULL };
  run_ok (argv);
}

static const guint8 *
random_mib (void)
{
  static guint8 *data;
  if (data == NULL)
    {
      data = g_malloc (1 << 20);
      g_autoptr (GRand) r = g_rand_new_with_seed (42);
      for (gsize i = 0; i < (1 << 20) / 4; i++)
        {
          guint32 v = g_rand_int (r);
          memcpy (data + 4 * i, &v, 4);
        }
    }
  return data;
}

/* ---- the layers of the chain ---- */

static void
layer1_content (const char *d)
{
  put (d, "text.txt", "hello\n", 0644);
  mkd (d, "bin", 0755);
  put_bytes (d, "bin/random.bin", random_mib (), 1 << 20, 0644);
  put (d, "empty", "", 0600);
  mkd (d, "private", 0700);
  put (d, "private/secret", "s3cret\n", 0600);
  mkd (d, "tmp", 01777);
  mkd (d, "usr", 0755);
  mkd (d, "usr/bin", 0755);
  put (d, "usr/bin/su", "#!/bin/sh\nexit 0\n", 04755);
  mkd (d, "home", 0755);
  mkd (d, "home/user", 0750);
  chown_rel (d, "home/user", 1000, 1000);
  put (d, "home/user/file", "mine\n", 0640);
  chown_rel (d, "home/user/file", 1000, 1000);
  g_autofree char *lrel = sub (d, "link-rel");
  g_autofree char *labs = sub (d, "bin/link-abs");
  g_assert_cmpint (symlink ("text.txt", lrel), ==, 0);
  g_assert_cmpint (symlink ("/text.txt", labs), ==, 0);
  mkd (d, "hard", 0755);
  put (d, "hard/a", "linked\n", 0644);
  g_autofree char *ha = sub (d, "hard/a");
  g_autofree char *hb = sub (d, "hard/b");
  g_assert_cmpint (link (ha, hb), ==, 0);
  put (d, "xattr.txt", "has an xattr\n", 0644);
  g_autofree char *xf = sub (d, "xattr.txt");
  g_assert_cmpint (lsetxattr (xf, "user.test", "value", 5, 0), ==, 0);
  mkd (d, "run", 0755);
  g_autofree char *fifo = sub (d, "run/fifo");
  g_assert_cmpint (mkfifo (fifo, 0644), ==, 0);
  g_assert_cmpint (chmod (fifo, 0644), ==, 0);
  g_autofree char *deep = g_strdup ("a");
  mkd (d, deep, 0755);
  for (char c = 'b'; c <= 'i'; c++)
    {
      char *next = g_strdup_printf ("%s/%c", deep, c);
      g_free (deep);
      deep = next;
      mkd (d, deep, 0755);
    }
  g_autofree char *deepf = g_strconcat (deep, "/deep.txt", NULL);
  put (d, deepf, "deep\n", 0644);
  mkd (d, "opq", 0755);
  put (d, "opq/old1", "old\n", 0644);
  mkd (d, "opq/sub", 0755);
  put (d, "opq/sub/old2", "old\n", 0644);
  mkd (d, "gone", 0755);
  put (d, "gone/x", "x\n", 0644);
  mkd (d, "gone/y", 0755);
  put (d, "gone/y/z", "z\n", 0644);
}

static void
layer2_content (const char *d)
{
  put (d, "text.txt", "hello\nworld\n", 0644);
  mkd (d, "new", 0755);
  put (d, "new/added.txt", "added\n", 0644);
  mkd (d, "bin", 0755);
  put_bytes (d, "bin/new.bin", random_mib () + 4096, 8192, 0755);
  mkd (d, "opq", 0755);
  put (d, "opq/fresh.txt", "fresh\n", 0644);
}

static void
layer3_content (const char *d)
{
  mkd (d, "bin", 0755);
  put_bytes (d, "bin/renamed.bin", random_mib (), 1 << 20, 0644);
}

typedef struct {
  void (*content) (const char *upper);
  const char *whiteouts[4];
  const char *opaques[2];
} LayerSpec;

static const LayerSpec chain_layers[3] = {
  { layer1_content, { NULL }, { NULL } },
  { layer2_content, { "empty", "gone", NULL }, { "opq", NULL } },
  { layer3_content, { "bin/random.bin", NULL }, { NULL } },
};

static void
empty_dir (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_assert_nonnull (d);
  for (const char *n = g_dir_read_name (d); n; n = g_dir_read_name (d))
    {
      g_autofree char *p = sub (dir, n);
      rm_rf (p);
    }
}

/* The flat tree a layer should show: the lower tree, whiteouts and opaque
 * directories applied, then the layer's own content copied over it. */
static void
build_expected (const char *prev, const char *upper, const LayerSpec *spec, const char *out)
{
  if (prev)
    cp_a (prev, out);
  else
    g_assert_cmpint (mkdir (out, 0755), ==, 0);
  for (const char *const *w = spec->whiteouts; *w; w++)
    {
      g_autofree char *p = sub (out, *w);
      rm_rf (p);
    }
  for (const char *const *o = spec->opaques; *o; o++)
    {
      g_autofree char *p = sub (out, *o);
      empty_dir (p);
    }
  cp_a (upper, out);
}

static char *
scratch_path (Ctx *c, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static char *
scratch_path (Ctx *c, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *name = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  return sub (c->scratch, name);
}

/* Make scratch/up<N> (each layer's own content) and scratch/exp<N>. */
static void
prepare_layers (Ctx *c)
{
  if (c->prepared)
    return;
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *up = scratch_path (c, "up%d", i + 1);
      g_autofree char *exp = scratch_path (c, "exp%d", i + 1);
      g_autofree char *prev = i ? scratch_path (c, "exp%d", i) : NULL;
      g_assert_cmpint (mkdir (up, 0755), ==, 0);
      chain_layers[i].content (up);
      build_expected (prev, up, &chain_layers[i], exp);
    }
  c->prepared = TRUE;
}

static void
write_tar (int fd, const char *upper, const LayerSpec *spec)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthTarWriter) w = berth_tar_writer_new (fd, &error);
  g_assert_no_error (error);
  int dfd = open (upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (dfd, >=, 0);
  g_assert_true (berth_tar_writer_add_tree (w, dfd, &error));
  g_assert_no_error (error);
  close (dfd);
  for (const char *const *p = spec ? spec->whiteouts : NULL; p && *p; p++)
    {
      g_assert_true (berth_tar_writer_add_whiteout (w, *p, &error));
      g_assert_no_error (error);
    }
  for (const char *const *p = spec ? spec->opaques : NULL; p && *p; p++)
    {
      g_assert_true (berth_tar_writer_add_opaque (w, *p, &error));
      g_assert_no_error (error);
    }
  g_assert_true (berth_tar_writer_finish (w, &error));
  g_assert_no_error (error);
  g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
}

/* Create image layer @id on @parent from the tar on @fd (from its start). */
static void
apply_layer (Ctx *c, const char *id, const char *parent, int fd)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (berth_storage_create (c->s, id, parent, FALSE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
  gint64 size = berth_storage_apply_diff (c->s, id, parent, fd, &error);
  g_assert_no_error (error);
  g_assert_cmpint (size, >=, 0);
}

/* The three-layer chain, ids from "<prefix>-1".."<prefix>-3". */
static void
build_chain (Ctx *c, const char *prefix, char *ids[3])
{
  prepare_layers (c);
  for (int i = 0; i < 3; i++)
    {
      g_autofree char *label = g_strdup_printf ("%s-%d", prefix, i + 1);
      g_autofree char *up = scratch_path (c, "up%d", i + 1);
      ids[i] = tu_layer_id (label);
      int fd = tu_memfd ("layer.tar");
      write_tar (fd, up, &chain_layers[i]);
      apply_layer (c, ids[i], i ? ids[i - 1] : NULL, fd);
      close (fd);
    }
}

static void
free_ids (char **ids, int n)
{
  for (int i = 0; i < n; i++)
    g_free (ids[i]);
}

static char *
get_ok (Ctx *c, const char *id)
{
  g_autoptr (GError) error = NULL;
  char *path = berth_storage_get (c->s, id, &error);
  g_assert_no_error (error);
  g_assert_nonnull (path);
  return path;
}

static void
put_ok (Ctx *c, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (berth_storage_put (c->s, id, &error));
  g_assert_no_error (error);
}

static void
remove_ok (Ctx *c, const char *id)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (berth_storage_remove (c->s, id, &error));
  g_assert_no_error (error);
  g_assert_false (berth_storage_exists (c->s, id));
}

/* Compare two trees by manifest; print a diff -u on mismatch. */
static void
assert_same_tree (Ctx *c, const char *what, const char *actual, const char *expected)
{
  g_autofree char *ma = tu_tree_manifest (actual);
  g_autofree char *me = tu_tree_manifest (expected);
  if (g_strcmp0 (ma, me) == 0)
    return;
  g_autofree char *fa = scratch_path (c, "manifest-actual");
  g_autofree char *fe = scratch_path (c, "manifest-expected");
  g_assert_true (g_file_set_contents (fa, ma, -1, NULL));
  g_assert_true (g_file_set_contents (fe, me, -1, NULL));
  g_autofree char *out = NULL;
  char *argv[] = { "diff", "-u", fe, fa, NULL };
  tu_run (argv, &out, NULL);
  g_printerr ("# %s: %s differs from the expected tree (- expected, + actual):\n%s",
              c->driver, what, out);
  g_assert_cmpstr (ma, ==, me);
}

/* ---- the writable layer's operations ---- */

#define DEEP_FILE "a/b/c/d/e/f/g/h/i/deep.txt"

static void
append_to (const char *dir, const char *rel, const char *text)
{
  g_autofree char *p = sub (dir, rel);
  int fd = open (p, O_WRONLY | O_APPEND | O_CLOEXEC);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (write (fd, text, strlen (text)), ==, (gssize) strlen (text));
  g_assert_cmpint (close (fd), ==, 0);
}

static void
writable_ops (const char *d)
{
  put (d, "new-file", "new\n", 0644);
  append_to (d, DEEP_FILE, "more\n");
  g_autofree char *x = sub (d, "xattr.txt");
  g_assert_cmpint (unlink (x), ==, 0);
  g_autofree char *home_user = sub (d, "home/user");
  rm_rf (home_user);
  g_autofree char *from = sub (d, "new/added.txt");
  g_autofree char *to = sub (d, "new/moved.txt");
  g_assert_cmpint (rename (from, to), ==, 0);
  g_autofree char *secret = sub (d, "private/secret");
  g_assert_cmpint (chmod (secret, 0640), ==, 0);
  chown_rel (d, "text.txt", 1000, 1000);
  mkd (d, "newdir", 0750);
  put (d, "newdir/inner.txt", "inner\n", 0644);
}

/* What changes() must report for writable_ops on the chain, in strcmp order
 * of path. Every directory above a change is reported as changed ("C"), as
 * Docker does, except "/". */
static char *
expected_changes (void)
{
  const char *lines[] = {
    "C /a",
    "C /a/b",
    "C /a/b/c",
    "C /a/b/c/d",
    "C /a/b/c/d/e",
    "C /a/b/c/d/e/f",
    "C /a/b/c/d/e/f/g",
    "C /a/b/c/d/e/f/g/h",
    "C /a/b/c/d/e/f/g/h/i",
    "C /" DEEP_FILE,
    "C /home",
    "D /home/user",
    "C /new",
    "A /new-file",
    "D /new/added.txt",
    "A /new/moved.txt",
    "A /newdir",
    "A /newdir/inner.txt",
    "C /private",
    "C /private/secret",
    "C /text.txt",
    "D /xattr.txt",
    NULL,
  };
  GString *s = g_string_new (NULL);
  for (const char **l = lines; *l; l++)
    g_string_append_printf (s, "%s\n", *l);
  return g_string_free (s, FALSE);
}

static gint
cmp_change_path (gconstpointer a, gconstpointer b)
{
  const BerthChange *ca = *(BerthChange *const *) a, *cb = *(BerthChange *const *) b;
  return strcmp (ca->path, cb->path);
}

static void
assert_changes (Ctx *c, const char *id, const char *parent)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) changes = berth_storage_changes (c->s, id, parent, &error);
  g_assert_no_error (error);
  g_assert_nonnull (changes);
  g_autofree char *actual = tu_changes_text (changes);
  g_autofree char *expected = expected_changes ();
  g_autoptr (GPtrArray) sorted = g_ptr_array_sized_new (changes->len);
  for (guint i = 0; i < changes->len; i++)
    g_ptr_array_add (sorted, changes->pdata[i]);
  g_ptr_array_sort (sorted, cmp_change_path);
  g_autofree char *actual_sorted = tu_changes_text (sorted);
  if (g_strcmp0 (actual_sorted, expected) != 0)
    g_printerr ("# %s: changes() returned:\n%s# expected:\n%s", c->driver, actual, expected);
  g_assert_cmpstr (actual_sorted, ==, expected);
  /* The contract says "sorted by path". */
  if (g_strcmp0 (actual, expected) != 0)
    g_printerr ("# %s: changes() is not in path order:\n%s", c->driver, actual);
  g_assert_cmpstr (actual, ==, expected);
}

/* Sum of the sizes of the regular files (not hardlink entries) in the tar. */
static gint64
tar_regular_size (int fd)
{
  g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
  struct archive *a = archive_read_new ();
  archive_read_support_format_tar (a);
  g_assert_cmpint (archive_read_open_fd (a, fd, 65536), ==, ARCHIVE_OK);
  gint64 total = 0;
  struct archive_entry *e;
  int r;
  while ((r = archive_read_next_header (a, &e)) == ARCHIVE_OK)
    if (archive_entry_filetype (e) == AE_IFREG && archive_entry_hardlink (e) == NULL)
      total += archive_entry_size (e);
  if (r != ARCHIVE_EOF)
    g_error ("reading the diff tar: %s", archive_error_string (a));
  archive_read_free (a);
  g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
  return total;
}

/* Writable layer "<label>" on @parent with writable_ops applied. */
static char *
make_container (Ctx *c, const char *label, const char *parent)
{
  g_autoptr (GError) error = NULL;
  char *id = tu_layer_id (label);
  g_assert_true (berth_storage_create (c->s, id, parent, TRUE, &error));
  g_assert_no_error (error);
  g_autofree char *path = get_ok (c, id);
  writable_ops (path);
  put_ok (c, id);
  return id;
}

/* scratch/expw: the chain's top with writable_ops applied by hand. */
static char *
expected_container_tree (Ctx *c)
{
  char *expw = scratch_path (c, "expw");
  if (!g_file_test (expw, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *exp3 = scratch_path (c, "exp3");
      cp_a (exp3, expw);
      writable_ops (expw);
    }
  return expw;
}

static int
diff_to_memfd (Ctx *c, const char *id, const char *parent)
{
  g_autoptr (GError) error = NULL;
  int fd = tu_memfd ("layer.tar");
  g_assert_true (berth_storage_diff (c->s, id, parent, fd, &error));
  g_assert_no_error (error);
  g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
  return fd;
}

/* ---- the cases ---- */

static void
case_empty (Ctx *c)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *id = tu_layer_id ("empty-base");
  g_assert_true (berth_storage_create (c->s, id, NULL, FALSE, &error));
  g_assert_no_error (error);
  g_autofree char *path = get_ok (c, id);
  struct stat st;
  g_assert_cmpint (lstat (path, &st), ==, 0);
  g_assert_true (S_ISDIR (st.st_mode));
  g_assert_cmpint (st.st_mode & 07777, ==, 0755);
  g_assert_cmpint (st.st_uid, ==, 0);
  g_assert_cmpint (st.st_gid, ==, 0);
  g_autofree char *manifest = tu_tree_manifest (path);
  if (manifest[0])
    g_printerr ("# %s: the empty layer holds:\n%s", c->driver, manifest);
  g_assert_cmpstr (manifest, ==, "");
  put_ok (c, id);
}

static void
case_chain3 (Ctx *c)
{
  char *ids[3];
  build_chain (c, "chain", ids);
  for (int i = 2; i >= 0; i--)
    {
      g_autofree char *path = get_ok (c, ids[i]);
      g_autofree char *exp = scratch_path (c, "exp%d", i + 1);
      g_autofree char *what = g_strdup_printf ("layer %d of 3", i + 1);
      assert_same_tree (c, what, path, exp);
      put_ok (c, ids[i]);
    }
  free_ids (ids, 3);
}

static void
case_writable (Ctx *c)
{
  g_autoptr (GError) error = NULL;
  char *ids[3], *fresh[3];
  build_chain (c, "chain", ids);
  g_autofree char *w = make_container (c, "container", ids[2]);
  g_autofree char *expw = expected_container_tree (c);
  {
    g_autofree char *path = get_ok (c, w);
    assert_same_tree (c, "writable layer", path, expw);
    put_ok (c, w);
  }

  int fd = diff_to_memfd (c, w, ids[2]);
  gint64 size = berth_storage_diff_size (c->s, w, ids[2], &error);
  g_assert_no_error (error);
  g_assert_cmpint (size, ==, tar_regular_size (fd));

  build_chain (c, "fresh", fresh);
  g_autofree char *applied = tu_layer_id ("applied");
  apply_layer (c, applied, fresh[2], fd);
  close (fd);
  g_autofree char *pw = get_ok (c, w);
  g_autofree char *pa = get_ok (c, applied);
  assert_same_tree (c, "diff applied on a fresh chain", pa, pw);
  put_ok (c, applied);
  put_ok (c, w);
  /* Last, so that a wrong list does not hide how diff and apply_diff fare. */
  assert_changes (c, w, ids[2]);
  free_ids (ids, 3);
  free_ids (fresh, 3);
}

static void
case_commit (Ctx *c)
{
  char *ids[3];
  build_chain (c, "chain", ids);
  g_autofree char *w = make_container (c, "container", ids[2]);
  int fd = diff_to_memfd (c, w, ids[2]);
  g_autofree char *commit = tu_layer_id ("commit");
  apply_layer (c, commit, ids[2], fd);
  close (fd);

  g_autoptr (GError) error = NULL;
  g_autofree char *w2 = tu_layer_id ("container2");
  g_assert_true (berth_storage_create (c->s, w2, commit, TRUE, &error));
  g_assert_no_error (error);
  g_autofree char *pw = get_ok (c, w);
  g_autofree char *pw2 = get_ok (c, w2);
  assert_same_tree (c, "container on the committed layer", pw2, pw);
  g_autofree char *expw = expected_container_tree (c);
  assert_same_tree (c, "container on the committed layer", pw2, expw);
  put_ok (c, w2);
  put_ok (c, w);
  free_ids (ids, 3);
}

static void
small_layer (Ctx *c, const char *id, const char *parent, const char *name, const char *text)
{
  g_autofree char *dir = scratch_path (c, "small-%s", name);
  g_assert_cmpint (mkdir (dir, 0755), ==, 0);
  put (dir, name, text, 0644);
  int fd = tu_memfd ("layer.tar");
  write_tar (fd, dir, NULL);
  apply_layer (c, id, parent, fd);
  close (fd);
}

static void
case_refcount (Ctx *c)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *base = tu_layer_id ("ref-base");
  g_autofree char *top = tu_layer_id ("ref-top");
  small_layer (c, base, NULL, "hello", "hello\n");
  g_assert_true (berth_storage_create (c->s, top, base, TRUE, &error));
  g_assert_no_error (error);

  g_autofree char *p1 = get_ok (c, top);
  g_autofree char *p2 = get_ok (c, top);
  g_assert_cmpstr (p1, ==, p2);
  g_assert_cmpuint (berth_storage_refcount (c->s, top), ==, 2);
  gboolean mounted = tu_mounted_below (c->s->home);
  if (g_str_equal (c->driver, "overlay"))
    g_assert_true (mounted);

  put_ok (c, top);
  g_assert_cmpuint (berth_storage_refcount (c->s, top), ==, 1);
  g_autofree char *hello = sub (p1, "hello");
  g_assert_true (g_file_test (hello, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpint (tu_mounted_below (c->s->home), ==, mounted);

  put_ok (c, top);
  g_assert_cmpuint (berth_storage_refcount (c->s, top), ==, 0);
  g_assert_false (tu_mounted_below (c->s->home));

  g_assert_false (berth_storage_put (c->s, top, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);

  /* A record a kill left empty (made, never written) is no hold. */
  g_autofree char *record = g_build_filename (c->s->home, "refs", top, NULL);
  tu_write_file (record, "", 0600);
  g_assert_cmpuint (berth_storage_refcount (c->s, top), ==, 0);
  g_free (get_ok (c, top));
  put_ok (c, top);
  g_assert_cmpuint (berth_storage_refcount (c->s, top), ==, 0);
}

static gboolean
name_has_id (const char *name, char **ids)
{
  for (char **i = ids; *i; i++)
    if (strstr (name, *i))
      return TRUE;
  return FALSE;
}

/* A driver's own bookkeeping, which outlives every layer: devicemapper's
 * pool files, its base device and its settings. */
static gboolean
is_bookkeeping (const char *rel)
{
  static const char *const kept[] = { "deviceset.json", "metadata", "metadata/base.json",
                                      "devicemapper", "devicemapper/data",
                                      "devicemapper/metadata", "mnt", NULL };
  return g_strv_contains (kept, rel);
}

/* Everything under @dir (relative to the driver home) that is layer data:
 * anything below depth 1, or a name holding a layer id. */
static void
collect_leftovers (const char *home, const char *rel, char **ids, GString *out)
{
  g_autofree char *full = rel[0] ? sub (home, rel) : g_strdup (home);
  g_autoptr (GDir) d = g_dir_open (full, 0, NULL);
  if (d == NULL)
    return;
  for (const char *n = g_dir_read_name (d); n; n = g_dir_read_name (d))
    {
      g_autofree char *crel = rel[0] ? g_strconcat (rel, "/", n, NULL) : g_strdup (n);
      g_autofree char *cfull = sub (home, crel);
      if ((rel[0] || name_has_id (n, ids)) && !is_bookkeeping (crel))
        g_string_append_printf (out, "  %s\n", crel);
      if (g_file_test (cfull, G_FILE_TEST_IS_DIR) && !g_file_test (cfull, G_FILE_TEST_IS_SYMLINK))
        collect_leftovers (home, crel, ids, out);
    }
}

static void
case_remove (Ctx *c)
{
  char *ids[5] = { NULL };
  build_chain (c, "chain", ids);
  g_autoptr (GError) error = NULL;
  ids[3] = tu_layer_id ("container");
  g_assert_true (berth_storage_create (c->s, ids[3], ids[2], TRUE, &error));
  g_assert_no_error (error);
  g_free (get_ok (c, ids[3]));
  g_free (get_ok (c, ids[1]));
  for (int i = 3; i >= 0; i--)
    remove_ok (c, ids[i]);

  g_assert_false (tu_mounted_below (c->root));
  g_autoptr (GString) left = g_string_new (NULL);
  collect_leftovers (c->s->home, "", ids, left);
  if (left->len)
    g_printerr ("# %s: left in %s after removing every layer:\n%s", c->driver, c->s->home,
                left->str);
  g_assert_cmpstr (left->str, ==, "");
  free_ids (ids, 4);
}

static void
case_parent_missing (Ctx *c)
{
  g_autofree char *missing = tu_layer_id ("missing");
  g_autofree char *child = tu_layer_id ("child");
  g_autofree char *base = tu_layer_id ("base");
  GError *error = NULL;

  g_assert_false (berth_storage_create (c->s, child, missing, FALSE, &error));
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (berth_storage_exists (c->s, child));

  g_assert_true (berth_storage_create (c->s, base, NULL, FALSE, &error));
  g_assert_no_error (error);
  g_assert_false (berth_storage_create (c->s, base, NULL, FALSE, &error));
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_EXISTS);
  g_clear_error (&error);
  g_assert_false (berth_storage_create (c->s, base, NULL, TRUE, &error));
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_EXISTS);
  g_clear_error (&error);

  g_assert_null (berth_storage_get (c->s, missing, &error));
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (berth_storage_remove (c->s, missing, &error));
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_true (berth_storage_exists (c->s, base));
}

static void
deep_layer (Ctx *c, const char *dir, int n, char **ids)
{
  empty_dir (dir);
  g_autofree char *name = g_strdup_printf ("f%d", n);
  g_autofree char *text = g_strdup_printf ("%d", n);
  put (dir, name, text, 0644);
  put (dir, "top", text, 0644);
  g_autofree char *label = g_strdup_printf ("deep-%d", n);
  ids[n - 1] = tu_layer_id (label);
  int fd = tu_memfd ("layer.tar");
  write_tar (fd, dir, NULL);
  apply_layer (c, ids[n - 1], n > 1 ? ids[n - 2] : NULL, fd);
  close (fd);
}

/* How many branches this kernel's aufs takes, asked of aufs itself rather
 * than of the driver's reading of the kernel config: one branch mounted,
 * then one appended per remount until aufs refuses with ENOSPC. */
static int
aufs_kernel_branch_limit (Ctx *c)
{
  g_autofree char *dir = scratch_path (c, "aufs-limit");
  g_autofree char *target = sub (dir, "union");
  g_assert_cmpint (mkdir (dir, 0755), ==, 0);
  g_assert_cmpint (mkdir (target, 0755), ==, 0);
  int held = 0;
  for (; held <= N_DEEP; held++)
    {
      g_autofree char *name = g_strdup_printf ("b%d", held);
      g_autofree char *branch = sub (dir, name);
      g_assert_cmpint (mkdir (branch, 0755), ==, 0);
      g_autofree char *data = held == 0 ? g_strdup_printf ("br:%s=rw,noxino", branch)
                                        : g_strdup_printf ("append:%s=ro", branch);
      if (mount ("none", target, "aufs", held == 0 ? 0 : MS_REMOUNT, data) < 0)
        {
          g_assert_cmpint (held, >, 0);
          g_assert_cmpint (errno, ==, ENOSPC);
          break;
        }
    }
  g_assert_cmpint (umount2 (target, 0), ==, 0);
  g_assert_true (berth_rm_rf (dir, NULL));
  return held;
}

/* The deepest chain the driver can mount: every driver takes N_DEEP
 * layers, but aufs only as many branches as its kernel was built for
 * (CONFIG_AUFS_BRANCH_MAX_N: 127 unless a distribution chose more). */
static int
deep_limit (Ctx *c)
{
  if (strcmp (c->driver, "aufs") != 0)
    return N_DEEP;
  int max = aufs_kernel_branch_limit (c);
  g_test_message ("this kernel's aufs takes %d branches", max);
  return MIN (max, N_DEEP);
}

static void
case_deep (Ctx *c)
{
  char *ids[N_DEEP + 1] = { NULL };
  g_autofree char *dir = scratch_path (c, "deep");
  g_assert_cmpint (mkdir (dir, 0755), ==, 0);
  for (int n = 1; n <= N_DEEP; n++)
    deep_layer (c, dir, n, ids);

  /* Deeper than the driver can go: refused in one line that names the
   * limit, with nothing mounted; then the deepest chain that fits. */
  int depth = deep_limit (c);
  if (depth < N_DEEP)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *limit = g_strdup_printf ("at most %d ", depth);
      g_assert_null (berth_storage_get (c->s, ids[N_DEEP - 1], &error));
      g_assert_error (error, BERTH_ERROR, BERTH_ERROR_NOT_SUPPORTED);
      g_test_message ("%d layers: %s", N_DEEP, error->message);
      g_assert_nonnull (strstr (error->message, limit));
      g_assert_null (strchr (error->message, '\n'));
      g_assert_false (tu_mounted_below (c->root));
    }
  g_autofree char *path = get_ok (c, ids[depth - 1]);
  for (int n = 1; n <= depth; n++)
    {
      g_autofree char *name = g_strdup_printf ("f%d", n);
      g_autofree char *f = sub (path, name);
      g_autofree char *text = NULL;
      g_autofree char *want = g_strdup_printf ("%d", n);
      g_assert_true (g_file_get_contents (f, &text, NULL, NULL));
      g_assert_cmpstr (text, ==, want);
    }
  g_autofree char *topf = sub (path, "top");
  g_autofree char *top = NULL;
  g_autofree char *want_top = g_strdup_printf ("%d", depth);
  g_assert_true (g_file_get_contents (topf, &top, NULL, NULL));
  g_assert_cmpstr (top, ==, want_top);
  put_ok (c, ids[depth - 1]);
  for (int n = N_DEEP; n >= 1; n--)
    remove_ok (c, ids[n - 1]);
  g_assert_false (tu_mounted_below (c->root));
  free_ids (ids, N_DEEP);
}

/* ---- one image, one result: a lower layer's non-directories used as
 * directories ---- */

/* An entry of a hand-made layer tar: @name taken from @source under the
 * sources dir, or a whiteout of @name when @source is NULL. Hand-made, so that
 * a tar can leave out the parent directories tar writers add, or hold a
 * symlink "lib" and an entry "lib/x", which no one directory can. */
typedef struct {
  const char *name;
  const char *source;
} TarEntry;

static int
entries_tar (const char *src, const TarEntry *entries)
{
  g_autoptr (GError) error = NULL;
  int fd = tu_memfd ("layer.tar");
  g_autoptr (BerthTarWriter) w = berth_tar_writer_new (fd, &error);
  g_assert_no_error (error);
  int dfd = open (src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  g_assert_cmpint (dfd, >=, 0);
  for (const TarEntry *e = entries; e->name; e++)
    {
      gboolean ok = e->source ? berth_tar_writer_add (w, dfd, e->source, e->name, &error)
                              : berth_tar_writer_add_whiteout (w, e->name, &error);
      g_assert_no_error (error);
      g_assert_true (ok);
    }
  close (dfd);
  g_assert_true (berth_tar_writer_finish (w, &error));
  g_assert_no_error (error);
  g_assert_cmpint (lseek (fd, 0, SEEK_SET), ==, 0);
  return fd;
}

static void
symlink_at (const char *dir, const char *rel, const char *target)
{
  g_autofree char *p = sub (dir, rel);
  g_assert_cmpint (symlink (target, p), ==, 0);
}

/* scratch/<name> made empty (0755) for a tree the case fills. */
static char *
case_tree (Ctx *c, const char *name)
{
  char *dir = scratch_path (c, "%s", name);
  g_assert_cmpint (mkdir (dir, 0755), ==, 0);
  g_assert_cmpint (chmod (dir, 0755), ==, 0);
  return dir;
}

/* A base layer holding the tree @lower and a layer on it from @entries (read
 * from @src): the new layer's id, or NULL with @error when apply_diff
 * refused it. The base layer's view is checked to still be @lower. */
static char *
layer_on_tree (Ctx *c, const char *label, const char *lower, const char *src,
               const TarEntry *entries, GError **error)
{
  g_autofree char *base_label = g_strconcat (label, "-base", NULL);
  g_autofree char *base = tu_layer_id (base_label);
  int fd = tu_memfd ("layer.tar");
  write_tar (fd, lower, NULL);
  apply_layer (c, base, NULL, fd);
  close (fd);
  char *top = tu_layer_id (label);
  g_assert_true (berth_storage_create (c->s, top, base, FALSE, error));
  fd = entries_tar (src, entries);
  gint64 size = berth_storage_apply_diff (c->s, top, base, fd, error);
  close (fd);
  g_autofree char *pb = get_ok (c, base);
  assert_same_tree (c, "the lower layer, after a layer was applied on it", pb, lower);
  put_ok (c, base);
  if (size < 0)
    g_clear_pointer (&top, g_free);
  return top;
}

static char *
applied_on_tree (Ctx *c, const char *label, const char *lower, const char *src,
                 const TarEntry *entries)
{
  g_autoptr (GError) error = NULL;
  char *top = layer_on_tree (c, label, lower, src, entries, &error);
  g_assert_no_error (error);
  return top;
}

static void
assert_layer_tree (Ctx *c, const char *id, const char *what, const char *expected)
{
  g_autofree char *path = get_ok (c, id);
  assert_same_tree (c, what, path, expected);
  put_ok (c, id);
}

/* usr/lib/a: what the lower layers' links point at. */
static void
usr_lib (const char *d)
{
  mkd (d, "usr", 0755);
  mkd (d, "usr/lib", 0755);
  put (d, "usr/lib/a", "a\n", 0644);
}

/* lib/x: what the upper layers put under a lower link. */
static void
lib_x (const char *d)
{
  mkd (d, "lib", 0755);
  put (d, "lib/x", "x\n", 0644);
}

/* Overlay unpacks a layer into an empty directory, so "lib/x" makes a
 * directory "lib" there, and an upper directory hides a lower non-directory
 * entirely: /lib holds x alone, /usr/lib is untouched. Every driver must show
 * that, whatever its layers are made of. */
static void
case_lower_symlink_rel (Ctx *c)
{
  g_autofree char *lower = case_tree (c, "lower");
  usr_lib (lower);
  symlink_at (lower, "lib", "usr/lib");
  put (lower, "sbin", "a file\n", 0644);
  g_autofree char *src = case_tree (c, "src");
  lib_x (src);
  mkd (src, "sbin", 0755);
  put (src, "sbin/y", "y\n", 0644);
  const TarEntry entries[] = { { "lib/x", "lib/x" }, { "sbin/y", "sbin/y" }, { NULL, NULL } };
  g_autofree char *top = applied_on_tree (c, "rel", lower, src, entries);
  g_autofree char *exp = case_tree (c, "expected");
  usr_lib (exp);
  lib_x (exp);
  mkd (exp, "sbin", 0755);
  put (exp, "sbin/y", "y\n", 0644);
  assert_layer_tree (c, top, "lib -> usr/lib below lib/x", exp);
}

/* The same through an absolute link, with a whiteout below the replaced
 * directory: it must not reach usr/lib/a through the link. */
static void
case_lower_symlink_abs (Ctx *c)
{
  g_autofree char *lower = case_tree (c, "lower");
  usr_lib (lower);
  symlink_at (lower, "lib", "/usr/lib");
  g_autofree char *src = case_tree (c, "src");
  lib_x (src);
  const TarEntry entries[] = { { "lib/x", "lib/x" }, { "lib/a", NULL }, { NULL, NULL } };
  g_autofree char *top = applied_on_tree (c, "abs", lower, src, entries);
  g_autofree char *exp = case_tree (c, "expected");
  usr_lib (exp);
  lib_x (exp);
  assert_layer_tree (c, top, "lib -> /usr/lib below lib/x and lib/.wh.a", exp);
}

/* A lower link that climbs out of the layer, aimed at a host directory that
 * exists: the upper's etc/x becomes etc/ in the layer; nothing lands on the
 * host. */
static void
case_lower_symlink_escape (Ctx *c)
{
  g_autofree char *host = sub (c->dir, "escape");
  g_assert_cmpint (mkdir (host, 0755), ==, 0);
  g_autofree char *target = g_strconcat ("/../../../../../../..", host, NULL);
  g_autofree char *lower = case_tree (c, "lower");
  symlink_at (lower, "etc", target);
  g_autofree char *src = case_tree (c, "src");
  mkd (src, "etc", 0755);
  put (src, "etc/x", "x\n", 0644);
  const TarEntry entries[] = { { "etc/x", "etc/x" }, { NULL, NULL } };
  g_autofree char *top = applied_on_tree (c, "escape", lower, src, entries);
  g_autofree char *exp = case_tree (c, "expected");
  mkd (exp, "etc", 0755);
  put (exp, "etc/x", "x\n", 0644);
  assert_layer_tree (c, top, "etc -> (outside) below etc/x", exp);
  g_autofree char *left = tu_tree_manifest (host);
  g_assert_cmpstr (left, ==, "");
}

/* A link made by the layer itself, used as a directory by a later entry: as
 * overlay unpacks into the layer's own directory, the link resolves among the
 * layer's own entries. usr/lib in the layer: x lands there, merged with the
 * lower usr/lib. usr/lib only below: refused, in one line, on every driver. */
static void
case_layer_symlink (Ctx *c)
{
  g_autofree char *lower = case_tree (c, "lower");
  usr_lib (lower);
  g_autofree char *src = case_tree (c, "src");
  mkd (src, "usr", 0755);
  mkd (src, "usr/lib", 0755);
  symlink_at (src, "lib", "usr/lib");
  mkd (src, "d", 0755);
  put (src, "d/x", "x\n", 0644);
  const TarEntry within[] = {
    { "usr", "usr" }, { "usr/lib", "usr/lib" }, { "lib", "lib" }, { "lib/x", "d/x" }, { NULL, NULL },
  };
  g_autofree char *top = applied_on_tree (c, "within", lower, src, within);
  g_autofree char *exp = case_tree (c, "expected");
  usr_lib (exp);
  put (exp, "usr/lib/x", "x\n", 0644);
  symlink_at (exp, "lib", "usr/lib");
  assert_layer_tree (c, top, "lib -> usr/lib made by the layer, then lib/x", exp);

  const TarEntry below[] = { { "lib", "lib" }, { "lib/x", "d/x" }, { NULL, NULL } };
  g_autoptr (GError) error = NULL;
  g_autofree char *refused = layer_on_tree (c, "below", lower, src, below, &error);
  g_assert_null (refused);
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_BAD_ARCHIVE);
  g_test_message ("%s: %s", c->driver, error->message);
  g_assert_nonnull (strstr (error->message, "'lib/x'"));
  g_assert_nonnull (strstr (error->message, "parent 'lib' is a symlink to 'usr/lib', which is "
                                            "not in this layer"));
  g_assert_null (strchr (error->message, '\n'));
}

/* Options for the driver under test, from BERTH_TEST_STORAGE_OPTS_<DRIVER>
 * ("dm.thinpooldev=pool,dm.basesize=1G"): the kernel matrix runs the same
 * suite once per devicemapper pool mode this way. */
static char **
driver_options (const char *driver)
{
  g_autofree char *upper = g_ascii_strup (driver, -1);
  g_autofree char *var = g_strconcat ("BERTH_TEST_STORAGE_OPTS_", upper, NULL);
  const char *value = g_getenv (var);
  if (value == NULL || *value == '\0')
    return NULL;
  return g_strsplit (value, ",", -1);
}

/* ---- devicemapper: what only a thin pool does ---- */

static char *
skip_file (const char *dir)
{
  return g_build_filename (dir, "skip-reason", NULL);
}

/* The options the suite was given for @driver, then @extra (later wins). */
static char **
options_plus (const char *driver, const char *extra)
{
  g_auto (GStrv) given = driver_options (driver);
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  if (given)
    g_strv_builder_addv (b, (const char **) given);
  g_auto (GStrv) more = g_strsplit (extra, ",", -1);
  g_strv_builder_addv (b, (const char **) more);
  return g_strv_builder_end (b);
}

static gboolean
using_own_pool (const char *driver)
{
  g_auto (GStrv) given = driver_options (driver);
  for (char **o = given; o && *o; o++)
    if (g_str_has_prefix (*o, "dm.thinpooldev="))
      return FALSE;
  return TRUE;
}

static const char *
status_value (BerthStorage *s, const char *key)
{
  static char value[256];
  g_autoptr (GPtrArray) pairs = berth_storage_status (s);
  value[0] = '\0';
  for (guint i = 0; i + 1 < pairs->len; i += 2)
    if (g_str_equal (pairs->pdata[i], key))
      g_strlcpy (value, pairs->pdata[i + 1], sizeof value);
  return value;
}

/* Write 1 MiB blocks to @path until a write or fsync fails or @limit MiB are
 * written; the MiB written before the failure, the errno in *errsv. */
static int
fill_file (const char *path, int limit, int *errsv)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  g_assert_cmpint (fd, >=, 0);
  int mib = 0;
  *errsv = 0;
  for (; mib < limit && *errsv == 0; mib++)
    {
      /* A short write is how a full filesystem first shows; the next
       * write of the rest then fails with the reason. */
      for (gsize done = 0; done < 1 << 20 && *errsv == 0;)
        {
          ssize_t n = write (fd, random_mib () + done, (1 << 20) - done);
          if (n < 0)
            *errsv = errno;
          else
            done += (gsize) n;
        }
      if (*errsv == 0 && (mib + 1) % 8 == 0 && fsync (fd) < 0)
        *errsv = errno;
    }
  if (*errsv == 0 && fsync (fd) < 0)
    *errsv = errno;
  close (fd);
  return *errsv ? mib - 1 : mib;
}

/* An empty image layer @img, container layer @ctr on it, mounted: the path
 * of @file inside it. */
static char *
mount_container (BerthStorage *s, const char *img, const char *ctr, const char *file)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (berth_storage_create (s, img, NULL, FALSE, &error));
  g_assert_true (berth_storage_create (s, ctr, img, TRUE, &error));
  g_assert_no_error (error);
  g_autofree char *path = berth_storage_get (s, ctr, &error);
  g_assert_no_error (error);
  return g_build_filename (path, file, NULL);
}

/* dm.basesize caps what a container can write, whatever the pool holds. */
static void
case_dm_basesize (Ctx *c)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *root = g_build_filename (c->dir, "small", NULL);
  g_auto (GStrv) options = options_plus (c->driver, "dm.basesize=64M");
  g_autoptr (BerthStorage) s = berth_storage_open (root, c->driver, options, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (status_value (s, "base device size"), ==, "64.0 MiB");
  g_autofree char *img = tu_layer_id ("img"), *ctr = tu_layer_id ("ctr");
  g_autofree char *big = mount_container (s, img, ctr, "big");
  int errsv = 0;
  int mib = fill_file (big, 128, &errsv);
  g_printerr ("# devicemapper: a 64M device took %d MiB before %s\n", mib, g_strerror (errsv));
  g_assert_cmpint (errsv, ==, ENOSPC);
  g_assert_cmpint (mib, >=, 32);
  g_assert_cmpint (mib, <, 64);
  g_assert_true (berth_storage_put (s, ctr, &error));
  g_assert_true (berth_storage_remove (s, ctr, &error));
  g_assert_true (berth_storage_remove (s, img, &error));
  g_assert_no_error (error);
}

/* A full pool fails writes at once (no hung process) and refuses new layers
 * with a one-line reason; removing layers still works. Needs a pool of its
 * own, so it runs in loop-lvm mode only. */
static void
case_dm_pool_full (Ctx *c)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *root = g_build_filename (c->dir, "tiny", NULL);
  char *options[] = { "dm.loopdatasize=96M", "dm.loopmetadatasize=16M", "dm.basesize=512M",
                      NULL };
  g_autoptr (BerthStorage) s = berth_storage_open (root, c->driver, options, &error);
  g_assert_no_error (error);
  g_autofree char *img = tu_layer_id ("img"), *ctr = tu_layer_id ("ctr"), *more = tu_layer_id ("more");
  g_autofree char *big = mount_container (s, img, ctr, "big");
  gint64 t0 = g_get_monotonic_time ();
  int errsv = 0;
  int mib = fill_file (big, 256, &errsv);
  g_printerr ("# devicemapper: a 96M pool took %d MiB before %s, in %.1f s\n", mib,
                  g_strerror (errsv), (g_get_monotonic_time () - t0) / 1e6);
  g_assert_true (errsv == ENOSPC || errsv == EIO || errsv == EROFS);
  g_assert_cmpint (mib, <, 96);
  g_assert_cmpstr (status_value (s, "when the pool is full"), ==, "writes fail at once");

  g_assert_false (berth_storage_create (s, more, img, TRUE, &error));
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_NO_SPACE);
  g_assert_nonnull (strstr (error->message, "thin pool"));
  g_assert_null (strchr (error->message, '\n'));
  g_printerr ("# devicemapper: create on a full pool: %s\n", error->message);
  g_clear_error (&error);
  g_assert_false (berth_storage_exists (s, more));

  g_assert_true (berth_storage_put (s, ctr, &error));
  g_assert_no_error (error);
  g_assert_true (berth_storage_remove (s, ctr, &error));
  g_assert_true (berth_storage_remove (s, img, &error));
  g_assert_no_error (error);
}

static char *
dmsetup (const char *first, ...) G_GNUC_NULL_TERMINATED;

static char *
dmsetup (const char *first, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, "dmsetup");
  va_list ap;
  va_start (ap, first);
  for (const char *a = first; a; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  char *out = NULL;
  g_autofree char *err = NULL;
  int status = tu_run ((char **) argv->pdata, &out, &err);
  if (status != 0)
    {
      g_test_message ("dmsetup %s: %s", first, err);
      g_clear_pointer (&out, g_free);
    }
  return out;
}

/* A layer's device that something else still holds open (a leaked mount in
 * another namespace, blkid, a backup reading it: the classic devicemapper
 * "device or resource busy"): put and remove still succeed, the kernel
 * removes the device when the last user closes it (deferred removal), and
 * its deletion from the pool waits in deferred/ until a later open finds
 * it free. */
static void
case_dm_deferred (Ctx *c)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *img = tu_layer_id ("img"), *ctr = tu_layer_id ("ctr");
  g_autofree char *file = mount_container (c->s, img, ctr, "held");
  tu_write_file (file, "held\n", 0644);
  g_autofree char *dev = NULL;
  g_autofree char *list = dmsetup ("ls", NULL);
  g_auto (GStrv) lines = g_strsplit (list ? list : "", "\n", -1);
  for (char **l = lines; *l && dev == NULL; l++)
    if (strstr (*l, ctr))
      {
        g_autofree char *name = g_strndup (*l, strcspn (*l, " \t"));
        dev = g_strconcat ("/dev/mapper/", name, NULL);
      }
  g_assert_nonnull (dev);
  int holder = open (dev, O_RDONLY | O_CLOEXEC);
  if (holder < 0)
    g_error ("open %s: %s", dev, g_strerror (errno));

  g_assert_true (berth_storage_put (c->s, ctr, &error));
  g_assert_no_error (error);
  g_assert_true (berth_storage_remove (c->s, ctr, &error));
  g_assert_no_error (error);
  g_assert_false (berth_storage_exists (c->s, ctr));
  g_autofree char *deferred = g_build_filename (c->s->home, "deferred", NULL);
  g_autoptr (GDir) d = g_dir_open (deferred, 0, NULL);
  g_assert_nonnull (d);
  g_assert_nonnull (g_dir_read_name (d));

  /* The kernel removes the device from a work queue after the last close;
   * each open of the driver retries the deletion. */
  close (holder);
  g_autofree char *root = g_strdup (c->root);
  g_auto (GStrv) options = driver_options (c->driver);
  gboolean cleared = FALSE;
  for (int i = 0; i < 100 && !cleared; i++)
    {
      g_usleep (20000);
      berth_storage_close (c->s);
      c->s = berth_storage_open (root, c->driver, options, &error);
      g_assert_no_error (error);
      g_autoptr (GDir) again = g_dir_open (deferred, 0, NULL);
      cleared = again == NULL || g_dir_read_name (again) == NULL;
    }
  g_assert_true (cleared);
  g_assert_false (g_file_test (dev, G_FILE_TEST_EXISTS));
  g_assert_true (berth_storage_remove (c->s, img, &error));
  g_assert_no_error (error);
}

/* dm.fs=xfs: snapshots share their origin's filesystem UUID, which xfs
 * refuses to mount twice unless told (nouuid). */
static void
case_dm_xfs (Ctx *c)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *mkfs = g_find_program_in_path ("mkfs.xfs");
  g_autofree char *fs = NULL;
  g_file_get_contents ("/proc/filesystems", &fs, NULL, NULL);
  if (mkfs == NULL || fs == NULL || strstr (fs, "\txfs\n") == NULL)
    {
      g_autofree char *sf = skip_file (c->dir);
      g_assert_true (g_file_set_contents (sf, mkfs ? "devicemapper: the kernel has no xfs"
                                                   : "devicemapper: no mkfs.xfs (xfsprogs)",
                                          -1, NULL));
      return;
    }
  g_autofree char *root = g_build_filename (c->dir, "xfs", NULL);
  g_auto (GStrv) options = options_plus (c->driver, "dm.fs=xfs,dm.basesize=512M");
  g_autoptr (BerthStorage) s = berth_storage_open (root, c->driver, options, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (status_value (s, "filesystem"), ==, "xfs");
  g_autofree char *img = tu_layer_id ("img"), *a = tu_layer_id ("a"), *b = tu_layer_id ("b");
  g_autofree char *fa = mount_container (s, img, a, "f");
  tu_write_file (fa, "a\n", 0644);
  g_assert_true (berth_storage_create (s, b, img, TRUE, &error));
  g_autofree char *pb = berth_storage_get (s, b, &error);
  g_assert_no_error (error);
  g_autofree char *fb = g_build_filename (pb, "f", NULL);
  g_assert_false (g_file_test (fb, G_FILE_TEST_EXISTS));
  g_assert_cmpstr (berth_fs_type_name (pb), ==, "xfs");
  for (const char *const *id = (const char *const[]) { a, b, NULL }; *id; id++)
    {
      g_assert_true (berth_storage_put (s, *id, &error));
      g_assert_true (berth_storage_remove (s, *id, &error));
      g_assert_no_error (error);
    }
  g_assert_true (berth_storage_remove (s, img, &error));
  g_assert_no_error (error);
}

/* A mistyped dm.thinpooldev fails in one line naming the pool, and leaves
 * the store free to be opened with the right settings. */
static void
case_dm_bad_pool (Ctx *c)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *root = g_build_filename (c->dir, "typo", NULL);
  char *wrong[] = { "dm.thinpooldev=no-such-pool", "dm.basesize=64M", NULL };
  g_assert_null (berth_storage_open (root, c->driver, wrong, &error));
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "no-such-pool"));
  g_assert_null (strchr (error->message, '\n'));
  g_clear_error (&error);
  g_auto (GStrv) options = options_plus (c->driver, "dm.basesize=64M");
  g_autoptr (BerthStorage) s = berth_storage_open (root, c->driver, options, &error);
  g_assert_no_error (error);
  g_autofree char *img = tu_layer_id ("img");
  g_assert_true (berth_storage_create (s, img, NULL, FALSE, &error));
  g_assert_true (berth_storage_remove (s, img, &error));
  g_assert_no_error (error);
}

/* A berth killed between the pool's create_thin and its bookkeeping leaves
 * a device the pool has and the store does not: the next open deletes it. */
static void
case_dm_recovery (Ctx *c)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *pool = g_strdup (status_value (c->s, "pool name"));
  g_autofree char *status = dmsetup ("status", pool, NULL);
  g_assert_nonnull (status);
  g_auto (GStrv) fields = g_strsplit (status, " ", -1);
  g_assert_cmpint (g_strv_length (fields), >, 4);
  guint64 tid = g_ascii_strtoull (fields[3], NULL, 10);
  guint dev = 16000000 + g_random_int_range (0, 700000);
  g_autofree char *create = g_strdup_printf ("create_thin %u", dev);
  g_autofree char *made = dmsetup ("message", pool, "0", create, NULL);
  g_assert_nonnull (made);

  g_autofree char *half = tu_layer_id ("half-made");
  g_autofree char *tx = g_build_filename (c->s->home, "transaction.json", NULL);
  g_autofree char *json = g_strdup_printf ("{\"op\":\"create\",\"id\":\"%s\",\"device_id\":%u,"
                                           "\"transaction_id\":%" G_GUINT64_FORMAT "}",
                                           half, dev, tid + 1);
  tu_write_file (tx, json, 0600);
  g_autofree char *root = g_strdup (c->root);
  berth_storage_close (c->s);
  g_auto (GStrv) options = driver_options (c->driver);
  c->s = berth_storage_open (root, c->driver, options, &error);
  g_assert_no_error (error);

  g_assert_false (g_file_test (tx, G_FILE_TEST_EXISTS));
  g_assert_false (berth_storage_exists (c->s, half));
  /* The id is free again: the pool lets it be made anew. */
  g_autofree char *again = dmsetup ("message", pool, "0", create, NULL);
  g_assert_nonnull (again);
  g_autofree char *del = g_strdup_printf ("delete %u", dev);
  g_autofree char *deleted = dmsetup ("message", pool, "0", del, NULL);
  g_assert_nonnull (deleted);
  g_autofree char *after = dmsetup ("status", pool, NULL);
  g_auto (GStrv) after_fields = g_strsplit (after, " ", -1);
  g_assert_cmpuint (g_ascii_strtoull (after_fields[3], NULL, 10), ==, tid + 1);
}

/* No device of this store is left active once the driver is closed; a
 * loop-lvm pool goes too (its loops autoclear). */
/* The pool given with dm.thinpooldev is the operator's: never ours to
 * remove or to count as left behind. */
static gboolean
is_operators_pool (const char *driver, const char *name)
{
  g_auto (GStrv) given = driver_options (driver);
  g_autofree char *option = g_strconcat ("dm.thinpooldev=", name, NULL);
  return given && g_strv_contains ((const char *const *) given, option);
}

static void
assert_no_dm_devices (const char *driver)
{
  g_autofree char *list = dmsetup ("ls", NULL);
  g_assert_nonnull (list);
  g_auto (GStrv) lines = g_strsplit (list, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      g_autofree char *name = g_strndup (*l, strcspn (*l, " \t"));
      if (g_str_has_prefix (name, "berth-") && !is_operators_pool (driver, name))
        g_error ("%s: device-mapper device left active: %s", driver, *l);
    }
}

/* A case that failed half-way leaves its devices active; remove them (thin
 * devices before the pools they use) so the next case starts clean. */
static void
remove_dm_leftovers (const char *driver)
{
  g_autofree char *list = dmsetup ("ls", NULL);
  g_auto (GStrv) lines = g_strsplit (list ? list : "", "\n", -1);
  for (int pools = 0; pools < 2; pools++)
    for (char **l = lines; *l; l++)
      {
        g_autofree char *name = g_strndup (*l, strcspn (*l, " \t"));
        if (g_str_has_prefix (name, "berth-") && g_str_has_suffix (name, "-pool") == pools
            && !is_operators_pool (driver, name))
          g_free (dmsetup ("remove", name, NULL));
      }
}

/* ---- running a case ---- */

/* A driver whose store must be on btrfs (its table entry's store_fs): the
 * case's store goes on a loop-mounted btrfs. */
static gboolean
is_btrfs (const char *driver)
{
  return g_strcmp0 (berth_storage_family_lookup (driver)->store_fs, "btrfs") == 0;
}

static void
child_case (const Case *tc)
{
  const char *dir = g_getenv (CASE_DIR_ENV);
  g_assert_nonnull (dir);
  /* Owned here, so the skips' early returns free them too. */
  g_autofree char *own_dir = g_strdup (dir);
  g_autofree char *root = is_btrfs (tc->driver) ? g_build_filename (dir, "mnt", "store", NULL)
                                                : g_build_filename (dir, "store", NULL);
  g_autofree char *scratch = g_build_filename (dir, "scratch", NULL);
  Ctx c = { .driver = tc->driver, .dir = own_dir, .root = root, .scratch = scratch };
  g_assert_cmpint (g_mkdir_with_parents (c.scratch, 0755), ==, 0);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) options = driver_options (tc->driver);
  c.s = berth_storage_open (c.root, tc->driver, options, &error);
  if (c.s == NULL && (g_error_matches (error, BERTH_ERROR, BERTH_ERROR_NOT_SUPPORTED)
                      || g_error_matches (error, BERTH_ERROR, BERTH_ERROR_BACKING_FS)))
    {
      g_autofree char *reason = g_strdup_printf ("%s: %s", tc->driver, error->message);
      g_autofree char *sf = skip_file (dir);
      g_assert_true (g_file_set_contents (sf, reason, -1, NULL));
      return;
    }
  g_assert_no_error (error);
  if (tc->own_pool && !using_own_pool (tc->driver))
    {
      g_autofree char *sf = skip_file (dir);
      g_assert_true (g_file_set_contents (sf, "devicemapper: this case fills a pool, so it runs "
                                          "on a loop-lvm pool of its own, not on dm.thinpooldev",
                                          -1, NULL));
      berth_storage_close (c.s);
      return;
    }
  tc->func (&c);
  berth_storage_close (c.s);
  if (g_str_equal (tc->driver, "devicemapper"))
    assert_no_dm_devices (tc->driver);
  if (tu_mounted_below (c.root))
    {
      char *argv[] = { "findmnt", "-R", c.root, NULL };
      g_autofree char *out = NULL;
      tu_run (argv, &out, NULL);
      g_printerr ("# %s: mounts left under the store after every put:\n%s", tc->driver, out);
    }
  g_assert_false (tu_mounted_below (c.root));
}

static char *
case_tmpdir (const Case *tc)
{
  if (!tc->long_path)
    return tu_mkdtemp ("berth-storage");
  /* A store root of over 100 characters, so that overlay's mount options
   * for a deep chain cannot fit unless the driver shortens them. */
  g_autofree char *prefix = g_strdup_printf ("berth-storage-deep-%s-%s", tc->driver,
                                             "long-path-long-path-long-path-long-path-"
                                             "long-path-long-path-long-path");
  return tu_mkdtemp (prefix);
}

static void
run_case (gconstpointer data)
{
  const Case *tc = data;
  if (g_test_subprocess ())
    {
      child_case (tc);
      return;
    }
  if (geteuid () != 0)
    {
      g_test_skip ("storage drivers need root");
      return;
    }
  g_autofree char *dir = case_tmpdir (tc);
  g_autofree char *mnt = g_build_filename (dir, "mnt", NULL);
  g_autoptr (GError) error = NULL;
  if (is_btrfs (tc->driver) && !tu_btrfs_mount (dir, mnt, &error))
    {
      g_autofree char *reason = g_strdup_printf ("btrfs: %s", error->message);
      g_test_skip (reason);
      tu_remove_tree (dir);
      return;
    }
  g_setenv (CASE_DIR_ENV, dir, TRUE);
  g_test_trap_subprocess (NULL, 300 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_autofree char *sf = skip_file (dir);
  g_autofree char *reason = NULL;
  if (g_file_get_contents (sf, &reason, NULL, NULL))
    g_test_skip (reason);
  else
    g_test_trap_assert_passed ();
  tu_remove_tree (dir);
  if (g_str_equal (tc->driver, "devicemapper") && reason == NULL)
    remove_dm_leftovers (tc->driver);
  g_assert_false (tu_mounted_below (dir));
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

static const struct {
  const char *name;
  CaseFunc func;
  gboolean long_path;
  const char *only;   /* a case about one driver's own feature */
  gboolean own_pool;
} cases[] = {
  { "empty", case_empty, FALSE, NULL, FALSE },
  { "chain3", case_chain3, FALSE, NULL, FALSE },
  { "writable", case_writable, FALSE, NULL, FALSE },
  { "commit", case_commit, FALSE, NULL, FALSE },
  { "refcount", case_refcount, FALSE, NULL, FALSE },
  { "remove", case_remove, FALSE, NULL, FALSE },
  { "parent-missing", case_parent_missing, FALSE, NULL, FALSE },
  { "deep", case_deep, TRUE, NULL, FALSE },
  { "lower-symlink-rel", case_lower_symlink_rel, FALSE, NULL, FALSE },
  { "lower-symlink-abs", case_lower_symlink_abs, FALSE, NULL, FALSE },
  { "lower-symlink-escape", case_lower_symlink_escape, FALSE, NULL, FALSE },
  { "layer-symlink", case_layer_symlink, FALSE, NULL, FALSE },
  { "basesize-limit", case_dm_basesize, FALSE, "devicemapper", FALSE },
  { "pool-full", case_dm_pool_full, FALSE, "devicemapper", TRUE },
  { "crash-recovery", case_dm_recovery, FALSE, "devicemapper", FALSE },
  { "deferred-removal", case_dm_deferred, FALSE, "devicemapper", FALSE },
  { "xfs", case_dm_xfs, FALSE, "devicemapper", FALSE },
  { "bad-pool", case_dm_bad_pool, FALSE, "devicemapper", FALSE },
};

/* ---- the driver tables' contract (include/berth/family.h) ---- */

static void
test_storage_table (void)
{
  const BerthStorageOps *const *built = berth_storage_drivers ();
  guint n_built = 0, n_fallback = 0;
  gboolean after_fallback = FALSE;
  for (const BerthStorageFamily *f = berth_storage_families; f->name; f++)
    {
      g_test_message ("%s: %s", f->name, f->ops ? "built" : f->not_built);
      g_assert_cmpstr (f->name, !=, "");
      g_assert_true (berth_storage_family_lookup (f->name) == f); /* names are unique */
      /* A driver left out says why, naming what configure looked for. */
      g_assert_true (f->ops || f->not_built);
      if (f->library)
        g_assert_nonnull (strstr (f->not_built, f->library));
      if (f->option_prefix)
        {
          g_assert_true (g_str_has_suffix (f->option_prefix, "."));
          g_assert_true (berth_storage_family_for_option (f->option_prefix) == f);
        }
      g_assert_true (f->default_rule != BERTH_DEFAULT_ON_FS || f->store_fs);
      /* Nothing after the fallback would ever be tried. */
      g_assert_true (!after_fallback || f->default_rule == BERTH_DEFAULT_NEVER);
      if (f->default_rule == BERTH_DEFAULT_FALLBACK)
        {
          g_assert_nonnull (f->ops);
          g_assert_null (f->store_fs);
          after_fallback = TRUE;
          n_fallback++;
        }
      if (f->ops == NULL)
        continue;
      /* The registry lists the built ones in the table's order. */
      g_assert_true (built[n_built++] == f->ops);
      g_assert_cmpstr (f->ops->name, ==, f->name);
      g_assert_true (f->ops->probe && f->ops->init && f->ops->cleanup && f->ops->create
                     && f->ops->remove && f->ops->get && f->ops->put && f->ops->exists);
      g_assert_true (berth_storage_driver_lookup (f->name) == f->ops);
    }
  g_assert_null (built[n_built]);
  g_assert_cmpuint (n_fallback, ==, 1);
  g_assert_null (berth_storage_family_lookup ("no-such-driver"));
}

static void
test_exec_table (void)
{
  const BerthExecOps *const *built = berth_exec_drivers ();
  guint n_built = 0, n_default = 0, n_bundles = 0;
  for (const BerthExecFamily *f = berth_exec_families; f->name; f++)
    {
      g_test_message ("%s: %s", f->name, f->ops ? "built" : f->not_built);
      g_assert_true (berth_exec_family_lookup (f->name) == f);
      g_assert_true (f->ops || f->not_built);
      if (f->library)
        g_assert_nonnull (strstr (f->not_built, f->library));
      n_default += !!(f->roles & BERTH_EXEC_DEFAULT);
      n_bundles += !!(f->roles & BERTH_EXEC_BUNDLES);
      g_assert_true (f->ops || f->roles == 0);
      if (f->ops == NULL)
        {
          g_autoptr (GError) error = NULL;
          g_assert_null (berth_exec_driver_lookup (f->name, &error));
          g_assert_nonnull (strstr (error->message, f->not_built));
          continue;
        }
      g_assert_true (built[n_built++] == f->ops);
      g_assert_cmpstr (f->ops->name, ==, f->name);
      g_assert_true (berth_exec_driver_lookup (f->name, NULL) == f->ops);
    }
  g_assert_null (built[n_built]);
  g_assert_cmpuint (n_default, ==, 1);
  g_assert_cmpuint (n_bundles, ==, 1);
  g_assert_true (berth_exec_family_for (BERTH_EXEC_DEFAULT)->roles & BERTH_EXEC_DEFAULT);
  g_assert_true (berth_exec_family_for (BERTH_EXEC_BUNDLES)->roles & BERTH_EXEC_BUNDLES);
  g_autoptr (GError) error = NULL;
  g_assert_null (berth_exec_driver_lookup ("no-such-driver", &error));
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* In the parent, a failed case is a failed test, not the end of the suite. */
  if (!g_test_subprocess ())
    g_test_set_nonfatal_assertions ();
  g_test_add_func ("/family/storage-table", test_storage_table);
  g_test_add_func ("/family/exec-table", test_exec_table);
  for (const BerthStorageOps *const *o = berth_storage_drivers (); *o; o++)
    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        if (cases[i].only && !g_str_equal (cases[i].only, (*o)->name))
          continue;
        Case *tc = g_new0 (Case, 1);
        tc->own_pool = cases[i].own_pool;
        tc->driver = (*o)->name;
        tc->name = cases[i].name;
        tc->func = cases[i].func;
        tc->long_path = cases[i].long_path;
        g_autofree char *path = g_strdup_printf ("/storage/%s/%s", tc->driver, tc->name);
        g_test_add_data_func_full (path, tc, run_case, g_free);
      }
  return g_test_run ();
}
