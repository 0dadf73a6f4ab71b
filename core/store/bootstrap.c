/* Small images made from what the host has, since berth has no registry:
 * busybox from busybox-static, debian through debootstrap. */
#include "config.h"
#include "store-internal.h"
#include <berth/archive.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static gboolean
put_file (const char *root, const char *rel, const char *contents, mode_t mode, GError **error)
{
  g_autofree char *path = g_build_filename (root, rel, NULL);
  g_autofree char *dir = g_path_get_dirname (path);
  if (!berth_mkdir_p (dir, 0755, error))
    return FALSE;
  if (!g_file_set_contents_full (path, contents, -1, G_FILE_SET_CONTENTS_NONE, mode, error))
    return FALSE;
  if (chmod (path, mode) < 0)
    return berth_fail_errno (error, errno, "chmod %s", path);
  return TRUE;
}

static const char *
find_busybox (GError **error)
{
  static const char *const candidates[] = { "/bin/busybox", "/usr/bin/busybox" };
  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    if (g_file_test (candidates[i], G_FILE_TEST_IS_EXECUTABLE))
      return candidates[i];
  berth_fail (error, BERTH_ERROR_NOT_FOUND,
              "busybox not found on this host (apt-get install busybox-static)");
  return NULL;
}

static gboolean
make_dirs (const char *root, GError **error)
{
  static const struct { const char *path; mode_t mode; } dirs[] = {
    { "bin", 0755 }, { "sbin", 0755 }, { "usr/bin", 0755 }, { "usr/sbin", 0755 },
    { "etc", 0755 }, { "dev", 0755 }, { "proc", 0555 }, { "sys", 0555 }, { "tmp", 01777 },
    { "root", 0700 }, { "var/tmp", 01777 }, { "run", 0755 }, { "home", 0755 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *p = g_build_filename (root, dirs[i].path, NULL);
      if (!berth_mkdir_p (p, 0755, error))
        return FALSE;
      if (chmod (p, dirs[i].mode) < 0)
        return berth_fail_errno (error, errno, "chmod %s", p);
    }
  return TRUE;
}

static gboolean
link_applets (const char *busybox, const char *root, GError **error)
{
  g_autofree char *out = NULL;
  const char *argv[] = { busybox, "--list-full", NULL };
  int status;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out,
                     NULL, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    return berth_fail (error, BERTH_ERROR_FAILED, "%s --list-full failed", busybox);
  g_auto (GStrv) applets = g_strsplit (out, "\n", -1);
  for (char **a = applets; *a; a++)
    {
      g_autofree char *base = g_path_get_basename (*a);
      /* The list names busybox itself: linking it over the binary would loop. */
      if (**a == '\0' || strcmp (base, "busybox") == 0 || strstr (*a, ".."))
        continue;
      g_autofree char *link = g_build_filename (root, *a, NULL);
      g_autofree char *dir = g_path_get_dirname (link);
      if (!berth_mkdir_p (dir, 0755, error))
        return FALSE;
      if (symlink ("/bin/busybox", link) < 0 && errno != EEXIST)
        return berth_fail_errno (error, errno, "symlink %s", link);
    }
  return TRUE;
}

static gboolean
build_busybox_tree (const char *root, GError **error)
{
  const char *busybox = find_busybox (error);
  if (busybox == NULL || !make_dirs (root, error))
    return FALSE;
  g_autofree char *data = NULL;
  gsize len;
  if (!g_file_get_contents (busybox, &data, &len, error))
    return FALSE;
  g_autofree char *dst = g_build_filename (root, "bin", "busybox", NULL);
  if (!g_file_set_contents_full (dst, data, len, G_FILE_SET_CONTENTS_NONE, 0755, error) ||
      chmod (dst, 0755) < 0)
    return error && *error ? FALSE : berth_fail_errno (error, errno, "chmod %s", dst);
  return link_applets (busybox, root, error) &&
         put_file (root, "etc/passwd",
                   "root:x:0:0:root:/root:/bin/sh\n"
                   "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n", 0644, error) &&
         put_file (root, "etc/group", "root:x:0:\nnogroup:x:65534:\n", 0644, error) &&
         put_file (root, "etc/hostname", "berth\n", 0644, error) &&
         put_file (root, "etc/os-release",
                   "NAME=\"berth busybox\"\nID=busybox\nPRETTY_NAME=\"busybox (berth bootstrap)\"\n",
                   0644, error);
}

static gboolean
build_debian_tree (const char *root, GError **error)
{
  g_autofree char *debootstrap = g_find_program_in_path ("debootstrap");
  if (debootstrap == NULL)
    return berth_fail (error, BERTH_ERROR_NOT_FOUND,
                       "debootstrap not found (apt-get install debootstrap)");
  const char *argv[] = { debootstrap, "--variant=minbase", "bookworm", root,
                         "http://deb.debian.org/debian", NULL };
  int status;
  g_autofree char *err = NULL;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                     &err, &status, error))
    return FALSE;
  if (!g_spawn_check_wait_status (status, NULL))
    {
      g_auto (GStrv) lines = g_strsplit (g_strstrip (err), "\n", -1);
      guint n = g_strv_length (lines);
      return berth_fail (error, BERTH_ERROR_FAILED, "debootstrap failed: %s",
                         n ? lines[n - 1] : "no message");
    }
  /* Device nodes do not belong in a layer: the runtime makes /dev. */
  g_autofree char *dev = g_build_filename (root, "dev", NULL);
  return berth_rm_rf (dev, error) && berth_mkdir_p (dev, 0755, error);
}

