/* Helpers shared inside core/ only. */
#pragma once
#include <berth/store.h>
#include <json-glib/json-glib.h>

struct BerthStore {
  char *root;
  int lock_fd;
  char *driver_override;
  char *default_driver;
  char *default_rule;
  GHashTable *drivers; /* name -> BerthStorage */
};

/* Read and parse a JSON file; NOT_FOUND when it does not exist. */
JsonNode *berth_json_read (const char *path, GError **error);
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

char *berth_store_path (BerthStore *store, const char *first, ...) G_GNUC_NULL_TERMINATED;
char *berth_now_rfc3339 (void);
/* Resolve @ref (a name or a unique prefix of one of @ids) to one of @ids. */
char *berth_resolve_prefix (GPtrArray *ids, const char *ref, const char *what, GError **error);

/* Remove what creates killed half-way left in containers/. */
gboolean berth_container_sweep_incomplete (BerthStore *store, GError **error);

/* Forget image @id, made by this command unless @existed, and collect what
 * only it referenced: the undo of a failed import, load or commit. */
void berth_image_undo (BerthStore *store, const char *id, gboolean existed);

/* Import the tar on @tar_fd as a one-layer image with @cmd as its command. */
char *berth_image_import_tree_fd (BerthStore *store, int tar_fd, const char *ref,
                                  const char *driver, char **cmd, const char *created_by,
                                  GError **error);
