/* The OCI runtime config (config.json) for a container, built the way
 * Docker's daemon builds it: its oci defaults, then the image's config, then
 * what the user asked for. Everything the user gave is checked here, so a
 * bad option fails at create, in one line, rather than deep in a runtime. */
#include "config.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/json.h>
#include <berth/spec.h>
#include "runtime-internal.h"
#include <berth/capabilities.h>
#include <berth/passwd.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/openat2.h>

#define DEFAULT_PATH_ENV "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define NOFILE_LIMIT 1048576
/* Below this the kernel's own use of the cgroup starves the container; Docker refuses it too. */
#define MIN_MEMORY (6 * 1024 * 1024)
#define CPU_PERIOD 100000
#define REMAP_HOST_ID 100000
#define REMAP_SIZE 65536

/* Docker's seccomp profiles name arches twice: Go's names in includes and
 * excludes, libseccomp's in archMap. Only the native one is kept. */
#if defined(__x86_64__)
#define NATIVE_GOARCH "amd64"
#define NATIVE_SCMP_ARCH "SCMP_ARCH_X86_64"
#elif defined(__aarch64__)
#define NATIVE_GOARCH "arm64"
#define NATIVE_SCMP_ARCH "SCMP_ARCH_AARCH64"
#elif defined(__i386__)
#define NATIVE_GOARCH "386"
#define NATIVE_SCMP_ARCH "SCMP_ARCH_X86"
#elif defined(__arm__)
#define NATIVE_GOARCH "arm"
#define NATIVE_SCMP_ARCH "SCMP_ARCH_ARM"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define NATIVE_GOARCH "ppc64le"
#define NATIVE_SCMP_ARCH "SCMP_ARCH_PPC64LE"
#elif defined(__s390x__)
#define NATIVE_GOARCH "s390x"
#define NATIVE_SCMP_ARCH "SCMP_ARCH_S390X"
#elif defined(__riscv) && __riscv_xlen == 64
#define NATIVE_GOARCH "riscv64"
#define NATIVE_SCMP_ARCH "SCMP_ARCH_RISCV64"
#else
#define NATIVE_GOARCH ""
#define NATIVE_SCMP_ARCH ""
#endif

/* --- capabilities --- */

/* Docker's default set, in Docker's order. */
static const char *const default_caps[] = {
  "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",  "CAP_FOWNER",           "CAP_MKNOD",
  "CAP_NET_RAW", "CAP_SETGID",       "CAP_SETUID",  "CAP_SETFCAP",          "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",            "CAP_SYS_CHROOT", "CAP_KILL",          "CAP_AUDIT_WRITE",
  NULL,
};

static gboolean
is_all (const char *name)
{
  return g_ascii_strcasecmp (name, "ALL") == 0;
}

static gboolean
ptr_array_has_string (GPtrArray *arr, const char *s)
{
  for (guint i = 0; i < arr->len; i++)
    if (strcmp (arr->pdata[i], s) == 0)
      return TRUE;
  return FALSE;
}

static void
add_unique (GPtrArray *arr, const char *s)
{
  if (!ptr_array_has_string (arr, s))
    g_ptr_array_add (arr, g_strdup (s));
}

/* Normalised names from @list, "ALL" kept as is; INVALID naming @option. */
static GPtrArray *
normalize_cap_list (char **list, const char *option, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  for (char **c = list; c && *c; c++)
    {
      if (is_all (*c))
        {
          add_unique (out, "ALL");
          continue;
        }
      g_autofree char *name = berth_capability_normalize (*c);
      if (name == NULL)
        return berth_fail (error, BERTH_ERROR_INVALID, "%s '%s': unknown capability", option, *c),
               NULL;
      add_unique (out, name);
    }
  return g_steal_pointer (&out);
}

/* Docker's TweakCapabilities: ALL in --cap-add starts from every capability,
 * ALL in --cap-drop starts from none, else the defaults; then drop, then add. */
static GPtrArray *
build_caps (const BerthSpecOptions *options, GError **error)
{
  g_autoptr (GPtrArray) add = normalize_cap_list (options->cap_add, "--cap-add", error);
  if (add == NULL)
    return NULL;
  g_autoptr (GPtrArray) drop = normalize_cap_list (options->cap_drop, "--cap-drop", error);
  if (drop == NULL)
    return NULL;
  g_autoptr (GPtrArray) caps = g_ptr_array_new_with_free_func (g_free);
  if (ptr_array_has_string (add, "ALL"))
    {
      for (const char *const *c = berth_all_capabilities (); *c; c++)
        if (!ptr_array_has_string (drop, *c))
          add_unique (caps, *c);
      return g_steal_pointer (&caps);
    }
  if (!ptr_array_has_string (drop, "ALL"))
    for (const char *const *c = default_caps; *c; c++)
      if (!ptr_array_has_string (drop, *c))
        add_unique (caps, *c);
  for (guint i = 0; i < add->len; i++)
    add_unique (caps, add->pdata[i]);
  return g_steal_pointer (&caps);
}

/* --- JSON building --- */

static JsonNode *
strings_node (const char *const *strv, gssize n)
{
  JsonArray *arr = json_array_new ();
  for (gssize i = 0; n < 0 ? strv[i] != NULL : i < n; i++)
    json_array_add_string_element (arr, strv[i]);
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);
  json_node_take_array (node, arr);
  return node;
}

static JsonNode *
ptr_array_node (GPtrArray *arr)
{
  return strings_node ((const char *const *) arr->pdata, arr->len);
}

static void
add_member (JsonBuilder *b, const char *name, JsonNode *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_value (b, value);
}

static void
add_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

static void
add_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
add_bool (JsonBuilder *b, const char *name, gboolean value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, value);
}

/* --- user --- */

typedef struct {
  guint32 uid, gid;
  GArray *additional_gids; /* guint32 */
} SpecUser;

static void
spec_user_clear (SpecUser *u)
{
  g_clear_pointer (&u->additional_gids, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SpecUser, spec_user_clear)

/* Docker's supplementary groups: the primary @gid, then (for a user
 * named in passwd, @name) the groups that list it as a member. */
static GArray *
member_gids (const char *group_data, const char *name, guint32 primary)
{
  GArray *gids = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_array_append_val (gids, primary);
  if (name == NULL)
    return gids;
  g_auto (GStrv) lines = g_strsplit (group_data, "\n", -1);
  for (char **l = lines; *l; l++)
    {
      g_auto (GStrv) f = g_strsplit (*l, ":", -1);
      guint32 gid;
      if (g_strv_length (f) < 4 || !berth_passwd_parse_id (f[2], &gid))
        continue;
      g_auto (GStrv) members = g_strsplit (f[3], ",", -1);
      gboolean seen = FALSE;
      for (guint i = 0; i < gids->len && !seen; i++)
        seen = g_array_index (gids, guint32, i) == gid;
      if (!seen && g_strv_contains ((const char *const *) members, name))
        g_array_append_val (gids, gid);
    }
  return gids;
}

static gboolean
resolve_group (const char *spec, const char *group, const char *group_data, guint32 *gid,
               GError **error)
{
  guint32 num = 0;
  gboolean numeric = berth_passwd_parse_id (group, &num);
  if (!numeric && strspn (group, "0123456789") == strlen (group))
    return berth_fail (error, BERTH_ERROR_INVALID, "user '%s': gid out of range", spec);
  g_auto (GStrv) entry = berth_passwd_find_entry (group_data, 3, numeric ? NULL : group, num);
  if (entry)
    return berth_passwd_parse_id (entry[2], gid);
  if (!numeric)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "user '%s': no such group in the image's /etc/group", spec);
  *gid = num;
  return TRUE;
}

