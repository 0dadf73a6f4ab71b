/* The devicemapper driver: every layer is a thin device in a device-mapper
 * thin pool, a child layer a thin snapshot of its parent (create_snap). A
 * snapshot shares blocks with its origin until either writes, at the pool's
 * block size (64 KiB), below the filesystem: a copy-up costs a block, not a
 * file. Each device has a fixed size (dm.basesize), so a container cannot
 * take more than that, a limit overlay cannot give.
 *
 * Two pool modes, as Docker had:
 *   loop-lvm    sparse files <home>/devicemapper/{data,metadata} on autoclear
 *               loop devices; berth makes the pool on first use. For testing.
 *   direct-lvm  dm.thinpooldev=NAME: a pool the operator made (lvcreate
 *               --thinpool or dmsetup); berth only adds and deletes devices.
 *
 * Layout under the home:
 *   deviceset.json             pool, sizes and filesystem, fixed at first use
 *   metadata/<id>.json         a layer's device id and size ("base" for the base)
 *   transaction.json           the pool change in flight (see below)
 *   deferred/<device id>       devices whose deletion waits for the last user
 *   mnt/<id>                   where get mounts a device; its rootfs/ is the layer
 *
 * Crash consistency: every change to the pool's device list is a transaction.
 * berth writes transaction.json, sends the pool message, writes the device's
 * metadata, then bumps the pool's transaction id and removes the file. On the
 * next open, a transaction.json whose id the pool never reached is rolled
 * back: the half-made device is deleted from the pool and its metadata.
 *
 * Nothing stays active without a user: get activates and mounts, put
 * unmounts and deactivates, and closing the driver removes a loop-lvm pool
 * that has no active device, which lets its loops go (autoclear). */
#include "config.h"
#include <berth/storage.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/json.h>
#include <berth/loop.h>
#include <berth/names.h>
#include <libdevmapper.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define SECTOR 512
#define POOL_BLOCK_SECTORS 128            /* 64 KiB, Docker's choice */
#define POOL_LOW_WATER_BLOCKS 32768
#define METADATA_BLOCK 4096               /* the thin-pool metadata block size */
#define MAX_DEVICE_ID ((1u << 24) - 1)    /* the pool's device ids are 24 bits */
#define BASE_ID "base"

typedef struct {
  char *pool_dev;          /* dm.thinpooldev (a dm name), NULL for loop-lvm */
  gint64 base_size;
  char *fs;                /* ext4 or xfs */
  gint64 loop_data_size;
  gint64 loop_metadata_size;
  gint64 min_free_percent;
} DmConfig;

typedef struct {
  char *home;
  char *prefix;            /* "berth-MAJ:MIN-INO": unique to this home */
  char *pool;              /* the pool's dm name */
  DmConfig config;
  guint64 transaction_id;  /* the pool's, as last read or set */
  guint32 next_device_id;
  gboolean udev_sync;
} DmPriv;

typedef struct {
  guint64 transaction_id;
  guint64 meta_used, meta_total;   /* in metadata blocks */
  guint64 data_used, data_total;   /* in pool blocks */
  char mode[32];                   /* rw, ro, out_of_data_space, Fail */
  gboolean queue_if_no_space;
} PoolStatus;

static DmPriv *
priv (BerthStorage *s)
{
  return s->priv;
}

/* ---- libdevmapper ---- */

/* berth reports every failure itself, in one line; libdevmapper's own
 * messages would add lines of their own to stderr. */
static void dm_log_quiet (int level, const char *file, int line, int dm_errno_or_class,
                          const char *f, ...) G_GNUC_PRINTF (5, 6);

static void
dm_log_quiet (int level, const char *file, int line, int dm_errno_or_class, const char *f, ...)
{
  if (g_getenv ("BERTH_DEBUG_DM") == NULL)
    return;
  va_list ap;
  va_start (ap, f);
  fprintf (stderr, "libdevmapper: ");
  vfprintf (stderr, f, ap);
  fputc ('\n', stderr);
  va_end (ap);
}

static void
dm_task_unref (struct dm_task *dmt)
{
  if (dmt)
    dm_task_destroy (dmt);
}
typedef struct dm_task DmTask;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (DmTask, dm_task_unref)

static DmTask *
task_new (int type, const char *name, GError **error)
{
  DmTask *dmt = dm_task_create (type);
  if (dmt == NULL)
    {
      berth_fail (error, BERTH_ERROR_FAILED, "libdevmapper: cannot make a task (out of memory?)");
      return NULL;
    }
  if (name && !dm_task_set_name (dmt, name))
    {
      dm_task_destroy (dmt);
      berth_fail (error, BERTH_ERROR_INVALID, "device-mapper name '%s' is not valid", name);
      return NULL;
    }
  return dmt;
}

/* Run @dmt; on failure the errno of the ioctl is in *errsv and the error. */
static gboolean
task_ioctl (DmTask *dmt, int *errsv, GError **error, const char *what)
{
  if (dm_task_run (dmt))
    return TRUE;
  int e = dm_task_get_errno (dmt);
  if (e == 0)
    e = EIO;
  if (errsv)
    *errsv = e;
  return berth_fail_errno (error, e, "%s", what);
}

/* libdevmapper keeps /dev/mapper/control open after a task, in a static of
 * its own. A container's monitor, a fork of the command that started it,
 * closes every descriptor it does not know of (core/runtime/run.c), which
 * would leave libdevmapper a number that is no longer its own when the
 * monitor deactivates the device. So no task leaves it open: the next one
 * opens it again. */
static void
release_control (void)
{
  dm_lib_release ();
}

static gboolean
task_run (DmTask *dmt, int *errsv, GError **error, const char *fmt, ...) G_GNUC_PRINTF (4, 5);

static gboolean
task_run (DmTask *dmt, int *errsv, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  gboolean ok = task_ioctl (dmt, errsv, error, what);
  release_control ();
  return ok;
}

/* Creating and removing devices makes or deletes their /dev/mapper nodes:
 * through udev where it runs (wait for it), else by libdevmapper itself. */
