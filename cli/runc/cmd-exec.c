/* exec: one more process in a running container, described by a runtime-
 * spec "process" object (--process FILE, as containerd's shim passes it)
 * or by the container's own process with the command line's changes. */
#include "config.h"
#include "runc.h"
#include <berth/error.h>
#include <berth/json.h>
#include <berth/oci.h>
#include <berth/pty.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  char *process_file, *pid_file, *console_socket, *cwd, *user;
  char **env, **caps, **gids;
  gboolean detach, tty, no_new_privs;
} ExecOptions;

static void
exec_options_clear (ExecOptions *o)
{
  g_free (o->process_file);
  g_free (o->pid_file);
  g_free (o->console_socket);
  g_free (o->cwd);
  g_free (o->user);
  g_strfreev (o->env);
  g_strfreev (o->caps);
  g_strfreev (o->gids);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (ExecOptions, exec_options_clear)

static JsonObject *
read_process_file (const char *path, GError **error)
{
  g_autoptr (JsonNode) node = berth_json_read (path, error);
  if (node == NULL)
    return NULL;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return berth_fail (error, BERTH_ERROR_INVALID, "--process %s: not a JSON object", path), NULL;
  return json_object_ref (json_node_get_object (node));
}

/* "UID[:GID]" into process.user. */
static gboolean
set_user (JsonObject *process, const char *spec, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (spec, ":", 2);
  guint64 uid, gid = 0;
  if (!g_ascii_string_to_unsigned (parts[0], 10, 0, G_MAXUINT32 - 1, &uid, NULL)
      || (parts[1] && !g_ascii_string_to_unsigned (parts[1], 10, 0, G_MAXUINT32 - 1, &gid, NULL)))
    return berth_fail (error, BERTH_ERROR_INVALID, "--user %s: use UID[:GID] in numbers", spec);
  JsonObject *user = json_object_new ();
  json_object_set_int_member (user, "uid", uid);
  json_object_set_int_member (user, "gid", gid);
  json_object_set_object_member (process, "user", user);
  return TRUE;
}

/* Adds each name to the capability sets a process runs with. */
static void
add_caps (JsonObject *process, char **caps)
{
  JsonObject *sets = berth_json_object (process, "capabilities");
  if (sets == NULL)
    {
      sets = json_object_new ();
      json_object_set_object_member (process, "capabilities", sets);
    }
  const char *names[] = { "bounding", "effective", "permitted" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      JsonArray *set = berth_json_array (sets, names[i]);
      if (set == NULL)
        {
          set = json_array_new ();
          json_object_set_array_member (sets, names[i], set);
        }
      for (char **c = caps; *c; c++)
        json_array_add_string_element (set, *c);
    }
}

/* The container's own process with the command line's changes. */
static JsonObject *
process_from_args (BerthExec *c, ExecOptions *o, char **args, GError **error)
{
  JsonObject *own = berth_json_object (berth_json_node_object (c->spec), "process");
  if (own == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "container %s has no process in its config",
                       c->id), NULL;
  g_autoptr (JsonNode) copy = json_node_copy (json_object_get_member (berth_json_node_object (c->spec),
                                                                      "process"));
  g_autoptr (JsonObject) process = json_object_ref (json_node_get_object (copy));
  json_object_set_member (process, "args", berth_json_strv_node (args));
  json_object_set_boolean_member (process, "terminal", o->tty);
  if (o->cwd)
    json_object_set_string_member (process, "cwd", o->cwd);
  if (o->user && !set_user (process, o->user, error))
    return NULL;
  if (o->env)
    {
      JsonArray *env = berth_json_array (process, "env");
      if (env == NULL)
        {
          env = json_array_new ();
          json_object_set_array_member (process, "env", env);
        }
      for (char **e = o->env; *e; e++)
        json_array_add_string_element (env, *e);
    }
  if (o->caps)
    add_caps (process, o->caps);
  if (o->no_new_privs)
    json_object_set_boolean_member (process, "noNewPrivileges", TRUE);
  if (o->gids)
    {
      JsonObject *user = berth_json_object (process, "user");
      if (user == NULL)
        {
          user = json_object_new ();
          json_object_set_object_member (process, "user", user);
        }
      JsonArray *gids = json_array_new ();
      json_object_set_array_member (user, "additionalGids", gids);
      for (char **g = o->gids; *g; g++)
        {
          guint64 gid;
          if (!g_ascii_string_to_unsigned (*g, 10, 0, G_MAXUINT32 - 1, &gid, NULL))
            return berth_fail (error, BERTH_ERROR_INVALID, "--additional-gids %s: not a group id", *g),
                   NULL;
          json_array_add_int_element (gids, gid);
        }
    }
  return g_steal_pointer (&process);
}

static int
wait_exit (pid_t pid)
{
  int status = 0;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

int
berth_runc_exec (BerthRunc *r, int argc, char **argv)
{
  g_auto (ExecOptions) o = { 0 };
  const GOptionEntry entries[] = {
    { "process", 'p', 0, G_OPTION_ARG_FILENAME, &o.process_file, "The process, as runtime-spec JSON", "FILE" },
    { "detach", 'd', 0, G_OPTION_ARG_NONE, &o.detach, "Do not wait for the process", NULL },
    { "pid-file", 0, 0, G_OPTION_ARG_FILENAME, &o.pid_file, "Write the process's pid here", "FILE" },
    { "tty", 't', 0, G_OPTION_ARG_NONE, &o.tty,
      "A terminal: relayed here, or sent to --console-socket", NULL },
    { "console-socket", 0, 0, G_OPTION_ARG_FILENAME, &o.console_socket,
      "Send the terminal's pty master to this unix socket", "SOCKET" },
    { "cwd", 0, 0, G_OPTION_ARG_STRING, &o.cwd, "Working directory in the container", "DIR" },
    { "env", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &o.env, "Add an environment variable", "KEY=VALUE" },
    { "user", 'u', 0, G_OPTION_ARG_STRING, &o.user, "Run as UID[:GID]", "UID[:GID]" },
    { "additional-gids", 'g', 0, G_OPTION_ARG_STRING_ARRAY, &o.gids, "A supplementary group", "GID" },
    { "cap", 'c', 0, G_OPTION_ARG_STRING_ARRAY, &o.caps, "Add a capability", "CAP" },
    { "no-new-privs", 0, 0, G_OPTION_ARG_NONE, &o.no_new_privs, "Set no_new_privs", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_runc_parse (r, &argc, &argv, entries, "ID [COMMAND [ARG...]]", TRUE))
    return 2;
  if (argc < 2)
    return berth_runc_usage (r, "exec needs a container id");
  char **args = argv + 2 + (argc > 2 && strcmp (argv[2], "--") == 0);
  if (o.process_file == NULL && *args == NULL)
    return berth_runc_usage (r, "exec needs --process FILE or a command");
  if (o.process_file && *args)
    return berth_runc_usage (r, "exec takes --process FILE or a command, not both");
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthExec) c = berth_oci_open (r->root, argv[1], &error);
  if (c == NULL)
    return berth_runc_fail (r, error);
  /* A paused container's freezer would hold the new process before it
   * reports back, and exec would wait for ever: refused, as runc does. */
  BerthExecStatus status;
  if (!berth_exec_state (c, &status, &error))
    return berth_runc_fail (r, error);
  if (status == BERTH_EXEC_PAUSED || status == BERTH_EXEC_STOPPED)
    {
      g_set_error (&error, BERTH_ERROR, BERTH_ERROR_INVALID, "container %s is %s: exec needs it running",
                   c->id, berth_exec_status_name (status));
      return berth_runc_fail (r, error);
    }
  g_autoptr (JsonObject) process = o.process_file ? read_process_file (o.process_file, &error)
                                                  : process_from_args (c, &o, args, &error);
  if (process == NULL)
    return berth_runc_fail (r, error);
  /* In the foreground without a socket, a terminal is ours to relay. */
  gboolean relay = !o.detach && o.console_socket == NULL;
  BerthExecStdio stdio;
  BerthRuncConsole console;
  if (!berth_runc_console_open (berth_json_bool (process, "terminal", FALSE), o.console_socket,
                                relay, &stdio, &console, &error))
    return berth_runc_fail (r, error);
  /* In the foreground, as runc: a signal that comes before berth_attach
   * is for the process too. */
  sigset_t before;
  gboolean held = !o.detach && berth_attach_hold_signals (&before, &error);
  pid_t pid = o.detach || held ? berth_exec_exec (c, process, &stdio, &error) : 0;
  gboolean ok = pid > 0 && berth_runc_console_send (o.console_socket, &console, &error)
                && berth_runc_write_pid_file (o.pid_file, pid, &error);
  int master = ok && relay ? g_steal_fd (&console.master) : -1;
  berth_runc_console_close (&console);
  if (!ok)
    {
      if (pid > 0)
        kill (pid, SIGKILL), wait_exit (pid);
      if (held)
        berth_attach_release_signals (&before);
      return berth_runc_fail (r, error);
    }
  berth_runc_log (r, "debug", "exec in %s: pid %d", c->id, (int) pid);
  /* Detached, the process is handed to whoever reaps our orphans (the
   * shim, a subreaper), as runc hands it. */
  if (o.detach)
    return 0;
  BerthAttachment a = { .stdin_pipe = -1, .child = pid, .target = pid, .pty_master = master,
                        .relay_pty = master >= 0, .exit_fd = -1, .interactive = TRUE };
  int code = berth_attach (&a);
  berth_attach_release_signals (&before);
  if (master >= 0)
    close (master);
  return code;
}
