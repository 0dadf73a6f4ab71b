/* berth bench's network phases (include/berth/bench-net.h). Each mode is
 * measured as a user would meet it: `berth run` with --network MODE, the
 * probe bound into busybox at /probe, the server found through `berth
 * inspect`'s NetworkSettings. Only the transfer is timed, by the probe,
 * so a container's start is not counted in a throughput. */
#include "config.h"
#include <berth/bench-net.h>
#include <berth/error.h>
#include <berth/family.h>
#include <berth/host.h>
#include <berth/json.h>
#include <berth/network.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROBE_NAME "berth-net-probe"
#define PROBE_PORT "5201"

const char *const berth_bench_net_modes[] = { "loopback", "none", "bridge", "host", NULL };

char *
berth_bench_net_probe_path (const char *berth_exe, GError **error)
{
  const char *env = g_getenv ("BERTH_NET_PROBE");
  if (env && *env)
    return g_strdup (env);
  g_autofree char *dir = berth_exe ? g_path_get_dirname (berth_exe) : NULL;
  char *beside = dir ? g_build_filename (dir, PROBE_NAME, NULL) : NULL;
  if (beside && access (beside, X_OK) == 0)
    return beside;
  g_free (beside);
  g_autofree char *installed = g_build_filename (BERTH_HELPER_DIR, PROBE_NAME, NULL);
  if (access (installed, X_OK) == 0)
    return g_steal_pointer (&installed);
  return berth_fail (error, BERTH_ERROR_NOT_FOUND, "%s: not beside %s nor in %s",
                     PROBE_NAME, berth_exe ? berth_exe : "berth", BERTH_HELPER_DIR), NULL;
}

char *
berth_bench_net_unavailable (const char *mode)
{
  if (strcmp (mode, "bridge") != 0)
    return NULL;
  g_autoptr (GError) error = NULL;
  const BerthNetworkOps *ops = berth_network_driver_lookup ("bridge", &error);
  if (ops && berth_network_probe (ops, &error))
    return NULL;
  return g_strdup (error->message);
}

static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The caller blocks the stop signals (bench.h); a program it starts
 * must not inherit that, or a container would ignore its SIGTERM. */
static void
unblock_signals (gpointer data)
{
  (void) data;
  sigset_t none;
  sigemptyset (&none);
  sigprocmask (SIG_SETMASK, &none, NULL);
}

gboolean
berth_bench_command (const char *const *argv, char **out, char **err_out, GError **error)
{
  g_autofree char *stdout_text = NULL, *err = NULL;
  int status = 0;
  g_autoptr (GError) local = NULL;
  GSpawnFlags flags = G_SPAWN_SEARCH_PATH | (out ? 0 : G_SPAWN_STDOUT_TO_DEV_NULL);
  if (!g_spawn_sync (NULL, (char **) argv, NULL, flags, unblock_signals, NULL,
                     out ? &stdout_text : NULL, &err, &status, &local))
    return berth_fail (error, BERTH_ERROR_FAILED, "%s: %s", argv[0], local->message);
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_strstrip (err);
      err[strcspn (err, "\n")] = '\0';
      return berth_fail (error, BERTH_ERROR_FAILED, "%s failed: %s", argv[0],
                         *err ? err : "no message");
    }
  if (out)
    *out = g_strstrip (g_steal_pointer (&stdout_text));
  if (err_out)
    *err_out = g_steal_pointer (&err);
  return TRUE;
}

/* Run @argv; its stdout in *@out (stripped) when @out is given. */
static gboolean
run (const char *const *argv, char **out, GError **error)
{
  return berth_bench_command (argv, out, NULL, error);
}

/* A TCP port that is free on the host now. */
static guint
free_port (void)
{
  int sock = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;
  guint port = 0;
  if (sock >= 0 && bind (sock, (struct sockaddr *) &addr, sizeof addr) == 0
      && getsockname (sock, (struct sockaddr *) &addr, &len) == 0)
    port = ntohs (addr.sin_port);
  if (sock >= 0)
    close (sock);
  return port;
}

/* The probe serving on the host, until berth_bench_net_run kills it. */
static GPid
host_server (const BerthBenchNet *n, guint port, GError **error)
{
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  const char *argv[] = { n->probe, "serve", port_text, NULL };
  GPid pid = 0;
  g_autoptr (GError) local = NULL;
  if (!g_spawn_async (NULL, (char **) argv, NULL,
                      G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL, unblock_signals,
                      NULL, &pid, &local))
    return berth_fail (error, BERTH_ERROR_FAILED, "%s serve: %s", n->probe, local->message), 0;
  return pid;
}

