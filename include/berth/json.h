/* JSON helpers shared by the core and the drivers. Input from images and
 * specs is untrusted: the typed accessors return NULL on a type mismatch
 * instead of letting json-glib warn. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* json-glib recurses once per nesting level, so a hostile document of
 * 100k nested arrays overflows the stack: every document berth parses is
 * first checked to nest no deeper than this. */
#define BERTH_JSON_MAX_DEPTH 256
/* The largest JSON document berth parses (manifests and configs from
 * archives, bundle configs, seccomp profiles, --resources, its own records). */
#define BERTH_JSON_MAX_DOCUMENT (16 << 20)

/* Parse @len bytes of @data: INVALID when they are more than
 * BERTH_JSON_MAX_DOCUMENT, nest deeper than BERTH_JSON_MAX_DEPTH, are not
 * JSON, or are empty. */
JsonNode *berth_json_parse (const char *data, gsize len, GError **error);
/* Read and parse a JSON file (as berth_json_parse), reading no more than
 * the cap allows (a FIFO or a device is fine); NOT_FOUND when it does not
 * exist. Errors name the path. */
JsonNode *berth_json_read (const char *path, GError **error);
/* The same from @fd (stdin, a pipe), @what naming it in errors. */
JsonNode *berth_json_read_fd (int fd, const char *what, GError **error);
/* Serialise @node and write it atomically to @path. */
gboolean berth_json_write (const char *path, JsonNode *node, GError **error);
char *berth_json_to_string (JsonNode *node, gsize *len);
/* A NULL-terminated string array from a JSON array member (NULL if absent). */
char **berth_json_strv (JsonObject *obj, const char *member);
/* Member @member of @obj when it exists and is an object / array, else NULL:
 * input from archives is untrusted and json-glib's getters warn on a mismatch. */
JsonObject *berth_json_object (JsonObject *obj, const char *member);
JsonArray *berth_json_array (JsonObject *obj, const char *member);
/* Element @i of @arr when it is an object, else NULL. */
JsonObject *berth_json_array_object (JsonArray *arr, guint i);
/* The node's object when it holds one, else NULL. */
JsonObject *berth_json_node_object (JsonNode *node);
JsonNode *berth_json_strv_node (char *const *strv);
/* A labels object ({"KEY": "VALUE"}, Docker's Labels) as "KEY=VALUE"
 * strings in member order; members that are not strings are left out.
 * NULL for none. */
char **berth_json_labels (JsonObject *labels);
/* The other way: "KEY=VALUE" strings as a labels object. */
JsonNode *berth_json_labels_node (char *const *labels);
/* Docker's label filter: "KEY" matches any value of KEY, "KEY=VALUE" that
 * value, among @labels ("KEY=VALUE" each). */
gboolean berth_labels_match (char *const *labels, const char *want);
/* Scalar member @member of @obj, or @fallback when absent or of another type. */
const char *berth_json_string (JsonObject *obj, const char *member, const char *fallback);
gint64 berth_json_int (JsonObject *obj, const char *member, gint64 fallback);
gboolean berth_json_bool (JsonObject *obj, const char *member, gboolean fallback);

/* Now, in UTC, as RFC 3339 text (ISO 8601 with the zone). */
char *berth_now_rfc3339 (void);

G_END_DECLS
