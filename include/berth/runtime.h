/* The runtime: containers as processes, on top of the store's records
 * (core/runtime/). It calls into the store; the store never calls it.
 *
 *   <root>/containers/<hex>/config.json   the OCI runtime config (spec)
 *   <root>/containers/<hex>/state.json    what happened to its process
 *
 * create = the store's record + the spec; remove = stop + the record's
 * removal; start forks a monitor that owns the container's process. */
#pragma once
#include <berth/store.h>
#include <berth/spec.h>
#include <berth/exec.h>

G_BEGIN_DECLS

/* A writable layer plus config.json, the OCI runtime config built from the
 * image and @options (NULL: the image's defaults). No process yet. */
BerthContainer *berth_container_create (BerthStore *store, const char *image_ref,
                                        const char *name, const char *driver,
                                        const char *exec_driver,
                                        const BerthSpecOptions *options, GError **error);
/* Docker's rename: @c is @name from now on, also in the /etc/hosts of the
 * running containers that share a network with it. */
gboolean berth_container_rename (BerthStore *store, BerthContainer *c, const char *name,
                                 GError **error);
/* Stop @ref (only with @force when it runs), then remove its record. */
gboolean berth_container_remove (BerthStore *store, const char *ref, gboolean force,
                                 GError **error);
/* The same, and then its anonymous volumes that no other container uses
 * (docker rm -v, run --rm). */
gboolean berth_container_remove_with_volumes (BerthStore *store, const char *ref, gboolean force,
                                              GError **error);


/* docker cp: copy @src to @dst, one of them inside @c, the other on the
 * host (@into_container says which); "-" for the host side is a tar on
 * stdin or stdout. A running container is copied as its processes see it, a
 * stopped one with its volumes and binds in place. Docker's rules: a
 * trailing "/" wants a directory, "/." a directory's contents; a missing
 * destination is made (its parent must exist); a directory never replaces a
 * file. Copied in, entries belong to the container's root unless @archive;
 * copied out, to the caller (a tar on stdout keeps the container's owners). */
typedef struct {
  gboolean archive;      /* -a: keep the source's owners */
  gboolean follow_link;  /* -L: copy what a source symlink points to */
} BerthCopyOptions;
gboolean berth_container_copy (BerthStore *store, BerthContainer *c, const char *src,
                               const char *dst, gboolean into_container,
                               const BerthCopyOptions *options, GError **error);

/* containers/<id>/state.json: what happened to the container's process. */
typedef struct {
  char *status;        /* "created", "starting", "running", "paused", "exited" */
  int pid;             /* the first process, host pid */
  int monitor_pid;
  guint64 monitor_start_time;
  int exit_code;
  gboolean oom_killed;
  char *error;         /* why the start failed, or "" */
  char *started_at, *finished_at;
  gboolean auto_remove;
  char *rootfs;
  int restart_count;         /* restarts by the policy since the last start by hand */
  int restart_backoff;       /* quick exits in a row: the next delay is 100 ms << this */
  gboolean manually_stopped; /* stop or kill since the last start: the policy rests */
} BerthContainerState;
void berth_container_state_free (BerthContainerState *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthContainerState, berth_container_state_free)

/* The state, corrected when the monitor died without recording an exit
 * (then the container is cleaned up and reported exited with 255). */
BerthContainerState *berth_container_state (BerthStore *store, BerthContainer *c,
                                            GError **error);
/* Running, paused or starting: a process is there (docker ps without -a). */
gboolean berth_container_state_is_live (const BerthContainerState *s);
/* docker ps's STATUS: "Up", "Up (Paused)", "Exited (N)", "Restarting (N)",
 * "Created", and berth's "Starting". */
char *berth_container_status_text (const BerthContainerState *s);

/* Docker's inspect document of a container (Id, Name, State, Config,
 * HostConfig, NetworkSettings...) and of an image (Id, RepoTags, Config,
 * RootFS...), for berth inspect and the Engine API alike. */
JsonNode *berth_container_inspect (BerthStore *store, BerthContainer *c, GError **error);
JsonNode *berth_image_inspect (BerthStore *store, const char *ref, GError **error);
/* Docker's inspect object of a local volume (berth volume inspect, GET
 * /volumes/NAME). */
JsonNode *berth_volume_inspect (const BerthVolume *v);

typedef struct {
  gboolean attach;      /* copy output to our stdout/stderr as well as the log */
  gboolean interactive; /* our stdin becomes the container's */
  gboolean tty;         /* a pty: our terminal goes raw while attached */
  gboolean auto_remove; /* --rm: the monitor removes the container at exit */
  gboolean restart;     /* the monitor's start for the restart policy: the count goes on */
} BerthStartOptions;

/* What a start hands on: the monitor (a child of the starting process),
 * the first process's pid and, for an attached start, the descriptors
 * berth_container_attach_wait uses (the exit pipe from the monitor and,
 * with -t, the container's terminal). The handle owns them:
 * berth_run_free closes whatever it still holds, so free it on every path
 * (g_autoptr). It does not stop or reap the monitor, which lives on as
 * long as the container. */
typedef struct BerthRun BerthRun;
void berth_run_free (BerthRun *run);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthRun, berth_run_free)

/* Start the container's process under a new monitor process and return
 * once it runs; NULL with @error when it failed to start (then nothing is
 * left running or mounted). Called with the store locked; returns with it
 * locked. A detached start's handle is only for freeing. An attached
 * start returns with the signals berth_attach forwards blocked, so one
 * that comes before berth_container_attach_wait is the container's too;
 * attach_wait or berth_run_free puts the mask back. */
