/* berth's command line, driven as a user would: the built binary, a temp
 * store, real tarballs made by GNU tar. */
#include "config.h"
#include "testutil.h"
#include <berth/error.h>
#include <berth/family.h>
#include <berth/runtime.h>
#include <errno.h>
#include <json-glib/json-glib.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  char *dir;   /* scratch */
  char *root;  /* --root */
} Fixture;

/* Run berth with --root and the given args; returns the exit code. */
static int
berth (Fixture *f, char **out, char **err, ...)
{
  va_list ap;
  va_start (ap, err);
  int status = tu_berth_va (f->root, out, err, ap);
  va_end (ap);
  return status;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->dir = tu_mkdtemp ("berth-cli");
  f->root = g_build_filename (f->dir, "store", NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_assert_false (tu_mounted_below (f->dir));
  tu_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->root);
}

static char *
make_tar (Fixture *f, const char *name, const char *srcdir)
{
  char *tar = g_build_filename (f->dir, name, NULL);
  char *argv[] = { "tar", "--numeric-owner", "-C", (char *) srcdir, "-cf", tar, ".", NULL };
  g_assert_cmpint (tu_run (argv, NULL, NULL), ==, 0);
  return tar;
}

/* A scratch directory @name holding one file @rel with @contents; returns
 * the directory. */
static char *
scratch_tree (Fixture *f, const char *name, const char *rel, const char *contents)
{
  char *dir = g_build_filename (f->dir, name, NULL);
  g_autofree char *file = g_build_filename (dir, rel, NULL);
  g_autofree char *parent = g_path_get_dirname (file);
  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  tu_write_file (file, contents, 0644);
  return dir;
}

static char *
sha256_file (const char *path)
{
  g_autofree char *data = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, len);
}

static guint
count_entries (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  while (d && g_dir_read_name (d))
    n++;
  return n;
}

/* `berth info --format json`, parsed. */
static JsonObject *
info_json (Fixture *f, JsonParser *p)
{
  g_autofree char *json = NULL;
  g_assert_cmpint (berth (f, &json, NULL, "info", "--format", "json", NULL), ==, 0);
  g_assert_true (json_parser_load_from_data (p, json, -1, NULL));
  return json_node_get_object (json_parser_get_root (p));
}

/* The entry of driver @name in info's array @member. */
static JsonObject *
info_driver (JsonObject *info, const char *member, const char *name)
{
  JsonArray *drivers = json_object_get_array_member (info, member);
  for (guint i = 0; i < json_array_get_length (drivers); i++)
    {
      JsonObject *d = json_array_get_object_element (drivers, i);
      if (g_strcmp0 (json_object_get_string_member (d, "name"), name) == 0)
        return d;
    }
  g_assert_not_reached ();
}

/* The driver the storage table's default rule falls back to: the one that
 * works on every host. */
static const char *
fallback_driver (void)
{
  for (const BerthStorageFamily *fam = berth_storage_families; fam->name; fam++)
    if (fam->default_rule == BERTH_DEFAULT_FALLBACK)
      return fam->name;
  g_assert_not_reached ();
}

/* Every driver of the storage table, in its order, as available or with
 * the reason: its not_built line, or its probe's on this host. */
static void
test_info (Fixture *f, gconstpointer data)
{
  g_autofree char *text = NULL;
  g_assert_cmpint (berth (f, &text, NULL, "info", NULL), ==, 0);
  g_test_message ("%s", text);
  g_autoptr (JsonParser) p = json_parser_new ();
  JsonObject *info = info_json (f, p);
  guint n = 0;
  while (berth_storage_families[n].name)
    n++;
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (info, "storage_drivers")),
                    ==, n);
  const char *at = strstr (text, "\nStorage drivers:\n");
  g_assert_nonnull (at);
  for (const BerthStorageFamily *fam = berth_storage_families; fam->name; fam++)
    {
      JsonObject *d = info_driver (info, "storage_drivers", fam->name);
      g_autofree char *line = NULL;
      if (json_object_get_boolean_member (d, "available"))
        line = g_strdup_printf ("\n  %-13s available\n", fam->name);
      else
        {
          const char *reason = json_object_get_string_member (d, "reason");
          if (fam->ops)
            g_assert_true (g_str_has_prefix (reason, "storage driver "));
          else
            g_assert_cmpstr (reason, ==, fam->not_built);
          line = g_strdup_printf ("\n  %-13s unavailable: %s\n", fam->name, reason);
        }
      /* in the table's order */
      at = strstr (at, line);
      g_assert_nonnull (at);
    }
  g_autofree char *fallback = g_strdup_printf ("\n  %-13s available\n", fallback_driver ());
  g_assert_nonnull (strstr (text, fallback));
  /* A kernel with aufs (the kernel matrix's AUFS guest) runs the driver:
   * info must not call it unavailable there. */
  g_autofree char *filesystems = NULL;
  g_assert_true (g_file_get_contents ("/proc/filesystems", &filesystems, NULL, NULL));
  if (strstr (filesystems, "\taufs\n"))
    g_assert_nonnull (strstr (text, "\n  aufs          available\n"));
  g_assert_nonnull (strstr (text, "Default storage driver:"));

  /* Storage options are checked against the table's prefixes before
   * anything runs; one for a driver this build left out says so. */
  g_autofree char *none = NULL;
  g_assert_cmpint (berth (f, NULL, &none, "--storage-opt", "size=10G", "info", NULL), ==, 1);
  tu_assert_one_line_error (none, "storage option 'size=10G' is for no storage driver");
  for (const BerthStorageFamily *fam = berth_storage_families; fam->name; fam++)
    {
      if (fam->option_prefix == NULL)
        continue;
      g_autofree char *taken = g_strdup_printf ("%s takes %s*", fam->name, fam->option_prefix);
      g_assert_nonnull (strstr (none, taken));
      g_autofree char *key = g_strconcat (fam->option_prefix, "size", NULL);
      g_autofree char *option = g_strconcat (key, "=20G", NULL);
      g_autofree char *err = NULL;
      g_assert_cmpint (berth (f, NULL, &err, "--storage-opt", key, "info", NULL), ==, 1);
      tu_assert_one_line_error (err, "is not KEY=VALUE");
      g_clear_pointer (&err, g_free);
      /* info opens no driver the store has not used: the key is not read */
      int rc = berth (f, NULL, &err, "--storage-opt", option, "info", NULL);
      if (fam->ops)
        g_assert_cmpint (rc, ==, 0);
      else
        {
          g_assert_cmpint (rc, ==, 1);
          tu_assert_one_line_error (err, fam->not_built);
        }
    }
}

/* The loop devices backed by a file at or below @dir, one "loopN FILE" line
 * each, sorted. Only those below the test's own directory: other jobs on
 * the host may attach and detach loop devices meanwhile. */
static char *
loops_backed_below (const char *dir)
{
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) d = g_dir_open ("/sys/block", 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree char *path = g_build_filename ("/sys/block", name, "loop", "backing_file", NULL);
      g_autofree char *file = NULL;
      if (g_str_has_prefix (name, "loop") && g_file_get_contents (path, &file, NULL, NULL)
          && g_str_has_prefix (g_strstrip (file), dir))
        g_ptr_array_add (lines, g_strdup_printf ("%s %s", name, file));
    }
  g_ptr_array_sort (lines, (GCompareFunc) g_strcmp0);
  g_ptr_array_add (lines, NULL);
  return g_strjoinv ("\n", (char **) lines->pdata);
}

/* The names in the store's directory @path, sorted, space-separated. */
static char *
store_names (Fixture *f, const char *path)
{
  g_autofree char *dir = g_build_filename (f->root, path, NULL);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

/* After info, garbage collection and the sweep of an Incomplete container:
 * a home and marker directory for @used alone (NULL: none), no loop device
 * on a file of the store, no mount in it, and info saying which drivers are
 * in use. */
static void
assert_only_used (Fixture *f, const char *used)
{
  g_autofree char *homes = store_names (f, "storage");
  g_autofree char *marks = store_names (f, "layers");
  g_assert_cmpstr (homes, ==, used ? used : "");
  g_assert_cmpstr (marks, ==, used ? used : "");
  g_autofree char *loops = loops_backed_below (f->dir);
  g_assert_cmpstr (loops, ==, "");
  g_assert_false (tu_mounted_below (f->dir));
  g_autoptr (JsonParser) p = json_parser_new ();
  JsonObject *info = info_json (f, p);
  for (const BerthStorageFamily *fam = berth_storage_families; fam->name; fam++)
    {
      JsonObject *d = info_driver (info, "storage_drivers", fam->name);
      if (!json_object_get_boolean_member (d, "available"))
        continue;
      const char *in_use = json_object_get_string_member (json_object_get_object_member (d, "status"),
                                                          "in use");
      g_assert_cmpstr (in_use, ==, g_strcmp0 (fam->name, used) == 0 ? "yes"
                       : "no (only probed: nothing is made until a command uses it)");
    }
  g_autofree char *again = store_names (f, "storage");
  g_assert_cmpstr (again, ==, used ? used : "");
}

/* Status without side effects (issue 16): `berth info` and garbage
 * collection set up no driver nobody uses: no home under <root>/storage/,
 * no loop device (devicemapper's loop-lvm pool), no mount. */
static void
test_status_side_effects (Fixture *f, gconstpointer data)
{
  g_autofree char *loops_before = loops_backed_below (f->dir);
  g_assert_cmpstr (loops_before, ==, "");
  g_autofree char *text = NULL;
  g_assert_cmpint (berth (f, &text, NULL, "info", NULL), ==, 0);
  g_test_message ("%s", text);
  g_autoptr (JsonParser) p = json_parser_new ();
  JsonObject *info = info_json (f, p);
  const BerthStorageFamily *dm = NULL;
  for (const BerthStorageFamily *fam = berth_storage_families; fam->name; fam++)
    {
      JsonObject *d = info_driver (info, "storage_drivers", fam->name);
      gboolean available = json_object_get_boolean_member (d, "available");
      g_test_message ("%s: %s", fam->name, available ? "available, checked"
                      : json_object_get_string_member (d, "reason"));
      if (fam->option_prefix && !available)
        dm = fam; /* the one that builds a pool */
    }
  if (dm)
    g_test_message ("%s cannot run here, so no pool could be made; the other drivers are "
                    "checked", dm->name);
  assert_only_used (f, NULL);

  /* Collection (rmi, and recovery from a change mark) with an Incomplete
   * container to sweep: only the driver the image was imported into. */
  const char *used = fallback_driver ();
  g_autofree char *src = scratch_tree (f, "rootfs", "etc/motd", "welcome\n");
  g_autofree char *tar = make_tar (f, "rootfs.tar", src);
  g_assert_cmpint (berth (f, NULL, NULL, "--storage-driver", used, "import", tar, "plain:1", NULL),
                   ==, 0);
  g_autofree char *incomplete = g_build_filename (f->root, "containers",
                                                  "0123456789abcdef0123456789abcdef"
                                                  "0123456789abcdef0123456789abcdef", NULL);
  g_assert_cmpint (g_mkdir_with_parents (incomplete, 0700), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "rmi", "plain:1", NULL), ==, 0);
  g_assert_false (g_file_test (incomplete, G_FILE_TEST_EXISTS));
  assert_only_used (f, used);
  g_autofree char *mark = g_build_filename (f->root, "changing", NULL);
  tu_write_file (mark, "", 0600);
  g_assert_cmpint (berth (f, NULL, NULL, "images", NULL), ==, 0);
  g_assert_false (g_file_test (mark, G_FILE_TEST_EXISTS));
  assert_only_used (f, used);
}

/* The text block of exec driver @name: its "available" or "unavailable:"
 * line and the indented status lines under it. */
static char *
text_exec_block (const char *text, const char *name)
{
  const char *exec = strstr (text, "\nExec drivers:\n");
  g_assert_nonnull (exec);
  g_autofree char *head = g_strdup_printf ("\n  %-13s ", name);
  const char *start = strstr (exec, head);
  g_assert_nonnull (start);
  start++;
  const char *end = start;
  do
    end = strchr (end, '\n') + 1;
  while (g_str_has_prefix (end, "    "));
  return g_strndup (start, end - start);
}

/* On a host with v1 hierarchies, the controllers /proc/cgroups has that
 * cannot be given to a container here, each one asked of the host's mounts. */
static void
check_controllers_missing (JsonObject *st, const char *cgroup_layout)
{
  g_autoptr (GString) want = g_string_new (NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents ("/proc/cgroups", &text, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l && strcmp (cgroup_layout, "v2") != 0; l++)
    {
      char name[64];
      int hierarchy, cgroups, enabled;
      if (sscanf (*l, "%63s %d %d %d", name, &hierarchy, &cgroups, &enabled) != 4 || !enabled)
        continue;
      g_autofree char *missing = tu_cgroup_controller_missing (name);
      if (missing)
        g_string_append_printf (want, "%s%s", want->len ? " " : "", name);
    }
  if (want->len == 0)
    {
      g_assert_false (json_object_has_member (st, "controllers missing"));
      return;
    }
  g_test_message ("controllers this host does not hold: %s", want->str);
  g_string_append (want, " (");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (st, "controllers missing"),
                                   want->str));
}

/* One exec driver as JSON and as text: the same verdict, every status
 * pair in both, and the facts a user chooses by. */
static void
check_exec_driver (JsonObject *d, const char *text, const char *cgroup_layout)
{
  const char *name = json_object_get_string_member (d, "name");
  g_autofree char *block = text_exec_block (text, name);
  if (!json_object_get_boolean_member (d, "available"))
    {
      const char *reason = json_object_get_string_member (d, "reason");
      g_assert_cmpstr (reason, !=, "");
      g_autofree char *line = g_strdup_printf ("  %-13s unavailable: %s\n", name, reason);
      g_assert_cmpstr (block, ==, line);
      return;
    }
  g_autofree char *line = g_strdup_printf ("  %-13s available\n", name);
  g_assert_true (g_str_has_prefix (block, line));
  g_assert_true (json_object_has_member (d, "status"));
  JsonObject *st = json_object_get_object_member (d, "status");
  g_autoptr (GList) keys = json_object_get_members (st);
  for (GList *k = keys; k; k = k->next)
    {
      g_autofree char *pair = g_strdup_printf ("    %-24s %s\n", (char *) k->data,
                                               json_object_get_string_member (st, k->data));
      g_assert_nonnull (strstr (block, pair));
    }
  if (strcmp (name, "native") == 0)
    {
      g_assert_true (g_str_has_prefix (json_object_get_string_member (st, "cgroup layout"),
                                       cgroup_layout));
      g_assert_true (json_object_has_member (st, "cgroup controllers"));
      check_controllers_missing (st, cgroup_layout);
      g_assert_true (json_object_has_member (st, "user namespaces"));
      g_assert_true (json_object_has_member (st, "id-mapped mounts"));
      g_assert_true (g_str_has_prefix (json_object_get_string_member (st, "seccomp"),
                                       "libseccomp ")
                     || g_str_has_prefix (json_object_get_string_member (st, "seccomp"), "no: "));
    }
  else if (strcmp (name, "lxc") == 0)
    g_assert_cmpstr (json_object_get_string_member (st, "liblxc"), !=, "");
}

/* What an operator choosing an exec driver reads in `berth info`: every
 * driver berth knows (built or not) with "available" or the reason, the
 * host facts under each that runs, and the default with its rule. */
static void
test_info_exec_drivers (Fixture *f, gconstpointer data)
{
  g_autofree char *text = NULL;
  g_assert_cmpint (berth (f, &text, NULL, "info", NULL), ==, 0);
  g_test_message ("%s", text);
  g_autoptr (JsonParser) p = json_parser_new ();
  JsonObject *o = info_json (f, p);
  JsonArray *execs = json_object_get_array_member (o, "exec_drivers");
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < json_array_get_length (execs); i++)
    {
      JsonObject *d = json_array_get_object_element (execs, i);
      g_hash_table_add (seen, (gpointer) json_object_get_string_member (d, "name"));
      check_exec_driver (d, text, json_object_get_string_member (o, "cgroup_layout"));
    }
  guint n = 0;
  for (const BerthExecFamily *fam = berth_exec_families; fam->name; fam++, n++)
    {
      g_assert_true (g_hash_table_contains (seen, fam->name));
      if (fam->ops == NULL)
        g_assert_cmpstr (json_object_get_string_member (info_driver (o, "exec_drivers", fam->name),
                                                        "reason"), ==, fam->not_built);
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, json_array_get_length (execs));
  g_assert_cmpuint (g_hash_table_size (seen), ==, n);
  const char *def_name = berth_exec_family_for (BERTH_EXEC_DEFAULT)->name;
  g_assert_cmpstr (json_object_get_string_member (o, "default_exec_driver"), ==, def_name);
  g_autofree char *def = g_strdup_printf ("\nDefault exec driver: %s (%s)\n", def_name,
                                          json_object_get_string_member (o, "default_exec_rule"));
  g_assert_nonnull (strstr (text, def));
}

/* "6.1.0-57-amd64" -> 601, "5.10.223" -> 510. */
static int
release_number (const char *release)
{
  unsigned major = 0, minor = 0;
  g_assert_cmpint (sscanf (release, "%u.%u", &major, &minor), ==, 2);
  return (int) (major * 100 + minor);
}

/* The kernel-feature table in `berth info`: every row answered yes, no or
 * unknown, with the reason and what berth does instead when it is not
 * yes. A kernel at least as new as the row's release must have it (a
 * distribution backports, never removes), so a probe that misreads the
 * kernel's answer fails here, on the host and in each guest kernel of the
 * matrix; an older kernel may say either. */
static void
test_info_kernel_features (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *text = NULL;
  g_assert_cmpint (berth (f, &text, NULL, "info", NULL), ==, 0);
  g_test_message ("%s", text);
  g_autoptr (JsonParser) p = json_parser_new ();
  JsonObject *o = info_json (f, p);
  struct utsname u;
  g_assert_cmpint (uname (&u), ==, 0);
  int running = release_number (u.release);
  JsonArray *rows = json_object_get_array_member (o, "kernel_features");
  g_assert_cmpuint (json_array_get_length (rows), >=, 10);
  g_assert_nonnull (strstr (text, "\nKernel features:\n"));
  for (guint i = 0; i < json_array_get_length (rows); i++)
    {
      JsonObject *k = json_array_get_object_element (rows, i);
      const char *name = json_object_get_string_member (k, "name");
      const char *present = json_object_get_string_member (k, "present");
      int since = release_number (json_object_get_string_member (k, "since"));
      g_test_message ("%s (%d): %s", name, since, present);
      g_assert_true (json_object_has_member (k, "without") != json_object_has_member (k, "needed_by"));
      g_autofree char *line = g_strdup_printf ("\n  %-32s %s", name, present);
      g_assert_nonnull (strstr (text, line));
      if (strcmp (present, "yes") == 0)
        {
          g_assert_false (json_object_has_member (k, "reason"));
          continue;
        }
      g_assert_cmpstr (json_object_get_string_member (k, "reason"), !=, "");
      /* Unknown only where there is nothing to look at: cgroup files with
       * no cgroup2 cgroup of that kind here. */
      if (strcmp (present, "unknown") == 0)
        {
          g_assert_true (g_str_has_prefix (name, "cgroup.") || g_str_has_prefix (name, "memory."));
          continue;
        }
      g_assert_cmpstr (present, ==, "no");
      if (running >= since)
        g_error ("%s: kernel %s is at least %d but berth says it lacks %s: %s", name, u.release,
                 since, name, json_object_get_string_member (k, "reason"));
    }
}

/* The first line of @text holding @needle, or NULL. */
static char *
line_with (const char *text, const char *needle)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    if (strstr (*l, needle))
      return g_strdup (*l);
  return NULL;
}

static gboolean await_status (Fixture *f, const char *name, const char *want);

