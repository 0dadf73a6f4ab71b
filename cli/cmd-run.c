/* run, create and start: the commands that make and start containers. */
#include "config.h"
#include "cli.h"
#include <berth/host.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <berth/error.h>
#include <berth/spec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The flags run and create share, as GOption fills them. */
typedef struct {
  char *name, *storage_driver, *exec_driver;
  char **env, **volumes, **cap_add, **cap_drop, **security_opt, **log_opts, **publish;
  char **dns, **dns_search, **add_hosts;
  char *ip, *mac_address;
  gboolean publish_all;
  char *user, *workdir, *hostname, *memory, *memory_swap, *cpus, *cpuset_cpus;
  char *network, *userns, *entrypoint, *restart;
  char **env_files;
  char **mounts, **tmpfs;       /* --mount, --tmpfs */
  char **volumes_from, **labels;
  char **all_volumes, **all_tmpfs; /* -v and --tmpfs with --mount's added */
  gint64 pids_limit, cpu_shares, blkio_weight;
  gboolean read_only, tty, interactive, detach, auto_remove, init;
} RunFlags;

static void
run_flags_clear (RunFlags *f)
{
  g_free (f->name);
  g_free (f->storage_driver);
  g_free (f->exec_driver);
  g_strfreev (f->env);
  g_strfreev (f->volumes);
  g_strfreev (f->cap_add);
  g_strfreev (f->publish);
  g_strfreev (f->dns);
  g_strfreev (f->dns_search);
  g_strfreev (f->add_hosts);
  g_free (f->ip);
  g_free (f->mac_address);
  g_strfreev (f->cap_drop);
  g_strfreev (f->security_opt);
  g_strfreev (f->log_opts);
  g_free (f->user);
  g_free (f->workdir);
  g_free (f->hostname);
  g_free (f->memory);
  g_free (f->memory_swap);
  g_free (f->cpus);
  g_free (f->cpuset_cpus);
  g_free (f->network);
  g_free (f->userns);
  g_free (f->entrypoint);
  g_free (f->restart);
  g_strfreev (f->env_files);
  g_strfreev (f->mounts);
  g_strfreev (f->volumes_from);
  g_strfreev (f->labels);
  g_strfreev (f->tmpfs);
  g_strfreev (f->all_volumes);
  g_strfreev (f->all_tmpfs);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RunFlags, run_flags_clear)

