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
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_PARENT "/berth-conf"

typedef struct {
  OciFixture oci;
  char *name;   /* the case's name: the test data */
  char *id;     /* conf-NAME-PID */
  char *cgroup; /* /berth-conf/ID */
  GPid holder;  /* a process holding namespaces to join, or 0 */
} Conf;

/* ---- the fixture ---- */

/* Every directory the cgroup @path can have on this host: one per v1
 * hierarchy, and the cgroup2 one. */
static GPtrArray *
host_cgroup_dirs (const char *path)
{
  GPtrArray *dirs = g_ptr_array_new_with_free_func (g_free);
  if (tu_cgroup_is_v2_only ())
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
  if (c->holder > 0)
    {
      kill (c->holder, SIGKILL);
      while (waitpid (c->holder, NULL, 0) < 0 && errno == EINTR)
        ;
      g_spawn_close_pid (c->holder);
      c->holder = 0;
    }
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

/* The bundle without a namespace of @type. */
static void
remove_namespace (Conf *c, const char *type)
{
  g_autoptr (JsonNode) config = oci_config_read (&c->oci);
  JsonObject *linux_ = json_object_get_object_member (json_node_get_object (config), "linux");
  JsonArray *list = json_object_get_array_member (linux_, "namespaces");
  for (guint i = json_array_get_length (list); i-- > 0;)
    if (g_str_equal (json_object_get_string_member (json_array_get_object_element (list, i), "type"),
                     type))
      json_array_remove_element (list, i);
  oci_config_write (&c->oci, config);
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

/* Without id-mapped mounts (mount_setattr, Linux 5.12) a container in a
 * user namespace sees the rootfs's owners as they are on disk, so, as runc
 * requires, the bundle's rootfs must belong to the mapped root (@owner,
 * "UID:GID" on the host). */
static void
rootfs_to_mapped_root (Conf *c, const char *owner)
{
  if (syscall (SYS_mount_setattr, -1, "", 0, NULL, 0) == 0 || errno != ENOSYS)
    return;
  g_test_message ("no mount_setattr: the rootfs goes to %s, as runc requires", owner);
  g_autofree char *rootfs = oci_rootfs_path (&c->oci, ".");
  char *argv[] = { "chown", "-R", "-h", (char *) owner, rootfs, NULL };
  g_assert_cmpint (tu_run (argv, NULL, NULL), ==, 0);
}

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
  rootfs_to_mapped_root (c, "100000:200000");
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

/* With a user namespace berth holds the rootfs on a tmpfs it mounts over
 * /tmp in the container's mount namespace: a bind of a host directory
 * under /tmp (docker -v /tmp/x:/x) still shows that directory. */
static void
test_user_namespace_bind_tmp (Conf *c, gconstpointer data)
{
  (void) data;
  g_autofree char *max = read_trimmed ("/proc/sys/user/max_user_namespaces");
  if (!g_file_test ("/proc/self/ns/user", G_FILE_TEST_EXISTS) || g_strcmp0 (max, "0") == 0)
    {
      skip_because ("this kernel has no user namespaces");
      return;
    }
  g_autofree char *dir = g_dir_make_tmp ("berth-conf-bind-XXXXXX", NULL);
  g_assert_nonnull (dir);
  g_assert_cmpint (chmod (dir, 0755), ==, 0);
  g_autofree char *file = g_build_filename (dir, "hello", NULL);
  tu_write_file (file, "from the host's /tmp\n", 0644);
  oci_set_script (&c->oci, "exec 2>&1\ncat /data/hello\n");
  rootfs_to_mapped_root (c, "100000:100000");
  oci_config_append (&c->oci, "linux.namespaces", "{\"type\": \"user\"}");
  oci_config_set (&c->oci, "linux.uidMappings",
                  "[{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}]");
  oci_config_set (&c->oci, "linux.gidMappings",
                  "[{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}]");
  g_autofree char *mount = g_strdup_printf ("{\"destination\": \"/data\", \"type\": \"bind\", "
                                            "\"source\": \"%s\", \"options\": [\"rbind\", \"ro\"]}",
                                            dir);
  oci_config_append (&c->oci, "mounts", mount);
  g_autofree char *out = conf_run (c, 0);
  unlink (file);
  rmdir (dir);
  g_assert_cmpstr (out, ==, "from the host's /tmp\n");
}

/* ---- mounts ---- */

/* A tmpfs with "tmpcopyup" (podman's --read-only and --tmpfs use it, runc
 * and crun take it): it starts with a copy of what it covers (a file, a
 * directory, a symlink, with their owners), and what is written there
 * stays off the image. */
static void
test_mounts_tmpcopyup (Conf *c, gconstpointer data)
{
  (void) data;
  write_rootfs_file (c, "data/a", "from the image\n");
  write_rootfs_file (c, "data/sub/b", "nested\n");
  g_autofree char *link = oci_rootfs_path (&c->oci, "data/l");
  g_assert_cmpint (symlink ("a", link), ==, 0);
  g_autofree char *owned = oci_rootfs_path (&c->oci, "data/sub/b");
  g_assert_cmpint (chown (owned, 1000, 1001), ==, 0);
  oci_config_append (&c->oci, "mounts",
                     "{\"destination\": \"/data\", \"type\": \"tmpfs\", \"source\": \"tmpfs\","
                     " \"options\": [\"rw\", \"nosuid\", \"tmpcopyup\"]}");
  oci_set_script (&c->oci, "exec 2>&1\n"
                           "cat /data/a /data/sub/b\n"
                           "readlink /data/l\n"
                           "stat -c '%u:%g' /data/sub/b\n"
                           "grep -c ' /data tmpfs ' /proc/self/mounts\n"
                           "echo new > /data/new && echo written\n");
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==, "from the image\nnested\na\n1000:1001\n1\nwritten\n");
  g_autofree char *leaked = oci_rootfs_path (&c->oci, "data/new");
  g_assert_false (g_file_test (leaked, G_FILE_TEST_EXISTS));
}


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
                  /* Only the options asked for: kernels add their own (inode64). */
                  "awk '$5 == \"/scratch\" { n = split($NF, o, \",\"); s = \"\";"
                  " for (i = 1; i <= n; i++) if (o[i] ~ /^(rw|ro|size=|mode=)/) s = s (s ? \",\" : \"\") o[i];"
                  " print \"scratch:\", $(NF-2), s }' /proc/self/mountinfo\n"
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
      char *missing = tu_cgroup_controller_missing (controllers[i]);
      if (missing)
        return missing;
    }
  g_autofree char *h = tu_cgroup_hierarchy ("cpuset");
  g_autofree char *cpus_path =
      g_build_filename (h, tu_cgroup_is_v1 (h) ? "cpuset.cpus" : "cpuset.cpus.effective", NULL);
  g_autofree char *cpus = read_trimmed (cpus_path);
  if (!cpu_listed (cpus, 1))
    return g_strdup_printf ("CPU 1 is not this host's to give (%s: %s)", cpus_path,
                            cpus ? cpus : "unreadable");
  return NULL;
}

/* A container on a hybrid host gets the v1 hierarchies only: a controller
 * the kernel keeps to cgroup2 (Debian's 6.12: memory, cpuset) is limited
 * there but out of the container's sight. Why, or NULL. */
