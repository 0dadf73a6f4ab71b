/* spec and features: what a bundle's config may say, for people (a
 * default config.json) and for callers (runtime-spec features.md). */
#include "config.h"
#include "runc.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/json.h>
#include <berth/oci.h>
#include <berth/spec.h>

/* runc's default: sh in ./rootfs, read-only root. No terminal: that needs
 * a console socket, which a person at a shell does not have. */
int
berth_runc_spec (BerthRunc *r, int argc, char **argv)
{
  const GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  if (!berth_runc_parse (r, &argc, &argv, entries, "", FALSE))
    return 2;
  if (g_file_test ("config.json", G_FILE_TEST_EXISTS))
    return berth_runc_usage (r, "config.json exists here; remove it first");
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) image = json_from_string ("{\"config\": {\"Cmd\": [\"sh\"]}}", NULL);
  BerthSpecOptions options = { .hostname = "berth-runc" };
  g_autoptr (JsonNode) spec = berth_spec_build ("berth-runc", image, NULL, &options, &error);
  if (spec == NULL)
    return berth_runc_fail (r, error);
  JsonObject *o = berth_json_node_object (spec);
  JsonObject *root = json_object_new ();
  json_object_set_string_member (root, "path", "rootfs");
  json_object_set_boolean_member (root, "readonly", TRUE);
  json_object_set_object_member (o, "root", root);
  json_object_remove_member (berth_json_object (o, "linux"), "cgroupsPath");
  /* For a person to read and edit: indented with tabs, as runc writes it. */
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, spec);
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent_char (gen, '\t');
  json_generator_set_indent (gen, 1);
  gsize len = 0;
  g_autofree char *text = json_generator_to_data (gen, &len);
  g_autofree char *with_newline = g_strconcat (text, "\n", NULL);
  if (!berth_write_file_atomic ("config.json", with_newline, len + 1, 0644, &error))
    return berth_runc_fail (r, error);
  return 0;
}

int
berth_runc_features (BerthRunc *r, int argc, char **argv)
{
  const GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  if (!berth_runc_parse (r, &argc, &argv, entries, "", FALSE))
    return 2;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) features = berth_oci_features (&error);
  if (features == NULL)
    return berth_runc_fail (r, error);
  berth_runc_print_json (features);
  return 0;
}
