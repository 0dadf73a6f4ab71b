/* Driver overhead on mount: berth_storage_get + put through the vtable
 * against the raw mount(2) + umount(2) of the same overlay, for chains of
 * 1, 10, 50 and 128 lower layers. Medians of 200 runs each.
 * Run as root: bench/bench-mount [STORE_DIR] */
#include "config.h"
#include <berth/storage.h>
#include <berth/fsutil.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#define RUNS 200

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
median (double *v, int n)
{
  qsort (v, n, sizeof *v, cmp_double);
  return v[n / 2];
}

static char *
layer_id (int n)
{
  g_autofree char *label = g_strdup_printf ("bench-layer-%d", n);
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, label, -1);
}

/* Read back the mount options berth used, to replay them raw. */
static char *
mount_options_of (const char *target)
{
  g_autofree char *info = NULL;
  g_file_get_contents ("/proc/self/mountinfo", &info, NULL, NULL);
  g_auto (GStrv) lines = g_strsplit (info ? info : "", "\n", -1);
  for (char **l = lines; *l; l++)
    if (strstr (*l, target) && strstr (*l, " - overlay "))
      {
        const char *super = strstr (*l, " - overlay ") + strlen (" - overlay ");
        const char *opts = strchr (super, ' ');
        return opts ? g_strdup (opts + 1) : NULL;
      }
  return NULL;
}

int
main (int argc, char **argv)
{
  const char *root = argc > 1 ? argv[1] : "/var/tmp/berth-bench-mount";
  g_autoptr (GError) error = NULL;
  berth_rm_rf (root, NULL);
  g_autoptr (BerthStorage) s = berth_storage_open (root, "overlay", NULL, &error);
  if (s == NULL)
    {
      fprintf (stderr, "bench-mount: %s\n", error->message);
      return 1;
    }
  static const int depths[] = { 1, 10, 50, 128 };
  printf ("%-8s %14s %14s %8s\n", "lowers", "raw ms", "berth ms", "ratio");
  int made = 0;
  for (guint d = 0; d < G_N_ELEMENTS (depths); d++)
    {
      for (; made < depths[d]; made++)
        {
          g_autofree char *id = layer_id (made);
          g_autofree char *parent = made ? layer_id (made - 1) : NULL;
          if (!berth_storage_create (s, id, parent, FALSE, &error))
            return fprintf (stderr, "bench-mount: %s\n", error->message), 1;
        }
      g_autofree char *top = layer_id (1000 + depths[d]);
      g_autofree char *parent = layer_id (depths[d] - 1);
      if (!berth_storage_create (s, top, parent, TRUE, &error))
        return fprintf (stderr, "bench-mount: %s\n", error->message), 1;
      double raw[RUNS], berth[RUNS];
      g_autofree char *path = berth_storage_get (s, top, &error);
      g_autofree char *opts = path ? mount_options_of (path) : NULL;
      if (path == NULL || opts == NULL || !berth_storage_put (s, top, &error))
        return fprintf (stderr, "bench-mount: cannot read back the mount\n"), 1;
      /* Overlay keeps the options as given: relative to the driver home. */
      if (chdir (s->home) < 0)
        return perror (s->home), 1;
      for (int r = 0; r < RUNS; r++)
        {
          gint64 t0 = g_get_monotonic_time ();
          g_autofree char *p = berth_storage_get (s, top, &error);
          if (p == NULL || !berth_storage_put (s, top, &error))
            return fprintf (stderr, "bench-mount: %s\n", error->message), 1;
          gint64 t1 = g_get_monotonic_time ();
          /* Raw: the same options, replayed from the driver home. */
          if (mount ("overlay", path, "overlay", 0, opts) < 0 || umount (path) < 0)
            return perror ("raw overlay mount"), 1;
          gint64 t2 = g_get_monotonic_time ();
          berth[r] = (t1 - t0) / 1000.0;
          raw[r] = (t2 - t1) / 1000.0;
        }
      double mr = median (raw, RUNS), mb = median (berth, RUNS);
      printf ("%-8d %14.3f %14.3f %8.2f\n", depths[d], mr, mb, mb / mr);
    }
  berth_rm_rf (root, NULL);
  return 0;
}
