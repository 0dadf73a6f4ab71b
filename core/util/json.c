#include "config.h"
#include <berth/json.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* Nesting depth, counted outside strings, before any recursive parse. */
static gboolean
check_depth (const char *data, gsize len, GError **error)
{
  guint depth = 0;
  gboolean in_string = FALSE, escaped = FALSE;
  for (gsize i = 0; i < len; i++)
    {
      char c = data[i];
      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
        }
      else if (c == '"')
        in_string = TRUE;
      else if ((c == '[' || c == '{') && ++depth > BERTH_JSON_MAX_DEPTH)
        return berth_fail (error, BERTH_ERROR_INVALID, "JSON nested deeper than %d levels",
                           BERTH_JSON_MAX_DEPTH);
      else if ((c == ']' || c == '}') && depth > 0)
        depth--;
    }
  return TRUE;
}

JsonNode *
berth_json_parse (const char *data, gsize len, GError **error)
{
  /* parsed, JSON costs several times its size in memory */
  if (len > BERTH_JSON_MAX_DOCUMENT)
    return berth_fail (error, BERTH_ERROR_INVALID, "JSON document larger than %d MiB, the most "
                       "berth parses", BERTH_JSON_MAX_DOCUMENT >> 20), NULL;
  /* An empty file maps to NULL, which json-glib refuses without an error. */
  if (len == 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "empty JSON document"), NULL;
  if (!check_depth (data, len, error))
    return NULL;
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) local = NULL;
  if (!json_parser_load_from_data (parser, data, len, &local))
    return berth_fail (error, BERTH_ERROR_INVALID, "%s", local->message), NULL;
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "empty JSON document"), NULL;
  return json_node_copy (root);
}

/* At most one byte past the cap is read: /dev/zero or an endless pipe
 * stops there instead of filling memory. */
static char *
read_capped (int fd, gsize *len)
{
  g_autoptr (GString) all = g_string_new (NULL);
  char buf[65536];
  while (all->len <= BERTH_JSON_MAX_DOCUMENT)
    {
      gssize n = read (fd, buf, MIN (sizeof buf, BERTH_JSON_MAX_DOCUMENT + 1 - all->len));
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        return NULL;
      if (n == 0)
        break;
      g_string_append_len (all, buf, n);
    }
  *len = all->len;
  return g_string_free (g_steal_pointer (&all), FALSE);
}

JsonNode *
berth_json_read_fd (int fd, const char *what, GError **error)
{
  gsize len = 0;
  g_autofree char *text = read_capped (fd, &len);
  if (text == NULL)
    return berth_fail_errno (error, errno, "read %s", what), NULL;
  g_autoptr (GError) local = NULL;
  JsonNode *root = berth_json_parse (text, len, &local);
  if (root == NULL)
    berth_fail (error, local->code, "%s: %s", what, local->message);
  return root;
}

JsonNode *
berth_json_read (const char *path, GError **error)
{
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT)
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "%s: no such file", path), NULL;
  if (fd < 0)
    return berth_fail_errno (error, errno, "%s", path), NULL;
  g_autoptr (GError) local = NULL;
  JsonNode *root = berth_json_read_fd (fd, path, &local);
  close (fd);
  if (root == NULL)
    berth_fail (error, BERTH_ERROR_FAILED, "%s", local->message);
  return root;
}

char *
berth_json_to_string (JsonNode *node, gsize *len)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, node);
  return json_generator_to_data (gen, len);
}

gboolean
berth_json_write (const char *path, JsonNode *node, GError **error)
{
  gsize len = 0;
  g_autofree char *data = berth_json_to_string (node, &len);
  return berth_write_file_atomic (path, data, len, 0600, error);
}

char **
berth_json_strv (JsonObject *obj, const char *member)
{
  if (obj == NULL || !json_object_has_member (obj, member))
    return NULL;
  JsonNode *node = json_object_get_member (obj, member);
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  JsonArray *arr = json_node_get_array (node);
  GStrvBuilder *b = g_strv_builder_new ();
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      const char *s = json_array_get_string_element (arr, i);
      if (s)
        g_strv_builder_add (b, s);
    }
  char **strv = g_strv_builder_end (b);
  g_strv_builder_unref (b);
  return strv;
}

JsonObject *
berth_json_object (JsonObject *obj, const char *member)
{
  JsonNode *n = obj ? json_object_get_member (obj, member) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

JsonArray *
berth_json_array (JsonObject *obj, const char *member)
{
  JsonNode *n = obj ? json_object_get_member (obj, member) : NULL;
  return n && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
}

JsonObject *
berth_json_array_object (JsonArray *arr, guint i)
{
  JsonNode *n = arr && i < json_array_get_length (arr) ? json_array_get_element (arr, i) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

JsonObject *
berth_json_node_object (JsonNode *node)
{
  return node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

JsonNode *
berth_json_strv_node (char *const *strv)
{
  JsonArray *arr = json_array_new ();
  for (char *const *s = strv; s && *s; s++)
    json_array_add_string_element (arr, *s);
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);
  json_node_take_array (node, arr);
  return node;
}

char *
berth_now_rfc3339 (void)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  return g_date_time_format_iso8601 (now);
}

static JsonNode *
value_member (JsonObject *obj, const char *member, GType type)
{
  JsonNode *n = obj ? json_object_get_member (obj, member) : NULL;
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == type ? n : NULL;
}

const char *
berth_json_string (JsonObject *obj, const char *member, const char *fallback)
{
  JsonNode *n = value_member (obj, member, G_TYPE_STRING);
  return n ? json_node_get_string (n) : fallback;
}

gint64
berth_json_int (JsonObject *obj, const char *member, gint64 fallback)
{
  JsonNode *n = value_member (obj, member, G_TYPE_INT64);
  return n ? json_node_get_int (n) : fallback;
}

gboolean
berth_json_bool (JsonObject *obj, const char *member, gboolean fallback)
{
  JsonNode *n = value_member (obj, member, G_TYPE_BOOLEAN);
  return n ? json_node_get_boolean (n) : fallback;
}

char **
berth_json_labels (JsonObject *labels)
{
  if (labels == NULL || json_object_get_size (labels) == 0)
    return NULL;
  g_autoptr (GStrvBuilder) out = g_strv_builder_new ();
  g_autoptr (GList) members = json_object_get_members (labels);
  for (GList *m = members; m; m = m->next)
    {
      const char *value = berth_json_string (labels, m->data, NULL);
      if (value == NULL)
        continue;
      g_autofree char *pair = g_strconcat (m->data, "=", value, NULL);
      g_strv_builder_add (out, pair);
    }
  return g_strv_builder_end (out);
}

JsonNode *
berth_json_labels_node (char *const *labels)
{
  g_autoptr (JsonObject) o = json_object_new ();
  for (char *const *l = labels; l && *l; l++)
    {
      const char *eq = strchr (*l, '=');
      g_autofree char *key = eq ? g_strndup (*l, eq - *l) : g_strdup (*l);
      json_object_set_string_member (o, key, eq ? eq + 1 : "");
    }
  return json_node_init_object (json_node_alloc (), o);
}

gboolean
berth_labels_match (char *const *labels, const char *want)
{
  gboolean with_value = strchr (want, '=') != NULL;
  gsize key_len = strlen (want);
  for (char *const *l = labels; l && *l; l++)
    if (with_value ? strcmp (*l, want) == 0
                   : strncmp (*l, want, key_len) == 0 && (*l)[key_len] == '=')
      return TRUE;
  return FALSE;
}
