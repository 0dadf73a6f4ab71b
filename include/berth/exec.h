/* The exec-driver contract.
 *
 * An exec driver runs a container's process tree from an OCI runtime-spec
 * config (config.json), so every driver speaks the industry's contract. Each
 * driver fills one const BerthExecOps (designated initializers; NULL = not
 * supported), listed in the exec table (include/berth/family.h,
 * core/registry/family.c); the core calls only berth_exec_*.
 *
 * A BerthExec is one container as a driver sees it: its id, the spec, the
 * rootfs path, and state_dir, a directory the driver owns for its files
 * (pid, cgroup paths). State lives there, so any later process can open the
 * same container again with berth_exec_open and kill, pause or inspect it.
 *
 * The process that calls create or run becomes the parent of the container's
 * first process and must reap it (berth's monitor does); exec returns a pid
 * that the caller reaps. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct BerthExec BerthExec;
typedef struct BerthExecOps BerthExecOps;

typedef enum {
  BERTH_EXEC_CREATED, /* set up, first process waiting before its exec */
  BERTH_EXEC_RUNNING,
  BERTH_EXEC_PAUSED,
  BERTH_EXEC_STOPPED,
} BerthExecStatus;

/* The first process's (or an exec'd process's) stdio. -1 means /dev/null.
 * With @terminal (or process.terminal in the spec) the driver makes the
 * pty inside the container, on the container's own devpts (as runc does:
 * `tty` there prints /dev/pts/N), and returns its master in *@pty_master,
 * which must be set; the slave is the process's stdio and controlling
 * terminal, and the first process's /dev/console. */
typedef struct {
  int in, out, err;
  gboolean terminal;
  int *pty_master;
} BerthExecStdio;

/* Cgroup figures; G_MAXUINT64 where the host has no such file. */
typedef struct {
  guint64 memory_usage, memory_limit, memory_max_usage;
  guint64 cpu_usage_ns;
  guint64 pids_current, pids_limit;
  guint64 io_read_bytes, io_write_bytes;
  guint64 oom_kills;
} BerthExecStats;

struct BerthExec {
  const BerthExecOps *ops;
  char *id;
  char *state_dir;
  char *rootfs;     /* absolute path of the mounted root filesystem */
  JsonNode *spec;   /* the OCI runtime config */
  char *bundle;     /* the OCI bundle, for the state hooks are given; NULL
                     * when berth made the rootfs itself (state_dir then) */
  pid_t pid;        /* the first process, once created (0 before) */
  gpointer priv;    /* the driver's */
};

struct BerthExecOps {
  const char *name;

  /* Can this host run the driver? FALSE with a one-line reason. */
  gboolean (*probe) (GError **error);
  /* Append key/value facts for `berth info` (alternating key, value
   * strings), for a driver whose probe passed. */
  void (*status) (GPtrArray *pairs);

  /* Load what the driver saved in state_dir (pid, cgroups) into @c, for a
   * container made by an earlier process. NOT_FOUND when nothing is there. */
  gboolean (*load) (BerthExec *c, GError **error);

  /* Namespaces, rootfs, cgroup: the first process ends up waiting just before
   * executing the program; c->pid is set. */
  gboolean (*create) (BerthExec *c, const BerthExecStdio *stdio, GError **error);
  /* Let a created container's first process exec its program. */
  gboolean (*start) (BerthExec *c, GError **error);
  /* create + start in one step, returning once the program is executing (or
   * failed to: "exec: NAME: reason" is the error then). */
  gboolean (*run) (BerthExec *c, const BerthExecStdio *stdio, GError **error);
  /* A new process described by @process (an OCI "process" object) inside
   * the running container; returns its pid, 0 with @error on failure. */
  pid_t (*exec) (BerthExec *c, JsonObject *process, const BerthExecStdio *stdio,
                 GError **error);

  /* @all: every process of the container, not only the first. */
  gboolean (*kill) (BerthExec *c, int signal, gboolean all, GError **error);
  gboolean (*pause) (BerthExec *c, GError **error);
  gboolean (*unpause) (BerthExec *c, GError **error);
  gboolean (*state) (BerthExec *c, BerthExecStatus *status, GError **error);
  gboolean (*stats) (BerthExec *c, BerthExecStats *stats, GError **error);
  /* Write the limits of @resources (an OCI linux.resources object) to the
   * running container's cgroup; limits not in it are left as they are. */
  gboolean (*update) (BerthExec *c, JsonObject *resources, GError **error);
  /* Host pids of every process in the container. */
  GArray *(*pids) (BerthExec *c, GError **error);
  /* Did the kernel's OOM killer kill a process of this container? */
  gboolean (*oom_killed) (BerthExec *c);
  /* Kill what is left and remove every trace (cgroups, state_dir). */
  gboolean (*delete) (BerthExec *c, GError **error);
  /* Add what the driver supports to a runtime-spec features document
   * (features.md): mountOptions and the "linux" object. */
  void (*features) (JsonObject *features);
  /* Free what load or create put in c->priv. */
  void (*free_priv) (gpointer priv);
};

/* The exec table's built drivers, in its order (order of preference),
 * NULL-terminated. */
const BerthExecOps *const *berth_exec_drivers (void);
/* NOT_FOUND naming the table's not_built line, or that berth knows no such
 * driver. */
const BerthExecOps *berth_exec_driver_lookup (const char *name, GError **error);

/* A handle for container @id; @spec is referenced, not copied. */
BerthExec *berth_exec_new (const BerthExecOps *ops, const char *id, const char *state_dir,
                           const char *rootfs, JsonNode *spec);
void berth_exec_free (BerthExec *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthExec, berth_exec_free)

const char *berth_exec_status_name (BerthExecStatus status);

/* The wrappers: NOT_SUPPORTED naming the driver where its op is NULL. */
gboolean berth_exec_probe (const BerthExecOps *ops, GError **error);
gboolean berth_exec_load (BerthExec *c, GError **error);
gboolean berth_exec_create (BerthExec *c, const BerthExecStdio *stdio, GError **error);
gboolean berth_exec_start (BerthExec *c, GError **error);
gboolean berth_exec_run (BerthExec *c, const BerthExecStdio *stdio, GError **error);
pid_t berth_exec_exec (BerthExec *c, JsonObject *process, const BerthExecStdio *stdio,
                       GError **error);
gboolean berth_exec_kill (BerthExec *c, int signal, gboolean all, GError **error);
gboolean berth_exec_pause (BerthExec *c, GError **error);
gboolean berth_exec_unpause (BerthExec *c, GError **error);
gboolean berth_exec_state (BerthExec *c, BerthExecStatus *status, GError **error);
gboolean berth_exec_stats (BerthExec *c, BerthExecStats *stats, GError **error);
gboolean berth_exec_update (BerthExec *c, JsonObject *resources, GError **error);
GArray *berth_exec_pids (BerthExec *c, GError **error);
gboolean berth_exec_oom_killed (BerthExec *c);
gboolean berth_exec_delete (BerthExec *c, GError **error);

G_END_DECLS
