/* The LXC exec driver: the same OCI config as the native driver, run
 * through liblxc's C API (lxc_container_new, set_config_item, start, attach,
 * freeze, get_cgroup_item).
 *
 * Process model. liblxc's start() with want_daemonize(false) makes the
 * calling process LXC's own monitor: it blocks until the container's init
 * exits and leaves init's wait status in error_num. berth's monitor must stay
 * free to log output, so the driver forks a small **keeper** that calls
 * start() and then exits as init did (the same code, or killed by the same
 * signal), so the monitor's waitpid on c->pid sees what it would see with
 * the native driver. LXC's monitor forwards the signals it gets to init, so
 * a signal sent to the keeper reaches the program.
 *
 * State in state_dir: lxc/<id>/config (liblxc's own config and log, kept in
 * the container's directory: lxcpath = state_dir/lxc), lxc.json (the
 * keeper's and init's pids with their start times, so a reused pid is never
 * mistaken for the container) and, between create and start, start.fifo. */
#include "config.h"
#include "../native/native.h" /* berth_exec_helper_memfd, berth_exec_helper_argv */
#include "lxc-seccomp.h"
#include <berth/error.h>
#include <berth/exec.h>
#include <berth/fdutil.h>
#include <berth/fsutil.h>
#include <berth/host.h>
#include <berth/json.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <lxc/lxccontainer.h>
#include <lxc/attach_options.h>
#include <lxc/version.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long a start may take before berth gives up on it. */
#define LXC_START_TIMEOUT_MS 30000

typedef struct {
  guint64 keeper_start;     /* field 22 of /proc/PID/stat of c->pid */
  pid_t init_pid;           /* the program, as the host sees it; 0 if it never showed */
  guint64 init_start;
  struct lxc_container *lc; /* opened on demand */
} LxcState;

static void
lxc_state_free (gpointer data)
{
  LxcState *s = data;
  if (s->lc)
    lxc_container_put (s->lc);
  g_free (s);
}

static LxcState *
state_of (BerthExec *c)
{
  if (c->priv == NULL)
    c->priv = g_new0 (LxcState, 1);
  return c->priv;
}

static char *
lxc_path (BerthExec *c)
{
  return g_build_filename (c->state_dir, "lxc", NULL);
}

static char *
fifo_path (BerthExec *c)
{
  return g_build_filename (c->state_dir, "start.fifo", NULL);
}

/* liblxc's handle on the container (its config is loaded if saved). */
static struct lxc_container *
handle_of (BerthExec *c, GError **error)
{
  LxcState *s = state_of (c);
  if (s->lc == NULL)
    {
      g_autofree char *path = lxc_path (c);
      s->lc = lxc_container_new (c->id, path);
      if (s->lc == NULL)
        berth_fail (error, BERTH_ERROR_FAILED, "liblxc could not open container %s in %s", c->id,
                    path);
    }
  return s->lc;
}

static gboolean
keeper_alive (BerthExec *c)
{
  LxcState *s = state_of (c);
  return c->pid > 0 && s->keeper_start && berth_process_start_time (c->pid) == s->keeper_start;
}

static gboolean
init_alive (BerthExec *c)
{
  LxcState *s = state_of (c);
  return s->init_pid > 0 && s->init_start
         && berth_process_start_time (s->init_pid) == s->init_start;
}

/* ---- saved state ---- */

static gboolean
save_state (BerthExec *c, GError **error)
{
  LxcState *s = state_of (c);
  g_autofree char *json = g_strdup_printf (
      "{\"keeper\":%d,\"keeperStart\":%" G_GUINT64_FORMAT ",\"init\":%d,\"initStart\":%" G_GUINT64_FORMAT "}\n",
      (int) c->pid, s->keeper_start, (int) s->init_pid, s->init_start);
  g_autofree char *path = g_build_filename (c->state_dir, "lxc.json", NULL);
  return berth_write_file_replace (path, json, strlen (json), 0600, error);
}

static gboolean
lxc_load (BerthExec *c, GError **error)
{
  g_autofree char *path = g_build_filename (c->state_dir, "lxc.json", NULL);
  g_autoptr (JsonNode) node = berth_json_read (path, error);
  if (node == NULL)
    return FALSE;
  JsonObject *o = berth_json_node_object (node);
  LxcState *s = state_of (c);
  c->pid = berth_json_int (o, "keeper", 0);
  s->keeper_start = berth_json_int (o, "keeperStart", 0);
  s->init_pid = berth_json_int (o, "init", 0);
  s->init_start = berth_json_int (o, "initStart", 0);
  return TRUE;
}

/* ---- the OCI config as LXC config items ---- */

typedef struct {
  struct lxc_container *lc;
  gboolean v2;           /* a cgroup2-only host: lxc.cgroup2.* keys */
  const char *rootfs;
  gboolean readonly;     /* the spec's root.readonly */
} Config;

/* berth's own copies of /etc/hostname, hosts and resolv.conf: over an
 * image without them, on a read-only root, LXC cannot make the mount
 * point (it mounts the root read-only first), so the image keeps its
 * own, as it has none. */
static gboolean
skippable_etc_file (Config *cf, const char *dest)
{
  static const char *const files[] = { "etc/hostname", "etc/hosts", "etc/resolv.conf" };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    if (strcmp (dest, files[i]) == 0)
      {
        /* lstat: an image's absolute symlink must not be read as the
         * host's file. */
        g_autofree char *target = g_build_filename (cf->rootfs, dest, NULL);
        struct stat st;
        return cf->readonly && lstat (target, &st) < 0;
      }
  return FALSE;
}

static gboolean
set_item (Config *cf, const char *key, const char *value, GError **error)
{
  if (!cf->lc->set_config_item (cf->lc, key, value))
    return berth_fail (error, BERTH_ERROR_INVALID, "lxc: liblxc refused %s = %s", key, value);
  return TRUE;
}

static gboolean G_GNUC_PRINTF (4, 5)
set_itemf (Config *cf, const char *key, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *value = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  return set_item (cf, key, value, error);
}

/* A cgroup limit in the host's form: @v1 (controller.file) or @v2. */
static gboolean
set_cgroup (Config *cf, const char *v1, const char *v2, const char *value, GError **error)
{
  g_autofree char *key = g_strdup_printf (cf->v2 ? "lxc.cgroup2.%s" : "lxc.cgroup.%s",
                                          cf->v2 ? v2 : v1);
  return set_item (cf, key, value, error);
}

static gboolean
has_namespace (JsonObject *linux_, const char *type)
{
  JsonArray *list = berth_json_array (linux_, "namespaces");
  for (guint i = 0; list && i < json_array_get_length (list); i++)
    if (g_strcmp0 (berth_json_string (berth_json_array_object (list, i), "type", ""), type) == 0)
      return TRUE;
  return FALSE;
}

/* The path of the spec's @type namespace entry: one to join; NULL for a
 * new one or none. */
static const char *
namespace_path (JsonObject *linux_, const char *type)
{
  JsonArray *list = berth_json_array (linux_, "namespaces");
  for (guint i = 0; list && i < json_array_get_length (list); i++)
    {
      JsonObject *o = berth_json_array_object (list, i);
      if (g_strcmp0 (berth_json_string (o, "type", ""), type) == 0)
        return berth_json_string (o, "path", NULL);
    }
  return NULL;
}