static void
storage_scenario (Fixture *f, const char *driver)
{
  g_autofree char *out = NULL, *err = NULL;
  int rc = berth (f, &out, &err, "--storage-driver", driver, "image", "bootstrap", "busybox", NULL);
  if (rc != 0 && err && strstr (err, "storage driver"))
    {
      g_test_skip_printf ("%s", err);
      return;
    }
  g_assert_cmpint (rc, ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "images", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "busybox"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "--storage-driver", driver, "create", "--name", "c1",
                          "busybox", "/bin/sh", "-c", "true", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "mount", "c1", NULL), ==, 0);
  g_autofree char *rootfs = g_strdup (g_strstrip (out));
  g_autofree char *bb = g_build_filename (rootfs, "bin", "busybox", NULL);
  g_assert_true (g_file_test (bb, G_FILE_TEST_IS_EXECUTABLE));
  g_autofree char *newfile = g_build_filename (rootfs, "hello.txt", NULL);
  tu_write_file (newfile, "hello\n", 0644);
  g_autofree char *passwd = g_build_filename (rootfs, "etc", "group", NULL);
  g_assert_cmpint (unlink (passwd), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "umount", "c1", NULL), ==, 0);
  g_assert_false (tu_mounted_below (f->root) && g_strcmp0 (driver, "overlay") == 0);

  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "diff", "c1", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "C /etc\nD /etc/group\nA /hello.txt\n");
  /* ps --size: what the container wrote (hello.txt's 6 bytes; a deletion
   * weighs nothing), the same on every driver, then the image's size. */
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-a", "--size", NULL), ==, 0);
  g_autofree char *c1_line = line_with (out, " c1 ");
  g_assert_nonnull (c1_line);
  g_assert_nonnull (strstr (c1_line, " 6 bytes (virtual "));
  g_assert_false (tu_mounted_below (f->root) && g_strcmp0 (driver, "overlay") == 0);

  g_assert_cmpint (berth (f, NULL, NULL, "commit", "c1", "mine:v1", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "history", "mine:v1", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "berth commit c1"));
  g_assert_cmpint (berth (f, NULL, NULL, "--storage-driver", driver, "create", "--name", "c2",
                          "mine:v1", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "mount", "c2", NULL), ==, 0);
  g_autofree char *root2 = g_strdup (g_strstrip (out));
  g_autofree char *hello2 = g_build_filename (root2, "hello.txt", NULL);
  g_autofree char *group2 = g_build_filename (root2, "etc", "group", NULL);
  g_assert_true (g_file_test (hello2, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (group2, G_FILE_TEST_EXISTS));
  g_assert_cmpint (berth (f, NULL, NULL, "umount", "c2", NULL), ==, 0);

  /* Containers run on the driver: the monitor records a foreground exit
   * and a detached one, and gives the mount back each time. */
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "--storage-driver", driver, "run", "--rm", "mine:v1",
                          "sh", "-c", "cat /hello.txt; test -e /etc/group || exit 5", NULL), ==, 5);
  g_assert_cmpstr (out, ==, "hello\n");
  /* It ends on its own: a stop could come before sh has set a trap (a
   * guest under TCG is slow), and pid 1 ignores a signal it has no
   * handler for. */
  g_assert_cmpint (berth (f, NULL, NULL, "--storage-driver", driver, "run", "-d", "--name", "r1",
                          "mine:v1", "sh", "-c", "sleep 1; exit 7", NULL), ==, 0);
  g_assert_true (await_status (f, "r1", "Exited (7)"));
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "r1", NULL), ==, 0);
  g_assert_false (tu_mounted_below (f->root) && g_strcmp0 (driver, "overlay") == 0);

  /* Removing an image a container uses is refused; rm then rmi clears all. */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "rmi", "mine:v1", NULL), ==, 1);
  tu_assert_one_line_error (err, "used by container c2");
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "c1", "c2", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "rmi", "mine:v1", "busybox", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "images", "-q", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_autofree char *blobs = g_build_filename (f->root, "blobs", "sha256", NULL);
  g_assert_cmpuint (count_entries (blobs), ==, 0);
  g_autofree char *marks = g_build_filename (f->root, "layers", driver, NULL);
  g_assert_cmpuint (count_entries (marks), ==, 0);
}

/* berth.conf names the default for a new store; the store then keeps it. */
static void
test_config_file (Fixture *f, gconstpointer data)
{
  g_autofree char *conf = g_build_filename (f->dir, "berth.conf", NULL);
  tu_write_file (conf, "[storage]\ndriver=vfs\n", 0644);
  g_setenv ("BERTH_CONFIG", conf, TRUE);
  g_autofree char *out = NULL;
  int rc = berth (f, &out, NULL, "info", NULL);
  g_assert_cmpint (rc, ==, 0);
  g_assert_nonnull (strstr (out, "Default storage driver: vfs (set in "));
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "create", "--name", "v", "busybox", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-a", NULL), ==, 0);
  g_assert_nonnull (strstr (out, " vfs "));
  /* A changed config does not move an existing store's default. */
  tu_write_file (conf, "[storage]\ndriver=overlay\n", 0644);
  g_autofree char *err = NULL;
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, &err, "info", NULL), ==, 0);
  g_unsetenv ("BERTH_CONFIG");
  g_assert_nonnull (strstr (out, "Default storage driver: vfs (recorded in "));
  g_assert_nonnull (strstr (err, "asks for storage driver overlay, but this store was made with vfs"));
}

/* A store whose recorded driver cannot run here says so and never falls
 * back silently (its images would seem to vanish). */
static void
test_recorded_driver_unusable (Fixture *f, gconstpointer data)
{
  const char *works = fallback_driver ();
  g_assert_cmpint (berth (f, NULL, NULL, "--storage-driver", works, "image", "bootstrap",
                          "busybox", NULL), ==, 0);
  /* One of the table's drivers that cannot run on this store (btrfs on
   * anything but btrfs, a driver the kernel or this build lacks). */
  const char *unusable = NULL;
  for (const BerthStorageFamily *fam = berth_storage_families; fam->name && !unusable; fam++)
    if (!berth_storage_probe (f->root, fam->name, NULL))
      unusable = fam->name;
  if (unusable == NULL)
    return g_test_skip ("every storage driver runs on this store");
  g_autofree char *recorded = g_build_filename (f->root, "driver", NULL);
  g_autofree char *line = g_strdup_printf ("%s\n", unusable);
  tu_write_file (recorded, line, 0600);
  g_autofree char *err = NULL;
  g_assert_cmpint (berth (f, NULL, &err, "create", "busybox", NULL), ==, 1);
  g_autofree char *prefix = g_strdup_printf ("storage driver %s: ", unusable);
  tu_assert_one_line_error (err, prefix);
  g_assert_nonnull (strstr (err, " (the store's default driver; pass --storage-driver"));
  g_assert_cmpint (berth (f, NULL, NULL, "--storage-driver", works, "create", "busybox", NULL), ==, 0);
}

/* A driver whose store must be on btrfs (its table entry's store_fs): the
 * test puts the store on a loop-mounted btrfs. */
static gboolean
needs_btrfs (const char *driver)
{
  return g_strcmp0 (berth_storage_family_lookup (driver)->store_fs, "btrfs") == 0;
}

static void
test_bootstrap_create_diff_commit (Fixture *f, gconstpointer data)
{
  const char *driver = data;
  if (!needs_btrfs (driver))
    {
      storage_scenario (f, driver);
      return;
    }
  g_autoptr (GError) error = NULL;
  g_autofree char *mnt = g_build_filename (f->dir, "btrfs", NULL);
  if (!tu_btrfs_mount (f->dir, mnt, &error))
    {
      g_test_skip_printf ("btrfs: %s", error->message);
      return;
    }
  g_free (f->root);
  f->root = g_build_filename (mnt, "store", NULL);
  /* On btrfs, info offers the driver and picks it by the host rule. */
  g_autofree char *info = NULL;
  g_assert_cmpint (berth (f, &info, NULL, "info", NULL), ==, 0);
  g_autofree char *line = g_strdup_printf ("\n  %-13s available\n", driver);
  g_autofree char *rule = g_strdup_printf ("Default storage driver: %s (the store", driver);
  g_assert_nonnull (strstr (info, line));
  if (berth_storage_family_lookup (driver)->default_rule == BERTH_DEFAULT_ON_FS)
    g_assert_nonnull (strstr (info, rule));
  storage_scenario (f, driver);
  tu_btrfs_umount (mnt);
}

/* A docker-save archive with two layers, the second whiting out a file. */
static char *
make_docker_save (Fixture *f, char **image_id)
{
  g_autofree char *l1 = g_build_filename (f->dir, "l1", NULL);
  g_autofree char *l2 = g_build_filename (f->dir, "l2", NULL);
  g_autofree char *save = g_build_filename (f->dir, "save", NULL);
  const struct { const char *dir, *rel, *content; } files[] = {
    { l1, "a.txt", "a\n" }, { l1, "b.txt", "b\n" }, { l1, "d/x", "x\n" },
    { l2, ".wh.a.txt", "" }, { l2, "c.txt", "c\n" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *p = g_build_filename (files[i].dir, files[i].rel, NULL);
      g_autofree char *d = g_path_get_dirname (p);
      g_assert_cmpint (g_mkdir_with_parents (d, 0755), ==, 0);
      tu_write_file (p, files[i].content, 0644);
    }
  g_autofree char *t1 = make_tar (f, "l1.tar", l1);
  g_autofree char *t2 = make_tar (f, "l2.tar", l2);
  g_autofree char *h1 = sha256_file (t1);
  g_autofree char *h2 = sha256_file (t2);
  g_autofree char *config = g_strdup_printf (
      "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/bin/sh\"]},"
      "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%s\",\"sha256:%s\"]},"
      "\"history\":[{\"created_by\":\"layer one\"},{\"created_by\":\"layer two\"}]}", h1, h2);
  *image_id = g_compute_checksum_for_string (G_CHECKSUM_SHA256, config, -1);
  g_autofree char *manifest = g_strdup_printf (
      "[{\"Config\":\"%s.json\",\"RepoTags\":[\"saved:v1\"],"
      "\"Layers\":[\"%s/layer.tar\",\"%s/layer.tar\"]}]", *image_id, h1, h2);
  const char *hashes[] = { h1, h2 };
  const char *tars[] = { t1, t2 };
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *d = g_build_filename (save, hashes[i], NULL);
      g_autofree char *dst = g_build_filename (d, "layer.tar", NULL);
      g_assert_cmpint (g_mkdir_with_parents (d, 0755), ==, 0);
      g_assert_cmpint (rename (tars[i], dst), ==, 0);
    }
  g_autofree char *cfgname = g_strdup_printf ("%s.json", *image_id);
  g_autofree char *cfgpath = g_build_filename (save, cfgname, NULL);
  g_autofree char *manpath = g_build_filename (save, "manifest.json", NULL);
  tu_write_file (cfgpath, config, 0644);
  tu_write_file (manpath, manifest, 0644);
  return make_tar (f, "save.tar", save);
}

static void
check_saved_image (Fixture *f)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, NULL, NULL, "create", "--name", "s", "saved:v1", NULL), ==, 0);
  g_assert_cmpint (berth (f, &out, NULL, "mount", "s", NULL), ==, 0);
  g_autofree char *rootfs = g_strdup (g_strstrip (out));
  const char *present[] = { "b.txt", "c.txt", "d/x" };
  for (guint i = 0; i < G_N_ELEMENTS (present); i++)
    {
      g_autofree char *p = g_build_filename (rootfs, present[i], NULL);
      g_assert_true (g_file_test (p, G_FILE_TEST_IS_REGULAR));
    }
  g_autofree char *gone = g_build_filename (rootfs, "a.txt", NULL);
  g_autofree char *wh = g_build_filename (rootfs, ".wh.a.txt", NULL);
  g_assert_false (g_file_test (gone, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (wh, G_FILE_TEST_EXISTS));
  g_assert_cmpint (berth (f, NULL, NULL, "umount", "s", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "s", NULL), ==, 0);
}

static void
test_load_save (Fixture *f, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_autofree char *tar = make_docker_save (f, &id);
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "load", "-i", tar, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "Loaded image: saved:v1\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "images", "-q", NULL), ==, 0);
  g_autofree char *expect = g_strdup_printf ("%.12s\n", id);
  g_assert_cmpstr (out, ==, expect);
  check_saved_image (f);

  /* save, then load into another store: the same image, byte for byte. */
  g_autofree char *saved = g_build_filename (f->dir, "resaved.tar", NULL);
  g_assert_cmpint (berth (f, NULL, NULL, "save", "-o", saved, "saved:v1", NULL), ==, 0);
  g_free (f->root);
  f->root = g_build_filename (f->dir, "store2", NULL);
  g_assert_cmpint (berth (f, NULL, NULL, "load", "-i", saved, NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "images", "-q", NULL), ==, 0);
  g_assert_cmpstr (out, ==, expect);
  check_saved_image (f);
}

static void
test_import (Fixture *f, gconstpointer data)
{
  g_autofree char *src = scratch_tree (f, "rootfs", "etc/motd", "welcome\n");
  g_autofree char *tar = make_tar (f, "rootfs.tar", src);
  g_autofree char *gz = g_strdup_printf ("%s.gz", tar);
  char *gzip[] = { "gzip", "-k", tar, NULL };
  g_assert_cmpint (tu_run (gzip, NULL, NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "import", tar, "plain:1", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "image", "import", gz, "zipped:1", NULL), ==, 0);
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "images", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "plain"));
  g_assert_nonnull (strstr (out, "zipped"));
  /* Docker's CREATED column: an import is made now, so seconds ago. */
  g_assert_nonnull (strstr (out, " CREATED "));
  g_assert_true (strstr (out, "second ago ") || strstr (out, "seconds ago "));
  /* Same content compressed or not: one blob in the content store. */
  g_autofree char *blobs = g_build_filename (f->root, "blobs", "sha256", NULL);
  g_assert_cmpuint (count_entries (blobs), ==, 1);
  g_assert_cmpint (berth (f, NULL, NULL, "create", "--name", "m", "zipped:1", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "mount", "m", NULL), ==, 0);
  g_autofree char *motd = g_build_filename (g_strstrip (out), "etc", "motd", NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (motd, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, "welcome\n");
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "-f", "m", NULL), ==, 0);
}

/* An unsafe tarball is refused and leaves no image, blob or layer behind. */
static void
test_import_bad_archive (Fixture *f, gconstpointer data)
{
  g_autofree char *src = scratch_tree (f, "evil", "escape", "pwned\n");
  g_autofree char *tar = g_build_filename (f->dir, "evil.tar", NULL);
  char *argv[] = { "tar", "-C", src, "-cPf", tar, "--transform", "s,^\\./,../../,", "./escape", NULL };
  g_assert_cmpint (tu_run (argv, NULL, NULL), ==, 0);
  g_autofree char *err = NULL;
  g_assert_cmpint (berth (f, NULL, &err, "import", tar, "evil:1", NULL), ==, 1);
  tu_assert_one_line_error (err, "..");
  g_autofree char *outside = g_build_filename (f->dir, "escape", NULL);
  g_assert_false (g_file_test (outside, G_FILE_TEST_EXISTS));
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "images", "-q", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_autofree char *blobs = g_build_filename (f->root, "blobs", "sha256", NULL);
  g_autofree char *images = g_build_filename (f->root, "images", NULL);
  g_assert_cmpuint (count_entries (blobs), ==, 0);
  g_assert_cmpuint (count_entries (images), ==, 0);

  /* Not a tar at all. */
  g_autofree char *junk = g_build_filename (f->dir, "junk.tar", NULL);
  tu_write_file (junk, "this is not a tar archive, not even close\n", 0644);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "import", junk, "junk:1", NULL), ==, 1);
  tu_assert_one_line_error (err, "junk.tar");
  g_assert_cmpuint (count_entries (blobs), ==, 0);
}

/* Image archives that lie: a fifo where manifest.json should be (an open
 * that waited would hold the store lock for ever), an empty manifest, and a
 * tag berth cannot accept. Each fails in one line and leaves no image. */
/* The docker-save archive make_docker_save left in save/, its tag
 * "saved:v1" renamed @tag in manifest.json, tarred again as @tar_name. */
static char *
retag_docker_save (Fixture *f, const char *tag, const char *tar_name)
{
  g_autofree char *save_dir = g_build_filename (f->dir, "save", NULL);
  g_autofree char *mpath = g_build_filename (save_dir, "manifest.json", NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (mpath, &text, NULL, NULL));
  g_auto (GStrv) parts = g_strsplit (text, "saved:v1", -1);
  g_autofree char *retagged = g_strjoinv (tag, parts);
  tu_write_file (mpath, retagged, 0644);
  return make_tar (f, tar_name, save_dir);
}

static void
test_load_bad_archives (Fixture *f, gconstpointer data)
{
  g_autofree char *src = g_build_filename (f->dir, "fifo", NULL);
  g_autofree char *fifo = g_build_filename (src, "manifest.json", NULL);
  g_assert_cmpint (g_mkdir_with_parents (src, 0755), ==, 0);
  char *mkfifo_argv[] = { "mkfifo", fifo, NULL };
  g_assert_cmpint (tu_run (mkfifo_argv, NULL, NULL), ==, 0);
  g_autofree char *fifo_tar = make_tar (f, "fifo.tar", src);
  g_autofree char *err = NULL;
  char *argv[] = { "timeout", "30", (char *) tu_berth_bin (), "--root", f->root, "load", "-i",
                   fifo_tar, NULL };
  g_assert_cmpint (tu_run (argv, NULL, &err), ==, 1);
  tu_assert_one_line_error (err, "manifest.json is not a regular file");

  g_autofree char *src2 = scratch_tree (f, "empty", "manifest.json", "");
  g_autofree char *empty_tar = make_tar (f, "empty.tar", src2);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "load", "-i", empty_tar, NULL), ==, 1);
  tu_assert_one_line_error (err, "manifest.json is empty");

  g_autofree char *id = NULL;
  g_free (make_docker_save (f, &id));
  g_autofree char *bad_tar = retag_docker_save (f, "BAD:Tag", "badtag.tar");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "load", "-i", bad_tar, NULL), ==, 1);
  tu_assert_one_line_error (err, "invalid image name 'BAD:Tag'");

  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "images", "-q", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_autofree char *blobs = g_build_filename (f->root, "blobs", "sha256", NULL);
  g_assert_cmpuint (count_entries (blobs), ==, 0);
}

/* A create killed after making its layer but before its metadata leaves a
 * directory no command lists; the next garbage collection removes it and
 * its writable layer, and leaves complete containers alone. */
static void
test_interrupted_create (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "-t", "other:1", "busybox", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "create", "--name", "keep", "busybox", NULL), ==, 0);
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "create", "--name", "half", "busybox", NULL), ==, 0);
  g_autofree char *id = g_strdup (g_strstrip (out));
  g_autofree char *meta = g_build_filename (f->root, "containers", id, "container.json", NULL);
  g_autofree char *layer = g_build_filename (f->root, "storage", "overlay", id, NULL);
  g_assert_cmpint (unlink (meta), ==, 0);
  g_assert_true (g_file_test (layer, G_FILE_TEST_IS_DIR));
  g_assert_cmpint (berth (f, NULL, NULL, "rmi", "other:1", NULL), ==, 0);
  g_assert_false (g_file_test (layer, G_FILE_TEST_EXISTS));
  g_autofree char *dir = g_build_filename (f->root, "containers", id, NULL);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-a", NULL), ==, 0);
  g_assert_nonnull (strstr (out, " keep\n"));
}

/* Names with a registry (HOST[:PORT]/...), as docker writes them into a
 * docker-save archive and as `tag` takes them; a malformed host is refused. */
static void
test_registry_names (Fixture *f, gconstpointer data)
{
  g_autofree char *id = NULL;
  g_free (make_docker_save (f, &id));
  g_autofree char *ported_tar = retag_docker_save (f, "registry.example.com:5000/team/app:v1.2",
                                                   "ported.tar");
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "load", "-i", ported_tar, NULL), ==, 0);
  g_assert_nonnull (strstr (out, "registry.example.com:5000/team/app:v1.2"));
  g_assert_cmpint (berth (f, NULL, NULL, "tag", "registry.example.com:5000/team/app:v1.2",
                          "localhost/app", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "tag", "localhost/app", "localhost:5000/a/b:1", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "images", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "registry.example.com:5000/team/app v1.2"));
  g_assert_nonnull (strstr (out, "localhost:5000/a/b"));
  const char *bad[] = { "example.com:/app", "example.com:123456/app", "exa_mple.com/app", "UPPER/x" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *err = NULL;
      g_assert_cmpint (berth (f, NULL, &err, "tag", "localhost/app", bad[i], NULL), ==, 1);
      g_autofree char *needle = g_strdup_printf ("invalid image name '%s'", bad[i]);
      tu_assert_one_line_error (err, needle);
    }
}

static void
test_bad_input (Fixture *f, gconstpointer data)
{
  g_autofree char *err = NULL;
  g_assert_cmpint (berth (f, NULL, &err, "create", "--name", "Bad Name", "busybox", NULL), ==, 1);
  tu_assert_one_line_error (err, "invalid name 'Bad Name'");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "create", "nosuch", NULL), ==, 1);
  tu_assert_one_line_error (err, "no such image: nosuch");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "import", "/nonexistent.tar", "UPPER:1", NULL), ==, 1);
  tu_assert_one_line_error (err, "invalid image name 'UPPER:1'");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "rm", "../../etc", NULL), ==, 1);
  tu_assert_one_line_error (err, "no such container: ../../etc");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "mount", "deadbeef", NULL), ==, 1);
  tu_assert_one_line_error (err, "no such container");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "--storage-driver", "nosuchfs", "image", "bootstrap",
                          "busybox", NULL), ==, 1);
  tu_assert_one_line_error (err, "nosuchfs");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "frobnicate", NULL), ==, 2);
  tu_assert_one_line_error (err, "unknown command");
}

/* 100k nested arrays: json-glib would recurse once per level and die of a
 * stack overflow (SIGSEGV). Every document berth reads is refused in one
 * line instead: a docker-save manifest, an image config, a seccomp profile. */
