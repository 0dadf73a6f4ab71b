/* The driver families: one table per family (storage, exec, network), one entry per
 * driver berth knows, whether this build has it or not.
 *
 * The contract:
 * - The tables (core/registry/family.c) are the only place outside drivers/
 *   that names a driver. `berth info`, the store (options, the drivers it
 *   opens), the host's default rule, berth-runc and the tests read them;
 *   adding a driver is its .c file, its extern and entry in family.c,
 *   Makefile.am (and configure.ac for a library), nothing else in core/
 *   or cli/ (docs/architecture.md, "Adding a storage driver").
 * - Entries are const and filled with designated initializers; NULL or 0 is
 *   "none" / "not supported", as in the kernel's ops tables. Each table ends
 *   with an entry whose name is NULL.
 * - The order is the order of preference: berth_storage_drivers() and
 *   berth_exec_drivers() list the built drivers in it, and the default rule
 *   tries them in it.
 * - .ops is NULL exactly when this build left the driver out (configure
 *   found no .library); .not_built then says so in one line. */
#pragma once
#include <glib.h>
#include <berth/exec.h>
#include <berth/storage.h>
#include <berth/network.h>

G_BEGIN_DECLS

/* When berth picks a storage driver for a store nobody chose one for. */
typedef enum {
  BERTH_DEFAULT_NEVER = 0,  /* only when named */
  BERTH_DEFAULT_ON_FS,      /* when the store is on .store_fs and the probe passes */
  BERTH_DEFAULT_IF_WORKS,   /* when the probe passes */
  BERTH_DEFAULT_FALLBACK,   /* when nothing before it works: it must work everywhere */
} BerthDefaultRule;

typedef struct {
  const char *name;
  const BerthStorageOps *ops;  /* NULL: not built into this berth */
  /* Every --storage-opt key the driver takes starts with this ("dm."); the
   * store hands a driver only its own keys. NULL: it takes none, and the
   * store refuses keys for it before anything runs. */
  const char *option_prefix;
  const char *library;         /* what configure looks for ("libdevmapper"); NULL: none */
  const char *not_built;       /* `berth info`'s line when .ops is NULL */
  BerthDefaultRule default_rule;
  /* The filesystem the store must be on ("btrfs"; NULL: any its probe
   * accepts); BERTH_DEFAULT_ON_FS makes the driver the default there. */
  const char *store_fs;
} BerthStorageFamily;

/* What berth uses an exec driver for without being told; each role is one
 * entry's, and that driver is always built. */
typedef enum {
  /* create and run use it when no --exec-driver is given, and a container
   * recorded before berth wrote ExecDriver ran on it */
  BERTH_EXEC_DEFAULT = 1 << 0,
  /* berth-runc runs its bundles on it (console socket, OCI features) */
  BERTH_EXEC_BUNDLES = 1 << 1,
} BerthExecRole;

typedef struct {
  const char *name;
  const BerthExecOps *ops;     /* NULL: not built into this berth */
  const char *library;
  const char *not_built;
  BerthExecRole roles;
} BerthExecFamily;

typedef struct {
  const char *name;
  const BerthNetworkOps *ops;  /* NULL: not built into this berth */
  const char *library;
  const char *not_built;
} BerthNetworkFamily;

extern const BerthStorageFamily berth_storage_families[];
extern const BerthExecFamily berth_exec_families[];
extern const BerthNetworkFamily berth_network_families[];

/* The entry named @name, or the one whose option prefix @option carries;
 * NULL when berth knows none. */
const BerthStorageFamily *berth_storage_family_lookup (const char *name);
const BerthStorageFamily *berth_storage_family_for_option (const char *option);
const BerthExecFamily *berth_exec_family_lookup (const char *name);
const BerthNetworkFamily *berth_network_family_lookup (const char *name);
/* The entry with @role (one, built, by the table's contract). */
const BerthExecFamily *berth_exec_family_for (BerthExecRole role);

/* "btrfs, overlay, ...": every name in the storage (or exec) table, for an
 * error about a name berth does not know. */
char *berth_storage_family_names (void);
char *berth_exec_family_names (void);
char *berth_network_family_names (void);

G_END_DECLS
