/* Capability names (core/util/capabilities.c). */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* All capability names this berth knows, NULL-terminated, static. */
const char *const *berth_all_capabilities (void);
/* "NET_ADMIN" or "cap_net_admin" -> "CAP_NET_ADMIN"; NULL if unknown. */
char *berth_capability_normalize (const char *name);

G_END_DECLS
