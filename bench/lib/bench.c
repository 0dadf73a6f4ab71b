/* The `berth bench` engine (include/berth/bench.h). Each storage backend
 * gets a store of its own under the temporary root; the phases run through
 * the same store API the CLI uses, so what is timed is what a user pays.
 * Runs are interleaved across backends, and the order of backends rotates
 * from one run to the next, so no backend always goes first (warm caches)
 * or last. */
#include "config.h"
#include <berth/bench.h>
#include <berth/bench-net.h>
#include <berth/error.h>
#include <berth/exec.h>
#include <berth/family.h>
#include <berth/fsutil.h>
#include <berth/host.h>
#include <berth/json.h>
#include <berth/loop.h>
#include <berth/storage.h>
#include <berth/runtime.h>
#ifdef HAVE_AIO
#include <berth/bench-aio.h>
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const guint berth_bench_image_sizes[] = { 1, 8, 64, 0 };

/* Files the copy-up phase writes to, at most. */
#define COPY_UP_SMALL_MAX 1000

typedef struct {
  const char *id, *title, *group, *unit, *better;
} PhaseDef;

static const PhaseDef phase_defs[] = {
  { "unpack", "Image unpack (berth load)", "storage", "ms", "lower" },
  { "create", "Container create (writable layer)", "storage", "ms", "lower" },
  { "mount", "Mount the container's rootfs", "storage", "ms", "lower" },
  { "copy-up-large", "First write to a large lower file (copy-up)", "storage", "ms", "lower" },
  { "copy-up-small", "First write to small lower files (copy-up)", "storage", "ms", "lower" },
  { "meta-create", "Metadata: create files", "storage", "ms", "lower" },
  { "meta-stat", "Metadata: stat files", "storage", "ms", "lower" },
  { "meta-unlink", "Metadata: unlink files", "storage", "ms", "lower" },
  { "seq-read-qd1", "Sequential 1 MiB reads, QD 1 (libaio)", "storage", "MiB/s", "higher" },
  { "seq-read-qd32", "Sequential 1 MiB reads, QD 32 (libaio)", "storage", "MiB/s", "higher" },
  { "seq-write-qd1", "Sequential 1 MiB writes, QD 1 (libaio)", "storage", "MiB/s", "higher" },
  { "seq-write-qd32", "Sequential 1 MiB writes, QD 32 (libaio)", "storage", "MiB/s", "higher" },
  { "rand-read-qd1", "Random 4 KiB reads, QD 1 (libaio)", "storage", "IOPS", "higher" },
  { "rand-read-qd32", "Random 4 KiB reads, QD 32 (libaio)", "storage", "IOPS", "higher" },
  { "rand-write-qd1", "Random 4 KiB writes, QD 1 (libaio)", "storage", "IOPS", "higher" },
  { "rand-write-qd32", "Random 4 KiB writes, QD 32 (libaio)", "storage", "IOPS", "higher" },
  { "commit", "Commit (diff + new layer)", "storage", "ms", "lower" },
  { "diff-size", "Size of the committed diff", "storage", "MiB", "lower" },
  { "umount", "Unmount", "storage", "ms", "lower" },
  { "remove", "Container remove", "storage", "ms", "lower" },
  { "start", "Start to exit (berth run --rm --network none busybox /bin/true)", "exec", "ms",
    "lower" },
  { "net-start", "Start to exit on the network (berth run --rm --network MODE busybox /bin/true)",
    "network", "ms", "lower" },
  { "net-c2c-stream", "TCP throughput, container to container", "network", "MiB/s", "higher" },
  { "net-c2h-stream", "TCP throughput, container to host", "network", "MiB/s", "higher" },
  { "net-publish-stream", "TCP throughput, host to a published port", "network", "MiB/s",
    "higher" },
  { "net-c2c-rtt", "TCP round trip, container to container (median)", "network", "µs", "lower" },
};

/* Each throughput sample sends this much; each latency sample is the
 * median of this many round trips. */
#define NET_STREAM_MIB 256
#define NET_RTT_COUNT 2000

/* Figures per backend, and the first failure of each backend that failed
 * (later failures of the same thing say nothing new). */
typedef struct {
  GHashTable *values; /* backend -> GArray of double */
  GHashTable *errors; /* backend -> one line */
} Results;

typedef struct {
  const PhaseDef *def;
  Results r;          /* values: one sample per run */
} Phase;

typedef struct {
  const char *id, *title, *x_label, *unit;
  Results r;          /* values: (x, y) pairs, flat */
} Growth;

typedef struct {
  char *name;
  char *root;
  BerthStore *store;
  char *reason;  /* set when unavailable */
  char *note;
  char *io_mode;
  char *large_file;   /* relative paths in the rootfs, found once */
  GPtrArray *small_files;
} Backend;

typedef struct {
  const BerthBenchOptions *o;
  char *tmp;
  char *btrfs_mnt;
  GPtrArray *storage; /* Backend */
  GPtrArray *exec;    /* Backend (name, reason) */
  GPtrArray *network; /* Backend (a network mode, reason) */
  char *net_probe;    /* berth-net-probe */
  GPtrArray *phases;  /* Phase */
  GPtrArray *growth;  /* Growth */
  char *workload_tar;
  char *growth_tar;
  char *start_root;
  guint steps_done, steps_total;
  gboolean interrupted;
} Bench;

/* ---- bookkeeping ---- */

static void
backend_free (gpointer data)
{
  Backend *b = data;
  if (b->store)
    berth_store_close (b->store);
  g_free (b->name);
  g_free (b->root);
  g_free (b->reason);
  g_free (b->note);
  g_free (b->io_mode);
  g_free (b->large_file);
  if (b->small_files)
    g_ptr_array_unref (b->small_files);
  g_free (b);
}

static Results
results_new (void)
{
  return (Results) { g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_array_unref),
                     g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free) };
}

static void
results_free (Results *r)
{
  g_hash_table_unref (r->values);
  g_hash_table_unref (r->errors);
}

static void
results_add (Results *r, const char *backend, double value)
{
  GArray *a = g_hash_table_lookup (r->values, backend);
  if (a == NULL)
    {
      a = g_array_new (FALSE, FALSE, sizeof (double));
      g_hash_table_insert (r->values, g_strdup (backend), a);
    }
  g_array_append_val (a, value);
}

static void
results_fail (Results *r, const char *backend, const GError *error)
{
  if (!g_hash_table_contains (r->errors, backend))
    g_hash_table_insert (r->errors, g_strdup (backend), g_strdup (error->message));
}

static void
phase_free (gpointer data)
{
  results_free (&((Phase *) data)->r);
  g_free (data);
}

static void
growth_free (gpointer data)
{
  results_free (&((Growth *) data)->r);
  g_free (data);
}

static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static Phase *
phase (Bench *bench, const char *id)
{
  for (guint i = 0; i < bench->phases->len; i++)
    {
      Phase *p = bench->phases->pdata[i];
      if (strcmp (p->def->id, id) == 0)
        return p;
    }
  g_assert_not_reached ();
}

static void
record (Bench *bench, const char *id, const char *backend, double value)
{
  results_add (&phase (bench, id)->r, backend, value);
}

static void
record_error (Bench *bench, const char *id, const char *backend, const GError *error)
{
  results_fail (&phase (bench, id)->r, backend, error);
}

static Growth *
growth_new (Bench *bench, const char *id, const char *title, const char *x_label)
{
  Growth *g = g_new0 (Growth, 1);
  *g = (Growth) { id, title, x_label, "ms", results_new () };
  g_ptr_array_add (bench->growth, g);
  return g;
}

