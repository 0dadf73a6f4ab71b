/* cgroups for the native driver: v1, v2, and the hybrid layout (v1
 * controllers plus a cgroup2 mount at /sys/fs/cgroup/unified) that crun
 * refuses. A BerthCgroup is one container's cgroup as seen in each hierarchy.
 * Files are written with a plain open+write: the kernel acts on the write
 * itself, so a temporary file and a rename would change nothing. */
#include "config.h"
#include "native.h"
#include <berth/json.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/host.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
/* How long to wait on the kernel: tasks freeze, die and leave their cgroup
 * asynchronously, at their next return to user space or final release. */
#define FREEZE_TIMEOUT_US (2 * G_USEC_PER_SEC)
#define EMPTY_TIMEOUT_US (2 * G_USEC_PER_SEC)
#define RMDIR_TIMEOUT_US (G_USEC_PER_SEC / 2)
#define FIRST_DELAY_US 100
#define MAX_DELAY_US 10000

typedef enum { LAYOUT_V1, LAYOUT_HYBRID, LAYOUT_V2 } Layout;

typedef struct {
  char *mount;    /* where the hierarchy is mounted */
  char *root;     /* the cgroup the mount shows (mountinfo's root field) */
  char *options;  /* v1 super options as ",rw,cpu,cpuacct,"; NULL for cgroup2 */
  char *dir;      /* this cgroup in the hierarchy */
  gsize base_len; /* dir's prefix that exists already: the mount, or the caller's cgroup */
} Hierarchy;

struct BerthCgroup {
  char *path;
  Layout layout;
  GPtrArray *hier; /* Hierarchy: the v1 ones in mountinfo order, cgroup2 last */
  int v2_fd;       /* opened on first ask */
};

typedef struct {
  gboolean set;
  gint64 value;
} Limit;

static void
hierarchy_free (gpointer p)
{
  Hierarchy *h = p;
  g_free (h->mount);
  g_free (h->root);
  g_free (h->options);
  g_free (h->dir);
  g_free (h);
}

static Hierarchy *
hierarchy_new (const char *mount, const char *root, char *options)
{
  Hierarchy *h = g_new0 (Hierarchy, 1);
  h->mount = g_strdup (mount);
  h->root = g_strdup (root);
  h->options = options;
  return h;
}

static gboolean
has_option (const Hierarchy *h, const char *name)
{
  if (h->options == NULL)
    return FALSE;
  g_autofree char *key = g_strconcat (",", name, ",", NULL);
  return strstr (h->options, key) != NULL;
}

/* The v1 hierarchy with @controller, else the cgroup2 one (where the v2
 * files apply), else NULL. */
static Hierarchy *
pick (BerthCgroup *cg, const char *controller, gboolean *v1)
{
  Hierarchy *unified = NULL;
  for (guint i = 0; i < cg->hier->len; i++)
    {
      Hierarchy *h = cg->hier->pdata[i];
      if (h->options == NULL)
        unified = h;
      else if (has_option (h, controller))
        {
          *v1 = TRUE;
          return h;
        }
    }
  *v1 = FALSE;
  return unified;
}

static Hierarchy *
unified_hierarchy (BerthCgroup *cg)
{
  Hierarchy *last = cg->hier->len > 0 ? cg->hier->pdata[cg->hier->len - 1] : NULL;
  return last && last->options == NULL ? last : NULL;
}

/* Where cgroup.procs lists every process: a hierarchy every host with it
 * mounts, where nothing but berth moves processes around. */
static Hierarchy *
procs_hierarchy (BerthCgroup *cg)
{
  static const char *const prefer[] = { "pids", "memory", "freezer" };
  if (cg->layout == LAYOUT_V2)
    return cg->hier->pdata[0];
  for (guint p = 0; p < G_N_ELEMENTS (prefer); p++)
    for (guint i = 0; i < cg->hier->len; i++)
      if (has_option (cg->hier->pdata[i], prefer[p]))
        return cg->hier->pdata[i];
  return cg->hier->len > 0 ? cg->hier->pdata[0] : NULL;
}

/* --- reading and writing cgroup files --- */

/* The contents of @path, or NULL with *errsv set. */
static char *
slurp (const char *path, int *errsv)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    {
      *errsv = errno;
      return NULL;
    }
  g_autoptr (GString) s = g_string_sized_new (256);
  char buf[4096];
  for (;;)
    {
      ssize_t n = read (fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          *errsv = errno;
          close (fd);
          return NULL;
        }
      if (n == 0)
        break;
      g_string_append_len (s, buf, n);
    }
  close (fd); /* read-only: nothing to lose */
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* @file of @dir into *text; NULL when it does not exist, which means a
 * controller or kernel feature the host lacks, or a cgroup already gone. */
static gboolean
read_cg (const char *dir, const char *file, char **text, GError **error)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  int errsv = 0;
  *text = slurp (path, &errsv);
  if (*text == NULL && errsv != ENOENT)
    return berth_fail_errno (error, errsv, "read %s", path);
  return TRUE;
}

/* 0 or an errno. One write: the kernel parses each write on its own. */
static int
write_value (const char *path, const char *value)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return errno;
  if (!berth_write_all (fd, value, strlen (value)))
    {
      int errsv = errno;
      close (fd);
      return errsv;
    }
  return close (fd) < 0 ? errno : 0;
}

static gboolean
write_cg (const char *dir, const char *file, const char *value, GError **error)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  int errsv = write_value (path, value);
  if (errsv != 0)
    return berth_fail_errno (error, errsv, "write %s to %s", value, path);
  return TRUE;
}

/* Write a limit the spec asked for. A missing file means the kernel or the
 * hierarchy lacks the feature; the limit would silently not hold, so fail. */
static gboolean
set_limit (const Hierarchy *h, const char *file, const char *value, const char *what,
           GError **error)
{
  g_autofree char *path = g_build_filename (h->dir, file, NULL);
  int errsv = write_value (path, value);
  if (errsv == ENOENT)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "%s: this host has no %s", what, path);
  if (errsv != 0)
    return berth_fail_errno (error, errsv, "%s: write %s to %s", what, value, path);
  return TRUE;
}

static gboolean
set_limit_int (const Hierarchy *h, const char *file, gint64 value, const char *what,
               GError **error)
{
  char buf[32];
  g_snprintf (buf, sizeof buf, "%" G_GINT64_FORMAT, value);
  return set_limit (h, file, buf, what, error);
}

/* --- finding the hierarchies --- */

/* A v1 hierarchy a container joins: one with a controller runc also
 * manages, or a named one (systemd's). Others (misc) stay at the root, as
 * under runc, whose cgroups a differential test compares with ours. */
static gboolean
v1_joined (const char *super)
{
  static const char *const managed[] = {
    "cpuset", "cpu", "cpuacct", "devices", "memory", "pids", "blkio", "hugetlb",
    "net_cls", "net_prio", "perf_event", "freezer", "rdma", NULL,
  };
  g_auto (GStrv) opts = g_strsplit (super, ",", -1);
  for (char **o = opts; *o; o++)
    if (g_str_has_prefix (*o, "name=") || g_strv_contains (managed, *o))
      return TRUE;
  return FALSE;
}

static void
add_v1 (GPtrArray *hier, const char *mount, const char *root, const char *super)
{
  if (!v1_joined (super))
    return;
  g_autofree char *options = g_strconcat (",", super, ",", NULL);
  for (guint i = 0; i < hier->len; i++)
    {
      Hierarchy *h = hier->pdata[i];
      if (strcmp (h->options, options) != 0)
        continue;
      /* The same hierarchy mounted twice: keep a mount of its whole tree
       * over a bind mount of a part of it. */
      if (strcmp (h->root, "/") != 0 && strcmp (root, "/") == 0)
        {
          g_free (h->mount);
          g_free (h->root);
          h->mount = g_strdup (mount);
          h->root = g_strdup (root);
        }
      return;
    }
  g_ptr_array_add (hier, hierarchy_new (mount, root, g_steal_pointer (&options)));
}

/* One mountinfo line: "ID PARENT DEV ROOT MOUNTPOINT OPTS [TAGS] - TYPE SOURCE SUPER" */
static void
add_mount_line (BerthCgroup *cg, char *line, Hierarchy **unified)
{
  char *sep = strstr (line, " - ");
  if (sep == NULL || !g_str_has_prefix (sep + 3, "cgroup"))
    return;
  *sep = '\0';
  g_auto (GStrv) head = g_strsplit (line, " ", 6);
  g_auto (GStrv) tail = g_strsplit (sep + 3, " ", 3);
  if (g_strv_length (head) < 5 || g_strv_length (tail) < 3)
    return;
  g_autofree char *root = g_strcompress (head[3]);
  g_autofree char *mount = g_strcompress (head[4]);
  if (strcmp (tail[0], "cgroup") == 0)
    add_v1 (cg->hier, mount, root, tail[2]);
  else if (strcmp (tail[0], "cgroup2") == 0
           && (*unified == NULL || (strcmp ((*unified)->root, "/") != 0 && strcmp (root, "/") == 0)))
    {
      g_clear_pointer (unified, hierarchy_free);
      *unified = hierarchy_new (mount, root, NULL);
    }
}

