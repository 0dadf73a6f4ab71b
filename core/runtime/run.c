/* Starting a container under its monitor, and its state.
 *
 * The monitor (the role conmon plays for podman) is a fork of the berth
 * command that starts the container. It is the parent of the container's
 * first process, keeps its stdout and stderr in containers/<id>/container.log,
 * records the exit status and OOM kill in state.json, releases the cgroup and
 * the mount, and removes the container for --rm. The command itself returns
 * at once for -d, or waits for the monitor when attached.
 *
 * Lock discipline: the command holds the container's lock (containers/<id>/
 * lock, taken after the store lock) while it starts the container and
 * writes "running"; the monitor takes the container's lock alone before it
 * writes "exited", so the two writes can never be reordered, and a
 * container's exit never waits on the store lock or on another container.
 * Only then does the monitor take the store lock (and the container's lock
 * again, in that order) to release the mount, the cgroup and, for --rm, the
 * container. Until it has, the record reads "exited" with the program's pid
 * and a live monitor; a command that holds the store lock and needs the
 * container settled waits for the monitor with the store lock given up
 * (berth_container_state_settled). Anything that waits for a monitor must
 * not hold either lock.
 *
 * The monitor runs nothing until the command has written "starting" with the
 * monitor's pid: a command killed at any point leaves either no program or a
 * record that names the monitor. Since the command holds the container's
 * lock from there to "running", anyone else who reads "starting" under that
 * lock knows that command died. */
#include "config.h"
#include "runtime-internal.h"
#include <berth/error.h>
#include <berth/exec.h>
#include <berth/fdutil.h>
#include <berth/fsutil.h>
#include <berth/pty.h>
#include <berth/sanitize.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

void
berth_container_state_free (BerthContainerState *s)
{
  if (s == NULL)
    return;
  g_free (s->status);
  g_free (s->error);
  g_free (s->started_at);
  g_free (s->finished_at);
  g_free (s->rootfs);
  g_free (s);
}

void
berth_container_event (BerthStore *store, BerthContainer *c, const char *action,
                       const char *extra)
{
  g_autofree char *name = g_strconcat ("name=", c->name, NULL);
  g_autofree char *image = g_strconcat ("image=", c->image_ref, NULL);
  char *attributes[] = { image, name, (char *) extra, NULL };
  berth_event_record (store, "container", action, c->id, attributes);
}

char *
berth_container_dir (BerthStore *store, BerthContainer *c, const char *file)
{
  return berth_store_path (store, "containers", c->id, file, NULL);
}

gboolean
berth_state_write (BerthStore *store, BerthContainer *c, BerthContainerState *s, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "Status");
  json_builder_add_string_value (b, s->status);
  json_builder_set_member_name (b, "Pid");
  json_builder_add_int_value (b, s->pid);
  json_builder_set_member_name (b, "MonitorPid");
  json_builder_add_int_value (b, s->monitor_pid);
  json_builder_set_member_name (b, "MonitorStartTime");
  json_builder_add_int_value (b, s->monitor_start_time);
  json_builder_set_member_name (b, "ExitCode");
  json_builder_add_int_value (b, s->exit_code);
  json_builder_set_member_name (b, "OOMKilled");
  json_builder_add_boolean_value (b, s->oom_killed);
  json_builder_set_member_name (b, "Error");
  json_builder_add_string_value (b, s->error ? s->error : "");
  json_builder_set_member_name (b, "StartedAt");
  json_builder_add_string_value (b, s->started_at ? s->started_at : "");
  json_builder_set_member_name (b, "FinishedAt");
  json_builder_add_string_value (b, s->finished_at ? s->finished_at : "");
  json_builder_set_member_name (b, "AutoRemove");
  json_builder_add_boolean_value (b, s->auto_remove);
  json_builder_set_member_name (b, "Rootfs");
  json_builder_add_string_value (b, s->rootfs ? s->rootfs : "");
  json_builder_set_member_name (b, "RestartCount");
  json_builder_add_int_value (b, s->restart_count);
  json_builder_set_member_name (b, "RestartBackoff");
  json_builder_add_int_value (b, s->restart_backoff);
  json_builder_set_member_name (b, "ManuallyStopped");
  json_builder_add_boolean_value (b, s->manually_stopped);
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  gsize len = 0;
  g_autofree char *text = berth_json_to_string (node, &len);
  g_autofree char *path = berth_container_dir (store, c, "state.json");
  return berth_write_file_replace (path, text, len, 0600, error);
}

BerthContainerState *
berth_state_read (BerthStore *store, BerthContainer *c, GError **error)
{
  g_autofree char *path = berth_container_dir (store, c, "state.json");
  g_autoptr (BerthContainerState) s = g_new0 (BerthContainerState, 1);
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonNode) node = berth_json_read (path, &local);
  if (node == NULL)
    {
      if (!g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
        return g_propagate_error (error, g_steal_pointer (&local)), NULL;
      s->status = g_strdup ("created");
      return g_steal_pointer (&s);
    }
  JsonObject *o = berth_json_node_object (node);
  s->status = g_strdup (berth_json_string (o, "Status", "created"));
  s->pid = berth_json_int (o, "Pid", 0);
  s->monitor_pid = berth_json_int (o, "MonitorPid", 0);
  s->monitor_start_time = berth_json_int (o, "MonitorStartTime", 0);
  s->exit_code = berth_json_int (o, "ExitCode", 0);
  s->oom_killed = berth_json_bool (o, "OOMKilled", FALSE);
  s->error = g_strdup (berth_json_string (o, "Error", ""));
  s->started_at = g_strdup (berth_json_string (o, "StartedAt", ""));
  s->finished_at = g_strdup (berth_json_string (o, "FinishedAt", ""));
  s->auto_remove = berth_json_bool (o, "AutoRemove", FALSE);
  s->rootfs = g_strdup (berth_json_string (o, "Rootfs", ""));
  s->restart_count = CLAMP (berth_json_int (o, "RestartCount", 0), 0, G_MAXINT);
  s->restart_backoff = CLAMP (berth_json_int (o, "RestartBackoff", 0), 0, 64);
  s->manually_stopped = berth_json_bool (o, "ManuallyStopped", FALSE);
  return g_steal_pointer (&s);
}

