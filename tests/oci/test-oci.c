/* berth-runc against the OCI runtime spec's lifecycle, with real bundles:
 * a busybox rootfs and a config.json from `berth-runc spec`, changed per
 * case. The first part of tests/oci/ (issue 7): create/start/state/kill/
 * delete, run, and the command line's refusals. */
#include "config.h"
#include "../testutil.h"
#include "oci-fixture.h"
#include <json-glib/json-glib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef OciFixture Fixture;

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
  g_assert_cmpint (oci_runc (f, &out, NULL, "state", id, NULL), ==, 0);
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
  oci_set_script (f, "echo ran > /tmp/marker; exec sleep 1000");
  g_autofree char *pid_file = g_build_filename (f->dir, "pid", NULL);
  g_assert_cmpint (oci_runc_create (f, "c1", pid_file), ==, 0);
  g_autofree char *pid = NULL;
  g_assert_true (g_file_get_contents (pid_file, &pid, NULL, NULL));
  g_assert_cmpint (atoi (pid), >, 1);
  g_autofree char *s1 = status_of (f, "c1");
  g_assert_cmpstr (s1, ==, "created");
  g_autofree char *marker = g_strdup_printf ("/proc/%s/root/tmp/marker", pid);
  g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));
  g_assert_cmpint (oci_runc (f, NULL, NULL, "start", "c1", NULL), ==, 0);
  for (int i = 0; i < 200 && !g_file_test (marker, G_FILE_TEST_EXISTS); i++)
    g_usleep (10000);
  g_assert_true (g_file_test (marker, G_FILE_TEST_EXISTS));
  g_autofree char *s2 = status_of (f, "c1");
  g_assert_cmpstr (s2, ==, "running");
  g_autofree char *err = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err, "delete", "c1", NULL), !=, 0);
  assert_one_line_error (err, "is running");
  g_assert_cmpint (oci_runc (f, NULL, NULL, "kill", "c1", "KILL", NULL), ==, 0);
  g_autofree char *s3 = NULL;
  for (int i = 0; i < 200 && g_strcmp0 (s3, "stopped") != 0; i++)
    {
      g_free (s3);
      s3 = status_of (f, "c1");
      g_usleep (10000);
    }
  g_assert_cmpstr (s3, ==, "stopped");
  g_assert_cmpint (oci_runc (f, NULL, NULL, "delete", "c1", NULL), ==, 0);
  g_autofree char *err2 = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err2, "state", "c1", NULL), !=, 0);
  assert_one_line_error (err2, "does not exist");
}

/* run: the program's output on our stdout, its exit code as ours, the
 * spec's hostname inside, nothing left under --root. */
static void
test_run (Fixture *f, gconstpointer data)
{
  (void) data;
  oci_set_script (f, "echo \"on $(hostname)\"; exit 7");
  g_autofree char *out = NULL;
  g_assert_cmpint (oci_runc (f, &out, NULL, "run", "--bundle", f->bundle, "r1", NULL), ==, 7);
  g_assert_cmpstr (out, ==, "on berth-runc\n");
  g_autofree char *list = NULL;
  g_assert_cmpint (oci_runc (f, &list, NULL, "list", NULL), ==, 0);
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
      int rc = oci_runc (f, NULL, &err, a[0], a[1], a[2], a[3], a[4], NULL);
      g_assert_cmpint (rc, !=, 0);
      assert_one_line_error (err, cases[i].needle);
    }
  /* A failed create leaves nothing: the id is free again. */
  g_autofree char *list = NULL;
  g_assert_cmpint (oci_runc (f, &list, NULL, "list", NULL), ==, 0);
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
  g_test_add ("/oci/lifecycle", Fixture, NULL, oci_fixture_setup, test_lifecycle, oci_fixture_teardown);
  g_test_add ("/oci/run", Fixture, NULL, oci_fixture_setup, test_run, oci_fixture_teardown);
  g_test_add ("/oci/refusals", Fixture, NULL, oci_fixture_setup, test_refusals, oci_fixture_teardown);
  return g_test_run ();
}
