/* The runtime-spec hooks at the native driver's points of a container's
 * life. createRuntime (and the deprecated prestart) run in berth's own
 * namespaces, createContainer in the container's while its root is not
 * yet pivoted (so its path still resolves on the host), startContainer in
 * the container's after start is asked and before the program, poststart
 * once the program runs, poststop once the container is gone. */
#include "config.h"
#include "native.h"
#include <berth/error.h>
#include <berth/hooks.h>
#include <berth/json.h>
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static JsonObject *
spec_of (BerthExec *c)
{
  return berth_json_node_object (c->spec);
}

gboolean
berth_native_has_hooks (BerthExec *c, const char *const *kinds)
{
  JsonObject *hooks = berth_json_object (spec_of (c), "hooks");
  for (const char *const *k = kinds; hooks && *k; k++)
    {
      JsonArray *list = berth_json_array (hooks, *k);
      if (list && json_array_get_length (list) > 0)
        return TRUE;
    }
  return FALSE;
}

/* Runs the hooks of @kind, given the state with @status; inside the
 * container's @ns_flags namespaces when @ns_flags is not 0. */
static gboolean
run_kind (BerthExec *c, const char *kind, const char *status, guint ns_flags, GError **error)
{
  g_autoptr (GPtrArray) hooks = berth_hooks_parse (spec_of (c), kind, error);
  if (hooks == NULL)
    return FALSE;
  if (hooks->len == 0)
    return TRUE;
  /* A stopped container has no pid, as berth-runc state reports it: the
   * old one may be another process's by now. */
  int pid = strcmp (status, "stopped") == 0 ? 0 : c->pid;
  g_autoptr (JsonNode) state = berth_hook_state (c->id, status, pid,
                                                 c->bundle ? c->bundle : c->state_dir,
                                                 berth_json_object (spec_of (c), "annotations"));
  g_autofree char *text = berth_json_to_string (state, NULL);
  BerthHookPlace place = { .join_pidfd = -1, .ns_flags = ns_flags };
  if (ns_flags && (place.join_pidfd = syscall (SYS_pidfd_open, c->pid, 0)) < 0)
    return berth_fail_errno (error, errno, "%s hooks of %s: open the container's process", kind,
                             c->id);
  gboolean after = strcmp (kind, "poststart") == 0 || strcmp (kind, "poststop") == 0;
  gboolean ok = berth_hooks_run (hooks, kind, ns_flags ? &place : NULL, text, after, error);
  if (place.join_pidfd >= 0)
    close (place.join_pidfd);
  return ok;
}

gboolean
berth_native_hooks_check (BerthExec *c, GError **error)
{
  static const char *const kinds[] = { "prestart", "createRuntime", "createContainer",
                                       "startContainer", "poststart", "poststop" };
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      g_autoptr (GPtrArray) hooks = berth_hooks_parse (spec_of (c), kinds[i], error);
      if (hooks == NULL)
        return FALSE;
    }
  return TRUE;
}

gboolean
berth_native_hooks_create (BerthExec *c, guint ns_flags, GError **error)
{
  return run_kind (c, "prestart", "creating", 0, error)
         && run_kind (c, "createRuntime", "creating", 0, error)
         && run_kind (c, "createContainer", "creating", ns_flags, error);
}

gboolean
berth_native_hooks_start (BerthExec *c, guint ns_flags, GError **error)
{
  return run_kind (c, "startContainer", "created", ns_flags, error);
}

/* poststart and poststop do not undo what happened: the spec has their
 * failures logged, and the operation goes on. */
void
berth_native_hooks_after (BerthExec *c, const char *kind, const char *status)
{
  g_autoptr (GError) error = NULL;
  if (!run_kind (c, kind, status, 0, &error))
    g_warning ("%s", error->message);
}
