/* The native exec driver's parts, shared inside drivers/exec/native/ only.
 *
 *   native.c   the ops table: create/start/run/exec/kill/... and saved state
 *   init.c     the container's first process before exec: mounts, pivot_root,
 *              devices, capabilities, user, rlimits
 *   cgroup.c   cgroup v1, v2 and hybrid: create, limits, stats, freeze, destroy
 *   seccomp.c  an OCI linux.seccomp object compiled with libseccomp
 *   hooks.c    the runtime-spec hooks at their points of the life cycle
 */
#pragma once
#include <berth/exec.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* --- cgroup.c --- */
typedef struct BerthCgroup BerthCgroup;

/* Make the cgroup @path (OCI cgroupsPath: absolute from each hierarchy's root,
 * or relative to the calling process's own cgroup) in every hierarchy the
 * host has (v2: the unified tree; v1: each controller mount; hybrid: the v1
 * controllers plus the cgroup2 mount at /sys/fs/cgroup/unified), and write
 * the limits of @resources (OCI linux.resources; may be NULL). A limit the
 * host cannot set (no swap accounting, no blkio weight) is an error naming
 * the file, unless it was not asked for. On failure nothing is left. */
BerthCgroup *berth_cgroup_create (const char *path, JsonObject *resources, GError **error);
/* The same cgroup, for a later process (no mkdir, no writes). */
BerthCgroup *berth_cgroup_open (const char *path, GError **error);
/* Write the limits of @resources (OCI linux.resources, as for create) to
 * the existing cgroup @cg, for a running container. Only the limits present
 * are written; one the host cannot set is an error naming the file, and
 * those written before it stay. */
gboolean berth_cgroup_update (BerthCgroup *cg, JsonObject *resources, GError **error);
/* The hierarchies as a container's "cgroup" mount shows them: "cgroup2" for
 * the unified one, else the v1 controller set ("cpu", "name=systemd"). */
char **berth_cgroup_hierarchy_names (BerthCgroup *cg);
/* The container's own directory in each of those hierarchies, in the same
 * order: what a container without a cgroup namespace is shown. */
char **berth_cgroup_dirs (BerthCgroup *cg);
/* An O_DIRECTORY fd of the v2 cgroup for clone3's CLONE_INTO_CGROUP, or -1
 * where that cannot place the process in every hierarchy (v1, hybrid). */
int berth_cgroup_v2_fd (BerthCgroup *cg);
/* After CLONE_INTO_CGROUP: give @pid its cpuset's CPUs where the kernel
 * did not (before 6.2). */
gboolean berth_cgroup_apply_cpuset (BerthCgroup *cg, pid_t pid, GError **error);
/* Move @pid into the cgroup in every hierarchy. */
gboolean berth_cgroup_enter (BerthCgroup *cg, pid_t pid, GError **error);
gboolean berth_cgroup_freeze (BerthCgroup *cg, gboolean frozen, GError **error);
/* TRUE when frozen (v1 freezer.state FROZEN, v2 cgroup.freeze 1). */
gboolean berth_cgroup_is_frozen (BerthCgroup *cg);
gboolean berth_cgroup_stats (BerthCgroup *cg, BerthExecStats *stats, GError **error);
GArray *berth_cgroup_pids (BerthCgroup *cg, GError **error);
/* oom_kill count from memory.oom_control (v1) or memory.events (v2). */
guint64 berth_cgroup_oom_kills (BerthCgroup *cg);
/* Send @signal to every process in the cgroup. */
gboolean berth_cgroup_kill (BerthCgroup *cg, int signal, GError **error);
/* Kill what is left (thawing first), wait until empty, rmdir in every
 * hierarchy. Idempotent: a missing directory is fine. */
gboolean berth_cgroup_destroy (BerthCgroup *cg, GError **error);
void berth_cgroup_free (BerthCgroup *cg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthCgroup, berth_cgroup_free)

/* --- devices-bpf.c --- */
/* Enforce OCI device rules (linux.resources.devices) on the cgroup2
 * directory @cgroup_dir with a BPF device program, replacing one attached
 * before (update). */
gboolean berth_devices_bpf_apply (const char *cgroup_dir, JsonArray *rules, GError **error);

