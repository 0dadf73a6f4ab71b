/* berth events: the store's journal (core/store/events.c), as docker
 * events prints it. Without --since, what happens from now on; with
 * --until, up to then; otherwise until ^C. */
#include "config.h"
#include "cli.h"
#include <berth/error.h>
#include <berth/names.h>
#include <stdio.h>
#include <string.h>

static const char *const event_filter_keys[] = { "type", "event", "container", "image",
                                                 "volume", "name", NULL };

static gboolean
event_value_matches (const char *key, const char *want, gpointer item)
{
  JsonObject *event = item;
  const char *type = berth_json_string (event, "Type", "");
  JsonObject *actor = berth_json_object (event, "Actor");
  JsonObject *attributes = berth_json_object (actor, "Attributes");
  const char *id = berth_json_string (actor, "ID", "");
  const char *name = berth_json_string (attributes, "name", "");
  if (strcmp (key, "type") == 0)
    return strcmp (type, want) == 0;
  if (strcmp (key, "event") == 0)
    return strcmp (berth_json_string (event, "Action", ""), want) == 0;
  if (strcmp (key, "name") == 0)
    return strcmp (name, want) == 0;
  /* container=, image=, volume=: that kind, by id (a prefix) or name */
  gboolean is_id = want[0] && g_str_has_prefix (id, want);
  if (strcmp (key, "image") == 0)
    return (strcmp (type, "image") == 0 && (is_id || strcmp (name, want) == 0))
           || strcmp (berth_json_string (attributes, "image", ""), want) == 0;
  return strcmp (type, key) == 0 && (is_id || strcmp (name, want) == 0);
}

/* Docker's line: "TIME TYPE ACTION ID (k=v, k=v)", TIME to the nanosecond. */
static void
print_event (JsonObject *event)
{
  gint64 ns = berth_json_int (event, "timeNano", 0);
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (ns / 1000000000);
  g_autofree char *when = t ? g_date_time_format (t, "%Y-%m-%dT%H:%M:%S") : g_strdup ("?");
  JsonObject *actor = berth_json_object (event, "Actor");
  JsonObject *attributes = berth_json_object (actor, "Attributes");
  g_autoptr (GString) attrs = g_string_new (NULL);
  g_autoptr (GList) keys = attributes ? json_object_get_members (attributes) : NULL;
  keys = g_list_sort (keys, (GCompareFunc) strcmp);
  for (GList *k = keys; k; k = k->next)
    g_string_append_printf (attrs, "%s%s=%s", attrs->len ? ", " : "", (char *) k->data,
                            berth_json_string (attributes, k->data, ""));
  g_autofree char *line = g_strdup_printf ("%s.%09" G_GINT64_FORMAT "Z %s %s %s%s%s%s", when,
                                           ns % 1000000000, berth_json_string (event, "Type", ""),
                                           berth_json_string (event, "Action", ""),
                                           berth_json_string (actor, "ID", ""),
                                           attrs->len ? " (" : "", attrs->str, attrs->len ? ")" : "");
  g_autofree char *safe = berth_cli_printable (line, BERTH_CLI_MAX_MESSAGE);
  printf ("%s\n", safe);
}

typedef struct {
  GHashTable *filters;
  const char *format;
  gint64 since_ns, until_ns; /* until 0: none */
  gint64 printed_ns;         /* the last event printed (or since) */
} EventsRun;

/* Print the journal's events after the last one printed, up to until.
 * FALSE with @error when the journal cannot be read or a format fails. */
static gboolean
print_new_events (BerthCli *cli, EventsRun *r, GError **error)
{
  g_autoptr (BerthStore) store = berth_cli_open_reader (cli, error);
  g_autoptr (GPtrArray) events = store ? berth_event_list (store, error) : NULL;
  if (events == NULL)
    return FALSE;
  for (guint i = 0; i < events->len; i++)
    {
      JsonObject *event = berth_json_node_object (events->pdata[i]);
      gint64 ns = berth_json_int (event, "timeNano", 0);
      if (ns <= r->printed_ns || (r->until_ns && ns >= r->until_ns)
          || !berth_cli_filters_match (r->filters, event_value_matches, event))
        continue;
      r->printed_ns = ns;
      if (r->format == NULL)
        print_event (event);
      else
        {
          g_autoptr (GString) line = g_string_new (NULL);
          if (!berth_template_render (r->format, events->pdata[i], line, error))
            return FALSE;
          printf ("%s\n", line->str);
        }
    }
  fflush (stdout);
  return TRUE;
}

int
berth_cmd_events (BerthCli *cli, int argc, char **argv)
{
  g_autofree char *since = NULL, *until = NULL, *format = NULL;
  g_auto (GStrv) filter_args = NULL;
  const GOptionEntry entries[] = {
    { "since", 0, 0, G_OPTION_ARG_STRING, &since, "Events from then on (RFC 3339, Unix "
      "seconds, or a duration ago: 10m); without it, those from now on", "TIME" },
    { "until", 0, 0, G_OPTION_ARG_STRING, &until, "Stop at then (as --since); without it, "
      "wait for more until ^C", "TIME" },
    { "filter", 'f', 0, G_OPTION_ARG_STRING_ARRAY, &filter_args, "Only those that match: "
      "type=, event=, container=, image=, volume=, name=", "KEY=VALUE" },
    { "format", 0, 0, G_OPTION_ARG_STRING, &format, "A template an event: {{.Type}} "
      "{{.Action}} {{.Actor.ID}} {{json .}}", "TEMPLATE" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 1)
    return berth_cli_usage ("events takes no operand");
  g_autoptr (GError) error = NULL;
  if (format && !berth_template_check (format, &error))
    return berth_cli_usage ("%s", error->message);
  g_autoptr (GHashTable) filters = berth_cli_filters_new ();
  for (char **f = filter_args; f && *f; f++)
    if (!berth_cli_filter_add (filters, *f, event_filter_keys, &error))
      return berth_cli_usage ("%s", error->message);
  gint64 now = g_get_real_time (), since_us = 0, until_us = 0;
  if ((since && !berth_parse_time (since, "--since", now, &since_us, &error))
      || (until && !berth_parse_time (until, "--until", now, &until_us, &error)))
    return berth_cli_usage ("%s", error->message);
  EventsRun r = { .filters = filters, .format = format, .until_ns = until_us * 1000,
                  .printed_ns = since ? since_us * 1000 - 1 : now * 1000 };
  for (;;)
    {
      if (!print_new_events (cli, &r, &error))
        return berth_cli_fail (error);
      if (r.until_ns && g_get_real_time () * 1000 >= r.until_ns)
        return 0;
      g_usleep (G_USEC_PER_SEC / 5);
    }
}
