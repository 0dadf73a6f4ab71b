/* OCI seccomp → LXC's profile format (lxc.container.conf(5), "SECCOMP
 * CONFIGURATION"): line 1 "2", line 2 "allowlist ACTION" (or "denylist"
 * where the default is to allow), then one "NAME ACTION [ARG]..." line per
 * syscall name. An argument check is "[index,value,op]" or, for
 * SCMP_CMP_MASKED_EQ, "[index,value,op,mask]": OCI's value is the mask and
 * valueTwo the compared value there, as libseccomp takes them. */
#include "config.h"
#include "lxc-seccomp.h"
#include <berth/error.h>
#include <berth/json.h>
#include <errno.h>
#include <string.h>

/* The action as LXC spells it; errno_ret < 0 means the OCI default (EPERM). */
static gboolean
append_action (GString *out, const char *name, gint64 errno_ret, GError **error)
{
  if (g_strcmp0 (name, "SCMP_ACT_ALLOW") == 0)
    g_string_append (out, "allow");
  else if (g_strcmp0 (name, "SCMP_ACT_ERRNO") == 0)
    g_string_append_printf (out, "errno %" G_GINT64_FORMAT, errno_ret < 0 ? EPERM : errno_ret);
  else if (g_strcmp0 (name, "SCMP_ACT_KILL") == 0 || g_strcmp0 (name, "SCMP_ACT_KILL_THREAD") == 0)
    g_string_append (out, "kill");
  else if (g_strcmp0 (name, "SCMP_ACT_TRAP") == 0)
    g_string_append (out, "trap");
  else
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                       "seccomp action '%s': LXC's profile format has only allow, errno, kill and trap",
                       name ? name : "(none)");
  return TRUE;
}

static const char *const lxc_ops[] = {
  "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
  "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ", NULL,
};

static gboolean
append_args (GString *out, JsonArray *args, GError **error)
{
  guint n = args ? json_array_get_length (args) : 0;
  if (n > 6)
    return berth_fail (error, BERTH_ERROR_INVALID, "seccomp rule: more than 6 argument checks");
  for (guint i = 0; i < n; i++)
    {
      JsonObject *a = berth_json_array_object (args, i);
      const char *op = berth_json_string (a, "op", "");
      if (!g_strv_contains (lxc_ops, op))
        return berth_fail (error, BERTH_ERROR_INVALID, "seccomp argument operator '%s': unknown", op);
      gint64 index = berth_json_int (a, "index", -1);
      if (index < 0 || index > 5)
        return berth_fail (error, BERTH_ERROR_INVALID,
                           "seccomp argument index %" G_GINT64_FORMAT ": not 0 to 5", index);
      guint64 value = (guint64) berth_json_int (a, "value", 0);
      guint64 value_two = (guint64) berth_json_int (a, "valueTwo", 0);
      if (strcmp (op, "SCMP_CMP_MASKED_EQ") == 0)
        g_string_append_printf (out, " [%" G_GINT64_FORMAT ",%" G_GUINT64_FORMAT ",%s,%" G_GUINT64_FORMAT "]",
                                index, value_two, op, value);
      else
        g_string_append_printf (out, " [%" G_GINT64_FORMAT ",%" G_GUINT64_FORMAT ",%s]", index, value, op);
    }
  return TRUE;
}

/* One line per name. A rule that repeats the default is left out, as
 * libseccomp refuses it (and LXC would fail the start). */
static gboolean
append_rule (GString *out, JsonObject *rule, const char *default_action, GError **error)
{
  g_autoptr (GString) action = g_string_new (NULL);
  if (!append_action (action, berth_json_string (rule, "action", NULL),
                      berth_json_int (rule, "errnoRet", -1), error))
    return FALSE;
  g_autoptr (GString) args = g_string_new (NULL);
  if (!append_args (args, berth_json_array (rule, "args"), error))
    return FALSE;
  if (strcmp (action->str, default_action) == 0)
    return TRUE;
  g_auto (GStrv) names = berth_json_strv (rule, "names");
  for (char **n = names; n && *n; n++)
    g_string_append_printf (out, "%s %s%s\n", *n, action->str, args->str);
  return TRUE;
}

char *
berth_lxc_seccomp_profile (JsonObject *seccomp, GError **error)
{
  g_autoptr (GString) default_action = g_string_new (NULL);
  if (!append_action (default_action, berth_json_string (seccomp, "defaultAction", NULL),
                      berth_json_int (seccomp, "defaultErrnoRet", -1), error))
    return NULL;
  g_autoptr (GString) out = g_string_new ("2\n");
  if (strcmp (default_action->str, "allow") == 0)
    g_string_append (out, "denylist allow\n");
  else
    g_string_append_printf (out, "allowlist %s\n", default_action->str);
  JsonArray *rules = berth_json_array (seccomp, "syscalls");
  for (guint i = 0; rules && i < json_array_get_length (rules); i++)
    if (!append_rule (out, berth_json_array_object (rules, i), default_action->str, error))
      return NULL;
  return g_string_free (g_steal_pointer (&out), FALSE);
}