/* "user[:group]" as Docker resolves it: names or numbers, the group from
 * passwd unless given, and the groups listing the user as supplementary. */
static gboolean
resolve_user (const char *spec, const char *rootfs_dir, SpecUser *user, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (spec, ":", 2);
  const char *name = parts[0] ? parts[0] : "";
  const char *group = parts[0] && parts[1] && *parts[1] ? parts[1] : NULL;
  if (*name == '\0')
    return berth_fail (error, BERTH_ERROR_INVALID, "user '%s': no user name", spec);
  g_autofree char *passwd = berth_rootfs_read_file (rootfs_dir, "etc/passwd", error);
  if (passwd == NULL)
    return FALSE;
  g_autofree char *group_data = berth_rootfs_read_file (rootfs_dir, "etc/group", error);
  if (group_data == NULL)
    return FALSE;
  guint32 num = 0;
  gboolean numeric = berth_passwd_parse_id (name, &num);
  if (!numeric && strspn (name, "0123456789") == strlen (name))
    return berth_fail (error, BERTH_ERROR_INVALID, "user '%s': uid out of range", spec);
  g_auto (GStrv) entry = berth_passwd_find_entry (passwd, 4, numeric ? NULL : name, num);
  if (entry == NULL && !numeric)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "user '%s': no such user in the image's /etc/passwd", name);
  user->uid = num;
  user->gid = 0;
  if (entry && (!berth_passwd_parse_id (entry[2], &user->uid) || !berth_passwd_parse_id (entry[3], &user->gid)))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "user '%s': bad entry in the image's /etc/passwd", name);
  if (group)
    {
      if (!resolve_group (spec, group, group_data, &user->gid, error))
        return FALSE;
      user->additional_gids = member_gids (group_data, NULL, user->gid);
      return TRUE;
    }
  user->additional_gids = member_gids (group_data, entry ? entry[0] : NULL, user->gid);
  return TRUE;
}

static JsonNode *
user_node (const SpecUser *user)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_int (b, "uid", user->uid);
  add_int (b, "gid", user->gid);
  json_builder_set_member_name (b, "additionalGids");
  json_builder_begin_array (b);
  for (guint i = 0; i < user->additional_gids->len; i++)
    json_builder_add_int_value (b, g_array_index (user->additional_gids, guint32, i));
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

JsonNode *
berth_spec_user (const char *user_spec, const char *rootfs_dir, GError **error)
{
  g_auto (SpecUser) user = { 0 };
  if (!resolve_user (user_spec, rootfs_dir, &user, error))
    return NULL;
  return user_node (&user);
}

/* --- process --- */

static gssize
env_find (GPtrArray *env, const char *key, gsize key_len)
{
  for (guint i = 0; i < env->len; i++)
    {
      const char *e = env->pdata[i];
      if (strncmp (e, key, key_len) == 0 && e[key_len] == '=')
        return i;
    }
  return -1;
}

static void
env_set (GPtrArray *env, const char *kv)
{
  gsize key_len = strchr (kv, '=') - kv;
  gssize i = env_find (env, kv, key_len);
  if (i < 0)
    g_ptr_array_add (env, g_strdup (kv));
  else
    {
      g_free (env->pdata[i]);
      env->pdata[i] = g_strdup (kv);
    }
}

/* One --env entry. A bare K is docker's -e K: the value from our own
 * environment, or, when unset there, K unset in the container too. */
static gboolean
env_apply_option (GPtrArray *env, const char *entry, GError **error)
{
  const char *eq = strchr (entry, '=');
  if (entry[0] == '\0' || entry[0] == '=')
    return berth_fail (error, BERTH_ERROR_INVALID, "--env '%s': no variable name", entry);
  if (eq)
    {
      env_set (env, entry);
      return TRUE;
    }
  const char *value = g_getenv (entry);
  if (value)
    {
      g_autofree char *kv = g_strconcat (entry, "=", value, NULL);
      env_set (env, kv);
      return TRUE;
    }
  gssize i = env_find (env, entry, strlen (entry));
  if (i >= 0)
    g_ptr_array_remove_index (env, i);
  return TRUE;
}

gboolean
berth_spec_parse_env_file (const char *text, const char *file, GStrvBuilder *env,
                           GError **error)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      const char *line = g_strchug (lines[i]);
      g_strchomp (lines[i]);
      if (*line == '\0' || *line == '#')
        continue;
      gsize name_len = strcspn (line, "=");
      if (name_len == 0)
        return berth_fail (error, BERTH_ERROR_INVALID, "--env-file %s: line %u: no variable "
                           "name", file, i + 1);
      /* As Docker: "B = 1" would set a variable no shell can name. */
      if (strcspn (line, " \t") < name_len)
        return berth_fail (error, BERTH_ERROR_INVALID, "--env-file %s: line %u: variable "
                           "'%.*s' has white space", file, i + 1, (int) name_len, line);
      g_strv_builder_add (env, line);
    }
  return TRUE;
}

/* Docker's CreateDaemonEnvironment: PATH, HOSTNAME and TERM first, each
 * replaced in place by the image's or the user's value of the same name. */
static JsonNode *
build_env (JsonObject *image, const char *hostname, const BerthSpecOptions *options,
           GError **error)
{
  g_autoptr (GPtrArray) env = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (env, g_strdup ("PATH=" DEFAULT_PATH_ENV));
  g_ptr_array_add (env, g_strconcat ("HOSTNAME=", hostname, NULL));
  if (options->tty)
    g_ptr_array_add (env, g_strdup ("TERM=xterm"));
  g_auto (GStrv) image_env = berth_json_strv (image, "Env");
  for (char **e = image_env; e && *e; e++)
    if ((*e)[0] != '=' && strchr (*e, '='))
      env_set (env, *e);
  for (char **e = options->env; e && *e; e++)
    if (!env_apply_option (env, *e, error))
      return NULL;
  return ptr_array_node (env);
}

