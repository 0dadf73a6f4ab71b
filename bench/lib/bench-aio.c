#include "config.h"
#include <berth/bench-aio.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILL_CHUNK ((gsize) 1 << 20)
/* Fixed, so a random job touches the same blocks in every run and on every
 * backend: what differs between two results is the storage, not the luck. */
#define RANDOM_SEED G_GUINT64_CONSTANT (0x6265727468)

/* splitmix64: fast, and good enough for offsets and filler; GRand's 32-bit
 * range would not cover the 4 KiB blocks of a file over 8 TiB. */
static guint64
next_random (guint64 *state)
{
  guint64 z = (*state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* Uniform in [0, n) by multiply-high; the bias is below n / 2^64. */
static guint64
random_below (guint64 *state, guint64 n)
{
  return (guint64) (((unsigned __int128) next_random (state) * n) >> 64);
}

/* Random words, so neither a compressing nor a deduplicating filesystem
 * (btrfs, zfs) can make the data smaller than it is. @len is a multiple of 8. */
static void
fill_random (void *buf, gsize len, guint64 seed)
{
  guint64 *words = buf;
  for (gsize i = 0; i < len / sizeof *words; i++)
    words[i] = next_random (&seed);
}

static gboolean
fill_file (int fd, const char *path, guint64 file_size, GError **error)
{
  g_autofree guint64 *chunk = g_malloc (FILL_CHUNK);
  for (guint64 off = 0; off < file_size; off += FILL_CHUNK)
    {
      /* seeded by the offset: no two chunks alike */
      fill_random (chunk, FILL_CHUNK, RANDOM_SEED ^ off);
      if (!berth_write_all (fd, chunk, MIN (FILL_CHUNK, file_size - off)))
        return berth_fail_errno (error, errno, "write %s at offset %" G_GUINT64_FORMAT, path,
                                 off);
    }
  return TRUE;
}

gboolean
berth_aio_prepare_file (const char *path, guint64 file_size, GError **error)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return berth_fail_errno (error, errno, "create %s", path);
  gboolean ok = fill_file (fd, path, file_size, error);
  /* fsync, not just fdatasync: the blocks must be allocated and on disk
   * before a read job, or it would read delayed-allocation holes or time the
   * writeback of this fill. */
  if (ok && fsync (fd) < 0)
    ok = berth_fail_errno (error, errno, "fsync %s", path);
  if (close (fd) < 0 && ok)
    ok = berth_fail_errno (error, errno, "close %s", path);
  return ok;
}

void
berth_aio_result_clear (BerthAioResult *result)
{
  g_clear_pointer (&result->io_mode, g_free);
  memset (result, 0, sizeof *result);
}

/* --- one job --- */

typedef struct {
  const BerthAioJob *job;
  const char *path;
  int fd;
  io_context_t ctx;
  struct iocb *iocbs;      /* one per slot; slot i reads or writes slot_buffer (i) */
  char *buffer;            /* slots * block_size bytes */
  guint slots;
  guint64 blocks;          /* whole blocks in the region */
  guint64 ios;             /* I/Os in the job */
  guint64 issued;
  guint64 next_block;      /* sequential jobs */
  guint64 rng;             /* random jobs */
} AioRun;

static gboolean
check_job (const char *path, const BerthAioJob *job, GError **error)
{
  if (job->block_size == 0 || job->block_size % 512 != 0)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "I/O job on %s: block size %" G_GSIZE_FORMAT " is not a multiple of 512",
                       path, job->block_size);
  if (job->queue_depth == 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "I/O job on %s: queue depth 0", path);
  if (job->file_size < job->block_size || job->total_bytes < job->block_size)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "I/O job on %s: file size and total must be at least one block", path);
  return TRUE;
}

/* EINVAL is how a filesystem says it has no O_DIRECT (overlay on an old
 * kernel, tmpfs before 6.6, some FUSE): measure it buffered rather than not
 * at all, and say so. Any other error is the file's own problem. */
static int
open_file (const char *path, const BerthAioJob *job, gboolean *direct, char **io_mode,
           GError **error)
{
  int flags = (job->write ? O_WRONLY : O_RDONLY) | O_CLOEXEC;
  *direct = FALSE;
  if (job->direct)
    {
      int fd = open (path, flags | O_DIRECT);
      if (fd >= 0)
        {
          *direct = TRUE;
          *io_mode = g_strdup ("O_DIRECT");
          return fd;
        }
      if (errno != EINVAL)
        return berth_fail_errno (error, errno, "open %s with O_DIRECT", path), -1;
      *io_mode = g_strdup_printf ("buffered (O_DIRECT refused: %s)", g_strerror (EINVAL));
    }
  else
    *io_mode = g_strdup ("buffered");
  int fd = open (path, flags);
  if (fd < 0)
    {
      g_clear_pointer (io_mode, g_free);
      return berth_fail_errno (error, errno, "open %s", path), -1;
    }
  return fd;
}

