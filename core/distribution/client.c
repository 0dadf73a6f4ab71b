/* The HTTP side of a registry: one endpoint, its TLS settings and
 * credentials, the token dance of Docker's registry auth, and retries.
 * libcurl does the HTTP; this file decides what to send again. */
#include "config.h"
#include "distribution-internal.h"
#include <berth/error.h>
#include <curl/curl.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#define MAX_ERROR_BODY (64 << 10)
#define MAX_ATTEMPTS 6
#define MAX_BACKOFF_US (4 * G_USEC_PER_SEC)
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

struct BerthRegistryClient {
  char *domain;
  char *base;          /* "https://host:port", no trailing slash */
  gboolean verify;
  GBytes *ca;          /* the system bundle plus the host's *.crt; NULL: curl's own */
  char *client_cert, *client_key;
  char *username, *password;
  char *scope;
  GMutex lock;         /* guards what follows */
  char *token;
  gboolean basic;
};

static gpointer
init_curl (gpointer data)
{
  (void) data;
  curl_global_init (CURL_GLOBAL_DEFAULT);
  return NULL;
}

void
berth_http_response_clear (BerthHttpResponse *response)
{
  g_clear_pointer (&response->body, g_bytes_unref);
  g_clear_pointer (&response->content_type, g_free);
  g_clear_pointer (&response->location, g_free);
  g_clear_pointer (&response->digest, g_free);
  response->status = 0;
  response->length = -1;
}

void
berth_registry_client_free (BerthRegistryClient *client)
{
  if (client == NULL)
    return;
  g_free (client->domain);
  g_free (client->base);
  g_clear_pointer (&client->ca, g_bytes_unref);
  g_free (client->client_cert);
  g_free (client->client_key);
  g_free (client->username);
  g_free (client->password);
  g_free (client->scope);
  g_free (client->token);
  g_mutex_clear (&client->lock);
  g_free (client);
}

const char *
berth_registry_client_domain (BerthRegistryClient *client)
{
  return client->domain;
}

char *
berth_registry_client_url (BerthRegistryClient *client, const char *path)
{
  if (g_str_has_prefix (path, "http://") || g_str_has_prefix (path, "https://"))
    return g_strdup (path);
  return g_strconcat (client->base, path, NULL);
}

/* --- one transfer --- */

typedef struct {
  const BerthHttpRequest *request;
  BerthHttpResponse *response;
  CURL *curl;
  GByteArray *collected;   /* a 2xx body without a sink */
  GByteArray *error_body;  /* a non-2xx body, for the message */
  gint64 delivered;        /* body bytes the sink has taken over all attempts */
  gint64 skip;             /* bytes of a 200 answer to a Range request already taken */
  char *www_authenticate;
  char *retry_after;
  long status;
  GError *sink_error;
} Transfer;

static gboolean
status_ok (long status)
{
  return status >= 200 && status < 300;
}

static void
replace_string (char **slot, const char *value)
{
  g_free (*slot);
  *slot = g_strdup (value);
}

static size_t
on_header (char *buf, size_t size, size_t n, void *data)
{
  Transfer *t = data;
  gsize len = size * n;
  g_autofree char *line = g_strstrip (g_strndup (buf, len));
  if (g_str_has_prefix (line, "HTTP/"))
    {
      /* A new response (after a redirect or a 100): only the last counts. */
      berth_http_response_clear (t->response);
      g_clear_pointer (&t->www_authenticate, g_free);
      g_clear_pointer (&t->retry_after, g_free);
      return len;
    }
  char *colon = strchr (line, ':');
  if (colon == NULL)
    return len;
  *colon = '\0';
  const char *value = colon + 1;
  while (*value == ' ')
    value++;
  /* A header sent twice: the last wins, but of several challenges the
   * first, which registries make their Bearer one. */
  if (g_ascii_strcasecmp (line, "content-type") == 0)
    replace_string (&t->response->content_type, value);
  else if (g_ascii_strcasecmp (line, "location") == 0)
    replace_string (&t->response->location, value);
  else if (g_ascii_strcasecmp (line, "docker-content-digest") == 0)
    replace_string (&t->response->digest, value);
  else if (g_ascii_strcasecmp (line, "content-length") == 0)
    t->response->length = g_ascii_strtoll (value, NULL, 10);
  else if (g_ascii_strcasecmp (line, "www-authenticate") == 0 && t->www_authenticate == NULL)
    t->www_authenticate = g_strdup (value);
  else if (g_ascii_strcasecmp (line, "retry-after") == 0)
    replace_string (&t->retry_after, value);
  return len;
}

