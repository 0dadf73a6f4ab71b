/* berth-serve: Docker's Engine API (docs/engine-api.md) over HTTP on a unix
 * socket, served by libsoup-3 on the same store as the berth command.
 *
 * Requests that read or change records (list, inspect, create, remove) are
 * answered in this process. Those that start, stop or follow a container's
 * process run the berth command and answer when it ends or as it writes:
 * the monitor a start forks must not be the child of a long-lived threaded
 * server, and a stop may take its whole timeout without holding up the
 * other requests. */
#pragma once
#include <berth/runtime.h>
#include <libsoup/soup.h>

/* The API version advertised: docker 20.10's, which compose and docker-py
 * accept; clients down to 1.24 are served the same documents. */
#define BERTH_API_VERSION "1.41"
#define BERTH_API_MIN_VERSION "1.24"

typedef struct BerthApiAttach BerthApiAttach;
typedef struct BerthApiExec BerthApiExec;
typedef struct {
  char *root;     /* the store */
  char *driver;   /* --storage-driver, or NULL: the store's default */
  char *berth;    /* the berth program run for the process-side requests */
  GHashTable *attached; /* container id -> BerthApiAttach: attached, not yet exited */
  GHashTable *execs;    /* exec id -> BerthApiExec, for the server's life (as dockerd's) */
  gboolean debug;       /* each request on stderr */
} BerthApi;

/* A route's handler: @arg is what the route's "*" matched (a container's
 * id or name, an image's name), or NULL. */
typedef void (*BerthApiHandler) (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                 GHashTable *query);

/* Replies. An error's status follows its code (NOT_FOUND 404, INVALID 400,
 * EXISTS and BUSY 409, the rest 500); the body is Docker's
 * {"message": "..."}. */
void berth_api_reply_json (SoupServerMessage *msg, guint status, JsonNode *node);
void berth_api_reply_error (SoupServerMessage *msg, const GError *error);
void berth_api_reply_message (SoupServerMessage *msg, guint status, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);
void berth_api_reply_empty (SoupServerMessage *msg, guint status);

/* The store, unlocked for the requests that only read. */
BerthStore *berth_api_open_store (BerthApi *api, gboolean write, GError **error);
/* Query parameters: a bool is "1", "true" or "True"; absent is FALSE. */
const char *berth_api_query (GHashTable *query, const char *key);
gboolean berth_api_query_bool (GHashTable *query, const char *key);
/* The request's body as JSON; NULL with INVALID when it is not. An empty
 * body is an empty object. */
JsonNode *berth_api_request_json (SoupServerMessage *msg, GError **error);

/* ?filters={"KEY":["VALUE",...],...}: parse refuses a key not in @keys
 * (INVALID, naming them); match asks @match of each key's values: every
 * label must match, one of another key's values, and every key. */
gboolean berth_api_filters_parse (GHashTable *query, const char *const *keys, JsonNode **out,
                                  GError **error);
typedef gboolean (*BerthApiFilterMatch) (const char *key, const char *value, gpointer item);
gboolean berth_api_filters_match (JsonNode *filters, BerthApiFilterMatch match, gpointer item);
/* @key's values (NULL when it is not there). */
char **berth_api_filter_values (JsonNode *filters, const char *key);
/* A 200 whose JSON body comes later (POST /wait: clients read the headers
 * before they go on, and the body at the exit): begin sends the headers,
 * end the body, unless the client has gone meanwhile. */
void berth_api_begin_late_json (SoupServerMessage *msg);
void berth_api_end_late_json (SoupServerMessage *msg, JsonNode *node);
/* `berth --root ROOT ARGS...`, stdin /dev/null, stdout and stderr piped. */
GSubprocess *berth_api_spawn (BerthApi *api, const char *const *args, GError **error);
/* Run `berth --root ROOT ARGS...` for @msg, which stays paused meanwhile.
 * Exit 0: @done replies from its stdout (NULL @done: 204), or returns
 * FALSE when it has handed @msg to another run. Otherwise the reply is a
 * 500 with the error line it printed. */
typedef gboolean (*BerthApiDone) (SoupServerMessage *msg, const char *out, gpointer data);
void berth_api_run_berth (BerthApi *api, SoupServerMessage *msg, const char *const *args,
                          BerthApiDone done, gpointer data, GDestroyNotify free_data);
