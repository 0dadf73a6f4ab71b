/* What a user does to a started container: wait for it, stop, kill, pause,
 * exec into it, read its logs and figures. Every wait gives the store lock
 * up, because the container's monitor needs it to release the container's
 * mount after it has recorded the exit (under the container's lock). */
#include "config.h"
#include "runtime-internal.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/pty.h>
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

static BerthContainerState *
live_state (BerthStore *store, BerthContainer *c, GError **error)
{
  g_autoptr (BerthContainerState) s = berth_container_state (store, c, error);
  if (s && !berth_state_is_live (s))
    {
      berth_fail (error, BERTH_ERROR_INVALID, "container %s is not running", c->name);
      return NULL;
    }
  return g_steal_pointer (&s);
}

static BerthExec *
loaded_exec (BerthStore *store, BerthContainer *c, BerthContainerState *s, GError **error)
{
  g_autoptr (BerthExec) exec = berth_container_exec_handle (store, c, s->rootfs, NULL, error);
  if (exec == NULL || !berth_exec_load (exec, error))
    return NULL;
  return g_steal_pointer (&exec);
}

gboolean
berth_monitor_wait (BerthContainerState *s, int timeout_ms)
{
  int fd = syscall (SYS_pidfd_open, s->monitor_pid, 0);
  if (fd < 0 || !berth_monitor_alive (s))
    {
      if (fd >= 0)
        close (fd);
      return TRUE;
    }
  struct pollfd p = { .fd = fd, .events = POLLIN };
  int r;
  while ((r = poll (&p, 1, timeout_ms)) < 0 && errno == EINTR)
    ;
  close (fd);
  return r > 0;
}

/* Re-read after a wait: the monitor may have removed an --rm container. */
static BerthContainerState *
state_after_wait (BerthStore *store, BerthContainer *c, BerthContainerState *before,
                  GError **error)
{
  g_autofree char *meta = berth_container_dir (store, c, "container.json");
  if (!g_file_test (meta, G_FILE_TEST_EXISTS))
    {
      /* Its record went with it; the last one we read is the best we have. */
      BerthContainerState *s = g_new0 (BerthContainerState, 1);
      s->status = g_strdup ("removed");
      s->exit_code = before->exit_code;
      return s;
    }
  return berth_container_state (store, c, error);
}

int
berth_container_wait (BerthStore *store, BerthContainer *c, GError **error)
{
  g_autoptr (BerthContainerState) s = berth_container_state (store, c, error);
  if (s == NULL)
    return -1;
  if (berth_state_is_live (s))
    {
      berth_store_unlock (store);
      berth_monitor_wait (s, -1);
      if (!berth_store_lock (store, error))
        return -1;
      g_autoptr (BerthContainerState) after = state_after_wait (store, c, s, error);
      if (after == NULL)
        return -1;
      return after->exit_code;
    }
  return s->exit_code;
}

gboolean
berth_container_kill (BerthStore *store, BerthContainer *c, int signal, GError **error)
{
  /* Docker's kill is a stop by hand too: the restart policy rests. */
  if (!berth_container_hold_restart (store, c, error))
    return FALSE;
  g_autoptr (BerthContainerState) s = live_state (store, c, error);
  if (s == NULL)
    return FALSE;
  g_autoptr (BerthExec) exec = loaded_exec (store, c, s, error);
  if (exec == NULL || !berth_exec_kill (exec, signal, FALSE, error))
    return FALSE;
  g_autofree char *sig = g_strdup_printf ("signal=%d", signal);
  berth_container_event (store, c, "kill", sig);
  return TRUE;
}