static char *
deep_json (void)
{
  GString *s = g_string_new (NULL);
  for (int i = 0; i < 100000; i++)
    g_string_append_c (s, '[');
  for (int i = 0; i < 100000; i++)
    g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static void
test_deep_json (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *deep = deep_json ();
  g_autofree char *src = scratch_tree (f, "deep", "manifest.json", deep);
  g_autofree char *deep_tar = make_tar (f, "deep.tar", src);
  g_autofree char *err = NULL;
  g_assert_cmpint (berth (f, NULL, &err, "load", "-i", deep_tar, NULL), ==, 1);
  tu_assert_one_line_error (err, "manifest.json is not JSON: JSON nested deeper than 256 levels");

  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_autofree char *profile = g_build_filename (f->dir, "deep-seccomp.json", NULL);
  tu_write_file (profile, deep, 0644);
  g_autofree char *opt = g_strdup_printf ("seccomp=%s", profile);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "create", "--security-opt", opt, "busybox", "true", NULL),
                   ==, 1);
  tu_assert_one_line_error (err, "JSON nested deeper than 256 levels");

  /* Every JSON document has the size cap, not only those from archives:
   * a valid profile padded past 16 MiB, and /dev/zero, which must not be
   * read for ever. */
  g_autofree char *big = g_strnfill (17 << 20, ' ');
  const char head[] = "{\"defaultAction\":\"SCMP_ACT_ALLOW\"";
  memcpy (big, head, strlen (head));
  big[(17 << 20) - 1] = '}';
  tu_write_file (profile, big, 0644);
  const char *sources[] = { profile, "/dev/zero" };
  for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
    {
      g_autofree char *o = g_strdup_printf ("seccomp=%s", sources[i]);
      g_clear_pointer (&err, g_free);
      g_assert_cmpint (berth (f, NULL, &err, "create", "--security-opt", o, "busybox", "true",
                              NULL), ==, 1);
      tu_assert_one_line_error (err, "JSON document larger than 16 MiB, the most berth parses");
    }
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-aq", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
}

/* save -o and export -o write beside the path and rename over it, so a
 * path that is a FIFO, a symlink or a device node would be replaced by a
 * regular file: refused in one line, the thing there left as it was. Also
 * numbers no kernel takes: a pids limit past PID_MAX_LIMIT, --cpus nan. */
static void
test_output_and_limits (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "create", "--name", "out", "busybox", "true", NULL), ==, 0);
  g_autofree char *fifo = g_build_filename (f->dir, "fifo", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_autofree char *target = g_build_filename (f->dir, "target", NULL);
  tu_write_file (target, "keep\n", 0644);
  g_autofree char *link = g_build_filename (f->dir, "link", NULL);
  g_assert_cmpint (symlink (target, link), ==, 0);
  g_autofree char *err = NULL;
  g_assert_cmpint (berth (f, NULL, &err, "save", "-o", fifo, "busybox", NULL), ==, 1);
  tu_assert_one_line_error (err, "not a regular file (a FIFO); refusing to replace it");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "export", "-o", link, "out", NULL), ==, 1);
  tu_assert_one_line_error (err, "not a regular file (a symlink); refusing to replace it");
  struct stat st;
  g_assert_cmpint (lstat (fifo, &st), ==, 0);
  g_assert_true (S_ISFIFO (st.st_mode));
  g_assert_cmpint (lstat (link, &st), ==, 0);
  g_assert_true (S_ISLNK (st.st_mode));
  g_autofree char *kept = NULL;
  g_assert_true (g_file_get_contents (target, &kept, NULL, NULL));
  g_assert_cmpstr (kept, ==, "keep\n");
  g_autoptr (GDir) d = g_dir_open (f->dir, 0, NULL);
  for (const char *name; (name = g_dir_read_name (d));)
    g_assert_null (strstr (name, ".tmp-"));
  g_autofree char *regular = g_build_filename (f->dir, "saved.tar", NULL);
  g_assert_cmpint (berth (f, NULL, NULL, "save", "-o", regular, "busybox", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "save", "-o", regular, "busybox", NULL), ==, 0);

  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "create", "--pids-limit", "9223372036854775807", "busybox",
                          "true", NULL), ==, 1);
  tu_assert_one_line_error (err, "--pids-limit 9223372036854775807: above the kernel's limit");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "create", "--cpus", "nan", "busybox", "true", NULL), ==, 1);
  tu_assert_one_line_error (err, "--cpus 'nan': not a positive number");
}

/* run -i and exec -i hand the container a pipe of berth's own, never the
 * caller's descriptor 0: with a directory there, /proc/self/fd/0 would
 * lead the container into the host's tree. Piped input still arrives,
 * and its end is the container's EOF. */
static void
test_stdin_pipe (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_autofree char *dir = scratch_tree (f, "hostdir", "secret", "host secret\n");
  const char *peek = "cat /proc/self/fd/0/secret 2>/dev/null || echo 'no way in'";
  g_autofree char *out = NULL;
  char *run_argv[] = { "sh", "-c", "exec \"$0\" --root \"$1\" run -i --rm busybox sh -c \"$3\" < \"$2\"",
                       (char *) tu_berth_bin (), f->root, dir, (char *) peek, NULL };
  g_assert_cmpint (tu_run (run_argv, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "no way in\n");
  g_clear_pointer (&out, g_free);
  char *pipe_argv[] = { "sh", "-c", "echo piped | \"$0\" --root \"$1\" run -i --rm busybox cat",
                        (char *) tu_berth_bin (), f->root, NULL };
  g_assert_cmpint (tu_run (pipe_argv, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "piped\n");

  g_assert_cmpint (berth (f, NULL, NULL, "run", "-d", "--name", "in", "busybox", "sleep", "100", NULL),
                   ==, 0);
  g_clear_pointer (&out, g_free);
  char *exec_argv[] = { "sh", "-c", "exec \"$0\" --root \"$1\" exec -i in sh -c \"$3\" < \"$2\"",
                        (char *) tu_berth_bin (), f->root, dir, (char *) peek, NULL };
  g_assert_cmpint (tu_run (exec_argv, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "no way in\n");
  g_clear_pointer (&out, g_free);
  char *exec_pipe_argv[] = { "sh", "-c", "echo piped | \"$0\" --root \"$1\" exec -i in cat",
                             (char *) tu_berth_bin (), f->root, NULL };
  g_assert_cmpint (tu_run (exec_pipe_argv, &out, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "piped\n");
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "-f", "in", NULL), ==, 0);
}

/* What berth prints stays one line per thing: an argument with a newline
 * or an escape sequence is shown escaped in the error, a 100k-character
 * one cut short, and a file named "x\nD /etc/passwd" cannot forge a second
 * line of `berth diff`. */
static void
test_printable (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *err = NULL;
  g_assert_cmpint (berth (f, NULL, &err, "rm", "a\nb\033[31mred", NULL), ==, 1);
  tu_assert_one_line_error (err, "no such container: a\\nb\\x1b[31mred");
  g_autofree char *huge = g_strnfill (100000, 'x');
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "rm", huge, NULL), ==, 1);
  tu_assert_one_line_error (err, "more bytes)");
  g_assert_cmpuint (strlen (err), <, 1200);

  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "create", "--name", "names", "busybox", "true", NULL), ==, 0);
  g_autofree char *mnt = NULL;
  g_assert_cmpint (berth (f, &mnt, NULL, "mount", "names", NULL), ==, 0);
  g_autofree char *forged = g_build_filename (g_strstrip (mnt), "x\nD /etc/passwd", NULL);
  g_autofree char *forged_dir = g_path_get_dirname (forged);
  g_assert_cmpint (g_mkdir_with_parents (forged_dir, 0755), ==, 0);
  tu_write_file (forged, "", 0644);
  g_assert_cmpint (berth (f, NULL, NULL, "umount", "names", NULL), ==, 0);
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "diff", "names", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "A /x\\nD /etc/passwd\n"));
  g_assert_null (strstr (out, "\nD /etc/passwd\n"));
}

/* What a Docker user tries first: version, help for a command with
 * subcommands, an unknown flag, an image named without its tag, -u with a
 * uid alone, -v with a host directory that is not there yet, a memory
 * limit too small. Each answers as Docker's would, or says what to do. */
static void
test_first_contact (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "version", NULL), ==, 0);
  g_assert_true (g_str_has_prefix (out, "Version:"));
  g_assert_nonnull (strstr (out, "Storage drivers: "));
  g_assert_nonnull (strstr (out, " vfs"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "image", "--help", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Usage: berth image COMMAND"));
  g_assert_nonnull (strstr (out, "\n  ls "));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "network", "--help", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "\n  connect "));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "image", "ls", "--help", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "berth image ls"));
  g_assert_cmpint (berth (f, NULL, &err, "logs", "--details", "x", NULL), ==, 2);
  tu_assert_one_line_error (err, "logs: Unknown option --details (see 'berth logs --help')");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "image", "nosuch", NULL), ==, 2);
  tu_assert_one_line_error (err, "unknown image subcommand 'nosuch' (see 'berth image --help')");

  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "tag", "busybox", "debian:bookworm", NULL), ==, 0);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "run", "--rm", "--network", "none", "debian", "true",
                          NULL), ==, 1);
  tu_assert_one_line_error (err, "no such image: debian:latest (this store has debian:bookworm)");

  /* The bootstrapped busybox's passwd has nobody:x:65534:65534. */
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "run", "--rm", "--network", "none", "-u", "65534",
                          "busybox", "sh", "-c", "id -u; id -g; grep ^nobody: /etc/passwd",
                          NULL), ==, 0);
  g_assert_cmpstr (out, ==, "65534\n65534\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "run", "--rm", "--network", "none", "-u", "4242",
                          "busybox", "id", "-g", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "0\n");

  g_autofree char *missing = g_build_filename (f->dir, "not", "yet", NULL);
  g_autofree char *volume = g_strconcat (missing, ":/data", NULL);
  g_assert_cmpint (berth (f, NULL, NULL, "run", "--rm", "--network", "none", "-v", volume,
                          "busybox", "touch", "/data/made", NULL), ==, 0);
  g_autofree char *made = g_build_filename (missing, "made", NULL);
  g_assert_true (g_file_test (made, G_FILE_TEST_IS_REGULAR));

  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "run", "--rm", "--network", "none", "-m", "1k",
                          "busybox", "true", NULL), ==, 1);
  tu_assert_one_line_error (err, "--memory 1k (1024 bytes) is below the smallest limit, 6m");
}

/* --entrypoint replaces the image's and drops its Cmd, as Docker's;
 * --env-file reads K=V lines (K alone: the host's value), skips blanks
 * and comments, refuses a name with white space, and -e wins over it. */
static void
test_entrypoint_env_file (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_autofree char *out = NULL;
  /* busybox's Cmd is ["sh"]: kept, echo would print it. */
  g_assert_cmpint (berth (f, &out, NULL, "run", "--rm", "--network", "none", "--entrypoint",
                          "echo", "busybox", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "run", "--rm", "--network", "none", "--entrypoint",
                          "echo", "busybox", "hi", "there", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "hi there\n");

  g_autofree char *env = g_build_filename (f->dir, "app.env", NULL);
  tu_write_file (env, "# settings\n\n  A=1\nFROM_HOST\nC=c d\nD=file\n", 0644);
  g_setenv ("FROM_HOST", "host-value", TRUE);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "run", "--rm", "--network", "none", "--env-file", env,
                          "-e", "D=flag", "busybox", "sh", "-c",
                          "echo \"$A|$FROM_HOST|$C|$D\"", NULL), ==, 0);
  g_unsetenv ("FROM_HOST");
  g_assert_cmpstr (out, ==, "1|host-value|c d|flag\n");
  tu_write_file (env, "A=1\nB = 2\n", 0644);
  g_autofree char *err = NULL;
  g_assert_cmpint (berth (f, NULL, &err, "run", "--rm", "--network", "none", "--env-file", env,
                          "busybox", "true", NULL), ==, 1);
  tu_assert_one_line_error (err, "line 2: variable 'B ' has white space");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "run", "--rm", "--network", "none", "--env-file",
                          "/dev/zero", "busybox", "true", NULL), ==, 1);
  tu_assert_one_line_error (err, "--env-file /dev/zero: larger than 1 MiB");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-aq", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
}

/* logs --tail, -t, --since and --until, as Docker's: the last N lines of
 * both streams, each line after its recorded time, and the lines from or
 * before a time (RFC 3339, Unix seconds or a duration ago). */
static void
test_logs_options (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "run", "--name", "talker", "--network", "none",
                          "busybox", "sh", "-c", "echo a; echo b; echo c >&2; sleep 1.5; echo d",
                          NULL), ==, 0);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (berth (f, &out, &err, "logs", "--tail", "2", "talker", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "d\n");
  g_assert_cmpstr (err, ==, "c\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "logs", "--tail", "all", "talker", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "a\nb\nd\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "logs", "-t", "-n", "1", "talker", NULL), ==, 0);
  g_auto (GStrv) stamped = g_strsplit (out, " ", 2);
  g_autoptr (GDateTime) when = g_date_time_new_from_iso8601 (stamped[0], NULL);
  g_assert_nonnull (when);
  g_assert_cmpstr (stamped[1], ==, "d\n");
  /* d came 1.5 s after the others: from its time on, d alone; before it,
   * the rest. */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, &out, &err, "logs", "--since", stamped[0], "talker", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "d\n");
  g_assert_cmpstr (err, ==, "");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, &out, &err, "logs", "--until", stamped[0], "talker", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "a\nb\n");
  g_assert_cmpstr (err, ==, "c\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "logs", "--since", "1h", "talker", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "a\nb\nd\n");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "logs", "--tail", "x", "talker", NULL), ==, 2);
  tu_assert_one_line_error (err, "--tail 'x': not a number of lines or all");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "logs", "--since", "yesterday", "talker", NULL), ==, 2);
  tu_assert_one_line_error (err, "--since 'yesterday': not a time");
  /* Found by fuzz-cli-input: a number of seconds past what a µs count
   * holds was cast regardless. */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "logs", "--until", "17651000000000000000000000",
                          "talker", NULL), ==, 2);
  tu_assert_one_line_error (err, "not a time");
}

/* --format as Docker users write it: inspect (of a container, or of an
 * image when no container has the name), ps and images, {{.Path}} and
 * {{json .Path}}; what berth's templates do not know is refused. */
static void
test_format (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_autofree char *id = NULL;
  g_assert_cmpint (berth (f, &id, NULL, "run", "-d", "--name", "fmt", "--network", "none",
                          "busybox", "sleep", "1000", NULL), ==, 0);
  g_strstrip (id);
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "inspect", "-f",
                          "{{.Id}} {{.State.Running}} {{json .State.Running}}\t{{.Nope}}", "fmt",
                          NULL), ==, 0);
  g_autofree char *want = g_strdup_printf ("%s true true\t<no value>\n", id);
  g_assert_cmpstr (out, ==, want);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "inspect", "--format", "{{json .RepoTags}}", "busybox",
                          NULL), ==, 0);
  g_assert_cmpstr (out, ==, "[\"busybox:latest\"]\n");
  g_autofree char *err = NULL;
  g_assert_cmpint (berth (f, NULL, &err, "inspect", "--type", "image", "-f", "{{.Id}}", "fmt",
                          NULL), ==, 1);
  tu_assert_one_line_error (err, "no such image: fmt");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "ps", "--format", "{{.Names}}\\t{{.State}} {{.Command}}",
                          NULL), ==, 0);
  g_assert_cmpstr (out, ==, "fmt\trunning \"sleep 1000\"\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "images", "--format", "{{.Repository}}:{{.Tag}}", NULL),
                   ==, 0);
  g_assert_cmpstr (out, ==, "busybox:latest\n");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "ps", "--format", "{{range .Mounts}}{{end}}", NULL), ==,
                   2);
  tu_assert_one_line_error (err, "berth's templates know {{.Path}} and {{json .Path}} only");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "inspect", "-f", "{{.Id", "fmt", NULL), ==, 2);
  tu_assert_one_line_error (err, "a {{ without its }}");
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "-f", "fmt", NULL), ==, 0);
}

/* rename, as Docker's: the new name finds the container, the old one no
 * longer does; a taken or bad name is refused and changes nothing. */
static void
test_rename (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_autofree char *id = NULL;
  g_assert_cmpint (berth (f, &id, NULL, "create", "--name", "before", "--network", "none",
                          "busybox", "true", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "create", "--name", "other", "--network", "none",
                          "busybox", "true", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "rename", "before", "after", NULL), ==, 0);
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "inspect", "-f", "{{.Id}}", "after", NULL), ==, 0);
  g_assert_cmpstr (out, ==, id);
  g_autofree char *err = NULL;
  g_assert_cmpint (berth (f, NULL, &err, "inspect", "--type", "container", "before", NULL), ==,
                   1);
  tu_assert_one_line_error (err, "no such container: before");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "rename", "after", "other", NULL), ==, 1);
  tu_assert_one_line_error (err, "container name 'other' is already in use");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "rename", "after", "Bad Name", NULL), ==, 1);
  tu_assert_one_line_error (err, "invalid name 'Bad Name'");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-a", "--format", "{{.Names}}", NULL), ==, 0);
  g_auto (GStrv) names = g_strsplit (g_strstrip (out), "\n", -1);
  g_assert_cmpuint (g_strv_length (names), ==, 2);
  g_assert_true (g_strv_contains ((const char *const *) names, "after"));
  g_assert_true (g_strv_contains ((const char *const *) names, "other"));
}

/* Volumes as Docker's: a named one outlives its containers and is made
 * on first use; an empty one gets the image's content at its path; an
 * anonymous one goes with rm -v and run --rm; one in use is not removed;
 * --mount and --tmpfs mount what they say. A bad name or field is one
 * line and leaves no volume behind. */
static void
test_volumes (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (berth (f, NULL, NULL, "run", "--rm", "--network", "none", "-v", "data:/data",
                          "busybox", "sh", "-c", "echo kept > /data/f", NULL), ==, 0);
  g_assert_cmpint (berth (f, &out, NULL, "run", "--rm", "--network", "none", "--mount",
                          "type=volume,source=data,target=/d,readonly", "busybox", "cat", "/d/f",
                          NULL), ==, 0);
  g_assert_cmpstr (out, ==, "kept\n");
  g_clear_pointer (&out, g_free);
  /* Copy-up: the image's /etc into a new volume, owner and content. */
  g_assert_cmpint (berth (f, &out, NULL, "run", "--rm", "--network", "none", "-v", "etc:/mnt",
                          "busybox", "true", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "run", "--rm", "--network", "none", "-v", "etc:/etc",
                          "busybox", "cat", "/etc/passwd", NULL), ==, 0);
  g_assert_true (g_str_has_prefix (out, "root:"));
  g_clear_pointer (&out, g_free);
  /* Anonymous: made by -v /path, gone with rm -v. */
  g_assert_cmpint (berth (f, NULL, NULL, "create", "--name", "anon", "--network", "none", "-v",
                          "/scratch", "busybox", "true", NULL), ==, 0);
  g_assert_cmpint (berth (f, &out, NULL, "volume", "ls", "-q", NULL), ==, 0);
  g_auto (GStrv) with_anon = g_strsplit (g_strstrip (out), "\n", -1);
  g_assert_cmpuint (g_strv_length (with_anon), ==, 3);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "volume", "rm", "data", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "run", "-d", "--name", "user", "--network", "none", "-v",
                          "data:/data", "busybox", "sleep", "60", NULL), ==, 0);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "volume", "rm", "data", NULL), ==, 1);
  tu_assert_one_line_error (err, "volume data is in use by container user");
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "-f", "-v", "user", "anon", NULL), ==, 0);
  g_assert_cmpint (berth (f, &out, NULL, "volume", "ls", "-q", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "data\netc\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, NULL, NULL, "run", "--rm", "--network", "none", "-v", "/gone",
                          "busybox", "true", NULL), ==, 0);
  g_assert_cmpint (berth (f, &out, NULL, "volume", "ls", "-q", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "data\netc\n");
  g_clear_pointer (&out, g_free);
  /* --volumes-from: the other container's volumes and binds, its modes or
   * the one asked for; a -v of the same destination wins. */
  g_autofree char *bind_src = scratch_tree (f, "bindsrc", "b", "bound\n");
  g_autofree char *bind_arg = g_strconcat (bind_src, ":/b:ro", NULL);
  g_assert_cmpint (berth (f, NULL, NULL, "create", "--name", "holder", "--network", "none", "-v",
                          "data:/data", "-v", bind_arg, "--tmpfs", "/t", "busybox", "true", NULL),
                   ==, 0);
  g_assert_cmpint (berth (f, &out, NULL, "run", "--rm", "--network", "none", "--volumes-from",
                          "holder", "busybox", "sh", "-c", "cat /b/b; grep -c ' /t ' "
                          "/proc/mounts; touch /data/w && echo writable", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "bound\n0\nwritable\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "run", "--rm", "--network", "none", "--volumes-from",
                          "holder:ro", "-v", "etc:/b", "busybox", "sh", "-c",
                          "touch /data/x || echo refused; ls /b | grep -c passwd", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "refused\n1\n");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "run", "--rm", "--volumes-from", "nobody", "busybox",
                          "true", NULL), ==, 1);
  tu_assert_one_line_error (err, "--volumes-from 'nobody': no such container");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "holder", NULL), ==, 0);
  /* tmpfs, by --tmpfs and by --mount: Docker's noexec,nosuid,nodev. */
  g_assert_cmpint (berth (f, &out, NULL, "run", "--rm", "--network", "none", "--tmpfs",
                          "/t1:size=1m", "--mount", "type=tmpfs,target=/t2,tmpfs-size=2m",
                          "busybox", "grep", " /t[12] ", "/proc/mounts", NULL), ==, 0);
  g_auto (GStrv) mounts = g_strsplit (g_strstrip (out), "\n", -1);
  g_assert_cmpuint (g_strv_length (mounts), ==, 2);
  g_assert_nonnull (strstr (mounts[0], "tmpfs rw,nosuid,nodev,noexec"));
  g_assert_nonnull (strstr (mounts[0], "size=1024k"));
  g_assert_nonnull (strstr (mounts[1], "size=2048k"));
  /* Refused in one line, nothing made. */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "run", "--rm", "-v", "bad name:/d", "busybox", "true",
                          NULL), ==, 1);
  tu_assert_one_line_error (err, "invalid volume name 'bad name'");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "run", "--rm", "--mount", "type=bind,source=/nonexistent,"
                          "target=/d", "busybox", "true", NULL), ==, 1);
  tu_assert_one_line_error (err, "bind source path does not exist: /nonexistent");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "run", "--rm", "-v", "new:/d", "--tmpfs", "relative",
                          "busybox", "true", NULL), ==, 1);
  tu_assert_one_line_error (err, "--tmpfs 'relative': the path must be absolute");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "volume", "ls", "-q", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "data\netc\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "volume", "prune", "-f", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "Deleted Volumes:\ndata\netc\n");
}

