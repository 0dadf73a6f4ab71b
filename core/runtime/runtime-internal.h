/* Shared inside core/runtime/: run.c (start, monitor, state), control.c
 * (the commands that act on a started container) and create.c. */
#pragma once
#include "../store/store-internal.h"
#include <berth/runtime.h>
#include <signal.h>

/* Made by berth_container_start (run.c), used by berth_container_attach_wait
 * (control.c). */
struct BerthRun {
  char *name;         /* the container's, for messages */
  gboolean attached;  /* started with BerthStartOptions.attach */
  pid_t monitor;      /* our child; 0 once attach_wait has had it */
  pid_t pid;          /* the container's first process: signals go there */
  int terminal;       /* attached -t: the container's pty slave (the monitor
                       * holds the master), for raw mode and window sizes; -1 */
  int exit_fd;        /* attached: the monitor writes the exit code here once
                       * it has recorded it; -1 */
  gboolean holds_signals;  /* attached: the forwarded signals are blocked */
  sigset_t signals_before; /* the mask to put back when they are released */
};

/* Once the relay is over (or never to come): put back the mask an
 * attached start held. Does nothing the second time. */
void berth_run_release_signals (BerthRun *run);

/* The restart policy's turn (core/runtime/restart.c), in the monitor once
 * it has recorded and released @c's exit (@code, after running @ran_us):
 * when the policy says so, "restarting" for Docker's delay (100 ms,
 * doubling with each exit in a row that came within 10 s of its start, at
 * most a minute), then a start by this process, whose new monitor takes
 * over. Nothing when a stop or kill came first. */
void berth_monitor_restart (BerthStore *store, BerthContainer *c, int code, gint64 ran_us);
/* A stop, kill or removal by hand: the policy rests until the next start,
 * and a restart waited for is called off (its monitor goes). */
gboolean berth_container_hold_restart (BerthStore *store, BerthContainer *c, GError **error);

/* Record container event @action for @c (its name and image as
 * attributes, then @extra "KEY=VALUE" or NULL) in the store's journal. */
void berth_container_event (BerthStore *store, BerthContainer *c, const char *action,
                            const char *extra);

/* containers/<id>/<file> */
char *berth_container_dir (BerthStore *store, BerthContainer *c, const char *file);
/* state.json as written; "created" when there is none. */
BerthContainerState *berth_state_read (BerthStore *store, BerthContainer *c, GError **error);
gboolean berth_state_write (BerthStore *store, BerthContainer *c, BerthContainerState *s,
                            GError **error);
/* "running" or "paused": a process is (or should be) there. */
gboolean berth_state_is_live (BerthContainerState *s);
gboolean berth_monitor_alive (BerthContainerState *s);
/* A handle on @c's exec driver; @spec NULL reads config.json. */
BerthExec *berth_container_exec_handle (BerthStore *store, BerthContainer *c, const char *rootfs,
                                        JsonNode *spec, GError **error);
/* The same, with what the driver saved loaded if it saved anything
 * (*loaded), so a container whose records are incomplete can still be
 * reached through its cgroup. */
BerthExec *berth_container_exec_best (BerthStore *store, BerthContainer *c, const char *rootfs,
                                      gboolean *loaded, GError **error);
/* The pids (pid_t) in @exec's cgroup; none where the driver cannot tell. */
GArray *berth_container_cgroup_pids (BerthExec *exec, GError **error);
/* The pids in @c's cgroup whatever berth's records say, for a container
 * they show as not running, with (@exec_out non-NULL) the handle that
 * reached it: what a start and a removal must both check. No pids and
 * *@exec_out NULL when @c has no exec state, so no cgroup. */
GArray *berth_container_unrecorded_pids (BerthStore *store, BerthContainer *c,
                                         BerthExec **exec_out, GError **error);
/* berth_container_state for a caller holding the store lock and @c's lock. */
BerthContainerState *berth_container_state_locked (BerthStore *store, BerthContainer *c,
                                                   GError **error);
/* berth_container_state once no monitor is still releasing @c: one that
 * recorded the exit and waits for the store lock to release the mount is
 * waited for, with the store lock given up meanwhile. NOT_FOUND when the
 * monitor removed the container (--rm). */
BerthContainerState *berth_container_state_settled (BerthStore *store, BerthContainer *c,
                                                    GError **error);
/* Wait up to @timeout_ms (-1: for ever) for @s's monitor to exit; TRUE
 * once it has (or was gone already). */
gboolean berth_monitor_wait (BerthContainerState *s, int timeout_ms);
/* Release cgroup and mount and record "exited" (store locked). @exec may be
 * NULL: it is loaded from the driver's saved state. */
gboolean berth_container_finish (BerthStore *store, BerthContainer *c, BerthContainerState *s,
                                 BerthExec *exec, GError **error);

/* Before removing @c: fine when it is not running; with @force, kill it and
 * wait for its monitor's cleanup; else BUSY. */
gboolean berth_container_ensure_stopped (BerthStore *store, BerthContainer *c, gboolean force,
                                         GError **error);

/* A container's lease on a network (network.c): containers/<id>/network.json
 * for eth0, network-ethN.json for a network connected later. */
typedef struct {
  char *network;
  char *address;   /* "172.18.0.2/16" */
  char *mac;
  char *host_end;  /* the host's end of its link: "vb" + 10 hex of the id */
  char *ports;     /* published: canonical -p forms, comma-separated; "" */
  char *driver;    /* the network's, kept so a release needs no network record */
  char *ifname;    /* the container's interface, "eth0"; not in the file: its name */
} BerthLease;
void berth_lease_free (BerthLease *lease);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthLease, berth_lease_free)

