/* berth-runc against the OCI runtime spec's lifecycle, with real bundles:
 * a busybox rootfs and a config.json from `berth-runc spec`, changed per
 * case. The first part of tests/oci/ (issue 7): create/start/state/kill/
 * delete, run, and the command line's refusals; then exec, ps, pause and
 * resume, update, the console socket, --log, features and list's formats,
 * each checked from the host or inside the container. Containers get ids
 * cli-* and cgroups under /berth-cli/. */
#include "config.h"
#include "../testutil.h"
#include "oci-fixture.h"
#include <fcntl.h>
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
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

static int runc_stdin (Fixture *f, const char *input, char **out, char **err, ...)
  G_GNUC_NULL_TERMINATED;

/* run in the foreground with process.terminal: berth-runc relays the
 * container's terminal to its own stdio, as runc does. The program sees a
 * terminal on the container's own devpts (/dev/pts/0, as under runc), and
 * /dev/console is that terminal too; it reads what was typed, and its exit
 * code is berth-runc's. */
static void
test_run_terminal (Fixture *f, gconstpointer data)
{
  (void) data;
  oci_set_script (f, "tty; test -t 0 && echo 'stdin: a terminal'; "
                     "stat -c 'console %t:%T' /dev/console; stat -L -c 'stdin %t:%T' /proc/self/fd/0; "
                     "read line; echo \"got $line\"; exit 6");
  oci_config_set (f, "process.terminal", "true");
  g_autofree char *out = NULL, *err = NULL;
  int rc = runc_stdin (f, "typed\n", &out, &err, "run", "--bundle", f->bundle, "rt1", NULL);
  g_assert_cmpstr (err, ==, "");
  g_assert_cmpint (rc, ==, 6);
  g_autofree char *plain = g_strdelimit (g_strdup (out), "\r", ' ');
  g_assert_nonnull (strstr (plain, "/dev/pts/0 \n"));
  g_assert_nonnull (strstr (plain, "stdin: a terminal \n"));
  g_assert_nonnull (strstr (plain, "console 88:0 \n"));
  g_assert_nonnull (strstr (plain, "stdin 88:0 \n"));
  g_assert_nonnull (strstr (plain, "got typed \n"));
}

/* run in the foreground passes the signals it gets to the container: the
 * program's TERM trap runs and its exit code is berth-runc's. */
static void
test_run_forwards_signals (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *script = tu_term_trap_script (9);
  oci_set_script (f, script);
  const char *argv[] = { oci_runc_bin (), "--root", f->root, "run", "--bundle", f->bundle, "rs1",
                         NULL };
  tu_assert_term_relayed (argv, 9);
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

/* ---- exec, ps, pause/resume, update, the console socket, --log,
 * features and list (issue 7's second part) ---- */

/* berth-runc with @input on its stdin; stdout and stderr into @out and
 * @err (stdout silenced when @out is NULL). */
static int
runc_stdin (Fixture *f, const char *input, char **out, char **err, ...)
{
  va_list ap;
  va_start (ap, err);
  g_autoptr (GPtrArray) argv = oci_runc_argv (f->root, ap);
  va_end (ap);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p = g_subprocess_newv ((const char *const *) argv->pdata,
                                                 G_SUBPROCESS_FLAGS_STDIN_PIPE
                                                     | (out ? G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                            : G_SUBPROCESS_FLAGS_STDOUT_SILENCE)
                                                     | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                                 &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate_utf8 (p, input, NULL, out, err, &error));
  g_assert_no_error (error);
  return g_subprocess_get_if_exited (p) ? g_subprocess_get_exit_status (p) : 255;
}

/* The cgroup a case's container @id gets: /berth-cli/ID-SUFFIX, SUFFIX
 * the fixture directory's, so two runs at once never share one. */
static char *
cgroup_path_for (Fixture *f, const char *id)
{
  g_autofree char *base = g_path_get_basename (f->dir);
  const char *dash = strrchr (base, '-');
  return g_strdup_printf ("/berth-cli/%s-%s", id, dash ? dash + 1 : base);
}

/* A running container @id: @script under sh -c (writable root), or
 * `sleep 1000` itself when NULL; in the cgroup of cgroup_path_for (into
 * @cgroup when not NULL). Its pid, which the pid file gave. */
static pid_t
start_container (Fixture *f, const char *id, const char *script, char **cgroup)
{
  if (script)
    oci_set_script (f, script);
  else
    oci_config_set (f, "process.args", "[\"sleep\", \"1000\"]");
  g_autofree char *path = cgroup_path_for (f, id);
  g_autofree char *json = g_strdup_printf ("\"%s\"", path);
  oci_config_set (f, "linux.cgroupsPath", json);
  g_autofree char *pid_file = g_strdup_printf ("%s/%s.pid", f->dir, id);
  g_assert_cmpint (oci_runc_create (f, id, pid_file), ==, 0);
  g_assert_cmpint (oci_runc (f, NULL, NULL, "start", id, NULL), ==, 0);
  g_autofree char *pid = NULL;
  g_assert_true (g_file_get_contents (pid_file, &pid, NULL, NULL));
  g_assert_cmpint (atoi (pid), >, 1);
  g_autofree char *status = status_of (f, id);
  g_assert_cmpstr (status, ==, "running");
  if (cgroup)
    *cgroup = g_steal_pointer (&path);
  return atoi (pid);
}

/* The host's file of @controller for the cgroup @path: cgroup v1's
 * @v1_file in the controller's own hierarchy, else cgroup2's @v2_file
 * (hybrid: under unified/). Its contents, stripped; NULL if none exists. */
static char *
cgroup_read (const char *path, const char *controller, const char *v1_file, const char *v2_file)
{
  char *candidates[] = {
    g_strdup_printf ("/sys/fs/cgroup/%s%s/%s", controller, path, v1_file),
    g_strdup_printf ("/sys/fs/cgroup/unified%s/%s", path, v2_file),
    g_strdup_printf ("/sys/fs/cgroup%s/%s", path, v2_file),
  };
  char *text = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      if (text == NULL && g_file_get_contents (candidates[i], &text, NULL, NULL))
        g_strstrip (text);
      g_free (candidates[i]);
    }
  return text;
}

