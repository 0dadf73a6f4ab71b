/* Cgroups for the native driver, on the three layouts hosts have:
 *
 *   v2      cgroup2 at /sys/fs/cgroup (one tree, controllers enabled per
 *           level through cgroup.subtree_control);
 *   v1      one mount per controller set under /sys/fs/cgroup;
 *   hybrid  v1 controllers plus a cgroup2 mount at /sys/fs/cgroup/unified
 *           (on this machine it holds only hugetlb). crun refuses this; we
 *           treat the cgroup2 mount as one more hierarchy.
 *
 * A BerthCgroup is the container's directory in every hierarchy. Limits go
 * to whichever hierarchy carries the controller. */
#include "config.h"
#include "native.h"
#include <berth/error.h>
#include <berth/json.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

typedef struct {
  char *dir;          /* the container's directory in this hierarchy */
  char **controllers; /* v1: "cpu", "memory", "name=systemd"; v2: cgroup.controllers */
  gboolean v2;
} Hierarchy;

struct BerthCgroup {
  char *path;
  GPtrArray *hierarchies; /* Hierarchy */
  int v2_fd;
  gboolean pure_v2;
};

static void
hierarchy_free (gpointer data)
{
  Hierarchy *h = data;
  g_free (h->dir);
  g_strfreev (h->controllers);
  g_free (h);
}

void
berth_cgroup_free (BerthCgroup *cg)
{
  if (cg == NULL)
    return;
  g_free (cg->path);
  g_ptr_array_unref (cg->hierarchies);
  if (cg->v2_fd >= 0)
    close (cg->v2_fd);
  g_free (cg);
}

const char *
berth_cgroup_path (BerthCgroup *cg)
{
  return cg->path;
}

/* Our own cgroup in the hierarchy whose /proc/self/cgroup key is @key
 * ("memory", "name=systemd", "" for v2), for relative paths. */
static char *
own_cgroup (const char *key)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/self/cgroup", &text, NULL, NULL))
    return g_strdup ("/");
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      g_auto (GStrv) f = g_strsplit (*l, ":", 3);
      if (g_strv_length (f) == 3 && strcmp (f[1], key) == 0)
        return g_strdup (f[2]);
    }
  return g_strdup ("/");
}

static char *
read_controllers_v2 (const char *mountpoint)
{
  g_autofree char *path = g_build_filename (mountpoint, "cgroup.controllers", NULL);
  char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return g_strdup ("");
  return g_strstrip (text);
}

static void
add_hierarchy (BerthCgroup *cg, const char *mountpoint, const char *options, gboolean v2)
{
  Hierarchy *h = g_new0 (Hierarchy, 1);
  h->v2 = v2;
  g_autofree char *key = NULL;
  if (v2)
    {
      g_autofree char *ctl = read_controllers_v2 (mountpoint);
      h->controllers = g_strsplit_set (ctl, " ", -1);
      key = g_strdup ("");
    }
  else
    {
      g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
      g_auto (GStrv) opts = g_strsplit (options, ",", -1);
      g_autoptr (GString) joined = g_string_new (NULL);
      for (char **o = opts; *o; o++)
        if (strcmp (*o, "rw") != 0 && strcmp (*o, "ro") != 0)
          {
            g_strv_builder_add (b, *o);
            g_string_append_printf (joined, "%s%s", joined->len ? "," : "", *o);
          }
      h->controllers = g_strv_builder_end (b);
      key = g_strdup (joined->str);
    }
  g_autofree char *base = cg->path[0] == '/' ? g_strdup ("/") : own_cgroup (key);
  h->dir = g_build_filename (mountpoint, base, cg->path, NULL);
  g_ptr_array_add (cg->hierarchies, h);
}

/* Hierarchies from mountinfo: "cgroup" mounts with their super options
 * (the controllers) and "cgroup2" mounts. */