/* Stream `berth --root ROOT ARGS...`'s stdout and stderr as the response
 * body as they come: each chunk framed as Docker's multiplexed stream
 * (8-byte header: stream 1 or 2, then the length), or raw for a terminal's
 * output (@raw). The process is killed if the client goes away. */
void berth_api_stream_berth (BerthApi *api, SoupServerMessage *msg, const char *const *args,
                             gboolean raw);
/* The same onto a connection taken over from HTTP (attach's), closed
 * when the process has exited and @exited (may be NULL) has been told its
 * exit status (-1: killed). */
typedef void (*BerthApiExited) (int status, gpointer data);
gboolean berth_api_pipe_berth (BerthApi *api, GIOStream *conn, const char *const *args,
                               gboolean raw, BerthApiExited exited, gpointer data,
                               GError **error);

void berth_api_ping (BerthApi *api, SoupServerMessage *msg, const char *arg, GHashTable *query);
void berth_api_version (BerthApi *api, SoupServerMessage *msg, const char *arg, GHashTable *query);
void berth_api_info (BerthApi *api, SoupServerMessage *msg, const char *arg, GHashTable *query);
void berth_api_containers_list (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                GHashTable *query);
void berth_api_containers_create (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                  GHashTable *query);
void berth_api_containers_inspect (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                   GHashTable *query);
void berth_api_containers_start (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                 GHashTable *query);
void berth_api_containers_stop (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                GHashTable *query);
void berth_api_containers_restart (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                   GHashTable *query);
void berth_api_containers_kill (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                GHashTable *query);
void berth_api_containers_wait (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                GHashTable *query);
void berth_api_containers_logs (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                GHashTable *query);
void berth_api_containers_remove (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                  GHashTable *query);
void berth_api_containers_attach (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                  GHashTable *query);
void berth_api_attach_free (BerthApiAttach *a);
/* A client is attached to container @id and waits for its start: POST
 * /wait is answered with the attached start's exit status (TRUE: @msg is
 * taken), POST /start runs it (TRUE: @msg is answered). */
gboolean berth_api_attach_wait (BerthApi *api, SoupServerMessage *msg, const char *id);
/* Docker's wait answer: {"StatusCode": N, "Error": null or {"Message"}}. */
JsonNode *berth_api_wait_result (int status, const char *error);
gboolean berth_api_attach_start (BerthApi *api, SoupServerMessage *msg, const char *id);
void berth_api_volumes_list (BerthApi *api, SoupServerMessage *msg, const char *arg,
                             GHashTable *query);
void berth_api_volumes_create (BerthApi *api, SoupServerMessage *msg, const char *arg,
                               GHashTable *query);
void berth_api_volumes_inspect (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                GHashTable *query);
void berth_api_volumes_remove (BerthApi *api, SoupServerMessage *msg, const char *arg,
                               GHashTable *query);
void berth_api_networks_list (BerthApi *api, SoupServerMessage *msg, const char *arg,
                              GHashTable *query);
void berth_api_networks_inspect (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                 GHashTable *query);
void berth_api_networks_create (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                GHashTable *query);
void berth_api_networks_remove (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                GHashTable *query);
void berth_api_networks_connect (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                 GHashTable *query);
void berth_api_networks_disconnect (BerthApi *api, SoupServerMessage *msg, const char *arg,
                                    GHashTable *query);
void berth_api_exec_free (BerthApiExec *e);
void berth_api_exec_create (BerthApi *api, SoupServerMessage *msg, const char *arg,
                            GHashTable *query);
void berth_api_exec_start (BerthApi *api, SoupServerMessage *msg, const char *arg,
                           GHashTable *query);
void berth_api_exec_inspect (BerthApi *api, SoupServerMessage *msg, const char *arg,
                             GHashTable *query);
void berth_api_images_list (BerthApi *api, SoupServerMessage *msg, const char *arg,
                            GHashTable *query);
void berth_api_images_inspect (BerthApi *api, SoupServerMessage *msg, const char *arg,
                               GHashTable *query);
void berth_api_images_create (BerthApi *api, SoupServerMessage *msg, const char *arg,
                              GHashTable *query);
void berth_api_images_remove (BerthApi *api, SoupServerMessage *msg, const char *arg,
                              GHashTable *query);
