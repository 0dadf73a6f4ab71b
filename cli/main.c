#include "config.h"
#include "cli.h"
#include <berth/error.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  const char *name;
  BerthCommandFunc func;
  const char *summary;
} BerthCommand;

static const BerthCommand commands[] = {
  { "info", berth_cmd_info, "Show the host, the storage drivers and the default" },
  { "bench", berth_cmd_bench, "Measure the storage and exec backends on this host" },
  { "images", berth_cmd_images, "List images" },
  { "image", berth_cmd_image, "Manage images (import, load, save, bootstrap, ls, rm, prune)" },
  { "pull", berth_cmd_pull, "Pull an image from a registry" },
  { "push", berth_cmd_push, "Push an image to a registry" },
  { "login", berth_cmd_login, "Store credentials for a registry" },
  { "logout", berth_cmd_logout, "Remove a registry's stored credentials" },
  { "import", berth_cmd_import, "Import a rootfs tarball as a one-layer image" },
  { "load", berth_cmd_load, "Load images from a docker-save or OCI layout tar" },
  { "save", berth_cmd_save, "Save images to a docker-save tar" },
  { "tag", berth_cmd_tag, "Give an image another name" },
  { "rmi", berth_cmd_rmi, "Remove images" },
  { "history", berth_cmd_history, "Show an image's layers" },
  { "run", berth_cmd_run, "Create and start a container" },
  { "create", berth_cmd_create, "Create a container (writable layer and config, no process)" },
  { "start", berth_cmd_start, "Start created or exited containers" },
  { "stop", berth_cmd_stop, "Stop containers: SIGTERM, then SIGKILL after a timeout" },
  { "kill", berth_cmd_kill, "Send a signal to containers" },
  { "wait", berth_cmd_wait, "Wait for containers to exit, print their exit codes" },
  { "logs", berth_cmd_logs, "Print a container's output" },
  { "exec", berth_cmd_exec, "Run a command in a running container" },
  { "inspect", berth_cmd_inspect, "Show containers' state and configuration as JSON" },
  { "stats", berth_cmd_stats, "Show containers' cgroup figures" },
  { "pause", berth_cmd_pause, "Freeze containers' processes" },
  { "unpause", berth_cmd_unpause, "Thaw paused containers" },
  { "top", berth_cmd_top, "List a container's processes" },
  { "port", berth_cmd_port, "List a container's published ports" },
  { "mount", berth_cmd_mount, "Mount a container's root filesystem, print its path" },
  { "umount", berth_cmd_umount, "Release a mount made by mount" },
  { "diff", berth_cmd_diff, "List a container's changes (A/C/D)" },
  { "commit", berth_cmd_commit, "Make an image from a container's changes" },
  { "cp", berth_cmd_cp, "Copy files between a container and the host" },
  { "export", berth_cmd_export, "Write a container's root filesystem as a tar" },
  { "rm", berth_cmd_rm, "Remove containers" },
  { "rename", berth_cmd_rename, "Give a container another name" },
  { "ps", berth_cmd_ps, "List containers" },
  { "volume", berth_cmd_volume, "Manage volumes (create, ls, inspect, rm, prune)" },
  { "network", berth_cmd_network, "Manage networks (create, ls, inspect, rm, connect, disconnect)" },
  { "container", berth_cmd_container, "Manage containers (ls, inspect, start, stop, rm, prune)" },
  { "events", berth_cmd_events, "Show what happened to containers, images and volumes" },
  { "serve", berth_cmd_serve, "Serve Docker's Engine API on a unix socket" },
  { "system", berth_cmd_system, "Space used, and removing what is unused (df, prune)" },
  { "version", berth_cmd_version, "Show berth's version and the drivers built into it" },
};

static void
print_usage (FILE *out)
{
  fprintf (out, "Usage: berth [--root DIR] [--storage-driver NAME] [--storage-opt KEY=VALUE]... COMMAND [ARG...]\n\n"
                "Commands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\nRun 'berth COMMAND --help' for a command's options.\n");
}

/* "--name" or "--name=VALUE", not "--namefoo". */
static gboolean
is_option (const char *arg, const char *name)
{
  gsize n = strlen (name);
  return strncmp (arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* Global options come before the command; taking them by hand keeps each
 * command's own GOptionContext free to stop at its first operand. */
static int
parse_globals (BerthCli *cli, int argc, char **argv)
{
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; i++)
    {
      const char *arg = argv[i];
      const char **target = NULL;
      const char *opt = NULL;
      if (is_option (arg, "--root"))
        target = &cli->root;
      else if (is_option (arg, "--storage-driver"))
        target = &cli->driver;
      else if (is_option (arg, "--storage-opt"))
        target = &opt;
      else if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0)
        {
          print_usage (stdout);
          exit (0);
        }
      else if (strcmp (arg, "--version") == 0)
        {
          printf ("berth %s\n", PACKAGE_VERSION);
          exit (0);
        }
      else
        return -i;
      const char *eq = strchr (arg, '=');
      if (eq)
        *target = eq + 1;
      else if (i + 1 < argc)
        *target = argv[++i];
      else
        return -i;
      if (opt)
        {
          /* Keep the array NULL-terminated for the store. */
          g_ptr_array_remove_index (cli->storage_opts, cli->storage_opts->len - 1);
          g_ptr_array_add (cli->storage_opts, (gpointer) opt);
          g_ptr_array_add (cli->storage_opts, NULL);
        }
    }
  return i;
}

int
main (int argc, char **argv)
{
  g_autoptr (GPtrArray) storage_opts = g_ptr_array_new ();
  g_ptr_array_add (storage_opts, NULL);
  BerthCli cli = { .root = g_getenv ("BERTH_ROOT"), .driver = NULL, .storage_opts = storage_opts };
  if (cli.root == NULL || *cli.root == '\0')
    cli.root = BERTH_DEFAULT_ROOT;
  int first = parse_globals (&cli, argc, argv);
  if (first < 0)
    return berth_cli_usage ("unknown or incomplete global option '%s'", argv[-first]);
  /* "--root $UNSET" would otherwise mean the current directory. */
  if (*cli.root == '\0')
    return berth_cli_usage ("--root is empty (an unset variable?); name the store's directory");
  if (first >= argc)
    {
      print_usage (stderr);
      return BERTH_EXIT_USAGE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (commands[i].name, argv[first]) == 0)
      return commands[i].func (&cli, argc - first, argv + first);
  return berth_cli_usage ("unknown command '%s' (see 'berth --help')", argv[first]);
}
