/* Turning an OCI runtime config into a BerthInitPlan, in the parent, so
 * the cloned child has nothing left to parse. */
#include "config.h"
#include "native.h"
#include <berth/error.h>
#include <berth/json.h>
#include <berth/capabilities.h>
#include <berth/passwd.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/capability.h>

typedef struct {
  const char *name;
  unsigned long set, clear;
} MountFlag;

static const MountFlag mount_flags[] = {
  { "ro", MS_RDONLY, 0 }, { "rw", 0, MS_RDONLY },
  { "nosuid", MS_NOSUID, 0 }, { "suid", 0, MS_NOSUID },
  { "nodev", MS_NODEV, 0 }, { "dev", 0, MS_NODEV },
  { "noexec", MS_NOEXEC, 0 }, { "exec", 0, MS_NOEXEC },
  { "sync", MS_SYNCHRONOUS, 0 }, { "async", 0, MS_SYNCHRONOUS },
  { "dirsync", MS_DIRSYNC, 0 }, { "remount", MS_REMOUNT, 0 },
  { "noatime", MS_NOATIME, 0 }, { "atime", 0, MS_NOATIME },
  { "nodiratime", MS_NODIRATIME, 0 }, { "diratime", 0, MS_NODIRATIME },
  { "relatime", MS_RELATIME, 0 }, { "norelatime", 0, MS_RELATIME },
  { "strictatime", MS_STRICTATIME, 0 },
  { "bind", MS_BIND, 0 }, { "rbind", MS_BIND | MS_REC, 0 },
};

static const MountFlag propagation_flags[] = {
  { "private", MS_PRIVATE, 0 }, { "rprivate", MS_PRIVATE | MS_REC, 0 },
  { "shared", MS_SHARED, 0 }, { "rshared", MS_SHARED | MS_REC, 0 },
  { "slave", MS_SLAVE, 0 }, { "rslave", MS_SLAVE | MS_REC, 0 },
  { "unbindable", MS_UNBINDABLE, 0 }, { "runbindable", MS_UNBINDABLE | MS_REC, 0 },
};

static const MountFlag *
find_flag (const MountFlag *table, gsize n, const char *name)
{
  for (gsize i = 0; i < n; i++)
    if (strcmp (table[i].name, name) == 0)
      return &table[i];
  return NULL;
}

static void
mount_plan_free (gpointer data)
{
  BerthMountPlan *m = data;
  g_free (m->source);
  g_free (m->destination);
  g_free (m->type);
  g_free (m->data);
  g_free (m);
}

static BerthMountPlan *
mount_plan_new (JsonObject *o, GError **error)
{
  const char *dest = berth_json_string (o, "destination", NULL);
  if (dest == NULL || dest[0] != '/')
    {
      berth_fail (error, BERTH_ERROR_INVALID, "mount destination '%s': not an absolute path",
                  dest ? dest : "");
      return NULL;
    }
  BerthMountPlan *m = g_new0 (BerthMountPlan, 1);
  m->source_tree = -1;
  m->destination = g_strdup (dest);
  m->type = g_strdup (berth_json_string (o, "type", "bind"));
  m->source = g_strdup (berth_json_string (o, "source", m->type));
  m->is_cgroup = strcmp (m->type, "cgroup") == 0 || strcmp (m->type, "cgroup2") == 0;
  if (strcmp (m->type, "bind") == 0)
    m->flags |= MS_BIND;
  g_autoptr (GString) data = g_string_new (NULL);
  g_auto (GStrv) options = berth_json_strv (o, "options");
  for (char **opt = options; opt && *opt; opt++)
    {
      const MountFlag *f = find_flag (mount_flags, G_N_ELEMENTS (mount_flags), *opt);
      const MountFlag *p = find_flag (propagation_flags, G_N_ELEMENTS (propagation_flags), *opt);
      if (f)
        m->flags = (m->flags | f->set) & ~f->clear;
      else if (p)
        m->propagation = p->set;
      else if (strcmp (*opt, "tmpcopyup") == 0)
        m->copy_up = TRUE; /* runc's and crun's, not the kernel's */
      else
        g_string_append_printf (data, "%s%s", data->len ? "," : "", *opt);
    }
  m->data = data->len ? g_string_free (g_steal_pointer (&data), FALSE) : NULL;
  return m;
}

