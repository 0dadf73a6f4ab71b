/* berth-runc: berth's native exec driver behind runc's command line
 * (runc.h). main parses the global options and dispatches; each command
 * is in its own cmd-*.c. */
#include "config.h"
#include "runc.h"
#include <berth/oci.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_ROOT "/run/berth-runc"

static const struct {
  const char *name;
  BerthRuncCommand func;
  const char *summary;
} commands[] = {
  { "create", berth_runc_create, "Create a container from a bundle, its process waiting" },
  { "start", berth_runc_start, "Start a created container's process" },
  { "state", berth_runc_state, "Print a container's state (runtime-spec JSON)" },
  { "kill", berth_runc_kill, "Send a signal to a container's process (--all: every process)" },
  { "delete", berth_runc_delete, "Remove a stopped container (--force: a running one)" },
  { "run", berth_runc_run, "Create, start and wait for a container" },
  { "exec", berth_runc_exec, "Run another process in a running container" },
  { "ps", berth_runc_ps, "List a container's processes" },
  { "pause", berth_runc_pause, "Freeze every process of a container" },
  { "resume", berth_runc_resume, "Thaw a paused container" },
  { "update", berth_runc_update, "Change a running container's resource limits" },
  { "list", berth_runc_list, "List the containers under --root" },
  { "spec", berth_runc_spec, "Write a default config.json here" },
  { "features", berth_runc_features, "What this runtime supports (runtime-spec JSON)" },
};

static void
print_usage (FILE *out)
{
  fprintf (out, "Usage: berth-runc [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND ...\n\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-8s %s\n", commands[i].name, commands[i].summary);
}

/* The systemd cgroup driver: berth writes cgroupfs itself, so it is only
 * refused where it could not work anyway, and said so. */
static gboolean
systemd_cgroup_usable (void)
{
  return access ("/run/systemd/system", F_OK) == 0;
}

/* runc's global options come before the command, each with a value except
 * --debug and --systemd-cgroup. Returns the command's index, or minus the
 * index of a bad option. */
static int
parse_globals (BerthRunc *r, int argc, char **argv)
{
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++)
    {
      const char *arg = argv[i];
      const char *with_value[] = { "--root", "--log", "--log-format", "--criu", "--rootless", NULL };
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
      if (strcmp (arg, "--systemd-cgroup") == 0 && !systemd_cgroup_usable ())
        {
          fprintf (stderr, "berth-runc: --systemd-cgroup: systemd is not running on this host "
                           "(no /run/systemd/system); leave the option out to use cgroupfs\n");
          exit (1);
        }
      if (strcmp (arg, "--debug") == 0 || strcmp (arg, "--systemd-cgroup") == 0)
        {
          r->debug |= strcmp (arg, "--debug") == 0;
          r->systemd_cgroup |= strcmp (arg, "--systemd-cgroup") == 0;
          continue;
        }
      if (!takes)
        return -i;
      const char *value = strchr (arg, '=') ? strchr (arg, '=') + 1 : (i + 1 < argc ? argv[++i] : NULL);
      if (value == NULL)
        return -i;
      if (g_str_has_prefix (arg, "--root"))
        r->root = value;
      else if (g_str_has_prefix (arg, "--log-format"))
        {
          if (strcmp (value, "json") != 0 && strcmp (value, "text") != 0)
            return -i;
          r->log_json = strcmp (value, "json") == 0;
        }
      else if (g_str_has_prefix (arg, "--log"))
        r->log_path = value;
    }
  return i;
}

/* What the library only warns about (a resource this host ignores, a
 * capability it cannot grant, a failing poststart hook) goes where runc's
 * warnings go: the --log file, which containerd's shim and Docker read,
 * else stderr. Never silent. */
static void
log_warning (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
  (void) domain;
  (void) level;
  BerthRunc *r = data;
  if (r->log_path)
    berth_runc_log (r, "warning", "%s", message);
  else
    fprintf (stderr, "berth-runc: warning: %s\n", message);
}

int
main (int argc, char **argv)
{
  BerthRunc r = { .root = DEFAULT_ROOT };
  g_log_set_handler ("berth", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE, log_warning, &r);
  /* Warnings from the library name the program (the commands' option
   * parsing would otherwise name it after the command). */
  g_set_prgname ("berth-runc");
  int first = parse_globals (&r, argc, argv);
  if (first < 0)
    return berth_runc_usage (&r, "global option '%s': unknown, or its value is missing or wrong",
                             argv[-first]);
  if (first >= argc)
    {
      print_usage (stderr);
      return 2;
    }
  berth_runc_log (&r, "debug", "berth-runc %s", argv[first]);
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[first], commands[i].name) == 0)
      return commands[i].func (&r, argc - first, argv + first);
  return berth_runc_usage (&r, "unknown command '%s'", argv[first]);
}
