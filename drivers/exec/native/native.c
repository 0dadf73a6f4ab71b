/* The native exec driver: berth's own runtime. clone3 into new namespaces,
 * a cgroup per container, and the child set up by init.c. Its state for a
 * container is state_dir/native.json (pid, the pid's start time so a reused
 * pid is never mistaken for the container, and the cgroup path) and, between
 * create and start, state_dir/exec.fifo. */
#include "config.h"
#include "native.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/host.h>
#include <berth/json.h>
#include <berth/capabilities.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  guint64 start_time;  /* field 22 of /proc/PID/stat */
  char *cgroup_path;
  BerthCgroup *cgroup; /* opened on demand */
} NativeState;

static void
native_state_free (gpointer data)
{
  NativeState *s = data;
  g_free (s->cgroup_path);
  berth_cgroup_free (s->cgroup);
  g_free (s);
}

static NativeState *
state_of (BerthExec *c)
{
  if (c->priv == NULL)
    c->priv = g_new0 (NativeState, 1);
  return c->priv;
}

typedef struct {
  const char *type;
  int flag;
} NamespaceType;

static const NamespaceType namespace_types[] = {
  { "pid", CLONE_NEWPID }, { "network", CLONE_NEWNET }, { "mount", CLONE_NEWNS },
  { "ipc", CLONE_NEWIPC }, { "uts", CLONE_NEWUTS }, { "user", CLONE_NEWUSER },
  { "cgroup", CLONE_NEWCGROUP },
};

/* The spec's namespaces: those made for the container (CLONE_NEW* flags)
 * and those it joins by path, opened in the parent so that a bad path is
 * an error before anything is made. */
typedef struct {
  guint made, joined;
  int fd[G_N_ELEMENTS (namespace_types)]; /* the joined ones; else -1 */
} Namespaces;

G_STATIC_ASSERT (G_N_ELEMENTS (namespace_types) == 7);
#define NAMESPACES_INIT { .fd = { -1, -1, -1, -1, -1, -1, -1 } }

static void
namespaces_close (Namespaces *ns)
{
  for (guint i = 0; i < G_N_ELEMENTS (ns->fd); i++)
    if (ns->fd[i] >= 0)
      close (ns->fd[i]);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Namespaces, namespaces_close)

/* The kernel refuses re-entering one's own user namespace (EINVAL), and a
 * container "joining" berth's own has none of its own. */
static gboolean
is_own_user_ns (int fd)
{
  struct stat own, other;
  return stat ("/proc/self/ns/user", &own) == 0 && fstat (fd, &other) == 0
         && own.st_dev == other.st_dev && own.st_ino == other.st_ino;
}

/* Is @pid in berth's own user namespace (one joined by path can be)? */
static gboolean
in_own_user_ns (pid_t pid)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/ns/user", (int) pid);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  gboolean own = fd >= 0 && is_own_user_ns (fd);
  if (fd >= 0)
    close (fd);
  return own;
}

/* Open the namespace file @path for joining @t; -1 with @error. */
static int
open_namespace (const NamespaceType *t, const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "namespace %s path %s", t->type, path), -1;
  /* setns would refuse another type too, but without naming the entry. */
  int type = ioctl (fd, NS_GET_NSTYPE);
  if (type != t->flag)
    {
      int errsv = errno;
      close (fd);
      if (type < 0 && errsv != ENOTTY)
        return berth_fail_errno (error, errsv, "namespace %s path %s", t->type, path), -1;
      return berth_fail (error, BERTH_ERROR_INVALID, "namespace %s path %s: not a %s namespace",
                         t->type, path, t->type), -1;
    }
  return fd;
}

/* Into @ns, which starts as NAMESPACES_INIT and is closed by the caller
 * even on failure. With @open_paths FALSE only the flags are worked out
 * (exec joins the container's namespaces through its first process). */
static gboolean
namespaces_parse (JsonObject *linux_, gboolean open_paths, Namespaces *ns, GError **error)
{
  JsonArray *list = berth_json_array (linux_, "namespaces");
  guint seen = 0;
  for (guint i = 0; list && i < json_array_get_length (list); i++)
    {
      JsonObject *o = berth_json_array_object (list, i);
      const char *type = berth_json_string (o, "type", "");
      const char *path = berth_json_string (o, "path", NULL);
      guint j = 0;
      while (j < G_N_ELEMENTS (namespace_types) && strcmp (namespace_types[j].type, type) != 0)
        j++;
      if (j == G_N_ELEMENTS (namespace_types))
        return berth_fail (error, BERTH_ERROR_INVALID, "namespace type '%s': unknown", type);
      const NamespaceType *t = &namespace_types[j];
      if (seen & t->flag)
        return berth_fail (error, BERTH_ERROR_INVALID, "namespace type '%s': listed twice", type);
      seen |= t->flag;
      if (path == NULL || *path == '\0')
        ns->made |= t->flag;
      else if (open_paths && (ns->fd[j] = open_namespace (t, path, error)) < 0)
        return FALSE;
      else if (open_paths && t->flag == CLONE_NEWUSER && is_own_user_ns (ns->fd[j]))
        {
          close (ns->fd[j]);
          ns->fd[j] = -1;
        }
      else
        ns->joined |= t->flag;
    }
  return TRUE;
}

