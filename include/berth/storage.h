/* The storage-driver contract.
 *
 * A driver turns a chain of layers into a mounted root filesystem. Each driver
 * fills one const BerthStorageOps (designated initializers; NULL = not
 * supported), listed with its name, options and default rule in the
 * storage table (include/berth/family.h, core/registry/family.c). The core holds a
 * BerthStorage and calls only the berth_storage_* wrappers below; it never
 * knows which driver it holds.
 *
 * Layer ids are 64 lower-case hex digits (chain ids for image layers, the
 * container id for a writable layer). A parent is NULL for a base layer.
 *
 * Required: probe, init, cleanup, create, remove, get, put, exists.
 * Optional: sweep, list, status, diff, changes, apply_diff, diff_size. Where NULL, the core's
 * generic implementation (core/registry/naive-diff.c) compares the mounted layer with
 * its mounted parent, the way Docker's naive diff driver does. */
#pragma once
#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct BerthStorage BerthStorage;

typedef enum {
  BERTH_CHANGE_ADDED = 'A',
  BERTH_CHANGE_MODIFIED = 'C',
  BERTH_CHANGE_DELETED = 'D',
} BerthChangeKind;

typedef struct {
  BerthChangeKind kind;
  char *path; /* absolute inside the layer: "/etc/passwd" */
} BerthChange;

void berth_change_free (BerthChange *change);
/* Append a change of @path ("etc/passwd" or "/etc/passwd"; stored absolute). */
void berth_changes_add (GPtrArray *changes, BerthChangeKind kind, const char *path);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthChange, berth_change_free)

typedef struct BerthStorageOps {
  const char *name; /* the same as its entry's in the storage table */
  /* TRUE when create and apply_diff of an image layer touch only that
   * layer's own files (and its refs record), so that a load or import may
   * unpack it without the store lock, beside other commands, under a layer
   * hold (core/store/layer.c). FALSE keeps unpacking under the store lock
   * (devicemapper: one pool, one device-id counter for all layers). */
  gboolean concurrent_unpack;

  /* Can this host run the driver with its home at @home (which may not exist
   * yet)? FALSE with a one-line reason: NOT_SUPPORTED when the kernel lacks
   * something, BACKING_FS when the filesystem under @home is the cause. */
  gboolean (*probe) (const char *home, GError **error);

  /* Prepare driver state in @home (created by the core, mode 0700).
   * @options: "key=value" strings from --storage-opt; unknown keys are errors.
   * Returns the driver's private data, stored in BerthStorage.priv. */
  gpointer (*init) (const char *home, char **options, GError **error);
  void (*cleanup) (BerthStorage *storage);
  /* Remove what a create or remove killed half-way left in the home
   * (".tmp-" names, overlay's links to nothing). Not part of init: the
   * core calls it only while no command unpacks layers without the store
   * lock, whose half-made layers look the same (berth_storage_sweep). */
  gboolean (*sweep) (BerthStorage *storage, GError **error);

  /* Make layer @id on top of @parent (NULL: empty layer, a 0755 root dir).
   * @writable: a container layer rather than an image layer. */
  gboolean (*create) (BerthStorage *storage, const char *id, const char *parent,
                      gboolean writable, GError **error);
  /* Delete @id and all its data. The core unmounts it first. */
  gboolean (*remove) (BerthStorage *storage, const char *id, GError **error);
  /* Make @id's merged view available; return its path. Called for every user:
   * when the view is already mounted, return it as it is (this also heals a
   * count that outlived its mount, after a reboot). */
  char *(*get) (BerthStorage *storage, const char *id, GError **error);
  /* Release what get made (unmount). Called when the count drops to 0. */
  gboolean (*put) (BerthStorage *storage, const char *id, GError **error);
  gboolean (*exists) (BerthStorage *storage, const char *id);
  /* The ids of every layer that exists says is there, in no set order:
   * garbage collection removes those no image, marker or container names
   * (an unpack killed half-way). NULL: such layers are never collected. */
  GPtrArray *(*list) (BerthStorage *storage, GError **error);

  /* Append key/value facts for `berth info` (alternating key, value strings). */
  void (*status) (BerthStorage *storage, GPtrArray *pairs);

  /* Write a tar of @id's changes against @parent to @out_fd; deletions as
   * OCI ".wh.NAME" entries, opaque directories as ".wh..wh..opq". */
  gboolean (*diff) (BerthStorage *storage, const char *id, const char *parent,
                    int out_fd, GError **error);
  /* The added/changed/deleted paths of @id against @parent, sorted by path. */
  GPtrArray *(*changes) (BerthStorage *storage, const char *id, const char *parent,
                         GError **error);
  /* Unpack the tar on @in_fd into @id (created empty on @parent), turning OCI
   * whiteouts into the driver's own form. Returns the unpacked size, -1 on error. */
  gint64 (*apply_diff) (BerthStorage *storage, const char *id, const char *parent,
                        int in_fd, GError **error);
  /* Size in bytes of what diff would contain (file contents). -1 on error. */
  gint64 (*diff_size) (BerthStorage *storage, const char *id, const char *parent,
                       GError **error);
} BerthStorageOps;

