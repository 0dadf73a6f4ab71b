/* berth-runc as containerd's runtime: a real containerd (Debian's), with
 * its own root, state and socket in a temporary directory, driven by ctr
 * with --runc-binary pointing at berth-runc, the way a Kubernetes node's
 * containerd would call it. Skips, saying why, where containerd, ctr or
 * its runc shim is not installed. */
#include "config.h"
#include "../testutil.h"
#include "oci-fixture.h"
#include <glib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  OciFixture oci;   /* its bundle's rootfs is the containers' --rootfs */
  char *dir;
  char *socket;
  char *runc_root;  /* --runc-root: berth-runc's --root, per namespace below it */
  char *rootfs;
  char *ns;         /* the containerd namespace: also the cgroup parent */
  GPid containerd;
} Fixture;

static char *
missing_program (void)
{
  const char *needed[] = { "containerd", "ctr", "containerd-shim-runc-v2", "busybox" };
  for (guint i = 0; i < G_N_ELEMENTS (needed); i++)
    {
      g_autofree char *path = g_find_program_in_path (needed[i]);
      if (path == NULL)
        return g_strdup_printf ("%s is not installed (Debian package %s)", needed[i],
                                strcmp (needed[i], "busybox") == 0 ? "busybox" : "containerd");
    }
  return NULL;
}

/* ctr --address SOCKET -n NS ARGS...: its exit code and output. */
static int G_GNUC_NULL_TERMINATED
ctr (Fixture *f, char **out, char **err, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const char *head[] = { "timeout", "60", "ctr", "--address", f->socket, "-n", f->ns };
  for (guint i = 0; i < G_N_ELEMENTS (head); i++)
    g_ptr_array_add (argv, (gpointer) head[i]);
  va_list ap;
  va_start (ap, err);
  tu_argv_add_va (argv, ap);
  va_end (ap);
  g_ptr_array_add (argv, NULL);
  return tu_run ((char **) argv->pdata, out, err);
}

/* berth-runc --root <runc root>/<ns> ARGS: what containerd left in it. */
static int G_GNUC_NULL_TERMINATED
runc (Fixture *f, char **out, ...)
{
  g_autofree char *root = g_build_filename (f->runc_root, f->ns, NULL);
  va_list ap;
  va_start (ap, out);
  int status = oci_runc_va (root, out, NULL, ap);
  va_end (ap);
  return status;
}

static gboolean
containerd_ready (Fixture *f)
{
  for (int i = 0; i < 200; i++)
    {
      if (g_file_test (f->socket, G_FILE_TEST_EXISTS) && ctr (f, NULL, NULL, "version", NULL) == 0)
        return TRUE;
      g_usleep (50000);
    }
  return FALSE;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *missing = missing_program ();
  if (missing)
    return;
  oci_fixture_setup (&f->oci, "berth-containerd");
  f->dir = g_strdup (f->oci.dir);
  f->socket = g_build_filename (f->dir, "containerd.sock", NULL);
  f->runc_root = g_build_filename (f->dir, "runc", NULL);
  f->rootfs = oci_rootfs_path (&f->oci, "");
  f->ns = g_strdup_printf ("berth-test-%d", (int) getpid ());
  g_autofree char *config = g_build_filename (f->dir, "config.toml", NULL);
  /* CRI is Kubernetes' door and wants a CNI set-up; ctr needs none of it. */
  g_autofree char *toml = g_strdup_printf ("version = 2\nroot = \"%s/root\"\nstate = \"%s/state\"\n"
                                           "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"
                                           "[grpc]\n  address = \"%s\"\n"
                                           "[ttrpc]\n  address = \"%s.ttrpc\"\n",
                                           f->dir, f->dir, f->socket, f->socket);
  tu_write_file (config, toml, 0644);
  g_autofree char *log = g_build_filename (f->dir, "containerd.log", NULL);
  g_autofree char *cmd = g_strdup_printf ("exec containerd --config '%s' >'%s' 2>&1", config, log);
  char *argv[] = { "sh", "-c", cmd, NULL };
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_async (NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                                NULL, NULL, &f->containerd, &error));
  g_assert_no_error (error);
  if (!containerd_ready (f))
    {
      g_autofree char *text = NULL;
      g_file_get_contents (log, &text, NULL, NULL);
      g_printerr ("containerd log:\n%s\n", text ? text : "");
      g_assert_not_reached ();
    }
}

/* containerd's namespace is the cgroup parent of its containers
 * (cgroupsPath /<ns>/<id>); berth-runc removes the containers' own. */