static gboolean
task_run_with_nodes (DmTask *dmt, int *errsv, GError **error, const char *what, const char *name)
{
  uint32_t cookie = 0;
  if (!dm_task_set_cookie (dmt, &cookie, 0))
    return berth_fail (error, BERTH_ERROR_FAILED, "%s %s: cannot set up udev sync", what, name);
  g_autofree char *text = g_strdup_printf ("%s %s", what, name);
  gboolean ok = task_ioctl (dmt, errsv, error, text);
  /* the nodes first (udev's, or libdevmapper's own), then the release */
  dm_udev_wait (cookie);
  release_control ();
  return ok;
}

static gboolean
device_info (const char *name, struct dm_info *info, GError **error)
{
  g_autoptr (DmTask) dmt = task_new (DM_DEVICE_INFO, name, error);
  if (dmt == NULL || !task_run (dmt, NULL, error, "device-mapper info %s", name))
    return FALSE;
  if (!dm_task_get_info (dmt, info))
    return berth_fail (error, BERTH_ERROR_FAILED, "device-mapper info %s: no answer", name);
  return TRUE;
}

static gboolean
device_is_active (const char *name)
{
  struct dm_info info = { 0 };
  return device_info (name, &info, NULL) && info.exists;
}

static gboolean
device_create (const char *name, guint64 sectors, const char *target, const char *params,
               GError **error)
{
  g_autoptr (DmTask) dmt = task_new (DM_DEVICE_CREATE, name, error);
  if (dmt == NULL)
    return FALSE;
  if (!dm_task_add_target (dmt, 0, sectors, target, params))
    return berth_fail (error, BERTH_ERROR_FAILED, "device-mapper table for %s", name);
  return task_run_with_nodes (dmt, NULL, error, "activate device-mapper device", name);
}

/* A device still open (a lazy unmount's last user) goes once it is closed:
 * the kernel's deferred removal, so put never hangs and never leaks. */
static gboolean
device_remove (const char *name, GError **error)
{
  int errsv = 0;
  g_autoptr (GError) local = NULL;
  {
    g_autoptr (DmTask) dmt = task_new (DM_DEVICE_REMOVE, name, error);
    if (dmt == NULL)
      return FALSE;
    if (task_run_with_nodes (dmt, &errsv, &local, "remove device-mapper device", name))
      return TRUE;
  }
  if (errsv == ENXIO || errsv == ENODEV)
    return TRUE;
  if (errsv != EBUSY)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  g_autoptr (DmTask) dmt = task_new (DM_DEVICE_REMOVE, name, error);
  if (dmt == NULL || !dm_task_deferred_remove (dmt))
    return berth_fail (error, BERTH_ERROR_BUSY, "device-mapper device %s is busy", name);
  return task_run_with_nodes (dmt, NULL, error, "defer removal of device-mapper device", name);
}

static gboolean
device_suspend (const char *name, gboolean suspend, GError **error)
{
  g_autoptr (DmTask) dmt = task_new (suspend ? DM_DEVICE_SUSPEND : DM_DEVICE_RESUME, name, error);
  if (dmt == NULL)
    return FALSE;
  if (suspend)
    return task_run (dmt, NULL, error, "suspend device-mapper device %s", name);
  return task_run_with_nodes (dmt, NULL, error, "resume device-mapper device", name);
}

/* The params of @name's one target, from its status or its table. */
static char *
device_target_params (const char *name, int type, char **target_type, GError **error)
{
  g_autoptr (DmTask) dmt = task_new (type, name, error);
  if (dmt == NULL || !task_run (dmt, NULL, error, "device-mapper status of %s", name))
    return NULL;
  uint64_t start = 0, length = 0;
  char *ttype = NULL, *params = NULL;
  dm_get_next_target (dmt, NULL, &start, &length, &ttype, &params);
  if (ttype == NULL)
    {
      berth_fail (error, BERTH_ERROR_INVALID, "device-mapper device %s has no table", name);
      return NULL;
    }
  if (target_type)
    *target_type = g_strdup (ttype);
  return g_strdup (params ? params : "");
}

static gboolean
pool_message (const char *pool, int *errsv, GError **error, const char *fmt, ...) G_GNUC_PRINTF (4, 5);

static gboolean
pool_message (const char *pool, int *errsv, GError **error, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_autoptr (DmTask) dmt = task_new (DM_DEVICE_TARGET_MSG, pool, error);
  if (dmt == NULL)
    return FALSE;
  if (!dm_task_set_sector (dmt, 0) || !dm_task_set_message (dmt, msg))
    return berth_fail (error, BERTH_ERROR_FAILED, "thin pool %s: cannot build message", pool);
  return task_run (dmt, errsv, error, "thin pool %s: '%s'", pool, msg);
}

static gboolean
kernel_has_target (const char *target, gboolean *has, GError **error)
{
  g_autoptr (DmTask) dmt = task_new (DM_DEVICE_LIST_VERSIONS, NULL, error);
  if (dmt == NULL || !task_run (dmt, NULL, error, "list device-mapper targets"))
    return FALSE;
  *has = FALSE;
  struct dm_versions *v = dm_task_get_versions (dmt);
  for (guint32 next = 1; v && next; v = (struct dm_versions *) ((char *) v + next))
    {
      if (strcmp (v->name, target) == 0)
        *has = TRUE;
      next = v->next;
    }
  return TRUE;
}

/* ---- pool status ---- */

/* "<transaction id> <used>/<total metadata blocks> <used>/<total data blocks>
 *  <held root> ro|rw|out_of_data_space [no_]discard_passdown
 *  error|queue_if_no_space ..." (Documentation/admin-guide/device-mapper/thin-provisioning.rst) */
static gboolean
parse_pool_status (const char *pool, const char *params, PoolStatus *st, GError **error)
{
  char mode[32] = "", discard[32] = "", space[32] = "";
  memset (st, 0, sizeof *st);
  if (strncmp (params, "Fail", 4) == 0)
    return berth_fail (error, BERTH_ERROR_FAILED,
                       "thin pool %s has failed (its metadata needs repair: thin_check)", pool);
  int n = sscanf (params, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
                  " %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT " %*s %31s %31s %31s",
                  &st->transaction_id, &st->meta_used, &st->meta_total, &st->data_used,
                  &st->data_total, mode, discard, space);
  if (n < 6)
    return berth_fail (error, BERTH_ERROR_FAILED, "thin pool %s: unexpected status '%s'", pool,
                       params);
  g_strlcpy (st->mode, mode, sizeof st->mode);
  st->queue_if_no_space = strcmp (space, "queue_if_no_space") == 0;
  return TRUE;
}

