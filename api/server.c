/* berth-serve's HTTP side: the socket, the routes, the replies, and the
 * berth processes some requests are answered by (api.h). */
#include "config.h"
#include "api.h"
#include <berth/error.h>
#include <berth/json.h>
#include <errno.h>
#include <glib-unix.h>
#include <gio/gunixsocketaddress.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- replies ---- */

void
berth_api_reply_json (SoupServerMessage *msg, guint status, JsonNode *node)
{
  gsize len = 0;
  char *text = berth_json_to_string (node, &len);
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, text, len);
}

void
berth_api_reply_message (SoupServerMessage *msg, guint status, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *text = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_autoptr (JsonObject) o = json_object_new ();
  json_object_set_string_member (o, "message", text);
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), o);
  berth_api_reply_json (msg, status, node);
}

void
berth_api_reply_error (SoupServerMessage *msg, const GError *error)
{
  guint status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
  if (error->domain == BERTH_ERROR)
    switch (error->code)
      {
      case BERTH_ERROR_NOT_FOUND:
        status = SOUP_STATUS_NOT_FOUND;
        break;
      case BERTH_ERROR_INVALID:
      case BERTH_ERROR_BAD_ARCHIVE:
        status = SOUP_STATUS_BAD_REQUEST;
        break;
      case BERTH_ERROR_EXISTS:
      case BERTH_ERROR_BUSY:
        status = SOUP_STATUS_CONFLICT;
        break;
      default:
        break;
      }
  berth_api_reply_message (msg, status, "%s", error->message);
}

void
berth_api_reply_empty (SoupServerMessage *msg, guint status)
{
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, NULL, SOUP_MEMORY_STATIC, NULL, 0);
}

/* ---- requests ---- */

BerthStore *
berth_api_open_store (BerthApi *api, gboolean write, GError **error)
{
  return write ? berth_store_open (api->root, api->driver, error)
               : berth_store_open_reader (api->root, api->driver, error);
}

const char *
berth_api_query (GHashTable *query, const char *key)
{
  return query ? g_hash_table_lookup (query, key) : NULL;
}

gboolean
berth_api_query_bool (GHashTable *query, const char *key)
{
  const char *v = berth_api_query (query, key);
  return v && (strcmp (v, "1") == 0 || g_ascii_strcasecmp (v, "true") == 0);
}

JsonNode *
berth_api_request_json (SoupServerMessage *msg, GError **error)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr (GBytes) bytes = soup_message_body_flatten (body);
  gsize len = 0;
  const char *data = g_bytes_get_data (bytes, &len);
  if (len == 0)
    return json_node_init_object (json_node_alloc (), json_object_new ());
  g_autoptr (GError) local = NULL;
  JsonNode *node = berth_json_parse (data, len, &local);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    {
      if (node)
        json_node_unref (node);
      berth_fail (error, BERTH_ERROR_INVALID, "the request body is not a JSON object%s%s",
                  local ? ": " : "", local ? local->message : "");
      return NULL;
    }
  return node;
}

/* ---- ?filters= ---- */

gboolean
berth_api_filters_parse (GHashTable *query, const char *const *keys, JsonNode **out,
                         GError **error)
{
  const char *text = berth_api_query (query, "filters");
  *out = NULL;
  if (text == NULL || *text == '\0')
    return TRUE;
  g_autoptr (JsonNode) node = berth_json_parse (text, strlen (text), error);
  if (node == NULL)
    return FALSE;
  JsonObject *o = berth_json_node_object (node);
  if (o == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "filters: not a JSON object");
  g_autoptr (GList) names = json_object_get_members (o);
  for (GList *k = names; k; k = k->next)
    if (!g_strv_contains (keys, k->data))
      {
        g_autofree char *known = g_strjoinv (", ", (char **) keys);
        return berth_fail (error, BERTH_ERROR_INVALID, "filters: '%s' is not supported (%s are)",
                           (char *) k->data, known);
      }
  *out = g_steal_pointer (&node);
  return TRUE;
}

/* A key's values are an array (["a","b"]) or, from old clients, an object
 * ({"a":true}). */
char **
berth_api_filter_values (JsonNode *filters, const char *key)
{
  JsonObject *o = filters ? berth_json_node_object (filters) : NULL;
  JsonNode *values = o ? json_object_get_member (o, key) : NULL;
  if (values == NULL)
    return NULL;
  if (JSON_NODE_HOLDS_ARRAY (values))
    return berth_json_strv (o, key);
  GStrvBuilder *b = g_strv_builder_new ();
  if (JSON_NODE_HOLDS_OBJECT (values))
    {
      g_autoptr (GList) names = json_object_get_members (json_node_get_object (values));
      for (GList *n = names; n; n = n->next)
        g_strv_builder_add (b, n->data);
    }
  char **list = g_strv_builder_end (b);
  g_strv_builder_unref (b);
  return list;
}