gboolean
berth_state_is_live (BerthContainerState *s)
{
  return g_strcmp0 (s->status, "running") == 0 || g_strcmp0 (s->status, "paused") == 0
         || g_strcmp0 (s->status, "starting") == 0;
}

gboolean
berth_monitor_alive (BerthContainerState *s)
{
  return s->monitor_pid > 0
         && berth_process_start_time (s->monitor_pid) == s->monitor_start_time;
}

JsonNode *
berth_container_spec (BerthStore *store, BerthContainer *c, GError **error)
{
  g_autofree char *path = berth_container_dir (store, c, "config.json");
  return berth_json_read (path, error);
}

BerthExec *
berth_container_exec_handle (BerthStore *store, BerthContainer *c, const char *rootfs,
                             JsonNode *spec, GError **error)
{
  const BerthExecOps *ops = berth_exec_driver_lookup (c->exec_driver, error);
  if (ops == NULL)
    return NULL;
  g_autofree char *state_dir = berth_container_dir (store, c, "exec");
  if (!berth_mkdir_p (state_dir, 0700, error))
    return NULL;
  g_autoptr (JsonNode) own_spec = spec ? json_node_ref (spec) : berth_container_spec (store, c, error);
  if (own_spec == NULL)
    return NULL;
  return berth_exec_new (ops, c->id, state_dir, rootfs, own_spec);
}

/* The end of a container's run, by the monitor or by whoever finds the
 * monitor gone: release the driver's cgroup and the mount, record the exit.
 * Called with the store locked. */
