/* The events journal: <root>/events.jsonl, one JSON object a line, in
 * Docker's event shape (Type, Action, Actor.ID, Actor.Attributes, time,
 * timeNano), appended by whatever process did the thing (a CLI command, a
 * container's monitor). One write(2) with O_APPEND a line, so lines from
 * processes writing at once do not mix. Past 1 MiB the file is renamed to
 * events.jsonl.1 (the one before is dropped) and a new one begins: a
 * journal for `berth events`, not an audit log. Recording is best effort:
 * a failure is printed, never the failure of what was done. */
#include "config.h"
#include "store-internal.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/json.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EVENTS_FILE "events.jsonl"
#define EVENTS_ROTATE_BYTES (1 << 20)

static char *
event_line (const char *type, const char *action, const char *id, char *const *attributes)
{
  gint64 now_ns = g_get_real_time () * 1000;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "Type");
  json_builder_add_string_value (b, type);
  json_builder_set_member_name (b, "Action");
  json_builder_add_string_value (b, action);
  json_builder_set_member_name (b, "Actor");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "ID");
  json_builder_add_string_value (b, id);
  json_builder_set_member_name (b, "Attributes");
  json_builder_add_value (b, berth_json_labels_node (attributes));
  json_builder_end_object (b);
  json_builder_set_member_name (b, "time");
  json_builder_add_int_value (b, now_ns / 1000000000);
  json_builder_set_member_name (b, "timeNano");
  json_builder_add_int_value (b, now_ns);
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  gsize len = 0;
  g_autofree char *text = berth_json_to_string (node, &len);
  /* one line: the writer is compact, but a value could hold a newline */
  for (char *p = text; *p; p++)
    if (*p == '\n')
      *p = ' ';
  return g_strconcat (text, "\n", NULL);
}

void
berth_event_record (BerthStore *store, const char *type, const char *action, const char *id,
                    char *const *attributes)
{
  g_autofree char *path = berth_store_path (store, EVENTS_FILE, NULL);
  g_autofree char *line = event_line (type, action, id, attributes);
  int fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  struct stat st;
  if (fd >= 0 && fstat (fd, &st) == 0 && st.st_size > EVENTS_ROTATE_BYTES)
    {
      g_autofree char *old = g_strconcat (path, ".1", NULL);
      /* whoever renames first starts the new file; the others append to it */
      if (rename (path, old) == 0 || errno == ENOENT)
        {
          close (fd);
          fd = open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        }
    }
  if (fd < 0 || !berth_write_all (fd, line, strlen (line)))
    g_printerr ("berth: record the %s %s event in %s: %s\n", type, action, path,
                g_strerror (errno));
  if (fd >= 0)
    close (fd);
}

GPtrArray *
berth_event_list (BerthStore *store, GError **error)
{
  g_autoptr (GPtrArray) events = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  g_autofree char *path = berth_store_path (store, EVENTS_FILE, NULL);
  g_autofree char *old = g_strconcat (path, ".1", NULL);
  const char *files[] = { old, path };
  for (guint f = 0; f < G_N_ELEMENTS (files); f++)
    {
      g_autofree char *text = NULL;
      g_autoptr (GError) local = NULL;
      if (!g_file_get_contents (files[f], &text, NULL, &local))
        {
          if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            continue;
          return berth_fail (error, BERTH_ERROR_FAILED, "%s", local->message), NULL;
        }
      g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
      for (char **l = lines; *l; l++)
        {
          /* a line cut by a crash, or not ours: skipped */
          g_autoptr (JsonNode) node = **l ? berth_json_parse (*l, strlen (*l), NULL) : NULL;
          if (berth_json_node_object (node))
            g_ptr_array_add (events, g_steal_pointer (&node));
        }
    }
  return g_steal_pointer (&events);
}