static void
remove_namespace_cgroups (Fixture *f)
{
  g_autoptr (GDir) top = g_dir_open ("/sys/fs/cgroup", 0, NULL);
  const char *name;
  while (top && (name = g_dir_read_name (top)))
    {
      g_autofree char *dir = g_build_filename ("/sys/fs/cgroup", name, f->ns, NULL);
      rmdir (dir);
    }
  g_autofree char *v2 = g_build_filename ("/sys/fs/cgroup", f->ns, NULL);
  rmdir (v2);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  (void) data;
  if (f->dir == NULL)
    return;
  /* After a failed case: what containerd still runs, and its shims. */
  g_autofree char *ids = NULL;
  runc (f, &ids, "list", "-q", NULL);
  g_auto (GStrv) lines = g_strsplit (ids ? ids : "", "\n", -1);
  for (char **l = lines; *l; l++)
    if (**l)
      runc (f, NULL, "delete", "--force", *l, NULL);
  g_autofree char *shims = g_strdup_printf ("containerd-shim-runc-v2 .*-address %s", f->socket);
  char *pkill[] = { "pkill", "-f", shims, NULL };
  tu_run (pkill, NULL, NULL);
  kill (f->containerd, SIGTERM);
  int status;
  waitpid (f->containerd, &status, 0);
  g_spawn_close_pid (f->containerd);
  remove_namespace_cgroups (f);
  oci_fixture_teardown (&f->oci, NULL);
  g_free (f->dir);
  g_free (f->socket);
  g_free (f->runc_root);
  g_free (f->rootfs);
  g_free (f->ns);
}

static gboolean
skip_if_missing (Fixture *f)
{
  if (f->dir)
    return FALSE;
  g_autofree char *missing = missing_program ();
  g_autofree char *msg = g_strdup_printf ("containerd test: %s", missing);
  g_test_skip (msg);
  g_print ("# SKIP %s\n", msg);
  return TRUE;
}

/* ctr run to the end: the program's output reaches ctr, its exit code is
 * ctr's, and nothing is left in berth-runc's state afterwards. */
static void
test_run_to_exit (Fixture *f, gconstpointer data)
{
  (void) data;
  if (skip_if_missing (f))
    return;
  g_autofree char *out = NULL, *err = NULL;
  int rc = ctr (f, &out, &err, "run", "--rm", "--runc-binary", oci_runc_bin (), "--runc-root", f->runc_root,
                "--rootfs", f->rootfs, "t-exit", "sh", "-c",
                "echo hello from berth; cat /proc/1/cmdline | tr '\\0' ' '; echo; exit 3", NULL);
  g_assert_cmpint (rc, ==, 3);
  g_assert_nonnull (strstr (out, "hello from berth\n"));
  g_assert_nonnull (strstr (out, "sh -c echo hello from berth"));
  g_autofree char *list = NULL;
  g_assert_cmpint (runc (f, &list, "list", "-q", NULL), ==, 0);
  g_assert_cmpstr (list, ==, "");
}

/* The whole field of the container's pid in `ctr task ls`. */
static char *
task_field (Fixture *f, const char *id, guint field)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (ctr (f, &out, NULL, "task", "ls", NULL), ==, 0);
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      g_auto (GStrv) cols = g_strsplit_set (*l, " \t", -1);
      g_autoptr (GPtrArray) words = g_ptr_array_new ();
      for (char **c = cols; *c; c++)
        if (**c)
          g_ptr_array_add (words, *c);
      if (words->len > field && strcmp (words->pdata[0], id) == 0)
        return g_strdup (words->pdata[field]);
    }
  return NULL;
}

static void
wait_task_status (Fixture *f, const char *id, const char *want)
{
  for (int i = 0; i < 200; i++)
    {
      g_autofree char *status = task_field (f, id, 2);
      if (g_strcmp0 (status, want) == 0)
        return;
      g_usleep (50000);
    }
  g_autofree char *status = task_field (f, id, 2);
  g_assert_cmpstr (status, ==, want);
}

/* run -d, then exec, ps, pause/resume, kill and delete through containerd,
 * checked in containerd's view and in berth-runc's own state. */
