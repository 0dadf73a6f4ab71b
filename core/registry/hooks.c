/* OCI hooks (include/berth/hooks.h). */
#include "config.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/hooks.h>
#include <berth/json.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void
hook_free (gpointer data)
{
  BerthHook *h = data;
  g_free (h->path);
  g_strfreev (h->args);
  g_strfreev (h->env);
  g_free (h);
}

GPtrArray *
berth_hooks_parse (JsonObject *spec, const char *kind, GError **error)
{
  g_autoptr (GPtrArray) hooks = g_ptr_array_new_with_free_func (hook_free);
  JsonArray *list = berth_json_array (berth_json_object (spec, "hooks"), kind);
  for (guint i = 0; list && i < json_array_get_length (list); i++)
    {
      JsonObject *o = berth_json_array_object (list, i);
      const char *path = berth_json_string (o, "path", NULL);
      if (path == NULL || path[0] != '/')
        return berth_fail (error, BERTH_ERROR_INVALID, "hooks.%s[%u]: path '%s' is not absolute",
                           kind, i, path ? path : ""), NULL;
      gint64 timeout = berth_json_int (o, "timeout", 0);
      if (json_object_has_member (o, "timeout") && (timeout < 1 || timeout > 86400))
        return berth_fail (error, BERTH_ERROR_INVALID,
                           "hooks.%s[%u]: timeout must be 1 to 86400 seconds", kind, i), NULL;
      BerthHook *h = g_new0 (BerthHook, 1);
      h->path = g_strdup (path);
      h->args = berth_json_strv (o, "args");
      if (h->args == NULL || h->args[0] == NULL)
        {
          g_strfreev (h->args);
          h->args = g_new0 (char *, 2);
          h->args[0] = g_strdup (path);
        }
      h->env = berth_json_strv (o, "env");
      if (h->env == NULL)
        h->env = g_new0 (char *, 1);
      h->timeout = (int) timeout;
      g_ptr_array_add (hooks, h);
    }
  return g_steal_pointer (&hooks);
}

/* Waits for @pid, killing it once @timeout seconds pass; its wait status,
 * or -1 on a timeout. */
static int
wait_hook (pid_t pid, int timeout)
{
  int pidfd = syscall (SYS_pidfd_open, pid, 0);
  if (pidfd >= 0 && timeout > 0)
    {
      struct pollfd p = { .fd = pidfd, .events = POLLIN };
      int r;
      while ((r = poll (&p, 1, timeout * 1000)) < 0 && errno == EINTR)
        ;
      if (r == 0)
        kill (pid, SIGKILL);
      close (pidfd);
      pidfd = r == 0 ? -2 : -1;
    }
  else if (pidfd >= 0)
    close (pidfd);
  int status = 0;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  return pidfd == -2 ? -1 : status;
}

/* The first line of what the hook printed, appended to @msg. */
static void
append_output (int out, char *msg, gsize msg_size)
{
  char buf[160];
  ssize_t n = pread (out, buf, sizeof buf - 1, 0);
  if (n <= 0)
    return;
  buf[n] = '\0';
  buf[strcspn (buf, "\n")] = '\0';
  gsize used = strlen (msg);
  snprintf (msg + used, msg_size - used, ": %s", buf);
}

/* In the forked child: into the container's namespaces, and for its pid
 * namespace one fork more (setns of a pid namespace only places children).
 * Returns in the process that is to exec the hook. */
static void
enter_place (const BerthHookPlace *place)
{
  if (place == NULL || place->join_pidfd < 0)
    return;
  if (setns (place->join_pidfd, place->ns_flags) < 0)
    {
      dprintf (2, "join the container's namespaces: %s", strerror (errno));
      _exit (126);
    }
  if (!(place->ns_flags & CLONE_NEWPID))
    return;
  pid_t pid = fork ();
  if (pid < 0)
    {
      dprintf (2, "fork into the pid namespace: %s", strerror (errno));
      _exit (126);
    }
  /* A timeout kills this go-between; the hook must die with it. Its
   * parent is outside its pid namespace, so getppid is 0 until that
   * parent is gone. */
  if (pid == 0 && prctl (PR_SET_PDEATHSIG, SIGKILL) == 0 && getppid () == 0)
    return;
  if (pid == 0)
    _exit (126);
  int status = 0;
  while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
    ;
  _exit (WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status));
}