/* --- seccomp.c --- */
typedef struct BerthSeccomp BerthSeccomp;
/* Compile an OCI linux.seccomp object (defaultAction, architectures,
 * syscalls[] with names, action, errnoRet, args) into a loadable filter.
 * Unknown syscall names are skipped (older kernels/libseccomp lack some),
 * unknown actions are an INVALID error. Done in the parent, before clone, so
 * the child only has to load it. */
BerthSeccomp *berth_seccomp_compile (JsonObject *seccomp, GError **error);
/* Install the filter in the calling process. Needs no_new_privs (or
 * CAP_SYS_ADMIN). Async-signal-safe enough for a freshly cloned child: no
 * allocation. Returns 0 or -errno. */
int berth_seccomp_load (BerthSeccomp *filter);
void berth_seccomp_free (BerthSeccomp *filter);
/* features.md's linux.seccomp: enabled, actions, operators, archs. */
JsonObject *berth_seccomp_features (void);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthSeccomp, berth_seccomp_free)

/* --- hooks.c: the runtime-spec hooks at the driver's points --- */
/* Does the spec have hooks of any of the NULL-terminated @kinds? */
gboolean berth_native_has_hooks (BerthExec *c, const char *const *kinds);
/* Every hook of the spec well formed (an absolute path, a sane timeout),
 * checked before anything is made. */
gboolean berth_native_hooks_check (BerthExec *c, GError **error);
/* prestart and createRuntime in berth's namespaces, then createContainer
 * in the container's @ns_flags ones (the first process waits before
 * pivot_root meanwhile). */
gboolean berth_native_hooks_create (BerthExec *c, guint ns_flags, GError **error);
/* startContainer, in the container's @ns_flags namespaces. */
gboolean berth_native_hooks_start (BerthExec *c, guint ns_flags, GError **error);
/* poststart or poststop (@kind), the state's status @status: a failure is
 * a warning on stderr, the operation stands. */
void berth_native_hooks_after (BerthExec *c, const char *kind, const char *status);

/* --- helper.c --- */
/* A sealed memfd holding berth-exec-helper, the static program through
 * which the container's program is executed, so that no process in the
 * container ever has the berth binary as its executable. Found through
 * $BERTH_EXEC_HELPER, next to the running binary, or in pkglibexecdir. */
int berth_exec_helper_memfd (GError **error);
/* The helper's command line that runs @program with @args (its argv[0]
 * first): "berth-exec-helper --berth-exec PROGRAM ARGS...", or with
 * @sync_fd (a descriptor number, as text) "--berth-exec-sync FD ...": the
 * helper keeps that descriptor open until the program's exec. Built before
 * a container's last steps (seccomp, user switch), which must not allocate. */
const char **berth_exec_helper_argv (const char *program, char *const *args, const char *sync_fd);

/* --- init.c: the container's first process (and exec'd ones) --- */

typedef struct {
  char *source;          /* host path, or the filesystem's name */
  char *destination;     /* absolute inside the container */
  char *type;            /* "bind" for bind mounts */
  char *data;            /* options the kernel parses ("mode=755,size=65536k") */
  unsigned long flags;   /* MS_* */
  unsigned long propagation; /* MS_PRIVATE/MS_SLAVE/... with MS_REC, or 0 */
  gboolean is_cgroup;    /* OCI "cgroup": mounted per hierarchy by init */
  gboolean copy_up;      /* "tmpcopyup": a tmpfs that starts with what it covers */
  int source_tree;       /* user namespace: the bind source cloned (open_tree) before
                          * the rootfs's tmpfs covers /tmp; -1 otherwise */
} BerthMountPlan;

/* A linux.devices entry: a node made in the container's tree. */
typedef struct {
  char *path;            /* absolute inside the container */
  mode_t type;           /* S_IFCHR, S_IFBLK or S_IFIFO */
  dev_t rdev;            /* 0 for a FIFO */
  mode_t mode;           /* permission bits (fileMode, default 0666) */
  uid_t uid;
  gid_t gid;
} BerthDevicePlan;

typedef struct {
  int resource;
  struct { guint64 soft, hard; } limit;
} BerthRlimitPlan;

/* Everything the child does, worked out by the parent before clone so the
 * child only makes syscalls. Pointers are owned by the plan. */