static void
growth_point (Growth *g, const char *backend, double x, double y)
{
  results_add (&g->r, backend, x);
  results_add (&g->r, backend, y);
}

static int
compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
median (GArray *values)
{
  g_autoptr (GArray) sorted = g_array_copy (values);
  g_array_sort (sorted, compare_double);
  guint n = sorted->len;
  double *v = (double *) sorted->data;
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Signals the caller blocked arrive as pending; polling them here keeps the
 * engine free of handlers and of global state. */
static gboolean
check_interrupt (Bench *bench, GError **error)
{
  sigset_t pending;
  if (sigpending (&pending) == 0
      && (sigismember (&pending, SIGINT) || sigismember (&pending, SIGTERM)
          || sigismember (&pending, SIGHUP)))
    {
      bench->interrupted = TRUE;
      return berth_fail (error, BERTH_ERROR_FAILED, BERTH_BENCH_INTERRUPTED_MESSAGE);
    }
  return TRUE;
}

static void
step (Bench *bench, const char *what)
{
  bench->steps_done++;
  if (bench->o->progress)
    bench->o->progress (MIN (1.0, (double) bench->steps_done / MAX (1, bench->steps_total)), what,
                        bench->o->progress_data);
}

/* ---- setting up ---- */

/* @list as given, or every registered name for NULL or "all". */
static char **
chosen (char **list, GPtrArray *registered)
{
  if (list && !(list[0] && strcmp (list[0], "all") == 0 && list[1] == NULL))
    return g_strdupv (list);
  char **all = g_new0 (char *, registered->len + 1);
  for (guint i = 0; i < registered->len; i++)
    all[i] = g_strdup (registered->pdata[i]);
  return all;
}

static gboolean
run_program (const char *const *argv, char **err_out, GError **error)
{
  return berth_bench_command (argv, NULL, err_out, error);
}

/* btrfs on a sparse file behind an autoclear loop: the mount holds the
 * loop, so unmounting it at the end releases everything. */
static gboolean
setup_btrfs_loop (Bench *bench, Backend *b, GError **error)
{
  g_autofree char *image = g_build_filename (bench->tmp, "btrfs.img", NULL);
  int fd = open (image, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0)
    return berth_fail_errno (error, errno, "create %s", image);
  gboolean ok = ftruncate (fd, bench->o->btrfs_loop_size) == 0;
  int errsv = errno;
  close (fd);
  if (!ok)
    return berth_fail_errno (error, errsv, "size %s", image);
  const char *mkfs[] = { "mkfs.btrfs", "-q", image, NULL };
  if (!run_program (mkfs, NULL, error))
    return FALSE;
  g_autofree char *dev = NULL;
  int loop = berth_loop_attach (image, FALSE, &dev, error);
  if (loop < 0)
    return FALSE;
  bench->btrfs_mnt = g_build_filename (bench->tmp, "btrfs", NULL);
  ok = berth_mkdir_p (bench->btrfs_mnt, 0700, error);
  if (ok && mount (dev, bench->btrfs_mnt, "btrfs", 0, NULL) < 0)
    ok = berth_fail_errno (error, errno, "mount %s (btrfs) on %s", dev, bench->btrfs_mnt);
  close (loop);
  if (ok)
    {
      g_autofree char *nbsp_size = g_format_size_full (bench->o->btrfs_loop_size, G_FORMAT_SIZE_IEC_UNITS);
      /* GLib puts a no-break space before the unit; reports want plain text. */
      g_auto (GStrv) parts = g_strsplit (nbsp_size, "\u00a0", -1);
      g_autofree char *size = g_strjoinv (" ", parts);
      b->note = g_strdup_printf ("on a %s loop file (--btrfs-loop), not on the host's own disk", size);
      g_free (b->root);
      b->root = g_build_filename (bench->btrfs_mnt, "store", NULL);
    }
  return ok;
}

static Backend *
open_storage (Bench *bench, const char *name)
{
  Backend *b = g_new0 (Backend, 1);
  b->name = g_strdup (name);
  b->root = g_build_filename (bench->tmp, name, NULL);
  g_autoptr (GError) error = NULL;
  /* --btrfs-loop serves a driver whose store must be on btrfs (its table
   * entry's store_fs). */
  const BerthStorageFamily *fam = berth_storage_family_lookup (name);
  gboolean on_btrfs = fam && fam->ops && g_strcmp0 (fam->store_fs, "btrfs") == 0;
  if (on_btrfs && bench->o->btrfs_loop_size > 0 && !setup_btrfs_loop (bench, b, &error))
    {
      b->reason = g_strdup_printf ("--btrfs-loop: %s", error->message);
      return b;
    }
  if (!berth_mkdir_p (b->root, 0700, &error)
      || (b->store = berth_store_open (b->root, name, &error)) == NULL
      || berth_store_driver (b->store, name, &error) == NULL)
    {
      gboolean hint = on_btrfs && bench->o->btrfs_loop_size == 0
                      && error->code == BERTH_ERROR_BACKING_FS;
      b->reason = g_strdup_printf ("%s%s", error->message, hint ? " (give --btrfs-loop SIZE)" : "");
      g_clear_pointer (&b->store, berth_store_close);
    }
  return b;
}

static Backend *
probe_exec (const char *name)
{
  Backend *b = g_new0 (Backend, 1);
  b->name = g_strdup (name);
  g_autoptr (GError) error = NULL;
  const BerthExecOps *ops = berth_exec_driver_lookup (name, &error);
  if (ops == NULL || !berth_exec_probe (ops, &error))
    b->reason = g_strdup (error->message);
  return b;
}

/* A name this berth does not know is a typo: refused before anything runs.
 * (A known driver this host cannot run is measured as unavailable.) */
static gboolean
check_names (char **names, GPtrArray *registered, const char *option, GError **error)
{
  for (char **n = names; *n; n++)
    if (!g_ptr_array_find_with_equal_func (registered, *n, g_str_equal, NULL))
      {
        g_ptr_array_add (registered, NULL);
        g_autofree char *known = g_strjoinv (", ", (char **) registered->pdata);
        return berth_fail (error, BERTH_ERROR_INVALID, "%s: no driver '%s' in this berth (it has %s)",
                           option, *n, known);
      }
  return TRUE;
}

/* The network modes, each with why it cannot run here, if it cannot. */
static void
setup_network_modes (Bench *bench)
{
  g_autoptr (GError) local = NULL;
  bench->net_probe = berth_bench_net_probe_path (bench->o->berth_exe, &local);
  for (const char *const *mode = berth_bench_net_modes; *mode; mode++)
    {
      Backend *m = g_new0 (Backend, 1);
      m->name = g_strdup (*mode);
      m->reason = bench->net_probe ? berth_bench_net_unavailable (*mode)
                                   : g_strdup (local->message);
      g_ptr_array_add (bench->network, m);
    }
}

static gboolean
setup_backends (Bench *bench, GError **error)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  for (const BerthStorageOps *const *o = berth_storage_drivers (); *o; o++)
    g_ptr_array_add (names, (gpointer) (*o)->name);
  g_auto (GStrv) storage = chosen (bench->o->storage_drivers, names);
  g_autoptr (GPtrArray) exec_names = g_ptr_array_new ();
  for (const BerthExecOps *const *o = berth_exec_drivers (); *o; o++)
    g_ptr_array_add (exec_names, (gpointer) (*o)->name);
  g_auto (GStrv) exec = chosen (bench->o->exec_drivers, exec_names);
  if (!check_names (storage, names, "--storage-drivers", error)
      || !check_names (exec, exec_names, "--exec-drivers", error))
    return FALSE;
  for (char **n = storage; *n; n++)
    {
      if (!check_interrupt (bench, error))
        return FALSE;
      g_ptr_array_add (bench->storage, open_storage (bench, *n));
    }
  for (char **n = exec; *n; n++)
    g_ptr_array_add (bench->exec, probe_exec (*n));
  setup_network_modes (bench);
  return TRUE;
}

