/* The store: everything berth keeps under one root directory.
 *
 *   <root>/lock                       the store lock (flock): store-wide records, briefly
 *   <root>/containers/<hex>/lock      a container's state and lifecycle (flock)
 *   <root>/driver                     the default storage driver, fixed at first use
 *   <root>/blobs/sha256/<hex>         content store: uncompressed layer tars by diff id
 *   <root>/images/<hex>.json          image configs (OCI image config; id = sha256 of bytes)
 *   <root>/tags.json                  {"name:tag": "<image hex>"}
 *   <root>/layers/<driver>/<chain>    marker: layer <chain> is complete in <driver>
 *   <root>/storage/<driver>/          the driver's home
 *   <root>/containers/<hex>/container.json
 *   <root>/networks/<name>.json       networks (include/berth/network.h's BerthNetwork)
 *   <root>/tmp/<pid>-<start>-XXXXXX   staging; a dead command's is swept when the store opens
 *
 * Image layers are unpacked into a driver on demand (berth_layer_ensure), so
 * one store holds images in several drivers at once. Every metadata write is
 * atomic; a failed operation removes what it made. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>
#include <berth/names.h>
#include <berth/storage.h>
#include <berth/network.h>

G_BEGIN_DECLS

typedef struct BerthStore BerthStore;

typedef void (*BerthProgressFunc) (guint64 bytes_done, gpointer data);

/* Open (creating if needed) the store at @root and take its lock.
 * @driver_override: --storage-driver, or NULL. */
BerthStore *berth_store_open (const char *root, const char *driver_override, GError **error);
/* The same without the store lock and without sweeping anything, for
 * commands that only read records (ps, images, inspect): every record is
 * written atomically, so a reader sees each one whole. Whatever such a
 * handle must change takes the lock for that step (berth_store_lock). */
BerthStore *berth_store_open_reader (const char *root, const char *driver_override,
                                     GError **error);
/* Does this handle hold the store lock now? */
gboolean berth_store_is_locked (BerthStore *store);

/* A command about to make or drop layers, blobs, images or containers
 * marks the store (<root>/changing); the mark goes when it unlocks or
 * closes the store. A mark found by the next command means one was killed
 * half-way: berth_store_recover then collects what it left (garbage
 * collection), so nothing half-made outlives the next command. */
gboolean berth_store_begin_change (BerthStore *store, GError **error);
gboolean berth_store_recover (BerthStore *store, GError **error);
/* In a forked child sharing the handle: the mark is the parent's to clear. */
void berth_store_forget_change (BerthStore *store);
void berth_store_close (BerthStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthStore, berth_store_close)

const char *berth_store_root (BerthStore *store);
/* Storage options ("dm.basesize=20G") for the drivers this handle opens from
 * now on; each goes to the driver whose option prefix it carries. A key no
 * driver takes is INVALID. The config file's [storage] options= come after. */
gboolean berth_store_set_storage_options (BerthStore *store, char **options, GError **error);
/* Give the lock up while waiting on a container (whose monitor needs the
 * lock to release the container's mount), or for the long part of a load,
 * and take it again. A forked child must call
 * unlock at once: closing its copy leaves the parent's lock held. */
void berth_store_unlock (BerthStore *store);
gboolean berth_store_lock (BerthStore *store, GError **error);
/* The driver a new container or import uses when none is named, and why. */
const char *berth_store_default_driver (BerthStore *store, const char **rule);
/* Open driver @name (NULL: the default) once per store handle. Opening
 * makes the driver's home, <root>/storage/<name>, and whatever the driver
 * sets up there (devicemapper: a pool). */
BerthStorage *berth_store_driver (BerthStore *store, const char *name, GError **error);
/* Has this store used driver @name: does its home exist? A driver nobody
 * used is only ever probed (`berth info`), never opened by a command that
 * does not need it. */
gboolean berth_store_driver_used (BerthStore *store, const char *name);
/* The drivers this store has used that can run here, opened (the store
 * handle owns them), in the storage table's order: what garbage collection
 * and the sweep of Incomplete containers visit. */
