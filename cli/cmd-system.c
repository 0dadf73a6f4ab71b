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

static int
system_prune (BerthCli *cli, int argc, char **argv)
{
  gboolean force = FALSE;
  BerthPruneOptions options = { 0 };
  const GOptionEntry entries[] = {
    { "all", 'a', 0, G_OPTION_ARG_NONE, &options.all_images,
      "Every image no container is made from, not only untagged ones", NULL },
    { "volumes", 0, 0, G_OPTION_ARG_NONE, &options.volumes,
      "Every volume no container mounts too", NULL },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Do not ask (berth never asks: required)",
      NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 1)
    return berth_cli_usage ("system prune takes no operand");
  if (!force)
    return berth_cli_usage ("system prune removes every container not running and the images "
                            "no container uses%s: confirm with -f",
                            options.volumes ? ", and the volumes none mounts" : "");
  g_autoptr (GError) error = NULL;
  OPEN_STORE_OR_FAIL (store, cli, error);
  BerthPruneReport report;
  gboolean ok = berth_system_prune (store, &options, &report, &error);
  print_deleted ("Containers", report.containers);
  print_deleted ("Volumes", report.volumes);
  print_deleted ("Images", report.images);
  g_autofree char *reclaimed = g_format_size ((guint64) report.reclaimed);
  printf ("Total reclaimed space: %s\n", reclaimed);
  berth_prune_report_clear (&report);
  return ok ? 0 : berth_cli_fail (error);
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
