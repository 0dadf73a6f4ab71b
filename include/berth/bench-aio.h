/* The data path of `berth bench`: one file read or written with libaio, the
 * way fio's libaio engine does it, so the figures can be checked against fio
 * (bench/fio-check.sh does).
 *
 * Contract: berth_aio_prepare_file() writes the region once with real,
 * incompressible data and fsyncs it, so later jobs hit allocated blocks, never
 * holes. berth_aio_run() then keeps queue_depth I/Os of block_size bytes in
 * flight until total_bytes (rounded down to whole blocks) have moved, at
 * block-aligned offsets inside the first file_size bytes: in order, wrapping
 * at the end, or uniformly at random from a fixed seed (the same offsets every
 * run; a block may come twice, as with fio's norandommap). The file's page
 * cache is dropped first. O_DIRECT refused by the filesystem (EINVAL) is not
 * an error: the job runs buffered and the result says so. A buffered write
 * job's time includes the final fdatasync; a direct one's ends at its last
 * completion, as fio's (end_fsync=0) does. Short or failed I/O fails the job.
 * The buffers are one area in transparent huge pages where the kernel has
 * them (bench/lib/bench-aio.c says why), touched before the clock starts; the
 * completions of each io_getevents are resubmitted in one io_submit. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gboolean sequential;   /* FALSE: uniformly random block-aligned offsets (seeded, reproducible) */
  gboolean write;
  gsize block_size;      /* bytes, a multiple of 512, e.g. 1 MiB or 4 KiB */
  guint queue_depth;     /* I/Os kept in flight, e.g. 1 or 32 */
  gboolean direct;       /* ask for O_DIRECT */
  guint64 file_size;     /* the region of the file used */
  guint64 total_bytes;   /* bytes to transfer in this job */
} BerthAioJob;

typedef struct {
  gboolean direct;       /* what was really used */
  char *io_mode;         /* "O_DIRECT", "buffered (O_DIRECT refused: <strerror>)" or "buffered" */
  double seconds;
  guint64 bytes, ios;
  double mib_per_s, iops;
} BerthAioResult;

/* Creates @path if needed and fills its first @file_size bytes with non-zero,
 * incompressible data, then fsyncs it. */
gboolean berth_aio_prepare_file (const char *path, guint64 file_size, GError **error);

/* Runs @job on @path (prepared, at least file_size bytes long) and fills
 * @result, which the caller clears with berth_aio_result_clear(). */
gboolean berth_aio_run (const char *path, const BerthAioJob *job, BerthAioResult *result,
                        GError **error);

void berth_aio_result_clear (BerthAioResult *result);

G_END_DECLS
