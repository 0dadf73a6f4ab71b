/* Docker's --format, the part of Go's text/template its users write:
 * text with {{.Field.Path}} and {{json .Path}} actions over one JSON
 * object (what inspect prints, or one row of ps or images). Go's whole
 * language is not here; an action berth does not know is refused in one
 * line rather than printed wrong. */
#include "config.h"
#include <berth/template.h>
#include <berth/error.h>
#include <berth/json.h>
#include <string.h>

/* The node at @path (".", ".State.Pid") below @root, or NULL. */
static JsonNode *
lookup (JsonNode *root, const char *path)
{
  JsonNode *node = root;
  g_auto (GStrv) parts = g_strsplit (path + 1, ".", -1);
  for (char **p = parts; *p && node; p++)
    {
      if (**p == '\0')
        continue;
      if (!JSON_NODE_HOLDS_OBJECT (node) || !json_object_has_member (json_node_get_object (node), *p))
        return NULL;
      node = json_object_get_member (json_node_get_object (node), *p);
    }
  return node;
}

/* A value as Go prints it; objects and arrays as JSON (Go would print
 * its map[...] form, which nobody parses). */
static void
append_value (GString *out, JsonNode *node)
{
  if (node == NULL)
    {
      g_string_append (out, "<no value>");
      return;
    }
  if (JSON_NODE_HOLDS_NULL (node))
    {
      g_string_append (out, "<nil>");
      return;
    }
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    {
      g_string_append (out, json_node_get_string (node));
      return;
    }
  g_autofree char *json = berth_json_to_string (node, NULL);
  g_string_append (out, json);
}

/* One action, "{{" and "}}" and Go's trim dashes taken off. */
static gboolean
render_action (const char *action, JsonNode *root, GString *out, GError **error)
{
  g_auto (GStrv) words = g_strsplit_set (action, " \t", -1);
  const char *w[3] = { NULL, NULL, NULL };
  guint n = 0;
  for (char **p = words; *p; p++)
    if (**p)
      {
        if (n == 2)
          return berth_fail (error, BERTH_ERROR_INVALID, "--format: {{%s}}: berth's templates "
                             "know {{.Path}} and {{json .Path}} only", action);
        w[n++] = *p;
      }
  if (n == 1 && w[0][0] == '.')
    {
      append_value (out, lookup (root, w[0]));
      return TRUE;
    }
  if (n == 2 && strcmp (w[0], "json") == 0 && w[1][0] == '.')
    {
      JsonNode *node = lookup (root, w[1]);
      if (node == NULL)
        g_string_append (out, "null");
      else
        {
          g_autofree char *json = berth_json_to_string (node, NULL);
          g_string_append (out, json);
        }
      return TRUE;
    }
  return berth_fail (error, BERTH_ERROR_INVALID, "--format: {{%s}}: berth's templates know "
                     "{{.Path}} and {{json .Path}} only", action);
}

/* Literal text, with the \t and \n a shell leaves in "..." made real, as
 * Docker's formatter does. */
static void
append_text (GString *out, const char *text, gsize len)
{
  for (gsize i = 0; i < len; i++)
    {
      if (text[i] == '\\' && i + 1 < len && (text[i + 1] == 't' || text[i + 1] == 'n'))
        {
          g_string_append_c (out, text[++i] == 't' ? '\t' : '\n');
          continue;
        }
      g_string_append_c (out, text[i]);
    }
}

gboolean
berth_template_render (const char *format, JsonNode *root, GString *out, GError **error)
{
  if (g_str_has_prefix (format, "table"))
    return berth_fail (error, BERTH_ERROR_INVALID, "--format '%s': berth has no table "
                       "templates yet; give the fields alone", format);
  const char *p = format;
  const char *open;
  while ((open = strstr (p, "{{")))
    {
      append_text (out, p, open - p);
      const char *close = strstr (open + 2, "}}");
      if (close == NULL)
        return berth_fail (error, BERTH_ERROR_INVALID, "--format '%s': a {{ without its }}",
                           format);
      g_autofree char *action = g_strndup (open + 2, close - open - 2);
      g_strstrip (action);
      /* Go's {{- and -}} trim the text around; the action is the same. */
      char *inner = action;
      if (*inner == '-')
        inner++;
      gsize len = strlen (inner);
      if (len && inner[len - 1] == '-')
        inner[len - 1] = '\0';
      if (!render_action (g_strstrip (inner), root, out, error))
        return FALSE;
      p = close + 2;
    }
  append_text (out, p, strlen (p));
  return TRUE;
}

gboolean
berth_template_check (const char *format, GError **error)
{
  g_autoptr (JsonNode) empty = json_node_init_object (json_node_alloc (), json_object_new ());
  g_autoptr (GString) out = g_string_new (NULL);
  return berth_template_render (format, empty, out, error);
}
