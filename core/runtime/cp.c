/* berth cp: files between a container and the host, as docker cp copies
 * them. The container side is its root filesystem as its processes see it,
 * mounts included: a running container's through /proc/PID/root, a stopped
 * one's mounted for the copy with its volumes and binds placed on it in a
 * mount namespace of the copying process's own (so nothing outlives it).
 * Files move as a tar stream from one side's tar writer to the other's
 * extractor, so the container side is never resolved outside its root. */
#include "config.h"
#include "runtime-internal.h"
#include <berth/archive.h>
#include <berth/error.h>
#include <berth/json.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Where one end's paths resolve: inside a container's root, or on the host. */
typedef struct {
  int root_fd;        /* the container's root; -1 for the host */
  const char *label;  /* "CONTAINER:" or "" */
} CopySide;

/* A path as cp takes it, split as Docker reads it: a trailing "/" asks for
 * a directory, a trailing "/." for a directory's contents. */
typedef struct {
  char *path;     /* cleaned, no trailing "/" (the root stays "/") */
  char *dir;      /* its parent */
  char *base;     /* its last component; "." for a root */
  gboolean wants_dir, contents;
  const char *raw;
} CopyPath;

static void
copy_path_clear (CopyPath *p)
{
  g_free (p->path);
  g_free (p->dir);
  g_free (p->base);
}

static void
copy_path_init (CopyPath *p, const CopySide *side, const char *raw)
{
  gsize n = strlen (raw);
  p->raw = raw;
  p->contents = strcmp (raw, ".") == 0 || (n >= 2 && strcmp (raw + n - 2, "/.") == 0);
  p->wants_dir = p->contents || (n > 0 && raw[n - 1] == '/');
  g_autofree char *joined = side->root_fd >= 0 && !g_path_is_absolute (raw)
                              ? g_strconcat ("/", raw, NULL) : g_strdup (raw);
  g_autofree char *canon = g_canonicalize_filename (joined, side->root_fd >= 0 ? "/" : NULL);
  p->path = g_steal_pointer (&canon);
  p->dir = g_path_get_dirname (p->path);
  p->base = strcmp (p->path, "/") == 0 ? g_strdup (".") : g_path_get_basename (p->path);
}

static int
side_open (const CopySide *side, const char *path, int flags)
{
  if (side->root_fd < 0)
    return open (path, flags | O_CLOEXEC);
  while (path[0] == '/')
    path++;
  return berth_open_in_root (side->root_fd, path[0] ? path : ".", flags);
}

/* stat of @p, following a final symlink when @follow; FALSE with errno. */
static gboolean
side_stat (const CopySide *side, const CopyPath *p, gboolean follow, struct stat *st)
{
  int fd = side_open (side, follow ? p->path : p->dir, O_PATH);
  if (fd < 0)
    return FALSE;
  int r = follow || strcmp (p->base, ".") == 0 ? fstat (fd, st)
                                                : fstatat (fd, p->base, st, AT_SYMLINK_NOFOLLOW);
  int errsv = errno;
  close (fd);
  errno = errsv;
  return r == 0;
}

static gboolean
path_error (GError **error, int errsv, const CopySide *side, const CopyPath *p)
{
  if (errsv == ENOENT)
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "%s%s: no such file or directory",
                       side->label, p->raw);
  return berth_fail_errno (error, errsv, "%s%s", side->label, p->raw);
}

typedef struct {
  int out_fd;
  int src_dir_fd;
  const char *src_base, *name;
  GError *error;
} Producer;

static gpointer
produce_tar (gpointer data)
{
  Producer *pr = data;
  g_autoptr (BerthTarWriter) w = berth_tar_writer_new (pr->out_fd, &pr->error);
  if (w && berth_tar_writer_add_subtree (w, pr->src_dir_fd, pr->src_base, pr->name, &pr->error))
    berth_tar_writer_finish (w, &pr->error);
  return NULL;
}

/* Stream @src_base under @src_dir_fd as @name into @dst_dir_fd (@dst_dir_fd
 * -1: the tar to @out_fd). A writer thread feeds the extractor a pipe. */
