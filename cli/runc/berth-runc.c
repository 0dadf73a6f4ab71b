/* berth-runc: berth's native exec driver behind runc's command line, for
 * callers that speak to an OCI runtime by path (containerd, podman).
 * First part of issue 7: create, start, state, kill, delete, run, list,
 * spec and --version; docs/oci-runtime.md says what is missing. */
#include "config.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/json.h>
#include <berth/oci.h>
#include <berth/spec.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEFAULT_ROOT "/run/berth-runc"

typedef struct {
  const char *root;
} Globals;

typedef int (*CommandFunc) (Globals *g, int argc, char **argv);

static int
fail (GError *error)
{
  fprintf (stderr, "berth-runc: %s\n", error->message);
  return 1;
}

static int G_GNUC_PRINTF (1, 2)
usage (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "berth-runc: %s\n", msg);
  return 2;
}

/* Parses @entries; argv[0] is the command. Operands stay in argv. */
static gboolean
parse (int *argc, char ***argv, const GOptionEntry *entries, const char *operands)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new (operands);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      fprintf (stderr, "berth-runc: %s\n", error->message);
      return FALSE;
    }
  return TRUE;
}

static gboolean
write_pid_file (const char *path, pid_t pid, GError **error)
{
  if (path == NULL)
    return TRUE;
  g_autofree char *text = g_strdup_printf ("%d", (int) pid);
  return berth_write_file_atomic (path, text, strlen (text), 0644, error);
}

/* create's work, shared with run: the container made from @bundle with
 * berth-runc's own stdio, its pid written where asked. */
static BerthExec *
create_container (Globals *g, const char *id, const char *bundle, const char *pid_file, GError **error)
{
  BerthExecStdio stdio = { 0, 1, 2, FALSE };
  g_autoptr (BerthExec) c = berth_oci_create (g->root, id, bundle ? bundle : ".", &stdio, error);
  if (c == NULL)
    return NULL;
  if (!write_pid_file (pid_file, c->pid, error))
    {
      berth_oci_delete (g->root, c, TRUE, NULL);
      return NULL;
    }
  return g_steal_pointer (&c);
}

/* The commands that take exactly one container id and no options. */
static BerthExec *
open_only_operand (Globals *g, int *argc, char ***argv, const char *command, int *rc)
{
  const GOptionEntry entries[] = { { NULL } };
  *rc = 2;
  if (!parse (argc, argv, entries, "ID"))
    return NULL;
  if (*argc != 2)
    return usage ("%s needs one container id", command), NULL;
  g_autoptr (GError) error = NULL;
  BerthExec *c = berth_oci_open (g->root, (*argv)[1], &error);
  if (c == NULL)
    *rc = fail (error);
  return c;
}

static int
cmd_create (Globals *g, int argc, char **argv)
{
  g_autofree char *bundle = NULL, *pid_file = NULL, *console = NULL;
  gboolean no_pivot = FALSE;
  const GOptionEntry entries[] = {
    { "bundle", 'b', 0, G_OPTION_ARG_FILENAME, &bundle, "The bundle directory (default: .)", "DIR" },
    { "pid-file", 0, 0, G_OPTION_ARG_FILENAME, &pid_file, "Write the container's pid here", "FILE" },
    { "console-socket", 0, 0, G_OPTION_ARG_FILENAME, &console, "Send the pty master here", "SOCKET" },
    { "no-pivot", 0, 0, G_OPTION_ARG_NONE, &no_pivot, "Accepted; berth always pivots", NULL },
    { NULL }
  };
  if (!parse (&argc, &argv, entries, "ID"))
    return 2;
  if (argc != 2)
    return usage ("create needs one container id");
  if (console)
    return usage ("--console-socket %s: terminals are not supported yet (docs/oci-runtime.md)", console);
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthExec) c = create_container (g, argv[1], bundle, pid_file, &error);
  return c ? 0 : fail (error);
}

static int
cmd_start (Globals *g, int argc, char **argv)
{
  int rc;
  g_autoptr (BerthExec) c = open_only_operand (g, &argc, &argv, "start", &rc);
  if (c == NULL)
    return rc;
  g_autoptr (GError) error = NULL;
  return berth_exec_start (c, &error) ? 0 : fail (error);
}

static void
print_json (JsonNode *node)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, node);
  g_autofree char *text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
}