static size_t
on_body (char *buf, size_t size, size_t n, void *data)
{
  Transfer *t = data;
  gsize len = size * n;
  long status = 0;
  curl_easy_getinfo (t->curl, CURLINFO_RESPONSE_CODE, &status);
  if (!status_ok (status))
    {
      if (t->error_body->len < MAX_ERROR_BODY)
        g_byte_array_append (t->error_body, (const guint8 *) buf,
                             MIN (len, MAX_ERROR_BODY - t->error_body->len));
      return len;
    }
  if (status == 200 && t->skip > 0)
    {
      /* The server ignored our Range: drop what the sink already has. */
      gsize drop = MIN ((gint64) len, t->skip);
      t->skip -= drop;
      buf += drop;
      len -= drop;
      if (len == 0)
        return size * n;
    }
  if (t->request->sink)
    {
      if (!t->request->sink (buf, len, t->request->sink_data, &t->sink_error))
        return CURL_WRITEFUNC_ERROR;
      t->delivered += len;
      return size * n;
    }
  /* A body nobody asked for (a POST's, a PUT's) is dropped. */
  if (t->request->max_body == 0)
    return size * n;
  if (t->collected->len + len > t->request->max_body)
    {
      g_set_error (&t->sink_error, BERTH_ERROR, BERTH_ERROR_INVALID,
                   "the response is larger than %" G_GSIZE_FORMAT " bytes", t->request->max_body);
      return CURL_WRITEFUNC_ERROR;
    }
  g_byte_array_append (t->collected, (const guint8 *) buf, len);
  return size * n;
}

typedef struct {
  const BerthHttpRequest *request;
  gint64 sent;
} Upload;

static size_t
on_read (char *buf, size_t size, size_t n, void *data)
{
  Upload *u = data;
  const BerthHttpRequest *r = u->request;
  gsize want = size * n;
  if (r->upload)
    {
      gsize total = 0;
      const char *bytes = g_bytes_get_data (r->upload, &total);
      gsize len = MIN (want, total - u->sent);
      memcpy (buf, bytes + u->sent, len);
      u->sent += len;
      return len;
    }
  gint64 left = r->upload_length - u->sent;
  if (left <= 0)
    return 0;
  ssize_t got = pread (r->upload_fd, buf, MIN ((gint64) want, left), r->upload_offset + u->sent);
  if (got <= 0)
    return CURL_READFUNC_ABORT;
  u->sent += got;
  return got;
}

static gint64
upload_size (const BerthHttpRequest *r)
{
  if (r->upload)
    return g_bytes_get_size (r->upload);
  return r->upload_fd >= 0 ? r->upload_length : -1;
}