static gboolean
stream_copy (int src_dir_fd, const char *src_base, const char *name, int dst_dir_fd, int out_fd,
             gint64 uid, gint64 gid, GError **error)
{
  Producer pr = { .out_fd = out_fd, .src_dir_fd = src_dir_fd, .src_base = src_base,
                  .name = name };
  if (dst_dir_fd < 0)
    {
      produce_tar (&pr);
      if (pr.error)
        g_propagate_error (error, pr.error);
      return pr.error == NULL;
    }
  int fds[2];
  if (pipe2 (fds, O_CLOEXEC) < 0)
    return berth_fail_errno (error, errno, "pipe");
  pr.out_fd = fds[1];
  GThread *t = g_thread_new ("berth-cp-tar", produce_tar, &pr);
  g_autoptr (GError) extract_error = NULL;
  gint64 r = berth_archive_extract_owned (dst_dir_fd, fds[0], uid, gid, &extract_error);
  close (fds[0]); /* a writer still writing gets EPIPE instead of waiting */
  g_thread_join (t);
  close (fds[1]);
  if (pr.error)
    {
      g_propagate_error (error, pr.error);
      return FALSE;
    }
  if (r < 0)
    {
      g_propagate_error (error, g_steal_pointer (&extract_error));
      return FALSE;
    }
  return TRUE;
}

/* -L: the final symlinks of @p followed on its side, as paths. */
static gboolean
follow_source (const CopySide *side, CopyPath *p, GError **error)
{
  for (int hops = 0; hops < 40; hops++)
    {
      struct stat st;
      if (!side_stat (side, p, FALSE, &st))
        return path_error (error, errno, side, p);
      if (!S_ISLNK (st.st_mode))
        return TRUE;
      int dfd = side_open (side, p->dir, O_PATH | O_DIRECTORY);
      char target[4096];
      ssize_t n = dfd >= 0 ? readlinkat (dfd, p->base, target, sizeof target - 1) : -1;
      int errsv = errno;
      if (dfd >= 0)
        close (dfd);
      if (n < 0)
        return path_error (error, errsv, side, p);
      target[n] = '\0';
      g_autofree char *next = g_path_is_absolute (target)
                                ? g_strdup (target) : g_build_filename (p->dir, target, NULL);
      const char *raw = p->raw;
      gboolean wants_dir = p->wants_dir, contents = p->contents;
      copy_path_clear (p);
      copy_path_init (p, side, next);
      p->raw = raw;
      p->wants_dir = wants_dir;
      p->contents = contents;
    }
  return berth_fail (error, BERTH_ERROR_INVALID, "%s%s: too many levels of symbolic links",
                     side->label, p->raw);
}

/* Docker's rules: where @src lands under @dst, as a directory to extract
 * into (@dst_dir) and the name it takes there (@name; "" for a source
 * directory's contents). */
static gboolean
place (const CopySide *from, const CopyPath *src, gboolean src_is_dir, const CopySide *to,
       const CopyPath *dst, const char **dst_dir, const char **name, GError **error)
{
  struct stat st;
  if (side_stat (to, dst, TRUE, &st))
    {
      if (!S_ISDIR (st.st_mode))
        {
          if (src_is_dir)
            return berth_fail (error, BERTH_ERROR_INVALID, "cannot copy directory %s%s onto "
                               "file %s%s", from->label, src->raw, to->label, dst->raw);
          if (dst->wants_dir)
            return berth_fail (error, BERTH_ERROR_INVALID, "%s%s: not a directory", to->label,
                               dst->raw);
          *dst_dir = dst->dir;
          *name = dst->base;
          return TRUE;
        }
      *dst_dir = dst->path;
      *name = src_is_dir && src->contents ? "" : src->base;
      if (strcmp (*name, ".") == 0)
        *name = "";
      return TRUE;
    }
  if (errno != ENOENT)
    return path_error (error, errno, to, dst);
  if (dst->wants_dir && !src_is_dir)
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "%s%s: the destination directory does "
                       "not exist", to->label, dst->raw);
  struct stat parent;
  CopyPath up = { .path = dst->dir, .dir = dst->dir, .base = (char *) ".", .raw = dst->raw };
  if (!side_stat (to, &up, TRUE, &parent))
    return path_error (error, errno, to, &up);
  if (!S_ISDIR (parent.st_mode))
    return berth_fail (error, BERTH_ERROR_INVALID, "%s%s: %s is not a directory", to->label,
                       dst->raw, dst->dir);
  *dst_dir = dst->dir;
  *name = dst->base;
  return TRUE;
}