static void
test_detached_lifecycle (Fixture *f, gconstpointer data)
{
  (void) data;
  if (skip_if_missing (f))
    return;
  g_autofree char *err = NULL;
  int rc = ctr (f, NULL, &err, "run", "-d", "--runc-binary", oci_runc_bin (), "--runc-root", f->runc_root,
                "--rootfs", f->rootfs, "t-life", "sleep", "1000", NULL);
  g_assert_cmpint (rc, ==, 0);
  wait_task_status (f, "t-life", "RUNNING");
  g_autofree char *pid = task_field (f, "t-life", 1);
  g_autofree char *state = NULL;
  g_assert_cmpint (runc (f, &state, "state", "t-life", NULL), ==, 0);
  g_autofree char *want_pid = g_strdup_printf ("\"pid\" : %s,", pid);
  g_assert_nonnull (strstr (state, "\"status\" : \"running\""));
  g_assert_nonnull (strstr (state, want_pid));

  g_autofree char *out = NULL;
  rc = ctr (f, &out, NULL, "task", "exec", "--exec-id", "e1", "t-life", "sh", "-c",
            "echo in-exec; cat /proc/1/cmdline | tr '\\0' ' '; exit 5", NULL);
  g_assert_cmpint (rc, ==, 5);
  g_assert_cmpstr (out, ==, "in-exec\nsleep 1000 ");

  /* ps lists the container's processes by host pid: a detached exec is
   * one more. */
  rc = ctr (f, NULL, NULL, "task", "exec", "-d", "--exec-id", "e2", "t-life", "sleep", "500", NULL);
  g_assert_cmpint (rc, ==, 0);
  g_autofree char *ps = NULL;
  g_assert_cmpint (ctr (f, &ps, NULL, "task", "ps", "t-life", NULL), ==, 0);
  g_auto (GStrv) rows = g_strsplit (g_strstrip (ps), "\n", -1);
  g_assert_cmpuint (g_strv_length (rows), ==, 3);
  g_assert_true (g_str_has_prefix (rows[1], pid) || g_str_has_prefix (rows[2], pid));

  g_assert_cmpint (ctr (f, NULL, NULL, "task", "pause", "t-life", NULL), ==, 0);
  wait_task_status (f, "t-life", "PAUSED");
  g_free (state);
  g_assert_cmpint (runc (f, &state, "state", "t-life", NULL), ==, 0);
  g_assert_nonnull (strstr (state, "\"status\" : \"paused\""));
  g_assert_cmpint (ctr (f, NULL, NULL, "task", "resume", "t-life", NULL), ==, 0);
  wait_task_status (f, "t-life", "RUNNING");

  /* sleep is pid 1 of its namespace: TERM has no handler there, KILL ends it. */
  g_assert_cmpint (ctr (f, NULL, NULL, "task", "kill", "-a", "-s", "SIGKILL", "t-life", NULL), ==, 0);
  wait_task_status (f, "t-life", "STOPPED");
  g_assert_cmpint (ctr (f, NULL, NULL, "task", "delete", "t-life", NULL), ==, 0);
  g_assert_cmpint (ctr (f, NULL, NULL, "container", "rm", "t-life", NULL), ==, 0);
  g_autofree char *list = NULL;
  g_assert_cmpint (runc (f, &list, "list", "-q", NULL), ==, 0);
  g_assert_cmpstr (list, ==, "");
  g_autofree char *cgroup = g_strdup_printf ("/sys/fs/cgroup/pids/%s/t-life", f->ns);
  g_assert_false (g_file_test (cgroup, G_FILE_TEST_EXISTS));
}

/* A bad program: ctr fails with the runtime's reason, nothing is left. */
static void
test_failure_reported (Fixture *f, gconstpointer data)
{
  (void) data;
  if (skip_if_missing (f))
    return;
  g_autofree char *out = NULL, *err = NULL;
  int rc = ctr (f, &out, &err, "run", "--rm", "--runc-binary", oci_runc_bin (), "--runc-root",
                f->runc_root, "--rootfs", f->rootfs, "t-bad", "/bin/no-such-program", NULL);
  g_assert_cmpint (rc, !=, 0);
  g_assert_nonnull (strstr (err, "no-such-program"));
  g_autofree char *list = NULL;
  g_assert_cmpint (runc (f, &list, "list", "-q", NULL), ==, 0);
  g_assert_cmpstr (list, ==, "");
  ctr (f, NULL, NULL, "container", "rm", "t-bad", NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/containerd/run-to-exit", Fixture, NULL, fixture_setup, test_run_to_exit,
              fixture_teardown);
  g_test_add ("/containerd/detached-lifecycle", Fixture, NULL, fixture_setup,
              test_detached_lifecycle, fixture_teardown);
  g_test_add ("/containerd/failure-reported", Fixture, NULL, fixture_setup, test_failure_reported,
              fixture_teardown);
  return g_test_run ();
}
