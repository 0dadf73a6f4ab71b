/* Exec instances: POST /containers/ID/exec records one (in the server's
 * memory, as dockerd keeps them), POST /exec/ID/start runs `berth exec`
 * with its output on the connection taken over from HTTP (101, as attach)
 * or, detached, in the background; GET /exec/ID/json says whether it runs
 * and its exit code. Input (AttachStdin) is not relayed. */
#include "config.h"
#include "api.h"
#include <berth/error.h>
#include <berth/json.h>
#include <string.h>

struct BerthApiExec {
  BerthApi *api;
  char *id;
  char *container;   /* the container's id */
  char **argv;       /* berth exec's arguments: options, the container, the command */
  gboolean tty;
  gboolean running;
  int exit_code;     /* once it has run; -1 before */
};

void
berth_api_exec_free (BerthApiExec *e)
{
  g_free (e->id);
  g_free (e->container);
  g_strfreev (e->argv);
  g_free (e);
}

/* A random id, as Docker's exec ids: 64 hex. */
static char *
new_exec_id (void)
{
  GString *id = g_string_new (NULL);
  for (int i = 0; i < 8; i++)
    g_string_append_printf (id, "%08x", g_random_int ());
  return g_string_free (id, FALSE);
}

void
berth_api_exec_create (BerthApi *api, SoupServerMessage *msg, const char *arg, GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = berth_api_request_json (msg, &error);
  JsonObject *o = body ? berth_json_node_object (body) : NULL;
  g_auto (GStrv) cmd = o ? berth_json_strv (o, "Cmd") : NULL;
  if (o && (cmd == NULL || cmd[0] == NULL))
    berth_fail (&error, BERTH_ERROR_INVALID, "Cmd: an exec needs a command");
  g_autoptr (BerthStore) store = error ? NULL : berth_api_open_store (api, FALSE, &error);
  g_autoptr (BerthContainer) c = store ? berth_container_lookup (store, arg, &error) : NULL;
  g_autoptr (BerthContainerState) s = c ? berth_container_state (store, c, &error) : NULL;
  if (s == NULL)
    {
      if (g_error_matches (error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND) && o && cmd && cmd[0])
        berth_api_reply_message (msg, SOUP_STATUS_NOT_FOUND, "No such container: %s", arg);
      else
        berth_api_reply_error (msg, error);
      return;
    }
  if (!berth_container_state_is_live (s))
    {
      berth_api_reply_message (msg, SOUP_STATUS_CONFLICT, "Container %s is not running", arg);
      return;
    }
  GStrvBuilder *b = g_strv_builder_new ();
  g_strv_builder_add (b, "exec");
  gboolean tty = berth_json_bool (o, "Tty", FALSE);
  if (tty)
    g_strv_builder_add (b, "--tty");
  g_auto (GStrv) env = berth_json_strv (o, "Env");
  for (char **e = env; e && *e; e++)
    g_strv_builder_add_many (b, "--env", *e, NULL);
  const char *user = berth_json_string (o, "User", "");
  if (*user)
    g_strv_builder_add_many (b, "--user", user, NULL);
  const char *workdir = berth_json_string (o, "WorkingDir", "");
  if (*workdir)
    g_strv_builder_add_many (b, "--workdir", workdir, NULL);
  g_strv_builder_add (b, c->id);
  g_strv_builder_addv (b, (const char **) cmd);
  BerthApiExec *e = g_new0 (BerthApiExec, 1);
  e->api = api;
  e->id = new_exec_id ();
  e->container = g_strdup (c->id);
  e->argv = g_strv_builder_end (b);
  e->tty = tty;
  e->exit_code = -1;
  g_strv_builder_unref (b);
  g_hash_table_insert (api->execs, e->id, e);
  g_autoptr (JsonObject) out = json_object_new ();
  json_object_set_string_member (out, "Id", e->id);
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), g_steal_pointer (&out));
  berth_api_reply_json (msg, SOUP_STATUS_CREATED, node);
}

