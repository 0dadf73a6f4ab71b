/* What the libFuzzer harnesses share (docs/fuzzing.md): scratch space on
 * tmpfs and a way to hand an input to a parser that reads a file. A harness
 * aborts on a failure of its own (not of the parser under test): one that
 * cannot set up its input tests nothing, and must not look like a pass. */
#pragma once
#include <glib.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* This process's private directory, on /dev/shm when there is one (a
 * fuzzer writes thousands of files a second); made on the first call,
 * removed at exit. */
const char *fuzz_scratch_dir (void);
/* Write @size bytes of @data to @path, replacing it. */
void fuzz_write_file (const char *path, const uint8_t *data, size_t size);
/* Keep this process from writing under /run: it gets a mount namespace of
 * its own with a read-only tmpfs there. berth_seccomp_compile keeps a cache
 * under /run/berth/seccomp, one file per profile, that a fuzzer would fill
 * with thousands; writing it is best effort, so it is simply skipped. */
void fuzz_isolate_run (void);
/* With FUZZ_VERBOSE set, print why the parser refused an input (or that
 * it took it): for checking that the seeds reach deep, not for fuzzing. */
void fuzz_report (const char *harness, GError *error);
/* Abort with @what and @error's message, when @error is set. */
void fuzz_check (GError *error, const char *what);

G_END_DECLS