static gboolean
parse_mounts (BerthInitPlan *plan, JsonArray *mounts, GError **error)
{
  plan->mounts = g_ptr_array_new_with_free_func (mount_plan_free);
  for (guint i = 0; mounts && i < json_array_get_length (mounts); i++)
    {
      JsonObject *o = berth_json_array_object (mounts, i);
      BerthMountPlan *m = o ? mount_plan_new (o, error) : NULL;
      if (m == NULL)
        return o ? FALSE : berth_fail (error, BERTH_ERROR_INVALID, "mounts[%u]: not an object", i);
      plan->mounts_cgroup = plan->mounts_cgroup || m->is_cgroup;
      g_ptr_array_add (plan->mounts, m);
    }
  return TRUE;
}

static void
device_plan_free (gpointer data)
{
  BerthDevicePlan *d = data;
  g_free (d->path);
  g_free (d);
}

/* The spec's one-letter types; "u" (unbuffered) is a character device too. */
static mode_t
device_type (const char *type)
{
  if (strcmp (type, "c") == 0 || strcmp (type, "u") == 0)
    return S_IFCHR;
  if (strcmp (type, "b") == 0)
    return S_IFBLK;
  if (strcmp (type, "p") == 0)
    return S_IFIFO;
  return 0;
}

static BerthDevicePlan *
device_plan_new (JsonObject *o, GError **error)
{
  const char *path = berth_json_string (o, "path", "");
  const char *type = berth_json_string (o, "type", "");
  mode_t kind = device_type (type);
  if (path[0] != '/' || g_str_has_suffix (path, "/"))
    return berth_fail (error, BERTH_ERROR_INVALID, "device path '%s': not an absolute path to a file",
                       path), NULL;
  if (kind == 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "device %s: type '%s' unknown (c, b, u or p)",
                       path, type), NULL;
  gint64 major = berth_json_int (o, "major", -1), minor = berth_json_int (o, "minor", -1);
  if (kind != S_IFIFO && (major < 0 || minor < 0))
    return berth_fail (error, BERTH_ERROR_INVALID, "device %s: type %s needs a major and a minor",
                       path, type), NULL;
  BerthDevicePlan *d = g_new0 (BerthDevicePlan, 1);
  d->path = g_strdup (path);
  d->type = kind;
  if (kind != S_IFIFO)
    d->rdev = makedev (major, minor);
  /* runc's default; only the permission bits, the type being the type's. */
  d->mode = berth_json_int (o, "fileMode", 0666) & 07777;
  d->uid = berth_json_int (o, "uid", 0);
  d->gid = berth_json_int (o, "gid", 0);
  return d;
}

static gboolean
parse_devices (BerthInitPlan *plan, JsonArray *devices, GError **error)
{
  plan->devices = g_ptr_array_new_with_free_func (device_plan_free);
  for (guint i = 0; devices && i < json_array_get_length (devices); i++)
    {
      JsonObject *o = berth_json_array_object (devices, i);
      BerthDevicePlan *d = o ? device_plan_new (o, error) : NULL;
      if (d == NULL)
        return o ? FALSE : berth_fail (error, BERTH_ERROR_INVALID, "linux.devices[%u]: not an object", i);
      g_ptr_array_add (plan->devices, d);
    }
  return TRUE;
}

static int
last_capability (void)
{
  g_autofree char *text = NULL;
  if (g_file_get_contents ("/proc/sys/kernel/cap_last_cap", &text, NULL, NULL))
    return atoi (text);
  return 40;
}

/* Names to a bit mask. A capability the host's own bounding set lacks (this
 * kind of host may lack CAP_SYS_RESOURCE) cannot be granted by anyone, so it
 * is left out rather than failing the start: "ALL" means all the host has. */
static gboolean
capability_mask (JsonObject *caps, const char *set, guint64 *mask, GError **error)
{
  *mask = 0;
  g_auto (GStrv) names = berth_json_strv (caps, set);
  const char *const *all = berth_all_capabilities ();
  for (char **n = names; n && *n; n++)
    {
      int bit = -1;
      for (int i = 0; all[i]; i++)
        if (g_ascii_strcasecmp (all[i], *n) == 0)
          bit = i;
      if (bit < 0)
        return berth_fail (error, BERTH_ERROR_INVALID, "capability %s in %s: unknown", *n, set);
      if (prctl (PR_CAPBSET_READ, bit, 0, 0, 0) == 1)
        *mask |= 1ULL << bit;
      else if (strcmp (set, "bounding") == 0)
        g_warning ("capability %s: this host's bounding set lacks it, so no process here can "
                   "have it; left out", *n);
    }
  return TRUE;
}

typedef struct {
  const char *name;
  int resource;
} RlimitName;

