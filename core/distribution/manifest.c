/* Manifests as registries serve them, without the network: parsed and
 * checked (schema 1 refused), a list or index resolved to one platform,
 * each layer descriptor checked; tests/fuzz/fuzz-registry.c feeds these. */
#include "config.h"
#include "distribution-internal.h"
#include <berth/digest.h>
#include <berth/error.h>
#include <string.h>
#include <sys/utsname.h>

#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_V1 "application/vnd.docker.distribution.manifest.v1"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
void
berth_manifest_free (BerthManifest *m)
{
  if (m == NULL)
    return;
  g_clear_pointer (&m->bytes, g_bytes_unref);
  g_free (m->media_type);
  g_free (m->digest);
  g_clear_pointer (&m->node, json_node_unref);
  g_free (m);
}

BerthManifest *
berth_manifest_parse (GBytes *bytes, const char *content_type, const char *reference,
                      GError **error)
{
  g_autoptr (BerthManifest) m = g_new0 (BerthManifest, 1);
  m->bytes = g_bytes_ref (bytes);
  gsize len = 0;
  const char *data = g_bytes_get_data (m->bytes, &len);
  m->digest = berth_sha256_data (data, len);
  if (g_str_has_prefix (reference, "sha256:") && strcmp (reference, m->digest) != 0)
    return berth_fail (error, BERTH_ERROR_FAILED, "manifest %s: the registry sent one whose "
                       "digest is %s", reference, m->digest), NULL;
  m->node = berth_json_parse (data, len, error);
  JsonObject *obj = m->node ? berth_json_node_object (m->node) : NULL;
  if (obj == NULL && m->node)
    return berth_fail (error, BERTH_ERROR_INVALID, "manifest %s: not a JSON object", reference),
           NULL;
  if (obj == NULL)
    return g_prefix_error (error, "manifest %s: ", reference), NULL;
  const char *declared = berth_json_string (obj, "mediaType", NULL);
  g_autofree char *header = content_type ? g_strndup (content_type, strcspn (content_type, ";"))
                                         : NULL;
  m->media_type = g_strdup (declared ? declared : header ? header : "");
  if (berth_json_int (obj, "schemaVersion", 0) == 1 || g_str_has_prefix (m->media_type, MT_DOCKER_V1))
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                       "manifest %s is Docker schema 1, which berth does not pull (deprecated "
                       "since 2017: push the image again with a current client)", reference),
           NULL;
  return g_steal_pointer (&m);
}

gboolean
berth_manifest_is_index (BerthManifest *m)
{
  JsonObject *obj = berth_json_node_object (m->node);
  return strcmp (m->media_type, MT_DOCKER_LIST) == 0 || strcmp (m->media_type, MT_OCI_INDEX) == 0
         || (m->media_type[0] == '\0' && berth_json_array (obj, "manifests") != NULL);
}

char *
berth_host_platform (void)
{
  struct utsname u;
  const char *arch = "amd64";
  if (uname (&u) == 0)
    {
      static const struct { const char *machine, *arch; } map[] = {
        { "x86_64", "amd64" }, { "aarch64", "arm64" }, { "armv7l", "arm/v7" },
        { "armv6l", "arm/v6" }, { "i686", "386" }, { "i386", "386" },
        { "ppc64le", "ppc64le" }, { "s390x", "s390x" }, { "riscv64", "riscv64" },
      };
      for (guint i = 0; i < G_N_ELEMENTS (map); i++)
        if (strcmp (u.machine, map[i].machine) == 0)
          arch = map[i].arch;
    }
  return g_strconcat ("linux/", arch, NULL);
}

static char *
entry_platform (JsonObject *entry)
{
  JsonObject *p = berth_json_object (entry, "platform");
  if (p == NULL)
    return g_strdup ("unknown");
  const char *variant = berth_json_string (p, "variant", NULL);
  return g_strconcat (berth_json_string (p, "os", "?"), "/",
                      berth_json_string (p, "architecture", "?"), variant ? "/" : "",
                      variant ? variant : "", NULL);
}

/* "linux/arm64" asked for matches an entry "linux/arm64/v8": a variant
 * left out matches any. */
static gboolean
platform_matches (const char *wanted, const char *offered)
{
  return strcmp (wanted, offered) == 0
         || (g_str_has_prefix (offered, wanted) && offered[strlen (wanted)] == '/');
}

/* The digest of @index's entry for @platform. */
char *
berth_manifest_choose_platform (BerthManifest *index, const char *platform, GError **error)
{
  JsonArray *entries = berth_json_array (berth_json_node_object (index->node), "manifests");
  g_autoptr (GString) offered = g_string_new (NULL);
  for (guint i = 0; entries && i < json_array_get_length (entries); i++)
    {
      JsonObject *entry = berth_json_array_object (entries, i);
      if (entry == NULL)
        continue;
      g_autofree char *p = entry_platform (entry);
      const char *digest = berth_json_string (entry, "digest", NULL);
      if (platform_matches (platform, p) && berth_digest_valid (digest))
        return g_strdup (digest);
      g_string_append_printf (offered, "%s%s", offered->len ? ", " : "", p);
    }
  berth_fail (error, BERTH_ERROR_NOT_FOUND, "no image for platform %s (the registry has: %s; "
              "choose with --platform)", platform, offered->len ? offered->str : "none");
  return NULL;
}

static const char *
layer_kind (const char *media_type)
{
  static const char *const plain[] = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
  };
  static const char *const foreign[] = {
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  };
  for (guint i = 0; i < G_N_ELEMENTS (plain); i++)
    if (strcmp (media_type, plain[i]) == 0)
      return "layer";
  for (guint i = 0; i < G_N_ELEMENTS (foreign); i++)
    if (strcmp (media_type, foreign[i]) == 0)
      return "foreign";
  return NULL;
}

gboolean
berth_manifest_layer_check (JsonObject *layer, guint index, char **url, GError **error)
{
  const char *digest = layer ? berth_json_string (layer, "digest", NULL) : NULL;
  const char *media_type = layer ? berth_json_string (layer, "mediaType", "") : "";
  gint64 size = layer ? berth_json_int (layer, "size", -1) : -1;
  if (!berth_digest_valid (digest) || size < 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "manifest: layer %u has no valid digest "
                       "and size", index);
  const char *kind = layer_kind (media_type);
  if (kind == NULL)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "layer %s: media type '%s' is not a "
                       "layer berth can unpack", digest, media_type);
  *url = NULL;
  if (strcmp (kind, "foreign") != 0)
    return TRUE;
  g_auto (GStrv) urls = berth_json_strv (layer, "urls");
  for (char **u = urls; u && *u; u++)
    if (g_str_has_prefix (*u, "https://") || g_str_has_prefix (*u, "http://"))
      {
        *url = g_strdup (*u);
        return TRUE;
      }
  return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "layer %s: a foreign layer with no "
                     "http(s) URL to fetch it from", digest);
}