gboolean
berth_api_filters_match (JsonNode *filters, BerthApiFilterMatch match, gpointer item)
{
  JsonObject *o = filters ? berth_json_node_object (filters) : NULL;
  if (o == NULL)
    return TRUE;
  g_autoptr (GList) keys = json_object_get_members (o);
  for (GList *k = keys; k; k = k->next)
    {
      g_auto (GStrv) list = berth_api_filter_values (filters, k->data);
      /* Docker: labels must all match, other keys' values are alternatives. */
      gboolean every = strcmp (k->data, "label") == 0, any = FALSE;
      for (char **v = list; v && *v; v++)
        {
          gboolean hit = match (k->data, *v, item);
          if (every && !hit)
            return FALSE;
          any = any || hit;
        }
      if (!any && list && list[0])
        return FALSE;
    }
  return TRUE;
}

/* ---- replies that come later ---- */

static void
mark_finished (SoupServerMessage *msg, gpointer data)
{
  g_object_set_data (G_OBJECT (msg), "berth-finished", GINT_TO_POINTER (1));
}

void
berth_api_begin_late_json (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  soup_message_headers_set_content_type (headers, "application/json", NULL);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  g_signal_connect (msg, "finished", G_CALLBACK (mark_finished), NULL);
  g_object_ref (msg);
}

void
berth_api_end_late_json (SoupServerMessage *msg, JsonNode *node)
{
  if (g_object_get_data (G_OBJECT (msg), "berth-finished") == NULL)
    {
      gsize len = 0;
      char *text = berth_json_to_string (node, &len);
      SoupMessageBody *body = soup_server_message_get_response_body (msg);
      soup_message_body_append (body, SOUP_MEMORY_TAKE, text, len);
      soup_message_body_append (body, SOUP_MEMORY_STATIC, "\n", 1);
      soup_message_body_complete (body);
      soup_server_message_unpause (msg);
    }
  g_object_unref (msg);
}

/* ---- berth processes ---- */

GSubprocess *
berth_api_spawn (BerthApi *api, const char *const *args, GError **error)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, api->berth);
  g_ptr_array_add (argv, (char *) "--root");
  g_ptr_array_add (argv, api->root);
  if (api->driver)
    {
      g_ptr_array_add (argv, (char *) "--storage-driver");
      g_ptr_array_add (argv, api->driver);
    }
  for (const char *const *a = args; *a; a++)
    g_ptr_array_add (argv, (char *) *a);
  g_ptr_array_add (argv, NULL);
  /* Nothing is read from the server's own stdin (a terminal, by hand). */
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_subprocess_launcher_set_stdin_file_path (launcher, "/dev/null");
  return g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, error);
}

typedef struct {
  SoupServerMessage *msg;
  BerthApiDone done;
  gpointer data;
  GDestroyNotify free_data;
} Run;

static void
run_free (Run *run)
{
  if (run->free_data)
    run->free_data (run->data);
  g_object_unref (run->msg);
  g_free (run);
}

/* berth's error line, "berth: " left out. */
static char *
error_line (const char *err)
{
  g_autofree char *text = g_strstrip (g_strdup (err ? err : ""));
  char *nl = strrchr (text, '\n');
  const char *line = nl ? nl + 1 : text;
  if (g_str_has_prefix (line, "berth: "))
    line += strlen ("berth: ");
  return g_strdup (*line ? line : "berth failed without saying why");
}

static void
run_finished (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GSubprocess *proc = G_SUBPROCESS (source);
  Run *run = user_data;
  g_autofree char *out = NULL, *err = NULL;
  g_autoptr (GError) error = NULL;
  gboolean replied = TRUE;
  if (!g_subprocess_communicate_utf8_finish (proc, result, &out, &err, &error))
    berth_api_reply_message (run->msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "%s", error->message);
  else if (g_subprocess_get_if_exited (proc) && g_subprocess_get_exit_status (proc) == 0)
    {
      if (run->done)
        replied = run->done (run->msg, out, run->data);
      else
        berth_api_reply_empty (run->msg, SOUP_STATUS_NO_CONTENT);
    }
  else
    {
      g_autofree char *line = error_line (err);
      berth_api_reply_message (run->msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "%s", line);
    }
  if (replied)
    soup_server_message_unpause (run->msg);
  g_object_unref (proc);
  run_free (run);
}

