/* What this host offers: kernel, cgroup layout, filesystems, and which storage
 * driver berth picks by default. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* "v2" (unified), "hybrid" (v1 controllers plus cgroup2 at /sys/fs/cgroup/unified),
 * "v1" (legacy), or "none". */
const char *berth_host_cgroup_layout (void);
char *berth_host_kernel (void);
gboolean berth_host_has_filesystem (const char *fstype);

/* Pick a storage driver for a store at @root by the host rule: btrfs when the
 * store is on btrfs, else overlay if it works here, else vfs. @rule explains. */
const char *berth_host_pick_driver (const char *root, char **rule);

/* The nearest existing ancestor of @path (for probing a store not made yet). */
char *berth_host_existing_ancestor (const char *path);

G_END_DECLS