typedef struct {
  /* what the child sets up: a namespace joined by path is the other
   * container's or process's, set up already, so it is not new */
  gboolean new_mount_ns, new_net_ns;
  gboolean uts_ns;                 /* made or joined: the hostname is set in it */
  gboolean user_ns;                /* in a user namespace, made or joined: no mknod, no v1 mounts */
  gboolean unshare_cgroup_ns;      /* after the parent's go, not by clone */
  gboolean pause_for_hooks;        /* stop before pivot_root ('H') for the create hooks */
  char *rootfs;
  unsigned long root_propagation; /* applied to "/" first; MS_SLAVE|MS_REC default */
  gboolean readonly_root;
  GPtrArray *mounts;               /* BerthMountPlan */
  gboolean mounts_cgroup;          /* the spec has a "cgroup" mount ... */
  char **cgroup_hierarchies;       /* ... of these (berth_cgroup_hierarchy_names) */
  char **cgroup_dirs;              /* ... whose directories these are (berth_cgroup_dirs) */
  gboolean cgroup_ns;              /* a cgroup namespace made or joined: mount, not bind */
  GPtrArray *devices;              /* BerthDevicePlan, linux.devices */
  char **masked_paths, **readonly_paths;
  char *hostname;
  char **sysctl;                   /* "key=value" */
  /* the process */
  char **args, **env;
  char *cwd;
  gboolean terminal;               /* a pty made inside, its master sent ('T') */
  int stdio[3];                    /* -1: /dev/null */
  uid_t uid;
  gid_t gid;
  GArray *groups;                  /* gid_t */
  guint64 cap_bounding, cap_effective, cap_permitted, cap_inheritable, cap_ambient;
  int cap_last;
  GArray *rlimits;                 /* BerthRlimitPlan */
  gboolean set_oom_score_adj;
  int oom_score_adj;
  gboolean no_new_privs;
  BerthSeccomp *seccomp;           /* NULL: unconfined */
  /* plumbing */
  int sync_fd;                     /* messages to the parent; EOF at exec */
  int exec_fifo_fd;                /* O_PATH fd of exec.fifo, or -1 (run) */
  int rootfs_tree;                 /* user namespace: the rootfs as a detached mount, or -1 */
  int helper_fd;                   /* sealed memfd of berth-exec-helper (exec-helper.c) */
} BerthInitPlan;

void berth_init_plan_free (BerthInitPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthInitPlan, berth_init_plan_free)

/* The plan for a container's first process from OCI config @spec.
 * @ns_flags_new: the CLONE_NEW* flags of namespaces made for it;
 * @ns_flags_joined: those of namespaces it joins by path. A bad
 * linux.devices entry is an INVALID error. */
BerthInitPlan *berth_init_plan_new (JsonObject *spec, const char *rootfs, guint ns_flags_new,
                                    guint ns_flags_joined, const BerthExecStdio *stdio,
                                    GError **error);
/* The mount options a spec's mounts may use (features.md mountOptions). */
JsonArray *berth_init_mount_options (void);
/* Fill the process part of @plan from an OCI "process" object. */
gboolean berth_init_plan_process (BerthInitPlan *plan, JsonObject *process, GError **error);
/* process.terminal (or the caller's @stdio->terminal): the driver makes
 * the pty in the container and returns its master through
 * @stdio->pty_master, which must then be set. */
gboolean berth_init_plan_terminal (BerthInitPlan *plan, const BerthExecStdio *stdio, GError **error);
/* As runc: HOME, when the process's env has none, from the /etc/passwd of
 * @rootfs_dir for the plan's uid ("/" without an entry). */
void berth_init_plan_default_home (BerthInitPlan *plan, const char *rootfs_dir);

/* In the freshly cloned child: wait for the parent's go, set up the container
 * as @plan says and exec. Never returns; a failure is sent as one line on
 * plan->sync_fd and the child exits 127 (not found) or 126. */
G_GNUC_NORETURN void berth_init_container (BerthInitPlan *plan);
/* In a child that has joined the container's namespaces: become the process
 * @plan describes and exec. Never returns. */
G_GNUC_NORETURN void berth_init_exec (BerthInitPlan *plan);

G_END_DECLS
