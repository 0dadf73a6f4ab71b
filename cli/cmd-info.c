#include "config.h"
#include "cli.h"
#include <berth/exec.h>
#include <berth/family.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/host.h>
#include <berth/kernel.h>
#include <berth/storage.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

/* @pairs: alternating key, value strings from a driver's status op. */
static void
add_status (JsonBuilder *b, GPtrArray *pairs)
{
  json_builder_set_member_name (b, "status");
  json_builder_begin_object (b);
  for (guint i = 0; i + 1 < pairs->len; i += 2)
    {
      json_builder_set_member_name (b, pairs->pdata[i]);
      json_builder_add_string_value (b, pairs->pdata[i + 1]);
    }
  json_builder_end_object (b);
}

/* A driver's entry: with @pairs when it can run here, else with @reason. */
static void
add_entry (JsonBuilder *b, const char *name, GPtrArray *pairs, const char *reason)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, name);
  json_builder_set_member_name (b, "available");
  json_builder_add_boolean_value (b, pairs != NULL);
  if (pairs)
    add_status (b, pairs);
  else
    {
      json_builder_set_member_name (b, "reason");
      json_builder_add_string_value (b, reason);
    }
  json_builder_end_object (b);
}

static GPtrArray *
in_use_pair (const char *value)
{
  GPtrArray *pairs = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (pairs, g_strdup ("in use"));
  g_ptr_array_add (pairs, g_strdup (value));
  return pairs;
}

/* A storage driver of the table: one this store has used is opened for its
 * status; one nobody used is only probed, so that info makes no home, pool
 * or loop device for it. */
static void
add_driver (JsonBuilder *b, BerthStore *store, const BerthStorageFamily *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) pairs = NULL;
  if (f->ops == NULL)
    g_set_error_literal (&error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND, f->not_built);
  else if (berth_store_driver_used (store, f->name))
    {
      BerthStorage *s = berth_store_driver (store, f->name, &error);
      if (s)
        {
          g_autoptr (GPtrArray) status = berth_storage_status (s);
          pairs = in_use_pair ("yes");
          g_ptr_array_extend_and_steal (pairs, g_steal_pointer (&status));
        }
    }
  else if (berth_storage_probe (berth_store_root (store), f->name, &error))
    pairs = in_use_pair ("no (only probed: nothing is made until a command uses it)");
  else
    g_prefix_error (&error, "storage driver %s: ", f->name);
  add_entry (b, f->name, pairs, error ? error->message : NULL);
}

/* No berth_exec_status wrapper: only `berth info` asks, and a NULL op
 * means the driver has nothing to add. */
static void
add_exec_driver (JsonBuilder *b, const BerthExecOps *ops)
{
  g_autoptr (GError) error = NULL;
  if (!berth_exec_probe (ops, &error))
    {
      add_entry (b, ops->name, NULL, error->message);
      return;
    }
  g_autoptr (GPtrArray) pairs = g_ptr_array_new_with_free_func (g_free);
  if (ops->status)
    ops->status (pairs);
  add_entry (b, ops->name, pairs, NULL);
}

static void
add_exec_drivers (JsonBuilder *b)
{
  json_builder_set_member_name (b, "exec_drivers");
  json_builder_begin_array (b);
  for (const BerthExecFamily *f = berth_exec_families; f->name; f++)
    if (f->ops)
      add_exec_driver (b, f->ops);
    else
      add_entry (b, f->name, NULL, f->not_built);
  json_builder_end_array (b);
  const char *rule = NULL;
  json_builder_set_member_name (b, "default_exec_driver");
  json_builder_add_string_value (b, berth_host_default_exec_driver (&rule));
  json_builder_set_member_name (b, "default_exec_rule");
  json_builder_add_string_value (b, rule);
}

static void
add_network_drivers (JsonBuilder *b)
{
  json_builder_set_member_name (b, "network_drivers");
  json_builder_begin_array (b);
  for (const BerthNetworkFamily *f = berth_network_families; f->name; f++)
    {
      g_autoptr (GError) error = NULL;
      if (f->ops == NULL || !berth_network_probe (f->ops, &error))
        {
          add_entry (b, f->name, NULL, f->ops ? error->message : f->not_built);
          continue;
        }
      g_autoptr (GPtrArray) pairs = g_ptr_array_new_with_free_func (g_free);
      if (f->ops->status)
        f->ops->status (pairs);
      add_entry (b, f->name, pairs, NULL);
    }
  json_builder_end_array (b);
  g_autofree char *rule = NULL;
  json_builder_set_member_name (b, "default_network");
  json_builder_add_string_value (b, berth_host_default_network (&rule));
  json_builder_set_member_name (b, "default_network_rule");
  json_builder_add_string_value (b, rule);
}

static const char *const feature_answers[] = {
  [BERTH_FEATURE_YES] = "yes",
  [BERTH_FEATURE_NO] = "no",
  [BERTH_FEATURE_UNKNOWN] = "unknown",
};

