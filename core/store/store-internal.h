/* The store layer's insides, shared by core/store/ and read by
 * core/runtime/ (which sits on top of it); never by drivers or the CLI. */
#pragma once
#include <berth/store.h>
#include <json-glib/json-glib.h>
#include <berth/json.h>

struct BerthStore {
  char *root;
  int lock_fd;
  char *driver_override;
  char *default_driver;
  char *default_rule;
  GHashTable *drivers; /* name -> BerthStorage */
  char **storage_opts; /* --storage-opt, then the config file's [storage] options */
  char **conf_storage_opts; /* the config file's [storage] options, read at open */
  gboolean changing; /* this handle set the change mark (berth_store_begin_change) */
};

/* 64 random hex digits: a container's id, an anonymous volume's name. */
char *berth_random_hex_id (void);
char *berth_store_path (BerthStore *store, const char *first, ...) G_GNUC_NULL_TERMINATED;

/* The ids under @subdir: @id_of gives the id an entry's name stands
 * for (newly allocated), or NULL for an entry that is none; NULL with
 * @error set when @subdir cannot be read. One listing for containers/ and
 * images/, whose entries are named differently. */
GPtrArray *berth_store_list_ids (BerthStore *store, const char *subdir,
                                 char *(*id_of) (const char *name), GError **error);

/* Remove what creates killed half-way left in containers/. */
gboolean berth_container_sweep_incomplete (BerthStore *store, GError **error);

/* Forget image @id, made by this command unless @existed, and collect what
 * only it referenced: the undo of a failed import, load or commit. */
void berth_image_undo (BerthStore *store, const char *id, gboolean existed);

/* Import the tar on @tar_fd as a one-layer image with @cmd as its command. */
char *berth_image_import_tree_fd (BerthStore *store, int tar_fd, const char *ref,
                                  const char *driver, char **cmd, const char *created_by,
                                  GError **error);

/* Staged ingest (berth_blob_stage in store.h) ends in a commit: */
/* Under the store lock (and the change mark): the staged blob @digest into
 * the content store, or nothing when the store has it already. */
gboolean berth_blob_commit_staged (BerthStore *store, const char *staging, const char *digest,
                                   GError **error);

/* --- layer holds (core/store/hold.c) --- */
/* Holds on image layers a load or import unpacks without the store lock;
 * made under the store lock (it makes <root>/holds/, which the sweeps look
 * for under the lock too). */
typedef struct BerthLayerHolds BerthLayerHolds;
BerthLayerHolds *berth_layer_holds_new (BerthStore *store, GError **error);
void berth_layer_holds_free (BerthLayerHolds *holds);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthLayerHolds, berth_layer_holds_free)
/* Hold every chain id of @chains in @storage, waiting for other holders
 * (without the store lock only: its holders never wait on a hold). */
gboolean berth_layer_holds_take (BerthLayerHolds *holds, BerthStore *store,
                                 BerthStorage *storage, GPtrArray *chains, GError **error);
/* Under the store lock, without waiting: does another command hold it? */
gboolean berth_layer_is_held (BerthStore *store, BerthStorage *storage, const char *chain);
/* Drop holds killed commands left; TRUE when there were any. */
gboolean berth_layer_holds_sweep_stale (BerthStore *store);
/* Under the store lock: may the sweeps of half-made layers run? FALSE
 * while a load unpacks; TRUE with *@fd the holds directory locked
 * exclusively until the caller closes it (-1 where there is none yet). */
gboolean berth_layer_holds_lock_for_sweep (BerthStore *store, int *fd);

/* Chain id hex of layer @n of the layers @diff_ids name. */
char *berth_chain_id (char **diff_ids, int n);
/* Unpack the layers @diff_ids name into @storage from the blobs staged in
 * @staging (berth_blob_stage), without the store lock, under holds kept in
 * @holds; layers already there are held, not made again. Nothing to do
 * where the driver cannot unpack beside other commands: the commit's
 * berth_layer_ensure unpacks under the store lock. */
gboolean berth_layer_prepare (BerthStore *store, BerthStorage *storage, BerthLayerHolds *holds,
                              GPtrArray *diff_id_lists, const char *staging, GError **error);