static JsonNode *
build_args (JsonObject *image, const BerthSpecOptions *options, GError **error)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) entrypoint = berth_json_strv (image, "Entrypoint");
  g_auto (GStrv) image_cmd = berth_json_strv (image, "Cmd");
  if (options->entrypoint)
    {
      /* Docker's: the image's Cmd was written for its own entrypoint. */
      g_clear_pointer (&entrypoint, g_strfreev);
      g_clear_pointer (&image_cmd, g_strfreev);
      if (*options->entrypoint)
        entrypoint = g_strdupv ((char *[]) { (char *) options->entrypoint, NULL });
    }
  char **cmd = options->cmd && options->cmd[0] ? options->cmd : image_cmd;
  if (options->init_path)
    {
      g_ptr_array_add (args, g_strdup (BERTH_INIT_DESTINATION));
      g_ptr_array_add (args, g_strdup ("--"));
    }
  for (char **a = entrypoint; a && *a; a++)
    g_ptr_array_add (args, g_strdup (*a));
  for (char **a = cmd; a && *a; a++)
    g_ptr_array_add (args, g_strdup (*a));
  /* Left empty, not refused: a container made only for its filesystem
   * (mount, diff, commit) needs no command; starting it says what is missing. */
  (void) error;
  return ptr_array_node (args);
}

static char *
build_cwd (JsonObject *image, const BerthSpecOptions *options, GError **error)
{
  const char *image_dir = berth_json_string (image, "WorkingDir", NULL);
  const char *dir = options->workdir ? options->workdir : image_dir;
  const char *what = options->workdir ? "--workdir" : "the image's WorkingDir";
  if (dir == NULL || *dir == '\0')
    return g_strdup ("/");
  if (!g_path_is_absolute (dir))
    return berth_fail (error, BERTH_ERROR_INVALID, "%s '%s': not an absolute path", what, dir), NULL;
  return g_canonicalize_filename (dir, "/");
}

static JsonNode *
caps_node (GPtrArray *caps)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_member (b, "bounding", ptr_array_node (caps));
  add_member (b, "effective", ptr_array_node (caps));
  add_member (b, "permitted", ptr_array_node (caps));
  /* Docker >= 23 leaves these empty: an inheritable set lets a file's
   * inheritable bits regain capabilities across exec. */
  add_member (b, "inheritable", strings_node (NULL, 0));
  add_member (b, "ambient", strings_node (NULL, 0));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* Docker asks for 1048576 open files, but an unprivileged or constrained
 * berth cannot raise the hard limit past its own. */
static JsonNode *
rlimits_node (GError **error)
{
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) < 0)
    return berth_fail_errno (error, errno, "getrlimit RLIMIT_NOFILE"), NULL;
  gint64 n = rl.rlim_max < NOFILE_LIMIT ? (gint64) rl.rlim_max : NOFILE_LIMIT;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  add_string (b, "type", "RLIMIT_NOFILE");
  add_int (b, "hard", n);
  add_int (b, "soft", n);
  json_builder_end_object (b);
  json_builder_end_array (b);
  return json_builder_get_root (b);
}