static int
tar_tree (const char *root, const char *tar_path, GError **error)
{
  int out = open (tar_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0)
    return berth_fail_errno (error, errno, "create %s", tar_path), -1;
  int dir = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0)
    {
      close (out);
      return berth_fail_errno (error, errno, "open %s", root), -1;
    }
  g_autoptr (BerthTarWriter) w = berth_tar_writer_new (out, error);
  gboolean ok = w && berth_tar_writer_add_tree (w, dir, error) && berth_tar_writer_finish (w, error);
  close (dir);
  if (ok && lseek (out, 0, SEEK_SET) < 0)
    ok = berth_fail_errno (error, errno, "seek %s", tar_path);
  if (!ok)
    {
      close (out);
      return -1;
    }
  return out;
}

char *
berth_image_bootstrap (BerthStore *store, const char *what, const char *ref, const char *driver,
                       GError **error)
{
  gboolean busybox = g_strcmp0 (what, "busybox") == 0;
  if (!busybox && g_strcmp0 (what, "debian") != 0)
    {
      berth_fail (error, BERTH_ERROR_INVALID, "cannot bootstrap '%s': choose busybox or debian", what);
      return NULL;
    }
  if (ref == NULL)
    ref = busybox ? "busybox:latest" : "debian:bookworm";
  if (!berth_parse_reference (ref, NULL, NULL, error))
    return NULL;
  /* The tree is built in staging without the store lock (debootstrap takes
   * minutes); the import takes it again for its commit. */
  berth_store_unlock (store);
  g_autofree char *work = berth_store_mkdtemp (store, error);
  if (work == NULL)
    return NULL;
  g_autofree char *root = g_build_filename (work, "rootfs", NULL);
  g_autofree char *tar = g_build_filename (work, "rootfs.tar", NULL);
  char *id = NULL;
  char *busybox_cmd[] = { "/bin/sh", NULL };
  char *debian_cmd[] = { "/bin/bash", NULL };
  g_autofree char *created_by = g_strdup_printf ("berth image bootstrap %s", what);
  if (berth_mkdir_p (root, 0755, error) &&
      (busybox ? build_busybox_tree (root, error) : build_debian_tree (root, error)))
    {
      int fd = tar_tree (root, tar, error);
      if (fd >= 0)
        {
          id = berth_image_import_tree_fd (store, fd, ref, driver,
                                           busybox ? busybox_cmd : debian_cmd, created_by, error);
          close (fd);
        }
    }
  berth_rm_rf (work, NULL);
  return id;
}