/* cp both ways, into a stopped container (its volume placed) and a running
 * one: docker cp's owners (the container's root in, the caller out, -a
 * keeps), names and refusals. tests/clients/cp-differential.sh holds the
 * same rules against docker cp itself. */
static void
test_cp (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_autofree char *host = scratch_tree (f, "host", "sub/f", "from the host\n");
  g_autofree char *file = g_build_filename (host, "sub/f", NULL);
  g_assert_cmpint (chown (file, 1234, 2345), ==, 0);
  g_autofree char *sub = g_build_filename (host, "sub", NULL);
  g_assert_cmpint (berth (f, NULL, NULL, "create", "--name", "c", "--network", "none", "-v",
                          "vol:/data", "busybox", "sleep", "60", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "cp", file, "c:/tmp/renamed", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "cp", "-a", file, "c:/tmp/kept", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "cp", sub, "c:/data/", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "start", "c", NULL), ==, 0);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "exec", "c", "stat", "-c", "%n %u:%g %s",
                          "/tmp/renamed", "/tmp/kept", "/data/sub/f", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "/tmp/renamed 0:0 14\n/tmp/kept 1234:2345 14\n/data/sub/f 0:0 14\n");
  g_clear_pointer (&out, g_free);
  /* Running: made there, seen by its processes. */
  g_assert_cmpint (berth (f, NULL, NULL, "cp", file, "c:/data/sub/again", NULL), ==, 0);
  g_assert_cmpint (berth (f, &out, NULL, "exec", "c", "cat", "/data/sub/again", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "from the host\n");
  g_clear_pointer (&out, g_free);
  /* Out: a directory to a new name, owned by the caller. */
  g_autofree char *back = g_build_filename (f->dir, "back", NULL);
  g_assert_cmpint (berth (f, NULL, NULL, "cp", "c:/data/sub", back, NULL), ==, 0);
  g_autofree char *back_file = g_build_filename (back, "f", NULL);
  g_autofree char *contents = NULL;
  g_assert_true (g_file_get_contents (back_file, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==, "from the host\n");
  struct stat st;
  g_assert_cmpint (stat (back_file, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, getuid ());
  /* Out as a tar on stdout: the container's names and owners. */
  g_assert_cmpint (berth (f, &out, NULL, "cp", "c:/tmp/kept", "-", NULL), ==, 0);
  g_assert_true (g_str_has_prefix (out, "kept"));
  g_clear_pointer (&out, g_free);
  /* Refusals: one line each. */
  g_assert_cmpint (berth (f, NULL, &err, "cp", sub, "c:/etc/passwd", NULL), ==, 1);
  tu_assert_one_line_error (err, "cannot copy directory");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "cp", "c:/nonexistent", back, NULL), ==, 1);
  tu_assert_one_line_error (err, "c:/nonexistent: no such file or directory");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "cp", file, "c:/nodir/", NULL), ==, 1);
  tu_assert_one_line_error (err, "the destination directory does not exist");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "cp", file, back, NULL), ==, 2);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "-f", "-v", "c", NULL), ==, 0);
}

static int
compare_str_ptrs (const void *a, const void *b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Processes whose command line names @text (berth's, with --root). */
static guint
processes_naming (const char *text)
{
  g_autoptr (GDir) proc = g_dir_open ("/proc", 0, NULL);
  const char *entry;
  guint count = 0;
  while (proc && (entry = g_dir_read_name (proc)))
    {
      if (!g_ascii_isdigit (entry[0]) || atoi (entry) == getpid ())
        continue;
      g_autofree char *path = g_strdup_printf ("/proc/%s/cmdline", entry);
      g_autofree char *cmdline = NULL;
      gsize len = 0;
      if (!g_file_get_contents (path, &cmdline, &len, NULL))
        continue;
      for (gsize i = 0; i + 1 < len; i++)
        if (cmdline[i] == '\0')
          cmdline[i] = ' ';
      if (strstr (cmdline, text))
        {
          g_test_message ("still running: %s", cmdline);
          count++;
        }
    }
  return count;
}

/* inspect -f @format of @name until it prints @want (polled for up to 30 s);
 * returns the last output. */
static char *
inspect_until (Fixture *f, const char *name, const char *format, const char *want)
{
  char *out = NULL;
  for (int i = 0; i < 300; i++)
    {
      g_clear_pointer (&out, g_free);
      g_assert_cmpint (berth (f, &out, NULL, "inspect", "-f", format, name, NULL), ==, 0);
      g_strstrip (out);
      if (strcmp (out, want) == 0)
        break;
      g_usleep (100 * 1000);
    }
  return out;
}

/* Restart policies, carried out by the monitor with no berth command
 * running: on-failure's count, always until a stop, and the boot hook
 * (start --all-restart) after a "crash" that killed the monitor. */
static void
test_restart (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_autofree char *err = NULL, *out = NULL;
  g_assert_cmpint (berth (f, NULL, &err, "create", "--restart", "sometimes", "busybox", NULL),
                   ==, 1);
  tu_assert_one_line_error (err, "--restart 'sometimes': unknown policy");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "create", "--restart", "always:3", "busybox", NULL), ==, 1);
  tu_assert_one_line_error (err, "only for on-failure");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "run", "--rm", "--restart", "always", "busybox", "true",
                          NULL), ==, 2);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "create", "--rm", "--restart", "always", "busybox",
                          "true", NULL), ==, 1);
  tu_assert_one_line_error (err, "conflict");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-aq", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_clear_pointer (&out, g_free);
  /* create --rm (docker create --rm, the API's AutoRemove): the record
   * says so, and the start removes it at its exit. */
  g_assert_cmpint (berth (f, NULL, NULL, "create", "--rm", "--name", "once", "--network", "none",
                          "busybox", "true", NULL), ==, 0);
  g_assert_cmpint (berth (f, &out, NULL, "inspect", "-f", "{{.HostConfig.AutoRemove}}", "once",
                          NULL), ==, 0);
  g_assert_cmpstr (out, ==, "true\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, NULL, NULL, "start", "once", NULL), ==, 0);
  for (int i = 0; i < 100; i++)
    {
      g_clear_pointer (&out, g_free);
      g_assert_cmpint (berth (f, &out, NULL, "ps", "-aq", NULL), ==, 0);
      if (*out == '\0')
        break;
      g_usleep (50 * 1000);
    }
  g_assert_cmpstr (out, ==, "");
  g_clear_pointer (&out, g_free);
  /* on-failure:2: the first run and two restarts, then it rests. */
  g_assert_cmpint (berth (f, NULL, NULL, "run", "-d", "--name", "fails", "--network", "none",
                          "--restart", "on-failure:2", "busybox", "sh", "-c", "echo ran; exit 3",
                          NULL), ==, 0);
  g_autofree char *last = inspect_until (f, "fails", "{{.State.Status}} {{.RestartCount}} "
                                         "{{.State.ExitCode}}", "exited 2 3");
  g_assert_cmpstr (last, ==, "exited 2 3");
  g_assert_cmpint (berth (f, &out, NULL, "logs", "fails", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "ran\nran\nran\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "inspect", "-f", "{{json .HostConfig.RestartPolicy}}",
                          "fails", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "{\"Name\":\"on-failure\",\"MaximumRetryCount\":2}\n");
  g_clear_pointer (&out, g_free);
  /* always: back after each exit, until a stop, whose monitor goes. */
  g_assert_cmpint (berth (f, NULL, NULL, "run", "-d", "--name", "always", "--network", "none",
                          "--restart", "always", "busybox", "sh", "-c", "sleep 0.2", NULL), ==, 0);
  g_clear_pointer (&last, g_free);
  last = inspect_until (f, "always", "{{.RestartCount}}", "2");
  g_assert_cmpstr (last, ==, "2");
  g_assert_cmpint (berth (f, NULL, NULL, "stop", "always", NULL), ==, 0);
  g_assert_cmpint (berth (f, &out, NULL, "inspect", "-f", "{{.State.Status}} {{.State.MonitorPid}}",
                          "always", NULL), ==, 0);
  g_auto (GStrv) stopped = g_strsplit (g_strstrip (out), " ", 2);
  g_assert_cmpstr (stopped[0], ==, "exited");
  g_autofree char *proc = g_strdup_printf ("/proc/%s", stopped[1]);
  for (int i = 0; i < 100 && g_file_test (proc, G_FILE_TEST_EXISTS); i++)
    g_usleep (50 * 1000);
  /* (a pid number reused meanwhile would fail this, never pass it wrongly) */
  g_assert_false (g_file_test (proc, G_FILE_TEST_EXISTS));
  g_clear_pointer (&out, g_free);
  /* unless-stopped: one stopped by hand, one whose monitor died with its
   * program, as in a reboot. The boot hook starts "always" (stopped by hand
   * or not) and the unless-stopped one that was not stopped by hand. */
  g_assert_cmpint (berth (f, NULL, NULL, "run", "-d", "--name", "held", "--network", "none",
                          "--restart", "unless-stopped", "busybox", "sleep", "600", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "stop", "-t", "0", "held", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "run", "-d", "--name", "crashed", "--network", "none",
                          "--restart", "unless-stopped", "busybox", "sleep", "600", NULL), ==, 0);
  g_assert_cmpint (berth (f, &out, NULL, "inspect", "-f", "{{.State.MonitorPid}} {{.State.Pid}}",
                          "crashed", NULL), ==, 0);
  g_auto (GStrv) pids = g_strsplit (g_strstrip (out), " ", 2);
  g_assert_cmpint (kill (atoi (pids[0]), SIGKILL), ==, 0);
  g_assert_cmpint (kill (atoi (pids[1]), SIGKILL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&last, g_free);
  last = inspect_until (f, "crashed", "{{.State.Status}}", "exited");
  g_assert_cmpstr (last, ==, "exited");
  g_assert_cmpint (berth (f, &out, NULL, "start", "--all-restart", NULL), ==, 0);
  g_auto (GStrv) started = g_strsplit (g_strstrip (out), "\n", -1);
  qsort (started, g_strv_length (started), sizeof (char *), compare_str_ptrs);
  g_autofree char *started_text = g_strjoinv (" ", started);
  g_assert_cmpstr (started_text, ==, "always crashed");
  g_clear_pointer (&out, g_free);
  /* ("always" runs 0.2 s at a time: it may be restarting now) */
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-a", "--format", "{{.Names}} {{.State}}", NULL),
                   ==, 0);
  g_assert_nonnull (strstr (out, "held exited"));
  g_assert_nonnull (strstr (out, "crashed running"));
  /* rm -f of a running container with a policy: its monitor must not
   * restart it once killed (a container no record names). */
  g_assert_cmpint (berth (f, NULL, NULL, "run", "-d", "--name", "forever", "--network", "none",
                          "--restart", "always", "busybox", "sleep", "600", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "-f", "forever", "always", "crashed", "held",
                          "fails", NULL), ==, 0);
  g_usleep (G_USEC_PER_SEC); /* ten times the first restart's delay */
  g_assert_cmpuint (processes_naming (f->root), ==, 0);
}

/* --label and ps --filter, as Docker's: a later --label wins, keys alone
 * match any value, one key's values are alternatives, keys all apply, and
 * a status filter lists stopped containers without -a. */
static void
test_labels_filter (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (berth (f, NULL, NULL, "create", "--name", "web", "-l", "app=web", "--label",
                          "tier=front", "-l", "app=api", "busybox", "true", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "run", "--name", "db", "--network", "none", "-l",
                          "app=db", "busybox", "sh", "-c", "exit 4", NULL), ==, 4);
  g_assert_cmpint (berth (f, NULL, NULL, "run", "-d", "--name", "up", "--network", "none",
                          "busybox", "sleep", "60", NULL), ==, 0);
  g_assert_cmpint (berth (f, &out, NULL, "inspect", "-f", "{{json .Config.Labels}}", "web", NULL),
                   ==, 0);
  g_assert_cmpstr (out, ==, "{\"app\":\"api\",\"tier\":\"front\"}\n");
  g_clear_pointer (&out, g_free);
  struct { const char *args[4]; const char *names; } cases[] = {
    { { "-a", "--filter", "label=app", NULL }, "db\nweb\n" },
    { { "-a", "--filter", "label=app=api", NULL }, "web\n" },
    { { "--filter", "status=exited", NULL }, "db\n" },
    { { "--filter", "exited=4", NULL }, "db\n" },
    { { "-a", "--filter", "name=u", NULL }, "up\n" },
    { { "--filter", "status=created", NULL }, "web\n" },
    { { "-a", "--filter", "ancestor=busybox", NULL }, "db\nup\nweb\n" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *list = NULL;
      const char *const *a = cases[i].args;
      g_assert_cmpint (berth (f, &list, NULL, "ps", "--format", "{{.Names}}", a[0], a[1], a[2],
                              NULL), ==, 0);
      g_auto (GStrv) names = g_strsplit (g_strstrip (list), "\n", -1);
      qsort (names, g_strv_length (names), sizeof (char *), compare_str_ptrs);
      g_autofree char *sorted = g_strjoinv ("\n", names);
      g_autofree char *got = g_strconcat (sorted, sorted[0] ? "\n" : "", NULL);
      g_assert_cmpstr (got, ==, cases[i].names);
    }
  /* Labels, unlike other keys' values, must all match (Docker's). */
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-a", "--format", "{{.Names}}", "--filter",
                          "label=app", "--filter", "label=tier", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "web\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "ps", "--filter", "colour=red", NULL), ==, 2);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "create", "-l", "bad key=1", "busybox", NULL), ==, 1);
  tu_assert_one_line_error (err, "--label 'bad key=1'");
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "-f", "web", "db", "up", NULL), ==, 0);
}

/* The TOTAL and ACTIVE columns of `system df`'s row @kind. */
static char *
df_counts (Fixture *f, const char *kind)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "system", "df", NULL), ==, 0);
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  for (char **l = lines; *l; l++)
    if (g_str_has_prefix (*l, kind))
      {
        g_auto (GStrv) words = g_strsplit_set (*l + strlen (kind), " ", -1);
        g_autoptr (GPtrArray) kept = g_ptr_array_new ();
        for (char **w = words; *w; w++)
          if (**w)
            g_ptr_array_add (kept, *w);
        g_assert_cmpuint (kept->len, >=, 2);
        return g_strdup_printf ("%s %s", (char *) kept->pdata[0], (char *) kept->pdata[1]);
      }
  g_assert_not_reached ();
}

/* system df counts what is there and in use; system prune removes what
 * is not (stopped containers, untagged or with -a every unused image,
 * with --volumes unused volumes) and keeps what is. */
static void
test_system (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "create", "--name", "idle", "--network", "none", "-v",
                          "kept:/k", "busybox", "true", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "run", "-d", "--name", "up", "--network", "none",
                          "busybox", "sleep", "60", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "volume", "create", "loose", NULL), ==, 0);
  g_autofree char *images = df_counts (f, "Images");
  g_autofree char *containers = df_counts (f, "Containers");
  g_autofree char *volumes = df_counts (f, "Local Volumes");
  g_assert_cmpstr (images, ==, "1 1");
  g_assert_cmpstr (containers, ==, "2 1");
  g_assert_cmpstr (volumes, ==, "2 1");
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (berth (f, NULL, &err, "system", "prune", NULL), ==, 2);
  g_assert_cmpint (berth (f, &out, NULL, "system", "prune", "-f", NULL), ==, 0);
  g_assert_true (g_str_has_prefix (out, "Deleted Containers:\n"));
  g_assert_null (strstr (out, "Deleted Volumes"));
  g_assert_null (strstr (out, "Deleted Images"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-a", "--format", "{{.Names}}", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "up\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "-f", "up", NULL), ==, 0);
  /* image prune: the tagged image stays; container prune: none left */
  g_assert_cmpint (berth (f, &out, NULL, "image", "prune", "-f", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "Total reclaimed space: 0 bytes\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "container", "prune", "-f", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "Total reclaimed space: 0 bytes\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "system", "prune", "-f", "-a", "--volumes", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Deleted Volumes:\nkept\nloose\n"));
  g_assert_nonnull (strstr (out, "Deleted Images:\nsha256:"));
  /* the image's layer, counted before it went */
  g_assert_null (strstr (out, "Total reclaimed space: 0 bytes"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&images, g_free);
  g_clear_pointer (&volumes, g_free);
  images = df_counts (f, "Images");
  volumes = df_counts (f, "Local Volumes");
  g_assert_cmpstr (images, ==, "0 0");
  g_assert_cmpstr (volumes, ==, "0 0");
}

/* --init: the host's tini is pid 1 (Docker's /sbin/docker-init), the
 * command's exit code comes through, and a stop's SIGTERM reaches a
 * command that as pid 1 would have ignored it (143, not 137). */
static void
test_init (Fixture *f, gconstpointer data)
{
  (void) data;
  if (!g_file_test ("/usr/bin/docker-init", G_FILE_TEST_EXISTS)
      && !g_file_test ("/usr/bin/tini-static", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("no tini on this host (apt-get install tini)");
      return;
    }
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "run", "--rm", "--init", "--network", "none", "busybox",
                          "sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; exit 5", NULL), ==, 5);
  g_assert_true (g_str_has_prefix (out, "/sbin/docker-init -- sh -c "));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, NULL, NULL, "run", "-d", "--init", "--name", "sleeper", "--network",
                          "none", "busybox", "sleep", "600", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "stop", "-t", "30", "sleeper", NULL), ==, 0);
  g_assert_cmpint (berth (f, &out, NULL, "inspect", "-f", "{{.State.ExitCode}}", "sleeper", NULL),
                   ==, 0);
  g_assert_cmpstr (out, ==, "143\n");
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "sleeper", NULL), ==, 0);
}

/* events: the journal of what happened, in order, with Docker's
 * attributes; filters; --format; and, without --since, what comes next. */
static void
test_events (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "run", "--name", "e1", "--network", "none", "busybox",
                          "sh", "-c", "exit 3", NULL), ==, 3);
  g_assert_cmpint (berth (f, NULL, NULL, "rename", "e1", "e2", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "e2", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "volume", "create", "vol", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "volume", "rm", "vol", NULL), ==, 0);
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "events", "--since", "1h", "--until", "0s", "-f",
                          "type=container", "-f", "type=volume", "--format",
                          "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "container create e1\ncontainer start e1\ncontainer die e1\n"
                            "container rename e2\ncontainer destroy e2\nvolume create <no value>\n"
                            "volume destroy <no value>\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "events", "--since", "1h", "--until", "0s", "-f",
                          "event=die", NULL), ==, 0);
  g_assert_nonnull (strstr (out, " container die "));
  g_assert_nonnull (strstr (out, "(exitCode=3, image=busybox, name=e1)\n"));
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "events", "-f", "colour=red", NULL), ==, 2);
  /* Without --since: what happens from now on, here until 3 s from now. */
  g_autofree char *until = g_strdup_printf ("%" G_GINT64_FORMAT,
                                            g_get_real_time () / G_USEC_PER_SEC + 3);
  g_autofree char *log = g_build_filename (f->dir, "events.out", NULL);
  const char *argv[] = { "sh", "-c", "exec \"$0\" --root \"$1\" events --until \"$2\" "
                         "--format '{{.Action}} {{.Actor.ID}}' -f type=volume > \"$3\"",
                         tu_berth_bin (), f->root, until, log, NULL };
  GPid watcher;
  g_assert_true (g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD
                                | G_SPAWN_SEARCH_PATH, NULL, NULL, &watcher, NULL));
  g_usleep (G_USEC_PER_SEC / 2);
  g_assert_cmpint (berth (f, NULL, NULL, "volume", "create", "later", NULL), ==, 0);
  int status;
  g_assert_cmpint (waitpid (watcher, &status, 0), ==, watcher);
  g_spawn_close_pid (watcher);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_autofree char *seen = NULL;
  g_assert_true (g_file_get_contents (log, &seen, NULL, NULL));
  g_assert_cmpstr (seen, ==, "create later\n");
}

