/* Device rules on cgroup v2, which has no devices controller: the kernel
 * asks a BPF_PROG_TYPE_CGROUP_DEVICE program attached to the cgroup
 * instead. The program is written here instruction by instruction from
 * the spec's linux.resources.devices: it tries the rules from the last to
 * the first and the first that matches decides, which is the spec's "the
 * last matching rule wins". A rule for every device ("a", rwm) sets the
 * default, as it does in v1's lists; without one a request no rule
 * matches is allowed, as v1's root cgroup allows it. */
#include "config.h"
#include "native.h"
#include <berth/error.h>
#include <berth/json.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The context's fields (struct bpf_cgroup_dev_ctx), loaded into: */
enum { R_TYPE = 2, R_ACCESS = 3, R_MAJOR = 4, R_MINOR = 5 };

static struct bpf_insn
insn (guint8 code, guint8 dst, guint8 src, gint16 off, gint32 imm)
{
  return (struct bpf_insn) { .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm };
}

static void
emit (GArray *prog, struct bpf_insn i)
{
  g_array_append_val (prog, i);
}

/* ctx->access_type holds the type in its low half and the access bits in
 * its high half. */
static void
emit_prologue (GArray *prog)
{
  emit (prog, insn (BPF_LDX | BPF_MEM | BPF_W, R_TYPE, 1, offsetof (struct bpf_cgroup_dev_ctx, access_type), 0));
  emit (prog, insn (BPF_ALU | BPF_AND | BPF_K, R_TYPE, 0, 0, 0xffff));
  emit (prog, insn (BPF_LDX | BPF_MEM | BPF_W, R_ACCESS, 1, offsetof (struct bpf_cgroup_dev_ctx, access_type), 0));
  emit (prog, insn (BPF_ALU | BPF_RSH | BPF_K, R_ACCESS, 0, 0, 16));
  emit (prog, insn (BPF_LDX | BPF_MEM | BPF_W, R_MAJOR, 1, offsetof (struct bpf_cgroup_dev_ctx, major), 0));
  emit (prog, insn (BPF_LDX | BPF_MEM | BPF_W, R_MINOR, 1, offsetof (struct bpf_cgroup_dev_ctx, minor), 0));
}

