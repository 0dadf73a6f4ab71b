/* berth-runc against the OCI runtime spec, feature by feature, checked as a
 * user would: a bundle from `berth-runc spec` changed for the case, and a
 * sh script inside the container printing what it sees, compared whole.
 * Where the host lacks the kernel feature the case is skipped, saying why.
 *
 * Each case's container is conf-NAME-PID (several runs may share the
 * host), in the cgroup /berth-conf/conf-NAME-PID. */
#include "config.h"
#include "../testutil.h"
#include "oci-fixture.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_PARENT "/berth-conf"

typedef struct {
  OciFixture oci;
  char *name;   /* the case's name: the test data */
  char *id;     /* conf-NAME-PID */
  char *cgroup; /* /berth-conf/ID */
} Conf;

/* ---- the fixture ---- */

/* Where a cgroup of @controller lives on the host: /sys/fs/cgroup/CONTROLLER
 * (v1), else the cgroup2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified
 * in the hybrid layout). */
static char *
host_hierarchy (const char *controller)
{
  struct statfs sfs;
  if (statfs (CGROUP_ROOT, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
    return g_strdup (CGROUP_ROOT);
  g_autofree char *v1 = g_build_filename (CGROUP_ROOT, controller, NULL);
  if (controller && g_file_test (v1, G_FILE_TEST_IS_DIR))
    return g_steal_pointer (&v1);
  return g_build_filename (CGROUP_ROOT, "unified", NULL);
}

static gboolean
host_is_v1 (const char *hierarchy)
{
  struct statfs sfs;
  return statfs (hierarchy, &sfs) == 0 && sfs.f_type != CGROUP2_SUPER_MAGIC;
}

/* Every directory the cgroup @path can have on this host: one per v1
 * hierarchy, and the cgroup2 one. */
static GPtrArray *
host_cgroup_dirs (const char *path)
{
  GPtrArray *dirs = g_ptr_array_new_with_free_func (g_free);
  struct statfs sfs;
  if (statfs (CGROUP_ROOT, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
    {
      g_ptr_array_add (dirs, g_strconcat (CGROUP_ROOT, path, NULL));
      return dirs;
    }
  g_autoptr (GDir) d = g_dir_open (CGROUP_ROOT, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree char *h = g_build_filename (CGROUP_ROOT, name, NULL);
      if (g_file_test (h, G_FILE_TEST_IS_DIR) && !g_file_test (h, G_FILE_TEST_IS_SYMLINK))
        g_ptr_array_add (dirs, g_strconcat (h, path, NULL));
    }
  return dirs;
}

static void
conf_setup (Conf *c, gconstpointer data)
{
  oci_fixture_setup (&c->oci, "berth-conf");
  c->name = g_strdup (data);
  c->id = g_strdup_printf ("conf-%s-%d", c->name, (int) getpid ());
  c->cgroup = g_strdup_printf ("%s/%s", CGROUP_PARENT, c->id);
  g_autofree char *json = g_strdup_printf ("\"%s\"", c->cgroup);
  oci_config_set (&c->oci, "linux.cgroupsPath", json);
}

/* After the fixture's delete --force of what is left: a cgroup a case that
 * aborted midway may have left behind. */
static void
conf_teardown (Conf *c, gconstpointer data)
{
  (void) data;
  oci_fixture_teardown (&c->oci, NULL);
  g_autoptr (GPtrArray) dirs = host_cgroup_dirs (c->cgroup);
  for (guint i = 0; i < dirs->len; i++)
    if (rmdir (dirs->pdata[i]) < 0 && errno != ENOENT)
      g_printerr ("# rmdir %s: %s\n", (char *) dirs->pdata[i], g_strerror (errno));
  g_free (c->name);
  g_free (c->id);
  g_free (c->cgroup);
}

/* ---- helpers ---- */

/* run the bundle: the container's stdout (the scripts send their stderr
 * there too, in order); berth-runc must exit @want. */
static char *
conf_run (Conf *c, int want)
{
  char *out = NULL;
  g_autofree char *err = NULL;
  int rc = oci_runc (&c->oci, &out, &err, "run", "--bundle", c->oci.bundle, c->id, NULL);
  if (rc != want)
    g_test_message ("berth-runc run %s exited %d, not %d\n--- stdout:\n%s--- stderr:\n%s", c->id,
                    rc, want, out, err);
  g_assert_cmpint (rc, ==, want);
  return out;
}

static void
write_rootfs_file (Conf *c, const char *rel, const char *contents)
{
  g_autofree char *path = oci_rootfs_path (&c->oci, rel);
  g_autofree char *dir = g_path_get_dirname (path);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  tu_write_file (path, contents, 0644);
}

static char *
read_trimmed (const char *path)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return NULL;
  return g_strdup (g_strstrip (text));
}

/* A g_test_skip that says why in the TAP output. */
static void G_GNUC_PRINTF (1, 2)
skip_because (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *why = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_test_message ("skipped: %s", why);
  g_test_skip (why);
}

/* A few bytes of @path on the host: is there anything to hide? */
static gboolean
host_file_has_content (const char *path)
{
  char byte;
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return FALSE;
  gboolean some = read (fd, &byte, 1) == 1;
  close (fd);
  return some;
}

static gboolean
host_dir_has_entries (const char *path)
{
  g_autoptr (GDir) d = g_dir_open (path, 0, NULL);
  return d && g_dir_read_name (d) != NULL;
}

/* ---- masked and read-only paths ---- */

/* maskedPaths: a masked file reads empty, a masked directory is an empty
 * read-only one, beside an unmasked file with the same contents. The
 * spec's own masked paths that have something to hide on this host
 * (/proc/kcore, /proc/timer_list, /sys/firmware...) read empty too. */
static void
test_masked_paths (Conf *c, gconstpointer data)
{
  (void) data;
  write_rootfs_file (c, "visible-file", "secret\n");
  write_rootfs_file (c, "masked-file", "secret\n");
  write_rootfs_file (c, "masked-dir/inner", "secret\n");
  g_autoptr (GString) script = g_string_new ("exec 2>&1\n"
                                             "echo \"visible-file: $(cat /visible-file)\"\n"
                                             "echo \"masked-file: $(cat /masked-file | wc -c)\"\n"
                                             "echo \"masked-dir: $(ls -A /masked-dir | wc -l)\"\n"
                                             "touch /masked-dir/new\n");
  g_autoptr (GString) want = g_string_new ("visible-file: secret\n"
                                           "masked-file: 0\n"
                                           "masked-dir: 0\n"
                                           "touch: /masked-dir/new: Read-only file system\n");
  g_autoptr (JsonNode) config = oci_config_read (&c->oci);
  JsonArray *masked = json_object_get_array_member (
      json_object_get_object_member (json_node_get_object (config), "linux"), "maskedPaths");
  g_assert_nonnull (masked);
  for (guint i = 0; i < json_array_get_length (masked); i++)
    {
      const char *p = json_array_get_string_element (masked, i);
      gboolean dir = g_file_test (p, G_FILE_TEST_IS_DIR);
      if (dir ? !host_dir_has_entries (p) : !host_file_has_content (p))
        continue; /* absent or empty here: masking it shows nothing */
      g_test_message ("also checked: the spec's masked %s", p);
      if (dir)
        g_string_append_printf (script, "echo \"%s: $(ls -A %s | wc -l)\"\n", p, p);
      else
        g_string_append_printf (script, "echo \"%s: $(head -c 64 %s | wc -c)\"\n", p, p);
      g_string_append_printf (want, "%s: 0\n", p);
    }
  oci_set_script (&c->oci, script->str);
  oci_config_append (&c->oci, "linux.maskedPaths", "\"/masked-file\"");
  oci_config_append (&c->oci, "linux.maskedPaths", "\"/masked-dir\"");
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==, want->str);
}

/* readonlyPaths: the spec's /proc/sys refuses a write with EROFS (not the
 * EPERM a missing capability would give), a directory of the rootfs made
 * read-only keeps its contents readable, and /tmp beside it is writable. */
static void
test_readonly_paths (Conf *c, gconstpointer data)
{
  (void) data;
  g_autoptr (JsonNode) config = oci_config_read (&c->oci);
  JsonArray *ro = json_object_get_array_member (
      json_object_get_object_member (json_node_get_object (config), "linux"), "readonlyPaths");
  gboolean has_proc_sys = FALSE;
  for (guint i = 0; ro && i < json_array_get_length (ro); i++)
    has_proc_sys |= g_strcmp0 (json_array_get_string_element (ro, i), "/proc/sys") == 0;
  g_assert_true (has_proc_sys);
  write_rootfs_file (c, "ro-dir/old", "kept\n");
  oci_set_script (&c->oci, "exec 2>&1\n"
                           "echo 1 > /proc/sys/kernel/domainname\n"
                           "awk '$5 == \"/proc/sys\" { split($6, o, \",\"); print \"/proc/sys:\", o[1] }' "
                           "/proc/self/mountinfo\n"
                           "touch /ro-dir/new\n"
                           "cat /ro-dir/old\n"
                           "touch /tmp/new && echo 'tmp: writable'\n");
  oci_config_append (&c->oci, "linux.readonlyPaths", "\"/ro-dir\"");
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==,
                   "sh: can't create /proc/sys/kernel/domainname: Read-only file system\n"
                   "/proc/sys: ro\n"
                   "touch: /ro-dir/new: Read-only file system\n"
                   "kept\n"
                   "tmp: writable\n");
  g_autofree char *created = oci_rootfs_path (&c->oci, "ro-dir/new");
  g_assert_false (g_file_test (created, G_FILE_TEST_EXISTS));
}

/* ---- hostname ---- */

static void
test_hostname (Conf *c, gconstpointer data)
{
  (void) data;
  oci_set_script (&c->oci, "exec 2>&1\nhostname\ncat /proc/sys/kernel/hostname\n");
  oci_config_set (&c->oci, "hostname", "\"conf-uts-name\"");
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==, "conf-uts-name\nconf-uts-name\n");
  /* In its own UTS namespace: the host's name is untouched. */
  g_assert_cmpstr (g_get_host_name (), !=, "conf-uts-name");
}