static JsonNode *
build_process (JsonObject *image, const char *rootfs_dir, const char *hostname,
               const BerthSpecOptions *options, GPtrArray *caps, GError **error)
{
  const char *image_user = berth_json_string (image, "User", NULL);
  const char *user_spec = options->user ? options->user : image_user;
  /* No user is root, still resolved so root gets its supplementary groups as in Docker. */
  g_auto (SpecUser) user = { 0 };
  if (!resolve_user (user_spec && *user_spec ? user_spec : "0", rootfs_dir, &user, error))
    return NULL;
  g_autoptr (JsonNode) args = build_args (image, options, error);
  if (args == NULL)
    return NULL;
  g_autoptr (JsonNode) env = build_env (image, hostname, options, error);
  if (env == NULL)
    return NULL;
  g_autofree char *cwd = build_cwd (image, options, error);
  if (cwd == NULL)
    return NULL;
  g_autoptr (JsonNode) rlimits = rlimits_node (error);
  if (rlimits == NULL)
    return NULL;

  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_bool (b, "terminal", options->tty);
  add_member (b, "user", user_node (&user));
  add_member (b, "args", g_steal_pointer (&args));
  add_member (b, "env", g_steal_pointer (&env));
  add_string (b, "cwd", cwd);
  add_member (b, "capabilities", caps_node (caps));
  add_member (b, "rlimits", g_steal_pointer (&rlimits));
  add_bool (b, "noNewPrivileges", TRUE);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* --- mounts --- */

typedef struct {
  const char *destination, *type, *source;
  const char *options[8];
} DefaultMount;

/* Docker's oci defaults, /dev/shm sized with its default ShmSize. */
static const DefaultMount default_mounts[] = {
  { "/proc", "proc", "proc", { "nosuid", "noexec", "nodev" } },
  { "/dev", "tmpfs", "tmpfs", { "nosuid", "strictatime", "mode=755", "size=65536k" } },
  { "/dev/pts", "devpts", "devpts",
    { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" } },
  { "/sys", "sysfs", "sysfs", { "nosuid", "noexec", "nodev", "ro" } },
  { "/sys/fs/cgroup", "cgroup", "cgroup", { "ro", "nosuid", "noexec", "nodev", "relatime" } },
  { "/dev/mqueue", "mqueue", "mqueue", { "nosuid", "noexec", "nodev" } },
  { "/dev/shm", "tmpfs", "shm", { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" } },
};

/* sysfs can only be mounted by the owner of a new network namespace; with
 * the host's, runc binds the host's /sys instead, and so does berth for a
 * remapped container on a berth network, whose namespace berth made. */
static const DefaultMount host_sys_mount = {
  "/sys", "bind", "/sys", { "rbind", "ro", "nosuid", "noexec", "nodev" }
};

typedef struct {
  char *destination, *source;   /* source NULL: a tmpfs */
  gboolean read_only;
  char **tmpfs_options;         /* a tmpfs's, Docker's defaults applied */
} Volume;

static void
volume_free (Volume *v)
{
  g_free (v->destination);
  g_free (v->source);
  g_strfreev (v->tmpfs_options);
  g_free (v);
}

static JsonNode *
mount_node (const char *destination, const char *type, const char *source,
            const char *const *options)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_string (b, "destination", destination);
  add_string (b, "type", type);
  add_string (b, "source", source);
  add_member (b, "options", strings_node (options, -1));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* @path cleaned of "//" and "." components; NULL if not absolute or if it
 * has "..": a destination must not climb out of where it seems to point. */
static char *
clean_container_path (const char *path)
{
  if (path[0] != '/')
    return NULL;
  g_auto (GStrv) parts = g_strsplit (path, "/", -1);
  g_autoptr (GString) out = g_string_new (NULL);
  for (char **p = parts; *p; p++)
    {
      if (strcmp (*p, "..") == 0)
        return NULL;
      if (**p != '\0' && strcmp (*p, ".") != 0)
        g_string_append_printf (out, "/%s", *p);
    }
  return out->len ? g_string_free (g_steal_pointer (&out), FALSE) : g_strdup ("/");
}

static Volume *
parse_volume (const char *spec, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (spec, ":", -1);
  guint n = g_strv_length (parts);
  if (n < 2 || n > 3)
    return berth_fail (error, BERTH_ERROR_INVALID, "volume '%s': not HOST:CONTAINER[:ro|rw]", spec),
           NULL;
  if (n == 3 && strcmp (parts[2], "ro") != 0 && strcmp (parts[2], "rw") != 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "volume '%s': mode '%s' is not ro or rw", spec,
                       parts[2]), NULL;
  if (!g_path_is_absolute (parts[0]))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "volume '%s': host path '%s' is not absolute", spec, parts[0]), NULL;
  g_autofree char *destination = clean_container_path (parts[1]);
  if (destination == NULL || strcmp (destination, "/") == 0)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "volume '%s': container path '%s' must be absolute, not /, without '..'",
                       spec, parts[1]), NULL;
  g_autofree char *source = realpath (parts[0], NULL);
  /* Docker's -v makes a host directory that is not there (its --mount
   * does not): a user's `-v /srv/data:/data` works on a fresh host. */
  g_autoptr (GError) made = NULL;
  if (source == NULL && errno == ENOENT)
    {
      if (!berth_mkdir_p (parts[0], 0755, &made))
        return berth_fail (error, BERTH_ERROR_INVALID, "volume '%s': %s", spec, made->message),
               NULL;
      source = realpath (parts[0], NULL);
    }
  if (source == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "volume '%s': %s: %s", spec, parts[0],
                       g_strerror (errno)), NULL;
  Volume *v = g_new0 (Volume, 1);
  v->destination = g_steal_pointer (&destination);
  v->source = g_steal_pointer (&source);
  v->read_only = n == 3 && strcmp (parts[2], "ro") == 0;
  return v;
}

static guint
path_depth (const char *path)
{
  guint n = 0;
  for (const char *p = path; *p; p++)
    n += *p == '/';
  return n;
}

static gint
cmp_volume_depth (gconstpointer a, gconstpointer b)
{
  const Volume *va = *(Volume *const *) a, *vb = *(Volume *const *) b;
  return (gint) path_depth (va->destination) - (gint) path_depth (vb->destination);
}

/* Docker's --tmpfs options: noexec, nosuid and nodev unless the user's
 * say exec, suid or dev; the user's others (size=, mode=, ro) after. */
static char **
tmpfs_options (const char *user)
{
  g_auto (GStrv) given = user ? g_strsplit (user, ",", -1) : g_new0 (char *, 1);
  g_autoptr (GStrvBuilder) out = g_strv_builder_new ();
  static const char *const defaults[][2] = { { "noexec", "exec" }, { "nosuid", "suid" },
                                             { "nodev", "dev" } };
  for (guint i = 0; i < G_N_ELEMENTS (defaults); i++)
    if (!g_strv_contains ((const char *const *) given, defaults[i][1])
        && !g_strv_contains ((const char *const *) given, defaults[i][0]))
      g_strv_builder_add (out, defaults[i][0]);
  for (char **o = given; *o; o++)
    if (**o)
      g_strv_builder_add (out, *o);
  return g_strv_builder_end (out);
}

/* --tmpfs "/dst[:opts]". */
static Volume *
parse_tmpfs (const char *spec, GError **error)
{
  const char *colon = strchr (spec, ':');
  g_autofree char *path = colon ? g_strndup (spec, colon - spec) : g_strdup (spec);
  g_autofree char *destination = clean_container_path (path);
  if (destination == NULL || strcmp (destination, "/") == 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "--tmpfs '%s': the path must be absolute, "
                       "not /, without '..'", spec), NULL;
  for (const char *p = colon ? colon + 1 : ""; *p; p++)
    if (!(g_ascii_isalnum (*p) || strchr (",=_-.", *p)))
      return berth_fail (error, BERTH_ERROR_INVALID, "--tmpfs '%s': options are "
                         "name[=value] separated by ','", spec), NULL;
  Volume *v = g_new0 (Volume, 1);
  v->destination = g_steal_pointer (&destination);
  v->tmpfs_options = tmpfs_options (colon ? colon + 1 : NULL);
  return v;
}

/* The volumes and tmpfs mounts, parents before children (as Docker sorts
 * them) so a volume inside another is not hidden by it. */
static GPtrArray *
parse_volumes (char **volumes, char **tmpfs, GError **error)
{
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) volume_free);
  guint n_volumes = volumes ? g_strv_length (volumes) : 0;
  g_autoptr (GPtrArray) all = g_ptr_array_new ();
  for (char **s = volumes; s && *s; s++)
    g_ptr_array_add (all, *s);
  for (char **s = tmpfs; s && *s; s++)
    g_ptr_array_add (all, *s);
  for (guint k = 0; k < all->len; k++)
    {
      const char *const *s = (const char *const *) &all->pdata[k];
      Volume *v = k < n_volumes ? parse_volume (*s, error) : parse_tmpfs (*s, error);
      if (v == NULL)
        return NULL;
      g_ptr_array_add (out, v);
      for (guint i = 0; i + 1 < out->len; i++)
        if (strcmp (((Volume *) out->pdata[i])->destination, v->destination) == 0)
          return berth_fail (error, BERTH_ERROR_INVALID, "volume '%s': %s is already a volume",
                             *s, v->destination), NULL;
    }
  g_ptr_array_sort (out, cmp_volume_depth); /* stable */
  return g_steal_pointer (&out);
}

/* Docker drops a default mount the user mounts over, and all of /dev's
 * when the user mounts /dev itself. */
static gboolean
overridden (GPtrArray *volumes, const char *destination)
{
  for (guint i = 0; i < volumes->len; i++)
    {
      const char *d = ((Volume *) volumes->pdata[i])->destination;
      if (strcmp (d, destination) == 0 ||
          (strcmp (d, "/dev") == 0 && g_str_has_prefix (destination, "/dev/")))
        return TRUE;
    }
  return FALSE;
}

static JsonNode *
build_mounts (const BerthSpecOptions *options, gboolean bind_sys, GError **error)
{
  g_autoptr (GPtrArray) volumes = parse_volumes (options->volumes, options->tmpfs, error);
  if (volumes == NULL)
    return NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (gsize i = 0; i < G_N_ELEMENTS (default_mounts); i++)
    {
      const DefaultMount *m = &default_mounts[i];
      if (bind_sys && strcmp (m->destination, "/sys") == 0)
        m = &host_sys_mount;
      if (!overridden (volumes, m->destination))
        json_builder_add_value (b, mount_node (m->destination, m->type, m->source, m->options));
    }
  /* Docker's: the container's own copies, so the image's stay as they are
   * and berth can write them (an address known only at start). */
  static const char *const etc_files[] = { "hostname", "hosts", "resolv.conf" };
  /* Not with --userns remap: its root cannot walk into the store (0700)
   * to reach them, and the image's own stay. */
  gboolean remap = g_strcmp0 (options->userns, "remap") == 0;
  for (guint i = 0; options->etc_dir && !remap && i < G_N_ELEMENTS (etc_files); i++)
    {
      g_autofree char *destination = g_strconcat ("/etc/", etc_files[i], NULL);
      g_autofree char *source = g_build_filename (options->etc_dir, etc_files[i], NULL);
      const char *opts[] = { "rbind", "rprivate", NULL };
      if (!overridden (volumes, destination))
        json_builder_add_value (b, mount_node (destination, "bind", source, opts));
    }
  for (guint i = 0; i < volumes->len; i++)
    {
      const Volume *v = volumes->pdata[i];
      const char *opts[] = { "rbind", "rprivate", v->read_only ? "ro" : NULL, NULL };
      if (v->tmpfs_options)
        json_builder_add_value (b, mount_node (v->destination, "tmpfs", "tmpfs",
                                               (const char *const *) v->tmpfs_options));
      else
        json_builder_add_value (b, mount_node (v->destination, "bind", v->source, opts));
    }
  json_builder_end_array (b);
  return json_builder_get_root (b);
}

/* --- linux: resources --- */

static gboolean
memory_limits (const BerthSpecOptions *o, gint64 *swap, GError **error)
{
  if (o->memory < 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "--memory must not be negative");
  if (o->memory > 0 && o->memory < MIN_MEMORY)
    {
      /* In the unit -m takes, not in bytes alone: -m 1k reads back as 1k. */
      return berth_fail (error, BERTH_ERROR_INVALID,
                         "--memory %gk (%" G_GINT64_FORMAT " bytes) is below the smallest limit, "
                         "6m", o->memory / 1024.0, o->memory);
    }
  if (o->memory_swap < -1)
    return berth_fail (error, BERTH_ERROR_INVALID, "--memory-swap must be -1 or a size");
  if (o->memory_swap > 0 && o->memory == 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "--memory-swap needs --memory");
  if (o->memory_swap > 0 && o->memory_swap < o->memory)
    return berth_fail (error, BERTH_ERROR_INVALID, "--memory-swap must be at least --memory");
  /* Docker's default: as much swap as memory */
  if (o->memory_swap == 0)
    *swap = o->memory > G_MAXINT64 / 2 ? G_MAXINT64 : 2 * o->memory;
  else
    *swap = o->memory_swap;
  return TRUE;
}

static gboolean
parse_cpu_number (const char *s, guint64 *n)
{
  return *s != '\0' && strspn (s, "0123456789") == strlen (s) &&
         g_ascii_string_to_unsigned (s, 10, 0, 65535, n, NULL);
}

/* The kernel's cpu list syntax: "0-2,4". */
static gboolean
valid_cpu_list (const char *list)
{
  g_auto (GStrv) items = g_strsplit (list, ",", -1);
  if (items[0] == NULL)
    return FALSE;
  for (char **item = items; *item; item++)
    {
      g_auto (GStrv) range = g_strsplit (*item, "-", 2);
      guint64 lo, hi;
      if (range[0] == NULL || !parse_cpu_number (range[0], &lo))
        return FALSE;
      if (range[1] && (!parse_cpu_number (range[1], &hi) || hi < lo))
        return FALSE;
    }
  return TRUE;
}

static gboolean
check_cpus (const BerthSpecOptions *o, GError **error)
{
  guint host_cpus = g_get_num_processors ();
  if (!(o->cpus >= 0))
    return berth_fail (error, BERTH_ERROR_INVALID, "--cpus %g: must not be negative", o->cpus);
  /* runc refuses a quota under 1000us, which is 0.01 of a 100ms period */
  if (o->cpus > 0 && o->cpus < 0.01)
    return berth_fail (error, BERTH_ERROR_INVALID, "--cpus %g: the smallest is 0.01", o->cpus);
  if (o->cpus > host_cpus)
    return berth_fail (error, BERTH_ERROR_INVALID, "--cpus %g: this host has only %u CPUs",
                       o->cpus, host_cpus);
  if (o->cpu_shares < 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "--cpu-shares must not be negative");
  if (o->cpuset_cpus && *o->cpuset_cpus && !valid_cpu_list (o->cpuset_cpus))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "--cpuset-cpus '%s': not a CPU list (use 0-2,4)", o->cpuset_cpus);
  return TRUE;
}

