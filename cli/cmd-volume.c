/* berth volume create|ls|inspect|rm|prune, as docker volume's. */
#include "config.h"
#include "cli.h"
#include <berth/error.h>
#include <stdio.h>
#include <string.h>

static int
volume_create (BerthCli *cli, int argc, char **argv)
{
  if (!berth_cli_parse (&argc, &argv, NULL, "[NAME]", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc > 2)
    return berth_cli_usage ("volume create takes at most one name");
  g_autoptr (GError) error = NULL;
  OPEN_STORE_OR_FAIL (store, cli, error);
  gboolean created = FALSE;
  g_autoptr (BerthVolume) v = berth_volume_ensure (store, argc == 2 ? argv[1] : NULL, &created,
                                                   &error);
  if (v == NULL)
    return berth_cli_fail (error);
  printf ("%s\n", v->name);
  return 0;
}

static int
volume_ls (BerthCli *cli, int argc, char **argv)
{
  gboolean quiet = FALSE;
  g_autofree char *format = NULL;
  const GOptionEntry entries[] = {
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Only show names", NULL },
    { "format", 0, 0, G_OPTION_ARG_STRING, &format, "A template a line: {{.Name}} "
      "{{.Mountpoint}}...", "TEMPLATE" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "", FALSE))
    return BERTH_EXIT_USAGE;
  g_autoptr (GError) error = NULL;
  if (format && !berth_template_check (format, &error))
    return berth_cli_usage ("%s", error->message);
  g_autoptr (BerthStore) store = berth_cli_open_reader (cli, &error);
  g_autoptr (GPtrArray) volumes = store ? berth_volume_list (store, &error) : NULL;
  if (volumes == NULL)
    return berth_cli_fail (error);
  if (!quiet && !format)
    printf ("%-10s %s\n", "DRIVER", "VOLUME NAME");
  for (guint i = 0; i < volumes->len; i++)
    {
      BerthVolume *v = volumes->pdata[i];
      if (format)
        {
          g_autoptr (JsonNode) row = berth_volume_inspect (v);
          g_autoptr (GString) line = g_string_new (NULL);
          if (!berth_template_render (format, row, line, &error))
            return berth_cli_fail (error);
          printf ("%s\n", line->str);
        }
      else if (quiet)
        printf ("%s\n", v->name);
      else
        printf ("%-10s %s\n", "local", v->name);
    }
  return 0;
}

static JsonNode *
inspect_one (BerthStore *store, const char *name, GError **error)
{
  g_autoptr (BerthVolume) v = berth_volume_lookup (store, name, error);
  return v ? berth_volume_inspect (v) : NULL;
}

static int
volume_inspect (BerthCli *cli, int argc, char **argv)
{
  g_autofree char *format = NULL;
  const GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "A template: {{.Mountpoint}}", "TEMPLATE" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "NAME...", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc < 2)
    return berth_cli_usage ("volume inspect needs at least one volume");
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = berth_cli_open_reader (cli, &error);
  if (store == NULL)
    return berth_cli_fail (error);
  return berth_cli_inspect_each (store, argc, argv, inspect_one, format);
}

static gboolean
remove_volume (BerthStore *store, const char *name, gpointer force, GError **error)
{
  g_autoptr (GError) local = NULL;
  if (berth_volume_remove (store, name, &local))
    return TRUE;
  /* Docker's -f: a volume that is not there is no error. */
  if (GPOINTER_TO_INT (force) && g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

static int
volume_rm (BerthCli *cli, int argc, char **argv)
{
  gboolean force = FALSE;
  const GOptionEntry entries[] = {
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "No error for a volume that does not exist "
      "(one in use is never removed)", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "NAME...", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc < 2)
    return berth_cli_usage ("volume rm needs at least one volume");
  g_autoptr (GError) error = NULL;
  OPEN_STORE_OR_FAIL (store, cli, error);
  return berth_cli_each_operand (store, argc, argv, remove_volume, GINT_TO_POINTER (force), TRUE);
}

static int
volume_prune (BerthCli *cli, int argc, char **argv)
{
  gboolean force = FALSE;
  const GOptionEntry entries[] = {
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Do not ask (berth never asks: required)",
      NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "", FALSE))
    return BERTH_EXIT_USAGE;
  if (!force)
    return berth_cli_usage ("volume prune removes every volume no container uses: confirm with -f");
  g_autoptr (GError) error = NULL;
  OPEN_STORE_OR_FAIL (store, cli, error);
  g_autoptr (GPtrArray) volumes = berth_volume_list (store, &error);
  if (volumes == NULL)
    return berth_cli_fail (error);
  int rc = 0;
  printf ("Deleted Volumes:\n");
  for (guint i = 0; i < volumes->len; i++)
    {
      BerthVolume *v = volumes->pdata[i];
      g_autoptr (GPtrArray) users = berth_volume_users (store, v, &error);
      if (users == NULL)
        return berth_cli_fail (error);
      if (users->len > 0)
        continue;
      g_autoptr (GError) local = NULL;
      if (berth_volume_remove (store, v->name, &local))
        printf ("%s\n", v->name);
      else
        rc = berth_cli_fail (local);
    }
  return rc;
}

int
berth_cmd_volume (BerthCli *cli, int argc, char **argv)
{
  static const BerthSubcommand subs[] = {
    { "create", volume_create, "Create a volume (a random name when none is given)" },
    { "ls", volume_ls, "List volumes" }, { "list", volume_ls, NULL },
    { "inspect", volume_inspect, "Show volumes as JSON" },
    { "rm", volume_rm, "Remove volumes no container uses" }, { "remove", volume_rm, NULL },
    { "prune", volume_prune, "Remove every volume no container uses" },
  };
  return berth_cli_dispatch (cli, "volume", subs, G_N_ELEMENTS (subs), argc, argv);
}