static int
cmd_state (Globals *g, int argc, char **argv)
{
  int rc;
  g_autoptr (BerthExec) c = open_only_operand (g, &argc, &argv, "state", &rc);
  if (c == NULL)
    return rc;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) state = berth_oci_state (g->root, c, &error);
  if (state == NULL)
    return fail (error);
  print_json (state);
  return 0;
}

/* "TERM", "SIGTERM" or "15". */
static int
parse_signal (const char *text)
{
  char *end = NULL;
  long n = strtol (text, &end, 10);
  if (*text && end && *end == '\0')
    return n > 0 && n < NSIG ? (int) n : -1;
  const char *name = g_str_has_prefix (text, "SIG") ? text + 3 : text;
  for (int sig = 1; sig < NSIG; sig++)
    {
      const char *abbrev = sigabbrev_np (sig);
      if (abbrev && strcmp (abbrev, name) == 0)
        return sig;
    }
  return -1;
}

static int
cmd_kill (Globals *g, int argc, char **argv)
{
  gboolean all = FALSE;
  const GOptionEntry entries[] = {
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, "Signal every process of the container", NULL },
    { NULL }
  };
  if (!parse (&argc, &argv, entries, "ID [SIGNAL]"))
    return 2;
  if (argc != 2 && argc != 3)
    return usage ("kill needs a container id and at most one signal");
  int sig = argc == 3 ? parse_signal (argv[2]) : SIGTERM;
  if (sig < 0)
    return usage ("signal '%s': unknown", argv[2]);
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthExec) c = berth_oci_open (g->root, argv[1], &error);
  if (c == NULL || !berth_exec_kill (c, sig, all, &error))
    return fail (error);
  return 0;
}

static int
cmd_delete (Globals *g, int argc, char **argv)
{
  gboolean force = FALSE;
  const GOptionEntry entries[] = {
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Kill a running container first", NULL },
    { NULL }
  };
  if (!parse (&argc, &argv, entries, "ID"))
    return 2;
  if (argc != 2)
    return usage ("delete needs one container id");
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthExec) c = berth_oci_open (g->root, argv[1], &error);
  if (c == NULL || !berth_oci_delete (g->root, c, force, &error))
    return fail (error);
  return 0;
}

/* create + start, then wait: the process that creates is the parent of the
 * container's first process, so it can reap it and exit as it did. */
static int
cmd_run (Globals *g, int argc, char **argv)
{
  g_autofree char *bundle = NULL, *pid_file = NULL;
  gboolean detach = FALSE;
  const GOptionEntry entries[] = {
    { "bundle", 'b', 0, G_OPTION_ARG_FILENAME, &bundle, "The bundle directory (default: .)", "DIR" },
    { "pid-file", 0, 0, G_OPTION_ARG_FILENAME, &pid_file, "Write the container's pid here", "FILE" },
    { "detach", 'd', 0, G_OPTION_ARG_NONE, &detach, "Do not wait for the container", NULL },
    { NULL }
  };
  if (!parse (&argc, &argv, entries, "ID"))
    return 2;
  if (argc != 2)
    return usage ("run needs one container id");
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthExec) c = create_container (g, argv[1], bundle, pid_file, &error);
  if (c == NULL)
    return fail (error);
  if (!berth_exec_start (c, &error))
    {
      berth_oci_delete (g->root, c, TRUE, NULL);
      return fail (error);
    }
  if (detach)
    return 0;
  int status = 0;
  while (waitpid (c->pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (!berth_oci_delete (g->root, c, TRUE, &error))
    return fail (error);
  return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

static int
cmd_list (Globals *g, int argc, char **argv)
{
  const GOptionEntry entries[] = { { NULL } };
  if (!parse (&argc, &argv, entries, ""))
    return 2;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) ids = berth_oci_list (g->root, &error);
  if (ids == NULL)
    return fail (error);
  printf ("%-24s %-8s %-8s %s\n", "ID", "PID", "STATUS", "BUNDLE");
  for (guint i = 0; i < ids->len; i++)
    {
      g_autoptr (GError) local = NULL;
      g_autoptr (BerthExec) c = berth_oci_open (g->root, ids->pdata[i], &local);
      g_autoptr (JsonNode) state = c ? berth_oci_state (g->root, c, &local) : NULL;
      if (state == NULL)
        continue;
      JsonObject *s = berth_json_node_object (state);
      printf ("%-24s %-8" G_GINT64_FORMAT " %-8s %s\n", (char *) ids->pdata[i], berth_json_int (s, "pid", 0),
              berth_json_string (s, "status", ""), berth_json_string (s, "bundle", ""));
    }
  return 0;
}

/* runc's default: sh in ./rootfs, read-only root, no terminal here (a
 * terminal needs --console-socket, not supported yet). */
static int
cmd_spec (Globals *g, int argc, char **argv)
{
  (void) g;
  const GOptionEntry entries[] = { { NULL } };
  if (!parse (&argc, &argv, entries, ""))
    return 2;
  if (g_file_test ("config.json", G_FILE_TEST_EXISTS))
    return usage ("config.json exists here; remove it first");
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) image = json_from_string ("{\"config\": {\"Cmd\": [\"sh\"]}}", NULL);
  BerthSpecOptions options = { .hostname = "berth-runc" };
  g_autoptr (JsonNode) spec = berth_spec_build ("berth-runc", image, NULL, &options, &error);
  if (spec == NULL)
    return fail (error);
  JsonObject *o = berth_json_node_object (spec);
  JsonObject *root = json_object_new ();
  json_object_set_string_member (root, "path", "rootfs");
  json_object_set_boolean_member (root, "readonly", TRUE);
  json_object_set_object_member (o, "root", root);
  json_object_remove_member (berth_json_object (o, "linux"), "cgroupsPath");
  if (!berth_json_write ("config.json", spec, &error))
    return fail (error);
  return 0;
}