/* v1 or hybrid: the mount points and controllers come from mountinfo. A
 * cgroup2 mount beside v1 ones is the hybrid layout's unified hierarchy. */
static gboolean
discover_mounts (BerthCgroup *cg, GError **error)
{
  int errsv = 0;
  g_autofree char *text = slurp ("/proc/self/mountinfo", &errsv);
  if (text == NULL)
    return berth_fail_errno (error, errsv, "read /proc/self/mountinfo");
  Hierarchy *unified = NULL;
  for (char *line = text, *next; line && *line; line = next)
    {
      next = strchr (line, '\n');
      if (next)
        *next++ = '\0';
      add_mount_line (cg, line, &unified);
    }
  cg->layout = cg->hier->len == 0 ? LAYOUT_V2 : unified ? LAYOUT_HYBRID : LAYOUT_V1;
  if (unified)
    g_ptr_array_add (cg->hier, unified);
  if (cg->hier->len == 0)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "no cgroup filesystem is mounted");
  return TRUE;
}

static gboolean
discover (BerthCgroup *cg, GError **error)
{
  struct statfs sfs;
  if (statfs (CGROUP_ROOT, &sfs) < 0)
    {
      if (errno != ENOENT)
        return berth_fail_errno (error, errno, "statfs %s", CGROUP_ROOT);
    }
  else if (sfs.f_type == CGROUP2_SUPER_MAGIC)
    {
      /* Pure v2 is one hierarchy at a known place: no mountinfo to parse. */
      cg->layout = LAYOUT_V2;
      g_ptr_array_add (cg->hier, hierarchy_new (CGROUP_ROOT, "/", NULL));
      return TRUE;
    }
  return discover_mounts (cg, error);
}

/* Does a /proc/self/cgroup line "ID:CONTROLLERS:PATH" name hierarchy @h? */
static gboolean
line_matches (const Hierarchy *h, const char *id, const char *controllers)
{
  if (h->options == NULL)
    return strcmp (id, "0") == 0 && *controllers == '\0';
  if (*controllers == '\0')
    return FALSE;
  g_auto (GStrv) names = g_strsplit (controllers, ",", -1);
  for (char **n = names; *n; n++)
    if (!has_option (h, *n))
      return FALSE;
  return TRUE;
}

/* The caller's own cgroup in @h, as a path below the mount ("" for its top). */
static gboolean
own_cgroup (const Hierarchy *h, const char *self, char **out, GError **error)
{
  g_auto (GStrv) lines = g_strsplit (self, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      g_auto (GStrv) f = g_strsplit (*l, ":", 3);
      if (g_strv_length (f) < 3 || !line_matches (h, f[0], f[1]))
        continue;
      const char *rel = f[2];
      gsize n = strlen (h->root);
      if (strcmp (h->root, "/") != 0)
        {
          if (strncmp (rel, h->root, n) != 0 || (rel[n] != '\0' && rel[n] != '/'))
            return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                               "cgroup %s is outside the part of the hierarchy mounted at %s",
                               rel, h->mount);
          rel += n;
        }
      *out = g_strdup (strcmp (rel, "/") == 0 ? "" : rel);
      return TRUE;
    }
  return berth_fail (error, BERTH_ERROR_NOT_FOUND, "/proc/self/cgroup has no line for %s",
                     h->mount);
}

/* @path as "/a/b": no empty or "." parts, and no ".." to climb out with. */
static char *
canonical_path (const char *path, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);
  g_autoptr (GString) s = g_string_new (NULL);
  for (char **p = parts; *p; p++)
    {
      if (**p == '\0' || strcmp (*p, ".") == 0)
        continue;
      if (strcmp (*p, "..") == 0)
        {
          berth_fail (error, BERTH_ERROR_INVALID, "cgroup path %s: \"..\" is not allowed", path);
          return NULL;
        }
      g_string_append_printf (s, "/%s", *p);
    }
  if (s->len == 0)
    {
      berth_fail (error, BERTH_ERROR_INVALID, "cgroup path \"%s\" names no cgroup", path);
      return NULL;
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* Each hierarchy's directory for @path: from its root when absolute, else
 * from the caller's own cgroup there (which differs per v1 hierarchy). */
static gboolean
resolve (BerthCgroup *cg, const char *canon, GError **error)
{
  g_autofree char *self = NULL;
  if (!g_path_is_absolute (cg->path))
    {
      int errsv = 0;
      self = slurp ("/proc/self/cgroup", &errsv);
      if (self == NULL)
        return berth_fail_errno (error, errsv, "read /proc/self/cgroup");
    }
  for (guint i = 0; i < cg->hier->len; i++)
    {
      Hierarchy *h = cg->hier->pdata[i];
      g_autofree char *own = NULL;
      if (self && !own_cgroup (h, self, &own, error))
        return FALSE;
      h->dir = g_strconcat (h->mount, own ? own : "", canon, NULL);
      h->base_len = strlen (h->mount) + (own ? strlen (own) : 0);
    }
  return TRUE;
}

static BerthCgroup *
cgroup_new (const char *path, GError **error)
{
  g_autofree char *canon = canonical_path (path, error);
  if (canon == NULL)
    return NULL;
  g_autoptr (BerthCgroup) cg = g_new0 (BerthCgroup, 1);
  cg->path = g_strdup (path);
  cg->hier = g_ptr_array_new_with_free_func (hierarchy_free);
  cg->v2_fd = -1;
  if (!discover (cg, error) || !resolve (cg, canon, error))
    return NULL;
  return g_steal_pointer (&cg);
}

/* --- making the directories --- */

static gboolean
make_dir (const char *path, GPtrArray *made, GError **error)
{
  if (mkdir (path, 0755) == 0)
    {
      g_ptr_array_add (made, g_strdup (path));
      return TRUE;
    }
  if (errno == EEXIST)
    return TRUE;
  return berth_fail_errno (error, errno, "mkdir %s", path);
}

/* A new v1 cpuset has no cpus and no mems, and no process can join it until
 * both are set: give it what the spec asks (leaf only), else its parent's. */
static gboolean
fill_cpuset_file (const char *dir, const char *file, const char *want, GError **error)
{
  if (want)
    return write_cg (dir, file, want, error);
  g_autofree char *cur = NULL;
  g_autofree char *from_parent = NULL;
  g_autofree char *parent = g_path_get_dirname (dir);
  if (!read_cg (dir, file, &cur, error))
    return FALSE;
  if (cur == NULL)
    return berth_fail_errno (error, ENOENT, "read %s/%s", dir, file);
  if (*g_strstrip (cur) != '\0')
    return TRUE;
  if (!read_cg (parent, file, &from_parent, error))
    return FALSE;
  if (from_parent == NULL)
    return berth_fail_errno (error, ENOENT, "read %s/%s", parent, file);
  return write_cg (dir, file, g_strstrip (from_parent), error);
}

/* What crun enables, where the parent offers it. */
static const char *const v2_controllers[] = { "cpu", "cpuset", "io", "memory", "pids", "hugetlb" };

/* v2 gives a controller to a cgroup's children only when the cgroup lists it
 * in cgroup.subtree_control. Read first: most levels have them already. */
static gboolean
enable_controllers (const char *dir, GError **error)
{
  g_autofree char *avail = NULL;
  g_autofree char *enabled = NULL;
  if (!read_cg (dir, "cgroup.controllers", &avail, error)
      || !read_cg (dir, "cgroup.subtree_control", &enabled, error))
    return FALSE;
  g_auto (GStrv) have = g_strsplit_set (avail ? avail : "", " \n", -1);
  g_auto (GStrv) on = g_strsplit_set (enabled ? enabled : "", " \n", -1);
  g_autoptr (GString) add = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (v2_controllers); i++)
    if (g_strv_contains ((const char *const *) have, v2_controllers[i])
        && !g_strv_contains ((const char *const *) on, v2_controllers[i]))
      g_string_append_printf (add, "%s+%s", add->len ? " " : "", v2_controllers[i]);
  if (add->len == 0)
    return TRUE;
  g_autofree char *path = g_build_filename (dir, "cgroup.subtree_control", NULL);
  if (write_value (path, add->str) == 0)
    return TRUE;
  /* All at once fails if any one is refused (a cgroup with processes of its
   * own takes no domain controllers); take those that can be had. A limit
   * whose controller is missing then fails, naming its file. */
  g_auto (GStrv) each = g_strsplit (add->str, " ", -1);
  for (char **c = each; *c; c++)
    (void) write_value (path, *c);
  return TRUE;
}

/* Walk @h from its mount down to the leaf: mkdir below the base, fill v1
 * cpusets, enable v2 controllers above the leaf. */