static BerthApiExec *
find_exec (BerthApi *api, SoupServerMessage *msg, const char *id)
{
  BerthApiExec *e = g_hash_table_lookup (api->execs, id);
  if (e == NULL)
    berth_api_reply_message (msg, SOUP_STATUS_NOT_FOUND, "No such exec instance: %s", id);
  return e;
}

static void
exec_exited (int status, gpointer data)
{
  BerthApiExec *e = data;
  e->running = FALSE;
  e->exit_code = status < 0 ? 137 : status;
}

static void
exec_reaped (GObject *source, GAsyncResult *result, gpointer data)
{
  GSubprocess *proc = G_SUBPROCESS (source);
  int status = -1;
  if (g_subprocess_wait_finish (proc, result, NULL) && g_subprocess_get_if_exited (proc))
    status = g_subprocess_get_exit_status (proc);
  exec_exited (status, data);
  g_object_unref (proc);
}

static void
exec_take_connection (SoupServerMessage *msg, gpointer data)
{
  BerthApiExec *e = data;
  g_autoptr (GIOStream) conn = soup_server_message_steal_connection (msg);
  g_autoptr (GError) error = NULL;
  if (!berth_api_pipe_berth (e->api, conn, (const char *const *) e->argv, e->tty, exec_exited, e,
                             &error))
    {
      exec_exited (126, e);
      g_io_stream_close (conn, NULL, NULL);
    }
}

void
berth_api_exec_start (BerthApi *api, SoupServerMessage *msg, const char *arg, GHashTable *query)
{
  BerthApiExec *e = find_exec (api, msg, arg);
  if (e == NULL)
    return;
  if (e->running || e->exit_code >= 0)
    {
      berth_api_reply_message (msg, SOUP_STATUS_CONFLICT, "exec %s has run already", arg);
      return;
    }
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) body = berth_api_request_json (msg, &error);
  if (body == NULL)
    {
      berth_api_reply_error (msg, error);
      return;
    }
  e->running = TRUE;
  if (berth_json_bool (berth_json_node_object (body), "Detach", FALSE))
    {
      GSubprocess *proc = berth_api_spawn (api, (const char *const *) e->argv, &error);
      if (proc == NULL)
        {
          e->running = FALSE;
          berth_api_reply_error (msg, error);
          return;
        }
      g_subprocess_wait_async (proc, NULL, exec_reaped, e);
      berth_api_reply_empty (msg, SOUP_STATUS_OK);
      return;
    }
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (headers, "Connection", "Upgrade");
  soup_message_headers_replace (headers, "Upgrade", "tcp");
  soup_message_headers_set_content_type (headers, e->tty ? "application/vnd.docker.raw-stream"
                                                         : "application/vnd.docker.multiplexed-stream",
                                         NULL);
  soup_server_message_set_status (msg, SOUP_STATUS_SWITCHING_PROTOCOLS, NULL);
  g_signal_connect (msg, "wrote-informational", G_CALLBACK (exec_take_connection), e);
}

void
berth_api_exec_inspect (BerthApi *api, SoupServerMessage *msg, const char *arg, GHashTable *query)
{
  BerthApiExec *e = find_exec (api, msg, arg);
  if (e == NULL)
    return;
  g_autoptr (JsonObject) o = json_object_new ();
  json_object_set_string_member (o, "ID", e->id);
  json_object_set_string_member (o, "ContainerID", e->container);
  json_object_set_boolean_member (o, "Running", e->running);
  if (e->exit_code >= 0)
    json_object_set_int_member (o, "ExitCode", e->exit_code);
  else
    json_object_set_null_member (o, "ExitCode");
  json_object_set_boolean_member (o, "OpenStdin", FALSE);
  json_object_set_int_member (o, "Pid", 0);
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), g_steal_pointer (&o));
  berth_api_reply_json (msg, SOUP_STATUS_OK, node);
}