GPtrArray *berth_store_used_drivers (BerthStore *store);
/* A fresh directory under <root>/tmp; the caller removes it. */
char *berth_store_mkdtemp (BerthStore *store, GError **error);

/* --- content store (core/store/layer.c) --- */
/* Read a tar stream (plain, gzip, xz, zstd) from @in_fd, store it uncompressed
 * as a blob and return its digest "sha256:<hex>" (the layer's diff id). */
char *berth_blob_ingest (BerthStore *store, int in_fd, gint64 *size,
                         BerthProgressFunc progress, gpointer data, GError **error);
/* The same, refusing (INVALID, nothing stored) a stream that decompresses
 * to more than @max bytes; 0: no limit. */
char *berth_blob_ingest_max (BerthStore *store, int in_fd, gint64 max, gint64 *size,
                             BerthProgressFunc progress, gpointer data, GError **error);
char *berth_blob_path (BerthStore *store, const char *digest);
gboolean berth_blob_remove (BerthStore *store, const char *digest, GError **error);

/* For a pull that fetches layers itself (core/distribution/): stage a
 * layer stream (plain, gzip, xz or zstd) decompressed and hashed into
 * @staging, a berth_store_mkdtemp directory, without the store lock;
 * returns its diff id. */
char *berth_blob_stage (const char *staging, int in_fd, gint64 max, BerthProgressFunc progress,
                        gpointer data, GError **error);
/* Stage the store's own blob @diff_id instead, when it has one: TRUE then,
 * and the layer need not be fetched. */
gboolean berth_blob_stage_existing (BerthStore *store, const char *staging, const char *diff_id);
/* Unpack the layers @config names from @staging into @driver, commit the
 * image and tag it @ref (NULL: untagged); nothing is left on failure.
 * Called with the store lock given up (berth_store_unlock); returns with
 * it held. Returns the image id. */
char *berth_image_commit_staged (BerthStore *store, const char *staging, const char *config,
                                 gsize len, const char *ref, const char *driver, GError **error);

/* --- origins (core/store/origin.c): what registries hold of the store's
 * images and layers, for `images --digests` and for push --- */
typedef struct {
  char *diff_id;     /* the layer, uncompressed */
  char *digest;      /* its blob in @repository */
  char *repository;  /* "127.0.0.1:5000/app", "docker.io/library/debian" */
  char *media_type;
  gint64 size;
} BerthBlobSource;
BerthBlobSource *berth_blob_source_new (const char *diff_id, const char *digest,
                                        const char *repository, const char *media_type,
                                        gint64 size);
void berth_blob_source_free (BerthBlobSource *src);
/* Under the store lock: @image_id is @repo_digest ("REPO@sha256:...") and
 * @sources (BerthBlobSource) are where its layers are; either may be NULL. */
gboolean berth_origin_record (BerthStore *store, const char *image_id, const char *repo_digest,
                              GPtrArray *sources, GError **error);
/* "REPO@sha256:..." of @image_id (an empty list when none is known). */
char **berth_origin_repo_digests (BerthStore *store, const char *image_id);
/* The blobs registries are known to hold of layer @diff_id. */
GPtrArray *berth_origin_blob_sources (BerthStore *store, const char *diff_id);

/* --- volumes (core/store/volume.c): <root>/volumes/<name>/_data --- */
typedef struct {
  char *name;
  char *mountpoint;  /* the _data directory containers mount */
  char *created;     /* RFC 3339 */
  gboolean anonymous; /* made for a container's -v /path: rm -v and run --rm remove it */
} BerthVolume;
void berth_volume_free (BerthVolume *v);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthVolume, berth_volume_free)
/* Under the store lock: volume @name, made when missing (*@created);
 * @name NULL makes an anonymous one with a random name. INVALID for a
 * name that is not [a-zA-Z0-9][a-zA-Z0-9_.-]+. */
