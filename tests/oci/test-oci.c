/* berth-runc against the OCI runtime spec's lifecycle, with real bundles:
 * a busybox rootfs and a config.json from `berth-runc spec`, changed per
 * case. The first part of tests/oci/ (issue 7): create/start/state/kill/
 * delete, run, and the command line's refusals. */
#include "config.h"
#include "../testutil.h"
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  char *dir;     /* the test's directory */
  char *bundle;
  char *root;    /* berth-runc --root */
} Fixture;

static const char *
runc_bin (void)
{
  const char *bin = g_getenv ("BERTH_RUNC_BIN");
  return bin ? bin : "./berth-runc";
}

/* berth-runc --root ROOT ARGS...: its exit code and output. */
static int G_GNUC_NULL_TERMINATED
runc (Fixture *f, char **out, char **err, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) runc_bin ());
  g_ptr_array_add (argv, (gpointer) "--root");
  g_ptr_array_add (argv, f->root);
  va_list ap;
  va_start (ap, err);
  const char *a;
  while ((a = va_arg (ap, const char *)))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  return tu_run ((char **) argv->pdata, out, err);
}

/* create, with the container's stdio on /dev/null: the created process
 * keeps the stdio it was given, so a captured pipe would never close. */
static int
runc_create (Fixture *f, const char *id, const char *pid_file)
{
  const char *argv[] = { runc_bin (), "--root", f->root, "create", "--bundle", f->bundle,
                         "--pid-file", pid_file, id, NULL };
  int status = 0;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL,
                               G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                               NULL, NULL, &status, &error));
  return WIFEXITED (status) ? WEXITSTATUS (status) : 255;
}

/* The bundle's process runs @script under sh. */
static void
set_script (Fixture *f, const char *script)
{
  g_autofree char *path = g_build_filename (f->bundle, "config.json", NULL);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_file (p, path, NULL));
  JsonObject *process = json_object_get_object_member (json_node_get_object (json_parser_get_root (p)), "process");
  JsonArray *args = json_array_new ();
  json_array_add_string_element (args, "sh");
  json_array_add_string_element (args, "-c");
  json_array_add_string_element (args, script);
  json_object_set_array_member (process, "args", args);
  /* runc's default root is read-only; the cases write to /tmp. */
  JsonObject *root = json_object_get_object_member (json_node_get_object (json_parser_get_root (p)), "root");
  json_object_set_boolean_member (root, "readonly", FALSE);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, json_parser_get_root (p));
  g_assert_true (json_generator_to_file (gen, path, NULL));
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  (void) data;
  f->dir = tu_mkdtemp ("berth-oci");
  f->bundle = g_build_filename (f->dir, "bundle", NULL);
  f->root = g_build_filename (f->dir, "state", NULL);
  g_autofree char *bin = g_build_filename (f->bundle, "rootfs", "bin", NULL);
  g_autofree char *tmp = g_build_filename (f->bundle, "rootfs", "tmp", NULL);
  g_assert_cmpint (g_mkdir_with_parents (bin, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (tmp, 01777), ==, 0);
  g_autofree char *busybox = g_find_program_in_path ("busybox");
  g_assert_nonnull (busybox);
  g_autofree char *copy = g_build_filename (bin, "busybox", NULL);
  char *cp[] = { "cp", busybox, copy, NULL };
  g_assert_cmpint (tu_run (cp, NULL, NULL), ==, 0);
  const char *applets[] = { "sh", "hostname", "sleep", "cat", "echo" };
  for (guint i = 0; i < G_N_ELEMENTS (applets); i++)
    {
      g_autofree char *link = g_build_filename (bin, applets[i], NULL);
      g_assert_cmpint (symlink ("busybox", link), ==, 0);
    }
  /* spec writes config.json in the working directory, as runc's does. */
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *bin_abs = g_canonicalize_filename (runc_bin (), cwd);
  char *spec[] = { bin_abs, "spec", NULL };
  g_assert_cmpint (chdir (f->bundle), ==, 0);
  int rc = tu_run (spec, NULL, NULL);
  g_assert_cmpint (chdir (cwd), ==, 0);
  g_assert_cmpint (rc, ==, 0);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *ids = NULL;
  runc (f, &ids, NULL, "list", NULL);
  g_auto (GStrv) lines = g_strsplit (ids ? ids : "", "\n", -1);
  for (char **l = lines; *l; l++)
    if (**l && !g_str_has_prefix (*l, "ID "))
      {
        g_auto (GStrv) cols = g_strsplit (*l, " ", 2);
        runc (f, NULL, NULL, "delete", "--force", cols[0], NULL);
      }
  tu_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->bundle);
  g_free (f->root);
}

/* berth's error contract, with berth-runc's name: one line naming @needle. */
static void
assert_one_line_error (const char *err, const char *needle)
{
  g_assert_nonnull (err);
  g_assert_true (g_str_has_prefix (err, "berth-runc: "));
  g_assert_nonnull (strstr (err, needle));
  g_assert_cmpint (strchr (err, '\n') - err, ==, (int) strlen (err) - 1);
}

