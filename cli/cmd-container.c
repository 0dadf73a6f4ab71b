#include "config.h"
#include "cli.h"
#include <berth/fsutil.h>
#include <berth/error.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
one_container_command (BerthCli *cli, int argc, char **argv, const char *what,
                       int (*act) (BerthStore *, BerthContainer *))
{
  if (!berth_cli_parse (&argc, &argv, NULL, "CONTAINER", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 2)
    return berth_cli_usage ("%s needs one container", what);
  g_autoptr (BerthContainer) c = NULL;
  g_autoptr (BerthStore) store = berth_cli_open_with_container (cli, argv[1], &c);
  if (store == NULL)
    return BERTH_EXIT_FAILED;
  return act (store, c);
}

static int
do_mount (BerthStore *store, BerthContainer *c)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = berth_container_mount (store, c, &error);
  if (path == NULL)
    return berth_cli_fail (error);
  printf ("%s\n", path);
  return 0;
}

static int
do_umount (BerthStore *store, BerthContainer *c)
{
  g_autoptr (GError) error = NULL;
  if (!berth_container_umount (store, c, &error))
    return berth_cli_fail (error);
  return 0;
}

static int
do_diff (BerthStore *store, BerthContainer *c)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) changes = berth_container_changes (store, c, &error);
  if (changes == NULL)
    return berth_cli_fail (error);
  for (guint i = 0; i < changes->len; i++)
    {
      BerthChange *ch = changes->pdata[i];
      g_autofree char *path = berth_cli_printable (ch->path, G_MAXSIZE);
      printf ("%c %s\n", ch->kind, path);
    }
  return 0;
}

int
berth_cmd_mount (BerthCli *cli, int argc, char **argv)
{
  return one_container_command (cli, argc, argv, "mount", do_mount);
}

int
berth_cmd_umount (BerthCli *cli, int argc, char **argv)
{
  return one_container_command (cli, argc, argv, "umount", do_umount);
}

int
berth_cmd_diff (BerthCli *cli, int argc, char **argv)
{
  return one_container_command (cli, argc, argv, "diff", do_diff);
}

