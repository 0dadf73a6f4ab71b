/* The bundle fixture of tests/oci/ (oci-fixture.h). */
#include "config.h"
#include "oci-fixture.h"
#include "../testutil.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The busybox applets the cases run (ulimit, printf and test are sh's own). */
static const char *const applets[] = {
  "sh", "awk", "cat", "chown", "cut", "echo", "grep", "head", "hostname", "id",
  "ln", "ls", "mkdir", "mknod", "readlink", "sleep", "stat", "touch", "tr", "tty", "wc",
};

gboolean
oci_test_init (int *argc, char ***argv)
{
  g_test_init (argc, argv, NULL);
  if (getuid () == 0)
    return TRUE;
  g_test_skip ("berth-runc needs root (namespaces, cgroups, mounts)");
  return FALSE;
}

const char *
oci_runc_bin (void)
{
  const char *bin = g_getenv ("BERTH_RUNC_BIN");
  return bin ? bin : "./berth-runc";
}

GPtrArray *
oci_runc_argv (const char *root, va_list args)
{
  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) oci_runc_bin ());
  g_ptr_array_add (argv, (gpointer) "--root");
  g_ptr_array_add (argv, (gpointer) root);
  tu_argv_add_va (argv, args);
  g_ptr_array_add (argv, NULL);
  return argv;
}

int
oci_runc_va (const char *root, char **out, char **err, va_list args)
{
  g_autoptr (GPtrArray) argv = oci_runc_argv (root, args);
  return tu_run ((char **) argv->pdata, out, err);
}

int
oci_runc (OciFixture *f, char **out, char **err, ...)
{
  va_list ap;
  va_start (ap, err);
  int status = oci_runc_va (f->root, out, err, ap);
  va_end (ap);
  return status;
}

/* @argv started with stdin and stdout on /dev/null, stderr on @err_fd (or
 * /dev/null when below 0), not reaped. */
static GPid
spawn_quiet (GPtrArray *argv, int err_fd)
{
  int null_fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
  g_assert_cmpint (null_fd, >=, 0);
  GPid pid;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_async_with_fds (NULL, (char **) argv->pdata, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                         NULL, NULL, &pid, null_fd, null_fd,
                                         err_fd >= 0 ? err_fd : null_fd, &error));
  g_assert_no_error (error);
  close (null_fd);
  return pid;
}

/* Wait for @pid into @status, polling every 10 ms for at most @deadline_s
 * seconds when above 0: FALSE if it still runs then. */
static gboolean
wait_exit (GPid pid, int deadline_s, int *status)
{
  if (deadline_s <= 0)
    {
      while (waitpid (pid, status, 0) < 0)
        g_assert_cmpint (errno, ==, EINTR);
      return TRUE;
    }
  for (int i = 0; i < deadline_s * 100; i++)
    {
      if (waitpid (pid, status, WNOHANG) != 0)
        return TRUE;
      g_usleep (10000);
    }
  return FALSE;
}

int
oci_runc_quiet (OciFixture *f, int deadline_s, char **err, ...)
{
  va_list ap;
  va_start (ap, err);
  g_autoptr (GPtrArray) argv = oci_runc_argv (f->root, ap);
  va_end (ap);
  g_autofree char *err_path = g_build_filename (f->dir, "runc.err", NULL);
  int err_fd = -1;
  if (err)
    {
      err_fd = open (err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      g_assert_cmpint (err_fd, >=, 0);
    }
  GPid pid = spawn_quiet (argv, err_fd);
  if (err_fd >= 0)
    close (err_fd);
  int status = 0;
  if (!wait_exit (pid, deadline_s, &status))
    {
      kill (pid, SIGKILL);
      waitpid (pid, NULL, 0);
      g_error ("berth-runc %s %s: still running after %d s", (char *) argv->pdata[3],
               (char *) argv->pdata[4], deadline_s);
    }
  if (err)
    g_assert_true (g_file_get_contents (err_path, err, NULL, NULL));
  return WIFEXITED (status) ? WEXITSTATUS (status) : 255;
}

int
oci_runc_create (OciFixture *f, const char *id, const char *pid_file)
{
  return oci_runc_quiet (f, 0, NULL, "create", "--bundle", f->bundle, "--pid-file", pid_file, id, NULL);
}

JsonNode *
oci_config_read (OciFixture *f)
{
  g_autofree char *path = g_build_filename (f->bundle, "config.json", NULL);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) error = NULL;
  if (!json_parser_load_from_file (p, path, &error))
    g_error ("%s: %s", path, error->message);
  return json_node_copy (json_parser_get_root (p));
}

void
oci_config_write (OciFixture *f, JsonNode *config)
{
  g_autofree char *path = g_build_filename (f->bundle, "config.json", NULL);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, config);
  g_assert_true (json_generator_to_file (gen, path, NULL));
}

