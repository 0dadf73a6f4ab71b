#include "config.h"
#include "cli.h"
#include <berth/error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static BerthStore *
open_store (BerthCli *cli, gboolean reader, GError **error)
{
  if (geteuid () != 0)
    {
      berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                  "berth needs root (mounts and ownership); run it as root");
      return NULL;
    }
  g_autoptr (BerthStore) store = reader ? berth_store_open_reader (cli->root, cli->driver, error)
                                        : berth_store_open (cli->root, cli->driver, error);
  if (store == NULL)
    return NULL;
  char **opts = cli->storage_opts ? (char **) cli->storage_opts->pdata : NULL;
  if (!berth_store_set_storage_options (store, opts, error))
    return NULL;
  /* A command killed half-way: what it left goes first. Not this one's
   * failure, so a warning, and the mark stays for the next command. */
  g_autoptr (GError) local = NULL;
  if (!berth_store_recover (store, &local))
    g_printerr ("berth: warning: collecting what an interrupted command left: %s\n",
                local->message);
  return g_steal_pointer (&store);
}

BerthStore *
berth_cli_open_store (BerthCli *cli, GError **error)
{
  return open_store (cli, FALSE, error);
}

BerthStore *
berth_cli_open_reader (BerthCli *cli, GError **error)
{
  return open_store (cli, TRUE, error);
}

int
berth_cli_fail (GError *error)
{
  g_autofree char *msg = berth_cli_printable (error ? error->message : "unknown error",
                                              BERTH_CLI_MAX_MESSAGE);
  fprintf (stderr, "berth: %s\n", msg);
  return BERTH_EXIT_FAILED;
}

char *
berth_cli_printable (const char *text, gsize max)
{
  GString *out = g_string_new (NULL);
  gsize len = strlen (text), cut = MIN (len, max);
  /* back to the start of a UTF-8 character */
  while (cut < len && cut > 0 && ((guchar) text[cut] & 0xC0) == 0x80)
    cut--;
  for (gsize i = 0; i < cut; i++)
    {
      guchar ch = text[i];
      if (ch == '\n')
        g_string_append (out, "\\n");
      else if (ch == '\t')
        g_string_append (out, "\\t");
      else if (ch == '\\')
        g_string_append (out, "\\\\");
      else if (ch < 0x20 || ch == 0x7f)
        g_string_append_printf (out, "\\x%02x", ch);
      else
        g_string_append_c (out, ch);
    }
  if (cut < len)
    g_string_append_printf (out, "... (%" G_GSIZE_FORMAT " more bytes)", len - cut);
  return g_string_free (out, FALSE);
}

int
berth_cli_usage (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *raw = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_autofree char *msg = berth_cli_printable (raw, BERTH_CLI_MAX_MESSAGE);
  fprintf (stderr, "berth: %s\n", msg);
  return BERTH_EXIT_USAGE;
}

static gboolean
uses_short_h (const GOptionEntry *entries)
{
  for (const GOptionEntry *e = entries; e && e->long_name; e++)
    if (e->short_name == 'h')
      return TRUE;
  return FALSE;
}

/* "--help" among the options (not after the first operand or "--"). */
static gboolean
asks_for_help (int argc, char **argv)
{
  for (int i = 1; i < argc && argv[i][0] == '-' && strcmp (argv[i], "--") != 0; i++)
    if (strcmp (argv[i], "--help") == 0)
      return TRUE;
  return FALSE;
}

gboolean
berth_cli_parse (int *argc, char ***argv, const GOptionEntry *entries, const char *operands,
                 gboolean strict_posix)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new (operands);
  g_option_context_set_strict_posix (ctx, strict_posix);
  if (entries)
    g_option_context_add_main_entries (ctx, entries, NULL);
  g_autofree char *prgname = g_strdup_printf ("berth %s", (*argv)[0]);
  g_set_prgname (prgname);
  /* docker run's -h is the hostname; GOption would take it for help. */
  if (uses_short_h (entries))
    {
      g_option_context_set_help_enabled (ctx, FALSE);
      if (asks_for_help (*argc, *argv))
        {
          g_autofree char *help = g_option_context_get_help (ctx, TRUE, NULL);
          fputs (help, stdout);
          exit (0);
        }
    }
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      berth_cli_usage ("%s: %s (see 'berth %s --help')", (*argv)[0], error->message,
                       (*argv)[0]);
      return FALSE;
    }
  return TRUE;
}

