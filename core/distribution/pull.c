/* berth pull: manifest (through a list or index to this platform's),
 * config, then the layers the store lacks, three at a time, each streamed
 * through its digest check and decompression into the store's staging
 * directory; the image is committed only when every check has passed. */
#include "config.h"
#include "distribution-internal.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/digest.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#define MAX_MANIFEST (4 << 20)
#define PARALLEL_LAYERS 3
/* A layer may decompress to this many times its size, at least 1 GiB (as
 * berth load's default): a gzip bomb stops there. */
#define LAYER_RATIO 100
#define LAYER_FLOOR ((gint64) 1 << 30)

#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_V1 "application/vnd.docker.distribution.manifest.v1"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define ACCEPT_MANIFESTS                                                                     \
  MT_OCI_INDEX ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST

/* --- manifests --- */

typedef struct {
  GBytes *bytes;
  char *media_type;
  char *digest;
  JsonNode *node;
} Manifest;

static void
manifest_free (Manifest *m)
{
  if (m == NULL)
    return;
  g_clear_pointer (&m->bytes, g_bytes_unref);
  g_free (m->media_type);
  g_free (m->digest);
  g_clear_pointer (&m->node, json_node_unref);
  g_free (m);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Manifest, manifest_free)

/* GET a manifest by tag or digest; a digest asked for is checked. */
static Manifest *
fetch_manifest (BerthRegistryClient *client, const char *path, const char *reference,
                GError **error)
{
  g_autofree char *url = g_strdup_printf ("/v2/%s/manifests/%s", path, reference);
  BerthHttpRequest req = { .method = "GET", .path = url, .accept = ACCEPT_MANIFESTS,
                           .max_body = MAX_MANIFEST, .upload_fd = -1 };
  g_auto (BerthHttpResponse) resp = { .length = -1 };
  if (!berth_registry_request (client, &req, &resp, error))
    return NULL;
  g_autoptr (Manifest) m = g_new0 (Manifest, 1);
  m->bytes = g_bytes_ref (resp.body);
  m->digest = berth_sha256_data (g_bytes_get_data (m->bytes, NULL), g_bytes_get_size (m->bytes));
  if (g_str_has_prefix (reference, "sha256:") && strcmp (reference, m->digest) != 0)
    return berth_fail (error, BERTH_ERROR_FAILED, "manifest %s: the registry sent one whose "
                       "digest is %s", reference, m->digest), NULL;
  gsize len = 0;
  const char *data = g_bytes_get_data (m->bytes, &len);
  m->node = berth_json_parse (data, len, error);
  JsonObject *obj = m->node ? berth_json_node_object (m->node) : NULL;
  if (obj == NULL)
    return g_prefix_error (error, "manifest %s: ", reference), NULL;
  const char *declared = berth_json_string (obj, "mediaType", NULL);
  g_autofree char *header = resp.content_type ? g_strndup (resp.content_type,
                                                           strcspn (resp.content_type, ";"))
                                              : NULL;
  m->media_type = g_strdup (declared ? declared : header ? header : "");
  if (berth_json_int (obj, "schemaVersion", 0) == 1 || g_str_has_prefix (m->media_type, MT_DOCKER_V1))
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                       "manifest %s is Docker schema 1, which berth does not pull (deprecated "
                       "since 2017: push the image again with a current client)", reference),
           NULL;
  return g_steal_pointer (&m);
}

static gboolean
is_index (Manifest *m)
{
  JsonObject *obj = berth_json_node_object (m->node);
  return strcmp (m->media_type, MT_DOCKER_LIST) == 0 || strcmp (m->media_type, MT_OCI_INDEX) == 0
         || (m->media_type[0] == '\0' && berth_json_array (obj, "manifests") != NULL);
}

static char *
host_platform (void)
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
static char *
choose_platform (Manifest *index, const char *platform, GError **error)
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

/* --- blobs --- */

