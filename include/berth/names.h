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
/* A point in time as Docker's --since and --until take it, in µs since the
 * epoch: RFC 3339 ("2026-12-07T10:00:00Z", a date alone, no zone: UTC),
 * Unix seconds ("1765100000.5"), or a duration before @now_us ("90s",
 * "10m", "1h30m"). FALSE with INVALID naming @what. */
gboolean berth_parse_time (const char *text, const char *what, gint64 now_us, gint64 *out,
                           GError **error);

G_END_DECLS
