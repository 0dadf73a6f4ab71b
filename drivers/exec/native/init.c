/* The container's side of a start: runs in the child right after clone, in
 * the new namespaces, and ends in execve. Everything was decided by the
 * parent (BerthInitPlan); this file only makes syscalls, in the order the
 * kernel needs them, and reports the first failure to the parent as one line
 * on the sync socket. Nothing here allocates after the mounts start. */
#include "config.h"
#include "native.h"
#include <berth/fdutil.h>
#include <berth/fsutil.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <dirent.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* Exit codes a shell would give: 127 not found, 126 found but not runnable. */
#define EXIT_NOT_FOUND 127
#define EXIT_CANNOT_RUN 126

G_GNUC_NORETURN G_GNUC_PRINTF (4, 5) static void
die (BerthInitPlan *plan, int code, int errsv, const char *fmt, ...)
{
  char msg[1024];
  va_list ap;
  va_start (ap, fmt);
  int n = vsnprintf (msg, sizeof msg, fmt, ap);
  va_end (ap);
  if (n < 0)
    n = 0;
  if (errsv && (gsize) n < sizeof msg)
    snprintf (msg + n, sizeof msg - n, ": %s", strerror (errsv));
  /* 'E' + exit code + message: the parent reports it and records the code. */
  char packet[1100];
  int len = snprintf (packet, sizeof packet, "E%d %s", code, msg);
  if (send (plan->sync_fd, packet, MIN ((gsize) len, sizeof packet - 1), MSG_NOSIGNAL) < 0)
    dprintf (STDERR_FILENO, "berth: %s\n", msg);
  _exit (code);
}

void
berth_init_plan_free (BerthInitPlan *plan)
{
  if (plan == NULL)
    return;
  g_free (plan->rootfs);
  if (plan->mounts)
    g_ptr_array_unref (plan->mounts);
  g_strfreev (plan->cgroup_hierarchies);
  g_strfreev (plan->cgroup_dirs);
  if (plan->devices)
    g_ptr_array_unref (plan->devices);
  g_strfreev (plan->masked_paths);
  g_strfreev (plan->readonly_paths);
  g_free (plan->hostname);
  g_strfreev (plan->sysctl);
  g_strfreev (plan->args);
  g_strfreev (plan->env);
  g_free (plan->cwd);
  if (plan->helper_fd >= 0)
    close (plan->helper_fd);
  if (plan->groups)
    g_array_unref (plan->groups);
  if (plan->rlimits)
    g_array_unref (plan->rlimits);
  berth_seccomp_free (plan->seccomp);
  g_free (plan);
}

/* ---- paths inside the rootfs ----
 * The rootfs is the image's: an untrusted tree whose symlinks must not lead
 * a mount out of it. openat2(RESOLVE_IN_ROOT) resolves every path as if the
 * rootfs were "/". */

static int
open_in_root (int root_fd, const char *path, int flags)
{
  struct open_how how = { .flags = flags | O_CLOEXEC,
                          .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
  return syscall (SYS_openat2, root_fd, path, &how, sizeof how);
}

/* Open mount target @path below @root_fd as O_PATH, creating it (and its
 * parents) as a directory, or as an empty file when @is_file. */
static int
make_target (BerthInitPlan *plan, int root_fd, const char *path, gboolean is_file)
{
  int fd = open_in_root (root_fd, path, O_PATH);
  if (fd >= 0 || errno != ENOENT)
    return fd;
  char buf[PATH_MAX];
  if (g_strlcpy (buf, path, sizeof buf) >= sizeof buf)
    die (plan, EXIT_CANNOT_RUN, ENAMETOOLONG, "mount target %s", path);
  char *slash = strrchr (buf, '/');
  const char *leaf = slash ? slash + 1 : buf;
  int parent;
  if (slash == NULL || slash == buf)
    parent = open_in_root (root_fd, "/", O_PATH | O_DIRECTORY);
  else
    {
      *slash = '\0';
      parent = make_target (plan, root_fd, buf, FALSE);
    }
  if (parent < 0)
    return -1;
  int r = is_file ? mknodat (parent, leaf, S_IFREG | 0644, 0) : mkdirat (parent, leaf, 0755);
  int errsv = errno;
  if (r < 0 && errsv != EEXIST)
    {
      close (parent);
      errno = errsv;
      return -1;
    }
  fd = openat (parent, leaf, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  close (parent);
  return fd;
}

static void
fd_path (char buf[64], int fd)
{
  snprintf (buf, 64, "/proc/self/fd/%d", fd);
}

/* Mount over the inode @target_fd names, wherever it is. */
static int
mount_at_fd (const char *source, int target_fd, const char *type, unsigned long flags,
             const char *data)
{
  char target[64];
  fd_path (target, target_fd);
  return mount (source, target, type, flags, data);
}

/* A read-only bind remount must repeat the flags the kernel locked on the
 * original mount (nosuid, nodev, noexec), or it fails with EPERM. */
static int
remount_readonly (const char *path, unsigned long extra)
{
  struct statvfs sv;
  if (statvfs (path, &sv) < 0)
    return -1;
  unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | extra;
  if (sv.f_flag & ST_NOSUID)
    flags |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV)
    flags |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC)
    flags |= MS_NOEXEC;
  return mount (NULL, path, NULL, flags, NULL);
}