/* stats without --no-stream streams, as Docker's: frame after frame
 * while the container runs, then one showing it stopped, and it ends
 * there by itself. */
static void
test_stats_stream (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "run", "-d", "--name", "busy", "--network", "none",
                          "busybox", "sleep", "3", NULL), ==, 0);
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "stats", "busy", NULL), ==, 0);
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  guint frames = 0, running_rows = 0;
  const char *last_row = NULL;
  for (char **l = lines; *l; l++)
    if (g_str_has_prefix (*l, "CONTAINER ID"))
      frames++;
    else if (**l)
      {
        running_rows += strstr (*l, " / ") && !strstr (*l, "--");
        last_row = *l;
      }
  g_assert_cmpuint (frames, >=, 2);
  g_assert_cmpuint (running_rows, ==, frames - 1);
  g_assert_nonnull (last_row);
  g_assert_nonnull (strstr (last_row, "busy"));
  g_assert_nonnull (strstr (last_row, " -- "));
  /* CPU %, Docker's: CPU time over time passed since the last reading. A
   * loop uses some, a sleep none. */
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, NULL, NULL, "run", "-d", "--name", "spin", "--network", "none",
                          "busybox", "sh", "-c", "while :; do :; done", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "run", "-d", "--name", "idle", "--network", "none",
                          "busybox", "sleep", "60", NULL), ==, 0);
  g_assert_cmpint (berth (f, &out, NULL, "stats", "--no-stream", "spin", "idle", NULL), ==, 0);
  g_auto (GStrv) rows = g_strsplit (out, "\n", -1);
  g_assert_nonnull (strstr (rows[0], "CPU %"));
  g_auto (GStrv) spin = g_strsplit_set (rows[1], " ", -1);
  g_autoptr (GPtrArray) words = g_ptr_array_new ();
  for (char **w = spin; *w; w++)
    if (**w)
      g_ptr_array_add (words, *w);
  g_assert_cmpstr (words->pdata[1], ==, "spin");
  g_assert_cmpfloat (g_ascii_strtod (words->pdata[2], NULL), >, 0.0);
  g_assert_nonnull (strstr (rows[2], " 0.00% "));
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "-f", "spin", "idle", NULL), ==, 0);
}

/* run -t and exec -t: the pty is made in the container's own devpts, as
 * runc makes it for Docker, so `tty` prints /dev/pts/0 (it printed
 * /dev/console for run -t); the exit code comes through. */
static void
test_terminals (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "run", "--rm", "-t", "busybox", "sh", "-c",
                          "tty; stat -c '%t:%T' /dev/console; exit 3", NULL), ==, 3);
  g_assert_cmpstr (out, ==, "/dev/pts/0\r\n88:0\r\n");
  g_assert_cmpint (berth (f, NULL, NULL, "run", "-d", "--name", "tt", "busybox", "sleep", "100", NULL),
                   ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "exec", "-t", "tt", "tty", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "/dev/pts/0\r\n");
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "-f", "tt", NULL), ==, 0);
}

/* A docker-save archive naming 20000 tags loads them all, with one
 * rewrite of tags.json (it took 268 s with one fsync'd rewrite per tag);
 * a manifest past 16 MiB is refused before it is parsed. */
static void
test_load_many_tags (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *id = NULL;
  g_free (make_docker_save (f, &id));
  g_autofree char *save_dir = g_build_filename (f->dir, "save", NULL);
  g_autofree char *mpath = g_build_filename (save_dir, "manifest.json", NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (mpath, &text, NULL, NULL));
  g_autoptr (GString) tags = g_string_new (NULL);
  for (int i = 0; i < 20000; i++)
    g_string_append_printf (tags, "%s\"many:t%d\"", i ? "," : "", i);
  g_auto (GStrv) parts = g_strsplit (text, "\"saved:v1\"", -1);
  g_autofree char *many = g_strjoinv (tags->str, parts);
  tu_write_file (mpath, many, 0644);
  g_autofree char *many_tar = make_tar (f, "many.tar", save_dir);
  g_assert_cmpint (berth (f, NULL, NULL, "load", "-i", many_tar, NULL), ==, 0);
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "images", NULL), ==, 0);
  guint n = 0;
  for (const char *p = out; (p = strstr (p, "\nmany ")); p++)
    n++;
  g_assert_cmpuint (n, ==, 20000);

  g_autofree char *huge = g_strnfill (17 << 20, ' ');
  huge[0] = '[';
  huge[(17 << 20) - 1] = ']';
  g_autofree char *src = scratch_tree (f, "huge", "manifest.json", huge);
  g_autofree char *huge_tar = make_tar (f, "huge.tar", src);
  g_autofree char *err = NULL;
  g_assert_cmpint (berth (f, NULL, &err, "load", "-i", huge_tar, NULL), ==, 1);
  tu_assert_one_line_error (err, "manifest.json is 17825792 bytes; berth reads at most 16 MiB");
}

/* A command that waits more than a second for the store lock says whom
 * it waits for (the holder's pid and command, as the holder recorded
 * them), then goes on once the lock is free. */
static void
test_lock_wait (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "ps", NULL), ==, 0);
  g_autofree char *err = NULL;
  char *argv[] = { "sh", "-c",
                   "( flock 9; printf '4242 berth load\\n' > \"$1/lock\"; sleep 2 ) 9<>\"$1/lock\" &"
                   " sleep 0.5; \"$0\" --root \"$1\" tag x y 2>&1; wait; exit 0",
                   (char *) tu_berth_bin (), f->root, NULL };
  g_autofree char *out = NULL;
  g_assert_cmpint (tu_run (argv, &out, NULL), ==, 0);
  g_autofree char *want = g_strdup_printf ("berth: waiting for the store lock of %s, held by pid 4242 "
                                           "(berth load)\n", f->root);
  g_assert_true (g_str_has_prefix (out, want));
  /* The readers take no lock: nothing to wait for, nothing said. */
  char *readers[] = { "sh", "-c",
                      "( flock 9; sleep 600 ) 9<>\"$1/lock\" & holder=$!; sleep 0.5;"
                      " \"$0\" --root \"$1\" ps -a && \"$0\" --root \"$1\" images -q"
                      " && \"$0\" --root \"$1\" inspect nothing; rc=$?; kill $holder; exit $rc",
                      (char *) tu_berth_bin (), f->root, NULL };
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (tu_run (readers, &out, &err), ==, 1);
  g_assert_nonnull (strstr (out, "CONTAINER ID"));
  tu_assert_one_line_error (err, "nothing");
}

/* An exclusive flock on @path, as another berth would hold it. */
static int
hold_lock (const char *path)
{
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (flock (fd, LOCK_EX), ==, 0);
  return fd;
}

/* The STATUS column of container @name in `ps -a` (which takes no lock). */
static char *
ps_status (Fixture *f, const char *name)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-a", NULL), ==, 0);
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  /* A user reads the status under the header's STATUS: so does this. */
  const char *header_status = strstr (lines[0], "STATUS");
  g_assert_nonnull (header_status);
  size_t column = (size_t) (header_status - lines[0]);
  g_autofree char *tail = g_strdup_printf (" %s", name);
  for (char **l = lines; *l; l++)
    if (g_str_has_suffix (*l, tail) && strlen (*l) > column)
      return g_strstrip (g_strndup (*l + column, 12));
  return g_strdup ("");
}

/* The program's pid in a started container's state.json. */
static pid_t
state_pid (Fixture *f, const char *id)
{
  g_autofree char *path = g_build_filename (f->root, "containers", id, "state.json", NULL);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_file (p, path, NULL));
  pid_t pid = json_object_get_int_member (json_node_get_object (json_parser_get_root (p)), "Pid");
  g_assert_cmpint (pid, >, 1);
  return pid;
}

/* Poll ps until @name's status is @want; FALSE if it is not within a minute
 * (a liveness bound, not a timing: the exits below take milliseconds). */
static gboolean
await_status (Fixture *f, const char *name, const char *want)
{
  g_autofree char *status = NULL;
  for (int i = 0; i < 600; i++)
    {
      g_free (status);
      status = ps_status (f, name);
      if (g_strcmp0 (status, want) == 0)
        return TRUE;
      g_usleep (100000);
    }
  g_printerr ("# %s: status '%s' after 60 s, not '%s'\n", name, status ? status : "(none)", want);
  return FALSE;
}

/* Two containers' exits are recorded each under its own lock: with one
 * container's lock and the store lock held by someone else, the other's
 * exit is still recorded (and read by a lock-free ps); the first is
 * recorded as soon as its lock is free, each with its own code. */
static void
test_concurrent_exits (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_autofree char *id_a = NULL, *id_b = NULL;
  g_assert_cmpint (berth (f, &id_a, NULL, "run", "-d", "--name", "a", "busybox", "sh", "-c",
                          "trap 'exit 7' USR1; while :; do sleep 0.1; done", NULL), ==, 0);
  g_assert_cmpint (berth (f, &id_b, NULL, "run", "-d", "--name", "b", "busybox", "sh", "-c",
                          "trap 'exit 9' USR1; while :; do sleep 0.1; done", NULL), ==, 0);
  g_strstrip (id_a);
  g_strstrip (id_b);
  pid_t pid_a = state_pid (f, id_a), pid_b = state_pid (f, id_b);
  g_autofree char *lock_a = g_build_filename (f->root, "containers", id_a, "lock", NULL);
  g_autofree char *store_lock = g_build_filename (f->root, "lock", NULL);
  int held_a = hold_lock (lock_a);
  int held_store = hold_lock (store_lock);
  /* Both programs end at once (the signal, straight from here: every berth
   * command but the readers would wait for the store lock we hold). */
  g_assert_cmpint (kill (pid_a, SIGUSR1), ==, 0);
  g_assert_cmpint (kill (pid_b, SIGUSR1), ==, 0);
  g_assert_true (await_status (f, "b", "Exited (9)"));
  /* a's program is gone too (its monitor reaped it), but the monitor
   * waits for a's lock to record it. */
  g_autofree char *proc_a = g_strdup_printf ("/proc/%d", (int) pid_a);
  for (int i = 0; i < 600 && g_file_test (proc_a, G_FILE_TEST_EXISTS); i++)
    g_usleep (100000);
  g_assert_false (g_file_test (proc_a, G_FILE_TEST_EXISTS));
  g_autofree char *still = ps_status (f, "a");
  g_assert_cmpstr (still, ==, "Up");
  close (held_a);
  g_assert_true (await_status (f, "a", "Exited (7)"));
  close (held_store);
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "a", "b", NULL), ==, 0);
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-aq", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
}

/* A load reads and hashes its archive without the store lock: `run --rm`
 * completes, with its output and exit code, while a load fed from a FIFO
 * is provably half-way (alive, and only half its archive written), and
 * ps and images answer meanwhile. The load then commits what the store
 * already holds (the same image) without storing it twice. */
static void
test_run_during_load (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_autofree char *tar = g_build_filename (f->dir, "busybox.tar", NULL);
  g_assert_cmpint (berth (f, NULL, NULL, "save", "-o", tar, "busybox", NULL), ==, 0);
  g_autofree char *bytes = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (tar, &bytes, &len, NULL));
  g_autofree char *fifo = g_build_filename (f->dir, "feed", NULL);
  g_autofree char *log = g_build_filename (f->dir, "load.out", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  const char *argv[] = { "sh", "-c", "exec \"$0\" --root \"$1\" load -i \"$2\" > \"$3\"",
                         tu_berth_bin (), f->root, fifo, log, NULL };
  GPid load;
  g_assert_true (g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD
                                | G_SPAWN_SEARCH_PATH, NULL, NULL, &load, NULL));
  /* Opens once the load has opened its input; then half the archive. */
  int feed = open (fifo, O_WRONLY | O_CLOEXEC);
  g_assert_cmpint (feed, >=, 0);
  g_assert_cmpint (write (feed, bytes, len / 2), ==, (gssize) (len / 2));

  g_autofree char *out = NULL, *err = NULL;
  char *run[] = { "timeout", "120", (char *) tu_berth_bin (), "--root", f->root, "run", "--rm",
                  "busybox", "sh", "-c", "echo hello; exit 3", NULL };
  g_assert_cmpint (tu_run (run, &out, &err), ==, 3);
  g_assert_cmpstr (out, ==, "hello\n");
  g_assert_cmpstr (err, ==, "");
  /* The load has not finished, and cannot have: half its input is unwritten. */
  int status = 0;
  g_assert_cmpint (waitpid (load, &status, WNOHANG), ==, 0);
  g_autofree char *ids = NULL;
  g_assert_cmpint (berth (f, &ids, NULL, "images", "-q", NULL), ==, 0);
  g_assert_cmpuint (strlen (ids), ==, 13);
  g_autofree char *ps = NULL;
  g_assert_cmpint (berth (f, &ps, NULL, "ps", "-aq", NULL), ==, 0);
  g_assert_cmpstr (ps, ==, "");
  g_assert_cmpint (waitpid (load, &status, WNOHANG), ==, 0);

  g_assert_cmpint (write (feed, bytes + len / 2, len - len / 2), ==, (gssize) (len - len / 2));
  close (feed);
  g_assert_cmpint (waitpid (load, &status, 0), ==, load);
  g_spawn_close_pid (load);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_autofree char *loaded = NULL;
  g_assert_true (g_file_get_contents (log, &loaded, NULL, NULL));
  g_assert_cmpstr (loaded, ==, "Loaded image: busybox:latest\n");
  g_clear_pointer (&ids, g_free);
  g_assert_cmpint (berth (f, &ids, NULL, "images", "-q", NULL), ==, 0);
  g_assert_cmpuint (strlen (ids), ==, 13);
  /* Nothing staged is left behind. */
  g_autofree char *tmp = g_build_filename (f->root, "tmp", NULL);
  g_assert_cmpuint (count_entries (tmp), ==, 0);
}

/* Under the sanitizer build (tests/sanitize/run-sanitized.sh): no leak
 * check in a berth strace runs, and its children, since LeakSanitizer stops
 * them with ptrace, which strace holds already ("LeakSanitizer does not
 * work under ptrace"); ASan and UBSan still check them. The last value of
 * an option wins. Adds strace's -E option to @argv; *@owned gets what
 * the caller frees after the run. */
static void
strace_add_no_leak_check (GPtrArray *argv, char **owned)
{
  const char *asan = g_getenv ("ASAN_OPTIONS");
  if (asan == NULL)
    return;
  *owned = g_strdup_printf ("ASAN_OPTIONS=%s:detect_leaks=0", asan);
  g_ptr_array_add (argv, (gpointer) "-E");
  g_ptr_array_add (argv, *owned);
}

/* `berth --storage-driver overlay load -i @tar` under strace, stopped
 * (SIGSTOP) at its first symlink(2): overlay's short link for the first
 * layer it makes, so half-way through unpacking into the driver. Returns
 * strace's pid once strace has seen the stop; *@loader gets berth's. */
static GPid
start_load_stopped_in_unpack (Fixture *f, const char *tar, pid_t *loader)
{
  g_autofree char *log = g_build_filename (f->dir, "load-strace.log", NULL);
  unlink (log);
  *loader = 0;
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const char *head[] = { "strace", "-f", "-o", log, "-e", "trace=symlink", "-e",
                         "inject=symlink:signal=STOP:when=1" };
  for (guint i = 0; i < G_N_ELEMENTS (head); i++)
    g_ptr_array_add (argv, (gpointer) head[i]);
  g_autofree char *no_leaks = NULL;
  strace_add_no_leak_check (argv, &no_leaks);
  const char *tail[] = { tu_berth_bin (), "--root", f->root, "--storage-driver", "overlay",
                         "load", "-i", tar, NULL };
  for (guint i = 0; i < G_N_ELEMENTS (tail); i++)
    g_ptr_array_add (argv, (gpointer) tail[i]);
  GPid tracer;
  g_assert_true (g_spawn_async (NULL, (char **) argv->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD
                                | G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                                &tracer, NULL));
  /* strace logs "PID --- stopped by SIGSTOP ---" once the stop is real (a
   * traced process also stops briefly at every syscall). */
  for (int i = 0; i < 600 && *loader == 0; i++)
    {
      g_autofree char *text = NULL;
      const char *stop = NULL;
      if (g_file_get_contents (log, &text, NULL, NULL)
          && (stop = strstr (text, " --- stopped by SIGSTOP ---")))
        {
          while (stop > text && stop[-1] != '\n')
            stop--;
          *loader = (pid_t) atoi (stop);
        }
      else
        g_usleep (100000);
    }
  g_assert_cmpint (*loader, >, 0);
  return tracer;
}

/* A load unpacks its layers into the driver without the store lock, under
 * layer holds. Stopped half-way through making its first new layer:
 * `run --rm`, ps, images and an rmi (whose garbage collection must leave
 * the held layers alone) all complete meanwhile, and the load then
 * finishes with a working image. Killed at the same point, the next
 * command collects the half-made layer and its holds. */
static void
test_run_during_unpack (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *strace = tu_find_program_or_skip ("strace", "it stops the load half-way");
  if (strace == NULL)
    return;
  g_autofree char *err = NULL;
  int rc = berth (f, NULL, &err, "--storage-driver", "overlay", "image", "bootstrap", "busybox",
                  NULL);
  if (rc != 0 && err && strstr (err, "storage driver"))
    {
      g_test_skip_printf ("%s", err);
      return;
    }
  g_assert_cmpint (rc, ==, 0);
  /* img2: busybox and one more layer, which the store then forgets. */
  g_assert_cmpint (berth (f, NULL, NULL, "--storage-driver", "overlay", "run", "--name", "c",
                          "busybox", "touch", "/x", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "commit", "c", "img2", NULL), ==, 0);
  g_autofree char *tar = g_build_filename (f->dir, "img2.tar", NULL);
  g_assert_cmpint (berth (f, NULL, NULL, "save", "-o", tar, "img2", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "c", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "rmi", "img2", NULL), ==, 0);
  g_autofree char *layers = g_build_filename (f->root, "storage", "overlay", NULL);
  g_autofree char *links = g_build_filename (layers, "l", NULL);
  g_autofree char *holds = g_build_filename (f->root, "holds", NULL);
  guint layers_before = count_entries (layers), links_before = count_entries (links);
  g_assert_cmpint (berth (f, NULL, NULL, "import", tar, "junk", NULL), ==, 0);

  pid_t loader = 0;
  GPid tracer = start_load_stopped_in_unpack (f, tar, &loader);
  g_autofree char *out = NULL;
  char *run[] = { "timeout", "120", (char *) tu_berth_bin (), "--root", f->root,
                  "--storage-driver", "overlay", "run", "--rm", "busybox", "sh", "-c",
                  "echo hello; exit 3", NULL };
  g_assert_cmpint (tu_run (run, &out, NULL), ==, 3);
  g_assert_cmpstr (out, ==, "hello\n");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-aq", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpint (berth (f, NULL, NULL, "rmi", "junk", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "images", "-q", NULL), ==, 0);
  g_assert_cmpuint (strlen (out), ==, 13); /* busybox alone: img2 is not committed yet */
  int status = 0;
  g_assert_cmpint (waitpid (tracer, &status, WNOHANG), ==, 0); /* still where it was */
  g_assert_cmpuint (count_entries (holds), ==, 2);
  g_assert_cmpint (kill (loader, SIGCONT), ==, 0);
  g_assert_cmpint (waitpid (tracer, &status, 0), ==, tracer);
  g_spawn_close_pid (tracer);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  g_assert_cmpint (berth (f, NULL, NULL, "--storage-driver", "overlay", "run", "--rm", "img2",
                          "test", "-e", "/x", NULL), ==, 0);
  g_assert_cmpuint (count_entries (holds), ==, 0);

  /* Killed half-way instead: the half-made layer, its short link and the
   * holds go with the next command. */
  g_assert_cmpint (berth (f, NULL, NULL, "rmi", "img2", NULL), ==, 0);
  g_assert_cmpuint (count_entries (layers), ==, layers_before);
  tracer = start_load_stopped_in_unpack (f, tar, &loader);
  g_assert_cmpint (kill (loader, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (tracer, &status, 0), ==, tracer);
  g_spawn_close_pid (tracer);
  g_assert_cmpuint (count_entries (holds), ==, 2);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-aq", NULL), ==, 0);
  g_assert_cmpuint (count_entries (holds), ==, 0);
  g_assert_cmpuint (count_entries (layers), ==, layers_before);
  g_assert_cmpuint (count_entries (links), ==, links_before);
  g_assert_cmpint (berth (f, NULL, NULL, "--storage-driver", "overlay", "load", "-i", tar, NULL),
                   ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "--storage-driver", "overlay", "run", "--rm", "img2",
                          "test", "-e", "/x", NULL), ==, 0);
}