static const RlimitName rlimit_names[] = {
  { "RLIMIT_AS", RLIMIT_AS }, { "RLIMIT_CORE", RLIMIT_CORE },
  { "RLIMIT_CPU", RLIMIT_CPU }, { "RLIMIT_DATA", RLIMIT_DATA },
  { "RLIMIT_FSIZE", RLIMIT_FSIZE }, { "RLIMIT_LOCKS", RLIMIT_LOCKS },
  { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
  { "RLIMIT_NICE", RLIMIT_NICE }, { "RLIMIT_NOFILE", RLIMIT_NOFILE },
  { "RLIMIT_NPROC", RLIMIT_NPROC }, { "RLIMIT_RSS", RLIMIT_RSS },
  { "RLIMIT_RTPRIO", RLIMIT_RTPRIO }, { "RLIMIT_RTTIME", RLIMIT_RTTIME },
  { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING }, { "RLIMIT_STACK", RLIMIT_STACK },
};

/* A limit above the host's hard limit cannot be set without
 * CAP_SYS_RESOURCE; say so before the start instead of failing in the child. */
static gboolean
parse_rlimits (BerthInitPlan *plan, JsonArray *rlimits, GError **error)
{
  plan->rlimits = g_array_new (FALSE, FALSE, sizeof (BerthRlimitPlan));
  gboolean can_raise = prctl (PR_CAPBSET_READ, CAP_SYS_RESOURCE, 0, 0, 0) == 1;
  for (guint i = 0; rlimits && i < json_array_get_length (rlimits); i++)
    {
      JsonObject *o = berth_json_array_object (rlimits, i);
      const char *type = berth_json_string (o, "type", "");
      const RlimitName *r = NULL;
      for (guint j = 0; j < G_N_ELEMENTS (rlimit_names); j++)
        if (strcmp (rlimit_names[j].name, type) == 0)
          r = &rlimit_names[j];
      if (r == NULL)
        return berth_fail (error, BERTH_ERROR_INVALID, "rlimit '%s': unknown", type);
      BerthRlimitPlan p = { .resource = r->resource };
      p.limit.soft = berth_json_int (o, "soft", 0);
      p.limit.hard = berth_json_int (o, "hard", 0);
      struct rlimit host;
      if (getrlimit (r->resource, &host) == 0 && !can_raise && p.limit.hard > host.rlim_max)
        return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                           "rlimit %s hard %" G_GUINT64_FORMAT ": above this host's hard limit %"
                           G_GUINT64_FORMAT " and the host lacks CAP_SYS_RESOURCE",
                           type, p.limit.hard, (guint64) host.rlim_max);
      g_array_append_val (plan->rlimits, p);
    }
  return TRUE;
}

/* A uid or gid as runc takes it: a whole number in 0 .. 2^32-2 (2^32-1 is
 * the kernel's "no id"). Absent is 0; a negative, fractional or quoted
 * value is refused rather than read as root. */
static gboolean
parse_id (JsonNode *node, const char *what, guint32 *id, GError **error)
{
  *id = 0;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return berth_fail (error, BERTH_ERROR_INVALID, "%s: not a whole number", what);
  gint64 v = json_node_get_int (node);
  if (v < 0 || v > (gint64) G_MAXUINT32 - 1)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "%s %" G_GINT64_FORMAT ": outside 0..4294967294", what, v);
  *id = (guint32) v;
  return TRUE;
}