void
berth_api_run_berth (BerthApi *api, SoupServerMessage *msg, const char *const *args,
                     BerthApiDone done, gpointer data, GDestroyNotify free_data)
{
  g_autoptr (GError) error = NULL;
  GSubprocess *proc = berth_api_spawn (api, args, &error);
  if (proc == NULL)
    {
      if (free_data)
        free_data (data);
      berth_api_reply_message (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "%s", error->message);
      return;
    }
  Run *run = g_new0 (Run, 1);
  run->msg = g_object_ref (msg);
  run->done = done;
  run->data = data;
  run->free_data = free_data;
  soup_server_message_pause (msg);
  g_subprocess_communicate_utf8_async (proc, NULL, NULL, run_finished, run);
}

/* A berth process's output as a stream: its stdout and stderr read until
 * both end, each chunk sent on as it comes, framed or raw, to a chunked
 * HTTP body (@msg) or to a connection taken over from HTTP (@conn). */
typedef struct {
  SoupServerMessage *msg;  /* the reply whose body it is, or NULL */
  GIOStream *conn;         /* or a hijacked connection */
  GSubprocess *proc;
  GCancellable *cancel;
  gboolean raw;
  gboolean by_line;        /* a frame a line (logs, as dockerd frames a log record) */
  int open_pipes;
  gulong finished_id;
  BerthApiExited exited;
  gpointer data;
} Stream;

typedef struct {
  Stream *stream;
  GInputStream *pipe;
  guint8 id;   /* Docker's stream number: 1 stdout, 2 stderr */
} StreamPipe;

static void stream_read (StreamPipe *p);

static void
stream_reaped (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Stream *s = user_data;
  GSubprocess *proc = G_SUBPROCESS (source);
  int code = -1;
  if (g_subprocess_wait_finish (proc, result, NULL) && g_subprocess_get_if_exited (proc))
    code = g_subprocess_get_exit_status (proc);
  if (s->exited)
    s->exited (code, s->data);
  if (s->conn)
    {
      g_io_stream_close (s->conn, NULL, NULL);
      g_object_unref (s->conn);
    }
  g_object_unref (s->proc);
  g_object_unref (s->cancel);
  g_free (s);
}

static void
stream_unref_pipe (StreamPipe *p)
{
  Stream *s = p->stream;
  g_free (p);
  if (--s->open_pipes > 0)
    return;
  if (s->msg)
    {
      if (!g_cancellable_is_cancelled (s->cancel))
        {
          soup_message_body_complete (soup_server_message_get_response_body (s->msg));
          soup_server_message_unpause (s->msg);
        }
      g_signal_handler_disconnect (s->msg, s->finished_id);
      g_clear_object (&s->msg);
    }
  /* Gone before its end (the client left): it has no one to tell. */
  if (g_cancellable_is_cancelled (s->cancel))
    g_subprocess_force_exit (s->proc);
  g_subprocess_wait_async (s->proc, NULL, stream_reaped, s);
}

static gboolean stream_send_one (Stream *s, guint8 id, GBytes *bytes);

static gboolean
stream_send (Stream *s, guint8 id, GBytes *bytes)
{
  if (!s->by_line || s->raw)
    return stream_send_one (s, id, bytes);
  gsize len = 0;
  const char *data = g_bytes_get_data (bytes, &len);
  for (gsize start = 0; start < len;)
    {
      const char *nl = memchr (data + start, '\n', len - start);
      gsize end = nl ? (gsize) (nl - data) + 1 : len;
      g_autoptr (GBytes) line = g_bytes_new_from_bytes (bytes, start, end - start);
      if (!stream_send_one (s, id, line))
        return FALSE;
      start = end;
    }
  return TRUE;
}

static gboolean
stream_send_one (Stream *s, guint8 id, GBytes *bytes)
{
  gsize len = g_bytes_get_size (bytes);
  guint8 header[8] = { id, 0, 0, 0, len >> 24, len >> 16, len >> 8, len };
  if (s->msg)
    {
      SoupMessageBody *body = soup_server_message_get_response_body (s->msg);
      if (!s->raw)
        soup_message_body_append (body, SOUP_MEMORY_COPY, header, sizeof header);
      soup_message_body_append_bytes (body, bytes);
      soup_server_message_unpause (s->msg);
      return TRUE;
    }
  /* A hijacked connection is written in order, each chunk whole. */
  GOutputStream *out = g_io_stream_get_output_stream (s->conn);
  return (s->raw || g_output_stream_write_all (out, header, sizeof header, NULL, NULL, NULL))
         && g_output_stream_write_all (out, g_bytes_get_data (bytes, NULL), len, NULL, NULL, NULL);
}

