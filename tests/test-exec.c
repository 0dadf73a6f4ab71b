/* Real containers through the CLI, as root: namespaces, rootfs, privileges,
 * cgroups and the lifecycle, on every storage driver this host has. Each
 * case runs against a fresh store holding a busybox image. */
#include "config.h"
#include "testutil.h"
#include <berth/exec.h>
#include <berth/family.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  const char *driver;       /* storage driver */
  const char *exec_driver;  /* one of the exec table's */
} Params;

typedef struct {
  const Params *params;
  char *dir;
  char *root;
  char *btrfs;          /* mount point when the store is on btrfs */
  gboolean skipped;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->params = data;
  f->dir = tu_mkdtemp ("berth-exec");
  {
    g_autoptr (GError) error = NULL;
    const BerthExecOps *ops = berth_exec_driver_lookup (f->params->exec_driver, &error);
    if (ops && !berth_exec_probe (ops, &error))
      g_prefix_error (&error, "exec driver %s: ", f->params->exec_driver);
    if (error)
      {
        g_test_skip (error->message); /* the lookup's error names the driver */
        f->skipped = TRUE;
        return;
      }
  }
  f->root = g_build_filename (f->dir, "store", NULL);
  if (g_strcmp0 (berth_storage_family_lookup (f->params->driver)->store_fs, "btrfs") == 0)
    {
      g_autoptr (GError) error = NULL;
      f->btrfs = g_build_filename (f->dir, "btrfs", NULL);
      if (!tu_btrfs_mount (f->dir, f->btrfs, &error))
        {
          g_test_skip_printf ("btrfs: %s", error->message);
          f->skipped = TRUE;
          return;
        }
      g_free (f->root);
      f->root = g_build_filename (f->btrfs, "store", NULL);
    }
  g_autofree char *err = NULL;
  int rc = tu_berth (f->root, NULL, &err, "--storage-driver", f->params->driver, "image", "bootstrap",
                  "busybox", NULL);
  if (rc != 0 && err && strstr (err, "not available"))
    {
      g_test_skip_printf ("%s", err);
      f->skipped = TRUE;
      return;
    }
  g_assert_cmpint (rc, ==, 0);
}

static char *
container_cgroup (const char *hierarchy, const char *id)
{
  return g_strdup_printf ("/sys/fs/cgroup/%s/berth/%s", hierarchy, id);
}

/* Nothing of container @id anywhere: no cgroup in any hierarchy, no mount,
 * no state directory. */
static void
assert_no_trace (Fixture *f, const char *id)
{
  g_autoptr (GDir) d = g_dir_open ("/sys/fs/cgroup", 0, NULL);
  const char *h;
  while (d && (h = g_dir_read_name (d)))
    {
      g_autofree char *cg = container_cgroup (h, id);
      if (g_file_test (cg, G_FILE_TEST_EXISTS))
        g_error ("cgroup %s left behind", cg);
    }
  g_autofree char *cg2 = g_strdup_printf ("/sys/fs/cgroup/berth/%s", id);
  g_assert_false (g_file_test (cg2, G_FILE_TEST_EXISTS));
  g_autofree char *mountinfo = NULL;
  g_assert_true (g_file_get_contents ("/proc/self/mountinfo", &mountinfo, NULL, NULL));
  g_assert_null (strstr (mountinfo, id));
  g_autofree char *state = g_build_filename (f->root, "containers", id, NULL);
  g_assert_false (g_file_test (state, G_FILE_TEST_EXISTS));
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  (void) data;
  if (!f->skipped)
    {
      /* Remove whatever a failed case left running. */
      g_autofree char *ids = NULL;
      tu_berth (f->root, &ids, NULL, "ps", "-aq", NULL);
      g_auto (GStrv) lines = g_strsplit (ids ? ids : "", "\n", -1);
      for (char **l = lines; *l; l++)
        if (**l)
          tu_berth (f->root, NULL, NULL, "rm", "-f", *l, NULL);
    }
  if (f->btrfs)
    tu_btrfs_umount (f->btrfs);
  g_assert_false (tu_mounted_below (f->dir));
  tu_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->root);
  g_free (f->btrfs);
}

static gboolean
is_lxc (Fixture *f)
{
  return g_strcmp0 (f->params->exec_driver, "lxc") == 0;
}

/* tu_berth with the fixture's exec driver given to run and create. */
static int G_GNUC_NULL_TERMINATED
fb (Fixture *f, char **out, char **err, ...)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) tu_berth_bin ());
  g_ptr_array_add (argv, (gpointer) "--root");
  g_ptr_array_add (argv, f->root);
  va_list ap;
  va_start (ap, err);
  const char *a;
  gboolean first = TRUE;
  while ((a = va_arg (ap, const char *)))
    {
      g_ptr_array_add (argv, (gpointer) a);
      if (first && (strcmp (a, "run") == 0 || strcmp (a, "create") == 0))
        {
          g_ptr_array_add (argv, (gpointer) "--exec-driver");
          g_ptr_array_add (argv, (gpointer) f->params->exec_driver);
        }
      first = FALSE;
    }
  va_end (ap);
  return tu_berth_argv (argv, out, err);
}

