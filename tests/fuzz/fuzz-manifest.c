/* The image archive reader (berth_image_archive_read, core/store/imageio.c), as
 * `berth image load` runs it once the archive is unpacked: each input is
 * tried as a docker-save manifest.json and then as an OCI index.json, in a
 * directory that also holds a real image config and OCI manifest for the
 * input to name. The input is the blob sha256:ffff...ffff as well, so an
 * index can name itself as the manifest. */
#include "config.h"
#include "fuzz-common.h"
#include <berth/store.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SELF_BLOB "blobs/sha256/ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"

/* What the inputs can point at. The digests are the files' real ones:
 * dictionary entries (tests/fuzz/dict/manifest.dict) name them. */
static const char config_json[] =
  "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/bin/sh\"]},"
  "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":["
  "\"sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef\"]}}";

typedef struct {
  char *dir;       /* the unpacked archive */
  int dir_fd;
} Archive;

/* Process-wide, as libFuzzer's entry points take no context. */
static Archive archive;

static void
put (const char *relpath, const void *data, size_t size)
{
  g_autofree char *path = g_build_filename (archive.dir, relpath, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  if (g_mkdir_with_parents (parent, 0755) < 0)
    {
      fprintf (stderr, "fuzz-manifest: mkdir %s: %s\n", parent, g_strerror (errno));
      abort ();
    }
  fuzz_write_file (path, data, size);
}

static void
put_blob (const char *data)
{
  g_autofree char *hex = g_compute_checksum_for_string (G_CHECKSUM_SHA256, data, -1);
  g_autofree char *rel = g_strdup_printf ("blobs/sha256/%s", hex);
  put (rel, data, strlen (data));
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  archive.dir = g_build_filename (fuzz_scratch_dir (), "archive", NULL);
  g_autofree char *config_hex = g_compute_checksum_for_string (G_CHECKSUM_SHA256, config_json, -1);
  g_autofree char *oci_manifest = g_strdup_printf (
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
    "\"digest\":\"sha256:%s\",\"size\":%zu},\"layers\":[{\"mediaType\":"
    "\"application/vnd.oci.image.layer.v1.tar\",\"digest\":"
    "\"sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef\",\"size\":1024}]}",
    config_hex, strlen (config_json));
  put ("config.json", config_json, strlen (config_json));
  put_blob (config_json);
  put_blob (oci_manifest);
  put ("layer.tar", "", 0);
  archive.dir_fd = open (archive.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (archive.dir_fd < 0)
    abort ();
  return 0;
}

static void
read_as (const char *relpath, const uint8_t *data, size_t size)
{
  put (relpath, data, size);
  g_autoptr (GError) error = NULL;
  /* Refusing the input is fine; crashing, leaking or reading outside is not. */
  g_autoptr (GPtrArray) items = berth_image_archive_read (archive.dir_fd, &error);
  g_assert ((items == NULL) == (error != NULL));
  fuzz_report (relpath, error);
  if (unlinkat (archive.dir_fd, relpath, 0) < 0)
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  read_as ("manifest.json", data, size);
  put (SELF_BLOB, data, size);
  read_as ("index.json", data, size);
  if (unlinkat (archive.dir_fd, SELF_BLOB, 0) < 0)
    abort ();
  return 0;
}
