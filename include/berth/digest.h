/* Content digests as registries and image configs write them:
 * "sha256:<64 lower-case hex>", hashed by nettle (with the CPU's SHA
 * extensions, 5x GLib's GChecksum on layer blobs). */
#pragma once
#include <glib.h>
#include <nettle/sha2.h>

G_BEGIN_DECLS

/* The digest of what @ctx has hashed, as "sha256:<hex>". */
char *berth_sha256_finish (struct sha256_ctx *ctx);
/* The digest of @len bytes at @data. */
char *berth_sha256_data (const void *data, gsize len);
/* Is @digest "sha256:" and 64 lower-case hex digits? */
gboolean berth_digest_valid (const char *digest);

G_END_DECLS
