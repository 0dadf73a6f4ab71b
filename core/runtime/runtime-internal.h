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
