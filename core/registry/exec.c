/* The exec-driver lookup and the wrappers the core calls; the drivers are
 * listed in core/registry/family.c. A NULL op is "not supported by this
 * driver", reported with the driver's name. */
#include "config.h"
#include <berth/exec.h>
#include <berth/family.h>
#include <berth/error.h>

const BerthExecOps *
berth_exec_driver_lookup (const char *name, GError **error)
{
  const BerthExecFamily *f = berth_exec_family_lookup (name);
  if (f && f->ops)
    return f->ops;
  if (f)
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "exec driver %s: %s", name, f->not_built),
           NULL;
  g_autofree char *known = berth_exec_family_names ();
  berth_fail (error, BERTH_ERROR_NOT_FOUND, "exec driver '%s': berth has no such driver (it knows %s)",
              name, known);
  return NULL;
}

BerthExec *
berth_exec_new (const BerthExecOps *ops, const char *id, const char *state_dir,
                const char *rootfs, JsonNode *spec)
{
  BerthExec *c = g_new0 (BerthExec, 1);
  c->ops = ops;
  c->id = g_strdup (id);
  c->state_dir = g_strdup (state_dir);
  c->rootfs = g_strdup (rootfs);
  c->spec = spec ? json_node_ref (spec) : NULL;
  return c;
}

void
berth_exec_free (BerthExec *c)
{
  if (c == NULL)
    return;
  if (c->ops->free_priv && c->priv)
    c->ops->free_priv (c->priv);
  g_free (c->id);
  g_free (c->state_dir);
  g_free (c->rootfs);
  g_free (c->bundle);
  if (c->spec)
    json_node_unref (c->spec);
  g_free (c);
}

const char *
berth_exec_status_name (BerthExecStatus status)
{
  switch (status)
    {
    case BERTH_EXEC_CREATED: return "created";
    case BERTH_EXEC_RUNNING: return "running";
    case BERTH_EXEC_PAUSED: return "paused";
    case BERTH_EXEC_STOPPED: return "stopped";
    }
  return "unknown";
}

static gboolean
unsupported (const BerthExecOps *ops, const char *what, GError **error)
{
  return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "exec driver %s cannot %s", ops->name,
                     what);
}

#define CALL_OR_UNSUPPORTED(c, op, what, ...) \
  ((c)->ops->op ? (c)->ops->op (__VA_ARGS__) : unsupported ((c)->ops, what, error))

gboolean
berth_exec_probe (const BerthExecOps *ops, GError **error)
{
  return ops->probe ? ops->probe (error) : TRUE;
}

gboolean
berth_exec_load (BerthExec *c, GError **error)
{
  return CALL_OR_UNSUPPORTED (c, load, "load a saved container", c, error);
}

gboolean
berth_exec_create (BerthExec *c, const BerthExecStdio *stdio, GError **error)
{
  return CALL_OR_UNSUPPORTED (c, create, "create a container", c, stdio, error);
}

gboolean
berth_exec_start (BerthExec *c, GError **error)
{
  return CALL_OR_UNSUPPORTED (c, start, "start a created container", c, error);
}

gboolean
berth_exec_run (BerthExec *c, const BerthExecStdio *stdio, GError **error)
{
  if (c->ops->run)
    return c->ops->run (c, stdio, error);
  return berth_exec_create (c, stdio, error) && berth_exec_start (c, error);
}

pid_t
berth_exec_exec (BerthExec *c, JsonObject *process, const BerthExecStdio *stdio,
                 GError **error)
{
  if (c->ops->exec == NULL)
    return unsupported (c->ops, "run a process in a running container", error), 0;
  return c->ops->exec (c, process, stdio, error);
}

gboolean
berth_exec_kill (BerthExec *c, int signal, gboolean all, GError **error)
{
  return CALL_OR_UNSUPPORTED (c, kill, "send signals", c, signal, all, error);
}

gboolean
berth_exec_pause (BerthExec *c, GError **error)
{
  return CALL_OR_UNSUPPORTED (c, pause, "pause a container", c, error);
}

gboolean
berth_exec_unpause (BerthExec *c, GError **error)
{
  return CALL_OR_UNSUPPORTED (c, unpause, "unpause a container", c, error);
}

gboolean
berth_exec_state (BerthExec *c, BerthExecStatus *status, GError **error)
{
  return CALL_OR_UNSUPPORTED (c, state, "report state", c, status, error);
}

gboolean
berth_exec_stats (BerthExec *c, BerthExecStats *stats, GError **error)
{
  return CALL_OR_UNSUPPORTED (c, stats, "report cgroup statistics", c, stats, error);
}

gboolean
berth_exec_update (BerthExec *c, JsonObject *resources, GError **error)
{
  return CALL_OR_UNSUPPORTED (c, update, "update resource limits", c, resources, error);
}

GArray *
berth_exec_pids (BerthExec *c, GError **error)
{
  if (c->ops->pids == NULL)
    return unsupported (c->ops, "list processes", error), NULL;
  return c->ops->pids (c, error);
}

gboolean
berth_exec_oom_killed (BerthExec *c)
{
  return c->ops->oom_killed ? c->ops->oom_killed (c) : FALSE;
}

gboolean
berth_exec_delete (BerthExec *c, GError **error)
{
  return CALL_OR_UNSUPPORTED (c, delete, "delete a container", c, error);
}