/* All the container's namespaces, made or joined: what an exec joins. */
static gboolean
namespace_flags (JsonObject *linux_, guint *flags, GError **error)
{
  Namespaces ns = NAMESPACES_INIT;
  if (!namespaces_parse (linux_, FALSE, &ns, error))
    return FALSE;
  *flags = ns.made | ns.joined;
  return TRUE;
}

/* The namespaces a process must join to be in the container: all of its
 * own but a user namespace that is berth's too (setns refuses that). */
static gboolean
container_ns_flags (BerthExec *c, guint *flags, GError **error)
{
  JsonObject *linux_ = berth_json_object (berth_json_node_object (c->spec), "linux");
  if (!namespace_flags (linux_, flags, error))
    return FALSE;
  if ((*flags & CLONE_NEWUSER) && in_own_user_ns (c->pid))
    *flags &= ~CLONE_NEWUSER;
  return TRUE;
}

/* ---- saved state ---- */

static gboolean
save_state (BerthExec *c, GError **error)
{
  NativeState *s = state_of (c);
  g_autoptr (JsonObject) o = json_object_new ();
  json_object_set_int_member (o, "pid", c->pid);
  json_object_set_int_member (o, "startTime", (gint64) s->start_time);
  json_object_set_string_member (o, "cgroupsPath", s->cgroup_path);
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), o);
  g_autofree char *path = g_build_filename (c->state_dir, "native.json", NULL);
  return berth_json_write (path, node, error);
}

static gboolean
native_load (BerthExec *c, GError **error)
{
  g_autofree char *path = g_build_filename (c->state_dir, "native.json", NULL);
  g_autoptr (JsonNode) node = berth_json_read (path, error);
  if (node == NULL)
    return FALSE;
  JsonObject *o = berth_json_node_object (node);
  NativeState *s = state_of (c);
  c->pid = berth_json_int (o, "pid", 0);
  s->start_time = berth_json_int (o, "startTime", 0);
  g_free (s->cgroup_path);
  s->cgroup_path = g_strdup (berth_json_string (o, "cgroupsPath", ""));
  return TRUE;
}

/* linux.cgroupsPath, or berth's default for the container. */
static char *
spec_cgroup_path (BerthExec *c)
{
  JsonObject *linux_ = berth_json_object (berth_json_node_object (c->spec), "linux");
  const char *path = berth_json_string (linux_, "cgroupsPath", NULL);
  return path ? g_strdup (path) : g_strdup_printf ("/berth/%s", c->id);
}

static BerthCgroup *
cgroup_of (BerthExec *c, GError **error)
{
  NativeState *s = state_of (c);
  /* Not saved yet (a create under way, or killed midway): the spec says
   * where spawn makes it. */
  if (s->cgroup_path == NULL)
    s->cgroup_path = spec_cgroup_path (c);
  if (s->cgroup == NULL)
    s->cgroup = berth_cgroup_open (s->cgroup_path, error);
  return s->cgroup;
}

static gboolean
alive (BerthExec *c)
{
  NativeState *s = state_of (c);
  return c->pid > 0 && s->start_time && berth_process_start_time (c->pid) == s->start_time;
}

/* ---- starting ---- */

/* /proc/PID/@file, in one write: the kernel takes each write whole. */
static gboolean
write_proc_file (pid_t pid, const char *file, const char *text, GError **error)
{
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/%s", (int) pid, file);
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", path);
  gboolean ok = write (fd, text, strlen (text)) == (ssize_t) strlen (text);
  int errsv = errno;
  close (fd);
  return ok || berth_fail_errno (error, errsv, "write %s", path);
}

static gboolean
write_id_map (pid_t pid, const char *file, JsonArray *maps, GError **error)
{
  g_autoptr (GString) text = g_string_new (NULL);
  for (guint i = 0; maps && i < json_array_get_length (maps); i++)
    {
      JsonObject *m = berth_json_array_object (maps, i);
      g_string_append_printf (text, "%" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n",
                              berth_json_int (m, "containerID", 0), berth_json_int (m, "hostID", 0),
                              berth_json_int (m, "size", 0));
    }
  if (text->len == 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "a user namespace needs %s",
                       strcmp (file, "uid_map") == 0 ? "uidMappings" : "gidMappings");
  return write_proc_file (pid, file, text->str, error);
}

static pid_t
clone_into (guint ns_flags, int cgroup_fd)
{
  struct clone_args args = {
    .flags = ns_flags | (cgroup_fd >= 0 ? CLONE_INTO_CGROUP : 0),
    /* A CLONE_PARENT child takes its parent's exit signal; clone3 wants 0. */
    .exit_signal = (ns_flags & CLONE_PARENT) ? 0 : SIGCHLD,
    .cgroup = cgroup_fd >= 0 ? (guint64) cgroup_fd : 0,
  };
  pid_t pid = syscall (SYS_clone3, &args, sizeof args);
  if (pid < 0 && errno == ENOSYS && cgroup_fd < 0)
    pid = syscall (SYS_clone, ns_flags | SIGCHLD, NULL, NULL, NULL, NULL);
  return pid;
}