static JsonNode *
cpu_node (const BerthSpecOptions *o)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  if (o->cpu_shares > 0)
    add_int (b, "shares", o->cpu_shares);
  if (o->cpus > 0)
    {
      add_int (b, "quota", (gint64) (o->cpus * CPU_PERIOD + 0.5));
      add_int (b, "period", CPU_PERIOD);
    }
  if (o->cpuset_cpus && *o->cpuset_cpus)
    add_string (b, "cpus", o->cpuset_cpus);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
add_device_rule (JsonBuilder *b, gboolean allow, const char *type, gint64 major, gint64 minor)
{
  json_builder_begin_object (b);
  add_bool (b, "allow", allow);
  if (type)
    add_string (b, "type", type);
  /* -1: the rule's wildcard, which OCI spells as an absent number */
  if (major >= 0)
    add_int (b, "major", major);
  if (minor >= 0)
    add_int (b, "minor", minor);
  add_string (b, "access", allow && major < 0 ? "m" : "rwm");
  json_builder_end_object (b);
}

/* Deny everything, then what Docker allows: mknod of any node (CAP_MKNOD
 * is in the default set) and use of the standard /dev nodes. */
static JsonNode *
devices_node (void)
{
  static const struct { gint64 major, minor; } allowed[] = {
    { 1, 3 }, { 1, 5 }, { 1, 7 }, { 1, 8 }, { 1, 9 }, { 5, 0 }, { 5, 1 }, { 5, 2 }, { 136, -1 },
  };
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  add_device_rule (b, FALSE, NULL, -1, -1);
  add_device_rule (b, TRUE, "c", -1, -1);
  add_device_rule (b, TRUE, "b", -1, -1);
  for (gsize i = 0; i < G_N_ELEMENTS (allowed); i++)
    add_device_rule (b, TRUE, "c", allowed[i].major, allowed[i].minor);
  json_builder_end_array (b);
  return json_builder_get_root (b);
}