static gboolean
discover (BerthCgroup *cg, GError **error)
{
  struct statfs sfs;
  if (statfs ("/sys/fs/cgroup", &sfs) < 0)
    return berth_fail_errno (error, errno, "statfs /sys/fs/cgroup");
  if (sfs.f_type == CGROUP2_SUPER_MAGIC)
    {
      cg->pure_v2 = TRUE;
      add_hierarchy (cg, "/sys/fs/cgroup", NULL, TRUE);
      return TRUE;
    }
  g_autofree char *mountinfo = NULL;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents ("/proc/self/mountinfo", &mountinfo, NULL, &local))
    return berth_fail (error, BERTH_ERROR_FAILED, "read /proc/self/mountinfo: %s", local->message);
  g_auto (GStrv) lines = g_strsplit (mountinfo, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      const char *sep = strstr (*l, " - ");
      g_auto (GStrv) head = g_strsplit (*l, " ", 6);
      if (sep == NULL || g_strv_length (head) < 5)
        continue;
      g_auto (GStrv) tail = g_strsplit (sep + 3, " ", 3);
      if (g_strv_length (tail) < 3 || !g_str_has_prefix (head[4], "/sys/fs/cgroup/"))
        continue;
      if (strcmp (tail[0], "cgroup") == 0)
        add_hierarchy (cg, head[4], tail[2], FALSE);
      else if (strcmp (tail[0], "cgroup2") == 0)
        add_hierarchy (cg, head[4], NULL, TRUE);
    }
  if (cg->hierarchies->len == 0)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "no cgroup hierarchy is mounted under /sys/fs/cgroup");
  return TRUE;
}

static BerthCgroup *
cgroup_new (const char *path, GError **error)
{
  g_autoptr (BerthCgroup) cg = g_new0 (BerthCgroup, 1);
  cg->path = g_strdup (path);
  cg->v2_fd = -1;
  cg->hierarchies = g_ptr_array_new_with_free_func (hierarchy_free);
  if (strstr (path, "..") || path[0] == '\0')
    {
      berth_fail (error, BERTH_ERROR_INVALID, "cgroupsPath '%s': not a plain path", path);
      return NULL;
    }
  if (!discover (cg, error))
    return NULL;
  return g_steal_pointer (&cg);
}

static Hierarchy *
hierarchy_for (BerthCgroup *cg, const char *controller)
{
  for (guint i = 0; i < cg->hierarchies->len; i++)
    {
      Hierarchy *h = cg->hierarchies->pdata[i];
      if (h->controllers && g_strv_contains ((const char *const *) h->controllers, controller))
        return h;
    }
  return NULL;
}

static gboolean
write_file (const char *dir, const char *file, const char *value, GError **error)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", path);
  ssize_t n = write (fd, value, strlen (value));
  int errsv = errno;
  close (fd);
  if (n < 0)
    return berth_fail_errno (error, errsv, "write '%s' to %s", value, path);
  return TRUE;
}

static char *
read_file (const char *dir, const char *file)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  return g_strstrip (text);
}

/* Write @value to @file of the hierarchy carrying @controller. */
static gboolean
set_value (BerthCgroup *cg, const char *controller, const char *file, const char *value,
           GError **error)
{
  Hierarchy *h = hierarchy_for (cg, controller);
  if (h == NULL)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                       "the %s cgroup controller is not available on this host (for %s)",
                       controller, file);
  g_autofree char *path = g_build_filename (h->dir, file, NULL);
  if (access (path, F_OK) < 0)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                       "this kernel has no %s (the %s controller lacks it)", file, controller);
  return write_file (h->dir, file, value, error);
}

/* ---- creating ---- */

/* A new v1 cpuset cgroup starts with empty cpus and mems; no task can
 * join it until they are copied down from the parent. */
static gboolean
inherit_cpuset (const char *dir, GError **error)
{
  g_autofree char *parent = g_path_get_dirname (dir);
  static const char *const files[] = { "cpuset.cpus", "cpuset.mems" };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *mine = read_file (dir, files[i]);
      g_autofree char *theirs = read_file (parent, files[i]);
      if (mine && *mine == '\0' && theirs && !write_file (dir, files[i], theirs, error))
        return FALSE;
    }
  return TRUE;
}

/* v2: a controller must be enabled in every ancestor's subtree_control. */
static void
enable_v2_controllers (Hierarchy *h)
{
  g_autofree char *root = g_strdup ("/sys/fs/cgroup");
  g_autofree char *rel = g_strdup (h->dir + strlen (root));
  g_auto (GStrv) parts = g_strsplit (rel, "/", -1);
  g_autofree char *dir = g_strdup (root);
  for (char **p = parts; *p && *(p + 1); p++)
    {
      if (**p == '\0')
        continue;
      for (char **c = h->controllers; c && *c; c++)
        {
          g_autofree char *plus = g_strdup_printf ("+%s", *c);
          write_file (dir, "cgroup.subtree_control", plus, NULL);
        }
      char *next = g_build_filename (dir, *p, NULL);
      g_free (dir);
      dir = next;
    }
}