/* The child's one-line report: "E<exit code> <message>". */
static gboolean
child_failed (const char *msg, gssize len, GError **error)
{
  g_autofree char *text = g_strndup (msg + 1, len - 1);
  const char *space = strchr (text, ' ');
  /* 127 is "no such program": NOT_FOUND lets callers exit with it. */
  BerthError code = atoi (text) == 127 ? BERTH_ERROR_NOT_FOUND : BERTH_ERROR_FAILED;
  return berth_fail (error, code, "%s", space ? space + 1 : text);
}

/* Wait for the child's word @want: 'H' (mounts made, waiting for the
 * create hooks), 'R' (created, waiting for start) or, for 0, EOF (the
 * program was executed: the sync socket is close-on-exec). On the way a
 * 'T' brings the master of the pty made inside, kept in *@pty_master
 * (closed when no one asked for it). An error is what the child reported. */
static gboolean
wait_child (int sync_fd, char want, int *pty_master, GError **error)
{
  char msg[1200];
  gssize n;
  int fd;
  while ((n = berth_recv_with_fd (sync_fd, msg, sizeof msg - 1, &fd)) == 1 && msg[0] == 'T')
    {
      if (pty_master && *pty_master < 0)
        *pty_master = fd;
      else if (fd >= 0)
        close (fd);
    }
  if (fd >= 0)
    close (fd);
  if (n < 0)
    return berth_fail_errno (error, errno, "read from the container's first process");
  if (n > 0 && msg[0] == 'E')
    return child_failed (msg, n, error);
  if (want ? (n == 1 && msg[0] == want) : n == 0)
    return TRUE;
  return berth_fail (error, BERTH_ERROR_FAILED,
                     "the container's first process exited before it was set up");
}

/* In the forked helper of clone_joining: report @what as the child would
 * ("E126 ...", see child_failed) and exit. */
G_GNUC_NORETURN G_GNUC_PRINTF (3, 4) static void
helper_die (int sync_fd, int errsv, const char *fmt, ...)
{
  char what[200], msg[300];
  va_list ap;
  va_start (ap, fmt);
  vsnprintf (what, sizeof what, fmt, ap);
  va_end (ap);
  int n = snprintf (msg, sizeof msg, "E126 %s: %s", what, strerror (errsv));
  send (sync_fd, msg, MIN ((gsize) n, sizeof msg - 1), MSG_NOSIGNAL);
  _exit (126);
}

/* The helper's part: join, clone, send "P<pid>", exit. Returns only in the
 * container's first process. The user namespace is joined last: as host
 * root berth may join namespaces owned by any user namespace, and inside
 * the joined one it no longer could; namespaces made by the clone then
 * belong to the joined user namespace, as they must for the container's
 * root to mount or bring up lo in them. */
static void
join_and_clone (const Namespaces *ns, int sync_fd)
{
  int user = -1;
  for (guint j = 0; j < G_N_ELEMENTS (namespace_types); j++)
    if (ns->fd[j] >= 0 && namespace_types[j].flag == CLONE_NEWUSER)
      user = ns->fd[j];
    else if (ns->fd[j] >= 0 && setns (ns->fd[j], namespace_types[j].flag) < 0)
      helper_die (sync_fd, errno, "join the %s namespace", namespace_types[j].type);
  if (user >= 0 && setns (user, CLONE_NEWUSER) < 0)
    helper_die (sync_fd, errno, "join the user namespace");
  /* CLONE_PARENT: the container's first process is berth's child, to reap. */
  pid_t pid = clone_into (ns->made | CLONE_PARENT, -1);
  if (pid == 0)
    return;
  if (pid < 0)
    helper_die (sync_fd, errno, "clone the container's first process");
  char msg[32];
  int n = snprintf (msg, sizeof msg, "P%d", (int) pid);
  send (sync_fd, msg, n, MSG_NOSIGNAL);
  _exit (0);
}

/* Joining takes a process of its own: a multithreaded one may not setns
 * into a user namespace, and berth's own namespaces must stay as they are.
 * A forked helper joins and clones the first process (see join_and_clone).
 * Not into the cgroup: a joined cgroup namespace may not reach it, so the
 * parent moves the process there. 0 in the first process, else its pid or
 * -1 with @error. */