static char *
cgroup_limits_unseen (void)
{
  const char *controllers[] = { "cpuset", "pids", "memory" };
  for (guint i = 0; i < G_N_ELEMENTS (controllers); i++)
    {
      g_autofree char *h = tu_cgroup_hierarchy (controllers[i]);
      if (g_str_has_suffix (h, "/unified"))
        return g_strdup_printf ("the %s controller is on the hybrid layout's cgroup2 (%s), "
                                "which a container does not mount", controllers[i], h);
    }
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
  g_autofree char *unseen = cgroup_limits_unseen ();
  if (unseen)
    {
      skip_because ("%s", unseen);
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

/* Without a cgroup namespace (Docker's cgroupns=host, its default on v1)
 * the container's /sys/fs/cgroup shows its own cgroup, as under runc: the
 * limit files at the top of each hierarchy are the container's, and none
 * of the host's other cgroups (the cases' parent among them) is there. */
static void
test_cgroups_no_namespace (Conf *c, gconstpointer data)
{
  (void) data;
  g_autofree char *missing = cgroup_limits_missing ();
  if (missing)
    {
      skip_because ("%s", missing);
      return;
    }
  g_autofree char *unseen = cgroup_limits_unseen ();
  if (unseen)
    {
      skip_because ("%s", unseen);
      return;
    }
  remove_namespace (c, "cgroup");
  oci_set_script (&c->oci,
                  "exec 2>&1\n"
                  "top() { if [ -d /sys/fs/cgroup/$1 ]; then cat /sys/fs/cgroup/$1/$2;\n"
                  "  else cat /sys/fs/cgroup/$3; fi; }\n"
                  "echo \"pids: $(top pids pids.max pids.max)\"\n"
                  "echo \"memory: $(top memory memory.limit_in_bytes memory.max)\"\n"
                  "echo \"host cgroups seen: $(ls -R /sys/fs/cgroup | grep -c berth-conf)\"\n");
  set_cgroup_limits (c);
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==, "pids: 42\nmemory: 67108864\nhost cgroups seen: 0\n");
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
    if (tu_cgroup_line_placeable (*l))
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
      g_autofree char *h = tu_cgroup_hierarchy (limits[i].controller);
      g_autofree char *dir = g_strconcat (h, c->cgroup, NULL);
      g_autofree char *file =
          g_build_filename (dir, tu_cgroup_is_v1 (h) ? limits[i].v1_file : limits[i].v2_file, NULL);
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
 * noNewPrivileges, or without it for seccomp-without-nnp: then the filter
 * must be loaded while the process still has CAP_SYS_ADMIN. */
static void
test_seccomp (Conf *c, gconstpointer data)
{
  gboolean nnp = strcmp (data, "seccomp-without-nnp") != 0;
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

/* CAP_NET_BIND_SERVICE (bit 10, 0x400) alone, for root (inheritable and
 * ambient empty) or, for capabilities-ambient, for uid 1000 through the
 * ambient set: the five masks, and chown refused for want of CAP_CHOWN. */
static void
test_capabilities (Conf *c, gconstpointer data)
{
  gboolean ambient = strcmp (data, "capabilities-ambient") == 0;
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

/* ---- hooks ---- */

/* The six kinds, in the order of a container's life. */
static const struct {
  const char *kind, *status;
  gboolean in_container; /* in the container's namespaces, else the runtime's */
} hook_kinds[] = {
  { "prestart", "creating", FALSE },       { "createRuntime", "creating", FALSE },
  { "createContainer", "creating", TRUE }, { "startContainer", "created", TRUE },
  { "poststart", "running", FALSE },       { "poststop", "stopped", FALSE },
};

/* Append to hooks.@kind a hook running @script under /bin/sh -c, with a
 * PATH (a hook's environment is only what it is given), and @timeout
 * seconds when above 0. */
static void
add_hook (Conf *c, const char *kind, const char *script, int timeout)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "path");
  json_builder_add_string_value (b, "/bin/sh");
  json_builder_set_member_name (b, "args");
  json_builder_begin_array (b);
  json_builder_add_string_value (b, "sh");
  json_builder_add_string_value (b, "-c");
  json_builder_add_string_value (b, script);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "env");
  json_builder_begin_array (b);
  json_builder_add_string_value (b, "PATH=/usr/sbin:/usr/bin:/sbin:/bin");
  json_builder_end_array (b);
  if (timeout > 0)
    {
      json_builder_set_member_name (b, "timeout");
      json_builder_add_int_value (b, timeout);
    }
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  g_autofree char *json = json_to_string (node, FALSE);
  g_autofree char *path = g_strconcat ("hooks.", kind, NULL);
  oci_config_append (&c->oci, path, json);
}

/* create of the bundle fails (exit 1): its stderr. */
static char *
conf_create_fails (Conf *c)
{
  g_autofree char *pid_file = g_build_filename (c->oci.dir, "pid", NULL);
  char *err = NULL;
  int rc = oci_runc_quiet (&c->oci, 0, &err, "create", "--bundle", c->oci.bundle, "--pid-file", pid_file,
                           c->id, NULL);
  g_test_message ("create %s exited %d; stderr:\n%s", c->id, rc, err);
  g_assert_cmpint (rc, ==, 1);
  return err;
}

/* No container left: not listed, no state directory, no cgroup in any
 * hierarchy. */
static void
assert_nothing_left (Conf *c)
{
  g_autofree char *list = NULL;
  g_assert_cmpint (oci_runc (&c->oci, &list, NULL, "list", NULL), ==, 0);
  g_assert_null (strstr (list, c->id));
  g_autofree char *state = g_build_filename (c->oci.root, c->id, NULL);
  g_assert_false (g_file_test (state, G_FILE_TEST_EXISTS));
  g_autoptr (GPtrArray) dirs = host_cgroup_dirs (c->cgroup);
  for (guint i = 0; i < dirs->len; i++)
    g_assert_false (g_file_test (dirs->pdata[i], G_FILE_TEST_EXISTS));
}

/* Wait up to 10 s for @path to exist. */
static gboolean
wait_for_file (const char *path)
{
  for (int i = 0; i < 1000 && !g_file_test (path, G_FILE_TEST_EXISTS); i++)
    g_usleep (10000);
  return g_file_test (path, G_FILE_TEST_EXISTS);
}

/* One line for what the hook @kind saved in @dir: the state's status, its
 * id, bundle and pid against the container's, and its mount namespace
 * against ours and the container's. */
static char *
hook_summary (Conf *c, const char *dir, const char *kind, const char *pid, const char *host_mnt,
              const char *container_mnt)
{
  g_autofree char *state_path = g_strdup_printf ("%s/%s.state", dir, kind);
  g_autofree char *mnt_path = g_strdup_printf ("%s/%s.mnt", dir, kind);
  g_autofree char *text = NULL;
  g_autofree char *mnt = read_trimmed (mnt_path);
  if (!g_file_get_contents (state_path, &text, NULL, NULL))
    return g_strdup_printf ("%s: no state saved\n", kind);
  g_test_message ("%s: %s (%s)", kind, text, mnt);
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = json_from_string (text, &error);
  g_assert_no_error (error);
  JsonObject *o = json_node_get_object (node);
  g_autofree char *bundle = g_canonicalize_filename (c->oci.bundle, NULL);
  g_autofree char *got_pid = g_strdup_printf ("%" G_GINT64_FORMAT,
                                              json_object_get_int_member_with_default (o, "pid", -1));
  const char *id = json_object_get_string_member_with_default (o, "id", "");
  const char *got_bundle = json_object_get_string_member_with_default (o, "bundle", "");
  return g_strdup_printf ("%s: %s, id %s, bundle %s, pid %s, mnt %s\n", kind,
                          json_object_get_string_member_with_default (o, "status", "(none)"),
                          strcmp (id, c->id) == 0 ? "ok" : id,
                          strcmp (got_bundle, bundle) == 0 ? "ok" : got_bundle,
                          strcmp (got_pid, pid) == 0 ? "container's" : got_pid,
                          g_strcmp0 (mnt, host_mnt) == 0        ? "host"
                          : g_strcmp0 (mnt, container_mnt) == 0 ? "container"
                                                                : mnt);
}

/* All six kinds of hook, each saving its stdin (the state) and its mount
 * namespace and appending its name to one file in the rootfs' /tmp/hooks:
 * the host's kinds by the host path, startContainer (its path resolved in
 * the container, busybox sh) by /tmp. Each ran once, in the life cycle's
 * order, and the program saw the four before it; each got the state of
 * its point (pid 0 once stopped, as berth-runc state says), in the
 * runtime's mount namespace or, for createContainer and startContainer,
 * the container's. */
static void
test_hooks (Conf *c, gconstpointer data)
{
  (void) data;
  g_autofree char *dir = oci_rootfs_path (&c->oci, "tmp/hooks");
  g_assert_cmpint (g_mkdir_with_parents (dir, 01777), ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (hook_kinds); i++)
    {
      const char *kind = hook_kinds[i].kind;
      const char *d = strcmp (kind, "startContainer") == 0 ? "/tmp/hooks" : dir;
      g_autofree char *script = g_strdup_printf ("cat > %s/%s.state\n"
                                                 "readlink /proc/self/ns/mnt > %s/%s.mnt\n"
                                                 "echo %s >> %s/order\n",
                                                 d, kind, d, kind, kind, d);
      add_hook (c, kind, script, 0);
    }
  oci_set_script (&c->oci, "head -n 4 /tmp/hooks/order > /tmp/hooks/program-saw\n"
                           "touch /tmp/hooks/program-done\n"
                           "exec sleep 1000\n");
  g_autofree char *order_path = g_build_filename (dir, "order", NULL);
  g_autofree char *saw_path = g_build_filename (dir, "program-saw", NULL);
  g_autofree char *done_path = g_build_filename (dir, "program-done", NULL);
  g_autofree char *pid_file = g_build_filename (c->oci.dir, "pid", NULL);

  g_assert_cmpint (oci_runc_create (&c->oci, c->id, pid_file), ==, 0);
  g_autofree char *order = NULL;
  g_assert_true (g_file_get_contents (order_path, &order, NULL, NULL));
  g_assert_cmpstr (order, ==, "prestart\ncreateRuntime\ncreateContainer\n");
  g_assert_cmpint (oci_runc (&c->oci, NULL, NULL, "start", c->id, NULL), ==, 0);
  g_assert_true (wait_for_file (done_path));
  g_autofree char *pid = read_trimmed (pid_file);
  g_assert_nonnull (pid);
  g_autofree char *ns_link = g_strdup_printf ("/proc/%s/ns/mnt", pid);
  g_autofree char *container_mnt = g_file_read_link (ns_link, NULL);
  g_autofree char *host_mnt = g_file_read_link ("/proc/self/ns/mnt", NULL);
  g_assert_nonnull (container_mnt);
  g_assert_cmpstr (container_mnt, !=, host_mnt);
  g_assert_cmpint (oci_runc (&c->oci, NULL, NULL, "delete", "--force", c->id, NULL), ==, 0);

  g_clear_pointer (&order, g_free);
  g_assert_true (g_file_get_contents (order_path, &order, NULL, NULL));
  g_assert_cmpstr (order, ==,
                   "prestart\ncreateRuntime\ncreateContainer\nstartContainer\npoststart\npoststop\n");
  g_autofree char *saw = NULL;
  g_assert_true (g_file_get_contents (saw_path, &saw, NULL, NULL));
  g_assert_cmpstr (saw, ==, "prestart\ncreateRuntime\ncreateContainer\nstartContainer\n");

  g_autoptr (GString) got = g_string_new (NULL);
  g_autoptr (GString) want = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (hook_kinds); i++)
    {
      g_autofree char *line = hook_summary (c, dir, hook_kinds[i].kind, pid, host_mnt, container_mnt);
      g_string_append (got, line);
      gboolean stopped = strcmp (hook_kinds[i].status, "stopped") == 0;
      g_string_append_printf (want, "%s: %s, id ok, bundle ok, pid %s, mnt %s\n", hook_kinds[i].kind,
                              hook_kinds[i].status, stopped ? "0" : "container's",
                              hook_kinds[i].in_container ? "container" : "host");
    }
  g_assert_cmpstr (got->str, ==, want->str);
}

