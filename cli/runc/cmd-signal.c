/* kill, delete, pause and resume: acting on a container's processes. */
#include "config.h"
#include "runc.h"
#include <berth/error.h>
#include <berth/oci.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* "TERM", "SIGTERM" or "15". */
static int
parse_signal (const char *text)
{
  char *end = NULL;
  long n = strtol (text, &end, 10);
  if (*text && end && *end == '\0')
    return n > 0 && n < NSIG ? (int) n : -1;
  const char *name = g_str_has_prefix (text, "SIG") ? text + 3 : text;
  for (int sig = 1; sig < NSIG; sig++)
    {
      const char *abbrev = sigabbrev_np (sig);
      if (abbrev && strcmp (abbrev, name) == 0)
        return sig;
    }
  return -1;
}

int
berth_runc_kill (BerthRunc *r, int argc, char **argv)
{
  gboolean all = FALSE;
  const GOptionEntry entries[] = {
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, "Signal every process of the container", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_runc_parse (r, &argc, &argv, entries, "ID [SIGNAL]", FALSE))
    return 2;
  if (argc != 2 && argc != 3)
    return berth_runc_usage (r, "kill needs a container id and at most one signal");
  int sig = argc == 3 ? parse_signal (argv[2]) : SIGTERM;
  if (sig < 0)
    return berth_runc_usage (r, "signal '%s': unknown", argv[2]);
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthExec) c = berth_oci_open (r->root, argv[1], &error);
  if (c == NULL || !berth_exec_kill (c, sig, all, &error))
    return berth_runc_fail (r, error);
  return 0;
}

int
berth_runc_delete (BerthRunc *r, int argc, char **argv)
{
  gboolean force = FALSE;
  const GOptionEntry entries[] = {
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Kill a running container first", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_runc_parse (r, &argc, &argv, entries, "ID", FALSE))
    return 2;
  if (argc != 2)
    return berth_runc_usage (r, "delete needs one container id");
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthExec) c = berth_oci_open (r->root, argv[1], &error);
  /* runc: deleting what is already gone succeeds with --force. */
  if (c == NULL && force && g_error_matches (error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
    return 0;
  if (c == NULL || !berth_oci_delete (r->root, c, force, &error))
    return berth_runc_fail (r, error);
  return 0;
}

/* pause and resume: the cgroup freezer, refused on a container that is
 * not running (or not paused) as runc refuses it. */
static int
freeze (BerthRunc *r, int argc, char **argv, gboolean frozen)
{
  int rc;
  g_autoptr (BerthExec) c = berth_runc_open_only_operand (r, &argc, &argv, argv[0], &rc);
  if (c == NULL)
    return rc;
  g_autoptr (GError) error = NULL;
  BerthExecStatus status;
  if (!berth_exec_state (c, &status, &error))
    return berth_runc_fail (r, error);
  BerthExecStatus want = frozen ? BERTH_EXEC_RUNNING : BERTH_EXEC_PAUSED;
  if (status != want)
    {
      g_set_error (&error, BERTH_ERROR, BERTH_ERROR_INVALID, "container %s is %s, not %s", c->id,
                   berth_exec_status_name (status), berth_exec_status_name (want));
      return berth_runc_fail (r, error);
    }
  gboolean ok = frozen ? berth_exec_pause (c, &error) : berth_exec_unpause (c, &error);
  return ok ? 0 : berth_runc_fail (r, error);
}

int
berth_runc_pause (BerthRunc *r, int argc, char **argv)
{
  return freeze (r, argc, argv, TRUE);
}

int
berth_runc_resume (BerthRunc *r, int argc, char **argv)
{
  return freeze (r, argc, argv, FALSE);
}