gboolean
berth_container_stop (BerthStore *store, BerthContainer *c, int timeout, GError **error)
{
  if (!berth_container_hold_restart (store, c, error))
    return FALSE;
  g_autoptr (BerthContainerState) s = berth_container_state (store, c, error);
  if (s == NULL)
    return FALSE;
  if (!berth_state_is_live (s))
    return TRUE;
  g_autoptr (BerthExec) exec = loaded_exec (store, c, s, error);
  if (exec == NULL)
    return FALSE;
  /* A frozen process would not see the signal until thawed. */
  if (g_strcmp0 (s->status, "paused") == 0 && !berth_exec_unpause (exec, error))
    return FALSE;
  g_autoptr (GError) local = NULL;
  berth_exec_kill (exec, SIGTERM, FALSE, &local);
  berth_store_unlock (store);
  if (!berth_monitor_wait (s, timeout * 1000))
    {
      berth_exec_kill (exec, SIGKILL, TRUE, NULL);
      berth_monitor_wait (s, -1);
    }
  berth_container_event (store, c, "stop", NULL);
  return berth_store_lock (store, error);
}

gboolean
berth_container_pause (BerthStore *store, BerthContainer *c, gboolean pause, GError **error)
{
  g_autoptr (BerthContainerState) s = live_state (store, c, error);
  if (s == NULL)
    return FALSE;
  if (g_strcmp0 (s->status, pause ? "paused" : "running") == 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "container %s is already %s", c->name,
                       s->status);
  g_autoptr (BerthExec) exec = loaded_exec (store, c, s, error);
  if (exec == NULL
      || !(pause ? berth_exec_pause (exec, error) : berth_exec_unpause (exec, error)))
    return FALSE;
  /* Under the container's lock, read again: an exit the monitor recorded
   * meanwhile is not overwritten. */
  int cfd = berth_container_lock (store, c->id, error);
  if (cfd < 0)
    return FALSE;
  g_autoptr (BerthContainerState) now = berth_state_read (store, c, error);
  gboolean ok = now != NULL;
  if (ok && berth_state_is_live (now))
    {
      g_free (now->status);
      now->status = g_strdup (pause ? "paused" : "running");
      ok = berth_state_write (store, c, now, error);
    }
  berth_container_unlock (cfd);
  if (ok)
    berth_container_event (store, c, pause ? "pause" : "unpause", NULL);
  return ok;
}

gboolean
berth_container_stats (BerthStore *store, BerthContainer *c, BerthExecStats *stats,
                       GError **error)
{
  g_autoptr (BerthContainerState) s = live_state (store, c, error);
  if (s == NULL)
    return FALSE;
  g_autoptr (BerthExec) exec = loaded_exec (store, c, s, error);
  return exec && berth_exec_stats (exec, stats, error);
}

GArray *
berth_container_pids (BerthStore *store, BerthContainer *c, GError **error)
{
  g_autoptr (BerthContainerState) s = live_state (store, c, error);
  if (s == NULL)
    return NULL;
  g_autoptr (BerthExec) exec = loaded_exec (store, c, s, error);
  return exec ? berth_exec_pids (exec, error) : NULL;
}

/* SIGKILL the cgroup until the monitor has gone (or @timeout_ms has
 * passed; -1: no limit): a monitor whose command was killed may still be
 * starting the program, which then lands there. */
static void
kill_until_monitor_exits (BerthExec *exec, BerthContainerState *s, int timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  do
    berth_exec_kill (exec, SIGKILL, TRUE, NULL);
  while (!berth_monitor_wait (s, 100) && (timeout_ms < 0 || g_get_monotonic_time () < deadline));
}

/* The monitor of a container with no record of it: the parent of its first
 * process, when that process is one of @pids (so not a reused pid). */
static gboolean
find_monitor (BerthExec *exec, GArray *pids, BerthContainerState *s)
{
  gboolean listed = FALSE;
  for (guint i = 0; i < pids->len && exec->pid > 0; i++)
    listed |= g_array_index (pids, pid_t, i) == exec->pid;
  g_autofree char *path = g_strdup_printf ("/proc/%d/stat", (int) exec->pid);
  g_autofree char *stat = NULL;
  if (!listed || !g_file_get_contents (path, &stat, NULL, NULL))
    return FALSE;
  /* comm may hold ')': the fields resume after the last one, state then ppid. */
  const char *p = strrchr (stat, ')');
  int ppid = 0;
  if (p == NULL || sscanf (p + 1, " %*c %d", &ppid) != 1)
    return FALSE;
  s->monitor_pid = ppid;
  s->monitor_start_time = berth_process_start_time (s->monitor_pid);
  return s->monitor_pid > 1 && s->monitor_start_time > 0;
}

