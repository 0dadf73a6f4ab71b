/* Helpers shared inside core/ only. */
#pragma once
#include <berth/store.h>
#include <json-glib/json-glib.h>
#include <berth/json.h>

struct BerthStore {
  char *root;
  int lock_fd;
  char *driver_override;
  char *default_driver;
  char *default_rule;
  GHashTable *drivers; /* name -> BerthStorage */
  char **storage_opts; /* --storage-opt, then the config file's [storage] options */
  char **conf_storage_opts; /* the config file's [storage] options, read at open */
  /* The monitor (our child) and pty master of the container this command
   * started attached, for berth_container_attach_wait; 0 and -1 otherwise. */
  pid_t attached_monitor;
  int attached_pty;
  int attached_exit_fd; /* the monitor writes the exit code here once recorded */
  GArray *caller_fds; /* see berth_store_set_caller_fds; NULL: none known */
  gboolean changing; /* this handle set the change mark (berth_store_begin_change) */
};

char *berth_store_path (BerthStore *store, const char *first, ...) G_GNUC_NULL_TERMINATED;
/* Resolve @ref (a name or a unique prefix of one of @ids) to one of @ids. */
char *berth_resolve_prefix (GPtrArray *ids, const char *ref, const char *what, GError **error);

/* Before removing @c: fine when it is not running; with @force, kill it and
 * wait for its monitor's cleanup; else BUSY. */
gboolean berth_container_ensure_stopped (BerthStore *store, BerthContainer *c, gboolean force,
                                         GError **error);

/* Remove what creates killed half-way left in containers/. */
gboolean berth_container_sweep_incomplete (BerthStore *store, GError **error);

/* Forget image @id, made by this command unless @existed, and collect what
 * only it referenced: the undo of a failed import, load or commit. */
void berth_image_undo (BerthStore *store, const char *id, gboolean existed);

/* Import the tar on @tar_fd as a one-layer image with @cmd as its command. */
char *berth_image_import_tree_fd (BerthStore *store, int tar_fd, const char *ref,
                                  const char *driver, char **cmd, const char *created_by,
                                  GError **error);