static void
set_tls (BerthRegistryClient *client, CURL *curl)
{
  if (!client->verify)
    {
      curl_easy_setopt (curl, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt (curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
  if (client->ca)
    {
      struct curl_blob blob = {
        .data = (void *) g_bytes_get_data (client->ca, NULL),
        .len = g_bytes_get_size (client->ca),
        .flags = CURL_BLOB_COPY,
      };
      curl_easy_setopt (curl, CURLOPT_CAINFO_BLOB, &blob);
    }
  if (client->client_cert && client->client_key)
    {
      curl_easy_setopt (curl, CURLOPT_SSLCERT, client->client_cert);
      curl_easy_setopt (curl, CURLOPT_SSLKEY, client->client_key);
    }
}

/* Is @path below this registry's own scheme, host and port? A relative
 * path is. Compared parsed, not as text: "https://reg.example.com.evil"
 * and "https://reg.example.com@evil" must not pass. */
static gboolean
is_own_origin (BerthRegistryClient *client, const char *path)
{
  if (!g_str_has_prefix (path, "http://") && !g_str_has_prefix (path, "https://"))
    return path[0] == '/';
  g_autoptr (GUri) mine = g_uri_parse (client->base, G_URI_FLAGS_NONE, NULL);
  g_autoptr (GUri) theirs = g_uri_parse (path, G_URI_FLAGS_NONE, NULL);
  return mine && theirs && g_uri_get_userinfo (theirs) == NULL
         && g_ascii_strcasecmp (g_uri_get_scheme (mine), g_uri_get_scheme (theirs)) == 0
         && g_ascii_strcasecmp (g_uri_get_host (mine), g_uri_get_host (theirs)) == 0
         && g_uri_get_port (mine) == g_uri_get_port (theirs);
}

static struct curl_slist *
request_headers (BerthRegistryClient *client, const BerthHttpRequest *r, gint64 resume_from)
{
  struct curl_slist *h = curl_slist_append (NULL, "Expect:");
  g_autofree char *accept = r->accept ? g_strconcat ("Accept: ", r->accept, NULL) : NULL;
  g_autofree char *type = r->content_type ? g_strconcat ("Content-Type: ", r->content_type, NULL)
                                          : NULL;
  g_autofree char *range = resume_from > 0
                               ? g_strdup_printf ("Range: bytes=%" G_GINT64_FORMAT "-", resume_from)
                               : NULL;
  g_autofree char *content_range = r->range ? g_strconcat ("Content-Range: ", r->range, NULL)
                                            : NULL;
  g_autofree char *auth = NULL;
  g_mutex_lock (&client->lock);
  if (client->token)
    auth = g_strconcat ("Authorization: Bearer ", client->token, NULL);
  else if (client->basic && client->username)
    {
      g_autofree char *pair = g_strconcat (client->username, ":", client->password, NULL);
      g_autofree char *b64 = g_base64_encode ((const guchar *) pair, strlen (pair));
      auth = g_strconcat ("Authorization: Basic ", b64, NULL);
    }
  g_mutex_unlock (&client->lock);
  /* Credentials go to the registry itself, never to another host (a
   * foreign layer's URL; curl drops them on a redirect elsewhere). */
  gboolean own = is_own_origin (client, r->path);
  const char *lines[] = { accept, type, range, content_range, own ? auth : NULL };
  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    if (lines[i])
      h = curl_slist_append (h, lines[i]);
  return h;
}

static void
set_method (CURL *curl, const BerthHttpRequest *r, Upload *upload)
{
  gint64 size = upload_size (r);
  if (strcmp (r->method, "HEAD") == 0)
    {
      /* An object-store backend answers HEAD on a blob with a redirect too. */
      curl_easy_setopt (curl, CURLOPT_NOBODY, 1L);
      curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 1L);
    }
  else if (strcmp (r->method, "GET") != 0)
    {
      curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, r->method);
      if (size >= 0)
        {
          curl_easy_setopt (curl, CURLOPT_UPLOAD, 1L);
          curl_easy_setopt (curl, CURLOPT_READFUNCTION, on_read);
          curl_easy_setopt (curl, CURLOPT_READDATA, upload);
          curl_easy_setopt (curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t) size);
        }
      else
        {
          curl_easy_setopt (curl, CURLOPT_POST, 1L);
          curl_easy_setopt (curl, CURLOPT_POSTFIELDS, "");
          curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE, 0L);
        }
    }
  else
    {
      curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 1L);
      /* A stalled download is a dropped one: retried (resumed) like it.
       * Not an upload's: the final PUT may be minutes of the server's own
       * work with no byte moving. */
      curl_easy_setopt (curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
      curl_easy_setopt (curl, CURLOPT_LOW_SPEED_TIME, 60L);
    }
}