int
berth_hook_run (const BerthHook *hook, const BerthHookPlace *place, const char *state,
                char *msg, gsize msg_size)
{
  /* The state in a memfd, not a pipe: a large one (annotations) would
   * fill a pipe before anyone reads it. */
  gsize len = strlen (state);
  int in = memfd_create ("berth-hook-state", MFD_CLOEXEC);
  int out = memfd_create ("berth-hook-output", MFD_CLOEXEC);
  if (in < 0 || out < 0 || !berth_write_all (in, state, len) || lseek (in, 0, SEEK_SET) < 0)
    {
      snprintf (msg, msg_size, "pass the state: %s", strerror (errno));
      if (in >= 0)
        close (in);
      if (out >= 0)
        close (out);
      return -1;
    }
  pid_t pid = fork ();
  if (pid == 0)
    {
      enter_place (place);
      /* A hook starts with no signal blocked, whatever berth was holding
       * for a foreground container (berth_attach_hold_signals). */
      sigset_t none;
      sigemptyset (&none);
      if (sigprocmask (SIG_SETMASK, &none, NULL) < 0 || dup2 (in, 0) < 0 || dup2 (out, 1) < 0
          || dup2 (out, 2) < 0)
        _exit (126);
      execve (hook->path, hook->args, hook->env);
      dprintf (2, "%s", strerror (errno));
      _exit (127);
    }
  int errsv = errno;
  close (in);
  int status = pid > 0 ? wait_hook (pid, hook->timeout) : 0;
  int rc = -1;
  if (pid < 0)
    snprintf (msg, msg_size, "fork: %s", strerror (errsv));
  else if (status == -1)
    snprintf (msg, msg_size, "timed out after %d s", hook->timeout);
  else if (WIFSIGNALED (status))
    snprintf (msg, msg_size, "killed by signal %d", WTERMSIG (status));
  else if (WEXITSTATUS (status) != 0)
    snprintf (msg, msg_size, "exited with %d", WEXITSTATUS (status));
  else
    rc = 0;
  if (rc < 0 && pid > 0)
    append_output (out, msg, msg_size);
  close (out);
  return rc;
}

gboolean
berth_hooks_run (GPtrArray *hooks, const char *kind, const BerthHookPlace *place,
                 const char *state, gboolean warn_only, GError **error)
{
  for (guint i = 0; hooks && i < hooks->len; i++)
    {
      const BerthHook *h = hooks->pdata[i];
      char msg[256] = "";
      if (berth_hook_run (h, place, state, msg, sizeof msg) == 0)
        continue;
      if (!warn_only)
        return berth_fail (error, BERTH_ERROR_FAILED, "%s hook %s: %s", kind, h->path, msg);
      g_warning ("%s hook %s: %s", kind, h->path, msg);
    }
  return TRUE;
}

JsonNode *
berth_hook_state (const char *id, const char *status, int pid, const char *bundle,
                  JsonObject *annotations)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  const char *fields[][2] = { { "ociVersion", BERTH_OCI_VERSION }, { "id", id }, { "status", status },
                              { "bundle", bundle } };
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      json_builder_set_member_name (b, fields[i][0]);
      json_builder_add_string_value (b, fields[i][1]);
    }
  json_builder_set_member_name (b, "pid");
  json_builder_add_int_value (b, pid);
  if (annotations)
    {
      json_builder_set_member_name (b, "annotations");
      json_builder_add_value (b, json_node_init_object (json_node_alloc (), annotations));
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}
