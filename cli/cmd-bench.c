/* berth bench: measure the storage and exec backends on this host. The
 * engine is bench/lib/bench.c; the report, bench/lib/bench-report.c. */
#include "config.h"
#include "cli.h"
#include <berth/bench.h>
#include <berth/bench-report.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/spec.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  char *storage, *exec, *image, *io_size, *btrfs_loop, *json, *html, *tmpdir;
  int layers, files, containers, runs;
} BenchFlags;

static void
bench_flags_clear (BenchFlags *f)
{
  char **strings[] = { &f->storage, &f->exec, &f->image, &f->io_size, &f->btrfs_loop, &f->json, &f->html, &f->tmpdir };
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    g_clear_pointer (strings[i], g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (BenchFlags, bench_flags_clear)

/* One line redrawn on a terminal; nothing when stderr is a file, so logs
 * stay clean. */
static void
draw_progress (double fraction, const char *step, gpointer data)
{
  (void) data;
  if (!isatty (STDERR_FILENO))
    return;
  int width = 30, filled = (int) (fraction * width + 0.5);
  fprintf (stderr, "\r\033[K[%.*s%*s] %3d%% %s", filled, "##############################",
           width - filled, "", (int) (fraction * 100 + 0.5), step);
  fflush (stderr);
}

static void
end_progress (void)
{
  if (isatty (STDERR_FILENO))
    fprintf (stderr, "\r\033[K");
}

static gboolean
parse_count (int value, const char *what, int min, int max, GError **error)
{
  if (value < min || value > max)
    return berth_fail (error, BERTH_ERROR_INVALID, "%s %d: not %d to %d", what, value, min, max);
  return TRUE;
}

static gboolean
parse_flags (BenchFlags *f, BerthBenchOptions *o, GError **error)
{
  gint64 io_size = 256 << 20, loop = 0;
  if ((f->io_size && !berth_parse_size (f->io_size, "--io-size", &io_size, error))
      || (f->btrfs_loop && !berth_parse_size (f->btrfs_loop, "--btrfs-loop", &loop, error))
      || !parse_count (f->runs, "--runs", 1, 1000, error)
      || !parse_count (f->layers, "--layers", 1, BERTH_BENCH_MAX_LAYERS, error)
      || !parse_count (f->files, "--files", 1, 10000000, error)
      || !parse_count (f->containers, "--containers", 1, 100000, error))
    return FALSE;
  if (io_size < (1 << 20) || io_size % (1 << 20))
    return berth_fail (error, BERTH_ERROR_INVALID, "--io-size %s: a whole number of MiB, at least 1M", f->io_size);
  if (loop && loop < (256 << 20))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "--btrfs-loop %s: at least 256M (mkfs.btrfs needs room for its metadata)", f->btrfs_loop);
  o->storage_drivers = f->storage ? g_strsplit (f->storage, ",", -1) : NULL;
  o->exec_drivers = f->exec ? g_strsplit (f->exec, ",", -1) : NULL;
  o->runs = f->runs;
  o->layers = f->layers;
  o->files = f->files;
  o->containers = f->containers;
  o->io_size = io_size;
  o->large_file_size = MIN ((guint64) 16 << 20, (guint64) io_size);
  o->btrfs_loop_size = loop;
  return TRUE;
}

/* --image: the user's image, saved from their store into a docker-save tar
 * the bench loads into each backend's store. */
static char *
save_user_image (BerthCli *cli, const char *ref, const char *dir, GError **error)
{
  g_autoptr (BerthStore) store = berth_cli_open_store (cli, error);
  if (store == NULL)
    return NULL;
  g_autofree char *tar = g_build_filename (dir, "berth-bench-image-XXXXXX.tar", NULL);
  int fd = g_mkstemp (tar);
  if (fd < 0)
    return berth_fail_errno (error, errno, "create a temporary file in %s", dir), NULL;
  close (fd);
  char *refs[] = { (char *) ref, NULL };
  if (!berth_image_save (store, refs, tar, error))
    {
      unlink (tar);
      return NULL;
    }
  return g_steal_pointer (&tar);
}

static gboolean
write_json (JsonNode *results, const char *path, GError **error)
{
  gsize len = 0;
  g_autofree char *text = berth_json_to_string (results, &len);
  return berth_write_file_atomic (path, text, len, 0644, error);
}

/* The store root's parent: the bench measures the filesystem the store
 * lives on, without touching the store itself. */
static char *
default_tmp_parent (BerthCli *cli)
{
  g_autofree char *parent = g_path_get_dirname (cli->root);
  g_autoptr (GError) error = NULL;
  char *existing = berth_nearest_existing_dir (parent, &error);
  return existing ? existing : g_strdup ("/var/tmp");
}

int
berth_cmd_bench (BerthCli *cli, int argc, char **argv)
{
  g_auto (BenchFlags) f = { .layers = 4, .files = 10000, .containers = 1000, .runs = 3 };
  const GOptionEntry entries[] = {
    { "storage-drivers", 0, 0, G_OPTION_ARG_STRING, &f.storage, "Storage drivers to measure (default: all)", "LIST|all" },
    { "exec-drivers", 0, 0, G_OPTION_ARG_STRING, &f.exec, "Exec drivers to measure (default: all)", "LIST|all" },
    { "image", 0, 0, G_OPTION_ARG_STRING, &f.image, "Use this image from the store instead of a generated one", "IMG" },
    { "layers", 0, 0, G_OPTION_ARG_INT, &f.layers, "Layers of the generated image (default 4)", "N" },
    { "files", 0, 0, G_OPTION_ARG_INT, &f.files, "Small files in the generated image, and metadata operations (default 10000)", "N" },
    { "containers", 0, 0, G_OPTION_ARG_INT, &f.containers, "Most containers of the listing curve (default 1000)", "N" },
    { "io-size", 0, 0, G_OPTION_ARG_STRING, &f.io_size, "Data-path file size (default 256M)", "SIZE" },
    { "runs", 0, 0, G_OPTION_ARG_INT, &f.runs, "Runs of each phase (default 3)", "N" },
    { "json", 0, 0, G_OPTION_ARG_FILENAME, &f.json, "Write the results as JSON", "FILE" },
    { "html", 0, 0, G_OPTION_ARG_FILENAME, &f.html, "Write a self-contained HTML report with charts", "FILE" },
    { "btrfs-loop", 0, 0, G_OPTION_ARG_STRING, &f.btrfs_loop, "Measure btrfs on a loop file of this size", "SIZE" },
    { "tmpdir", 0, 0, G_OPTION_ARG_FILENAME, &f.tmpdir, "Where the temporary root goes (default: beside the store)", "DIR" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc > 1)
    return berth_cli_usage ("bench takes no operands");
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp_parent = f.tmpdir ? g_strdup (f.tmpdir) : default_tmp_parent (cli);
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  BerthBenchOptions o = { .tmp_parent = tmp_parent, .berth_exe = exe ? exe : argv[0],
                          .progress = draw_progress, .image_label = f.image };
  g_auto (GStrv) storage_list = NULL, exec_list = NULL;
  if (!parse_flags (&f, &o, &error))
    return berth_cli_fail (error);
  storage_list = o.storage_drivers;
  exec_list = o.exec_drivers;
  /* Blocked, not handled: the engine polls for them between steps and
   * cleans up; the children it starts get them unblocked. */
  sigset_t stop, old;
  sigemptyset (&stop);
  sigaddset (&stop, SIGINT);
  sigaddset (&stop, SIGTERM);
  sigaddset (&stop, SIGHUP);
  sigprocmask (SIG_BLOCK, &stop, &old);
  g_autofree char *image_tar = f.image ? save_user_image (cli, f.image, tmp_parent, &error) : NULL;
  if (f.image && image_tar == NULL)
    return berth_cli_fail (error);
  o.image_tar = image_tar;
  gboolean interrupted = FALSE;
  g_autoptr (JsonNode) results = berth_bench_run (&o, &interrupted, &error);
  end_progress ();
  if (image_tar)
    unlink (image_tar);
  if (interrupted)
    {
      fprintf (stderr, "berth: bench interrupted; its temporary root is removed\n");
      return 130;
    }
  sigprocmask (SIG_SETMASK, &old, NULL);
  if (results == NULL)
    return berth_cli_fail (error);
  berth_bench_print_table (results, stdout);
  if ((f.json && !write_json (results, f.json, &error))
      || (f.html && !berth_bench_write_html (results, f.html, &error)))
    return berth_cli_fail (error);
  return 0;
}