static void
emit_return (GArray *prog, int value)
{
  emit (prog, insn (BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, value));
  emit (prog, insn (BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
}

typedef struct {
  int type;      /* BPF_DEVCG_DEV_*, or 0 for every type ("a") */
  int access;    /* BPF_DEVCG_ACC_* bits */
  gint64 major, minor; /* -1: any */
  gboolean allow;
} DeviceRule;

static gboolean
parse_rule (JsonObject *r, guint i, DeviceRule *rule, GError **error)
{
  const char *type = berth_json_string (r, "type", "a");
  const char *access = berth_json_string (r, "access", "rwm");
  rule->type = strcmp (type, "a") == 0 ? 0 : strcmp (type, "c") == 0 ? BPF_DEVCG_DEV_CHAR
             : strcmp (type, "b") == 0 ? BPF_DEVCG_DEV_BLOCK : -1;
  if (rule->type < 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "linux.resources.devices[%u]: type '%s' unknown", i,
                       type);
  rule->access = 0;
  for (const char *a = access; *a; a++)
    {
      int bit = *a == 'r' ? BPF_DEVCG_ACC_READ : *a == 'w' ? BPF_DEVCG_ACC_WRITE
              : *a == 'm' ? BPF_DEVCG_ACC_MKNOD : 0;
      if (bit == 0)
        return berth_fail (error, BERTH_ERROR_INVALID,
                           "linux.resources.devices[%u]: access '%s' (use r, w and m)", i, access);
      rule->access |= bit;
    }
  rule->major = berth_json_int (r, "major", -1);
  rule->minor = berth_json_int (r, "minor", -1);
  rule->allow = berth_json_bool (r, "allow", FALSE);
  return TRUE;
}

/* One rule: each test jumps past the rule's end when it fails; all passing
 * returns the rule's verdict. TRUE when the rule has no test (it matches
 * every request): nothing after it could run, and the verifier refuses
 * code that cannot. */
static gboolean
emit_rule (GArray *prog, const DeviceRule *rule)
{
  const int all_access = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
  guint start = prog->len;
  if (rule->type)
    emit (prog, insn (BPF_JMP32 | BPF_JNE | BPF_K, R_TYPE, 0, 0, rule->type));
  if ((rule->access & all_access) != all_access)
    {
      /* An allow rule covers a request within its access; a deny rule
       * any request that asks for some of it ("w" denies "rw"). */
      emit (prog, insn (BPF_ALU64 | BPF_MOV | BPF_X, 1, R_ACCESS, 0, 0));
      if (rule->allow)
        {
          emit (prog, insn (BPF_ALU | BPF_AND | BPF_K, 1, 0, 0, ~rule->access & all_access));
          emit (prog, insn (BPF_JMP32 | BPF_JNE | BPF_K, 1, 0, 0, 0));
        }
      else
        {
          emit (prog, insn (BPF_ALU | BPF_AND | BPF_K, 1, 0, 0, rule->access));
          emit (prog, insn (BPF_JMP32 | BPF_JEQ | BPF_K, 1, 0, 0, 0));
        }
    }
  if (rule->major >= 0)
    emit (prog, insn (BPF_JMP32 | BPF_JNE | BPF_K, R_MAJOR, 0, 0, rule->major));
  if (rule->minor >= 0)
    emit (prog, insn (BPF_JMP32 | BPF_JNE | BPF_K, R_MINOR, 0, 0, rule->minor));
  emit_return (prog, rule->allow ? 1 : 0);
  for (guint i = start; i < prog->len; i++)
    {
      struct bpf_insn *in = &g_array_index (prog, struct bpf_insn, i);
      if (in->code == (BPF_JMP32 | BPF_JNE | BPF_K) || in->code == (BPF_JMP32 | BPF_JEQ | BPF_K))
        in->off = prog->len - i - 1;
    }
  return prog->len - start == 2;
}

static GArray *
build_program (JsonArray *rules, GError **error)
{
  g_autoptr (GArray) prog = g_array_new (FALSE, FALSE, sizeof (struct bpf_insn));
  emit_prologue (prog);
  gboolean decided = FALSE;
  for (guint i = json_array_get_length (rules); i-- > 0 && !decided;)
    {
      DeviceRule rule = { 0 };
      if (!parse_rule (berth_json_array_object (rules, i), i, &rule, error))
        return NULL;
      decided = emit_rule (prog, &rule);
    }
  if (!decided)
    emit_return (prog, 1);
  return g_steal_pointer (&prog);
}

static int
bpf (int cmd, union bpf_attr *attr)
{
  return syscall (SYS_bpf, cmd, attr, sizeof *attr);
}

static int
load_program (GArray *prog, char *log, guint32 log_size)
{
  union bpf_attr attr = {
    .prog_type = BPF_PROG_TYPE_CGROUP_DEVICE,
    .insns = (guint64) (guintptr) prog->data,
    .insn_cnt = prog->len,
    .license = (guint64) (guintptr) "GPL",
    .log_buf = (guint64) (guintptr) log,
    .log_size = log ? log_size : 0,
    .log_level = log ? 1 : 0,
  };
  return bpf (BPF_PROG_LOAD, &attr);
}

/* Loaded without the verifier's log, which costs time on every start; a
 * refusal is loaded again with it, for the reason. */
static int
load_checked (GArray *prog, GError **error)
{
  int fd = load_program (prog, NULL, 0);
  if (fd >= 0)
    return fd;
  int errsv = errno;
  g_autofree char *log = g_malloc0 (65536);
  if (load_program (prog, log, 65536) < 0)
    g_debug ("device program refused by the verifier:\n%s", log);
  return berth_fail_errno (error, errsv, "load the cgroup2 device program (%u instructions)",
                           prog->len), -1;
}

/* The device programs attached to @cgroup_fd before ours: detached once
 * ours is in, so the rules are never absent. */
static GArray *
attached_programs (int cgroup_fd, const char *cgroup_dir, GError **error)
{
  guint32 ids[64];
  union bpf_attr attr = { 0 };
  attr.query.target_fd = cgroup_fd;
  attr.query.attach_type = BPF_CGROUP_DEVICE;
  attr.query.prog_ids = (guint64) (guintptr) ids;
  attr.query.prog_cnt = G_N_ELEMENTS (ids);
  if (bpf (BPF_PROG_QUERY, &attr) < 0)
    return berth_fail_errno (error, errno, "list the device programs of %s", cgroup_dir), NULL;
  GArray *list = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_array_append_vals (list, ids, attr.query.prog_cnt);
  return list;
}

static gboolean
detach_program (int cgroup_fd, guint32 id, GError **error)
{
  union bpf_attr get = { .prog_id = id };
  int fd = bpf (BPF_PROG_GET_FD_BY_ID, &get);
  if (fd < 0)
    return errno == ENOENT || berth_fail_errno (error, errno, "find device program %u", id);
  union bpf_attr attr = { .target_fd = cgroup_fd, .attach_bpf_fd = fd,
                          .attach_type = BPF_CGROUP_DEVICE };
  int r = bpf (BPF_PROG_DETACH, &attr);
  int errsv = errno;
  close (fd);
  return r == 0 || berth_fail_errno (error, errsv, "detach device program %u", id);
}

gboolean
berth_devices_bpf_apply (const char *cgroup_dir, JsonArray *rules, GError **error)
{
  g_autoptr (GArray) prog = build_program (rules, error);
  if (prog == NULL)
    return FALSE;
  int cgroup_fd = open (cgroup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (cgroup_fd < 0)
    return berth_fail_errno (error, errno, "open %s", cgroup_dir);
  g_autoptr (GArray) old = attached_programs (cgroup_fd, cgroup_dir, error);
  int prog_fd = old ? load_checked (prog, error) : -1;
  gboolean ok = prog_fd >= 0;
  if (ok)
    {
      union bpf_attr attr = { .target_fd = cgroup_fd, .attach_bpf_fd = prog_fd,
                              .attach_type = BPF_CGROUP_DEVICE, .attach_flags = BPF_F_ALLOW_MULTI };
      ok = bpf (BPF_PROG_ATTACH, &attr) == 0
           || berth_fail_errno (error, errno, "attach the device program to %s", cgroup_dir);
      close (prog_fd);
    }
  for (guint i = 0; ok && i < old->len; i++)
    ok = detach_program (cgroup_fd, g_array_index (old, guint32, i), error);
  close (cgroup_fd);
  return ok;
}