static gboolean
pool_status (DmPriv *p, PoolStatus *st, GError **error)
{
  g_autofree char *type = NULL;
  g_autofree char *params = device_target_params (p->pool, DM_DEVICE_STATUS, &type, error);
  if (params == NULL)
    return FALSE;
  if (strcmp (type, "thin-pool") != 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "device-mapper device %s is a %s, not a thin pool",
                       p->pool, type);
  return parse_pool_status (p->pool, params, st, error);
}

/* The data block size, from the pool's table ("<meta> <data> <block size> ..."). */
static guint64
pool_block_bytes (DmPriv *p)
{
  g_autofree char *params = device_target_params (p->pool, DM_DEVICE_TABLE, NULL, NULL);
  guint64 sectors = 0;
  if (params == NULL || sscanf (params, "%*s %*s %" G_GUINT64_FORMAT, &sectors) != 1)
    return POOL_BLOCK_SECTORS * SECTOR;
  return sectors * SECTOR;
}

/* A pool that is full or read-only would make the next write wait or fail
 * deep inside a container; refuse new devices before that, naming the pool. */
static gboolean
pool_check_space (DmPriv *p, GError **error)
{
  PoolStatus st;
  if (!pool_status (p, &st, error))
    return FALSE;
  if (strcmp (st.mode, "rw") != 0)
    return berth_fail (error, BERTH_ERROR_NO_SPACE,
                       "thin pool %s is %s: add space to the pool (or remove images and "
                       "containers) before making layers", p->pool, st.mode);
  guint64 min = (guint64) p->config.min_free_percent;
  if (st.data_total && (st.data_total - st.data_used) * 100 < min * st.data_total)
    return berth_fail (error, BERTH_ERROR_NO_SPACE,
                       "thin pool %s has %" G_GUINT64_FORMAT "%% of its data space free, below "
                       "dm.min_free_space=%" G_GUINT64_FORMAT "%%", p->pool,
                       (st.data_total - st.data_used) * 100 / st.data_total, min);
  if (st.meta_total && (st.meta_total - st.meta_used) * 100 < min * st.meta_total)
    return berth_fail (error, BERTH_ERROR_NO_SPACE,
                       "thin pool %s has %" G_GUINT64_FORMAT "%% of its metadata space free, "
                       "below dm.min_free_space=%" G_GUINT64_FORMAT "%%", p->pool,
                       (st.meta_total - st.meta_used) * 100 / st.meta_total, min);
  return TRUE;
}

/* ---- loop-lvm: the pool berth makes ---- */

static char *
loop_file (DmPriv *p, const char *which)
{
  return g_build_filename (p->home, "devicemapper", which, NULL);
}

static gboolean
make_sparse_file (const char *path, gint64 size, GError **error)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return berth_fail_errno (error, errno, "create %s", path);
  if (ftruncate (fd, size) < 0 || fsync (fd) < 0)
    {
      int errsv = errno;
      close (fd);
      unlink (path);
      return berth_fail_errno (error, errsv, "size %s to %" G_GINT64_FORMAT " bytes", path, size);
    }
  close (fd);
  return TRUE;
}

/* The metadata file is made last: its existence means both are complete. */
static gboolean
ensure_loop_files (DmPriv *p, GError **error)
{
  g_autofree char *data = loop_file (p, "data");
  g_autofree char *meta = loop_file (p, "metadata");
  if (g_file_test (meta, G_FILE_TEST_EXISTS))
    return TRUE;
  g_autofree char *dir = g_path_get_dirname (data);
  if (!berth_mkdir_p (dir, 0700, error))
    return FALSE;
  unlink (data);
  if (!make_sparse_file (data, p->config.loop_data_size, error))
    return FALSE;
  if (!make_sparse_file (meta, p->config.loop_metadata_size, error))
    {
      unlink (data);
      return FALSE;
    }
  g_printerr ("berth: warning: devicemapper is using loop-lvm (sparse files in %s on loop "
              "devices), which is for testing only; give it a pool with "
              "--storage-opt dm.thinpooldev=NAME in production\n", dir);
  return TRUE;
}

static gboolean
activate_loop_pool (DmPriv *p, GError **error)
{
  if (!ensure_loop_files (p, error))
    return FALSE;
  g_autofree char *data = loop_file (p, "data");
  g_autofree char *meta = loop_file (p, "metadata");
  g_autofree char *data_dev = NULL, *meta_dev = NULL;
  int data_fd = berth_loop_attach (data, FALSE, &data_dev, error);
  if (data_fd < 0)
    return FALSE;
  int meta_fd = berth_loop_attach (meta, FALSE, &meta_dev, error);
  if (meta_fd < 0)
    {
      close (data_fd);
      return FALSE;
    }
  struct stat st;
  guint64 sectors = stat (data, &st) == 0 ? (guint64) st.st_size / SECTOR : 0;
  /* error_if_no_space: a full pool fails writes at once (ENOSPC) rather
   * than queueing them for a minute, which would hang the container. */
  g_autofree char *params = g_strdup_printf ("%s %s %d %d 1 error_if_no_space", meta_dev, data_dev,
                                             POOL_BLOCK_SECTORS, POOL_LOW_WATER_BLOCKS);
  gboolean ok = sectors > 0 ? device_create (p->pool, sectors, "thin-pool", params, error)
                            : berth_fail (error, BERTH_ERROR_FAILED, "%s is empty", data);
  /* The pool's table holds the loops now; without it, autoclear frees them. */
  close (data_fd);
  close (meta_fd);
  return ok;
}

static gboolean
ensure_pool (DmPriv *p, GError **error)
{
  if (device_is_active (p->pool))
    return TRUE;
  if (p->config.pool_dev)
    return berth_fail (error, BERTH_ERROR_NOT_FOUND,
                       "thin pool %s (dm.thinpooldev) is not an active device-mapper device",
                       p->pool);
  return activate_loop_pool (p, error);
}