/* Is a process with exactly this command line alive? */
static gboolean
process_running (const char *cmdline, gsize len)
{
  g_autoptr (GDir) d = g_dir_open ("/proc", 0, NULL);
  for (const char *name; d && (name = g_dir_read_name (d));)
    {
      g_autofree char *path = g_strdup_printf ("/proc/%s/cmdline", name);
      g_autofree char *text = NULL;
      gsize n = 0;
      if (g_ascii_isdigit (*name) && g_file_get_contents (path, &text, &n, NULL) && n == len
          && memcmp (text, cmdline, len) == 0)
        return TRUE;
    }
  return FALSE;
}

/* A foreground `run --rm` whose monitor is killed (SIGKILL, the OOM
 * killer) still removes its container and stops its program: the
 * waiting command does what the monitor could not. */
static void
test_killed_monitor_rm (Fixture *f, gconstpointer data)
{
  (void) data;
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  const char *argv[] = { tu_berth_bin (), "--root", f->root, "run", "--rm", "--name", "fg", "busybox",
                         "sleep", "4242", NULL };
  GPid run;
  g_assert_true (g_spawn_async (NULL, (char **) argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                                &run, NULL));
  static const char sleep_cmdline[] = "sleep\0" "4242";
  for (int i = 0; i < 500 && !process_running (sleep_cmdline, sizeof sleep_cmdline); i++)
    g_usleep (20000);
  g_assert_true (process_running (sleep_cmdline, sizeof sleep_cmdline));
  /* the monitor: the run command's child */
  g_autofree char *children_path = g_strdup_printf ("/proc/%d/task/%d/children", run, run);
  g_autofree char *children = NULL;
  g_assert_true (g_file_get_contents (children_path, &children, NULL, NULL));
  int monitor = atoi (children);
  g_assert_cmpint (monitor, >, 1);
  g_assert_cmpint (kill (monitor, SIGKILL), ==, 0);
  int status;
  g_assert_cmpint (waitpid (run, &status, 0), ==, run);
  g_spawn_close_pid (run);
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-aq", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_assert_false (process_running (sleep_cmdline, sizeof sleep_cmdline));
}

/* A directory that is not a store, with what opening a store used to
 * sweep away: a tmp/ subtree and a "*.tmp-*" file. */
static char *
canary_dir (Fixture *f, const char *name, gboolean with_notes)
{
  char *dir = scratch_tree (f, name, "tmp/keep", "keep me\n");
  g_autofree char *tmpfile = g_build_filename (dir, "a.tmp-123", NULL);
  tu_write_file (tmpfile, "canary\n", 0644);
  if (with_notes)
    {
      g_autofree char *notes = g_build_filename (dir, "notes.txt", NULL);
      tu_write_file (notes, "my notes\n", 0644);
    }
  return dir;
}

/* berth run from @cwd with "--root ''", as "--root $UNSET" would be. */
static int
berth_empty_root_in (const char *cwd, char **err)
{
  char *argv[] = { "sh", "-c", "cd \"$0\" && exec \"$1\" --root '' ps -a", (char *) cwd,
                   (char *) tu_berth_bin (), NULL };
  return tu_run (argv, NULL, err);
}

/* Opening a store empties its tmp/ and deletes its *.tmp-* files, so a
 * directory that is not a store is refused whole, and left as it was. */
static void
test_foreign_root (Fixture *f, gconstpointer data)
{
  g_autofree char *dir = canary_dir (f, "notastore", TRUE);
  g_autofree char *before = tu_tree_manifest (dir);
  g_autofree char *err = NULL;
  g_assert_cmpint (tu_berth (dir, NULL, &err, "ps", "-a", NULL), ==, 1);
  tu_assert_one_line_error (err, "not a berth store (no berth-store marker) and not empty");
  g_assert_nonnull (strstr (err, dir));
  g_autofree char *after = tu_tree_manifest (dir);
  g_assert_cmpstr (after, ==, before);

  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth_empty_root_in (dir, &err), ==, 2);
  tu_assert_one_line_error (err, "--root is empty");
  g_clear_pointer (&after, g_free);
  after = tu_tree_manifest (dir);
  g_assert_cmpstr (after, ==, before);

  /* Only store-like names, but not what any berth made: still refused. */
  g_autofree char *lookalike = canary_dir (f, "lookalike", FALSE);
  g_autofree char *before2 = tu_tree_manifest (lookalike);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tu_berth (lookalike, NULL, &err, "ps", "-a", NULL), ==, 1);
  tu_assert_one_line_error (err, "it holds 'a.tmp-123'");
  g_autofree char *tmpfile = g_build_filename (lookalike, "a.tmp-123", NULL);
  g_assert_cmpint (unlink (tmpfile), ==, 0);
  g_clear_pointer (&before2, g_free);
  before2 = tu_tree_manifest (lookalike);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tu_berth (lookalike, NULL, &err, "ps", "-a", NULL), ==, 1);
  tu_assert_one_line_error (err, "it has parts of a store's layout but no");
  g_autofree char *after2 = tu_tree_manifest (lookalike);
  g_assert_cmpstr (after2, ==, before2);

  g_autofree char *file = g_build_filename (f->dir, "afile", NULL);
  tu_write_file (file, "x\n", 0644);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tu_berth (file, NULL, &err, "ps", "-a", NULL), ==, 1);
  tu_assert_one_line_error (err, "not a directory");
}

static void
assert_marker (const char *root)
{
  g_autofree char *marker = g_build_filename (root, "berth-store", NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (marker, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, "berth store format 1\n");
}

/* Missing and empty directories become stores; a store made by a berth
 * from before the marker is adopted with its images. */
static void
test_store_marker (Fixture *f, gconstpointer data)
{
  g_autofree char *missing = g_build_filename (f->dir, "a", "b", "store", NULL);
  g_assert_cmpint (tu_berth (missing, NULL, NULL, "ps", "-a", NULL), ==, 0);
  assert_marker (missing);
  g_autofree char *empty = g_build_filename (f->dir, "empty", NULL);
  g_assert_cmpint (mkdir (empty, 0700), ==, 0);
  g_assert_cmpint (tu_berth (empty, NULL, NULL, "ps", "-a", NULL), ==, 0);
  assert_marker (empty);

  /* An old store: the layout, lock, driver and tags.json, no marker. */
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_autofree char *marker = g_build_filename (f->root, "berth-store", NULL);
  g_assert_cmpint (unlink (marker), ==, 0);
  /* holds/ came after the marker: a berth from before it made none. */
  g_autofree char *holds = g_build_filename (f->root, "holds", NULL);
  g_assert_cmpint (rmdir (holds), ==, 0);
  /* nor the events journal, which came after it too */
  g_autofree char *journal = g_build_filename (f->root, "events.jsonl", NULL);
  g_assert_cmpint (unlink (journal), ==, 0);
  g_autofree char *staged = g_build_filename (f->root, "tmp", "work-old", NULL);
  g_assert_cmpint (mkdir (staged, 0700), ==, 0);
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "images", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "busybox"));
  assert_marker (f->root);
  /* A reader sweeps nothing; the next command that takes the lock sweeps
   * staging no live command owns. */
  g_assert_true (g_file_test (staged, G_FILE_TEST_EXISTS));
  g_assert_cmpint (berth (f, NULL, NULL, "tag", "busybox", "busybox:again", NULL), ==, 0);
  g_assert_false (g_file_test (staged, G_FILE_TEST_EXISTS));

  g_autofree char *err = NULL;
  tu_write_file (marker, "berth store format 99\n", 0600);
  g_assert_cmpint (berth (f, NULL, &err, "images", NULL), ==, 1);
  tu_assert_one_line_error (err, "store format 99 is newer than this berth understands");
}

/* berth with the NULL-terminated @args under strace, tracing @syscall into
 * @log, and SIGKILLed as the @when'th call of it is made when @when > 0:
 * its exit code (137 when the kill landed). With @follow, its children
 * (the monitor) are traced too, each counting its own calls. */
static int
berth_traced_va (Fixture *f, const char *log, gboolean follow, const char *syscall, int when,
                 va_list args)
{
  g_autofree char *trace = g_strdup_printf ("trace=%s", syscall);
  g_autofree char *inject = g_strdup_printf ("inject=%s:signal=KILL:when=%d", syscall, when);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const char *head[] = { "strace", follow ? "-f" : "-q", "-o", log, "-e", trace, "-e",
                         when > 0 ? inject : trace };
  for (guint i = 0; i < G_N_ELEMENTS (head); i++)
    g_ptr_array_add (argv, (gpointer) head[i]);
  g_autofree char *no_leaks = NULL;
  strace_add_no_leak_check (argv, &no_leaks);
  const char *tail[] = { tu_berth_bin (), "--root", f->root };
  for (guint i = 0; i < G_N_ELEMENTS (tail); i++)
    g_ptr_array_add (argv, (gpointer) tail[i]);
  tu_argv_add_va (argv, args);
  return tu_berth_argv (argv, NULL, NULL);
}

static int G_GNUC_NULL_TERMINATED
berth_traced (Fixture *f, const char *log, gboolean follow, const char *syscall, int when, ...)
{
  va_list ap;
  va_start (ap, when);
  int rc = berth_traced_va (f, log, follow, syscall, when, ap);
  va_end (ap);
  return rc;
}

/* Which call of @syscall (1-based) is the first to name @needle when berth
 * runs @args to the end; the command must succeed. */
static int G_GNUC_NULL_TERMINATED
berth_call_index (Fixture *f, const char *syscall, const char *needle, ...)
{
  g_autofree char *log = g_build_filename (f->dir, "strace.log", NULL);
  va_list ap;
  va_start (ap, needle);
  int rc = berth_traced_va (f, log, FALSE, syscall, 0, ap);
  va_end (ap);
  g_assert_cmpint (rc, ==, 0);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (log, &text, NULL, NULL));
  g_assert_cmpint (unlink (log), ==, 0);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autofree char *call = g_strdup_printf ("%s(", syscall);
  int n = 0;
  for (char **l = lines; *l; l++)
    if (g_str_has_prefix (*l, call) && (n++, strstr (*l, needle)))
      return n;
  g_error ("no %s naming %s in:\n%s", syscall, needle, text);
}

/* Whether strace, which injects the kills, is here; where it is not, the
 * test is skipped with that reason. */
static gboolean
have_strace (void)
{
  g_autofree char *strace = tu_find_program_or_skip ("strace", "it injects the kill");
  return strace != NULL;
}

/* The opening of a test that kills berth with strace: busybox bootstrapped
 * on @driver (NULL: the default). FALSE (the test skipped, with the
 * reason) without strace. */
static gboolean
killed_opening (Fixture *f, const char *driver)
{
  if (!have_strace ())
    return FALSE;
  int rc = driver ? berth (f, NULL, NULL, "--storage-driver", driver, "image", "bootstrap",
                           "busybox", NULL)
                  : berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL);
  g_assert_cmpint (rc, ==, 0);
  return TRUE;
}

/* `berth run -d --name NAME busybox sleep 86401` under strace, killed at the
 * @when'th rename when @when > 0; the trace goes to @log. */
static int
strace_run (Fixture *f, const char *log, int when, const char *name)
{
  return berth_traced (f, log, FALSE, "rename", when, "run", "-d", "--name", name, "busybox", "sleep",
                       "86401", NULL);
}

/* Which renames (1-based, of the command itself) write a state.json. */
static GArray *
state_writes (const char *log)
{
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (log, &text, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  GArray *at = g_array_new (FALSE, FALSE, sizeof (int));
  int n = 0;
  for (char **l = lines; *l; l++)
    if (g_str_has_prefix (*l, "rename("))
      {
        n++;
        if (strstr (*l, "/state.json\")"))
          g_array_append_val (at, n);
      }
  return at;
}

/* The full id of the container named @name, from inspect. */
static char *
container_id (Fixture *f, const char *name)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "inspect", name, NULL), ==, 0);
  const char *id = strstr (out, "\"Id\"");
  g_assert_nonnull (id);
  id = strchr (id + 4, '"');
  g_assert_nonnull (id);
  return g_strndup (id + 1, 64);
}

/* The container's cgroup directories in every hierarchy (v1, hybrid, v2). */
static GPtrArray *
cgroup_dirs (const char *id)
{
  GPtrArray *dirs = g_ptr_array_new_with_free_func (g_free);
  const char *parents[] = { "/sys/fs/cgroup/berth", "/sys/fs/cgroup/*/berth" };
  for (guint i = 0; i < G_N_ELEMENTS (parents); i++)
    {
      g_autofree char *pattern = g_build_filename (parents[i], id, NULL);
      glob_t g;
      if (glob (pattern, GLOB_ONLYDIR, NULL, &g) == 0)
        for (size_t j = 0; j < g.gl_pathc; j++)
          g_ptr_array_add (dirs, g_strdup (g.gl_pathv[j]));
      globfree (&g);
    }
  return dirs;
}

/* Every pid listed in the container's cgroups, without repeats. */
static GArray *
cgroup_pids (const char *id)
{
  g_autoptr (GPtrArray) dirs = cgroup_dirs (id);
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (int));
  for (guint i = 0; i < dirs->len; i++)
    {
      g_autofree char *procs = g_build_filename (dirs->pdata[i], "cgroup.procs", NULL);
      g_autofree char *text = NULL;
      if (!g_file_get_contents (procs, &text, NULL, NULL))
        continue;
      g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
      for (char **l = lines; *l; l++)
        {
          int pid = atoi (*l);
          if (pid > 0 && !g_hash_table_contains (seen, GINT_TO_POINTER (pid)))
            {
              g_hash_table_add (seen, GINT_TO_POINTER (pid));
              g_array_append_val (pids, pid);
            }
        }
    }
  return pids;
}

/* Gone, or a zombie waiting for init to reap it, within 5 s. */
static gboolean
process_gone (int pid)
{
  for (int i = 0; i < 50; i++)
    {
      g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
      g_autofree char *stat = NULL;
      if (!g_file_get_contents (path, &stat, NULL, NULL))
        return TRUE;
      const char *paren = strrchr (stat, ')');
      if (paren && paren[1] == ' ' && paren[2] == 'Z')
        return TRUE;
      g_usleep (100000);
    }
  return FALSE;
}

static int
monitor_pid (Fixture *f, const char *id)
{
  g_autofree char *path = g_build_filename (f->root, "containers", id, "state.json", NULL);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_file (p, path, NULL));
  return json_object_get_int_member (json_node_get_object (json_parser_get_root (p)), "MonitorPid");
}

/* The line of `ps -a` for container @name. */
static char *
ps_line (Fixture *f, const char *name)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-a", NULL), ==, 0);
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  g_autofree char *suffix = g_strdup_printf (" %s", name);
  for (char **l = lines; *l; l++)
    if (g_str_has_suffix (*l, suffix))
      return g_strdup (*l);
  g_error ("ps -a has no container %s:\n%s", name, out);
}

/* rm -f leaves no process (the program, its monitor) and no cgroup. */
static void
assert_rm_f_clears (Fixture *f, const char *name, const char *id, GArray *pids)
{
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "-f", name, NULL), ==, 0);
  for (guint i = 0; i < pids->len; i++)
    if (!process_gone (g_array_index (pids, int, i)))
      g_error ("process %d of %s outlived rm -f", g_array_index (pids, int, i), name);
  g_autoptr (GPtrArray) left = cgroup_dirs (id);
  if (left->len)
    g_error ("rm -f left the cgroup %s", (char *) left->pdata[0]);
  /* Nor does a monitor dying after it write into the removed container. */
  g_usleep (200000);
  g_autofree char *dir = g_build_filename (f->root, "containers", id, NULL);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

static int
parent_pid (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree char *stat = NULL;
  g_assert_true (g_file_get_contents (path, &stat, NULL, NULL));
  int ppid = 0;
  g_assert_cmpint (sscanf (strrchr (stat, ')') + 1, " %*c %d", &ppid), ==, 1);
  return ppid;
}

/* `run -d` killed at each write of the container's state: at the one
 * before the program may run (so none runs) and at "running" (so the
 * program runs with no "running" record). Either way ps tells the truth,
 * start runs no second copy, and rm -f leaves nothing. */
static void
test_killed_run (Fixture *f, gconstpointer data)
{
  if (!killed_opening (f, NULL))
    return;
  /* Warm the store, then count the renames of a run like the ones killed. */
  g_assert_cmpint (berth (f, NULL, NULL, "run", "--rm", "busybox", "true", NULL), ==, 0);
  g_autofree char *log = g_build_filename (f->dir, "strace.log", NULL);
  g_assert_cmpint (strace_run (f, log, 0, "probe"), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "-f", "probe", NULL), ==, 0);
  g_autoptr (GArray) at = state_writes (log);
  g_assert_cmpuint (at->len, >=, 1);

  /* Killed as it records "running": the program runs. */
  g_assert_cmpint (strace_run (f, log, g_array_index (at, int, at->len - 1), "win"), !=, 0);
  g_autofree char *id = container_id (f, "win");
  g_autoptr (GArray) pids = cgroup_pids (id);
  g_assert_cmpuint (pids->len, ==, 1);
  g_autofree char *line = ps_line (f, "win");
  g_test_message ("after the kill: %s", line);
  g_assert_null (strstr (line, "Created"));
  g_assert_nonnull (strstr (line, " Up "));
  g_autofree char *err = NULL;
  g_assert_cmpint (berth (f, NULL, &err, "start", "win", NULL), !=, 0);
  tu_assert_one_line_error (err, "win");
  g_autoptr (GArray) after = cgroup_pids (id);
  g_assert_cmpuint (after->len, ==, 1);
  int monitor = monitor_pid (f, id);
  g_assert_cmpint (monitor, >, 0);
  g_array_append_val (pids, monitor);
  assert_rm_f_clears (f, "win", id, pids);

  /* Records as an older berth left them: no state at all, the program
   * running. Its cgroup stops a second copy and goes with rm -f. */
  g_assert_cmpint (strace_run (f, log, g_array_index (at, int, at->len - 1), "old"), !=, 0);
  g_autofree char *id3 = container_id (f, "old");
  g_autofree char *state = g_build_filename (f->root, "containers", id3, "state.json", NULL);
  g_assert_cmpint (unlink (state), ==, 0);
  g_autoptr (GArray) old = cgroup_pids (id3);
  g_assert_cmpuint (old->len, ==, 1);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "start", "old", NULL), ==, 1);
  tu_assert_one_line_error (err, "container old is not recorded as running, but its cgroup holds 1 process");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "rm", "old", NULL), ==, 1);
  tu_assert_one_line_error (err, "its cgroup holds 1 process: use rm -f");
  g_autoptr (GArray) still = cgroup_pids (id3);
  g_assert_cmpuint (still->len, ==, 1);
  int old_monitor = parent_pid (g_array_index (old, int, 0));
  g_array_append_val (old, old_monitor);
  assert_rm_f_clears (f, "old", id3, old);

  /* Killed as it records "starting": nothing may run. */
  g_assert_cmpuint (at->len, >=, 2);
  g_assert_cmpint (strace_run (f, log, g_array_index (at, int, 0), "early"), !=, 0);
  g_autofree char *id2 = container_id (f, "early");
  g_autoptr (GArray) none = cgroup_pids (id2);
  g_assert_cmpuint (none->len, ==, 0);
  g_autofree char *line2 = ps_line (f, "early");
  g_assert_nonnull (strstr (line2, "Created"));
  g_assert_cmpint (berth (f, NULL, NULL, "start", "early", NULL), ==, 0);
  g_autoptr (GArray) one = cgroup_pids (id2);
  g_assert_cmpuint (one->len, ==, 1);
  assert_rm_f_clears (f, "early", id2, one);
}

/* Process @pid's descriptors: number (GINT_TO_POINTER) -> what it points at. */
static GHashTable *
fd_targets (int pid)
{
  GHashTable *fds = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  g_autofree char *fd_dir = g_strdup_printf ("/proc/%d/fd", pid);
  g_autoptr (GDir) d = g_dir_open (fd_dir, 0, NULL);
  g_assert_nonnull (d);
  const char *name;
  while ((name = g_dir_read_name (d)))
    {
      g_autofree char *link = g_build_filename (fd_dir, name, NULL);
      char *target = g_file_read_link (link, NULL);
      if (target)
        g_hash_table_insert (fds, GINT_TO_POINTER (atoi (name)), target);
    }
  return fds;
}

/* Does process @pid hold a descriptor on @path? */
static gboolean
holds_file (int pid, const char *path)
{
  g_autoptr (GHashTable) fds = fd_targets (pid);
  GHashTableIter it;
  gpointer target;
  g_hash_table_iter_init (&it, fds);
  while (g_hash_table_iter_next (&it, NULL, &target))
    if (strcmp (target, path) == 0)
      return TRUE;
  return FALSE;
}