static gboolean
make_hierarchy (BerthCgroup *cg, Hierarchy *h, const char *cpus, const char *mems,
                GPtrArray *made, GError **error)
{
  gboolean cpuset = has_option (h, "cpuset");
  /* Hybrid too: its cgroup2 mount may hold controllers (hugetlb) that no
   * v1 hierarchy has. */
  gboolean enable = h->options == NULL;
  g_autofree char *p = g_strdup (h->dir);
  gsize end = strlen (h->mount);
  for (;;)
    {
      char saved = p[end];
      gboolean leaf = saved == '\0';
      gboolean ok = TRUE;
      p[end] = '\0';
      if (end > h->base_len)
        ok = make_dir (p, made, error)
             && (!cpuset
                 || (fill_cpuset_file (p, "cpuset.cpus", leaf ? cpus : NULL, error)
                     && fill_cpuset_file (p, "cpuset.mems", leaf ? mems : NULL, error)));
      if (ok && enable && !leaf)
        ok = enable_controllers (p, error);
      p[end] = saved;
      if (!ok || leaf)
        return ok;
      const char *next = strchr (p + end + 1, '/');
      end = next ? (gsize) (next - p) : strlen (p);
    }
}

static void
remove_made (GPtrArray *made)
{
  /* Deepest first: each hierarchy's levels were added top-down. Best effort:
   * the caller already holds the error that matters, and no process has
   * joined, so these succeed. */
  for (guint i = made->len; i > 0; i--)
    (void) rmdir (made->pdata[i - 1]);
}

/* --- limits --- */

static JsonObject *
section (JsonObject *res, const char *name)
{
  if (res == NULL || !json_object_has_member (res, name))
    return NULL;
  JsonNode *n = json_object_get_member (res, name);
  return JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

static gboolean
member_int (JsonObject *obj, const char *sect, const char *name, Limit *out, GError **error)
{
  out->set = FALSE;
  if (obj == NULL || !json_object_has_member (obj, name))
    return TRUE;
  JsonNode *n = json_object_get_member (obj, name);
  if (JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  GType t = JSON_NODE_HOLDS_VALUE (n) ? json_node_get_value_type (n) : G_TYPE_INVALID;
  if (t == G_TYPE_INT64)
    out->value = json_node_get_int (n);
  else if (t == G_TYPE_DOUBLE)
    {
      /* json-glib hands integers beyond int64 (2^64-1 for "unlimited") over
       * as doubles; clamp them. */
      double d = json_node_get_double (n);
      out->value = d >= (double) G_MAXINT64 ? G_MAXINT64
                   : d <= (double) G_MININT64 ? G_MININT64 : (gint64) d;
    }
  else
    return berth_fail (error, BERTH_ERROR_INVALID, "linux.resources.%s.%s is not a number", sect,
                       name);
  out->set = TRUE;
  return TRUE;
}

static gboolean
member_string (JsonObject *obj, const char *sect, const char *name, const char **out,
               GError **error)
{
  *out = NULL;
  if (obj == NULL || !json_object_has_member (obj, name))
    return TRUE;
  JsonNode *n = json_object_get_member (obj, name);
  if (JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return berth_fail (error, BERTH_ERROR_INVALID, "linux.resources.%s.%s is not a string", sect,
                       name);
  *out = json_node_get_string (n);
  if (**out == '\0')
    *out = NULL;
  return TRUE;
}

static gboolean
no_controller (const char *what, const char *controller, GError **error)
{
  return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "%s: this host has no %s cgroup controller",
                     what, controller);
}

static gboolean read_number (const Hierarchy *h, const char *file, const char *key, guint64 *out,
                             GError **error);

/* memsw may never be below the memory limit, so the limit goes first,
 * unless it is raised above the memsw limit in force (an update): then
 * memsw goes first. */
static gboolean
memsw_first (const Hierarchy *h, Limit limit, Limit swap, gboolean *first, GError **error)
{
  guint64 memsw;
  *first = FALSE;
  if (!limit.set || !swap.set)
    return TRUE;
  if (!read_number (h, "memory.memsw.limit_in_bytes", NULL, &memsw, error))
    return FALSE;
  *first = limit.value < 0 || (guint64) limit.value > memsw;
  return TRUE;
}

static gboolean
memory_v1_limit (Hierarchy *h, const char *file, Limit l, const char *what, GError **error)
{
  return !l.set || set_limit_int (h, file, l.value < 0 ? -1 : l.value, what, error);
}

static gboolean
memory_v1 (Hierarchy *h, Limit limit, Limit swap, Limit reservation, GError **error)
{
  gboolean swap_first;
  if (!memsw_first (h, limit, swap, &swap_first, error))
    return FALSE;
  const char *mem_file = "memory.limit_in_bytes", *memsw_file = "memory.memsw.limit_in_bytes";
  gboolean ok = swap_first
                    ? memory_v1_limit (h, memsw_file, swap, "memory+swap limit", error)
                          && memory_v1_limit (h, mem_file, limit, "memory limit", error)
                    : memory_v1_limit (h, mem_file, limit, "memory limit", error)
                          && memory_v1_limit (h, memsw_file, swap, "memory+swap limit", error);
  return ok
         && (!reservation.set
             || set_limit_int (h, "memory.soft_limit_in_bytes", reservation.value,
                               "memory reservation", error));
}

/* v1's memsw is memory+swap, v2's swap.max is swap alone: convert as runc does. */
static gboolean
swap_v2_value (Limit limit, Limit swap, char *buf, gsize size, GError **error)
{
  if (swap.value < 0)
    g_strlcpy (buf, "max", size);
  else if (!limit.set || limit.value < 0)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "a memory+swap limit needs a memory limit on cgroup v2");
  else if (swap.value < limit.value)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "memory+swap limit %" G_GINT64_FORMAT " is below the memory limit %" G_GINT64_FORMAT,
                       swap.value, limit.value);
  else
    g_snprintf (buf, size, "%" G_GINT64_FORMAT, swap.value - limit.value);
  return TRUE;
}

static gboolean
memory_v2 (Hierarchy *h, Limit limit, Limit swap, Limit reservation, GError **error)
{
  char value[32];
  if (limit.set)
    {
      if (limit.value < 0)
        g_strlcpy (value, "max", sizeof value);
      else
        g_snprintf (value, sizeof value, "%" G_GINT64_FORMAT, limit.value);
      if (!set_limit (h, "memory.max", value, "memory limit", error))
        return FALSE;
    }
  if (swap.set && (!swap_v2_value (limit, swap, value, sizeof value, error)
                   || !set_limit (h, "memory.swap.max", value, "memory swap limit", error)))
    return FALSE;
  return !reservation.set
         || set_limit_int (h, "memory.low", reservation.value, "memory reservation", error);
}

static gboolean
apply_memory (BerthCgroup *cg, JsonObject *res, GError **error)
{
  JsonObject *m = section (res, "memory");
  Limit limit, swap, reservation;
  if (!member_int (m, "memory", "limit", &limit, error)
      || !member_int (m, "memory", "swap", &swap, error)
      || !member_int (m, "memory", "reservation", &reservation, error))
    return FALSE;
  /* 0 means "not set", as runc reads it: a zero limit could run nothing. */
  limit.set = limit.set && limit.value != 0;
  swap.set = swap.set && swap.value != 0;
  reservation.set = reservation.set && reservation.value > 0;
  if (!limit.set && !swap.set && !reservation.set)
    return TRUE;
  gboolean v1;
  Hierarchy *h = pick (cg, "memory", &v1);
  if (h == NULL)
    return no_controller ("memory limit", "memory", error);
  return v1 ? memory_v1 (h, limit, swap, reservation, error)
            : memory_v2 (h, limit, swap, reservation, error);
}

static gboolean
cpu_v1 (Hierarchy *h, Limit shares, Limit quota, Limit period, GError **error)
{
  /* The period first: a quota is checked against the current period. */
  return (!shares.set || set_limit_int (h, "cpu.shares", shares.value, "cpu shares", error))
         && (!period.set || set_limit_int (h, "cpu.cfs_period_us", period.value, "cpu period", error))
         && (!quota.set
             || set_limit_int (h, "cpu.cfs_quota_us", quota.value < 0 ? -1 : quota.value, "cpu quota",
                               error));
}

static gboolean
cpu_v2 (Hierarchy *h, Limit shares, Limit quota, Limit period, GError **error)
{
  /* crun's linear map of shares 2..262144 onto weight 1..10000. */
  if (shares.set
      && !set_limit_int (h, "cpu.weight", 1 + ((shares.value - 2) * 9999) / 262142, "cpu shares",
                         error))
    return FALSE;
  if (!quota.set && !period.set)
    return TRUE;
  char value[64];
  gint64 p = period.set ? period.value : 100000;
  if (quota.set && quota.value > 0)
    g_snprintf (value, sizeof value, "%" G_GINT64_FORMAT " %" G_GINT64_FORMAT, quota.value, p);
  else
    g_snprintf (value, sizeof value, "max %" G_GINT64_FORMAT, p);
  return set_limit (h, "cpu.max", value, "cpu quota", error);
}

