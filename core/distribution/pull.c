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
#include <unistd.h>

#define MAX_MANIFEST (4 << 20)
#define PARALLEL_LAYERS 3
/* A layer may decompress to this many times its size, at least 1 GiB (as
 * berth load's default): a gzip bomb stops there. */
#define LAYER_RATIO 100
#define LAYER_FLOOR ((gint64) 1 << 30)

/* GET a manifest by tag or digest; a digest asked for is checked. */
static BerthManifest *
fetch_manifest (BerthRegistryClient *client, const char *path, const char *reference,
                GError **error)
{
  g_autofree char *url = g_strdup_printf ("/v2/%s/manifests/%s", path, reference);
  BerthHttpRequest req = { .method = "GET", .path = url, .accept = BERTH_ACCEPT_MANIFESTS,
                           .max_body = MAX_MANIFEST, .upload_fd = -1 };
  g_auto (BerthHttpResponse) resp = { .length = -1 };
  if (!berth_registry_request (client, &req, &resp, error))
    return NULL;
  return berth_manifest_parse (resp.body, resp.content_type, reference, error);
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
                           .sink_data = sink, .resumable = TRUE, .upload_fd = -1,
                           .cancelled = sink->cancelled };
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
  if (diff_id == NULL)
    {
      /* Whatever is still coming is refused now, which stops the download. */
      shutdown (st->fd, SHUT_RD);
      return NULL;
    }
  /* The tar may end before the blob does (padding, a gzip trailer
   * libarchive leaves unread): the rest is read and dropped, so that the
   * download finishes and its digest covers every byte. */
  char buf[65536];
  for (;;)
    {
      ssize_t n = read (st->fd, buf, sizeof buf);
      if (n > 0 || (n < 0 && errno == EINTR))
        continue;
      break;
    }
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
      g_autofree char *url = NULL;
      if (!berth_manifest_layer_check (l, i, &url, error))
        return NULL;
      const char *digest = berth_json_string (l, "digest", NULL);
      gint64 size = berth_json_int (l, "size", -1);
      if (berth_blob_stage_existing (store, staging, diff_ids[i])
          || g_hash_table_contains (seen, digest))
        continue;
      g_hash_table_add (seen, (gpointer) digest);
      LayerJob *job = g_new0 (LayerJob, 1);
      job->digest = g_strdup (digest);
      job->size = size;
      job->diff_id = g_strdup (diff_ids[i]);
      job->url = g_steal_pointer (&url);
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
static BerthManifest *
resolve_manifest (BerthRegistryClient *client, BerthImageRef *ref, const char *platform,
                  char **top_digest, GError **error)
{
  g_autoptr (BerthManifest) m = fetch_manifest (client, ref->path, ref->digest ? ref->digest : ref->tag,
                                           error);
  if (m == NULL)
    return NULL;
  *top_digest = g_strdup (m->digest);
  if (!berth_manifest_is_index (m))
    return g_steal_pointer (&m);
  g_autofree char *digest = berth_manifest_choose_platform (m, platform, error);
  return digest ? fetch_manifest (client, ref->path, digest, error) : NULL;
}

/* The first endpoint that has the manifest: the mirrors, then the registry. */
static BerthRegistryClient *
open_with_manifest (BerthImageRef *ref, const BerthRegistryOptions *options, const char *platform,
                    BerthManifest **manifest, char **top_digest, GError **error)
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
      g_debug ("mirror %s: %s", *m, local ? local->message : "failed");
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

/* Under the store lock, after the commit: the repo digest and where the
 * layers' blobs are (a cache for push; a failure to write it costs
 * nothing but a warning). */
static void
record_origin (BerthStore *store, const char *id, BerthImageRef *ref, const char *top_digest,
               JsonArray *layers, char **diff_ids)
{
  g_autofree char *repo = g_strconcat (ref->domain, "/", ref->path, NULL);
  g_autofree char *familiar = berth_image_ref_familiar (&(BerthImageRef) {
    .domain = ref->domain, .path = ref->path, .digest = (char *) top_digest });
  g_autoptr (GPtrArray) sources = g_ptr_array_new_with_free_func (
    (GDestroyNotify) berth_blob_source_free);
  for (guint i = 0; i < json_array_get_length (layers); i++)
    {
      JsonObject *l = berth_json_array_object (layers, i);
      g_ptr_array_add (sources, berth_blob_source_new (diff_ids[i],
                                                       berth_json_string (l, "digest", ""), repo,
                                                       berth_json_string (l, "mediaType", ""),
                                                       berth_json_int (l, "size", -1)));
    }
  g_autoptr (GError) local = NULL;
  if (!berth_origin_record (store, id, familiar, sources, &local))
    g_printerr ("berth: pulled image %.12s: %s (not kept: a later push compresses its "
                "layers again)\n", id, local->message);
}

static char *
pull_into (BerthStore *store, BerthImageRef *ref, const char *driver,
           const BerthRegistryOptions *options, BerthLayerProgressFunc progress, gpointer data,
           char **manifest_digest, GError **error)
{
  /* The network holds no store lock: other commands go on meanwhile. */
  berth_store_unlock (store);
  g_autofree char *platform = options->platform ? g_strdup (options->platform) : berth_host_platform ();
  g_autoptr (BerthManifest) manifest = NULL;
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
  if (id)
    record_origin (store, id, ref, top_digest, layers, diff_ids);
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
  g_autofree char *name = berth_image_ref_canonical (ref);
  if (id == NULL)
    g_prefix_error (error, "pull %s: ", name);
  else
    {
      g_autofree char *attribute = g_strconcat ("name=", name, NULL);
      berth_event_record (store, "image", "pull", id, (char *[]) { attribute, NULL });
    }
  return id;
}