/* `berth run MODE FLAGS... busybox sh -c SCRIPT`: its exit code and output. */
static int
run_script (Fixture *f, const char *mode, const char *const *flags, const char *script,
            char **out, char **err)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const char *head[] = { tu_berth_bin (), "--root", f->root, "run", "--exec-driver",
                         f->params->exec_driver, mode };
  for (guint i = 0; i < G_N_ELEMENTS (head); i++)
    g_ptr_array_add (argv, (gpointer) head[i]);
  for (const char *const *fl = flags; fl && *fl; fl++)
    g_ptr_array_add (argv, (gpointer) *fl);
  const char *tail[] = { "busybox", "sh", "-c", script, NULL };
  for (guint i = 0; i < G_N_ELEMENTS (tail); i++)
    g_ptr_array_add (argv, (gpointer) tail[i]);
  return tu_run ((char **) argv->pdata, out, err);
}

/* run --rm: stdout, asserting exit code @want. */
static char *
run_sh (Fixture *f, int want, const char *const *flags, const char *script)
{
  char *out = NULL;
  g_autofree char *err = NULL;
  int rc = run_script (f, "--rm", flags, script, &out, &err);
  if (rc != want)
    g_error ("sh -c '%s' exited %d, not %d; stderr: %s", script, rc, want, err);
  return out;
}

/* run -d: the container's id. */
static char *
run_detached (Fixture *f, const char *const *flags, const char *script)
{
  g_autofree char *out = NULL, *err = NULL;
  int rc = run_script (f, "-d", flags, script, &out, &err);
  if (rc != 0)
    g_error ("run -d exited %d: %s", rc, err);
  return g_strstrip (g_strdup (out));
}

static char *
exec_in (Fixture *f, const char *id, const char *script)
{
  char *out = NULL;
  g_assert_cmpint (fb (f, &out, NULL, "exec", id, "sh", "-c", script, NULL), ==, 0);
  return out;
}

#define SKIP_IF_SKIPPED(f) \
  if ((f)->skipped)        \
  return

/* ---- isolation ---- */

static void
test_pid_namespace (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_autofree char *out = run_sh (f, 0, NULL, "echo $$; ls /proc | grep -c '^[0-9]'");
  g_auto (GStrv) lines = g_strsplit (out, "\n", -1);
  g_assert_cmpstr (lines[0], ==, "1");
  /* sh, ls and grep: the host's processes are not there. */
  g_assert_cmpint (atoi (lines[1]), <=, 3);
}

static void
test_hostname (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  const char *flags[] = { "-h", "box-one", NULL };
  g_autofree char *out = run_sh (f, 0, flags, "hostname");
  g_assert_cmpstr (g_strstrip (out), ==, "box-one");
}

static void
test_mounts_private (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_autofree char *id = run_detached (f, NULL, "exec sleep 1000");
  g_autofree char *inside = exec_in (f, id, "cat /proc/self/mountinfo");
  g_assert_nonnull (strstr (inside, " /proc "));
  g_assert_nonnull (strstr (inside, " /dev/pts "));
  /* The rootfs may be mounted on the host (overlay's merged view), but
   * nothing the container mounted on it is. */
  g_autofree char *json = NULL;
  g_assert_cmpint (fb (f, &json, NULL, "inspect", id, NULL), ==, 0);
  const char *key = strstr (json, "\"Rootfs\" : \"");
  g_assert_nonnull (key);
  g_autofree char *rootfs = g_strndup (key + 12, strchr (key + 12, '"') - (key + 12));
  g_autofree char *below = g_strdup_printf (" %s/", rootfs);
  g_autofree char *host = NULL;
  g_assert_true (g_file_get_contents ("/proc/self/mountinfo", &host, NULL, NULL));
  g_assert_null (strstr (host, below));
  g_assert_cmpint (fb (f, NULL, NULL, "rm", "-f", id, NULL), ==, 0);
  assert_no_trace (f, id);
}

/* ---- privileges ---- */

static void
test_capabilities (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_autofree char *out = run_sh (f, 0, NULL, "grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status");
  /* Docker's default set: chown dac_override fowner fsetid kill setgid
   * setuid setpcap net_bind_service net_raw sys_chroot mknod audit_write setfcap. */
  g_assert_nonnull (strstr (out, "CapInh:\t0000000000000000"));
  g_assert_nonnull (strstr (out, "CapPrm:\t00000000a80425fb"));
  g_assert_nonnull (strstr (out, "CapEff:\t00000000a80425fb"));
  g_assert_nonnull (strstr (out, "CapBnd:\t00000000a80425fb"));
  g_assert_nonnull (strstr (out, "CapAmb:\t0000000000000000"));
  g_assert_nonnull (strstr (out, "NoNewPrivs:\t1"));
  g_assert_nonnull (strstr (out, "Seccomp:\t2"));
}

static void
test_cap_add_drop (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  const char *flags[] = { "--cap-drop", "ALL", "--cap-add", "CHOWN", NULL };
  g_autofree char *out = run_sh (f, 0, flags, "grep CapEff /proc/self/status");
  g_assert_nonnull (strstr (out, "CapEff:\t0000000000000001"));
}