int
berth_cmd_commit (BerthCli *cli, int argc, char **argv)
{
  if (!berth_cli_parse (&argc, &argv, NULL, "CONTAINER [NAME[:TAG]]", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 2 && argc != 3)
    return berth_cli_usage ("commit needs a container and optionally a NAME[:TAG]");
  g_autoptr (BerthContainer) c = NULL;
  g_autoptr (BerthStore) store = berth_cli_open_with_container (cli, argv[1], &c);
  if (store == NULL)
    return BERTH_EXIT_FAILED;
  g_autoptr (GError) error = NULL;
  g_autofree char *id = berth_container_commit (store, c, argc == 3 ? argv[2] : NULL, &error);
  if (id == NULL)
    return berth_cli_fail (error);
  printf ("sha256:%s\n", id);
  return 0;
}

int
berth_cmd_export (BerthCli *cli, int argc, char **argv)
{
  g_autofree char *output = NULL;
  const GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Write to this file (default stdout)", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "CONTAINER", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 2)
    return berth_cli_usage ("export needs one container");
  if (output == NULL && isatty (STDOUT_FILENO))
    return berth_cli_usage ("refusing to write a tar to a terminal; use -o FILE or redirect");
  g_autoptr (BerthContainer) c = NULL;
  g_autoptr (BerthStore) store = berth_cli_open_with_container (cli, argv[1], &c);
  if (store == NULL)
    return BERTH_EXIT_FAILED;
  g_autoptr (GError) error = NULL;
  BerthOutputFile out = { .fd = STDOUT_FILENO };
  if (output && !berth_output_file_open (&out, output, &error))
    return berth_cli_fail (error);
  gboolean ok = berth_container_export (store, c, out.fd, &error);
  if (output)
    ok = berth_output_file_close (&out, ok, ok ? &error : NULL);
  return ok ? 0 : berth_cli_fail (error);
}

int
berth_cmd_rename (BerthCli *cli, int argc, char **argv)
{
  if (!berth_cli_parse (&argc, &argv, NULL, "CONTAINER NEW_NAME", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 3)
    return berth_cli_usage ("rename needs a container and its new name");
  g_autoptr (BerthContainer) c = NULL;
  g_autoptr (BerthStore) store = berth_cli_open_with_container (cli, argv[1], &c);
  if (store == NULL)
    return BERTH_EXIT_FAILED;
  g_autoptr (GError) error = NULL;
  return berth_container_rename (store, c, argv[2], &error) ? 0 : berth_cli_fail (error);
}

typedef struct {
  gboolean force;
  gboolean volumes;
} RemoveFlags;

static gboolean
remove_one (BerthStore *store, BerthContainer *c, gpointer data, GError **error)
{
  RemoveFlags *flags = data;
  if (flags->volumes)
    return berth_container_remove_with_volumes (store, c->id, flags->force, error);
  return berth_container_remove (store, c->id, flags->force, error);
}

int
berth_cmd_rm (BerthCli *cli, int argc, char **argv)
{
  RemoveFlags flags = { 0 };
  const GOptionEntry entries[] = {
    { "force", 'f', 0, G_OPTION_ARG_NONE, &flags.force, "Kill it if running; remove even if mounted", NULL },
    { "volumes", 'v', 0, G_OPTION_ARG_NONE, &flags.volumes,
      "Remove its anonymous volumes too (those no other container uses)", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "CONTAINER...", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc < 2)
    return berth_cli_usage ("rm needs at least one container");
  return berth_cli_for_each_container (cli, argc, argv, remove_one, &flags, TRUE);
}

/* Creates killed half-way, shown until the next create or rmi removes them. */
static int
print_incomplete (BerthStore *store, gboolean quiet)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) ids = berth_container_list_incomplete (store, &error);
  if (ids == NULL)
    return berth_cli_fail (error);
  for (guint i = 0; i < ids->len; i++)
    if (quiet)
      printf ("%.12s\n", (char *) ids->pdata[i]);
    else
      printf ("%-14.12s %-22s %-20s %-12s %-12s %s\n", (char *) ids->pdata[i], "-", "", "-",
              "Incomplete", "-");
  return 0;
}

/* Docker's SIZE column: "12.3 kB (virtual 4.3 MB)". */
static char *
size_column (BerthStore *store, BerthContainer *c, GError **error)
{
  gint64 written = berth_container_size (store, c, error);
  if (written < 0)
    return NULL;
  g_autoptr (GError) local = NULL;
  g_autoptr (BerthImage) image = berth_image_lookup (store, c->image_id, &local);
  gint64 virtual = written + (image ? berth_image_size (store, image) : 0);
  g_autofree char *w = g_format_size ((guint64) written);
  g_autofree char *v = g_format_size ((guint64) virtual);
  return g_strdup_printf ("%s (virtual %s)", w, v);
}

/* One row of ps as --format's templates see it: Docker's field names
 * (ID, Image, Command, CreatedAt, Status, State, Names, Size), and berth's
 * Driver and ExecDriver. */
static JsonNode *
ps_row (BerthContainer *c, BerthContainerState *s, const char *status, const char *cmd,
        const char *size_text)
{
  g_autoptr (JsonObject) o = json_object_new ();
  g_autofree char *short_id = g_strndup (c->id, 12);
  g_autofree char *quoted = g_strdup_printf ("\"%s\"", cmd);
  g_autofree char *labels = c->labels ? g_strjoinv (",", c->labels) : g_strdup ("");
  const char *pairs[][2] = {
    { "ID", short_id }, { "Image", c->image_ref }, { "Command", quoted },
    { "CreatedAt", c->created }, { "Status", status }, { "State", s->status },
    { "Names", c->name }, { "Size", size_text }, { "Driver", c->driver },
    { "ExecDriver", c->exec_driver }, { "Labels", labels },
  };
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    json_object_set_string_member (o, pairs[i][0], pairs[i][1] ? pairs[i][1] : "");
  return json_node_init_object (json_node_alloc (), o);
}

/* docker ps --filter KEY=VALUE: one key's values are alternatives, the
 * keys must all match. */
static const char *const ps_filter_keys[] = { "id", "name", "label", "status", "ancestor",
                                              "exited", NULL };

/* exited=N must be an exit code (Docker's check). */
static gboolean
ps_filter_add (GHashTable *filters, const char *filter, GError **error)
{
  if (g_str_has_prefix (filter, "exited=")
      && !g_ascii_string_to_signed (filter + strlen ("exited="), 10, 0, 255, NULL, NULL))
    return berth_fail (error, BERTH_ERROR_INVALID, "--filter '%s': exited takes an exit code "
                       "from 0 to 255", filter);
  return berth_cli_filter_add (filters, filter, ps_filter_keys, error);
}

/* What a ps filter looks at. */
typedef struct {
  BerthContainer *c;
  BerthContainerState *s;
} PsItem;

static gboolean
ps_filter_value_matches (const char *key, const char *value, gpointer item)
{
  BerthContainer *c = ((PsItem *) item)->c;
  BerthContainerState *s = ((PsItem *) item)->s;
  if (strcmp (key, "id") == 0)
    return g_str_has_prefix (c->id, value);
  if (strcmp (key, "name") == 0)
    return strstr (c->name, value) != NULL;
  if (strcmp (key, "label") == 0)
    return berth_labels_match (c->labels, value);
  if (strcmp (key, "status") == 0)
    return g_strcmp0 (s->status, value) == 0;
  if (strcmp (key, "ancestor") == 0)
    return g_strcmp0 (c->image_ref, value) == 0 || g_str_has_prefix (c->image_id, value)
           || (strchr (value, ':') == NULL && g_str_has_prefix (c->image_ref, value)
               && c->image_ref[strlen (value)] == ':');
  /* exited=N */
  return g_strcmp0 (s->status, "exited") == 0 && atoi (value) == s->exit_code;
}

/* The DRIVER column is as wide as the longest storage driver's name
 * ("devicemapper"), so STATUS stays in its column on every driver. */
int
berth_cmd_ps (BerthCli *cli, int argc, char **argv)
{
  gboolean all = FALSE, quiet = FALSE, size = FALSE;
  g_autofree char *format = NULL;
  g_auto (GStrv) filter_args = NULL;
  const GOptionEntry entries[] = {
    { "filter", 'f', 0, G_OPTION_ARG_STRING_ARRAY, &filter_args, "Only those that match: id=, "
      "name=, label=KEY[=VALUE], status=, ancestor=IMAGE, exited=CODE", "KEY=VALUE" },
    { "format", 0, 0, G_OPTION_ARG_STRING, &format, "A template a line: {{.ID}} {{.Names}} "
      "{{.Status}}...", "TEMPLATE" },
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, "Show all containers, not only running ones", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Only show ids", NULL },
    { "size", 's', 0, G_OPTION_ARG_NONE, &size,
      "Show what each container wrote, and its image's size (virtual)", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "", FALSE))
    return BERTH_EXIT_USAGE;
  g_autoptr (GError) error = NULL;
  if (format && !berth_template_check (format, &error))
    return berth_cli_usage ("%s", error->message);
  g_autoptr (GHashTable) filters = berth_cli_filters_new ();
  for (char **f = filter_args; f && *f; f++)
    if (!ps_filter_add (filters, *f, &error))
      return berth_cli_usage ("%s", error->message);
  /* Docker: a status filter shows stopped containers without -a. */
  if (g_hash_table_contains (filters, "status") || g_hash_table_contains (filters, "exited"))
    all = TRUE;
  /* --size may mount a layer for the generic diff, and reference counts
   * change under the store lock only. */
  g_autoptr (BerthStore) store = size ? berth_cli_open_store (cli, &error)
                                      : berth_cli_open_reader (cli, &error);
  if (store == NULL)
    return berth_cli_fail (error);
  g_autoptr (GPtrArray) list = berth_container_list (store, &error);
  if (list == NULL)
    return berth_cli_fail (error);
  if (!quiet && !format)
    printf ("%-14s %-22s %-20s %-12s %-12s %-*s%s\n", "CONTAINER ID", "IMAGE", "COMMAND", "DRIVER",
            "STATUS", size ? 20 : 0, "NAME", size ? " SIZE" : "");
  for (guint i = 0; i < list->len; i++)
    {
      BerthContainer *c = list->pdata[i];
      g_autoptr (GError) local = NULL;
      g_autoptr (BerthContainerState) s = berth_container_state (store, c, &local);
      if (s == NULL)
        return berth_cli_fail (local);
      gboolean live = berth_container_state_is_live (s);
      PsItem item = { c, s };
      if ((!all && !live) || !berth_cli_filters_match (filters, ps_filter_value_matches, &item))
        continue;
      if (quiet)
        {
          printf ("%.12s\n", c->id);
          continue;
        }
      g_autofree char *cmd = c->cmd ? g_strjoinv (" ", c->cmd) : g_strdup ("");
      g_autofree char *status = berth_container_status_text (s);
      g_autofree char *size_text = NULL;
      if (size && (size_text = size_column (store, c, &local)) == NULL)
        return berth_cli_fail (local);
      if (format)
        {
          g_autoptr (JsonNode) row = ps_row (c, s, status, cmd, size_text);
          g_autoptr (GString) line = g_string_new (NULL);
          if (!berth_template_render (format, row, line, &local))
            return berth_cli_fail (local);
          printf ("%s\n", line->str);
          continue;
        }
      printf ("%-14.12s %-22.22s %-20.20s %-12s %-12s %-*s%s%s\n", c->id, c->image_ref, cmd,
              c->driver, status, size ? 20 : 0, c->name, size ? " " : "", size ? size_text : "");
    }
  return all && !format ? print_incomplete (store, quiet) : 0;
}