/* A createContainer hook exiting 3 with a reason on stderr: create fails
 * in one line naming the hook, its exit and its reason, and leaves no
 * container; the poststop hooks still run (the spec's life cycle goes on
 * to destroying the container), given a stopped state. */
static void
test_hooks_create_fails (Conf *c, gconstpointer data)
{
  (void) data;
  g_autofree char *poststop = g_build_filename (c->oci.dir, "poststop.state", NULL);
  g_autofree char *script = g_strdup_printf ("cat > %s", poststop);
  add_hook (c, "createContainer", "echo 'no conf device here' >&2; exit 3", 0);
  add_hook (c, "poststop", script, 0);
  oci_set_script (&c->oci, "exec sleep 1000");
  g_autofree char *err = conf_create_fails (c);
  g_assert_cmpstr (err, ==, "berth-runc: createContainer hook /bin/sh: exited with 3: no conf device here\n");
  assert_nothing_left (c);
  g_autofree char *state = read_trimmed (poststop);
  g_assert_nonnull (state);
  g_assert_nonnull (strstr (state, "\"status\":\"stopped\""));
}

/* A hook with timeout 1 running sleep 5 is killed at its timeout: run
 * fails saying so, well before the 5 s, and leaves no container. */
static void
test_hooks_timeout (Conf *c, gconstpointer data)
{
  (void) data;
  add_hook (c, "createRuntime", "sleep 5", 1);
  oci_set_script (&c->oci, "echo 'program ran'");
  gint64 start = g_get_monotonic_time ();
  g_autofree char *err = NULL;
  int rc = oci_runc_quiet (&c->oci, 0, &err, "run", "--bundle", c->oci.bundle, c->id, NULL);
  double took = (g_get_monotonic_time () - start) / 1e6;
  g_test_message ("run exited %d after %.2f s: %s", rc, took, err);
  g_assert_cmpint (rc, ==, 1);
  g_assert_cmpstr (err, ==, "berth-runc: createRuntime hook /bin/sh: timed out after 1 s\n");
  g_assert_cmpfloat (took, <, 5.0);
  assert_nothing_left (c);
}

/* A failing poststart hook is a warning: run still runs the program and
 * exits with its code. */