/* The store the start phase runs in, with busybox: beside the others,
 * with the driver berth would pick there by default (the start phase
 * compares exec drivers, not storage). */
static gboolean
setup_start_store (Bench *bench, GError **error)
{
  gboolean any_exec = FALSE;
  for (guint i = 0; i < bench->exec->len; i++)
    any_exec |= ((Backend *) bench->exec->pdata[i])->reason == NULL;
  if (!any_exec)
    return TRUE;
  bench->start_root = g_build_filename (bench->tmp, "start", NULL);
  g_autoptr (GError) local = NULL;
  g_autoptr (BerthStore) store = berth_store_open (bench->start_root, NULL, &local);
  g_autofree char *id = store ? berth_image_bootstrap (store, "busybox", "busybox:latest", NULL, &local) : NULL;
  if (id)
    return TRUE;
  /* No busybox here: the start phase fails for every exec driver, in the
   * report, and the storage phases still run. */
  g_prefix_error (&local, "the start phase's busybox image: ");
  for (guint i = 0; i < bench->exec->len; i++)
    if (((Backend *) bench->exec->pdata[i])->reason == NULL)
      record_error (bench, "start", ((Backend *) bench->exec->pdata[i])->name, local);
  g_clear_pointer (&bench->start_root, g_free);
  return check_interrupt (bench, error);
}

static gboolean
load_untimed (Backend *b, const char *tar, GError **error)
{
  g_autoptr (GPtrArray) refs = berth_image_load (b->store, tar, b->name, NULL, NULL, NULL, error);
  return refs != NULL;
}

/* ---- one run of the storage phases on one backend ---- */

/* Regular files of the image, found once: the largest, and small ones for
 * copy-up (a user's --image has files of its own). */
static void
collect_files (Backend *b, const char *rootfs, const char *rel, int depth)
{
  g_autofree char *path = g_build_filename (rootfs, rel, NULL);
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  if (dir == NULL || depth > 16)
    return;
  gint64 largest = -1;
  if (b->large_file)
    {
      struct stat st;
      g_autofree char *p = g_build_filename (rootfs, b->large_file, NULL);
      largest = lstat (p, &st) == 0 ? st.st_size : -1;
    }
  const char *name;
  while ((name = g_dir_read_name (dir)))
    {
      g_autofree char *child = *rel ? g_build_filename (rel, name, NULL) : g_strdup (name);
      g_autofree char *full = g_build_filename (rootfs, child, NULL);
      struct stat st;
      if (lstat (full, &st) < 0)
        continue;
      if (S_ISDIR (st.st_mode))
        collect_files (b, rootfs, child, depth + 1);
      else if (S_ISREG (st.st_mode) && st.st_size > largest && st.st_size >= 1024 * 1024)
        {
          g_free (b->large_file);
          b->large_file = g_strdup (child);
          largest = st.st_size;
        }
      else if (S_ISREG (st.st_mode) && st.st_size < 64 * 1024 && b->small_files->len < COPY_UP_SMALL_MAX)
        g_ptr_array_add (b->small_files, g_strdup (child));
    }
}

static gboolean
write_first_byte (const char *rootfs, const char *rel, GError **error)
{
  g_autofree char *path = g_build_filename (rootfs, rel, NULL);
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s for writing", rel);
  gboolean ok = pwrite (fd, "x", 1, 0) == 1;
  int errsv = errno;
  close (fd);
  return ok ? TRUE : berth_fail_errno (error, errsv, "write %s", rel);
}

static gboolean
phase_copy_up (Bench *bench, Backend *b, const char *rootfs, GError **error)
{
  if (b->small_files == NULL)
    {
      b->small_files = g_ptr_array_new_with_free_func (g_free);
      collect_files (b, rootfs, "", 0);
    }
  if (b->large_file)
    {
      double t0 = now_ms ();
      if (!write_first_byte (rootfs, b->large_file, error))
        return FALSE;
      record (bench, "copy-up-large", b->name, now_ms () - t0);
    }
  double t0 = now_ms ();
  for (guint i = 0; i < b->small_files->len; i++)
    if (!write_first_byte (rootfs, b->small_files->pdata[i], error))
      return FALSE;
  if (b->small_files->len)
    record (bench, "copy-up-small", b->name, now_ms () - t0);
  return TRUE;
}