/* ---- user namespace ---- */

/* A user namespace with 65536 ids from 100000 (uids) and 200000 (gids):
 * the maps as given, and root inside. */
static void
test_user_namespace (Conf *c, gconstpointer data)
{
  (void) data;
  g_autofree char *max = read_trimmed ("/proc/sys/user/max_user_namespaces");
  if (!g_file_test ("/proc/self/ns/user", G_FILE_TEST_EXISTS) || g_strcmp0 (max, "0") == 0)
    {
      skip_because ("this kernel has no user namespaces (/proc/self/ns/user, "
                           "user.max_user_namespaces %s)", max ? max : "absent");
      return;
    }
  oci_set_script (&c->oci, "exec 2>&1\n"
                           "awk '{ print \"uid_map:\", $1, $2, $3 }' /proc/self/uid_map\n"
                           "awk '{ print \"gid_map:\", $1, $2, $3 }' /proc/self/gid_map\n"
                           "echo \"id: $(id -u) $(id -g)\"\n"
                           "grep -E '^(Uid|Gid):' /proc/self/status\n");
  oci_config_append (&c->oci, "linux.namespaces", "{\"type\": \"user\"}");
  oci_config_set (&c->oci, "linux.uidMappings",
                  "[{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}]");
  oci_config_set (&c->oci, "linux.gidMappings",
                  "[{\"containerID\": 0, \"hostID\": 200000, \"size\": 65536}]");
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==,
                   "uid_map: 0 100000 65536\n"
                   "gid_map: 0 200000 65536\n"
                   "id: 0 0\n"
                   "Uid:\t0\t0\t0\t0\n"
                   "Gid:\t0\t0\t0\t0\n");
}