typedef struct {
  struct sha256_ctx sha;
  gint64 received;
  gint64 expected;
  int fd;                    /* the stager's socket, or -1: collect */
  GByteArray *collected;
  const char *digest;
  BerthLayerProgressFunc progress;
  gpointer progress_data;
  gint *cancelled;
} BlobSink;

static gboolean
blob_sink (const void *buf, gsize len, gpointer data, GError **error)
{
  BlobSink *s = data;
  if (s->cancelled && g_atomic_int_get (s->cancelled))
    return berth_fail (error, BERTH_ERROR_FAILED, "cancelled: another layer failed");
  if (s->received + (gint64) len > s->expected)
    return berth_fail (error, BERTH_ERROR_FAILED,
                       "blob %s: the registry sent more than its %" G_GINT64_FORMAT " bytes",
                       s->digest, s->expected);
  sha256_update (&s->sha, len, buf);
  s->received += len;
  if (s->collected)
    g_byte_array_append (s->collected, buf, len);
  else
    for (const char *p = buf; len > 0;)
      {
        ssize_t n = send (s->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
          continue;
        if (n < 0)
          return berth_fail_errno (error, errno, "blob %s: unpack", s->digest);
        p += n;
        len -= n;
      }
  if (s->progress)
    s->progress (s->digest, s->received, s->expected, FALSE, s->progress_data);
  return TRUE;
}

/* GET blob @digest (or @url, a foreign layer's) into @sink and check it
 * is @digest and @size bytes. */
static gboolean
fetch_blob (BerthRegistryClient *client, const char *path, const char *digest, const char *url,
            BlobSink *sink, GError **error)
{
  g_autofree char *own = g_strdup_printf ("/v2/%s/blobs/%s", path, digest);
  sha256_init (&sink->sha);
  sink->digest = digest;
  BerthHttpRequest req = { .method = "GET", .path = url ? url : own, .sink = blob_sink,
                           .sink_data = sink, .resumable = TRUE, .upload_fd = -1 };
  g_auto (BerthHttpResponse) resp = { .length = -1 };
  if (!berth_registry_request (client, &req, &resp, error))
    return FALSE;
  if (sink->received != sink->expected)
    return berth_fail (error, BERTH_ERROR_FAILED,
                       "blob %s: %" G_GINT64_FORMAT " bytes came, the manifest says %" G_GINT64_FORMAT,
                       digest, sink->received, sink->expected);
  g_autofree char *got = berth_sha256_finish (&sink->sha);
  if (strcmp (got, digest) != 0)
    return berth_fail (error, BERTH_ERROR_FAILED, "blob %s: digest mismatch, the registry sent %s",
                       digest, got);
  return TRUE;
}

static GBytes *
fetch_small_blob (BerthRegistryClient *client, const char *path, const char *digest, gint64 size,
                  GError **error)
{
  if (size < 0 || size > BERTH_JSON_MAX_DOCUMENT)
    return berth_fail (error, BERTH_ERROR_INVALID, "config %s: size %" G_GINT64_FORMAT
                       " is out of range", digest, size), NULL;
  g_autoptr (GByteArray) data = g_byte_array_new ();
  BlobSink sink = { .expected = size, .fd = -1, .collected = data };
  if (!fetch_blob (client, path, digest, NULL, &sink, error))
    return NULL;
  return g_byte_array_free_to_bytes (g_steal_pointer (&data));
}

/* --- layers --- */

typedef struct {
  BerthRegistryClient *client;
  const char *path;
  const char *staging;
  char *digest;
  char *url;                 /* a foreign layer's, or NULL */
  gint64 size;
  char *diff_id;
  BerthLayerProgressFunc progress;
  gpointer progress_data;
  gint *cancelled;
  GError *error;
} LayerJob;

static void
layer_job_free (LayerJob *job)
{
  g_free (job->digest);
  g_free (job->url);
  g_free (job->diff_id);
  g_clear_error (&job->error);
  g_free (job);
}

typedef struct {
  const char *staging;
  int fd;
  gint64 max;
  GError *error;
} Stager;

static gpointer
stage_thread (gpointer data)
{
  Stager *st = data;
  char *diff_id = berth_blob_stage (st->staging, st->fd, st->max, NULL, NULL, &st->error);
  /* Whatever is still coming is refused now, which stops the download. */
  shutdown (st->fd, SHUT_RD);
  return diff_id;
}

static gboolean
fetch_layer (LayerJob *job, GError **error)
{
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return berth_fail_errno (error, errno, "socketpair");
  Stager st = { .staging = job->staging, .fd = sv[0],
                .max = MAX (LAYER_FLOOR, job->size * LAYER_RATIO) };
  GThread *thread = g_thread_new ("berth-stage", stage_thread, &st);
  BlobSink sink = { .expected = job->size, .fd = sv[1], .progress = job->progress,
                    .progress_data = job->progress_data, .cancelled = job->cancelled };
  g_autoptr (GError) fetch_error = NULL;
  gboolean fetched = fetch_blob (job->client, job->path, job->digest, job->url, &sink, &fetch_error);
  close (sv[1]);
  g_autofree char *diff_id = g_thread_join (thread);
  close (sv[0]);
  g_autoptr (GError) stage_error = st.error;
  /* The download's own error says why it stopped, unless the unpack
   * stopped it (a bad archive, a full disk). */
  if (!fetched && !(stage_error && strstr (fetch_error->message, ": unpack: ")))
    return g_propagate_error (error, g_steal_pointer (&fetch_error)), FALSE;
  if (stage_error)
    return g_propagate_prefixed_error (error, g_steal_pointer (&stage_error), "layer %s: ",
                                       job->digest),
           FALSE;
  if (strcmp (diff_id, job->diff_id) != 0)
    return berth_fail (error, BERTH_ERROR_FAILED, "layer %s: unpacks to %s, the config says %s",
                       job->digest, diff_id, job->diff_id);
  if (job->progress)
    job->progress (job->digest, job->size, job->size, TRUE, job->progress_data);
  return TRUE;
}

static void
run_layer_job (gpointer data, gpointer user_data)
{
  LayerJob *job = data;
  (void) user_data;
  if (g_atomic_int_get (job->cancelled))
    return;
  if (!fetch_layer (job, &job->error))
    g_atomic_int_set (job->cancelled, 1);
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

/* The jobs for @manifest's layers the store lacks (their staged copies
 * made from the store's own blobs otherwise); @diff_ids from the config. */
static GPtrArray *
plan_layers (BerthStore *store, JsonArray *layers, char **diff_ids, const char *staging,
             GError **error)
{
  g_autoptr (GPtrArray) jobs = g_ptr_array_new_with_free_func ((GDestroyNotify) layer_job_free);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < json_array_get_length (layers); i++)
    {
      JsonObject *l = berth_json_array_object (layers, i);
      const char *digest = l ? berth_json_string (l, "digest", NULL) : NULL;
      const char *media_type = l ? berth_json_string (l, "mediaType", "") : "";
      gint64 size = l ? berth_json_int (l, "size", -1) : -1;
      const char *kind = layer_kind (media_type);
      if (!berth_digest_valid (digest) || size < 0)
        return berth_fail (error, BERTH_ERROR_INVALID, "manifest: layer %u has no valid digest "
                           "and size", i), NULL;
      if (kind == NULL)
        return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "layer %s: media type '%s' is "
                           "not a layer berth can unpack", digest, media_type), NULL;
      g_auto (GStrv) urls = berth_json_strv (l, "urls");
      if (strcmp (kind, "foreign") == 0 && (urls == NULL || urls[0] == NULL))
        return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "layer %s: a foreign layer with no "
                           "URL to fetch it from", digest), NULL;
      if (berth_blob_stage_existing (store, staging, diff_ids[i])
          || g_hash_table_contains (seen, digest))
        continue;
      g_hash_table_add (seen, (gpointer) digest);
      LayerJob *job = g_new0 (LayerJob, 1);
      job->digest = g_strdup (digest);
      job->size = size;
      job->diff_id = g_strdup (diff_ids[i]);
      job->url = urls && strcmp (kind, "foreign") == 0 ? g_strdup (urls[0]) : NULL;
      g_ptr_array_add (jobs, job);
    }
  return g_steal_pointer (&jobs);
}

