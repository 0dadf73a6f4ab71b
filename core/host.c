#include "config.h"
#include <berth/host.h>
#include <berth/storage.h>
#include <berth/fsutil.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <linux/magic.h>

const char *
berth_host_cgroup_layout (void)
{
  struct statfs sfs;
  if (statfs ("/sys/fs/cgroup", &sfs) < 0)
    return "none";
  if (sfs.f_type == CGROUP2_SUPER_MAGIC)
    return "v2";
  if (sfs.f_type != TMPFS_MAGIC)
    return "none";
  if (statfs ("/sys/fs/cgroup/unified", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
    return "hybrid";
  return "v1";
}

char *
berth_host_kernel (void)
{
  struct utsname u;
  if (uname (&u) < 0)
    return g_strdup ("unknown");
  return g_strdup_printf ("%s %s %s", u.sysname, u.release, u.machine);
}

gboolean
berth_host_has_filesystem (const char *fstype)
{
  g_autofree char *contents = NULL;
  if (!g_file_get_contents ("/proc/filesystems", &contents, NULL, NULL))
    return FALSE;
  g_auto (GStrv) lines = g_strsplit (contents, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      const char *name = strrchr (*l, '\t');
      if (g_strcmp0 (name ? name + 1 : *l, fstype) == 0)
        return TRUE;
    }
  return FALSE;
}

char *
berth_host_existing_ancestor (const char *path)
{
  g_autofree char *p = g_canonicalize_filename (path, NULL);
  struct stat st;
  while (stat (p, &st) < 0 && strcmp (p, "/") != 0)
    {
      char *parent = g_path_get_dirname (p);
      g_free (p);
      p = parent;
    }
  return g_steal_pointer (&p);
}

static gboolean
driver_works (const char *root, const char *name, char **reason)
{
  const BerthStorageOps *ops = berth_storage_driver_lookup (name);
  if (ops == NULL)
    {
      *reason = g_strdup_printf ("%s is not built into this berth", name);
      return FALSE;
    }
  g_autofree char *home = g_build_filename (root, "storage", name, NULL);
  g_autoptr (GError) error = NULL;
  if (!ops->probe (home, &error))
    {
      *reason = g_strdup (error->message);
      return FALSE;
    }
  return TRUE;
}

const char *
berth_host_pick_driver (const char *root, char **rule)
{
  g_autofree char *at = berth_host_existing_ancestor (root);
  g_autofree char *why_not = NULL;
  if (strcmp (berth_fs_type_name (at), "btrfs") == 0 && driver_works (root, "btrfs", &why_not))
    {
      *rule = g_strdup_printf ("the store %s is on btrfs", root);
      return "btrfs";
    }
  g_clear_pointer (&why_not, g_free);
  if (driver_works (root, "overlay", &why_not))
    {
      *rule = g_strdup_printf ("the store %s is on %s, where overlay works", root,
                               berth_fs_type_name (at));
      return "overlay";
    }
  g_autofree char *aufs_not = NULL;
  if (driver_works (root, "aufs", &aufs_not))
    {
      *rule = g_strdup_printf ("overlay does not work here (%s), aufs does", why_not);
      return "aufs";
    }
  /* devicemapper is never picked: loop-lvm is for testing, and direct-lvm
   * needs a pool the operator made and names. */
  *rule = g_strdup_printf ("overlay does not work here (%s), nor aufs (%s)", why_not, aufs_not);
  return "vfs";
}
