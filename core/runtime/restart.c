/* Restart policies, as Docker's: no, always, unless-stopped, on-failure[:N].
 * The monitor carries them out, so they hold with no berth command running:
 * once it has recorded and released an exit, it records "restarting",
 * waits Docker's delay, and starts the container again itself; the new
 * monitor (its child) takes over and the old one exits. A stop or kill by
 * hand marks the state first, so the exit it causes is not restarted, and
 * calls off a restart being waited for. After a reboot no monitor is left:
 * `berth start --all-restart` is the hook an init system runs. */
#include "config.h"
#include "runtime-internal.h"
#include <berth/error.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define RESTART_DELAY_FIRST_MS 100
#define RESTART_DELAY_MAX_MS 60000
/* A run this long resets the delay to its first value (Docker's 10 s). */
#define RESTART_RESET_US (10 * G_USEC_PER_SEC)

static gboolean
policy_is (BerthContainer *c, const char *name)
{
  return g_strcmp0 (c->restart_policy, name) == 0;
}

static gboolean
policy_wants_restart (BerthContainer *c, BerthContainerState *s, int code)
{
  if (s->manually_stopped || s->auto_remove)
    return FALSE;
  if (policy_is (c, "always") || policy_is (c, "unless-stopped"))
    return TRUE;
  return policy_is (c, "on-failure") && code != 0
         && (c->restart_max == 0 || (guint) s->restart_count < c->restart_max);
}

/* Under the container's lock: when the policy wants it, record
 * "restarting" and return the delay in ms; else -1. */
static gint64
begin_restart (BerthStore *store, BerthContainer *c, int code, gint64 ran_us)
{
  g_autoptr (GError) error = NULL;
  int cfd = berth_container_lock (store, c->id, &error);
  g_autoptr (BerthContainerState) s = cfd >= 0 ? berth_state_read (store, c, &error) : NULL;
  gint64 delay = -1;
  if (s && s->monitor_pid == getpid () && g_strcmp0 (s->status, "exited") == 0
      && policy_wants_restart (c, s, code))
    {
      if (ran_us >= RESTART_RESET_US)
        s->restart_backoff = 0;
      delay = MIN ((gint64) RESTART_DELAY_FIRST_MS << MIN (s->restart_backoff, 20),
                   RESTART_DELAY_MAX_MS);
      s->restart_backoff = MIN (s->restart_backoff + 1, 20);
      g_free (s->status);
      s->status = g_strdup ("restarting");
      if (!berth_state_write (store, c, s, &error))
        delay = -1;
    }
  berth_container_unlock (cfd);
  if (error)
    g_printerr ("berth monitor: container %s: %s\n", c->name, error->message);
  return delay;
}

/* After the delay, with the store locked: still this monitor's restart
 * (not called off, not removed)? Then count it and start. */
static gboolean
restart_now (BerthStore *store, const char *id, GError **error)
{
  g_autoptr (BerthContainer) c = berth_container_lookup (store, id, NULL);
  if (c == NULL)
    return TRUE;
  int cfd = berth_container_lock (store, c->id, error);
  if (cfd < 0)
    return FALSE;
  g_autoptr (BerthContainerState) s = berth_state_read (store, c, error);
  gboolean ours = s && g_strcmp0 (s->status, "restarting") == 0 && s->monitor_pid == getpid ()
                  && !s->manually_stopped;
  gboolean ok = s != NULL;
  if (ours)
    {
      s->restart_count++;
      ok = berth_state_write (store, c, s, error);
    }
  berth_container_unlock (cfd);
  if (!ok || !ours)
    return ok;
  BerthStartOptions options = { .restart = TRUE };
  g_autoptr (BerthRun) run = berth_container_start (store, c, &options, error);
  return run != NULL;
}

void
berth_monitor_restart (BerthStore *store, BerthContainer *c, int code, gint64 ran_us)
{
  if (c->restart_policy == NULL || policy_is (c, "no"))
    return;
  gint64 delay = begin_restart (store, c, code, ran_us);
  if (delay < 0)
    return;
  g_usleep (delay * 1000);
  g_autoptr (GError) error = NULL;
  if (berth_store_lock (store, &error))
    {
      restart_now (store, c->id, &error);
      berth_store_unlock (store);
    }
  if (error)
    g_printerr ("berth monitor: restarting container %s: %s\n", c->name, error->message);
}

gboolean
berth_container_hold_restart (BerthStore *store, BerthContainer *c, GError **error)
{
  int cfd = berth_container_lock (store, c->id, error);
  if (cfd < 0)
    return FALSE;
  g_autoptr (BerthContainerState) s = berth_state_read (store, c, error);
  gboolean ok = s != NULL, changed = s && !s->manually_stopped;
  if (s && g_strcmp0 (s->status, "restarting") == 0)
    {
      /* It sleeps, holding nothing; the record says what it would have done. */
      if (berth_monitor_alive (s))
        kill (s->monitor_pid, SIGKILL);
      g_free (s->status);
      s->status = g_strdup ("exited");
      changed = TRUE;
    }
  if (changed)
    {
      s->manually_stopped = TRUE;
      ok = berth_state_write (store, c, s, error);
    }
  berth_container_unlock (cfd);
  return ok;
}

gboolean
berth_container_start_by_policy (BerthStore *store, GPtrArray *started, GError **error)
{
  g_autoptr (GPtrArray) all = berth_container_list (store, error);
  if (all == NULL)
    return FALSE;
  gboolean ok = TRUE;
  for (guint i = 0; i < all->len; i++)
    {
      BerthContainer *c = all->pdata[i];
      if (!policy_is (c, "always") && !policy_is (c, "unless-stopped"))
        continue;
      g_autoptr (GError) local = NULL;
      g_autoptr (BerthContainerState) s = berth_container_state (store, c, &local);
      if (s == NULL || berth_state_is_live (s)
          || g_strcmp0 (s->status, "restarting") == 0
          || (policy_is (c, "unless-stopped") && s->manually_stopped))
        {
          if (local)
            g_printerr ("berth: container %s: %s\n", c->name, local->message);
          ok = ok && local == NULL;
          continue;
        }
      BerthStartOptions options = { 0 };
      g_autoptr (BerthRun) run = berth_container_start (store, c, &options, &local);
      if (run)
        g_ptr_array_add (started, g_strdup (c->name));
      else
        {
          g_printerr ("berth: container %s: %s\n", c->name, local->message);
          ok = FALSE;
        }
    }
  if (!ok)
    return berth_fail (error, BERTH_ERROR_FAILED, "some containers did not start");
  return TRUE;
}