/* ---- mounts ---- */

/* A tmpfs with a size: its options in mountinfo, and a write stopped at
 * exactly that size. A read-only bind of a host directory: its contents
 * visible, a write refused, nothing written on the host. */
static void
test_mounts (Conf *c, gconstpointer data)
{
  (void) data;
  g_autofree char *hostdir = g_build_filename (c->oci.dir, "hostdir", NULL);
  g_autofree char *greeting = g_build_filename (hostdir, "greeting", NULL);
  g_assert_cmpint (g_mkdir_with_parents (hostdir, 0755), ==, 0);
  tu_write_file (greeting, "hello from host\n", 0644);
  oci_set_script (&c->oci,
                  "exec 2>&1\n"
                  "awk '$5 == \"/scratch\" { print \"scratch:\", $(NF-2), $NF }' /proc/self/mountinfo\n"
                  "head -c 2000000 /dev/zero > /scratch/big 2>/dev/null\n"
                  "echo \"fill: exit $?, $(wc -c < /scratch/big) bytes\"\n"
                  "awk '$5 == \"/hostdata\" { split($6, o, \",\"); print \"hostdata:\", o[1] }' "
                  "/proc/self/mountinfo\n"
                  "cat /hostdata/greeting\n"
                  "touch /hostdata/new\n");
  oci_config_append (&c->oci, "mounts",
                     "{\"destination\": \"/scratch\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
                     " \"options\": [\"nosuid\", \"nodev\", \"size=1m\", \"mode=700\"]}");
  g_autofree char *bind = g_strdup_printf ("{\"destination\": \"/hostdata\", \"type\": \"bind\","
                                           " \"source\": \"%s\", \"options\": [\"rbind\", \"ro\"]}",
                                           hostdir);
  oci_config_append (&c->oci, "mounts", bind);
  g_autofree char *out = conf_run (c, 1); /* touch's failure */
  g_assert_cmpstr (out, ==,
                   "scratch: tmpfs rw,size=1024k,mode=700\n"
                   "fill: exit 1, 1048576 bytes\n"
                   "hostdata: ro\n"
                   "hello from host\n"
                   "touch: /hostdata/new: Read-only file system\n");
  g_autofree char *created = g_build_filename (hostdir, "new", NULL);
  g_assert_false (g_file_test (created, G_FILE_TEST_EXISTS));
}

/* ---- rlimits, oomScoreAdj ---- */