#define RUN_FLAG_ENTRIES(f)                                                                     \
  { "name", 0, 0, G_OPTION_ARG_STRING, &(f)->name, "Name the container", "NAME" },              \
  { "storage-driver", 's', 0, G_OPTION_ARG_STRING, &(f)->storage_driver, "Storage driver", "D" }, \
  { "exec-driver", 0, 0, G_OPTION_ARG_STRING, &(f)->exec_driver, "Exec driver (berth info lists them)", "D" }, \
  { "env", 'e', 0, G_OPTION_ARG_STRING_ARRAY, &(f)->env, "Set an environment variable", "K=V" }, \
  { "env-file", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &(f)->env_files,                             \
    "Read variables from a file, K=V a line (-e wins)", "FILE" },                               \
  { "entrypoint", 0, 0, G_OPTION_ARG_STRING, &(f)->entrypoint,                                  \
    "Run this instead of the image's ENTRYPOINT (its CMD is dropped; \"\": none)", "PROGRAM" }, \
  { "user", 'u', 0, G_OPTION_ARG_STRING, &(f)->user, "User and group", "U[:G]" },               \
  { "workdir", 'w', 0, G_OPTION_ARG_STRING, &(f)->workdir, "Working directory", "DIR" },        \
  { "hostname", 'h', 0, G_OPTION_ARG_STRING, &(f)->hostname, "Hostname", "NAME" },              \
  { "memory", 'm', 0, G_OPTION_ARG_STRING, &(f)->memory, "Memory limit", "SIZE" },              \
  { "memory-swap", 0, 0, G_OPTION_ARG_STRING, &(f)->memory_swap, "Memory plus swap (-1: unlimited)", "SIZE" }, \
  { "cpus", 0, 0, G_OPTION_ARG_STRING, &(f)->cpus, "CPU quota in CPUs", "N" },                   \
  { "cpuset-cpus", 0, 0, G_OPTION_ARG_STRING, &(f)->cpuset_cpus, "CPUs allowed (0-3,5)", "LIST" }, \
  { "cpu-shares", 'c', 0, G_OPTION_ARG_INT64, &(f)->cpu_shares, "CPU shares (relative weight)", "N" }, \
  { "pids-limit", 0, 0, G_OPTION_ARG_INT64, &(f)->pids_limit, "Process limit", "N" },          \
  { "blkio-weight", 0, 0, G_OPTION_ARG_INT64, &(f)->blkio_weight, "Block I/O weight (10-1000)", "N" }, \
  { "network", 0, 0, G_OPTION_ARG_STRING, &(f)->network, "none (loopback only), host, or a network (bridge: the default one)", "NETWORK" }, \
  { "publish", 'p', 0, G_OPTION_ARG_STRING_ARRAY, &(f)->publish,                               \
    "Publish a container's port on the host", "[[IP:]HOST:]CTR[/tcp|udp]" },                    \
  { "publish-all", 'P', 0, G_OPTION_ARG_NONE, &(f)->publish_all,                                \
    "Publish every port the image EXPOSEs on a free host port", NULL },                          \
  { "ip", 0, 0, G_OPTION_ARG_STRING, &(f)->ip, "IPv4 address on the network", "ADDRESS" },        \
  { "mac-address", 0, 0, G_OPTION_ARG_STRING, &(f)->mac_address, "MAC address", "MAC" },       \
  { "dns", 0, 0, G_OPTION_ARG_STRING_ARRAY, &(f)->dns, "A nameserver for resolv.conf", "IP" },  \
  { "dns-search", 0, 0, G_OPTION_ARG_STRING_ARRAY, &(f)->dns_search, "A search domain", "DOMAIN" }, \
  { "add-host", 0, 0, G_OPTION_ARG_STRING_ARRAY, &(f)->add_hosts, "An /etc/hosts line", "NAME:IP" }, \
  { "volume", 'v', 0, G_OPTION_ARG_STRING_ARRAY, &(f)->volumes,                               \
    "Bind mount a host path, or mount a named volume (made if missing), or a new anonymous one", \
    "HOST:CTR[:ro]|NAME:CTR[:ro]|CTR" },                                                         \
  { "volumes-from", 0, 0, G_OPTION_ARG_STRING_ARRAY, &(f)->volumes_from,                        \
    "Mount the volumes and binds another container has", "CONTAINER[:ro|rw]" },                   \
  { "mount", 0, 0, G_OPTION_ARG_STRING_ARRAY, &(f)->mounts, "Docker's --mount",                  \
    "type=bind|volume|tmpfs,source=S,target=T[,readonly]" },                                     \
  { "tmpfs", 0, 0, G_OPTION_ARG_STRING_ARRAY, &(f)->tmpfs,                                      \
    "A tmpfs (noexec,nosuid,nodev unless OPTS say exec, suid, dev)", "CTR[:OPTS]" },              \
  { "read-only", 0, 0, G_OPTION_ARG_NONE, &(f)->read_only, "Read-only root filesystem", NULL }, \
  { "cap-add", 0, 0, G_OPTION_ARG_STRING_ARRAY, &(f)->cap_add, "Add a capability", "CAP" },     \
  { "cap-drop", 0, 0, G_OPTION_ARG_STRING_ARRAY, &(f)->cap_drop, "Drop a capability", "CAP" },  \
  { "security-opt", 0, 0, G_OPTION_ARG_STRING_ARRAY, &(f)->security_opt, "seccomp=unconfined|FILE", "OPT" }, \
  { "userns", 0, 0, G_OPTION_ARG_STRING, &(f)->userns, "host, or remap (root = host uid 100000)", "MODE" }, \
  { "log-opt", 0, 0, G_OPTION_ARG_STRING_ARRAY, &(f)->log_opts,                                 \
    "Log rotation: max-size=SIZE (default 20m, -1: none), max-file=N (default 5)", "K=V" },     \
  { "label", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &(f)->labels, "Set a label (ps --filter "     \
    "label=...)", "KEY[=VALUE]" },                                                              \
  { "init", 0, 0, G_OPTION_ARG_NONE, &(f)->init, "Run an init (tini) as pid 1 that reaps "       \
    "zombies and forwards signals to the command", NULL },                                       \
  { "restart", 0, 0, G_OPTION_ARG_STRING, &(f)->restart,                                        \
    "Restart when it exits: no, always, unless-stopped, on-failure[:N]", "POLICY" },             \
  { "tty", 't', 0, G_OPTION_ARG_NONE, &(f)->tty, "Allocate a terminal", NULL },                 \
  { "interactive", 'i', 0, G_OPTION_ARG_NONE, &(f)->interactive, "Keep stdin open", NULL }

