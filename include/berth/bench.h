/* `berth bench`: every chosen storage and exec backend measured on this host,
 * in one process, the runs interleaved across backends so a noisy machine
 * treats each alike. Everything lives under one temporary root, removed at
 * the end, on error and on SIGINT/SIGTERM/SIGHUP (the caller blocks them;
 * the engine polls for them between steps and stops with
 * BERTH_BENCH_INTERRUPTED).
 *
 * The result is a JSON document (docs/benchmarking.md has its schema):
 * host, settings, backends with availability, per-phase medians and spread,
 * growth curves and a recommendation. Rendering is bench-report.h's. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define BERTH_BENCH_IMAGE "berth-bench/workload:latest"
#define BERTH_BENCH_LAYERS_REPO "berth-bench/layers"
#define BERTH_BENCH_SIZE_REPO "berth-bench/size"
#define BERTH_BENCH_MAX_LAYERS 128
#define BERTH_BENCH_LARGE_FILES 4

/* Image sizes (MiB) of the create-time growth curve, 0-terminated. */
extern const guint berth_bench_image_sizes[];

/* A GError code of BERTH_ERROR's domain is not used for this: the caller
 * must tell an interruption from a failure to pick its exit code. */
#define BERTH_BENCH_INTERRUPTED_MESSAGE "interrupted"

typedef void (*BerthBenchProgress) (double fraction, const char *step, gpointer data);

typedef struct {
  char **storage_drivers;   /* NULL: every registered driver */
  char **exec_drivers;      /* NULL: every registered driver */
  const char *image_tar;    /* a docker-save tar to use instead of the generated image */
  const char *image_label;  /* how the report names it */
  guint layers, files, containers, runs;
  guint64 io_size;          /* data-path file size, bytes */
  guint64 large_file_size;  /* each of the generated image's large files */
  guint64 btrfs_loop_size;  /* >0: btrfs on a loop file of this size */
  const char *tmp_parent;   /* the temporary root is made here */
  const char *berth_exe;    /* the berth binary timed by the start phase */
  BerthBenchProgress progress;
  gpointer progress_data;
} BerthBenchOptions;

/* Runs the benchmark. NULL with @error set on a failure that stops it
 * (a backend that fails a phase is reported in the results instead). */
JsonNode *berth_bench_run (const BerthBenchOptions *options, gboolean *interrupted,
                           GError **error);

/* Writes a docker-save tar of bench images (bench/lib/bench-image.c): the
 * workload image when @workload, else the growth images (the layer-count
 * chain and the image-size series). @work_dir stages layer tars. */
gboolean berth_bench_make_images (const BerthBenchOptions *options, const char *work_dir,
                                  const char *out_path, gboolean workload, GError **error);

G_END_DECLS
