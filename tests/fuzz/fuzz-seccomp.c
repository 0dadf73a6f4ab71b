/* The Docker seccomp profile reader (`berth run --security-opt
 * seccomp=FILE`: berth_spec_build reads the file, core/runtime/spec.c), then the
 * OCI profile it makes compiled to BPF as the native exec driver compiles
 * it (berth_seccomp_compile, drivers/exec/native/seccomp.c), unloaded. */
#include "config.h"
#include "fuzz-common.h"
#include "../../drivers/exec/native/native.h"
#include <berth/json.h>
#include <berth/spec.h>

#define CONTAINER_ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Process-wide, as libFuzzer's entry points take no context. */
static char *profile_path;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_isolate_run ();
  profile_path = g_build_filename (fuzz_scratch_dir (), "profile.json", NULL);
  return 0;
}

/* The capabilities a profile's includes and excludes test are the
 * container's: the input's first byte picks from a default set, one with
 * CAP_SYS_ADMIN added, and one with everything dropped. */
static void
pick_caps (uint8_t selector, BerthSpecOptions *options)
{
  static char *sys_admin[] = { "SYS_ADMIN", NULL };
  static char *all[] = { "ALL", NULL };
  if (selector % 3 == 1)
    options->cap_add = sys_admin;
  else if (selector % 3 == 2)
    options->cap_drop = all;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  fuzz_write_file (profile_path, data + 1, size - 1);
  BerthSpecOptions options = { .seccomp = profile_path };
  pick_caps (data[0], &options);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) spec = berth_spec_build (CONTAINER_ID, NULL, NULL, &options, &error);
  if (spec == NULL)
    return fuzz_report ("fuzz-seccomp", error), 0;
  JsonObject *linux_ = berth_json_object (berth_json_node_object (spec), "linux");
  JsonObject *seccomp = berth_json_object (linux_, "seccomp");
  g_assert (seccomp != NULL);
  g_autoptr (BerthSeccomp) filter = berth_seccomp_compile (seccomp, &error);
  g_assert ((filter == NULL) == (error != NULL));
  fuzz_report ("fuzz-seccomp: compile", error);
  return 0;
}