/* Stop a transfer another one's failure made pointless. */
static int
on_progress (void *data, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
             curl_off_t ulnow)
{
  (void) dltotal, (void) dlnow, (void) ultotal, (void) ulnow;
  return g_atomic_int_get ((gint *) data) ? 1 : 0;
}

/* One attempt; the transport's result (CURLE_OK when an HTTP status came). */
static CURLcode
perform (BerthRegistryClient *client, Transfer *t, char *errbuf)
{
  const BerthHttpRequest *r = t->request;
  CURL *curl = curl_easy_init ();
  if (curl == NULL)
    return CURLE_OUT_OF_MEMORY;
  t->curl = curl;
  g_autofree char *url = berth_registry_client_url (client, r->path);
  Upload upload = { .request = r };
  gint64 resume_from = r->resumable ? t->delivered : 0;
  t->skip = resume_from;
  struct curl_slist *headers = request_headers (client, r, resume_from);
  curl_easy_setopt (curl, CURLOPT_URL, url);
  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt (curl, CURLOPT_HEADERDATA, t);
  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt (curl, CURLOPT_WRITEDATA, t);
  curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt (curl, CURLOPT_USERAGENT, "berth/" PACKAGE_VERSION);
  curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt (curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  set_tls (client, curl);
  set_method (curl, r, &upload);
  if (r->cancelled)
    {
      curl_easy_setopt (curl, CURLOPT_XFERINFOFUNCTION, on_progress);
      curl_easy_setopt (curl, CURLOPT_XFERINFODATA, (void *) r->cancelled);
      curl_easy_setopt (curl, CURLOPT_NOPROGRESS, 0L);
    }
  errbuf[0] = '\0';
  CURLcode rc = curl_easy_perform (curl);
  curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &t->status);
  t->response->status = t->status;
  curl_slist_free_all (headers);
  curl_easy_cleanup (curl);
  t->curl = NULL;
  return rc;
}

/* --- auth --- */

char *
berth_auth_challenge_param (const char *challenge, const char *key)
{
  g_autofree char *pattern = g_strdup_printf ("%s=\"", key);
  for (const char *p = strstr (challenge, pattern); p; p = strstr (p + 1, pattern))
    {
      if (p != challenge && p[-1] != ' ' && p[-1] != ',')
        continue;
      const char *start = p + strlen (pattern);
      const char *end = strchr (start, '"');
      return end ? g_strndup (start, end - start) : NULL;
    }
  return NULL;
}

