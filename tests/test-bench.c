/* berth bench end to end, on a tiny setting: it runs over every backend this
 * host has, its JSON holds every phase for every backend, its HTML parses
 * and has a chart per phase and per curve, it leaves nothing behind, and
 * Ctrl-C stops it cleanly. Timings are never asserted: only that they exist. */
#include "config.h"
#include "testutil.h"
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  char *dir;    /* the test's own directory: store, tmpdir, report files */
  char *root;
  char *tmpdir;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  (void) data;
  f->dir = tu_mkdtemp ("berth-bench");
  f->root = g_build_filename (f->dir, "store", NULL);
  f->tmpdir = g_build_filename (f->dir, "tmp", NULL);
  g_assert_cmpint (g_mkdir_with_parents (f->tmpdir, 0700), ==, 0);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  (void) data;
  tu_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->root);
  g_free (f->tmpdir);
}

/* The bench's temporary root is gone: nothing in --tmpdir, nothing
 * mounted below the test's directory. */
static void
assert_nothing_left (Fixture *f)
{
  g_autoptr (GDir) d = g_dir_open (f->tmpdir, 0, NULL);
  g_assert_nonnull (d);
  const char *left = g_dir_read_name (d);
  if (left)
    g_error ("bench left %s/%s behind", f->tmpdir, left);
  g_assert_false (tu_mounted_below (f->dir));
}

static const char *const storage_phases[] = {
  "unpack", "create", "mount", "copy-up-large", "copy-up-small", "meta-create", "meta-stat",
  "meta-unlink", "seq-read-qd1", "seq-read-qd32", "seq-write-qd1", "seq-write-qd32",
  "rand-read-qd1", "rand-read-qd32", "rand-write-qd1", "rand-write-qd32", "commit",
  "diff-size", "umount", "remove", NULL,
};

static GPtrArray *
available (JsonObject *results, const char *member)
{
  GPtrArray *names = g_ptr_array_new ();
  JsonArray *a = json_object_get_array_member (results, member);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonObject *b = json_array_get_object_element (a, i);
      if (json_object_get_boolean_member (b, "available"))
        g_ptr_array_add (names, (gpointer) json_object_get_string_member (b, "name"));
      else
        g_assert_nonnull (strstr (json_object_get_string_member (b, "reason"), " "));
    }
  return names;
}

static JsonObject *
find_by_id (JsonArray *a, const char *id)
{
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonObject *o = json_array_get_object_element (a, i);
      if (g_strcmp0 (json_object_get_string_member (o, "id"), id) == 0)
        return o;
    }
  g_error ("no %s in the results", id);
}

static void
assert_result (JsonObject *phase, const char *backend)
{
  JsonObject *results = json_object_get_object_member (phase, "results");
  const char *id = json_object_get_string_member (phase, "id");
  if (!json_object_has_member (results, backend))
    g_error ("phase %s has no result for %s", id, backend);
  JsonObject *r = json_object_get_object_member (results, backend);
  if (json_object_has_member (r, "error"))
    g_error ("phase %s failed on %s: %s", id, backend, json_object_get_string_member (r, "error"));
  double median = json_object_get_double_member (r, "median");
  g_assert_cmpfloat (median, >, 0);
  g_assert_cmpfloat (json_object_get_double_member (r, "min"), <=, median);
  g_assert_cmpfloat (json_object_get_double_member (r, "max"), >=, median);
  g_assert_cmpint (json_array_get_length (json_object_get_array_member (r, "samples")), ==, 2);
}