/* ---- metadata ---- */

static char *
home_path (DmPriv *p, const char *first, const char *second)
{
  return g_build_filename (p->home, first, second, NULL);
}

static char *
device_meta_path (DmPriv *p, const char *id)
{
  g_autofree char *name = g_strconcat (id, ".json", NULL);
  return home_path (p, "metadata", name);
}

static char *
device_name (DmPriv *p, const char *id)
{
  return g_strdup_printf ("%s-%s", p->prefix, id);
}

/* Device @id's pool device id and size; FALSE with NOT_FOUND when berth has
 * no such device. */
static gboolean
load_device (DmPriv *p, const char *id, guint32 *device_id, guint64 *size, GError **error)
{
  g_autofree char *path = device_meta_path (p, id);
  g_autoptr (JsonNode) node = berth_json_read (path, NULL);
  JsonObject *o = node ? berth_json_node_object (node) : NULL;
  if (o == NULL)
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "layer %s is not in devicemapper", id);
  gint64 dev = berth_json_int (o, "device_id", -1);
  gint64 bytes = berth_json_int (o, "size", -1);
  if (dev <= 0 || dev > MAX_DEVICE_ID || bytes <= 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "%s is damaged", path);
  *device_id = (guint32) dev;
  if (size)
    *size = (guint64) bytes;
  return TRUE;
}

static gboolean
save_device (DmPriv *p, const char *id, guint32 device_id, guint64 size, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "device_id");
  json_builder_add_int_value (b, device_id);
  json_builder_set_member_name (b, "size");
  json_builder_add_int_value (b, (gint64) size);
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  g_autofree char *path = device_meta_path (p, id);
  return berth_json_write (path, node, error);
}

static gboolean
save_deviceset (DmPriv *p, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "thinpooldev");
  if (p->config.pool_dev)
    json_builder_add_string_value (b, p->config.pool_dev);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "basesize");
  json_builder_add_int_value (b, p->config.base_size);
  json_builder_set_member_name (b, "fs");
  json_builder_add_string_value (b, p->config.fs);
  json_builder_set_member_name (b, "loopdatasize");
  json_builder_add_int_value (b, p->config.loop_data_size);
  json_builder_set_member_name (b, "loopmetadatasize");
  json_builder_add_int_value (b, p->config.loop_metadata_size);
  json_builder_set_member_name (b, "min_free_space");
  json_builder_add_int_value (b, p->config.min_free_percent);
  json_builder_set_member_name (b, "next_device_id");
  json_builder_add_int_value (b, p->next_device_id);
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  g_autofree char *path = home_path (p, "deviceset.json", NULL);
  return berth_json_write (path, node, error);
}

/* ---- transactions ---- */

static gboolean
open_transaction (DmPriv *p, const char *op, const char *id, guint32 device_id, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "op");
  json_builder_add_string_value (b, op);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, id);
  json_builder_set_member_name (b, "device_id");
  json_builder_add_int_value (b, device_id);
  json_builder_set_member_name (b, "transaction_id");
  json_builder_add_int_value (b, (gint64) p->transaction_id + 1);
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  g_autofree char *path = home_path (p, "transaction.json", NULL);
  return berth_json_write (path, node, error);
}

static gboolean
close_transaction (DmPriv *p, GError **error)
{
  guint64 next = p->transaction_id + 1;
  if (!pool_message (p->pool, NULL, error, "set_transaction_id %" G_GUINT64_FORMAT " %"
                     G_GUINT64_FORMAT, p->transaction_id, next))
    return FALSE;
  p->transaction_id = next;
  g_autofree char *path = home_path (p, "transaction.json", NULL);
  if (unlink (path) < 0)
    return berth_fail_errno (error, errno, "remove %s", path);
  return TRUE;
}

/* Delete pool device @device_id; one that is already gone is fine. */
static gboolean
pool_delete (DmPriv *p, guint32 device_id, int *errsv, GError **error)
{
  int e = 0;
  g_autoptr (GError) local = NULL;
  if (pool_message (p->pool, &e, &local, "delete %u", device_id))
    return TRUE;
  if (errsv)
    *errsv = e;
  if (e == ENODATA)
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local));
  return FALSE;
}

static void
forget_device_if (DmPriv *p, const char *id, guint32 device_id)
{
  guint32 recorded = 0;
  if (load_device (p, id, &recorded, NULL, NULL) && recorded == device_id)
    {
      g_autofree char *path = device_meta_path (p, id);
      unlink (path);
    }
}

/* The previous berth died inside a transaction: finish what the pool
 * already committed, undo what it did not. */
