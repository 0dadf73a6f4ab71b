/* berth push: the image's layers gzipped (the store keeps them plain),
 * each uploaded unless the registry has it (HEAD), in one PUT or in
 * chunks; then the config and a Docker schema2 manifest, whose digest is
 * returned. The image's blobs are linked into a staging directory first,
 * so the store lock is not held while they upload. */
#include "config.h"
#include "distribution-internal.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <gio/gio.h>
#include <berth/digest.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Blobs up to this size go in one PUT; larger ones in PATCHes this big. */
#define CHUNK_SIZE ((gint64) 16 << 20)
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"

typedef struct {
  char *digest;
  gint64 size;
  char *path;   /* the gzipped layer, or NULL for bytes in @data */
  GBytes *data;
} Blob;

static void
blob_clear (Blob *b)
{
  g_free (b->digest);
  g_free (b->path);
  g_clear_pointer (&b->data, g_bytes_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Blob, blob_clear)

static gboolean
write_hashed (int fd, struct sha256_ctx *sha, const void *buf, gsize len, gint64 *size,
              const char *what, GError **error)
{
  sha256_update (sha, len, buf);
  *size += len;
  if (!berth_write_all (fd, buf, len))
    return berth_fail_errno (error, errno, "write %s", what);
  return TRUE;
}

/* Gzip the plain layer @in into @out, hashing what is written. */
static gboolean
gzip_layer (const char *in, const char *out, Blob *blob, GError **error)
{
  int in_fd = open (in, O_RDONLY | O_CLOEXEC);
  if (in_fd < 0)
    return berth_fail_errno (error, errno, "open %s", in);
  int out_fd = open (out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out_fd < 0)
    {
      close (in_fd);
      return berth_fail_errno (error, errno, "create %s", out);
    }
  g_autoptr (GZlibCompressor) gz = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, 6);
  struct sha256_ctx sha;
  sha256_init (&sha);
  g_autofree char *inbuf = g_malloc (1 << 20);
  g_autofree char *outbuf = g_malloc (1 << 20);
  gboolean ok = TRUE, eof = FALSE;
  gint64 size = 0;
  while (ok && !eof)
    {
      ssize_t n = read (in_fd, inbuf, 1 << 20);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          ok = berth_fail_errno (error, errno, "read %s", in);
          break;
        }
      eof = n == 0;
      gsize off = 0;
      GConverterResult r;
      do
        {
          gsize read = 0, written = 0;
          r = g_converter_convert (G_CONVERTER (gz), inbuf + off, n - off, outbuf, 1 << 20,
                                   eof ? G_CONVERTER_INPUT_AT_END : G_CONVERTER_NO_FLAGS, &read,
                                   &written, error);
          if (r == G_CONVERTER_ERROR)
            ok = FALSE;
          off += read;
          ok = ok && write_hashed (out_fd, &sha, outbuf, written, &size, out, error);
        }
      while (ok && (off < (gsize) n || (eof && r != G_CONVERTER_FINISHED)));
    }
  if (ok && fsync (out_fd) < 0)
    ok = berth_fail_errno (error, errno, "fsync %s", out);
  close (in_fd);
  close (out_fd);
  if (ok)
    {
      blob->digest = berth_sha256_finish (&sha);
      blob->size = size;
      blob->path = g_strdup (out);
    }
  return ok;
}