static JsonNode *
parse_json_text (const char *text)
{
  g_autoptr (GError) error = NULL;
  JsonNode *node = json_from_string (text, &error);
  g_assert_no_error (error);
  g_assert_nonnull (node);
  return node;
}

/* ps --format json: the pids it lists. */
static GArray *
ps_pids (Fixture *f, const char *id)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (oci_runc (f, &out, NULL, "ps", "--format", "json", id, NULL), ==, 0);
  g_autoptr (JsonNode) node = parse_json_text (out);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
  JsonArray *a = json_node_get_array (node);
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (int));
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      int pid = json_array_get_int_element (a, i);
      g_array_append_val (pids, pid);
    }
  return pids;
}

static gboolean
has_pid (GArray *pids, int pid)
{
  for (guint i = 0; i < pids->len; i++)
    if (g_array_index (pids, int, i) == pid)
      return TRUE;
  return FALSE;
}

static void
wait_status (Fixture *f, const char *id, const char *want)
{
  g_autofree char *s = NULL;
  for (int i = 0; i < 500 && g_strcmp0 (s, want) != 0; i++)
    {
      g_free (s);
      s = status_of (f, id);
      if (strcmp (s, want) != 0)
        g_usleep (10000);
    }
  g_assert_cmpstr (s, ==, want);
}

/* exec COMMAND: its output and exit code are exec's; it runs in every
 * namespace of the container (the same ones as the first process, which
 * are not the test's), sees the container's hostname and its /proc, where
 * pid 1 is the container's program. */
static void
test_exec_command (Fixture *f, gconstpointer data)
{
  (void) data;
  oci_config_set (f, "hostname", "\"cli-exec-host\"");
  pid_t pid = start_container (f, "cli-exec", NULL, NULL);
  g_autofree char *out = NULL, *err = NULL;
  int rc = oci_runc (f, &out, &err, "exec", "cli-exec", "sh", "-c",
                     "hostname; tr '\\0' ' ' < /proc/1/cmdline; echo;"
                     " for n in net uts ipc mnt pid cgroup; do readlink /proc/self/ns/$n; done;"
                     " echo to-stderr >&2; exit 3",
                     NULL);
  g_assert_cmpstr (err, ==, "to-stderr\n");
  g_assert_cmpint (rc, ==, 3);
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 9);
  g_assert_cmpstr (lines[0], ==, "cli-exec-host");
  g_assert_cmpstr (lines[1], ==, "sleep 1000 ");
  const char *ns[] = { "net", "uts", "ipc", "mnt", "pid", "cgroup" };
  for (guint i = 0; i < G_N_ELEMENTS (ns); i++)
    {
      g_autofree char *theirs = g_strdup_printf ("/proc/%d/ns/%s", (int) pid, ns[i]);
      g_autofree char *mine = g_strdup_printf ("/proc/self/ns/%s", ns[i]);
      g_autofree char *container = g_file_read_link (theirs, NULL);
      g_autofree char *host = g_file_read_link (mine, NULL);
      g_assert_nonnull (container);
      g_assert_cmpstr (lines[2 + i], ==, container);
      g_assert_cmpstr (lines[2 + i], !=, host);
    }
  g_assert_cmpstr (lines[8], ==, "");
  /* `--` ends exec's options: what follows is the command's. */
  g_autofree char *out2 = NULL;
  g_assert_cmpint (oci_runc (f, &out2, NULL, "exec", "cli-exec", "--", "echo", "--cwd", NULL), ==, 0);
  g_assert_cmpstr (out2, ==, "--cwd\n");
}

/* exec in the foreground passes the signals it gets to the process, also
 * one sent as soon as the process's first line is out, as runc does. */
static void
test_exec_forwards_signals (Fixture *f, gconstpointer data)
{
  (void) data;
  start_container (f, "cli-exec-sig", NULL, NULL);
  g_autofree char *script = tu_term_trap_script (4);
  const char *argv[] = { oci_runc_bin (), "--root", f->root, "exec", "cli-exec-sig", "sh", "-c",
                         script, NULL };
  tu_assert_term_relayed (argv, 4);
}

/* exec --process FILE: the runtime-spec process object as containerd's
 * shim writes it: its args, env, cwd and user, its exit code. */
static void
test_exec_process_file (Fixture *f, gconstpointer data)
{
  (void) data;
  start_container (f, "cli-proc", NULL, NULL);
  g_autofree char *file = g_build_filename (f->dir, "process.json", NULL);
  tu_write_file (file,
                 "{\"terminal\": false, \"user\": {\"uid\": 1000, \"gid\": 2000},"
                 " \"args\": [\"sh\", \"-c\", \"echo \\\"$GREETING $(id -u):$(id -g) $(pwd)\\\"; exit 5\"],"
                 " \"env\": [\"PATH=/bin\", \"GREETING=hello\"], \"cwd\": \"/tmp\"}",
                 0644);
  g_autofree char *out = NULL;
  g_assert_cmpint (oci_runc (f, &out, NULL, "exec", "--process", file, "cli-proc", NULL), ==, 5);
  g_assert_cmpstr (out, ==, "hello 1000:2000 /tmp\n");
  /* A file that is not a process, and a file with a command: refused. */
  g_autofree char *bad = g_build_filename (f->dir, "bad.json", NULL);
  tu_write_file (bad, "[1, 2", 0644);
  g_autofree char *err = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err, "exec", "--process", bad, "cli-proc", NULL), ==, 1);
  assert_one_line_error (err, "bad.json");
  g_autofree char *err2 = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err2, "exec", "--process", file, "cli-proc", "echo", NULL), ==, 2);
  assert_one_line_error (err2, "not both");
}