static char *
status_of (Fixture *f, const char *id)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (runc (f, &out, NULL, "state", id, NULL), ==, 0);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_data (p, out, -1, NULL));
  JsonObject *o = json_node_get_object (json_parser_get_root (p));
  g_assert_cmpstr (json_object_get_string_member (o, "ociVersion"), ==, "1.0.2");
  g_assert_cmpstr (json_object_get_string_member (o, "id"), ==, id);
  g_autofree char *bundle = g_canonicalize_filename (f->bundle, NULL);
  g_assert_cmpstr (json_object_get_string_member (o, "bundle"), ==, bundle);
  return g_strdup (json_object_get_string_member (o, "status"));
}

/* create leaves the process waiting before the program (it has not run:
 * its marker file is absent), start releases it, kill stops it, delete
 * refuses a running container and removes a stopped one. */
static void
test_lifecycle (Fixture *f, gconstpointer data)
{
  (void) data;
  set_script (f, "echo ran > /tmp/marker; exec sleep 1000");
  g_autofree char *pid_file = g_build_filename (f->dir, "pid", NULL);
  g_assert_cmpint (runc_create (f, "c1", pid_file), ==, 0);
  g_autofree char *pid = NULL;
  g_assert_true (g_file_get_contents (pid_file, &pid, NULL, NULL));
  g_assert_cmpint (atoi (pid), >, 1);
  g_autofree char *s1 = status_of (f, "c1");
  g_assert_cmpstr (s1, ==, "created");
  g_autofree char *marker = g_strdup_printf ("/proc/%s/root/tmp/marker", pid);
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));
  g_assert_cmpint (runc (f, NULL, NULL, "start", "c1", NULL), ==, 0);
  for (int i = 0; i < 200 && !g_file_test (marker, G_FILE_TEST_EXISTS); i++)
    g_usleep (10000);
  g_assert_true (g_file_test (marker, G_FILE_TEST_EXISTS));
  g_autofree char *s2 = status_of (f, "c1");
  g_assert_cmpstr (s2, ==, "running");
  g_autofree char *err = NULL;
  g_assert_cmpint (runc (f, NULL, &err, "delete", "c1", NULL), !=, 0);
  assert_one_line_error (err, "is running");
  g_assert_cmpint (runc (f, NULL, NULL, "kill", "c1", "KILL", NULL), ==, 0);
  g_autofree char *s3 = NULL;
  for (int i = 0; i < 200 && g_strcmp0 (s3, "stopped") != 0; i++)
    {
      g_free (s3);
      s3 = status_of (f, "c1");
      g_usleep (10000);
    }
  g_assert_cmpstr (s3, ==, "stopped");
  g_assert_cmpint (runc (f, NULL, NULL, "delete", "c1", NULL), ==, 0);
  g_autofree char *err2 = NULL;
  g_assert_cmpint (runc (f, NULL, &err2, "state", "c1", NULL), !=, 0);
  assert_one_line_error (err2, "does not exist");
}

/* run: the program's output on our stdout, its exit code as ours, the
 * spec's hostname inside, nothing left under --root. */
static void
test_run (Fixture *f, gconstpointer data)
{
  (void) data;
  set_script (f, "echo \"on $(hostname)\"; exit 7");
  g_autofree char *out = NULL;
  g_assert_cmpint (runc (f, &out, NULL, "run", "--bundle", f->bundle, "r1", NULL), ==, 7);
  g_assert_cmpstr (out, ==, "on berth-runc\n");
  g_autofree char *list = NULL;
  g_assert_cmpint (runc (f, &list, NULL, "list", NULL), ==, 0);
  g_assert_null (strstr (list, "r1"));
}

static void
test_refusals (Fixture *f, gconstpointer data)
{
  (void) data;
  struct {
    const char *args[6];
    const char *needle;
  } cases[] = {
    { { "create", "--bundle", "/nonexistent", "x", NULL }, "config.json" },
    { { "create", "--bundle", f->bundle, "../escape", NULL }, "container id" },
    { { "start", "nosuch", NULL }, "does not exist" },
    { { "kill", "nosuch", "NOSIG", NULL }, "NOSIG" },
    { { "--systemd-cgroup", "list", NULL }, "systemd" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *err = NULL;
      const char **a = cases[i].args;
      int rc = runc (f, NULL, &err, a[0], a[1], a[2], a[3], a[4], NULL);
      g_assert_cmpint (rc, !=, 0);
      assert_one_line_error (err, cases[i].needle);
    }
  /* A failed create leaves nothing: the id is free again. */
  g_autofree char *list = NULL;
  g_assert_cmpint (runc (f, &list, NULL, "list", NULL), ==, 0);
  g_assert_cmpstr (list, ==, "ID                       PID      STATUS   BUNDLE\n");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (getuid () != 0)
    {
      g_test_skip ("berth-runc needs root (namespaces, cgroups, mounts)");
      return g_test_run ();
    }
  g_test_add ("/oci/lifecycle", Fixture, NULL, fixture_setup, test_lifecycle, fixture_teardown);
  g_test_add ("/oci/run", Fixture, NULL, fixture_setup, test_run, fixture_teardown);
  g_test_add ("/oci/refusals", Fixture, NULL, fixture_setup, test_refusals, fixture_teardown);
  return g_test_run ();
}
