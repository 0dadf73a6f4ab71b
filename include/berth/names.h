/* Strings berth accepts: container names, hex ids, image references,
 * sizes (core/util/names.c). Pure string checks; nothing here touches a
 * store. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

gboolean berth_validate_name (const char *name, GError **error);
gboolean berth_is_hex_id (const char *s);
/* Split "name[:tag]" (tag defaults to "latest"); validates both. */
gboolean berth_parse_reference (const char *ref, char **name, char **tag, GError **error);
/* Resolve @ref (a name or a unique prefix of one of @ids) to one of @ids. */
char *berth_resolve_prefix (GPtrArray *ids, const char *ref, const char *what, GError **error);
/* "512m", "1g", "1024" -> bytes; FALSE with INVALID naming @what. */
gboolean berth_parse_size (const char *text, const char *what, gint64 *bytes, GError **error);

G_END_DECLS