/* What berth's records miss: a start killed half-way by a berth from before
 * the "starting" record leaves the driver's state, and maybe the program,
 * behind a container that reads as created. Its cgroup is the truth:
 * processes there block rm without -f, and go with the container, their
 * monitor waited for so that it does not write into a removed container. */
static gboolean
remove_unrecorded (BerthStore *store, BerthContainer *c, gboolean force, GError **error)
{
  g_autoptr (BerthExec) exec = NULL;
  g_autoptr (GArray) pids = berth_container_unrecorded_pids (store, c, &exec, error);
  if (pids == NULL)
    return FALSE;
  if (exec == NULL)
    return TRUE; /* never run, or removed by its monitor (--rm) */
  if (pids->len > 0 && !force)
    return berth_fail (error, BERTH_ERROR_BUSY, "container %s is not recorded as running, but "
                       "its cgroup holds %u process%s: use rm -f", c->name, pids->len,
                       pids->len == 1 ? "" : "es");
  BerthContainerState monitor = { 0 };
  if (pids->len > 0 && find_monitor (exec, pids, &monitor))
    {
      berth_store_unlock (store);
      kill_until_monitor_exits (exec, &monitor, 10000);
      if (!berth_store_lock (store, error))
        return FALSE;
      /* Its monitor cleans up as the program ends: what is left, if anything? */
      g_autoptr (GError) local = NULL;
      if (!berth_exec_load (exec, &local))
        return g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND)
               || (g_propagate_error (error, g_steal_pointer (&local)), FALSE);
    }
  return berth_exec_delete (exec, error);
}

gboolean
berth_container_ensure_stopped (BerthStore *store, BerthContainer *c, gboolean force,
                                GError **error)
{
  g_autoptr (BerthContainerState) now = berth_state_read (store, c, error);
  if (now == NULL)
    return FALSE;
  if (!force && g_strcmp0 (now->status, "restarting") == 0)
    return berth_fail (error, BERTH_ERROR_BUSY,
                       "container %s is restarting: stop it first or use rm -f", c->name);
  /* (not for an exited one: a monitor removing its --rm container holds
   * @c's lock) */
  if (g_strcmp0 (now->status, "restarting") == 0 && !berth_container_hold_restart (store, c, error))
    return FALSE;
  g_autoptr (BerthContainerState) s = berth_container_state_settled (store, c, error);
  if (s == NULL)
    return FALSE;
  if (!berth_state_is_live (s))
    return remove_unrecorded (store, c, force, error);
  if (!force)
    return berth_fail (error, BERTH_ERROR_BUSY,
                       "container %s is running: stop it first or use rm -f", c->name);
  /* Before the kill: its monitor would restart it (--restart) and leave a
   * container running that no record names. */
  if (!berth_container_hold_restart (store, c, error))
    return FALSE;
  /* What the driver saved, if anything: a "starting" container may have
   * nothing saved yet, and is reached through its cgroup. */
  gboolean loaded = FALSE;
  g_autoptr (BerthExec) exec = berth_container_exec_best (store, c, s->rootfs, &loaded, error);
  if (exec == NULL)
    return FALSE;
  g_autoptr (GError) local = NULL;
  if (g_strcmp0 (s->status, "paused") == 0)
    berth_exec_unpause (exec, &local);
  berth_store_unlock (store);
  kill_until_monitor_exits (exec, s, -1);
  if (!berth_store_lock (store, error))
    return FALSE;
  /* The monitor's own cleanup, if it could not finish it. */
  return remove_unrecorded (store, c, TRUE, error);
}