gboolean
berth_init_plan_process (BerthInitPlan *plan, JsonObject *process, GError **error)
{
  if (process == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "the spec has no process");
  plan->args = berth_json_strv (process, "args");
  if (plan->args == NULL || plan->args[0] == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "no command: the image has no Cmd and none was given");
  plan->env = berth_json_strv (process, "env");
  if (plan->env == NULL)
    plan->env = g_new0 (char *, 1);
  plan->cwd = g_strdup (berth_json_string (process, "cwd", "/"));
  if (plan->cwd[0] != '/')
    return berth_fail (error, BERTH_ERROR_INVALID, "process.cwd '%s': not absolute", plan->cwd);
  plan->terminal = berth_json_bool (process, "terminal", FALSE);
  JsonObject *user = berth_json_object (process, "user");
  plan->groups = g_array_new (FALSE, FALSE, sizeof (gid_t));
  if (!parse_id (user ? json_object_get_member (user, "uid") : NULL, "process.user.uid", &plan->uid, error)
      || !parse_id (user ? json_object_get_member (user, "gid") : NULL, "process.user.gid", &plan->gid, error))
    return FALSE;
  JsonArray *extra = berth_json_array (user, "additionalGids");
  for (guint i = 0; extra && i < json_array_get_length (extra); i++)
    {
      g_autofree char *what = g_strdup_printf ("process.user.additionalGids[%u]", i);
      guint32 g;
      if (!parse_id (json_array_get_element (extra, i), what, &g, error))
        return FALSE;
      g_array_append_val (plan->groups, g);
    }
  JsonObject *caps = berth_json_object (process, "capabilities");
  plan->cap_last = last_capability ();
  if (!capability_mask (caps, "bounding", &plan->cap_bounding, error)
      || !capability_mask (caps, "effective", &plan->cap_effective, error)
      || !capability_mask (caps, "permitted", &plan->cap_permitted, error)
      || !capability_mask (caps, "inheritable", &plan->cap_inheritable, error)
      || !capability_mask (caps, "ambient", &plan->cap_ambient, error))
    return FALSE;
  if (!parse_rlimits (plan, berth_json_array (process, "rlimits"), error))
    return FALSE;
  plan->no_new_privs = berth_json_bool (process, "noNewPrivileges", FALSE);
  const char *apparmor = berth_json_string (process, "apparmorProfile", NULL);
  if (apparmor && *apparmor && strcmp (apparmor, "unconfined") != 0)
    g_warning ("apparmorProfile %s: not applied; berth's native driver has no AppArmor support%s",
               apparmor, g_file_test ("/sys/kernel/security/apparmor", G_FILE_TEST_IS_DIR)
                             ? "" : " and this host has no AppArmor");
  JsonNode *oom = json_object_get_member (process, "oomScoreAdj");
  plan->set_oom_score_adj = oom != NULL;
  plan->oom_score_adj = berth_json_int (process, "oomScoreAdj", 0);
  return TRUE;
}

static char **
sysctl_list (JsonObject *sysctl)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  g_autoptr (GList) keys = sysctl ? json_object_get_members (sysctl) : NULL;
  for (GList *k = keys; k; k = k->next)
    {
      g_autofree char *kv = g_strdup_printf ("%s=%s", (char *) k->data,
                                             berth_json_string (sysctl, k->data, ""));
      g_strv_builder_add (b, kv);
    }
  return g_strv_builder_end (b);
}

gboolean
berth_init_plan_terminal (BerthInitPlan *plan, const BerthExecStdio *stdio, GError **error)
{
  plan->terminal = plan->terminal || (stdio && stdio->terminal);
  if (plan->terminal && !(stdio && stdio->pty_master))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "process.terminal: the caller has no way to receive the terminal");
  return TRUE;
}

void
berth_init_plan_default_home (BerthInitPlan *plan, const char *rootfs_dir)
{
  if (g_environ_getenv (plan->env, "HOME") != NULL)
    return;
  g_autofree char *home = berth_passwd_user_home (rootfs_dir, plan->uid);
  plan->env = g_environ_setenv (plan->env, "HOME", home, FALSE);
}

/* runc's rule: a sysctl is written only inside a namespace of the
 * container's own that it belongs to; any other would change the host. */
static gboolean
check_sysctl (const char *key, guint ns_flags, GError **error)
{
  static const char *const ipc_keys[] = { "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
                                          "kernel.sem", "kernel.shmall", "kernel.shmmax",
                                          "kernel.shmmni", "kernel.shm_rmid_forced" };
  gboolean ipc = g_str_has_prefix (key, "fs.mqueue.");
  for (guint i = 0; i < G_N_ELEMENTS (ipc_keys); i++)
    ipc = ipc || strcmp (key, ipc_keys[i]) == 0;
  guint needs = ipc ? CLONE_NEWIPC
              : g_str_has_prefix (key, "net.") ? CLONE_NEWNET
              : strcmp (key, "kernel.hostname") == 0 || strcmp (key, "kernel.domainname") == 0
                  ? CLONE_NEWUTS
                  : 0;
  if (needs == 0)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "sysctl %s: not in a namespace of the container's own; it would change "
                       "the host", key);
  if (!(ns_flags & needs))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "sysctl %s: the container has no %s namespace of its own", key,
                       needs == CLONE_NEWIPC ? "ipc" : needs == CLONE_NEWNET ? "network" : "uts");
  return TRUE;
}