static gboolean
phase_metadata (Bench *bench, Backend *b, const char *rootfs, GError **error)
{
  g_autofree char *dir = g_build_filename (rootfs, "berth-bench-meta", NULL);
  if (mkdir (dir, 0755) < 0)
    return berth_fail_errno (error, errno, "mkdir %s", dir);
  int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0)
    return berth_fail_errno (error, errno, "open %s", dir);
  guint n = MAX (bench->o->files, 1);
  char name[32];
  gboolean ok = TRUE;
  double t0 = now_ms ();
  for (guint i = 0; ok && i < n; i++)
    {
      snprintf (name, sizeof name, "m%u", i);
      int fd = openat (dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      ok = fd >= 0 ? close (fd) == 0 : berth_fail_errno (error, errno, "create %s/%s", dir, name);
    }
  double t1 = now_ms ();
  struct stat st;
  for (guint i = 0; ok && i < n; i++)
    {
      snprintf (name, sizeof name, "m%u", i);
      if (fstatat (dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        ok = berth_fail_errno (error, errno, "stat %s/%s", dir, name);
    }
  double t2 = now_ms ();
  for (guint i = 0; ok && i < n; i++)
    {
      snprintf (name, sizeof name, "m%u", i);
      if (unlinkat (dfd, name, 0) < 0)
        ok = berth_fail_errno (error, errno, "unlink %s/%s", dir, name);
    }
  double t3 = now_ms ();
  close (dfd);
  if (!ok)
    return FALSE;
  record (bench, "meta-create", b->name, t1 - t0);
  record (bench, "meta-stat", b->name, t2 - t1);
  record (bench, "meta-unlink", b->name, t3 - t2);
  if (rmdir (dir) < 0)
    return berth_fail_errno (error, errno, "rmdir %s", dir);
  return TRUE;
}

#ifdef HAVE_AIO
typedef struct {
  const char *id;
  gboolean sequential, write;
  gsize block_size;
  guint queue_depth;
} AioPhase;

static const AioPhase aio_phases[] = {
  { "seq-write-qd1", TRUE, TRUE, 1 << 20, 1 }, { "seq-write-qd32", TRUE, TRUE, 1 << 20, 32 },
  { "seq-read-qd1", TRUE, FALSE, 1 << 20, 1 }, { "seq-read-qd32", TRUE, FALSE, 1 << 20, 32 },
  { "rand-write-qd1", FALSE, TRUE, 4096, 1 },  { "rand-write-qd32", FALSE, TRUE, 4096, 32 },
  { "rand-read-qd1", FALSE, FALSE, 4096, 1 },  { "rand-read-qd32", FALSE, FALSE, 4096, 32 },
};

/* Random jobs move a quarter of the file: at QD 1 a 4 KiB job over the
 * whole file would dominate the run's time without telling more. */
static gboolean
phase_data (Bench *bench, Backend *b, const char *rootfs, GError **error)
{
  g_autofree char *file = g_build_filename (rootfs, "berth-bench-aio.dat", NULL);
  if (!berth_aio_prepare_file (file, bench->o->io_size, error))
    return FALSE;
  gboolean ok = TRUE;
  for (guint i = 0; ok && i < G_N_ELEMENTS (aio_phases); i++)
    {
      const AioPhase *p = &aio_phases[i];
      BerthAioJob job = {
        .sequential = p->sequential, .write = p->write, .block_size = p->block_size,
        .queue_depth = p->queue_depth, .direct = TRUE, .file_size = bench->o->io_size,
        .total_bytes = p->sequential ? bench->o->io_size : MAX (bench->o->io_size / 4, p->block_size),
      };
      BerthAioResult result = { 0 };
      ok = berth_aio_run (file, &job, &result, error);
      if (ok)
        {
          record (bench, p->id, b->name, p->sequential ? result.mib_per_s : result.iops);
          if (b->io_mode == NULL)
            b->io_mode = g_strdup (result.io_mode);
        }
      berth_aio_result_clear (&result);
    }
  if (unlink (file) < 0 && ok)
    ok = berth_fail_errno (error, errno, "unlink %s", file);
  return ok;
}
#else
static gboolean
phase_data (Bench *bench, Backend *b, const char *rootfs, GError **error)
{
  (void) bench, (void) b, (void) rootfs;
  return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                     "data path: this berth was built without libaio (configure found no libaio.h)");
}
#endif

static gboolean
phase_commit (Bench *bench, Backend *b, BerthContainer *c, GError **error)
{
  const char *ref = "berth-bench/commit:latest";
  double t0 = now_ms ();
  g_autofree char *id = berth_container_commit (b->store, c, ref, error);
  if (id == NULL)
    return FALSE;
  record (bench, "commit", b->name, now_ms () - t0);
  g_autoptr (BerthImage) image = berth_image_lookup (b->store, id, error);
  if (image == NULL)
    return FALSE;
  guint n = g_strv_length (image->diff_ids);
  g_autofree char *blob = n ? berth_blob_path (b->store, image->diff_ids[n - 1]) : NULL;
  struct stat st;
  if (blob && stat (blob, &st) == 0)
    record (bench, "diff-size", b->name, st.st_size / (1024.0 * 1024.0));
  return berth_image_remove (b->store, ref, FALSE, error);
}

/* Which phase a failure belongs to, for the report. */
typedef struct {
  const char *current;
} Where;

static gboolean
storage_run (Bench *bench, Backend *b, Where *w, GError **error)
{
  w->current = "unpack";
  double t0 = now_ms ();
  g_autoptr (GPtrArray) refs = berth_image_load (b->store, bench->workload_tar, b->name, NULL, NULL, NULL, error);
  if (refs == NULL)
    return FALSE;
  record (bench, "unpack", b->name, now_ms () - t0);
  const char *image = bench->o->image_tar ? refs->pdata[0] : BERTH_BENCH_IMAGE;
  step (bench, "unpack");

  w->current = "create";
  t0 = now_ms ();
  g_autoptr (BerthContainer) c = berth_container_create (b->store, image, NULL, b->name, NULL, NULL, error);
  if (c == NULL)
    return FALSE;
  record (bench, "create", b->name, now_ms () - t0);

  w->current = "mount";
  t0 = now_ms ();
  g_autofree char *rootfs = berth_container_mount (b->store, c, error);
  if (rootfs == NULL)
    return FALSE;
  record (bench, "mount", b->name, now_ms () - t0);
  step (bench, "create and mount");

  w->current = "copy-up-large";
  if (!check_interrupt (bench, error) || !phase_copy_up (bench, b, rootfs, error))
    return FALSE;
  w->current = "meta-create";
  if (!check_interrupt (bench, error) || !phase_metadata (bench, b, rootfs, error))
    return FALSE;
  step (bench, "copy-up and metadata");
  w->current = "seq-write-qd1";
  if (!check_interrupt (bench, error) || !phase_data (bench, b, rootfs, error))
    return FALSE;
  step (bench, "data path");

  w->current = "commit";
  if (!check_interrupt (bench, error) || !phase_commit (bench, b, c, error))
    return FALSE;

  w->current = "umount";
  t0 = now_ms ();
  if (!berth_container_umount (b->store, c, error))
    return FALSE;
  record (bench, "umount", b->name, now_ms () - t0);

  w->current = "remove";
  t0 = now_ms ();
  if (!berth_container_remove (b->store, c->id, FALSE, error))
    return FALSE;
  record (bench, "remove", b->name, now_ms () - t0);
  w->current = "unpack";
  if (!berth_image_remove (b->store, image, TRUE, error))
    return FALSE;
  step (bench, "commit, unmount, remove");
  return TRUE;
}

/* Whatever a failed run left: containers (with their mounts) and images,
 * so the next run starts from an empty store. */
static void
reset_store (Backend *b)
{
  g_autoptr (GPtrArray) containers = berth_container_list (b->store, NULL);
  for (guint i = 0; containers && i < containers->len; i++)
    berth_container_remove (b->store, ((BerthContainer *) containers->pdata[i])->id, TRUE, NULL);
  g_autoptr (GPtrArray) images = berth_image_list (b->store, NULL);
  for (guint i = 0; images && i < images->len; i++)
    {
      BerthImage *image = images->pdata[i];
      gboolean growth = FALSE;
      for (guint t = 0; t < image->tags->len; t++)
        growth |= g_str_has_prefix (image->tags->pdata[t], BERTH_BENCH_LAYERS_REPO)
                  || g_str_has_prefix (image->tags->pdata[t], BERTH_BENCH_SIZE_REPO);
      if (!growth)
        berth_image_remove (b->store, image->id, TRUE, NULL);
    }
}

static gboolean
exec_run (Bench *bench, Backend *e, GError **error)
{
  const char *argv[] = { bench->o->berth_exe, "--root", bench->start_root, "run", "--rm",
                         "--network", "none", "--exec-driver", e->name, "busybox", "/bin/true",
                         NULL };
  double t0 = now_ms ();
  g_autoptr (GError) local = NULL;
  if (!run_program (argv, NULL, &local))
    {
      record_error (bench, "start", e->name, local);
      return check_interrupt (bench, error);
    }
  record (bench, "start", e->name, now_ms () - t0);
  return TRUE;
}

static void
record_network (const char *phase_id, const char *mode, double value, const GError *error,
                gpointer data)
{
  Bench *bench = data;
  if (error)
    record_error (bench, phase_id, mode, error);
  else
    record (bench, phase_id, mode, value);
}

static gboolean
network_run (Bench *bench, Backend *m, GError **error)
{
  BerthBenchNet n = { .berth_exe = bench->o->berth_exe, .root = bench->start_root,
                      .probe = bench->net_probe, .stream_mib = NET_STREAM_MIB,
                      .rtt_count = NET_RTT_COUNT };
  berth_bench_net_run (&n, m->name, record_network, bench);
  step (bench, "network");
  return check_interrupt (bench, error);
}

static gboolean
main_runs (Bench *bench, GError **error)
{
  guint n = bench->storage->len;
  for (guint r = 0; r < bench->o->runs; r++)
    {
      for (guint k = 0; k < n; k++)
        {
          Backend *b = bench->storage->pdata[(k + r) % n];
          if (b->store == NULL)
            continue;
          Where w = { "unpack" };
          g_autoptr (GError) local = NULL;
          if (!storage_run (bench, b, &w, &local))
            {
              if (bench->interrupted)
                return g_propagate_error (error, g_steal_pointer (&local)), FALSE;
              record_error (bench, w.current, b->name, local);
              reset_store (b);
            }
        }
      for (guint k = 0; k < bench->exec->len && bench->start_root; k++)
        {
          Backend *e = bench->exec->pdata[(k + r) % bench->exec->len];
          if (e->reason == NULL && !exec_run (bench, e, error))
            return FALSE;
          step (bench, "start");
        }
      for (guint k = 0; k < bench->network->len && bench->start_root; k++)
        {
          Backend *m = bench->network->pdata[(k + r) % bench->network->len];
          if (m->reason == NULL && !network_run (bench, m, error))
            return FALSE;
        }
    }
  return TRUE;
}

/* ---- growth curves ---- */

static void
curve_error (Growth *g, Backend *b, const GError *error)
{
  results_fail (&g->r, b->name, error);
}

static gboolean
growth_layers (Bench *bench, GError **error)
{
  Growth *g = growth_new (bench, "mount-vs-layers", "Mount time against layer count", "layers");
  for (guint layers = 1; layers <= BERTH_BENCH_MAX_LAYERS; layers *= 2)
    {
      g_autofree char *ref = g_strdup_printf ("%s:%u", BERTH_BENCH_LAYERS_REPO, layers);
      for (guint k = 0; k < bench->storage->len; k++)
        {
          Backend *b = bench->storage->pdata[k];
          if (b->store == NULL)
            continue;
          if (!check_interrupt (bench, error))
            return FALSE;
          g_autoptr (GError) local = NULL;
          g_autoptr (BerthContainer) c = berth_container_create (b->store, ref, NULL, b->name, NULL, NULL, &local);
          g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (double));
          for (guint r = 0; c && r < bench->o->runs && !local; r++)
            {
              double t0 = now_ms ();
              g_autofree char *rootfs = berth_container_mount (b->store, c, &local);
              double t = now_ms () - t0;
              if (rootfs && berth_container_umount (b->store, c, &local))
                g_array_append_val (times, t);
            }
          if (c)
            berth_container_remove (b->store, c->id, TRUE, local ? NULL : &local);
          if (local)
            curve_error (g, b, local);
          else
            growth_point (g, b->name, layers, median (times));
          step (bench, "mount against layers");
        }
    }
  return TRUE;
}