static void
test_hooks_poststart_fails (Conf *c, gconstpointer data)
{
  gboolean logged = g_str_equal (data, "hooks-after-fail-logged");
  g_autofree char *second_poststart = g_build_filename (c->oci.dir, "poststart-2", NULL);
  g_autofree char *second_poststop = g_build_filename (c->oci.dir, "poststop-2", NULL);
  g_autofree char *log = g_build_filename (c->oci.dir, "runc.log", NULL);
  g_autofree char *touch_start = g_strdup_printf ("echo ran > %s", second_poststart);
  g_autofree char *touch_stop = g_strdup_printf ("echo ran > %s", second_poststop);
  add_hook (c, "poststart", "echo 'cannot register conf' >&2; exit 4", 0);
  add_hook (c, "poststart", touch_start, 0);
  add_hook (c, "poststop", "exit 5", 0);
  add_hook (c, "poststop", touch_stop, 0);
  oci_set_script (&c->oci, "echo 'program ran'");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int rc = logged ? oci_runc (&c->oci, &out, &err, "--log", log, "--log-format", "json", "run",
                              "--bundle", c->oci.bundle, c->id, NULL)
                  : oci_runc (&c->oci, &out, &err, "run", "--bundle", c->oci.bundle, c->id, NULL);
  g_test_message ("run exited %d; stderr:\n%s", rc, err);
  g_assert_cmpint (rc, ==, 0);
  g_assert_cmpstr (out, ==, "program ran\n");
  /* the hooks after a failed one still ran */
  g_assert_true (g_file_test (second_poststart, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (second_poststop, G_FILE_TEST_EXISTS));
  const char *start_warning = "poststart hook /bin/sh: exited with 4: cannot register conf";
  const char *stop_warning = "poststop hook /bin/sh: exited with 5";
  if (logged)
    {
      g_autofree char *text = NULL;
      g_assert_true (g_file_get_contents (log, &text, NULL, NULL));
      g_assert_cmpstr (err, ==, "");
      g_autofree char *start_line = g_strdup_printf ("{\"level\":\"warning\",\"msg\":\"%s\"", start_warning);
      g_assert_nonnull (strstr (text, start_line));
      g_assert_nonnull (strstr (text, stop_warning));
    }
  else
    {
      g_autofree char *start_line = g_strdup_printf ("berth-runc: warning: %s\n", start_warning);
      g_assert_nonnull (strstr (err, start_line));
      g_assert_nonnull (strstr (err, stop_warning));
    }
  assert_nothing_left (c);
}

/* ---- linux.devices ---- */

/* A character device (the fuse numbers, fileMode 0620, uid 1000, gid 1001)
 * and a FIFO in directories the spec's /dev lacks: type, numbers, mode
 * and owner as given. (The spec's device cgroup rules allow only mknod of
 * them, which is all that is looked at.) */
static void
test_devices (Conf *c, gconstpointer data)
{
  (void) data;
  oci_set_script (&c->oci, "exec 2>&1\n"
                           "ls -ln /dev/fuse | awk '{ print $NF \":\", $1, $3 \":\" $4, $5 $6 }'\n"
                           "stat -c '%n: %F, mode %a, owner %u:%g' /dev/fuse /dev/conf/nested/fifo\n");
  oci_config_append (&c->oci, "linux.devices",
                     "{\"path\": \"/dev/fuse\", \"type\": \"c\", \"major\": 10, \"minor\": 229,"
                     " \"fileMode\": 400, \"uid\": 1000, \"gid\": 1001}");
  oci_config_append (&c->oci, "linux.devices",
                     "{\"path\": \"/dev/conf/nested/fifo\", \"type\": \"p\", \"fileMode\": 416,"
                     " \"uid\": 1002, \"gid\": 1003}");
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==,
                   "/dev/fuse: crw--w---- 1000:1001 10,229\n"
                   "/dev/fuse: character special file, mode 620, owner 1000:1001\n"
                   "/dev/conf/nested/fifo: fifo, mode 640, owner 1002:1003\n");
}

/* A relative device path fails create in one line naming it, before
 * anything is made. */
static void
test_devices_invalid (Conf *c, gconstpointer data)
{
  (void) data;
  oci_set_script (&c->oci, "exec sleep 1000");
  oci_config_append (&c->oci, "linux.devices",
                     "{\"path\": \"dev/relative\", \"type\": \"c\", \"major\": 1, \"minor\": 3}");
  g_autofree char *err = conf_create_fails (c);
  g_assert_cmpstr (err, ==, "berth-runc: device path 'dev/relative': not an absolute path to a file\n");
  assert_nothing_left (c);
}

/* ---- device cgroup ---- */

/* The spec's rules (deny all, allow the default nodes) with a node of its
 * own, /dev/blk (the first loop device, 7:0, which every kernel here has),
 * allowed for reading only: it opens for reading and refuses a write,
 * while /dev/null beside it works. (A rule against one of the default
 * character nodes would change nothing: runc's implicit allow list comes
 * after the spec's rules, and berth's does too; it lets block devices be
 * made, not read or written.)
 * berth enforces the rules with the v1 devices controller, or on a
 * cgroup2-only host with a BPF device program. */
static void
test_cgroup_devices (Conf *c, gconstpointer data)
{
  (void) data;
  if (!g_file_test (CGROUP_ROOT "/devices", G_FILE_TEST_IS_DIR)
      && !g_file_test (CGROUP_ROOT "/cgroup.controllers", G_FILE_TEST_EXISTS))
    {
      skip_because ("no v1 devices controller (" CGROUP_ROOT "/devices) on a host that is not "
                    "cgroup2-only: nothing enforces device rules");
      return;
    }
  if (!g_file_test ("/sys/block/loop0", G_FILE_TEST_EXISTS))
    {
      skip_because ("no loop0 block device (/sys/block/loop0) in this kernel");
      return;
    }
  oci_set_script (&c->oci, "exec 2>&1\n"
                           "exec 3</dev/blk && echo '/dev/blk: opened for reading'\n"
                           "(exec 4>/dev/blk) || echo '/dev/blk: not for writing'\n"
                           "echo x > /dev/null && echo '/dev/null: writable'\n"
                           "cat /dev/null && echo '/dev/null: readable'\n");
  oci_config_append (&c->oci, "linux.devices",
                     "{\"path\": \"/dev/blk\", \"type\": \"b\", \"major\": 7, \"minor\": 0,"
                     " \"fileMode\": 432}");
  oci_config_append (&c->oci, "linux.resources.devices",
                     "{\"allow\": true, \"type\": \"b\", \"major\": 7, \"minor\": 0, \"access\": \"r\"}");
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==,
                   "/dev/blk: opened for reading\n"
                   "sh: can't create /dev/blk: Operation not permitted\n"
                   "/dev/blk: not for writing\n"
                   "/dev/null: writable\n"
                   "/dev/null: readable\n");
}

/* ---- client device rules ---- */

/* Docker's device rules: deny all, then only null, zero, random, urandom,
 * tty and console. The container starts all the same, as under runc,
 * which appends its own allow list after the spec's: the default nodes
 * are there and work, mknod of any node is allowed, and so are /dev/ptmx
 * and the tun device. The same with a single deny-all rule. */
static void
test_devices_client_rules (Conf *c, gconstpointer data)
{
  gboolean docker = g_str_equal (data, "devices-docker-rules");
  oci_set_script (&c->oci, "exec 2>&1\n"
                           "for n in null zero full random urandom tty; do "
                           "stat -c '%n %t:%T' /dev/$n; done\n"
                           "head -c 3 /dev/full | wc -c\n"
                           "mknod /tmp/tun c 10 200 && stat -c '%n %F %t:%T' /tmp/tun\n"
                           "exec 3<>/dev/ptmx && echo 'ptmx: opened'\n");
  oci_config_set (&c->oci, "linux.resources.devices", "[{\"allow\": false, \"access\": \"rwm\"}]");
  static const char *const docker_allowed[] = { "1, \"minor\": 3", "1, \"minor\": 5",
                                                "1, \"minor\": 8", "1, \"minor\": 9",
                                                "5, \"minor\": 0", "5, \"minor\": 1" };
  for (guint i = 0; docker && i < G_N_ELEMENTS (docker_allowed); i++)
    {
      g_autofree char *rule = g_strdup_printf ("{\"allow\": true, \"type\": \"c\", \"major\": %s,"
                                               " \"access\": \"rwm\"}", docker_allowed[i]);
      oci_config_append (&c->oci, "linux.resources.devices", rule);
    }
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==,
                   "/dev/null 1:3\n/dev/zero 1:5\n/dev/full 1:7\n/dev/random 1:8\n"
                   "/dev/urandom 1:9\n/dev/tty 5:0\n"
                   "3\n"
                   "/tmp/tun character special file a:c8\n"
                   "ptmx: opened\n");
}

/* Clients that pass every host device (docker --privileged, --device
 * /dev/ptmx) list /dev/ptmx in linux.devices: it is left to the
 * container's own devpts link, as runc does, not refused as a clash. */
