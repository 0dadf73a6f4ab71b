/* The aufs storage driver's pure parts, exposed so that tests/test-aufs.c can
 * check them on a host whose kernel has no aufs: the planning of mount data
 * within one page, the whiteout form of apply_diff, and the branch walks
 * behind diff, changes and diff_size. Nothing here mounts anything. */
#pragma once
#include <glib.h>
#include <berth/archive.h>

G_BEGIN_DECLS

/* Where every aufs mount of berth keeps its inode translation table, as
 * Docker's did: one file on tmpfs, shared by all the mounts. */
#define BERTH_AUFS_XINO "/dev/shm/aufs.xino"

/* The data strings that mount @rw_branch over @ro_branches (NULL-terminated,
 * nearest parent first): the first for mount(2), each later one for a
 * MS_REMOUNT that appends further branches ("append:DIR=ro+wh", several per
 * remount where they fit). Every string is shorter than @page_size with its
 * NUL, and every branch appears once, in order. INVALID when a branch can
 * never fit or holds a character aufs parses (':', ',' or '='). */
GPtrArray *berth_aufs_mount_data (const char *rw_branch, const char *const *ro_branches,
                                  gsize page_size, gboolean dirperm1, GError **error);

/* The most branches one aufs mount takes, from the text of aufs's
 * /sys/fs/aufs/config (its CONFIG_AUFS_BRANCH_MAX_N=y line); NULL or a text
 * without one gives aufs's default, 127. */
#define BERTH_AUFS_DEFAULT_BRANCH_MAX 127
guint berth_aufs_branch_max (const char *config_text);

/* apply_diff's whiteouts: OCI's ".wh.NAME" and ".wh..wh..opq" are aufs's own
 * form, so they are created as empty files in the branch, never applied. */
extern const BerthWhiteoutOps berth_aufs_whiteout_ops;

/* Added/changed/deleted paths of the branch directory @branch against the
 * branches below it (@lowers: NULL-terminated, nearest first), sorted by
 * path; aufs's own ".wh..wh.*" entries are left out. */
GPtrArray *berth_aufs_changes (const char *branch, const char *const *lowers, GError **error);

/* A tar of @branch as an OCI layer: its whiteout files as whiteout entries,
 * aufs's own ".wh..wh.*" entries (plnk, aufs, orph, temporaries) left out. */
gboolean berth_aufs_diff_tar (const char *branch, int out_fd, GError **error);

/* Bytes of regular-file content in @branch (each hardlinked inode once;
 * whiteouts and aufs's own entries left out): what the diff tar carries. */
gint64 berth_aufs_branch_size (const char *branch, GError **error);

G_END_DECLS