static void
stream_chunk (GObject *source, GAsyncResult *result, gpointer user_data)
{
  StreamPipe *p = user_data;
  Stream *s = p->stream;
  g_autoptr (GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result, NULL);
  if (bytes == NULL || g_bytes_get_size (bytes) == 0 || g_cancellable_is_cancelled (s->cancel))
    {
      stream_unref_pipe (p);
      return;
    }
  if (!stream_send (s, p->id, bytes))
    g_cancellable_cancel (s->cancel);
  stream_read (p);
}

static void
stream_read (StreamPipe *p)
{
  g_input_stream_read_bytes_async (p->pipe, 64 * 1024, G_PRIORITY_DEFAULT, p->stream->cancel,
                                   stream_chunk, p);
}

/* The client hung up (or the reply is done): the reads stop. */
static void
stream_client_gone (SoupServerMessage *msg, gpointer user_data)
{
  Stream *s = user_data;
  g_cancellable_cancel (s->cancel);
}

static void
stream_begin (Stream *s)
{
  GInputStream *pipes[] = { g_subprocess_get_stdout_pipe (s->proc),
                            g_subprocess_get_stderr_pipe (s->proc) };
  s->open_pipes = G_N_ELEMENTS (pipes);
  for (guint i = 0; i < G_N_ELEMENTS (pipes); i++)
    {
      StreamPipe *p = g_new0 (StreamPipe, 1);
      p->stream = s;
      p->pipe = pipes[i];
      p->id = i + 1;
      stream_read (p);
    }
}

void
berth_api_stream_berth (BerthApi *api, SoupServerMessage *msg, const char *const *args,
                        gboolean raw)
{
  g_autoptr (GError) error = NULL;
  GSubprocess *proc = berth_api_spawn (api, args, &error);
  if (proc == NULL)
    {
      berth_api_reply_message (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "%s", error->message);
      return;
    }
  Stream *s = g_new0 (Stream, 1);
  s->msg = g_object_ref (msg);
  s->proc = proc;
  s->cancel = g_cancellable_new ();
  s->raw = raw;
  s->by_line = TRUE;
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);
  soup_message_headers_set_content_type (headers, raw ? "application/vnd.docker.raw-stream"
                                                      : "application/vnd.docker.multiplexed-stream",
                                         NULL);
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  s->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (stream_client_gone), s);
  stream_begin (s);
}

gboolean
berth_api_pipe_berth (BerthApi *api, GIOStream *conn, const char *const *args, gboolean raw,
                      BerthApiExited exited, gpointer data, GError **error)
{
  GSubprocess *proc = berth_api_spawn (api, args, error);
  if (proc == NULL)
    return FALSE;
  Stream *s = g_new0 (Stream, 1);
  s->conn = g_object_ref (conn);
  s->proc = proc;
  s->cancel = g_cancellable_new ();
  s->raw = raw;
  s->exited = exited;
  s->data = data;
  stream_begin (s);
  return TRUE;
}

/* ---- routes ---- */

typedef struct {
  const char *method;
  const char *pattern;   /* "*": one path segment; "**": one or more (image names) */
  BerthApiHandler handler;
} Route;