static gboolean
recover_transaction (DmPriv *p, GError **error)
{
  g_autofree char *path = home_path (p, "transaction.json", NULL);
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonNode) node = berth_json_read (path, &local);
  if (node == NULL)
    {
      if (g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
        return TRUE;
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  JsonObject *o = berth_json_node_object (node);
  const char *op = o ? berth_json_string (o, "op", "") : "";
  const char *id = o ? berth_json_string (o, "id", "") : "";
  gint64 dev = o ? berth_json_int (o, "device_id", 0) : 0;
  gint64 tid = o ? berth_json_int (o, "transaction_id", 0) : 0;
  if (dev <= 0 || dev > MAX_DEVICE_ID || tid <= 0 || *id == '\0')
    return berth_fail (error, BERTH_ERROR_INVALID, "%s is damaged; remove it by hand", path);
  gboolean committed = p->transaction_id >= (guint64) tid;
  if (strcmp (op, "delete") == 0 || !committed)
    {
      if (!pool_delete (p, (guint32) dev, NULL, error))
        return FALSE;
      forget_device_if (p, id, (guint32) dev);
      if (strcmp (op, "create") == 0)
        g_printerr ("berth: devicemapper: removed layer %.12s, left half-made by a berth that "
                    "stopped while making it\n", id);
    }
  if (p->transaction_id < (guint64) tid)
    return close_transaction (p, error);
  if (unlink (path) < 0)
    return berth_fail_errno (error, errno, "remove %s", path);
  return TRUE;
}

/* Deletions that waited for a device's last user (deferred/<device id>). */
static void
retry_deferred_deletes (DmPriv *p)
{
  g_autofree char *dir = home_path (p, "deferred", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  if (d == NULL)
    return;
  for (const char *n = g_dir_read_name (d); n; n = g_dir_read_name (d))
    {
      guint64 dev = g_ascii_strtoull (n, NULL, 10);
      if (dev == 0 || dev > MAX_DEVICE_ID)
        continue;
      if (!pool_delete (p, (guint32) dev, NULL, NULL))
        continue;
      g_autofree char *path = g_build_filename (dir, n, NULL);
      unlink (path);
    }
}

/* ---- thin devices ---- */

/* Give the new device a free id; an id taken in the pool (a store made on a
 * shared pool, a lost deviceset.json) is skipped, never reused. */
static gboolean
create_in_pool (DmPriv *p, const char *id, guint32 origin, guint32 *device_id, GError **error)
{
  for (guint tries = 0; tries < 1000; tries++)
    {
      guint32 dev = p->next_device_id;
      p->next_device_id = dev >= MAX_DEVICE_ID ? 1 : dev + 1;
      if (!open_transaction (p, "create", id, dev, error))
        return FALSE;
      int errsv = 0;
      g_autoptr (GError) local = NULL;
      gboolean ok = origin ? pool_message (p->pool, &errsv, &local, "create_snap %u %u", dev, origin)
                           : pool_message (p->pool, &errsv, &local, "create_thin %u", dev);
      if (ok)
        {
          *device_id = dev;
          return save_deviceset (p, error);
        }
      g_autofree char *tx = home_path (p, "transaction.json", NULL);
      unlink (tx);
      if (errsv != EEXIST)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
    }
  return berth_fail (error, BERTH_ERROR_NO_SPACE, "thin pool %s: no free device id", p->pool);
}

static gboolean
activate (DmPriv *p, const char *id, guint32 device_id, guint64 size, GError **error)
{
  g_autofree char *name = device_name (p, id);
  if (device_is_active (name))
    return TRUE;
  struct dm_info info = { 0 };
  if (!device_info (p->pool, &info, error))
    return FALSE;
  g_autofree char *params = g_strdup_printf ("%u:%u %u", info.major, info.minor, device_id);
  return device_create (name, size / SECTOR, "thin", params, error);
}

static gboolean
deactivate (DmPriv *p, const char *id, GError **error)
{
  g_autofree char *name = device_name (p, id);
  if (!device_is_active (name))
    return TRUE;
  return device_remove (name, error);
}

/* The kernel's rule for create_snap: an active origin must be suspended so
 * that no write slips between the snapshot and its origin. */
static gboolean
snapshot (DmPriv *p, const char *id, const char *origin_id, guint32 origin, guint32 *device_id,
          GError **error)
{
  g_autofree char *origin_name = device_name (p, origin_id);
  gboolean suspended = device_is_active (origin_name);
  if (suspended && !device_suspend (origin_name, TRUE, error))
    return FALSE;
  gboolean ok = create_in_pool (p, id, origin, device_id, error);
  if (suspended && !device_suspend (origin_name, FALSE, ok ? error : NULL))
    ok = FALSE;
  return ok;
}

/* Make device @id (a snapshot of @origin_id, or an empty thin device) and
 * record it, inside one transaction. */
static gboolean
add_device (DmPriv *p, const char *id, const char *origin_id, guint64 size, GError **error)
{
  guint32 device_id = 0, origin = 0;
  if (origin_id && !load_device (p, origin_id, &origin, &size, error))
    return FALSE;
  if (!pool_check_space (p, error))
    return FALSE;
  gboolean made = origin_id ? snapshot (p, id, origin_id, origin, &device_id, error)
                            : create_in_pool (p, id, 0, &device_id, error);
  if (!made)
    return FALSE;
  if (!save_device (p, id, device_id, size, error) || !close_transaction (p, error))
    {
      pool_delete (p, device_id, NULL, NULL);
      forget_device_if (p, id, device_id);
      g_autofree char *tx = home_path (p, "transaction.json", NULL);
      unlink (tx);
      return FALSE;
    }
  return TRUE;
}

static gboolean
defer_delete (DmPriv *p, guint32 device_id, GError **error)
{
  g_autofree char *dir = home_path (p, "deferred", NULL);
  g_autofree char *name = g_strdup_printf ("%u", device_id);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  return berth_mkdir_p (dir, 0700, error) && berth_write_file_atomic (path, "", 0, 0600, error);
}

static gboolean
delete_device (DmPriv *p, const char *id, GError **error)
{
  guint32 device_id = 0;
  if (!load_device (p, id, &device_id, NULL, error) || !deactivate (p, id, error))
    return FALSE;
  if (!open_transaction (p, "delete", id, device_id, error))
    return FALSE;
  int errsv = 0;
  g_autoptr (GError) local = NULL;
  if (!pool_delete (p, device_id, &errsv, &local))
    {
      if (errsv != EBUSY || !defer_delete (p, device_id, error))
        {
          g_autofree char *tx = home_path (p, "transaction.json", NULL);
          unlink (tx);
          if (local)
            g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
    }
  g_autofree char *meta = device_meta_path (p, id);
  if (unlink (meta) < 0)
    return berth_fail_errno (error, errno, "remove %s", meta);
  return close_transaction (p, error);
}

/* ---- mounting ---- */

static char *
mount_dir (DmPriv *p, const char *id)
{
  return home_path (p, "mnt", id);
}

static gboolean
run_mkfs (DmPriv *p, const char *dev, GError **error)
{
  /* No discard: the device is new and thin, every block already reads as
   * zero. ext4's lazy inode-table init is kept and its background zeroing
   * turned off at mount (noinit_itable), for the same reason: on a thin
   * device it would only allocate blocks in every snapshot. */
  const char *ext4[] = { "mkfs.ext4", "-q", "-F", "-E", "nodiscard", "-m", "0", dev, NULL };
  const char *xfs[] = { "mkfs.xfs", "-q", "-f", "-K", dev, NULL };
  const char *const *argv = strcmp (p->config.fs, "xfs") == 0 ? xfs : ext4;
  g_autofree char *err = NULL;
  int status = 0;
  g_autoptr (GError) local = NULL;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                     NULL, NULL, NULL, &err, &status, &local))
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "%s: %s (dm.fs=%s needs it)", argv[0],
                       local->message, p->config.fs);
  if (!g_spawn_check_wait_status (status, NULL))
    return berth_fail (error, BERTH_ERROR_FAILED, "%s %s failed: %s", argv[0], dev,
                       g_strstrip (err));
  return TRUE;
}