gboolean
berth_container_finish (BerthStore *store, BerthContainer *c, BerthContainerState *s,
                        BerthExec *exec, GError **error)
{
  g_autoptr (BerthExec) own = NULL;
  if (exec == NULL)
    {
      own = berth_container_exec_handle (store, c, s->rootfs, NULL, error);
      if (own == NULL)
        return FALSE;
      g_autoptr (GError) local = NULL;
      if (!berth_exec_load (own, &local)
          && !g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
        return g_propagate_error (error, g_steal_pointer (&local)), FALSE;
      exec = own;
    }
  if (!berth_exec_delete (exec, error))
    return FALSE;
  /* Not a reason to keep the container from being finished: its lease
   * stays, and the next start's collection tries again. */
  g_autoptr (GError) network_error = NULL;
  if (!berth_container_network_release (store, c, &network_error))
    g_printerr ("berth: container %s: %s\n", c->name, network_error->message);
  BerthStorage *storage = berth_store_driver (store, c->driver, error);
  if (storage == NULL)
    return FALSE;
  if (berth_storage_refcount (storage, c->id) > 0 && !berth_storage_put (storage, c->id, error))
    return FALSE;
  /* An exit the monitor recorded keeps its time. */
  if (g_strcmp0 (s->status, "exited") != 0 || s->finished_at == NULL || *s->finished_at == '\0')
    {
      g_free (s->finished_at);
      s->finished_at = berth_now_rfc3339 ();
    }
  g_free (s->status);
  s->status = g_strdup ("exited");
  s->pid = 0;
  return berth_state_write (store, c, s, error);
}

/* The exec driver's handle with what it saved loaded, when it saved
 * anything; *loaded says whether it had. */
BerthExec *
berth_container_exec_best (BerthStore *store, BerthContainer *c, const char *rootfs,
                           gboolean *loaded, GError **error)
{
  g_autoptr (BerthExec) exec = berth_container_exec_handle (store, c, rootfs, NULL, error);
  if (exec == NULL)
    return NULL;
  g_autoptr (GError) local = NULL;
  *loaded = berth_exec_load (exec, &local);
  if (!*loaded && !g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
    return g_propagate_error (error, g_steal_pointer (&local)), NULL;
  return g_steal_pointer (&exec);
}

/* The processes in the container's cgroup, whatever berth's records say;
 * none where the driver cannot tell. */
GArray *
berth_container_cgroup_pids (BerthExec *exec, GError **error)
{
  g_autoptr (GError) local = NULL;
  GArray *pids = berth_exec_pids (exec, &local);
  if (pids == NULL && g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_SUPPORTED))
    return g_array_new (FALSE, FALSE, sizeof (pid_t));
  if (pids == NULL)
    g_propagate_error (error, g_steal_pointer (&local));
  return pids;
}

GArray *
berth_container_unrecorded_pids (BerthStore *store, BerthContainer *c, BerthExec **exec_out,
                                 GError **error)
{
  if (exec_out)
    *exec_out = NULL;
  /* No exec state directory: never run (a first start skips the cgroup
   * lookup this way), or removed by its monitor (--rm); no cgroup either. */
  g_autofree char *state_dir = berth_container_dir (store, c, "exec");
  if (!g_file_test (state_dir, G_FILE_TEST_IS_DIR))
    return g_array_new (FALSE, FALSE, sizeof (pid_t));
  gboolean loaded = FALSE;
  g_autoptr (BerthExec) exec = berth_container_exec_best (store, c, NULL, &loaded, error);
  if (exec == NULL)
    return NULL;
  /* Nothing saved is no proof of nothing made: a monitor killed while it
   * set up the cgroup left it, maybe with the program's first process. */
  GArray *pids = berth_container_cgroup_pids (exec, error);
  if (pids && exec_out)
    *exec_out = g_steal_pointer (&exec);
  return pids;
}

/* "starting" read under the lock: the command that started the container
 * was killed before it wrote "running". Its monitor, alive, carries on; the
 * first process's pid is in what the exec driver saved once it ran. */
static gboolean
adopt_start (BerthStore *store, BerthContainer *c, BerthContainerState *s, GError **error)
{
  gboolean loaded = FALSE;
  g_autoptr (BerthExec) exec = berth_container_exec_best (store, c, s->rootfs, &loaded, error);
  if (exec == NULL)
    return FALSE;
  if (!loaded || exec->pid <= 0)
    return TRUE; /* the monitor is still starting it: "starting" is the truth */
  g_free (s->status);
  s->status = g_strdup ("running");
  s->pid = exec->pid;
  return berth_state_write (store, c, s, error);
}

/* An exit the monitor recorded but did not release (the program's pid is
 * kept until it has): with the monitor gone, someone else must. */
static gboolean
exit_unreleased (BerthContainerState *s)
{
  return g_strcmp0 (s->status, "exited") == 0 && s->pid > 0 && !berth_monitor_alive (s);
}

/* Does what @s says need a repair (which writes, under the locks)? */
static gboolean
needs_repair (BerthContainerState *s)
{
  gboolean alive = berth_monitor_alive (s);
  return (g_strcmp0 (s->status, "starting") == 0 && alive)
         || (berth_state_is_live (s) && !alive) || exit_unreleased (s)
         || (g_strcmp0 (s->status, "restarting") == 0 && !alive);
}

BerthContainerState *
berth_container_state_locked (BerthStore *store, BerthContainer *c, GError **error)
{
  g_autoptr (BerthContainerState) s = berth_state_read (store, c, error);
  if (s == NULL)
    return NULL;
  if (g_strcmp0 (s->status, "starting") == 0 && berth_monitor_alive (s)
      && !adopt_start (store, c, s, error))
    return NULL;
  if (exit_unreleased (s))
    return berth_container_finish (store, c, s, NULL, error) ? g_steal_pointer (&s) : NULL;
  /* A monitor that died waiting to restart: what it had ran and was released. */
  if (g_strcmp0 (s->status, "restarting") == 0 && !berth_monitor_alive (s))
    {
      g_free (s->status);
      s->status = g_strdup ("exited");
      if (!berth_state_write (store, c, s, error))
        return NULL;
    }
  if (berth_state_is_live (s) && !berth_monitor_alive (s))
    {
      s->exit_code = 255;
      g_free (s->error);
      s->error = g_strdup ("berth's monitor for this container died; its exit status is lost");
      if (!berth_container_finish (store, c, s, NULL, error))
        return NULL;
    }
  return g_steal_pointer (&s);
}

/* Read without a lock (state.json is replaced atomically); a record that
 * needs repairing is read again and repaired under the store lock and the
 * container's, in that order. */
BerthContainerState *
berth_container_state (BerthStore *store, BerthContainer *c, GError **error)
{
  g_autoptr (BerthContainerState) s = berth_state_read (store, c, error);
  if (s == NULL || !needs_repair (s))
    return g_steal_pointer (&s);
  gboolean held = berth_store_is_locked (store);
  if (!held && !berth_store_lock (store, error))
    return NULL;
  g_autoptr (GError) local = NULL;
  int cfd = berth_container_lock (store, c->id, &local);
  BerthContainerState *repaired = NULL;
  if (cfd >= 0)
    repaired = berth_container_state_locked (store, c, error);
  else if (g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
    repaired = g_steal_pointer (&s); /* removed meanwhile: what we read is the last word */
  else
    g_propagate_error (error, g_steal_pointer (&local));
  berth_container_unlock (cfd);
  if (!held)
    berth_store_unlock (store);
  return repaired;
}

BerthContainerState *
berth_container_state_settled (BerthStore *store, BerthContainer *c, GError **error)
{
  g_autoptr (BerthContainerState) s = berth_container_state (store, c, error);
  /* (a monitor waiting to restart its container has released it) */
  while (s && !berth_state_is_live (s) && berth_monitor_alive (s)
         && s->monitor_pid != getpid () && g_strcmp0 (s->status, "restarting") != 0)
    {
      gboolean held = berth_store_is_locked (store);
      berth_store_unlock (store);
      berth_monitor_wait (s, -1);
      if (held && !berth_store_lock (store, error))
        return NULL;
      g_autofree char *meta = berth_container_dir (store, c, "container.json");
      if (!g_file_test (meta, G_FILE_TEST_EXISTS))
        return berth_fail (error, BERTH_ERROR_NOT_FOUND, "container %s was removed (--rm)",
                           c->name), NULL;
      g_clear_pointer (&s, berth_container_state_free);
      s = berth_container_state (store, c, error);
    }
  return g_steal_pointer (&s);
}

/* ---- the monitor ---- */

/* Docker's cut for a line without a newline, in bytes. */
#define LOG_LINE_MAX (16 * 1024)

typedef struct {
  BerthStore *store;
  BerthContainer *c;
  BerthExec *exec;
  int lock_fd;        /* the starting command's container lock: not the monitor's */
  const BerthStartOptions *options;
  int report_fd;      /* to the starting command: "OK" or the error */
  int go_fd;          /* from it: one byte once "starting" is recorded */
  int exit_fd;        /* to an attached command: the exit code, once recorded; -1 */
  int out_r, err_r;   /* the container's stdout and stderr (or the pty master) */
  int stdin_relay;    /* our stdin with -i, copied to stdin_w; -1 */
  int stdin_w;        /* the pty master (-it), or a pipe the container reads (-i); -1 */
  int pty_master;     /* -t: the master of the pty the driver made in the container; -1 */
  int log_fd;
  gint64 log_size;    /* bytes in the current container.log */
  gboolean attached;  /* copy output to our stdout/stderr too */
  const sigset_t *signals_before; /* attached: the starting command's mask
                                   * before it held the forwarded signals */
  const BerthNetworkPlan *network; /* the networks to attach before the program runs; NULL */
  GString *partial[2];
} Monitor;

/* Docker json-file's rotation: container.log -> .1 -> ... -> .(max-file - 1),
 * the oldest dropped, then a fresh container.log. Renames, so a `logs -f`
 * reading the old file finishes it and moves on (core/runtime/control.c). */
static void
rotate_log (Monitor *m)
{
  g_autofree char *base = berth_container_dir (m->store, m->c, "container.log");
  for (guint i = m->c->log_max_file - 1; i >= 1; i--)
    {
      g_autofree char *from = i == 1 ? g_strdup (base) : g_strdup_printf ("%s.%u", base, i - 1);
      g_autofree char *to = g_strdup_printf ("%s.%u", base, i);
      if (rename (from, to) < 0 && errno != ENOENT)
        g_printerr ("berth monitor: rename %s: %s\n", from, g_strerror (errno));
    }
  if (m->c->log_max_file == 1 && unlink (base) < 0 && errno != ENOENT)
    g_printerr ("berth monitor: unlink %s: %s\n", base, g_strerror (errno));
  int fd = open (base, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      /* keep writing where we were rather than lose the output */
      g_printerr ("berth monitor: open %s: %s\n", base, g_strerror (errno));
      return;
    }
  close (m->log_fd);
  m->log_fd = fd;
  m->log_size = 0;
}

static void
log_line (Monitor *m, int stream, const char *text, gsize len)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *line = g_strndup (text, len);
  g_autofree char *now = berth_now_rfc3339 ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "log");
  json_builder_add_string_value (b, line);
  json_builder_set_member_name (b, "stream");
  json_builder_add_string_value (b, stream == 1 ? "stdout" : "stderr");
  json_builder_set_member_name (b, "time");
  json_builder_add_string_value (b, now);
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  gsize n = 0;
  g_autofree char *json = berth_json_to_string (node, &n);
  /* One write per line keeps lines whole for a concurrent `logs -f`. */
  g_autofree char *out = g_strdup_printf ("%s\n", json);
  /* A record larger than max-size still goes whole into a file of its own. */
  if (m->c->log_max_size > 0 && m->log_size > 0
      && m->log_size + (gint64) n + 1 > m->c->log_max_size)
    rotate_log (m);
  if (!berth_write_all (m->log_fd, out, n + 1))
    g_printerr ("berth monitor: write log: %s\n", g_strerror (errno));
  else
    m->log_size += n + 1;
}

