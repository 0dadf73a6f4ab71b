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

/* Staged ingest, for loads and imports that read and hash without the
 * store lock: the blob is decompressed, hashed and fsynced into
 * @staging/<hex> (a berth_store_mkdtemp directory); returns its digest. */
char *berth_blob_stage (const char *staging, int in_fd, gint64 max, BerthProgressFunc progress,
                        gpointer data, GError **error);
/* Under the store lock (and the change mark): the staged blob @digest into
 * the content store, or nothing when the store has it already. */
gboolean berth_blob_commit_staged (BerthStore *store, const char *staging, const char *digest,
                                   GError **error);