static gboolean
apply_cpu (BerthCgroup *cg, JsonObject *res, GError **error)
{
  JsonObject *c = section (res, "cpu");
  Limit shares, quota, period;
  if (!member_int (c, "cpu", "shares", &shares, error)
      || !member_int (c, "cpu", "quota", &quota, error)
      || !member_int (c, "cpu", "period", &period, error))
    return FALSE;
  shares.set = shares.set && shares.value > 0;
  quota.set = quota.set && quota.value != 0;
  period.set = period.set && period.value > 0;
  if (!shares.set && !quota.set && !period.set)
    return TRUE;
  gboolean v1;
  Hierarchy *h = pick (cg, "cpu", &v1);
  if (h == NULL)
    return no_controller ("cpu limit", "cpu", error);
  return v1 ? cpu_v1 (h, shares, quota, period, error) : cpu_v2 (h, shares, quota, period, error);
}

/* At creation v1 cpusets were written while making the directories (they
 * must be, for a process to join: @v1_done); v2 ones inherit while empty,
 * so only asked ones go here. */
static gboolean
apply_cpuset (BerthCgroup *cg, const char *cpus, const char *mems, gboolean v1_done,
              GError **error)
{
  if (cpus == NULL && mems == NULL)
    return TRUE;
  gboolean v1;
  Hierarchy *h = pick (cg, "cpuset", &v1);
  if (h == NULL)
    return no_controller ("cpuset", "cpuset", error);
  if (v1 && v1_done)
    return TRUE;
  return (cpus == NULL || set_limit (h, "cpuset.cpus", cpus, "cpuset cpus", error))
         && (mems == NULL || set_limit (h, "cpuset.mems", mems, "cpuset mems", error));
}

static gboolean
apply_pids (BerthCgroup *cg, JsonObject *res, GError **error)
{
  Limit limit;
  if (!member_int (section (res, "pids"), "pids", "limit", &limit, error))
    return FALSE;
  if (!limit.set)
    return TRUE;
  gboolean v1;
  Hierarchy *h = pick (cg, "pids", &v1);
  if (h == NULL)
    return no_controller ("pids limit", "pids", error);
  if (limit.value <= 0)
    return set_limit (h, "pids.max", "max", "pids limit", error);
  return set_limit_int (h, "pids.max", limit.value, "pids limit", error);
}

/* CFQ had blkio.weight (v2: io.weight, 1..10000); BFQ has its own file, in
 * the OCI 10..1000 range itself. Tried in crun's order. */
static gboolean
blkio_weight (Hierarchy *h, gboolean v1, gint64 weight, GError **error)
{
  const char *files[2] = { v1 ? "blkio.weight" : "io.bfq.weight",
                           v1 ? "blkio.bfq.weight" : "io.weight" };
  gint64 values[2] = { weight, v1 ? weight : 1 + (weight - 10) * 9999 / 990 };
  for (guint i = 0; i < 2; i++)
    {
      g_autofree char *path = g_build_filename (h->dir, files[i], NULL);
      char value[32];
      g_snprintf (value, sizeof value, "%" G_GINT64_FORMAT, values[i]);
      int errsv = write_value (path, value);
      if (errsv == 0)
        return TRUE;
      if (errsv != ENOENT)
        return berth_fail_errno (error, errsv, "blkio weight: write %s to %s", value, path);
    }
  return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                     "blkio weight: this kernel's %s controller has neither %s nor %s (%s)",
                     v1 ? "blkio" : "io", files[0], files[1], v1 ? "no CFQ/BFQ" : "no BFQ/iocost");
}

static gboolean
apply_blkio (BerthCgroup *cg, JsonObject *res, GError **error)
{
  Limit weight;
  if (!member_int (section (res, "blockIO"), "blockIO", "weight", &weight, error))
    return FALSE;
  if (!weight.set || weight.value == 0)
    return TRUE;
  if (weight.value < 10 || weight.value > 1000)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "linux.resources.blockIO.weight %" G_GINT64_FORMAT " is outside 10..1000",
                       weight.value);
  gboolean v1;
  Hierarchy *h = pick (cg, "blkio", &v1);
  if (h == NULL)
    return no_controller ("blkio weight", "blkio", error);
  return blkio_weight (h, v1, weight.value, error);
}

/* What every container may use whatever its spec says, appended after the
 * spec's rules as runc does: clients such as Docker list only a few nodes
 * and rely on these, and mknod of the default /dev nodes needs "m". */
static const struct {
  const char *type;
  gint64 major, minor; /* -1: any */
  const char *access;
} implicit_device_rules[] = {
  { "c", -1, -1, "m" }, { "b", -1, -1, "m" },
  { "c", 1, 3, "rwm" },   /* null */
  { "c", 1, 5, "rwm" },   /* zero */
  { "c", 1, 7, "rwm" },   /* full */
  { "c", 1, 8, "rwm" },   /* random */
  { "c", 1, 9, "rwm" },   /* urandom */
  { "c", 5, 0, "rwm" },   /* tty */
  { "c", 5, 1, "rwm" },   /* console */
  { "c", 5, 2, "rwm" },   /* ptmx */
  { "c", 136, -1, "rwm" }, /* pts */
  { "c", 10, 200, "rwm" }, /* tun */
};

static JsonArray *
device_rules_with_implicit (JsonArray *rules)
{
  JsonArray *all = json_array_sized_new (json_array_get_length (rules)
                                         + G_N_ELEMENTS (implicit_device_rules));
  for (guint i = 0; i < json_array_get_length (rules); i++)
    json_array_add_element (all, json_node_copy (json_array_get_element (rules, i)));
  for (gsize i = 0; i < G_N_ELEMENTS (implicit_device_rules); i++)
    {
      JsonObject *r = json_object_new ();
      json_object_set_boolean_member (r, "allow", TRUE);
      json_object_set_string_member (r, "type", implicit_device_rules[i].type);
      if (implicit_device_rules[i].major >= 0)
        json_object_set_int_member (r, "major", implicit_device_rules[i].major);
      if (implicit_device_rules[i].minor >= 0)
        json_object_set_int_member (r, "minor", implicit_device_rules[i].minor);
      json_object_set_string_member (r, "access", implicit_device_rules[i].access);
      json_array_add_object_element (all, r);
    }
  return all;
}

/* v1 device rules ("c 1:3 rwm"); on v2, where no devices controller
 * exists, a BPF program (devices-bpf.c). */
static gboolean
apply_devices (BerthCgroup *cg, JsonObject *res, GError **error)
{
  JsonArray *spec_rules = berth_json_array (res, "devices");
  gboolean v1;
  Hierarchy *h = pick (cg, "devices", &v1);
  if (spec_rules == NULL || h == NULL)
    return TRUE;
  g_autoptr (JsonArray) rules = device_rules_with_implicit (spec_rules);
  if (!v1)
    return cg->layout != LAYOUT_V2 || berth_devices_bpf_apply (h->dir, rules, error);
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
      if (!write_cg (h->dir, berth_json_bool (r, "allow", FALSE) ? "devices.allow" : "devices.deny",
                     rule, error))
        return FALSE;
    }
  return TRUE;
}

/* The memory knobs beside the limits. swappiness and the OOM killer switch
 * exist on v1 only; runc leaves them alone on v2, and so does berth, saying
 * so. Kernel memory is gone from current kernels and ignored by runc. */
static gboolean
apply_memory_extra (BerthCgroup *cg, JsonObject *res, GError **error)
{
  JsonObject *m = section (res, "memory");
  Limit swappiness, kernel, kernel_tcp;
  if (!member_int (m, "memory", "swappiness", &swappiness, error)
      || !member_int (m, "memory", "kernel", &kernel, error)
      || !member_int (m, "memory", "kernelTCP", &kernel_tcp, error))
    return FALSE;
  gboolean oom_off = m && json_object_has_member (m, "disableOOMKiller")
                     && berth_json_bool (m, "disableOOMKiller", FALSE);
  /* -1 and values past 100 that clients use for "unset" (2^64-1) */
  swappiness.set = swappiness.set && swappiness.value >= 0 && swappiness.value != G_MAXINT64;
  if (swappiness.set && swappiness.value > 100)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "linux.resources.memory.swappiness %" G_GINT64_FORMAT ": outside 0..100",
                       swappiness.value);
  if (kernel.set && kernel.value != 0)
    g_warning ("linux.resources.memory.kernel: ignored, as runc ignores it (kernel memory "
               "accounting is gone from current kernels)");
  if (!swappiness.set && !oom_off && !(kernel_tcp.set && kernel_tcp.value != 0))
    return TRUE;
  gboolean v1;
  Hierarchy *h = pick (cg, "memory", &v1);
  if (h == NULL)
    return no_controller ("memory settings", "memory", error);
  if (!v1)
    {
      g_warning ("linux.resources.memory swappiness, disableOOMKiller and kernelTCP: ignored on "
                 "cgroup v2, which has no such files (runc ignores them too)");
      return TRUE;
    }
  return (!swappiness.set
          || set_limit_int (h, "memory.swappiness", swappiness.value, "memory swappiness", error))
         && (!oom_off || set_limit (h, "memory.oom_control", "1", "disableOOMKiller", error))
         && (!kernel_tcp.set || kernel_tcp.value == 0
             || set_limit_int (h, "memory.kmem.tcp.limit_in_bytes",
                               kernel_tcp.value < 0 ? -1 : kernel_tcp.value, "kernelTCP limit",
                               error));
}

