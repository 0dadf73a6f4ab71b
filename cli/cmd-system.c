/* berth system df|prune, as docker system's. */
#include "config.h"
#include "cli.h"
#include <berth/error.h>
#include <stdio.h>

static void
print_usage_row (const char *kind, const BerthUsage *u)
{
  g_autofree char *size = g_format_size ((guint64) u->size);
  g_autofree char *reclaimable = g_format_size ((guint64) u->reclaimable);
  int percent = u->size > 0 ? (int) (u->reclaimable * 100 / u->size) : 0;
  g_autofree char *with_share = g_strdup_printf ("%s (%d%%)", reclaimable, percent);
  printf ("%-15s %-9u %-9u %-10s %s\n", kind, u->total, u->active, size, with_share);
}

static int
system_df (BerthCli *cli, int argc, char **argv)
{
  if (!berth_cli_parse (&argc, &argv, NULL, "", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 1)
    return berth_cli_usage ("system df takes no operand");
  g_autoptr (GError) error = NULL;
  /* container sizes may mount a layer for the generic diff: the store lock */
  OPEN_STORE_OR_FAIL (store, cli, error);
  BerthDiskUsage usage;
  if (!berth_disk_usage (store, &usage, &error))
    return berth_cli_fail (error);
  printf ("%-15s %-9s %-9s %-10s %s\n", "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE");
  print_usage_row ("Images", &usage.images);
  print_usage_row ("Containers", &usage.containers);
  print_usage_row ("Local Volumes", &usage.volumes);
  return 0;
}

static void
print_deleted (const char *what, GPtrArray *items)
{
  if (items->len == 0)
    return;
  printf ("Deleted %s:\n", what);
  for (guint i = 0; i < items->len; i++)
    printf ("%s\n", (char *) items->pdata[i]);
  printf ("\n");
}

/* What prune removed, as Docker lists it, and the total freed. */
static int
run_prune (BerthCli *cli, const BerthPruneOptions *options)
{
  g_autoptr (GError) error = NULL;
  OPEN_STORE_OR_FAIL (store, cli, error);
  BerthPruneReport report;
  gboolean ok = berth_prune (store, options, &report, &error);
  print_deleted ("Containers", report.containers);
  print_deleted ("Volumes", report.volumes);
  print_deleted ("Images", report.images);
  g_autofree char *reclaimed = g_format_size ((guint64) report.reclaimed);
  printf ("Total reclaimed space: %s\n", reclaimed);
  berth_prune_report_clear (&report);
  return ok ? 0 : berth_cli_fail (error);
}

/* The flags of the prune commands; -a (images) and --volumes only where
 * @with_all and @with_volumes. FALSE after printing the usage error. */
static gboolean
parse_prune (int *argc, char ***argv, BerthPruneOptions *options, gboolean with_all,
             gboolean with_volumes, const char *what)
{
  gboolean force = FALSE;
  GOptionEntry entries[4] = { { 0 } };
  guint n = 0;
  if (with_all)
    entries[n++] = (GOptionEntry){ "all", 'a', 0, G_OPTION_ARG_NONE, &options->all_images,
                                   "Every image no container is made from, not only untagged "
                                   "ones", NULL };
  if (with_volumes)
    entries[n++] = (GOptionEntry){ "volumes", 0, 0, G_OPTION_ARG_NONE, &options->volumes,
                                   "Every volume no container mounts too", NULL };
  entries[n++] = (GOptionEntry){ "force", 'f', 0, G_OPTION_ARG_NONE, &force,
                                 "Do not ask (berth never asks: required)", NULL };
  if (!berth_cli_parse (argc, argv, entries, "", FALSE))
    return FALSE;
  if (*argc != 1)
    return berth_cli_usage ("prune takes no operand"), FALSE;
  if (!force)
    return berth_cli_usage ("prune removes %s: confirm with -f", what), FALSE;
  return TRUE;
}

static int
system_prune (BerthCli *cli, int argc, char **argv)
{
  BerthPruneOptions options = { .containers = TRUE, .images = TRUE };
  if (!parse_prune (&argc, &argv, &options, TRUE, TRUE, "every container not running and the "
                    "images no container uses (with --volumes, the volumes none mounts)"))
    return BERTH_EXIT_USAGE;
  return run_prune (cli, &options);
}

int
berth_cmd_container_prune (BerthCli *cli, int argc, char **argv)
{
  BerthPruneOptions options = { .containers = TRUE };
  if (!parse_prune (&argc, &argv, &options, FALSE, FALSE, "every container not running"))
    return BERTH_EXIT_USAGE;
  return run_prune (cli, &options);
}

int
berth_cmd_image_prune (BerthCli *cli, int argc, char **argv)
{
  BerthPruneOptions options = { .images = TRUE };
  if (!parse_prune (&argc, &argv, &options, TRUE, FALSE, "the untagged images no container "
                    "uses (with -a, every image none uses)"))
    return BERTH_EXIT_USAGE;
  return run_prune (cli, &options);
}

int
berth_cmd_system (BerthCli *cli, int argc, char **argv)
{
  static const BerthSubcommand subs[] = {
    { "df", system_df, "Show the space images, containers and volumes take" },
    { "prune", system_prune, "Remove stopped containers and unused images (and volumes)" },
  };
  return berth_cli_dispatch (cli, "system", subs, G_N_ELEMENTS (subs), argc, argv);
}

/* docker container's group, for the scripts that use its long forms. */
int
berth_cmd_container (BerthCli *cli, int argc, char **argv)
{
  static const BerthSubcommand subs[] = {
    { "ls", berth_cmd_ps, "List containers" }, { "list", berth_cmd_ps, NULL },
    { "ps", berth_cmd_ps, NULL },
    { "inspect", berth_cmd_inspect, "Show containers' state and configuration as JSON" },
    { "start", berth_cmd_start, "Start created or exited containers" },
    { "stop", berth_cmd_stop, "Stop containers: SIGTERM, then SIGKILL after a timeout" },
    { "rm", berth_cmd_rm, "Remove containers" }, { "remove", berth_cmd_rm, NULL },
    { "prune", berth_cmd_container_prune, "Remove every container not running" },
  };
  return berth_cli_dispatch (cli, "container", subs, G_N_ELEMENTS (subs), argc, argv);
}
