/* create, start and run: a container from a bundle, its process waiting
 * before the program until start (runtime-spec "created"). */
#include "config.h"
#include "runc.h"
#include <berth/error.h>
#include <berth/json.h>
#include <berth/oci.h>
#include <berth/pty.h>
#include <unistd.h>

typedef struct {
  char *bundle, *pid_file, *console_socket;
  gboolean no_pivot, no_new_keyring, detach;
  int preserve_fds;
} CreateOptions;

static void
create_options_clear (CreateOptions *o)
{
  g_free (o->bundle);
  g_free (o->pid_file);
  g_free (o->console_socket);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CreateOptions, create_options_clear)

/* create's options; run adds --detach. */
static gboolean
parse_create (BerthRunc *r, int *argc, char ***argv, CreateOptions *o, gboolean with_detach)
{
  GOptionEntry entries[] = {
    { "bundle", 'b', 0, G_OPTION_ARG_FILENAME, &o->bundle, "The bundle directory (default: .)", "DIR" },
    { "pid-file", 0, 0, G_OPTION_ARG_FILENAME, &o->pid_file, "Write the container's pid here", "FILE" },
    { "console-socket", 0, 0, G_OPTION_ARG_FILENAME, &o->console_socket,
      "Send the terminal's pty master to this unix socket", "SOCKET" },
    { "no-pivot", 0, 0, G_OPTION_ARG_NONE, &o->no_pivot, "Accepted; berth always pivots", NULL },
    { "no-new-keyring", 0, 0, G_OPTION_ARG_NONE, &o->no_new_keyring,
      "Accepted; berth never makes a session keyring", NULL },
    { "preserve-fds", 0, 0, G_OPTION_ARG_INT, &o->preserve_fds, "Only 0 is supported", "N" },
    { "detach", 'd', 0, G_OPTION_ARG_NONE, &o->detach, "Do not wait for the container", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!with_detach)
    entries[G_N_ELEMENTS (entries) - 2] = (GOptionEntry) G_OPTION_ENTRY_NULL;
  if (!berth_runc_parse (r, argc, argv, entries, "ID", FALSE))
    return FALSE;
  if (*argc != 2)
    return berth_runc_usage (r, "%s needs one container id", (*argv)[0]), FALSE;
  if (o->preserve_fds != 0)
    return berth_runc_usage (r, "--preserve-fds %d: passing extra descriptors is not supported",
                             o->preserve_fds), FALSE;
  return TRUE;
}

/* systemd's "slice:prefix:name" as the cgroupfs path systemd would give
 * it, /slice/prefix-name.scope: berth writes cgroupfs itself, where
 * systemd's tools still find the container. */
static gboolean
systemd_cgroups_path (JsonNode *spec, GError **error)
{
  JsonObject *linux_ = berth_json_object (berth_json_node_object (spec), "linux");
  const char *path = berth_json_string (linux_, "cgroupsPath", NULL);
  if (path == NULL)
    return TRUE;
  g_auto (GStrv) parts = g_strsplit (path, ":", -1);
  if (g_strv_length (parts) != 3 || !g_str_has_suffix (parts[0], ".slice") || !*parts[2])
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "cgroupsPath '%s': --systemd-cgroup wants slice:prefix:name", path);
  g_autofree char *scope = *parts[1] ? g_strdup_printf ("/%s/%s-%s.scope", parts[0], parts[1], parts[2])
                                     : g_strdup_printf ("/%s/%s.scope", parts[0], parts[2]);
  json_object_set_string_member (linux_, "cgroupsPath", scope);
  return TRUE;
}

/* The container made from the bundle, its terminal (if any) sent to the
 * console socket and its pid written where asked. With @relay_master, a
 * terminal without a socket is kept: its master is returned there (-1
 * without a terminal). */