static void
test_seccomp (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_autofree char *out = run_sh (f, 0, NULL, "unshare -U true && echo allowed || echo refused");
  g_assert_cmpstr (g_strstrip (out), ==, "refused");
  /* A process started by exec is under the same filter. */
  g_autofree char *id = run_detached (f, NULL, "exec sleep 1000");
  g_autofree char *exec_out = exec_in (f, id, "grep Seccomp: /proc/self/status; "
                                              "unshare -U true && echo allowed || echo refused");
  g_assert_cmpstr (exec_out, ==, "Seccomp:\t2\nrefused\n");
  const char *unconfined[] = { "--security-opt", "seccomp=unconfined", NULL };
  g_autofree char *out2 = run_sh (f, 0, unconfined, "grep Seccomp: /proc/self/status");
  g_assert_nonnull (strstr (out2, "Seccomp:\t0"));
}

/* --security-opt seccomp=FILE: a profile of the user's own, with its
 * errnoRet and an argument check, is what the program meets. */
static void
test_seccomp_profile (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  /* mkdir refused with EACCES; kill allowed only for signal 0 (a probe). */
  const char *profile =
      "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": ["
      "{\"names\": [\"mkdir\", \"mkdirat\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 13},"
      "{\"names\": [\"kill\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1,"
      " \"args\": [{\"index\": 1, \"value\": 0, \"op\": \"SCMP_CMP_NE\"}]}]}";
  g_autofree char *file = g_build_filename (f->dir, "profile.json", NULL);
  g_assert_true (g_file_set_contents (file, profile, -1, NULL));
  g_autofree char *opt = g_strconcat ("seccomp=", file, NULL);
  const char *flags[] = { "--security-opt", opt, NULL };
  g_autofree char *out = run_sh (f, 0, flags,
                                 "mkdir /tmp/d 2>&1; kill -0 $$ && echo probe-ok; "
                                 "kill -TERM $$ 2>&1 || echo term-refused");
  g_assert_nonnull (strstr (out, "Permission denied"));
  g_assert_nonnull (strstr (out, "probe-ok\n"));
  g_assert_nonnull (strstr (out, "term-refused\n"));

  /* SCMP_ACT_LOG has no word in LXC's format: lxc refuses it in one line
   * and starts nothing; native loads it. */
  const char *logging = "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": "
                        "[{\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_LOG\"}]}";
  g_assert_true (g_file_set_contents (file, logging, -1, NULL));
  g_autofree char *log_out = NULL, *log_err = NULL;
  int rc = run_script (f, "--rm", flags, "echo started", &log_out, &log_err);
  if (is_lxc (f))
    {
      g_assert_cmpint (rc, !=, 0);
      tu_assert_one_line_error (log_err, "SCMP_ACT_LOG");
      g_autofree char *ids = NULL;
      fb (f, &ids, NULL, "ps", "-aq", NULL);
      g_assert_cmpstr (ids, ==, "");
    }
  else
    {
      g_assert_cmpint (rc, ==, 0);
      g_assert_cmpstr (log_out, ==, "started\n");
    }
}

static void
test_masked_and_readonly_paths (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  static const char *const masked[] = { "/proc/kcore", "/proc/keys", "/proc/timer_list",
                                        "/proc/sched_debug", "/proc/scsi", "/proc/acpi",
                                        "/sys/firmware", NULL };
  g_autofree char *out = run_sh (
      f, 0, NULL,
      "for p in /proc/kcore /proc/keys /proc/timer_list /proc/sched_debug /proc/scsi /proc/acpi "
      "/sys/firmware; do if [ -d $p ]; then echo \"$p $(ls -A $p | wc -l)\"; "
      "elif [ -e $p ]; then echo \"$p $(cat $p | wc -c)\"; fi; done;"
      "echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo writable || echo ro;"
      "echo h > /proc/sysrq-trigger 2>/dev/null && echo writable || echo ro");
  /* Every masked path the host has reads as empty inside. */
  guint checked = 0;
  for (guint i = 0; masked[i]; i++)
    if (g_file_test (masked[i], G_FILE_TEST_EXISTS))
      {
        g_autofree char *line = g_strdup_printf ("%s 0\n", masked[i]);
        if (strstr (out, line) == NULL)
          g_error ("%s is not empty inside: %s", masked[i], out);
        checked++;
      }
  g_assert_cmpuint (checked, >=, 3);
  g_assert_true (g_str_has_suffix (out, "ro\nro\n"));
}

static void
test_no_fd_leak (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_autofree char *id = run_detached (f, NULL, "exec sleep 1000");
  g_autofree char *init_fds = exec_in (f, id, "ls /proc/1/fd | tr '\\n' ' '");
  g_assert_cmpstr (init_fds, ==, "0 1 2 ");
  /* The exec'd shell's own fds: 0-2, and 3 for the directory ls reads. */
  g_autofree char *exec_fds = exec_in (f, id, "ls /proc/self/fd | tr '\\n' ' '");
  g_assert_cmpstr (exec_fds, ==, "0 1 2 3 ");
  g_autofree char *cwd = exec_in (f, id, "readlink /proc/1/cwd; readlink /proc/self/cwd");
  g_assert_cmpstr (cwd, ==, "/\n/\n");
  g_assert_cmpint (fb (f, NULL, NULL, "rm", "-f", id, NULL), ==, 0);
}

/* CVE-2019-5736: no process in the container ever has the berth binary as
 * its executable. The first process is the program itself, and a script
 * whose interpreter is #!/proc/self/exe, run through exec, finds berth's
 * sealed exec helper (which refuses to run) instead of berth. */
static void
test_berth_binary_unreachable (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_autofree char *id = run_detached (f, NULL, "exec sleep 1000");
  g_autofree char *out = exec_in (f, id,
                                  "for p in /proc/[0-9]*; do readlink $p/exe; done 2>/dev/null;"
                                  "echo x >> /proc/1/exe 2>/dev/null && echo wrote || echo refused");
  g_assert_null (strstr (out, "berth"));
  /* The write is refused (ETXTBSY), or, on overlay in 5.10, where exec
   * denies writes to the lower file only, it copies the file up into this
   * container's own layer. Either way the image keeps its file: a fresh
   * container's busybox does not end in the "x\n" written. */
  if (strstr (out, "wrote"))
    {
      g_autofree char *tail = NULL, *terr = NULL;
      g_assert_cmpint (run_script (f, "--rm", NULL, "tail -c 2 /bin/busybox | od -An -tx1", &tail,
                                   &terr),
                       ==, 0);
      g_assert_null (strstr (tail, "78 0a"));
    }
  else
    g_assert_nonnull (strstr (out, "refused"));
  g_free (exec_in (f, id, "printf '#!/proc/self/exe\\n' > /evil; chmod +x /evil"));
  g_autofree char *o3 = NULL, *e3 = NULL;
  g_assert_cmpint (fb (f, &o3, &e3, "exec", id, "/evil", NULL), ==, 126);
  g_assert_nonnull (strstr (e3, "berth-exec-helper: started by something other than berth"));
  g_assert_cmpint (fb (f, NULL, NULL, "rm", "-f", id, NULL), ==, 0);

  /* The same script as the first process. */
  g_assert_cmpint (fb (f, NULL, NULL, "create", "--name", "evil", "busybox", "/evil", NULL), ==, 0);
  g_autofree char *rootfs = NULL;
  g_assert_cmpint (fb (f, &rootfs, NULL, "mount", "evil", NULL), ==, 0);
  g_autofree char *script = g_build_filename (g_strstrip (rootfs), "evil", NULL);
  g_assert_true (g_file_set_contents (script, "#!/proc/self/exe\n", -1, NULL));
  g_assert_cmpint (chmod (script, 0755), ==, 0);
  g_assert_cmpint (fb (f, NULL, NULL, "umount", "evil", NULL), ==, 0);
  g_autofree char *o4 = NULL, *e4 = NULL;
  g_assert_cmpint (fb (f, &o4, &e4, "start", "-a", "evil", NULL), ==, 126);
  g_assert_nonnull (strstr (e4, "berth-exec-helper: started by something other than berth"));
}

/* ---- cgroups ---- */

/* On a host that cannot give containers @controller, a limit on it (@flag
 * @value) is refused in one line and leaves no container; the case is then
 * skipped with the reason. */
static gboolean
skip_without_controller (Fixture *f, const char *controller, const char *flag, const char *value)
{
  g_autofree char *missing = tu_cgroup_controller_missing (controller);
  if (missing == NULL)
    return FALSE;
  g_autofree char *err = NULL, *ids = NULL;
  g_assert_cmpint (fb (f, NULL, &err, "run", "--rm", flag, value, "busybox", "true", NULL), !=, 0);
  tu_assert_one_line_error (err, controller);
  g_assert_cmpint (fb (f, &ids, NULL, "ps", "-a", "-q", NULL), ==, 0);
  g_assert_cmpstr (ids, ==, "");
  g_test_skip_printf ("%s; berth refuses %s in one line: %s", missing, flag, err);
  return TRUE;
}

static void
test_oom (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  if (skip_without_controller (f, "memory", "-m", "32m"))
    return;
  g_autofree char *err = NULL;
  int rc = fb (f, NULL, &err, "run", "--name", "hog", "-m", "32m", "--memory-swap", "32m",
                  "busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=128M", "count=1", NULL);
  g_assert_cmpint (rc, ==, 137);
  g_autofree char *json = NULL;
  g_assert_cmpint (fb (f, &json, NULL, "inspect", "hog", NULL), ==, 0);
  g_assert_nonnull (strstr (json, "\"OOMKilled\" : true"));
  g_assert_nonnull (strstr (json, "\"ExitCode\" : 137"));
  g_assert_nonnull (strstr (json, "\"Memory\" : 33554432"));
}

static void
test_pids_limit (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  const char *flags[] = { "--pids-limit", "20", NULL };
  g_autofree char *out = run_sh (f, 0, flags,
                                 "(i=0; while [ $i -lt 60 ]; do sleep 30 & i=$((i+1)); done) 2>/dev/null;"
                                 "set -- /proc/[0-9]*; echo $#");
  int n = atoi (g_strstrip (out));
  g_assert_cmpint (n, <=, 20);
  g_assert_cmpint (n, >=, 10);
}

static gboolean
read_trimmed (const char *path, char **value)
{
  if (!g_file_get_contents (path, value, NULL, NULL))
    return FALSE;
  g_strstrip (*value);
  return TRUE;
}

/* The value berth wrote for @controller: where the host keeps it (its v1
 * hierarchy, or cgroup2, also as the hybrid layout's unified/). */
static void
assert_cgroup_value (const char *id, const char *controller, const char *v1_file,
                     const char *v2_file, const char *want_v1, const char *want_v2)
{
  g_autofree char *h = tu_cgroup_hierarchy (controller);
  gboolean v1 = tu_cgroup_is_v1 (h);
  g_autofree char *path = g_strdup_printf ("%s/berth/%s/%s", h, id, v1 ? v1_file : v2_file);
  g_autofree char *value = NULL;
  if (!read_trimmed (path, &value))
    g_error ("%s: cannot read it", path);
  g_assert_cmpstr (value, ==, v1 ? want_v1 : want_v2);
}

static void
test_cgroup_values (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  if (skip_without_controller (f, "memory", "-m", "64m")
      || skip_without_controller (f, "cpuset", "--cpuset-cpus", "0"))
    return;
  const char *flags[] = { "--cpus", "0.5", "--cpuset-cpus", "0", "-m", "64m", "--cpu-shares",
                          "512", "--pids-limit", "50", NULL };
  g_autofree char *id = run_detached (f, flags, "exec sleep 1000");
  assert_cgroup_value (id, "cpu", "cpu.cfs_quota_us", "cpu.max", "50000", "50000 100000");
  assert_cgroup_value (id, "cpu", "cpu.shares", "cpu.weight", "512", "20");
  assert_cgroup_value (id, "cpuset", "cpuset.cpus", "cpuset.cpus", "0", "0");
  assert_cgroup_value (id, "memory", "memory.limit_in_bytes", "memory.max", "67108864", "67108864");
  assert_cgroup_value (id, "pids", "pids.max", "pids.max", "50", "50");
  g_autofree char *stats = NULL;
  g_assert_cmpint (fb (f, &stats, NULL, "stats", "--no-stream", id, NULL), ==, 0);
  g_test_message ("%s", stats);
  g_assert_nonnull (strstr (stats, "/ 64.0"));
  g_assert_cmpint (fb (f, NULL, NULL, "rm", "-f", id, NULL), ==, 0);
  assert_no_trace (f, id);
}

static void
test_io_weight (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_autofree char *out = NULL, *err = NULL;
  int rc = fb (f, &out, &err, "run", "-d", "--blkio-weight", "300", "busybox", "sleep", "1000", NULL);
  if (rc != 0)
    {
      /* A kernel whose block layer has no weight knob: the flag must say so
       * in one line and leave nothing behind. */
      tu_assert_one_line_error (err, "weight");
      g_autofree char *ids = NULL;
      fb (f, &ids, NULL, "ps", "-q", NULL);
      g_assert_cmpstr (ids, ==, "");
      g_test_skip_printf ("no I/O weight on this host: %s", err);
      return;
    }
  g_autofree char *id = g_strstrip (g_strdup (out));
  static const char *const files[][3] = {
    { "/sys/fs/cgroup/blkio/berth/", "/blkio.weight", "300" },
    { "/sys/fs/cgroup/blkio/berth/", "/blkio.bfq.weight", "300" },
    /* crun's and runc's conversion: 1 + (300 - 10) * 9999 / 990 */
    { "/sys/fs/cgroup/berth/", "/io.weight", "default 2930" },
  };
  gboolean found = FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (files) && !found; i++)
    {
      g_autofree char *path = g_strconcat (files[i][0], id, files[i][1], NULL);
      g_autofree char *value = NULL;
      if (read_trimmed (path, &value))
        {
          g_assert_cmpstr (value, ==, files[i][2]);
          found = TRUE;
        }
    }
  g_assert_true (found);
  g_assert_cmpint (fb (f, NULL, NULL, "rm", "-f", id, NULL), ==, 0);
}