static gboolean
registry_has (BerthRegistryClient *client, const char *path, const char *digest,
              gboolean *has, GError **error)
{
  g_autofree char *url = g_strdup_printf ("/v2/%s/blobs/%s", path, digest);
  BerthHttpRequest req = { .method = "HEAD", .path = url, .upload_fd = -1 };
  g_auto (BerthHttpResponse) resp = { .length = -1 };
  g_autoptr (GError) local = NULL;
  *has = berth_registry_request (client, &req, &resp, &local);
  if (*has || g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

static char *
with_digest (const char *location, const char *digest)
{
  g_autofree char *esc = g_uri_escape_string (digest, NULL, FALSE);
  return g_strconcat (location, strchr (location, '?') ? "&" : "?", "digest=", esc, NULL);
}

/* One request of an upload session: the Location the registry gives for
 * the next one. */
static char *
upload_step (BerthRegistryClient *client, BerthHttpRequest *req, GError **error)
{
  g_auto (BerthHttpResponse) resp = { .length = -1 };
  if (!berth_registry_request (client, req, &resp, error))
    return NULL;
  if (resp.location == NULL)
    return berth_fail (error, BERTH_ERROR_FAILED, "%s %s: the registry gave no Location",
                       req->method, req->path), NULL;
  return g_steal_pointer (&resp.location);
}

static gboolean
upload_blob (BerthRegistryClient *client, const char *path, Blob *blob, int fd, GError **error)
{
  g_autofree char *start = g_strdup_printf ("/v2/%s/blobs/uploads/", path);
  BerthHttpRequest post = { .method = "POST", .path = start, .upload_fd = -1 };
  g_autofree char *location = upload_step (client, &post, error);
  if (location == NULL)
    return FALSE;
  BerthHttpRequest put = { .method = "PUT", .upload_fd = -1, .upload_length = 0,
                           .content_type = "application/octet-stream" };
  if (blob->data || blob->size <= CHUNK_SIZE)
    {
      put.upload = blob->data;
      put.upload_fd = blob->data ? -1 : fd;
      put.upload_length = blob->size;
    }
  else
    for (gint64 off = 0; off < blob->size; off += CHUNK_SIZE)
      {
        gint64 len = MIN (CHUNK_SIZE, blob->size - off);
        g_autofree char *range = g_strdup_printf ("%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT, off,
                                                  off + len - 1);
        BerthHttpRequest patch = { .method = "PATCH", .path = location, .upload_fd = fd,
                                   .upload_offset = off, .upload_length = len, .range = range,
                                   .content_type = "application/octet-stream" };
        char *next = upload_step (client, &patch, error);
        if (next == NULL)
          return FALSE;
        g_free (location);
        location = next;
      }
  g_autofree char *final = with_digest (location, blob->digest);
  put.path = final;
  g_auto (BerthHttpResponse) resp = { .length = -1 };
  if (blob->data == NULL && blob->size > CHUNK_SIZE)
    put.upload = g_bytes_new_static ("", 0);
  gboolean ok = berth_registry_request (client, &put, &resp, error);
  if (blob->data == NULL && blob->size > CHUNK_SIZE)
    g_bytes_unref (put.upload);
  return ok;
}

static gboolean
push_blob (BerthRegistryClient *client, const char *path, Blob *blob,
           BerthLayerProgressFunc progress, gpointer data, GError **error)
{
  gboolean has = FALSE;
  if (!registry_has (client, path, blob->digest, &has, error))
    return FALSE;
  int fd = -1;
  if (!has && blob->path && (fd = open (blob->path, O_RDONLY | O_CLOEXEC)) < 0)
    return berth_fail_errno (error, errno, "open %s", blob->path);
  gboolean ok = has || upload_blob (client, path, blob, fd, error);
  if (fd >= 0)
    close (fd);
  if (!ok)
    return g_prefix_error (error, "blob %s: ", blob->digest), FALSE;
  /* Progress counts uploads: a blob the registry had is not one. */
  if (progress && blob->path && !has)
    progress (blob->digest, blob->size, blob->size, TRUE, data);
  return TRUE;
}

static void
add_descriptor (JsonBuilder *b, const char *media_type, const Blob *blob)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "mediaType");
  json_builder_add_string_value (b, media_type);
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, blob->size);
  json_builder_set_member_name (b, "digest");
  json_builder_add_string_value (b, blob->digest);
  json_builder_end_object (b);
}

#define MT_OCI_GZIP_LAYER "application/vnd.oci.image.layer.v1.tar+gzip"

/* A gzip blob of this layer the registry is known to hold, in this
 * repository (HEAD finds it) or in another one of it (mounted, when the
 * registry allows: 201): used as it is, nothing compressed or sent. */