/* One hierarchy at @target. In a cgroup namespace a fresh mount shows the
 * container's cgroup as the root. Without one (cgroupns=host, Docker's
 * default on v1) a fresh mount would show the host's whole tree, so the
 * container's own directory is bound instead, as runc does; so it is in a
 * user namespace, where v1 cannot be mounted at all and a cgroup2 mount
 * needs a cgroup namespace that the user namespace owns. TRUE when the
 * result is a bind that still needs its read-only remount. */
static gboolean
mount_one_hierarchy (BerthInitPlan *plan, const BerthMountPlan *m, guint i, const char *target)
{
  const char *name = plan->cgroup_hierarchies[i];
  gboolean bind = !plan->cgroup_ns || plan->user_ns;
  int r = bind ? mount (plan->cgroup_dirs[i], target, NULL, MS_BIND, NULL)
        : strcmp (name, "cgroup2") == 0 ? mount ("cgroup2", target, "cgroup2", m->flags, NULL)
        : mount ("cgroup", target, "cgroup", m->flags, name);
  /* runc's fallback: a fresh cgroup2 mount is refused with EBUSY under a
   * /sys bound from the host (--network host on a cgroup2-only kernel) or
   * EPERM; the container's own directory, bound, shows the same tree. */
  if (r < 0 && !bind && strcmp (name, "cgroup2") == 0 && (errno == EBUSY || errno == EPERM))
    {
      bind = TRUE;
      r = mount (plan->cgroup_dirs[i], target, NULL, MS_BIND, NULL);
    }
  if (r < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "mount cgroup %s on %s", name, m->destination);
  return bind && (m->flags & MS_RDONLY);
}

/* The fd of a mount target still names the covered inode: @reopened is
 * the target opened again, which reaches the new mount. */
static void
remount_bound_hierarchy (BerthInitPlan *plan, const BerthMountPlan *m, int reopened)
{
  char target[64];
  fd_path (target, reopened);
  if (reopened < 0
      || remount_readonly (target, m->flags & (MS_NOSUID | MS_NODEV | MS_NOEXEC)) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "remount the cgroup hierarchies on %s read-only",
         m->destination);
  close (reopened);
}

/* A hierarchy of several controllers ("cpu,cpuacct") is reached by each
 * controller's name too, as on a systemd host and under runc: a program
 * reads /sys/fs/cgroup/cpu/cpu.shares whichever way the host mounts it.
 * No allocation: this runs in the container's init. */
static void
link_comounted (BerthInitPlan *plan, const BerthMountPlan *m, int dir, const char *subdir)
{
  char part[64];
  if (strchr (subdir, ',') == NULL)
    return;
  for (const char *p = subdir; *p;)
    {
      size_t n = strcspn (p, ",");
      if (n > 0 && n < sizeof part)
        {
          memcpy (part, p, n);
          part[n] = '\0';
          if (symlinkat (subdir, dir, part) < 0 && errno != EEXIST)
            die (plan, EXIT_CANNOT_RUN, errno, "link %s/%s to %s", m->destination, part, subdir);
        }
      p += n + (p[n] == ',');
    }
}