/* ---- lifecycle ---- */

static void
test_exit_codes (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_free (run_sh (f, 42, NULL, "exit 42"));
  g_autofree char *err = NULL;
  g_assert_cmpint (fb (f, NULL, &err, "run", "--rm", "busybox", "no-such-program", NULL), ==, 127);
  tu_assert_one_line_error (err, "no-such-program");
  g_autofree char *ids = NULL;
  fb (f, &ids, NULL, "ps", "-aq", NULL);
  g_assert_cmpstr (ids, ==, "");
}

static void
test_stop_escalates (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  /* pid 1 has no handler for SIGTERM: the kernel ignores it, so only the
   * SIGKILL after the timeout stops it. */
  g_autofree char *id = run_detached (f, NULL, "exec sleep 1000");
  gint64 t0 = g_get_monotonic_time ();
  g_assert_cmpint (fb (f, NULL, NULL, "stop", "-t", "1", id, NULL), ==, 0);
  g_assert_cmpint (g_get_monotonic_time () - t0, >=, G_USEC_PER_SEC);
  g_autofree char *code = NULL;
  g_assert_cmpint (fb (f, &code, NULL, "wait", id, NULL), ==, 0);
  g_assert_cmpstr (code, ==, "137\n");
  g_autofree char *ps = NULL;
  fb (f, &ps, NULL, "ps", "-a", NULL);
  g_assert_nonnull (strstr (ps, "Exited (137)"));
}