static gboolean
growth_sizes (Bench *bench, GError **error)
{
  Growth *g = growth_new (bench, "create-vs-size", "Container create time against image size", "image MiB");
  for (const guint *mib = berth_bench_image_sizes; *mib; mib++)
    {
      g_autofree char *ref = g_strdup_printf ("%s:%u", BERTH_BENCH_SIZE_REPO, *mib);
      for (guint k = 0; k < bench->storage->len; k++)
        {
          Backend *b = bench->storage->pdata[k];
          if (b->store == NULL)
            continue;
          if (!check_interrupt (bench, error))
            return FALSE;
          g_autoptr (GError) local = NULL;
          g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (double));
          for (guint r = 0; r < bench->o->runs && !local; r++)
            {
              double t0 = now_ms ();
              g_autoptr (BerthContainer) c = berth_container_create (b->store, ref, NULL, b->name, NULL, NULL, &local);
              double t = now_ms () - t0;
              if (c && berth_container_remove (b->store, c->id, TRUE, &local))
                g_array_append_val (times, t);
            }
          if (local)
            curve_error (g, b, local);
          else
            growth_point (g, b->name, *mib, median (times));
          step (bench, "create against image size");
        }
    }
  return TRUE;
}

/* 1, 10, 100, ... up to --containers, and --containers itself. */
static GArray *
container_counts (guint max)
{
  GArray *counts = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint n = 1; n <= max; n *= 10)
    g_array_append_val (counts, n);
  if (max > 0 && g_array_index (counts, guint, counts->len - 1) != max)
    g_array_append_val (counts, max);
  return counts;
}

/* Containers are added up to each count and kept; a backend that fails
 * once gets no further points. */
static gboolean
growth_listing (Bench *bench, GError **error)
{
  Growth *g = growth_new (bench, "list-vs-containers", "Listing containers against their count", "containers");
  g_autoptr (GArray) counts = container_counts (bench->o->containers);
  g_autofree guint *have = g_new0 (guint, bench->storage->len);
  g_autofree char *ref = g_strdup_printf ("%s:1", BERTH_BENCH_LAYERS_REPO);
  for (guint i = 0; i < counts->len; i++)
    {
      guint want = g_array_index (counts, guint, i);
      for (guint k = 0; k < bench->storage->len; k++)
        {
          Backend *b = bench->storage->pdata[k];
          if (b->store == NULL || g_hash_table_contains (g->r.errors, b->name))
            continue;
          g_autoptr (GError) local = NULL;
          for (; have[k] < want && !local; have[k]++)
            {
              if (have[k] % 50 == 0 && !check_interrupt (bench, error))
                return FALSE;
              berth_container_free (berth_container_create (b->store, ref, NULL, b->name, NULL, NULL, &local));
            }
          g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (double));
          for (guint r = 0; r < bench->o->runs && !local; r++)
            {
              double t0 = now_ms ();
              g_autoptr (GPtrArray) list = berth_container_list (b->store, &local);
              double t = now_ms () - t0;
              if (list && list->len != want)
                berth_fail (&local, BERTH_ERROR_FAILED, "listed %u containers, made %u", list->len, want);
              else if (list)
                g_array_append_val (times, t);
            }
          if (local)
            curve_error (g, b, local);
          else
            growth_point (g, b->name, want, median (times));
          step (bench, "listing against containers");
        }
    }
  for (guint k = 0; k < bench->storage->len; k++)
    {
      Backend *b = bench->storage->pdata[k];
      if (b->store)
        reset_store (b);
    }
  return TRUE;
}

/* ---- the recommendation ---- */

static double
phase_median (Phase *p, const char *backend)
{
  GArray *a = g_hash_table_lookup (p->r.values, backend);
  return a && a->len ? median (a) : NAN;
}

/* How far @backend is from the best in @p: 1 = the best, 2 = twice as
 * slow (or half the throughput). */
static double
ratio_to_best (Phase *p, const char *backend, GPtrArray *candidates)
{
  gboolean higher = strcmp (p->def->better, "higher") == 0;
  double mine = phase_median (p, backend), best = NAN;
  for (guint i = 0; i < candidates->len; i++)
    {
      double v = phase_median (p, candidates->pdata[i]);
      if (!isnan (v) && (isnan (best) || (higher ? v > best : v < best)))
        best = v;
    }
  if (isnan (mine) || isnan (best) || mine <= 0 || best <= 0)
    return NAN;
  return higher ? best / mine : mine / best;
}

/* What one container costs on a backend from create to remove, with this
 * workload's copy-ups, metadata and commit: the figure an operator pays
 * per container, in ms. Absolute time, not ratios: 0.1 ms against 0.02 ms
 * is five times but matters to nobody. */
static const char *const lifecycle_phases[] = {
  "create", "mount", "copy-up-large", "copy-up-small", "meta-create", "meta-stat",
  "meta-unlink", "commit", "umount", "remove", NULL,
};

static double
lifecycle_ms (Bench *bench, const char *backend)
{
  double sum = 0;
  for (const char *const *id = lifecycle_phases; *id; id++)
    {
      double v = phase_median (phase (bench, *id), backend);
      if (!isnan (v))
        sum += v;
    }
  return sum;
}

/* Throughput against the best candidate, over the data-path jobs
 * (geometric mean; 1 = the best in every job). */