static void
host_server_stop (GPid pid)
{
  if (pid <= 0)
    return;
  kill (pid, SIGKILL);
  while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
    ;
  g_spawn_close_pid (pid);
}

typedef struct {
  const BerthBenchNet *n;
  const char *mode;
  BerthBenchNetRecord record;
  gpointer data;
} Run;

static void
record_value (Run *r, const char *phase, double value)
{
  r->record (phase, r->mode, value, NULL, r->data);
}

static void
record_error (Run *r, const char *phase, const GError *error)
{
  r->record (phase, r->mode, 0, error, r->data);
}

/* A figure the probe printed, recorded under @phase; FALSE when the
 * command failed (recorded as @phase's failure). */
static gboolean
measure (Run *r, const char *phase, const char *const *argv)
{
  g_autofree char *out = NULL;
  g_autoptr (GError) error = NULL;
  if (!run (argv, &out, &error))
    return record_error (r, phase, error), FALSE;
  char *end = NULL;
  double value = g_ascii_strtod (out, &end);
  if (end == out)
    {
      berth_fail (&error, BERTH_ERROR_FAILED, "%s printed '%s', not a figure", argv[0], out);
      return record_error (r, phase, error), FALSE;
    }
  record_value (r, phase, value);
  return TRUE;
}

/* `berth run --rm --network MODE -v PROBE:/probe:ro busybox /probe ARGS`. */
static gboolean
measure_in_container (Run *r, const char *phase, const char *const *probe_args)
{
  g_autofree char *volume = g_strdup_printf ("%s:/probe:ro", r->n->probe);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const char *head[] = { r->n->berth_exe, "--root", r->n->root, "run", "--rm", "--network",
                         r->mode, "-v", volume, "busybox", "/probe" };
  for (guint i = 0; i < G_N_ELEMENTS (head); i++)
    g_ptr_array_add (argv, (gpointer) head[i]);
  for (const char *const *a = probe_args; *a; a++)
    g_ptr_array_add (argv, (gpointer) *a);
  g_ptr_array_add (argv, NULL);
  return measure (r, phase, (const char *const *) argv->pdata);
}

static void
measure_start (Run *r)
{
  const char *argv[] = { r->n->berth_exe, "--root", r->n->root, "run", "--rm", "--network",
                         r->mode, "busybox", "/bin/true", NULL };
  g_autoptr (GError) error = NULL;
  double t0 = now_ms ();
  if (run (argv, NULL, &error))
    record_value (r, "net-start", now_ms () - t0);
  else
    record_error (r, "net-start", error);
}

/* The floor: the probe talking to itself over the host's 127.0.0.1. */
static void
run_loopback (Run *r)
{
  guint port = free_port ();
  g_autofree char *port_text = g_strdup_printf ("%u", port);
  g_autofree char *mib = g_strdup_printf ("%u", r->n->stream_mib);
  g_autofree char *count = g_strdup_printf ("%u", r->n->rtt_count);
  g_autoptr (GError) error = NULL;
  GPid server = host_server (r->n, port, &error);
  const char *phases[] = { "net-c2c-stream", "net-c2h-stream", "net-publish-stream" };
  if (server == 0)
    {
      for (guint i = 0; i < G_N_ELEMENTS (phases); i++)
        record_error (r, phases[i], error);
      record_error (r, "net-c2c-rtt", error);
      return;
    }
  const char *stream[] = { r->n->probe, "stream", "127.0.0.1", port_text, mib, NULL };
  for (guint i = 0; i < G_N_ELEMENTS (phases); i++)
    measure (r, phases[i], stream);
  const char *rtt[] = { r->n->probe, "rtt", "127.0.0.1", port_text, count, NULL };
  measure (r, "net-c2c-rtt", rtt);
  host_server_stop (server);
}

/* The server container's address (and the network's gateway) from
 * `berth inspect`, as a user reads them; 127.0.0.1 on the host's
 * network. */