struct BerthStorage {
  const BerthStorageOps *ops;
  char *home;     /* <root>/storage/<driver name> */
  gpointer priv;  /* the driver's, from init */
  char boot_id[40]; /* this boot's id: a reference count from another boot is stale */
};

/* The registry: every driver of the storage table built into this binary,
 * in its order (core/registry/family.c); NULL-terminated. */
const BerthStorageOps *const *berth_storage_drivers (void);
const BerthStorageOps *berth_storage_driver_lookup (const char *name);

/* Can driver @name run with its home under @store_root/storage/? Leaves
 * nothing behind (overlay's test mount is undone), opens nothing: `berth
 * info` asks it of drivers the store has not used.
 * FALSE with the driver's one-line reason, its table entry's not_built
 * line, or that berth knows no such driver. */
gboolean berth_storage_probe (const char *store_root, const char *name, GError **error);

/* Probe and init driver @name with its home under @store_root/storage/. */
BerthStorage *berth_storage_open (const char *store_root, const char *name,
                                  char **options, GError **error);
void berth_storage_close (BerthStorage *storage);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthStorage, berth_storage_close)

/* Wrappers the core calls. get/put are reference counted across processes
 * (counts kept under the driver home, guarded by the store lock): two users of
 * one layer mount it once; the last put unmounts. A get outlives the process
 * that took it (`berth mount`, a started container); the _transient pair is
 * for a use within one command and is recorded with the process (pid and
 * start time): when that process dies without its put, the next command no
 * longer counts the hold, and remove unmounts what it left. */
gboolean berth_storage_create (BerthStorage *s, const char *id, const char *parent,
                               gboolean writable, GError **error);
gboolean berth_storage_remove (BerthStorage *s, const char *id, GError **error);
char *berth_storage_get (BerthStorage *s, const char *id, GError **error);
gboolean berth_storage_put (BerthStorage *s, const char *id, GError **error);
char *berth_storage_get_transient (BerthStorage *s, const char *id, GError **error);
gboolean berth_storage_put_transient (BerthStorage *s, const char *id, GError **error);
/* Turn this process's transient hold on @id into a lasting one, in one
 * rewrite: a start holds the root transiently until the start is recorded,
 * so a start killed before that leaves no hold. */
gboolean berth_storage_keep (BerthStorage *s, const char *id, GError **error);
gboolean berth_storage_exists (BerthStorage *s, const char *id);
/* The driver's sweep, where it has one. */
gboolean berth_storage_sweep (BerthStorage *s, GError **error);
/* The driver's layers (list), empty where it cannot list them. */
GPtrArray *berth_storage_list (BerthStorage *s, GError **error);
/* Holds on @id now: persistent ones and those of live processes. */
guint berth_storage_refcount (BerthStorage *s, const char *id);
GPtrArray *berth_storage_status (BerthStorage *s);
gboolean berth_storage_diff (BerthStorage *s, const char *id, const char *parent,
                             int out_fd, GError **error);
GPtrArray *berth_storage_changes (BerthStorage *s, const char *id, const char *parent,
                                  GError **error);
gint64 berth_storage_apply_diff (BerthStorage *s, const char *id, const char *parent,
                                 int in_fd, GError **error);
gint64 berth_storage_diff_size (BerthStorage *s, const char *id, const char *parent,
                                GError **error);

/* For drivers' list: the layer ids named by the entries "<id><suffix>" of
 * @dir for which exists is TRUE (temporary names and the rest left out). */
GPtrArray *berth_storage_list_dir (BerthStorage *s, const char *dir, const char *suffix,
                                   GError **error);

G_END_DECLS
