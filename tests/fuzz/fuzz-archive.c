/* The layer extractor (berth_archive_extract, core/util/archive.c) on arbitrary
 * bytes: a fresh root directory per input on tmpfs, with whiteouts handled
 * as the vfs and btrfs drivers handle them in a base layer (a layer on a
 * parent goes through berth_archive_apply_layer, not fuzzed here). Beside
 * the root lies a canary
 * directory holding one file; an input that makes the extractor touch it,
 * or create anything beside the root, is a crash (an escape from the layer)
 * even when no sanitizer fires. */
#include "config.h"
#include "fuzz-common.h"
#include <berth/archive.h>
#include <berth/fsutil.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define SENTINEL_TEXT "berth fuzz canary: the extractor must never reach this file\n"
/* A few bytes of gzip or xz can say gigabytes; each file is capped so tmpfs
 * is not filled (a write past the cap fails with EFBIG, an extract error). */
#define FILE_SIZE_CAP (64 << 20)

typedef struct {
  char *root;     /* extraction root, made and removed per input */
  char *canary;   /* must stay as made */
  char *sentinel; /* the one file in it */
  struct stat canary_st, sentinel_st;
} Layout;

/* Process-wide, as libFuzzer's entry points take no context. */
static Layout layout;

static void
die (const char *what)
{
  fprintf (stderr, "fuzz-archive: %s\n", what);
  abort ();
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  const char *dir = fuzz_scratch_dir ();
  layout.root = g_build_filename (dir, "root", NULL);
  layout.canary = g_build_filename (dir, "canary", NULL);
  layout.sentinel = g_build_filename (layout.canary, "sentinel", NULL);
  if (mkdir (layout.canary, 0755) < 0)
    die ("mkdir canary");
  fuzz_write_file (layout.sentinel, (const uint8_t *) SENTINEL_TEXT, strlen (SENTINEL_TEXT));
  if (stat (layout.canary, &layout.canary_st) < 0 || stat (layout.sentinel, &layout.sentinel_st) < 0)
    die ("stat canary");
  struct rlimit fsize = { FILE_SIZE_CAP, FILE_SIZE_CAP };
  if (signal (SIGXFSZ, SIG_IGN) == SIG_ERR || setrlimit (RLIMIT_FSIZE, &fsize) < 0)
    die ("cap file sizes");
  return 0;
}

static gboolean
same_inode_state (const struct stat *a, const struct stat *b)
{
  return a->st_ino == b->st_ino && a->st_mode == b->st_mode && a->st_uid == b->st_uid
         && a->st_gid == b->st_gid && a->st_nlink == b->st_nlink && a->st_size == b->st_size
         && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec
         && a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The names in @path, sorted, joined by spaces. */
static char *
listing (const char *path)
{
  g_autoptr (GError) error = NULL;
  int fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    die ("open a directory to list it");
  g_autoptr (GPtrArray) names = berth_dir_names_sorted (fd, path, &error);
  close (fd);
  fuzz_check (error, "list a directory");
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

static void
check_canary (void)
{
  struct stat c, s;
  if (stat (layout.canary, &c) < 0 || !same_inode_state (&c, &layout.canary_st))
    die ("the canary directory beside the layer root changed: the extractor wrote outside it");
  if (stat (layout.sentinel, &s) < 0 || !same_inode_state (&s, &layout.sentinel_st))
    die ("the canary file beside the layer root changed: the extractor wrote outside it");
  g_autofree char *in_canary = listing (layout.canary);
  g_autofree char *beside = listing (fuzz_scratch_dir ());
  if (strcmp (in_canary, "sentinel") != 0 || strcmp (beside, "canary root") != 0)
    die ("a new entry beside the layer root: the extractor wrote outside it");
}

static int
input_fd (const uint8_t *data, size_t size)
{
  int fd = memfd_create ("fuzz-input", MFD_CLOEXEC);
  if (fd < 0 || !berth_write_all (fd, data, size) || lseek (fd, 0, SEEK_SET) < 0)
    die ("put the input in a memfd");
  return fd;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (mkdir (layout.root, 0755) < 0)
    die ("mkdir the layer root");
  int root_fd = open (layout.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    die ("open the layer root");
  int in_fd = input_fd (data, size);
  g_autoptr (GError) error = NULL;
  /* Failing is fine (most inputs are not tars); escaping or crashing is not. */
  berth_archive_extract (root_fd, in_fd, &berth_whiteout_delete_ops, &error);
  fuzz_report ("fuzz-archive", error);
  close (in_fd);
  close (root_fd);
  check_canary ();
  g_autoptr (GError) rm_error = NULL;
  berth_rm_rf (layout.root, &rm_error);
  fuzz_check (rm_error, "remove the layer root");
  return 0;
}