static void
test_rlimits (Conf *c, gconstpointer data)
{
  (void) data;
  struct rlimit host;
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &host), ==, 0);
  if (host.rlim_max < 2222 && prctl (PR_CAPBSET_READ, CAP_SYS_RESOURCE, 0, 0, 0) != 1)
    {
      skip_because ("RLIMIT_NOFILE hard 2222 is above this host's %llu and "
                           "CAP_SYS_RESOURCE is not to be had", (unsigned long long) host.rlim_max);
      return;
    }
  oci_set_script (&c->oci, "exec 2>&1\n"
                           "echo \"soft: $(ulimit -n)\"\n"
                           "echo \"hard: $(ulimit -Hn)\"\n"
                           "awk '/^Max open files/ { print \"limits:\", $4, $5 }' /proc/self/limits\n");
  oci_config_set (&c->oci, "process.rlimits",
                  "[{\"type\": \"RLIMIT_NOFILE\", \"soft\": 1111, \"hard\": 2222}]");
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==, "soft: 1111\nhard: 2222\nlimits: 1111 2222\n");
}

static void
test_oom_score_adj (Conf *c, gconstpointer data)
{
  (void) data;
  /* The container inherits ours unless the spec is applied. */
  g_autofree char *ours = read_trimmed ("/proc/self/oom_score_adj");
  g_assert_cmpstr (ours, !=, "423");
  oci_set_script (&c->oci, "exec 2>&1\necho \"oom_score_adj: $(cat /proc/self/oom_score_adj)\"\n");
  oci_config_set (&c->oci, "process.oomScoreAdj", "423");
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==, "oom_score_adj: 423\n");
}

/* ---- sysctl ---- */

/* A network sysctl and an IPC one, each in the container's own namespace:
 * set inside, the host's value untouched. Set although the spec's
 * readonlyPaths make /proc/sys read-only. */
static void
test_sysctl (Conf *c, gconstpointer data)
{
  (void) data;
  if (!g_file_test ("/proc/sys/net/ipv4/ip_forward", G_FILE_TEST_EXISTS))
    {
      skip_because ("no /proc/sys/net/ipv4/ip_forward: this kernel has no IPv4");
      return;
    }
  g_autofree char *host_before = read_trimmed ("/proc/sys/kernel/shmmax");
  g_assert_cmpstr (host_before, !=, "123456789");
  oci_set_script (&c->oci, "exec 2>&1\n"
                           "echo \"ip_forward: $(cat /proc/sys/net/ipv4/ip_forward)\"\n"
                           "echo \"shmmax: $(cat /proc/sys/kernel/shmmax)\"\n");
  oci_config_set (&c->oci, "linux.sysctl",
                  "{\"net.ipv4.ip_forward\": \"1\", \"kernel.shmmax\": \"123456789\"}");
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==, "ip_forward: 1\nshmmax: 123456789\n");
  g_autofree char *host_after = read_trimmed ("/proc/sys/kernel/shmmax");
  g_assert_cmpstr (host_after, ==, host_before);
}

/* ---- cgroups ---- */

/* Is CPU @cpu in a list like "0-3,6"? */
static gboolean
cpu_listed (const char *list, int cpu)
{
  g_auto (GStrv) parts = g_strsplit (list ? list : "", ",", -1);
  for (char **p = parts; *p; p++)
    {
      char *end = NULL;
      long lo = strtol (*p, &end, 10), hi = lo;
      if (end == *p)
        continue;
      if (*end == '-')
        hi = strtol (end + 1, NULL, 10);
      if (cpu >= lo && cpu <= hi)
        return TRUE;
    }
  return FALSE;
}

/* The host offers cpuset, pids and memory, and CPU 1 to put a container
 * on; else why not. */
static char *
cgroup_limits_missing (void)
{
  const char *controllers[] = { "cpuset", "pids", "memory" };
  for (guint i = 0; i < G_N_ELEMENTS (controllers); i++)
    {
      g_autofree char *h = host_hierarchy (controllers[i]);
      if (host_is_v1 (h))
        continue;
      g_autofree char *list_path = g_build_filename (h, "cgroup.controllers", NULL);
      g_autofree char *list = read_trimmed (list_path);
      g_auto (GStrv) have = g_strsplit_set (list ? list : "", " \n", -1);
      if (!g_strv_contains ((const char *const *) have, controllers[i]))
        return g_strdup_printf ("the %s cgroup controller is not available (%s)", controllers[i],
                                list_path);
    }
  g_autofree char *h = host_hierarchy ("cpuset");
  g_autofree char *cpus_path =
      g_build_filename (h, host_is_v1 (h) ? "cpuset.cpus" : "cpuset.cpus.effective", NULL);
  g_autofree char *cpus = read_trimmed (cpus_path);
  if (!cpu_listed (cpus, 1))
    return g_strdup_printf ("CPU 1 is not this host's to give (%s: %s)", cpus_path,
                            cpus ? cpus : "unreadable");
  return NULL;
}

static void
set_cgroup_limits (Conf *c)
{
  oci_config_set (&c->oci, "linux.resources.cpu", "{\"cpus\": \"1\"}");
  oci_config_set (&c->oci, "linux.resources.pids", "{\"limit\": 42}");
  oci_config_set (&c->oci, "linux.resources.memory", "{\"limit\": 67108864}");
}

