/* state, list and ps: what berth-runc knows of its containers. */
#include "config.h"
#include "runc.h"
#include <berth/error.h>
#include <berth/json.h>
#include <berth/oci.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
berth_runc_state (BerthRunc *r, int argc, char **argv)
{
  int rc;
  g_autoptr (BerthExec) c = berth_runc_open_only_operand (r, &argc, &argv, "state", &rc);
  if (c == NULL)
    return rc;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) state = berth_oci_state (r->root, c, &error);
  if (state == NULL)
    return berth_runc_fail (r, error);
  berth_runc_print_json (state);
  return 0;
}

int
berth_runc_list (BerthRunc *r, int argc, char **argv)
{
  g_autofree char *format = NULL;
  gboolean quiet = FALSE;
  const GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "table (default) or json", "FORMAT" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Only the ids", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_runc_parse (r, &argc, &argv, entries, "", FALSE))
    return 2;
  gboolean json = format && strcmp (format, "json") == 0;
  if (format && !json && strcmp (format, "table") != 0)
    return berth_runc_usage (r, "--format %s: use table or json", format);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) ids = berth_oci_list (r->root, &error);
  if (ids == NULL)
    return berth_runc_fail (r, error);
  g_autoptr (JsonArray) all = json_array_new ();
  if (!json && !quiet)
    printf ("%-24s %-8s %-8s %s\n", "ID", "PID", "STATUS", "BUNDLE");
  for (guint i = 0; i < ids->len; i++)
    {
      /* A container deleted meanwhile is simply not listed. */
      g_autoptr (GError) local = NULL;
      g_autoptr (BerthExec) c = berth_oci_open (r->root, ids->pdata[i], &local);
      g_autoptr (JsonNode) state = c ? berth_oci_state (r->root, c, &local) : NULL;
      if (state == NULL)
        continue;
      JsonObject *s = berth_json_node_object (state);
      if (json)
        json_array_add_element (all, json_node_copy (state));
      else if (quiet)
        printf ("%s\n", (char *) ids->pdata[i]);
      else
        printf ("%-24s %-8" G_GINT64_FORMAT " %-8s %s\n", (char *) ids->pdata[i],
                berth_json_int (s, "pid", 0), berth_json_string (s, "status", ""),
                berth_json_string (s, "bundle", ""));
    }
  if (json)
    {
      g_autoptr (JsonNode) node = json_node_init_array (json_node_alloc (), all);
      berth_runc_print_json (node);
    }
  return 0;
}

/* runc's table: ps(1)'s own output (ps_args, default -ef), only the rows
 * whose PID column is one of the container's. */
static int
ps_table (BerthRunc *r, GArray *pids, char **ps_args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) "ps");
  for (char **a = ps_args; a && *a; a++)
    g_ptr_array_add (argv, *a);
  if (ps_args == NULL || *ps_args == NULL)
    g_ptr_array_add (argv, (gpointer) "-ef");
  g_ptr_array_add (argv, NULL);
  g_autofree char *out = NULL;
  int status = 0;
  g_autoptr (GError) error = NULL;
  if (!g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
                     NULL, &status, &error)
      || !g_spawn_check_wait_status (status, &error))
    return berth_runc_fail (r, error);
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  g_auto (GStrv) header = g_strsplit_set (lines[0] ? lines[0] : "", " \t", -1);
  int column = -1, n = 0;
  for (char **h = header; *h; h++)
    if (**h)
      {
        if (strcmp (*h, "PID") == 0)
          column = n;
        n++;
      }
  if (column < 0)
    {
      g_set_error (&error, BERTH_ERROR, BERTH_ERROR_INVALID, "ps %s: its output has no PID column",
                   ps_args && *ps_args ? ps_args[0] : "-ef");
      return berth_runc_fail (r, error);
    }
  printf ("%s\n", lines[0]);
  for (char **l = lines + 1; *l; l++)
    {
      g_auto (GStrv) fields = g_strsplit_set (*l, " \t", -1);
      int seen = 0;
      for (char **f = fields; *f; f++)
        if (**f && seen++ == column)
          for (guint i = 0; i < pids->len; i++)
            if (atoi (*f) == g_array_index (pids, pid_t, i))
              printf ("%s\n", *l);
    }
  return 0;
}

int
berth_runc_ps (BerthRunc *r, int argc, char **argv)
{
  g_autofree char *format = NULL;
  const GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "table (default) or json", "FORMAT" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_runc_parse (r, &argc, &argv, entries, "ID [PS_ARGS...]", TRUE))
    return 2;
  gboolean json = format && strcmp (format, "json") == 0;
  if (format && !json && strcmp (format, "table") != 0)
    return berth_runc_usage (r, "--format %s: use table or json", format);
  if (argc < 2)
    return berth_runc_usage (r, "ps needs a container id");
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthExec) c = berth_oci_open (r->root, argv[1], &error);
  g_autoptr (GArray) pids = c ? berth_exec_pids (c, &error) : NULL;
  if (pids == NULL)
    return berth_runc_fail (r, error);
  if (!json)
    return ps_table (r, pids, argv + 2 + (argc > 2 && strcmp (argv[2], "--") == 0));
  g_autoptr (JsonArray) list = json_array_new ();
  for (guint i = 0; i < pids->len; i++)
    json_array_add_int_element (list, g_array_index (pids, pid_t, i));
  g_autoptr (JsonNode) node = json_node_init_array (json_node_alloc (), list);
  g_autofree char *text = berth_json_to_string (node, NULL);
  printf ("%s\n", text);
  return 0;
}