/* mkdir -p, remembering what this call made so a failure removes it. */
static gboolean
make_dirs (Hierarchy *h, GPtrArray *made, GError **error)
{
  g_autofree char *parent = g_path_get_dirname (h->dir);
  if (!g_file_test (parent, G_FILE_TEST_IS_DIR))
    {
      Hierarchy up = { .dir = parent, .controllers = h->controllers, .v2 = h->v2 };
      if (!make_dirs (&up, made, error))
        return FALSE;
    }
  if (mkdir (h->dir, 0755) < 0)
    {
      if (errno == EEXIST)
        return TRUE;
      return berth_fail_errno (error, errno, "mkdir %s", h->dir);
    }
  g_ptr_array_add (made, g_strdup (h->dir));
  if (!h->v2 && g_strv_contains ((const char *const *) h->controllers, "cpuset"))
    return inherit_cpuset (h->dir, error);
  return TRUE;
}

static char *
int_text (gint64 v)
{
  return v < 0 ? g_strdup ("max") : g_strdup_printf ("%" G_GINT64_FORMAT, v);
}

static gboolean
apply_memory (BerthCgroup *cg, JsonObject *mem, GError **error)
{
  gint64 limit = berth_json_int (mem, "limit", 0), swap = berth_json_int (mem, "swap", 0);
  if (mem == NULL || (limit == 0 && swap == 0))
    return TRUE;
  if (cg->pure_v2)
    {
      g_autofree char *l = int_text (limit);
      g_autofree char *s = swap < 0 ? g_strdup ("max") : int_text (MAX (swap - limit, 0));
      return (limit == 0 || set_value (cg, "memory", "memory.max", l, error))
             && (swap == 0 || set_value (cg, "memory", "memory.swap.max", s, error));
    }
  g_autofree char *l = g_strdup_printf ("%" G_GINT64_FORMAT, limit ? limit : -1);
  g_autofree char *s = g_strdup_printf ("%" G_GINT64_FORMAT, swap);
  return (limit == 0 || set_value (cg, "memory", "memory.limit_in_bytes", l, error))
         && (swap == 0 || set_value (cg, "memory", "memory.memsw.limit_in_bytes", s, error));
}

static gboolean
apply_cpu (BerthCgroup *cg, JsonObject *cpu, GError **error)
{
  gint64 shares = berth_json_int (cpu, "shares", 0), quota = berth_json_int (cpu, "quota", 0);
  gint64 period = berth_json_int (cpu, "period", 0);
  const char *cpus = berth_json_string (cpu, "cpus", NULL), *mems = berth_json_string (cpu, "mems", NULL);
  if (shares > 0)
    {
      /* crun's mapping of shares (2..262144) onto weight (1..10000). */
      g_autofree char *v = cg->pure_v2
                               ? g_strdup_printf ("%" G_GINT64_FORMAT, 1 + ((shares - 2) * 9999) / 262142)
                               : g_strdup_printf ("%" G_GINT64_FORMAT, shares);
      if (!set_value (cg, "cpu", cg->pure_v2 ? "cpu.weight" : "cpu.shares", v, error))
        return FALSE;
    }
  if (quota != 0 || period != 0)
    {
      if (period == 0)
        period = 100000;
      g_autofree char *p = g_strdup_printf ("%" G_GINT64_FORMAT, period);
      g_autofree char *q = int_text (quota > 0 ? quota : -1);
      g_autofree char *max = g_strdup_printf ("%s %s", q, p);
      if (cg->pure_v2 ? !set_value (cg, "cpu", "cpu.max", max, error)
                      : (!set_value (cg, "cpu", "cpu.cfs_period_us", p, error)
                         || !set_value (cg, "cpu", "cpu.cfs_quota_us", quota > 0 ? q : "-1", error)))
        return FALSE;
    }
  return (cpus == NULL || set_value (cg, "cpuset", "cpuset.cpus", cpus, error))
         && (mems == NULL || set_value (cg, "cpuset", "cpuset.mems", mems, error));
}