static gboolean
parse_seccomp_opt (char **opts, const char **seccomp, GError **error)
{
  for (char **o = opts; o && *o; o++)
    {
      if (g_str_has_prefix (*o, "seccomp=") || g_str_has_prefix (*o, "seccomp:"))
        *seccomp = *o + strlen ("seccomp=");
      else if (strcmp (*o, "no-new-privileges") != 0 && strcmp (*o, "no-new-privileges:true") != 0)
        return berth_fail (error, BERTH_ERROR_INVALID,
                           "--security-opt '%s': unknown (seccomp=unconfined|FILE)", *o);
    }
  return TRUE;
}

/* An env file is a few lines: reading stops past 1 MiB, so that
 * --env-file /dev/zero is an error rather than all of memory. */
#define ENV_FILE_MAX (1 << 20)

static char *
read_env_file (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "--env-file %s", path), NULL;
  g_autoptr (GString) text = g_string_new (NULL);
  char buf[65536];
  ssize_t n;
  while ((n = read (fd, buf, sizeof buf)) != 0 && text->len <= ENV_FILE_MAX)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int errsv = errno;
          close (fd);
          return berth_fail_errno (error, errsv, "--env-file %s", path), NULL;
        }
      g_string_append_len (text, buf, n);
    }
  close (fd);
  if (text->len > ENV_FILE_MAX)
    return berth_fail (error, BERTH_ERROR_INVALID, "--env-file %s: larger than 1 MiB", path),
           NULL;
  return g_string_free (g_steal_pointer (&text), FALSE);
}

/* Docker's --env-file: the files' entries come before -e's, which win. */
static gboolean
read_env_files (RunFlags *f, GError **error)
{
  if (f->env_files == NULL)
    return TRUE;
  g_autoptr (GStrvBuilder) env = g_strv_builder_new ();
  for (char **file = f->env_files; *file; file++)
    {
      g_autofree char *text = read_env_file (*file, error);
      if (text == NULL || !berth_spec_parse_env_file (text, *file, env, error))
        return FALSE;
    }
  g_strv_builder_addv (env, (const char **) (f->env ? f->env : (char *[]) { NULL }));
  g_strfreev (f->env);
  f->env = g_strv_builder_end (env);
  return TRUE;
}

/* --mount's entries as -v's and --tmpfs's, after them. */
static gboolean
merge_mounts (RunFlags *f, GError **error)
{
  g_autoptr (GStrvBuilder) volumes = g_strv_builder_new ();
  g_autoptr (GStrvBuilder) tmpfs = g_strv_builder_new ();
  g_strv_builder_addv (volumes, (const char **) (f->volumes ? f->volumes : (char *[]) { NULL }));
  g_strv_builder_addv (tmpfs, (const char **) (f->tmpfs ? f->tmpfs : (char *[]) { NULL }));
  for (char **m = f->mounts; m && *m; m++)
    if (!berth_spec_parse_mount (*m, volumes, tmpfs, error))
      return FALSE;
  f->all_volumes = g_strv_builder_end (volumes);
  f->all_tmpfs = g_strv_builder_end (tmpfs);
  return TRUE;
}