static void
test_devices_ptmx (Conf *c, gconstpointer data)
{
  (void) data;
  oci_set_script (&c->oci, "exec 2>&1\nreadlink /dev/ptmx\nexec 3<>/dev/ptmx && echo 'ptmx: opened'\n");
  oci_config_append (&c->oci, "linux.devices",
                     "{\"path\": \"/dev/ptmx\", \"type\": \"c\", \"major\": 5, \"minor\": 2,"
                     " \"fileMode\": 438, \"uid\": 0, \"gid\": 0}");
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==, "pts/ptmx\nptmx: opened\n");
}

/* ---- hugetlb ---- */

/* hugepageLimits 2MB 4 MiB: while the container runs, the hugetlb file of
 * its cgroup (v1 hierarchy, or the cgroup2 one) holds the limit. */
static void
test_hugetlb (Conf *c, gconstpointer data)
{
  (void) data;
  if (!g_file_test ("/sys/kernel/mm/hugepages/hugepages-2048kB", G_FILE_TEST_IS_DIR))
    {
      skip_because ("this host has no 2MB huge pages (/sys/kernel/mm/hugepages/hugepages-2048kB)");
      return;
    }
  g_autofree char *h = tu_cgroup_hierarchy ("hugetlb");
  gboolean v1 = tu_cgroup_is_v1 (h);
  if (!v1)
    {
      g_autofree char *list_path = g_build_filename (h, "cgroup.controllers", NULL);
      g_autofree char *list = read_trimmed (list_path);
      g_auto (GStrv) have = g_strsplit_set (list ? list : "", " \n", -1);
      if (!g_strv_contains ((const char *const *) have, "hugetlb"))
        {
          skip_because ("no hugetlb cgroup controller (not a v1 hierarchy, not in %s)", list_path);
          return;
        }
    }
  oci_set_script (&c->oci, "exec sleep 1000");
  oci_config_set (&c->oci, "linux.resources.hugepageLimits",
                  "[{\"pageSize\": \"2MB\", \"limit\": 4194304}]");
  g_autofree char *pid_file = g_build_filename (c->oci.dir, "pid", NULL);
  g_assert_cmpint (oci_runc_create (&c->oci, c->id, pid_file), ==, 0);
  g_assert_cmpint (oci_runc (&c->oci, NULL, NULL, "start", c->id, NULL), ==, 0);
  g_autofree char *pid = read_trimmed (pid_file);
  g_autofree char *dir = g_strconcat (h, c->cgroup, NULL);
  g_autofree char *file =
      g_build_filename (dir, v1 ? "hugetlb.2MB.limit_in_bytes" : "hugetlb.2MB.max", NULL);
  g_autofree char *value = read_trimmed (file);
  g_autofree char *procs_path = g_build_filename (dir, "cgroup.procs", NULL);
  g_autofree char *procs = read_trimmed (procs_path);
  g_auto (GStrv) pids = g_strsplit (procs ? procs : "", "\n", -1);
  g_test_message ("%s: %s", file, value);
  g_assert_cmpint (oci_runc (&c->oci, NULL, NULL, "delete", "--force", c->id, NULL), ==, 0);
  g_assert_cmpstr (value, ==, "4194304");
  g_assert_nonnull (pid);
  g_assert_true (g_strv_contains ((const char *const *) pids, pid));
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

/* ---- namespaces joined by path ---- */

/* linux.namespaces: the entry of @type replaced by one with @path. */
static void
set_namespace_path (Conf *c, const char *type, const char *path)
{
  g_autoptr (JsonNode) config = oci_config_read (&c->oci);
  JsonObject *linux_ = json_object_get_object_member (json_node_get_object (config), "linux");
  JsonArray *old = json_object_get_array_member (linux_, "namespaces");
  JsonArray *list = json_array_new ();
  for (guint i = 0; old && i < json_array_get_length (old); i++)
    {
      JsonObject *o = json_array_get_object_element (old, i);
      if (g_strcmp0 (json_object_get_string_member_with_default (o, "type", ""), type) != 0)
        json_array_add_element (list, json_node_copy (json_array_get_element (old, i)));
    }
  JsonObject *entry = json_object_new ();
  json_object_set_string_member (entry, "type", type);
  json_object_set_string_member (entry, "path", path);
  json_array_add_object_element (list, entry);
  json_object_set_array_member (linux_, "namespaces", list);
  oci_config_write (&c->oci, config);
}

/* The hostname in @pid's UTS namespace, read by a child that joins it. */
static char *
hostname_of (GPid pid)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/ns/uts", (int) pid);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  int p[2];
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (pipe2 (p, O_CLOEXEC), ==, 0);
  pid_t child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      char name[256] = "";
      if (setns (fd, CLONE_NEWUTS) < 0 || gethostname (name, sizeof name - 1) < 0)
        _exit (1);
      _exit (write (p[1], name, strlen (name)) < 0);
    }
  close (fd);
  close (p[1]);
  char name[256] = "";
  ssize_t n = read (p[0], name, sizeof name - 1);
  close (p[0]);
  int status = 0;
  while (waitpid (child, &status, 0) < 0)
    g_assert_cmpint (errno, ==, EINTR);
  g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  return g_strndup (name, MAX (n, 0));
}

/* A holder process in network and UTS namespaces of its own, named
 * conf-joined; the container joins both by their /proc paths: the same
 * namespaces inside, and the holder's hostname. A spec hostname is not
 * applied to a UTS namespace the container only joined: berth sets up
 * only the namespaces it made (runc and current crun rename the joined
 * one), so the holder keeps its name. */
static void
test_namespaces_joined (Conf *c, gconstpointer data)
{
  (void) data;
  g_autofree char *unshare = g_find_program_in_path ("unshare");
  if (unshare == NULL)
    {
      skip_because ("no unshare(1) to make the namespaces to join");
      return;
    }
  char *argv[] = { unshare, "-n", "-u", "sh", "-c", "hostname conf-joined; exec sleep 100", NULL };
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_async (NULL, argv, NULL,
                                G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL
                                    | G_SPAWN_STDERR_TO_DEV_NULL,
                                NULL, NULL, &c->holder, &error));
  /* sh has set the name once it has become sleep. */
  g_autofree char *comm_path = g_strdup_printf ("/proc/%d/comm", (int) c->holder);
  g_autofree char *comm = NULL;
  for (int i = 0; i < 1000 && g_strcmp0 (comm, "sleep") != 0; i++)
    {
      g_clear_pointer (&comm, g_free);
      g_usleep (10000);
      comm = read_trimmed (comm_path);
    }
  g_assert_cmpstr (comm, ==, "sleep");
  g_autofree char *net = g_strdup_printf ("/proc/%d/ns/net", (int) c->holder);
  g_autofree char *uts = g_strdup_printf ("/proc/%d/ns/uts", (int) c->holder);
  g_autofree char *net_link = g_file_read_link (net, NULL);
  g_autofree char *uts_link = g_file_read_link (uts, NULL);
  g_autofree char *our_net = g_file_read_link ("/proc/self/ns/net", NULL);
  g_assert_nonnull (net_link);
  g_assert_nonnull (uts_link);
  g_assert_cmpstr (net_link, !=, our_net);

  oci_set_script (&c->oci, "exec 2>&1\n"
                           "echo \"net: $(readlink /proc/self/ns/net)\"\n"
                           "echo \"uts: $(readlink /proc/self/ns/uts)\"\n"
                           "echo \"hostname: $(hostname)\"\n");
  set_namespace_path (c, "network", net);
  set_namespace_path (c, "uts", uts);
  g_autofree char *want = g_strdup_printf ("net: %s\nuts: %s\nhostname: conf-joined\n", net_link,
                                           uts_link);
  /* As a user joining would write it: no hostname of its own. */
  g_autoptr (JsonNode) config = oci_config_read (&c->oci);
  json_object_remove_member (json_node_get_object (config), "hostname");
  oci_config_write (&c->oci, config);
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==, want);

  /* A hostname in the spec is set in the joined namespace, as runc sets
   * it: the holder, in the same namespace, sees the new name too. */
  oci_config_set (&c->oci, "hostname", "\"conf-renamed\"");
  g_autofree char *again = conf_run (c, 0);
  g_autofree char *want_renamed = g_strdup_printf ("net: %s\nuts: %s\nhostname: conf-renamed\n",
                                                   net_link, uts_link);
  g_assert_cmpstr (again, ==, want_renamed);
  g_autofree char *holder_name = hostname_of (c->holder);
  g_assert_cmpstr (holder_name, ==, "conf-renamed");

  /* Without a uts namespace at all the name would be the host's: refused. */
  g_autoptr (JsonNode) no_uts = oci_config_read (&c->oci);
  JsonObject *linux_ = json_object_get_object_member (json_node_get_object (no_uts), "linux");
  JsonArray *old = json_object_get_array_member (linux_, "namespaces");
  JsonArray *kept = json_array_new ();
  for (guint i = 0; i < json_array_get_length (old); i++)
    if (g_strcmp0 (json_object_get_string_member_with_default (json_array_get_object_element (old, i),
                                                               "type", ""), "uts") != 0)
      json_array_add_element (kept, json_node_copy (json_array_get_element (old, i)));
  json_object_set_array_member (linux_, "namespaces", kept);
  oci_config_write (&c->oci, no_uts);
  g_autofree char *err = conf_create_fails (c);
  g_assert_cmpstr (err, ==, "berth-runc: hostname conf-renamed: the container has no uts namespace "
                            "of its own\n");
  assert_nothing_left (c);
}