static JsonNode *
build_resources (const BerthSpecOptions *o, GError **error)
{
  gint64 swap = 0;
  if (!memory_limits (o, &swap, error) || !check_cpus (o, error))
    return NULL;
  /* The kernel's own ceiling (PID_MAX_LIMIT): pids.max refuses more. */
  if (o->pids_limit > 4194304)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "--pids-limit %" G_GINT64_FORMAT ": above the kernel's limit of 4194304 "
                       "processes", o->pids_limit), NULL;
  if (o->pids_limit < -1)
    return berth_fail (error, BERTH_ERROR_INVALID, "--pids-limit must be -1 or positive"), NULL;
  if (o->blkio_weight != 0 && (o->blkio_weight < 10 || o->blkio_weight > 1000))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "--blkio-weight %" G_GINT64_FORMAT ": must be between 10 and 1000",
                       o->blkio_weight), NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_member (b, "devices", devices_node ());
  if (o->memory > 0)
    {
      json_builder_set_member_name (b, "memory");
      json_builder_begin_object (b);
      add_int (b, "limit", o->memory);
      add_int (b, "swap", swap);
      json_builder_end_object (b);
    }
  if (o->cpus > 0 || o->cpu_shares > 0 || (o->cpuset_cpus && *o->cpuset_cpus))
    add_member (b, "cpu", cpu_node (o));
  if (o->pids_limit != 0)
    {
      json_builder_set_member_name (b, "pids");
      json_builder_begin_object (b);
      add_int (b, "limit", o->pids_limit);
      json_builder_end_object (b);
    }
  if (o->blkio_weight != 0)
    {
      json_builder_set_member_name (b, "blockIO");
      json_builder_begin_object (b);
      add_int (b, "weight", o->blkio_weight);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* --- linux: seccomp --- */

static gboolean
parse_kernel_version (const char *s, guint *major, guint *minor)
{
  char *end;
  guint64 a = g_ascii_strtoull (s, &end, 10);
  if (end == s || *end != '.')
    return FALSE;
  const char *m = end + 1;
  guint64 b = g_ascii_strtoull (m, &end, 10);
  if (end == m || a > G_MAXUINT || b > G_MAXUINT)
    return FALSE;
  *major = (guint) a;
  *minor = (guint) b;
  return TRUE;
}

/* Whether the running kernel is at least @min ("4.8"); -1 if @min is malformed. */
static int
kernel_at_least (const char *min)
{
  struct utsname u;
  guint want_major, want_minor, major = 0, minor = 0;
  if (!parse_kernel_version (min, &want_major, &want_minor))
    return -1;
  if (uname (&u) < 0 || !parse_kernel_version (u.release, &major, &minor))
    return 0;
  return major > want_major || (major == want_major && minor >= want_minor);
}

static gboolean
strv_has_any (char **strv, GPtrArray *set)
{
  for (char **s = strv; s && *s; s++)
    if (ptr_array_has_string (set, *s))
      return TRUE;
  return FALSE;
}

static gboolean
strv_has_all (char **strv, GPtrArray *set)
{
  for (char **s = strv; s && *s; s++)
    if (!ptr_array_has_string (set, *s))
      return FALSE;
  return TRUE;
}

/* Docker's "includes"/"excludes" (@include TRUE/FALSE) filter on one
 * profile entry: whether it keeps the entry. */
static gboolean
filter_matches (JsonObject *filter, gboolean include, GPtrArray *caps, const char *file,
                guint index, gboolean *keep, GError **error)
{
  g_auto (GStrv) arches = berth_json_strv (filter, "arches");
  g_auto (GStrv) fcaps = berth_json_strv (filter, "caps");
  const char *min_kernel = berth_json_string (filter, "minKernel", NULL);
  *keep = TRUE;
  if (arches && arches[0])
    *keep &= include == g_strv_contains ((const char *const *) arches, NATIVE_GOARCH);
  if (fcaps && fcaps[0])
    *keep &= include ? strv_has_all (fcaps, caps) : !strv_has_any (fcaps, caps);
  if (min_kernel)
    {
      int at_least = kernel_at_least (min_kernel);
      if (at_least < 0)
        return berth_fail (error, BERTH_ERROR_INVALID,
                           "seccomp profile '%s': syscalls[%u]: minKernel '%s' is not N.M",
                           file, index, min_kernel);
      *keep &= include == (at_least == 1);
    }
  return TRUE;
}

static gboolean
syscall_wanted (JsonObject *call, GPtrArray *caps, const char *file, guint index,
                gboolean *wanted, GError **error)
{
  gboolean inc = TRUE, exc = TRUE;
  JsonObject *includes = berth_json_object (call, "includes");
  JsonObject *excludes = berth_json_object (call, "excludes");
  if (includes && !filter_matches (includes, TRUE, caps, file, index, &inc, error))
    return FALSE;
  if (excludes && !filter_matches (excludes, FALSE, caps, file, index, &exc, error))
    return FALSE;
  *wanted = inc && exc;
  return TRUE;
}

/* One Docker-format syscalls[] entry as an OCI one. */
static JsonNode *
convert_syscall (JsonObject *call, const char *file, guint index, GError **error)
{
  const char *name = berth_json_string (call, "name", NULL);
  const char *action = berth_json_string (call, "action", NULL);
  g_auto (GStrv) names = berth_json_strv (call, "names");
  if (name && names)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "seccomp profile '%s': syscalls[%u] has both name and names", file, index),
           NULL;
  if ((name == NULL && (names == NULL || names[0] == NULL)) || action == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "seccomp profile '%s': syscalls[%u] needs names and an action", file, index),
           NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  const char *one[] = { name, NULL };
  add_member (b, "names", strings_node (name ? one : (const char *const *) names, -1));
  add_string (b, "action", action);
  /* errno values are positive: a negative one is no errnoRet at all */
  gint64 errno_ret = berth_json_int (call, "errnoRet", -1);
  if (errno_ret >= 0)
    add_int (b, "errnoRet", errno_ret);
  JsonArray *args = berth_json_array (call, "args");
  if (args && json_array_get_length (args) > 0)
    add_member (b, "args", json_node_copy (json_object_get_member (call, "args")));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static JsonNode *
convert_syscalls (JsonArray *calls, GPtrArray *caps, const char *file, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (guint i = 0; calls && i < json_array_get_length (calls); i++)
    {
      JsonObject *call = berth_json_array_object (calls, i);
      gboolean wanted;
      if (call == NULL)
        return berth_fail (error, BERTH_ERROR_INVALID,
                           "seccomp profile '%s': syscalls[%u] is not an object", file, i), NULL;
      if (!syscall_wanted (call, caps, file, i, &wanted, error))
        return NULL;
      if (!wanted)
        continue;
      JsonNode *converted = convert_syscall (call, file, i, error);
      if (converted == NULL)
        return NULL;
      json_builder_add_value (b, converted);
    }
  json_builder_end_array (b);
  return json_builder_get_root (b);
}

/* "architectures" as is, or from Docker's archMap the native architecture
 * and its sub-architectures, as Docker picks them. */
static JsonNode *
convert_architectures (JsonObject *profile, const char *file, GError **error)
{
  g_auto (GStrv) legacy = berth_json_strv (profile, "architectures");
  JsonArray *map = berth_json_array (profile, "archMap");
  if (legacy && map)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "seccomp profile '%s': has both architectures and archMap", file), NULL;
  if (legacy)
    return strings_node ((const char *const *) legacy, -1);
  g_autoptr (GPtrArray) arches = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; map && i < json_array_get_length (map); i++)
    {
      JsonObject *entry = berth_json_array_object (map, i);
      const char *arch = berth_json_string (entry, "architecture", NULL);
      if (arch == NULL || strcmp (arch, NATIVE_SCMP_ARCH) != 0)
        continue;
      add_unique (arches, arch);
      g_auto (GStrv) sub = berth_json_strv (entry, "subArchitectures");
      for (char **s = sub; s && *s; s++)
        add_unique (arches, *s);
    }
  return ptr_array_node (arches);
}