static gboolean
spec_options (RunFlags *f, char **cmd, BerthSpecOptions *o, GError **error)
{
  if (!read_env_files (f, error) || !merge_mounts (f, error))
    return FALSE;
  *o = (BerthSpecOptions) {
    .cmd = cmd, .env = f->env, .user = f->user, .workdir = f->workdir,
    .hostname = f->hostname, .cpuset_cpus = f->cpuset_cpus, .cpu_shares = f->cpu_shares,
    .pids_limit = f->pids_limit, .blkio_weight = f->blkio_weight, .network = f->network,
    .volumes = f->all_volumes[0] ? f->all_volumes : NULL,
    .tmpfs = f->all_tmpfs[0] ? f->all_tmpfs : NULL, .volumes_from = f->volumes_from,
    .read_only = f->read_only, .tty = f->tty,
    .interactive = f->interactive, .cap_add = f->cap_add, .cap_drop = f->cap_drop,
    .userns = f->userns, .log_opts = f->log_opts, .publish = f->publish,
    .publish_all = f->publish_all, .ip = f->ip,
    .mac_address = f->mac_address, .dns = f->dns, .dns_search = f->dns_search,
    .add_hosts = f->add_hosts, .entrypoint = f->entrypoint, .restart = f->restart,
    .labels = f->labels, .init = f->init, .auto_remove = f->auto_remove,
  };
  if (f->memory && !berth_parse_size (f->memory, "--memory", &o->memory, error))
    return FALSE;
  if (f->memory_swap && strcmp (f->memory_swap, "-1") == 0)
    o->memory_swap = -1;
  else if (f->memory_swap
           && !berth_parse_size (f->memory_swap, "--memory-swap", &o->memory_swap, error))
    return FALSE;
  if (f->cpus)
    {
      char *end = NULL;
      o->cpus = g_ascii_strtod (f->cpus, &end);
      if (end == f->cpus || *end || !(o->cpus > 0) || isinf (o->cpus))
        return berth_fail (error, BERTH_ERROR_INVALID, "--cpus '%s': not a positive number",
                           f->cpus);
    }
  return parse_seccomp_opt (f->security_opt, &o->seccomp, error);
}

/* Open the store and create the container argv names; NULL after printing
 * the error. */
static BerthContainer *
create_from_flags (BerthCli *cli, RunFlags *f, int argc, char **argv, BerthStore **store)
{
  g_autoptr (GError) error = NULL;
  BerthSpecOptions options;
  g_autofree char *rule = NULL;
  if (f->network == NULL)
    f->network = g_strdup (berth_host_default_network (&rule));
  if (!spec_options (f, argc > 2 ? argv + 2 : NULL, &options, &error)
      || (*store = berth_cli_open_store (cli, &error)) == NULL)
    {
      berth_cli_fail (error);
      return NULL;
    }
  BerthContainer *c = berth_container_create (*store, argv[1], f->name, f->storage_driver,
                                              f->exec_driver, &options, &error);
  if (c == NULL)
    berth_cli_fail (error);
  return c;
}

int
berth_cmd_create (BerthCli *cli, int argc, char **argv)
{
  g_auto (RunFlags) f = { 0 };
  const GOptionEntry entries[] = {
    RUN_FLAG_ENTRIES (&f),
    { "rm", 0, 0, G_OPTION_ARG_NONE, &f.auto_remove, "Remove the container when it exits", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "IMAGE [COMMAND [ARG...]]", TRUE))
    return BERTH_EXIT_USAGE;
  if (argc < 2)
    return berth_cli_usage ("create needs an image");
  g_autoptr (BerthStore) store = NULL;
  g_autoptr (BerthContainer) c = create_from_flags (cli, &f, argc, argv, &store);
  if (c == NULL)
    return BERTH_EXIT_FAILED;
  printf ("%s\n", c->id);
  return 0;
}

/* Start @c; attached, wait and return its exit code. */
static int
start_container (BerthStore *store, BerthContainer *c, const BerthStartOptions *o)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthRun) run = berth_container_start (store, c, o, &error);
  if (run == NULL)
    {
      g_autoptr (BerthContainerState) s = berth_container_state (store, c, NULL);
      int code = s && s->exit_code ? s->exit_code : 125;
      berth_cli_fail (error);
      if (o->auto_remove)
        berth_container_remove_with_volumes (store, c->id, TRUE, NULL);
      return code;
    }
  if (!o->attach)
    return 0;
  int code = berth_container_attach_wait (store, run, &error);
  if (code < 0)
    return berth_cli_fail (error);
  /* The monitor removes an --rm container as it records the exit; one that
   * was killed first leaves that (and the program) to us. */
  g_autoptr (BerthContainer) left = NULL;
  if (o->auto_remove && berth_store_lock (store, &error)
      && (left = berth_container_lookup (store, c->id, NULL)) != NULL
      && !berth_container_remove_with_volumes (store, c->id, TRUE, &error))
    berth_cli_fail (error);
  return code;
}