/* The "linux" part a first process needs; namespaces are the caller's. */
static gboolean
plan_linux (BerthInitPlan *plan, JsonObject *linux_, GError **error)
{
  plan->masked_paths = berth_json_strv (linux_, "maskedPaths");
  plan->readonly_paths = berth_json_strv (linux_, "readonlyPaths");
  plan->sysctl = sysctl_list (berth_json_object (linux_, "sysctl"));
  plan->root_propagation = MS_SLAVE | MS_REC;
  const char *prop = berth_json_string (linux_, "rootfsPropagation", NULL);
  if (prop)
    {
      const MountFlag *p = find_flag (propagation_flags, G_N_ELEMENTS (propagation_flags), prop);
      if (p == NULL)
        return berth_fail (error, BERTH_ERROR_INVALID, "rootfsPropagation '%s': unknown", prop);
      plan->root_propagation = p->set;
    }
  if (!parse_devices (plan, berth_json_array (linux_, "devices"), error))
    return FALSE;
  JsonObject *seccomp = berth_json_object (linux_, "seccomp");
  if (seccomp && (plan->seccomp = berth_seccomp_compile (seccomp, error)) == NULL)
    return FALSE;
  return TRUE;
}

BerthInitPlan *
berth_init_plan_new (JsonObject *spec, const char *rootfs, guint ns_flags_new,
                     guint ns_flags_joined, const BerthExecStdio *stdio, GError **error)
{
  g_autoptr (BerthInitPlan) plan = g_new0 (BerthInitPlan, 1);
  plan->sync_fd = -1;
  plan->exec_fifo_fd = -1;
  plan->rootfs_tree = -1;
  plan->helper_fd = -1;
  for (int i = 0; i < 3; i++)
    plan->stdio[i] = -1;
  if (stdio)
    {
      plan->stdio[0] = stdio->in;
      plan->stdio[1] = stdio->out;
      plan->stdio[2] = stdio->err;
    }
  /* Without one the process would see the host's root: runc refuses such
   * a spec as soon as it has masked or read-only paths, berth always. */
  if (!((ns_flags_new | ns_flags_joined) & CLONE_NEWNS))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "linux.namespaces: no mount namespace; a container never runs on the "
                       "host's root"), NULL;
  plan->new_mount_ns = (ns_flags_new & CLONE_NEWNS) != 0;
  plan->new_net_ns = (ns_flags_new & CLONE_NEWNET) != 0;
  plan->uts_ns = ((ns_flags_new | ns_flags_joined) & CLONE_NEWUTS) != 0;
  plan->user_ns = ((ns_flags_new | ns_flags_joined) & CLONE_NEWUSER) != 0;
  plan->cgroup_ns = ((ns_flags_new | ns_flags_joined) & CLONE_NEWCGROUP) != 0;
  plan->rootfs = g_strdup (rootfs);
  JsonObject *root = berth_json_object (spec, "root");
  plan->readonly_root = berth_json_bool (root, "readonly", FALSE);
  plan->hostname = g_strdup (berth_json_string (spec, "hostname", NULL));
  /* As runc: in a joined uts namespace the name is set there; in the
   * host's it would rename the host. */
  if (plan->hostname && !plan->uts_ns)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "hostname %s: the container has no uts namespace of its own", plan->hostname),
           NULL;
  if ((plan->helper_fd = berth_exec_helper_memfd (error)) < 0
      || !berth_init_plan_process (plan, berth_json_object (spec, "process"), error)
      || !parse_mounts (plan, berth_json_array (spec, "mounts"), error)
      || !plan_linux (plan, berth_json_object (spec, "linux"), error))
    return NULL;
  for (char **kv = plan->sysctl; *kv; kv++)
    {
      g_autofree char *key = g_strndup (*kv, strcspn (*kv, "="));
      if (!check_sysctl (key, ns_flags_new | ns_flags_joined, error))
        return NULL;
    }
  berth_init_plan_default_home (plan, plan->rootfs);
  /* The first process's oomScoreAdj is written by the parent, as runc
   * does: from a user namespace the child could not lower it. */
  plan->set_oom_score_adj = FALSE;
  if (!berth_init_plan_terminal (plan, stdio, error))
    return NULL;
  return g_steal_pointer (&plan);
}

JsonArray *
berth_init_mount_options (void)
{
  JsonArray *names = json_array_new ();
  for (guint i = 0; i < G_N_ELEMENTS (mount_flags); i++)
    json_array_add_string_element (names, mount_flags[i].name);
  for (guint i = 0; i < G_N_ELEMENTS (propagation_flags); i++)
    json_array_add_string_element (names, propagation_flags[i].name);
  return names;
}