/* A namespace path that does not exist, and one of another type: create
 * fails in one line naming the entry and the path, leaving nothing. */
static void
test_namespaces_bad_path (Conf *c, gconstpointer data)
{
  (void) data;
  oci_set_script (&c->oci, "exec sleep 1000");
  g_autofree char *missing = g_build_filename (c->oci.dir, "no-such-ns", NULL);
  set_namespace_path (c, "network", missing);
  g_autofree char *err = conf_create_fails (c);
  g_autofree char *want = g_strdup_printf ("berth-runc: namespace network path %s: "
                                           "No such file or directory\n", missing);
  g_assert_cmpstr (err, ==, want);
  assert_nothing_left (c);

  set_namespace_path (c, "network", "/proc/self/ns/uts");
  g_autofree char *wrong = conf_create_fails (c);
  g_assert_cmpstr (wrong, ==,
                   "berth-runc: namespace network path /proc/self/ns/uts: not a network namespace\n");
  assert_nothing_left (c);
}

/* What berth-runc cannot honour but goes on without is a warning in the
 * --log file, where containerd's shim and Docker look, never silent: an
 * AppArmor profile (the native driver has none), and a capability this
 * host's bounding set lacks (this build host lacks CAP_SYS_RESOURCE). */
static void
test_warnings_logged (Conf *c, gconstpointer data)
{
  (void) data;
  gboolean can_lack = prctl (PR_CAPBSET_READ, CAP_SYS_RESOURCE, 0, 0, 0) != 1;
  g_autofree char *log = g_build_filename (c->oci.dir, "runc.log", NULL);
  oci_set_script (&c->oci, "echo ran");
  oci_config_set (&c->oci, "process.apparmorProfile", "\"docker-default\"");
  oci_config_append (&c->oci, "process.capabilities.bounding", "\"CAP_SYS_RESOURCE\"");
  g_autofree char *out = NULL, *err = NULL;
  int rc = oci_runc (&c->oci, &out, &err, "--log", log, "--log-format", "json", "run", "--bundle",
                     c->oci.bundle, c->id, NULL);
  g_assert_cmpint (rc, ==, 0);
  g_assert_cmpstr (out, ==, "ran\n");
  g_autofree char *text = NULL;
  g_assert_true (g_file_get_contents (log, &text, NULL, NULL));
  g_assert_nonnull (strstr (text, "{\"level\":\"warning\",\"msg\":\"apparmorProfile docker-default: not applied"));
  if (can_lack)
    g_assert_nonnull (strstr (text, "\"msg\":\"capability CAP_SYS_RESOURCE: this host's bounding set lacks it"));
  else
    g_test_message ("this host's bounding set has CAP_SYS_RESOURCE: the capability warning is not due");
}

/* ---- the rest of linux.resources ---- */

/* The memory and cpu knobs beside the limits, on v1 (where they exist):
 * swappiness, disableOOMKiller, kernelTCP, realtimePeriod and idle, read
 * from inside the container's own cgroup. */
static void
test_resources_v1_knobs (Conf *c, gconstpointer data)
{
  (void) data;
  if (!tu_cgroup_is_v1 (CGROUP_ROOT "/memory") || !g_file_test (CGROUP_ROOT "/memory", G_FILE_TEST_IS_DIR)
      || !g_file_test (CGROUP_ROOT "/cpu/cpu.rt_period_us", G_FILE_TEST_EXISTS)
      || !g_file_test (CGROUP_ROOT "/cpu/cpu.idle", G_FILE_TEST_EXISTS))
    {
      skip_because ("no v1 memory and cpu controllers with cpu.rt_period_us and cpu.idle here");
      return;
    }
  oci_config_set (&c->oci, "linux.resources.memory",
                  "{\"swappiness\": 10, \"disableOOMKiller\": true, \"kernelTCP\": 16777216}");
  oci_config_set (&c->oci, "linux.resources.cpu", "{\"realtimePeriod\": 500000, \"idle\": 1}");
  oci_set_script (&c->oci, "exec 2>&1\ncd /sys/fs/cgroup\n"
                           "cat memory/memory.swappiness\n"
                           "grep oom_kill_disable memory/memory.oom_control\n"
                           "cat memory/memory.kmem.tcp.limit_in_bytes\n"
                           "cat cpu/cpu.rt_period_us cpu/cpu.idle\n");
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==, "10\noom_kill_disable 1\n16777216\n500000\n1\n");
}

/* On cgroup v2, which has no such files, the v1-only memory knobs are a
 * warning (runc ignores them), never silent, and the container runs. */
static void
test_resources_v2_warns (Conf *c, gconstpointer data)
{
  (void) data;
  if (!tu_cgroup_is_v2_only ())
    {
      skip_because ("not a cgroup2-only host: the v1 files exist here");
      return;
    }
  oci_config_set (&c->oci, "linux.resources.memory", "{\"swappiness\": 10}");
  oci_set_script (&c->oci, "echo ran");
  g_autofree char *out = NULL, *err = NULL;
  int rc = oci_runc (&c->oci, &out, &err, "run", "--bundle", c->oci.bundle, c->id, NULL);
  g_assert_cmpint (rc, ==, 0);
  g_assert_cmpstr (out, ==, "ran\n");
  g_assert_nonnull (strstr (err, "berth-runc: warning: linux.resources.memory swappiness"));
}

/* A block device every host has (a loop device, else the first one). */
static char *
some_block_device (void)
{
  g_autofree char *text = NULL;
  if (g_file_get_contents ("/sys/block/loop0/dev", &text, NULL, NULL))
    return g_strdup (g_strstrip (text));
  g_autoptr (GDir) d = g_dir_open ("/sys/block", 0, NULL);
  const char *name = d ? g_dir_read_name (d) : NULL;
  g_autofree char *path = name ? g_build_filename ("/sys/block", name, "dev", NULL) : NULL;
  if (path && g_file_get_contents (path, &text, NULL, NULL))
    return g_strdup (g_strstrip (text));
  return NULL;
}

/* blockIO throttles: a bps and an iops limit on one device, in v1's files
 * or in v2's io.max line, as the container sees its own cgroup. */