/* Each row of the kernel-feature table, probed now. */
static void
add_kernel_features (JsonBuilder *b)
{
  JsonArray *rows = json_array_new ();
  for (const BerthKernelFeature *k = berth_kernel_features; k->name; k++)
    {
      g_autofree char *why = NULL;
      BerthFeatureAnswer answer = k->probe (&why);
      JsonObject *row = json_object_new ();
      json_object_set_string_member (row, "name", k->name);
      json_object_set_string_member (row, "since", k->since);
      json_object_set_string_member (row, "present", feature_answers[answer]);
      if (why)
        json_object_set_string_member (row, "reason", why);
      if (k->without)
        json_object_set_string_member (row, "without", k->without);
      else
        json_object_set_string_member (row, "needed_by", k->needed_by);
      json_array_add_object_element (rows, row);
    }
  json_builder_set_member_name (b, "kernel_features");
  json_builder_add_value (b, json_node_init_array (json_node_alloc (), rows));
  json_array_unref (rows);
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
  add_kernel_features (b);
  json_builder_set_member_name (b, "root");
  json_builder_add_string_value (b, root);
  json_builder_set_member_name (b, "backing_filesystem");
  json_builder_add_string_value (b, berth_fs_type_name (root));
  json_builder_set_member_name (b, "d_type");
  json_builder_add_string_value (b, dt_known ? (d_type ? "yes" : "no") : dt_error->message);
  json_builder_set_member_name (b, "storage_drivers");
  json_builder_begin_array (b);
  for (const BerthStorageFamily *f = berth_storage_families; f->name; f++)
    add_driver (b, store, f);
  json_builder_end_array (b);
  const char *rule = NULL;
  const char *def = berth_store_default_driver (store, &rule);
  json_builder_set_member_name (b, "default_storage_driver");
  json_builder_add_string_value (b, def);
  json_builder_set_member_name (b, "default_rule");
  json_builder_add_string_value (b, rule);
  add_exec_drivers (b);
  add_network_drivers (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
print_drivers (JsonObject *o, const char *member)
{
  JsonArray *drivers = json_object_get_array_member (o, member);
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
}

/* "yes", or "no (Linux 5.11+): Invalid argument; berth does without: ..." */
static void
print_kernel_features (JsonObject *o)
{
  printf ("Kernel features:\n");
  JsonArray *rows = json_object_get_array_member (o, "kernel_features");
  for (guint i = 0; i < json_array_get_length (rows); i++)
    {
      JsonObject *k = json_array_get_object_element (rows, i);
      const char *present = json_object_get_string_member (k, "present");
      printf ("  %-32s %s", json_object_get_string_member (k, "name"), present);
      if (strcmp (present, "yes") != 0)
        printf (" (Linux %s+): %s; %s %s", json_object_get_string_member (k, "since"),
                json_object_get_string_member (k, "reason"),
                json_object_has_member (k, "without") ? "berth does without:" : "needed by",
                json_object_get_string_member_with_default (k, "without",
                    json_object_get_string_member_with_default (k, "needed_by", "")));
      printf ("\n");
    }
}

static void
print_text (JsonObject *o)
{
  printf ("Kernel:              %s\n", json_object_get_string_member (o, "kernel"));
  printf ("Cgroup layout:       %s\n", json_object_get_string_member (o, "cgroup_layout"));
  print_kernel_features (o);
  printf ("Store:               %s\n", json_object_get_string_member (o, "root"));
  printf ("Backing filesystem:  %s (d_type: %s)\n",
          json_object_get_string_member (o, "backing_filesystem"),
          json_object_get_string_member (o, "d_type"));
  printf ("Storage drivers:\n");
  print_drivers (o, "storage_drivers");
  printf ("Default storage driver: %s (%s)\n",
          json_object_get_string_member (o, "default_storage_driver"),
          json_object_get_string_member (o, "default_rule"));
  printf ("Exec drivers:\n");
  print_drivers (o, "exec_drivers");
  printf ("Default exec driver: %s (%s)\n",
          json_object_get_string_member (o, "default_exec_driver"),
          json_object_get_string_member (o, "default_exec_rule"));
  printf ("Network drivers:\n");
  print_drivers (o, "network_drivers");
  printf ("Default network: %s (%s)\n", json_object_get_string_member (o, "default_network"),
          json_object_get_string_member (o, "default_network_rule"));
}

int
berth_cmd_info (BerthCli *cli, int argc, char **argv)
{
  g_autofree char *format = NULL;
  const GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "Output format: text or json", "FORMAT" },
    G_OPTION_ENTRY_NULL
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

/* "overlay btrfs ...": the names of a family table's built entries. */
#define BUILT_NAMES(table, out)                                     \
  do                                                                \
    {                                                               \
      for (guint i_ = 0; (table)[i_].name; i_++)                    \
        if ((table)[i_].ops)                                        \
          g_string_append_printf ((out), " %s", (table)[i_].name);  \
    }                                                               \
  while (0)

/* Docker's `version`: what this berth is and what it was built with;
 * `berth info` says what this host can run of it. */
int
berth_cmd_version (BerthCli *cli, int argc, char **argv)
{
  (void) cli;
  if (!berth_cli_parse (&argc, &argv, NULL, "", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 1)
    return berth_cli_usage ("version takes no operands");
  g_autofree char *kernel = berth_host_kernel ();
  g_autoptr (GString) storage = g_string_new (NULL);
  g_autoptr (GString) exec = g_string_new (NULL);
  g_autoptr (GString) network = g_string_new (NULL);
  BUILT_NAMES (berth_storage_families, storage);
  BUILT_NAMES (berth_exec_families, exec);
  BUILT_NAMES (berth_network_families, network);
  printf ("Version:          %s\n", PACKAGE_VERSION);
  printf ("GLib:             %u.%u.%u\n", glib_major_version, glib_minor_version,
          glib_micro_version);
  printf ("Kernel:           %s\n", kernel);
  printf ("Storage drivers: %s\n", storage->str);
  printf ("Exec drivers:    %s\n", exec->str);
  printf ("Network drivers: %s%s\n", network->len ? "" : " ", network->len ? network->str : "none");
  printf ("(built into this berth; `berth info` says which this host can run)\n");
  return 0;
}