/* The capability mask in the CapEff line of a /proc/PID/status text. */
static guint64
cap_eff (const char *status)
{
  const char *line = strstr (status, "CapEff:");
  g_assert_nonnull (line);
  return g_ascii_strtoull (line + strlen ("CapEff:"), NULL, 16);
}

/* exec's own flags over the container's process: --env adds to its
 * environment (which the exec'd process still has), --cwd, --user and
 * --cap change what the process runs as. */
static void
test_exec_options (Fixture *f, gconstpointer data)
{
  (void) data;
  oci_config_append (f, "process.env", "\"FROM_CONFIG=yes\"");
  start_container (f, "cli-opts", NULL, NULL);
  g_autofree char *out = NULL;
  int rc = oci_runc (f, &out, NULL, "exec", "--env", "FOO=bar", "-e", "BAZ=qux", "--cwd", "/tmp",
                     "--user", "1000:1001", "cli-opts", "sh", "-c",
                     "echo \"$FOO $BAZ $FROM_CONFIG $(pwd) $(id -u) $(id -g)\"", NULL);
  g_assert_cmpint (rc, ==, 0);
  g_assert_cmpstr (out, ==, "bar qux yes /tmp 1000 1001\n");
  /* Without the flags: the config's cwd and user. */
  g_autofree char *plain = NULL;
  g_assert_cmpint (oci_runc (f, &plain, NULL, "exec", "cli-opts", "sh", "-c",
                             "echo \"$FOO $(pwd) $(id -u)\"", NULL), ==, 0);
  g_assert_cmpstr (plain, ==, " / 0\n");
  /* CAP_SYS_ADMIN (21) is not in the spec's default set; --cap adds it. */
  g_autofree char *without = NULL, *with = NULL;
  g_assert_cmpint (oci_runc (f, &without, NULL, "exec", "cli-opts", "cat", "/proc/self/status", NULL), ==, 0);
  g_assert_cmpint (oci_runc (f, &with, NULL, "exec", "--cap", "CAP_SYS_ADMIN", "cli-opts", "cat",
                             "/proc/self/status", NULL), ==, 0);
  g_assert_cmpuint (cap_eff (without) & (G_GUINT64_CONSTANT (1) << 21), ==, 0);
  g_assert_cmpuint (cap_eff (with) & (G_GUINT64_CONSTANT (1) << 21), !=, 0);
  g_assert_cmpuint (cap_eff (with) & ~(G_GUINT64_CONSTANT (1) << 21), ==, cap_eff (without));
  g_autofree char *err = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err, "exec", "--user", "nobody", "cli-opts", "true", NULL), ==, 1);
  assert_one_line_error (err, "--user nobody");
}

/* exec --detach --pid-file: exec returns at once; the pid file holds a
 * live process of the container (its cgroup, its pid namespace), which
 * ps lists beside the first process. */
static void
test_exec_detach (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *cgroup = NULL;
  pid_t first = start_container (f, "cli-det", NULL, &cgroup);
  g_autofree char *pid_file = g_build_filename (f->dir, "exec.pid", NULL);
  gint64 t0 = g_get_monotonic_time ();
  g_assert_cmpint (oci_runc_quiet (f, 0, NULL, "exec", "--detach", "--pid-file", pid_file, "cli-det",
                                   "sleep", "999", NULL),
                   ==, 0);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 5 * G_USEC_PER_SEC);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (pid_file, &text, NULL, NULL));
  int pid = atoi (text);
  g_assert_cmpint (pid, >, 1);
  g_assert_cmpint (pid, !=, first);
  g_assert_cmpint (kill (pid, 0), ==, 0);
  g_autofree char *cmdline_path = g_strdup_printf ("/proc/%d/cmdline", pid);
  g_autofree char *cmdline = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (cmdline_path, &cmdline, &len, NULL));
  g_assert_cmpmem (cmdline, len, "sleep\0" "999", sizeof "sleep\0" "999");
  /* Every hierarchy's line of /proc/PID/cgroup names the container's. */
  g_autofree char *cg_path = g_strdup_printf ("/proc/%d/cgroup", pid);
  g_autofree char *cg = NULL;
  g_assert_true (g_file_get_contents (cg_path, &cg, NULL, NULL));
  g_auto (GStrv) cg_lines = g_strsplit (g_strstrip (cg), "\n", -1);
  for (char **l = cg_lines; *l; l++)
    if (!strstr (*l, ":name=") /* systemd's own hierarchy is not berth's */
        && tu_cgroup_line_placeable (*l))
      g_assert_true (g_str_has_suffix (*l, cgroup));
  /* Its pid namespace is the container's: NSpid has the inner pid too. */
  g_autofree char *ns = g_strdup_printf ("/proc/%d/ns/pid", pid);
  g_autofree char *first_ns = g_strdup_printf ("/proc/%d/ns/pid", (int) first);
  g_autofree char *ns_link = g_file_read_link (ns, NULL);
  g_autofree char *first_link = g_file_read_link (first_ns, NULL);
  g_assert_nonnull (ns_link);
  g_assert_cmpstr (ns_link, ==, first_link);
  g_autoptr (GArray) pids = ps_pids (f, "cli-det");
  g_assert_cmpuint (pids->len, ==, 2);
  g_assert_true (has_pid (pids, first));
  g_assert_true (has_pid (pids, pid));
}

