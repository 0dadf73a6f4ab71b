/* What berth-runc's commands share: errors, the log, option parsing and
 * the console socket (runc.h). */
#include "config.h"
#include "runc.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/json.h>
#include <berth/oci.h>
#include <berth/pty.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Appends one line as runc's logrus would write it. A log that cannot be
 * written is not worth failing the command for: stderr has the line. */
static void
log_line (BerthRunc *r, const char *level, const char *msg)
{
  if (r->log_path == NULL)
    return;
  g_autofree char *time = berth_now_rfc3339 ();
  g_autofree char *line = NULL;
  if (r->log_json)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      const char *fields[][2] = { { "level", level }, { "msg", msg }, { "time", time } };
      for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
        {
          json_builder_set_member_name (b, fields[i][0]);
          json_builder_add_string_value (b, fields[i][1]);
        }
      json_builder_end_object (b);
      g_autoptr (JsonNode) node = json_builder_get_root (b);
      g_autofree char *text = berth_json_to_string (node, NULL);
      line = g_strdup_printf ("%s\n", text);
    }
  else
    {
      g_autofree char *quoted = g_strescape (msg, NULL);
      line = g_strdup_printf ("time=\"%s\" level=%s msg=\"%s\"\n", time, level, quoted);
    }
  int fd = open (r->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      fprintf (stderr, "berth-runc: log %s: %s\n", r->log_path, g_strerror (errno));
      return;
    }
  if (!berth_write_all (fd, line, strlen (line)))
    fprintf (stderr, "berth-runc: log %s: %s\n", r->log_path, g_strerror (errno));
  close (fd);
}

void
berth_runc_log (BerthRunc *r, const char *level, const char *fmt, ...)
{
  if (strcmp (level, "debug") == 0 && !r->debug)
    return;
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  log_line (r, level, msg);
}

int
berth_runc_fail (BerthRunc *r, GError *error)
{
  fprintf (stderr, "berth-runc: %s\n", error->message);
  log_line (r, "error", error->message);
  return 1;
}

int
berth_runc_usage (BerthRunc *r, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "berth-runc: %s\n", msg);
  log_line (r, "error", msg);
  return 2;
}

gboolean
berth_runc_parse (BerthRunc *r, int *argc, char ***argv, const GOptionEntry *entries,
                  const char *operands, gboolean stop_at_operand)
{
  g_autoptr (GOptionContext) ctx = g_option_context_new (operands);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_strict_posix (ctx, stop_at_operand);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, argc, argv, &error))
    {
      berth_runc_usage (r, "%s", error->message);
      return FALSE;
    }
  return TRUE;
}

BerthExec *
berth_runc_open_only_operand (BerthRunc *r, int *argc, char ***argv, const char *command, int *rc)
{
  const GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  *rc = 2;
  if (!berth_runc_parse (r, argc, argv, entries, "ID", FALSE))
    return NULL;
  if (*argc != 2)
    return berth_runc_usage (r, "%s needs one container id", command), NULL;
  g_autoptr (GError) error = NULL;
  BerthExec *c = berth_oci_open (r->root, (*argv)[1], &error);
  if (c == NULL)
    *rc = berth_runc_fail (r, error);
  return c;
}

gboolean
berth_runc_write_pid_file (const char *path, pid_t pid, GError **error)
{
  if (path == NULL)
    return TRUE;
  /* Runtime state on containerd's start path: no fsyncs (fsutil.h). */
  g_autofree char *text = g_strdup_printf ("%d", (int) pid);
  return berth_write_file_replace (path, text, strlen (text), 0644, error);
}

void
berth_runc_print_json (JsonNode *node)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, node);
  g_autofree char *text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
}

gboolean
berth_runc_console_open (gboolean terminal, const char *console_socket, gboolean relay,
                         BerthExecStdio *stdio, BerthRuncConsole *console, GError **error)
{
  console->master = -1;
  *stdio = (BerthExecStdio) { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO, FALSE, NULL };
  if (terminal && console_socket == NULL && !relay)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "process.terminal is true: a terminal needs --console-socket");
  if (!terminal && console_socket)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "--console-socket %s: process.terminal is false, there is no terminal to send",
                       console_socket);
  if (!terminal)
    return TRUE;
  /* As runc: the pty is made inside, on the container's devpts, and its
   * master comes back here once the process is set up. */
  *stdio = (BerthExecStdio) { -1, -1, -1, TRUE, &console->master };
  return TRUE;
}

gboolean
berth_runc_console_send (const char *console_socket, BerthRuncConsole *console, GError **error)
{
  if (console->master < 0 || console_socket == NULL)
    return TRUE;
  return berth_pty_send_master (console_socket, console->master, error);
}

void
berth_runc_console_close (BerthRuncConsole *console)
{
  if (console->master >= 0)
    close (console->master);
  console->master = -1;
}