typedef struct {
  const CopySide *from, *to;
  const char *src, *dst;    /* "-": a tar on stdin / stdout */
  gboolean follow;
  gint64 uid, gid;          /* the owner copied entries get; -1: the source's */
} CopyRequest;

static gboolean
copy_from_stdin (const CopyRequest *r, GError **error)
{
  CopyPath dst = { 0 };
  copy_path_init (&dst, r->to, r->dst);
  int fd = side_open (r->to, dst.path, O_RDONLY | O_DIRECTORY);
  gboolean ok = fd >= 0;
  if (!ok)
    path_error (error, errno, r->to, &dst);
  else if (berth_archive_extract_owned (fd, STDIN_FILENO, r->uid, r->gid, error) < 0)
    ok = (g_prefix_error (error, "%s%s: ", r->to->label, r->dst), FALSE);
  if (fd >= 0)
    close (fd);
  copy_path_clear (&dst);
  return ok;
}

static gboolean
copy_request (const CopyRequest *r, GError **error)
{
  if (strcmp (r->src, "-") == 0)
    return copy_from_stdin (r, error);
  CopyPath src = { 0 }, dst = { 0 };
  copy_path_init (&src, r->from, r->src);
  gboolean to_stdout = strcmp (r->dst, "-") == 0;
  if (!to_stdout)
    copy_path_init (&dst, r->to, r->dst);
  struct stat st;
  gboolean ok = !r->follow || follow_source (r->from, &src, error);
  if (ok && !side_stat (r->from, &src, src.wants_dir, &st))
    ok = path_error (error, errno, r->from, &src);
  if (ok && src.wants_dir && !S_ISDIR (st.st_mode))
    ok = berth_fail (error, BERTH_ERROR_INVALID, "%s%s: not a directory", r->from->label,
                     src.raw);
  const char *dst_dir = NULL, *name = src.base;
  if (ok && !to_stdout)
    ok = place (r->from, &src, S_ISDIR (st.st_mode), r->to, &dst, &dst_dir, &name, error);
  /* a source given as "dir/" means the directory, not a symlink to it */
  int src_fd = -1, dst_fd = -1;
  if (ok)
    {
      src_fd = side_open (r->from, src.wants_dir ? src.path : src.dir, O_PATH | O_DIRECTORY);
      if (src_fd < 0)
        ok = path_error (error, errno, r->from, &src);
    }
  if (ok && dst_dir && (dst_fd = side_open (r->to, dst_dir, O_RDONLY | O_DIRECTORY)) < 0)
    ok = berth_fail_errno (error, errno, "%s%s", r->to->label, dst_dir);
  const char *base = src.wants_dir ? "." : src.base;
  if (ok && to_stdout && strcmp (name, ".") == 0)
    name = "";
  if (ok && !stream_copy (src_fd, base, name, dst_fd, STDOUT_FILENO, r->uid, r->gid, error))
    ok = to_stdout ? g_prefix_error (error, "%s%s: ", r->from->label, src.raw), FALSE
                   : (g_prefix_error (error, "%s%s: ", r->to->label, dst.raw), FALSE);
  if (src_fd >= 0)
    close (src_fd);
  if (dst_fd >= 0)
    close (dst_fd);
  copy_path_clear (&src);
  if (!to_stdout)
    copy_path_clear (&dst);
  return ok;
}

/* ------------------------------------------------------ the container side */

static gboolean
has_option (JsonObject *mount, const char *option)
{
  JsonArray *opts = berth_json_array (mount, "options");
  for (guint i = 0; opts && i < json_array_get_length (opts); i++)
    {
      JsonNode *n = json_array_get_element (opts, i);
      if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
          && strcmp (json_node_get_string (n), option) == 0)
        return TRUE;
    }
  return FALSE;
}

/* The bind at @destination, opened afresh (an fd opened before the bind
 * names what it covers), made read-only. */
static gboolean
make_read_only (int root_fd, const char *destination, GError **error)
{
  int fd = berth_open_in_root (root_fd, destination + (destination[0] == '/'), O_PATH);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s for the copy", destination);
  g_autofree char *at = g_strdup_printf ("/proc/self/fd/%d", fd);
  gboolean ok = mount (NULL, at, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) == 0
                || berth_fail_errno (error, errno, "make %s read-only for the copy", destination);
  close (fd);
  return ok;
}