/* exec into what is not running fails in one line: an unknown id, a
 * stopped container; and without a command. */
static void
test_exec_refusals (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *err = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err, "exec", "cli-nosuch", "true", NULL), ==, 1);
  assert_one_line_error (err, "cli-nosuch does not exist");
  oci_set_script (f, "exit 0");
  g_autofree char *path = cgroup_path_for (f, "cli-gone");
  g_autofree char *json = g_strdup_printf ("\"%s\"", path);
  oci_config_set (f, "linux.cgroupsPath", json);
  g_autofree char *pid_file = g_build_filename (f->dir, "pid", NULL);
  g_assert_cmpint (oci_runc_create (f, "cli-gone", pid_file), ==, 0);
  g_assert_cmpint (oci_runc (f, NULL, NULL, "start", "cli-gone", NULL), ==, 0);
  wait_status (f, "cli-gone", "stopped");
  g_autofree char *err2 = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err2, "exec", "cli-gone", "echo", "hi", NULL), ==, 1);
  assert_one_line_error (err2, "cli-gone is stopped");
  g_autofree char *err3 = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err3, "exec", "cli-gone", NULL), ==, 2);
  assert_one_line_error (err3, "a command");
}

/* ps: --format json is an array of the container's host pids; the table
 * is ps(1)'s, with its PID header and only the container's rows; ps
 * options after the id go to ps(1). */
static void
test_ps (Fixture *f, gconstpointer data)
{
  (void) data;
  pid_t pid = start_container (f, "cli-ps", NULL, NULL);
  g_autoptr (GArray) pids = ps_pids (f, "cli-ps");
  g_assert_cmpuint (pids->len, ==, 1);
  g_assert_cmpint (g_array_index (pids, int, 0), ==, pid);

  g_autofree char *table = NULL;
  g_assert_cmpint (oci_runc (f, &table, NULL, "ps", "cli-ps", NULL), ==, 0);
  g_auto (GStrv) lines = g_strsplit (table, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3); /* header, one row, "" */
  g_auto (GStrv) header = g_strsplit_set (lines[0], " \t", -1);
  int column = -1, n = 0;
  for (char **h = header; *h; h++)
    if (**h)
      {
        if (strcmp (*h, "PID") == 0)
          column = n;
        n++;
      }
  g_assert_cmpint (column, >=, 0);
  g_auto (GStrv) row = g_strsplit_set (lines[1], " \t", -1);
  n = 0;
  const char *pid_field = NULL;
  for (char **r = row; *r; r++)
    if (**r && n++ == column)
      pid_field = *r;
  g_assert_nonnull (pid_field);
  g_assert_cmpint (atoi (pid_field), ==, pid);
  g_assert_nonnull (strstr (lines[1], "sleep 1000"));

  g_autofree char *custom = NULL;
  g_assert_cmpint (oci_runc (f, &custom, NULL, "ps", "cli-ps", "-o", "pid,comm", NULL), ==, 0);
  g_autofree char *want = g_strdup_printf ("%d sleep", (int) pid);
  g_auto (GStrv) custom_lines = g_strsplit (custom, "\n", -1);
  g_assert_cmpuint (g_strv_length (custom_lines), ==, 3);
  g_assert_nonnull (strstr (custom_lines[0], "PID"));
  g_assert_cmpstr (g_strstrip (custom_lines[1]), ==, want);

  g_autofree char *err = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err, "ps", "cli-nosuch", NULL), ==, 1);
  assert_one_line_error (err, "cli-nosuch does not exist");
}

/* Gone, or dead and waiting for its parent (init, once create exited). */
static gboolean
process_gone (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  if (!g_file_get_contents (path, &stat, NULL, NULL))
    return TRUE;
  const char *p = strrchr (stat, ')');
  return p && (p[2] == 'Z' || p[2] == 'X');
}

/* The container's /tmp/count, which its program rewrites every 20 ms. */
static char *
read_count (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/root/tmp/count", (int) pid);
  char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return text;
}

/* pause freezes every process (the freezer says FROZEN and a counting
 * loop stops counting), state says paused; resume thaws them; pausing a
 * paused container, resuming a running one and exec into a paused one
 * fail in one line. delete --force removes a paused container. */
static void
test_pause_resume (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *cgroup = NULL;
  pid_t pid = start_container (f, "cli-frz",
                               "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.02; done",
                               &cgroup);
  g_autofree char *count_path = g_strdup_printf ("/proc/%d/root/tmp/count", (int) pid);
  for (int i = 0; i < 500 && !g_file_test (count_path, G_FILE_TEST_EXISTS); i++)
    g_usleep (10000);

  g_assert_cmpint (oci_runc (f, NULL, NULL, "pause", "cli-frz", NULL), ==, 0);
  g_autofree char *s1 = status_of (f, "cli-frz");
  g_assert_cmpstr (s1, ==, "paused");
  g_autofree char *frozen = cgroup_read (cgroup, "freezer", "freezer.state", "cgroup.freeze");
  g_assert_nonnull (frozen);
  g_assert_true (strcmp (frozen, "FROZEN") == 0 || strcmp (frozen, "1") == 0);
  g_autofree char *c1 = read_count (pid);
  g_usleep (300000);
  g_autofree char *c2 = read_count (pid);
  g_assert_cmpstr (c1, ==, c2);

  g_autofree char *err = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err, "pause", "cli-frz", NULL), ==, 1);
  assert_one_line_error (err, "cli-frz is paused");
  g_autofree char *err2 = NULL;
  g_assert_cmpint (oci_runc_quiet (f, 10, &err2, "exec", "cli-frz", "true", NULL), ==, 1);
  assert_one_line_error (err2, "cli-frz is paused");

  g_assert_cmpint (oci_runc (f, NULL, NULL, "resume", "cli-frz", NULL), ==, 0);
  g_autofree char *s2 = status_of (f, "cli-frz");
  g_assert_cmpstr (s2, ==, "running");
  g_autofree char *thawed = cgroup_read (cgroup, "freezer", "freezer.state", "cgroup.freeze");
  g_assert_true (strcmp (thawed, "THAWED") == 0 || strcmp (thawed, "0") == 0);
  g_autofree char *c3 = NULL;
  for (int i = 0; i < 300; i++)
    {
      g_free (c3);
      c3 = read_count (pid);
      if (strcmp (c3, c2) != 0)
        break;
      g_usleep (10000);
    }
  g_assert_cmpstr (c3, !=, c2);

  g_autofree char *err3 = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err3, "resume", "cli-frz", NULL), ==, 1);
  assert_one_line_error (err3, "cli-frz is running");

  /* A frozen process only dies once thawed: delete --force must do it. */
  g_assert_cmpint (oci_runc (f, NULL, NULL, "pause", "cli-frz", NULL), ==, 0);
  gint64 t0 = g_get_monotonic_time ();
  g_autofree char *err4 = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err4, "delete", "--force", "cli-frz", NULL), ==, 0);
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 5 * G_USEC_PER_SEC);
  g_assert_true (process_gone (pid));
  g_autofree char *gone = cgroup_read (cgroup, "freezer", "freezer.state", "cgroup.freeze");
  g_assert_null (gone);
}

