/* Small filesystem helpers shared by the core and the drivers.
 * Every call checks its syscalls and reports failures with errno text. */
#pragma once
#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Write @len bytes to @path atomically: temp file in the same directory,
 * fsync, rename, fsync of the directory. Readers see the old or the new file. */
gboolean berth_write_file_atomic (const char *path, const void *data, gsize len,
                                  mode_t mode, GError **error);

/* The same without the fsyncs: readers still see the old or the new file, but
 * a crash may lose the update. For runtime state (pids, exit codes) that a
 * reboot makes meaningless anyway, and that sits on the start path. */
gboolean berth_write_file_replace (const char *path, const void *data, gsize len,
                                   mode_t mode, GError **error);

/* mkdir -p with @mode for the directories it creates. */
gboolean berth_mkdir_p (const char *path, mode_t mode, GError **error);

/* Remove @path and everything below it; never crosses into another mount
 * (fails with BUSY if a mount point is found below). Missing @path is fine. */
gboolean berth_rm_rf (const char *path, GError **error);

/* Same, for entry @name in directory @dirfd. */
gboolean berth_rm_rf_at (int dirfd, const char *name, GError **error);

/* Write all @len bytes, retrying short writes and EINTR; FALSE with errno set. */
gboolean berth_write_all (int fd, const void *buf, gsize len);

/* The entry names of directory @dirfd (left open and unmoved), without "."
 * and "..", sorted bytewise so walks and tars are reproducible. @what names
 * the directory in errors. */
GPtrArray *berth_dir_names_sorted (int dirfd, const char *what, GError **error);
/* strcmp for g_ptr_array_sort of strings, which hands the compare
 * function pointers to the array's slots, not the strings. */
gint berth_compare_string_slots (gconstpointer a, gconstpointer b);

/* Overlay keeps its bookkeeping in these; a layer that carried them could
 * forge whiteouts, redirects or opaque markers in a merged view. */
gboolean berth_is_overlay_xattr (const char *name);

typedef gboolean (*BerthXattrFunc) (const char *name, const void *value, gsize len,
                                    gpointer data, GError **error);
/* Call @func for each xattr of @name in @dirfd (not following a final
 * symlink), overlay's own left out, in name order so equal trees give equal
 * tars and comparisons. A filesystem without xattrs has none. */
gboolean berth_read_xattrs (int dirfd, const char *name, BerthXattrFunc func, gpointer data,
                            GError **error);

/* Remove the entries of @dir whose names contain ".tmp-": what an atomic
 * write or a staged create leaves when berth is killed half-way. Callers hold
 * the store lock, so no live writer owns them. */
gboolean berth_remove_stale_temps (const char *dir, GError **error);
/* Remove the tree at @path in a way a kill cannot leave half-done under its
 * name: it is renamed to @path.tmp-XXXXXXXX first (which
 * berth_remove_stale_temps sweeps), then removed. */
gboolean berth_rm_rf_staged (const char *path, GError **error);

/* TRUE if @path is a mount point according to /proc/self/mountinfo. */
gboolean berth_is_mountpoint (const char *path);

/* Filesystem type name of @path ("ext4", "btrfs", "tmpfs", ...) from statfs. */
const char *berth_fs_type_name (const char *path);

/* TRUE if the filesystem at @dir fills in d_type in readdir (overlay needs it).
 * FALSE with error if it cannot be probed. */
gboolean berth_fs_supports_d_type (const char *dir, gboolean *supported, GError **error);

/* When process @pid started (clock ticks after boot), or 0 when it is gone
 * or a zombie. A pid plus its start time names one process for good, even
 * after the pid is reused. */
guint64 berth_process_start_time (pid_t pid);

/* Is filesystem type @fstype in /proc/filesystems? FALSE with NOT_SUPPORTED
 * "kernel has no @fstype (...)" otherwise, @hint appended when not NULL. */
gboolean berth_kernel_has_filesystem (const char *fstype, const char *hint, GError **error);

/* @path itself, or its nearest existing ancestor directory: where a store
 * that does not exist yet will live. NULL with the reason. */
char *berth_nearest_existing_dir (const char *path, GError **error);

/* Unmount @target when it is a mount point (a no-op otherwise). A mount
 * still in use fails with BUSY, saying so. */
gboolean berth_unmount (const char *target, GError **error);

/* Detach every mount below @dir, deepest first: what a failed or
 * interrupted job left under a temporary root. Failures are warned about,
 * not returned: the caller is cleaning up and goes on. */
void berth_unmount_below (const char *dir);

/* A file the user asked berth to write (`save -o`, `export -o`): written
 * as an unnamed file (O_TMPFILE) in PATH's directory and given its name
 * once complete and fsynced, so a half-written tar never stands at PATH
 * and a failure or a kill leaves nothing (an existing PATH is replaced by
 * a rename, through a temporary name PATH.tmp-XXXXXXXX held for the two
 * calls between). Where the filesystem has no O_TMPFILE, the tar is
 * written to PATH.tmp-XXXXXX and renamed. PATH must be missing or a
 * regular file: renaming over a device node, FIFO, symlink or directory
 * would replace it, so that is refused up front. */
typedef struct {
  char *path;
  char *tmp; /* the named temp file; NULL when the file is unnamed */
  int fd;
} BerthOutputFile;
gboolean berth_output_file_open (BerthOutputFile *out, const char *path, GError **error);
/* Finish @out: with @ok, fsync and rename (FALSE with the reason if that
 * fails); without, remove the temp file. Frees @out's fields. */
gboolean berth_output_file_close (BerthOutputFile *out, gboolean ok, GError **error);

/* One message of @len bytes on socket @sock carrying descriptor @fd
 * (SCM_RIGHTS; none when @fd < 0): sendmsg's result, errno set. Allocates
 * nothing, so a freshly cloned child may call it. */
gssize berth_send_with_fd (int sock, const void *data, gsize len, int fd);
/* One message into @buf and the descriptor it carries (close-on-exec) in
 * *@fd, -1 when none: recvmsg's result, retried on EINTR. */
gssize berth_recv_with_fd (int sock, void *buf, gsize size, int *fd);

G_END_DECLS
