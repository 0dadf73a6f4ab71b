/* Docker's --format templates (core/util/template.c): the part of Go's
 * text/template that Docker users write, {{.Field.Path}} and
 * {{json .Path}}, over one JSON object. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* @format's text with each action filled from @root, appended to @out;
 * \t and \n in the text made real. INVALID naming an action berth does
 * not know (range, if, a function, a table template) or a {{ unclosed. */
gboolean berth_template_render (const char *format, JsonNode *root, GString *out,
                                GError **error);
/* The same check, before anything is printed. */
gboolean berth_template_check (const char *format, GError **error);

G_END_DECLS