BerthVolume *berth_volume_ensure (BerthStore *store, const char *name, gboolean *created,
                                  GError **error);
/* NOT_FOUND "no such volume: NAME". */
BerthVolume *berth_volume_lookup (BerthStore *store, const char *name, GError **error);
GPtrArray *berth_volume_list (BerthStore *store, GError **error);
/* The names of the containers whose config mounts @v. */
GPtrArray *berth_volume_users (BerthStore *store, BerthVolume *v, GError **error);
/* Under the store lock: BUSY naming a container that uses it. */
gboolean berth_volume_remove (BerthStore *store, const char *name, GError **error);

/* --- images (core/store/image.c) --- */
typedef struct {
  char *id;          /* 64 hex */
  JsonNode *config;  /* the OCI image config */
  char **diff_ids;   /* "sha256:<hex>", base first */
  GPtrArray *tags;   /* "name:tag" */
  gsize size;        /* bytes of the config */
} BerthImage;
void berth_image_free (BerthImage *image);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthImage, berth_image_free)

/* By name[:tag], full id, or unique id prefix. */
BerthImage *berth_image_lookup (BerthStore *store, const char *ref, GError **error);
GPtrArray *berth_image_list (BerthStore *store, GError **error);
/* Parse and check an OCI image config from an archive or a commit (JSON no
 * deeper than BERTH_JSON_MAX_DEPTH, rootfs.diff_ids all "sha256:<hex>");
 * @diff_ids gets those. INVALID otherwise. */
JsonNode *berth_image_config_parse (const char *config_json, gsize len, char ***diff_ids,
                                    GError **error);
/* Store @config (serialised exactly as given) and return the image id. */
char *berth_image_store_config (BerthStore *store, const char *config_json, gsize len,
                                GError **error);
gboolean berth_tag_set (BerthStore *store, const char *ref, const char *image_id, GError **error);
/* Many tags in one rewrite of tags.json: @refs[i] names @image_ids[i].
 * Nothing is written unless every ref is valid. */
gboolean berth_tags_set (BerthStore *store, GPtrArray *refs, GPtrArray *image_ids, GError **error);
/* Remove tag @ref, or the image by id when untagged; then collect garbage. */
gboolean berth_image_remove (BerthStore *store, const char *ref, gboolean force, GError **error);
/* A new OCI config JSON for a one-layer-added image. */
char *berth_image_config_new (JsonNode *base_config, const char *diff_id, const char *created_by,
                              char **cmd, gsize *len);
/* Image @id's config, byte for byte as stored (its sha256 is the id). */
GBytes *berth_image_config_bytes (BerthStore *store, const char *id, GError **error);
/* Bytes of @image's layers, uncompressed (what `images` shows). */
gint64 berth_image_size (BerthStore *store, BerthImage *image);
/* Chain id hex of layer @n of @image ("" when n < 0). */
char *berth_image_chain_id (BerthImage *image, int n);

/* --- layers in drivers (core/store/layer.c) --- */
/* Make sure every layer of @image is complete in @storage (unpacking from the
 * blobs what is missing) and return the top layer's chain id (NULL if the
 * image has no layers, with no error set). */
char *berth_layer_ensure (BerthStore *store, BerthStorage *storage, BerthImage *image,
                          GError **error);
/* Drop layers no image and no container needs, and unreferenced blobs. */
gboolean berth_store_collect_garbage (BerthStore *store, GError **error);

/* --- import and export (core/store/imageio.c) --- */
/* How far an import or load may unpack, counted while it streams: a gzip
 * bomb or an endless pipe fails in one line before it fills the disk, and
 * leaves nothing behind. 0 takes the default: BERTH_LIMIT_RATIO times the
 * input's size but at least BERTH_LIMIT_FLOOR when the input is a regular
 * file, BERTH_LIMIT_UNSIZED when it is a pipe or a device. */