/* @destination inside @root_fd, made as a start makes it when missing (a
 * directory, or an empty file for a file @source): docker cp places a
 * never-started container's volumes too. An O_PATH fd, or -1. */
static int
open_mountpoint (int root_fd, const char *destination, const char *source, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (destination, "/", -1);
  g_autoptr (GString) done = g_string_new (NULL);
  struct stat st;
  gboolean file = stat (source, &st) == 0 && !S_ISDIR (st.st_mode);
  guint n = g_strv_length (parts);
  for (guint i = 0; i < n; i++)
    {
      if (parts[i][0] == '\0' || strcmp (parts[i], ".") == 0)
        continue;
      int parent = berth_open_in_root (root_fd, done->len ? done->str : ".",
                                       O_PATH | O_DIRECTORY);
      if (parent < 0)
        return berth_fail_errno (error, errno, "open %s for the copy", done->str), -1;
      gboolean last = i + 1 == n;
      int r = last && file ? mknodat (parent, parts[i], S_IFREG | 0644, 0)
                           : mkdirat (parent, parts[i], 0755);
      int errsv = errno;
      close (parent);
      if (r < 0 && errsv != EEXIST)
        return berth_fail_errno (error, errsv, "make mount point %s for the copy", destination),
               -1;
      g_string_append_printf (done, "%s%s", done->len ? "/" : "", parts[i]);
    }
  int fd = berth_open_in_root (root_fd, done->len ? done->str : ".", O_PATH);
  if (fd < 0)
    berth_fail_errno (error, errno, "open %s for the copy", destination);
  return fd;
}

/* The spec's bind mounts (volumes, -v, /etc/hosts) onto the stopped
 * container's root, in this process's own mount namespace. */