static gboolean
fetch_token (BerthRegistryClient *client, const char *challenge, GError **error)
{
  g_autofree char *realm = berth_auth_challenge_param (challenge, "realm");
  g_autofree char *service = berth_auth_challenge_param (challenge, "service");
  g_autofree char *scope = berth_auth_challenge_param (challenge, "scope");
  if (realm == NULL || !(g_str_has_prefix (realm, "https://") || g_str_has_prefix (realm, "http://")))
    return berth_fail (error, BERTH_ERROR_FAILED, "%s asks for a token but names no realm URL",
                       client->domain);
  const char *want = scope ? scope : client->scope;
  g_autoptr (GString) url = g_string_new (realm);
  g_string_append_c (url, strchr (realm, '?') ? '&' : '?');
  if (service)
    {
      g_autofree char *esc = g_uri_escape_string (service, NULL, FALSE);
      g_string_append_printf (url, "service=%s&", esc);
    }
  if (want)
    {
      g_autofree char *esc = g_uri_escape_string (want, NULL, FALSE);
      g_string_append_printf (url, "scope=%s", esc);
    }
  g_autoptr (GByteArray) body = g_byte_array_new ();
  char errbuf[CURL_ERROR_SIZE];
  CURL *curl = curl_easy_init ();
  if (curl == NULL)
    return berth_fail (error, BERTH_ERROR_FAILED, "curl_easy_init failed");
  BerthHttpRequest req = { .method = "GET", .path = url->str, .max_body = 1 << 20, .upload_fd = -1 };
  g_auto (BerthHttpResponse) resp = { .length = -1 };
  Transfer t = { .request = &req, .response = &resp, .curl = curl, .collected = body,
                 .error_body = g_byte_array_new () };
  curl_easy_setopt (curl, CURLOPT_URL, url->str);
  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt (curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt (curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT, 120L);
  if (client->username)
    {
      curl_easy_setopt (curl, CURLOPT_USERNAME, client->username);
      curl_easy_setopt (curl, CURLOPT_PASSWORD, client->password);
    }
  set_tls (client, curl);
  errbuf[0] = '\0';
  CURLcode rc = curl_easy_perform (curl);
  long status = 0;
  curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup (curl);
  g_byte_array_unref (t.error_body);
  g_clear_error (&t.sink_error);
  g_free (t.www_authenticate);
  g_free (t.retry_after);
  if (rc != CURLE_OK)
    return berth_fail (error, BERTH_ERROR_FAILED, "token from %s: %s", realm,
                       errbuf[0] ? errbuf : curl_easy_strerror (rc));
  if (status == 401 || status == 403)
    return berth_fail (error, BERTH_ERROR_FAILED, "%s: unauthorized (%ld from %s)%s",
                       client->domain, status, realm,
                       client->username ? ": wrong user name or password" : "; berth login first?");
  if (!status_ok (status))
    return berth_fail (error, BERTH_ERROR_FAILED, "token from %s: HTTP %ld", realm, status);
  g_autoptr (JsonNode) node = berth_json_parse ((const char *) body->data, body->len, NULL);
  JsonObject *obj = node ? berth_json_node_object (node) : NULL;
  const char *token = obj ? berth_json_string (obj, "token", berth_json_string (obj, "access_token", NULL))
                          : NULL;
  if (token == NULL)
    return berth_fail (error, BERTH_ERROR_FAILED, "token from %s: no token in the answer "
                       "(not a token server?)", realm);
  g_mutex_lock (&client->lock);
  g_free (client->token);
  client->token = g_strdup (token);
  g_mutex_unlock (&client->lock);
  return TRUE;
}

/* A 401: get what the challenge asks for. FALSE when nothing would help. */
static gboolean
authenticate (BerthRegistryClient *client, const char *challenge, GError **error)
{
  if (challenge && g_ascii_strncasecmp (challenge, "bearer ", 7) == 0)
    return fetch_token (client, challenge, error);
  if (challenge && g_ascii_strncasecmp (challenge, "basic", 5) == 0 && client->username)
    {
      g_mutex_lock (&client->lock);
      gboolean had = client->basic;
      client->basic = TRUE;
      g_mutex_unlock (&client->lock);
      if (!had)
        return TRUE;
    }
  return berth_fail (error, BERTH_ERROR_FAILED, "%s: unauthorized%s", client->domain,
                     client->username ? ": wrong user name or password"
                                      : ": authentication required (berth login)");
}

/* --- errors and retries --- */

static char *
registry_message (GByteArray *body)
{
  if (body->len == 0)
    return NULL;
  g_autoptr (JsonNode) node = berth_json_parse ((const char *) body->data, body->len, NULL);
  JsonObject *obj = node ? berth_json_node_object (node) : NULL;
  JsonArray *errors = obj ? berth_json_array (obj, "errors") : NULL;
  JsonObject *first = errors ? berth_json_array_object (errors, 0) : NULL;
  if (first == NULL)
    return NULL;
  return g_strdup_printf ("%s (%s)", berth_json_string (first, "message", "?"),
                          berth_json_string (first, "code", "?"));
}

static gboolean
transient_status (long status)
{
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

static gboolean
transient_transport (CURLcode rc)
{
  switch (rc)
    {
    /* Not a name that does not resolve: offline, that is a 8 s wait for
     * the same answer. */
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return TRUE;
    default:
      return FALSE;
    }
}

/* May this attempt be made again from the start (or from where the sink
 * stopped)? A sink that took part of a body can only go on by Range. */
static gboolean
repeatable (const BerthHttpRequest *r, const Transfer *t)
{
  if (strcmp (r->method, "POST") == 0 || strcmp (r->method, "PATCH") == 0)
    return FALSE;
  return t->delivered == 0 || r->resumable;
}

static gint64
backoff_us (int attempt, const char *retry_after)
{
  if (retry_after)
    {
      gint64 s = g_ascii_strtoll (retry_after, NULL, 10);
      if (s >= 0 && s <= 30)
        return s * G_USEC_PER_SEC;
    }
  return MIN ((G_USEC_PER_SEC / 4) << attempt, MAX_BACKOFF_US);
}

static void
http_fail (GError **error, const BerthHttpRequest *r, long status, GByteArray *body)
{
  g_autofree char *msg = registry_message (body);
  BerthError code = status == 404 ? BERTH_ERROR_NOT_FOUND : BERTH_ERROR_FAILED;
  const char *path = r->path;
  const char *v2 = strstr (path, "/v2/");
  g_autofree char *shown = g_strndup (v2 ? v2 : path, strcspn (v2 ? v2 : path, "?"));
  berth_fail (error, code, "%s %s: HTTP %ld%s%s", r->method, shown, status, msg ? ": " : "",
              msg ? msg : "");
}

gboolean
berth_registry_request (BerthRegistryClient *client, const BerthHttpRequest *request,
                        BerthHttpResponse *response, GError **error)
{
  g_autoptr (GByteArray) collected = g_byte_array_new ();
  g_autoptr (GByteArray) error_body = g_byte_array_new ();
  Transfer t = { .request = request, .response = response, .collected = collected,
                 .error_body = error_body };
  gboolean authenticated = FALSE;
  gboolean ok = FALSE;
  char errbuf[CURL_ERROR_SIZE];
  for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++)
    {
      g_byte_array_set_size (collected, 0);
      g_byte_array_set_size (error_body, 0);
      g_clear_pointer (&t.www_authenticate, g_free);
      g_clear_pointer (&t.retry_after, g_free);
      berth_http_response_clear (response);
      t.status = 0;
      CURLcode rc = perform (client, &t, errbuf);
      if (t.sink_error)
        {
          g_propagate_error (error, g_steal_pointer (&t.sink_error));
          break;
        }
      /* The challenge of another host (a foreign layer's) never gets
       * this registry's credentials. */
      if (rc == CURLE_OK && t.status == 401 && !authenticated
          && is_own_origin (client, request->path))
        {
          authenticated = TRUE;
          if (!authenticate (client, t.www_authenticate, error))
            break;
          attempt--;
          continue;
        }
      /* Resumed after the last byte had come: nothing is left to send.
       * The caller's size and digest checks say whether it is whole. */
      if (rc == CURLE_OK && (status_ok (t.status)
                             || (t.status == 416 && request->resumable && t.delivered > 0)))
        {
          ok = TRUE;
          break;
        }
      gboolean transient = rc == CURLE_OK ? transient_status (t.status) : transient_transport (rc);
      if (!transient || !repeatable (request, &t) || attempt + 1 == MAX_ATTEMPTS)
        {
          if (rc != CURLE_OK)
            berth_fail (error, BERTH_ERROR_FAILED, "%s %s: %s", request->method,
                        strstr (request->path, "/v2/") ? strstr (request->path, "/v2/") : request->path,
                        errbuf[0] ? errbuf : curl_easy_strerror (rc));
          else if (t.status == 401)
            berth_fail (error, BERTH_ERROR_FAILED, "%s: unauthorized: %s", client->domain,
                        client->username ? "wrong user name or password"
                                         : "authentication required (berth login)");
          else if (t.status == 403)
            berth_fail (error, BERTH_ERROR_FAILED, "%s: access denied (HTTP 403) to %s",
                        client->domain, request->path);
          else
            http_fail (error, request, t.status, error_body);
          break;
        }
      g_usleep (backoff_us (attempt, t.retry_after));
    }
  g_free (t.www_authenticate);
  g_free (t.retry_after);
  if (ok && request->sink == NULL && strcmp (request->method, "HEAD") != 0)
    response->body = g_bytes_new (collected->data, collected->len);
  return ok;
}

/* --- the endpoint --- */

static gboolean
is_loopback (const char *domain)
{
  g_autofree char *host = g_strdup (domain);
  char *colon = strrchr (host, ':');
  if (colon && host[0] != '[')
    *colon = '\0';
  return strcmp (host, "localhost") == 0 || g_str_has_prefix (host, "127.")
         || g_str_has_prefix (host, "[::1]");
}

/* The CA file this libcurl uses by default (distributions put it in
 * different places), else Debian's. */
static char *
system_ca_bundle (void)
{
  char *path = NULL;
  CURL *curl = curl_easy_init ();
  char *found = NULL;
  if (curl && curl_easy_getinfo (curl, CURLINFO_CAINFO, &path) == CURLE_OK && path)
    found = g_strdup (path);
  if (curl)
    curl_easy_cleanup (curl);
  return found ? found : g_strdup (SYSTEM_CA_BUNDLE);
}

/* The system bundle and every *.crt of <dir>/<domain>/, and a client
 * *.cert with its *.key, as /etc/docker/certs.d/ holds them. */
static gboolean
load_certs (BerthRegistryClient *client, const char *own_dir, char **dirs, GError **error)
{
  g_autoptr (GString) pem = g_string_new (NULL);
  g_autoptr (GPtrArray) hostdirs = g_ptr_array_new_with_free_func (g_free);
  /* --cert-dir is the host's directory itself, as podman's is. */
  if (own_dir)
    g_ptr_array_add (hostdirs, g_strdup (own_dir));
  for (char **d = dirs; d && *d; d++)
    g_ptr_array_add (hostdirs, g_build_filename (*d, client->domain, NULL));
  for (guint i = 0; i < hostdirs->len; i++)
    {
      const char *hostdir = hostdirs->pdata[i];
      g_autoptr (GDir) dir = g_dir_open (hostdir, 0, NULL);
      const char *name;
      while (dir && (name = g_dir_read_name (dir)))
        {
          g_autofree char *path = g_build_filename (hostdir, name, NULL);
          if (g_str_has_suffix (name, ".crt"))
            {
              g_autofree char *text = NULL;
              if (!g_file_get_contents (path, &text, NULL, error))
                return FALSE;
              g_string_append_printf (pem, "\n%s\n", text);
            }
          else if (g_str_has_suffix (name, ".cert") && client->client_cert == NULL)
            {
              g_autofree char *stem = g_strndup (path, strlen (path) - 5);
              client->client_key = g_strconcat (stem, ".key", NULL);
              client->client_cert = g_steal_pointer (&path);
            }
        }
    }
  if (pem->len == 0)
    return TRUE;
  /* The CAs given replace curl's own file: it is read in first. */
  g_autofree char *system = NULL;
  g_autofree char *bundle = system_ca_bundle ();
  gsize len = 0;
  if (g_file_get_contents (bundle, &system, &len, NULL))
    g_string_prepend (pem, system);
  gsize size = pem->len;
  client->ca = g_bytes_new_take (g_string_free (g_steal_pointer (&pem), FALSE), size);
  return TRUE;
}

/* GET /v2/; *@answered says whether an HTTP status came back at all. */
static gboolean
probe (BerthRegistryClient *client, gboolean *answered, GError **error)
{
  BerthHttpRequest req = { .method = "GET", .path = "/v2/", .max_body = 1 << 20, .upload_fd = -1 };
  g_auto (BerthHttpResponse) resp = { .length = -1 };
  gboolean ok = berth_registry_request (client, &req, &resp, error);
  *answered = resp.status != 0;
  return ok;
}

/* "host:port" of a mirror's URL: whose credentials, CAs and insecure
 * listing apply to it (never those of the registry it mirrors). */
static char *
url_authority (const char *url, GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL || g_uri_get_host (uri) == NULL
      || !(g_str_equal (g_uri_get_scheme (uri), "http") || g_str_equal (g_uri_get_scheme (uri), "https")))
    return berth_fail (error, BERTH_ERROR_INVALID, "registry mirror '%s': not an http(s) URL", url),
           NULL;
  if (g_uri_get_port (uri) > 0)
    return g_strdup_printf ("%s:%d", g_uri_get_host (uri), g_uri_get_port (uri));
  return g_strdup (g_uri_get_host (uri));
}

