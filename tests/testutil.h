/* Helpers shared by berth's tests: temporary stores, btrfs on a loop device,
 * and a byte-for-byte description of a tree for comparisons. */
#pragma once
#include <glib.h>
#include <stdarg.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* A fresh directory under /var/tmp (a disk filesystem, never tmpfs, so that
 * overlay and d_type behave as on a real store). Aborts the test on failure. */
char *tu_mkdtemp (const char *prefix);

/* rm -rf @dir after unmounting anything still mounted below it. */
void tu_remove_tree (const char *dir);

/* Make a 2 GiB sparse file in @workdir, mkfs.btrfs it and loop-mount it on
 * @mountpoint (created). FALSE with the reason (no mkfs.btrfs, no loop device,
 * no btrfs in the kernel) so the caller can g_test_skip with it. */
gboolean tu_btrfs_mount (const char *workdir, const char *mountpoint, GError **error);
void tu_btrfs_umount (const char *mountpoint);

void tu_write_file (const char *path, const char *contents, mode_t mode);

/* One line per entry below @dir, sorted: path, type, mode, uid, gid, size,
 * sha256 of contents, symlink target, rdev, xattrs (all but trusted.overlay.*),
 * and a hardlink-group marker, so two trees compare equal iff the lines do.
 * Directory mtimes are left out (they change whenever an entry is added). */
char *tu_tree_manifest (const char *dir);

/* TRUE if any mount point in /proc/self/mountinfo lies at or below @path. */
gboolean tu_mounted_below (const char *path);

/* /proc/PID/cgroup's line @line is one a runtime places a process by: on a
 * v1-only host the unmounted cgroup2 hierarchy still has its "0::/" line,
 * which no runtime can change, and the v1 misc hierarchy is one runc does
 * not join (berth neither; tests/clients compares the two). */
gboolean tu_cgroup_line_placeable (const char *line);

/* The hierarchy under /sys/fs/cgroup that holds @controller on this host: its
 * v1 mount, else the cgroup2 one (/sys/fs/cgroup, or its unified/ in the
 * hybrid layout). @controller NULL: the cgroup2 one. */
char *tu_cgroup_hierarchy (const char *controller);
/* /sys/fs/cgroup is itself cgroup2 (no v1 hierarchies). */
gboolean tu_cgroup_is_v2_only (void);
gboolean tu_cgroup_is_v1 (const char *hierarchy);

/* Why this host cannot give a container @controller (neither a v1
 * hierarchy nor cgroup2's root offers it: 6.12's Debian kernel has no v1
 * memory or cpuset, and a v1-only host then has them nowhere), or NULL. */
char *tu_cgroup_controller_missing (const char *controller);

/* Run a command line (argv) and return its exit status; stdout/stderr
 * captured into @out/@err when not NULL. */
int tu_run (char **argv, char **out, char **err);

/* Append the NULL-terminated @args to @argv (borrowed, the NULL left out). */
void tu_argv_add_va (GPtrArray *argv, va_list args);

/* The path of program @name; when it is not installed, NULL after
 * g_test_skip saying so and @why the test needs it. */
char *tu_find_program_or_skip (const char *name, const char *why);

/* The berth binary under test: $BERTH_BIN, else ./berth. */
const char *tu_berth_bin (void);
/* Run it with --root @root and the NULL-terminated args; its exit code,
 * with stdout/stderr captured into @out/@err when not NULL. */
int tu_berth_va (const char *root, char **out, char **err, va_list args);
int tu_berth (const char *root, char **out, char **err, ...) G_GNUC_NULL_TERMINATED;
/* Run the command line in @argv (binary first, no NULL at the end) the same
 * way, logging a failure's stderr. */
int tu_berth_argv (GPtrArray *argv, char **out, char **err);

/* A shell script for a foreground relay check: it traps TERM (then prints
 * "got TERM" and exits @code), prints "ready" and waits. */
char *tu_term_trap_script (int code);
/* A foreground run's signal relay, as a user sees it: start @argv (NULL-
 * terminated), whose container runs tu_term_trap_script (@code); send TERM
 * to the command the moment "ready" is out; the command must exit @code
 * and the container's next line be "got TERM". The command is waited for
 * before that read: one killed by TERM leaves the container, which holds
 * the pipe, running, and the read would not end. */
void tu_assert_term_relayed (const char *const *argv, int code);

/* berth's error contract: one line on stderr, "berth: ...", naming @needle. */
void tu_assert_one_line_error (const char *err, const char *needle);

/* A layer id (64 hex digits) named by @label: sha256 of it. */
char *tu_layer_id (const char *label);

/* A memfd for a tar stream; aborts the test on failure. */
int tu_memfd (const char *name);

/* "K /path" lines of a BerthChange array, one per change, in its order. */
char *tu_changes_text (GPtrArray *changes);

G_END_DECLS