/* The object holding the last member of @path, made along the way; the
 * last member's name in @leaf. */
static JsonObject *
parent_of (JsonNode *config, const char *path, char **leaf)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  guint n = g_strv_length (parts);
  g_assert_cmpuint (n, >, 0);
  JsonObject *o = json_node_get_object (config);
  for (guint i = 0; i + 1 < n; i++)
    {
      if (!json_object_has_member (o, parts[i]))
        json_object_set_object_member (o, parts[i], json_object_new ());
      o = json_object_get_object_member (o, parts[i]);
      g_assert_nonnull (o);
    }
  *leaf = g_strdup (parts[n - 1]);
  return o;
}

static JsonNode *
parse_json (const char *json)
{
  g_autoptr (GError) error = NULL;
  JsonNode *node = json_from_string (json, &error);
  if (node == NULL)
    g_error ("bad JSON in a test (%s): %s", error->message, json);
  return node;
}

void
oci_config_set (OciFixture *f, const char *path, const char *json)
{
  g_autoptr (JsonNode) config = oci_config_read (f);
  g_autofree char *leaf = NULL;
  JsonObject *parent = parent_of (config, path, &leaf);
  json_object_set_member (parent, leaf, parse_json (json));
  oci_config_write (f, config);
}

void
oci_config_append (OciFixture *f, const char *path, const char *json)
{
  g_autoptr (JsonNode) config = oci_config_read (f);
  g_autofree char *leaf = NULL;
  JsonObject *parent = parent_of (config, path, &leaf);
  if (!json_object_has_member (parent, leaf))
    json_object_set_array_member (parent, leaf, json_array_new ());
  JsonArray *array = json_object_get_array_member (parent, leaf);
  g_assert_nonnull (array);
  json_array_add_element (array, parse_json (json));
  oci_config_write (f, config);
}

void
oci_set_script (OciFixture *f, const char *script)
{
  g_autoptr (JsonNode) config = oci_config_read (f);
  JsonObject *o = json_node_get_object (config);
  JsonArray *args = json_array_new ();
  json_array_add_string_element (args, "sh");
  json_array_add_string_element (args, "-c");
  json_array_add_string_element (args, script);
  json_object_set_array_member (json_object_get_object_member (o, "process"), "args", args);
  json_object_set_boolean_member (json_object_get_object_member (o, "root"), "readonly", FALSE);
  oci_config_write (f, config);
}

char *
oci_rootfs_path (OciFixture *f, const char *rel)
{
  return g_build_filename (f->bundle, "rootfs", rel, NULL);
}

void
oci_fixture_setup (OciFixture *f, gconstpointer data)
{
  f->dir = tu_mkdtemp (data ? data : "berth-oci");
  f->bundle = g_build_filename (f->dir, "bundle", NULL);
  f->root = g_build_filename (f->dir, "state", NULL);
  g_autofree char *bin = oci_rootfs_path (f, "bin");
  g_autofree char *tmp = oci_rootfs_path (f, "tmp");
  g_assert_cmpint (g_mkdir_with_parents (bin, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (tmp, 0755), ==, 0);
  g_assert_cmpint (chmod (tmp, 01777), ==, 0);
  g_autofree char *busybox = g_find_program_in_path ("busybox");
  g_assert_nonnull (busybox);
  g_autofree char *copy = g_build_filename (bin, "busybox", NULL);
  char *cp[] = { "cp", busybox, copy, NULL };
  g_assert_cmpint (tu_run (cp, NULL, NULL), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (applets); i++)
    {
      g_autofree char *link = g_build_filename (bin, applets[i], NULL);
      g_assert_cmpint (symlink ("busybox", link), ==, 0);
    }
  /* spec writes config.json in the working directory, as runc's does. */
  g_autofree char *cwd = g_get_current_dir ();
  g_autofree char *bin_abs = g_canonicalize_filename (oci_runc_bin (), cwd);
  char *spec[] = { bin_abs, "spec", NULL };
  g_assert_cmpint (chdir (f->bundle), ==, 0);
  int rc = tu_run (spec, NULL, NULL);
  g_assert_cmpint (chdir (cwd), ==, 0);
  g_assert_cmpint (rc, ==, 0);
}

void
oci_fixture_teardown (OciFixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *ids = NULL;
  oci_runc (f, &ids, NULL, "list", NULL);
  g_auto (GStrv) lines = g_strsplit (ids ? ids : "", "\n", -1);
  for (char **l = lines; *l; l++)
    if (**l && !g_str_has_prefix (*l, "ID "))
      {
        g_auto (GStrv) cols = g_strsplit (*l, " ", 2);
        oci_runc (f, NULL, NULL, "delete", "--force", cols[0], NULL);
      }
  tu_remove_tree (f->dir);
  g_clear_pointer (&f->dir, g_free);
  g_clear_pointer (&f->bundle, g_free);
  g_clear_pointer (&f->root, g_free);
}