/* The member at @path ("linux.resources.pids.limit") of @node; -1 if absent. */
static gint64
json_int_at (JsonNode *node, const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  JsonObject *o = json_node_get_object (node);
  for (guint i = 0; parts[i + 1]; i++)
    {
      if (o == NULL || !json_object_has_member (o, parts[i]))
        return -1;
      o = json_object_get_object_member (o, parts[i]);
    }
  return o && json_object_has_member (o, parts[g_strv_length (parts) - 1])
             ? json_object_get_int_member (o, parts[g_strv_length (parts) - 1])
             : -1;
}

static JsonNode *
saved_config (Fixture *f, const char *id)
{
  g_autofree char *path = g_build_filename (f->root, id, "config.json", NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  return parse_json_text (text);
}

#define MIB (G_GINT64_CONSTANT (1024) * 1024)

static void
assert_limits (const char *cgroup, const char *pids, gint64 memory)
{
  g_autofree char *p = cgroup_read (cgroup, "pids", "pids.max", "pids.max");
  g_assert_cmpstr (p, ==, pids);
  g_autofree char *m = cgroup_read (cgroup, "memory", "memory.limit_in_bytes", "memory.max");
  g_assert_nonnull (m);
  g_assert_cmpint (g_ascii_strtoll (m, NULL, 10), ==, memory);
}

/* update changes a running container's cgroup (the host's files for its
 * cgroupsPath) from flags, from --resources - (stdin) and from a file,
 * and its saved config follows; a bad file fails in one line and changes
 * nothing. */
/* A host that cannot give a container @controller (set in the config
 * already): create refuses in one line naming it and leaves no container;
 * then the case is skipped with the reason. */
static gboolean
skip_without_controller (Fixture *f, const char *controller)
{
  g_autofree char *missing = tu_cgroup_controller_missing (controller);
  if (missing == NULL)
    return FALSE;
  g_autofree char *err = NULL, *state_err = NULL;
  g_autofree char *pid_file = g_build_filename (f->dir, "refused.pid", NULL);
  g_assert_cmpint (oci_runc_quiet (f, 0, &err, "create", "--bundle", f->bundle, "--pid-file",
                                   pid_file, "cli-refused", NULL), !=, 0);
  assert_one_line_error (err, controller);
  g_assert_cmpint (oci_runc (f, NULL, &state_err, "state", "cli-refused", NULL), !=, 0);
  assert_one_line_error (state_err, "does not exist");
  g_test_skip_printf ("%s; berth-runc refuses the limit in one line: %s", missing, err);
  return TRUE;
}

static void
test_update (Fixture *f, gconstpointer data)
{
  (void) data;
  oci_config_set (f, "linux.resources.pids", "{\"limit\": 100}");
  oci_config_set (f, "linux.resources.memory", "{\"limit\": 268435456}");
  if (skip_without_controller (f, "memory"))
    return;
  g_autofree char *cgroup = NULL;
  start_container (f, "cli-upd", NULL, &cgroup);
  assert_limits (cgroup, "100", 256 * MIB);

  g_autofree char *err = NULL;
  int rc = oci_runc (f, NULL, &err, "update", "--pids-limit", "42", "--memory", "64m", "--cpu-period",
                     "100000", "--cpu-quota", "50000", "cli-upd", NULL);
  g_assert_cmpstr (err, ==, "");
  g_assert_cmpint (rc, ==, 0);
  assert_limits (cgroup, "42", 64 * MIB);
  g_autofree char *quota = cgroup_read (cgroup, "cpu", "cpu.cfs_quota_us", "cpu.max");
  g_assert_nonnull (quota);
  g_assert_true (strcmp (quota, "50000") == 0 || strcmp (quota, "50000 100000") == 0);

  g_autofree char *err2 = NULL;
  rc = runc_stdin (f, "{\"pids\": {\"limit\": 43}}", NULL, &err2, "update", "--resources", "-", "cli-upd", NULL);
  g_assert_cmpstr (err2, ==, "");
  g_assert_cmpint (rc, ==, 0);
  assert_limits (cgroup, "43", 64 * MIB);

  g_autofree char *file = g_build_filename (f->dir, "resources.json", NULL);
  tu_write_file (file, "{\"memory\": {\"limit\": 100663296}}", 0644);
  g_assert_cmpint (oci_runc (f, NULL, NULL, "update", "--resources", file, "cli-upd", NULL), ==, 0);
  assert_limits (cgroup, "43", 96 * MIB);

  g_autoptr (JsonNode) config = saved_config (f, "cli-upd");
  g_assert_cmpint (json_int_at (config, "linux.resources.pids.limit"), ==, 43);
  g_assert_cmpint (json_int_at (config, "linux.resources.memory.limit"), ==, 96 * MIB);
  g_assert_cmpint (json_int_at (config, "linux.resources.cpu.quota"), ==, 50000);
  /* Merged, not replaced: the spec's device rules are still there. */
  JsonObject *res = json_object_get_object_member (
      json_object_get_object_member (json_node_get_object (config), "linux"), "resources");
  g_assert_true (json_object_has_member (res, "devices"));

  g_autofree char *bad = g_build_filename (f->dir, "bad.json", NULL);
  tu_write_file (bad, "{\"pids\": {\"limit\": 7}", 0644);
  g_autofree char *err3 = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err3, "update", "--resources", bad, "cli-upd", NULL), ==, 1);
  assert_one_line_error (err3, "bad.json");
  assert_limits (cgroup, "43", 96 * MIB);
  g_autofree char *err4 = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err4, "update", "--pids-limit", "5", "cli-nosuch", NULL), ==, 1);
  assert_one_line_error (err4, "cli-nosuch does not exist");
}