/* realtimePeriod/realtimeRuntime (v1 only: cgroup v2 has no RT group
 * scheduling) and idle (cpu.idle on either). */
static gboolean
apply_cpu_extra (BerthCgroup *cg, JsonObject *res, GError **error)
{
  JsonObject *c = section (res, "cpu");
  Limit rt_period, rt_runtime, idle;
  if (!member_int (c, "cpu", "realtimePeriod", &rt_period, error)
      || !member_int (c, "cpu", "realtimeRuntime", &rt_runtime, error)
      || !member_int (c, "cpu", "idle", &idle, error))
    return FALSE;
  rt_period.set = rt_period.set && rt_period.value != 0;
  rt_runtime.set = rt_runtime.set && rt_runtime.value != 0;
  if (!rt_period.set && !rt_runtime.set && !idle.set)
    return TRUE;
  gboolean v1;
  Hierarchy *h = pick (cg, "cpu", &v1);
  if (h == NULL)
    return no_controller ("cpu settings", "cpu", error);
  if (!v1 && (rt_period.set || rt_runtime.set))
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                       "linux.resources.cpu.realtimeRuntime/realtimePeriod: cgroup v2 has no "
                       "real-time group scheduling");
  return (!rt_period.set
          || set_limit_int (h, "cpu.rt_period_us", rt_period.value, "cpu realtimePeriod", error))
         && (!rt_runtime.set
             || set_limit_int (h, "cpu.rt_runtime_us", rt_runtime.value, "cpu realtimeRuntime",
                               error))
         && (!idle.set || set_limit_int (h, "cpu.idle", idle.value, "cpu idle", error));
}

/* "MAJ:MIN" of a blockIO device entry. */
static char *
device_key (JsonObject *d, const char *what, guint i, GError **error)
{
  if (d == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "linux.resources.blockIO.%s[%u]: not an object",
                       what, i), NULL;
  Limit major, minor;
  if (!member_int (d, what, "major", &major, error) || !member_int (d, what, "minor", &minor, error))
    return NULL;
  if (!major.set || !minor.set || major.value < 0 || minor.value < 0)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "linux.resources.blockIO.%s[%u]: needs a major and a minor", what, i),
           NULL;
  return g_strdup_printf ("%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT, major.value, minor.value);
}

/* throttle{Read,Write}{Bps,IOPS}Device: v1 has a file each, v2 one io.max
 * line per device with a key each. */
static gboolean
apply_blkio_throttle (BerthCgroup *cg, JsonObject *res, GError **error)
{
  static const struct {
    const char *member, *v1_file, *v2_key;
  } kinds[] = {
    { "throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps" },
    { "throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps" },
    { "throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops" },
    { "throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops" },
  };
  JsonObject *b = section (res, "blockIO");
  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++)
    {
      JsonArray *list = berth_json_array (b, kinds[k].member);
      for (guint i = 0; list && i < json_array_get_length (list); i++)
        {
          JsonObject *d = berth_json_array_object (list, i);
          g_autofree char *key = device_key (d, kinds[k].member, i, error);
          Limit rate;
          if (key == NULL || !member_int (d, kinds[k].member, "rate", &rate, error))
            return FALSE;
          gboolean v1;
          Hierarchy *h = pick (cg, "blkio", &v1);
          if (h == NULL)
            return no_controller ("blockIO throttle", "blkio", error);
          g_autofree char *value
              = v1 ? g_strdup_printf ("%s %" G_GINT64_FORMAT, key, rate.value)
                   : g_strdup_printf ("%s %s=%" G_GINT64_FORMAT, key, kinds[k].v2_key, rate.value);
          if (!set_limit (h, v1 ? kinds[k].v1_file : "io.max", value, kinds[k].member, error))
            return FALSE;
        }
    }
  return TRUE;
}

/* weightDevice: per-device weights, where the I/O scheduler has them
 * (BFQ's files, or CFQ's blkio.weight_device on old v1 kernels). */
static gboolean
apply_blkio_weight_device (BerthCgroup *cg, JsonObject *res, GError **error)
{
  JsonArray *list = berth_json_array (section (res, "blockIO"), "weightDevice");
  for (guint i = 0; list && i < json_array_get_length (list); i++)
    {
      JsonObject *d = berth_json_array_object (list, i);
      g_autofree char *key = device_key (d, "weightDevice", i, error);
      Limit weight;
      if (key == NULL || !member_int (d, "weightDevice", "weight", &weight, error))
        return FALSE;
      if (!weight.set)
        continue;
      gboolean v1;
      Hierarchy *h = pick (cg, "blkio", &v1);
      if (h == NULL)
        return no_controller ("blockIO weightDevice", "blkio", error);
      g_autofree char *value = g_strdup_printf ("%s %" G_GINT64_FORMAT, key, weight.value);
      const char *files[2] = { v1 ? "blkio.weight_device" : "io.bfq.weight",
                               v1 ? "blkio.bfq.weight_device" : "io.weight" };
      g_autofree char *first = g_build_filename (h->dir, files[0], NULL);
      if (!g_file_test (first, G_FILE_TEST_EXISTS))
        files[0] = files[1];
      if (!set_limit (h, files[0], value, "blockIO weightDevice", error))
        return FALSE;
    }
  return TRUE;
}

/* network: classID (net_cls) and priorities (net_prio), v1 controllers
 * cgroup v2 does not have; refused where they are missing, as runc does. */
static gboolean
apply_network (BerthCgroup *cg, JsonObject *res, GError **error)
{
  JsonObject *n = section (res, "network");
  Limit class_id;
  if (!member_int (n, "network", "classID", &class_id, error))
    return FALSE;
  JsonArray *prios = berth_json_array (n, "priorities");
  gboolean v1;
  Hierarchy *h;
  if (class_id.set && class_id.value != 0)
    {
      if ((h = pick (cg, "net_cls", &v1)) == NULL || !v1)
        return no_controller ("linux.resources.network.classID", "net_cls", error);
      if (!set_limit_int (h, "net_cls.classid", class_id.value, "network classID", error))
        return FALSE;
    }
  for (guint i = 0; prios && i < json_array_get_length (prios); i++)
    {
      JsonObject *p = berth_json_array_object (prios, i);
      if ((h = pick (cg, "net_prio", &v1)) == NULL || !v1)
        return no_controller ("linux.resources.network.priorities", "net_prio", error);
      g_autofree char *value = g_strdup_printf ("%s %" G_GINT64_FORMAT,
                                                berth_json_string (p, "name", ""),
                                                berth_json_int (p, "priority", 0));
      if (!set_limit (h, "net_prio.ifpriomap", value, "network priorities", error))
        return FALSE;
    }
  return TRUE;
}

/* rdma: "DEVICE hca_handle=N hca_object=M" per device, v1 or v2 alike. */
static gboolean
apply_rdma (BerthCgroup *cg, JsonObject *res, GError **error)
{
  JsonObject *rdma = section (res, "rdma");
  g_autoptr (GList) devices = rdma ? json_object_get_members (rdma) : NULL;
  for (GList *d = devices; d; d = d->next)
    {
      JsonObject *o = berth_json_object (rdma, d->data);
      g_autoptr (GString) value = g_string_new (d->data);
      if (o && json_object_has_member (o, "hcaHandles"))
        g_string_append_printf (value, " hca_handle=%" G_GINT64_FORMAT,
                                berth_json_int (o, "hcaHandles", 0));
      if (o && json_object_has_member (o, "hcaObjects"))
        g_string_append_printf (value, " hca_object=%" G_GINT64_FORMAT,
                                berth_json_int (o, "hcaObjects", 0));
      gboolean v1;
      Hierarchy *h = pick (cg, "rdma", &v1);
      if (h == NULL)
        return no_controller ("linux.resources.rdma", "rdma", error);
      if (!set_limit (h, "rdma.max", value->str, "rdma limit", error))
        return FALSE;
    }
  return TRUE;
}

/* unified: cgroup2 files by name, written as given; they need a cgroup2
 * hierarchy (cgroup2-only or hybrid), and a name must stay a file of the
 * container's own cgroup. */