static gboolean
fetch_layers (GPtrArray *jobs, BerthRegistryClient *client, const char *path,
              const char *staging, BerthLayerProgressFunc progress, gpointer data,
              GError **error)
{
  gint cancelled = 0;
  GThreadPool *pool = g_thread_pool_new (run_layer_job, NULL, PARALLEL_LAYERS, FALSE, error);
  if (pool == NULL)
    return FALSE;
  for (guint i = 0; i < jobs->len; i++)
    {
      LayerJob *job = jobs->pdata[i];
      job->client = client;
      job->path = path;
      job->staging = staging;
      job->progress = progress;
      job->progress_data = data;
      job->cancelled = &cancelled;
      g_thread_pool_push (pool, job, NULL);
    }
  g_thread_pool_free (pool, FALSE, TRUE);
  /* The first layer that failed for its own reason, not one cancelled. */
  for (guint i = 0; i < jobs->len; i++)
    {
      LayerJob *job = jobs->pdata[i];
      if (job->error && !g_str_has_prefix (job->error->message, "cancelled"))
        return g_propagate_error (error, g_steal_pointer (&job->error)), FALSE;
    }
  for (guint i = 0; i < jobs->len; i++)
    {
      LayerJob *job = jobs->pdata[i];
      if (job->error)
        return g_propagate_error (error, g_steal_pointer (&job->error)), FALSE;
    }
  return TRUE;
}

