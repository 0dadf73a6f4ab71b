/* An OCI linux.seccomp object compiled with libseccomp. The compilation
 * (name lookups, rule building, BPF generation) happens in the parent; the
 * freshly cloned child only hands the finished program to the kernel. */
#include "config.h"
#include "native.h"
#include <berth/error.h>
#include <berth/json.h>
#include <berth/fsutil.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

struct BerthSeccomp {
  struct sock_fprog prog;
};

void
berth_seccomp_free (BerthSeccomp *filter)
{
  if (filter == NULL)
    return;
  g_free (filter->prog.filter);
  g_free (filter);
}

/* The OCI action names; ERRNO and TRACE carry the rule's errnoRet. */
typedef struct {
  const char *name;
  guint32 action;
  gboolean takes_errno;
} ActionName;

static const ActionName action_names[] = {
  { "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, FALSE },
  { "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO (0), TRUE },
  { "SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, FALSE },
  { "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, FALSE },
  { "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, FALSE },
  { "SCMP_ACT_TRAP", SCMP_ACT_TRAP, FALSE },
  { "SCMP_ACT_TRACE", SCMP_ACT_TRACE (0), TRUE },
  { "SCMP_ACT_LOG", SCMP_ACT_LOG, FALSE },
};

static gboolean
parse_action (const char *name, gint64 errno_ret, guint32 *action, GError **error)
{
  if (errno_ret < 0)
    errno_ret = EPERM;
  for (guint i = 0; i < G_N_ELEMENTS (action_names); i++)
    if (g_strcmp0 (name, action_names[i].name) == 0)
      {
        *action = action_names[i].action | (action_names[i].takes_errno ? (errno_ret & 0xffff) : 0);
        return TRUE;
      }
  return berth_fail (error, BERTH_ERROR_INVALID, "seccomp action '%s': unknown",
                     name ? name : "(none)");
}

typedef struct {
  const char *name;
  enum scmp_compare op;
} CompareOp;

static const CompareOp compare_ops[] = {
  { "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
  { "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
  { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
  { "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

static gboolean
parse_args (JsonArray *args, struct scmp_arg_cmp *cmp, guint *n, GError **error)
{
  *n = args ? json_array_get_length (args) : 0;
  if (*n > 6)
    return berth_fail (error, BERTH_ERROR_INVALID, "seccomp rule: more than 6 argument checks");
  for (guint i = 0; i < *n; i++)
    {
      JsonObject *a = berth_json_array_object (args, i);
      const char *op = berth_json_string (a, "op", "");
      const CompareOp *found = NULL;
      for (guint j = 0; j < G_N_ELEMENTS (compare_ops); j++)
        if (strcmp (compare_ops[j].name, op) == 0)
          found = &compare_ops[j];
      if (found == NULL)
        return berth_fail (error, BERTH_ERROR_INVALID, "seccomp argument operator '%s': unknown", op);
      /* Checked here so that the -EINVAL tolerated from rule_add below can
       * only mean a multiplexed syscall, never a rule we got wrong. */
      gint64 index = berth_json_int (a, "index", -1);
      if (index < 0 || index > 5)
        return berth_fail (error, BERTH_ERROR_INVALID, "seccomp argument index %" G_GINT64_FORMAT
                           ": not 0 to 5", index);
      cmp[i] = (struct scmp_arg_cmp) { .arg = index, .op = found->op,
                                       .datum_a = berth_json_int (a, "value", 0),
                                       .datum_b = berth_json_int (a, "valueTwo", 0) };
    }
  return TRUE;
}

static gboolean
add_rule (scmp_filter_ctx ctx, JsonObject *rule, guint32 default_action, GError **error)
{
  guint32 action;
  if (!parse_action (berth_json_string (rule, "action", NULL), berth_json_int (rule, "errnoRet", -1),
                     &action, error))
    return FALSE;
  if (action == default_action)
    return TRUE; /* libseccomp refuses rules that repeat the default */
  struct scmp_arg_cmp cmp[6];
  guint n_args;
  if (!parse_args (berth_json_array (rule, "args"), cmp, &n_args, error))
    return FALSE;
  g_auto (GStrv) names = berth_json_strv (rule, "names");
  for (char **name = names; name && *name; name++)
    {
      int nr = seccomp_syscall_resolve_name (*name);
      if (nr == __NR_SCMP_ERROR)
        continue; /* a syscall this kernel or libseccomp does not know */
      int r = seccomp_rule_add_array (ctx, action, nr, n_args, cmp);
      /* Some multiplexed syscalls (ipc, socketcall on 32-bit x86) cannot
       * take argument checks on every arch: such a rule is left out. */
      gboolean multiplexed = n_args > 0 && (r == -EINVAL || r == -EOPNOTSUPP);
      if (r < 0 && r != -EEXIST && !multiplexed)
        return berth_fail_errno (error, -r, "seccomp rule for %s", *name);
    }
  return TRUE;
}

static gboolean
add_architectures (scmp_filter_ctx ctx, JsonObject *seccomp, GError **error)
{
  g_auto (GStrv) arches = berth_json_strv (seccomp, "architectures");
  for (char **a = arches; a && *a; a++)
    {
      const char *name = g_str_has_prefix (*a, "SCMP_ARCH_") ? *a + 10 : *a;
      g_autofree char *lower = g_ascii_strdown (name, -1);
      guint32 arch = seccomp_arch_resolve_name (lower);
      if (arch == 0)
        continue;
      int r = seccomp_arch_add (ctx, arch);
      if (r < 0 && r != -EEXIST)
        return berth_fail_errno (error, -r, "seccomp architecture %s", *a);
    }
  return TRUE;
}

/* seccomp_export_bpf writes to an fd (libseccomp 2.5 has no in-memory
 * export); a memfd keeps it off the disk. */
static gboolean
export_program (scmp_filter_ctx ctx, BerthSeccomp *filter, GError **error)
{
  int fd = memfd_create ("berth-seccomp", MFD_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "memfd_create");
  int r = seccomp_export_bpf (ctx, fd);
  off_t size = r < 0 ? 0 : lseek (fd, 0, SEEK_END);
  gboolean ok = FALSE;
  if (r < 0)
    berth_fail_errno (error, -r, "export the seccomp filter");
  else if (size < 0)
    berth_fail_errno (error, errno, "seek the seccomp filter's memfd");
  else if (size <= 0 || size % sizeof (struct sock_filter) != 0 || size / sizeof (struct sock_filter) > BPF_MAXINSNS)
    berth_fail (error, BERTH_ERROR_FAILED, "seccomp filter: %lld bytes is not a loadable program",
                (long long) size);
  else
    {
      filter->prog.len = size / sizeof (struct sock_filter);
      filter->prog.filter = g_malloc (size);
      ok = pread (fd, filter->prog.filter, size, 0) == size
           || berth_fail_errno (error, errno, "read the seccomp filter");
    }
  close (fd);
  return ok;
}

/* Compiling Docker's profile costs libseccomp several milliseconds, more
 * than the rest of a container start. The program depends only on the
 * profile's text, the architecture and libseccomp, so it is kept in a cache
 * on tmpfs (a reboot may bring another libseccomp) under the hash of those. */
#define SECCOMP_CACHE_DIR "/run/berth/seccomp"
/* Part of the key: bump it when set_attributes or the rule translation
 * changes the program made from the same profile. */
#define CACHE_FORMAT "tree-1"

static char *
cache_path (JsonObject *seccomp)
{
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), seccomp);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  json_generator_set_root (gen, node);
  gsize len = 0;
  g_autofree char *text = json_generator_to_data (gen, &len);
  const struct scmp_version *v = seccomp_version ();
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree char *salt = g_strdup_printf ("%s/%u.%u.%u/%u/", CACHE_FORMAT, v->major, v->minor,
                                           v->micro, seccomp_arch_native ());
  g_checksum_update (sum, (const guchar *) salt, strlen (salt));
  g_checksum_update (sum, (const guchar *) text, len);
  return g_strdup_printf ("%s/%s.bpf", SECCOMP_CACHE_DIR, g_checksum_get_string (sum));
}

static BerthSeccomp *
cache_load (const char *path)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &data, &len, NULL) || len == 0
      || len % sizeof (struct sock_filter) != 0 || len / sizeof (struct sock_filter) > BPF_MAXINSNS)
    return NULL;
  BerthSeccomp *filter = g_new0 (BerthSeccomp, 1);
  filter->prog.len = len / sizeof (struct sock_filter);
  filter->prog.filter = (struct sock_filter *) g_steal_pointer (&data);
  return filter;
}

/* Best effort: a cache that cannot be written only costs speed. */
static void
cache_store (const char *path, BerthSeccomp *filter)
{
  if (g_mkdir_with_parents (SECCOMP_CACHE_DIR, 0700) < 0)
    return;
  berth_write_file_replace (path, filter->prog.filter,
                            filter->prog.len * sizeof (struct sock_filter), 0600, NULL);
}

static BerthSeccomp *
compile (JsonObject *seccomp, GError **error);

BerthSeccomp *
berth_seccomp_compile (JsonObject *seccomp, GError **error)
{
  g_autofree char *path = cache_path (seccomp);
  BerthSeccomp *filter = cache_load (path);
  if (filter)
    return filter;
  filter = compile (seccomp, error);
  if (filter)
    cache_store (path, filter);
  return filter;
}

/* These shape the program, so CACHE_FORMAT names them: change both together. */
static gboolean
set_attributes (scmp_filter_ctx ctx, GError **error)
{
  /* We set no_new_privs ourselves, at the right moment. */
  int r = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_NNP, 0);
  if (r < 0)
    return berth_fail_errno (error, -r, "seccomp: clear the no_new_privs attribute");
  /* A binary tree over the syscall numbers instead of one long chain: about
   * a quarter more instructions, but the kernel's load-time walk of the
   * filter for every syscall number (its allow-bitmap cache) and each
   * arg-checked call get logarithmic, which halves the load in the child. */
  r = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  if (r < 0)
    return berth_fail_errno (error, -r, "seccomp: ask for a binary-tree filter");
  return TRUE;
}

static BerthSeccomp *
compile (JsonObject *seccomp, GError **error)
{
  guint32 default_action;
  if (!parse_action (berth_json_string (seccomp, "defaultAction", NULL),
                     berth_json_int (seccomp, "defaultErrnoRet", -1), &default_action, error))
    return NULL;
  scmp_filter_ctx ctx = seccomp_init (default_action);
  if (ctx == NULL)
    {
      berth_fail (error, BERTH_ERROR_FAILED, "seccomp_init failed");
      return NULL;
    }
  g_autoptr (BerthSeccomp) filter = g_new0 (BerthSeccomp, 1);
  JsonArray *rules = berth_json_array (seccomp, "syscalls");
  gboolean ok = set_attributes (ctx, error) && add_architectures (ctx, seccomp, error);
  for (guint i = 0; ok && rules && i < json_array_get_length (rules); i++)
    ok = add_rule (ctx, berth_json_array_object (rules, i), default_action, error);
  ok = ok && export_program (ctx, filter, error);
  seccomp_release (ctx);
  return ok ? g_steal_pointer (&filter) : NULL;
}

int
berth_seccomp_load (BerthSeccomp *filter)
{
  if (syscall (SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &filter->prog) == 0)
    return 0;
  if (errno == ENOSYS && prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter->prog, 0, 0) == 0)
    return 0;
  return -errno;
}

/* The architectures an OCI profile may name, as libseccomp knows them. */
static const char *const arch_names[] = {
  "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
  "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
  "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_RISCV64",
};

JsonObject *
berth_seccomp_features (void)
{
  JsonObject *f = json_object_new ();
  json_object_set_boolean_member (f, "enabled", TRUE);
  JsonArray *actions = json_array_new (), *ops = json_array_new (), *archs = json_array_new ();
  for (guint i = 0; i < G_N_ELEMENTS (action_names); i++)
    json_array_add_string_element (actions, action_names[i].name);
  for (guint i = 0; i < G_N_ELEMENTS (compare_ops); i++)
    json_array_add_string_element (ops, compare_ops[i].name);
  for (guint i = 0; i < G_N_ELEMENTS (arch_names); i++)
    {
      g_autofree char *lower = g_ascii_strdown (arch_names[i] + strlen ("SCMP_ARCH_"), -1);
      if (seccomp_arch_resolve_name (lower) != 0)
        json_array_add_string_element (archs, arch_names[i]);
    }
  json_object_set_array_member (f, "actions", actions);
  json_object_set_array_member (f, "operators", ops);
  json_object_set_array_member (f, "archs", archs);
  return f;
}