/* The network to start in: a new namespace with only lo, the host's
 * (none in the spec), or one to join, which LXC takes only as a process
 * in it (lxc.namespace.share.net), so only a /proc/PID/ns/net path. */
static gboolean
config_network (Config *cf, JsonObject *linux_, GError **error)
{
  const char *path = namespace_path (linux_, "network");
  if (path == NULL || *path == '\0')
    return set_item (cf, "lxc.net.0.type", has_namespace (linux_, "network") ? "empty" : "none",
                     error);
  guint64 pid = 0;
  char *end = NULL;
  if (g_str_has_prefix (path, "/proc/"))
    pid = g_ascii_strtoull (path + 6, &end, 10);
  if (pid == 0 || end == NULL || strcmp (end, "/ns/net") != 0)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                       "network namespace path %s: the lxc driver joins a network namespace only "
                       "through a process in it (/proc/PID/ns/net)", path);
  g_autofree char *value = g_strdup_printf ("%" G_GUINT64_FORMAT, pid);
  return set_item (cf, "lxc.namespace.share.net", value, error);
}

/* "CAP_NET_RAW" -> "net_raw", as lxc.cap.keep spells it. */
static char *
cap_name (const char *oci)
{
  const char *name = g_str_has_prefix (oci, "CAP_") ? oci + 4 : oci;
  return g_ascii_strdown (name, -1);
}

static gboolean
config_process (Config *cf, JsonObject *process, GError **error)
{
  const char *cwd = berth_json_string (process, "cwd", "/");
  if (!set_item (cf, "lxc.init.cwd", cwd, error))
    return FALSE;
  g_auto (GStrv) env = berth_json_strv (process, "env");
  for (char **e = env; e && *e; e++)
    if (!set_item (cf, "lxc.environment", *e, error))
      return FALSE;
  JsonObject *user = berth_json_object (process, "user");
  if (!set_itemf (cf, "lxc.init.uid", error, "%" G_GINT64_FORMAT, berth_json_int (user, "uid", 0))
      || !set_itemf (cf, "lxc.init.gid", error, "%" G_GINT64_FORMAT, berth_json_int (user, "gid", 0)))
    return FALSE;
  JsonArray *groups = berth_json_array (user, "additionalGids");
  if (groups && json_array_get_length (groups) > 0)
    {
      g_autoptr (GString) list = g_string_new (NULL);
      for (guint i = 0; i < json_array_get_length (groups); i++)
        g_string_append_printf (list, "%s%" G_GINT64_FORMAT, i ? "," : "",
                                json_array_get_int_element (groups, i));
      if (!set_item (cf, "lxc.init.groups", list->str, error))
        return FALSE;
    }
  /* lxc.cap.keep keeps the bounding set; the other sets follow from the
   * user (root keeps them all, another uid none), as the spec asks. */
  JsonObject *caps = berth_json_object (process, "capabilities");
  g_auto (GStrv) bounding = berth_json_strv (caps, "bounding");
  g_autoptr (GString) keep = g_string_new (NULL);
  for (char **b = bounding; b && *b; b++)
    {
      g_autofree char *name = cap_name (*b);
      g_string_append_printf (keep, "%s%s", keep->len ? " " : "", name);
    }
  if (!set_item (cf, "lxc.cap.keep", keep->len ? keep->str : "none", error))
    return FALSE;
  if (berth_json_bool (process, "noNewPrivileges", FALSE)
      && !set_item (cf, "lxc.no_new_privs", "1", error))
    return FALSE;
  JsonArray *rlimits = berth_json_array (process, "rlimits");
  for (guint i = 0; rlimits && i < json_array_get_length (rlimits); i++)
    {
      JsonObject *r = berth_json_array_object (rlimits, i);
      const char *type = berth_json_string (r, "type", "");
      if (!g_str_has_prefix (type, "RLIMIT_"))
        return berth_fail (error, BERTH_ERROR_INVALID, "rlimit '%s': unknown", type);
      g_autofree char *name = g_ascii_strdown (type + 7, -1);
      g_autofree char *key = g_strdup_printf ("lxc.prlimit.%s", name);
      if (!set_itemf (cf, key, error, "%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT,
                      berth_json_int (r, "soft", 0), berth_json_int (r, "hard", 0)))
        return FALSE;
    }
  if (berth_json_bool (process, "terminal", FALSE))
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                       "exec driver lxc cannot give the first process a terminal (-t) yet");
  return TRUE;
}

/* The kernel's mounts (proc, sysfs, cgroup, /dev, devpts) come from
 * lxc.mount.auto and lxc.autodev; every other OCI mount becomes an
 * lxc.mount.entry, with its target made relative to the rootfs. */