/* --- the pull --- */

/* The manifest @ref names at @client, through a list to @platform's. */
static Manifest *
resolve_manifest (BerthRegistryClient *client, BerthImageRef *ref, const char *platform,
                  char **top_digest, GError **error)
{
  g_autoptr (Manifest) m = fetch_manifest (client, ref->path, ref->digest ? ref->digest : ref->tag,
                                           error);
  if (m == NULL)
    return NULL;
  *top_digest = g_strdup (m->digest);
  if (!is_index (m))
    return g_steal_pointer (&m);
  g_autofree char *digest = choose_platform (m, platform, error);
  return digest ? fetch_manifest (client, ref->path, digest, error) : NULL;
}

/* The first endpoint that has the manifest: the mirrors, then the registry. */
static BerthRegistryClient *
open_with_manifest (BerthImageRef *ref, const BerthRegistryOptions *options, const char *platform,
                    Manifest **manifest, char **top_digest, GError **error)
{
  g_autoptr (JsonNode) config = berth_registries_config_read (options, error);
  if (config == NULL && error && *error)
    return NULL;
  g_auto (GStrv) mirrors = berth_registries_mirrors (config, ref->domain);
  g_autofree char *scope = g_strdup_printf ("repository:%s:pull", ref->path);
  for (char **m = mirrors; m && *m; m++)
    {
      g_autoptr (GError) local = NULL;
      g_autoptr (BerthRegistryClient) client = berth_registry_client_new (ref->domain, *m, scope,
                                                                          options, &local);
      if (client && (*manifest = resolve_manifest (client, ref, platform, top_digest, &local)))
        return g_steal_pointer (&client);
      g_clear_pointer (top_digest, g_free);
      g_debug ("mirror %s: %s", *m, local->message);
    }
  g_autoptr (BerthRegistryClient) client = berth_registry_client_new (ref->domain, NULL, scope,
                                                                      options, error);
  if (client == NULL || !(*manifest = resolve_manifest (client, ref, platform, top_digest, error)))
    return NULL;
  return g_steal_pointer (&client);
}