static gboolean
apply_io (BerthCgroup *cg, JsonObject *io, GError **error)
{
  gint64 weight = berth_json_int (io, "weight", 0);
  if (weight == 0)
    return TRUE;
  if (cg->pure_v2)
    {
      g_autofree char *v = g_strdup_printf ("default %" G_GINT64_FORMAT,
                                            1 + (weight - 10) * 9999 / 990);
      return set_value (cg, "io", "io.weight", v, error);
    }
  Hierarchy *h = hierarchy_for (cg, "blkio");
  g_autofree char *bfq = h ? g_build_filename (h->dir, "blkio.bfq.weight", NULL) : NULL;
  g_autofree char *v = g_strdup_printf ("%" G_GINT64_FORMAT, weight);
  if (bfq && access (bfq, F_OK) == 0)
    return set_value (cg, "blkio", "blkio.bfq.weight", v, error);
  return set_value (cg, "blkio", "blkio.weight", v, error);
}

/* v1 device rules ("c 1:3 rwm"); v2 needs a BPF program, not written yet,
 * so there the rules are skipped: devices.allow does not exist to say so. */
static gboolean
apply_devices (BerthCgroup *cg, JsonArray *rules, GError **error)
{
  Hierarchy *h = hierarchy_for (cg, "devices");
  if (rules == NULL || cg->pure_v2 || h == NULL)
    return TRUE;
  for (guint i = 0; i < json_array_get_length (rules); i++)
    {
      JsonObject *r = berth_json_array_object (rules, i);
      gint64 major = berth_json_int (r, "major", -1), minor = berth_json_int (r, "minor", -1);
      g_autofree char *maj = major < 0 ? g_strdup ("*") : g_strdup_printf ("%" G_GINT64_FORMAT, major);
      g_autofree char *min = minor < 0 ? g_strdup ("*") : g_strdup_printf ("%" G_GINT64_FORMAT, minor);
      const char *type = berth_json_string (r, "type", "a");
      g_autofree char *rule = strcmp (type, "a") == 0
                                  ? g_strdup ("a")
                                  : g_strdup_printf ("%s %s:%s %s", type, maj, min,
                                                     berth_json_string (r, "access", "rwm"));
      if (!write_file (h->dir, berth_json_bool (r, "allow", FALSE) ? "devices.allow" : "devices.deny",
                       rule, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
apply_resources (BerthCgroup *cg, JsonObject *res, GError **error)
{
  JsonObject *pids = berth_json_object (res, "pids");
  gint64 pids_limit = berth_json_int (pids, "limit", 0);
  g_autofree char *pids_text = int_text (pids_limit > 0 ? pids_limit : -1);
  return apply_memory (cg, berth_json_object (res, "memory"), error)
         && apply_cpu (cg, berth_json_object (res, "cpu"), error)
         && (pids == NULL || set_value (cg, "pids", "pids.max", pids_text, error))
         && apply_io (cg, berth_json_object (res, "blockIO"), error)
         && apply_devices (cg, berth_json_array (res, "devices"), error);
}

static void
remove_dirs (GPtrArray *made)
{
  for (guint i = made->len; i > 0; i--)
    rmdir (made->pdata[i - 1]);
}

BerthCgroup *
berth_cgroup_create (const char *path, JsonObject *resources, GError **error)
{
  g_autoptr (BerthCgroup) cg = cgroup_new (path, error);
  if (cg == NULL)
    return NULL;
  g_autoptr (GPtrArray) made = g_ptr_array_new_with_free_func (g_free);
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < cg->hierarchies->len; i++)
    {
      Hierarchy *h = cg->hierarchies->pdata[i];
      if (cg->pure_v2)
        enable_v2_controllers (h);
      ok = make_dirs (h, made, error);
    }
  ok = ok && apply_resources (cg, resources, error);
  if (ok && cg->pure_v2)
    {
      Hierarchy *h = cg->hierarchies->pdata[0];
      cg->v2_fd = open (h->dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
      ok = cg->v2_fd >= 0 || berth_fail_errno (error, errno, "open %s", h->dir);
    }
  if (!ok)
    {
      remove_dirs (made);
      return NULL;
    }
  return g_steal_pointer (&cg);
}

BerthCgroup *
berth_cgroup_open (const char *path, GError **error)
{
  return cgroup_new (path, error);
}

int
berth_cgroup_v2_fd (BerthCgroup *cg)
{
  return cg->v2_fd;
}

gboolean
berth_cgroup_enter (BerthCgroup *cg, pid_t pid, GError **error)
{
  char text[32];
  snprintf (text, sizeof text, "%d", (int) pid);
  for (guint i = 0; i < cg->hierarchies->len; i++)
    {
      Hierarchy *h = cg->hierarchies->pdata[i];
      if (!write_file (h->dir, "cgroup.procs", text, error))
        return FALSE;
    }
  return TRUE;
}

/* ---- running ---- */

static Hierarchy *
freezer (BerthCgroup *cg)
{
  return cg->pure_v2 ? cg->hierarchies->pdata[0] : hierarchy_for (cg, "freezer");
}

gboolean
berth_cgroup_is_frozen (BerthCgroup *cg)
{
  Hierarchy *h = freezer (cg);
  g_autofree char *state = h ? read_file (h->dir, cg->pure_v2 ? "cgroup.freeze" : "freezer.state") : NULL;
  return g_strcmp0 (state, cg->pure_v2 ? "1" : "FROZEN") == 0;
}

gboolean
berth_cgroup_freeze (BerthCgroup *cg, gboolean frozen, GError **error)
{
  Hierarchy *h = freezer (cg);
  if (h == NULL)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "this host has no cgroup freezer");
  const char *file = cg->pure_v2 ? "cgroup.freeze" : "freezer.state";
  const char *value = cg->pure_v2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED");
  if (!write_file (h->dir, file, value, error))
    return FALSE;
  /* v1 reports FREEZING until every task has stopped. */
  for (int i = 0; i < 2000; i++)
    {
      if (berth_cgroup_is_frozen (cg) == frozen)
        return TRUE;
      g_usleep (1000);
    }
  return berth_fail (error, BERTH_ERROR_FAILED, "%s/%s did not become %s", h->dir, file, value);
}

/* The hierarchy that sees every process of the container. */
static Hierarchy *
procs_hierarchy (BerthCgroup *cg)
{
  static const char *const preferred[] = { "pids", "memory", "freezer" };
  if (cg->pure_v2)
    return cg->hierarchies->pdata[0];
  for (guint i = 0; i < G_N_ELEMENTS (preferred); i++)
    {
      Hierarchy *h = hierarchy_for (cg, preferred[i]);
      if (h)
        return h;
    }
  return cg->hierarchies->pdata[0];
}

GArray *
berth_cgroup_pids (BerthCgroup *cg, GError **error)
{
  Hierarchy *h = procs_hierarchy (cg);
  g_autofree char *path = g_build_filename (h->dir, "cgroup.procs", NULL);
  g_autofree char *text = NULL;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &text, NULL, &local))
    {
      berth_fail (error, BERTH_ERROR_FAILED, "read %s: %s", path, local->message);
      return NULL;
    }
  GArray *pids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    if (**l)
      {
        pid_t pid = atoi (*l);
        g_array_append_val (pids, pid);
      }
  return pids;
}

gboolean
berth_cgroup_kill (BerthCgroup *cg, int signal, GError **error)
{
  if (cg->pure_v2 && signal == SIGKILL)
    {
      Hierarchy *h = cg->hierarchies->pdata[0];
      g_autofree char *kill_file = g_build_filename (h->dir, "cgroup.kill", NULL);
      if (access (kill_file, F_OK) == 0)
        return write_file (h->dir, "cgroup.kill", "1", error);
    }
  g_autoptr (GArray) pids = berth_cgroup_pids (cg, error);
  if (pids == NULL)
    return FALSE;
  for (guint i = 0; i < pids->len; i++)
    kill (g_array_index (pids, pid_t, i), signal);
  return TRUE;
}

static guint64
keyed_value (const char *dir, const char *file, const char *key)
{
  g_autofree char *text = dir ? read_file (dir, file) : NULL;
  if (text == NULL)
    return G_MAXUINT64;
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      g_auto (GStrv) kv = g_strsplit (*l, " ", 2);
      if (kv[0] && kv[1] && strcmp (kv[0], key) == 0)
        return g_ascii_strtoull (kv[1], NULL, 10);
    }
  return 0;
}