static gboolean
apply_unified (BerthCgroup *cg, JsonObject *res, GError **error)
{
  JsonObject *u = section (res, "unified");
  g_autoptr (GList) keys = u ? json_object_get_members (u) : NULL;
  if (keys == NULL)
    return TRUE;
  Hierarchy *h = unified_hierarchy (cg);
  if (h == NULL)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                       "linux.resources.unified: this host has no cgroup2 hierarchy");
  for (GList *k = keys; k; k = k->next)
    {
      const char *key = k->data;
      if (*key == '\0' || strchr (key, '/') || strcmp (key, ".") == 0 || strcmp (key, "..") == 0)
        return berth_fail (error, BERTH_ERROR_INVALID, "linux.resources.unified '%s': not a file name",
                           key);
      g_autofree char *what = g_strdup_printf ("linux.resources.unified %s", key);
      if (!set_limit (h, key, berth_json_string (u, key, ""), what, error))
        return FALSE;
    }
  return TRUE;
}

/* "2MB", "64KB", "1GB": the kernel's names for its page sizes. Checked,
 * since it becomes part of a file name. */
static gboolean
valid_page_size (const char *size)
{
  const char *p = size;
  while (g_ascii_isdigit (*p))
    p++;
  return p > size && (p[0] == 'K' || p[0] == 'M' || p[0] == 'G') && p[1] == 'B' && p[2] == '\0';
}

static gboolean
hugetlb_limit (Hierarchy *h, gboolean v1, JsonObject *o, guint i, GError **error)
{
  const char *size = berth_json_string (o, "pageSize", "");
  Limit limit;
  if (!valid_page_size (size))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "linux.resources.hugepageLimits[%u].pageSize '%s': not a size like 2MB", i,
                       size);
  if (!member_int (o, "hugepageLimits", "limit", &limit, error))
    return FALSE;
  if (!limit.set)
    return berth_fail (error, BERTH_ERROR_INVALID, "linux.resources.hugepageLimits[%u]: no limit", i);
  g_autofree char *file = g_strdup_printf (v1 ? "hugetlb.%s.limit_in_bytes" : "hugetlb.%s.max", size);
  g_autofree char *what = g_strdup_printf ("hugetlb limit for %s pages", size);
  return set_limit_int (h, file, limit.value, what, error);
}