static void
test_resources_blkio_throttle (Conf *c, gconstpointer data)
{
  (void) data;
  g_autofree char *dev = some_block_device ();
  gboolean v2 = tu_cgroup_is_v2_only ();
  if (dev == NULL || (!v2 && !g_file_test (CGROUP_ROOT "/blkio/blkio.throttle.read_bps_device",
                                           G_FILE_TEST_EXISTS)))
    {
      skip_because ("no block device or no blkio throttle files here");
      return;
    }
  g_auto (GStrv) mm = g_strsplit (dev, ":", 2);
  g_autofree char *io = g_strdup_printf (
      "{\"throttleReadBpsDevice\": [{\"major\": %s, \"minor\": %s, \"rate\": 1048576}],"
      " \"throttleWriteIOPSDevice\": [{\"major\": %s, \"minor\": %s, \"rate\": 100}]}",
      mm[0], mm[1], mm[0], mm[1]);
  oci_config_set (&c->oci, "linux.resources.blockIO", io);
  oci_set_script (&c->oci, v2 ? "exec 2>&1\ncat /sys/fs/cgroup/io.max\n"
                              : "exec 2>&1\ncd /sys/fs/cgroup/blkio\n"
                                "cat blkio.throttle.read_bps_device blkio.throttle.write_iops_device\n");
  g_autofree char *out = conf_run (c, 0);
  g_autofree char *want = v2 ? g_strdup_printf ("%s rbps=1048576 wbps=max riops=max wiops=100\n", dev)
                             : g_strdup_printf ("%s 1048576\n%s 100\n", dev, dev);
  g_assert_cmpstr (out, ==, want);
}

/* network.classID needs net_cls: applied where the host has it, else
 * refused at create in one line, as runc refuses it. */
static void
test_resources_net_cls (Conf *c, gconstpointer data)
{
  (void) data;
  oci_config_set (&c->oci, "linux.resources.network", "{\"classID\": 1048577}");
  if (!g_file_test (CGROUP_ROOT "/net_cls/net_cls.classid", G_FILE_TEST_EXISTS))
    {
      oci_set_script (&c->oci, "exec sleep 1000");
      g_autofree char *err = conf_create_fails (c);
      g_assert_cmpstr (err, ==, "berth-runc: linux.resources.network.classID: this host has no "
                                "net_cls cgroup controller\n");
      assert_nothing_left (c);
      return;
    }
  oci_set_script (&c->oci, "cat /sys/fs/cgroup/net_cls/net_cls.classid");
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==, "1048577\n");
}

/* unified: cgroup2 files by name, where there is a cgroup2 hierarchy
 * (cgroup2-only or hybrid); a name with a slash is refused. */
static void
test_resources_unified (Conf *c, gconstpointer data)
{
  gboolean bad = g_str_equal (data, "resources-unified-bad-name");
  gboolean v2 = tu_cgroup_is_v2_only ();
  if (!v2 && !g_file_test (CGROUP_ROOT "/unified/cgroup.controllers", G_FILE_TEST_EXISTS))
    {
      skip_because ("no cgroup2 hierarchy on this host");
      return;
    }
  oci_config_set (&c->oci, "linux.resources.unified",
                  bad ? "{\"../cgroup.max.descendants\": \"7\"}" : "{\"cgroup.max.descendants\": \"7\"}");
  if (bad)
    {
      oci_set_script (&c->oci, "exec sleep 1000");
      g_autofree char *err = conf_create_fails (c);
      g_assert_cmpstr (err, ==, "berth-runc: linux.resources.unified '../cgroup.max.descendants': "
                                "not a file name\n");
      assert_nothing_left (c);
      return;
    }
  /* read from the host: on a hybrid host the container is shown the v1
   * hierarchies only, as under runc */
  oci_set_script (&c->oci, "exec sleep 1000");
  g_autofree char *pid_file = g_build_filename (c->oci.dir, "pid", NULL);
  g_assert_cmpint (oci_runc_create (&c->oci, c->id, pid_file), ==, 0);
  g_autofree char *h = tu_cgroup_hierarchy (NULL);
  g_autofree char *file = g_strconcat (h, c->cgroup, "/cgroup.max.descendants", NULL);
  g_autofree char *value = read_trimmed (file);
  g_assert_cmpstr (value, ==, "7");
}

/* ---- what runc refuses at create ---- */

/* Specs runc refuses, or that would run as root or change the host if
 * taken as they read: create fails in one line naming the field, and
 * leaves nothing behind. */
static void
test_refused (Conf *c, gconstpointer data)
{
  static const struct {
    const char *name, *path, *json, *error;
  } cases[] = {
    { "refuse-uid-negative", "process.user.uid", "-1",
      "process.user.uid -1: outside 0..4294967294" },
    { "refuse-uid-too-large", "process.user.uid", "4294967295",
      "process.user.uid 4294967295: outside 0..4294967294" },
    { "refuse-gid-string", "process.user.gid", "\"0\"", "process.user.gid: not a whole number" },
    { "refuse-uid-float", "process.user.uid", "1.5", "process.user.uid: not a whole number" },
    { "refuse-group-float", "process.user.additionalGids", "[10, 2.5]",
      "process.user.additionalGids[1]: not a whole number" },
    { "refuse-sysctl-host", "linux.sysctl", "{\"kernel.printk_ratelimit_burst\": \"11\"}",
      "sysctl kernel.printk_ratelimit_burst: not in a namespace of the container's own; it would "
      "change the host" },
    { "refuse-oci-version", "ociVersion", "\"2.0.0\"",
      "ociVersion 2.0.0: berth-runc runs specs of version 1.x" },
    { "refuse-swappiness", "linux.resources.memory", "{\"swappiness\": 101}",
      "linux.resources.memory.swappiness 101: outside 0..100" },
  };
  guint i = 0;
  while (strcmp (cases[i].name, data) != 0)
    i++;
  oci_set_script (&c->oci, "exec sleep 1000");
  oci_config_set (&c->oci, cases[i].path, cases[i].json);
  g_autofree char *err = conf_create_fails (c);
  g_autofree char *want = g_strdup_printf ("berth-runc: %s\n", cases[i].error);
  g_assert_cmpstr (err, ==, want);
  assert_nothing_left (c);
}

/* A config.json of 100k nested arrays is refused in one line; json-glib
 * alone would overflow its stack (SIGSEGV). */
static void
test_refused_deep_json (Conf *c, gconstpointer data)
{
  (void) data;
  g_autofree char *path = g_build_filename (c->oci.bundle, "config.json", NULL);
  g_autoptr (GString) deep = g_string_new (NULL);
  for (int i = 0; i < 100000; i++)
    g_string_append_c (deep, '[');
  for (int i = 0; i < 100000; i++)
    g_string_append_c (deep, ']');
  tu_write_file (path, deep->str, 0644);
  g_autofree char *err = conf_create_fails (c);
  g_autofree char *want = g_strdup_printf ("berth-runc: bundle config %s: JSON nested deeper than "
                                           "256 levels\n", path);
  g_assert_cmpstr (err, ==, want);
  assert_nothing_left (c);
}

/* A net.* sysctl is refused in the host's network namespace too (the spec
 * joins the host's, or makes none). */
static void
test_refused_sysctl_no_netns (Conf *c, gconstpointer data)
{
  (void) data;
  oci_set_script (&c->oci, "exec sleep 1000");
  remove_namespace (c, "network");
  oci_config_set (&c->oci, "linux.sysctl", "{\"net.ipv4.ip_forward\": \"1\"}");
  g_autofree char *err = conf_create_fails (c);
  g_assert_cmpstr (err, ==, "berth-runc: sysctl net.ipv4.ip_forward: the container has no network "
                            "namespace of its own\n");
  assert_nothing_left (c);
}

