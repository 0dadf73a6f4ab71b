#include "config.h"
#include "cli.h"
#include <berth/error.h>
#include <stdio.h>
#include <unistd.h>

BerthStore *
berth_cli_open_store (BerthCli *cli, GError **error)
{
  if (geteuid () != 0)
    {
      berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                  "berth needs root (mounts and ownership); run it as root");
      return NULL;
    }
  return berth_store_open (cli->root, cli->driver, error);
}

int
berth_cli_fail (GError *error)
{
  g_autofree char *msg = g_strdup (error ? error->message : "unknown error");
  /* One line, always: a multi-line library message is folded. */
  g_strdelimit (msg, "\n", ' ');
  fprintf (stderr, "berth: %s\n", msg);
  return BERTH_EXIT_FAILED;
}

int
berth_cli_usage (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "berth: %s\n", msg);
  return BERTH_EXIT_USAGE;
}

gboolean
berth_cli_parse (int *argc, char ***argv, const GOptionEntry *entries, const char *operands,
                 gboolean strict_posix)
{
  g_autofree char *title = g_strdup_printf ("%s %s", (*argv)[0], operands);
  g_autoptr (GOptionContext) ctx = g_option_context_new (operands);
  g_option_context_set_summary (ctx, title);
  g_option_context_set_strict_posix (ctx, strict_posix);
  if (entries)
    g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *prgname = g_strdup_printf ("berth %s", (*argv)[0]);
  g_set_prgname (prgname);
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      berth_cli_usage ("%s", error->message);
      return FALSE;
    }
  return TRUE;
}

void
berth_cli_progress (guint64 bytes, gpointer what)
{
  static gint64 last;
  gint64 now = g_get_monotonic_time ();
  if (!isatty (STDERR_FILENO) || now - last < 100000)
    return;
  last = now;
  fprintf (stderr, "\r%s: %.1f MB", (const char *) what, bytes / 1e6);
}

void
berth_cli_progress_done (const char *what)
{
  if (isatty (STDERR_FILENO))
    fprintf (stderr, "\r%s: done%20s\n", what, "");
}
