/* Inside core/distribution/: the HTTP client of one registry (client.c),
 * the registries file and credentials (config.c), shared by pull.c,
 * push.c and login.c. */
#pragma once
#include <berth/distribution.h>
#include <berth/json.h>

G_BEGIN_DECLS

/* One registry endpoint, used by several threads at once (the layer
 * downloads): the token is shared under @lock. */
typedef struct BerthRegistryClient BerthRegistryClient;

/* Where @domain is reached and how: its base URL (https, or http for a
 * host listed insecure or on loopback when https fails), its CA
 * directory, its credentials (@options' or the file's). @scope is the
 * token scope asked for ("repository:PATH:pull"), or NULL. The endpoint
 * is probed (GET /v2/) once here, so that a wrong host or a TLS failure
 * is one error before anything starts. */
BerthRegistryClient *berth_registry_client_new (const char *domain, const char *mirror_url,
                                                const char *scope,
                                                const BerthRegistryOptions *options,
                                                GError **error);
void berth_registry_client_free (BerthRegistryClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthRegistryClient, berth_registry_client_free)
const char *berth_registry_client_domain (BerthRegistryClient *client);
/* The URL that @path (absolute, or "/v2/...") names at this endpoint. */
char *berth_registry_client_url (BerthRegistryClient *client, const char *path);

/* A sink for a response body, in pieces; FALSE (with @error set) stops. */
typedef gboolean (*BerthHttpSink) (const void *buf, gsize len, gpointer data, GError **error);

typedef struct {
  const char *method;        /* GET, HEAD, PUT, POST, PATCH */
  const char *path;          /* "/v2/..." below the endpoint, or an absolute URL */
  const char *accept;
  const char *content_type;
  GBytes *upload;            /* a body from memory, or */
  int upload_fd;             /* ... from this file (pread), -1: none */
  gint64 upload_offset, upload_length;
  const char *range;         /* "bytes=A-B" for a chunked upload's Content-Range, or NULL */
  BerthHttpSink sink;        /* NULL: the body is collected into the response */
  gpointer sink_data;
  gsize max_body;            /* cap on a collected body */
  gboolean resumable;        /* a GET whose sink has taken part of the body is
                              * retried from where it stopped (Range) */
  gint *cancelled;           /* set (atomically) elsewhere: stop now; or NULL */
} BerthHttpRequest;

typedef struct {
  long status;
  GBytes *body;              /* a collected 2xx body */
  char *content_type;
  char *location;
  char *digest;              /* Docker-Content-Digest */
  gint64 length;             /* Content-Length, -1 unknown */
} BerthHttpResponse;
void berth_http_response_clear (BerthHttpResponse *response);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (BerthHttpResponse, berth_http_response_clear)

/* Send @request, authenticating (Bearer or Basic) on a 401, retrying a
 * dropped connection, 429 and 5xx with backoff where the method allows.
 * TRUE for a 2xx status (*@response filled); otherwise one error naming
 * the method, path, status and the registry's own message. 404 is
 * NOT_FOUND. */
gboolean berth_registry_request (BerthRegistryClient *client, const BerthHttpRequest *request,
                                 BerthHttpResponse *response, GError **error);

/* --- manifest.c --- */
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_V1 "application/vnd.docker.distribution.manifest.v1"
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define BERTH_ACCEPT_MANIFESTS \
  MT_OCI_INDEX ", " MT_DOCKER_LIST ", " MT_OCI_MANIFEST ", " MT_DOCKER_MANIFEST

typedef struct {
  GBytes *bytes;      /* exactly as served: their sha256 is the digest */
  char *media_type;   /* the document's own, else the Content-Type's */
  char *digest;
  JsonNode *node;
} BerthManifest;
void berth_manifest_free (BerthManifest *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthManifest, berth_manifest_free)

/* Parse @bytes served for @reference (a tag, or a digest they must
 * match); schema 1 is NOT_SUPPORTED. */
BerthManifest *berth_manifest_parse (GBytes *bytes, const char *content_type,
                                     const char *reference, GError **error);
gboolean berth_manifest_is_index (BerthManifest *m);
/* "linux/amd64": this host's platform as images name it. */
char *berth_host_platform (void);
/* The digest of @index's entry for @platform ("os/arch[/variant]"; a
 * variant left out matches any); NOT_FOUND lists the platforms there are. */
char *berth_manifest_choose_platform (BerthManifest *index, const char *platform,
                                      GError **error);
/* Layer descriptor @index: a valid digest and size, a media type berth
 * unpacks (tar, gzip, zstd); for a foreign layer, *@url gets its first
 * http(s) URL (none: NOT_SUPPORTED). */
gboolean berth_manifest_layer_check (JsonObject *layer, guint index, char **url, GError **error);

/* --- config.c --- */
/* The registries file: NULL when it does not exist. */
JsonNode *berth_registries_config_read (const BerthRegistryOptions *options, GError **error);
/* Mirrors to try before @domain itself (from "registry-mirrors"). */
char **berth_registries_mirrors (JsonNode *config, const char *domain);
gboolean berth_registries_insecure (JsonNode *config, const char *domain);
/* The CA directories to look in for <dir>/<domain>/ (its .crt files). */
char **berth_registries_certs_dirs (JsonNode *config, const BerthRegistryOptions *options);

/* The key @domain's credentials are stored under ("https://index.docker.io/v1/"
 * for docker.io, as docker writes it). */
char *berth_auth_key (const char *domain);
/* The credentials file to write: --authfile, $REGISTRY_AUTH_FILE, else
 * docker's config.json. */
char *berth_auth_file_for_write (const BerthRegistryOptions *options);
/* Credentials for @domain from the first file that has them; FALSE with no
 * error when none does. */
gboolean berth_auth_lookup (const char *domain, const BerthRegistryOptions *options,
                            char **username, char **password, GError **error);
/* Base64 "USER:PASSWORD" of @domain's entry in @path: INVALID otherwise. */
gboolean berth_auth_decode (const char *b64, const char *path, const char *domain,
                            char **username, char **password, GError **error);
/* The value of @key in a WWW-Authenticate challenge's parameters
 * (Bearer realm="...",service="...",scope="..."), or NULL. */
char *berth_auth_challenge_param (const char *challenge, const char *key);
/* Set (or with @username NULL remove) @domain's entry in @path, atomically,
 * mode 0600, other members kept. */
gboolean berth_auth_store (const char *path, const char *domain, const char *username,
                           const char *password, GError **error);

G_END_DECLS