static int
listen_unix (const char *path)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  g_assert_cmpuint (strlen (path), <, sizeof addr.sun_path);
  strcpy (addr.sun_path, path);
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (listen (fd, 4), ==, 0);
  return fd;
}

/* The pty master a runtime sent to @listener, as a shim receives it: one
 * connection, one message with the fd in SCM_RIGHTS (and the pty's name). */
static int
receive_master (int listener)
{
  struct pollfd p = { .fd = listener, .events = POLLIN };
  g_assert_cmpint (poll (&p, 1, 5000), ==, 1);
  int conn = accept4 (listener, NULL, NULL, SOCK_CLOEXEC);
  g_assert_cmpint (conn, >=, 0);
  char name[256] = { 0 };
  struct iovec iov = { .iov_base = name, .iov_len = sizeof name - 1 };
  union {
    char buf[CMSG_SPACE (sizeof (int))];
    struct cmsghdr align;
  } control;
  struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                        .msg_controllen = sizeof control.buf };
  g_assert_cmpint (recvmsg (conn, &msg, MSG_CMSG_CLOEXEC), >, 0);
  close (conn);
  struct cmsghdr *cm = CMSG_FIRSTHDR (&msg);
  g_assert_nonnull (cm);
  g_assert_cmpint (cm->cmsg_level, ==, SOL_SOCKET);
  g_assert_cmpint (cm->cmsg_type, ==, SCM_RIGHTS);
  int master;
  memcpy (&master, CMSG_DATA (cm), sizeof master);
  g_assert_true (isatty (master));
  return master;
}

/* What the master gives until @needle is in it (or 5 s, or the end). */
static char *
read_until (int master, const char *needle)
{
  GString *all = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  while (!strstr (all->str, needle) && g_get_monotonic_time () < deadline)
    {
      struct pollfd p = { .fd = master, .events = POLLIN };
      if (poll (&p, 1, 100) <= 0)
        continue;
      char buf[512];
      ssize_t n = read (master, buf, sizeof buf);
      if (n <= 0)
        break; /* EIO: every slave is closed and the rest was read */
      g_string_append_len (all, buf, n);
    }
  return g_string_free (all, FALSE);
}

/* create --console-socket: the pty master arrives over the socket before
 * create returns; the program, once started, has the slave as its
 * terminal (tty names it) and its output comes out of the master. exec
 * --tty sends a terminal of its own the same way. */
static void
test_console_socket (Fixture *f, gconstpointer data)
{
  (void) data;
  oci_set_script (f, "tty; echo ok; exec sleep 1000");
  oci_config_set (f, "process.terminal", "true");
  g_autofree char *path = cgroup_path_for (f, "cli-tty");
  g_autofree char *json = g_strdup_printf ("\"%s\"", path);
  oci_config_set (f, "linux.cgroupsPath", json);
  g_autofree char *sock = g_build_filename (f->dir, "console.sock", NULL);
  int listener = listen_unix (sock);
  g_autofree char *err = NULL;
  int rc = oci_runc (f, NULL, &err, "create", "--bundle", f->bundle, "--console-socket", sock,
                     "cli-tty", NULL);
  g_assert_cmpstr (err, ==, "");
  g_assert_cmpint (rc, ==, 0);
  int master = receive_master (listener);
  /* Nothing before start: the program has not run. */
  struct pollfd p = { .fd = master, .events = POLLIN };
  g_assert_cmpint (poll (&p, 1, 200), ==, 0);
  g_assert_cmpint (oci_runc (f, NULL, NULL, "start", "cli-tty", NULL), ==, 0);
  g_autofree char *out = read_until (master, "ok\r\n");
  g_assert_true (g_str_has_prefix (out, "/dev/pts/0\r\n"));
  g_assert_true (g_str_has_suffix (out, "\r\nok\r\n"));

  /* exec --tty: a terminal of its own, both ways: what is written to the
   * master is the process's input. (The first master stays open: closing
   * it would hang up the first process.) */
  const char *argv[] = { oci_runc_bin (), "--root", f->root, "exec", "--tty", "--console-socket", sock,
                         "cli-tty", "sh", "-c",
                         "test -t 0 && test -t 1 && echo on-tty $(tty); read line; echo \"got $line\"", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) p2 = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  int master2 = receive_master (listener);
  g_autofree char *out2 = read_until (master2, "on-tty /dev/pts/1\r\n");
  g_assert_cmpstr (out2, ==, "on-tty /dev/pts/1\r\n");
  g_assert_cmpint (write (master2, "hello\n", 6), ==, 6);
  g_autofree char *out3 = read_until (master2, "got hello\r\n");
  g_assert_cmpstr (out3, ==, "hello\r\ngot hello\r\n");
  g_autofree char *err2 = NULL;
  g_assert_true (g_subprocess_communicate_utf8 (p2, NULL, NULL, NULL, &err2, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (err2, ==, "");
  g_assert_true (g_subprocess_get_if_exited (p2));
  g_assert_cmpint (g_subprocess_get_exit_status (p2), ==, 0);
  close (master2);

  /* --tty in the foreground: berth-runc relays the terminal itself, as
   * runc does; detached, it needs the socket. The line is read before
   * anything is printed: the terminal echoes "typed" whenever it arrives,
   * which could fall in the middle of an earlier line. */
  g_autofree char *out4 = NULL, *err4 = NULL;
  rc = runc_stdin (f, "typed\n", &out4, &err4, "exec", "--tty", "cli-tty", "sh", "-c",
                       "read line; test -t 0 && echo on-tty; echo \"got $line\"; exit 4", NULL);
  g_assert_cmpstr (err4, ==, "");
  g_assert_cmpint (rc, ==, 4);
  g_assert_nonnull (strstr (out4, "on-tty\r\n"));
  g_assert_nonnull (strstr (out4, "got typed\r\n"));
  g_autofree char *err3 = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err3, "exec", "--detach", "--tty", "cli-tty", "true", NULL), ==, 1);
  assert_one_line_error (err3, "--console-socket");
  close (master);
  close (listener);
}

