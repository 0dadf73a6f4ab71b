/* The bundle fixture of tests/oci/: a busybox rootfs with the applets the
 * cases use, the config.json of `berth-runc spec`, and berth-runc run
 * against a state directory of the test's own. Shared by test-oci.c and
 * test-conformance.c. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdarg.h>

G_BEGIN_DECLS

typedef struct {
  char *dir;    /* the test's directory (under /var/tmp) */
  char *bundle; /* dir/bundle, with rootfs/ and config.json */
  char *root;   /* berth-runc --root: dir/state */
} OciFixture;

/* GTest setup and teardown: a fresh bundle in /var/tmp/PREFIX-XXXXXX
 * (@data is PREFIX, "berth-oci" when NULL); every container still listed
 * under --root deleted with --force, then the directory removed. */
void oci_fixture_setup (OciFixture *f, gconstpointer data);
void oci_fixture_teardown (OciFixture *f, gconstpointer data);

/* g_test_init; FALSE, with the run skipped, when not root (berth-runc
 * needs namespaces, cgroups and mounts). */
gboolean oci_test_init (int *argc, char ***argv);

/* $BERTH_RUNC_BIN, else ./berth-runc. */
const char *oci_runc_bin (void);

/* berth-runc --root @root and the NULL-terminated @args, NULL-terminated
 * (for tu_run, g_spawn_*); the strings are borrowed. */
GPtrArray *oci_runc_argv (const char *root, va_list args);

/* berth-runc --root ROOT ARGS... (NULL-terminated): its exit code, stdout
 * and stderr captured into @out/@err when not NULL. oci_runc_va takes any
 * ROOT and the args as a va_list. */
int oci_runc (OciFixture *f, char **out, char **err, ...) G_GNUC_NULL_TERMINATED;
int oci_runc_va (const char *root, char **out, char **err, va_list args);

/* berth-runc --root ROOT ARGS... with stdin and stdout on /dev/null and
 * stderr into @err through a file (what it starts keeps the stdio it was
 * given, so a pipe would never close), or on /dev/null when @err is NULL.
 * With @deadline_s > 0 the case fails if it runs longer. Its exit code. */
int oci_runc_quiet (OciFixture *f, int deadline_s, char **err, ...) G_GNUC_NULL_TERMINATED;

/* create --bundle --pid-file @pid_file @id through oci_runc_quiet. */
int oci_runc_create (OciFixture *f, const char *id, const char *pid_file);

/* The bundle's config.json, parsed; and written back. */
JsonNode *oci_config_read (OciFixture *f);
void oci_config_write (OciFixture *f, JsonNode *config);

/* Set the member at @path ("process.oomScoreAdj", "linux.sysctl": dots
 * separate object members, made when missing) to the JSON text @json. */
void oci_config_set (OciFixture *f, const char *path, const char *json);
/* Append the JSON text @json to the array at @path (made when missing). */
void oci_config_append (OciFixture *f, const char *path, const char *json);

/* The bundle's process runs @script under sh -c, with a writable root
 * (runc's default root is read-only; the cases write to /tmp). */
void oci_set_script (OciFixture *f, const char *script);

/* A path in the bundle's rootfs: g_build_filename (rootfs, @rel). */
char *oci_rootfs_path (OciFixture *f, const char *rel);

G_END_DECLS
