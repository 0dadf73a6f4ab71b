#include "config.h"
#include "fuzz-common.h"
#include <berth/fsutil.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* Process-wide, as libFuzzer's entry points take no context: the one
 * directory atexit must find. */
static char *scratch;

static void
remove_scratch (void)
{
  /* libFuzzer exits normally at the end of its time; a crash skips this
   * and leaves the directory for the post-mortem. */
  berth_rm_rf (scratch, NULL);
}

const char *
fuzz_scratch_dir (void)
{
  if (scratch)
    return scratch;
  const char *base = g_file_test ("/dev/shm", G_FILE_TEST_IS_DIR) ? "/dev/shm" : g_get_tmp_dir ();
  scratch = g_build_filename (base, "berth-fuzz-XXXXXX", NULL);
  if (g_mkdtemp (scratch) == NULL)
    {
      fprintf (stderr, "fuzz: mkdtemp %s: %s\n", scratch, g_strerror (errno));
      abort ();
    }
  atexit (remove_scratch);
  return scratch;
}

void
fuzz_write_file (const char *path, const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  berth_write_file_replace (path, data, size, 0600, &error);
  fuzz_check (error, path);
}

void
fuzz_isolate_run (void)
{
  /* Root (CI) or an unprivileged user namespace (a developer's machine). */
  if (unshare (CLONE_NEWNS) < 0)
    {
      uid_t uid = getuid ();
      gid_t gid = getgid ();
      if (unshare (CLONE_NEWUSER | CLONE_NEWNS) < 0)
        {
          fprintf (stderr, "fuzz: no mount namespace to keep /run untouched: %s\n",
                   g_strerror (errno));
          exit (77);
        }
      g_autofree char *uid_map = g_strdup_printf ("0 %u 1", (unsigned) uid);
      g_autofree char *gid_map = g_strdup_printf ("0 %u 1", (unsigned) gid);
      if (!g_file_set_contents ("/proc/self/setgroups", "deny", -1, NULL)
          || !g_file_set_contents ("/proc/self/uid_map", uid_map, -1, NULL)
          || !g_file_set_contents ("/proc/self/gid_map", gid_map, -1, NULL))
        {
          fprintf (stderr, "fuzz: cannot map ids in the user namespace\n");
          exit (77);
        }
    }
  if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0
      || mount ("tmpfs", "/run", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k") < 0)
    {
      fprintf (stderr, "fuzz: cannot mount a read-only /run: %s\n", g_strerror (errno));
      exit (77);
    }
}

void
fuzz_report (const char *harness, GError *error)
{
  if (g_getenv ("FUZZ_VERBOSE"))
    fprintf (stderr, "%s: %s\n", harness, error ? error->message : "accepted");
}

void
fuzz_check (GError *error, const char *what)
{
  if (error == NULL)
    return;
  fprintf (stderr, "fuzz: %s: %s\n", what, error->message);
  abort ();
}