/* Where to cut an over-long line at most @max bytes in: before a UTF-8
 * continuation byte never, so each record stays valid text. */
static gsize
line_cut (const char *text, gsize max)
{
  gsize n = max;
  while (n > 0 && ((guchar) text[n] & 0xC0) == 0x80)
    n--;
  return n > 0 ? n : max;
}

/* Docker's json-file: one record per line of output, the newline kept. */
static void
log_chunk (Monitor *m, int stream, const char *buf, gsize len)
{
  GString *p = m->partial[stream - 1];
  g_string_append_len (p, buf, len);
  char *nl;
  while ((nl = memchr (p->str, '\n', p->len)))
    {
      gsize n = nl - p->str + 1;
      log_line (m, stream, p->str, n);
      g_string_erase (p, 0, n);
    }
  /* Output with no newline must not grow the monitor without bound: cut
   * it into records of LOG_LINE_MAX as Docker does (`logs` joins them). */
  while (p->len > LOG_LINE_MAX)
    {
      gsize n = line_cut (p->str, LOG_LINE_MAX);
      log_line (m, stream, p->str, n);
      g_string_erase (p, 0, n);
    }
}

static void
log_flush (Monitor *m)
{
  for (int i = 0; i < 2; i++)
    if (m->partial[i]->len)
      {
        log_line (m, i + 1, m->partial[i]->str, m->partial[i]->len);
        g_string_truncate (m->partial[i], 0);
      }
}

/* Copy what fd has to the log and, when attached, to our own stdout or
 * stderr. FALSE at EOF. */
static gboolean
pump (Monitor *m, int fd, int stream)
{
  char buf[65536];
  ssize_t n = read (fd, buf, sizeof buf);
  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return TRUE;
  if (n <= 0)
    return FALSE; /* EOF, or EIO from a pty master whose slave is gone */
  log_chunk (m, stream, buf, n);
  if (m->attached && !berth_write_all (stream, buf, n) && errno == EPIPE)
    m->attached = FALSE; /* the attached command is gone */
  return TRUE;
}

static void
relay_stdin (Monitor *m)
{
  char buf[4096];
  ssize_t n = read (m->stdin_relay, buf, sizeof buf);
  if (n <= 0)
    {
      m->stdin_relay = -1;
      /* the container's stdin pipe ends with ours: it reads EOF */
      if (m->stdin_w != m->out_r)
        close (m->stdin_w);
      return;
    }
  berth_write_all (m->stdin_w, buf, n);
}

static int
exit_code_of (int status)
{
  if (WIFEXITED (status))
    return WEXITSTATUS (status);
  if (WIFSIGNALED (status))
    return 128 + WTERMSIG (status);
  return 255;
}

/* Copy output until the first process exits, then what is left in the
 * pipes (the pid namespace's end killed every writer). */