static guint64
plain_value (BerthCgroup *cg, const char *controller, const char *file)
{
  Hierarchy *h = hierarchy_for (cg, controller);
  g_autofree char *text = h ? read_file (h->dir, file) : NULL;
  if (text == NULL || strcmp (text, "max") == 0)
    return G_MAXUINT64;
  return g_ascii_strtoull (text, NULL, 10);
}

guint64
berth_cgroup_oom_kills (BerthCgroup *cg)
{
  Hierarchy *h = hierarchy_for (cg, "memory");
  if (h == NULL)
    return 0;
  guint64 n = keyed_value (h->dir, cg->pure_v2 ? "memory.events" : "memory.oom_control", "oom_kill");
  return n == G_MAXUINT64 ? 0 : n;
}

/* blkio's "MAJ:MIN Read N" lines, summed over devices. */
static void
v1_io_bytes (BerthCgroup *cg, BerthExecStats *st)
{
  Hierarchy *h = hierarchy_for (cg, "blkio");
  g_autofree char *text = h ? read_file (h->dir, "blkio.throttle.io_service_bytes_recursive") : NULL;
  if (text == NULL)
    return;
  st->io_read_bytes = st->io_write_bytes = 0;
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      g_auto (GStrv) f = g_strsplit (*l, " ", 3);
      if (g_strv_length (f) == 3 && strcmp (f[1], "Read") == 0)
        st->io_read_bytes += g_ascii_strtoull (f[2], NULL, 10);
      else if (g_strv_length (f) == 3 && strcmp (f[1], "Write") == 0)
        st->io_write_bytes += g_ascii_strtoull (f[2], NULL, 10);
    }
}

