/* Images from registries: pull, push, login and logout against the OCI
 * distribution API (Docker's registry API v2), over libcurl.
 *
 * References are normalised as Docker does ("busybox" is
 * docker.io/library/busybox:latest) and tagged in the store by their
 * familiar name ("busybox:latest", "127.0.0.1:5000/app:1"). Credentials live
 * in the files docker and podman use ({"auths": {HOST: {"auth": base64}}});
 * registries (mirrors, insecure hosts, CA directories) in a JSON file,
 * docs/images.md. Every error names the registry, the image and, for a
 * blob, its digest; a failed pull leaves nothing in the store. */
#pragma once
#include <berth/store.h>

G_BEGIN_DECLS

/* A parsed image reference: DOMAIN/PATH[:TAG][@DIGEST]. */
typedef struct {
  char *domain;  /* "docker.io", "127.0.0.1:5000" */
  char *path;    /* "library/busybox" */
  char *tag;     /* NULL when only a digest is given */
  char *digest;  /* "sha256:<hex>" or NULL */
} BerthImageRef;
void berth_image_ref_free (BerthImageRef *ref);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthImageRef, berth_image_ref_free)

/* Parse and normalise @text (INVALID with the reason otherwise); a
 * reference with neither tag nor digest gets "latest". */
BerthImageRef *berth_image_ref_parse (const char *text, GError **error);
/* "docker.io/library/busybox:latest" */
char *berth_image_ref_canonical (const BerthImageRef *ref);
/* "busybox:latest": the name berth tags the image with. */
char *berth_image_ref_familiar (const BerthImageRef *ref);

/* How a command reaches registries. NULL members take the defaults:
 * $BERTH_REGISTRIES_CONFIG or /etc/berth/registries.json; for credentials
 * $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, then
 * $DOCKER_CONFIG/config.json or ~/.docker/config.json. */
typedef struct {
  const char *config_path;  /* the registries file */
  const char *auth_file;    /* --authfile: read and written instead */
  const char *certs_dir;    /* --cert-dir: a CA directory for this host */
  const char *username;     /* --creds USER:PASS split, used instead of the file */
  const char *password;
  int tls_verify;           /* -1: the config decides, 0: off, 1: on */
  const char *platform;     /* "os/arch[/variant]"; NULL: this host's */
  gboolean quiet;
} BerthRegistryOptions;

/* Per-layer progress of a pull or push: @layer's digest, bytes so far,
 * its size; @done once it is complete. */
typedef void (*BerthLayerProgressFunc) (const char *digest, guint64 bytes, guint64 total,
                                        gboolean done, gpointer data);

/* Pull @ref into @store's @driver (NULL: the default): every layer
 * downloaded (three at a time, resumed with a range request after a
 * dropped connection), its digest, size and diff id checked, unpacked and
 * committed with the image config, then tagged. Layers the store has are
 * not fetched. Returns the image id; *@manifest_digest gets the digest of
 * the manifest pulled. */
char *berth_pull (BerthStore *store, const char *ref, const char *driver,
                  const BerthRegistryOptions *options, BerthLayerProgressFunc progress,
                  gpointer data, char **manifest_digest, GError **error);

/* Push image @local (a name or id in @store) as @ref (NULL: @local):
 * layers the registry lacks are gzipped and uploaded, then the config and
 * a Docker schema2 manifest. Returns that manifest's digest. */
char *berth_push (BerthStore *store, const char *local, const char *ref,
                  const BerthRegistryOptions *options, BerthLayerProgressFunc progress,
                  gpointer data, GError **error);

/* Check @username/@password against @registry (a host, or a reference's
 * domain) and store them in the credentials file; its path is returned. */
char *berth_login (const char *registry, const char *username, const char *password,
                   const BerthRegistryOptions *options, GError **error);
/* Remove @registry's credentials from the file; NOT_FOUND if none. */
gboolean berth_logout (const char *registry, const BerthRegistryOptions *options,
                       GError **error);

G_END_DECLS