static const Route routes[] = {
  { "GET", "/_ping", berth_api_ping },
  { "HEAD", "/_ping", berth_api_ping },
  { "GET", "/version", berth_api_version },
  { "GET", "/info", berth_api_info },
  { "GET", "/containers/json", berth_api_containers_list },
  { "POST", "/containers/create", berth_api_containers_create },
  { "GET", "/containers/*/json", berth_api_containers_inspect },
  { "POST", "/containers/*/start", berth_api_containers_start },
  { "POST", "/containers/*/stop", berth_api_containers_stop },
  { "POST", "/containers/*/restart", berth_api_containers_restart },
  { "POST", "/containers/*/kill", berth_api_containers_kill },
  { "POST", "/containers/*/wait", berth_api_containers_wait },
  { "POST", "/containers/*/attach", berth_api_containers_attach },
  { "POST", "/containers/*/exec", berth_api_exec_create },
  { "POST", "/exec/*/start", berth_api_exec_start },
  { "GET", "/exec/*/json", berth_api_exec_inspect },
  { "GET", "/containers/*/logs", berth_api_containers_logs },
  { "DELETE", "/containers/*", berth_api_containers_remove },
  { "GET", "/networks", berth_api_networks_list },
  { "POST", "/networks/create", berth_api_networks_create },
  { "GET", "/networks/*", berth_api_networks_inspect },
  { "DELETE", "/networks/*", berth_api_networks_remove },
  { "POST", "/networks/*/connect", berth_api_networks_connect },
  { "POST", "/networks/*/disconnect", berth_api_networks_disconnect },
  { "GET", "/volumes", berth_api_volumes_list },
  { "POST", "/volumes/create", berth_api_volumes_create },
  { "GET", "/volumes/*", berth_api_volumes_inspect },
  { "DELETE", "/volumes/*", berth_api_volumes_remove },
  { "GET", "/images/json", berth_api_images_list },
  { "POST", "/images/create", berth_api_images_create },
  { "GET", "/images/**/json", berth_api_images_inspect },
  { "DELETE", "/images/**", berth_api_images_remove },
};

/* Does @path match @pattern? The "*" part is returned in @arg. */
static gboolean
route_matches (const char *pattern, const char *path, char **arg)
{
  const char *star = strchr (pattern, '*');
  if (star == NULL)
    return strcmp (pattern, path) == 0;
  gsize prefix = star - pattern;
  gboolean many = star[1] == '*';
  const char *suffix = star + (many ? 2 : 1);
  gsize path_len = strlen (path), suffix_len = strlen (suffix);
  if (strncmp (pattern, path, prefix) != 0 || path_len < prefix + suffix_len + 1
      || strcmp (path + path_len - suffix_len, suffix) != 0)
    return FALSE;
  g_autofree char *middle = g_strndup (path + prefix, path_len - prefix - suffix_len);
  if (!many && strchr (middle, '/'))
    return FALSE;
  *arg = g_steal_pointer (&middle);
  return TRUE;
}

/* "/v1.41/containers/json" is "/containers/json" (clients name the version
 * they speak; every one from the minimum up is served alike). */
static const char *
unversioned (const char *path)
{
  if (path[0] != '/' || path[1] != 'v' || !g_ascii_isdigit (path[2]))
    return path;
  const char *rest = strchr (path + 1, '/');
  return rest ? rest : "/";
}

static void
dispatch (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
          gpointer user_data)
{
  BerthApi *api = user_data;
  const char *method = soup_server_message_get_method (msg);
  const char *p = unversioned (path);
  if (api->debug)
    fprintf (stderr, "berth serve: %s %s\n", method, path);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (headers, "Api-Version", BERTH_API_VERSION);
  soup_message_headers_replace (headers, "Server", "berth/" PACKAGE_VERSION);
  soup_message_headers_replace (headers, "Ostype", "linux");
  gboolean path_known = FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (routes); i++)
    {
      g_autofree char *arg = NULL;
      if (!route_matches (routes[i].pattern, p, &arg))
        continue;
      path_known = TRUE;
      if (strcmp (routes[i].method, method) != 0)
        continue;
      routes[i].handler (api, msg, arg, query);
      return;
    }
  if (path_known)
    berth_api_reply_message (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "%s %s: not supported by "
                             "berth serve", method, p);
  else
    berth_api_reply_message (msg, SOUP_STATUS_NOT_FOUND, "%s %s: not supported by berth serve "
                             "(docs/engine-api.md lists what is)", method, p);
}

/* ---- the socket and the main loop ---- */

/* A socket left by a server that died is replaced; one a live server
 * answers on is not. */
static GSocket *
listen_unix (const char *path, GError **error)
{
  g_autoptr (GSocket) sock = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                           G_SOCKET_PROTOCOL_DEFAULT, error);
  if (sock == NULL)
    return NULL;
  g_autoptr (GSocketAddress) addr = g_unix_socket_address_new (path);
  struct stat st;
  if (lstat (path, &st) == 0)
    {
      if (!S_ISSOCK (st.st_mode))
        return berth_fail (error, BERTH_ERROR_EXISTS, "%s: exists and is not a socket", path),
               NULL;
      g_autoptr (GSocket) probe = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_DEFAULT, NULL);
      if (probe && g_socket_connect (probe, addr, NULL, NULL))
        return berth_fail (error, BERTH_ERROR_BUSY, "%s: a server is listening there already",
                           path), NULL;
      if (unlink (path) < 0)
        return berth_fail_errno (error, errno, "unlink %s (a stale socket)", path), NULL;
    }
  g_autofree char *dir = g_path_get_dirname (path);
  if (g_mkdir_with_parents (dir, 0755) < 0)
    return berth_fail_errno (error, errno, "mkdir %s", dir), NULL;
  /* Like docker.sock: root's alone unless the operator says otherwise. */
  mode_t old = umask (0177);
  gboolean bound = g_socket_bind (sock, addr, FALSE, error);
  umask (old);
  if (!bound || !g_socket_listen (sock, error))
    return NULL;
  return g_steal_pointer (&sock);
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