int
berth_container_attach_wait (BerthStore *store, BerthRun *run, GError **error)
{
  if (!run->attached)
    return berth_fail (error, BERTH_ERROR_INVALID, "container %s was not started attached",
                       run->name), -1;
  if (run->monitor <= 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "container %s: its start was attached to "
                       "already", run->name), -1;
  BerthAttachment a = { .stdin_pipe = -1, .child = run->monitor, .target = run->pid,
                        .pty_master = run->terminal, .exit_fd = run->exit_fd };
  berth_store_unlock (store);
  int code = berth_attach (&a);
  berth_run_release_signals (run);
  run->monitor = 0;
  if (run->terminal >= 0)
    close (run->terminal);
  run->terminal = -1;
  if (run->exit_fd >= 0)
    close (run->exit_fd);
  run->exit_fd = -1;
  return code;
}

/* ---- exec ---- */

/* @root: the container's root as its processes see it, for --user's
 * names and groups (Docker's exec -u resolves them as run -u does). */
static JsonObject *
exec_process (JsonNode *spec, const char *root, char **args, char **env, const char *user,
              const char *workdir, gboolean tty, GError **error)
{
  JsonObject *base = berth_json_object (berth_json_node_object (spec), "process");
  g_autoptr (JsonNode) copy = base ? json_node_copy (json_object_get_member (berth_json_node_object (spec), "process")) : NULL;
  if (copy == NULL)
    {
      berth_fail (error, BERTH_ERROR_INVALID, "the container's config.json has no process");
      return NULL;
    }
  JsonObject *process = json_node_get_object (copy);
  json_object_set_member (process, "args", berth_json_strv_node (args));
  json_object_set_boolean_member (process, "terminal", tty);
  if (workdir)
    json_object_set_string_member (process, "cwd", workdir);
  if (user)
    {
      JsonNode *resolved = berth_spec_user (user, root, error);
      if (resolved == NULL)
        return NULL;
      json_object_set_member (process, "user", resolved);
    }
  g_auto (GStrv) merged = berth_json_strv (process, "env");
  for (char **e = env; e && *e; e++)
    {
      g_auto (GStrv) kv = g_strsplit (*e, "=", 2);
      merged = g_environ_setenv (merged, kv[0], kv[1] ? kv[1] : "", TRUE);
    }
  json_object_set_member (process, "env", berth_json_strv_node (merged));
  return json_object_ref (process);
}

int
berth_container_exec (BerthStore *store, BerthContainer *c, char **args, char **env,
                      const char *user, const char *workdir, gboolean interactive, gboolean tty,
                      GError **error)
{
  g_autoptr (BerthContainerState) s = live_state (store, c, error);
  if (s == NULL)
    return -1;
  if (g_strcmp0 (s->status, "paused") == 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "container %s is paused; unpause it first",
                       c->name), -1;
  g_autoptr (BerthExec) exec = loaded_exec (store, c, s, error);
  if (exec == NULL)
    return -1;
  g_autofree char *root = g_strdup_printf ("/proc/%d/root", s->pid);
  g_autoptr (JsonObject) process = exec_process (exec->spec, root, args, env, user, workdir, tty,
                                                 error);
  if (process == NULL)
    return -1;
  /* With -t the pty is made inside, on the container's devpts. With -i
   * alone the process reads a pipe of berth's own, never our descriptor 0
   * itself (a directory there would open the host's tree to it). */
  int master = -1, in[2] = { -1, -1 };
  BerthExecStdio stdio = { -1, STDOUT_FILENO, STDERR_FILENO, FALSE, NULL };
  if (tty)
    stdio = (BerthExecStdio) { -1, -1, -1, TRUE, &master };
  else if (interactive && pipe2 (in, O_CLOEXEC) < 0)
    return berth_fail_errno (error, errno, "pipe"), -1;
  stdio.in = tty ? -1 : in[0];
  berth_store_unlock (store);
  /* A signal that comes once the process runs is its own, even before
   * berth_attach relays: held from before it is made (the driver's child
   * puts the mask back before its exec). */
  sigset_t before;
  gboolean held = berth_attach_hold_signals (&before, error);
  pid_t pid = held ? berth_exec_exec (exec, process, &stdio, error) : 0;
  if (in[0] >= 0)
    close (in[0]);
  if (pid <= 0)
    {
      if (held)
        berth_attach_release_signals (&before);
      if (master >= 0)
        close (master);
      if (in[1] >= 0)
        close (in[1]);
      return -1;
    }
  BerthAttachment a = { .stdin_pipe = in[1], .child = pid, .target = pid, .pty_master = master,
                        .relay_pty = tty, .interactive = interactive, .exit_fd = -1 };
  int code = berth_attach (&a);
  berth_attach_release_signals (&before);
  if (master >= 0)
    close (master);
  if (a.stdin_pipe >= 0)
    close (a.stdin_pipe);
  return code;
}