static void
test_logs_after_exit (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_autofree char *id = run_detached (f, NULL, "echo to-out; echo to-err >&2; printf partial");
  g_autofree char *code = NULL;
  g_assert_cmpint (fb (f, &code, NULL, "wait", id, NULL), ==, 0);
  g_assert_cmpstr (code, ==, "0\n");
  g_autofree char *out = NULL, *err = NULL;
  g_assert_cmpint (fb (f, &out, &err, "logs", id, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "to-out\npartial");
  g_assert_cmpstr (err, ==, "to-err\n");
  g_assert_cmpint (fb (f, NULL, NULL, "rm", id, NULL), ==, 0);
  assert_no_trace (f, id);
}

static void
test_exec_and_ps (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_autofree char *id = run_detached (f, NULL, "exec sleep 1000");
  g_autofree char *out = exec_in (f, id, "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$");
  g_auto (GStrv) l = g_strsplit (out, "\n", -1);
  g_assert_cmpstr (l[0], ==, "sleep 1000 ");
  g_assert_cmpint (atoi (l[1]), >, 1);
  /* Another berth process, as from another shell, sees it running. */
  g_autofree char *ps = NULL;
  g_assert_cmpint (fb (f, &ps, NULL, "ps", NULL), ==, 0);
  g_assert_nonnull (strstr (ps, "Up"));
  g_autofree char *top = NULL;
  g_assert_cmpint (fb (f, &top, NULL, "top", id, NULL), ==, 0);
  g_assert_nonnull (strstr (top, "sleep 1000"));
  g_autofree char *err = NULL;
  g_assert_cmpint (fb (f, NULL, &err, "rm", id, NULL), !=, 0);
  tu_assert_one_line_error (err, "running");
  g_assert_cmpint (fb (f, NULL, NULL, "pause", id, NULL), ==, 0);
  g_autofree char *state = NULL;
  g_autofree char *v1 = g_strdup_printf ("/sys/fs/cgroup/freezer/berth/%s/freezer.state", id);
  g_autofree char *v2 = g_strdup_printf ("/sys/fs/cgroup/berth/%s/cgroup.freeze", id);
  g_assert_true (read_trimmed (v1, &state) || read_trimmed (v2, &state));
  g_assert_true (g_strcmp0 (state, "FROZEN") == 0 || g_strcmp0 (state, "1") == 0);
  g_assert_cmpint (fb (f, NULL, NULL, "unpause", id, NULL), ==, 0);
  g_assert_cmpint (fb (f, NULL, NULL, "rm", "-f", id, NULL), ==, 0);
  assert_no_trace (f, id);
}

static void
test_volumes (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_autofree char *host = g_build_filename (f->dir, "vol", NULL);
  g_assert_cmpint (g_mkdir_with_parents (host, 0755), ==, 0);
  g_autofree char *file = g_build_filename (host, "hello", NULL);
  tu_write_file (file, "from the host\n", 0644);
  g_autofree char *ro = g_strdup_printf ("%s:/data:ro", host);
  const char *ro_flags[] = { "-v", ro, NULL };
  g_autofree char *out = run_sh (f, 0, ro_flags,
                                 "cat /data/hello; touch /data/new 2>/dev/null && echo wrote || echo refused");
  g_assert_cmpstr (out, ==, "from the host\nrefused\n");
  g_autofree char *created = g_build_filename (host, "new", NULL);
  g_assert_false (g_file_test (created, G_FILE_TEST_EXISTS));
  g_autofree char *rw = g_strdup_printf ("%s:/data", host);
  const char *rw_flags[] = { "-v", rw, NULL };
  g_free (run_sh (f, 0, rw_flags, "echo made > /data/new"));
  g_assert_true (g_file_test (created, G_FILE_TEST_EXISTS));
}

static void
test_read_only_root (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  const char *flags[] = { "--read-only", NULL };
  g_autofree char *out = run_sh (f, 0, flags,
                                 "touch /x 2>/dev/null && echo wrote || echo refused; touch /dev/shm/x && echo tmpfs-ok");
  g_assert_cmpstr (out, ==, "refused\ntmpfs-ok\n");
}

static void
test_user_env_workdir (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  const char *flags[] = { "-u", "1000:1000", "-e", "GREETING=hi", "-w", "/tmp/work", NULL };
  g_autofree char *out = run_sh (f, 0, flags, "id -u; id -g; echo $GREETING; pwd; grep CapEff /proc/self/status");
  g_assert_cmpstr (out, ==, "1000\n1000\nhi\n/tmp/work\nCapEff:\t0000000000000000\n");
}

/* Container cgroups (64-hex directories) under berth's parent cgroup. */
static guint
count_container_cgroups (void)
{
  const char *parent = g_file_test ("/sys/fs/cgroup/memory", G_FILE_TEST_IS_DIR)
                           ? "/sys/fs/cgroup/memory/berth" : "/sys/fs/cgroup/berth";
  g_autoptr (GDir) d = g_dir_open (parent, 0, NULL);
  guint n = 0;
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    if (strlen (name) == 64)
      n++;
  return n;
}

/* A foreground run passes SIGTERM on to the container, also one sent as
 * soon as the program's first line is out: the monitor writes that line
 * while berth may still be recording the start, before it relays, so
 * berth must hold the signals from the start on (as runc does). */
static void
test_signal_forwarding (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_autofree char *script = tu_term_trap_script (3);
  const char *argv[] = { tu_berth_bin (), "--root", f->root, "run", "--exec-driver",
                         f->params->exec_driver, "--name", "fg", "busybox", "sh", "-c", script,
                         NULL };
  tu_assert_term_relayed (argv, 3);
}

/* The same for a foreground exec: the exec'd process writes straight to
 * berth's stdout, so its first line can come before berth relays. */
static void
test_exec_signal_forwarding (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_autofree char *id = run_detached (f, NULL, "exec sleep 1000");
  g_autofree char *script = tu_term_trap_script (4);
  const char *argv[] = { tu_berth_bin (), "--root", f->root, "exec", id, "sh", "-c", script, NULL };
  tu_assert_term_relayed (argv, 4);
  g_assert_cmpint (fb (f, NULL, NULL, "rm", "-f", id, NULL), ==, 0);
}

/* create, then start -a (attached), then start again in the background. */
static void
test_create_start (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_assert_cmpint (fb (f, NULL, NULL, "create", "--name", "c1", "busybox", "sh", "-c",
                          "echo started; exit 5", NULL), ==, 0);
  g_autofree char *ps = NULL;
  fb (f, &ps, NULL, "ps", "-a", NULL);
  g_assert_nonnull (strstr (ps, "Created"));
  g_autofree char *out = NULL;
  g_assert_cmpint (fb (f, &out, NULL, "start", "-a", "c1", NULL), ==, 5);
  g_assert_cmpstr (out, ==, "started\n");
  g_assert_cmpint (fb (f, NULL, NULL, "start", "c1", NULL), ==, 0);
  g_autofree char *code = NULL;
  g_assert_cmpint (fb (f, &code, NULL, "wait", "c1", NULL), ==, 0);
  g_assert_cmpstr (code, ==, "5\n");
  g_autofree char *logs = NULL;
  g_assert_cmpint (fb (f, &logs, NULL, "logs", "c1", NULL), ==, 0);
  g_assert_cmpstr (logs, ==, "started\nstarted\n");
}

/* A unified (cgroup2-only) host, made for real in a private mount namespace
 * by mounting cgroup2 over /sys/fs/cgroup: berth must take the v2 paths
 * (CLONE_INTO_CGROUP, cgroup.freeze, cgroup.kill, a cgroup2 mount inside).
 * Only the controllers the host left to cgroup2 exist there, so limits are
 * not checked here. */
static void
test_unified_host (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  if (g_file_test ("/sys/fs/cgroup/cgroup.controllers", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("this host is already cgroup2-only: every other case covers it");
      return;
    }
  g_autofree char *script = g_strdup_printf (
      "set -e; mount -t cgroup2 none /sys/fs/cgroup; B='%s --root %s'; X='--exec-driver %s';"
      "$B run $X --rm busybox sh -c 'grep -c \" cgroup2 \" /proc/self/mountinfo';"
      "id=$($B run $X -d busybox sleep 1000);"
      "test -d /sys/fs/cgroup/berth/$id; $B pause $id >/dev/null;"
      "cat /sys/fs/cgroup/berth/$id/cgroup.freeze; $B unpause $id >/dev/null;"
      "$B exec $id sh -c 'echo exec-ok'; $B rm -f $id >/dev/null;"
      "test ! -e /sys/fs/cgroup/berth/$id && echo gone",
      tu_berth_bin (), f->root, f->params->exec_driver);
  char *argv[] = { "unshare", "-m", "--propagation", "private", "sh", "-c", script, NULL };
  g_autofree char *out = NULL, *err = NULL;
  int rc = tu_run (argv, &out, &err);
  if (rc != 0)
    g_error ("on a cgroup2-only view: exit %d: %s%s", rc, out, err);
  g_assert_cmpstr (out, ==, "1\n1\nexec-ok\ngone\n");
}

/* --userns remap: root inside is uid 100000 outside. */
static void
test_userns_remap (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  const char *flags[] = { "--userns", "remap", NULL };
  if (is_lxc (f))
    {
      /* The documented difference: LXC mounts the rootfs as the container's
       * root (host uid 100000), which cannot walk into the store (0700);
       * the native driver hands over an id-mapped mount instead. One line,
       * nothing left running. */
      g_autofree char *out = NULL, *err = NULL;
      g_assert_cmpint (run_script (f, "-d", flags, "exec sleep 1000", &out, &err), !=, 0);
      tu_assert_one_line_error (err, "Could not access");
      g_autofree char *ids = NULL;
      fb (f, &ids, NULL, "ps", "-q", NULL);
      g_assert_cmpstr (ids, ==, "");
      return;
    }
  g_autofree char *id = run_detached (f, flags, "exec sleep 1000");
  g_autofree char *inside = exec_in (f, id, "id -u; cat /proc/self/uid_map");
  g_auto (GStrv) l = g_strsplit (inside, "\n", -1);
  g_assert_cmpstr (l[0], ==, "0");
  g_auto (GStrv) map = g_strsplit_set (g_strstrip (l[1]), " ", -1);
  g_autofree char *joined = NULL;
  {
    g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
    for (char **w = map; *w; w++)
      if (**w)
        g_strv_builder_add (b, *w);
    g_auto (GStrv) words = g_strv_builder_end (b);
    joined = g_strjoinv (" ", words);
  }
  g_assert_cmpstr (joined, ==, "0 100000 65536");
  g_autofree char *json = NULL;
  g_assert_cmpint (fb (f, &json, NULL, "inspect", id, NULL), ==, 0);
  const char *pid_key = strstr (json, "\"Pid\" : ");
  g_assert_nonnull (pid_key);
  g_autofree char *status_path = g_strdup_printf ("/proc/%d/status", atoi (pid_key + 8));
  g_autofree char *status = NULL;
  g_assert_true (g_file_get_contents (status_path, &status, NULL, NULL));
  g_assert_nonnull (strstr (status, "Uid:\t100000\t100000\t100000\t100000"));
  g_assert_cmpint (fb (f, NULL, NULL, "rm", "-f", id, NULL), ==, 0);
  assert_no_trace (f, id);
}

static void
test_rm_leaves_nothing (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  guint cgroups_before = count_container_cgroups ();
  for (int i = 0; i < 50; i++)
    {
      g_autofree char *out = NULL;
      g_assert_cmpint (fb (f, &out, NULL, "run", "--rm", "busybox", "true", NULL), ==, 0);
    }
  g_autofree char *ids = NULL;
  fb (f, &ids, NULL, "ps", "-aq", NULL);
  g_assert_cmpstr (ids, ==, "");
  g_autofree char *containers = g_build_filename (f->root, "containers", NULL);
  g_autoptr (GDir) d = g_dir_open (containers, 0, NULL);
  g_assert_null (g_dir_read_name (d));
  g_assert_cmpuint (count_container_cgroups (), ==, cgroups_before);
  g_autofree char *mountinfo = NULL;
  g_assert_true (g_file_get_contents ("/proc/self/mountinfo", &mountinfo, NULL, NULL));
  g_assert_null (strstr (mountinfo, f->root));
}

/* Every case with the default exec driver on the storage drivers CI hosts
 * run (/exec/<storage>/<case>), and with every other exec driver of the
 * table on overlay (/exec/<exec driver>/<case>: the exec driver, not the
 * storage, is what it varies). */
static GPtrArray *
driver_matrix (void)
{
  static const char *const storage[] = { "overlay", "vfs", "btrfs" };
  GPtrArray *matrix = g_ptr_array_new ();
  const char *def = berth_exec_family_for (BERTH_EXEC_DEFAULT)->name;
  for (guint i = 0; i < G_N_ELEMENTS (storage); i++)
    {
      Params *p = g_new0 (Params, 1);
      *p = (Params) { storage[i], def };
      g_ptr_array_add (matrix, p);
    }
  for (const BerthExecFamily *fam = berth_exec_families; fam->name; fam++)
    if (strcmp (fam->name, def) != 0)
      {
        Params *p = g_new0 (Params, 1);
        *p = (Params) { storage[0], fam->name };
        g_ptr_array_add (matrix, p);
      }
  return matrix;
}

typedef void (*TestFunc) (Fixture *, gconstpointer);

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const struct {
    const char *name;
    TestFunc func;
  } cases[] = {
    { "pid-namespace", test_pid_namespace },
    { "hostname", test_hostname },
    { "mounts-private", test_mounts_private },
    { "capabilities", test_capabilities },
    { "cap-add-drop", test_cap_add_drop },
    { "seccomp", test_seccomp },
    { "seccomp-profile", test_seccomp_profile },
    { "masked-readonly-paths", test_masked_and_readonly_paths },
    { "no-fd-leak", test_no_fd_leak },
    { "berth-binary-unreachable", test_berth_binary_unreachable },
    { "oom", test_oom },
    { "pids-limit", test_pids_limit },
    { "cgroup-values", test_cgroup_values },
    { "io-weight", test_io_weight },
    { "exit-codes", test_exit_codes },
    { "stop-escalates", test_stop_escalates },
    { "logs-after-exit", test_logs_after_exit },
    { "exec-and-ps", test_exec_and_ps },
    { "volumes", test_volumes },
    { "read-only-root", test_read_only_root },
    { "user-env-workdir", test_user_env_workdir },
    { "userns-remap", test_userns_remap },
    { "unified-host", test_unified_host },
    { "signal-forwarding", test_signal_forwarding },
    { "exec-signal-forwarding", test_exec_signal_forwarding },
    { "create-start", test_create_start },
    { "rm-leaves-nothing", test_rm_leaves_nothing },
  };
  GPtrArray *drivers = driver_matrix (); /* lives as long as the tests */
  const char *def = berth_exec_family_for (BERTH_EXEC_DEFAULT)->name;
  for (guint d = 0; d < drivers->len; d++)
    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        const Params *p = drivers->pdata[d];
        g_autofree char *path
            = strcmp (p->exec_driver, def) == 0
                  ? g_strdup_printf ("/exec/%s/%s", p->driver, cases[i].name)
                  : g_strdup_printf ("/exec/%s/%s", p->exec_driver, cases[i].name);
        g_test_add (path, Fixture, p, fixture_setup, cases[i].func, fixture_teardown);
      }
  return g_test_run ();
}