static int
monitor_loop (Monitor *m)
{
  int pidfd = syscall (SYS_pidfd_open, m->exec->pid, 0);
  gboolean open_fds[2] = { m->out_r >= 0, m->err_r >= 0 };
  int status = 0;
  gboolean exited = FALSE;
  while (!exited || open_fds[0] || open_fds[1])
    {
      struct pollfd p[4] = {
        { .fd = open_fds[0] ? m->out_r : -1, .events = POLLIN },
        { .fd = open_fds[1] ? m->err_r : -1, .events = POLLIN },
        { .fd = exited ? -1 : pidfd, .events = POLLIN },
        { .fd = m->stdin_relay, .events = POLLIN },
      };
      /* After the exit, drain without blocking: a writer that escaped the
       * pid namespace must not keep the monitor alive. */
      int r = poll (p, 4, exited ? 0 : -1);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      for (int i = 0; i < 2; i++)
        if (p[i].revents && !pump (m, i == 0 ? m->out_r : m->err_r, i + 1))
          open_fds[i] = FALSE;
      if (p[3].revents)
        relay_stdin (m);
      if (p[2].revents)
        {
          while (waitpid (m->exec->pid, &status, 0) < 0 && errno == EINTR)
            ;
          exited = TRUE;
        }
    }
  log_flush (m);
  if (pidfd >= 0)
    close (pidfd);
  return exit_code_of (status);
}

static void
report (int fd, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
report (int fd, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  berth_write_all (fd, msg, strlen (msg));
  close (fd);
}

/* The exit code a shell gives: 127 not found, 126 could not run. */
static int
start_failure_code (GError *error)
{
  return g_error_matches (error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND) ? 127 : 126;
}

static void
detach_stdio (void)
{
  int null_fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0)
    return;
  for (int i = 0; i < 3; i++)
    dup2 (null_fd, i);
  close (null_fd);
}

/* Record the exit under the container's lock alone, then tell an attached
 * command: neither the store lock nor another container is waited for.
 * The program's pid stays in the record until the release below, so that
 * a monitor killed in between leaves a record the next reader repairs. */
static void
monitor_record_exit (Monitor *m, int code, gboolean oom)
{
  g_autoptr (GError) error = NULL;
  int cfd = berth_container_lock (m->store, m->c->id, &error);
  g_autoptr (BerthContainerState) s = cfd >= 0 ? berth_state_read (m->store, m->c, &error) : NULL;
  if (s)
    {
      s->exit_code = code;
      s->oom_killed = oom;
      g_free (s->status);
      s->status = g_strdup ("exited");
      g_free (s->finished_at);
      s->finished_at = berth_now_rfc3339 ();
      berth_state_write (m->store, m->c, s, &error);
    }
  berth_container_unlock (cfd);
  g_autofree char *exit_code = g_strdup_printf ("exitCode=%d", code);
  berth_container_event (m->store, m->c, "die", exit_code);
  if (error)
    g_printerr ("berth monitor: %s\n", error->message);
  if (m->exit_fd >= 0)
    {
      char text[16];
      int n = snprintf (text, sizeof text, "%d", code);
      berth_write_all (m->exit_fd, text, n);
      close (m->exit_fd);
    }
}

/* Release the cgroup and the mount (reference counts: the store lock, held
 * only for this) and, for --rm, remove the container. */
