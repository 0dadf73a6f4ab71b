/* The commands that act on containers once started: stop, kill, wait, logs,
 * exec, inspect, stats, pause, unpause, top. */
#include "config.h"
#include "cli.h"
#include <berth/error.h>
#include <berth/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static gboolean
stop_one (BerthStore *store, BerthContainer *c, gpointer data, GError **error)
{
  return berth_container_stop (store, c, GPOINTER_TO_INT (data), error);
}

int
berth_cmd_stop (BerthCli *cli, int argc, char **argv)
{
  gint timeout = 10;
  const GOptionEntry entries[] = {
    { "time", 't', 0, G_OPTION_ARG_INT, &timeout, "Seconds to wait before SIGKILL (10)", "SECS" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "CONTAINER...", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc < 2 || timeout < 0)
    return berth_cli_usage ("stop needs a container and a timeout >= 0");
  return berth_cli_for_each_container (cli, argc, argv, stop_one, GINT_TO_POINTER (timeout), TRUE);
}

typedef struct {
  const char *name;
  int number;
} SignalName;

static const SignalName signal_names[] = {
  { "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "KILL", SIGKILL },
  { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "TERM", SIGTERM }, { "CONT", SIGCONT },
  { "STOP", SIGSTOP }, { "ALRM", SIGALRM }, { "WINCH", SIGWINCH }, { "PIPE", SIGPIPE },
};

static int
parse_signal (const char *text)
{
  guint64 n;
  if (g_ascii_string_to_unsigned (text, 10, 1, SIGRTMAX, &n, NULL))
    return n;
  const char *name = g_ascii_strncasecmp (text, "SIG", 3) == 0 ? text + 3 : text;
  for (guint i = 0; i < G_N_ELEMENTS (signal_names); i++)
    if (g_ascii_strcasecmp (signal_names[i].name, name) == 0)
      return signal_names[i].number;
  return -1;
}

static gboolean
kill_one (BerthStore *store, BerthContainer *c, gpointer data, GError **error)
{
  return berth_container_kill (store, c, GPOINTER_TO_INT (data), error);
}

int
berth_cmd_kill (BerthCli *cli, int argc, char **argv)
{
  g_autofree char *sig = NULL;
  const GOptionEntry entries[] = {
    { "signal", 's', 0, G_OPTION_ARG_STRING, &sig, "Signal to send (KILL)", "SIG" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "CONTAINER...", FALSE))
    return BERTH_EXIT_USAGE;
  int signo = sig ? parse_signal (sig) : SIGKILL;
  if (signo < 0)
    return berth_cli_usage ("--signal '%s': not a signal name or number", sig);
  if (argc < 2)
    return berth_cli_usage ("kill needs a container");
  return berth_cli_for_each_container (cli, argc, argv, kill_one, GINT_TO_POINTER (signo), TRUE);
}

static gboolean
pause_one (BerthStore *store, BerthContainer *c, gpointer data, GError **error)
{
  return berth_container_pause (store, c, GPOINTER_TO_INT (data), error);
}

static int
pause_command (BerthCli *cli, int argc, char **argv, gboolean pause)
{
  if (!berth_cli_parse (&argc, &argv, NULL, "CONTAINER...", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc < 2)
    return berth_cli_usage ("%s needs a container", argv[0]);
  return berth_cli_for_each_container (cli, argc, argv, pause_one, GINT_TO_POINTER (pause), TRUE);
}

int
berth_cmd_pause (BerthCli *cli, int argc, char **argv)
{
  return pause_command (cli, argc, argv, TRUE);
}

int
berth_cmd_unpause (BerthCli *cli, int argc, char **argv)
{
  return pause_command (cli, argc, argv, FALSE);
}

static gboolean
wait_one (BerthStore *store, BerthContainer *c, gpointer data, GError **error)
{
  (void) data;
  int code = berth_container_wait (store, c, error);
  if (code < 0)
    return FALSE;
  printf ("%d\n", code);
  fflush (stdout);
  return TRUE;
}

int
berth_cmd_wait (BerthCli *cli, int argc, char **argv)
{
  if (!berth_cli_parse (&argc, &argv, NULL, "CONTAINER...", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc < 2)
    return berth_cli_usage ("wait needs a container");
  return berth_cli_for_each_container (cli, argc, argv, wait_one, NULL, FALSE);
}

static gboolean
logs_one (BerthStore *store, BerthContainer *c, gpointer data, GError **error)
{
  return berth_container_logs (store, c, data, STDOUT_FILENO, STDERR_FILENO, error);
}

int
berth_cmd_logs (BerthCli *cli, int argc, char **argv)
{
  BerthLogOptions options = { .tail = -1 };
  g_autofree char *tail = NULL, *since = NULL, *until = NULL;
  const GOptionEntry entries[] = {
    { "follow", 'f', 0, G_OPTION_ARG_NONE, &options.follow,
      "Keep printing until the container stops", NULL },
    { "tail", 'n', 0, G_OPTION_ARG_STRING, &tail, "Only the last N lines (all: every one)", "N" },
    { "timestamps", 't', 0, G_OPTION_ARG_NONE, &options.timestamps,
      "Each line after its time", NULL },
    { "since", 0, 0, G_OPTION_ARG_STRING, &since,
      "Lines from then on (2026-12-07T10:00:00Z, Unix seconds, or 10m ago)", "TIME" },
    { "until", 0, 0, G_OPTION_ARG_STRING, &until, "Lines before then (as --since)", "TIME" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "CONTAINER", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 2)
    return berth_cli_usage ("logs needs one container");
  g_autoptr (GError) error = NULL;
  gint64 now = g_get_real_time ();
  if (tail && strcmp (tail, "all") != 0
      && (!g_ascii_string_to_signed (tail, 10, 0, G_MAXINT32, &options.tail, NULL)))
    return berth_cli_usage ("--tail '%s': not a number of lines or all", tail);
  if ((since && !berth_parse_time (since, "--since", now, &options.since, &error))
      || (until && !berth_parse_time (until, "--until", now, &options.until, &error)))
    return berth_cli_usage ("%s", error->message);
  return berth_cli_for_each_container (cli, argc, argv, logs_one, &options, FALSE);
}

int
berth_cmd_exec (BerthCli *cli, int argc, char **argv)
{
  gboolean interactive = FALSE, tty = FALSE;
  g_auto (GStrv) env = NULL;
  g_autofree char *user = NULL, *workdir = NULL;
  const GOptionEntry entries[] = {
    { "interactive", 'i', 0, G_OPTION_ARG_NONE, &interactive, "Keep stdin open", NULL },
    { "tty", 't', 0, G_OPTION_ARG_NONE, &tty, "Allocate a terminal", NULL },
    { "env", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &env, "Set an environment variable", "K=V" },
    { "user", 'u', 0, G_OPTION_ARG_STRING, &user, "User and group, names or numbers (as run -u)", "U[:G]" },
    { "workdir", 'w', 0, G_OPTION_ARG_STRING, &workdir, "Working directory", "DIR" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "CONTAINER COMMAND [ARG...]", TRUE))
    return BERTH_EXIT_USAGE;
  if (argc < 3)
    return berth_cli_usage ("exec needs a container and a command");
  g_autoptr (BerthContainer) c = NULL;
  g_autoptr (BerthStore) store = berth_cli_open_with_container (cli, argv[1], &c);
  if (store == NULL)
    return BERTH_EXIT_FAILED;
  g_autoptr (GError) error = NULL;
  int code = berth_container_exec (store, c, argv + 2, env, user, workdir, interactive, tty,
                                   &error);
  if (code < 0)
    {
      berth_cli_fail (error);
      return g_error_matches (error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND) ? 127 : 126;
    }
  return code;
}

/* ---- inspect ---- */

/* A container, else an image, as Docker's inspect looks (@type: only
 * that kind). */
static JsonNode *
inspect_any (BerthStore *store, const char *ref, const char *type, GError **error)
{
  if (g_strcmp0 (type, "image") == 0)
    return berth_image_inspect (store, ref, error);
  g_autoptr (GError) local = NULL;
  g_autoptr (BerthContainer) c = berth_container_lookup (store, ref, &local);
  if (c)
    return berth_container_inspect (store, c, error);
  if (type || !g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
    return g_propagate_error (error, g_steal_pointer (&local)), NULL;
  JsonNode *node = berth_image_inspect (store, ref, NULL);
  if (node == NULL)
    berth_fail (error, BERTH_ERROR_NOT_FOUND, "no such container or image: %s", ref);
  return node;
}

static JsonNode *
inspect_container_or_image (BerthStore *store, const char *ref, GError **error)
{
  return inspect_any (store, ref, NULL, error);
}

static JsonNode *
inspect_container (BerthStore *store, const char *ref, GError **error)
{
  return inspect_any (store, ref, "container", error);
}

static JsonNode *
inspect_image_ref (BerthStore *store, const char *ref, GError **error)
{
  return inspect_any (store, ref, "image", error);
}

int
berth_cmd_inspect (BerthCli *cli, int argc, char **argv)
{
  g_autofree char *format = NULL, *type = NULL;
  const GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "A template: {{.State.Pid}}, "
      "{{json .Config}} (see docs/docker-cli.md)", "TEMPLATE" },
    { "type", 0, 0, G_OPTION_ARG_STRING, &type, "container or image (default: a container, "
      "else an image)", "TYPE" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "CONTAINER|IMAGE...", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc < 2)
    return berth_cli_usage ("inspect needs a container or an image");
  if (type && strcmp (type, "container") != 0 && strcmp (type, "image") != 0)
    return berth_cli_usage ("--type '%s': container or image", type);
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = berth_cli_open_reader (cli, &error);
  if (store == NULL)
    return berth_cli_fail (error);
  BerthInspectFunc inspect = type == NULL ? inspect_container_or_image
                             : strcmp (type, "image") == 0 ? inspect_image_ref
                                                           : inspect_container;
  return berth_cli_inspect_each (store, argc, argv, inspect, format);
}

/* ---- port ---- */

/* "53/udp" before "80/tcp" before "8080/tcp": by number, then protocol. */
static gint
port_key_compare (gconstpointer a, gconstpointer b)
{
  int na = atoi (a), nb = atoi (b);
  return na != nb ? (na < nb ? -1 : 1) : strcmp (a, b);
}

/* Docker's port: "80/tcp -> 0.0.0.0:8080" a line for each published port
 * of a running container, or only the host ends of @want ("80" or
 * "80/udp"). */
static gboolean
port_one (BerthStore *store, BerthContainer *c, gpointer data, GError **error)
{
  const char *want = data;
  g_autofree char *key = want && !strchr (want, '/') ? g_strconcat (want, "/tcp", NULL)
                                                    : g_strdup (want);
  g_autoptr (JsonNode) settings = berth_container_network_settings (store, c);
  JsonObject *ports = berth_json_object (berth_json_node_object (settings), "Ports");
  g_autoptr (GList) names = ports ? json_object_get_members (ports) : NULL;
  names = g_list_sort (names, port_key_compare);
  gboolean found = FALSE;
  for (GList *n = names; n; n = n->next)
    {
      if (key && strcmp (key, n->data) != 0)
        continue;
      JsonArray *bindings = berth_json_array (ports, n->data);
      for (guint i = 0; bindings && i < json_array_get_length (bindings); i++)
        {
          JsonObject *b = berth_json_array_object (bindings, i);
          const char *ip = berth_json_string (b, "HostIp", ""), *port = berth_json_string (b, "HostPort", "");
          if (key)
            printf ("%s:%s\n", ip, port);
          else
            printf ("%s -> %s:%s\n", (const char *) n->data, ip, port);
          found = TRUE;
        }
    }
  if (key && !found)
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "container %s: no public port '%s' "
                       "published", c->name, key);
  return TRUE;
}

int
berth_cmd_port (BerthCli *cli, int argc, char **argv)
{
  if (!berth_cli_parse (&argc, &argv, NULL, "CONTAINER [PORT[/PROTO]]", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 2 && argc != 3)
    return berth_cli_usage ("port needs a container, and a port if you like");
  return berth_cli_for_each_container (cli, 2, argv, port_one, argc == 3 ? argv[2] : NULL,
                                       FALSE);
}

/* ---- stats and top ---- */

static char *
figure (guint64 v, gboolean bytes)
{
  if (v == G_MAXUINT64)
    return g_strdup ("-");
  return bytes ? g_format_size_full (v, G_FORMAT_SIZE_IEC_UNITS)
               : g_strdup_printf ("%" G_GUINT64_FORMAT, v);
}

static void
print_stats_header (void)
{
  printf ("%-14s %-20s %7s %11s %12s / %-12s %6s %10s / %s\n", "CONTAINER ID", "NAME", "CPU %",
          "CPU TIME", "MEM USAGE", "LIMIT", "PIDS", "BLOCK READ", "WRITE");
}

/* A container's CPU time when it was last read, for the next CPU %. */
typedef struct {
  guint64 cpu_ns;
  gint64 when_us;   /* monotonic */
} CpuSample;

/* Docker's CPU %: the CPU time used since the last reading over the time
 * passed (above 100% on more than one CPU). */
static char *
cpu_percent (GHashTable *samples, BerthContainer *c, const BerthExecStats *st)
{
  gint64 now = g_get_monotonic_time ();
  CpuSample *before = g_hash_table_lookup (samples, c->id);
  g_autofree char *text = NULL;
  if (before && st->cpu_usage_ns != G_MAXUINT64 && now > before->when_us
      && st->cpu_usage_ns >= before->cpu_ns)
    text = g_strdup_printf ("%.2f%%", (st->cpu_usage_ns - before->cpu_ns) / 1e3 * 100.0
                                        / (double) (now - before->when_us));
  CpuSample *next = g_new (CpuSample, 1);
  next->cpu_ns = st->cpu_usage_ns == G_MAXUINT64 ? 0 : st->cpu_usage_ns;
  next->when_us = now;
  g_hash_table_replace (samples, g_strdup (c->id), next);
  return text ? g_steal_pointer (&text) : g_strdup ("--");
}

static void
print_stats_row (BerthContainer *c, const BerthExecStats *st, const char *cpu)
{
  g_autofree char *mem = figure (st->memory_usage, TRUE);
  g_autofree char *limit = figure (st->memory_limit, TRUE);
  g_autofree char *pids = figure (st->pids_current, FALSE);
  g_autofree char *rd = figure (st->io_read_bytes, TRUE);
  g_autofree char *wr = figure (st->io_write_bytes, TRUE);
  double cpu_s = st->cpu_usage_ns == G_MAXUINT64 ? 0 : st->cpu_usage_ns / 1e9;
  printf ("%-14.12s %-20s %7s %10.3fs %12s / %-12s %6s %10s / %s\n", c->id, c->name, cpu, cpu_s,
          mem, limit, pids, rd, wr);
}

/* One frame: a row for each container of @refs, "--" for one that is not
 * running; FALSE with @error when one is gone. With @print FALSE, only
 * the CPU readings the next frame's CPU % starts from. *@running: how
 * many run. */
static gboolean
stats_frame (BerthCli *cli, char **refs, GHashTable *samples, gboolean print, guint *running,
             GError **error)
{
  g_autoptr (BerthStore) store = berth_cli_open_reader (cli, error);
  if (store == NULL)
    return FALSE;
  *running = 0;
  if (print)
    print_stats_header ();
  for (char **ref = refs; *ref; ref++)
    {
      g_autoptr (BerthContainer) c = berth_container_lookup (store, *ref, error);
      if (c == NULL)
        return FALSE;
      BerthExecStats st;
      g_autoptr (GError) local = NULL;
      if (berth_container_stats (store, c, &st, &local))
        {
          g_autofree char *cpu = cpu_percent (samples, c, &st);
          if (print)
            print_stats_row (c, &st, cpu);
          (*running)++;
        }
      else if (print)
        printf ("%-14.12s %-20s %7s %11s %12s / %-12s %6s %10s / %s\n", c->id, c->name, "--",
                "--", "--", "--", "--", "--", "--");
    }
  fflush (stdout);
  return TRUE;
}

/* Docker's stats: a frame a second (the screen cleared first on a
 * terminal) until every container named has stopped, or ^C; with @once
 * (--no-stream) one frame. The first comes half a second after a first
 * reading, so that it has a CPU % too. */
static int
stats_run (BerthCli *cli, char **refs, gboolean once)
{
  gboolean tty = !once && isatty (STDOUT_FILENO);
  g_autoptr (GHashTable) samples = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GError) error = NULL;
  guint running = 0;
  if (!stats_frame (cli, refs, samples, FALSE, &running, &error))
    return berth_cli_fail (error);
  g_usleep (G_USEC_PER_SEC / 2);
  for (;;)
    {
      if (tty)
        printf ("\033[2J\033[H");
      if (!stats_frame (cli, refs, samples, TRUE, &running, &error))
        return berth_cli_fail (error);
      if (running == 0 || once)
        return 0;
      g_usleep (G_USEC_PER_SEC);
    }
}

int
berth_cmd_stats (BerthCli *cli, int argc, char **argv)
{
  gboolean no_stream = FALSE;
  const GOptionEntry entries[] = {
    { "no-stream", 0, 0, G_OPTION_ARG_NONE, &no_stream, "Print once; without it, a frame a "
      "second until every container named has stopped", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "CONTAINER...", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc < 2)
    return berth_cli_usage ("stats needs a container");
  return stats_run (cli, argv + 1, no_stream);
}

static char *
process_command (int pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/cmdline", pid);
  g_autofree char *raw = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &raw, &len, NULL) || len == 0)
    return g_strdup ("?");
  for (gsize i = 0; i + 1 < len; i++)
    if (raw[i] == '\0')
      raw[i] = ' ';
  return g_steal_pointer (&raw);
}

static gboolean
top_one (BerthStore *store, BerthContainer *c, gpointer data, GError **error)
{
  (void) data;
  g_autoptr (GArray) pids = berth_container_pids (store, c, error);
  if (pids == NULL)
    return FALSE;
  printf ("%-8s %s\n", "PID", "CMD");
  for (guint i = 0; i < pids->len; i++)
    {
      int pid = g_array_index (pids, pid_t, i);
      g_autofree char *cmd = process_command (pid);
      printf ("%-8d %s\n", pid, cmd);
    }
  return TRUE;
}

int
berth_cmd_top (BerthCli *cli, int argc, char **argv)
{
  if (!berth_cli_parse (&argc, &argv, NULL, "CONTAINER", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 2)
    return berth_cli_usage ("top needs one container");
  return berth_cli_for_each_container (cli, argc, argv, top_one, NULL, FALSE);
}
