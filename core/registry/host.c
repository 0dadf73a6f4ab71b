#include "config.h"
#include <berth/host.h>
#include <berth/network.h>
#include <berth/kernel.h>
#include <berth/error.h>
#include <berth/exec.h>
#include <berth/family.h>
#include <berth/storage.h>
#include <berth/fsutil.h>
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>
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

static const char *
cgroup_where (const char *layout)
{
  if (strcmp (layout, "v2") == 0)
    return "cgroup2 at /sys/fs/cgroup";
  if (strcmp (layout, "hybrid") == 0)
    return "v1 hierarchies under /sys/fs/cgroup, cgroup2 at /sys/fs/cgroup/unified";
  if (strcmp (layout, "v1") == 0)
    return "v1 hierarchies under /sys/fs/cgroup";
  return "no cgroup filesystem at /sys/fs/cgroup";
}

/* A v1 mount's super options list its controllers among flags
 * (cgroup1_show_options); "name=" and "release_agent=" carry a '='. */
gboolean
berth_host_cgroup_v1_is_controller (const char *option)
{
  static const char *const flags[] = { "rw", "ro", "noprefix", "xattr", "cpuset_v2_mode",
                                       "favordynmods", "clone_children" };
  if (*option == '\0' || strchr (option, '='))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (flags); i++)
    if (strcmp (option, flags[i]) == 0)
      return FALSE;
  return TRUE;
}

/* One mountinfo line: "ID PARENT DEV ROOT MOUNTPOINT OPTS [TAGS] - TYPE SOURCE SUPER" */
static void
add_v1_controllers (GPtrArray *names, const char *line)
{
  const char *sep = strstr (line, " - cgroup ");
  if (sep == NULL)
    return;
  g_auto (GStrv) tail = g_strsplit (sep + strlen (" - "), " ", 3);
  if (g_strv_length (tail) < 3)
    return;
  g_auto (GStrv) options = g_strsplit (tail[2], ",", -1);
  for (char **o = options; *o; o++)
    if (berth_host_cgroup_v1_is_controller (*o) && !g_ptr_array_find_with_equal_func (names, *o, g_str_equal, NULL))
      g_ptr_array_add (names, g_strdup (*o));
}

/* Mountinfo, not /proc/cgroups: a hierarchy bound in another mount
 * namespace is of no use to a container started from this one. */
static char *
v1_controllers (GError **error)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/self/mountinfo", &text, NULL, error))
    return NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    add_v1_controllers (names, *l);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

static char *
v2_controllers (const char *mount, GError **error)
{
  g_autofree char *file = g_build_filename (mount, "cgroup.controllers", NULL);
  g_autofree char *text = NULL;
  if (!g_file_get_contents (file, &text, NULL, error))
    return NULL;
  return g_strdup (g_strstrip (text));
}

static char *
cgroup_controllers (const char *layout, GError **error)
{
  if (strcmp (layout, "v2") == 0)
    return v2_controllers ("/sys/fs/cgroup", error);
  if (strcmp (layout, "none") == 0)
    return g_strdup ("");
  g_autofree char *v1 = v1_controllers (error);
  if (v1 == NULL || strcmp (layout, "v1") == 0)
    return g_steal_pointer (&v1);
  g_autofree char *v2 = v2_controllers ("/sys/fs/cgroup/unified", error);
  if (v2 == NULL)
    return NULL;
  return g_strdup_printf ("%s; cgroup2: %s", *v1 ? v1 : "none", *v2 ? v2 : "none");
}

/* Those /proc/cgroups lists as enabled that no word of @offered names: on a
 * v1 or hybrid host, what the kernel has but no hierarchy mounted here holds
 * (Debian's 6.12 has no v1 cpuset or memory). */