static void
print_subcommands (FILE *out, const char *parent, const BerthSubcommand *subs, guint n_subs)
{
  fprintf (out, "Usage: berth %s COMMAND [ARG...]\n\nCommands:\n", parent);
  for (guint i = 0; i < n_subs; i++)
    if (subs[i].summary)
      fprintf (out, "  %-11s %s\n", subs[i].name, subs[i].summary);
  fprintf (out, "\nRun 'berth %s COMMAND --help' for a command's options.\n", parent);
}

int
berth_cli_dispatch (BerthCli *cli, const char *parent, const BerthSubcommand *subs,
                    guint n_subs, int argc, char **argv)
{
  if (argc < 2)
    {
      print_subcommands (stderr, parent, subs, n_subs);
      return BERTH_EXIT_USAGE;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0)
    {
      print_subcommands (stdout, parent, subs, n_subs);
      return 0;
    }
  for (guint i = 0; i < n_subs; i++)
    if (strcmp (argv[1], subs[i].name) == 0)
      {
        g_autofree char *full = g_strdup_printf ("%s %s", parent, argv[1]);
        argv[1] = full;
        return subs[i].func (cli, argc - 1, argv + 1);
      }
  return berth_cli_usage ("unknown %s subcommand '%s' (see 'berth %s --help')", parent, argv[1],
                          parent);
}

void
berth_cli_progress (guint64 bytes, gpointer what)
{
  static gint64 last;
  gint64 now = g_get_monotonic_time ();
  if (!isatty (STDERR_FILENO) || now - last < 100000)
    return;
  last = now;
  fprintf (stderr, "\r%s: %.1f MB", (const char *) what, bytes / 1e6);
}

void
berth_cli_progress_done (const char *what)
{
  if (isatty (STDERR_FILENO))
    fprintf (stderr, "\r%s: done%20s\n", what, "");
}

BerthStore *
berth_cli_open_with_container (BerthCli *cli, const char *ref, BerthContainer **out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = berth_cli_open_store (cli, &error);
  if (store)
    *out = berth_container_lookup (store, ref, &error);
  if (store == NULL || *out == NULL)
    {
      berth_cli_fail (error);
      return NULL;
    }
  return g_steal_pointer (&store);
}

int
berth_cli_each_operand (BerthStore *store, int argc, char **argv, BerthOperandAction act,
                        gpointer data, gboolean print_names)
{
  int rc = 0;
  for (int i = 1; i < argc; i++)
    {
      g_autoptr (GError) local = NULL;
      if (!act (store, argv[i], data, &local))
        rc = berth_cli_fail (local);
      else if (print_names)
        printf ("%s\n", argv[i]);
    }
  return rc;
}

typedef struct {
  BerthContainerAction act;
  gpointer data;
} ContainerAction;

static gboolean
act_on_container (BerthStore *store, const char *ref, gpointer data, GError **error)
{
  ContainerAction *a = data;
  g_autoptr (BerthContainer) c = berth_container_lookup (store, ref, error);
  return c && a->act (store, c, a->data, error);
}

int
berth_cli_for_each_container (BerthCli *cli, int argc, char **argv, BerthContainerAction act,
                              gpointer data, gboolean print_names)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = berth_cli_open_store (cli, &error);
  if (store == NULL)
    return berth_cli_fail (error);
  ContainerAction a = { act, data };
  return berth_cli_each_operand (store, argc, argv, act_on_container, &a, print_names);
}