static const char *
mount_options (DmPriv *p)
{
  /* Every snapshot carries its origin's filesystem UUID, which xfs would
   * refuse to mount twice. */
  return strcmp (p->config.fs, "xfs") == 0 ? "nouuid" : "noinit_itable";
}

static gboolean
mount_device (DmPriv *p, const char *id, const char *dir, GError **error)
{
  g_autofree char *name = device_name (p, id);
  g_autofree char *dev = g_build_filename (dm_dir (), name, NULL);
  if (!berth_mkdir_p (dir, 0700, error))
    return FALSE;
  if (mount (dev, dir, p->config.fs, 0, mount_options (p)) < 0)
    return berth_fail_errno (error, errno, "mount %s on %s", dev, dir);
  return TRUE;
}

static gboolean
unmount_dir (const char *dir, GError **error)
{
  if (!berth_unmount (dir, error))
    return FALSE;
  if (rmdir (dir) < 0 && errno != ENOENT)
    return berth_fail_errno (error, errno, "remove %s", dir);
  return TRUE;
}

/* The base device: an empty filesystem with an empty rootfs/ that every
 * base layer is a snapshot of, made once per store. The layer's root is
 * rootfs/, so the filesystem's lost+found stays out of every image. */
static gboolean
format_base (DmPriv *p, GError **error)
{
  g_autofree char *name = device_name (p, BASE_ID);
  g_autofree char *dev = g_build_filename (dm_dir (), name, NULL);
  g_autofree char *dir = mount_dir (p, BASE_ID);
  g_autofree char *rootfs = g_build_filename (dir, "rootfs", NULL);
  if (!run_mkfs (p, dev, error) || !mount_device (p, BASE_ID, dir, error))
    return FALSE;
  gboolean ok = TRUE;
  if ((mkdir (rootfs, 0755) < 0 && errno != EEXIST) || chmod (rootfs, 0755) < 0)
    ok = berth_fail_errno (error, errno, "mkdir %s", rootfs);
  if (!unmount_dir (dir, ok ? error : NULL))
    ok = FALSE;
  return ok;
}

static gboolean
ensure_base (DmPriv *p, GError **error)
{
  g_autofree char *meta = device_meta_path (p, BASE_ID);
  if (g_file_test (meta, G_FILE_TEST_EXISTS))
    return TRUE;
  guint32 device_id = 0;
  if (!add_device (p, BASE_ID, NULL, (guint64) p->config.base_size, error)
      || !load_device (p, BASE_ID, &device_id, NULL, error))
    return FALSE;
  gboolean ok = activate (p, BASE_ID, device_id, (guint64) p->config.base_size, error)
                && format_base (p, error);
  if (!deactivate (p, BASE_ID, ok ? error : NULL))
    ok = FALSE;
  if (!ok)
    delete_device (p, BASE_ID, NULL);
  return ok;
}

/* ---- options ---- */

static gboolean
parse_percent (const char *value, gint64 *out, GError **error)
{
  char *end = NULL;
  guint64 v = g_ascii_strtoull (value, &end, 10);
  if (end == value || (*end != '\0' && strcmp (end, "%") != 0) || v > 99)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "dm.min_free_space '%s' is not a percentage from 0%% to 99%%", value);
  *out = (gint64) v;
  return TRUE;
}

static gboolean
parse_option (DmConfig *c, const char *option, GError **error)
{
  g_autofree char *key = g_strdup (option);
  char *value = strchr (key, '=');
  if (value == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "storage option '%s' is not KEY=VALUE", option);
  *value++ = '\0';
  if (strcmp (key, "dm.thinpooldev") == 0)
    {
      const char *name = g_str_has_prefix (value, "/dev/mapper/") ? value + 12 : value;
      if (*name == '\0' || strchr (name, '/'))
        return berth_fail (error, BERTH_ERROR_INVALID, "dm.thinpooldev '%s' is not a device-mapper "
                           "name", value);
      g_free (c->pool_dev);
      c->pool_dev = g_strdup (name);
      return TRUE;
    }
  if (strcmp (key, "dm.fs") == 0)
    {
      if (strcmp (value, "ext4") != 0 && strcmp (value, "xfs") != 0)
        return berth_fail (error, BERTH_ERROR_INVALID, "dm.fs '%s': use ext4 or xfs", value);
      g_free (c->fs);
      c->fs = g_strdup (value);
      return TRUE;
    }
  if (strcmp (key, "dm.min_free_space") == 0)
    return parse_percent (value, &c->min_free_percent, error);
  gint64 *size = strcmp (key, "dm.basesize") == 0          ? &c->base_size
                 : strcmp (key, "dm.loopdatasize") == 0     ? &c->loop_data_size
                 : strcmp (key, "dm.loopmetadatasize") == 0 ? &c->loop_metadata_size
                                                            : NULL;
  if (size == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "unknown option '%s' for the devicemapper "
                       "driver", key);
  if (!berth_parse_size (value, key, size, error))
    return FALSE;
  if (*size < 16 << 20 || *size % SECTOR)
    return berth_fail (error, BERTH_ERROR_INVALID, "%s '%s': at least 16M, in whole sectors", key,
                       value);
  return TRUE;
}

/* The recorded config, else Docker's defaults. */
static void
load_config (const char *path, DmConfig *c, guint32 *next_device_id)
{
  *c = (DmConfig) { .base_size = 10LL << 30, .loop_data_size = 100LL << 30,
                    .loop_metadata_size = 2LL << 30, .min_free_percent = 10 };
  *next_device_id = 1;
  g_autoptr (JsonNode) node = berth_json_read (path, NULL);
  JsonObject *o = node ? berth_json_node_object (node) : NULL;
  c->fs = g_strdup (o ? berth_json_string (o, "fs", "ext4") : "ext4");
  if (o == NULL)
    return;
  c->pool_dev = g_strdup (berth_json_string (o, "thinpooldev", NULL));
  c->base_size = berth_json_int (o, "basesize", c->base_size);
  c->loop_data_size = berth_json_int (o, "loopdatasize", c->loop_data_size);
  c->loop_metadata_size = berth_json_int (o, "loopmetadatasize", c->loop_metadata_size);
  c->min_free_percent = berth_json_int (o, "min_free_space", c->min_free_percent);
  gint64 next = berth_json_int (o, "next_device_id", 1);
  *next_device_id = next > 0 && next <= MAX_DEVICE_ID ? (guint32) next : 1;
}