static pid_t
clone_joining (const Namespaces *ns, const int sv[2], GError **error)
{
  pid_t helper = fork ();
  if (helper < 0)
    return berth_fail_errno (error, errno, "fork to join the container's namespaces"), -1;
  if (helper == 0)
    {
      join_and_clone (ns, sv[1]);
      return 0;
    }
  int status;
  while (waitpid (helper, &status, 0) < 0)
    if (errno != EINTR)
      return berth_fail_errno (error, errno, "wait for the helper joining the namespaces"), -1;
  /* It has exited: whatever it said is queued already. */
  char msg[300];
  gssize n = recv (sv[0], msg, sizeof msg - 1, MSG_DONTWAIT);
  if (n > 0 && msg[0] == 'E')
    return child_failed (msg, n, error), -1;
  if (n < 2 || msg[0] != 'P' || !WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return berth_fail (error, BERTH_ERROR_FAILED,
                       "the helper joining the container's namespaces died (status %d)", status), -1;
  msg[n] = '\0';
  return atoi (msg + 1);
}

/* In a user namespace the container's root is an unprivileged host uid that
 * cannot even walk into the store (0700). So the parent clones the rootfs
 * as a detached mount, id-mapped to the container's user namespace where
 * the filesystem allows it (then the image's root-owned files are the
 * container root's), and hands it over. */
static int
rootfs_tree_for_userns (BerthExec *c, GError **error)
{
  int tree = syscall (SYS_open_tree, AT_FDCWD, c->rootfs,
                      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree < 0)
    return berth_fail_errno (error, errno, "clone the mount of %s", c->rootfs), -1;
  char path[64];
  snprintf (path, sizeof path, "/proc/%d/ns/user", (int) c->pid);
  int userns = open (path, O_RDONLY | O_CLOEXEC);
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = userns };
  if (userns < 0
      || syscall (SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
    g_debug ("%s: no id-mapped mount (%s): files keep their host owners", c->rootfs,
             g_strerror (errno));
  if (userns >= 0)
    close (userns);
  return tree;
}

/* "G", with the rootfs tree attached for a user namespace. */
static gboolean
send_go (int sync_fd, int tree, GError **error)
{
  if (berth_send_with_fd (sync_fd, "G", 1, tree) != 1)
    return berth_fail_errno (error, errno, "release the container's first process");
  return TRUE;
}

/* A joined user namespace has its id maps already; the rootfs tree is for
 * a container that sets up its own root in one. */
/* process.oomScoreAdj, written by the parent as runc writes it: from a
 * user namespace the child may not lower it (CAP_SYS_RESOURCE is the
 * host's). */
static gboolean
set_oom_score_adj (BerthExec *c, GError **error)
{
  JsonObject *process = berth_json_object (berth_json_node_object (c->spec), "process");
  if (process == NULL || !json_object_has_member (process, "oomScoreAdj"))
    return TRUE;
  g_autofree char *value = g_strdup_printf ("%" G_GINT64_FORMAT,
                                            berth_json_int (process, "oomScoreAdj", 0));
  return write_proc_file (c->pid, "oom_score_adj", value, error);
}

static gboolean
release_child (BerthExec *c, const Namespaces *ns, int sync_fd, BerthCgroup *cg,
               gboolean into_cgroup, GError **error)
{
  JsonObject *linux_ = berth_json_object (berth_json_node_object (c->spec), "linux");
  if ((ns->made & CLONE_NEWUSER)
      && (!write_id_map (c->pid, "uid_map", berth_json_array (linux_, "uidMappings"), error)
          || !write_id_map (c->pid, "gid_map", berth_json_array (linux_, "gidMappings"), error)))
    return FALSE;
  if (!into_cgroup && !berth_cgroup_enter (cg, c->pid, error))
    return FALSE;
  if (into_cgroup && !berth_cgroup_apply_cpuset (cg, c->pid, error))
    return FALSE;
  if (!set_oom_score_adj (c, error))
    return FALSE;
  gboolean want_tree = ((ns->made | ns->joined) & CLONE_NEWUSER) && (ns->made & CLONE_NEWNS);
  int tree = want_tree ? rootfs_tree_for_userns (c, error) : -1;
  if (want_tree && tree < 0)
    return FALSE;
  gboolean ok = send_go (sync_fd, tree, error);
  if (tree >= 0)
    close (tree);
  return ok;
}

static void
reap (pid_t pid)
{
  kill (pid, SIGKILL);
  while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
    ;
}

static char *
fifo_path (BerthExec *c)
{
  return g_build_filename (c->state_dir, "exec.fifo", NULL);
}

/* The host id @maps (uidMappings or gidMappings) gives container id 0,
 * or -1 (chown's "unchanged") where 0 is not mapped. */
static gint64
host_root_id (JsonArray *maps)
{
  for (guint i = 0; maps && i < json_array_get_length (maps); i++)
    {
      JsonObject *m = berth_json_array_object (maps, i);
      gint64 first = berth_json_int (m, "containerID", -1), size = berth_json_int (m, "size", 0);
      if (first == 0 && size > 0)
        return berth_json_int (m, "hostID", -1);
    }
  return -1;
}

/* In a user namespace the child that opens the fifo is the container's
 * root, an unprivileged host user: the fifo is made its own, as runc does. */
static int
make_exec_fifo (BerthExec *c, JsonObject *linux_, gboolean userns, GError **error)
{
  g_autofree char *path = fifo_path (c);
  if (mkfifo (path, 0600) < 0)
    return berth_fail_errno (error, errno, "mkfifo %s", path), -1;
  if (userns
      && chown (path, host_root_id (berth_json_array (linux_, "uidMappings")),
                host_root_id (berth_json_array (linux_, "gidMappings"))) < 0)
    {
      berth_fail_errno (error, errno, "chown %s to the container's root", path);
      unlink (path);
      return -1;
    }
  int fd = open (path, O_PATH | O_CLOEXEC);
  if (fd < 0)
    {
      berth_fail_errno (error, errno, "open %s", path);
      unlink (path);
    }
  return fd;
}

static const char *const create_hook_kinds[] = { "prestart", "createRuntime", "createContainer", NULL };
static const char *const all_hook_kinds[] = { "prestart", "createRuntime", "createContainer",
                                              "startContainer", "poststart", "poststop", NULL };

/* With create hooks the child stops before pivot_root ('H') while they
 * run, so createContainer sees the container's namespaces with the host's
 * tree still its root; then the child goes on. *@hook_failed tells a
 * failed hook from a failed setup: after the former the spec's life cycle
 * goes on to destroying the container and its poststop hooks. */
static gboolean
run_create_hooks (BerthExec *c, BerthInitPlan *plan, int sync_fd, int *pty_master,
                  gboolean *hook_failed, GError **error)
{
  guint flags;
  if (!plan->pause_for_hooks)
    return TRUE;
  if (!wait_child (sync_fd, 'H', pty_master, error) || !container_ns_flags (c, &flags, error))
    return FALSE;
  if (!berth_native_hooks_create (c, flags, error))
    {
      *hook_failed = TRUE;
      return FALSE;
    }
  if (send (sync_fd, "G", 1, MSG_NOSIGNAL) != 1)
    return berth_fail_errno (error, errno, "release the container's first process after its hooks");
  return TRUE;
}

static gboolean
spawn (BerthExec *c, const BerthExecStdio *stdio, gboolean create_only, GError **error)
{
  JsonObject *spec = berth_json_node_object (c->spec);
  JsonObject *linux_ = berth_json_object (spec, "linux");
  g_auto (Namespaces) ns = NAMESPACES_INIT;
  if (!namespaces_parse (linux_, TRUE, &ns, error))
    return FALSE;
  g_autoptr (BerthInitPlan) plan = berth_init_plan_new (spec, c->rootfs, ns.made, ns.joined, stdio,
                                                        error);
  if (plan == NULL)
    return FALSE;
  plan->pause_for_hooks = berth_native_has_hooks (c, create_hook_kinds);
  if (berth_native_has_hooks (c, all_hook_kinds) && !berth_native_hooks_check (c, error))
    return FALSE;
  NativeState *s = state_of (c);
  g_free (s->cgroup_path);
  s->cgroup_path = spec_cgroup_path (c);
  g_autoptr (BerthCgroup) cg = berth_cgroup_create (s->cgroup_path,
                                                    berth_json_object (linux_, "resources"), error);
  if (cg == NULL)
    return FALSE;
  /* The same hierarchies the cgroup was made in, without reading mountinfo twice. */
  if (plan->mounts_cgroup)
    {
      plan->cgroup_hierarchies = berth_cgroup_hierarchy_names (cg);
      plan->cgroup_dirs = berth_cgroup_dirs (cg);
    }
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    {
      berth_cgroup_destroy (cg, NULL);
      return berth_fail_errno (error, errno, "socketpair");
    }
  plan->sync_fd = sv[1];
  if (create_only
      && (plan->exec_fifo_fd = make_exec_fifo (c, linux_, (ns.made & CLONE_NEWUSER) != 0, error)) < 0)
    {
      close (sv[0]);
      close (sv[1]);
      berth_cgroup_destroy (cg, NULL);
      return FALSE;
    }
  int cgroup_fd = ns.joined ? -1 : berth_cgroup_v2_fd (cg);
  /* clone roots a new cgroup namespace in the cgroup the child starts in:
   * the container's with CLONE_INTO_CGROUP (v2), else berth's own. Then the
   * child makes it, once the parent has moved it into the container's. */
  plan->unshare_cgroup_ns = (ns.made & CLONE_NEWCGROUP) && cgroup_fd < 0;
  if (plan->unshare_cgroup_ns)
    ns.made &= ~CLONE_NEWCGROUP;
  pid_t pid = ns.joined ? clone_joining (&ns, sv, error) : clone_into (ns.made, cgroup_fd);
  if (pid == 0)
    {
      close (sv[0]);
      berth_init_container (plan);
    }
  int errsv = errno;
  close (sv[1]);
  if (plan->exec_fifo_fd >= 0)
    close (plan->exec_fifo_fd);
  gboolean ok, hook_failed = FALSE;
  int pty_master = -1;
  if (pid < 0) /* clone_joining has said why */
    ok = ns.joined ? FALSE : berth_fail_errno (error, errsv, "clone the container's first process");
  else
    {
      c->pid = pid;
      ok = release_child (c, &ns, sv[0], cg, cgroup_fd >= 0, error)
           && run_create_hooks (c, plan, sv[0], &pty_master, &hook_failed, error)
           && wait_child (sv[0], create_only ? 'R' : 0, &pty_master, error);
    }
  close (sv[0]);
  if (ok && plan->terminal && pty_master < 0)
    ok = berth_fail (error, BERTH_ERROR_FAILED, "the container's first process sent no terminal");
  if (ok && plan->terminal)
    *stdio->pty_master = g_steal_fd (&pty_master);
  if (pty_master >= 0)
    close (pty_master);
  if (ok)
    {
      s->start_time = berth_process_start_time (pid);
      s->cgroup = g_steal_pointer (&cg);
      return save_state (c, error);
    }
  if (pid > 0)
    reap (pid);
  c->pid = 0;
  if (create_only)
    {
      g_autofree char *fifo = fifo_path (c);
      unlink (fifo);
    }
  berth_cgroup_destroy (cg, NULL);
  if (hook_failed)
    berth_native_hooks_after (c, "poststop", "stopped");
  return FALSE;
}

static gboolean
native_create (BerthExec *c, const BerthExecStdio *stdio, GError **error)
{
  return spawn (c, stdio, TRUE, error);
}

static gboolean native_start (BerthExec *c, GError **error);

/* Hooks have points between create and start: then run is the two. */
static gboolean
native_run (BerthExec *c, const BerthExecStdio *stdio, GError **error)
{
  if (berth_native_has_hooks (c, all_hook_kinds))
    return spawn (c, stdio, TRUE, error) && native_start (c, error);
  return spawn (c, stdio, FALSE, error);
}

/* startContainer, in the container; a failure stops the container, as
 * the spec has it. */
static gboolean
run_start_hooks (BerthExec *c, GError **error)
{
  const char *const kinds[] = { "startContainer", NULL };
  guint flags;
  if (!berth_native_has_hooks (c, kinds))
    return TRUE;
  if (container_ns_flags (c, &flags, error) && berth_native_hooks_start (c, flags, error))
    return TRUE;
  int pidfd = syscall (SYS_pidfd_open, c->pid, 0);
  if (pidfd >= 0)
    {
      syscall (SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
      close (pidfd);
    }
  return FALSE;
}

/* Opening exec.fifo for reading lets the waiting child's open for writing
 * return; its one byte says it went on to exec. */
static gboolean
native_start (BerthExec *c, GError **error)
{
  g_autofree char *path = fifo_path (c);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return berth_fail (error, BERTH_ERROR_INVALID, "container %s was not created or is already started",
                       c->id);
  if (!run_start_hooks (c, error))
    return FALSE;
  int fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "container %s was not created or is already started: open %s", c->id, path);
  gboolean ok = FALSE;
  for (int waited = 0; waited < 10000 && !ok; waited += 10)
    {
      struct pollfd p = { .fd = fd, .events = POLLIN };
      char byte;
      if (poll (&p, 1, 10) > 0 && read (fd, &byte, 1) == 1)
        ok = TRUE;
      else if (!alive (c))
        break;
    }
  close (fd);
  if (!ok)
    return berth_fail (error, BERTH_ERROR_FAILED, "container %s: its first process did not start",
                       c->id);
  unlink (path);
  berth_native_hooks_after (c, "poststart", "running");
  return TRUE;
}

/* ---- exec ---- */

static pid_t
pidfd_of (BerthExec *c, GError **error)
{
  int fd = syscall (SYS_pidfd_open, c->pid, 0);
  if (fd < 0 || !alive (c))
    {
      if (fd >= 0)
        close (fd);
      berth_fail (error, BERTH_ERROR_FAILED, "container %s is not running", c->id);
      return -1;
    }
  return fd;
}

/* Back into berth's own pid namespace (an fd of /proc/self/ns/pid) for the
 * children made from now on; closes @fd. A failure leaves them in the
 * container's: worth a warning, not failing an exec that has started. */
static void
restore_pidns (int fd)
{
  if (fd < 0)
    return;
  if (setns (fd, CLONE_NEWPID) < 0)
    g_warning ("cannot rejoin berth's own pid namespace: %s", g_strerror (errno));
  close (fd);
}

static pid_t
native_exec (BerthExec *c, JsonObject *process, const BerthExecStdio *stdio, GError **error)
{
  JsonObject *linux_ = berth_json_object (berth_json_node_object (c->spec), "linux");
  guint flags;
  if (!container_ns_flags (c, &flags, error))
    return 0;
  g_autoptr (BerthInitPlan) plan = g_new0 (BerthInitPlan, 1);
  plan->exec_fifo_fd = -1;
  plan->rootfs_tree = -1;
  plan->helper_fd = berth_exec_helper_memfd (error);
  if (plan->helper_fd < 0)
    return 0;
  plan->stdio[0] = stdio ? stdio->in : -1;
  plan->stdio[1] = stdio ? stdio->out : -1;
  plan->stdio[2] = stdio ? stdio->err : -1;
  if (!berth_init_plan_process (plan, process, error))
    return 0;
  if (!berth_init_plan_terminal (plan, stdio, error))
    return 0;
  g_autofree char *container_root = g_strdup_printf ("/proc/%d/root", (int) c->pid);
  berth_init_plan_default_home (plan, container_root);
  JsonObject *seccomp = berth_json_object (linux_, "seccomp");
  if (seccomp && (plan->seccomp = berth_seccomp_compile (seccomp, error)) == NULL)
    return 0;
  BerthCgroup *cg = cgroup_of (c, error);
  if (cg == NULL)
    return 0;
  int pidfd = pidfd_of (c, error);
  if (pidfd < 0)
    return 0;
  /* Joining the pid namespace only affects our children; the rest is
   * joined by the child itself, atomically, through the pidfd. Our own
   * pid namespace is joined back right after the fork, so that no later
   * child of ours lands in the container's (LeakSanitizer's tracer did,
   * and then waited for a parent it could not see, forever). */
  int sv[2] = { -1, -1 };
  int own_pidns = -1;
  if ((flags & CLONE_NEWPID)
      && ((own_pidns = open ("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC)) < 0
          || setns (pidfd, CLONE_NEWPID) < 0))
    {
      berth_fail_errno (error, errno, "join the pid namespace of %s", c->id);
      if (own_pidns >= 0)
        close (own_pidns);
      close (pidfd);
      return 0;
    }
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    {
      berth_fail_errno (error, errno, "socketpair");
      restore_pidns (own_pidns);
      close (pidfd);
      return 0;
    }
  plan->sync_fd = sv[1];
  pid_t pid = fork ();
  if (pid == 0)
    {
      close (sv[0]);
      guint join = flags & ~(CLONE_NEWPID);
      if (join && setns (pidfd, join) < 0)
        {
          char msg[256];
          int n = snprintf (msg, sizeof msg, "E126 join the namespaces of the container: %s",
                            strerror (errno));
          send (sv[1], msg, n, MSG_NOSIGNAL);
          _exit (126);
        }
      close (pidfd);
      berth_init_exec (plan);
    }
  int errsv = errno;
  restore_pidns (own_pidns);
  close (pidfd);
  close (sv[1]);
  gboolean ok = pid > 0 ? TRUE : berth_fail_errno (error, errsv, "fork");
  ok = ok && berth_cgroup_enter (cg, pid, error);
  ok = ok && (send (sv[0], "G", 1, MSG_NOSIGNAL) == 1
              || berth_fail_errno (error, errno, "release the exec'd process"));
  int pty_master = -1;
  ok = ok && wait_child (sv[0], 0, &pty_master, error);
  close (sv[0]);
  if (ok && plan->terminal && pty_master < 0)
    ok = berth_fail (error, BERTH_ERROR_FAILED, "the exec'd process sent no terminal");
  if (ok && plan->terminal)
    *stdio->pty_master = g_steal_fd (&pty_master);
  if (pty_master >= 0)
    close (pty_master);
  if (!ok && pid > 0)
    reap (pid);
  return ok ? pid : 0;
}

/* ---- control ---- */

static gboolean
native_kill (BerthExec *c, int signal, gboolean all, GError **error)
{
  if (all)
    {
      BerthCgroup *cg = cgroup_of (c, error);
      return cg && berth_cgroup_kill (cg, signal, error);
    }
  int pidfd = pidfd_of (c, error);
  if (pidfd < 0)
    return FALSE;
  int r = syscall (SYS_pidfd_send_signal, pidfd, signal, NULL, 0);
  int errsv = errno;
  close (pidfd);
  return r == 0 || berth_fail_errno (error, errsv, "send signal %d to %s", signal, c->id);
}

static gboolean
native_pause (BerthExec *c, GError **error)
{
  BerthCgroup *cg = cgroup_of (c, error);
  return cg && berth_cgroup_freeze (cg, TRUE, error);
}

static gboolean
native_unpause (BerthExec *c, GError **error)
{
  BerthCgroup *cg = cgroup_of (c, error);
  return cg && berth_cgroup_freeze (cg, FALSE, error);
}

static gboolean
native_state (BerthExec *c, BerthExecStatus *status, GError **error)
{
  (void) error;
  g_autofree char *fifo = fifo_path (c);
  if (!alive (c))
    *status = BERTH_EXEC_STOPPED;
  else if (g_file_test (fifo, G_FILE_TEST_EXISTS))
    *status = BERTH_EXEC_CREATED;
  else
    {
      BerthCgroup *cg = cgroup_of (c, NULL);
      *status = cg && berth_cgroup_is_frozen (cg) ? BERTH_EXEC_PAUSED : BERTH_EXEC_RUNNING;
    }
  return TRUE;
}

static gboolean
native_stats (BerthExec *c, BerthExecStats *stats, GError **error)
{
  BerthCgroup *cg = cgroup_of (c, error);
  return cg && berth_cgroup_stats (cg, stats, error);
}

static gboolean
native_update (BerthExec *c, JsonObject *resources, GError **error)
{
  BerthCgroup *cg = cgroup_of (c, error);
  return cg && berth_cgroup_update (cg, resources, error);
}

static GArray *
native_pids (BerthExec *c, GError **error)
{
  BerthCgroup *cg = cgroup_of (c, error);
  return cg ? berth_cgroup_pids (cg, error) : NULL;
}

static gboolean
native_oom_killed (BerthExec *c)
{
  BerthCgroup *cg = cgroup_of (c, NULL);
  return cg && berth_cgroup_oom_kills (cg) > 0;
}

static gboolean
native_delete (BerthExec *c, GError **error)
{
  BerthCgroup *cg = cgroup_of (c, error);
  if (cg == NULL || !berth_cgroup_destroy (cg, error))
    return FALSE;
  g_autofree char *fifo = fifo_path (c);
  g_autofree char *state = g_build_filename (c->state_dir, "native.json", NULL);
  if ((unlink (fifo) < 0 && errno != ENOENT))
    return berth_fail_errno (error, errno, "remove %s", fifo);
  gboolean saved = unlink (state) == 0;
  if (!saved && errno != ENOENT)
    return berth_fail_errno (error, errno, "remove %s", state);
  /* Once per container that was made: a second delete (of a container
   * its monitor already cleaned up after) has nothing to report. */
  if (saved)
    berth_native_hooks_after (c, "poststop", "stopped");
  return TRUE;
}

static gboolean
native_probe (GError **error)
{
  if (access ("/proc/self/ns/pid", F_OK) < 0 || access ("/proc/self/ns/cgroup", F_OK) < 0)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                       "the kernel lacks pid or cgroup namespaces (/proc/self/ns)");
  if (access ("/sys/fs/cgroup", F_OK) < 0)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "no cgroup filesystem at /sys/fs/cgroup");
  return TRUE;
}

/* The kernel's seccomp, not only libseccomp's: the default profile is
 * loaded into every container, so a kernel without it fails every start. */
static char *
seccomp_status (void)
{
  const struct scmp_version *v = seccomp_version ();
  if (prctl (PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
    return g_strdup_printf ("no: the kernel lacks it (prctl PR_GET_SECCOMP: %s); "
                            "libseccomp %u.%u.%u",
                            g_strerror (errno), v->major, v->minor, v->micro);
  return g_strdup_printf ("libseccomp %u.%u.%u, kernel API level %u", v->major, v->minor, v->micro,
                          seccomp_api_get ());
}

static void
native_status (GPtrArray *pairs)
{
  berth_host_cgroup_status (pairs);
  berth_host_userns_status (pairs);
  g_ptr_array_add (pairs, g_strdup ("seccomp"));
  g_ptr_array_add (pairs, seccomp_status ());
}

/* features.md: what a bundle may ask of this driver on this host. */
static void
native_features (JsonObject *features)
{
  json_object_set_array_member (features, "mountOptions", berth_init_mount_options ());
  JsonObject *linux_ = json_object_new ();
  JsonArray *namespaces = json_array_new ();
  for (guint i = 0; i < G_N_ELEMENTS (namespace_types); i++)
    json_array_add_string_element (namespaces, namespace_types[i].type);
  json_object_set_array_member (linux_, "namespaces", namespaces);
  json_object_set_member (linux_, "capabilities",
                          berth_json_strv_node ((char *const *) berth_all_capabilities ()));
  JsonObject *cgroup = json_object_new ();
  const char *layout = berth_host_cgroup_layout ();
  gboolean hybrid = g_strcmp0 (layout, "hybrid") == 0;
  json_object_set_boolean_member (cgroup, "v1", hybrid || g_strcmp0 (layout, "v1") == 0);
  json_object_set_boolean_member (cgroup, "v2", hybrid || g_strcmp0 (layout, "v2") == 0);
  json_object_set_boolean_member (cgroup, "systemd", FALSE);
  json_object_set_boolean_member (cgroup, "systemdUser", FALSE);
  g_autofree char *controllers = NULL;
  json_object_set_boolean_member (cgroup, "rdma",
                                  g_file_get_contents ("/proc/cgroups", &controllers, NULL, NULL)
                                      && strstr (controllers, "\nrdma\t") != NULL);
  json_object_set_object_member (linux_, "cgroup", cgroup);
  json_object_set_object_member (linux_, "seccomp", berth_seccomp_features ());
  JsonObject *off = json_object_new ();
  json_object_set_boolean_member (off, "enabled", FALSE);
  json_object_set_object_member (linux_, "apparmor", json_object_ref (off));
  json_object_set_object_member (linux_, "selinux", off);
  json_object_set_object_member (features, "linux", linux_);
}

const BerthExecOps berth_exec_native_ops = {
  .name = "native",
  .probe = native_probe,
  .status = native_status,
  .load = native_load,
  .create = native_create,
  .start = native_start,
  .run = native_run,
  .exec = native_exec,
  .kill = native_kill,
  .pause = native_pause,
  .unpause = native_unpause,
  .state = native_state,
  .stats = native_stats,
  .update = native_update,
  .pids = native_pids,
  .oom_killed = native_oom_killed,
  .delete = native_delete,
  .features = native_features,
  .free_priv = native_state_free,
};
