/* What a registry or a user hands berth pull/push (core/distribution/):
 * image references (berth_image_ref_parse), manifests, lists and layer
 * descriptors (manifest.c), WWW-Authenticate challenges and credentials
 * file entries. The input's first byte picks the parser. Besides not
 * crashing, each has an invariant: a reference's canonical form parses to
 * itself, and so does its familiar form; a credential's user has no ':'. */
#include "config.h"
#include "fuzz-common.h"
#include "distribution-internal.h"
#include <berth/digest.h>
#include <string.h>

static void
fuzz_reference (const char *text, GError **error)
{
  g_autoptr (BerthImageRef) ref = berth_image_ref_parse (text, error);
  if (ref == NULL)
    return;
  g_autofree char *canonical = berth_image_ref_canonical (ref);
  g_autofree char *familiar = berth_image_ref_familiar (ref);
  const char *forms[] = { canonical, familiar };
  for (guint i = 0; i < G_N_ELEMENTS (forms); i++)
    {
      g_autoptr (GError) local = NULL;
      g_autoptr (BerthImageRef) again = berth_image_ref_parse (forms[i], &local);
      if (again == NULL)
        g_error ("reference '%s': its form '%s' does not parse: %s", text, forms[i], local->message);
      g_autofree char *round = berth_image_ref_canonical (again);
      if (strcmp (round, canonical) != 0)
        g_error ("reference '%s': '%s' reads back as '%s', not '%s'", text, forms[i], round,
                 canonical);
    }
}

static void
fuzz_manifest (const uint8_t *data, size_t size, GError **error)
{
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  g_autoptr (BerthManifest) m = berth_manifest_parse (bytes, "application/json", "latest", error);
  if (m == NULL && *error == NULL)
    g_error ("manifest: refused without an error");
  if (m == NULL)
    return;
  if (berth_manifest_is_index (m))
    {
      g_autofree char *digest = berth_manifest_choose_platform (m, "linux/amd64", error);
      if (digest && !berth_digest_valid (digest))
        g_error ("list: chose '%s', not a digest", digest);
      return;
    }
  JsonArray *layers = berth_json_array (berth_json_node_object (m->node), "layers");
  for (guint i = 0; layers && i < json_array_get_length (layers); i++)
    {
      g_autofree char *url = NULL;
      if (!berth_manifest_layer_check (berth_json_array_object (layers, i), i, &url, error))
        return;
    }
}

static void
fuzz_auth (const char *text, GError **error)
{
  static const char *const keys[] = { "realm", "service", "scope" };
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_autofree char *value = berth_auth_challenge_param (text, keys[i]);
      if (value && strchr (value, '"'))
        g_error ("challenge '%s': %s took a quote: '%s'", text, keys[i], value);
    }
  g_autofree char *user = NULL, *password = NULL;
  if (berth_auth_decode (text, "fuzz.json", "fuzz.example", &user, &password, error)
      && strchr (user, ':'))
    g_error ("credentials '%s': user '%s' has a ':'", text, user);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  g_autofree char *text = g_strndup ((const char *) data + 1, size - 1);
  g_autoptr (GError) error = NULL;
  switch (data[0] % 3)
    {
    case 0:
      fuzz_reference (text, &error);
      break;
    case 1:
      fuzz_manifest (data + 1, size - 1, &error);
      break;
    default:
      fuzz_auth (text, &error);
      break;
    }
  fuzz_report ("registry", error);
  return 0;
}