static gboolean
server_addresses (Run *r, const char *id, char **address, char **gateway, GError **error)
{
  if (strcmp (r->mode, "host") == 0)
    {
      *address = g_strdup ("127.0.0.1");
      *gateway = g_strdup ("127.0.0.1");
      return TRUE;
    }
  const char *argv[] = { r->n->berth_exe, "--root", r->n->root, "inspect", id, NULL };
  g_autofree char *out = NULL;
  if (!run (argv, &out, error))
    return FALSE;
  g_autoptr (JsonNode) node = berth_json_parse (out, strlen (out), error);
  if (node == NULL)
    return FALSE;
  JsonArray *all = JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
  JsonObject *settings = all && json_array_get_length (all) == 1
                             ? berth_json_object (berth_json_array_object (all, 0),
                                                  "NetworkSettings")
                             : NULL;
  const char *ip = berth_json_string (settings, "IPAddress", "");
  if (*ip == '\0')
    return berth_fail (error, BERTH_ERROR_FAILED, "berth inspect %s: no IPAddress", id);
  *address = g_strdup (ip);
  *gateway = g_strdup (berth_json_string (settings, "Gateway", ""));
  return TRUE;
}

/* A server container (published on a free host port, on a berth
 * network), and every transfer phase against it. */
static void
run_transfers (Run *r)
{
  const char *phases[] = { "net-c2c-stream", "net-c2h-stream", "net-c2c-rtt",
                           "net-publish-stream" };
  gboolean berth_network = strcmp (r->mode, "host") != 0;
  guint server_port = berth_network ? 5201 : free_port ();
  guint published = free_port (), host_port = free_port ();
  g_autofree char *server_port_text = g_strdup_printf ("%u", server_port);
  g_autofree char *publish = g_strdup_printf ("127.0.0.1:%u:%u", published, server_port);
  g_autofree char *volume = g_strdup_printf ("%s:/probe:ro", r->n->probe);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const char *head[] = { r->n->berth_exe, "--root", r->n->root, "run", "-d", "--network",
                         r->mode, "-v", volume };
  for (guint i = 0; i < G_N_ELEMENTS (head); i++)
    g_ptr_array_add (argv, (gpointer) head[i]);
  if (berth_network)
    {
      g_ptr_array_add (argv, (gpointer) "-p");
      g_ptr_array_add (argv, publish);
    }
  const char *tail[] = { "busybox", "/probe", "serve", server_port_text, NULL };
  for (guint i = 0; i < G_N_ELEMENTS (tail); i++)
    g_ptr_array_add (argv, (gpointer) tail[i]);
  g_autofree char *id = NULL, *address = NULL, *gateway = NULL;
  g_autoptr (GError) error = NULL;
  if (!run ((const char *const *) argv->pdata, &id, &error)
      || !server_addresses (r, id, &address, &gateway, &error))
    {
      for (guint i = 0; i < G_N_ELEMENTS (phases); i++)
        if (berth_network || strcmp (phases[i], "net-publish-stream") != 0)
          record_error (r, phases[i], error);
    }
  else
    {
      g_autofree char *mib = g_strdup_printf ("%u", r->n->stream_mib);
      g_autofree char *count = g_strdup_printf ("%u", r->n->rtt_count);
      const char *c2c[] = { "stream", address, server_port_text, mib, NULL };
      measure_in_container (r, "net-c2c-stream", c2c);
      const char *rtt[] = { "rtt", address, server_port_text, count, NULL };
      measure_in_container (r, "net-c2c-rtt", rtt);
      GPid server = host_server (r->n, host_port, &error);
      g_autofree char *host_port_text = g_strdup_printf ("%u", host_port);
      const char *c2h[] = { "stream", gateway, host_port_text, mib, NULL };
      if (server)
        measure_in_container (r, "net-c2h-stream", c2h);
      else
        record_error (r, "net-c2h-stream", error);
      host_server_stop (server);
      g_autofree char *published_text = g_strdup_printf ("%u", published);
      const char *pub[] = { r->n->probe, "stream", "127.0.0.1", published_text, mib, NULL };
      if (berth_network)
        measure (r, "net-publish-stream", pub);
    }
  if (id && *id)
    {
      const char *rm[] = { r->n->berth_exe, "--root", r->n->root, "rm", "-f", id, NULL };
      run (rm, NULL, NULL);
    }
}

void
berth_bench_net_run (const BerthBenchNet *n, const char *mode, BerthBenchNetRecord record,
                     gpointer data)
{
  Run r = { n, mode, record, data };
  if (strcmp (mode, "loopback") == 0)
    {
      run_loopback (&r);
      return;
    }
  measure_start (&r);
  if (strcmp (mode, "none") != 0)
    run_transfers (&r);
}
