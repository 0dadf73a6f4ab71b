/* Tar streams in and out of layers, through libarchive.
 *
 * Extraction is confined to the layer: every entry's parent directory is
 * resolved inside the layer root (openat2 RESOLVE_IN_ROOT), absolute paths and
 * ".." components are refused, hardlinks must point inside the layer, device
 * nodes are refused (the runtime makes /dev). A bad stream fails with
 * BERTH_ERROR_BAD_ARCHIVE and a message naming the entry and the reason; the
 * caller removes the partial layer. Plain, gzip, xz and zstd tars are read. */
#pragma once
#include <glib.h>
#include <sys/stat.h>

G_BEGIN_DECLS

/* How a driver stores OCI whiteouts. The extractor calls these instead of
 * creating ".wh.*" entries. @dirfd is the entry's parent directory, opened
 * O_RDONLY inside the layer (so it can be listed). @written holds the layer-relative paths created by
 * this extraction so far ("etc/passwd"), for opaque handling. */
typedef struct {
  gboolean (*whiteout) (int dirfd, const char *dir_relpath, const char *name,
                        gpointer data, GError **error);
  gboolean (*opaque) (int dirfd, const char *dir_relpath, GHashTable *written,
                      gpointer data, GError **error);
  gpointer data;
} BerthWhiteoutOps;

/* Whiteouts for a layer that is a full tree (vfs, btrfs): delete the path;
 * opaque removes the directory's entries not written by this extraction. */
extern const BerthWhiteoutOps berth_whiteout_delete_ops;

/* Put an overlay whiteout (a 0/0 character device) at @name in @dirfd, in
 * place of whatever is there. @dir_relpath names the directory in errors. */
gboolean berth_whiteout_mknod (int dirfd, const char *dir_relpath, const char *name,
                               GError **error);

/* Unpack the tar stream on @in_fd into the directory @root_fd.
 * @whiteouts NULL: ".wh." entries are refused. Returns bytes of file content
 * unpacked, or -1. */
gint64 berth_archive_extract (int root_fd, int in_fd, const BerthWhiteoutOps *whiteouts,
                              GError **error);
/* The same, failing (INVALID, naming @max_option as what raises it) once
 * more than @max bytes of file data would be written; 0: no limit. The
 * caller removes what was unpacked, as for any failure. */
gint64 berth_archive_extract_max (int root_fd, int in_fd, const BerthWhiteoutOps *whiteouts,
                                  gint64 max, const char *max_option, GError **error);

/* The same for files copied into a container (berth cp): no whiteouts, no
 * limit, and with @uid and @gid >= 0 every entry gets that owner instead of
 * the tar's. */
gint64 berth_archive_extract_owned (int root_fd, int in_fd, gint64 uid, gint64 gid,
                                    GError **error);

/* Unpack the layer tar on @in_fd onto @root_fd, a full copy of the layer's
 * parent (vfs, btrfs, devicemapper), so that it shows what overlay shows for
 * the same chain. The layer is unpacked into an empty directory of its own,
 * as overlay does, so its paths never resolve through the parent's entries;
 * then it is moved in: a directory merges with a directory below unless it is
 * opaque, anything else replaces what is below (a lower symlink or file that
 * the layer uses as a directory becomes a directory holding only the layer's
 * entries), and whiteouts delete. Returns bytes of file content, or -1. */
gint64 berth_archive_apply_layer (int root_fd, int in_fd, GError **error);

/* A tar (pax) writer onto a file descriptor. */
typedef struct BerthTarWriter BerthTarWriter;
BerthTarWriter *berth_tar_writer_new (int out_fd, GError **error);
/* Add the entry at @relpath under @dirfd (not following a final symlink) as
 * @name in the archive; regular files with their content, xattrs kept,
 * hardlinks to already-added inodes written as links. */
gboolean berth_tar_writer_add (BerthTarWriter *w, int dirfd, const char *relpath,
                               const char *name, GError **error);
/* Add ".wh.<basename>" for deleted @name, or ".wh..wh..opq" inside dir @name. */
gboolean berth_tar_writer_add_whiteout (BerthTarWriter *w, const char *name, GError **error);
gboolean berth_tar_writer_add_opaque (BerthTarWriter *w, const char *dir_name, GError **error);
/* Add a whole tree (every entry below @dirfd), names relative, sorted. */
gboolean berth_tar_writer_add_tree (BerthTarWriter *w, int dirfd, GError **error);
/* Add @relpath under @dirfd (not following it) as @name and, when it is a
 * directory, everything below it as @name/...; with @name "" only what is
 * below it, with names relative to it. */
gboolean berth_tar_writer_add_subtree (BerthTarWriter *w, int dirfd, const char *relpath,
                                       const char *name, GError **error);
gboolean berth_tar_writer_finish (BerthTarWriter *w, GError **error);
void berth_tar_writer_free (BerthTarWriter *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthTarWriter, berth_tar_writer_free)

/* The generic diff machinery (core/registry/naive-diff.c) for drivers without a native
 * one: compare the mounted trees @layer_dir and @parent_dir (NULL = empty). */
GPtrArray *berth_naive_changes (const char *layer_dir, const char *parent_dir, GError **error);
gboolean berth_naive_diff (const char *layer_dir, const char *parent_dir, int out_fd,
                           GError **error);
gint64 berth_naive_diff_size (const char *layer_dir, const char *parent_dir, GError **error);

/* openat2 of @relpath confined to @root_fd (RESOLVE_IN_ROOT): absolute
 * symlinks and ".." planted in an image resolve inside it, never on the
 * host. -1 with errno set. */
int berth_open_in_root (int root_fd, const char *relpath, guint64 flags);

G_END_DECLS