/* A page size the host lacks has no file: set_limit's error names it. */
static gboolean
apply_hugetlb (BerthCgroup *cg, JsonObject *res, GError **error)
{
  JsonArray *limits = berth_json_array (res, "hugepageLimits");
  if (limits == NULL || json_array_get_length (limits) == 0)
    return TRUE;
  gboolean v1;
  Hierarchy *h = pick (cg, "hugetlb", &v1);
  if (h == NULL)
    return no_controller ("hugetlb limit", "hugetlb", error);
  for (guint i = 0; i < json_array_get_length (limits); i++)
    {
      JsonObject *o = berth_json_array_object (limits, i);
      if (o == NULL)
        return berth_fail (error, BERTH_ERROR_INVALID,
                           "linux.resources.hugepageLimits[%u]: not an object", i);
      if (!hugetlb_limit (h, v1, o, i, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
cpuset_strings (JsonObject *res, const char **cpus, const char **mems, GError **error)
{
  JsonObject *c = section (res, "cpu");
  return member_string (c, "cpu", "cpus", cpus, error)
         && member_string (c, "cpu", "mems", mems, error);
}

/* Every limit of @res; v1 cpusets only unless @v1_cpuset_done (creation
 * writes them while making the directories). */
static gboolean
apply_all (BerthCgroup *cg, JsonObject *res, const char *cpus, const char *mems,
           gboolean v1_cpuset_done, GError **error)
{
  return apply_memory (cg, res, error) && apply_memory_extra (cg, res, error)
         && apply_cpu (cg, res, error) && apply_cpu_extra (cg, res, error)
         && apply_cpuset (cg, cpus, mems, v1_cpuset_done, error) && apply_pids (cg, res, error)
         && apply_blkio (cg, res, error) && apply_blkio_weight_device (cg, res, error)
         && apply_blkio_throttle (cg, res, error) && apply_hugetlb (cg, res, error)
         && apply_network (cg, res, error) && apply_rdma (cg, res, error)
         && apply_devices (cg, res, error) && apply_unified (cg, res, error);
}

static gboolean
make_all (BerthCgroup *cg, JsonObject *res, GPtrArray *made, GError **error)
{
  const char *cpus, *mems;
  if (!cpuset_strings (res, &cpus, &mems, error))
    return FALSE;
  for (guint i = 0; i < cg->hier->len; i++)
    if (!make_hierarchy (cg, cg->hier->pdata[i], cpus, mems, made, error))
      return FALSE;
  return apply_all (cg, res, cpus, mems, TRUE, error);
}

gboolean
berth_cgroup_update (BerthCgroup *cg, JsonObject *resources, GError **error)
{
  const char *cpus, *mems;
  /* A cgroup removed meanwhile would fail on its first file with ENOENT,
   * read as "this host has no ...": say what it is. */
  Hierarchy *h = procs_hierarchy (cg);
  if (h && access (h->dir, F_OK) < 0)
    return errno == ENOENT
               ? berth_fail (error, BERTH_ERROR_NOT_FOUND, "cgroup %s: no such cgroup", h->dir)
               : berth_fail_errno (error, errno, "cgroup %s", h->dir);
  return cpuset_strings (resources, &cpus, &mems, error)
         && apply_all (cg, resources, cpus, mems, FALSE, error);
}

BerthCgroup *
berth_cgroup_create (const char *path, JsonObject *resources, GError **error)
{
  g_autoptr (BerthCgroup) cg = cgroup_new (path, error);
  if (cg == NULL)
    return NULL;
  g_autoptr (GPtrArray) made = g_ptr_array_new_with_free_func (g_free);
  if (!make_all (cg, resources, made, error))
    {
      remove_made (made);
      return NULL;
    }
  return g_steal_pointer (&cg);
}

char **
berth_cgroup_hierarchy_names (BerthCgroup *cg)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  for (guint i = 0; i < cg->hier->len; i++)
    {
      const Hierarchy *h = cg->hier->pdata[i];
      if (h->options == NULL)
        {
          g_strv_builder_add (b, "cgroup2");
          continue;
        }
      /* Controllers and the hierarchy's name only: flags such as systemd's
       * "xattr" would become part of the directory's name in the container. */
      g_autoptr (GString) name = g_string_new (NULL);
      g_auto (GStrv) opts = g_strsplit (h->options, ",", -1);
      for (char **o = opts; *o; o++)
        if (berth_host_cgroup_v1_is_controller (*o) || g_str_has_prefix (*o, "name="))
          g_string_append_printf (name, "%s%s", name->len ? "," : "", *o);
      g_strv_builder_add (b, name->str);
    }
  return g_strv_builder_end (b);
}

char **
berth_cgroup_dirs (BerthCgroup *cg)
{
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  for (guint i = 0; i < cg->hier->len; i++)
    g_strv_builder_add (b, ((const Hierarchy *) cg->hier->pdata[i])->dir);
  return g_strv_builder_end (b);
}

BerthCgroup *
berth_cgroup_open (const char *path, GError **error)
{
  return cgroup_new (path, error);
}

int
berth_cgroup_v2_fd (BerthCgroup *cg)
{
  if (cg->layout != LAYOUT_V2)
    return -1;
  /* A failure leaves -1, and the caller falls back to berth_cgroup_enter,
   * which reports it properly. */
  if (cg->v2_fd < 0)
    cg->v2_fd = open (((Hierarchy *) cg->hier->pdata[0])->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  return cg->v2_fd;
}

/* A cpuset list ("0-3,8\n") as a CPU set; FALSE if it is not one. */
static gboolean
parse_cpu_list (const char *text, cpu_set_t *set)
{
  CPU_ZERO (set);
  const char *p = text;
  while (*p && *p != '\n')
    {
      char *end;
      unsigned long first = strtoul (p, &end, 10), last = first;
      if (end == p)
        return FALSE;
      if (*end == '-')
        {
          p = end + 1;
          last = strtoul (p, &end, 10);
          if (end == p || last < first)
            return FALSE;
        }
      for (unsigned long cpu = first; cpu <= last && cpu < CPU_SETSIZE; cpu++)
        CPU_SET (cpu, set);
      p = *end == ',' ? end + 1 : end;
    }
  return TRUE;
}

/* Kernels before 6.2 (and its stable backports; bullseye's 5.10 among
 * them) leave a process cloned with CLONE_INTO_CGROUP on its parent's CPU
 * affinity instead of its new cpuset's. Where the two differ, the child
 * gets cpuset.cpus.effective, as a fixed kernel or a migration would. */
gboolean
berth_cgroup_apply_cpuset (BerthCgroup *cg, pid_t pid, GError **error)
{
  Hierarchy *u = unified_hierarchy (cg);
  g_autofree char *text = NULL;
  if (u == NULL || !read_cg (u->dir, "cpuset.cpus.effective", &text, error))
    return u == NULL;
  cpu_set_t want, have;
  if (text == NULL || !parse_cpu_list (text, &want) || CPU_COUNT (&want) == 0)
    return TRUE; /* no cpuset controller here, or nothing to go by */
  if (sched_getaffinity (pid, sizeof have, &have) < 0)
    return berth_fail_errno (error, errno, "read the CPU affinity of %d", (int) pid);
  if (CPU_EQUAL (&want, &have))
    return TRUE;
  if (sched_setaffinity (pid, sizeof want, &want) < 0)
    return berth_fail_errno (error, errno, "set the CPU affinity of %d to its cpuset (%s)",
                             (int) pid, g_strstrip (text));
  return TRUE;
}

gboolean
berth_cgroup_enter (BerthCgroup *cg, pid_t pid, GError **error)
{
  char value[32];
  g_snprintf (value, sizeof value, "%d", (int) pid);
  for (guint i = 0; i < cg->hier->len; i++)
    if (!write_cg (((Hierarchy *) cg->hier->pdata[i])->dir, "cgroup.procs", value, error))
      return FALSE;
  return TRUE;
}

/* --- freezer --- */

/* Has the freezer reached @frozen (not merely on its way)? */
static gboolean
freezer_reached (Hierarchy *h, gboolean v1, gboolean frozen, gboolean *reached, GError **error)
{
  const char *file = v1 ? "freezer.state" : "cgroup.events";
  g_autofree char *text = NULL;
  if (!read_cg (h->dir, file, &text, error))
    return FALSE;
  if (text == NULL)
    return berth_fail_errno (error, ENOENT, "read %s/%s", h->dir, file);
  if (v1)
    *reached = strcmp (g_strstrip (text), frozen ? "FROZEN" : "THAWED") == 0;
  else
    *reached = strstr (text, frozen ? "frozen 1" : "frozen 0") != NULL;
  return TRUE;
}

/* Tasks stop at their next return to user space. A v1 freezer can stay
 * FREEZING when a task forks meanwhile, so the write is repeated. */
static gboolean
wait_freezer (Hierarchy *h, gboolean v1, gboolean frozen, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + FREEZE_TIMEOUT_US;
  gulong delay = FIRST_DELAY_US;
  for (;;)
    {
      gboolean reached = FALSE;
      if (!freezer_reached (h, v1, frozen, &reached, error))
        return FALSE;
      if (reached)
        return TRUE;
      if (g_get_monotonic_time () > deadline)
        return berth_fail (error, BERTH_ERROR_BUSY, "%s %s: not done after 2 s",
                           frozen ? "freeze" : "thaw", h->dir);
      g_usleep (delay);
      delay = MIN (delay * 2, MAX_DELAY_US);
      if (v1 && frozen && !write_cg (h->dir, "freezer.state", "FROZEN", error))
        return FALSE;
    }
}

gboolean
berth_cgroup_freeze (BerthCgroup *cg, gboolean frozen, GError **error)
{
  gboolean v1;
  Hierarchy *h = pick (cg, "freezer", &v1);
  if (h == NULL)
    return no_controller ("freeze", "freezer", error);
  const char *file = v1 ? "freezer.state" : "cgroup.freeze";
  if (!write_cg (h->dir, file, v1 ? (frozen ? "FROZEN" : "THAWED") : (frozen ? "1" : "0"), error))
    return FALSE;
  if (wait_freezer (h, v1, frozen, error))
    return TRUE;
  /* Not left half-frozen, some tasks stopped and others running; the error
   * that matters is already set. */
  if (frozen)
    {
      g_autofree char *path = g_build_filename (h->dir, file, NULL);
      (void) write_value (path, v1 ? "THAWED" : "0");
    }
  return FALSE;
}

gboolean
berth_cgroup_is_frozen (BerthCgroup *cg)
{
  gboolean v1;
  Hierarchy *h = pick (cg, "freezer", &v1);
  g_autofree char *text = NULL;
  if (h == NULL || !read_cg (h->dir, v1 ? "freezer.state" : "cgroup.freeze", &text, NULL)
      || text == NULL)
    return FALSE;
  return strcmp (g_strstrip (text), v1 ? "FROZEN" : "1") == 0;
}

/* Thaw unless thawed: a cgroup left FREEZING counts as frozen here. */
static gboolean
thaw_if_needed (BerthCgroup *cg, GError **error)
{
  gboolean v1;
  Hierarchy *h = pick (cg, "freezer", &v1);
  g_autofree char *text = NULL;
  if (h == NULL)
    return TRUE;
  if (!read_cg (h->dir, v1 ? "freezer.state" : "cgroup.freeze", &text, error))
    return FALSE;
  if (text == NULL || strcmp (g_strstrip (text), v1 ? "THAWED" : "0") == 0)
    return TRUE;
  return berth_cgroup_freeze (cg, FALSE, error);
}

/* --- processes --- */

/* The subdirectories of @dir (none if it is gone). */
static GPtrArray *
child_dirs (const char *dir, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  DIR *d = opendir (dir);
  if (d == NULL && errno == ENOENT)
    return g_steal_pointer (&out);
  if (d == NULL)
    {
      berth_fail_errno (error, errno, "opendir %s", dir);
      return NULL;
    }
  struct dirent *e;
  errno = 0;
  while ((e = readdir (d)) != NULL)
    if (e->d_type == DT_DIR && strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
      g_ptr_array_add (out, g_build_filename (dir, e->d_name, NULL));
  int errsv = errno;
  closedir (d);
  if (errsv != 0)
    {
      berth_fail_errno (error, errsv, "readdir %s", dir);
      return NULL;
    }
  return g_steal_pointer (&out);
}

/* cgroup.procs lists a cgroup's own processes only; a container that made
 * cgroups of its own (systemd, a nested runtime) has more below. */
static gboolean
collect_procs (const char *dir, GArray *pids, GError **error)
{
  g_autofree char *text = NULL;
  if (!read_cg (dir, "cgroup.procs", &text, error))
    return FALSE;
  if (text == NULL)
    return TRUE;
  for (char *p = text, *end; *p; p = end)
    {
      gint64 v = g_ascii_strtoll (p, &end, 10);
      if (end == p)
        break;
      pid_t pid = (pid_t) v;
      if (pid > 0)
        g_array_append_val (pids, pid);
    }
  g_autoptr (GPtrArray) children = child_dirs (dir, error);
  if (children == NULL)
    return FALSE;
  for (guint i = 0; i < children->len; i++)
    if (!collect_procs (children->pdata[i], pids, error))
      return FALSE;
  return TRUE;
}

GArray *
berth_cgroup_pids (BerthCgroup *cg, GError **error)
{
  g_autoptr (GArray) pids = g_array_new (FALSE, FALSE, sizeof (pid_t));
  Hierarchy *h = procs_hierarchy (cg);
  if (h && !collect_procs (h->dir, pids, error))
    return NULL;
  return g_steal_pointer (&pids);
}

/* kill(2) each listed process; *listed says how many were. */
static gboolean
kill_listed (BerthCgroup *cg, int signal, guint *listed, GError **error)
{
  g_autoptr (GArray) pids = berth_cgroup_pids (cg, error);
  if (pids == NULL)
    return FALSE;
  for (guint i = 0; i < pids->len; i++)
    {
      pid_t pid = g_array_index (pids, pid_t, i);
      if (kill (pid, signal) < 0 && errno != ESRCH)
        return berth_fail_errno (error, errno, "kill %d", (int) pid);
    }
  if (listed)
    *listed = pids->len;
  return TRUE;
}

gboolean
berth_cgroup_kill (BerthCgroup *cg, int signal, GError **error)
{
  Hierarchy *u = unified_hierarchy (cg);
  if (signal == SIGKILL && u != NULL)
    {
      /* cgroup.kill (5.14+) kills the whole subtree at once, forks racing
       * with it included. In hybrid, the v1 lists are checked as well. */
      g_autofree char *path = g_build_filename (u->dir, "cgroup.kill", NULL);
      int errsv = write_value (path, "1");
      if (errsv == 0 && cg->layout == LAYOUT_V2)
        return TRUE;
      if (errsv != 0 && errsv != ENOENT)
        return berth_fail_errno (error, errsv, "write 1 to %s", path);
    }
  return kill_listed (cg, signal, NULL, error);
}

/* A killed process stays listed until it has let go of its memory. The
 * SIGKILL is repeated for processes forked before the first one landed. */
static gboolean
wait_empty (BerthCgroup *cg, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + EMPTY_TIMEOUT_US;
  gulong delay = FIRST_DELAY_US;
  for (;;)
    {
      guint left = 0;
      if (!kill_listed (cg, SIGKILL, &left, error))
        return FALSE;
      if (left == 0)
        return TRUE;
      if (g_get_monotonic_time () > deadline)
        return berth_fail (error, BERTH_ERROR_BUSY, "cgroup %s: %u processes still there 2 s after SIGKILL",
                           cg->path, left);
      g_usleep (delay);
      delay = MIN (delay * 2, MAX_DELAY_US);
    }
}

static gboolean
remove_dir (const char *dir, GError **error)
{
  gint64 deadline = g_get_monotonic_time () + RMDIR_TIMEOUT_US;
  gulong delay = FIRST_DELAY_US;
  for (;;)
    {
      if (rmdir (dir) == 0 || errno == ENOENT)
        return TRUE;
      int errsv = errno;
      /* The last exiting task can still be leaving after cgroup.procs emptied. */
      if (errsv != EBUSY || g_get_monotonic_time () > deadline)
        return berth_fail_errno (error, errsv, "rmdir %s", dir);
      g_usleep (delay);
      delay = MIN (delay * 2, MAX_DELAY_US);
    }
}

/* Children first: a cgroup with sub-cgroups cannot be removed. */
static gboolean
remove_tree (const char *dir, GError **error)
{
  g_autoptr (GPtrArray) children = child_dirs (dir, error);
  if (children == NULL)
    return FALSE;
  for (guint i = 0; i < children->len; i++)
    if (!remove_tree (children->pdata[i], error))
      return FALSE;
  return remove_dir (dir, error);
}

gboolean
berth_cgroup_destroy (BerthCgroup *cg, GError **error)
{
  /* SIGKILL before thawing: a frozen v1 task takes it as it thaws, with no
   * chance to fork first. */
  if (!berth_cgroup_kill (cg, SIGKILL, error) || !thaw_if_needed (cg, error)
      || !wait_empty (cg, error))
    return FALSE;
  for (guint i = 0; i < cg->hier->len; i++)
    if (!remove_tree (((Hierarchy *) cg->hier->pdata[i])->dir, error))
      return FALSE;
  return TRUE;
}

/* --- stats --- */

/* The number after "@key " on a line of @text, or all of @text when @key is NULL. */
static const char *
find_key (const char *text, const char *key)
{
  gsize n = strlen (key);
  for (const char *l = text; l != NULL && *l; l = strchr (l, '\n'))
    {
      if (*l == '\n')
        l++;
      if (strncmp (l, key, n) == 0 && l[n] == ' ')
        return l + n + 1;
    }
  return NULL;
}

static guint64
parse_number (const char *text, const char *key)
{
  const char *v = key ? find_key (text, key) : text;
  if (v == NULL || g_str_has_prefix (v, "max"))
    return G_MAXUINT64;
  char *end;
  guint64 value = g_ascii_strtoull (v, &end, 10);
  return end == v ? G_MAXUINT64 : value;
}

/* G_MAXUINT64 where the hierarchy or the file is missing. */
static gboolean
read_number (const Hierarchy *h, const char *file, const char *key, guint64 *out, GError **error)
{
  g_autofree char *text = NULL;
  *out = G_MAXUINT64;
  if (h == NULL)
    return TRUE;
  if (!read_cg (h->dir, file, &text, error))
    return FALSE;
  if (text)
    *out = parse_number (text, key);
  return TRUE;
}

static gboolean
memory_stats (BerthCgroup *cg, BerthExecStats *s, GError **error)
{
  gboolean v1;
  Hierarchy *h = pick (cg, "memory", &v1);
  if (!read_number (h, v1 ? "memory.usage_in_bytes" : "memory.current", NULL, &s->memory_usage, error)
      || !read_number (h, v1 ? "memory.limit_in_bytes" : "memory.max", NULL, &s->memory_limit, error)
      || !read_number (h, v1 ? "memory.max_usage_in_bytes" : "memory.peak", NULL,
                       &s->memory_max_usage, error)
      || !read_number (h, v1 ? "memory.oom_control" : "memory.events", "oom_kill", &s->oom_kills,
                       error))
    return FALSE;
  /* v1 shows "unlimited" as the largest page-aligned long, not as "max". */
  long page = sysconf (_SC_PAGESIZE);
  if (v1 && page > 0 && s->memory_limit >= (guint64) (G_MAXINT64 / page * page))
    s->memory_limit = G_MAXUINT64;
  return TRUE;
}

static gboolean
cpu_stats (BerthCgroup *cg, BerthExecStats *s, GError **error)
{
  gboolean v1;
  Hierarchy *h = pick (cg, "cpuacct", &v1);
  if (v1)
    return read_number (h, "cpuacct.usage", NULL, &s->cpu_usage_ns, error);
  if (!read_number (h, "cpu.stat", "usage_usec", &s->cpu_usage_ns, error))
    return FALSE;
  if (s->cpu_usage_ns != G_MAXUINT64)
    s->cpu_usage_ns *= 1000;
  return TRUE;
}

static gboolean
pids_stats (BerthCgroup *cg, BerthExecStats *s, GError **error)
{
  gboolean v1;
  Hierarchy *h = pick (cg, "pids", &v1);
  return read_number (h, "pids.current", NULL, &s->pids_current, error)
         && read_number (h, "pids.max", NULL, &s->pids_limit, error);
}

/* v1: "MAJ:MIN Read N" / "MAJ:MIN Write N" lines, plus totals to skip. */
static void
sum_blkio_v1 (const char *text, BerthExecStats *s)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  s->io_read_bytes = s->io_write_bytes = 0;
  for (char **l = lines; *l; l++)
    {
      g_auto (GStrv) f = g_strsplit (*l, " ", 3);
      if (g_strv_length (f) != 3)
        continue;
      if (strcmp (f[1], "Read") == 0)
        s->io_read_bytes += g_ascii_strtoull (f[2], NULL, 10);
      else if (strcmp (f[1], "Write") == 0)
        s->io_write_bytes += g_ascii_strtoull (f[2], NULL, 10);
    }
}

/* v2: "MAJ:MIN rbytes=N wbytes=N rios=N ..." per device. */
static void
sum_io_v2 (const char *text, BerthExecStats *s)
{
  g_auto (GStrv) words = g_strsplit_set (text, " \n", -1);
  s->io_read_bytes = s->io_write_bytes = 0;
  for (char **w = words; *w; w++)
    if (g_str_has_prefix (*w, "rbytes="))
      s->io_read_bytes += g_ascii_strtoull (*w + 7, NULL, 10);
    else if (g_str_has_prefix (*w, "wbytes="))
      s->io_write_bytes += g_ascii_strtoull (*w + 7, NULL, 10);
}

static gboolean
io_stats (BerthCgroup *cg, BerthExecStats *s, GError **error)
{
  /* The throttle files count every bio; the plain ones only CFQ's. */
  static const char *const v1_files[] = { "blkio.throttle.io_service_bytes_recursive",
                                          "blkio.io_service_bytes_recursive",
                                          "blkio.io_service_bytes" };
  gboolean v1;
  Hierarchy *h = pick (cg, "blkio", &v1);
  s->io_read_bytes = s->io_write_bytes = G_MAXUINT64;
  for (guint i = 0; h && i < (v1 ? G_N_ELEMENTS (v1_files) : 1); i++)
    {
      g_autofree char *text = NULL;
      if (!read_cg (h->dir, v1 ? v1_files[i] : "io.stat", &text, error))
        return FALSE;
      if (text == NULL)
        continue;
      if (v1)
        sum_blkio_v1 (text, s);
      else
        sum_io_v2 (text, s);
      break;
    }
  return TRUE;
}

gboolean
berth_cgroup_stats (BerthCgroup *cg, BerthExecStats *stats, GError **error)
{
  /* Every figure of a cgroup that is gone would read "unknown": say so. */
  Hierarchy *h = procs_hierarchy (cg);
  if (access (h->dir, F_OK) < 0)
    return errno == ENOENT
               ? berth_fail (error, BERTH_ERROR_NOT_FOUND, "cgroup %s: no such cgroup", h->dir)
               : berth_fail_errno (error, errno, "cgroup %s", h->dir);
  return memory_stats (cg, stats, error) && cpu_stats (cg, stats, error)
         && pids_stats (cg, stats, error) && io_stats (cg, stats, error);
}

guint64
berth_cgroup_oom_kills (BerthCgroup *cg)
{
  gboolean v1;
  guint64 n = 0;
  Hierarchy *h = pick (cg, "memory", &v1);
  /* Unknown counts as none: the question asked is "was anything killed?". */
  if (!read_number (h, v1 ? "memory.oom_control" : "memory.events", "oom_kill", &n, NULL)
      || n == G_MAXUINT64)
    return 0;
  return n;
}

void
berth_cgroup_free (BerthCgroup *cg)
{
  if (cg == NULL)
    return;
  if (cg->v2_fd >= 0)
    close (cg->v2_fd);
  g_clear_pointer (&cg->hier, g_ptr_array_unref);
  g_free (cg->path);
  g_free (cg);
}