static const struct {
  const char *name;
  CommandFunc func;
  const char *summary;
} commands[] = {
  { "create", cmd_create, "Create a container from a bundle, its process waiting" },
  { "start", cmd_start, "Start a created container's process" },
  { "state", cmd_state, "Print a container's state (runtime-spec JSON)" },
  { "kill", cmd_kill, "Send a signal to a container's process (--all: every process)" },
  { "delete", cmd_delete, "Remove a stopped container (--force: a running one)" },
  { "run", cmd_run, "Create, start and wait for a container" },
  { "list", cmd_list, "List the containers under --root" },
  { "spec", cmd_spec, "Write a default config.json here" },
};

static void
print_usage (FILE *out)
{
  fprintf (out, "Usage: berth-runc [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND ...\n\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

/* runc's global options come before the command, each with a value except
 * --debug and --systemd-cgroup. */
static int
parse_globals (Globals *g, int argc, char **argv)
{
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++)
    {
      const char *arg = argv[i];
      const char *with_value[] = { "--root", "--log", "--log-format", "--criu", NULL };
      gboolean takes = FALSE;
      for (const char **w = with_value; *w; w++)
        takes |= strcmp (arg, *w) == 0 || (g_str_has_prefix (arg, *w) && arg[strlen (*w)] == '=');
      if (strcmp (arg, "--version") == 0 || strcmp (arg, "-v") == 0)
        {
          printf ("berth-runc version %s\nspec: %s\n", PACKAGE_VERSION, BERTH_OCI_VERSION);
          exit (0);
        }
      if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0)
        {
          print_usage (stdout);
          exit (0);
        }
      if (strcmp (arg, "--systemd-cgroup") == 0)
        {
          fprintf (stderr, "berth-runc: --systemd-cgroup: berth manages cgroupfs directly; "
                           "the systemd cgroup driver is not supported\n");
          exit (1);
        }
      if (strcmp (arg, "--debug") == 0)
        continue;
      if (!takes)
        return -i;
      const char *value = strchr (arg, '=') ? strchr (arg, '=') + 1 : (i + 1 < argc ? argv[++i] : NULL);
      if (value == NULL)
        return -i;
      if (g_str_has_prefix (arg, "--root"))
        g->root = value;
    }
  return i;
}

int
main (int argc, char **argv)
{
  Globals g = { .root = DEFAULT_ROOT };
  int first = parse_globals (&g, argc, argv);
  if (first < 0)
    return usage ("unknown global option '%s'", argv[-first]);
  if (first >= argc)
    {
      print_usage (stderr);
      return 2;
    }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[first], commands[i].name) == 0)
      return commands[i].func (&g, argc - first, argv + first);
  return usage ("unknown command '%s'", argv[first]);
}