/* ---- logs ---- */

/* Where log lines go: the two streams, filtered and stamped as @options
 * say; while @held is set (the lines there already, with --tail), the
 * last lines wait there instead, as records, to be printed at the end. */
typedef struct {
  int out_fd, err_fd;
  const BerthLogOptions *options;
  GQueue *held;
} LogSink;

/* The line's time in µs since the epoch, or 0 when it has none. */
static gint64
log_time (JsonObject *o)
{
  const char *text = berth_json_string (o, "time", NULL);
  g_autoptr (GDateTime) t = text ? g_date_time_new_from_iso8601 (text, NULL) : NULL;
  return t ? g_date_time_to_unix (t) * G_USEC_PER_SEC + g_date_time_get_microsecond (t) : 0;
}

static gboolean
write_log_record (JsonObject *o, const LogSink *sink)
{
  const char *text = berth_json_string (o, "log", "");
  int fd = g_strcmp0 (berth_json_string (o, "stream", ""), "stderr") == 0 ? sink->err_fd
                                                                          : sink->out_fd;
  if (sink->options->timestamps)
    {
      g_autofree char *stamped = g_strdup_printf ("%s %s", berth_json_string (o, "time", ""),
                                                  text);
      return berth_write_all (fd, stamped, strlen (stamped));
    }
  return berth_write_all (fd, text, strlen (text));
}

static gboolean
print_log_line (const char *line, gsize len, LogSink *sink)
{
  g_autoptr (JsonNode) node = berth_json_parse (line, len, NULL);
  if (node == NULL)
    return TRUE; /* a line cut short by a crash: skip it */
  JsonObject *o = berth_json_node_object (node);
  const BerthLogOptions *options = sink->options;
  if (options->since || options->until)
    {
      gint64 t = log_time (o);
      if ((options->since && t < options->since) || (options->until && t >= options->until))
        return TRUE;
    }
  if (sink->held == NULL)
    return write_log_record (o, sink);
  if (options->tail == 0)
    return TRUE;
  g_queue_push_tail (sink->held, g_steal_pointer (&node));
  if ((gint64) g_queue_get_length (sink->held) > options->tail)
    json_node_unref (g_queue_pop_head (sink->held));
  return TRUE;
}