BerthRun *berth_container_start (BerthStore *store, BerthContainer *c,
                                 const BerthStartOptions *options, GError **error);
/* For a start with @attach: unlock the store, relay signals and the
 * terminal size, wait for the monitor and return the container's exit
 * code. @run stays the caller's to free; its descriptors are closed here.
 * -1 with INVALID for a detached start's handle or one attached already. */
int berth_container_attach_wait (BerthStore *store, BerthRun *run, GError **error);

/* docker system df: per kind, how many there are, how many are in use
 * (images a container is made from, running containers, volumes a
 * container mounts), their bytes and the bytes of what is not in use
 * (core/runtime/prune.c says how each is counted). */
typedef struct {
  guint total, active;
  gint64 size, reclaimable;
} BerthUsage;
typedef struct {
  BerthUsage images, containers, volumes;
} BerthDiskUsage;
gboolean berth_disk_usage (BerthStore *store, BerthDiskUsage *usage, GError **error);

/* docker system prune (and container prune, image prune): with
 * @containers every container not running, then with @volumes every
 * volume no container mounts, then with @images the images no container is
 * made from: untagged ones, or every one with @all_images. What went is
 * listed in @report (clear it after) with the bytes freed. */
typedef struct {
  gboolean containers;
  gboolean volumes;
  gboolean images;
  gboolean all_images;
} BerthPruneOptions;
typedef struct {
  GPtrArray *containers, *images, *volumes; /* ids, "sha256:" ids, names */
  gint64 reclaimed;
} BerthPruneReport;
gboolean berth_prune (BerthStore *store, const BerthPruneOptions *options,
                      BerthPruneReport *report, GError **error);
void berth_prune_report_clear (BerthPruneReport *report);

/* `berth start --all-restart`, for an init system after a reboot (when no
 * monitor is left): start every container whose restart policy is always,
 * or unless-stopped and not stopped by hand, and that is not running; the
 * names started are added to @started. FAILED when any failed to start
 * (each one's reason printed). */
gboolean berth_container_start_by_policy (BerthStore *store, GPtrArray *started, GError **error);

/* Wait (store unlocked meanwhile) until the container is not running;
 * its exit code, or -1 with @error. */
int berth_container_wait (BerthStore *store, BerthContainer *c, GError **error);
/* SIGTERM (or the image's StopSignal), then SIGKILL to all after @timeout s. */
gboolean berth_container_stop (BerthStore *store, BerthContainer *c, int timeout,
                               GError **error);
gboolean berth_container_kill (BerthStore *store, BerthContainer *c, int signal,
                               GError **error);
gboolean berth_container_pause (BerthStore *store, BerthContainer *c, gboolean pause,
                                GError **error);
/* Run @args in the running container; returns the process's exit code. */
int berth_container_exec (BerthStore *store, BerthContainer *c, char **args, char **env,
                          const char *user, const char *workdir, gboolean interactive,
                          gboolean tty, GError **error);
gboolean berth_container_stats (BerthStore *store, BerthContainer *c, BerthExecStats *stats,
                                GError **error);
GArray *berth_container_pids (BerthStore *store, BerthContainer *c, GError **error);
/* What `logs` prints, as Docker's flags say. */
typedef struct {
  gboolean follow;      /* then what comes, until the container stops */
  gint64 tail;          /* of what is there already, the last N lines; -1: all */
  gboolean timestamps;  /* each line after its time (RFC 3339, as recorded) */
  gint64 since, until;  /* lines recorded at or after / before, in µs since the
                         * epoch; 0: no bound */
} BerthLogOptions;
/* Write the container's log to @out_fd/@err_fd as @options say. */
gboolean berth_container_logs (BerthStore *store, BerthContainer *c,
                               const BerthLogOptions *options, int out_fd, int err_fd,
                               GError **error);
/* The container's OCI config.json. */
JsonNode *berth_container_spec (BerthStore *store, BerthContainer *c, GError **error);

/* Networks (core/runtime/network.c): the store's record and the host's side
 * of it (the driver's setup), made together and removed together. */
BerthNetwork *berth_network_create (BerthStore *store, const BerthNetworkRequest *req,
                                    GError **error);
/* BUSY while a running container is on it. */
gboolean berth_network_remove (BerthStore *store, const char *name, GError **error);
/* Docker's NetworkSettings of a running container on a berth network:
 * IPAddress, Gateway, MacAddress, Networks and Ports (empty otherwise). */
JsonNode *berth_container_network_settings (BerthStore *store, BerthContainer *c);
/* Connect container @c to @network (Docker's network connect; @ip: --ip or
 * NULL), now when it runs, and at each start from now on as its next
 * interface (eth1, eth2...). EXISTS when it is on @network already;
 * INVALID when its network is none, host or another container's. */
gboolean berth_network_connect (BerthStore *store, BerthContainer *c, const char *network,
                                const char *ip, GError **error);
/* Undo berth_network_connect: the interface goes now when @c runs.
 * NOT_FOUND when @network was not connected; INVALID for the network @c
 * was created on. */
gboolean berth_network_disconnect (BerthStore *store, BerthContainer *c, const char *network,
                                   GError **error);
/* "NAME ADDRESS" of each running container on @network. */
GPtrArray *berth_network_members (BerthStore *store, const char *network, GError **error);

G_END_DECLS