typedef struct {
  gint64 max_layer_size;   /* one layer, decompressed (--max-layer-size) */
  gint64 max_archive_size; /* a load archive, unpacked (--max-archive-size) */
} BerthImportLimits;
#define BERTH_LIMIT_RATIO 100
#define BERTH_LIMIT_FLOOR (G_GINT64_CONSTANT (1) << 30)
#define BERTH_LIMIT_UNSIZED (G_GINT64_CONSTANT (16) << 30)

/* @limits NULL: the defaults. */
char *berth_image_import (BerthStore *store, const char *tar_path, const char *ref,
                          const char *driver, const BerthImportLimits *limits,
                          BerthProgressFunc progress, gpointer data, GError **error);
/* docker-save or OCI image-layout tar; returns the "name:tag"s (or ids) loaded. */
GPtrArray *berth_image_load (BerthStore *store, const char *tar_path, const char *driver,
                             const BerthImportLimits *limits, BerthProgressFunc progress,
                             gpointer data, GError **error);
/* The images of the docker-save or OCI-layout archive unpacked at @root_fd:
 * its manifest.json or index.json read and checked, each image's config
 * read; nothing stored. An array that frees its items; BAD_ARCHIVE. */
GPtrArray *berth_image_archive_read (int root_fd, GError **error);
gboolean berth_image_save (BerthStore *store, char **refs, const char *out_path, GError **error);
/* Make an image from the host's busybox-static, or from debootstrap. */
char *berth_image_bootstrap (BerthStore *store, const char *what, const char *ref,
                             const char *driver, GError **error);

/* --- events (core/store/events.c): <root>/events.jsonl --- */
/* Append Docker's event @type ("container", "image", "volume", "network")
 * @action ("create", "start", "die"...) for @id with @attributes
 * ("KEY=VALUE", NULL-terminated; may be NULL). Best effort: a failure is
 * printed, not returned. */
void berth_event_record (BerthStore *store, const char *type, const char *action,
                         const char *id, char *const *attributes);
/* The journal's events, oldest first, as JSON objects. */
GPtrArray *berth_event_list (BerthStore *store, GError **error);

/* --- containers (core/store/container.c) --- */
typedef struct {
  char *id;
  char *name;
  char *image_id;
  char *image_ref;
  char *driver;
  char *parent_layer; /* top image chain id, or NULL */
  char **cmd;
  char *created;
  char *exec_driver;
  gint64 log_max_size; /* rotate container.log past this many bytes; 0: never */
  guint log_max_file;  /* log files kept, container.log included (>= 1) */
  char *restart_policy; /* "no", "always", "unless-stopped" or "on-failure" */
  guint restart_max;    /* on-failure: restarts at most this many times; 0: no limit */
  char **labels;        /* "KEY=VALUE": the image's, then --label's; NULL: none */
  gboolean auto_remove; /* created with --rm (AutoRemove): removed when it exits */
} BerthContainer;

/* Docker json-file's defaults would keep every byte; these are its "local"
 * driver's, so a chatty container cannot fill the store's filesystem. */
#define BERTH_LOG_MAX_SIZE_DEFAULT (G_GINT64_CONSTANT (20) << 20)
#define BERTH_LOG_MAX_FILE_DEFAULT 5
/* --log-opt max-size=SIZE (-1: no limit) and max-file=N into @c's fields
 * (the defaults for what is not given); INVALID naming the option. */
gboolean berth_log_opts_parse (char **opts, BerthContainer *c, GError **error);
/* --restart POLICY (Docker's: no, always, unless-stopped, on-failure[:N];
 * NULL: no) into @c's fields; INVALID naming the option. */
gboolean berth_restart_policy_parse (const char *policy, BerthContainer *c, GError **error);
void berth_container_free (BerthContainer *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthContainer, berth_container_free)

/* A container's record in the making (the runtime's create drives these):
 * begin makes containers/<id>/ and the writable layer on @image_ref's top
 * layer, with no container.json yet, so a command killed now leaves an
 * Incomplete container the next one sweeps; *@image_out gets the image.
 * commit writes config.json (@spec) and then container.json; abort undoes
 * begin. @cmd NULL or empty: the image's Cmd. */
