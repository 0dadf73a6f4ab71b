/* The kernel-feature table (include/berth/kernel.h). Each probe makes the
 * call in a form that cannot act (an empty descriptor range, a cgroup fd
 * that is no cgroup, a zero size), so the kernel's answer is only whether
 * it knows the call or flag: ENOSYS for an unknown syscall, EINVAL for an
 * unknown flag; EPERM where a seccomp filter stands in front of it. */
#include "config.h"
#include <berth/kernel.h>
#include <berth/host.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* NO with the errno's text for the two answers that mean "not here";
 * anything else means the kernel knew the call and looked at its
 * arguments. */
static BerthFeatureAnswer
answer_from_errno (int errsv, char **why)
{
  if (errsv != ENOSYS && errsv != EPERM)
    return BERTH_FEATURE_YES;
  *why = g_strdup (g_strerror (errsv));
  return BERTH_FEATURE_NO;
}

static BerthFeatureAnswer
probe_close_range (char **why)
{
  if (syscall (SYS_close_range, ~0U, ~0U, 0) == 0)
    return BERTH_FEATURE_YES;
  return answer_from_errno (errno, why);
}

/* The flag came two releases after the call: EINVAL means "no" here. */
static BerthFeatureAnswer
probe_close_range_cloexec (char **why)
{
  if (syscall (SYS_close_range, ~0U, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
    return BERTH_FEATURE_YES;
  *why = g_strdup (g_strerror (errno));
  return BERTH_FEATURE_NO;
}

static BerthFeatureAnswer
probe_openat2 (char **why)
{
  struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
  int fd = syscall (SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
  if (fd >= 0)
    {
      close (fd);
      return BERTH_FEATURE_YES;
    }
  *why = g_strdup (g_strerror (errno));
  return BERTH_FEATURE_NO;
}

static BerthFeatureAnswer
probe_pidfd (char **why)
{
  int fd = syscall (SYS_pidfd_open, getpid (), 0);
  if (fd >= 0)
    {
      close (fd);
      return BERTH_FEATURE_YES;
    }
  *why = g_strdup (g_strerror (errno));
  return BERTH_FEATURE_NO;
}

/* A kernel with CLONE_INTO_CGROUP looks up the cgroup before it makes the
 * child and refuses /dev/null's descriptor (EBADF); one without it refuses
 * the flag or the larger argument struct (EINVAL, E2BIG). */
static BerthFeatureAnswer
probe_clone_into_cgroup (char **why)
{
  int not_a_cgroup = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  if (not_a_cgroup < 0)
    {
      *why = g_strdup_printf ("open /dev/null: %s", g_strerror (errno));
      return BERTH_FEATURE_UNKNOWN;
    }
  struct clone_args args = {
    .flags = CLONE_INTO_CGROUP,
    .exit_signal = SIGCHLD,
    .cgroup = (guint64) not_a_cgroup,
  };
  pid_t pid = syscall (SYS_clone3, &args, sizeof args);
  int errsv = errno;
  close (not_a_cgroup);
  if (pid == 0)
    _exit (0); /* cannot happen: the kernel refuses the descriptor */
  if (pid < 0 && errsv == EBADF)
    return BERTH_FEATURE_YES;
  *why = g_strdup (pid > 0 ? "the kernel took a non-cgroup descriptor" : g_strerror (errsv));
  return BERTH_FEATURE_NO;
}

static BerthFeatureAnswer
probe_open_tree (char **why)
{
  if (syscall (SYS_open_tree, -1, "", 0) >= 0)
    return BERTH_FEATURE_YES; /* cannot happen: -1 names no tree */
  return answer_from_errno (errno, why);
}

/* A zero-sized attribute is refused before anything else. */
static BerthFeatureAnswer
probe_mount_setattr (char **why)
{
  if (syscall (SYS_mount_setattr, -1, "", 0, NULL, 0) == 0)
    return BERTH_FEATURE_YES;
  return answer_from_errno (errno, why);
}

/* The smallest device program: allow everything. Loaded, then closed. */
static BerthFeatureAnswer
probe_bpf_device (char **why)
{
  struct bpf_insn allow[] = {
    { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 1 },
    { .code = BPF_JMP | BPF_EXIT },
  };
  union bpf_attr attr = {
    .prog_type = BPF_PROG_TYPE_CGROUP_DEVICE,
    .insns = (guint64) (guintptr) allow,
    .insn_cnt = G_N_ELEMENTS (allow),
    .license = (guint64) (guintptr) "GPL",
  };
  int fd = syscall (SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  if (fd >= 0)
    {
      close (fd);
      return BERTH_FEATURE_YES;
    }
  *why = g_strdup (g_strerror (errno));
  return BERTH_FEATURE_NO;
}

/* A cgroup2 directory below the root (the root has neither cgroup.kill
 * nor memory.peak) that has @witness: this process's own cgroup, else
 * the first of the root's children. NULL with @why when there is none. */
static char *
cgroup2_dir_with (const char *witness, char **why)
{
  const char *layout = berth_host_cgroup_layout ();
  const char *mount = strcmp (layout, "v2") == 0       ? "/sys/fs/cgroup"
                      : strcmp (layout, "hybrid") == 0 ? "/sys/fs/cgroup/unified"
                                                       : NULL;
  if (mount == NULL)
    {
      *why = g_strdup_printf ("no cgroup2 mounted (cgroup layout %s)", layout);
      return NULL;
    }
  g_autofree char *self = NULL;
  if (g_file_get_contents ("/proc/self/cgroup", &self, NULL, NULL))
    {
      const char *line = strstr (self, "0::/");
      g_autofree char *own = line ? g_strndup (line + 3, strcspn (line + 3, "\n")) : NULL;
      g_autofree char *dir = own && strcmp (own, "/") != 0 ? g_build_filename (mount, own, NULL) : NULL;
      g_autofree char *path = dir ? g_build_filename (dir, witness, NULL) : NULL;
      if (path && g_file_test (path, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&dir);
    }
  g_autoptr (GDir) root = g_dir_open (mount, 0, NULL);
  for (const char *name; root && (name = g_dir_read_name (root));)
    {
      g_autofree char *dir = g_build_filename (mount, name, NULL);
      g_autofree char *path = g_build_filename (dir, witness, NULL);
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&dir);
    }
  *why = g_strdup_printf ("no cgroup below %s has %s to look at", mount, witness);
  return NULL;
}

/* @file beside @witness in a cgroup2 directory: the kernel makes a
 * cgroup's interface files all at once, so one without @file lacks it. */
static BerthFeatureAnswer
probe_cgroup_file (const char *witness, const char *file, char **why)
{
  g_autofree char *dir = cgroup2_dir_with (witness, why);
  if (dir == NULL)
    return BERTH_FEATURE_UNKNOWN;
  g_autofree char *path = g_build_filename (dir, file, NULL);
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    return BERTH_FEATURE_YES;
  *why = g_strdup_printf ("%s has no %s", dir, file);
  return BERTH_FEATURE_NO;
}

static BerthFeatureAnswer
probe_cgroup_kill (char **why)
{
  return probe_cgroup_file ("cgroup.procs", "cgroup.kill", why);
}

/* Where the memory controller is on cgroup v1 (hybrid, v1), berth reads
 * memory.max_usage_in_bytes and memory.peak does not matter. */
static BerthFeatureAnswer
probe_memory_peak (char **why)
{
  BerthFeatureAnswer answer = probe_cgroup_file ("memory.current", "memory.peak", why);
  if (answer == BERTH_FEATURE_UNKNOWN)
    {
      g_free (*why);
      *why = g_strdup ("no cgroup2 cgroup here has the memory controller (on cgroup v1 berth "
                       "reads memory.max_usage_in_bytes)");
    }
  return answer;
}

const BerthKernelFeature berth_kernel_features[] = {
  { .name = "pidfd_open", .since = "5.3", .probe = probe_pidfd,
    .needed_by = "every container: berth waits on and signals its processes by pidfd" },
  { .name = "open_tree, move_mount", .since = "5.2", .probe = probe_open_tree,
    .needed_by = "containers with a user namespace: the rootfs and binds are handed in as detached mounts" },
  { .name = "openat2 RESOLVE_IN_ROOT", .since = "5.6", .probe = probe_openat2,
    .needed_by = "unpacking layers and starting containers: paths are resolved inside the rootfs" },
  { .name = "clone3 CLONE_INTO_CGROUP", .since = "5.7", .probe = probe_clone_into_cgroup,
    .needed_by = "native containers on cgroup v2 (on v1 berth uses clone and cgroup.procs)" },
  { .name = "BPF cgroup device programs", .since = "4.15", .probe = probe_bpf_device,
    .needed_by = "device rules on cgroup v2 (native driver)" },
  { .name = "close_range", .since = "5.9", .probe = probe_close_range,
    .without = "each descriptor listed in /proc/self/fd is closed" },
  { .name = "close_range CLOSE_RANGE_CLOEXEC", .since = "5.11", .probe = probe_close_range_cloexec,
    .without = "each descriptor listed in /proc/self/fd gets FD_CLOEXEC" },
  { .name = "mount_setattr MOUNT_ATTR_IDMAP", .since = "5.12", .probe = probe_mount_setattr,
    .without = "a user namespace's rootfs is not id-mapped: its files keep their host owners" },
  { .name = "cgroup.kill", .since = "5.14", .probe = probe_cgroup_kill,
    .without = "SIGKILL to each pid in cgroup.procs until the cgroup is empty" },
  { .name = "memory.peak", .since = "5.19", .probe = probe_memory_peak,
    .without = "stats report the peak memory use as unknown" },
  { .name = NULL },
};

BerthFeatureAnswer
berth_kernel_feature_probe (const char *name, char **why)
{
  for (const BerthKernelFeature *k = berth_kernel_features; k->name; k++)
    if (strcmp (k->name, name) == 0)
      return k->probe (why);
  g_return_val_if_reached (BERTH_FEATURE_UNKNOWN);
}