/* From inside: the cgroup namespace is rooted at the container's cgroup
 * (every /proc/self/cgroup path is "/"), and the mounted cgroup files of
 * that cgroup hold the limits; the scheduler honours the cpuset. */
static void
test_cgroups_inside (Conf *c, gconstpointer data)
{
  (void) data;
  g_autofree char *missing = cgroup_limits_missing ();
  if (missing)
    {
      skip_because ("%s", missing);
      return;
    }
  /* cg CONTROLLER V1-FILE V2-FILE: the file of our own cgroup, found the
   * way /proc/self/cgroup says, in the v1 hierarchy or else the v2 one. */
  oci_set_script (&c->oci,
                  "exec 2>&1\n"
                  "cg() {\n"
                  "  line=$(grep -E \"^[0-9]+:([^:]*,)?$1(,[^:]*)?:\" /proc/self/cgroup)\n"
                  "  if [ -n \"$line\" ]; then cat \"/sys/fs/cgroup/$1${line##*:}/$2\"; return; fi\n"
                  "  base=/sys/fs/cgroup; [ -d $base/unified ] && base=$base/unified\n"
                  "  line=$(grep '^0::' /proc/self/cgroup)\n"
                  "  cat \"$base${line#0::}/$3\"\n"
                  "}\n"
                  "echo \"not at the namespace root: $(grep -cv ':/$' /proc/self/cgroup)\"\n"
                  "echo \"cpus: $(cg cpuset cpuset.cpus cpuset.cpus)\"\n"
                  "echo \"pids: $(cg pids pids.max pids.max)\"\n"
                  "echo \"memory: $(cg memory memory.limit_in_bytes memory.max)\"\n"
                  "grep Cpus_allowed_list /proc/self/status\n");
  set_cgroup_limits (c);
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==,
                   "not at the namespace root: 0\n"
                   "cpus: 1\n"
                   "pids: 42\n"
                   "memory: 67108864\n"
                   "Cpus_allowed_list:\t1\n");
}

/* From the host, while the container runs (create, start): its process in
 * cgroupsPath in every hierarchy, the limits in that cgroup's files; after
 * delete, the cgroup gone everywhere. */
static void
test_cgroups_host (Conf *c, gconstpointer data)
{
  (void) data;
  g_autofree char *missing = cgroup_limits_missing ();
  if (missing)
    {
      skip_because ("%s", missing);
      return;
    }
  oci_set_script (&c->oci, "exec sleep 1000");
  set_cgroup_limits (c);
  g_autofree char *pid_file = g_build_filename (c->oci.dir, "pid", NULL);
  g_assert_cmpint (oci_runc_create (&c->oci, c->id, pid_file), ==, 0);
  g_assert_cmpint (oci_runc (&c->oci, NULL, NULL, "start", c->id, NULL), ==, 0);
  g_autofree char *pid = read_trimmed (pid_file);
  g_assert_nonnull (pid);

  g_autofree char *proc_cgroup_path = g_strdup_printf ("/proc/%s/cgroup", pid);
  g_autofree char *proc_cgroup = read_trimmed (proc_cgroup_path);
  g_assert_nonnull (proc_cgroup);
  g_autofree char *suffix = g_strconcat (":", c->cgroup, NULL);
  g_auto (GStrv) lines = g_strsplit (proc_cgroup, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), >, 0);
  g_test_message ("%s:\n%s", proc_cgroup_path, proc_cgroup);
  for (char **l = lines; *l; l++)
    g_assert_true (g_str_has_suffix (*l, suffix));

  const struct {
    const char *controller, *v1_file, *v2_file, *want;
  } limits[] = {
    { "cpuset", "cpuset.cpus", "cpuset.cpus", "1" },
    { "pids", "pids.max", "pids.max", "42" },
    { "memory", "memory.limit_in_bytes", "memory.max", "67108864" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (limits); i++)
    {
      g_autofree char *h = host_hierarchy (limits[i].controller);
      g_autofree char *dir = g_strconcat (h, c->cgroup, NULL);
      g_autofree char *file =
          g_build_filename (dir, host_is_v1 (h) ? limits[i].v1_file : limits[i].v2_file, NULL);
      g_autofree char *value = read_trimmed (file);
      g_test_message ("%s: %s", file, value);
      g_assert_cmpstr (value, ==, limits[i].want);
      g_autofree char *procs_path = g_build_filename (dir, "cgroup.procs", NULL);
      g_autofree char *procs = read_trimmed (procs_path);
      g_auto (GStrv) pids = g_strsplit (procs ? procs : "", "\n", -1);
      g_assert_true (g_strv_contains ((const char *const *) pids, pid));
    }

  g_assert_cmpint (oci_runc (&c->oci, NULL, NULL, "delete", "--force", c->id, NULL), ==, 0);
  g_autoptr (GPtrArray) dirs = host_cgroup_dirs (c->cgroup);
  for (guint i = 0; i < dirs->len; i++)
    {
      g_test_message ("after delete: %s", (char *) dirs->pdata[i]);
      g_assert_false (g_file_test (dirs->pdata[i], G_FILE_TEST_EXISTS));
    }
}