/* Options given to a store that already has layers may not change what the
 * layers are: the pool they live in, their filesystem, their size. */
static gboolean
check_fixed (const DmConfig *was, const DmConfig *now, GError **error)
{
  if (g_strcmp0 (was->pool_dev, now->pool_dev) != 0)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "this store's devicemapper layers are in %s; dm.thinpooldev=%s cannot "
                       "move them (use another --root)",
                       was->pool_dev ? was->pool_dev : "its loop-lvm pool",
                       now->pool_dev ? now->pool_dev : "(none)");
  if (strcmp (was->fs, now->fs) != 0 || was->base_size != now->base_size)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "this store's devicemapper layers are %s of %" G_GINT64_FORMAT
                       " bytes; dm.fs and dm.basesize apply only to a new store",
                       was->fs, was->base_size);
  return TRUE;
}

static void
config_clear (DmConfig *c)
{
  g_clear_pointer (&c->pool_dev, g_free);
  g_clear_pointer (&c->fs, g_free);
}

static gboolean
load_options (DmPriv *p, char **options, GError **error)
{
  g_autofree char *path = home_path (p, "deviceset.json", NULL);
  gboolean existing = g_file_test (path, G_FILE_TEST_EXISTS);
  load_config (path, &p->config, &p->next_device_id);
  DmConfig was = p->config;
  was.pool_dev = g_strdup (p->config.pool_dev);
  was.fs = g_strdup (p->config.fs);
  gboolean ok = TRUE;
  for (char **o = options; ok && o && *o; o++)
    ok = parse_option (&p->config, *o, error);
  if (ok && existing)
    ok = check_fixed (&was, &p->config, error);
  config_clear (&was);
  return ok;
}

/* ---- the ops ---- */

static gboolean
has_device_mapper (GError **error)
{
  /* Not the /dev/mapper/control node: libdevmapper and dmsetup make one
   * even where the kernel has no device-mapper behind it. */
  g_autofree char *misc = NULL;
  if (!g_file_get_contents ("/proc/misc", &misc, NULL, NULL) || !strstr (misc, " device-mapper\n"))
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                       "kernel has no device-mapper (not listed in /proc/misc)");
  gboolean has = FALSE;
  g_autoptr (GError) local = NULL;
  if (!kernel_has_target ("thin-pool", &has, &local))
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "kernel has no usable device-mapper: %s",
                       local->message);
  /* The kernel loads dm-thin-pool on first use where it is a module. */
  if (!has)
    {
      g_autofree char *release = NULL;
      g_file_get_contents ("/proc/sys/kernel/osrelease", &release, NULL, NULL);
      g_autofree char *dir = g_strdup_printf ("/lib/modules/%s/kernel/drivers/md",
                                              release ? g_strstrip (release) : "");
      g_autofree char *ko = g_build_filename (dir, "dm-thin-pool.ko", NULL);
      g_autofree char *koxz = g_strconcat (ko, ".xz", NULL);
      g_autofree char *kozst = g_strconcat (ko, ".zst", NULL);
      if (!g_file_test (ko, G_FILE_TEST_EXISTS) && !g_file_test (koxz, G_FILE_TEST_EXISTS)
          && !g_file_test (kozst, G_FILE_TEST_EXISTS))
        return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                           "kernel has no dm-thin-pool target (not loaded, no module)");
    }
  return TRUE;
}

static gboolean
dm_probe (const char *home, GError **error)
{
  return has_device_mapper (error);
}

static void
dm_cleanup (BerthStorage *s)
{
  DmPriv *p = priv (s);
  if (p == NULL)
    return;
  /* A loop-lvm pool with no active device is removed, freeing its loops;
   * the kernel refuses (EBUSY) while any thin device still holds it. */
  struct dm_info info = { 0 };
  if (p->pool && p->config.pool_dev == NULL && device_info (p->pool, &info, NULL) && info.exists
      && info.open_count == 0)
    device_remove (p->pool, NULL);
  config_clear (&p->config);
  g_free (p->home);
  g_free (p->prefix);
  g_free (p->pool);
  g_free (p);
  s->priv = NULL;
}

static gboolean
make_names (DmPriv *p, GError **error)
{
  struct stat st;
  if (stat (p->home, &st) < 0)
    return berth_fail_errno (error, errno, "stat %s", p->home);
  p->prefix = g_strdup_printf ("berth-%u:%u-%" G_GUINT64_FORMAT, major (st.st_dev),
                               minor (st.st_dev), (guint64) st.st_ino);
  p->pool = p->config.pool_dev ? g_strdup (p->config.pool_dev)
                               : g_strdup_printf ("%s-pool", p->prefix);
  return TRUE;
}

static gboolean
start_pool (DmPriv *p, GError **error)
{
  PoolStatus st;
  if (!ensure_pool (p, error) || !pool_status (p, &st, error))
    return FALSE;
  /* Recorded only once the pool works: a mistyped dm.thinpooldev must not
   * tie the store to a pool that does not exist. */
  g_autofree char *deviceset = home_path (p, "deviceset.json", NULL);
  if (!g_file_test (deviceset, G_FILE_TEST_EXISTS) && !save_deviceset (p, error))
    return FALSE;
  p->transaction_id = st.transaction_id;
  if (!recover_transaction (p, error))
    return FALSE;
  retry_deferred_deletes (p);
  return ensure_base (p, error);
}