static gboolean
config_mounts (Config *cf, JsonObject *spec, GError **error)
{
  JsonArray *mounts = berth_json_array (spec, "mounts");
  for (guint i = 0; mounts && i < json_array_get_length (mounts); i++)
    {
      JsonObject *m = berth_json_array_object (mounts, i);
      const char *dest = berth_json_string (m, "destination", "");
      const char *type = berth_json_string (m, "type", "none");
      const char *source = berth_json_string (m, "source", "none");
      if (strcmp (type, "proc") == 0 || strcmp (type, "sysfs") == 0
          || strcmp (type, "cgroup") == 0 || strcmp (type, "devpts") == 0
          || strcmp (dest, "/dev") == 0)
        continue;
      while (*dest == '/')
        dest++;
      if (*dest == '\0' || strchr (dest, ' ') || strchr (source, ' '))
        return berth_fail (error, BERTH_ERROR_INVALID,
                           "mount '%s' on '/%s': lxc.mount.entry cannot hold it", source, dest);
      gboolean bind = strcmp (type, "bind") == 0;
      g_autoptr (GString) opts = g_string_new (NULL);
      g_auto (GStrv) o = berth_json_strv (m, "options");
      for (char **p = o; p && *p; p++)
        {
          /* Propagation is LXC's business (its mounts are private already). */
          if (g_str_has_suffix (*p, "private") || g_str_has_suffix (*p, "shared")
              || g_str_has_suffix (*p, "slave"))
            continue;
          g_string_append_printf (opts, "%s%s", opts->len ? "," : "", *p);
        }
      if (bind && !strstr (opts->str, "bind"))
        g_string_append (opts, opts->len ? ",rbind" : "rbind");
      gboolean dir = !bind || g_file_test (source, G_FILE_TEST_IS_DIR);
      if (skippable_etc_file (cf, dest))
        g_string_append (opts, ",optional");
      else
        g_string_append_printf (opts, "%screate=%s", opts->len ? "," : "", dir ? "dir" : "file");
      if (!set_itemf (cf, "lxc.mount.entry", error, "%s %s %s %s 0 0", source, dest,
                      bind ? "none" : type, opts->str))
        return FALSE;
    }
  /* Masked paths: /dev/null over files, an empty read-only tmpfs over
   * directories, as the native driver does. Inside, /proc and /sys show
   * the host's, so the host says which is which. "optional": a path this
   * kernel lacks is no error. */
  JsonObject *linux_ = berth_json_object (spec, "linux");
  g_auto (GStrv) masked = berth_json_strv (linux_, "maskedPaths");
  for (char **p = masked; p && *p; p++)
    {
      if (!g_file_test (*p, G_FILE_TEST_EXISTS))
        continue;
      const char *rel = *p + strspn (*p, "/");
      gboolean ok = g_file_test (*p, G_FILE_TEST_IS_DIR)
                        ? set_itemf (cf, "lxc.mount.entry", error, "tmpfs %s tmpfs ro,optional 0 0", rel)
                        : set_itemf (cf, "lxc.mount.entry", error, "/dev/null %s none bind,optional 0 0", rel);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
blkio_has (const char *file)
{
  g_autofree char *below = g_build_filename ("/sys/fs/cgroup/blkio/berth", file, NULL);
  g_autofree char *root = g_build_filename ("/sys/fs/cgroup/blkio", file, NULL);
  return g_file_test (below, G_FILE_TEST_EXISTS) || g_file_test (root, G_FILE_TEST_EXISTS);
}

static gboolean
config_resources (Config *cf, JsonObject *res, GError **error)
{
  if (res == NULL)
    return TRUE;
  char buf[64];
  JsonObject *mem = berth_json_object (res, "memory");
  gint64 limit = berth_json_int (mem, "limit", 0), swap = berth_json_int (mem, "swap", 0);
  if (limit > 0)
    {
      snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, limit);
      if (!set_cgroup (cf, "memory.limit_in_bytes", "memory.max", buf, error))
        return FALSE;
    }
  if (limit > 0 && swap != 0)
    {
      if (cf->v2)
        snprintf (buf, sizeof buf, swap < 0 ? "max" : "%" G_GINT64_FORMAT, swap - limit);
      else
        snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, swap);
      if (!cf->v2 && !g_file_test ("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", G_FILE_TEST_EXISTS))
        return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                           "--memory-swap: the host has no swap accounting (memory.memsw.limit_in_bytes)");
      if (!set_cgroup (cf, "memory.memsw.limit_in_bytes", "memory.swap.max", buf, error))
        return FALSE;
    }
  JsonObject *cpu = berth_json_object (res, "cpu");
  gint64 quota = berth_json_int (cpu, "quota", 0), period = berth_json_int (cpu, "period", 100000);
  gint64 shares = berth_json_int (cpu, "shares", 0);
  const char *cpus = berth_json_string (cpu, "cpus", NULL);
  if (quota > 0)
    {
      if (cf->v2)
        {
          snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT " %" G_GINT64_FORMAT, quota, period);
          if (!set_item (cf, "lxc.cgroup2.cpu.max", buf, error))
            return FALSE;
        }
      else if (!set_itemf (cf, "lxc.cgroup.cpu.cfs_period_us", error, "%" G_GINT64_FORMAT, period)
               || !set_itemf (cf, "lxc.cgroup.cpu.cfs_quota_us", error, "%" G_GINT64_FORMAT, quota))
        return FALSE;
    }
  if (shares > 0)
    {
      /* crun's and runc's conversion of shares to a v2 weight. */
      snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT,
                cf->v2 ? 1 + ((shares - 2) * 9999) / 262142 : shares);
      if (!set_cgroup (cf, "cpu.shares", "cpu.weight", buf, error))
        return FALSE;
    }
  if (cpus && *cpus && !set_cgroup (cf, "cpuset.cpus", "cpuset.cpus", cpus, error))
    return FALSE;
  gint64 pids = berth_json_int (berth_json_object (res, "pids"), "limit", 0);
  if (pids > 0)
    {
      snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, pids);
      if (!set_cgroup (cf, "pids.max", "pids.max", buf, error))
        return FALSE;
    }
  gint64 weight = berth_json_int (berth_json_object (res, "blockIO"), "weight", 0);
  if (weight > 0)
    {
      if (cf->v2)
        {
          if (!set_itemf (cf, "lxc.cgroup2.io.weight", error, "default %" G_GINT64_FORMAT,
                          1 + (weight - 10) * 9999 / 990))
            return FALSE;
        }
      /* The root cgroup has no weight files (BFQ shows them in children
       * only): look where the container's cgroup will be. */
      else if (blkio_has ("blkio.weight"))
        {
          if (!set_itemf (cf, "lxc.cgroup.blkio.weight", error, "%" G_GINT64_FORMAT, weight))
            return FALSE;
        }
      else if (blkio_has ("blkio.bfq.weight"))
        {
          if (!set_itemf (cf, "lxc.cgroup.blkio.bfq.weight", error, "%" G_GINT64_FORMAT, weight))
            return FALSE;
        }
      else
        return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                           "--blkio-weight: the host's blkio cgroup has no weight file "
                           "(blkio.weight, blkio.bfq.weight)");
    }
  /* The v1 devices cgroup; a v2 host would need a BPF program (as native). */
  JsonArray *devices = berth_json_array (res, "devices");
  for (guint i = 0; !cf->v2 && devices && i < json_array_get_length (devices); i++)
    {
      JsonObject *d = berth_json_array_object (devices, i);
      const char *type = berth_json_string (d, "type", "a");
      gint64 major = berth_json_int (d, "major", -1), minor = berth_json_int (d, "minor", -1);
      g_autofree char *maj = major < 0 ? g_strdup ("*") : g_strdup_printf ("%" G_GINT64_FORMAT, major);
      g_autofree char *min = minor < 0 ? g_strdup ("*") : g_strdup_printf ("%" G_GINT64_FORMAT, minor);
      const char *access = berth_json_string (d, "access", "rwm");
      gboolean allow = berth_json_bool (d, "allow", FALSE);
      const char *key = allow ? "lxc.cgroup.devices.allow" : "lxc.cgroup.devices.deny";
      gboolean ok = strcmp (type, "a") == 0 && major < 0 && minor < 0
                        ? set_item (cf, key, "a", error)
                        : set_itemf (cf, key, error, "%s %s:%s %s", type, maj, min, access);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

static gboolean
config_idmaps (Config *cf, JsonObject *linux_, GError **error)
{
  static const struct { const char *member; char kind; } maps[] = {
    { "uidMappings", 'u' }, { "gidMappings", 'g' },
  };
  for (guint k = 0; k < G_N_ELEMENTS (maps); k++)
    {
      JsonArray *a = berth_json_array (linux_, maps[k].member);
      if (a == NULL || json_array_get_length (a) == 0)
        return berth_fail (error, BERTH_ERROR_INVALID, "a user namespace needs %s", maps[k].member);
      for (guint i = 0; i < json_array_get_length (a); i++)
        {
          JsonObject *m = berth_json_array_object (a, i);
          if (!set_itemf (cf, "lxc.idmap", error, "%c %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT,
                          maps[k].kind, berth_json_int (m, "containerID", 0),
                          berth_json_int (m, "hostID", 0), berth_json_int (m, "size", 0)))
            return FALSE;
        }
    }
  return TRUE;
}

/* The OCI profile, translated, in lxc/<id>/seccomp. */
static gboolean
config_seccomp (Config *cf, JsonObject *seccomp, const char *cdir, GError **error)
{
  if (seccomp == NULL)
    return TRUE;
  g_autofree char *profile = berth_lxc_seccomp_profile (seccomp, error);
  if (profile == NULL)
    return FALSE;
  g_autofree char *file = g_build_filename (cdir, "seccomp", NULL);
  if (!berth_write_file_atomic (file, profile, strlen (profile), 0600, error))
    return FALSE;
  return set_item (cf, "lxc.seccomp.profile", file, error);
}

/* The whole config, saved to lxc/<id>/config for the keeper to load. */
static gboolean
write_config (BerthExec *c, GError **error)
{
  JsonObject *spec = berth_json_node_object (c->spec);
  JsonObject *linux_ = berth_json_object (spec, "linux");
  JsonObject *process = berth_json_object (spec, "process");
  if (process == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "the container's config.json has no process");
  g_autofree char *dir = lxc_path (c);
  g_autofree char *cdir = g_build_filename (dir, c->id, NULL);
  if (!berth_mkdir_p (cdir, 0700, error))
    return FALSE;
  struct lxc_container *lc = handle_of (c, error);
  if (lc == NULL)
    return FALSE;
  lc->clear_config (lc);
  Config cf = { .lc = lc, .v2 = g_file_test ("/sys/fs/cgroup/cgroup.controllers", G_FILE_TEST_EXISTS),
                .rootfs = c->rootfs,
                .readonly = berth_json_bool (berth_json_object (spec, "root"), "readonly", FALSE) };
  g_autofree char *log = g_build_filename (dir, c->id, "lxc.log", NULL);
  g_autofree char *cgroup = g_strdup_printf ("berth/%s", c->id);
  g_autofree char *monitor = g_strdup_printf ("berth/%s.lxc-monitor", c->id);
  g_autofree char *oom_file = g_build_filename (c->state_dir, "oom", NULL);
  g_autofree char *oom_hook = g_strdup_printf (
      "/bin/sh -c 'cat /sys/fs/cgroup/memory/%s/memory.oom_control /sys/fs/cgroup/%s/memory.events "
      "> %s 2>/dev/null; true'",
      cgroup, cgroup, oom_file);
  /* Facts of this host class: no AppArmor in the kernel, no lxc-net
   * bridge, and no cgroup fs inside without :force. console.path none
   * keeps the program on the stdio berth gives it (its log), not on a pty. */
  const char *fixed[][2] = {
    { "lxc.log.file", log },
    { "lxc.log.level", "WARN" },
    { "lxc.uts.name", berth_json_string (spec, "hostname", c->id) },
    { "lxc.apparmor.profile", "unconfined" },
    { "lxc.mount.auto", "proc:mixed sys:ro cgroup:mixed:force" },
    { "lxc.console.path", "none" },
    { "lxc.autodev", "1" },
    { "lxc.tty.max", "0" },
    { "lxc.pty.max", "1024" },
    { "lxc.cgroup.dir.container", cgroup },
    { "lxc.cgroup.dir.monitor", monitor },
    { "lxc.cgroup.dir.monitor.pivot", "berth" },
    /* LXC removes the cgroup when init exits, before berth's monitor can
     * ask whether the OOM killer struck; its stop hook runs just before. */
    { "lxc.hook.stop", oom_hook },
  };
  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
    if (!set_item (&cf, fixed[i][0], fixed[i][1], error))
      return FALSE;
  if (!config_network (&cf, linux_, error))
    return FALSE;
  g_autofree char *rootfs = g_strdup_printf ("dir:%s", c->rootfs);
  if (!set_item (&cf, "lxc.rootfs.path", rootfs, error))
    return FALSE;
  if (berth_json_bool (berth_json_object (spec, "root"), "readonly", FALSE)
      && !set_item (&cf, "lxc.rootfs.options", "ro", error))
    return FALSE;
  if (has_namespace (linux_, "user") && !config_idmaps (&cf, linux_, error))
    return FALSE;
  if (!config_process (&cf, process, error) || !config_mounts (&cf, spec, error)
      || !config_resources (&cf, berth_json_object (linux_, "resources"), error))
    return FALSE;
  if (!config_seccomp (&cf, berth_json_object (linux_, "seccomp"), cdir, error))
    return FALSE;
  g_autofree char *file = g_build_filename (cdir, "config", NULL);
  if (!lc->save_config (lc, file))
    return berth_fail (error, BERTH_ERROR_FAILED, "lxc: liblxc could not save %s", file);
  return TRUE;
}

/* ---- starting ---- */

/* Is @path (inside the rootfs) an executable file? Resolved with
 * RESOLVE_IN_ROOT, so the image's symlinks stay inside. */
static gboolean
executable_in_root (int root, const char *path)
{
  struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
  int fd = syscall (SYS_openat2, root, path, &how, sizeof how);
  if (fd < 0)
    return FALSE;
  struct stat st;
  gboolean ok = fstat (fd, &st) == 0 && S_ISREG (st.st_mode) && (st.st_mode & 0111);
  close (fd);
  return ok;
}

/* @path is a mount's destination or below one: a program a volume brings
 * (`-v /usr/lib/x:/x busybox /x`) is not in the rootfs until LXC has made
 * the mounts, so it is left to the exec to find. */
static gboolean
under_a_mount (BerthExec *c, const char *path)
{
  JsonArray *mounts = berth_json_array (berth_json_node_object (c->spec), "mounts");
  for (guint i = 0; mounts && i < json_array_get_length (mounts); i++)
    {
      const char *dest = berth_json_string (berth_json_array_object (mounts, i), "destination", "");
      gsize len = strlen (dest);
      if (len > 1 && strncmp (path, dest, len) == 0 && (path[len] == '\0' || path[len] == '/'))
        return TRUE;
    }
  return FALSE;
}

/* The program's path inside the rootfs, resolved as execvp would (PATH
 * from the process's env), or NULL with native's message: LXC's init would
 * report a missing program only in its log, with an exit code of its own.
 * The exec helper, which runs it, takes a path. */
static char *
resolve_program (BerthExec *c, JsonObject *process, GError **error)
{
  g_auto (GStrv) args = berth_json_strv (process, "args");
  if (args == NULL || args[0] == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "the container's process has no args"), NULL;
  int root = open (c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return berth_fail_errno (error, errno, "open %s", c->rootfs), NULL;
  g_auto (GStrv) env = berth_json_strv (process, "env");
  const char *name = args[0];
  char *found = NULL;
  if (strchr (name, '/'))
    {
      g_autofree char *full = name[0] == '/' ? g_strdup (name)
                                             : g_build_filename (berth_json_string (process, "cwd", "/"), name, NULL);
      if (executable_in_root (root, full) || under_a_mount (c, full))
        found = g_steal_pointer (&full);
    }
  else
    {
      const char *path = g_environ_getenv (env, "PATH");
      g_auto (GStrv) dirs = g_strsplit (path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ":", -1);
      for (char **d = dirs; *d && !found; d++)
        {
          g_autofree char *full = g_build_filename (**d ? *d : "/", name, NULL);
          if (executable_in_root (root, full))
            found = g_steal_pointer (&full);
        }
    }
  close (root);
  if (!found)
    berth_fail (error, BERTH_ERROR_NOT_FOUND, "exec: \"%s\": executable file not found in $PATH", name);
  return found;
}

/* The working directory, made when the image lacks it (as Docker and the
 * native driver do; LXC's init would fail its chdir). Each step is
 * resolved inside the rootfs, so the image's symlinks stay inside. */
static gboolean
make_cwd (BerthExec *c, const char *cwd, GError **error)
{
  int root = open (c->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0)
    return berth_fail_errno (error, errno, "open %s", c->rootfs);
  g_auto (GStrv) parts = g_strsplit (cwd, "/", -1);
  g_autoptr (GString) prefix = g_string_new ("/");
  gboolean ok = TRUE;
  for (char **p = parts; ok && *p; p++)
    {
      if (**p == '\0')
        continue;
      struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
      int parent = syscall (SYS_openat2, root, prefix->str, &how, sizeof how);
      if (parent < 0)
        {
          ok = berth_fail_errno (error, errno, "working directory %s: open %s", cwd, prefix->str);
          break;
        }
      if (mkdirat (parent, *p, 0755) < 0 && errno != EEXIST)
        ok = berth_fail_errno (error, errno, "working directory %s: mkdir %s", cwd, *p);
      close (parent);
      g_string_append_printf (prefix, "%s%s", prefix->len > 1 ? "/" : "", *p);
    }
  close (root);
  return ok;
}

/* 0, 1 and 2 from @stdio (-1: /dev/null), without clobbering one source
 * with another: each is duplicated above 2 first. */
static int
setup_stdio (const BerthExecStdio *stdio)
{
  int want[3] = { stdio ? stdio->in : -1, stdio ? stdio->out : -1, stdio ? stdio->err : -1 };
  int tmp[3];
  for (int i = 0; i < 3; i++)
    {
      int src = want[i] >= 0 ? want[i] : open ("/dev/null", O_RDWR | O_CLOEXEC);
      if (src < 0 || (tmp[i] = fcntl (src, F_DUPFD_CLOEXEC, 10)) < 0)
        return -1;
    }
  for (int i = 0; i < 3; i++)
    if (dup2 (tmp[i], i) < 0)
      return -1;
  return 0;
}

/* The keeper's fds: what it keeps of the monitor's, at fixed numbers. */
enum { KEEPER_REPORT_FD = 3, KEEPER_HELPER_FD = 4, KEEPER_GO_FD = 5 };

/* The keeper: the process that calls liblxc's start and becomes LXC's
 * monitor. Never returns. @go_fd (create only) is read before starting;
 * @report_fd gets 'S' once start() has returned after running init, so a
 * container that exits at once is not taken for one that failed to start.
 * @argv[0] is /proc/self/fd/KEEPER_HELPER_FD: LXC's init executes the
 * sealed exec helper from there, so, as with native, no process in the
 * container ever has berth's binary as its executable (CVE-2019-5736). */
G_GNUC_NORETURN static void
keeper_main (BerthExec *c, char **argv, const BerthExecStdio *stdio, int helper_fd, int go_fd,
             int report_fd)
{
  /* Own the fds we keep, then close everything else of the monitor's:
   * nothing of berth may reach the container. All are close-on-exec; the
   * helper is opened through /proc before that takes effect. */
  if (setup_stdio (stdio) < 0 || dup2 (report_fd, KEEPER_REPORT_FD) < 0
      || dup2 (helper_fd, KEEPER_HELPER_FD) < 0 || (go_fd >= 0 && dup2 (go_fd, KEEPER_GO_FD) < 0))
    _exit (125);
  syscall (SYS_close_range, go_fd >= 0 ? KEEPER_GO_FD + 1 : KEEPER_GO_FD, ~0U, 0);
  for (int fd = KEEPER_REPORT_FD; fd <= KEEPER_GO_FD; fd++)
    fcntl (fd, F_SETFD, FD_CLOEXEC);
  if (go_fd >= 0)
    {
      char byte;
      ssize_t n;
      while ((n = read (KEEPER_GO_FD, &byte, 1)) < 0 && errno == EINTR)
        ;
      if (n != 1)
        _exit (125); /* the container was deleted before it was started */
      close (KEEPER_GO_FD);
    }
  g_autofree char *path = lxc_path (c);
  struct lxc_container *lc = lxc_container_new (c->id, path);
  if (lc == NULL)
    _exit (125);
  lc->want_daemonize (lc, false);
  /* Not want_close_all_fds: it would close the report pipe and the helper
   * too. Every fd left here (0-2, and the close-on-exec ones) is what init
   * should get anyway. */
  bool started = lc->start (lc, 0, argv);
  int status = lc->error_num;
  if (!started)
    _exit (125);
  if (write (KEEPER_REPORT_FD, "S", 1) != 1)
    { /* the monitor is gone; the exit status below still tells */ }
  if (WIFEXITED (status))
    _exit (WEXITSTATUS (status));
  /* liblxc 5.0 reports an init killed by signal N as N << 8 | 0x7f (what
   * WIFSTOPPED reads), not as a wait status (seen: 0x97f for SIGKILL). */
  if (WIFSIGNALED (status) || WIFSTOPPED (status))
    {
      /* Die of init's signal, so the monitor maps it exactly as native's. */
      struct rlimit no_core = { 0, 0 };
      setrlimit (RLIMIT_CORE, &no_core);
      int sig = WIFSIGNALED (status) ? WTERMSIG (status) : WSTOPSIG (status);
      sigset_t set;
      sigemptyset (&set);
      sigaddset (&set, sig);
      sigprocmask (SIG_UNBLOCK, &set, NULL);
      signal (sig, SIG_DFL);
      raise (sig);
    }
  _exit (255);
}

/* The first ERROR line of LXC's log (the cause; later ones are its
 * consequences), for a one-line message. */
static char *
lxc_log_error (BerthExec *c)
{
  g_autofree char *dir = lxc_path (c);
  g_autofree char *log = g_build_filename (dir, c->id, "lxc.log", NULL);
  g_autofree char *text = NULL;
  if (!g_file_get_contents (log, &text, NULL, NULL))
    return g_strdup ("no log");
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  const char *first = NULL;
  for (char **l = lines; *l && first == NULL; l++)
    if (strstr (*l, " ERROR "))
      first = *l;
  if (first == NULL)
    return g_strdup ("no error in its log");
  const char *msg = strstr (first, " - ");
  return g_strdup (msg ? msg + 3 : first);
}

/* Has the keeper exited? Peeked with WNOWAIT: the monitor reaps it. */
static gboolean
keeper_exited (pid_t pid)
{
  siginfo_t si = { 0 };
  return waitid (P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid;
}

/* LXC says RUNNING before its init has executed the program. Until then
 * init is a fork of the keeper (the same executable): wait for that to
 * change, so the program is executing when run returns, as the contract
 * says (and /proc/1/cmdline is the program's for a following exec). */
static void
wait_exec (BerthExec *c)
{
  LxcState *s = state_of (c);
  char self[64], init[64];
  snprintf (self, sizeof self, "/proc/%d/exe", (int) c->pid);
  snprintf (init, sizeof init, "/proc/%d/exe", (int) s->init_pid);
  g_autofree char *keeper_exe = g_file_read_link (self, NULL);
  for (int waited = 0; keeper_exe && waited < LXC_START_TIMEOUT_MS; waited += 1)
    {
      g_autofree char *exe = g_file_read_link (init, NULL);
      if (exe == NULL || strcmp (exe, keeper_exe) != 0)
        return;
      g_usleep (1000);
    }
}

/* Wait for LXC to say RUNNING and note init's pid, or for the keeper to
 * exit (a start failure, or a program that ran and exited already). */
static gboolean
wait_running (BerthExec *c, int report_r, GError **error)
{
  LxcState *s = state_of (c);
  struct lxc_container *lc = handle_of (c, error);
  if (lc == NULL)
    return FALSE;
  for (int waited = 0, step = 1; waited < LXC_START_TIMEOUT_MS; waited += step, step = MIN (step * 2, 20))
    {
      if (keeper_exited (c->pid))
        {
          char byte = 0;
          if (read (report_r, &byte, 1) == 1 && byte == 'S')
            return TRUE; /* it ran and is gone; the monitor reaps the keeper */
          g_autofree char *why = lxc_log_error (c);
          return berth_fail (error, BERTH_ERROR_FAILED, "lxc: the container did not start: %s", why);
        }
      if (g_strcmp0 (lc->state (lc), "RUNNING") == 0)
        {
          s->init_pid = lc->init_pid (lc);
          s->init_start = s->init_pid > 0 ? berth_process_start_time (s->init_pid) : 0;
          wait_exec (c);
          return TRUE;
        }
      struct pollfd p = { .fd = -1 };
      poll (&p, 0, step);
    }
  return berth_fail (error, BERTH_ERROR_FAILED, "lxc: the container did not start in %d s",
                     LXC_START_TIMEOUT_MS / 1000);
}

static void
reap (pid_t pid)
{
  kill (pid, SIGKILL);
  while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

static gboolean remove_traces (BerthExec *c, GError **error);

static gboolean
spawn (BerthExec *c, const BerthExecStdio *stdio, gboolean create_only, GError **error)
{
  JsonObject *process = berth_json_object (berth_json_node_object (c->spec), "process");
  if (process == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "the container's config.json has no process");
  if (stdio && stdio->terminal)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                       "exec driver lxc cannot give the first process a terminal (-t) yet");
  g_autofree char *program = resolve_program (c, process, error);
  if (program == NULL || !make_cwd (c, berth_json_string (process, "cwd", "/"), error)
      || !write_config (c, error))
    return FALSE;
  g_auto (GStrv) args = berth_json_strv (process, "args");
  g_autofree const char **argv = berth_exec_helper_argv (program, args, NULL);
  g_autofree char *helper_path = g_strdup_printf ("/proc/self/fd/%d", KEEPER_HELPER_FD);
  argv[0] = helper_path;
  int helper_fd = berth_exec_helper_memfd (error);
  if (helper_fd < 0)
    return FALSE;
  int report[2];
  if (pipe2 (report, O_CLOEXEC) < 0)
    {
      close (helper_fd);
      return berth_fail_errno (error, errno, "pipe");
    }
  int go_r = -1;
  g_autofree char *fifo = fifo_path (c);
  if (create_only)
    {
      /* The keeper opens the fifo for reading, which blocks until start
       * opens it for writing (from any later process). */
      if (mkfifo (fifo, 0600) < 0)
        {
          int errsv = errno;
          close (report[0]);
          close (report[1]);
          close (helper_fd);
          return berth_fail_errno (error, errsv, "mkfifo %s", fifo);
        }
    }
  pid_t pid = fork ();
  if (pid == 0)
    {
      close (report[0]);
      if (create_only && (go_r = open (fifo, O_RDONLY | O_CLOEXEC)) < 0)
        _exit (125);
      keeper_main (c, (char **) argv, stdio, helper_fd, go_r, report[1]);
    }
  int errsv = errno;
  close (report[1]);
  close (helper_fd);
  if (pid < 0)
    {
      close (report[0]);
      if (create_only)
        unlink (fifo);
      return berth_fail_errno (error, errsv, "fork the lxc keeper");
    }
  c->pid = pid;
  LxcState *s = state_of (c);
  s->keeper_start = berth_process_start_time (pid);
  gboolean ok = create_only || wait_running (c, report[0], error);
  close (report[0]);
  ok = ok && save_state (c, error);
  if (ok)
    return TRUE;
  reap (pid);
  c->pid = 0;
  if (create_only)
    unlink (fifo);
  remove_traces (c, NULL);
  return FALSE;
}

static gboolean
lxc_create (BerthExec *c, const BerthExecStdio *stdio, GError **error)
{
  return spawn (c, stdio, TRUE, error);
}

static gboolean
lxc_run (BerthExec *c, const BerthExecStdio *stdio, GError **error)
{
  return spawn (c, stdio, FALSE, error);
}

/* Opening start.fifo for writing releases the keeper's open for reading;
 * its byte lets it call start(). Then wait for LXC's RUNNING. */
static gboolean
lxc_start (BerthExec *c, GError **error)
{
  g_autofree char *path = fifo_path (c);
  int fd = -1;
  for (int waited = 0; waited < 5000 && fd < 0; waited += 5)
    {
      fd = open (path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd < 0 && errno == ENXIO && keeper_alive (c))
        g_usleep (5000); /* the keeper has not opened its end yet */
      else if (fd < 0)
        break;
    }
  if (fd < 0)
    return berth_fail_errno (error, errno, "container %s was not created or is already started: open %s",
                             c->id, path);
  gboolean ok = write (fd, "G", 1) == 1 || berth_fail_errno (error, errno, "write %s", path);
  close (fd);
  unlink (path);
  if (!ok)
    return FALSE;
  struct lxc_container *lc = handle_of (c, error);
  if (lc == NULL)
    return FALSE;
  LxcState *s = state_of (c);
  /* start runs in a process that is not the keeper's parent: it cannot
   * peek at its exit, so it watches its pid instead. */
  for (int waited = 0, step = 1; waited < LXC_START_TIMEOUT_MS; waited += step, step = MIN (step * 2, 20))
    {
      if (g_strcmp0 (lc->state (lc), "RUNNING") == 0)
        {
          s->init_pid = lc->init_pid (lc);
          s->init_start = s->init_pid > 0 ? berth_process_start_time (s->init_pid) : 0;
          wait_exec (c);
          return save_state (c, error);
        }
      if (!keeper_alive (c))
        return TRUE; /* it ran and exited, or failed: the monitor reports which */
      g_usleep (step * 1000);
    }
  return berth_fail (error, BERTH_ERROR_FAILED, "lxc: the container did not start in %d s",
                     LXC_START_TIMEOUT_MS / 1000);
}

/* ---- exec ---- */

typedef struct {
  int helper_fd;
  char **args, **env;
} ExecPayload;

/* Runs in the attached process, inside the container: run the program
 * through the sealed berth-exec-helper, as the native driver does, so that
 * no process in the container ever has the berth binary (which this
 * process, a fork of berth, still is) as its executable: a
 * #!/proc/self/exe script finds the helper, which refuses. */
static int
attach_exec (void *data)
{
  ExecPayload *p = data;
  const char *name = p->args[0];
  char buf[PATH_MAX];
  const char *program = NULL;
  if (strchr (name, '/'))
    program = name;
  else
    {
      const char *path = g_environ_getenv (p->env, "PATH");
      if (path == NULL)
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
      while (*path && program == NULL)
        {
          const char *end = strchrnul (path, ':');
          snprintf (buf, sizeof buf, "%.*s/%s", (int) (end - path), path, name);
          if (access (buf, X_OK) == 0)
            program = buf;
          path = *end ? end + 1 : end;
        }
    }
  if (program == NULL)
    {
      fprintf (stderr, "berth: exec: \"%s\": executable file not found in $PATH\n", name);
      return 127;
    }
  const char **argv = berth_exec_helper_argv (program, p->args, NULL);
  /* A foreground exec holds the signals it relays while the process is
   * made (berth_attach_hold_signals): the program starts with none blocked. */
  sigset_t none;
  sigemptyset (&none);
  if (sigprocmask (SIG_SETMASK, &none, NULL) < 0)
    {
      fprintf (stderr, "berth: reset the signal mask: %s\n", strerror (errno));
      return 126;
    }
  if (berth_fd_cloexec_from (3) < 0)
    {
      fprintf (stderr, "berth: close berth's descriptors: %s\n", strerror (errno));
      return 126;
    }
  syscall (SYS_execveat, p->helper_fd, "", argv, p->env, AT_EMPTY_PATH);
  fprintf (stderr, "berth: exec berth's exec helper for %s: %s\n", program, strerror (errno));
  return 126;
}

static pid_t
lxc_exec (BerthExec *c, JsonObject *process, const BerthExecStdio *stdio, GError **error)
{
  if (stdio && stdio->terminal)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                       "exec driver lxc cannot give an exec'd process a terminal (-t) yet"), 0;
  struct lxc_container *lc = handle_of (c, error);
  if (lc == NULL)
    return 0;
  if (!init_alive (c))
    return berth_fail (error, BERTH_ERROR_FAILED, "container %s is not running", c->id), 0;
  g_auto (GStrv) args = berth_json_strv (process, "args");
  g_auto (GStrv) env = berth_json_strv (process, "env");
  if (args == NULL || args[0] == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "exec needs a program"), 0;
  JsonObject *user = berth_json_object (process, "user");
  int null_fd = open ("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0)
    return berth_fail_errno (error, errno, "open /dev/null"), 0;
  g_autofree char *cwd = g_strdup (berth_json_string (process, "cwd", "/"));
  lxc_attach_options_t options = LXC_ATTACH_OPTIONS_DEFAULT;
  options.env_policy = LXC_ATTACH_CLEAR_ENV;
  options.extra_env_vars = env;
  options.initial_cwd = cwd;
  options.uid = berth_json_int (user, "uid", 0);
  options.gid = berth_json_int (user, "gid", 0);
  options.stdin_fd = stdio && stdio->in >= 0 ? stdio->in : null_fd;
  options.stdout_fd = stdio && stdio->out >= 0 ? stdio->out : null_fd;
  options.stderr_fd = stdio && stdio->err >= 0 ? stdio->err : null_fd;
  ExecPayload payload = { .helper_fd = berth_exec_helper_memfd (error), .args = args, .env = env };
  if (payload.helper_fd < 0)
    {
      close (null_fd);
      return 0;
    }
  pid_t pid = 0;
  int r = lc->attach (lc, attach_exec, &payload, &options, &pid);
  close (null_fd);
  close (payload.helper_fd);
  if (r < 0 || pid <= 0)
    {
      g_autofree char *why = lxc_log_error (c);
      return berth_fail (error, BERTH_ERROR_FAILED, "lxc: attach to %s failed: %s", c->id, why), 0;
    }
  return pid;
}

/* ---- control ---- */

static GArray *
lxc_pids (BerthExec *c, GError **error)
{
  /* liblxc's get_cgroup_item takes controller files only, not
   * cgroup.procs: read it where lxc.cgroup.dir.container put the cgroup. */
  g_autofree char *buf = NULL;
  g_autofree char *v1 = g_strdup_printf ("/sys/fs/cgroup/pids/berth/%s/cgroup.procs", c->id);
  g_autofree char *v2 = g_strdup_printf ("/sys/fs/cgroup/berth/%s/cgroup.procs", c->id);
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (v1, &buf, NULL, NULL) && !g_file_get_contents (v2, &buf, NULL, &local)
      && g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    return g_array_new (FALSE, FALSE, sizeof (pid_t)); /* no cgroup, so no process */
  if (buf == NULL)
    return berth_fail (error, BERTH_ERROR_FAILED, "lxc: the processes of %s: %s", c->id,
                       local->message), NULL;
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_auto (GStrv) lines = g_strsplit (buf, "\n", -1);
  for (char **l = lines; *l; l++)
    if (**l)
      {
        pid_t p = atoi (*l);
        g_array_append_val (pids, p);
      }
  return pids;
}

static gboolean
lxc_kill (BerthExec *c, int signal, gboolean all, GError **error)
{
  LxcState *s = state_of (c);
  if (!init_alive (c))
    return berth_fail (error, BERTH_ERROR_FAILED, "container %s is not running", c->id);
  if (all)
    {
      g_autoptr (GError) local = NULL;
      g_autoptr (GArray) pids = lxc_pids (c, &local);
      for (guint i = 0; pids && i < pids->len; i++)
        kill (g_array_index (pids, pid_t, i), signal);
      /* Killing init ends a pid namespace, whatever the list said. */
      if (pids == NULL && signal != SIGKILL)
        return g_propagate_error (error, g_steal_pointer (&local)), FALSE;
    }
  if (kill (s->init_pid, signal) < 0 && !(all && errno == ESRCH))
    return berth_fail_errno (error, errno, "send signal %d to %s", signal, c->id);
  return TRUE;
}

static gboolean
lxc_pause (BerthExec *c, GError **error)
{
  struct lxc_container *lc = handle_of (c, error);
  if (lc == NULL)
    return FALSE;
  return lc->freeze (lc) || berth_fail (error, BERTH_ERROR_FAILED, "lxc: cannot freeze %s", c->id);
}

static gboolean
lxc_unpause (BerthExec *c, GError **error)
{
  struct lxc_container *lc = handle_of (c, error);
  if (lc == NULL)
    return FALSE;
  return lc->unfreeze (lc) || berth_fail (error, BERTH_ERROR_FAILED, "lxc: cannot thaw %s", c->id);
}

static gboolean
lxc_state (BerthExec *c, BerthExecStatus *status, GError **error)
{
  g_autofree char *fifo = fifo_path (c);
  if (!keeper_alive (c))
    {
      *status = BERTH_EXEC_STOPPED;
      return TRUE;
    }
  if (g_file_test (fifo, G_FILE_TEST_EXISTS))
    {
      *status = BERTH_EXEC_CREATED;
      return TRUE;
    }
  struct lxc_container *lc = handle_of (c, error);
  if (lc == NULL)
    return FALSE;
  const char *st = lc->state (lc);
  *status = g_strcmp0 (st, "FROZEN") == 0 || g_strcmp0 (st, "FREEZING") == 0 ? BERTH_EXEC_PAUSED
            : g_strcmp0 (st, "STOPPED") == 0                                 ? BERTH_EXEC_STOPPED
                                                                              : BERTH_EXEC_RUNNING;
  return TRUE;
}

/* One figure from the first of @keys the host has (in "KEY" or "KEY:FIELD"
 * form for a "FIELD value" line), or G_MAXUINT64. */
static guint64
cgroup_figure (struct lxc_container *lc, const char *const *keys)
{
  for (; *keys; keys++)
    {
      g_auto (GStrv) kf = g_strsplit (*keys, ":", 2);
      char buf[8192];
      int n = lc->get_cgroup_item (lc, kf[0], buf, sizeof buf);
      if (n <= 0)
        continue;
      buf[MIN (n, (int) sizeof buf - 1)] = '\0';
      if (kf[1] == NULL)
        {
          if (g_str_has_prefix (buf, "max"))
            return G_MAXUINT64;
          return g_ascii_strtoull (buf, NULL, 10);
        }
      g_auto (GStrv) lines = g_strsplit (buf, "\n", -1);
      gsize len = strlen (kf[1]);
      for (char **l = lines; *l; l++)
        if (strncmp (*l, kf[1], len) == 0 && (*l)[len] == ' ')
          return g_ascii_strtoull (*l + len + 1, NULL, 10);
    }
  return G_MAXUINT64;
}

static gboolean
lxc_stats (BerthExec *c, BerthExecStats *stats, GError **error)
{
  struct lxc_container *lc = handle_of (c, error);
  if (lc == NULL)
    return FALSE;
  if (!init_alive (c))
    return berth_fail (error, BERTH_ERROR_FAILED, "container %s is not running", c->id);
  static const char *const usage[] = { "memory.current", "memory.usage_in_bytes", NULL };
  static const char *const limit[] = { "memory.max", "memory.limit_in_bytes", NULL };
  static const char *const peak[] = { "memory.peak", "memory.max_usage_in_bytes", NULL };
  static const char *const cpu[] = { "cpuacct.usage", NULL };
  static const char *const cpu2[] = { "cpu.stat:usage_usec", NULL };
  static const char *const pids[] = { "pids.current", NULL };
  static const char *const pids_max[] = { "pids.max", NULL };
  static const char *const ooms[] = { "memory.events:oom_kill", "memory.oom_control:oom_kill", NULL };
  stats->memory_usage = cgroup_figure (lc, usage);
  stats->memory_limit = cgroup_figure (lc, limit);
  stats->memory_max_usage = cgroup_figure (lc, peak);
  stats->cpu_usage_ns = cgroup_figure (lc, cpu);
  if (stats->cpu_usage_ns == G_MAXUINT64)
    {
      guint64 us = cgroup_figure (lc, cpu2);
      stats->cpu_usage_ns = us == G_MAXUINT64 ? us : us * 1000;
    }
  stats->pids_current = cgroup_figure (lc, pids);
  stats->pids_limit = cgroup_figure (lc, pids_max);
  stats->io_read_bytes = stats->io_write_bytes = G_MAXUINT64;
  stats->oom_kills = cgroup_figure (lc, ooms);
  return TRUE;
}

/* LXC removes the container's cgroup when init exits, before the monitor
 * asks, so the OOM count is saved on the way out by a stop hook (see
 * write_config) into state_dir/oom. */
static gboolean
lxc_oom_killed (BerthExec *c)
{
  g_autofree char *path = g_build_filename (c->state_dir, "oom", NULL);
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return FALSE;
  const char *line = strstr (text, "oom_kill ");
  return line && g_ascii_strtoull (line + 9, NULL, 10) > 0;
}

/* rmdir @dir in every hierarchy; a missing one is fine, a busy one (the
 * shared pivot while another container's monitor uses it) too when
 * @busy_ok. */
static gboolean
rmdir_cgroups (const char *dir, gboolean busy_ok, GError **error)
{
  g_autoptr (GDir) d = g_dir_open ("/sys/fs/cgroup", 0, NULL);
  const char *h;
  g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (paths, g_build_filename ("/sys/fs/cgroup", dir, NULL));
  while (d && (h = g_dir_read_name (d)))
    g_ptr_array_add (paths, g_build_filename ("/sys/fs/cgroup", h, dir, NULL));
  for (guint i = 0; i < paths->len; i++)
    {
      const char *p = paths->pdata[i];
      if (rmdir (p) < 0 && errno != ENOENT && errno != ENOTDIR && !(busy_ok && errno == EBUSY))
        return berth_fail_errno (error, errno, "remove cgroup %s", p);
    }
  return TRUE;
}

/* Everything of the container but its processes: LXC's config and log,
 * our state, the cgroups LXC leaves (its pivot, an empty leftover). */
static gboolean
remove_traces (BerthExec *c, GError **error)
{
  g_autofree char *cgroup = g_strdup_printf ("berth/%s", c->id);
  g_autofree char *monitor = g_strdup_printf ("berth/%s.lxc-monitor", c->id);
  if (!rmdir_cgroups (cgroup, FALSE, error) || !rmdir_cgroups (monitor, FALSE, error)
      || !rmdir_cgroups ("berth/lxc.pivot", TRUE, error))
    return FALSE;
  g_autofree char *dir = lxc_path (c);
  if (!berth_rm_rf (dir, error))
    return FALSE;
  static const char *const files[] = { "lxc.json", "start.fifo", "oom" };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *p = g_build_filename (c->state_dir, files[i], NULL);
      if (unlink (p) < 0 && errno != ENOENT)
        return berth_fail_errno (error, errno, "remove %s", p);
    }
  return TRUE;
}

static gboolean
lxc_delete (BerthExec *c, GError **error)
{
  LxcState *s = state_of (c);
  if (init_alive (c))
    kill (s->init_pid, SIGKILL);
  /* A created container's keeper waits on the fifo; without init the
   * keeper itself is what is left. */
  if (keeper_alive (c) && (s->init_pid == 0 || !init_alive (c)))
    {
      g_autofree char *fifo = fifo_path (c);
      if (g_file_test (fifo, G_FILE_TEST_EXISTS))
        kill (c->pid, SIGKILL);
    }
  /* LXC's monitor (the keeper) removes the cgroups as it ends: wait for it
   * (we may not be its parent, so by its pid). */
  for (int waited = 0; keeper_alive (c) && waited < 10000; waited += 10)
    {
      siginfo_t si = { 0 };
      if (waitid (P_PID, c->pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid == c->pid)
        break;
      g_usleep (10000);
    }
  if (keeper_alive (c))
    return berth_fail (error, BERTH_ERROR_BUSY, "lxc: container %s did not stop", c->id);
  if (s->lc)
    {
      lxc_container_put (s->lc);
      s->lc = NULL;
    }
  return remove_traces (c, error);
}

static gboolean
lxc_probe (GError **error)
{
  if (geteuid () != 0)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                       "liblxc %s: berth runs LXC containers as root only", lxc_get_version ());
  if (access ("/proc/self/ns/pid", F_OK) < 0 || access ("/proc/self/ns/cgroup", F_OK) < 0)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                       "the kernel lacks pid or cgroup namespaces (/proc/self/ns)");
  if (access ("/sys/fs/cgroup", F_OK) < 0)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "no cgroup filesystem at /sys/fs/cgroup");
  return TRUE;
}

/* User namespaces are left out: LXC's rootfs mount cannot use them with
 * berth's store yet (docs/exec-drivers.md). */
static void
lxc_status (GPtrArray *pairs)
{
  g_ptr_array_add (pairs, g_strdup ("liblxc"));
  g_ptr_array_add (pairs, g_strdup (lxc_get_version ()));
  berth_host_cgroup_status (pairs);
}

const BerthExecOps berth_exec_lxc_ops = {
  .name = "lxc",
  .probe = lxc_probe,
  .status = lxc_status,
  .load = lxc_load,
  .create = lxc_create,
  .start = lxc_start,
  .run = lxc_run,
  .exec = lxc_exec,
  .kill = lxc_kill,
  .pause = lxc_pause,
  .unpause = lxc_unpause,
  .state = lxc_state,
  .stats = lxc_stats,
  .pids = lxc_pids,
  .oom_killed = lxc_oom_killed,
  .delete = lxc_delete,
  .free_priv = lxc_state_free,
};