/* Beside this program, else on $PATH. */
static char *
find_berth (void)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = self ? g_path_get_dirname (self) : NULL;
  g_autofree char *beside = dir ? g_build_filename (dir, "berth", NULL) : NULL;
  if (beside && access (beside, X_OK) == 0)
    return g_steal_pointer (&beside);
  char *found = g_find_program_in_path ("berth");
  return found ? found : g_strdup ("berth");
}

int
main (int argc, char **argv)
{
  g_autofree char *host = NULL, *root = NULL, *driver = NULL, *berth = NULL;
  gboolean debug = FALSE;
  const GOptionEntry entries[] = {
    { "host", 'H', 0, G_OPTION_ARG_STRING, &host, "Where to listen (default "
      "unix:///run/berth.sock)", "unix://PATH" },
    { "root", 0, 0, G_OPTION_ARG_FILENAME, &root, "The store (default " BERTH_DEFAULT_ROOT ")",
      "DIR" },
    { "storage-driver", 0, 0, G_OPTION_ARG_STRING, &driver, "Storage driver for new containers",
      "D" },
    { "debug", 'D', 0, G_OPTION_ARG_NONE, &debug, "Each request on stderr", NULL },
    { "berth", 0, 0, G_OPTION_ARG_FILENAME, &berth, "The berth program to run (default: the one "
      "beside berth-serve)", "PATH" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- Docker's Engine API for berth");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc > 1)
    {
      fprintf (stderr, "berth serve: %s\n", error ? error->message : "no operands are taken");
      return 2;
    }
  const char *where = host ? host : "unix:///run/berth.sock";
  if (!g_str_has_prefix (where, "unix://") || where[strlen ("unix://")] != '/')
    {
      fprintf (stderr, "berth serve: --host %s: only unix:///ABSOLUTE/PATH is served (a TCP "
               "socket would hand root to the network)\n", where);
      return 2;
    }
  const char *socket_path = where + strlen ("unix://");
  BerthApi api = { .root = root ? root : (char *) (g_getenv ("BERTH_ROOT") ? g_getenv ("BERTH_ROOT")
                                                                         : BERTH_DEFAULT_ROOT),
                   .driver = driver, .berth = berth ? berth : find_berth (), .debug = debug,
                   .attached = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                      (GDestroyNotify) berth_api_attach_free),
                   .execs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                   (GDestroyNotify) berth_api_exec_free) };
  /* The store must open before clients are told it is there. */
  g_autoptr (BerthStore) store = berth_store_open (api.root, api.driver, &error);
  if (store == NULL)
    {
      fprintf (stderr, "berth serve: %s\n", error->message);
      return 1;
    }
  g_clear_pointer (&store, berth_store_close);
  g_autoptr (GSocket) sock = listen_unix (socket_path, &error);
  g_autoptr (SoupServer) server = sock ? soup_server_new ("server-header", "berth", NULL) : NULL;
  if (sock == NULL || !soup_server_listen_socket (server, sock, 0, &error))
    {
      fprintf (stderr, "berth serve: %s: %s\n", socket_path, error->message);
      return 1;
    }
  soup_server_add_handler (server, NULL, dispatch, &api, NULL);
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, quit_loop, loop);
  g_unix_signal_add (SIGTERM, quit_loop, loop);
  fprintf (stderr, "berth serve: API %s on unix://%s, store %s\n", BERTH_API_VERSION,
           socket_path, api.root);
  g_main_loop_run (loop);
  soup_server_disconnect (server);
  if (unlink (socket_path) < 0 && errno != ENOENT)
    fprintf (stderr, "berth serve: unlink %s: %s\n", socket_path, g_strerror (errno));
  if (api.berth != berth)
    g_free (api.berth);
  g_hash_table_destroy (api.attached);
  g_hash_table_destroy (api.execs);
  return 0;
}