/* No mount namespace: the program would run on the host's root. */
static void
test_refused_no_mount_ns (Conf *c, gconstpointer data)
{
  (void) data;
  oci_set_script (&c->oci, "exec sleep 1000");
  remove_namespace (c, "mount");
  g_autofree char *err = conf_create_fails (c);
  g_assert_cmpstr (err, ==, "berth-runc: linux.namespaces: no mount namespace; a container never "
                            "runs on the host's root\n");
  assert_nothing_left (c);
}

/* The program is looked up at create, as runc does: a missing one fails
 * create with runc's words (Docker answers 127 on them), and no container
 * is left to start. */
static void
test_program_missing (Conf *c, gconstpointer data)
{
  gboolean by_path = g_str_equal (data, "program-missing-path");
  oci_config_set (&c->oci, "process.args", by_path ? "[\"/nonexistent\"]" : "[\"nonexistent\"]");
  g_autofree char *err = conf_create_fails (c);
  g_assert_cmpstr (err, ==, by_path
                                ? "berth-runc: exec: \"/nonexistent\": stat /nonexistent: no such "
                                  "file or directory\n"
                                : "berth-runc: exec: \"nonexistent\": executable file not found in "
                                  "$PATH\n");
  assert_nothing_left (c);
}

/* HOME, when the spec's env has none, is the user's home from the
 * container's /etc/passwd (runc's rule), "/" for a user it lacks; one the
 * env gives is kept. */
static void
test_home (Conf *c, gconstpointer data)
{
  static const struct {
    const char *name, *uid, *env_home, *want;
  } cases[] = {
    { "home-root", "0", NULL, "HOME=/root\n" },
    { "home-user", "1000", NULL, "HOME=/home/alice\n" },
    { "home-unknown-user", "4242", NULL, "HOME=/\n" },
    { "home-from-env", "1000", "/srv", "HOME=/srv\n" },
  };
  guint i = 0;
  while (strcmp (cases[i].name, data) != 0)
    i++;
  write_rootfs_file (c, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
                                      "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n");
  oci_set_script (&c->oci, "echo \"HOME=$HOME\"");
  oci_config_set (&c->oci, "process.user.uid", cases[i].uid);
  g_autofree char *env = g_strdup_printf ("[\"PATH=/bin\"%s%s%s]", cases[i].env_home ? ", \"HOME=" : "",
                                          cases[i].env_home ? cases[i].env_home : "",
                                          cases[i].env_home ? "\"" : "");
  oci_config_set (&c->oci, "process.env", env);
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==, cases[i].want);
}

/* Started from a shim that ignores SIGHUP and blocks SIGUSR1 (nohup, or a
 * supervisor), the container's program still has every signal at its
 * default and none blocked, as under runc. */
static void
test_signals_reset (Conf *c, gconstpointer data)
{
  (void) data;
  oci_set_script (&c->oci, "exec 2>&1\nexec grep -E '^Sig(Blk|Ign):' /proc/self/status\n");
  sigset_t usr1, old_mask;
  sigemptyset (&usr1);
  sigaddset (&usr1, SIGUSR1);
  sigprocmask (SIG_BLOCK, &usr1, &old_mask);
  void (*old_hup) (int) = signal (SIGHUP, SIG_IGN);
  g_autofree char *out = conf_run (c, 0);
  signal (SIGHUP, old_hup);
  sigprocmask (SIG_SETMASK, &old_mask, NULL);
  g_assert_cmpstr (out, ==, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
}

/* A seccomp profile that denies close_range, loaded without
 * noNewPrivileges (so before berth drops its capabilities): berth has
 * marked its descriptors before the filter, and the program runs. */
static void
test_seccomp_denies_close_range (Conf *c, gconstpointer data)
{
  (void) data;
  oci_set_script (&c->oci, "echo ran");
  oci_config_set (&c->oci, "linux.seccomp",
                  "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
                  "{\"names\": [\"close_range\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1}]}");
  oci_config_set (&c->oci, "process.noNewPrivileges", "false");
  g_autofree char *out = conf_run (c, 0);
  g_assert_cmpstr (out, ==, "ran\n");
}

int
main (int argc, char **argv)
{
  if (!oci_test_init (&argc, &argv))
    return g_test_run ();
  const struct {
    const char *name;
    void (*func) (Conf *, gconstpointer);
  } cases[] = {
    { "masked-paths", test_masked_paths },
    { "readonly-paths", test_readonly_paths },
    { "hostname", test_hostname },
    { "user-namespace", test_user_namespace },
    { "user-namespace-bind-tmp", test_user_namespace_bind_tmp },
    { "mounts", test_mounts },
    { "mounts-tmpcopyup", test_mounts_tmpcopyup },
    { "rlimits", test_rlimits },
    { "sysctl", test_sysctl },
    { "cgroups-inside", test_cgroups_inside },
    { "cgroups-host", test_cgroups_host },
    { "cgroups-no-namespace", test_cgroups_no_namespace },
    { "seccomp", test_seccomp },
    { "seccomp-without-nnp", test_seccomp },
    { "readonly-root", test_readonly_root },
    { "process-user", test_process_user },
    { "capabilities", test_capabilities },
    { "capabilities-ambient", test_capabilities },
    { "oom-score-adj", test_oom_score_adj },
    { "no-new-privileges", test_no_new_privileges },
    { "propagation-default", test_rootfs_propagation },
    { "propagation-private", test_rootfs_propagation },
    { "propagation-slave", test_rootfs_propagation },
    { "propagation-shared", test_rootfs_propagation },
    { "propagation-unbindable", test_rootfs_propagation },
    { "hooks", test_hooks },
    { "hooks-create-fails", test_hooks_create_fails },
    { "hooks-timeout", test_hooks_timeout },
    { "hooks-poststart-fails", test_hooks_poststart_fails },
    { "hooks-after-fail-logged", test_hooks_poststart_fails },
    { "warnings-logged", test_warnings_logged },
    { "devices", test_devices },
    { "devices-invalid", test_devices_invalid },
    { "cgroup-devices", test_cgroup_devices },
    { "devices-docker-rules", test_devices_client_rules },
    { "devices-deny-all", test_devices_client_rules },
    { "devices-ptmx", test_devices_ptmx },
    { "hugetlb", test_hugetlb },
    { "namespaces-joined", test_namespaces_joined },
    { "namespaces-bad-path", test_namespaces_bad_path },
    { "resources-v1-knobs", test_resources_v1_knobs },
    { "resources-v2-warns", test_resources_v2_warns },
    { "resources-blkio-throttle", test_resources_blkio_throttle },
    { "resources-net-cls", test_resources_net_cls },
    { "resources-unified", test_resources_unified },
    { "resources-unified-bad-name", test_resources_unified },
    { "refuse-swappiness", test_refused },
    { "refuse-uid-negative", test_refused },
    { "refuse-uid-too-large", test_refused },
    { "refuse-gid-string", test_refused },
    { "refuse-uid-float", test_refused },
    { "refuse-group-float", test_refused },
    { "refuse-sysctl-host", test_refused },
    { "refuse-oci-version", test_refused },
    { "refuse-sysctl-no-netns", test_refused_sysctl_no_netns },
    { "refuse-deep-json", test_refused_deep_json },
    { "refuse-no-mount-ns", test_refused_no_mount_ns },
    { "program-missing-path", test_program_missing },
    { "program-missing-search", test_program_missing },
    { "home-root", test_home },
    { "home-user", test_home },
    { "home-unknown-user", test_home },
    { "home-from-env", test_home },
    { "signals-reset", test_signals_reset },
    { "seccomp-denies-close-range", test_seccomp_denies_close_range },
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
