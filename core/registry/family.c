/* The driver tables (include/berth/family.h): every driver berth knows, in
 * order of preference, and the registries built from them. */
#include "config.h"
#include <berth/family.h>

/* Declared here, not in a header: only the tables take their address. A
 * driver left out of the build is declared all the same and never used. */
extern const BerthStorageOps berth_storage_btrfs_ops;
extern const BerthStorageOps berth_storage_overlay_ops;
extern const BerthStorageOps berth_storage_aufs_ops;
extern const BerthStorageOps berth_storage_devicemapper_ops;
extern const BerthStorageOps berth_storage_vfs_ops;
extern const BerthExecOps berth_exec_native_ops;
extern const BerthExecOps berth_exec_lxc_ops;
extern const BerthNetworkOps berth_network_bridge_ops;
extern const BerthNetworkOps berth_network_macvlan_ops;

const BerthStorageFamily berth_storage_families[] = {
  {
    .name = "btrfs",
#ifdef HAVE_BTRFS
    .ops = &berth_storage_btrfs_ops,
#endif
    .library = "libbtrfsutil",
    .not_built = "not built into this berth (configure found no libbtrfsutil)",
    .default_rule = BERTH_DEFAULT_ON_FS,
    .store_fs = "btrfs",
  },
  {
    .name = "overlay",
    .ops = &berth_storage_overlay_ops,
    .default_rule = BERTH_DEFAULT_IF_WORKS,
  },
  {
    .name = "aufs",
    .ops = &berth_storage_aufs_ops,
    .default_rule = BERTH_DEFAULT_IF_WORKS,
  },
  {
    .name = "devicemapper",
#ifdef HAVE_DEVMAPPER
    .ops = &berth_storage_devicemapper_ops,
#endif
    .option_prefix = "dm.",
    .library = "libdevmapper",
    .not_built = "not built into this berth (configure found no libdevmapper)",
    /* loop-lvm is for testing, and direct-lvm needs a pool the operator
     * made and names */
    .default_rule = BERTH_DEFAULT_NEVER,
  },
  {
    .name = "vfs",
    .ops = &berth_storage_vfs_ops,
    .default_rule = BERTH_DEFAULT_FALLBACK,
  },
  { .name = NULL },
};

const BerthExecFamily berth_exec_families[] = {
  {
    .name = "native",
    .ops = &berth_exec_native_ops,
    .roles = BERTH_EXEC_DEFAULT | BERTH_EXEC_BUNDLES,
  },
  {
    .name = "lxc",
#ifdef HAVE_LXC
    .ops = &berth_exec_lxc_ops,
#endif
    .library = "liblxc",
    .not_built = "not built into this berth (configure found no liblxc)",
  },
  { .name = NULL },
};

const BerthNetworkFamily berth_network_families[] = {
  {
    .name = "bridge",
#ifdef HAVE_NETWORK
    .ops = &berth_network_bridge_ops,
#endif
    .library = "libnl-route-3 and libnftables",
    .not_built = "not built into this berth (configure found no libnl-route-3 or libnftables)",
  },
  {
    .name = "macvlan",
#ifdef HAVE_NETWORK
    .ops = &berth_network_macvlan_ops,
#endif
    .library = "libnl-route-3",
    .not_built = "not built into this berth (configure found no libnl-route-3 or libnftables)",
  },
  { .name = NULL },
};

/* The same code serves every table, whose entries differ in type: the
 * entry named @name, NULL when none is. */
#define FIND_BY_NAME(table, key)                                                                \
  for (guint i = 0; table[i].name; i++)                                                         \
    if (g_strcmp0 (table[i].name, key) == 0)                                                    \
      return &table[i];                                                                         \
  return NULL

/* "a, b, c": every name of the table. */
#define JOIN_NAMES(table)                                                                       \
  g_autoptr (GString) names = g_string_new (NULL);                                              \
  for (guint i = 0; table[i].name; i++)                                                         \
    g_string_append_printf (names, "%s%s", i ? ", " : "", table[i].name);                       \
  return g_string_free (g_steal_pointer (&names), FALSE)

/* The registry: the built drivers of the table, in its order,
 * NULL-terminated. */
#define BUILT_OPS(OpsType, table)                                                               \
  static const OpsType *built[G_N_ELEMENTS (table)];                                            \
  static gsize once = 0;                                                                        \
  if (g_once_init_enter (&once))                                                                \
    {                                                                                           \
      guint n = 0;                                                                              \
      for (guint i = 0; table[i].name; i++)                                                     \
        if (table[i].ops)                                                                       \
          built[n++] = table[i].ops;                                                            \
      g_once_init_leave (&once, 1);                                                             \
    }                                                                                           \
  return built

const BerthStorageFamily *
berth_storage_family_lookup (const char *name)
{
  FIND_BY_NAME (berth_storage_families, name);
}

const BerthExecFamily *
berth_exec_family_lookup (const char *name)
{
  FIND_BY_NAME (berth_exec_families, name);
}

const BerthNetworkFamily *
berth_network_family_lookup (const char *name)
{
  FIND_BY_NAME (berth_network_families, name);
}

const BerthStorageFamily *
berth_storage_family_for_option (const char *option)
{
  for (const BerthStorageFamily *f = berth_storage_families; f->name; f++)
    if (f->option_prefix && g_str_has_prefix (option, f->option_prefix))
      return f;
  return NULL;
}

/* The table's contract makes one entry per role, built (tests/test-storage.c
 * checks it). */
const BerthExecFamily *
berth_exec_family_for (BerthExecRole role)
{
  const BerthExecFamily *f = berth_exec_families;
  while (f->name && !(f->roles & role))
    f++;
  g_assert (f->ops);
  return f;
}

char *
berth_storage_family_names (void)
{
  JOIN_NAMES (berth_storage_families);
}

char *
berth_exec_family_names (void)
{
  JOIN_NAMES (berth_exec_families);
}

char *
berth_network_family_names (void)
{
  JOIN_NAMES (berth_network_families);
}

const BerthStorageOps *const *
berth_storage_drivers (void)
{
  BUILT_OPS (BerthStorageOps, berth_storage_families);
}

const BerthExecOps *const *
berth_exec_drivers (void)
{
  BUILT_OPS (BerthExecOps, berth_exec_families);
}

const BerthStorageOps *
berth_storage_driver_lookup (const char *name)
{
  const BerthStorageFamily *f = berth_storage_family_lookup (name);
  return f ? f->ops : NULL;
}