/* Print whole lines from @fd; a trailing partial line stays in @pending. */
static gboolean
print_available (int fd, GString *pending, LogSink *sink, GError **error)
{
  char buf[65536];
  ssize_t n;
  while ((n = read (fd, buf, sizeof buf)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return berth_fail_errno (error, errno, "read the container's log");
      g_string_append_len (pending, buf, n);
      char *nl;
      while ((nl = memchr (pending->str, '\n', pending->len)))
        {
          gsize len = nl - pending->str;
          if (!print_log_line (pending->str, len, sink))
            return berth_fail_errno (error, errno, "write the log");
          g_string_erase (pending, 0, len + 1);
        }
    }
  return TRUE;
}

/* Print what --tail held back, and print from now on. */
static gboolean
release_held (LogSink *sink, GError **error)
{
  GQueue *held = g_steal_pointer (&sink->held);
  gboolean ok = TRUE;
  for (GList *l = held ? held->head : NULL; l && ok; l = l->next)
    ok = write_log_record (berth_json_node_object (l->data), sink);
  if (held)
    g_queue_free_full (held, (GDestroyNotify) json_node_unref);
  return ok || berth_fail_errno (error, errno, "write the log");
}

/* The container's log files, oldest first: container.log.N ... .1, then
 * container.log, which the monitor writes (core/runtime/run.c rotates them). */
static GPtrArray *
log_files (BerthStore *store, BerthContainer *c)
{
  g_autofree char *base = berth_container_dir (store, c, "container.log");
  GPtrArray *paths = g_ptr_array_new_with_free_func (g_free);
  for (guint i = c->log_max_file - 1; i >= 1; i--)
    g_ptr_array_add (paths, g_strdup_printf ("%s.%u", base, i));
  g_ptr_array_add (paths, g_steal_pointer (&base));
  return paths;
}

/* All of @path; a missing one is fine (never rotated that far). */
static gboolean
print_file (const char *path, GString *pending, LogSink *sink, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    return TRUE;
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", path);
  gboolean ok = print_available (fd, pending, sink, error);
  close (fd);
  return ok;
}

static gboolean
same_file (const struct stat *a, const struct stat *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* For --follow: once the monitor has rotated, finish the file @fd reads
 * (renamed, it is complete), print the rotated files newer than it (all of
 * them when it was dropped, being the oldest) and move @fd to the new
 * container.log. Nothing to do while container.log is still @fd's file, or
 * is between the rename and its new file. */
static gboolean
follow_rotation (GPtrArray *paths, int *fd, GString *pending, LogSink *sink, GError **error)
{
  const char *newest = paths->pdata[paths->len - 1];
  struct stat cur, now;
  if (fstat (*fd, &cur) < 0)
    return berth_fail_errno (error, errno, "stat the container's log");
  if (stat (newest, &now) < 0 || same_file (&cur, &now))
    return TRUE;
  if (!print_available (*fd, pending, sink, error))
    return FALSE;
  guint start = 0;
  for (guint i = 0; i + 1 < paths->len; i++)
    {
      struct stat st;
      if (stat (paths->pdata[i], &st) == 0 && same_file (&st, &cur))
        start = i + 1;
    }
  for (guint i = start; i + 1 < paths->len; i++)
    if (!print_file (paths->pdata[i], pending, sink, error))
      return FALSE;
  int next = open (newest, O_RDONLY | O_CLOEXEC);
  if (next < 0 && errno == ENOENT)
    return TRUE; /* rotated again meanwhile: the next look catches up */
  if (next < 0)
    return berth_fail_errno (error, errno, "open %s", newest);
  close (*fd);
  *fd = next;
  return print_available (*fd, pending, sink, error);
}

gboolean
berth_container_logs (BerthStore *store, BerthContainer *c, const BerthLogOptions *options,
                      int out_fd, int err_fd, GError **error)
{
  g_autoptr (BerthContainerState) s = berth_container_state (store, c, error);
  if (s == NULL)
    return FALSE;
  LogSink sink = { .out_fd = out_fd, .err_fd = err_fd, .options = options,
                   .held = options->tail >= 0 ? g_queue_new () : NULL };
  g_autoptr (GPtrArray) paths = log_files (store, c);
  g_autoptr (GString) pending = g_string_new (NULL);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i + 1 < paths->len; i++)
    ok = print_file (paths->pdata[i], pending, &sink, error);
  const char *path = paths->pdata[paths->len - 1];
  int fd = ok ? open (path, O_RDONLY | O_CLOEXEC) : -1;
  if (ok && fd < 0 && errno != ENOENT)
    ok = berth_fail_errno (error, errno, "open %s", path);
  ok = ok && (fd < 0 || print_available (fd, pending, &sink, error));
  if (ok)
    ok = release_held (&sink, error);
  else if (sink.held)
    g_queue_free_full (g_steal_pointer (&sink.held), (GDestroyNotify) json_node_unref);
  if (ok && fd >= 0 && options->follow && berth_state_is_live (s))
    {
      berth_store_unlock (store);
      /* The monitor writes whole lines; poll the files until it exits. */
      for (gboolean done = FALSE; ok && !done;)
        {
          done = berth_monitor_wait (s, 100);
          ok = print_available (fd, pending, &sink, error)
               && follow_rotation (paths, &fd, pending, &sink, error);
        }
    }
  if (fd >= 0)
    close (fd);
  return ok;
}