/* ---- seccomp ---- */

/* A profile allowing all but mkdir (EPERM) and symlink (errnoRet 95,
 * EOPNOTSUPP: the errno is the profile's, not a default one), with
 * noNewPrivileges as @nnp: without it the filter must be loaded while the
 * process still has CAP_SYS_ADMIN. */
static void
check_seccomp (Conf *c, gboolean nnp)
{
  if (prctl (PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
    {
      skip_because ("this kernel has no seccomp (prctl PR_GET_SECCOMP: %s)",
                           g_strerror (errno));
      return;
    }
  oci_set_script (&c->oci, "exec 2>&1\n"
                           "mkdir /tmp/dir\n"
                           "ln -s target /tmp/link\n"
                           "touch /tmp/file && echo 'touch: allowed'\n"
                           "grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status\n");
  oci_config_set (&c->oci, "linux.seccomp",
                  "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                  "{\"names\": [\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1},"
                  "{\"names\": [\"symlink\", \"symlinkat\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 95}]}");
  oci_config_set (&c->oci, "process.noNewPrivileges", nnp ? "true" : "false");
  g_autofree char *out = conf_run (c, 0);
  g_autofree char *want = g_strdup_printf ("mkdir: can't create directory '/tmp/dir': Operation not permitted\n"
                                           "ln: /tmp/link: Operation not supported\n"
                                           "touch: allowed\n"
                                           "NoNewPrivs:\t%d\n"
                                           "Seccomp:\t2\n",
                                           nnp ? 1 : 0);
  g_assert_cmpstr (out, ==, want);
}

static void
test_seccomp (Conf *c, gconstpointer data)
{
  (void) data;
  check_seccomp (c, TRUE);
}

static void
test_seccomp_without_nnp (Conf *c, gconstpointer data)
{
  (void) data;
  check_seccomp (c, FALSE);
}

/* ---- root, user, capabilities, noNewPrivileges ---- */

/* root.readonly: / refuses a write (nothing lands in the rootfs), is
 * mounted ro, and the tmpfs mounts on it stay writable. */
static void
test_readonly_root (Conf *c, gconstpointer data)
{
  (void) data;
  oci_set_script (&c->oci, "exec 2>&1\n"
                           "touch /new-file\n"
                           "touch /dev/shm/new && echo 'dev/shm: writable'\n"
                           "awk '$5 == \"/\" { split($6, o, \",\"); print \"root:\", o[1] }' "
                           "/proc/self/mountinfo\n");
  oci_config_set (&c->oci, "root.readonly", "true");
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==,
                   "touch: /new-file: Read-only file system\n"
                   "dev/shm: writable\n"
                   "root: ro\n");
  g_autofree char *created = oci_rootfs_path (&c->oci, "new-file");
  g_assert_false (g_file_test (created, G_FILE_TEST_EXISTS));
}

/* process.user: uid, gid and additionalGids in id and /proc, no effective
 * capabilities left to a non-root user, and a file made as that user. */
static void
test_process_user (Conf *c, gconstpointer data)
{
  (void) data;
  oci_set_script (&c->oci, "exec 2>&1\n"
                           "id\n"
                           "grep -E '^(Uid|Gid|Groups|CapEff):' /proc/self/status\n"
                           "touch /tmp/by-user\n");
  oci_config_set (&c->oci, "process.user",
                  "{\"uid\": 1000, \"gid\": 1000, \"additionalGids\": [2000, 3000]}");
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==,
                   "uid=1000 gid=1000 groups=2000,3000\n"
                   "Uid:\t1000\t1000\t1000\t1000\n"
                   "Gid:\t1000\t1000\t1000\t1000\n"
                   "Groups:\t2000 3000 \n"
                   "CapEff:\t0000000000000000\n");
  g_autofree char *made = oci_rootfs_path (&c->oci, "tmp/by-user");
  struct stat st;
  g_assert_cmpint (stat (made, &st), ==, 0);
  g_assert_cmpuint (st.st_uid, ==, 1000);
  g_assert_cmpuint (st.st_gid, ==, 1000);
}

/* CAP_NET_BIND_SERVICE (bit 10, 0x400) alone, for root (@ambient FALSE:
 * inheritable and ambient empty) or for uid 1000 through the ambient set:
 * the five masks, and chown refused for want of CAP_CHOWN. */
static void
check_capabilities (Conf *c, gboolean ambient)
{
  if (prctl (PR_CAPBSET_READ, CAP_NET_BIND_SERVICE, 0, 0, 0) != 1)
    {
      skip_because ("CAP_NET_BIND_SERVICE is not in this host's bounding set");
      return;
    }
  if (ambient && prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0) < 0)
    {
      skip_because ("this kernel has no ambient capabilities (PR_CAP_AMBIENT: %s)",
                           g_strerror (errno));
      return;
    }
  oci_set_script (&c->oci, "exec 2>&1\n"
                           "grep '^Cap' /proc/self/status\n"
                           "touch /tmp/file\n"
                           "chown 1 /tmp/file\n");
  const char *one = "[\"CAP_NET_BIND_SERVICE\"]";
  g_autofree char *caps = g_strdup_printf ("{\"bounding\": %s, \"effective\": %s, \"permitted\": %s, "
                                           "\"inheritable\": %s, \"ambient\": %s}",
                                           one, one, one, ambient ? one : "[]", ambient ? one : "[]");
  oci_config_set (&c->oci, "process.capabilities", caps);
  if (ambient)
    oci_config_set (&c->oci, "process.user", "{\"uid\": 1000, \"gid\": 1000}");
  g_autofree char *out = conf_run (c, 1); /* chown's failure */
  const char *set = "0000000000000400", *none = "0000000000000000";
  g_autofree char *want = g_strdup_printf ("CapInh:\t%s\nCapPrm:\t%s\nCapEff:\t%s\nCapBnd:\t%s\nCapAmb:\t%s\n"
                                           "chown: /tmp/file: Operation not permitted\n",
                                           ambient ? set : none, set, set, set, ambient ? set : none);
  g_assert_cmpstr (out, ==, want);
}

