/* sha256 digests in the "sha256:<hex>" form, over nettle. */
#include "config.h"
#include <berth/digest.h>
#include <string.h>

char *
berth_sha256_finish (struct sha256_ctx *ctx)
{
  static const char hex[] = "0123456789abcdef";
  guint8 raw[SHA256_DIGEST_SIZE];
  sha256_digest (ctx, sizeof raw, raw);
  char *out = g_malloc (7 + 2 * sizeof raw + 1);
  memcpy (out, "sha256:", 7);
  for (guint i = 0; i < sizeof raw; i++)
    {
      out[7 + 2 * i] = hex[raw[i] >> 4];
      out[7 + 2 * i + 1] = hex[raw[i] & 0xf];
    }
  out[7 + 2 * sizeof raw] = '\0';
  return out;
}

char *
berth_sha256_data (const void *data, gsize len)
{
  struct sha256_ctx ctx;
  sha256_init (&ctx);
  sha256_update (&ctx, len, data);
  return berth_sha256_finish (&ctx);
}

gboolean
berth_digest_valid (const char *digest)
{
  if (digest == NULL || !g_str_has_prefix (digest, "sha256:") || strlen (digest) != 71)
    return FALSE;
  for (const char *p = digest + 7; *p; p++)
    if (!g_ascii_isxdigit (*p) || g_ascii_isupper (*p))
      return FALSE;
  return TRUE;
}