/* The network the spec's container joins through berth (its
 * org.berth.network annotation), NULL for none, host or a joined one. */
const char *berth_spec_network (JsonNode *spec);
/* The id of the container whose network namespace the spec's joins
 * (--network container:NAME), or NULL. */
const char *berth_spec_network_container (JsonNode *spec);
/* Point @spec (the start's copy) at the network namespace of running
 * container @other_id, and give @c its hosts and resolv.conf. */
gboolean berth_container_join_network_of (BerthStore *store, BerthContainer *c, JsonNode *spec,
                                          const char *other_id, GError **error);
/* What a start attaches: its networks and @c's leases on them, in the
 * order of its interfaces (eth0 the network it was created on, then those
 * connected later). */
typedef struct {
  GPtrArray *networks;  /* BerthNetwork */
  GPtrArray *leases;    /* BerthLease */
} BerthNetworkPlan;
void berth_network_plan_free (BerthNetworkPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthNetworkPlan, berth_network_plan_free)
/* Before a start (store lock held): for a container on a berth network,
 * its networks' records (the default one made on first use) and host
 * sides, an address on each (the spec's --ip and ports for eth0), the
 * ports published, and its etc files naming its peers, whose own are
 * rewritten to name it (@plan; NULL for none, host or a joined one).
 * BUSY when a subnet is full, or an address or a port is taken. What was
 * leased before a failure is berth_container_network_release's. */
gboolean berth_container_network_prepare (BerthStore *store, BerthContainer *c, JsonNode *spec,
                                          BerthNetworkPlan **plan, GError **error);
/* The plan's links and addresses in the namespace of @pid (the monitor's
 * holder, between the driver's create and start). */
gboolean berth_network_plan_attach (const BerthNetworkPlan *plan, pid_t pid, GError **error);
/* @c was renamed: the running containers on its networks list it by its
 * new name. */
void berth_container_network_names_changed (BerthStore *store, BerthContainer *c);
/* Detach @c from its networks, if it has leases, and drop them. */
gboolean berth_container_network_release (BerthStore *store, BerthContainer *c, GError **error);
/* containers/<id>/hostname, hosts and resolv.conf, which the spec binds
 * over the image's: the spec's hostname, localhost (and @lease's address
 * for the hostname), the host's nameservers but its loopback ones; with
 * the host's network, the host's hosts and resolv.conf. */
gboolean berth_container_write_etc (BerthStore *store, BerthContainer *c, JsonNode *spec,
                                    const BerthLease *lease, GError **error);
/* A child of the caller (the monitor) alone in a new network namespace
 * with lo up, killed with its parent (PR_SET_PDEATHSIG): the namespace a
 * container on a network starts in, given its link before the container
 * exists, joined by either exec driver through /proc/PID/ns/net. Its pid,
 * or 0 with @error. */
pid_t berth_netns_holder_start (GError **error);
/* Kill and reap it; the namespace lives on while the container does. */
void berth_netns_holder_stop (pid_t holder);
/* Point the spec's network namespace at /proc/@pid/ns/net. */
gboolean berth_spec_join_network (JsonNode *spec, pid_t pid, GError **error);
/* Release the lease, link and rules of every container that holds a
 * lease but is not live: a command killed between its lease and its
 * record of the start. Called with the store lock; reports, never fails. */
void berth_network_collect (BerthStore *store);
/* The network a start joins: its record, or for the default one, made
 * now (it goes again when its last container does). NOT_FOUND. */
BerthNetwork *berth_network_for_start (BerthStore *store, const char *name, GError **error);
/* config.json's org.berth.* annotations for the network options of
 * @options and the image's config (@image: its EXPOSE for -P)
 * (core/runtime/spec-network.c): an object, empty for none;
 * INVALID naming a bad option, or one that needs a berth network
 * (@berth_network) or a namespace of the container's own. */
JsonNode *berth_spec_network_annotations (const BerthSpecOptions *options, JsonObject *image,
                                          gboolean berth_network, gboolean own_namespace,
                                          GError **error);
/* The default network lives while a container is on it: with no live
 * lease on @network (the default one) but @leaving's, remove it, bridge
 * and rules, so a store with no running container holds none of the
 * host's. Any other @network is left alone. */
void berth_network_drop_idle_default (BerthStore *store, const char *network, const char *leaving);

/* --- volumes.c --- */
/* @volumes (-v entries) with each named or anonymous volume made when
 * missing (its name added to @made) and replaced by its host path; an empty
 * volume gets the image's content at its destination first. */
char **berth_container_resolve_volumes (BerthStore *store, BerthContainer *c, char **volumes,
                                        GPtrArray *made, GError **error);
/* Remove the volumes @names (a failed create's), best effort. */
void berth_container_drop_volumes (BerthStore *store, GPtrArray *names);
/* The anonymous volumes @c's config mounts. */
GPtrArray *berth_container_anonymous_volumes (BerthStore *store, BerthContainer *c);
/* Docker's --volumes-from NAME[:ro|rw] (@from): @volumes with, added as -v
 * binds, the volumes and bind mounts each named container has (not the
 * files berth binds itself, not its tmpfs), read-only as there unless the
 * suffix says; a destination @volumes names already is left to it. */
char **berth_container_volumes_from (BerthStore *store, char **volumes, char **from,
                                     GError **error);