/* The config's bytes, checked, and its diff ids, as many as @layers. */
static GBytes *
fetch_config (BerthRegistryClient *client, const char *path, JsonObject *manifest,
              JsonArray *layers, char ***diff_ids, GError **error)
{
  JsonObject *desc = berth_json_object (manifest, "config");
  const char *digest = desc ? berth_json_string (desc, "digest", NULL) : NULL;
  if (!berth_digest_valid (digest))
    return berth_fail (error, BERTH_ERROR_INVALID, "manifest: no valid config digest"), NULL;
  g_autoptr (GBytes) config = fetch_small_blob (client, path, digest,
                                                berth_json_int (desc, "size", -1), error);
  gsize len = 0;
  const char *data = config ? g_bytes_get_data (config, &len) : NULL;
  g_autoptr (JsonNode) parsed = config ? berth_image_config_parse (data, len, diff_ids, error)
                                       : NULL;
  if (parsed == NULL)
    return NULL;
  if (g_strv_length (*diff_ids) != json_array_get_length (layers))
    return berth_fail (error, BERTH_ERROR_INVALID, "config %s lists %u layers, the manifest %u",
                       digest, g_strv_length (*diff_ids), json_array_get_length (layers)),
           NULL;
  return g_steal_pointer (&config);
}

static char *
pull_into (BerthStore *store, BerthImageRef *ref, const char *driver,
           const BerthRegistryOptions *options, BerthLayerProgressFunc progress, gpointer data,
           char **manifest_digest, GError **error)
{
  g_autofree char *platform = options->platform ? g_strdup (options->platform) : host_platform ();
  g_autoptr (Manifest) manifest = NULL;
  g_autofree char *top_digest = NULL;
  g_autoptr (BerthRegistryClient) client = open_with_manifest (ref, options, platform, &manifest,
                                                               &top_digest, error);
  if (client == NULL)
    return NULL;
  JsonObject *obj = berth_json_node_object (manifest->node);
  JsonArray *layers = berth_json_array (obj, "layers");
  if (layers == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "manifest %s (%s) has no layers",
                       manifest->digest, manifest->media_type), NULL;
  g_auto (GStrv) diff_ids = NULL;
  g_autoptr (GBytes) config = fetch_config (client, ref->path, obj, layers, &diff_ids, error);
  if (config == NULL)
    return NULL;
  /* The long part holds no store lock: other commands go on meanwhile. */
  berth_store_unlock (store);
  g_autofree char *staging = berth_store_mkdtemp (store, error);
  if (staging == NULL)
    return NULL;
  g_autoptr (GPtrArray) jobs = plan_layers (store, layers, diff_ids, staging, error);
  char *id = NULL;
  if (jobs && fetch_layers (jobs, client, ref->path, staging, progress, data, error))
    {
      g_autofree char *tag = ref->tag ? berth_image_ref_familiar (&(BerthImageRef) {
                                          .domain = ref->domain, .path = ref->path,
                                          .tag = ref->tag })
                                      : NULL;
      gsize len = 0;
      const char *bytes = g_bytes_get_data (config, &len);
      id = berth_image_commit_staged (store, staging, bytes, len, tag, driver, error);
    }
  berth_rm_rf (staging, NULL);
  if (id && manifest_digest)
    *manifest_digest = g_steal_pointer (&top_digest);
  return id;
}

char *
berth_pull (BerthStore *store, const char *text, const char *driver,
            const BerthRegistryOptions *options, BerthLayerProgressFunc progress, gpointer data,
            char **manifest_digest, GError **error)
{
  g_autoptr (BerthImageRef) ref = berth_image_ref_parse (text, error);
  if (ref == NULL)
    return NULL;
  char *id = pull_into (store, ref, driver, options, progress, data, manifest_digest, error);
  if (id == NULL)
    {
      g_autofree char *name = berth_image_ref_canonical (ref);
      g_prefix_error (error, "pull %s: ", name);
    }
  return id;
}