/* TLS, CAs and credentials for the endpoint named @who. */
static gboolean
client_settings (BerthRegistryClient *client, JsonNode *config,
                 const BerthRegistryOptions *options, GError **error)
{
  const char *who = client->domain;
  client->verify = options->tls_verify >= 0 ? options->tls_verify
                                            : !berth_registries_insecure (config, who);
  g_auto (GStrv) dirs = berth_registries_certs_dirs (config, options);
  if (!load_certs (client, options->certs_dir, dirs, error))
    return FALSE;
  if (options->username)
    {
      client->username = g_strdup (options->username);
      client->password = g_strdup (options->password ? options->password : "");
      return TRUE;
    }
  return berth_auth_lookup (who, options, &client->username, &client->password, error)
         || !(error && *error);
}

static BerthRegistryClient *
client_for_mirror (BerthRegistryClient *client, const char *mirror_url, GError **error)
{
  client->base = g_strdup (mirror_url);
  if (g_str_has_suffix (client->base, "/"))
    client->base[strlen (client->base) - 1] = '\0';
  gboolean answered;
  return probe (client, &answered, error) ? client : NULL;
}

BerthRegistryClient *
berth_registry_client_new (const char *domain, const char *mirror_url, const char *scope,
                           const BerthRegistryOptions *options, GError **error)
{
  static GOnce once = G_ONCE_INIT;
  g_once (&once, init_curl, NULL);
  g_autoptr (JsonNode) config = berth_registries_config_read (options, error);
  if (config == NULL && error && *error)
    return NULL;
  g_autoptr (BerthRegistryClient) client = g_new0 (BerthRegistryClient, 1);
  g_mutex_init (&client->lock);
  client->domain = mirror_url ? url_authority (mirror_url, error) : g_strdup (domain);
  client->scope = g_strdup (scope);
  if (client->domain == NULL || !client_settings (client, config, options, error))
    return NULL;
  if (mirror_url)
    return client_for_mirror (client, mirror_url, error) ? g_steal_pointer (&client) : NULL;
  gboolean insecure = berth_registries_insecure (config, domain) || is_loopback (domain);
  const char *host = strcmp (domain, "docker.io") == 0 ? "registry-1.docker.io" : domain;
  client->base = g_strconcat ("https://", host, NULL);
  g_autoptr (GError) https_error = NULL;
  gboolean answered = FALSE;
  if (probe (client, &answered, &https_error))
    return g_steal_pointer (&client);
  /* Docker's rule: a host listed insecure, or on loopback, may speak plain
   * HTTP when HTTPS does not answer. */
  if (!insecure || answered || options->tls_verify == 1)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&https_error), "%s: ", domain);
      return NULL;
    }
  g_free (client->base);
  client->base = g_strconcat ("http://", host, NULL);
  g_autoptr (GError) http_error = NULL;
  if (probe (client, &answered, &http_error))
    return g_steal_pointer (&client);
  berth_fail (error, BERTH_ERROR_FAILED, "%s: %s; over plain HTTP: %s", domain,
              https_error->message, http_error->message);
  return NULL;
}
