/* POST /containers/ID/attach: the container's output on the client's
 * connection, taken over from HTTP (101, Upgrade: tcp), framed as Docker's
 * multiplexed stream (raw with a terminal). Input (stdin=1) is not relayed.
 *
 * docker run and docker start -a attach before they start: the attachment
 * waits in BerthApi's table until POST /start, which then runs `berth start
 * --attach`, whose output is the stream and whose exit status answers the
 * waits the client made meanwhile (condition next-exit or removed). Output
 * is never lost, even of a container that exits at once and is removed:
 * berth start --attach has it from the monitor, not from the log. A
 * container that runs already is followed in its log from now. */
#include "config.h"
#include "api.h"
#include <berth/error.h>
#include <berth/json.h>
#include <string.h>

struct BerthApiAttach {
  BerthApi *api;
  char *id;
  GIOStream *conn;      /* once the 101 is written */
  gboolean raw;         /* the container has a terminal */
  gboolean started;     /* its berth start --attach runs */
  GPtrArray *waiters;   /* paused POST /wait requests */
};

void
berth_api_attach_free (BerthApiAttach *a)
{
  g_autofree char *why = g_strdup_printf ("the attached start of %s was abandoned", a->id);
  g_autoptr (JsonNode) node = berth_api_wait_result (-1, why);
  for (guint i = 0; i < a->waiters->len; i++)
    berth_api_end_late_json (a->waiters->pdata[i], node);
  g_ptr_array_unref (a->waiters);
  g_clear_object (&a->conn);
  g_free (a->id);
  g_free (a);
}

/* The attach's exit status answers every wait. */
static void
attached_exited (int status, gpointer data)
{
  BerthApiAttach *a = data;
  g_autoptr (JsonNode) node = berth_api_wait_result (status < 0 ? 137 : status, NULL);
  for (guint i = 0; i < a->waiters->len; i++)
    berth_api_end_late_json (a->waiters->pdata[i], node);
  g_ptr_array_set_size (a->waiters, 0);
  g_hash_table_remove (a->api->attached, a->id);
}

/* An attachment waiting for its start takes the connection over. */
static void
take_connection (SoupServerMessage *msg, gpointer data)
{
  BerthApiAttach *a = data;
  a->conn = soup_server_message_steal_connection (msg);
}

/* An attachment to a running container follows its log from now. */
typedef struct {
  BerthApi *api;
  char *id;
  char *since;
  gboolean raw;
} Follow;

static void
follow_running (SoupServerMessage *msg, gpointer data)
{
  Follow *f = data;
  g_autoptr (GIOStream) conn = soup_server_message_steal_connection (msg);
  const char *args[] = { "logs", "--follow", "--since", f->since, f->id, NULL };
  g_autoptr (GError) error = NULL;
  if (!berth_api_pipe_berth (f->api, conn, args, f->raw, NULL, NULL, &error))
    g_io_stream_close (conn, NULL, NULL);
  g_free (f->id);
  g_free (f->since);
  g_free (f);
}

void
berth_api_containers_attach (BerthApi *api, SoupServerMessage *msg, const char *arg,
                             GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = berth_api_open_store (api, FALSE, &error);
  g_autoptr (BerthContainer) c = store ? berth_container_lookup (store, arg, &error) : NULL;
  g_autoptr (BerthContainerState) s = c ? berth_container_state (store, c, &error) : NULL;
  g_autoptr (JsonNode) spec = s ? berth_container_spec (store, c, &error) : NULL;
  if (spec == NULL)
    {
      if (g_error_matches (error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
        berth_api_reply_message (msg, SOUP_STATUS_NOT_FOUND, "No such container: %s", arg);
      else
        berth_api_reply_error (msg, error);
      return;
    }
  if (g_hash_table_contains (api->attached, c->id))
    {
      berth_api_reply_message (msg, SOUP_STATUS_CONFLICT, "%s: another client is attached "
                               "already (berth serve relays one attachment a start)", arg);
      return;
    }
  gboolean raw = berth_json_bool (berth_json_object (berth_json_node_object (spec), "process"),
                                  "terminal", FALSE);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (headers, "Connection", "Upgrade");
  soup_message_headers_replace (headers, "Upgrade", "tcp");
  soup_message_headers_set_content_type (headers, raw ? "application/vnd.docker.raw-stream"
                                                      : "application/vnd.docker.multiplexed-stream",
                                         NULL);
  soup_server_message_set_status (msg, SOUP_STATUS_SWITCHING_PROTOCOLS, NULL);
  if (berth_container_state_is_live (s))
    {
      Follow *f = g_new0 (Follow, 1);
      f->api = api;
      f->id = g_strdup (c->id);
      g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
      f->since = g_date_time_format_iso8601 (now);
      f->raw = raw;
      g_signal_connect (msg, "wrote-informational", G_CALLBACK (follow_running), f);
      return;
    }
  BerthApiAttach *a = g_new0 (BerthApiAttach, 1);
  a->api = api;
  a->id = g_strdup (c->id);
  a->raw = raw;
  a->waiters = g_ptr_array_new ();
  g_hash_table_insert (api->attached, a->id, a);
  g_signal_connect (msg, "wrote-informational", G_CALLBACK (take_connection), a);
}

gboolean
berth_api_attach_wait (BerthApi *api, SoupServerMessage *msg, const char *id)
{
  BerthApiAttach *a = g_hash_table_lookup (api->attached, id);
  if (a == NULL)
    return FALSE;
  berth_api_begin_late_json (msg);
  g_ptr_array_add (a->waiters, msg);
  return TRUE;
}

gboolean
berth_api_attach_start (BerthApi *api, SoupServerMessage *msg, const char *id)
{
  BerthApiAttach *a = g_hash_table_lookup (api->attached, id);
  if (a == NULL || a->conn == NULL || a->started)
    return FALSE;
  const char *args[] = { "start", "--attach", a->id, NULL };
  g_autoptr (GError) error = NULL;
  if (!berth_api_pipe_berth (api, a->conn, args, a->raw, attached_exited, a, &error))
    {
      berth_api_reply_error (msg, error);
      g_hash_table_remove (api->attached, id);
      return TRUE;
    }
  a->started = TRUE;
  berth_api_reply_empty (msg, SOUP_STATUS_NO_CONTENT);
  return TRUE;
}