static double
data_path_ratio (Bench *bench, const char *backend, GPtrArray *candidates)
{
  double log_sum = 0;
  guint n = 0;
  for (guint k = 0; k < bench->phases->len; k++)
    {
      Phase *p = bench->phases->pdata[k];
      if (strcmp (p->def->better, "higher") != 0)
        continue;
      double r = ratio_to_best (p, backend, candidates);
      if (!isnan (r))
        log_sum += log (r), n++;
    }
  return n ? exp (log_sum / n) : NAN;
}

/* A create that grows with the image (vfs copies it) is the cost that
 * small test images hide. */
static void
note_create_growth (Bench *bench, const char *backend, GPtrArray *reasons)
{
  for (guint i = 0; i < bench->growth->len; i++)
    {
      Growth *g = bench->growth->pdata[i];
      GArray *a = strcmp (g->id, "create-vs-size") == 0 ? g_hash_table_lookup (g->r.values, backend) : NULL;
      if (a == NULL || a->len < 4)
        continue;
      double *v = (double *) a->data;
      double first = v[1], last = v[a->len - 1];
      if (first > 0 && last / first > 3)
        g_ptr_array_add (reasons, g_strdup_printf ("%s's create grows with the image: %.1f ms at %.0f MiB, "
                                                   "%.1f ms at %.0f MiB",
                                                   backend, first, v[0], last, v[a->len - 2]));
    }
}

static void
recommend_storage (Bench *bench, JsonBuilder *jb, GPtrArray *reasons)
{
  g_autoptr (GPtrArray) candidates = g_ptr_array_new ();
  for (guint i = 0; i < bench->storage->len; i++)
    {
      Backend *b = bench->storage->pdata[i];
      gboolean failed = FALSE;
      for (guint k = 0; k < bench->phases->len; k++)
        failed |= g_hash_table_contains (((Phase *) bench->phases->pdata[k])->r.errors, b->name);
      if (b->store && !failed)
        g_ptr_array_add (candidates, b->name);
      else if (b->store)
        g_ptr_array_add (reasons, g_strdup_printf ("%s is left out: it failed a phase (see the table)", b->name));
    }
  const char *winner = NULL, *fastest_io = NULL;
  for (guint i = 0; i < candidates->len; i++)
    {
      const char *name = candidates->pdata[i];
      double cost = lifecycle_ms (bench, name), io = data_path_ratio (bench, name, candidates);
      g_ptr_array_add (reasons,
                       g_strdup_printf ("%s: a container from create to remove (this workload's copy-ups, "
                                        "metadata and commit) takes %.1f ms; unpacking the image %.1f ms; "
                                        "data path at %.2f× the best throughput",
                                        name, cost, phase_median (phase (bench, "unpack"), name), io));
      if (winner == NULL || cost < lifecycle_ms (bench, winner))
        winner = name;
      if (!isnan (io) && (fastest_io == NULL || io < data_path_ratio (bench, fastest_io, candidates)))
        fastest_io = name;
    }
  if (winner)
    g_ptr_array_add (reasons, g_strdup_printf ("%s is recommended: the cheapest container lifecycle here", winner));
  /* A loop file is not where the operator's store would live: name the
   * best of those that ran on the host's own disk too. */
  const char *on_disk = NULL;
  for (guint i = 0; i < candidates->len; i++)
    {
      Backend *b = NULL;
      for (guint k = 0; k < bench->storage->len && b == NULL; k++)
        if (strcmp (((Backend *) bench->storage->pdata[k])->name, candidates->pdata[i]) == 0)
          b = bench->storage->pdata[k];
      if (b->note == NULL && (on_disk == NULL || lifecycle_ms (bench, b->name) < lifecycle_ms (bench, on_disk)))
        on_disk = b->name;
    }
  if (winner && on_disk && strcmp (winner, on_disk) != 0)
    g_ptr_array_add (reasons, g_strdup_printf ("of the backends on this host's own disk, %s is the cheapest "
                                               "(%.1f ms a container)", on_disk, lifecycle_ms (bench, on_disk)));
  if (winner && fastest_io && strcmp (winner, fastest_io) != 0
      && data_path_ratio (bench, winner, candidates) > 1.25)
    g_ptr_array_add (reasons, g_strdup_printf ("for I/O-heavy containers weigh %s: its data path is %.2f× "
                                               "faster than %s's", fastest_io,
                                               data_path_ratio (bench, winner, candidates)
                                                   / data_path_ratio (bench, fastest_io, candidates),
                                               winner));
  for (guint i = 0; i < candidates->len; i++)
    note_create_growth (bench, candidates->pdata[i], reasons);
  for (guint i = 0; i < bench->storage->len; i++)
    {
      Backend *b = bench->storage->pdata[i];
      if (b->note)
        g_ptr_array_add (reasons, g_strdup_printf ("%s ran %s: its figures are the loop file's", b->name, b->note));
      if (b->io_mode && !g_str_has_prefix (b->io_mode, "O_DIRECT"))
        g_ptr_array_add (reasons, g_strdup_printf ("%s's data path ran %s: its reads may come from the page cache",
                                                   b->name, b->io_mode));
    }
  json_builder_set_member_name (jb, "storage");
  if (winner)
    json_builder_add_string_value (jb, winner);
  else
    json_builder_add_null_value (jb);
}

static void
recommend_exec (Bench *bench, JsonBuilder *jb, GPtrArray *reasons)
{
  Phase *p = phase (bench, "start");
  const char *winner = NULL;
  g_autoptr (GString) line = g_string_new ("start to exit, median: ");
  for (guint i = 0; i < bench->exec->len; i++)
    {
      Backend *e = bench->exec->pdata[i];
      double v = phase_median (p, e->name);
      if (isnan (v))
        continue;
      g_string_append_printf (line, "%s%s %.1f ms", winner ? ", " : "", e->name, v);
      if (winner == NULL || v < phase_median (p, winner))
        winner = e->name;
    }
  if (winner)
    g_ptr_array_add (reasons, g_strdup_printf ("%s (exec drivers): %s", winner, line->str));
  json_builder_set_member_name (jb, "exec");
  if (winner)
    json_builder_add_string_value (jb, winner);
  else
    json_builder_add_null_value (jb);
}

/* @phase's median for @mode over loopback's: the share of the host's own
 * TCP a network mode keeps. NAN where either is missing. */
static double
share_of_loopback (Bench *bench, const char *phase_id, const char *mode)
{
  Phase *p = phase (bench, phase_id);
  return phase_median (p, mode) / phase_median (p, "loopback");
}

/* The figures a network is chosen by, each against the floor: what a
 * container on it keeps of the host's loopback, and what its start costs
 * over none. bridge is recommended where it ran: it is the one that
 * isolates and publishes. */