static void
test_capabilities (Conf *c, gconstpointer data)
{
  (void) data;
  check_capabilities (c, FALSE);
}

static void
test_capabilities_ambient (Conf *c, gconstpointer data)
{
  (void) data;
  check_capabilities (c, TRUE);
}

/* noNewPrivileges true, then false, in /proc/self/status (the spec's
 * default seccomp profile stays on for both). */
static void
test_no_new_privileges (Conf *c, gconstpointer data)
{
  (void) data;
  oci_set_script (&c->oci, "exec 2>&1\ngrep '^NoNewPrivs:' /proc/self/status\n");
  oci_config_set (&c->oci, "process.noNewPrivileges", "true");
  g_autofree char *on = conf_run (c, 0);
  g_assert_cmpstr (on, ==, "NoNewPrivs:\t1\n");
  oci_config_set (&c->oci, "process.noNewPrivileges", "false");
  g_autofree char *off = conf_run (c, 0);
  g_assert_cmpstr (off, ==, "NoNewPrivs:\t0\n");
}

/* ---- rootfsPropagation ---- */

/* The peer group of the mount at @path in our mountinfo ("shared:N"), or 0. */
static int
host_peer_group (const char *path)
{
  g_autofree char *info = NULL;
  g_assert_true (g_file_get_contents ("/proc/self/mountinfo", &info, NULL, NULL));
  int group = 0;
  g_auto (GStrv) lines = g_strsplit (info, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      g_auto (GStrv) f = g_strsplit (*l, " ", -1);
      if (g_strv_length (f) < 7 || strcmp (f[4], path) != 0)
        continue;
      group = 0; /* the last mount there is the one seen */
      for (guint i = 6; f[i] && strcmp (f[i], "-") != 0; i++)
        if (g_str_has_prefix (f[i], "shared:"))
          group = atoi (f[i] + 7);
    }
  return group;
}

/* The rootfs is made a shared mount on the host (bound onto itself), as
 * it is on hosts whose / is shared, so that the four propagations differ.
 * Inside, the container prints the propagation of its /, then waits for
 * the host to mount a tmpfs on rootfs/mnt and prints whether that mount
 * reached it: only a slave root receives the host's mounts; private,
 * shared (a peer group of its own) and unbindable ones do not. The spec's
 * default (rslave) behaves as slave. */