/* The entries of @path below the store (0 when it is absent). */
static guint
store_entries (Fixture *f, const char *path)
{
  g_autofree char *dir = g_build_filename (f->root, path, NULL);
  return count_entries (dir);
}

/* busybox bootstrapped on @driver, then `rmi busybox` killed at the @when'th
 * @syscall; FALSE (skipped) without strace. */
static gboolean
rmi_killed_at (Fixture *f, const char *driver, const char *syscall, int when)
{
  if (!killed_opening (f, driver))
    return FALSE;
  g_assert_cmpint (berth_traced (f, "/dev/null", FALSE, syscall, when, "rmi", "busybox", NULL),
                   ==, 137);
  return TRUE;
}

/* rmi killed after it dropped the image file, as it collects the layers
 * only that image needed: the next command, whatever it is, collects them. */
static void
test_killed_rmi_recovered (Fixture *f, gconstpointer data)
{
  /* unlink #1 is the image file; #2 the first step of collecting. */
  if (!rmi_killed_at (f, "vfs", "unlink", 2))
    return;
  if (store_entries (f, "images") != 0 || store_entries (f, "layers/vfs") == 0)
    {
      g_test_skip ("the kill did not land between the image file and its layers");
      return;
    }
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-a", "-q", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpuint (store_entries (f, "layers/vfs"), ==, 0);
  g_assert_cmpuint (store_entries (f, "blobs/sha256"), ==, 0);
  g_assert_cmpuint (store_entries (f, "storage/vfs/dir"), ==, 0);
  g_autofree char *mark = g_build_filename (f->root, "changing", NULL);
  g_assert_false (g_file_test (mark, G_FILE_TEST_EXISTS));
}

/* rmi on overlay killed while it deletes the layer's files: the next
 * command leaves neither the layer nor its short name under l/. */
static void
test_killed_rmi_overlay (Fixture *f, gconstpointer data)
{
  if (!rmi_killed_at (f, "overlay", "unlinkat", 40))
    return;
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "images", "-q", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpuint (store_entries (f, "storage/overlay/l"), ==, 0);
  g_assert_cmpuint (store_entries (f, "layers/overlay"), ==, 0);
  g_autofree char *home = g_build_filename (f->root, "storage", "overlay", NULL);
  g_autoptr (GDir) d = g_dir_open (home, 0, NULL);
  g_assert_nonnull (d);
  const char *const driver_files[] = { "l", "refs", "probed", NULL };
  const char *name;
  while ((name = g_dir_read_name (d)))
    if (!g_strv_contains (driver_files, name))
      g_error ("left in storage/overlay: %s", name);
}

/* start killed as it forks the monitor, after it mounted the root and
 * before it recorded the start: its hold dies with it, so a plain rm works
 * and no mount is left. */
static void
test_killed_start_hold (Fixture *f, gconstpointer data)
{
  if (!killed_opening (f, NULL))
    return;
  g_assert_cmpint (berth (f, NULL, NULL, "create", "--name", "held", "busybox", "true", NULL), ==, 0);
  g_assert_cmpint (berth_traced (f, "/dev/null", FALSE, "clone", 1, "start", "held", NULL), !=, 0);
  g_autofree char *line = ps_line (f, "held");
  g_assert_nonnull (strstr (line, "Created"));
  g_autofree char *err = NULL;
  g_assert_cmpint (berth (f, NULL, &err, "rm", "held", NULL), ==, 0);
  g_assert_false (tu_mounted_below (f->root));

  /* Killed as it records the start (rename #1), and after, as it makes
   * the hold last (pwrite #1 is the lock's holder line, #2 the transient
   * hold, #3 this): either way the next rm needs no --force. */
  const struct { const char *syscall; int when; } kills[] = { { "rename", 1 }, { "pwrite64", 3 } };
  for (guint i = 0; i < G_N_ELEMENTS (kills); i++)
    {
      g_assert_cmpint (berth (f, NULL, NULL, "create", "--name", "kept", "busybox", "true", NULL),
                       ==, 0);
      g_assert_cmpint (berth_traced (f, "/dev/null", FALSE, kills[i].syscall, kills[i].when,
                                     "start", "kept", NULL), !=, 0);
      g_assert_cmpint (berth (f, NULL, NULL, "rm", "kept", NULL), ==, 0);
      g_assert_false (tu_mounted_below (f->root));
    }
}

/* A monitor killed as it clones the container has made the cgroup and
 * saved nothing: rm -f still removes every directory of it. */
static void
test_killed_monitor_cgroup (Fixture *f, gconstpointer data)
{
  if (!killed_opening (f, NULL))
    return;
  g_assert_cmpint (berth (f, NULL, NULL, "create", "--name", "cg", "busybox", "sleep", "100", NULL),
                   ==, 0);
  g_autofree char *id = container_id (f, "cg");
  g_assert_cmpint (berth_traced (f, "/dev/null", TRUE, "clone3", 1, "start", "cg", NULL), !=, 0);
  g_autoptr (GPtrArray) made = cgroup_dirs (id);
  if (made->len == 0)
    {
      g_test_skip ("the kill came before any cgroup was made (no clone3 here?)");
      g_assert_cmpint (berth (f, NULL, NULL, "rm", "-f", "cg", NULL), ==, 0);
      return;
    }
  g_autoptr (GArray) none = g_array_new (FALSE, FALSE, sizeof (int));
  assert_rm_f_clears (f, "cg", id, none);
}

/* A descriptor the caller of `run -d` left open is not kept for the
 * container's life, by its monitor or by the container. */
static void
test_monitor_caller_fds (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_autofree char *file = g_build_filename (f->dir, "held", NULL);
  char *argv[] = { "sh", "-c", "exec \"$0\" --root \"$1\" run -d --name fds busybox sleep 100 7>\"$2\"",
                   (char *) tu_berth_bin (), f->root, file, NULL };
  g_assert_cmpint (tu_run (argv, NULL, NULL), ==, 0);
  g_autofree char *id = container_id (f, "fds");
  int monitor = monitor_pid (f, id);
  g_assert_cmpint (monitor, >, 0);
  g_autoptr (GArray) pids = cgroup_pids (id);
  g_assert_cmpuint (pids->len, ==, 1);
  g_assert_false (holds_file (monitor, file));
  g_assert_false (holds_file (g_array_index (pids, int, 0), file));
  /* Nor anything else of the command's: beyond stdio (/dev/null), only the
   * log, the container's output pipes and the pidfd it waits on. */
  g_autofree char *log = g_build_filename (f->root, "containers", id, "container.log", NULL);
  g_autoptr (GHashTable) fds = fd_targets (monitor);
  GHashTableIter it;
  gpointer fd, target;
  g_hash_table_iter_init (&it, fds);
  while (g_hash_table_iter_next (&it, &fd, &target))
    if (GPOINTER_TO_INT (fd) > 2 && strcmp (target, log) != 0
        && !g_str_has_prefix (target, "pipe:") && strcmp (target, "anon_inode:[pidfd]") != 0)
      g_error ("the monitor holds fd %d: %s", GPOINTER_TO_INT (fd), (char *) target);
  g_array_append_val (pids, monitor);
  assert_rm_f_clears (f, "fds", id, pids);
}

/* Through the library: a start's handle, and what attaching to it takes. A
 * detached start's handle cannot be attached to; an attached one only once.
 * The CLI never tries either. */
static void
test_attach_handle (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = berth_store_open (f->root, NULL, &error);
  g_assert_no_error (error);
  char *cmd[] = { "true", NULL };
  BerthSpecOptions spec = { .cmd = cmd };
  g_autoptr (BerthContainer) det = berth_container_create (store, "busybox", "det", NULL, NULL,
                                                           &spec, &error);
  g_assert_no_error (error);
  g_autoptr (BerthContainer) att = berth_container_create (store, "busybox", "att", NULL, NULL,
                                                           &spec, &error);
  g_assert_no_error (error);

  BerthStartOptions detached = { 0 };
  g_autoptr (BerthRun) run = berth_container_start (store, det, &detached, &error);
  g_assert_no_error (error);
  g_assert_nonnull (run);
  g_assert_cmpint (berth_container_attach_wait (store, run, &error), ==, -1);
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "was not started attached"));
  g_clear_error (&error);
  g_clear_pointer (&run, berth_run_free);

  BerthStartOptions attached = { .attach = TRUE };
  run = berth_container_start (store, att, &attached, &error);
  g_assert_no_error (error);
  g_assert_cmpint (berth_container_attach_wait (store, run, &error), ==, 0);
  g_assert_no_error (error);
  g_assert_cmpint (berth_container_attach_wait (store, run, &error), ==, -1);
  g_assert_error (error, BERTH_ERROR, BERTH_ERROR_INVALID);
  g_clear_error (&error);

  /* attach_wait left the store unlocked */
  g_assert_true (berth_store_lock (store, &error));
  g_assert_true (berth_container_remove (store, det->id, TRUE, &error));
  g_assert_true (berth_container_remove (store, att->id, TRUE, &error));
  g_assert_no_error (error);
}

/* An OCI image layout with a gzip layer, named by the containerd annotation. */
static void
test_load_oci (Fixture *f, gconstpointer data)
{
  g_autofree char *src = scratch_tree (f, "layer", "hello.txt", "from oci\n");
  g_autofree char *tar = make_tar (f, "layer.tar", src);
  g_autofree char *diff_id = sha256_file (tar);
  char *gzip[] = { "gzip", "-n", tar, NULL };
  g_assert_cmpint (tu_run (gzip, NULL, NULL), ==, 0);
  g_autofree char *gz = g_strdup_printf ("%s.gz", tar);
  g_autofree char *gz_digest = sha256_file (gz);
  g_autofree char *layout = g_build_filename (f->dir, "oci", NULL);
  g_autofree char *blobs = g_build_filename (layout, "blobs", "sha256", NULL);
  g_assert_cmpint (g_mkdir_with_parents (blobs, 0755), ==, 0);
  g_autofree char *gz_dst = g_build_filename (blobs, gz_digest, NULL);
  g_assert_cmpint (rename (gz, gz_dst), ==, 0);
  g_autofree char *config = g_strdup_printf (
      "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
      "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%s\"]}}", diff_id);
  g_autofree char *config_digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, config, -1);
  g_autofree char *manifest = g_strdup_printf (
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
      "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:%s\",\"size\":%zu},"
      "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"sha256:%s\"}]}",
      config_digest, strlen (config), gz_digest);
  g_autofree char *manifest_digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, manifest, -1);
  g_autofree char *index = g_strdup_printf (
      "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
      "\"digest\":\"sha256:%s\",\"size\":%zu,\"annotations\":{\"io.containerd.image.name\":\"ocimg:2\","
      "\"org.opencontainers.image.ref.name\":\"2\"}}]}", manifest_digest, strlen (manifest));
  const struct { const char *name, *text; } files[] = {
    { config_digest, config }, { manifest_digest, manifest },
  };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *p = g_build_filename (blobs, files[i].name, NULL);
      tu_write_file (p, files[i].text, 0644);
    }
  g_autofree char *index_path = g_build_filename (layout, "index.json", NULL);
  g_autofree char *marker = g_build_filename (layout, "oci-layout", NULL);
  tu_write_file (index_path, index, 0644);
  tu_write_file (marker, "{\"imageLayoutVersion\":\"1.0.0\"}", 0644);
  g_autofree char *archive = make_tar (f, "oci.tar", layout);

  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "load", "-i", archive, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "Loaded image: ocimg:2\n");
  g_assert_cmpint (berth (f, NULL, NULL, "create", "--name", "o", "ocimg:2", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "mount", "o", NULL), ==, 0);
  g_autofree char *inside = g_build_filename (g_strstrip (out), "hello.txt", NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (inside, &text, NULL, NULL));
  g_assert_cmpstr (text, ==, "from oci\n");
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "-f", "o", NULL), ==, 0);
}

/* Start @n concurrent `berth create --name NAME busybox`; returns how many
 * succeeded. NAME is "<prefix><i>" or, with @same, the prefix alone. */
static int
concurrent_creates (Fixture *f, int n, const char *prefix, gboolean same)
{
  g_autofree GPid *pids = g_new0 (GPid, n);
  for (int i = 0; i < n; i++)
    {
      g_autofree char *name = same ? g_strdup (prefix) : g_strdup_printf ("%s%d", prefix, i);
      char *argv[] = { (char *) tu_berth_bin (), "--root", f->root, "create", "--name", name,
                       "busybox", NULL };
      g_assert_true (g_spawn_async (NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD |
                                    G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
                                    NULL, NULL, &pids[i], NULL));
    }
  int ok = 0;
  for (int i = 0; i < n; i++)
    {
      int status;
      g_assert_cmpint (waitpid (pids[i], &status, 0), ==, pids[i]);
      ok += WIFEXITED (status) && WEXITSTATUS (status) == 0;
    }
  return ok;
}

/* Every path under the store, one a line, sorted: what a refused import or
 * load must leave as it found it. */
static char *
store_listing (Fixture *f)
{
  char *argv[] = { "sh", "-c", "cd \"$0\" && find . -mindepth 1 | sort", f->root, NULL };
  char *out = NULL;
  g_assert_cmpint (tu_run (argv, &out, NULL), ==, 0);
  return out;
}

/* A tar of one 64 MiB file of zeros (sparse on disk) in @name; gzipped
 * to @name.gz too when @gz. Returns the tar's path. */
static char *
make_zero_tar (Fixture *f, const char *name, gboolean gz)
{
  g_autofree char *dir = g_build_filename (f->dir, name, NULL);
  g_autofree char *srcdir = g_strdup_printf ("%s.src", dir);
  g_autofree char *zero = g_build_filename (srcdir, "zero", NULL);
  g_assert_cmpint (g_mkdir_with_parents (srcdir, 0755), ==, 0);
  char *truncate_argv[] = { "truncate", "-s", "64M", zero, NULL };
  g_assert_cmpint (tu_run (truncate_argv, NULL, NULL), ==, 0);
  char *tar = make_tar (f, name, srcdir);
  char *gzip[] = { "gzip", "-1", "-k", tar, NULL };
  if (gz)
    g_assert_cmpint (tu_run (gzip, NULL, NULL), ==, 0);
  return tar;
}

/* A gzip bomb (64 KiB inflating to 64 MiB) is refused under a small
 * --max-layer-size while it streams, leaving the store as it was, and
 * taken when the limit is raised; endless zeros from a pipe or from
 * /dev/zero stop at the limit. */
static void
test_import_limits (Fixture *f, gconstpointer data)
{
  g_autofree char *tar = make_zero_tar (f, "bomb.tar", TRUE);
  g_autofree char *gz = g_strdup_printf ("%s.gz", tar);
  g_assert_cmpint (berth (f, NULL, NULL, "images", NULL), ==, 0);
  g_autofree char *before = store_listing (f);
  g_autofree char *err = NULL;
  g_assert_cmpint (berth (f, NULL, &err, "import", "--max-layer-size", "8m", gz, "bomb:1", NULL),
                   ==, 1);
  tu_assert_one_line_error (err, "unpacks to more than 8.0 MiB (raise the limit with "
                                 "--max-layer-size)");
  g_assert_nonnull (strstr (err, gz));
  g_autofree char *after = store_listing (f);
  g_assert_cmpstr (after, ==, before);

  /* from a pipe and from a character device: no size to go by */
  char *pipe_argv[] = { "sh", "-c", "cat /dev/zero | \"$0\" --root \"$1\" import "
                        "--max-layer-size 4m - zeros:1", (char *) tu_berth_bin (), f->root, NULL };
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (tu_run (pipe_argv, NULL, &err), ==, 1);
  tu_assert_one_line_error (err, "import -: layer archive: unpacks to more than 4.0 MiB");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "import", "--max-layer-size", "4m", "/dev/zero",
                          "zeros:1", NULL), ==, 1);
  tu_assert_one_line_error (err, "import /dev/zero: layer archive: unpacks to more than 4.0 MiB");
  g_clear_pointer (&after, g_free);
  after = store_listing (f);
  g_assert_cmpstr (after, ==, before);

  const char *bad[] = { "0", "lots", "-5m" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_clear_pointer (&err, g_free);
      g_assert_cmpint (berth (f, NULL, &err, "import", "--max-layer-size", bad[i], gz, "bomb:1",
                              NULL), ==, 1);
      tu_assert_one_line_error (err, "--max-layer-size");
    }

  g_assert_cmpint (berth (f, NULL, NULL, "import", "--max-layer-size", "100m", gz, "bomb:1", NULL),
                   ==, 0);
  /* the default for a file: 100 times its size, but at least 1 GiB */
  g_assert_cmpint (berth (f, NULL, NULL, "import", tar, "bomb:2", NULL), ==, 0);
}

/* A docker-save archive, gzipped whole, whose one layer is 64 MiB of
 * zeros: --max-archive-size stops the unpacking of the archive,
 * --max-layer-size the layer's ingest; both leave the store as it was. */
static void
test_load_limits (Fixture *f, gconstpointer data)
{
  g_autofree char *layer = make_zero_tar (f, "layer.tar", FALSE);
  g_autofree char *hash = sha256_file (layer);
  g_autofree char *config = g_strdup_printf (
      "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
      "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:%s\"]}}", hash);
  g_autofree char *id = g_compute_checksum_for_string (G_CHECKSUM_SHA256, config, -1);
  g_autofree char *save = g_build_filename (f->dir, "bombsave", NULL);
  g_autofree char *layer_dir = g_build_filename (save, hash, NULL);
  g_autofree char *layer_dst = g_build_filename (layer_dir, "layer.tar", NULL);
  g_assert_cmpint (g_mkdir_with_parents (layer_dir, 0755), ==, 0);
  g_assert_cmpint (rename (layer, layer_dst), ==, 0);
  g_autofree char *cfgname = g_strdup_printf ("%s.json", id);
  g_autofree char *cfgpath = g_build_filename (save, cfgname, NULL);
  g_autofree char *manifest = g_strdup_printf (
      "[{\"Config\":\"%s\",\"RepoTags\":[\"bomb:1\"],\"Layers\":[\"%s/layer.tar\"]}]",
      cfgname, hash);
  g_autofree char *manpath = g_build_filename (save, "manifest.json", NULL);
  tu_write_file (cfgpath, config, 0644);
  tu_write_file (manpath, manifest, 0644);
  g_autofree char *tar = make_tar (f, "bombsave.tar", save);
  char *gzip[] = { "gzip", "-1", tar, NULL };
  g_assert_cmpint (tu_run (gzip, NULL, NULL), ==, 0);
  g_autofree char *gz = g_strdup_printf ("%s.gz", tar);

  g_assert_cmpint (berth (f, NULL, NULL, "images", NULL), ==, 0);
  g_autofree char *before = store_listing (f);
  g_autofree char *err = NULL;
  g_assert_cmpint (berth (f, NULL, &err, "load", "--max-archive-size", "8m", "-i", gz, NULL), ==, 1);
  tu_assert_one_line_error (err, "archive: unpacks to more than 8.0 MiB (raise the limit with "
                                 "--max-archive-size)");
  g_autofree char *after = store_listing (f);
  g_assert_cmpstr (after, ==, before);

  g_clear_pointer (&err, g_free);
  g_assert_cmpint (berth (f, NULL, &err, "load", "--max-layer-size", "8m", "-i", gz, NULL), ==, 1);
  tu_assert_one_line_error (err, "layer.tar: layer archive: unpacks to more than 8.0 MiB (raise "
                                 "the limit with --max-layer-size)");
  g_clear_pointer (&after, g_free);
  after = store_listing (f);
  g_assert_cmpstr (after, ==, before);

  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "load", "-i", gz, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "Loaded image: bomb:1\n");
}

/* The lines "line-N" of @text: each follows the one before it (when
 * @consecutive) or at least comes later, none twice, the last is @last.
 * Returns how many there are. */
static guint
assert_log_lines (const char *text, gboolean consecutive, int last)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  guint n = g_strv_length (lines);
  g_assert_cmpuint (n, >=, 2);
  g_assert_cmpstr (lines[n - 1], ==, ""); /* ends with a newline */
  int prev = -1;
  for (guint i = 0; i + 1 < n; i++)
    {
      g_assert_true (g_str_has_prefix (lines[i], "line-"));
      int v = atoi (lines[i] + 5);
      if (prev >= 0 && consecutive)
        g_assert_cmpint (v, ==, prev + 1);
      g_assert_cmpint (v, >, prev);
      prev = v;
    }
  g_assert_cmpint (prev, ==, last);
  return n - 1;
}

/* --log-opt max-size/max-file rotate the log as Docker's json-file does:
 * the files stay under the size, no more of them than max-file are kept,
 * `logs` prints the tail in order and `logs -f` follows across rotations.
 * Bad values are refused at create, in one line, with nothing made. */