static void
mount_cgroup_hierarchies (BerthInitPlan *plan, int root_fd, const BerthMountPlan *m)
{
  unsigned long flags = m->flags & ~MS_RDONLY;
  char target[64];
  if (plan->cgroup_hierarchies && plan->cgroup_hierarchies[0]
      && strcmp (plan->cgroup_hierarchies[0], "cgroup2") == 0 && !plan->cgroup_hierarchies[1])
    {
      int fd = make_target (plan, root_fd, m->destination, FALSE);
      if (fd < 0)
        die (plan, EXIT_CANNOT_RUN, errno, "make %s", m->destination);
      fd_path (target, fd);
      if (mount_one_hierarchy (plan, m, 0, target))
        remount_bound_hierarchy (plan, m, open_in_root (root_fd, m->destination, O_PATH));
      close (fd);
      return;
    }
  /* v1 and hybrid: a tmpfs holding one mount per hierarchy, as Docker shows. */
  int dir = make_target (plan, root_fd, m->destination, FALSE);
  if (dir < 0 || mount_at_fd ("cgroup", dir, "tmpfs", flags, "mode=755") < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "mount tmpfs on %s", m->destination);
  close (dir);
  dir = open_in_root (root_fd, m->destination, O_PATH | O_DIRECTORY);
  if (dir < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "open %s", m->destination);
  for (guint i = 0; plan->cgroup_hierarchies && plan->cgroup_hierarchies[i]; i++)
    {
      const char *h = plan->cgroup_hierarchies[i];
      /* Beside v1 hierarchies (hybrid) the cgroup2 one is left out, as runc
       * leaves it out: clients expect the v1 tree only. */
      if (strcmp (h, "cgroup2") == 0)
        continue;
      const char *name = strncmp (h, "name=", 5) == 0 ? h + 5 : h;
      const char *subdir = strcmp (name, "cgroup2") == 0 ? "unified" : name;
      if (mkdirat (dir, subdir, 0755) < 0 && errno != EEXIST)
        die (plan, EXIT_CANNOT_RUN, errno, "mkdir %s/%s", m->destination, subdir);
      int sub = openat (dir, subdir, O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (sub < 0)
        die (plan, EXIT_CANNOT_RUN, errno, "open %s/%s", m->destination, subdir);
      fd_path (target, sub);
      if (mount_one_hierarchy (plan, m, i, target))
        remount_bound_hierarchy (plan, m, openat (dir, subdir, O_PATH | O_NOFOLLOW | O_CLOEXEC));
      close (sub);
      link_comounted (plan, m, dir, subdir);
    }
  fd_path (target, dir);
  if ((m->flags & MS_RDONLY) && remount_readonly (target, 0) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "remount %s read-only", m->destination);
  close (dir);
}

/* Deeper trees than this under a tmpcopyup target are not copied. */
#define COPY_UP_MAX_DEPTH 32

static void copy_up_dir (BerthInitPlan *plan, const BerthMountPlan *m, int src, int dst, int depth);

/* One entry of a tmpcopyup copy: files, directories and symlinks with
 * their mode and owner (what podman's --read-only /tmp, /run hold). */
static void
copy_up_entry (BerthInitPlan *plan, const BerthMountPlan *m, int src, int dst, const char *name,
               int depth)
{
  struct stat st;
  if (fstatat (src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "tmpcopyup %s: stat %s", m->destination, name);
  int r = 0;
  if (S_ISDIR (st.st_mode) && depth < COPY_UP_MAX_DEPTH)
    {
      r = mkdirat (dst, name, st.st_mode & 07777);
      int s = openat (src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      int d = r == 0 ? openat (dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
      if (s < 0 || d < 0)
        die (plan, EXIT_CANNOT_RUN, errno, "tmpcopyup %s: %s", m->destination, name);
      copy_up_dir (plan, m, s, d, depth + 1);
      close (s);
      close (d);
    }
  else if (S_ISREG (st.st_mode))
    {
      int in = openat (src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      int out = openat (dst, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
      char buf[8192];
      ssize_t n = 0;
      while (in >= 0 && out >= 0 && (n = read (in, buf, sizeof buf)) > 0)
        if (write (out, buf, n) != n)
          n = -1;
      if (in < 0 || out < 0 || n < 0)
        die (plan, EXIT_CANNOT_RUN, errno, "tmpcopyup %s: copy %s", m->destination, name);
      close (in);
      close (out);
    }
  else if (S_ISLNK (st.st_mode))
    {
      char target[PATH_MAX];
      ssize_t n = readlinkat (src, name, target, sizeof target - 1);
      if (n >= 0)
        target[n] = '\0';
      r = n < 0 ? -1 : symlinkat (target, dst, name);
    }
  else
    return; /* sockets, FIFOs, devices: left out, as crun leaves them */
  if (r < 0 || fchownat (dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "tmpcopyup %s: %s", m->destination, name);
}

static void
copy_up_dir (BerthInitPlan *plan, const BerthMountPlan *m, int src, int dst, int depth)
{
  char buf[4096] __attribute__ ((aligned (8)));
  long n;
  while ((n = syscall (SYS_getdents64, src, buf, sizeof buf)) > 0)
    for (long off = 0; off < n;)
      {
        struct dirent64 *e = (struct dirent64 *) (buf + off);
        off += e->d_reclen;
        if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
          copy_up_entry (plan, m, src, dst, e->d_name, depth);
      }
  if (n < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "tmpcopyup %s: read a directory", m->destination);
}

static void
do_mount (BerthInitPlan *plan, int root_fd, const BerthMountPlan *m)
{
  if (m->is_cgroup)
    return mount_cgroup_hierarchies (plan, root_fd, m);
  gboolean bind = (m->flags & MS_BIND) != 0;
  struct stat st;
  if (bind && (m->source_tree >= 0 ? fstat (m->source_tree, &st) : stat (m->source, &st)) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "bind mount source %s", m->source);
  gboolean file = bind && !S_ISDIR (st.st_mode);
  int fd = make_target (plan, root_fd, m->destination, file);
  if (fd < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "mount target %s", m->destination);
  unsigned long first = bind ? m->flags & (MS_BIND | MS_REC) : m->flags;
  /* tmpcopyup: what the tmpfs will cover, read through a descriptor opened
   * before the mount */
  int covered = -1;
  if (m->copy_up && !bind)
    {
      char path[64];
      fd_path (path, fd);
      covered = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (covered < 0)
        die (plan, EXIT_CANNOT_RUN, errno, "tmpcopyup %s: open what it covers", m->destination);
    }
  int r = m->source_tree >= 0
              ? syscall (SYS_move_mount, m->source_tree, "", fd, "",
                         MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH)
              : mount_at_fd (m->source, fd, bind ? NULL : m->type, first, m->data);
  if (r < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "mount %s on %s", m->source, m->destination);
  if (covered >= 0)
    {
      int fresh = open_in_root (root_fd, m->destination, O_RDONLY | O_DIRECTORY);
      if (fresh < 0)
        die (plan, EXIT_CANNOT_RUN, errno, "tmpcopyup %s: open the new mount", m->destination);
      copy_up_dir (plan, m, covered, fresh, 0);
      close (fresh);
      close (covered);
    }
  /* The fd still names the covered inode: reopen to reach the new mount. */
  unsigned long rest = m->flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
  if (!(bind && rest) && !m->propagation)
    {
      close (fd);
      return;
    }
  close (fd);
  fd = open_in_root (root_fd, m->destination, O_PATH);
  char target[64];
  fd_path (target, fd);
  if (fd < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "reopen %s", m->destination);
  /* A bind takes no flags on creation; read-only and friends need a remount. */
  if (bind && rest
      && (m->flags & MS_RDONLY ? remount_readonly (target, rest & ~MS_RDONLY)
                               : mount (NULL, target, NULL, MS_BIND | MS_REMOUNT | rest, NULL)) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "remount %s with its options", m->destination);
  if (m->propagation && mount (NULL, target, NULL, m->propagation, NULL) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "set propagation of %s", m->destination);
  close (fd);
}

/* ---- /dev ---- */

typedef struct {
  const char *name;
  unsigned int major, minor;
} DeviceNode;

static const DeviceNode default_devices[] = {
  { "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
  { "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static const char *const dev_links[][2] = {
  { "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
  { "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
  { "core", "/proc/kcore" }, { "ptmx", "pts/ptmx" },
};

/* Where mknod is refused (a user namespace, or a device cgroup whose rules
 * leave out "m"), the host's node is bound in, as runc does in a user
 * namespace: the default nodes must not depend on the spec's rules. */
static void
make_device (BerthInitPlan *plan, int dev_fd, const DeviceNode *d)
{
  if (!plan->user_ns)
    {
      if (mknodat (dev_fd, d->name, S_IFCHR | 0666, makedev (d->major, d->minor)) == 0
          || errno == EEXIST)
        return;
      if (errno != EPERM)
        die (plan, EXIT_CANNOT_RUN, errno, "mknod /dev/%s", d->name);
    }
  int fd = openat (dev_fd, d->name, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "create /dev/%s", d->name);
  char source[64], target[64];
  snprintf (source, sizeof source, "/dev/%s", d->name);
  fd_path (target, fd);
  if (mount (source, target, NULL, MS_BIND, NULL) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "bind %s", source);
  close (fd);
}

/* The master to the parent ('T' with the fd), which hands it to the caller
 * (a console socket, berth's relay). */
static void
send_pty_master (BerthInitPlan *plan, int master)
{
  if (berth_send_with_fd (plan->sync_fd, "T", 1, master) != 1)
    die (plan, EXIT_CANNOT_RUN, errno, "send the terminal's master");
  close (master);
}

/* A pty on the devpts that @ptmx_path (inside @root_fd, or "/" after
 * setns) leads to; the slave becomes the stdio. */
static int
open_container_pty (BerthInitPlan *plan, int root_fd, const char *ptmx_path)
{
  int master = root_fd >= 0 ? open_in_root (root_fd, ptmx_path, O_RDWR | O_NOCTTY)
                            : open (ptmx_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "open the container's %s for a terminal (is devpts "
         "mounted on /dev/pts?)", ptmx_path);
  int unlock = 0;
  if (ioctl (master, TIOCSPTLCK, &unlock) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "unlock the terminal");
  int slave = ioctl (master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "open the terminal's slave");
  for (int i = 0; i < 3; i++)
    plan->stdio[i] = slave;
  send_pty_master (plan, master);
  return slave;
}

/* The first process's terminal: made on the container's devpts, its
 * slave bound to /dev/console as runc does. */
static void
make_container_pty (BerthInitPlan *plan, int root_fd, int dev)
{
  int slave = open_container_pty (plan, root_fd, "/dev/ptmx");
  int fd = openat (dev, "console", O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
  char source[64], target[64];
  fd_path (source, slave);
  fd_path (target, fd);
  if (fd < 0 || mount (source, target, NULL, MS_BIND, NULL) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "bind the terminal to /dev/console");
  close (fd);
}

static void
populate_dev (BerthInitPlan *plan, int root_fd)
{
  int dev = open_in_root (root_fd, "/dev", O_PATH | O_DIRECTORY);
  if (dev < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "open /dev in the rootfs");
  for (guint i = 0; i < G_N_ELEMENTS (default_devices); i++)
    make_device (plan, dev, &default_devices[i]);
  for (guint i = 0; i < G_N_ELEMENTS (dev_links); i++)
    {
      /* as runc: /dev/core only where the kernel has /proc/kcore */
      if (strcmp (dev_links[i][1], "/proc/kcore") == 0 && access ("/proc/kcore", F_OK) < 0)
        continue;
      if (symlinkat (dev_links[i][1], dev, dev_links[i][0]) < 0 && errno != EEXIST)
        die (plan, EXIT_CANNOT_RUN, errno, "symlink /dev/%s", dev_links[i][0]);
    }
  if (plan->terminal)
    make_container_pty (plan, root_fd, dev);
  close (dev);
}

/* The directory that is to hold @path (made, with its parents, where
 * missing), and in *leaf the last part of @path, in @buf. */
static int
open_parent (BerthInitPlan *plan, int root_fd, const char *path, char *buf, gsize size,
             const char **leaf)
{
  if (g_strlcpy (buf, path, size) >= size)
    die (plan, EXIT_CANNOT_RUN, ENAMETOOLONG, "device %s", path);
  char *slash = strrchr (buf, '/');
  *leaf = slash + 1;
  if (slash == buf)
    return open_in_root (root_fd, "/", O_PATH | O_DIRECTORY);
  *slash = '\0';
  return make_target (plan, root_fd, buf, FALSE);
}

/* In a user namespace the node can only be the host's, bound in: its mode
 * and owner stay the host's, so it must at least be the device asked for. */
static void
bind_host_device (BerthInitPlan *plan, int root_fd, const BerthDevicePlan *d)
{
  struct stat st;
  if (stat (d->path, &st) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "device %s: the host's node, to bind in a user namespace",
         d->path);
  if ((st.st_mode & S_IFMT) != d->type || st.st_rdev != d->rdev)
    die (plan, EXIT_CANNOT_RUN, 0, "device %s: the host's node is another device, and a user "
         "namespace can only bind the host's", d->path);
  int fd = make_target (plan, root_fd, d->path, TRUE);
  char target[64];
  fd_path (target, fd);
  if (fd < 0 || mount (d->path, target, NULL, MS_BIND, NULL) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "bind the host's %s", d->path);
  close (fd);
}

/* A linux.devices entry. A file of another kind or number already there is
 * an error, as the spec says, not replaced. */
static void
make_spec_device (BerthInitPlan *plan, int root_fd, const BerthDevicePlan *d)
{
  /* The container's /dev/ptmx is the link to its own devpts (populate_dev),
   * which clients that pass every host device (--privileged) rely on. */
  if (strcmp (d->path, "/dev/ptmx") == 0)
    return;
  /* A user namespace may make FIFOs but no device nodes. */
  if (plan->user_ns && d->type != S_IFIFO)
    return bind_host_device (plan, root_fd, d);
  char buf[PATH_MAX];
  const char *leaf;
  int dir = open_parent (plan, root_fd, d->path, buf, sizeof buf, &leaf);
  if (dir < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "device %s: its directory", d->path);
  if (mknodat (dir, leaf, d->type | d->mode, d->rdev) < 0 && errno != EEXIST)
    die (plan, EXIT_CANNOT_RUN, errno, "mknod %s", d->path);
  int fd = openat (dir, leaf, O_PATH | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat (fd, &st) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "open %s", d->path);
  if ((st.st_mode & S_IFMT) != d->type || st.st_rdev != d->rdev)
    die (plan, EXIT_CANNOT_RUN, 0, "device %s: another file is there already", d->path);
  char target[64];
  fd_path (target, fd);
  /* chmod after chown, which may clear set-id bits; an O_PATH fd takes no
   * fchmod, hence its /proc path. */
  if (fchownat (fd, "", d->uid, d->gid, AT_EMPTY_PATH) < 0 || chmod (target, d->mode) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "set the owner and mode of %s", d->path);
  close (fd);
  close (dir);
}

/* ---- the root ---- */

/* Bind sources cloned as detached trees while the host's /tmp is still in
 * view: the tmpfs that holds the rootfs below covers it, and `-v
 * /tmp/x:/x` must still work. */
static void
clone_bind_sources (BerthInitPlan *plan)
{
  for (guint i = 0; i < plan->mounts->len; i++)
    {
      BerthMountPlan *m = plan->mounts->pdata[i];
      if (!(m->flags & MS_BIND) || m->is_cgroup)
        continue;
      unsigned int flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((m->flags & MS_REC) ? AT_RECURSIVE : 0);
      m->source_tree = syscall (SYS_open_tree, AT_FDCWD, m->source, flags);
      if (m->source_tree < 0)
        die (plan, EXIT_CANNOT_RUN, errno, "bind mount source %s", m->source);
    }
}

/* Attach the rootfs tree the parent sent on a fresh tmpfs (the container's
 * root may not write anywhere on the host) and use it as the rootfs. */
static void
attach_rootfs_tree (BerthInitPlan *plan)
{
  static const char base[] = "/tmp";
  clone_bind_sources (plan);
  if (mount ("tmpfs", base, "tmpfs", MS_NOSUID | MS_NODEV, "mode=700") < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "mount a tmpfs on %s for the rootfs", base);
  if (mkdir ("/tmp/rootfs", 0755) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "mkdir /tmp/rootfs");
  if (syscall (SYS_move_mount, plan->rootfs_tree, "", AT_FDCWD, "/tmp/rootfs",
               MOVE_MOUNT_F_EMPTY_PATH) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "attach the rootfs in the user namespace");
  close (plan->rootfs_tree);
  g_free (plan->rootfs);
  plan->rootfs = g_strdup ("/tmp/rootfs");
}


/* pivot_root refuses a new root whose parent mount is shared, and binding
 * the rootfs below a shared mount would propagate the bind out of the
 * container: as runc does, make the mount the rootfs lies on private (a
 * slave where a slave root was asked for) first. Changing the propagation
 * of a path that is not a mount point fails with EINVAL, so walk up. */
static void
make_rootfs_parent_private (BerthInitPlan *plan)
{
  unsigned long flag = (plan->root_propagation & MS_SLAVE) ? MS_SLAVE : MS_PRIVATE;
  char path[PATH_MAX];
  if (g_strlcpy (path, plan->rootfs, sizeof path) >= sizeof path)
    die (plan, EXIT_CANNOT_RUN, ENAMETOOLONG, "rootfs %s", plan->rootfs);
  while (mount (NULL, path, NULL, flag, NULL) < 0)
    {
      char *slash = strrchr (path, '/');
      if (errno != EINVAL || slash == NULL || strcmp (path, "/") == 0)
        die (plan, EXIT_CANNOT_RUN, errno, "set propagation of the mount holding %s", plan->rootfs);
      slash[slash == path ? 1 : 0] = '\0';
    }
}

/* The create hooks' point: tell the parent ('H') and wait for its go on
 * (anything else means they failed and the parent is reaping us). */
static void
pause_for_hooks (BerthInitPlan *plan)
{
  if (!plan->pause_for_hooks)
    return;
  plan->pause_for_hooks = FALSE;
  char go = 0;
  if (send (plan->sync_fd, "H", 1, MSG_NOSIGNAL) != 1)
    _exit (EXIT_CANNOT_RUN);
  while (recv (plan->sync_fd, &go, 1, 0) < 0 && errno == EINTR)
    ;
  if (go != 'G')
    _exit (EXIT_CANNOT_RUN);
}

static void
enter_rootfs (BerthInitPlan *plan)
{
  if (mount (NULL, "/", NULL, plan->root_propagation, NULL) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "set propagation of /");
  if (plan->rootfs_tree >= 0)
    attach_rootfs_tree (plan);
  make_rootfs_parent_private (plan);
  /* pivot_root needs the new root to be a mount point; the bind also keeps
   * the storage driver's mount from seeing the container's submounts. */
  if (mount (plan->rootfs, plan->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "bind %s", plan->rootfs);
  int root_fd = open (plan->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "open rootfs %s", plan->rootfs);
  gboolean dev_is_tmpfs = FALSE;
  for (guint i = 0; i < plan->mounts->len; i++)
    {
      const BerthMountPlan *m = plan->mounts->pdata[i];
      do_mount (plan, root_fd, m);
      if (strcmp (m->destination, "/dev") == 0 && g_strcmp0 (m->type, "tmpfs") == 0)
        dev_is_tmpfs = TRUE;
    }
  if (dev_is_tmpfs)
    populate_dev (plan, root_fd);
  for (guint i = 0; plan->devices && i < plan->devices->len; i++)
    make_spec_device (plan, root_fd, plan->devices->pdata[i]);

  pause_for_hooks (plan);
  /* pivot_root(".", ".") stacks the old root on the new one; detaching it
   * leaves only the container's tree, with no directory to hold. */
  if (fchdir (root_fd) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "chdir %s", plan->rootfs);
  close (root_fd);
  if (syscall (SYS_pivot_root, ".", ".") < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "pivot_root into %s", plan->rootfs);
  if (mount (NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "make the old root a slave");
  if (umount2 (".", MNT_DETACH) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "detach the old root");
  if (chdir ("/") < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "chdir /");
}

/* A shared or unbindable root can only be had last: pivot_root refuses a
 * shared new root, and nothing below an unbindable one can be bound (the
 * rootfs onto itself, readonlyPaths onto themselves, /dev/null over masked
 * files). Private and slave were given with the rootfs's own mount. */
static void
set_root_propagation (BerthInitPlan *plan)
{
  if (!(plan->root_propagation & (MS_PRIVATE | MS_SLAVE))
      && mount (NULL, "/", NULL, plan->root_propagation, NULL) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "set propagation of the container's /");
}

static void
protect_paths (BerthInitPlan *plan)
{
  for (char **p = plan->readonly_paths; p && *p; p++)
    {
      if (mount (*p, *p, NULL, MS_BIND | MS_REC, NULL) < 0)
        {
          if (errno == ENOENT)
            continue;
          die (plan, EXIT_CANNOT_RUN, errno, "bind %s", *p);
        }
      if (remount_readonly (*p, MS_REC) < 0)
        die (plan, EXIT_CANNOT_RUN, errno, "remount %s read-only", *p);
    }
  for (char **p = plan->masked_paths; p && *p; p++)
    {
      struct stat st;
      if (stat (*p, &st) < 0)
        continue;
      int r = S_ISDIR (st.st_mode)
                  ? mount ("tmpfs", *p, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                           NULL)
                  : mount ("/dev/null", *p, NULL, MS_BIND, NULL);
      if (r < 0)
        die (plan, EXIT_CANNOT_RUN, errno, "mask %s", *p);
    }
  if (plan->readonly_root && remount_readonly ("/", 0) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "remount / read-only");
}

static void
loopback_up (BerthInitPlan *plan)
{
  int s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct ifreq ifr = { 0 };
  g_strlcpy (ifr.ifr_name, "lo", IFNAMSIZ);
  if (s < 0 || ioctl (s, SIOCGIFFLAGS, &ifr) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "read the flags of lo");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl (s, SIOCSIFFLAGS, &ifr) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "bring lo up");
  close (s);
}

static void
write_sysctls (BerthInitPlan *plan)
{
  for (char **kv = plan->sysctl; kv && *kv; kv++)
    {
      const char *eq = strchr (*kv, '=');
      char path[PATH_MAX];
      int n = snprintf (path, sizeof path, "/proc/sys/%.*s", (int) (eq - *kv), *kv);
      for (char *c = path + 10; c < path + n; c++)
        if (*c == '.')
          *c = '/';
      int fd = open (path, O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write (fd, eq + 1, strlen (eq + 1)) < 0)
        die (plan, EXIT_CANNOT_RUN, errno, "sysctl %s", *kv);
      close (fd);
    }
}

/* ---- the process ---- */

static void
setup_stdio (BerthInitPlan *plan)
{
  int null_fd = -1;
  for (int i = 0; i < 3; i++)
    {
      int fd = plan->stdio[i];
      if (fd < 0)
        {
          if (null_fd < 0 && (null_fd = open ("/dev/null", O_RDWR | O_CLOEXEC)) < 0)
            die (plan, EXIT_CANNOT_RUN, errno, "open /dev/null");
          fd = null_fd;
        }
      if (fd == i ? fcntl (fd, F_SETFD, 0) < 0 : dup2 (fd, i) < 0)
        die (plan, EXIT_CANNOT_RUN, errno, "set up fd %d", i);
    }
  if (plan->terminal && ioctl (STDIN_FILENO, TIOCSCTTY, 0) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "make the terminal controlling");
}

static void
set_rlimits (BerthInitPlan *plan)
{
  for (guint i = 0; plan->rlimits && i < plan->rlimits->len; i++)
    {
      BerthRlimitPlan *r = &g_array_index (plan->rlimits, BerthRlimitPlan, i);
      struct rlimit rl = { .rlim_cur = r->limit.soft, .rlim_max = r->limit.hard };
      if (setrlimit (r->resource, &rl) < 0)
        die (plan, EXIT_CANNOT_RUN, errno, "set rlimit %d to %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
             r->resource, r->limit.soft, r->limit.hard);
    }
  if (plan->set_oom_score_adj)
    {
      char buf[16];
      int n = snprintf (buf, sizeof buf, "%d", plan->oom_score_adj);
      int fd = open ("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
      if (fd < 0 || write (fd, buf, n) < 0)
        die (plan, EXIT_CANNOT_RUN, errno, "set oom_score_adj");
      close (fd);
    }
}

static int
capset_sets (guint64 effective, guint64 permitted, guint64 inheritable)
{
  struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
  struct __user_cap_data_struct data[2] = {
    { (guint32) effective, (guint32) permitted, (guint32) inheritable },
    { (guint32) (effective >> 32), (guint32) (permitted >> 32), (guint32) (inheritable >> 32) },
  };
  return syscall (SYS_capset, &hdr, data);
}

/* Drop to the user and to the capability sets of the spec. KEEPCAPS keeps
 * the permitted set across setuid so capset can still pick from it. */
static void
become_user (BerthInitPlan *plan)
{
  for (int cap = 0; cap <= plan->cap_last; cap++)
    if (!(plan->cap_bounding & (1ULL << cap)) && prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) < 0
        && errno != EINVAL)
      die (plan, EXIT_CANNOT_RUN, errno, "drop capability %d from the bounding set", cap);
  if (prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "keep capabilities");
  const gid_t *groups = plan->groups ? (const gid_t *) plan->groups->data : NULL;
  if (setgroups (plan->groups ? plan->groups->len : 0, groups) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "set supplementary groups");
  if (setresgid (plan->gid, plan->gid, plan->gid) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "set group %u", plan->gid);
  if (setresuid (plan->uid, plan->uid, plan->uid) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "set user %u", plan->uid);
  if (capset_sets (plan->cap_effective, plan->cap_permitted, plan->cap_inheritable) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "set capabilities");
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    die (plan, EXIT_CANNOT_RUN, errno, "clear ambient capabilities");
  for (int cap = 0; cap <= plan->cap_last; cap++)
    if ((plan->cap_ambient & (1ULL << cap))
        && prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
      die (plan, EXIT_CANNOT_RUN, errno, "raise ambient capability %d", cap);
  if (prctl (PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "reset keep-capabilities");
}

/* execvpe searches the caller's PATH; the container's is in the spec.
 * Looked up before create reports ready, as runc does, so a missing
 * program fails create (127) rather than a container that dies at start. */
static const char *
find_program (BerthInitPlan *plan, char *buf, gsize size)
{
  const char *name = plan->args[0];
  if (strchr (name, '/'))
    {
      struct stat st;
      if (stat (name, &st) < 0)
        {
          /* runc's words, which Docker matches to answer 127 */
          if (errno == ENOENT)
            die (plan, EXIT_NOT_FOUND, 0, "exec: \"%s\": stat %s: no such file or directory",
                 name, name);
          die (plan, EXIT_CANNOT_RUN, errno, "exec: \"%s\": stat %s", name, name);
        }
      if (S_ISDIR (st.st_mode))
        die (plan, EXIT_CANNOT_RUN, EISDIR, "exec: \"%s\"", name);
      return name;
    }
  const char *path = g_environ_getenv (plan->env, "PATH");
  if (path == NULL)
    path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  while (*path)
    {
      const char *end = strchrnul (path, ':');
      snprintf (buf, size, "%.*s/%s", (int) (end - path), path, name);
      if (access (buf, X_OK) == 0)
        return buf;
      path = *end ? end + 1 : end;
    }
  die (plan, EXIT_NOT_FOUND, 0, "exec: \"%s\": executable file not found in $PATH", name);
}

static void
enter_cwd (BerthInitPlan *plan)
{
  if (chdir (plan->cwd) == 0)
    return;
  /* Docker makes a missing working directory, as root, before dropping. */
  if (errno != ENOENT || g_mkdir_with_parents (plan->cwd, 0755) < 0 || chdir (plan->cwd) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "working directory %s", plan->cwd);
}

static void
load_seccomp (BerthInitPlan *plan)
{
  int r = berth_seccomp_load (plan->seccomp);
  if (r < 0)
    die (plan, EXIT_CANNOT_RUN, -r, "load the seccomp filter");
}

/* The caller's ignored signals and blocked mask survive exec: a container
 * started from a nohup'ed shim would never see SIGHUP. runc resets both.
 * Through the raw syscall: glibc's sigaction refuses the two real-time
 * signals it keeps for itself (32, 33), which a caller may ignore too. */
struct berth_kernel_sigaction {
  void *handler;
  unsigned long flags;
  void *restorer;
  guint64 mask;
};

static void
reset_signals (BerthInitPlan *plan)
{
  sigset_t none;
  sigemptyset (&none);
  if (sigprocmask (SIG_SETMASK, &none, NULL) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "reset the signal mask");
  for (int sig = 1; sig <= 64; sig++)
    {
      struct berth_kernel_sigaction old, dfl = { .handler = SIG_DFL };
      if (sig != SIGKILL && sig != SIGSTOP
          && syscall (SYS_rt_sigaction, sig, NULL, &old, sizeof old.mask) == 0
          && old.handler == SIG_IGN)
        syscall (SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
    }
}

/* The common tail of init and exec: drop privileges and run @program. */
G_GNUC_NORETURN static void
exec_program (BerthInitPlan *plan, const char *program)
{
  /* berth-exec-helper --berth-exec-sync FD PROGRAM ARGV...: built now,
   * before the seccomp filter, so nothing is left to do after it but the
   * exec. The helper holds the sync socket until the program's exec, so
   * the parent's EOF means the program, not the helper, is running. */
  char sync_fd[16];
  snprintf (sync_fd, sizeof sync_fd, "%d", plan->sync_fd);
  const char **argv = berth_exec_helper_argv (program, plan->args, sync_fd);
  reset_signals (plan);
  set_rlimits (plan);
  /* Every fd berth had is closed by the exec, the sync socket only by the
   * program's (the helper passes it on); marked before any filter, which
   * may deny close_range. */
  if (berth_fd_cloexec_from (3) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "close berth's descriptors");
  if (fcntl (plan->sync_fd, F_SETFD, 0) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "pass the sync socket to berth's exec helper");
  /* Without no_new_privs only CAP_SYS_ADMIN may load a filter, which the
   * spec's capabilities seldom keep: then load it before dropping them, as
   * runc does (the profile then also sees setgroups, setresuid, capset,
   * prctl, close_range and execveat, the calls left before the exec). */
  gboolean seccomp_early = plan->seccomp && !plan->no_new_privs;
  if (seccomp_early)
    load_seccomp (plan);
  become_user (plan);
  if (plan->no_new_privs && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "set no_new_privs");
  umask (022);
  if (plan->seccomp && !seccomp_early)
    load_seccomp (plan);
  syscall (SYS_execveat, plan->helper_fd, "", argv, plan->env, AT_EMPTY_PATH);
  die (plan, EXIT_CANNOT_RUN, errno, "exec berth's exec helper for %s", program);
}

/* The parent's go, and with a user namespace the rootfs tree it sends. */
static void
wait_for_parent (BerthInitPlan *plan)
{
  char go;
  int tree;
  if (berth_recv_with_fd (plan->sync_fd, &go, 1, &tree) != 1)
    _exit (EXIT_CANNOT_RUN); /* the parent died or gave up; it reports why */
  if (tree >= 0)
    plan->rootfs_tree = tree;
}

/* create: report ready, then block on exec.fifo until start opens it. */
static void
wait_for_start (BerthInitPlan *plan)
{
  if (plan->exec_fifo_fd < 0)
    return;
  if (send (plan->sync_fd, "R", 1, MSG_NOSIGNAL) < 0)
    _exit (EXIT_CANNOT_RUN);
  char path[64];
  fd_path (path, plan->exec_fifo_fd);
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "open exec.fifo");
  if (write (fd, "0", 1) != 1)
    die (plan, EXIT_CANNOT_RUN, errno, "write exec.fifo");
  close (fd);
  close (plan->exec_fifo_fd);
}

void
berth_init_container (BerthInitPlan *plan)
{
  /* Non-dumpable: no process of the container may open our /proc/PID/exe
   * (the berth binary) while we are still berth. The exec resets it. */
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  wait_for_parent (plan);
  if (plan->user_ns && (setresgid (0, 0, 0) < 0 || setresuid (0, 0, 0) < 0))
    die (plan, EXIT_CANNOT_RUN, errno, "become root in the user namespace");
  if (setsid () < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "setsid");
  /* In its cgroup now (the parent moved it before the go): a cgroup
   * namespace made here is rooted there, as the container must see it. */
  if (plan->unshare_cgroup_ns && unshare (CLONE_NEWCGROUP) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "make the cgroup namespace");
  umask (0);
  if (plan->new_mount_ns)
    enter_rootfs (plan);
  /* Without a mount namespace of its own the hooks' point is here. */
  pause_for_hooks (plan);
  if (plan->uts_ns && plan->hostname
      && sethostname (plan->hostname, strlen (plan->hostname)) < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "set hostname %s", plan->hostname);
  if (plan->new_net_ns)
    loopback_up (plan);
  /* Before readonlyPaths, which usually hold /proc/sys. */
  write_sysctls (plan);
  if (plan->new_mount_ns)
    {
      protect_paths (plan);
      set_root_propagation (plan);
    }
  setup_stdio (plan);
  enter_cwd (plan);
  char buf[PATH_MAX];
  const char *program = find_program (plan, buf, sizeof buf);
  wait_for_start (plan);
  exec_program (plan, program);
}

void
berth_init_exec (BerthInitPlan *plan)
{
  prctl (PR_SET_DUMPABLE, 0, 0, 0, 0);
  wait_for_parent (plan);
  if (setsid () < 0)
    die (plan, EXIT_CANNOT_RUN, errno, "setsid");
  if (plan->terminal)
    open_container_pty (plan, -1, "/dev/ptmx");
  setup_stdio (plan);
  enter_cwd (plan);
  char buf[PATH_MAX];
  exec_program (plan, find_program (plan, buf, sizeof buf));
}