static void
test_rootfs_propagation (Conf *c, gconstpointer data)
{
  const char *propagation = (const char *) data + strlen ("propagation-");
  g_autofree char *rootfs_rel = oci_rootfs_path (&c->oci, NULL);
  g_autofree char *rootfs = realpath (rootfs_rel, NULL);
  g_assert_nonnull (rootfs);
  g_autofree char *mnt = oci_rootfs_path (&c->oci, "mnt");
  g_autofree char *go = oci_rootfs_path (&c->oci, "tmp/go");
  g_autofree char *out_path = oci_rootfs_path (&c->oci, "tmp/out");
  g_assert_cmpint (g_mkdir_with_parents (mnt, 0755), ==, 0);
  g_assert_cmpint (mount (rootfs, rootfs, NULL, MS_BIND, NULL), ==, 0);
  g_assert_cmpint (mount (NULL, rootfs, NULL, MS_SHARED, NULL), ==, 0);
  int group = host_peer_group (rootfs);
  g_assert_cmpint (group, >, 0);

  oci_set_script (&c->oci,
                  "exec > /tmp/out 2>&1\n"
                  "awk '$5 == \"/\" { t = \"\"; for (i = 7; $i != \"-\"; i++) t = t \" \" $i; "
                  "print \"root:\" t }' /proc/self/mountinfo\n"
                  "i=0; while [ ! -e /tmp/go ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n"
                  "awk '$5 == \"/mnt\" { print \"mnt:\", $(NF-2) }' /proc/self/mountinfo\n"
                  "cat /mnt/from-host 2>/dev/null\n"
                  "echo end\n");
  if (strcmp (propagation, "default") != 0)
    {
      g_autofree char *json = g_strdup_printf ("\"%s\"", propagation);
      oci_config_set (&c->oci, "linux.rootfsPropagation", json);
    }
  g_autofree char *pid_file = g_build_filename (c->oci.dir, "pid", NULL);
  g_assert_cmpint (oci_runc_create (&c->oci, c->id, pid_file), ==, 0);
  g_assert_cmpint (oci_runc (&c->oci, NULL, NULL, "start", c->id, NULL), ==, 0);
  g_assert_cmpint (mount ("tmpfs", mnt, "tmpfs", 0, "size=64k"), ==, 0);
  g_autofree char *from_host = g_build_filename (mnt, "from-host", NULL);
  tu_write_file (from_host, "propagated\n", 0644);
  tu_write_file (go, "", 0644);
  g_autofree char *out = NULL;
  for (int i = 0; i < 1000 && !g_str_has_suffix (out ? out : "", "end\n"); i++)
    {
      g_clear_pointer (&out, g_free);
      g_usleep (10000);
      g_file_get_contents (out_path, &out, NULL, NULL);
    }
  g_assert_cmpint (umount2 (mnt, MNT_DETACH), ==, 0);
  g_assert_cmpint (oci_runc (&c->oci, NULL, NULL, "delete", "--force", c->id, NULL), ==, 0);
  g_assert_cmpint (umount2 (rootfs, MNT_DETACH), ==, 0);
  g_assert_nonnull (out);

  g_autofree char *want = NULL;
  if (strcmp (propagation, "slave") == 0 || strcmp (propagation, "default") == 0)
    want = g_strdup_printf ("root: master:%d\nmnt: tmpfs\npropagated\nend\n", group);
  else if (strcmp (propagation, "private") == 0)
    want = g_strdup ("root:\nend\n");
  else if (strcmp (propagation, "unbindable") == 0)
    want = g_strdup ("root: unbindable\nend\n");
  else
    {
      /* shared: a peer group of the container's own, not the host's. */
      g_assert_cmpstr (propagation, ==, "shared");
      int own = 0;
      g_assert_cmpint (sscanf (out, "root: shared:%d\n", &own), ==, 1);
      g_assert_cmpint (own, !=, group);
      want = g_strdup_printf ("root: shared:%d\nend\n", own);
    }
  g_assert_cmpstr (out, ==, want);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (getuid () != 0)
    {
      g_test_skip ("berth-runc needs root (namespaces, cgroups, mounts)");
      return g_test_run ();
    }
  const struct {
    const char *name;
    void (*func) (Conf *, gconstpointer);
  } cases[] = {
    { "masked-paths", test_masked_paths },
    { "readonly-paths", test_readonly_paths },
    { "hostname", test_hostname },
    { "user-namespace", test_user_namespace },
    { "mounts", test_mounts },
    { "rlimits", test_rlimits },
    { "sysctl", test_sysctl },
    { "cgroups-inside", test_cgroups_inside },
    { "cgroups-host", test_cgroups_host },
    { "seccomp", test_seccomp },
    { "seccomp-without-nnp", test_seccomp_without_nnp },
    { "readonly-root", test_readonly_root },
    { "process-user", test_process_user },
    { "capabilities", test_capabilities },
    { "capabilities-ambient", test_capabilities_ambient },
    { "oom-score-adj", test_oom_score_adj },
    { "no-new-privileges", test_no_new_privileges },
    { "propagation-default", test_rootfs_propagation },
    { "propagation-private", test_rootfs_propagation },
    { "propagation-slave", test_rootfs_propagation },
    { "propagation-shared", test_rootfs_propagation },
    { "propagation-unbindable", test_rootfs_propagation },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/conformance/%s", cases[i].name);
      g_test_add (path, Conf, cases[i].name, conf_setup, cases[i].func, conf_teardown);
    }
  int rc = g_test_run ();
  /* The cases' common parent, where no other run of ours still uses it. */
  g_autoptr (GPtrArray) parents = host_cgroup_dirs (CGROUP_PARENT);
  for (guint i = 0; i < parents->len; i++)
    (void) rmdir (parents->pdata[i]);
  return rc;
}
