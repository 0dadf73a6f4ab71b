/* berth as an OCI runtime (berth-runc): containers described by a bundle
 * (a directory with config.json and the rootfs it names), run by the native
 * exec driver, their state kept under a runtime root, as runc keeps it
 * under /run/runc. Each container has <root>/<id>/ holding a copy of its
 * config (so later commands need not find the bundle again), oci.json
 * (bundle path, creation time) and exec/, the driver's state.
 *
 * Contract: every call fails with a one-line error naming the container and
 * the reason; create leaves nothing behind when it fails. */
#pragma once
#include <berth/exec.h>
#include <berth/hooks.h>
#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The bundle's config.json. */
JsonNode *berth_oci_read_bundle (const char *bundle, GError **error);
/* Sets up container @id from @bundle and its config @spec (read by
 * berth_oci_read_bundle) with its first process waiting before exec
 * (runtime-spec "created"); its stdio is @stdio. The spec's hooks run as
 * the exec driver reaches their points. */
BerthExec *berth_oci_create (const char *root, const char *id, const char *bundle, JsonNode *spec,
                             const BerthExecStdio *stdio, GError **error);
/* The container made by an earlier create; NOT_FOUND if there is none.
 * While that create is still under way (its hooks running) the handle's
 * pid is 0: state says "creating", delete needs --force. */
BerthExec *berth_oci_open (const char *root, const char *id, GError **error);
/* The runtime-spec state object: ociVersion, id, status, pid, bundle,
 * annotations, and runc's "created". */
JsonNode *berth_oci_state (const char *root, BerthExec *c, GError **error);
/* Removes a stopped or created container (with @force, kills a running
 * one first), its cgroup and its state directory. */
gboolean berth_oci_delete (const char *root, BerthExec *c, gboolean force, GError **error);
/* New limits (a linux.resources object) for a running container, also
 * kept in its saved config. */
gboolean berth_oci_update (const char *root, BerthExec *c, JsonObject *resources, GError **error);
/* The runtime-spec features document (features.md) of the runtime. */
JsonNode *berth_oci_features (GError **error);
/* The ids of the containers under @root, sorted. */
GPtrArray *berth_oci_list (const char *root, GError **error);

G_END_DECLS
