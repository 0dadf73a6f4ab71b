#include "config.h"
#include "cli.h"
#include <berth/exec.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/host.h>
#include <berth/storage.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

/* Drivers that exist in berth's design but were left out of this build
 * (configure found no library): listed so an operator sees why. */
static const char *const optional[][2] = {
  { "btrfs", "not built into this berth (configure found no libbtrfsutil)" },
  { "devicemapper", "not built into this berth (configure found no libdevmapper)" },
};

static void
add_driver (JsonBuilder *b, BerthStore *store, const BerthStorageOps *ops)
{
  g_autoptr (GError) error = NULL;
  BerthStorage *s = berth_store_driver (store, ops->name, &error);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, ops->name);
  json_builder_set_member_name (b, "available");
  json_builder_add_boolean_value (b, s != NULL);
  if (s == NULL)
    {
      json_builder_set_member_name (b, "reason");
      json_builder_add_string_value (b, error->message);
    }
  else
    {
      g_autoptr (GPtrArray) pairs = berth_storage_status (s);
      json_builder_set_member_name (b, "status");
      json_builder_begin_object (b);
      for (guint i = 0; i + 1 < pairs->len; i += 2)
        {
          json_builder_set_member_name (b, pairs->pdata[i]);
          json_builder_add_string_value (b, pairs->pdata[i + 1]);
        }
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
}

static void
add_exec_drivers (JsonBuilder *b)
{
  json_builder_set_member_name (b, "exec_drivers");
  json_builder_begin_array (b);
  for (const BerthExecOps *const *o = berth_exec_drivers (); *o; o++)
    {
      g_autoptr (GError) error = NULL;
      gboolean ok = berth_exec_probe (*o, &error);
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, (*o)->name);
      json_builder_set_member_name (b, "available");
      json_builder_add_boolean_value (b, ok);
      if (!ok)
        {
          json_builder_set_member_name (b, "reason");
          json_builder_add_string_value (b, error->message);
        }
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static JsonNode *
build_info (BerthStore *store)
{
  const char *root = berth_store_root (store);
  g_autofree char *kernel = berth_host_kernel ();
  gboolean d_type = FALSE;
  g_autoptr (GError) dt_error = NULL;
  g_autofree char *tmp = g_build_filename (root, "tmp", NULL);
  gboolean dt_known = berth_fs_supports_d_type (tmp, &d_type, &dt_error);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "kernel");
  json_builder_add_string_value (b, kernel);
  json_builder_set_member_name (b, "cgroup_layout");
  json_builder_add_string_value (b, berth_host_cgroup_layout ());
  json_builder_set_member_name (b, "root");
  json_builder_add_string_value (b, root);
  json_builder_set_member_name (b, "backing_filesystem");
  json_builder_add_string_value (b, berth_fs_type_name (root));
  json_builder_set_member_name (b, "d_type");
  json_builder_add_string_value (b, dt_known ? (d_type ? "yes" : "no") : dt_error->message);
  json_builder_set_member_name (b, "storage_drivers");
  json_builder_begin_array (b);
  for (const BerthStorageOps *const *o = berth_storage_drivers (); *o; o++)
    add_driver (b, store, *o);
  for (guint i = 0; i < G_N_ELEMENTS (optional); i++)
    {
      if (berth_storage_driver_lookup (optional[i][0]))
        continue;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, optional[i][0]);
      json_builder_set_member_name (b, "available");
      json_builder_add_boolean_value (b, FALSE);
      json_builder_set_member_name (b, "reason");
      json_builder_add_string_value (b, optional[i][1]);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  const char *rule = NULL;
  const char *def = berth_store_default_driver (store, &rule);
  json_builder_set_member_name (b, "default_storage_driver");
  json_builder_add_string_value (b, def);
  json_builder_set_member_name (b, "default_rule");
  json_builder_add_string_value (b, rule);
  add_exec_drivers (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
print_text (JsonObject *o)
{
  printf ("Kernel:              %s\n", json_object_get_string_member (o, "kernel"));
  printf ("Cgroup layout:       %s\n", json_object_get_string_member (o, "cgroup_layout"));
  printf ("Store:               %s\n", json_object_get_string_member (o, "root"));
  printf ("Backing filesystem:  %s (d_type: %s)\n",
          json_object_get_string_member (o, "backing_filesystem"),
          json_object_get_string_member (o, "d_type"));
  printf ("Storage drivers:\n");
  JsonArray *drivers = json_object_get_array_member (o, "storage_drivers");
  for (guint i = 0; i < json_array_get_length (drivers); i++)
    {
      JsonObject *d = json_array_get_object_element (drivers, i);
      const char *name = json_object_get_string_member (d, "name");
      if (!json_object_get_boolean_member (d, "available"))
        {
          printf ("  %-13s unavailable: %s\n", name, json_object_get_string_member (d, "reason"));
          continue;
        }
      printf ("  %-13s available\n", name);
      JsonObject *st = json_object_get_object_member (d, "status");
      g_autoptr (GList) keys = json_object_get_members (st);
      for (GList *k = keys; k; k = k->next)
        printf ("    %-24s %s\n", (char *) k->data, json_object_get_string_member (st, k->data));
    }
  printf ("Default storage driver: %s (%s)\n",
          json_object_get_string_member (o, "default_storage_driver"),
          json_object_get_string_member (o, "default_rule"));
  printf ("Exec drivers:\n");
  JsonArray *execs = berth_json_array (o, "exec_drivers");
  for (guint i = 0; execs && i < json_array_get_length (execs); i++)
    {
      JsonObject *d = berth_json_array_object (execs, i);
      if (berth_json_bool (d, "available", FALSE))
        printf ("  %-13s available\n", berth_json_string (d, "name", ""));
      else
        printf ("  %-13s unavailable: %s\n", berth_json_string (d, "name", ""),
                berth_json_string (d, "reason", ""));
    }
}

int
berth_cmd_info (BerthCli *cli, int argc, char **argv)
{
  g_autofree char *format = NULL;
  const GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "Output format: text or json", "FORMAT" },
    { NULL }
  };
  if (!berth_cli_parse (&argc, &argv, entries, "", FALSE))
    return BERTH_EXIT_USAGE;
  if (format && strcmp (format, "json") != 0 && strcmp (format, "text") != 0)
    return berth_cli_usage ("unknown format '%s': use text or json", format);
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = berth_cli_open_store (cli, &error);
  if (store == NULL)
    return berth_cli_fail (error);
  g_autoptr (JsonNode) info = build_info (store);
  if (g_strcmp0 (format, "json") == 0)
    {
      g_autoptr (JsonGenerator) gen = json_generator_new ();
      json_generator_set_pretty (gen, TRUE);
      json_generator_set_root (gen, info);
      g_autofree char *text = json_generator_to_data (gen, NULL);
      printf ("%s\n", text);
    }
  else
    print_text (json_node_get_object (info));
  return 0;
}