static void
recommend_network (Bench *bench, JsonBuilder *jb, GPtrArray *reasons)
{
  const char *winner = NULL;
  for (const char *const *mode = berth_bench_net_modes; *mode; mode++)
    {
      if (strcmp (*mode, "loopback") == 0 || strcmp (*mode, "none") == 0)
        continue;
      double start = phase_median (phase (bench, "net-start"), *mode);
      double none = phase_median (phase (bench, "net-start"), "none");
      double c2c = share_of_loopback (bench, "net-c2c-stream", *mode);
      double c2h = share_of_loopback (bench, "net-c2h-stream", *mode);
      double rtt = phase_median (phase (bench, "net-c2c-rtt"), *mode);
      if (isnan (start) || isnan (c2c))
        continue;
      g_autoptr (GString) line = g_string_new (NULL);
      g_string_append_printf (line, "network %s: container to container at %.2f× the host's "
                              "loopback throughput, container to host at %.2f×, a round trip "
                              "of %.0f µs; a start costs %+.1f ms over none", *mode, c2c, c2h,
                              rtt, start - none);
      double pub = share_of_loopback (bench, "net-publish-stream", *mode);
      if (!isnan (pub))
        g_string_append_printf (line, "; a published port at %.2f×", pub);
      g_ptr_array_add (reasons, g_string_free (g_steal_pointer (&line), FALSE));
      if (strcmp (*mode, "bridge") == 0)
        winner = *mode;
    }
  if (winner == NULL)
    g_ptr_array_add (reasons, g_strdup ("network: bridge did not run here, so containers get "
                                        "none (loopback) or the host's network"));
  json_builder_set_member_name (jb, "network");
  json_builder_add_string_value (jb, winner ? winner : "none");
}

/* ---- the result document ---- */

/* Members from (name, value) pairs; a NULL value is left out. */
static void
add_string_members (JsonBuilder *jb, const char *const (*fields)[2], guint n)
{
  for (guint k = 0; k < n; k++)
    if (fields[k][1])
      {
        json_builder_set_member_name (jb, fields[k][0]);
        json_builder_add_string_value (jb, fields[k][1]);
      }
}

static void
add_backends (JsonBuilder *jb, const char *member, GPtrArray *backends)
{
  json_builder_set_member_name (jb, member);
  json_builder_begin_array (jb);
  for (guint i = 0; i < backends->len; i++)
    {
      Backend *b = backends->pdata[i];
      json_builder_begin_object (jb);
      json_builder_set_member_name (jb, "name");
      json_builder_add_string_value (jb, b->name);
      json_builder_set_member_name (jb, "available");
      json_builder_add_boolean_value (jb, b->reason == NULL);
      const char *const extra[][2] = { { "reason", b->reason }, { "note", b->note }, { "io_mode", b->io_mode } };
      add_string_members (jb, extra, G_N_ELEMENTS (extra));
      json_builder_end_object (jb);
    }
  json_builder_end_array (jb);
}

static void
add_stats (JsonBuilder *jb, GArray *a)
{
  double lo = G_MAXDOUBLE, hi = -G_MAXDOUBLE, *v = (double *) a->data;
  for (guint i = 0; i < a->len; i++)
    lo = MIN (lo, v[i]), hi = MAX (hi, v[i]);
  double med = median (a);
  json_builder_begin_object (jb);
  const char *names[] = { "median", "min", "max", "spread_pct" };
  double values[] = { med, lo, hi, med > 0 ? (hi - lo) / med * 100 : 0 };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      json_builder_set_member_name (jb, names[i]);
      json_builder_add_double_value (jb, values[i]);
    }
  json_builder_set_member_name (jb, "samples");
  json_builder_begin_array (jb);
  for (guint i = 0; i < a->len; i++)
    json_builder_add_double_value (jb, v[i]);
  json_builder_end_array (jb);
  json_builder_end_object (jb);
}

static void
add_phases (Bench *bench, JsonBuilder *jb)
{
  json_builder_set_member_name (jb, "phases");
  json_builder_begin_array (jb);
  for (guint i = 0; i < bench->phases->len; i++)
    {
      Phase *p = bench->phases->pdata[i];
      json_builder_begin_object (jb);
      const char *const fields[][2] = { { "id", p->def->id }, { "title", p->def->title },
                                        { "group", p->def->group }, { "unit", p->def->unit },
                                        { "better", p->def->better } };
      add_string_members (jb, fields, G_N_ELEMENTS (fields));
      json_builder_set_member_name (jb, "results");
      json_builder_begin_object (jb);
      GPtrArray *backends = strcmp (p->def->group, "exec") == 0      ? bench->exec
                            : strcmp (p->def->group, "network") == 0 ? bench->network
                                                                     : bench->storage;
      for (guint k = 0; k < backends->len; k++)
        {
          Backend *b = backends->pdata[k];
          GArray *a = g_hash_table_lookup (p->r.values, b->name);
          const char *err = g_hash_table_lookup (p->r.errors, b->name);
          if (err)
            {
              json_builder_set_member_name (jb, b->name);
              json_builder_begin_object (jb);
              json_builder_set_member_name (jb, "error");
              json_builder_add_string_value (jb, err);
              json_builder_end_object (jb);
            }
          else if (a && a->len)
            {
              json_builder_set_member_name (jb, b->name);
              add_stats (jb, a);
            }
        }
      json_builder_end_object (jb);
      json_builder_end_object (jb);
    }
  json_builder_end_array (jb);
}

static void
add_growth (Bench *bench, JsonBuilder *jb)
{
  json_builder_set_member_name (jb, "growth");
  json_builder_begin_array (jb);
  for (guint i = 0; i < bench->growth->len; i++)
    {
      Growth *g = bench->growth->pdata[i];
      json_builder_begin_object (jb);
      const char *const fields[][2] = { { "id", g->id }, { "title", g->title }, { "x_label", g->x_label },
                                        { "unit", g->unit } };
      add_string_members (jb, fields, G_N_ELEMENTS (fields));
      json_builder_set_member_name (jb, "series");
      json_builder_begin_object (jb);
      for (guint k = 0; k < bench->storage->len; k++)
        {
          Backend *b = bench->storage->pdata[k];
          GArray *a = g_hash_table_lookup (g->r.values, b->name);
          if (a == NULL)
            continue;
          json_builder_set_member_name (jb, b->name);
          json_builder_begin_array (jb);
          for (guint p = 0; p + 1 < a->len; p += 2)
            {
              json_builder_begin_array (jb);
              json_builder_add_double_value (jb, g_array_index (a, double, p));
              json_builder_add_double_value (jb, g_array_index (a, double, p + 1));
              json_builder_end_array (jb);
            }
          json_builder_end_array (jb);
        }
      json_builder_end_object (jb);
      json_builder_set_member_name (jb, "errors");
      json_builder_begin_object (jb);
      GHashTableIter it;
      gpointer name, message;
      g_hash_table_iter_init (&it, g->r.errors);
      while (g_hash_table_iter_next (&it, &name, &message))
        {
          json_builder_set_member_name (jb, name);
          json_builder_add_string_value (jb, message);
        }
      json_builder_end_object (jb);
      json_builder_end_object (jb);
    }
  json_builder_end_array (jb);
}

static void
add_host (Bench *bench, JsonBuilder *jb)
{
  g_autofree char *kernel = berth_host_kernel ();
  json_builder_set_member_name (jb, "host");
  json_builder_begin_object (jb);
  json_builder_set_member_name (jb, "kernel");
  json_builder_add_string_value (jb, kernel);
  json_builder_set_member_name (jb, "cpus");
  json_builder_add_int_value (jb, g_get_num_processors ());
  json_builder_set_member_name (jb, "cgroup_layout");
  json_builder_add_string_value (jb, berth_host_cgroup_layout ());
  json_builder_set_member_name (jb, "backing_filesystem");
  json_builder_add_string_value (jb, berth_fs_type_name (bench->tmp));
  json_builder_set_member_name (jb, "tmp_root");
  json_builder_add_string_value (jb, bench->tmp);
  json_builder_end_object (jb);
}

