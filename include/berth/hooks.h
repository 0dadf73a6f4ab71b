/* OCI runtime-spec hooks: programs the runtime runs at named points of a
 * container's life (prestart, createRuntime, createContainer,
 * startContainer, poststart, poststop), each given the container's state
 * JSON on its stdin and killed when its timeout passes.
 *
 * The hooks that run inside the container (createContainer,
 * startContainer) are run by a child that joins its namespaces. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The runtime-spec version berth implements (the hooks' state says it). */
#define BERTH_OCI_VERSION "1.0.2"

typedef struct {
  char *path;
  char **args;  /* argv, argv[0] first; { path } when the hook names none */
  char **env;   /* never NULL */
  int timeout;  /* seconds; 0: wait as long as it runs */
} BerthHook;

/* The hooks of @kind in the spec's "hooks" object, in order; an empty
 * array when there are none. INVALID for a hook without an absolute path
 * or with a timeout below 1. */
GPtrArray *berth_hooks_parse (JsonObject *spec, const char *kind, GError **error);

/* Where a hook runs: the runtime's namespaces (join_pidfd -1), or those
 * of the process @join_pidfd refers to, @ns_flags (CLONE_NEW*) of them;
 * with CLONE_NEWPID the hook is forked once more so it is inside the pid
 * namespace too. The hook's path is resolved after joining. */
typedef struct {
  int join_pidfd;
  unsigned int ns_flags;
} BerthHookPlace;

/* Run @hook with @state on its stdin and wait for it. 0 when it exited 0;
 * else -1 with the reason (and the start of its output) in @msg. */
int berth_hook_run (const BerthHook *hook, const BerthHookPlace *place, const char *state,
                    char *msg, gsize msg_size);

/* Each of @hooks in turn; the first failure stops them: "<kind> hook
 * <path>: <reason>". With @warn_only (poststart, poststop, which the spec
 * has only logged) each failure is a warning and the rest still run.
 * @place may be NULL: the runtime's namespaces. */
gboolean berth_hooks_run (GPtrArray *hooks, const char *kind, const BerthHookPlace *place,
                          const char *state, gboolean warn_only, GError **error);

/* The runtime-spec state object: ociVersion, id, status, pid, bundle and
 * the annotations when there are any. */
JsonNode *berth_hook_state (const char *id, const char *status, int pid, const char *bundle,
                            JsonObject *annotations);

G_END_DECLS