static BerthExec *
create_container (BerthRunc *r, const char *id, CreateOptions *o, int *relay_master, GError **error)
{
  const char *bundle = o->bundle ? o->bundle : ".";
  g_autoptr (JsonNode) spec = berth_oci_read_bundle (bundle, error);
  if (spec == NULL || (r->systemd_cgroup && !systemd_cgroups_path (spec, error)))
    return NULL;
  JsonObject *process = berth_json_object (berth_json_node_object (spec), "process");
  BerthExecStdio stdio;
  BerthRuncConsole console;
  if (!berth_runc_console_open (berth_json_bool (process, "terminal", FALSE), o->console_socket,
                                relay_master != NULL, &stdio, &console, error))
    return NULL;
  g_autoptr (BerthExec) c = berth_oci_create (r->root, id, bundle, spec, &stdio, error);
  gboolean ok = c && berth_runc_console_send (o->console_socket, &console, error)
                && berth_runc_write_pid_file (o->pid_file, c->pid, error);
  if (ok && relay_master)
    *relay_master = g_steal_fd (&console.master);
  berth_runc_console_close (&console);
  if (!ok && c)
    berth_oci_delete (r->root, c, TRUE, NULL);
  if (ok)
    berth_runc_log (r, "debug", "created container %s, pid %d", id, (int) c->pid);
  return ok ? g_steal_pointer (&c) : NULL;
}

int
berth_runc_create (BerthRunc *r, int argc, char **argv)
{
  g_auto (CreateOptions) o = { 0 };
  if (!parse_create (r, &argc, &argv, &o, FALSE))
    return 2;
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthExec) c = create_container (r, argv[1], &o, NULL, &error);
  return c ? 0 : berth_runc_fail (r, error);
}

int
berth_runc_start (BerthRunc *r, int argc, char **argv)
{
  int rc;
  g_autoptr (BerthExec) c = berth_runc_open_only_operand (r, &argc, &argv, "start", &rc);
  if (c == NULL)
    return rc;
  g_autoptr (GError) error = NULL;
  if (c->pid == 0)
    {
      g_set_error (&error, BERTH_ERROR, BERTH_ERROR_BUSY, "container %s is still being created", c->id);
      return berth_runc_fail (r, error);
    }
  return berth_exec_start (c, &error) ? 0 : berth_runc_fail (r, error);
}

/* create + start, then wait: the process that creates is the parent of the
 * container's first process, so it can reap it and exit as it did. */
int
berth_runc_run (BerthRunc *r, int argc, char **argv)
{
  g_auto (CreateOptions) o = { 0 };
  if (!parse_create (r, &argc, &argv, &o, TRUE))
    return 2;
  if (o.console_socket && !o.detach)
    return berth_runc_usage (r, "--console-socket needs --detach: without it berth-runc waits "
                                "for the container and has no terminal to relay");
  g_autoptr (GError) error = NULL;
  int master = -1;
  g_autoptr (BerthExec) c = create_container (r, argv[1], &o, o.detach ? NULL : &master, &error);
  if (c == NULL)
    return berth_runc_fail (r, error);
  /* From the start on, as runc: a signal that comes before berth_attach
   * is for the container too. */
  sigset_t before;
  gboolean held = !o.detach && berth_attach_hold_signals (&before, &error);
  if ((!o.detach && !held) || !berth_exec_start (c, &error))
    {
      if (master >= 0)
        close (master);
      berth_oci_delete (r->root, c, TRUE, NULL);
      if (held)
        berth_attach_release_signals (&before);
      return berth_runc_fail (r, error);
    }
  if (o.detach)
    return 0;
  /* In the foreground, as runc: our signals go to the container, and its
   * terminal (if it has one) is relayed to ours. */
  BerthAttachment a = { .stdin_pipe = -1, .child = c->pid, .target = c->pid, .pty_master = master,
                        .relay_pty = master >= 0, .exit_fd = -1, .interactive = TRUE };
  int code = berth_attach (&a);
  berth_attach_release_signals (&before);
  if (master >= 0)
    close (master);
  if (!berth_oci_delete (r->root, c, TRUE, &error))
    return berth_runc_fail (r, error);
  return code;
}