static void
check_json (const char *path, const char *const *want_storage)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_file (p, path, &error));
  JsonObject *results = json_node_get_object (json_parser_get_root (p));
  g_autoptr (GPtrArray) storage = available (results, "storage_drivers");
  g_autoptr (GPtrArray) exec = available (results, "exec_drivers");
  for (const char *const *d = want_storage; *d; d++)
    if (!g_ptr_array_find_with_equal_func (storage, *d, g_str_equal, NULL))
      g_error ("storage driver %s was asked for but is not in the results as available", *d);
  g_assert_true (g_ptr_array_find_with_equal_func (exec, "native", g_str_equal, NULL));
  JsonArray *phases = json_object_get_array_member (results, "phases");
  for (const char *const *id = storage_phases; *id; id++)
    for (guint i = 0; i < storage->len; i++)
      assert_result (find_by_id (phases, *id), storage->pdata[i]);
  for (guint i = 0; i < exec->len; i++)
    assert_result (find_by_id (phases, "start"), exec->pdata[i]);
  /* Every network mode that can run here has its figures; each one that
   * cannot says why. loopback (the floor) and none are always there. */
  g_autoptr (GPtrArray) modes = available (results, "network_modes");
  g_assert_true (g_ptr_array_find_with_equal_func (modes, "loopback", g_str_equal, NULL));
  g_assert_true (g_ptr_array_find_with_equal_func (modes, "none", g_str_equal, NULL));
  for (guint i = 0; i < modes->len; i++)
    {
      const char *mode = modes->pdata[i];
      gboolean container = strcmp (mode, "loopback") != 0;
      gboolean transfers = strcmp (mode, "none") != 0;
      if (container)
        assert_result (find_by_id (phases, "net-start"), mode);
      if (transfers)
        {
          assert_result (find_by_id (phases, "net-c2c-stream"), mode);
          assert_result (find_by_id (phases, "net-c2h-stream"), mode);
          assert_result (find_by_id (phases, "net-c2c-rtt"), mode);
        }
      if (transfers && strcmp (mode, "host") != 0)
        assert_result (find_by_id (phases, "net-publish-stream"), mode);
    }
  /* The data path says how it ran, for each backend. */
  JsonArray *drivers = json_object_get_array_member (results, "storage_drivers");
  for (guint i = 0; i < json_array_get_length (drivers); i++)
    {
      JsonObject *d = json_array_get_object_element (drivers, i);
      if (json_object_get_boolean_member (d, "available"))
        g_assert_nonnull (json_object_get_string_member (d, "io_mode"));
    }
  const char *curves[] = { "mount-vs-layers", "create-vs-size", "list-vs-containers" };
  guint points[] = { 8, 3, 2 }; /* 1..128 layers; 1, 8, 64 MiB; 1 and 3 containers */
  JsonArray *growth = json_object_get_array_member (results, "growth");
  for (guint c = 0; c < G_N_ELEMENTS (curves); c++)
    {
      JsonObject *curve = find_by_id (growth, curves[c]);
      JsonObject *series = json_object_get_object_member (curve, "series");
      JsonObject *errors = json_object_get_object_member (curve, "errors");
      for (guint i = 0; i < storage->len; i++)
        {
          const char *name = storage->pdata[i];
          g_assert_true (json_object_has_member (series, name));
          guint have = json_array_get_length (json_object_get_array_member (series, name));
          /* A point a backend cannot reach (aufs's 127-branch limit at 128
           * layers) is left out only with the reason in the curve's errors. */
          if (have < points[c] && json_object_has_member (errors, name))
            {
              g_test_message ("%s: %s: %u of %u points: %s", curves[c], name, have, points[c],
                              json_object_get_string_member (errors, name));
              g_assert_cmpuint (have, >, 0);
              continue;
            }
          g_assert_cmpuint (have, ==, points[c]);
        }
    }
  JsonObject *rec = json_object_get_object_member (results, "recommendation");
  g_assert_true (g_ptr_array_find_with_equal_func (storage, json_object_get_string_member (rec, "storage"),
                                                   g_str_equal, NULL));
  g_assert_true (g_ptr_array_find_with_equal_func (exec, json_object_get_string_member (rec, "exec"),
                                                   g_str_equal, NULL));
  /* bridge where it ran, none where it could not. */
  const char *network = json_object_get_string_member (rec, "network");
  gboolean bridge = g_ptr_array_find_with_equal_func (modes, "bridge", g_str_equal, NULL);
  g_assert_cmpstr (network, ==, bridge ? "bridge" : "none");
  g_assert_cmpint (json_array_get_length (json_object_get_array_member (rec, "reasons")), >, 0);
}

typedef struct {
  guint svg;
  guint depth, max_depth;
} HtmlCount;

static void
on_start (GMarkupParseContext *ctx, const char *name, const char **attr_names, const char **attr_values,
          gpointer data, GError **error)
{
  (void) ctx, (void) attr_names, (void) attr_values, (void) error;
  HtmlCount *c = data;
  c->svg += strcmp (name, "svg") == 0;
  c->depth++;
  c->max_depth = MAX (c->max_depth, c->depth);
}

static void
on_end (GMarkupParseContext *ctx, const char *name, gpointer data, GError **error)
{
  (void) ctx, (void) name, (void) error;
  ((HtmlCount *) data)->depth--;
}

/* Strict parsing (GMarkup is an XML parser): the report is polyglot XHTML,
 * so any unclosed tag or bare '&' fails here as a browser would misread it. */
static void
check_html (const char *path, guint charts)
{
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_assert_true (g_str_has_prefix (text, "<!DOCTYPE html>"));
  /* Self-contained: nothing fetched from elsewhere. */
  g_assert_null (strstr (text, "src=\"http"));
  g_assert_null (strstr (text, "href=\"http"));
  const char *body = strchr (text, '\n');
  g_assert_nonnull (body);
  GMarkupParser parser = { .start_element = on_start, .end_element = on_end };
  HtmlCount count = { 0 };
  g_autoptr (GMarkupParseContext) ctx = g_markup_parse_context_new (&parser, 0, &count, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_markup_parse_context_parse (ctx, body, -1, &error) || !g_markup_parse_context_end_parse (ctx, &error))
    g_error ("%s does not parse: %s", path, error->message);
  g_assert_cmpint (count.svg, ==, charts);
  g_assert_cmpint (count.depth, ==, 0);
}