/* A Docker-format profile file (an OCI one reads the same) for the
 * capabilities @caps, which its includes and excludes depend on. */
static JsonNode *
seccomp_from_file (const char *file, GPtrArray *caps, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (JsonNode) root = berth_json_read (file, &local);
  if (root == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "seccomp profile %s", local->message), NULL;
  JsonObject *profile = berth_json_node_object (root);
  const char *default_action = berth_json_string (profile, "defaultAction", NULL);
  if (default_action == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "seccomp profile '%s': not an object with a defaultAction", file), NULL;
  g_autoptr (JsonNode) arches = convert_architectures (profile, file, error);
  if (arches == NULL)
    return NULL;
  g_autoptr (JsonNode) syscalls = convert_syscalls (berth_json_array (profile, "syscalls"), caps,
                                                    file, error);
  if (syscalls == NULL)
    return NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_string (b, "defaultAction", default_action);
  gint64 errno_ret = berth_json_int (profile, "defaultErrnoRet", -1);
  if (errno_ret >= 0)
    add_int (b, "defaultErrnoRet", errno_ret);
  add_member (b, "architectures", g_steal_pointer (&arches));
  g_auto (GStrv) flags = berth_json_strv (profile, "flags");
  if (flags && flags[0])
    add_member (b, "flags", strings_node ((const char *const *) flags, -1));
  add_member (b, "syscalls", g_steal_pointer (&syscalls));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* --- linux --- */

static const char *const masked_paths[] = {
  "/proc/asound",        "/proc/acpi",        "/proc/kcore",       "/proc/keys",
  "/proc/latency_stats", "/proc/timer_list",  "/proc/timer_stats", "/proc/sched_debug",
  "/proc/scsi",          "/sys/firmware",     "/sys/devices/virtual/powercap", NULL,
};

static const char *const readonly_paths[] = {
  "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

static JsonNode *
namespaces_node (gboolean host_network, gboolean remap)
{
  static const char *const types[] = { "pid", "ipc", "uts", "mount", "network", "cgroup", "user" };
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    {
      if ((host_network && strcmp (types[i], "network") == 0) ||
          (!remap && strcmp (types[i], "user") == 0))
        continue;
      json_builder_begin_object (b);
      add_string (b, "type", types[i]);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  return json_builder_get_root (b);
}

static JsonNode *
id_mapping_node (void)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_array (b);
  json_builder_begin_object (b);
  add_int (b, "containerID", 0);
  add_int (b, "hostID", REMAP_HOST_ID);
  add_int (b, "size", REMAP_SIZE);
  json_builder_end_object (b);
  json_builder_end_array (b);
  return json_builder_get_root (b);
}

static JsonNode *
build_seccomp (const BerthSpecOptions *options, GPtrArray *caps, GError **error)
{
  if (options->seccomp == NULL)
    return berth_seccomp_default_profile ();
  return seccomp_from_file (options->seccomp, caps, error);
}

static JsonNode *
build_linux (const char *id, const BerthSpecOptions *options, gboolean host_network,
             gboolean remap, GPtrArray *caps, GError **error)
{
  g_autoptr (JsonNode) resources = build_resources (options, error);
  if (resources == NULL)
    return NULL;
  gboolean unconfined = g_strcmp0 (options->seccomp, "unconfined") == 0;
  g_autoptr (JsonNode) seccomp = unconfined ? NULL : build_seccomp (options, caps, error);
  if (!unconfined && seccomp == NULL)
    return NULL;
  g_autofree char *cgroups_path = g_strconcat ("/berth/", id, NULL);

  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  if (remap)
    {
      add_member (b, "uidMappings", id_mapping_node ());
      add_member (b, "gidMappings", id_mapping_node ());
    }
  add_member (b, "resources", g_steal_pointer (&resources));
  add_string (b, "cgroupsPath", cgroups_path);
  add_member (b, "namespaces", namespaces_node (host_network, remap));
  /* the runtime makes the default nodes (null, zero, tty, ...) itself */
  add_member (b, "devices", strings_node (NULL, 0));
  if (seccomp)
    add_member (b, "seccomp", g_steal_pointer (&seccomp));
  add_member (b, "maskedPaths", strings_node (masked_paths, -1));
  add_member (b, "readonlyPaths", strings_node (readonly_paths, -1));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* --- the whole config --- */

static gboolean
valid_hostname (const char *name)
{
  gsize len = strlen (name);
  return len > 0 && len <= 63 &&
         strspn (name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == len;
}

static gboolean
check_modes (const BerthSpecOptions *options, gboolean *host_network, gboolean *remap,
             GError **error)
{
  const char *net = options->network;
  const char *userns = options->userns;
  gboolean joins = net && g_str_has_prefix (net, "container:") && net[10] != '\0';
  if (net && strcmp (net, "none") != 0 && strcmp (net, "host") != 0 && !joins
      && !berth_validate_name (net, NULL))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "--network '%s': not none, host, container:NAME or a network's name", net);
  if (userns && strcmp (userns, "host") != 0 && strcmp (userns, "remap") != 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "--userns '%s': unknown (use host or remap)",
                       userns);
  *host_network = g_strcmp0 (net, "host") == 0;
  *remap = g_strcmp0 (userns, "remap") == 0;
  return TRUE;
}

JsonNode *
berth_spec_build (const char *id, JsonNode *image_config, const char *rootfs_dir,
                  const BerthSpecOptions *options, GError **error)
{
  gboolean host_network = FALSE, remap = FALSE;
  if (!check_modes (options, &host_network, &remap, error))
    return NULL;
  g_autofree char *hostname = options->hostname ? g_strdup (options->hostname)
                                                : g_strndup (id, 12);
  if (!valid_hostname (hostname))
    return berth_fail (error, BERTH_ERROR_INVALID, "--hostname '%s': not a valid host name",
                       hostname), NULL;
  JsonObject *image = berth_json_object (berth_json_node_object (image_config), "config");
  g_autoptr (GPtrArray) caps = build_caps (options, error);
  if (caps == NULL)
    return NULL;
  g_autoptr (JsonNode) process = build_process (image, rootfs_dir, hostname, options, caps, error);
  if (process == NULL)
    return NULL;
  gboolean joins = options->network && g_str_has_prefix (options->network, "container:");
  gboolean berth_network = options->network && strcmp (options->network, "none") != 0
                           && !host_network && !joins;
  g_autoptr (JsonNode) annotations = berth_spec_network_annotations (options, image,
                                                                     berth_network,
                                                                     !host_network && !joins,
                                                                     error);
  if (annotations == NULL)
    return NULL;
  g_autoptr (JsonNode) mounts = build_mounts (options, host_network || (remap && berth_network),
                                              error);
  if (mounts == NULL)
    return NULL;
  g_autoptr (JsonNode) linux_node = build_linux (id, options, host_network, remap, caps, error);
  if (linux_node == NULL)
    return NULL;

  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  add_string (b, "ociVersion", "1.0.2");
  add_member (b, "process", g_steal_pointer (&process));
  json_builder_set_member_name (b, "root");
  json_builder_begin_object (b);
  add_string (b, "path", "rootfs");
  add_bool (b, "readonly", options->read_only);
  json_builder_end_object (b);
  add_string (b, "hostname", hostname);
  add_member (b, "mounts", g_steal_pointer (&mounts));
  add_member (b, "linux", g_steal_pointer (&linux_node));
  if (json_object_get_size (json_node_get_object (annotations)) > 0)
    add_member (b, "annotations", g_steal_pointer (&annotations));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* --- --mount --- */

typedef struct {
  const char *type, *source, *target, *size, *mode;
  gboolean read_only;
} MountFlag;

/* g_strv_builder_take, which GLib has only from 2.80. */
static void
builder_take (GStrvBuilder *builder, char *value)
{
  g_strv_builder_add (builder, value);
  g_free (value);
}

static gboolean
parse_mount_bool (const char *text, const char *value, gboolean *out, GError **error)
{
  if (value == NULL || strcmp (value, "true") == 0 || strcmp (value, "1") == 0)
    return *out = TRUE, TRUE;
  if (strcmp (value, "false") == 0 || strcmp (value, "0") == 0)
    return *out = FALSE, TRUE;
  return berth_fail (error, BERTH_ERROR_INVALID, "--mount '%s': readonly takes true or false",
                     text);
}

static gboolean
parse_mount_fields (const char *text, char **fields, MountFlag *m, GError **error)
{
  for (char **f = fields; *f; f++)
    {
      char *eq = strchr (*f, '=');
      const char *value = eq ? eq + 1 : NULL;
      if (eq)
        *eq = '\0';
      const char *key = *f;
      if (strcmp (key, "readonly") == 0 || strcmp (key, "ro") == 0)
        {
          if (!parse_mount_bool (text, value, &m->read_only, error))
            return FALSE;
          continue;
        }
      if (value == NULL || *value == '\0')
        return berth_fail (error, BERTH_ERROR_INVALID, "--mount '%s': %s needs a value", text, key);
      if (strcmp (key, "type") == 0)
        m->type = value;
      else if (strcmp (key, "source") == 0 || strcmp (key, "src") == 0)
        m->source = value;
      else if (strcmp (key, "target") == 0 || strcmp (key, "destination") == 0
               || strcmp (key, "dst") == 0)
        m->target = value;
      else if (strcmp (key, "tmpfs-size") == 0)
        m->size = value;
      else if (strcmp (key, "tmpfs-mode") == 0)
        m->mode = value;
      else
        return berth_fail (error, BERTH_ERROR_INVALID, "--mount '%s': unknown field '%s' (type, "
                           "source, target, readonly, tmpfs-size, tmpfs-mode)", text, key);
    }
  return TRUE;
}

static gboolean
mount_tmpfs (const char *text, MountFlag *m, GStrvBuilder *tmpfs, GError **error)
{
  if (m->source)
    return berth_fail (error, BERTH_ERROR_INVALID, "--mount '%s': a tmpfs has no source", text);
  g_autoptr (GString) opts = g_string_new (m->read_only ? "ro" : "");
  if (m->size)
    {
      gint64 bytes = 0;
      if (!berth_parse_size (m->size, "--mount tmpfs-size", &bytes, error))
        return FALSE;
      g_string_append_printf (opts, "%ssize=%" G_GINT64_FORMAT, opts->len ? "," : "", bytes);
    }
  if (m->mode)
    {
      char *end = NULL;
      guint64 mode = g_ascii_strtoull (m->mode, &end, 8);
      if (*m->mode == '\0' || *end || mode > 07777)
        return berth_fail (error, BERTH_ERROR_INVALID, "--mount '%s': tmpfs-mode is octal, "
                           "at most 7777", text);
      g_string_append_printf (opts, "%smode=%" G_GINT64_MODIFIER "o", opts->len ? "," : "", mode);
    }
  builder_take (tmpfs, g_strconcat (m->target, opts->len ? ":" : "", opts->str, NULL));
  return TRUE;
}

gboolean
berth_spec_parse_mount (const char *text, GStrvBuilder *volumes, GStrvBuilder *tmpfs,
                        GError **error)
{
  g_auto (GStrv) fields = g_strsplit (text, ",", -1);
  MountFlag m = { .type = "volume" };
  if (!parse_mount_fields (text, fields, &m, error))
    return FALSE;
  if (m.target == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "--mount '%s': target is missing", text);
  if (strchr (m.target, ':') || (m.source && strchr (m.source, ':')))
    return berth_fail (error, BERTH_ERROR_INVALID, "--mount '%s': a path with ':' is not "
                       "supported", text);
  if (strcmp (m.type, "tmpfs") == 0)
    return mount_tmpfs (text, &m, tmpfs, error);
  if ((m.size || m.mode))
    return berth_fail (error, BERTH_ERROR_INVALID, "--mount '%s': tmpfs-size and tmpfs-mode "
                       "are a tmpfs's", text);
  const char *mode = m.read_only ? ":ro" : "";
  if (strcmp (m.type, "bind") == 0)
    {
      /* Docker's --mount, unlike -v, does not make a missing source. */
      if (m.source == NULL || !g_path_is_absolute (m.source))
        return berth_fail (error, BERTH_ERROR_INVALID, "--mount '%s': a bind needs an absolute "
                           "source", text);
      if (!g_file_test (m.source, G_FILE_TEST_EXISTS))
        return berth_fail (error, BERTH_ERROR_INVALID, "--mount '%s': bind source path does not "
                           "exist: %s", text, m.source);
      builder_take (volumes, g_strconcat (m.source, ":", m.target, mode, NULL));
      return TRUE;
    }
  if (strcmp (m.type, "volume") != 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "--mount '%s': type '%s' is not bind, volume "
                       "or tmpfs", text, m.type);
  if (m.source && g_path_is_absolute (m.source))
    return berth_fail (error, BERTH_ERROR_INVALID, "--mount '%s': a volume's source is its "
                       "name, not a path (type=bind for that)", text);
  if (m.source == NULL && m.read_only)
    return berth_fail (error, BERTH_ERROR_INVALID, "--mount '%s': a read-only anonymous volume "
                       "would stay empty; name it", text);
  builder_take (volumes, m.source ? g_strconcat (m.source, ":", m.target, mode, NULL)
                                         : g_strdup (m.target));
  return TRUE;
}