static char *
unheld_controllers (const char *offered, GError **error)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/cgroups", &text, NULL, error))
    return NULL;
  g_auto (GStrv) held = g_strsplit_set (offered, " ;", -1);
  g_autoptr (GPtrArray) unheld = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      /* subsys_name hierarchy num_cgroups enabled */
      g_auto (GStrv) f = g_strsplit_set (*l, " \t", -1);
      if (**l == '#' || g_strv_length (f) < 4 || strcmp (f[3], "1") != 0)
        continue;
      if (!g_strv_contains ((const char *const *) held, f[0]))
        g_ptr_array_add (unheld, g_strdup (f[0]));
    }
  g_ptr_array_add (unheld, NULL);
  return g_strjoinv (" ", (char **) unheld->pdata);
}

/* Takes @value. */
static void
add_pair (GPtrArray *pairs, const char *key, char *value)
{
  g_ptr_array_add (pairs, g_strdup (key));
  g_ptr_array_add (pairs, value);
}

void
berth_host_cgroup_status (GPtrArray *pairs)
{
  const char *layout = berth_host_cgroup_layout ();
  add_pair (pairs, "cgroup layout", g_strdup_printf ("%s (%s)", layout, cgroup_where (layout)));
  g_autoptr (GError) error = NULL;
  g_autofree char *controllers = cgroup_controllers (layout, &error);
  if (controllers == NULL)
    add_pair (pairs, "cgroup controllers", g_strdup_printf ("unknown: %s", error->message));
  else
    add_pair (pairs, "cgroup controllers", g_strdup (*controllers ? controllers : "none"));
  /* cgroup2 lists no v1-only controller (net_cls, devices...), so only a
   * host with v1 hierarchies can be told which ones it lacks. */
  if (controllers == NULL || (strcmp (layout, "v1") != 0 && strcmp (layout, "hybrid") != 0))
    return;
  g_autofree char *unheld = unheld_controllers (controllers, &error);
  if (unheld == NULL)
    add_pair (pairs, "controllers missing", g_strdup_printf ("unknown: %s", error->message));
  else if (*unheld)
    add_pair (pairs, "controllers missing",
              g_strdup_printf ("%s (the kernel has them, but no hierarchy mounted here holds "
                               "them: limits on them are refused)", unheld));
}

/* Those this kernel has. Debian's and Ubuntu's own limit only unprivileged
 * users, and berth runs as root: shown so that no one hunts them down. */
static char *
userns_sysctls (void)
{
  static const char *const names[] = { "user.max_user_namespaces",
                                       "kernel.unprivileged_userns_clone",
                                       "kernel.apparmor_restrict_unprivileged_userns" };
  g_autoptr (GString) out = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *rel = g_strdelimit (g_strdup (names[i]), ".", '/');
      g_autofree char *path = g_build_filename ("/proc/sys", rel, NULL);
      g_autofree char *value = NULL;
      if (!g_file_get_contents (path, &value, NULL, NULL))
        continue;
      g_string_append_printf (out, "%s%s %s", out->len ? ", " : "", names[i], g_strstrip (value));
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* Tried for real in a child: a sysctl, an LSM or a seccomp filter around
 * berth can each refuse, and only unshare's errno says which. */
static gboolean
userns_works (GError **error)
{
  if (access ("/proc/self/ns/user", F_OK) < 0)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED,
                       "the kernel lacks user namespaces (/proc/self/ns/user)");
  pid_t pid = fork ();
  if (pid < 0)
    return berth_fail_errno (error, errno, "fork");
  if (pid == 0)
    _exit (unshare (CLONE_NEWUSER) == 0 ? 0 : errno);
  int status;
  while (waitpid (pid, &status, 0) < 0)
    if (errno != EINTR)
      return berth_fail_errno (error, errno, "wait for the user-namespace probe");
  if (!WIFEXITED (status))
    return berth_fail (error, BERTH_ERROR_FAILED, "the user-namespace probe died (wait status %d)",
                       status);
  if (WEXITSTATUS (status) != 0)
    return berth_fail_errno (error, WEXITSTATUS (status), "unshare(CLONE_NEWUSER)");
  return TRUE;
}

