/* Start-to-exit timings, medians of N runs, from one process so every
 * contender is timed the same way:
 *   bench-start [--runs N] --driver native ROOTFS
 *       /bin/true in ROOTFS through the exec driver's vtable, without the CLI
 *       or the store: build the spec, run, wait, delete (cgroup gone).
 *   bench-start [--runs N] --label NAME -- COMMAND [ARG...]
 *       spawn COMMAND and wait for it (crun run, berth run --rm, /bin/true).
 * Prints the median, p10 and p90 in milliseconds. */
#include "config.h"
#include <berth/error.h>
#include <berth/exec.h>
#include <berth/spec.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static double
spawn_run (char **argv, GError **error)
{
  gint64 t0 = g_get_monotonic_time ();
  pid_t pid = fork ();
  if (pid == 0)
    {
      execvp (argv[0], argv);
      _exit (127);
    }
  int status;
  if (pid < 0 || waitpid (pid, &status, 0) < 0)
    return berth_fail (error, BERTH_ERROR_FAILED, "fork %s", argv[0]), -1;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    return berth_fail (error, BERTH_ERROR_FAILED, "%s exited with status %d", argv[0], status), -1;
  return (g_get_monotonic_time () - t0) / 1000.0;
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static JsonNode *
busybox_image_config (void)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  json_parser_load_from_data (p, "{\"config\":{\"Cmd\":[\"/bin/true\"],\"Env\":[\"PATH=/bin\"]}}",
                              -1, NULL);
  return json_node_copy (json_parser_get_root (p));
}

static double
one_run (const BerthExecOps *ops, const char *rootfs, const char *state_dir, int i,
         GError **error)
{
  gint64 t0 = g_get_monotonic_time ();
  g_autofree char *id = g_strdup_printf ("%064d", i);
  g_autoptr (JsonNode) image = busybox_image_config ();
  BerthSpecOptions options = { 0 };
  g_autoptr (JsonNode) spec = berth_spec_build (id, image, NULL, &options, error);
  if (spec == NULL)
    return -1;
  g_autoptr (BerthExec) c = berth_exec_new (ops, id, state_dir, rootfs, spec);
  BerthExecStdio stdio = { .in = -1, .out = -1, .err = STDERR_FILENO };
  if (!berth_exec_run (c, &stdio, error))
    return -1;
  int status;
  while (waitpid (c->pid, &status, 0) < 0)
    ;
  if (!berth_exec_delete (c, error))
    return -1;
  if (!WIFEXITED (status) || WEXITSTATUS (status) != 0)
    {
      berth_fail (error, BERTH_ERROR_FAILED, "/bin/true exited with status %d", status);
      return -1;
    }
  return (g_get_monotonic_time () - t0) / 1000.0;
}

int
main (int argc, char **argv)
{
  g_autofree char *driver = NULL, *label = NULL;
  gint runs = 100;
  const GOptionEntry entries[] = {
    { "driver", 0, 0, G_OPTION_ARG_STRING, &driver, "Exec driver", "NAME" },
    { "label", 0, 0, G_OPTION_ARG_STRING, &label, "Name of the spawned command", "NAME" },
    { "runs", 'n', 0, G_OPTION_ARG_INT, &runs, "Runs (100)", "N" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("ROOTFS");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc < 2 || runs < 1
      || (driver == NULL) == (label == NULL))
    {
      fprintf (stderr, "usage: bench-start [--runs N] (--driver D ROOTFS | --label NAME -- CMD...)\n");
      return 2;
    }
  g_autofree double *ms = g_new (double, runs);
  if (label && strcmp (argv[1], "--") == 0)
    argv++;
  if (label)
    {
      for (int i = 0; i < runs; i++)
        if ((ms[i] = spawn_run (argv + 1, &error)) < 0)
          {
            fprintf (stderr, "bench-start: %s: %s\n", label, error->message);
            return 1;
          }
      qsort (ms, runs, sizeof *ms, compare_doubles);
      printf ("%-28s median %7.2f ms  p10 %7.2f  p90 %7.2f  (n=%d)\n", label, ms[runs / 2],
              ms[runs / 10], ms[runs * 9 / 10], runs);
      return 0;
    }
  const BerthExecOps *ops = berth_exec_driver_lookup (driver, &error);
  if (ops == NULL || !berth_exec_probe (ops, &error))
    {
      fprintf (stderr, "bench-start: %s\n", error->message);
      return 1;
    }
  g_autofree char *state_dir = g_dir_make_tmp ("berth-bench-XXXXXX", &error);
  if (state_dir == NULL)
    {
      fprintf (stderr, "bench-start: %s\n", error->message);
      return 1;
    }
  for (int i = 0; i < runs; i++)
    if ((ms[i] = one_run (ops, argv[1], state_dir, i, &error)) < 0)
      {
        fprintf (stderr, "bench-start: run %d: %s\n", i, error->message);
        rmdir (state_dir);
        return 1;
      }
  rmdir (state_dir);
  qsort (ms, runs, sizeof *ms, compare_doubles);
  g_autofree char *name = g_strdup_printf ("%s (vtable, no CLI)", driver);
  printf ("%-28s median %7.2f ms  p10 %7.2f  p90 %7.2f  (n=%d)\n", name, ms[runs / 2],
          ms[runs / 10], ms[runs * 9 / 10], runs);
  return 0;
}