int
berth_cmd_run (BerthCli *cli, int argc, char **argv)
{
  g_auto (RunFlags) f = { 0 };
  const GOptionEntry entries[] = {
    RUN_FLAG_ENTRIES (&f),
    { "detach", 'd', 0, G_OPTION_ARG_NONE, &f.detach, "Run in the background, print the id", NULL },
    { "rm", 0, 0, G_OPTION_ARG_NONE, &f.auto_remove, "Remove the container when it exits", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "IMAGE [COMMAND [ARG...]]", TRUE))
    return BERTH_EXIT_USAGE;
  if (argc < 2)
    return berth_cli_usage ("run needs an image");
  if (f.auto_remove && f.restart && strcmp (f.restart, "no") != 0)
    return berth_cli_usage ("--restart %s and --rm conflict: a container removed at its exit "
                            "cannot be restarted", f.restart);
  g_autoptr (BerthStore) store = NULL;
  g_autoptr (BerthContainer) c = create_from_flags (cli, &f, argc, argv, &store);
  if (c == NULL)
    return BERTH_EXIT_FAILED;
  BerthStartOptions o = { .attach = !f.detach, .interactive = f.interactive, .tty = f.tty,
                          .auto_remove = f.auto_remove };
  int code = start_container (store, c, &o);
  if (f.detach && code == 0)
    printf ("%s\n", c->id);
  return code;
}

/* -t was given at create: it is in config.json. */
static gboolean
wants_terminal (BerthStore *store, BerthContainer *c)
{
  g_autoptr (JsonNode) spec = berth_container_spec (store, c, NULL);
  JsonObject *process = berth_json_object (berth_json_node_object (spec), "process");
  return berth_json_bool (process, "terminal", FALSE);
}

static gboolean
start_one (BerthStore *store, BerthContainer *c, gpointer data, GError **error)
{
  BerthStartOptions o = *(BerthStartOptions *) data;
  o.tty = wants_terminal (store, c);
  g_autoptr (BerthRun) run = berth_container_start (store, c, &o, error);
  return run != NULL;
}

static int
start_by_policy (BerthCli *cli, int argc)
{
  if (argc != 1)
    return berth_cli_usage ("start --all-restart takes no container");
  g_autoptr (GError) error = NULL;
  OPEN_STORE_OR_FAIL (store, cli, error);
  g_autoptr (GPtrArray) started = g_ptr_array_new_with_free_func (g_free);
  gboolean ok = berth_container_start_by_policy (store, started, &error);
  for (guint i = 0; i < started->len; i++)
    printf ("%s\n", (char *) started->pdata[i]);
  return ok ? 0 : berth_cli_fail (error);
}

int
berth_cmd_start (BerthCli *cli, int argc, char **argv)
{
  gboolean attach = FALSE, interactive = FALSE, by_policy = FALSE;
  const GOptionEntry entries[] = {
    { "attach", 'a', 0, G_OPTION_ARG_NONE, &attach, "Wait, with the output on this terminal", NULL },
    { "interactive", 'i', 0, G_OPTION_ARG_NONE, &interactive, "Attach stdin", NULL },
    { "all-restart", 0, 0, G_OPTION_ARG_NONE, &by_policy, "Start every container whose restart "
      "policy asks for it (always; unless-stopped when not stopped by hand): for boot", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "CONTAINER...", FALSE))
    return BERTH_EXIT_USAGE;
  if (by_policy)
    return start_by_policy (cli, argc);
  if (argc < 2 || (attach && argc != 2))
    return berth_cli_usage ("start needs a container (one with -a)");
  BerthStartOptions o = { .attach = attach, .interactive = interactive };
  if (!attach)
    return berth_cli_for_each_container (cli, argc, argv, start_one, &o, TRUE);
  g_autoptr (BerthContainer) c = NULL;
  g_autoptr (BerthStore) store = berth_cli_open_with_container (cli, argv[1], &c);
  if (store == NULL)
    return BERTH_EXIT_FAILED;
  o.tty = wants_terminal (store, c);
  return start_container (store, c, &o);
}