/* A short file would end a read job in short reads, and a write job would
 * time block allocation instead of writes. */
static gboolean
check_file_size (AioRun *r, GError **error)
{
  struct stat st;
  if (fstat (r->fd, &st) < 0)
    return berth_fail_errno (error, errno, "stat %s", r->path);
  if (S_ISREG (st.st_mode) && (guint64) st.st_size < r->job->file_size)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "%s is %" G_GINT64_FORMAT " bytes, less than the job's %" G_GUINT64_FORMAT
                       " (not prepared?)",
                       r->path, (gint64) st.st_size, r->job->file_size);
  return TRUE;
}

/* Like fio's invalidate=1: start every job with none of the file cached, so
 * buffered reads go to the device where the kernel lets them. The fdatasync
 * first, because DONTNEED skips dirty pages. */
static gboolean
drop_page_cache (AioRun *r, GError **error)
{
  if (fdatasync (r->fd) < 0)
    return berth_fail_errno (error, errno, "fdatasync %s", r->path);
  int err = posix_fadvise (r->fd, 0, 0, POSIX_FADV_DONTNEED);
  if (err != 0)
    return berth_fail_errno (error, err, "drop the page cache of %s", r->path);
  return TRUE;
}

static void *
slot_buffer (AioRun *r, guint slot)
{
  return r->buffer + (gsize) slot * r->job->block_size;
}

/* Huge pages where the kernel has them: a 1 MiB buffer in 4 KiB pages is
 * 256 segments, and on a device that takes fewer per request (virtio-blk
 * often says 254) every I/O is split in two unless its pages happen to be
 * physically contiguous. Which they are is luck, decided anew in each
 * process, and on a VM it moved 1 MiB write throughput by 30% between runs.
 * In one transparent huge page a buffer is one segment, every run. The
 * 2 MiB alignment this needs covers O_DIRECT's (the logical block size). */
#define HUGE_PAGE ((gsize) 2 << 20)