int
berth_cli_inspect_each (BerthStore *store, int argc, char **argv, BerthInspectFunc inspect,
                        const char *format)
{
  g_autoptr (JsonArray) all = json_array_new ();
  int rc = 0;
  g_autoptr (GError) bad_format = NULL;
  if (format && !berth_template_check (format, &bad_format))
    return berth_cli_usage ("%s", bad_format->message);
  for (int i = 1; i < argc; i++)
    {
      g_autoptr (GError) local = NULL;
      g_autoptr (JsonNode) node = inspect (store, argv[i], &local);
      g_autoptr (GString) line = g_string_new (NULL);
      if (node == NULL)
        rc = berth_cli_fail (local);
      else if (format == NULL)
        json_array_add_element (all, g_steal_pointer (&node));
      else if (!berth_template_render (format, node, line, &local))
        rc = berth_cli_fail (local);
      else
        printf ("%s\n", line->str);
    }
  if (format)
    return rc;
  g_autoptr (JsonNode) root = json_node_new (JSON_NODE_ARRAY);
  json_node_set_array (root, all);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, root);
  g_autofree char *text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
  return rc;
}

/* go-units' HumanDuration, which docker's CREATED column uses. */
static char *
human_duration (gint64 seconds)
{
  gint64 minutes = seconds / 60, hours = minutes / 60, days = hours / 24;
  if (seconds < 1)
    return g_strdup ("Less than a second");
  if (seconds == 1)
    return g_strdup ("1 second");
  if (seconds < 60)
    return g_strdup_printf ("%" G_GINT64_FORMAT " seconds", seconds);
  if (minutes == 1)
    return g_strdup ("About a minute");
  if (minutes < 60)
    return g_strdup_printf ("%" G_GINT64_FORMAT " minutes", minutes);
  if (hours == 1)
    return g_strdup ("About an hour");
  if (hours < 48)
    return g_strdup_printf ("%" G_GINT64_FORMAT " hours", hours);
  if (days < 14)
    return g_strdup_printf ("%" G_GINT64_FORMAT " days", days);
  if (days < 90)
    return g_strdup_printf ("%" G_GINT64_FORMAT " weeks", days / 7);
  if (days < 730)
    return g_strdup_printf ("%" G_GINT64_FORMAT " months", days / 30);
  return g_strdup_printf ("%" G_GINT64_FORMAT " years", days / 365);
}

char *
berth_cli_time_ago (const char *rfc3339)
{
  g_autoptr (GDateTime) then = rfc3339 && *rfc3339 ? g_date_time_new_from_iso8601 (rfc3339, NULL)
                                                   : NULL;
  if (then == NULL)
    return g_strdup ("");
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  gint64 seconds = g_date_time_difference (now, then) / G_TIME_SPAN_SECOND;
  g_autofree char *span = human_duration (MAX (seconds, 0));
  return g_strconcat (span, " ago", NULL);
}

GHashTable *
berth_cli_filters_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                (GDestroyNotify) g_ptr_array_unref);
}

gboolean
berth_cli_filter_add (GHashTable *filters, const char *filter, const char *const *keys,
                      GError **error)
{
  const char *eq = strchr (filter, '=');
  g_autofree char *key = eq ? g_strndup (filter, eq - filter) : NULL;
  if (key == NULL || !g_strv_contains (keys, key))
    {
      g_autofree char *names = g_strjoinv (", ", (char **) keys);
      return berth_fail (error, BERTH_ERROR_INVALID, "--filter '%s': KEY=VALUE with KEY one of "
                         "%s", filter, names);
    }
  GPtrArray *values = g_hash_table_lookup (filters, key);
  if (values == NULL)
    {
      values = g_ptr_array_new_with_free_func (g_free);
      g_hash_table_insert (filters, g_steal_pointer (&key), values);
    }
  g_ptr_array_add (values, g_strdup (eq + 1));
  return TRUE;
}

gboolean
berth_cli_filters_match (GHashTable *filters, BerthFilterMatch match, gpointer item)
{
  GHashTableIter it;
  gpointer key, values;
  g_hash_table_iter_init (&it, filters);
  while (g_hash_table_iter_next (&it, &key, &values))
    {
      GPtrArray *list = values;
      /* Docker: labels must all match, other keys' values are alternatives. */
      gboolean every = strcmp (key, "label") == 0, any = FALSE;
      for (guint i = 0; i < list->len; i++)
        {
          gboolean hit = match (key, list->pdata[i], item);
          if (every && !hit)
            return FALSE;
          any = any || hit;
        }
      if (!any && list->len > 0)
        return FALSE;
    }
  return TRUE;
}
