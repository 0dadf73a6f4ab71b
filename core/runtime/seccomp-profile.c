/* Docker's default seccomp profile in effect, as an OCI linux.seccomp
 * object: everything refused with EPERM except an allowlist of the calls
 * ordinary programs make, resolved for Docker's default capability set.
 *
 * Refused, as Docker refuses them to a container without CAP_SYS_ADMIN,
 * CAP_SYS_MODULE, CAP_SYS_TIME, CAP_SYS_NICE and friends: keyctl, add_key,
 * request_key, kexec_load, kexec_file_load, init_module, finit_module,
 * delete_module, bpf, unshare, setns, mount, umount2, pivot_root, swapon,
 * swapoff, reboot, perf_event_open, open_by_handle_at (name_to_handle_at
 * stays allowed, as in Docker), lookup_dcookie, userfaultfd, acct, clock_settime, settimeofday, stime,
 * quotactl, vm86, iopl, ioperm, fsopen, fsconfig, fsmount, fspick,
 * move_mount, open_tree, mount_setattr, syslog, nfsservctl, create_module,
 * get_kernel_syms, query_module, uselib, mbind, get_mempolicy,
 * set_mempolicy, move_pages, kcmp, pidfd_getfd, process_madvise, vhangup,
 * sethostname, setdomainname, and io_uring_* (Docker 25 dropped those). */
#include "config.h"
#include <berth/spec.h>
#include <errno.h>

static const char *const allowed[] = {
  "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
  "capset", "chdir", "chmod", "chown", "chown32", "chroot", "clock_adjtime", "clock_adjtime64",
  "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
  "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat", "dup",
  "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
  "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat",
  "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
  "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
  "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
  "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
  "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv",
  "futex_wake", "futimesat", "get_robust_list", "get_thread_area", "getcpu", "getcwd", "getdents",
  "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
  "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
  "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
  "getrusage", "getsid", "getsockname", "getsockopt", "gettid", "gettimeofday", "getuid",
  "getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch",
  "io_cancel", "io_destroy", "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_setup",
  "io_submit", "ioctl", "ioprio_get", "ioprio_set", "ipc", "kill", "landlock_add_rule",
  "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link",
  "linkat", "listen", "listxattr", "llistxattr", "_llseek", "lremovexattr", "lseek", "lsetxattr",
  "lstat", "lstat64", "madvise", "map_shadow_stack", "membarrier", "memfd_create", "memfd_secret",
  "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2",
  "mprotect", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64",
  "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv",
  "msgsnd", "msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect",
  "open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
  "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64",
  "preadv", "preadv2", "prlimit64", "process_mrelease", "process_vm_readv", "process_vm_writev",
  "pselect6", "pselect6_time64", "ptrace", "pwrite64", "pwritev", "pwritev2", "read", "readahead",
  "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
  "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir",
  "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
  "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
  "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr",
  "sched_getparam", "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
  "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield",
  "seccomp", "select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
  "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "set_robust_list", "set_thread_area",
  "set_tid_address", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32",
  "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
  "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
  "setsid", "setsockopt", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
  "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall",
  "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat",
  "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
  "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
  "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
  "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname",
  "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice",
  "wait4", "waitid", "waitpid", "write", "writev",
  NULL,
};

/* Architecture-specific calls Docker allows on the host's arches. */
static const char *const arch_allowed[] = {
#if defined(__x86_64__) || defined(__i386__)
  "arch_prctl", "modify_ldt",
#elif defined(__aarch64__) || defined(__arm__)
  "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush",
  "set_tls",
#endif
  NULL,
};

/* personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26,
 * UNAME26|PER_LINUX32, and the query (0xffffffff). */
static const gint64 personalities[] = { 0x0, 0x0008, 0x20000, 0x20008, 0xffffffff };

/* CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: without
 * CAP_SYS_ADMIN clone may make no namespace. */
#define CLONE_NAMESPACE_MASK 0x7E020000
/* AF_VSOCK reaches the hypervisor; Docker 23 refuses such sockets. */
#define BERTH_AF_VSOCK 40

/* Opens a rule object; the caller may add "args" and closes it. */
static void
begin_rule (JsonBuilder *b, const char *const *names, const char *action, int errno_ret)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "names");
  json_builder_begin_array (b);
  for (const char *const *n = names; *n; n++)
    json_builder_add_string_value (b, *n);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "action");
  json_builder_add_string_value (b, action);
  if (errno_ret)
    {
      json_builder_set_member_name (b, "errnoRet");
      json_builder_add_int_value (b, errno_ret);
    }
}

/* One whole rule allowing @name when argument @index compares by @op. */
static void
add_arg_rule (JsonBuilder *b, const char *name, int index, gint64 value, gint64 value_two,
              const char *op)
{
  begin_rule (b, (const char *const[]) { name, NULL }, "SCMP_ACT_ALLOW", 0);
  json_builder_set_member_name (b, "args");
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "index");
  json_builder_add_int_value (b, index);
  json_builder_set_member_name (b, "value");
  json_builder_add_int_value (b, value);
  json_builder_set_member_name (b, "valueTwo");
  json_builder_add_int_value (b, value_two);
  json_builder_set_member_name (b, "op");
  json_builder_add_string_value (b, op);
  json_builder_end_object (b);
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static void
add_architectures (JsonBuilder *b)
{
  json_builder_set_member_name (b, "architectures");
  json_builder_begin_array (b);
#if defined(__x86_64__)
  json_builder_add_string_value (b, "SCMP_ARCH_X86_64");
  json_builder_add_string_value (b, "SCMP_ARCH_X86");
  json_builder_add_string_value (b, "SCMP_ARCH_X32");
#elif defined(__aarch64__)
  json_builder_add_string_value (b, "SCMP_ARCH_AARCH64");
  json_builder_add_string_value (b, "SCMP_ARCH_ARM");
#endif
  json_builder_end_array (b);
}

static void
add_syscalls (JsonBuilder *b)
{
  json_builder_set_member_name (b, "syscalls");
  json_builder_begin_array (b);
  begin_rule (b, allowed, "SCMP_ACT_ALLOW", 0);
  json_builder_end_object (b);
  if (arch_allowed[0])
    {
      begin_rule (b, arch_allowed, "SCMP_ACT_ALLOW", 0);
      json_builder_end_object (b);
    }
  for (guint i = 0; i < G_N_ELEMENTS (personalities); i++)
    add_arg_rule (b, "personality", 0, personalities[i], 0, "SCMP_CMP_EQ");
  add_arg_rule (b, "clone", 0, CLONE_NAMESPACE_MASK, 0, "SCMP_CMP_MASKED_EQ");
  /* ENOSYS, not EPERM: glibc then falls back to clone, whose flags the
   * rule above can check (clone3 passes them in memory, out of BPF's reach). */
  begin_rule (b, (const char *const[]) { "clone3", NULL }, "SCMP_ACT_ERRNO", ENOSYS);
  json_builder_end_object (b);
  add_arg_rule (b, "socket", 0, BERTH_AF_VSOCK, 0, "SCMP_CMP_NE");
  json_builder_end_array (b);
}

JsonNode *
berth_seccomp_default_profile (void)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "defaultAction");
  json_builder_add_string_value (b, "SCMP_ACT_ERRNO");
  json_builder_set_member_name (b, "defaultErrnoRet");
  json_builder_add_int_value (b, EPERM);
  add_architectures (b);
  add_syscalls (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}