BerthContainer *berth_container_record_begin (BerthStore *store, const char *image_ref,
                                              const char *name, const char *driver,
                                              const char *exec_driver, char **log_opts,
                                              char **cmd, BerthImage **image_out,
                                              GError **error);
gboolean berth_container_record_commit (BerthStore *store, BerthContainer *c, JsonNode *spec,
                                        GError **error);
void berth_container_record_abort (BerthStore *store, BerthContainer *c);
BerthContainer *berth_container_lookup (BerthStore *store, const char *ref, GError **error);
/* containers/<id>/lock, exclusive: a container's state.json and the
 * transitions of its lifecycle (start, the monitor's exit record, pause).
 * Whoever holds both locks takes the store lock first; the monitor records
 * an exit under this lock alone. The descriptor; -1 with NOT_FOUND once the
 * container is gone (also when it went while we waited). */
int berth_container_lock (BerthStore *store, const char *id, GError **error);
void berth_container_unlock (int fd);
GPtrArray *berth_container_list (BerthStore *store, GError **error);
/* The ids of container directories without metadata: creates killed
 * half-way, removed by the next create or image removal. */
GPtrArray *berth_container_list_incomplete (BerthStore *store, GError **error);
/* Give @c the name @name in its record (atomically). INVALID for a bad
 * name, EXISTS when a container has it (@c itself included). */
gboolean berth_container_record_rename (BerthStore *store, BerthContainer *c, const char *name,
                                        GError **error);
/* Remove a stopped container's record and writable layer (the runtime's
 * remove stops it first). BUSY when mounted, unless @force. */
gboolean berth_container_record_remove (BerthStore *store, BerthContainer *c, gboolean force,
                                        GError **error);
/* Bytes of the files @c has written or changed (its writable layer's diff
 * against the image), as `ps --size` shows; -1 with @error. */
gint64 berth_container_size (BerthStore *store, BerthContainer *c, GError **error);
char *berth_container_mount (BerthStore *store, BerthContainer *c, GError **error);
gboolean berth_container_umount (BerthStore *store, BerthContainer *c, GError **error);
GPtrArray *berth_container_changes (BerthStore *store, BerthContainer *c, GError **error);
char *berth_container_commit (BerthStore *store, BerthContainer *c, const char *ref,
                              GError **error);
gboolean berth_container_export (BerthStore *store, BerthContainer *c, int out_fd,
                                 GError **error);

/* Networks (core/store/network.c), under the store lock. */
#define BERTH_DEFAULT_NETWORK "bridge"
/* Every network of the store, by name. */
GPtrArray *berth_store_networks (BerthStore *store, GError **error);
/* @name's record; NOT_FOUND. */
BerthNetwork *berth_store_network (BerthStore *store, const char *name, GError **error);
/* What `network create` asks for; NULL members: berth's choice. */
typedef struct {
  const char *name;
  const char *driver;
  const char *subnet;   /* NULL: the first free private one */
  const char *gateway;  /* NULL: the subnet's first address */
  const char *parent;   /* macvlan: the host's interface it sits on */
  gboolean is_default;  /* berth's own default network, made on first use */
} BerthNetworkRequest;
/* A new network. EXISTS, INVALID, or BUSY naming what a subnet overlaps. */
BerthNetwork *berth_store_network_create (BerthStore *store, const BerthNetworkRequest *req,
                                          GError **error);
/* The record only: the caller has torn the network down. */
gboolean berth_store_network_remove (BerthStore *store, const char *name, GError **error);
JsonNode *berth_network_to_json (const BerthNetwork *net);
/* The address @offset into @net's subnet ("172.18.0.5" for 5), and the
 * subnet's size in addresses. */
char *berth_network_address_at (const BerthNetwork *net, guint32 offset);
guint32 berth_network_size (const BerthNetwork *net);

G_END_DECLS
