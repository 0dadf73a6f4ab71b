/* The image config reader (berth_image_config_parse, core/store/image.c), which
 * `berth image load` and commit run on every config they store, then what
 * berth does with a config it accepted: derive a committed image's config
 * from it (berth_image_config_new) and build a container's OCI config from
 * its Env, Cmd, Entrypoint, User and WorkingDir (berth_spec_build). */
#include "config.h"
#include "fuzz-common.h"
#include <berth/spec.h>
#include <berth/store.h>

#define CONTAINER_ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DIFF_ID "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_auto (GStrv) diff_ids = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) config = berth_image_config_parse ((const char *) data, size, &diff_ids,
                                                          &error);
  if (config == NULL)
    return fuzz_report ("fuzz-image-config", error), 0;
  gsize len = 0;
  char *cmd[] = { "/bin/true", NULL };
  g_autofree char *child = berth_image_config_new (config, DIFF_ID, "fuzz", cmd, &len);
  g_assert (child != NULL && len > 0);
  /* No rootfs: user and group names stay unresolved, as for a spec built
   * before the layers are mounted. */
  BerthSpecOptions options = { 0 };
  g_autoptr (JsonNode) spec = berth_spec_build (CONTAINER_ID, config, NULL, &options, &error);
  g_assert ((spec == NULL) == (error != NULL));
  fuzz_report ("fuzz-image-config: spec", error);
  return 0;
}