static gboolean
place_binds (JsonObject *spec, const char *rootfs, GError **error)
{
  if (unshare (CLONE_NEWNS) < 0)
    return berth_fail_errno (error, errno, "unshare a mount namespace for the copy");
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
    return berth_fail_errno (error, errno, "make the copy's mounts private");
  int root_fd = open (rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    return berth_fail_errno (error, errno, "open %s", rootfs);
  JsonArray *mounts = berth_json_array (spec, "mounts");
  gboolean ok = TRUE;
  for (guint i = 0; ok && mounts && i < json_array_get_length (mounts); i++)
    {
      JsonObject *m = berth_json_array_object (mounts, i);
      if (m == NULL)
        continue;
      const char *source = berth_json_string (m, "source", NULL);
      const char *destination = berth_json_string (m, "destination", NULL);
      if (source == NULL || destination == NULL
          || !(g_strcmp0 (berth_json_string (m, "type", NULL), "bind") == 0
               || has_option (m, "bind") || has_option (m, "rbind")))
        continue;
      int target = open_mountpoint (root_fd, destination, source, error);
      if (target < 0)
        {
          ok = FALSE;
          break;
        }
      g_autofree char *at = g_strdup_printf ("/proc/self/fd/%d", target);
      if (mount (source, at, NULL, MS_BIND | MS_REC, NULL) < 0)
        ok = berth_fail_errno (error, errno, "bind %s onto %s for the copy", source, destination);
      close (target);
      if (ok && has_option (m, "ro"))
        ok = make_read_only (root_fd, destination, error);
    }
  close (root_fd);
  return ok;
}

/* A container id through the spec's user namespace mapping, when it has one. */
static gint64
host_id (JsonObject *linux_, const char *mappings, gint64 id)
{
  JsonArray *maps = linux_ ? berth_json_array (linux_, mappings) : NULL;
  if (maps == NULL || json_array_get_length (maps) == 0)
    return id;
  for (guint i = 0; i < json_array_get_length (maps); i++)
    {
      JsonObject *m = berth_json_array_object (maps, i);
      if (m == NULL)
        continue;
      gint64 inside = berth_json_int (m, "containerID", 0);
      gint64 outside = berth_json_int (m, "hostID", 0);
      gint64 size = berth_json_int (m, "size", 0);
      if (id >= inside && id < inside + size)
        return outside + (id - inside);
    }
  return 65534; /* unmapped: the kernel's overflow id */
}

/* The child that copies: it reports its error on @err_fd as "CODE MESSAGE". */
static G_GNUC_NORETURN void
copy_child (CopyRequest *r, CopySide *container, const char *root, gboolean stopped,
            JsonObject *spec, int err_fd)
{
  g_autoptr (GError) error = NULL;
  signal (SIGPIPE, SIG_IGN);
  gboolean ok = !stopped || place_binds (spec, root, &error);
  if (ok && (container->root_fd = open (root, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
    ok = berth_fail_errno (&error, errno, "open %s", root);
  if (ok)
    ok = copy_request (r, &error);
  if (!ok)
    {
      g_autofree char *msg = g_strdup_printf ("%d %s", error->code, error->message);
      if (write (err_fd, msg, strlen (msg)) < 0)
        _exit (2);
    }
  _exit (ok ? 0 : 1);
}

static gboolean
run_copy_child (CopyRequest *r, CopySide *container, const char *root, gboolean stopped,
                JsonObject *spec, GError **error)
{
  int fds[2];
  if (pipe2 (fds, O_CLOEXEC) < 0)
    return berth_fail_errno (error, errno, "pipe");
  pid_t pid = fork ();
  if (pid < 0)
    {
      int errsv = errno;
      close (fds[0]);
      close (fds[1]);
      return berth_fail_errno (error, errsv, "fork");
    }
  if (pid == 0)
    {
      close (fds[0]);
      copy_child (r, container, root, stopped, spec, fds[1]);
    }
  close (fds[1]);
  g_autoptr (GString) msg = g_string_new (NULL);
  char buf[512];
  ssize_t n;
  while ((n = read (fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0)
      g_string_append_len (msg, buf, n);
  close (fds[0]);
  int status;
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return berth_fail_errno (error, errno, "wait for the copy");
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return TRUE;
  char *end = NULL;
  gint64 code = g_ascii_strtoll (msg->str, &end, 10);
  if (msg->len > 0 && end && *end == ' ' && code >= 0 && code <= BERTH_ERROR_NO_SPACE)
    return berth_fail (error, (BerthError) code, "%s", end + 1);
  return berth_fail (error, BERTH_ERROR_FAILED, "the copy %s",
                     WIFSIGNALED (status) ? "was killed" : "failed");
}

/* The owner of entries copied in: as docker cp gives them, the container's
 * root (as the host sees it through a user namespace); with -a the
 * source's. */
static void
copied_in_owner (JsonObject *spec, gboolean archive, gint64 *uid, gint64 *gid)
{
  *uid = *gid = -1;
  if (archive)
    return;
  JsonObject *linux_ = berth_json_object (spec, "linux");
  *uid = host_id (linux_, "uidMappings", 0);
  *gid = host_id (linux_, "gidMappings", 0);
}

gboolean
berth_container_copy (BerthStore *store, BerthContainer *c, const char *src, const char *dst,
                      gboolean into_container, const BerthCopyOptions *options, GError **error)
{
  g_autoptr (BerthContainerState) state = berth_container_state (store, c, error);
  g_autoptr (JsonNode) spec = state ? berth_container_spec (store, c, error) : NULL;
  if (spec == NULL)
    return FALSE;
  g_autofree char *label = g_strconcat (c->name, ":", NULL);
  CopySide host = { .root_fd = -1, .label = "" }, container = { .root_fd = -1, .label = label };
  CopyRequest r = { .src = src, .dst = dst, .follow = options->follow_link, .uid = -1,
                    .gid = -1 };
  r.from = into_container ? &host : &container;
  r.to = into_container ? &container : &host;
  if (into_container)
    copied_in_owner (json_node_get_object (spec), options->archive, &r.uid, &r.gid);
  else if (strcmp (dst, "-") != 0)
    {
      /* docker cp: what lands on the host belongs to whoever copied it */
      r.uid = getuid ();
      r.gid = getgid ();
    }
  gboolean live = berth_state_is_live (state) && state->pid > 0;
  if (live)
    {
      g_autofree char *root = g_strdup_printf ("/proc/%d/root", state->pid);
      return run_copy_child (&r, &container, root, FALSE, NULL, error);
    }
  BerthStorage *storage = berth_store_driver (store, c->driver, error);
  g_autofree char *rootfs = storage ? berth_storage_get_transient (storage, c->id, error) : NULL;
  if (rootfs == NULL)
    return FALSE;
  gboolean ok = run_copy_child (&r, &container, rootfs, TRUE, json_node_get_object (spec),
                                error);
  return berth_storage_put_transient (storage, c->id, ok ? error : NULL) && ok;
}
