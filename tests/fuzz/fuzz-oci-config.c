/* The OCI runtime config reader of berth-runc: a bundle's config.json read
 * (berth_oci_read_bundle, core/runtime/oci.c) and turned into the plan of the
 * container's first process as the native exec driver makes it before
 * cloning (berth_init_plan_new, drivers/exec/native/plan.c: process, user,
 * capabilities, rlimits, mounts, devices, sysctls, seccomp compiled to
 * BPF). Nothing is run. */
#include "config.h"
#include "fuzz-common.h"
#include "../../drivers/exec/native/native.h"
#include <berth/json.h>
#include <berth/oci.h>
#include <sched.h>
#include <stdlib.h>

/* The namespaces of runc's default spec. */
#define NS_NEW (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET)

typedef struct {
  char *bundle;
  char *config;
  char *rootfs;
} Bundle;

/* Process-wide, as libFuzzer's entry points take no context. */
static Bundle bundle;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_isolate_run ();
  bundle.bundle = g_build_filename (fuzz_scratch_dir (), "bundle", NULL);
  bundle.config = g_build_filename (bundle.bundle, "config.json", NULL);
  bundle.rootfs = g_build_filename (bundle.bundle, "rootfs", NULL);
  if (g_mkdir_with_parents (bundle.rootfs, 0755) < 0)
    abort ();
  /* The plan holds a sealed copy of berth's exec helper; any file does here. */
  g_autofree char *helper = g_build_filename (bundle.bundle, "exec-helper", NULL);
  fuzz_write_file (helper, (const uint8_t *) "#!/bin/false\n", 13);
  g_setenv ("BERTH_EXEC_HELPER", helper, TRUE);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_write_file (bundle.config, data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) spec = berth_oci_read_bundle (bundle.bundle, &error);
  if (spec == NULL)
    return fuzz_report ("fuzz-oci-config", error), 0;
  g_autoptr (BerthInitPlan) plan = berth_init_plan_new (berth_json_node_object (spec), bundle.rootfs,
                                                        NS_NEW, 0, NULL, &error);
  g_assert ((plan == NULL) == (error != NULL));
  fuzz_report ("fuzz-oci-config: plan", error);
  return 0;
}