static gboolean
alloc_buffer (AioRun *r, gsize len, GError **error)
{
  gsize area = (len + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
  void *buffer;
  int err = posix_memalign (&buffer, HUGE_PAGE, area);
  if (err != 0)
    return berth_fail_errno (error, err, "allocate %u I/O buffers of %" G_GSIZE_FORMAT " bytes",
                             r->slots, r->job->block_size);
  r->buffer = buffer;
  /* EINVAL: a kernel without THP; the pages then fall as they fall */
  if (madvise (buffer, area, MADV_HUGEPAGE) < 0 && errno != EINVAL)
    return berth_fail_errno (error, errno, "madvise MADV_HUGEPAGE on the I/O buffers");
  return TRUE;
}

/* One area for all slots, as fio lays its buffers out. */
static gboolean
setup_slots (AioRun *r, GError **error)
{
  gsize len = (gsize) r->slots * r->job->block_size;
  if (!alloc_buffer (r, len, error))
    return FALSE;
  /* touched now, not on the first I/O inside the timed region; a write job
   * writes this incompressible data */
  fill_random (r->buffer, len, RANDOM_SEED);
  r->iocbs = g_new0 (struct iocb, r->slots);
  int err = io_setup ((int) r->slots, &r->ctx);
  if (err < 0)
    return berth_fail_errno (error, -err, "io_setup for %u I/Os on %s (see fs.aio-max-nr)",
                             r->slots, r->path);
  return TRUE;
}

/* io_destroy waits for what is still in flight: only then may the buffers
 * go. Neither its result nor close's is news here: a write job has synced
 * (buffered) or completed on the device (direct) before this runs. */
static void
teardown (AioRun *r)
{
  if (r->ctx != NULL)
    io_destroy (r->ctx);
  free (r->buffer);
  g_free (r->iocbs);
  if (r->fd >= 0)
    close (r->fd);
}

static guint64
next_offset (AioRun *r)
{
  guint64 block;
  if (r->job->sequential)
    {
      block = r->next_block;
      r->next_block = (r->next_block + 1) % r->blocks;
    }
  else
    block = random_below (&r->rng, r->blocks);
  return block * r->job->block_size;
}

static struct iocb *
prep_slot (AioRun *r, guint slot)
{
  struct iocb *cb = &r->iocbs[slot];
  long long off = (long long) next_offset (r);
  if (r->job->write)
    io_prep_pwrite (cb, r->fd, slot_buffer (r, slot), r->job->block_size, off);
  else
    io_prep_pread (cb, r->fd, slot_buffer (r, slot), r->job->block_size, off);
  r->issued++;
  return cb;
}

/* libaio returns -errno rather than setting errno. */
static gboolean
submit (AioRun *r, struct iocb **cbs, long n, GError **error)
{
  while (n > 0)
    {
      int got = io_submit (r->ctx, n, cbs);
      if (got == -EINTR)
        continue;
      if (got <= 0)
        return berth_fail_errno (error, got < 0 ? -got : EAGAIN, "submit I/O on %s", r->path);
      cbs += got;
      n -= got;
    }
  return TRUE;
}

static gboolean
check_event (AioRun *r, const struct io_event *ev, GError **error)
{
  const char *op = r->job->write ? "write" : "read";
  long res = (long) ev->res;
  long long off = ev->obj->u.c.offset;
  if (res < 0)
    return berth_fail_errno (error, (int) -res, "%s %s at offset %lld", op, r->path, off);
  if ((gsize) res != r->job->block_size)
    return berth_fail (error, BERTH_ERROR_FAILED,
                       "%s %s at offset %lld: short, %ld of %" G_GSIZE_FORMAT " bytes", op,
                       r->path, off, res, r->job->block_size);
  return TRUE;
}

/* Fill the queue, then put a new I/O in for each one that completes, as
 * fio's libaio engine does; the completions of one io_getevents are
 * resubmitted in one io_submit. */
static gboolean
pump (AioRun *r, GError **error)
{
  g_autofree struct iocb **batch = g_new (struct iocb *, r->slots);
  g_autofree struct io_event *events = g_new (struct io_event, r->slots);
  for (guint i = 0; i < r->slots; i++)
    batch[i] = prep_slot (r, i);
  if (!submit (r, batch, r->slots, error))
    return FALSE;
  for (guint64 done = 0; done < r->ios;)
    {
      int n = io_getevents (r->ctx, 1, r->slots, events, NULL);
      if (n == -EINTR)
        continue;
      if (n < 0)
        return berth_fail_errno (error, -n, "wait for I/O on %s", r->path);
      long again = 0;
      for (int i = 0; i < n; i++, done++)
        {
          if (!check_event (r, &events[i], error))
            return FALSE;
          if (r->issued < r->ios)
            batch[again++] = prep_slot (r, (guint) (events[i].obj - r->iocbs));
        }
      if (!submit (r, batch, again, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
monotonic_now (double *seconds, GError **error)
{
  struct timespec ts;
  if (clock_gettime (CLOCK_MONOTONIC, &ts) < 0)
    return berth_fail_errno (error, errno, "clock_gettime CLOCK_MONOTONIC");
  *seconds = (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
  return TRUE;
}

/* A buffered write has only reached the page cache when it completes: the
 * fdatasync that puts it on the device is part of the job (fio's end_fsync=1).
 * A direct write is on the device at completion; flushing the device's own
 * volatile cache is left out, as fio's direct=1 jobs leave it out. */
static gboolean
timed_job (AioRun *r, gboolean direct, double *seconds, GError **error)
{
  double t0, t1;
  if (!monotonic_now (&t0, error) || !pump (r, error))
    return FALSE;
  if (r->job->write && !direct && fdatasync (r->fd) < 0)
    return berth_fail_errno (error, errno, "fdatasync %s", r->path);
  if (!monotonic_now (&t1, error))
    return FALSE;
  *seconds = MAX (t1 - t0, 1e-9);
  return TRUE;
}

gboolean
berth_aio_run (const char *path, const BerthAioJob *job, BerthAioResult *result,
               GError **error)
{
  if (!check_job (path, job, error))
    return FALSE;
  AioRun r = { .job = job, .path = path, .rng = RANDOM_SEED };
  r.blocks = job->file_size / job->block_size;
  r.ios = job->total_bytes / job->block_size;
  r.slots = (guint) MIN ((guint64) job->queue_depth, r.ios);
  gboolean direct;
  g_autofree char *io_mode = NULL;
  r.fd = open_file (path, job, &direct, &io_mode, error);
  if (r.fd < 0)
    return FALSE;
  double seconds = 0;
  gboolean ok = check_file_size (&r, error) && drop_page_cache (&r, error)
                && setup_slots (&r, error) && timed_job (&r, direct, &seconds, error);
  teardown (&r);
  if (!ok)
    return FALSE;
  *result = (BerthAioResult) {
    .direct = direct, .io_mode = g_steal_pointer (&io_mode), .seconds = seconds,
    .bytes = r.ios * job->block_size, .ios = r.ios,
    .mib_per_s = (double) (r.ios * job->block_size) / (1 << 20) / seconds,
    .iops = (double) r.ios / seconds,
  };
  return TRUE;
}