/* process.terminal without --console-socket, and --console-socket without
 * a terminal, each fail in one line and leave no container. */
static void
test_console_refusals (Fixture *f, gconstpointer data)
{
  (void) data;
  oci_set_script (f, "exit 0");
  oci_config_set (f, "process.terminal", "true");
  g_autofree char *err = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err, "create", "--bundle", f->bundle, "cli-notty", NULL), ==, 1);
  assert_one_line_error (err, "--console-socket");
  oci_config_set (f, "process.terminal", "false");
  g_autofree char *sock = g_build_filename (f->dir, "console.sock", NULL);
  int listener = listen_unix (sock);
  g_autofree char *err2 = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err2, "create", "--bundle", f->bundle, "--console-socket", sock,
                             "cli-notty", NULL), ==, 1);
  assert_one_line_error (err2, "process.terminal is false");
  close (listener);
  g_autofree char *ids = NULL;
  g_assert_cmpint (oci_runc (f, &ids, NULL, "list", "-q", NULL), ==, 0);
  g_assert_cmpstr (ids, ==, "");
}

/* --log FILE: each failure appends one line, json ({"level", "msg",
 * "time"}) or logrus text (time="..." level=error msg="..."), the message
 * the one on stderr. */
static void
test_log (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *json_log = g_build_filename (f->dir, "log.json", NULL);
  const char *ids[] = { "cli-nosuch", "cli-other" };
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autofree char *err = NULL;
      g_assert_cmpint (oci_runc (f, NULL, &err, "--log", json_log, "--log-format", "json", "state",
                                 ids[i], NULL), ==, 1);
      assert_one_line_error (err, "does not exist");
    }
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (json_log, &text, NULL, NULL));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_assert_cmpstr (lines[2], ==, "");
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr (JsonNode) node = parse_json_text (lines[i]);
      JsonObject *o = json_node_get_object (node);
      g_assert_cmpstr (json_object_get_string_member (o, "level"), ==, "error");
      g_autofree char *msg = g_strdup_printf ("container %s does not exist", ids[i]);
      g_assert_cmpstr (json_object_get_string_member (o, "msg"), ==, msg);
      g_autoptr (GDateTime) time = g_date_time_new_from_iso8601 (
          json_object_get_string_member (o, "time"), NULL);
      g_assert_nonnull (time);
    }

  /* Text, with a message that needs quoting: the id's own '"'. */
  g_autofree char *text_log = g_build_filename (f->dir, "log.txt", NULL);
  g_autofree char *err = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err, "--log", text_log, "--log-format", "text", "state",
                             "a\"b", NULL), ==, 1);
  assert_one_line_error (err, "container id 'a\"b'");
  g_autofree char *line = NULL;
  g_assert_true (g_file_get_contents (text_log, &line, NULL, NULL));
  g_autoptr (GRegex) re = g_regex_new ("^time=\"([^\"]+)\" level=error msg=\"(.*)\"\n$", 0, 0, NULL);
  g_autoptr (GMatchInfo) m = NULL;
  g_assert_true (g_regex_match (re, line, 0, &m));
  g_autofree char *time_text = g_match_info_fetch (m, 1);
  g_autoptr (GDateTime) time = g_date_time_new_from_iso8601 (time_text, NULL);
  g_assert_nonnull (time);
  g_autofree char *msg = g_match_info_fetch (m, 2);
  g_autofree char *want = g_strescape (err + strlen ("berth-runc: "), NULL);
  want[strlen (want) - 2] = '\0'; /* the escaped "\n" */
  g_assert_cmpstr (msg, ==, want);
  g_assert_nonnull (strstr (msg, "a\\\"b"));

  /* A command that succeeds writes no error. */
  g_autofree char *ok_log = g_build_filename (f->dir, "log.ok", NULL);
  g_assert_cmpint (oci_runc (f, NULL, NULL, "--log", ok_log, "--log-format", "json", "list", NULL), ==, 0);
  g_autofree char *ok_text = NULL;
  g_assert_true (!g_file_get_contents (ok_log, &ok_text, NULL, NULL) || *ok_text == '\0');
}

