/* Copying whole trees, for drivers whose layer is a full copy (vfs) and for
 * building images from host directories. Keeps owners, modes, timestamps,
 * xattrs, hardlinks, sparse files, symlinks, fifos and device nodes. File data
 * goes by reflink (FICLONE) where the filesystem shares extents, else by
 * copy_file_range; regular files are copied by a small pool of threads. */
#pragma once
#include <glib.h>
#include <sys/stat.h>

G_BEGIN_DECLS

typedef struct {
  guint64 files;
  guint64 bytes;
  guint64 reflinked; /* files whose data was shared, not copied */
} BerthCopyStats;

/* Copy the contents of directory @src_dirfd into the existing, empty directory
 * @dst_dirfd (whose own mode/owner/xattrs are set from the source). @stats may be NULL. */
gboolean berth_copy_tree (int src_dirfd, int dst_dirfd, BerthCopyStats *stats, GError **error);

/* Give the open @dst_fd @src_fd's owner, mode, xattrs (added to its own) and
 * times; @st is @src_fd's. @what names it in errors. */
gboolean berth_copy_fd_meta (int src_fd, int dst_fd, const struct stat *st, const char *what,
                             GError **error);

G_END_DECLS