static gpointer
dm_init (const char *home, char **options, GError **error)
{
  dm_log_with_errno_init (dm_log_quiet);
  DmPriv *p = g_new0 (DmPriv, 1);
  BerthStorage fake = { .priv = p };
  p->home = g_strdup (home);
  /* Where udev runs it makes the /dev/mapper nodes and berth must wait for
   * it; where it does not (containers, initramfs, minimal hosts),
   * libdevmapper makes them itself. */
  p->udev_sync = access ("/run/udev/control", F_OK) == 0;
  dm_udev_set_sync_support (p->udev_sync);
  g_autofree char *meta = home_path (p, "metadata", NULL);
  g_autofree char *mnt = home_path (p, "mnt", NULL);
  if (!berth_mkdir_p (meta, 0700, error) || !berth_mkdir_p (mnt, 0700, error)
      || !berth_remove_stale_temps (meta, error) || !load_options (p, options, error)
      || !make_names (p, error) || !start_pool (p, error))
    {
      dm_cleanup (&fake);
      return NULL;
    }
  return p;
}

static gboolean
dm_exists (BerthStorage *s, const char *id)
{
  g_autofree char *path = device_meta_path (priv (s), id);
  return g_file_test (path, G_FILE_TEST_IS_REGULAR);
}

static gboolean
dm_create (BerthStorage *s, const char *id, const char *parent, gboolean writable,
           GError **error)
{
  DmPriv *p = priv (s);
  if (dm_exists (s, id))
    return berth_fail (error, BERTH_ERROR_EXISTS, "layer %s is already in devicemapper", id);
  if (parent && !dm_exists (s, parent))
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "parent layer %s is not in devicemapper",
                       parent);
  return add_device (p, id, parent ? parent : BASE_ID, 0, error);
}

static gboolean
dm_remove (BerthStorage *s, const char *id, GError **error)
{
  DmPriv *p = priv (s);
  if (!dm_exists (s, id))
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "layer %s is not in devicemapper", id);
  g_autofree char *dir = mount_dir (p, id);
  return unmount_dir (dir, error) && delete_device (p, id, error);
}

static char *
dm_get (BerthStorage *s, const char *id, GError **error)
{
  DmPriv *p = priv (s);
  guint32 device_id = 0;
  guint64 size = 0;
  if (!load_device (p, id, &device_id, &size, error))
    return NULL;
  g_autofree char *dir = mount_dir (p, id);
  g_autofree char *rootfs = g_build_filename (dir, "rootfs", NULL);
  if (berth_is_mountpoint (dir))
    return g_steal_pointer (&rootfs);
  if (!activate (p, id, device_id, size, error))
    return NULL;
  if (!mount_device (p, id, dir, error))
    {
      deactivate (p, id, NULL);
      rmdir (dir);
      return NULL;
    }
  return g_steal_pointer (&rootfs);
}

static gboolean
dm_put (BerthStorage *s, const char *id, GError **error)
{
  DmPriv *p = priv (s);
  g_autofree char *dir = mount_dir (p, id);
  return unmount_dir (dir, error) && deactivate (p, id, error);
}

static void
add_pair (GPtrArray *pairs, const char *key, char *value)
{
  g_ptr_array_add (pairs, g_strdup (key));
  g_ptr_array_add (pairs, value);
}

/* "64.0 MiB" with a plain space: GLib puts a no-break space there, which
 * scripts reading `berth info` do not expect. */
static char *
iec_size (guint64 bytes)
{
  g_autofree char *glib = g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
  g_autoptr (GString) text = g_string_new (glib);
  g_string_replace (text, "\u00a0", " ", 0);
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static char *
space_text (guint64 used, guint64 total)
{
  g_autofree char *u = iec_size (used);
  g_autofree char *t = iec_size (total);
  return g_strdup_printf ("%s used of %s (%.1f%%)", u, t, total ? 100.0 * used / total : 0.0);
}

static void
dm_status (BerthStorage *s, GPtrArray *pairs)
{
  DmPriv *p = priv (s);
  add_pair (pairs, "pool name", g_strdup (p->pool));
  add_pair (pairs, "pool mode", g_strdup (p->config.pool_dev ? "direct-lvm"
                                          : "loop-lvm (sparse files: for testing only)"));
  if (p->config.pool_dev == NULL)
    add_pair (pairs, "data loop file", loop_file (p, "data"));
  PoolStatus st;
  g_autoptr (GError) error = NULL;
  if (!pool_status (p, &st, &error))
    {
      add_pair (pairs, "pool status", g_strdup (error->message));
      return;
    }
  guint64 block = pool_block_bytes (p);
  add_pair (pairs, "pool blocksize", iec_size (block));
  add_pair (pairs, "data space", space_text (st.data_used * block, st.data_total * block));
  add_pair (pairs, "metadata space", space_text (st.meta_used * METADATA_BLOCK,
                                                 st.meta_total * METADATA_BLOCK));
  add_pair (pairs, "pool state", g_strdup (st.mode));
  add_pair (pairs, "when the pool is full", g_strdup (st.queue_if_no_space
                                                      ? "writes queue (may hang)"
                                                      : "writes fail at once"));
  add_pair (pairs, "min free space", g_strdup_printf ("%" G_GINT64_FORMAT "%%",
                                                      p->config.min_free_percent));
  add_pair (pairs, "base device size", iec_size ((guint64) p->config.base_size));
  add_pair (pairs, "filesystem", g_strdup (p->config.fs));
  add_pair (pairs, "udev sync", g_strdup (p->udev_sync ? "yes" : "no (udev is not running)"));
  add_pair (pairs, "transaction id", g_strdup_printf ("%" G_GUINT64_FORMAT, st.transaction_id));
  char version[64] = "";
  dm_get_library_version (version, sizeof version);
  add_pair (pairs, "library version", g_strdup (version));
}

static GPtrArray *
dm_list (BerthStorage *s, GError **error)
{
  g_autofree char *dir = home_path (priv (s), "metadata", NULL);
  return berth_storage_list_dir (s, dir, ".json", error);
}

const BerthStorageOps berth_storage_devicemapper_ops = {
  .name = "devicemapper", /* its options, dm.*: core/registry/family.c */
  .probe = dm_probe,
  .init = dm_init,
  .cleanup = dm_cleanup,
  .create = dm_create,
  .remove = dm_remove,
  .get = dm_get,
  .put = dm_put,
  .exists = dm_exists,
  .list = dm_list,
  .status = dm_status,
};