static void
add_settings (Bench *bench, JsonBuilder *jb)
{
  const BerthBenchOptions *o = bench->o;
  json_builder_set_member_name (jb, "settings");
  json_builder_begin_object (jb);
  const char *names[] = { "runs", "layers", "files", "containers", "io_size", "large_file_size", "btrfs_loop_size" };
  guint64 values[] = { o->runs, o->layers, o->files, o->containers, o->io_size, o->large_file_size, o->btrfs_loop_size };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      json_builder_set_member_name (jb, names[i]);
      json_builder_add_int_value (jb, values[i]);
    }
  g_autofree char *image = o->image_tar
      ? g_strdup (o->image_label ? o->image_label : o->image_tar)
      : g_strdup_printf ("generated: %u layers, %u small files (1-8 KiB), %u large files of %" G_GUINT64_FORMAT " MiB",
                         o->layers, o->files, BERTH_BENCH_LARGE_FILES, o->large_file_size >> 20);
  json_builder_set_member_name (jb, "image");
  json_builder_add_string_value (jb, image);
  json_builder_end_object (jb);
}

static JsonNode *
build_results (Bench *bench)
{
  g_autoptr (JsonBuilder) jb = json_builder_new ();
  json_builder_begin_object (jb);
  json_builder_set_member_name (jb, "berth_version");
  json_builder_add_string_value (jb, PACKAGE_VERSION);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *date = g_date_time_format_iso8601 (now);
  json_builder_set_member_name (jb, "date");
  json_builder_add_string_value (jb, date);
  add_host (bench, jb);
  add_settings (bench, jb);
  add_backends (jb, "storage_drivers", bench->storage);
  add_backends (jb, "exec_drivers", bench->exec);
  add_backends (jb, "network_modes", bench->network);
  add_phases (bench, jb);
  add_growth (bench, jb);
  g_autoptr (GPtrArray) reasons = g_ptr_array_new_with_free_func (g_free);
  json_builder_set_member_name (jb, "recommendation");
  json_builder_begin_object (jb);
  recommend_storage (bench, jb, reasons);
  recommend_exec (bench, jb, reasons);
  recommend_network (bench, jb, reasons);
  json_builder_set_member_name (jb, "reasons");
  json_builder_begin_array (jb);
  for (guint i = 0; i < reasons->len; i++)
    json_builder_add_string_value (jb, reasons->pdata[i]);
  json_builder_end_array (jb);
  json_builder_end_object (jb);
  json_builder_end_object (jb);
  return json_builder_get_root (jb);
}

/* ---- cleaning up ---- */

static void
bench_cleanup (Bench *bench)
{
  for (guint i = 0; bench->storage && i < bench->storage->len; i++)
    {
      Backend *b = bench->storage->pdata[i];
      if (b->store)
        reset_store (b);
    }
  if (bench->start_root)
    {
      g_autoptr (BerthStore) store = berth_store_open (bench->start_root, NULL, NULL);
      g_autoptr (GPtrArray) containers = store ? berth_container_list (store, NULL) : NULL;
      for (guint i = 0; containers && i < containers->len; i++)
        berth_container_remove (store, ((BerthContainer *) containers->pdata[i])->id, TRUE, NULL);
    }
  g_clear_pointer (&bench->storage, g_ptr_array_unref); /* closes the stores */
  g_clear_pointer (&bench->exec, g_ptr_array_unref);
  g_clear_pointer (&bench->network, g_ptr_array_unref);
  g_clear_pointer (&bench->net_probe, g_free);
  g_clear_pointer (&bench->phases, g_ptr_array_unref);
  g_clear_pointer (&bench->growth, g_ptr_array_unref);
  if (bench->tmp)
    {
      berth_unmount_below (bench->tmp);
      g_autoptr (GError) error = NULL;
      if (!berth_rm_rf (bench->tmp, &error))
        g_warning ("remove %s: %s", bench->tmp, error->message);
    }
  g_free (bench->tmp);
  g_free (bench->btrfs_mnt);
  g_free (bench->workload_tar);
  g_free (bench->growth_tar);
  g_free (bench->start_root);
}

/* ---- the whole ---- */

static gboolean
prepare (Bench *bench, GError **error)
{
  if (!berth_mkdir_p (bench->o->tmp_parent, 0700, error))
    return FALSE;
  bench->tmp = g_build_filename (bench->o->tmp_parent, "berth-bench-XXXXXX", NULL);
  if (g_mkdtemp (bench->tmp) == NULL)
    {
      int errsv = errno;
      g_clear_pointer (&bench->tmp, g_free);
      return berth_fail_errno (error, errsv, "make a temporary root in %s", bench->o->tmp_parent);
    }
  if (!setup_backends (bench, error))
    return FALSE;
  step (bench, "backends");
  g_autofree char *stage = g_build_filename (bench->tmp, "stage", NULL);
  bench->growth_tar = g_build_filename (bench->tmp, "growth.tar", NULL);
  bench->workload_tar = bench->o->image_tar ? g_strdup (bench->o->image_tar)
                                            : g_build_filename (bench->tmp, "workload.tar", NULL);
  if (!berth_mkdir_p (stage, 0700, error)
      || (!bench->o->image_tar && !berth_bench_make_images (bench->o, stage, bench->workload_tar, TRUE, error))
      || !berth_bench_make_images (bench->o, stage, bench->growth_tar, FALSE, error))
    return FALSE;
  step (bench, "images generated");
  for (guint i = 0; i < bench->storage->len; i++)
    {
      Backend *b = bench->storage->pdata[i];
      g_autoptr (GError) local = NULL;
      if (b->store && !load_untimed (b, bench->growth_tar, &local))
        {
          b->reason = g_strdup_printf ("loading the bench images failed: %s", local->message);
          g_clear_pointer (&b->store, berth_store_close);
        }
      if (!check_interrupt (bench, error))
        return FALSE;
    }
  if (!setup_start_store (bench, error))
    return FALSE;
  step (bench, "stores ready");
  return TRUE;
}

static guint
count_steps (Bench *bench)
{
  guint storage = 0;
  for (guint i = 0; i < bench->storage->len; i++)
    storage += ((Backend *) bench->storage->pdata[i])->store != NULL;
  g_autoptr (GArray) counts = container_counts (bench->o->containers);
  guint growth_points = 8 /* 1..128 layers */ + G_N_ELEMENTS (berth_bench_image_sizes) - 1 + counts->len;
  return 3 + bench->o->runs * (storage * 5 + bench->exec->len + bench->network->len)
         + storage * growth_points;
}

JsonNode *
berth_bench_run (const BerthBenchOptions *options, gboolean *interrupted, GError **error)
{
  Bench bench = {
    .o = options,
    .storage = g_ptr_array_new_with_free_func (backend_free),
    .exec = g_ptr_array_new_with_free_func (backend_free),
    .network = g_ptr_array_new_with_free_func (backend_free),
    .phases = g_ptr_array_new_with_free_func (phase_free),
    .growth = g_ptr_array_new_with_free_func (growth_free),
    .steps_total = 100,
  };
  for (guint i = 0; i < G_N_ELEMENTS (phase_defs); i++)
    {
      Phase *p = g_new0 (Phase, 1);
      *p = (Phase) { &phase_defs[i], results_new () };
      g_ptr_array_add (bench.phases, p);
    }
  JsonNode *results = NULL;
  gboolean ok = prepare (&bench, error);
  if (ok)
    {
      bench.steps_total = count_steps (&bench);
      ok = main_runs (&bench, error) && growth_layers (&bench, error) && growth_sizes (&bench, error)
           && growth_listing (&bench, error);
    }
  if (ok)
    results = build_results (&bench);
  if (interrupted)
    *interrupted = bench.interrupted;
  bench_cleanup (&bench);
  return results;
}