static gboolean
idmap_works (GError **error)
{
  g_autofree char *why = NULL;
  if (berth_kernel_feature_probe ("mount_setattr MOUNT_ATTR_IDMAP", &why) == BERTH_FEATURE_YES)
    return TRUE;
  return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "mount_setattr: %s (Linux 5.12+)", why);
}

void
berth_host_userns_status (GPtrArray *pairs)
{
  g_autofree char *sysctls = userns_sysctls ();
  const char *limits = *sysctls ? sysctls : "no sysctl limits them";
  g_autoptr (GError) error = NULL;
  if (userns_works (&error))
    add_pair (pairs, "user namespaces", g_strdup_printf ("yes (%s)", limits));
  else
    add_pair (pairs, "user namespaces", g_strdup_printf ("no: %s (%s)", error->message, limits));
  g_clear_error (&error);
  if (idmap_works (&error))
    add_pair (pairs, "id-mapped mounts",
              g_strdup ("yes: the kernel has mount_setattr; each filesystem decides"));
  else
    add_pair (pairs, "id-mapped mounts",
              g_strdup_printf ("no: %s; in a user namespace the image's files keep their host "
                               "owners", error->message));
}

/* core/runtime/create.c takes the same one when none is named. */
const char *
berth_host_default_exec_driver (const char **rule)
{
  *rule = "built in; --exec-driver on create or run picks another";
  return berth_exec_family_for (BERTH_EXEC_DEFAULT)->name;
}

const char *
berth_host_default_network (char **rule)
{
  g_autoptr (GError) error = NULL;
  const BerthNetworkOps *ops = berth_network_driver_lookup ("bridge", &error);
  if (ops && berth_network_probe (ops, &error))
    {
      *rule = g_strdup ("the bridge driver works here; --network none, host or NAME picks another");
      return "bridge";
    }
  *rule = g_strdup_printf ("loopback only: %s", error->message);
  return "none";
}

char *
berth_host_kernel (void)
{
  struct utsname u;
  if (uname (&u) < 0)
    return g_strdup ("unknown");
  return g_strdup_printf ("%s %s %s", u.sysname, u.release, u.machine);
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

/* The storage table's default rules, tried in its order. */
const char *
berth_host_pick_driver (const char *root, char **rule)
{
  g_autofree char *at = berth_host_existing_ancestor (root);
  const char *fs = berth_fs_type_name (at);
  /* "overlay does not work here (why), nor aufs (why)" */
  g_autoptr (GString) not_here = g_string_new (NULL);
  for (const BerthStorageFamily *f = berth_storage_families; f->name; f++)
    {
      g_autoptr (GError) error = NULL;
      switch (f->default_rule)
        {
        case BERTH_DEFAULT_NEVER:
          break;
        case BERTH_DEFAULT_ON_FS:
          if (strcmp (fs, f->store_fs) == 0 && berth_storage_probe (root, f->name, NULL))
            {
              *rule = g_strdup_printf ("the store %s is on %s", root, fs);
              return f->name;
            }
          break;
        case BERTH_DEFAULT_IF_WORKS:
          if (berth_storage_probe (root, f->name, &error))
            {
              *rule = not_here->len
                          ? g_strdup_printf ("%s, %s does", not_here->str, f->name)
                          : g_strdup_printf ("the store %s is on %s, where %s works", root, fs,
                                             f->name);
              return f->name;
            }
          g_string_append_printf (not_here, not_here->len ? ", nor %s (%s)"
                                                          : "%s does not work here (%s)",
                                  f->name, error->message);
          break;
        case BERTH_DEFAULT_FALLBACK:
          *rule = not_here->len ? g_strdup (not_here->str)
                                : g_strdup_printf ("no driver before %s has a rule for here", f->name);
          return f->name;
        }
    }
  /* A table without a fallback breaks its contract (tests/test-storage.c
   * checks it); the first built driver rather than none. */
  *rule = g_strdup ("no default rule of the storage table matched");
  return berth_storage_drivers ()[0]->name;
}