static void
test_end_to_end (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *filesystems = NULL;
  g_autofree char *mkfs = g_find_program_in_path ("mkfs.btrfs");
  g_assert_true (g_file_get_contents ("/proc/filesystems", &filesystems, NULL, NULL));
  gboolean btrfs = mkfs && strstr (filesystems, "\tbtrfs\n");
  /* aufs wherever the kernel has it (the kernel matrix's AUFS guest). */
  gboolean aufs = strstr (filesystems, "\taufs\n") != NULL;
  g_autoptr (GPtrArray) want = g_ptr_array_new ();
  g_ptr_array_add (want, (gpointer) "overlay");
  g_ptr_array_add (want, (gpointer) "vfs");
  if (btrfs)
    g_ptr_array_add (want, (gpointer) "btrfs");
  if (aufs)
    g_ptr_array_add (want, (gpointer) "aufs");
  g_ptr_array_add (want, NULL);
  g_autofree char *drivers = g_strjoinv (",", (char **) want->pdata);
  g_autofree char *json = g_build_filename (f->dir, "report.json", NULL);
  g_autofree char *html = g_build_filename (f->dir, "report.html", NULL);
  g_autofree char *out = NULL, *err = NULL;
  int rc = tu_berth (f->root, &out, &err, "bench", "--storage-drivers", drivers, "--btrfs-loop", "512M",
                     "--runs", "2", "--layers", "3", "--files", "60", "--containers", "3",
                     "--io-size", "2M", "--tmpdir", f->tmpdir, "--json", json, "--html", html, NULL);
  if (rc != 0)
    g_error ("bench exited %d: %s", rc, err);
  if (!btrfs)
    g_test_message ("btrfs left out of the run: no mkfs.btrfs or no btrfs in the kernel");
  if (!aufs)
    g_test_message ("aufs left out of the run: the kernel has no aufs");
  /* The table names each phase and ends with the recommendation. */
  g_assert_nonnull (strstr (out, "Container create"));
  g_assert_nonnull (strstr (out, "ecommend"));
  check_json (json, (const char *const *) want->pdata);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_file (p, json, NULL));
  JsonObject *results = json_node_get_object (json_parser_get_root (p));
  guint charts = json_array_get_length (json_object_get_array_member (results, "phases"))
                 + json_array_get_length (json_object_get_array_member (results, "growth"));
  check_html (html, charts);
  assert_nothing_left (f);
  /* The user's store was never touched: the bench made none there. */
  g_assert_false (g_file_test (f->root, G_FILE_TEST_EXISTS));
}

static void
test_bad_input (Fixture *f, gconstpointer data)
{
  (void) data;
  const char *cases[][3] = {
    { "--storage-drivers", "overlay,nosuch", "nosuch" },
    { "--io-size", "100k", "--io-size" },
    { "--runs", "0", "--runs" },
    { "--btrfs-loop", "10M", "--btrfs-loop" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *err = NULL;
      int rc = tu_berth (f->root, NULL, &err, "bench", cases[i][0], cases[i][1], "--tmpdir", f->tmpdir, NULL);
      g_assert_cmpint (rc, !=, 0);
      tu_assert_one_line_error (err, cases[i][2]);
      assert_nothing_left (f);
    }
}

/* SIGINT in the middle: exit 130, the temporary root and its mounts gone. */
static void
test_interrupt (Fixture *f, gconstpointer data)
{
  (void) data;
  const char *argv[] = { tu_berth_bin (), "--root", f->root, "bench", "--storage-drivers", "overlay,vfs",
                         "--exec-drivers", "native", "--runs", "50", "--files", "2000",
                         "--io-size", "8M", "--tmpdir", f->tmpdir, NULL };
  GPid pid;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL
                                | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &pid, &error));
  /* Interrupt once it is under way: a store mounted below the temp root. */
  for (int i = 0; i < 600 && !tu_mounted_below (f->tmpdir); i++)
    g_usleep (50000);
  g_assert_true (tu_mounted_below (f->tmpdir));
  g_assert_cmpint (kill (pid, SIGINT), ==, 0);
  int status = 0;
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 130);
  assert_nothing_left (f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (getuid () != 0)
    {
      g_test_skip ("berth bench needs root (mounts, namespaces, cgroups)");
      return g_test_run ();
    }
  g_test_add ("/bench/end-to-end", Fixture, NULL, fixture_setup, test_end_to_end, fixture_teardown);
  g_test_add ("/bench/bad-input", Fixture, NULL, fixture_setup, test_bad_input, fixture_teardown);
  g_test_add ("/bench/interrupt", Fixture, NULL, fixture_setup, test_interrupt, fixture_teardown);
  return g_test_run ();
}