static gboolean
reuse_known_blob (BerthRegistryClient *client, BerthImageRef *ref, GPtrArray *sources, Blob *blob)
{
  g_autofree char *prefix = g_strconcat (ref->domain, "/", NULL);
  g_autofree char *own = g_strconcat (prefix, ref->path, NULL);
  for (guint i = 0; sources && i < sources->len; i++)
    {
      BerthBlobSource *src = sources->pdata[i];
      if (!(strcmp (src->media_type, MT_DOCKER_LAYER) == 0
            || strcmp (src->media_type, MT_OCI_GZIP_LAYER) == 0)
          || !g_str_has_prefix (src->repository, prefix) || src->size < 0)
        continue;
      gboolean found = FALSE;
      if (strcmp (src->repository, own) == 0)
        found = registry_has (client, ref->path, src->digest, &found, NULL) && found;
      else
        {
          g_autofree char *from = g_uri_escape_string (src->repository + strlen (prefix), NULL, FALSE);
          g_autofree char *mount = g_uri_escape_string (src->digest, NULL, FALSE);
          g_autofree char *url = g_strdup_printf ("/v2/%s/blobs/uploads/?mount=%s&from=%s",
                                                  ref->path, mount, from);
          BerthHttpRequest post = { .method = "POST", .path = url, .upload_fd = -1 };
          g_auto (BerthHttpResponse) resp = { .length = -1 };
          found = berth_registry_request (client, &post, &resp, NULL) && resp.status == 201;
        }
      if (found)
        {
          blob->digest = g_strdup (src->digest);
          blob->size = src->size;
          return TRUE;
        }
    }
  return FALSE;
}

static GBytes *
build_manifest (Blob *config, GArray *layers)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "schemaVersion");
  json_builder_add_int_value (b, 2);
  json_builder_set_member_name (b, "mediaType");
  json_builder_add_string_value (b, MT_DOCKER_MANIFEST);
  json_builder_set_member_name (b, "config");
  add_descriptor (b, MT_DOCKER_CONFIG, config);
  json_builder_set_member_name (b, "layers");
  json_builder_begin_array (b);
  for (guint i = 0; i < layers->len; i++)
    add_descriptor (b, MT_DOCKER_LAYER, &g_array_index (layers, Blob, i));
  json_builder_end_array (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  gsize len = 0;
  char *text = berth_json_to_string (root, &len);
  return g_bytes_new_take (text, len);
}

static char *
push_image (BerthImage *image, GBytes *config_bytes, GPtrArray *known, BerthImageRef *ref,
            const char *staging, const BerthRegistryOptions *options, GArray *layers,
            BerthLayerProgressFunc progress, gpointer data, GError **error)
{
  g_autofree char *scope = g_strdup_printf ("repository:%s:pull,push", ref->path);
  g_autoptr (BerthRegistryClient) client = berth_registry_client_new (ref->domain, NULL, scope,
                                                                      options, error);
  if (client == NULL)
    return NULL;
  for (int i = 0; image->diff_ids[i]; i++)
    {
      Blob blob = { 0 };
      if (reuse_known_blob (client, ref, known->pdata[i], &blob))
        {
          g_array_append_val (layers, blob);
          continue;
        }
      g_autofree char *plain = g_build_filename (staging, image->diff_ids[i] + 7, NULL);
      g_autofree char *gz = g_strdup_printf ("%s.%d.gz", plain, i);
      if (!gzip_layer (plain, gz, &blob, error))
        return NULL;
      g_array_append_val (layers, blob);
      if (!push_blob (client, ref->path, &g_array_index (layers, Blob, i), progress, data, error))
        return NULL;
    }
  g_auto (Blob) config = { .digest = berth_sha256_data (g_bytes_get_data (config_bytes, NULL),
                                                       g_bytes_get_size (config_bytes)),
                           .size = g_bytes_get_size (config_bytes),
                           .data = g_bytes_ref (config_bytes) };
  if (!push_blob (client, ref->path, &config, NULL, NULL, error))
    return NULL;
  g_autoptr (GBytes) manifest = build_manifest (&config, layers);
  g_autofree char *url = g_strdup_printf ("/v2/%s/manifests/%s", ref->path,
                                          ref->tag ? ref->tag : "latest");
  BerthHttpRequest put = { .method = "PUT", .path = url, .content_type = MT_DOCKER_MANIFEST,
                           .upload = manifest, .upload_fd = -1 };
  g_auto (BerthHttpResponse) resp = { .length = -1 };
  if (!berth_registry_request (client, &put, &resp, error))
    return g_prefix_error (error, "manifest: "), NULL;
  return berth_sha256_data (g_bytes_get_data (manifest, NULL), g_bytes_get_size (manifest));
}