static void
v2_io_bytes (Hierarchy *h, BerthExecStats *st)
{
  g_autofree char *text = read_file (h->dir, "io.stat");
  if (text == NULL)
    return;
  st->io_read_bytes = st->io_write_bytes = 0;
  g_auto (GStrv) words = g_strsplit_set (text, " \n", -1);
  for (char **w = words; *w; w++)
    {
      if (g_str_has_prefix (*w, "rbytes="))
        st->io_read_bytes += g_ascii_strtoull (*w + 7, NULL, 10);
      else if (g_str_has_prefix (*w, "wbytes="))
        st->io_write_bytes += g_ascii_strtoull (*w + 7, NULL, 10);
    }
}

gboolean
berth_cgroup_stats (BerthCgroup *cg, BerthExecStats *st, GError **error)
{
  (void) error;
  memset (st, 0xff, sizeof *st);
  if (cg->pure_v2)
    {
      Hierarchy *h = cg->hierarchies->pdata[0];
      st->memory_usage = plain_value (cg, "memory", "memory.current");
      st->memory_limit = plain_value (cg, "memory", "memory.max");
      st->memory_max_usage = plain_value (cg, "memory", "memory.peak");
      guint64 usec = keyed_value (h->dir, "cpu.stat", "usage_usec");
      st->cpu_usage_ns = usec == G_MAXUINT64 ? usec : usec * 1000;
      v2_io_bytes (h, st);
    }
  else
    {
      st->memory_usage = plain_value (cg, "memory", "memory.usage_in_bytes");
      st->memory_limit = plain_value (cg, "memory", "memory.limit_in_bytes");
      st->memory_max_usage = plain_value (cg, "memory", "memory.max_usage_in_bytes");
      st->cpu_usage_ns = plain_value (cg, "cpuacct", "cpuacct.usage");
      v1_io_bytes (cg, st);
    }
  st->pids_current = plain_value (cg, "pids", "pids.current");
  st->pids_limit = plain_value (cg, "pids", "pids.max");
  st->oom_kills = berth_cgroup_oom_kills (cg);
  return TRUE;
}

static gboolean
is_empty (BerthCgroup *cg)
{
  g_autoptr (GArray) pids = berth_cgroup_pids (cg, NULL);
  return pids == NULL || pids->len == 0;
}

gboolean
berth_cgroup_destroy (BerthCgroup *cg, GError **error)
{
  Hierarchy *procs = procs_hierarchy (cg);
  if (g_file_test (procs->dir, G_FILE_TEST_IS_DIR))
    {
      if (berth_cgroup_is_frozen (cg))
        berth_cgroup_freeze (cg, FALSE, NULL);
      guint64 sleep_us = 100;
      for (gint64 waited = 0; !is_empty (cg) && waited < 2 * G_USEC_PER_SEC; waited += sleep_us)
        {
          berth_cgroup_kill (cg, SIGKILL, NULL);
          g_usleep (sleep_us);
          sleep_us = MIN (sleep_us * 2, 50000);
        }
    }
  for (guint i = 0; i < cg->hierarchies->len; i++)
    {
      Hierarchy *h = cg->hierarchies->pdata[i];
      int tries = 0;
      while (rmdir (h->dir) < 0)
        {
          if (errno == ENOENT)
            break;
          /* A dying task still holds the cgroup for a moment. */
          if (errno != EBUSY || ++tries > 200)
            return berth_fail_errno (error, errno, "remove cgroup %s", h->dir);
          g_usleep (5000);
        }
    }
  return TRUE;
}