static void
test_log_rotation (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  const struct { const char *opt, *needle; } bad[] = {
    { "max-size=lots", "--log-opt max-size 'lots': not a size" },
    { "max-size=0", "--log-opt 'max-size=0': max-size must be more than 0" },
    { "max-file=0", "--log-opt 'max-file=0': max-file is a count of files from 1 to 10000" },
    { "max-file=two", "--log-opt 'max-file=two'" },
    { "mode=fast", "--log-opt 'mode=fast': unknown (max-size=SIZE, max-file=N)" },
    { "max-size", "--log-opt 'max-size': unknown" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *err = NULL;
      g_assert_cmpint (berth (f, NULL, &err, "create", "--log-opt", bad[i].opt, "busybox", NULL),
                       ==, 1);
      tu_assert_one_line_error (err, bad[i].needle);
    }
  g_autofree char *ps = NULL;
  g_assert_cmpint (berth (f, &ps, NULL, "ps", "-a", "-q", NULL), ==, 0);
  g_assert_cmpstr (ps, ==, "");

  /* about 75 bytes a record: 5000 lines are some 370 KiB, 6 rotations */
  const char *script = "i=0; while [ $i -lt 5000 ]; do echo line-$i; i=$((i+1)); done";
  g_assert_cmpint (berth (f, NULL, NULL, "run", "--name", "chatty", "--log-opt", "max-size=64k",
                          "--log-opt", "max-file=2", "busybox", "sh", "-c", script, NULL), ==, 0);
  g_autofree char *pattern = g_build_filename (f->root, "containers", "*", NULL);
  glob_t g;
  g_assert_cmpint (glob (pattern, 0, NULL, &g), ==, 0);
  g_assert_cmpuint (g.gl_pathc, ==, 1);
  g_autofree char *dir = g_strdup (g.gl_pathv[0]);
  globfree (&g);
  const char *names[] = { "container.log", "container.log.1" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *p = g_build_filename (dir, names[i], NULL);
      struct stat st;
      g_assert_cmpint (stat (p, &st), ==, 0);
      g_assert_cmpint (st.st_size, >, 0);
      g_assert_cmpint (st.st_size, <=, 64 * 1024);
    }
  g_autofree char *third = g_build_filename (dir, "container.log.2", NULL);
  g_assert_false (g_file_test (third, G_FILE_TEST_EXISTS));
  g_autofree char *logs = NULL;
  g_assert_cmpint (berth (f, &logs, NULL, "logs", "chatty", NULL), ==, 0);
  guint kept = assert_log_lines (logs, TRUE, 4999);
  g_assert_cmpuint (kept, <, 5000);
  g_assert_cmpuint (kept, >, 64 * 1024 / 100);

  /* --follow from the start of a container that rotates while followed:
   * it must see more than one file holds, in order, to the last line. */
  const char *bursty = "i=0; while [ $i -lt 3000 ]; do echo line-$i; "
                       "[ $((i % 500)) = 0 ] && sleep 0.3; i=$((i+1)); done";
  char *follow_argv[] = {
    "sh", "-c", "\"$0\" --root \"$1\" run -d --name bursty --log-opt max-size=64k "
    "--log-opt max-file=2 busybox sh -c \"$2\" >/dev/null && exec \"$0\" --root \"$1\" logs -f bursty",
    (char *) tu_berth_bin (), f->root, (char *) bursty, NULL };
  g_autofree char *followed = NULL;
  g_assert_cmpint (tu_run (follow_argv, &followed, NULL), ==, 0);
  g_assert_cmpuint (assert_log_lines (followed, FALSE, 2999), >, 64 * 1024 / 60);
  g_assert_cmpint (berth (f, NULL, NULL, "rm", "-f", "chatty", "bursty", NULL), ==, 0);
}

/* Concurrent berth processes serialise on the store lock: distinct names all
 * land, and of eight racing for one name exactly one wins. */
static void
test_concurrent (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (berth (f, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_assert_cmpint (concurrent_creates (f, 8, "par", FALSE), ==, 8);
  g_assert_cmpint (concurrent_creates (f, 8, "same", TRUE), ==, 1);
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-a", "-q", NULL), ==, 0);
  g_auto (GStrv) lines = g_strsplit (g_strstrip (out), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 9);
}

/* ---- commands killed half-way (issue 15: F5, F10, F11) ---- */

/* A store on @driver with busybox; btrfs on a loop-mounted btrfs in *@mnt.
 * FALSE (the test skipped, with the reason) where the driver cannot run. */
static gboolean
killed_store_setup (Fixture *f, const char *driver, char **mnt)
{
  if (!have_strace ())
    return FALSE;
  g_autoptr (GError) error = NULL;
  if (needs_btrfs (driver))
    {
      *mnt = g_build_filename (f->dir, "btrfs", NULL);
      if (!tu_btrfs_mount (f->dir, *mnt, &error))
        return g_test_skip_printf ("btrfs: %s", error->message), FALSE;
      g_free (f->root);
      f->root = g_build_filename (*mnt, "store", NULL);
    }
  g_autofree char *err = NULL;
  int rc = berth (f, NULL, &err, "--storage-driver", driver, "image", "bootstrap", "busybox", NULL);
  if (rc != 0 && err && strstr (err, "storage driver"))
    return g_test_skip_printf ("%s", err), FALSE;
  g_assert_cmpint (rc, ==, 0);
  return TRUE;
}

/* Entries named by a layer id (64 hex digits) at or below @dir, two levels
 * down: every driver keeps its layers within that. */
static guint
count_layer_entries (const char *dir, int depth)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  guint n = 0;
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      if (strlen (name) == 64 && strspn (name, "0123456789abcdef") == 64)
        {
          g_test_message ("left behind: %s", path);
          n++;
        }
      else if (depth > 0 && g_file_test (path, G_FILE_TEST_IS_DIR))
        n += count_layer_entries (path, depth - 1);
    }
  return n;
}

static void
assert_no_temp_files (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    if (strstr (name, ".tmp-"))
      g_error ("left behind: %s/%s", dir, name);
}

/* What a user checks once every container and image is removed: no layer
 * and no reference count left in the driver's home, nothing mounted. */
static void
assert_store_emptied (Fixture *f, const char *driver)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "images", "-q", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (berth (f, &out, NULL, "ps", "-a", "-q", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_autofree char *home = g_build_filename (f->root, "storage", driver, NULL);
  g_assert_cmpuint (count_layer_entries (home, 2), ==, 0);
  g_assert_false (tu_mounted_below (home));
}

/* commit, diff and export killed while they hold the container's layer (and
 * its image's): the next command does not count those holds, rm needs no
 * force, and removing everything frees every layer. */
static void
test_killed_holders (Fixture *f, gconstpointer data)
{
  const char *driver = data;
  g_autofree char *mnt = NULL;
  if (!killed_store_setup (f, driver, &mnt))
    return;
  g_autofree char *id = NULL;
  g_assert_cmpint (berth (f, &id, NULL, "--storage-driver", driver, "create", "--name", "c1",
                          "busybox", NULL), ==, 0);
  g_autofree char *out_tar = g_build_filename (f->dir, "out.tar", NULL);
  /* The first write is the tar's (export, and commit's diff); diff's third
   * pwrite is the record of its second hold, the image's layer. The
   * native diffs of overlay hold nothing, so there diff and commit are
   * killed holding nothing, which must be harmless too. */
  g_assert_cmpint (berth_traced (f, "/dev/null", FALSE, "write", 1, "export", "c1", NULL), ==, 137);
  g_assert_cmpint (berth_traced (f, "/dev/null", FALSE, "write", 1, "export", "-o", out_tar, "c1", NULL), ==, 137);
  g_assert_cmpint (berth_traced (f, "/dev/null", FALSE, "write", 1, "commit", "c1", "half:1", NULL), ==, 137);
  int rc = berth_traced (f, "/dev/null", FALSE, "pwrite64", 3, "diff", "c1", NULL);
  g_assert_true (rc == 137 || (rc == 0 && g_strcmp0 (driver, "overlay") == 0));

  g_autofree char *err = NULL;
  g_assert_cmpint (berth (f, NULL, &err, "rm", "c1", NULL), ==, 0);
  g_assert_cmpint (berth (f, NULL, NULL, "rmi", "busybox", NULL), ==, 0);
  assert_store_emptied (f, driver);
  g_autofree char *refs = g_build_filename (f->root, "storage", driver, "refs", NULL);
  g_assert_cmpuint (count_entries (refs), ==, 0);
  /* export -o never leaves its half-written tar beside the target. */
  g_assert_false (g_file_test (out_tar, G_FILE_TEST_EXISTS));
  assert_no_temp_files (f->dir);
  if (mnt)
    tu_btrfs_umount (mnt);
}

/* Remove every image `images -q` lists. */
static void
remove_all_images (Fixture *f)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (berth (f, &out, NULL, "images", "-q", NULL), ==, 0);
  g_auto (GStrv) ids = g_strsplit (g_strstrip (out), "\n", -1);
  for (char **id = ids; *id && **id; id++)
    g_assert_cmpint (berth (f, NULL, NULL, "rmi", *id, NULL), ==, 0);
}

/* An import killed after unpacking its layer, before the layer's marker:
 * once its image is removed, collection removes the unmarked layer. */
static void
test_killed_import (Fixture *f, gconstpointer data)
{
  const char *driver = data;
  g_autofree char *mnt = NULL;
  if (!killed_store_setup (f, driver, &mnt))
    return;
  g_autofree char *src = scratch_tree (f, "src", "etc/hello", "hello\n");
  g_autofree char *tar = make_tar (f, "src.tar", src);
  g_autofree char *marks = g_build_filename ("/layers", driver, NULL);
  /* Twice: a driver's first unpack may record what it probed. */
  int at = 0;
  for (int i = 0; i < 2; i++)
    {
      at = berth_call_index (f, "rename", marks, "--storage-driver", driver, "import", tar,
                             "probe:1", NULL);
      g_assert_cmpint (berth (f, NULL, NULL, "rmi", "probe:1", NULL), ==, 0);
    }
  g_autofree char *home = g_build_filename (f->root, "storage", driver, NULL);
  g_autofree char *marker_dir = g_build_filename (f->root, "layers", driver, NULL);
  guint layers = count_layer_entries (home, 2), markers = count_layer_entries (marker_dir, 0);

  g_assert_cmpint (berth_traced (f, "/dev/null", FALSE, "rename", at, "--storage-driver", driver, "import", tar,
                                    "half:1", NULL), ==, 137);
  /* The kill landed between the layer and its marker. */
  g_assert_cmpuint (count_layer_entries (home, 2), >, layers);
  g_assert_cmpuint (count_layer_entries (marker_dir, 0), ==, markers);

  remove_all_images (f);
  assert_store_emptied (f, driver);
  if (mnt)
    tu_btrfs_umount (mnt);
}

/* A create killed before it saved container.json: ps -a shows the
 * container as incomplete, the next create removes it, and nothing of it
 * is left once everything is removed. */
static void
test_killed_create (Fixture *f, gconstpointer data)
{
  const char *driver = data;
  g_autofree char *mnt = NULL;
  if (!killed_store_setup (f, driver, &mnt))
    return;
  /* Twice: a driver's first mount may record what it probed. */
  int at = 0;
  for (int i = 0; i < 2; i++)
    {
      at = berth_call_index (f, "rename", "/container.json", "--storage-driver", driver, "create",
                             "--name", "probe", "busybox", NULL);
      g_assert_cmpint (berth (f, NULL, NULL, "rm", "probe", NULL), ==, 0);
    }
  g_assert_cmpint (berth_traced (f, "/dev/null", FALSE, "rename", at, "--storage-driver", driver, "create",
                                    "--name", "half", "busybox", NULL), ==, 137);
  g_autofree char *dirs = g_build_filename (f->root, "containers", NULL);
  g_assert_cmpuint (count_layer_entries (dirs, 0), ==, 1);
  /* The killed create left the change mark: the next command, whatever
   * it is, sweeps the half-made container first. */
  g_autofree char *ps = NULL;
  g_assert_cmpint (berth (f, &ps, NULL, "ps", "-a", NULL), ==, 0);
  g_assert_null (strstr (ps, "Incomplete"));
  g_assert_cmpuint (count_layer_entries (dirs, 0), ==, 0);

  /* Without the mark (a store an older berth left so), ps -a lists it as
   * Incomplete, and the next create sweeps it. */
  g_assert_cmpint (berth_traced (f, "/dev/null", FALSE, "rename", at, "--storage-driver", driver,
                                 "create", "--name", "half", "busybox", NULL), ==, 137);
  g_autofree char *mark = g_build_filename (f->root, "changing", NULL);
  g_assert_cmpint (unlink (mark), ==, 0);
  g_clear_pointer (&ps, g_free);
  g_assert_cmpint (berth (f, &ps, NULL, "ps", "-a", NULL), ==, 0);
  g_test_message ("%s", ps);
  g_assert_nonnull (strstr (ps, " Incomplete "));
  g_assert_cmpint (berth (f, NULL, NULL, "--storage-driver", driver, "create", "--name", "next",
                          "busybox", NULL), ==, 0);
  g_clear_pointer (&ps, g_free);
  g_assert_cmpint (berth (f, &ps, NULL, "ps", "-a", NULL), ==, 0);
  g_assert_null (strstr (ps, "Incomplete"));
  g_assert_cmpuint (count_layer_entries (dirs, 0), ==, 1);

  g_assert_cmpint (berth (f, NULL, NULL, "rm", "next", NULL), ==, 0);
  remove_all_images (f);
  assert_store_emptied (f, driver);
  g_assert_cmpuint (count_entries (dirs), ==, 0);
  if (mnt)
    tu_btrfs_umount (mnt);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/cli/info", Fixture, NULL, fixture_setup, test_info, fixture_teardown);
  g_test_add ("/cli/info-kernel-features", Fixture, NULL, fixture_setup, test_info_kernel_features,
              fixture_teardown);
  g_test_add ("/cli/info-exec-drivers", Fixture, NULL, fixture_setup, test_info_exec_drivers,
              fixture_teardown);
  g_test_add ("/cli/status-side-effects", Fixture, NULL, fixture_setup, test_status_side_effects,
              fixture_teardown);
  /* Every driver of the storage table; one this build or host lacks skips
   * with the reason. */
  for (const BerthStorageFamily *fam = berth_storage_families; fam->name; fam++)
    {
      g_autofree char *name = g_strdup_printf ("/cli/%s/bootstrap-create-diff-commit", fam->name);
      g_test_add (name, Fixture, fam->name, fixture_setup, test_bootstrap_create_diff_commit,
                  fixture_teardown);
    }
  /* The kills are injected by strace at every step: the drivers this
   * project's CI hosts run, not every one. */
  static const char *const drivers[] = { "vfs", "overlay", "btrfs" };
  for (guint i = 0; i < G_N_ELEMENTS (drivers); i++)
    {
      g_autofree char *name = g_strdup_printf ("/cli/%s/killed-holders", drivers[i]);
      g_test_add (name, Fixture, drivers[i], fixture_setup, test_killed_holders, fixture_teardown);
      g_autofree char *import = g_strdup_printf ("/cli/%s/killed-import", drivers[i]);
      g_test_add (import, Fixture, drivers[i], fixture_setup, test_killed_import, fixture_teardown);
      g_autofree char *create = g_strdup_printf ("/cli/%s/killed-create", drivers[i]);
      g_test_add (create, Fixture, drivers[i], fixture_setup, test_killed_create, fixture_teardown);
    }
  g_test_add ("/cli/config-file", Fixture, NULL, fixture_setup, test_config_file, fixture_teardown);
  g_test_add ("/cli/recorded-driver-unusable", Fixture, NULL, fixture_setup,
              test_recorded_driver_unusable, fixture_teardown);
  g_test_add ("/cli/load-save", Fixture, NULL, fixture_setup, test_load_save, fixture_teardown);
  g_test_add ("/cli/deep-json", Fixture, NULL, fixture_setup, test_deep_json, fixture_teardown);
  g_test_add ("/cli/lock-wait", Fixture, NULL, fixture_setup, test_lock_wait, fixture_teardown);
  g_test_add ("/cli/concurrent-exits", Fixture, NULL, fixture_setup, test_concurrent_exits,
              fixture_teardown);
  g_test_add ("/cli/run-during-load", Fixture, NULL, fixture_setup, test_run_during_load,
              fixture_teardown);
  g_test_add ("/cli/killed-monitor-rm", Fixture, NULL, fixture_setup, test_killed_monitor_rm,
              fixture_teardown);
  g_test_add ("/cli/run-during-unpack", Fixture, NULL, fixture_setup, test_run_during_unpack,
              fixture_teardown);
  g_test_add ("/cli/load-many-tags", Fixture, NULL, fixture_setup, test_load_many_tags,
              fixture_teardown);
  g_test_add ("/cli/printable", Fixture, NULL, fixture_setup, test_printable, fixture_teardown);
  g_test_add ("/cli/first-contact", Fixture, NULL, fixture_setup, test_first_contact,
              fixture_teardown);
  g_test_add ("/cli/entrypoint-env-file", Fixture, NULL, fixture_setup,
              test_entrypoint_env_file, fixture_teardown);
  g_test_add ("/cli/logs-options", Fixture, NULL, fixture_setup, test_logs_options,
              fixture_teardown);
  g_test_add ("/cli/format", Fixture, NULL, fixture_setup, test_format, fixture_teardown);
  g_test_add ("/cli/rename", Fixture, NULL, fixture_setup, test_rename, fixture_teardown);
  g_test_add ("/cli/volumes", Fixture, NULL, fixture_setup, test_volumes, fixture_teardown);
  g_test_add ("/cli/cp", Fixture, NULL, fixture_setup, test_cp, fixture_teardown);
  g_test_add ("/cli/restart", Fixture, NULL, fixture_setup, test_restart, fixture_teardown);
  g_test_add ("/cli/system", Fixture, NULL, fixture_setup, test_system, fixture_teardown);
  g_test_add ("/cli/init", Fixture, NULL, fixture_setup, test_init, fixture_teardown);
  g_test_add ("/cli/events", Fixture, NULL, fixture_setup, test_events, fixture_teardown);
  g_test_add ("/cli/labels-filter", Fixture, NULL, fixture_setup, test_labels_filter,
              fixture_teardown);
  g_test_add ("/cli/stats-stream", Fixture, NULL, fixture_setup, test_stats_stream,
              fixture_teardown);
  g_test_add ("/cli/stdin-pipe", Fixture, NULL, fixture_setup, test_stdin_pipe, fixture_teardown);
  g_test_add ("/cli/terminals", Fixture, NULL, fixture_setup, test_terminals, fixture_teardown);
  g_test_add ("/cli/output-and-limits", Fixture, NULL, fixture_setup, test_output_and_limits,
              fixture_teardown);
  g_test_add ("/cli/load-oci", Fixture, NULL, fixture_setup, test_load_oci, fixture_teardown);
  g_test_add ("/cli/concurrent-creates", Fixture, NULL, fixture_setup, test_concurrent,
              fixture_teardown);
  g_test_add ("/cli/import", Fixture, NULL, fixture_setup, test_import, fixture_teardown);
  g_test_add ("/cli/log-rotation", Fixture, NULL, fixture_setup, test_log_rotation,
              fixture_teardown);
  g_test_add ("/cli/import-limits", Fixture, NULL, fixture_setup, test_import_limits,
              fixture_teardown);
  g_test_add ("/cli/load-limits", Fixture, NULL, fixture_setup, test_load_limits,
              fixture_teardown);
  g_test_add ("/cli/import-bad-archive", Fixture, NULL, fixture_setup, test_import_bad_archive,
              fixture_teardown);
  g_test_add ("/cli/load-bad-archives", Fixture, NULL, fixture_setup, test_load_bad_archives,
              fixture_teardown);
  g_test_add ("/cli/interrupted-create", Fixture, NULL, fixture_setup, test_interrupted_create,
              fixture_teardown);
  g_test_add ("/cli/registry-names", Fixture, NULL, fixture_setup, test_registry_names,
              fixture_teardown);
  g_test_add ("/cli/bad-input", Fixture, NULL, fixture_setup, test_bad_input, fixture_teardown);
  g_test_add ("/cli/foreign-root", Fixture, NULL, fixture_setup, test_foreign_root, fixture_teardown);
  g_test_add ("/cli/store-marker", Fixture, NULL, fixture_setup, test_store_marker, fixture_teardown);
  g_test_add ("/cli/killed-run", Fixture, NULL, fixture_setup, test_killed_run, fixture_teardown);
  g_test_add ("/cli/killed-rmi-recovered", Fixture, NULL, fixture_setup,
              test_killed_rmi_recovered, fixture_teardown);
  g_test_add ("/cli/killed-rmi-overlay", Fixture, NULL, fixture_setup, test_killed_rmi_overlay,
              fixture_teardown);
  g_test_add ("/cli/killed-start-hold", Fixture, NULL, fixture_setup, test_killed_start_hold,
              fixture_teardown);
  g_test_add ("/cli/killed-monitor-cgroup", Fixture, NULL, fixture_setup,
              test_killed_monitor_cgroup, fixture_teardown);
  g_test_add ("/cli/monitor-caller-fds", Fixture, NULL, fixture_setup, test_monitor_caller_fds,
              fixture_teardown);
  g_test_add ("/cli/attach-handle", Fixture, NULL, fixture_setup, test_attach_handle,
              fixture_teardown);
  return g_test_run ();
}