/* Retake the store lock and keep what the registry now holds (a cache:
 * a failure is a warning). */
static void
record_origin (BerthStore *store, BerthImage *image, BerthImageRef *ref, const char *digest,
               GArray *layers)
{
  g_autofree char *repo = g_strconcat (ref->domain, "/", ref->path, NULL);
  g_autofree char *familiar = berth_image_ref_familiar (&(BerthImageRef) {
    .domain = ref->domain, .path = ref->path, .digest = (char *) digest });
  g_autoptr (GPtrArray) sources = g_ptr_array_new_with_free_func (
    (GDestroyNotify) berth_blob_source_free);
  for (guint i = 0; i < layers->len; i++)
    {
      Blob *b = &g_array_index (layers, Blob, i);
      g_ptr_array_add (sources, berth_blob_source_new (image->diff_ids[i], b->digest, repo,
                                                       MT_DOCKER_LAYER, b->size));
    }
  g_autoptr (GError) local = NULL;
  if (!berth_store_lock (store, &local) || !berth_origin_record (store, image->id, familiar, sources, &local))
    g_printerr ("berth: pushed image %.12s: %s (not kept: the next push compresses its "
                "layers again)\n", image->id, local->message);
}

char *
berth_push (BerthStore *store, const char *local, const char *text,
            const BerthRegistryOptions *options, BerthLayerProgressFunc progress, gpointer data,
            GError **error)
{
  g_autoptr (BerthImageRef) ref = berth_image_ref_parse (text ? text : local, error);
  if (ref == NULL)
    return NULL;
  if (ref->digest)
    return berth_fail (error, BERTH_ERROR_INVALID, "push %s: push to a tag, not a digest", text ? text : local),
           NULL;
  g_autoptr (BerthImage) image = berth_image_lookup (store, local, error);
  if (image == NULL)
    return NULL;
  /* The config's exact bytes: its digest must be the image id. */
  g_autoptr (GBytes) config = berth_image_config_bytes (store, image->id, error);
  if (config == NULL)
    return NULL;
  g_autofree char *staging = berth_store_mkdtemp (store, error);
  if (staging == NULL)
    return NULL;
  for (int i = 0; image->diff_ids[i]; i++)
    if (!berth_blob_stage_existing (store, staging, image->diff_ids[i]))
      {
        berth_rm_rf (staging, NULL);
        return berth_fail (error, BERTH_ERROR_NOT_FOUND, "push %s: the store has no blob %s",
                           local, image->diff_ids[i]), NULL;
      }
  g_autoptr (GPtrArray) known = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  for (int i = 0; image->diff_ids[i]; i++)
    g_ptr_array_add (known, berth_origin_blob_sources (store, image->diff_ids[i]));
  berth_store_unlock (store);
  g_autoptr (GArray) layers = g_array_new (FALSE, TRUE, sizeof (Blob));
  g_array_set_clear_func (layers, (GDestroyNotify) blob_clear);
  char *digest = push_image (image, config, known, ref, staging, options, layers, progress, data,
                             error);
  berth_rm_rf (staging, NULL);
  if (digest)
    record_origin (store, image, ref, digest, layers);
  if (digest == NULL)
    {
      g_autofree char *name = berth_image_ref_canonical (ref);
      g_prefix_error (error, "push %s: ", name);
    }
  return digest;
}
