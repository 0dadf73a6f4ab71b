/* One job of berth bench's data path, alone, with fio's vocabulary, so that
 * bench/fio-check.sh can run it and fio on the same file:
 *   bench-aio --rw read|write|randread|randwrite --bs SIZE --iodepth N
 *             [--direct 0|1] --size SIZE [--total SIZE] FILE
 * FILE is filled first when it is shorter than --size; --total (default
 * --size) is what the job moves. Prints one line:
 *   berth  rw=read bs=1M qd=32 direct=1: 1234.5 MiB/s, 1234 IOPS (O_DIRECT) */
#include "config.h"
#include <berth/bench-aio.h>
#include <berth/error.h>
#include <berth/spec.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static gboolean
parse_rw (const char *rw, BerthAioJob *job, GError **error)
{
  static const struct { const char *name; gboolean sequential, write; } modes[] = {
    { "read", TRUE, FALSE }, { "write", TRUE, TRUE },
    { "randread", FALSE, FALSE }, { "randwrite", FALSE, TRUE },
  };
  for (gsize i = 0; rw != NULL && i < G_N_ELEMENTS (modes); i++)
    if (strcmp (rw, modes[i].name) == 0)
      {
        job->sequential = modes[i].sequential;
        job->write = modes[i].write;
        return TRUE;
      }
  return berth_fail (error, BERTH_ERROR_INVALID, "--rw '%s': not read, write, randread or randwrite",
                     rw ? rw : "");
}

static gboolean
parse_positive_size (const char *text, const char *what, guint64 *bytes, GError **error)
{
  gint64 n;
  if (text == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "%s is required", what);
  if (!berth_parse_size (text, what, &n, error))
    return FALSE;
  if (n <= 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "%s '%s': must be more than 0", what, text);
  *bytes = (guint64) n;
  return TRUE;
}

/* Filled only when too short, so a series of jobs shares one fill, as fio's
 * jobs share one layout. */
static gboolean
prepare_if_short (const char *path, guint64 size, GError **error)
{
  struct stat st;
  if (stat (path, &st) == 0)
    {
      if ((guint64) st.st_size >= size)
        return TRUE;
    }
  else if (errno != ENOENT)
    return berth_fail_errno (error, errno, "stat %s", path);
  return berth_aio_prepare_file (path, size, error);
}

int
main (int argc, char **argv)
{
  g_autofree char *rw = NULL, *bs = NULL, *size = NULL, *total = NULL;
  gint iodepth = 1, direct = 1;
  const GOptionEntry entries[] = {
    { "rw", 0, 0, G_OPTION_ARG_STRING, &rw, "read, write, randread or randwrite", "MODE" },
    { "bs", 0, 0, G_OPTION_ARG_STRING, &bs, "Block size (4k, 1M)", "SIZE" },
    { "iodepth", 0, 0, G_OPTION_ARG_INT, &iodepth, "I/Os in flight (1)", "N" },
    { "direct", 0, 0, G_OPTION_ARG_INT, &direct, "O_DIRECT (1) or buffered (0)", "0|1" },
    { "size", 0, 0, G_OPTION_ARG_STRING, &size, "Region of FILE used", "SIZE" },
    { "total", 0, 0, G_OPTION_ARG_STRING, &total, "Bytes to move (--size)", "SIZE" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("FILE");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  BerthAioJob job = { 0 };
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2 || iodepth < 1
      || (direct != 0 && direct != 1))
    {
      if (error)
        fprintf (stderr, "bench-aio: %s\n", error->message);
      fprintf (stderr, "usage: bench-aio --rw read|write|randread|randwrite --bs SIZE --iodepth N "
                       "[--direct 0|1] --size SIZE [--total SIZE] FILE\n");
      return 2;
    }
  job.direct = direct;
  job.queue_depth = (guint) iodepth;
  guint64 block_size = 0;
  BerthAioResult result = { 0 };
  if (!parse_rw (rw, &job, &error) || !parse_positive_size (bs, "--bs", &block_size, &error)
      || !parse_positive_size (size, "--size", &job.file_size, &error)
      || !parse_positive_size (total ? total : size, "--total", &job.total_bytes, &error)
      || !prepare_if_short (argv[1], job.file_size, &error))
    {
      fprintf (stderr, "bench-aio: %s\n", error->message);
      return 2;
    }
  job.block_size = (gsize) block_size;
  if (!berth_aio_run (argv[1], &job, &result, &error))
    {
      fprintf (stderr, "bench-aio: %s\n", error->message);
      return 1;
    }
  printf ("berth  rw=%s bs=%s qd=%d direct=%d: %.1f MiB/s, %.0f IOPS (%s)\n", rw, bs, iodepth,
          direct, result.mib_per_s, result.iops, result.io_mode);
  berth_aio_result_clear (&result);
  return 0;
}