static void
monitor_release (Monitor *m)
{
  g_autoptr (GError) error = NULL;
  if (!berth_store_lock (m->store, &error))
    {
      g_printerr ("berth monitor: %s\n", error->message);
      return;
    }
  int cfd = berth_container_lock (m->store, m->c->id, &error);
  g_autoptr (BerthContainerState) s = cfd >= 0 ? berth_state_read (m->store, m->c, &error) : NULL;
  /* Ours to release unless someone already did (rm -f after a kill). */
  gboolean ours = s && s->monitor_pid == getpid () && g_strcmp0 (s->status, "exited") == 0
                  && s->pid > 0;
  if (ours && berth_container_finish (m->store, m->c, s, m->exec, &error) && s->auto_remove)
    berth_container_remove_with_volumes (m->store, m->c->id, TRUE, &error);
  berth_container_unlock (cfd);
  berth_store_unlock (m->store);
  if (error && !g_error_matches (error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
    g_printerr ("berth monitor: %s\n", error->message);
}

/* The go byte, or EOF when the command died before recording the start. */
static gboolean
await_go (int fd)
{
  char c = 0;
  ssize_t n;
  while ((n = read (fd, &c, 1)) < 0 && errno == EINTR)
    ;
  close (fd);
  return n == 1 && c == 'G';
}

/* The monitor lives as long as the container: of what the command that
 * forked it had open, it keeps only its own pipes and the log. Anything
 * else, the caller's descriptors above all ("berth run -d ... 7>FILE"),
 * would stay open for the container's life. The exec driver opens its own
 * descriptors later, in berth_exec_run. */
static void
close_inherited (const Monitor *m, const int child_ends[3])
{
  const int keep[] = { m->report_fd, m->go_fd, m->exit_fd, m->log_fd, m->out_r, m->err_r,
                       m->stdin_w, child_ends[0], child_ends[1], child_ends[2],
                       m->store->lock_fd };
  if (berth_fd_close_except (STDERR_FILENO + 1, keep, G_N_ELEMENTS (keep)) < 0)
    g_printerr ("berth monitor: close the starting command's descriptors: %s\n",
                g_strerror (errno));
}

/* The driver's run; with a network, in a namespace made beforehand and
 * given its link and address, so the program finds its interface up from
 * its first instruction. The holder goes once the container is in the
 * namespace, which then lives as long as the container's processes. */
static gboolean
run_attached_to_network (Monitor *m, BerthExecStdio *stdio, GError **error)
{
  if (m->network == NULL)
    return berth_exec_run (m->exec, stdio, error);
  pid_t holder = berth_netns_holder_start (error);
  if (holder == 0)
    return FALSE;
  gboolean ok = berth_network_plan_attach (m->network, holder, error)
                && berth_spec_join_network (m->exec->spec, holder, error)
                && berth_exec_run (m->exec, stdio, error);
  berth_netns_holder_stop (holder);
  return ok;
}

/* Runs in the forked monitor; never returns. */
G_GNUC_NORETURN static void
monitor_main (Monitor *m, BerthExecStdio *stdio, int close_after_start[3])
{
  berth_store_forget_change (m->store);
  berth_store_unlock (m->store);
  /* Our copy of the container's lock (m->lock_fd) goes with the rest: the
   * lock stays the starting command's until it closes it. */
  close_inherited (m, close_after_start);
  setsid ();
  /* The starting command holds the forwarded signals for its relay; the
   * monitor, which outlives it, takes signals as it did before (once out
   * of the terminal's process group, whose ^C is the command's to relay). */
  if (m->signals_before != NULL)
    berth_attach_release_signals (m->signals_before);
  signal (SIGPIPE, SIG_IGN);
  if (!await_go (m->go_fd))
    {
      report (m->report_fd, "E125 the start was not recorded, so the container was not started");
      _exit (1);
    }
  g_autoptr (GError) error = NULL;
  if (!run_attached_to_network (m, stdio, &error))
    {
      report (m->report_fd, "E%d %s", start_failure_code (error), error->message);
      _exit (1);
    }
  if (stdio->terminal)
    m->out_r = m->stdin_w = m->pty_master;
  for (int i = 0; i < 3; i++)
    if (close_after_start[i] >= 0)
      close (close_after_start[i]);
  report (m->report_fd, "OK %d", (int) m->exec->pid);
  /* Detached, the command's stdio goes too (to /dev/null). */
  if (!m->options->attach)
    detach_stdio ();
  gint64 began = g_get_monotonic_time ();
  int code = monitor_loop (m);
  gboolean oom = berth_exec_oom_killed (m->exec);
  if (oom && code == 128 + SIGKILL)
    code = 137;
  monitor_record_exit (m, code, oom);
  monitor_release (m);
  berth_monitor_restart (m->store, m->c, code, g_get_monotonic_time () - began);
  berth_leak_check ();
  _exit (code);
}

/* The container's terminal as the attaching command sees it: its slave,
 * reached through the first process's stdin, for raw mode and window
 * sizes (the monitor holds the master). -1 where it cannot be opened:
 * then the window size is not passed on. */
static int
open_container_terminal (pid_t pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/fd/0", (int) pid);
  return open (path, O_RDWR | O_NOCTTY | O_CLOEXEC);
}

/* stdio for the container and the fds the monitor reads. */
static gboolean
make_stdio (Monitor *m, const BerthStartOptions *o, BerthExecStdio *stdio, int child_ends[3],
            GError **error)
{
  *stdio = (BerthExecStdio) { -1, -1, -1, FALSE, NULL };
  child_ends[0] = child_ends[1] = child_ends[2] = -1;
  m->stdin_relay = m->stdin_w = -1;
  /* -t: the driver makes the pty in the container's own devpts (`tty`
   * there prints /dev/pts/0) and gives the monitor its master, which it
   * then reads and writes as the container's output and input. */
  if (o->tty)
    {
      *stdio = (BerthExecStdio) { -1, -1, -1, TRUE, &m->pty_master };
      m->err_r = -1;
      if (o->interactive)
        m->stdin_relay = STDIN_FILENO;
      return TRUE;
    }
  int out[2], err[2];
  if (pipe2 (out, O_CLOEXEC) < 0)
    return berth_fail_errno (error, errno, "pipe");
  if (pipe2 (err, O_CLOEXEC) < 0)
    {
      close (out[0]);
      close (out[1]);
      return berth_fail_errno (error, errno, "pipe");
    }
  m->out_r = out[0];
  m->err_r = err[0];
  stdio->out = child_ends[1] = out[1];
  stdio->err = child_ends[2] = err[1];
  /* -i: a pipe of berth's own, never the caller's descriptor itself,
   * which may be a directory (/proc/self/fd/0/.. is the host's) or a
   * socket the container must not hold. */
  int in[2];
  if (o->interactive && pipe2 (in, O_CLOEXEC) < 0)
    {
      int errsv = errno;
      for (int i = 0; i < 2; i++)
        {
          close (out[i]);
          close (err[i]);
        }
      m->out_r = m->err_r = child_ends[1] = child_ends[2] = -1;
      return berth_fail_errno (error, errsv, "pipe");
    }
  if (o->interactive)
    {
      stdio->in = child_ends[0] = in[0];
      m->stdin_w = in[1];
      m->stdin_relay = STDIN_FILENO;
    }
  return TRUE;
}

/* container.log for appending; *@size: what it holds already (a restart
 * appends), so rotation counts from there. */
static int
open_log (BerthStore *store, BerthContainer *c, gint64 *size, GError **error)
{
  g_autofree char *path = berth_container_dir (store, c, "container.log");
  int fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  struct stat st;
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", path), -1;
  if (fstat (fd, &st) < 0)
    {
      berth_fail_errno (error, errno, "stat %s", path);
      close (fd);
      return -1;
    }
  *size = st.st_size;
  return fd;
}

/* Read the monitor's one report: "OK <pid>" or "E<exit code> <message>". */
static gboolean
read_report (int fd, pid_t monitor, int *pid, int *code, GError **error)
{
  char buf[2048];
  gssize n = 0, r;
  while ((r = read (fd, buf + n, sizeof buf - 1 - n)) != 0)
    {
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        return berth_fail_errno (error, errno, "read the monitor's report");
      n += r;
    }
  buf[n] = '\0';
  if (strncmp (buf, "OK ", 3) == 0)
    {
      *pid = atoi (buf + 3);
      return TRUE;
    }
  while (waitpid (monitor, NULL, 0) < 0 && errno == EINTR)
    ;
  char *space = strchr (buf, ' ');
  *code = buf[0] == 'E' ? atoi (buf + 1) : 125;
  return berth_fail (error, *code == 127 ? BERTH_ERROR_NOT_FOUND : BERTH_ERROR_FAILED, "%s",
                     buf[0] == 'E' && space ? space + 1 : "the container's monitor died while starting it");
}

static gboolean
record_start_failure (BerthStore *store, BerthContainer *c, BerthContainerState *s, int code,
                      GError *why)
{
  s->exit_code = code;
  g_free (s->error);
  s->error = g_strdup (why->message);
  g_free (s->status);
  s->status = g_strdup ("exited");
  g_free (s->finished_at);
  s->finished_at = berth_now_rfc3339 ();
  return berth_state_write (store, c, s, NULL);
}

/* Written before the monitor may run anything: whoever finds this record
 * later finds the monitor, and through it the program. */
static gboolean
record_starting (BerthStore *store, BerthContainer *c, BerthContainerState *s, pid_t monitor,
                 const char *rootfs, const BerthStartOptions *options, GError **error)
{
  g_free (s->status);
  s->status = g_strdup ("starting");
  s->pid = 0;
  s->monitor_pid = monitor;
  s->monitor_start_time = berth_process_start_time (monitor);
  s->exit_code = 0;
  s->oom_killed = FALSE;
  g_free (s->error);
  s->error = g_strdup ("");
  g_free (s->started_at);
  s->started_at = berth_now_rfc3339 ();
  g_free (s->finished_at);
  s->finished_at = g_strdup ("");
  s->auto_remove = options->auto_remove || c->auto_remove;
  if (!options->restart)
    s->restart_count = s->restart_backoff = 0;
  s->manually_stopped = FALSE;
  g_free (s->rootfs);
  s->rootfs = g_strdup (rootfs);
  return berth_state_write (store, c, s, error);
}

/* Records "starting", then lets the monitor go; on failure the monitor
 * sees EOF and reports that it started nothing. */
static gboolean
release_monitor (BerthStore *store, BerthStorage *storage, BerthContainer *c,
                 BerthContainerState *s, pid_t monitor, const char *rootfs,
                 const BerthStartOptions *options, int go_fd, gboolean *kept, GError **error)
{
  /* The record that names the monitor first, then the lasting hold the
   * monitor releases: killed between them, the hold is this process's and
   * dies with it, and the record's dead monitor is cleaned up after. */
  gboolean ok = record_starting (store, c, s, monitor, rootfs, options, error)
                && (*kept = berth_storage_keep (storage, c->id, error));
  if (ok && !berth_write_all (go_fd, "G", 1))
    ok = berth_fail_errno (error, errno, "tell the monitor to start %s", c->name);
  close (go_fd);
  return ok;
}

static void
release_root (BerthStorage *storage, const char *id, gboolean kept)
{
  if (kept)
    berth_storage_put (storage, id, NULL);
  else
    berth_storage_put_transient (storage, id, NULL);
}

/* A container is one copy of its program: processes in its cgroup that
 * berth's records do not show (a start killed half-way by an older berth)
 * must be removed, not joined by a second copy. */
static gboolean
check_cgroup_empty (BerthStore *store, BerthContainer *c, GError **error)
{
  g_autoptr (GArray) pids = berth_container_unrecorded_pids (store, c, NULL, error);
  if (pids == NULL)
    return FALSE;
  guint count = pids->len;
  if (count > 0)
    return berth_fail (error, BERTH_ERROR_BUSY, "container %s is not recorded as running, but "
                       "its cgroup holds %u process%s; remove it with rm -f", c->name, count,
                       count == 1 ? "" : "es");
  return TRUE;
}

void
berth_run_release_signals (BerthRun *run)
{
  if (!run->holds_signals)
    return;
  berth_attach_release_signals (&run->signals_before);
  run->holds_signals = FALSE;
}

void
berth_run_free (BerthRun *run)
{
  if (run == NULL)
    return;
  berth_run_release_signals (run);
  if (run->terminal >= 0)
    close (run->terminal);
  if (run->exit_fd >= 0)
    close (run->exit_fd);
  g_free (run->name);
  g_free (run);
}

/* A start that failed gives its address back; what is left of its link
 * goes with it, and a default network made for it alone. */
static void
release_network (BerthStore *store, BerthContainer *c)
{
  g_autoptr (GError) error = NULL;
  if (!berth_container_network_release (store, c, &error))
    g_printerr ("berth: container %s: %s\n", c->name, error->message);
  berth_network_drop_idle_default (store, BERTH_DEFAULT_NETWORK, c->id);
}

/* berth_container_start with the store lock and @c's lock (@lock_fd) held. */
static BerthRun *
start_locked (BerthStore *store, BerthContainer *c, int lock_fd, const BerthStartOptions *options,
              const sigset_t *signals_before, GError **error)
{
  /* Declared before the first goto: the failure labels are in their scope,
   * and jumping past an auto-cleaned variable would free garbage. */
  g_autoptr (GError) local = NULL;
  g_autoptr (GError) unrecorded = NULL;
  g_autoptr (BerthRun) run = NULL;
  g_autoptr (BerthNetworkPlan) network = NULL;
  g_autoptr (BerthContainerState) s = berth_container_state_locked (store, c, error);
  if (s == NULL)
    return NULL;
  if (berth_state_is_live (s))
    return berth_fail (error, BERTH_ERROR_BUSY, "container %s is already running", c->name), NULL;
  if (!check_cgroup_empty (store, c, error))
    return NULL;
  BerthStorage *storage = berth_store_driver (store, c->driver, error);
  if (storage == NULL)
    return NULL;
  /* Transient until the start is recorded (release_monitor). */
  gboolean kept = FALSE;
  g_autofree char *rootfs = berth_storage_get_transient (storage, c->id, error);
  if (rootfs == NULL)
    return NULL;
  g_autoptr (BerthExec) exec = berth_container_exec_handle (store, c, rootfs, NULL, error);
  Monitor m = { .store = store, .c = c, .exec = exec, .lock_fd = lock_fd, .options = options, .out_r = -1,
                .err_r = -1, .stdin_relay = -1, .stdin_w = -1, .pty_master = -1,
                .attached = options->attach, .signals_before = signals_before };
  BerthExecStdio stdio;
  int child_ends[3], report_pipe[2] = { -1, -1 };
  int exit_pipe[2] = { -1, -1 }, go_pipe[2] = { -1, -1 };
  int errsv, pid = 0, code = 125;
  pid_t monitor;
  gboolean recorded, started;
  if (exec == NULL || !berth_container_network_prepare (store, c, exec->spec, &network, error))
    goto fail_mounted;
  m.network = network;
  if ((m.log_fd = open_log (store, c, &m.log_size, error)) < 0)
    goto fail_mounted;
  if (!make_stdio (&m, options, &stdio, child_ends, error))
    goto fail_log;
  if (pipe2 (report_pipe, O_CLOEXEC) < 0)
    {
      berth_fail_errno (error, errno, "pipe");
      goto fail_stdio;
    }
  if ((options->attach && pipe2 (exit_pipe, O_CLOEXEC) < 0) || pipe2 (go_pipe, O_CLOEXEC) < 0)
    {
      berth_fail_errno (error, errno, "pipe");
      close (report_pipe[0]);
      close (report_pipe[1]);
      if (exit_pipe[0] >= 0)
        {
          close (exit_pipe[0]);
          close (exit_pipe[1]);
        }
      goto fail_stdio;
    }
  m.partial[0] = g_string_new (NULL);
  m.partial[1] = g_string_new (NULL);
  m.report_fd = report_pipe[1];
  m.exit_fd = exit_pipe[1];
  m.go_fd = go_pipe[0];
  monitor = fork ();
  if (monitor == 0)
    {
      close (report_pipe[0]);
      close (go_pipe[1]);
      if (exit_pipe[0] >= 0)
        close (exit_pipe[0]);
      monitor_main (&m, &stdio, child_ends);
    }
  errsv = errno;
  close (report_pipe[1]);
  close (go_pipe[0]);
  if (exit_pipe[1] >= 0)
    close (exit_pipe[1]);
  g_string_free (m.partial[0], TRUE);
  g_string_free (m.partial[1], TRUE);
  if (monitor < 0)
    {
      close (report_pipe[0]);
      if (exit_pipe[0] >= 0)
        close (exit_pipe[0]);
      close (go_pipe[1]);
      berth_fail_errno (error, errsv, "fork the monitor");
      goto fail_stdio;
    }
  recorded = release_monitor (store, storage, c, s, monitor, rootfs, options, go_pipe[1], &kept,
                              &unrecorded);
  started = read_report (report_pipe[0], monitor, &pid, &code, &local);
  close (report_pipe[0]);
  for (int i = 0; i < 3; i++)
    if (child_ends[i] >= 0)
      close (child_ends[i]);
  if (m.out_r >= 0)
    close (m.out_r);
  if (m.err_r >= 0)
    close (m.err_r);
  if (m.stdin_w >= 0)
    close (m.stdin_w);
  close (m.log_fd);
  if (!started)
    {
      if (exit_pipe[0] >= 0)
        close (exit_pipe[0]);
      record_start_failure (store, c, s, code, unrecorded ? unrecorded : local);
      release_network (store, c);
      release_root (storage, c->id, kept);
      g_propagate_error (error, recorded ? g_steal_pointer (&local) : g_steal_pointer (&unrecorded));
      return NULL;
    }
  run = g_new0 (BerthRun, 1);
  run->name = g_strdup (c->name);
  run->attached = options->attach;
  run->monitor = monitor;
  run->pid = pid;
  run->terminal = options->attach && options->tty ? open_container_terminal (pid) : -1;
  run->exit_fd = exit_pipe[0];
  /* The rest of the record was written by release_monitor. */
  g_free (s->status);
  s->status = g_strdup ("running");
  s->pid = pid;
  if (!berth_state_write (store, c, s, error))
    return NULL;
  berth_container_event (store, c, "start", NULL);
  return g_steal_pointer (&run);

fail_stdio:
  for (int i = 0; i < 3; i++)
    if (child_ends[i] >= 0)
      close (child_ends[i]);
  if (m.out_r >= 0)
    close (m.out_r);
  if (m.err_r >= 0)
    close (m.err_r);
  if (m.stdin_w >= 0 && m.stdin_w != m.out_r)
    close (m.stdin_w);
fail_log:
  close (m.log_fd);
fail_mounted:
  release_network (store, c);
  release_root (storage, c->id, FALSE);
  return NULL;
}

BerthRun *
berth_container_start (BerthStore *store, BerthContainer *c, const BerthStartOptions *options,
                       GError **error)
{
  /* A start by hand calls off a restart the policy is waiting to make. */
  g_autoptr (BerthContainerState) now = options->restart ? NULL : berth_state_read (store, c, error);
  if (!options->restart && now == NULL)
    return NULL;
  if (now && g_strcmp0 (now->status, "restarting") == 0
      && !berth_container_hold_restart (store, c, error))
    return NULL;
  /* A previous run's monitor still releasing what it held: let it finish. */
  g_autoptr (BerthContainerState) before = berth_container_state_settled (store, c, error);
  if (before == NULL)
    return NULL;
  int lock_fd = berth_container_lock (store, c->id, error);
  if (lock_fd < 0)
    return NULL;
  /* Attached, a signal that comes once the program runs is the program's,
   * even before berth_container_attach_wait relays it: held from before
   * the monitor is forked until the relay ends (berth_run_release_signals). */
  sigset_t mask_before;
  if (options->attach && !berth_attach_hold_signals (&mask_before, error))
    {
      berth_container_unlock (lock_fd);
      return NULL;
    }
  BerthRun *run = start_locked (store, c, lock_fd, options, options->attach ? &mask_before : NULL,
                                error);
  berth_container_unlock (lock_fd);
  if (options->attach && run == NULL)
    berth_attach_release_signals (&mask_before);
  else if (options->attach)
    {
      run->holds_signals = TRUE;
      run->signals_before = mask_before;
    }
  return run;
}