/* features: runtime-spec's features document. */
static void
test_features (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *out = NULL;
  g_assert_cmpint (oci_runc (f, &out, NULL, "features", NULL), ==, 0);
  g_autoptr (JsonNode) node = parse_json_text (out);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  JsonObject *o = json_node_get_object (node);
  g_assert_cmpstr (json_object_get_string_member (o, "ociVersionMax"), ==, "1.0.2");
  g_assert_true (g_str_has_prefix (json_object_get_string_member (o, "ociVersionMin"), "1.0."));
  JsonArray *hooks = json_object_get_array_member (o, "hooks");
  g_assert_nonnull (hooks);
  const char *want[] = { "prestart", "createRuntime", "createContainer", "startContainer",
                         "poststart", "poststop" };
  g_assert_cmpuint (json_array_get_length (hooks), ==, G_N_ELEMENTS (want));
  for (guint i = 0; i < G_N_ELEMENTS (want); i++)
    g_assert_cmpstr (json_array_get_string_element (hooks, i), ==, want[i]);
}

/* spec writes config.json for a person to read and edit, as runc's does:
 * one member a line, indented with tabs (it was one 8.5 KB line). */
static void
test_spec_readable (Fixture *f, gconstpointer data)
{
  (void) data;
  g_autofree char *path = g_build_filename (f->bundle, "config.json", NULL);
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  g_autoptr (JsonNode) node = parse_json_text (text);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  g_assert_true (g_str_has_suffix (text, "}\n"));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), >, 100);
  for (char **l = lines; *l; l++)
    {
      g_assert_cmpuint (strlen (*l), <, 200);
      if (**l && strcmp (*l, "{") != 0 && strcmp (*l, "}") != 0)
        g_assert_cmpint (**l, ==, '\t');
    }
}

/* list --format json: each container's state object (id, status, pid);
 * -q: only the ids. */
static void
test_list_formats (Fixture *f, gconstpointer data)
{
  (void) data;
  pid_t running = start_container (f, "cli-l2", NULL, NULL);
  g_autofree char *pid_file = g_build_filename (f->dir, "l1.pid", NULL);
  g_autofree char *path = cgroup_path_for (f, "cli-l1");
  g_autofree char *json = g_strdup_printf ("\"%s\"", path);
  oci_config_set (f, "linux.cgroupsPath", json);
  g_assert_cmpint (oci_runc_create (f, "cli-l1", pid_file), ==, 0);
  g_autofree char *created_pid = NULL;
  g_assert_true (g_file_get_contents (pid_file, &created_pid, NULL, NULL));

  g_autofree char *out = NULL;
  g_assert_cmpint (oci_runc (f, &out, NULL, "list", "--format", "json", NULL), ==, 0);
  g_autoptr (JsonNode) node = parse_json_text (out);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
  JsonArray *a = json_node_get_array (node);
  g_assert_cmpuint (json_array_get_length (a), ==, 2);
  struct {
    const char *id, *status;
    int pid;
  } want[] = { { "cli-l1", "created", atoi (created_pid) }, { "cli-l2", "running", running } };
  g_autofree char *bundle = g_canonicalize_filename (f->bundle, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (want); i++)
    {
      JsonObject *o = json_array_get_object_element (a, i);
      g_assert_cmpstr (json_object_get_string_member (o, "id"), ==, want[i].id);
      g_assert_cmpstr (json_object_get_string_member (o, "status"), ==, want[i].status);
      g_assert_cmpint (json_object_get_int_member (o, "pid"), ==, want[i].pid);
      g_assert_cmpstr (json_object_get_string_member (o, "bundle"), ==, bundle);
    }
  g_autofree char *quiet = NULL;
  g_assert_cmpint (oci_runc (f, &quiet, NULL, "list", "-q", NULL), ==, 0);
  g_assert_cmpstr (quiet, ==, "cli-l1\ncli-l2\n");
  g_autofree char *err = NULL;
  g_assert_cmpint (oci_runc (f, NULL, &err, "list", "--format", "yaml", NULL), ==, 2);
  assert_one_line_error (err, "yaml");
}

int
main (int argc, char **argv)
{
  if (!oci_test_init (&argc, &argv))
    return g_test_run ();
  g_test_add ("/oci/lifecycle", Fixture, NULL, oci_fixture_setup, test_lifecycle, oci_fixture_teardown);
  g_test_add ("/oci/run", Fixture, NULL, oci_fixture_setup, test_run, oci_fixture_teardown);
  g_test_add ("/oci/refusals", Fixture, NULL, oci_fixture_setup, test_refusals, oci_fixture_teardown);
  const struct {
    const char *path;
    void (*func) (Fixture *, gconstpointer);
  } cases[] = {
    { "/oci/run/terminal", test_run_terminal },
    { "/oci/run/signals", test_run_forwards_signals },
    { "/oci/exec/command", test_exec_command },
    { "/oci/exec/signals", test_exec_forwards_signals },
    { "/oci/exec/process-file", test_exec_process_file },
    { "/oci/exec/options", test_exec_options },
    { "/oci/exec/detach", test_exec_detach },
    { "/oci/exec/refusals", test_exec_refusals },
    { "/oci/ps", test_ps },
    { "/oci/pause-resume", test_pause_resume },
    { "/oci/update", test_update },
    { "/oci/console-socket", test_console_socket },
    { "/oci/console-socket/refusals", test_console_refusals },
    { "/oci/log", test_log },
    { "/oci/features", test_features },
    { "/oci/spec-readable", test_spec_readable },
    { "/oci/list/formats", test_list_formats },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_test_add (cases[i].path, Fixture, NULL, oci_fixture_setup, cases[i].func, oci_fixture_teardown);
  return g_test_run ();
}
