/* What this host offers: kernel, cgroup layout and controllers, user
 * namespaces, filesystems, and which storage and exec drivers berth picks by
 * default. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* "v2" (unified), "hybrid" (v1 controllers plus cgroup2 at /sys/fs/cgroup/unified),
 * "v1" (legacy), or "none". */
const char *berth_host_cgroup_layout (void);
char *berth_host_kernel (void);

/* Whether @option, one of a v1 cgroup mount's super options, names a
 * controller ("cpu"), rather than a flag ("rw", "xattr") or a setting
 * ("name=systemd", "release_agent=..."). */
gboolean berth_host_cgroup_v1_is_controller (const char *option);

/* For an exec driver's `berth info` status (alternating key, value strings):
 * "cgroup layout" (with where it is mounted) and "cgroup controllers" (those
 * of the v1 hierarchies mounted, then those of the cgroup2 one); on a v1 or
 * hybrid host also "controllers missing" when /proc/cgroups has some
 * that no mounted hierarchy holds. */
void berth_host_cgroup_status (GPtrArray *pairs);
/* "user namespaces" (tried for real, with the sysctls that limit them) and
 * "id-mapped mounts" (whether the kernel has mount_setattr). */
void berth_host_userns_status (GPtrArray *pairs);

/* The exec driver berth create and run use without --exec-driver; @rule
 * says why. */
const char *berth_host_default_exec_driver (const char **rule);
/* What `berth run` and `create` join without --network, as Docker: the
 * default network ("bridge") where the bridge driver works here, else
 * "none"; *@rule (freed by the caller) says why. */
const char *berth_host_default_network (char **rule);

/* Pick a storage driver for a store at @root by the storage table's default
 * rules (include/berth/family.h), tried in its order. Only probes: it
 * leaves nothing behind. @rule explains the choice. */
const char *berth_host_pick_driver (const char *root, char **rule);

/* The nearest existing ancestor of @path (for probing a store not made yet). */
char *berth_host_existing_ancestor (const char *path);

G_END_DECLS
