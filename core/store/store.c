#include "config.h"
#include "store-internal.h"
#include <berth/error.h>
#include <berth/family.h>
#include <berth/fsutil.h>
#include <berth/host.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/file.h>
#include <unistd.h>

char *
berth_store_path (BerthStore *store, const char *first, ...)
{
  va_list ap;
  va_start (ap, first);
  GPtrArray *parts = g_ptr_array_new ();
  g_ptr_array_add (parts, store->root);
  for (const char *p = first; p; p = va_arg (ap, const char *))
    g_ptr_array_add (parts, (gpointer) p);
  va_end (ap);
  g_ptr_array_add (parts, NULL);
  char *path = g_build_filenamev ((char **) parts->pdata);
  g_ptr_array_free (parts, TRUE);
  return path;
}

GPtrArray *
berth_store_list_ids (BerthStore *store, const char *subdir, char *(*id_of) (const char *name),
                      GError **error)
{
  g_autofree char *dir = berth_store_path (store, subdir, NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, error);
  if (d == NULL)
    return NULL;
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (d)))
    {
      char *id = id_of (name);
      if (id)
        g_ptr_array_add (ids, id);
    }
  g_ptr_array_sort (ids, berth_compare_string_slots);
  return g_steal_pointer (&ids);
}

/* The marker that says "this directory is a berth store", and the format of
 * the layout below it. Opening a store sweeps tmp/ and *.tmp-* away, so
 * berth must never mistake another directory for one. */
#define STORE_MARKER "berth-store"
#define STORE_FORMAT 1

static gboolean
check_marker (const char *root, GError **error)
{
  g_autofree char *path = g_build_filename (root, STORE_MARKER, NULL);
  g_autofree char *text = NULL;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &text, NULL, &local))
    return berth_fail (error, BERTH_ERROR_FAILED, "%s: %s", root, local->message);
  unsigned format = 0;
  char end = 0;
  if (sscanf (text, "berth store format %u%c", &format, &end) != 2 || end != '\n')
    return berth_fail (error, BERTH_ERROR_INVALID, "%s: the store marker %s is damaged "
                       "(it should read 'berth store format %d'); refusing to use the store",
                       root, path, STORE_FORMAT);
  if (format > STORE_FORMAT)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "%s: store format %u is newer than "
                       "this berth understands (%d); use a newer berth", root, format, STORE_FORMAT);
  return TRUE;
}

/* What a berth from before the marker made in every store, on first open,
 * before anything else: a directory holding exactly these (and the optional
 * entries below) is such a store, and is adopted. */
static const struct {
  const char *name;
  mode_t type;
  gboolean required;
} old_store_entries[] = {
  { "blobs", S_IFDIR, TRUE },      { "blobs/sha256", S_IFDIR, TRUE },
  { "images", S_IFDIR, TRUE },     { "layers", S_IFDIR, TRUE },
  { "storage", S_IFDIR, TRUE },    { "containers", S_IFDIR, TRUE },
  { "tmp", S_IFDIR, TRUE },        { "lock", S_IFREG, TRUE },
  { "driver", S_IFREG, FALSE },    { "tags.json", S_IFREG, FALSE },
};

/* Leftovers of an atomic write killed half-way, for the files berth keeps
 * at the top of a store; any other "*.tmp-*" is not berth's. */
static gboolean
is_store_temp (const char *name)
{
  static const char *const prefixes[] = { STORE_MARKER ".tmp-", "driver.tmp-", "tags.json.tmp-" };
  for (guint i = 0; i < G_N_ELEMENTS (prefixes); i++)
    if (g_str_has_prefix (name, prefixes[i]))
      return TRUE;
  return FALSE;
}

static gboolean
has_entry (int dirfd, const char *name, mode_t type)
{
  struct stat st;
  return fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == type;
}

static gboolean
is_old_store_entry (int dirfd, const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (old_store_entries); i++)
    if (strcmp (name, old_store_entries[i].name) == 0)
      return has_entry (dirfd, name, old_store_entries[i].type);
  return is_store_temp (name);
}

typedef enum { ROOT_EMPTY, ROOT_MARKED, ROOT_OLD_STORE } RootKind;

static gboolean
refuse_root (const char *root, const char *detail, GError **error)
{
  return berth_fail (error, BERTH_ERROR_INVALID, "%s: not a berth store (no " STORE_MARKER
                     " marker) and not empty (%s); refusing to use it", root, detail);
}

/* mkfs.ext4 makes lost+found in a new filesystem's root: a disk made for
 * the store is still an empty one. */
static gboolean
is_ignored_entry (int dirfd, const char *name)
{
  return g_str_has_prefix (name, STORE_MARKER ".tmp-")
         || (strcmp (name, "lost+found") == 0 && has_entry (dirfd, name, S_IFDIR));
}

/* Which kind of directory @root (open as @dirfd) is; a directory that is
 * none of the three is refused, naming an entry that shows why. */
static gboolean
classify_root (int dirfd, const char *root, RootKind *kind, GError **error)
{
  g_autoptr (GPtrArray) names = berth_dir_names_sorted (dirfd, root, error);
  if (names == NULL)
    return FALSE;
  gboolean any = FALSE;
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      if (strcmp (name, STORE_MARKER) == 0)
        {
          *kind = ROOT_MARKED;
          return TRUE;
        }
      if (is_ignored_entry (dirfd, name))
        continue;
      if (!is_old_store_entry (dirfd, name))
        {
          g_autofree char *detail = g_strdup_printf ("it holds '%s'", name);
          return refuse_root (root, detail, error);
        }
      any = TRUE;
    }
  *kind = any ? ROOT_OLD_STORE : ROOT_EMPTY;
  if (!any)
    return TRUE;
  /* Only some of the layout: not what any berth left, so not adopted. */
  for (guint i = 0; i < G_N_ELEMENTS (old_store_entries); i++)
    if (old_store_entries[i].required
        && !has_entry (dirfd, old_store_entries[i].name, old_store_entries[i].type))
      {
        g_autofree char *detail = g_strdup_printf ("it has parts of a store's layout but no '%s'",
                                                   old_store_entries[i].name);
        return refuse_root (root, detail, error);
      }
  return TRUE;
}

static gboolean
lock_dir (int fd, const char *root, GError **error)
{
  while (flock (fd, LOCK_EX) < 0)
    if (errno != EINTR)
      return berth_fail_errno (error, errno, "lock %s", root);
  return TRUE;
}

/* Make @root a store, or check that it is one, before anything is written
 * or swept there. The directory itself is locked meanwhile, so two commands
 * opening a new store at once both see it either empty or marked. */
static gboolean
claim_root (const char *root, GError **error)
{
  struct stat st;
  if (stat (root, &st) == 0 && !S_ISDIR (st.st_mode))
    return berth_fail (error, BERTH_ERROR_INVALID, "%s: not a directory; a store root must be one",
                       root);
  if (!berth_mkdir_p (root, 0700, error))
    return FALSE;
  int fd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open store %s", root);
  RootKind kind = ROOT_EMPTY;
  gboolean ok = lock_dir (fd, root, error) && classify_root (fd, root, &kind, error);
  if (ok && kind == ROOT_MARKED)
    ok = check_marker (root, error);
  else if (ok)
    {
      g_autofree char *path = g_build_filename (root, STORE_MARKER, NULL);
      g_autofree char *text = g_strdup_printf ("berth store format %d\n", STORE_FORMAT);
      ok = berth_write_file_atomic (path, text, strlen (text), 0600, error);
    }
  close (fd);
  return ok;
}

static gboolean
make_layout (const char *root, GError **error)
{
  static const char *const dirs[] = { "blobs/sha256", "images", "layers", "storage",
                                      "containers", "tmp" };
  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *d = g_build_filename (root, dirs[i], NULL);
      if (!berth_mkdir_p (d, 0700, error))
        return FALSE;
    }
  /* The lock file too, so that a store a reader made first looks the same. */
  g_autofree char *lock = g_build_filename (root, "lock", NULL);
  int fd = open (lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", lock);
  close (fd);
  return TRUE;
}

/* Who holds the lock, as its holder wrote it: "PID COMMAND". */
static char *
lock_holder (int fd)
{
  char buf[256];
  ssize_t n = pread (fd, buf, sizeof buf - 1, 0);
  if (n <= 0)
    return g_strdup ("another berth command");
  buf[n] = '\0';
  g_strchomp (buf);
  g_autofree char *command = NULL;
  char *space = strchr (buf, ' ');
  if (space)
    command = g_strdup (space + 1);
  return g_strdup_printf ("pid %.*s (%s)", space ? (int) (space - buf) : (int) n, buf,
                          command ? command : "berth");
}

/* Our own name in the lock file, for whoever waits on it: the program and
 * its first argument (the command). Best effort: the lock holds anyway. */
static void
record_holder (int fd)
{
  g_autofree char *cmdline = NULL;
  gsize len = 0;
  g_autofree char *line = NULL;
  if (g_file_get_contents ("/proc/self/cmdline", &cmdline, &len, NULL) && len > 0)
    {
      const char *arg0 = cmdline, *arg1 = memchr (cmdline, '\0', len);
      arg1 = arg1 && arg1 + 1 < cmdline + len ? arg1 + 1 : "";
      g_autofree char *base = g_path_get_basename (arg0);
      line = g_strdup_printf ("%d %s %s\n", (int) getpid (), base, arg1);
    }
  else
    line = g_strdup_printf ("%d berth\n", (int) getpid ());
  if (ftruncate (fd, 0) == 0 && pwrite (fd, line, strlen (line), 0) < 0)
    g_debug ("record the lock's holder: %s", g_strerror (errno));
}

/* The store lock without waiting: its descriptor, or -1 when another
 * command holds it (or it cannot be opened). */
static int
try_lock (const char *root)
{
  g_autofree char *path = g_build_filename (root, "lock", NULL);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return -1;
  int r;
  while ((r = flock (fd, LOCK_EX | LOCK_NB)) < 0 && errno == EINTR)
    ;
  if (r < 0)
    {
      close (fd);
      return -1;
    }
  record_holder (fd);
  return fd;
}

static int
take_lock (const char *root, GError **error)
{
  g_autofree char *path = g_build_filename (root, "lock", NULL);
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      berth_fail_errno (error, errno, "open %s", path);
      return -1;
    }
  /* A second of quiet waiting, then say who we wait for: a command that
   * waits on a long load must not look hung. */
  gint64 deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
  int flags = LOCK_EX | LOCK_NB;
  while (flock (fd, flags) < 0)
    {
      if (errno == EINTR)
        continue;
      if (errno != EWOULDBLOCK)
        {
          berth_fail_errno (error, errno, "lock %s", path);
          close (fd);
          return -1;
        }
      if (g_get_monotonic_time () < deadline)
        {
          g_usleep (20000);
          continue;
        }
      g_autofree char *holder = lock_holder (fd);
      g_printerr ("berth: waiting for the store lock of %s, held by %s\n", root, holder);
      flags = LOCK_EX;
    }
  record_holder (fd);
  return fd;
}

/* The default driver is fixed when the store is first used, so a kernel
 * upgrade that breaks it is reported, never papered over by a silent switch
 * that would make every image "disappear". */
static gboolean
load_default_driver (BerthStore *store, GKeyFile *conf, const char *conf_path, GError **error)
{
  g_autofree char *path = berth_store_path (store, "driver", NULL);
  g_autofree char *recorded = NULL;
  g_autofree char *conf_driver = g_key_file_get_string (conf, "storage", "driver", NULL);

  if (g_file_get_contents (path, &recorded, NULL, NULL))
    {
      g_strstrip (recorded);
      store->default_driver = g_strdup (recorded);
      store->default_rule = g_strdup_printf ("recorded in %s when the store was first used", path);
    }
  else if (conf_driver)
    {
      store->default_driver = g_strdup (conf_driver);
      store->default_rule = g_strdup_printf ("set in %s", conf_path);
    }
  else
    {
      char *rule = NULL;
      store->default_driver = g_strdup (berth_host_pick_driver (store->root, &rule));
      store->default_rule = rule;
    }
  if (conf_driver && g_strcmp0 (conf_driver, store->default_driver) != 0)
    g_printerr ("berth: warning: %s asks for storage driver %s, but this store was made with %s; "
                "using %s (pass --storage-driver to choose per command)\n",
                conf_path, conf_driver, store->default_driver, store->default_driver);
  return TRUE;
}

static gboolean
record_default_driver (BerthStore *store, GError **error)
{
  g_autofree char *path = berth_store_path (store, "driver", NULL);
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    return TRUE;
  g_autofree char *text = g_strdup_printf ("%s\n", store->default_driver);
  return berth_write_file_atomic (path, text, strlen (text), 0600, error);
}

static void
sweep_driver_temps (const char *dir)
{
  g_autoptr (GError) local = NULL;
  if (!berth_remove_stale_temps (dir, &local))
    g_printerr ("berth: warning: %s\n", local->message);
}

/* The storage probes' (d_type, overlay's test mount), staged layer
 * removals and layer markers' temporary files left by a kill; not while a load unpacks layers without the
 * store lock, whose half-made ones have such names too. One that will not
 * go (a mount still busy) is no reason to refuse the store: a warning, and
 * a retry next time. */
static void
sweep_storage_temps (BerthStore *store)
{
  int holds_fd = -1;
  if (!berth_layer_holds_lock_for_sweep (store, &holds_fd))
    return;
  g_autofree char *storage = berth_store_path (store, "storage", NULL);
  sweep_driver_temps (storage);
  for (const BerthStorageOps *const *o = berth_storage_drivers (); *o; o++)
    {
      g_autofree char *home = berth_store_path (store, "storage", (*o)->name, NULL);
      g_autofree char *marks = berth_store_path (store, "layers", (*o)->name, NULL);
      sweep_driver_temps (home);
      sweep_driver_temps (marks); /* a marker's atomic write, killed */
    }
  if (holds_fd >= 0)
    close (holds_fd);
}

/* A driver's own sweep (berth_storage_sweep), on the same terms, and only
 * under the store lock: a reader (info) opening a driver must not take the
 * half-made layer of a create running now. */
static void
sweep_driver (BerthStore *store, BerthStorage *storage)
{
  if (store->lock_fd < 0)
    return;
  int holds_fd = -1;
  if (!berth_layer_holds_lock_for_sweep (store, &holds_fd))
    return;
  g_autoptr (GError) local = NULL;
  if (!berth_storage_sweep (storage, &local))
    g_printerr ("berth: warning: %s\n", local->message);
  if (holds_fd >= 0)
    close (holds_fd);
}

/* A staging directory is named "<pid>-<start time>-XXXXXX" after the
 * command that made it (berth_store_mkdtemp): TRUE while that command
 * lives. Loads and imports fill theirs without the store lock. */
static gboolean
staging_owner_alive (const char *name)
{
  unsigned long pid = 0;
  unsigned long long start = 0;
  if (sscanf (name, "%lu-%llu-", &pid, &start) != 2 || pid == 0 || pid > G_MAXINT)
    return FALSE;
  return berth_process_start_time ((pid_t) pid) == (guint64) start;
}

/* Staging left by commands that were killed: nothing refers to it. A live
 * command's is kept. */
static gboolean
sweep_staging (BerthStore *store, GError **error)
{
  g_autofree char *tmp = berth_store_path (store, "tmp", NULL);
  if (!berth_mkdir_p (tmp, 0700, error))
    return FALSE;
  int fd = open (tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", tmp);
  g_autoptr (GPtrArray) names = berth_dir_names_sorted (fd, tmp, error);
  gboolean ok = names != NULL;
  for (guint i = 0; ok && i < names->len; i++)
    if (!staging_owner_alive (names->pdata[i]))
      ok = berth_rm_rf_at (fd, names->pdata[i], error);
  close (fd);
  return ok;
}

static BerthStore *
store_new (const char *root, const char *driver_override, GError **error)
{
  /* An empty root is an unset variable, not "here". */
  if (root == NULL || *root == '\0')
    {
      berth_fail (error, BERTH_ERROR_INVALID, "the store root is empty; name the store's directory");
      return NULL;
    }
  g_autoptr (BerthStore) store = g_new0 (BerthStore, 1);
  store->lock_fd = -1;
  store->root = g_canonicalize_filename (root, NULL);
  store->driver_override = g_strdup (driver_override);
  store->drivers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) berth_storage_close);
  if (!claim_root (store->root, error) || !make_layout (store->root, error))
    return NULL;
  return g_steal_pointer (&store);
}

/* The config file is read once per command: the default driver and the
 * storage options both come from it. */
static gboolean
read_config (BerthStore *store, GError **error)
{
  g_autoptr (GKeyFile) conf = g_key_file_new ();
  const char *conf_path = g_getenv ("BERTH_CONFIG");
  if (conf_path == NULL || *conf_path == '\0')
    conf_path = BERTH_CONFIG_FILE;
  /* No config file (or an unreadable one) means the built-in defaults. */
  (void) g_key_file_load_from_file (conf, conf_path, G_KEY_FILE_NONE, NULL);
  store->conf_storage_opts = g_key_file_get_string_list (conf, "storage", "options", NULL, NULL);
  return load_default_driver (store, conf, conf_path, error);
}

BerthStore *
berth_store_open_reader (const char *root, const char *driver_override, GError **error)
{
  g_autoptr (BerthStore) store = store_new (root, driver_override, error);
  if (store == NULL || !read_config (store, error))
    return NULL;
  return g_steal_pointer (&store);
}

gboolean
berth_store_is_locked (BerthStore *store)
{
  return store->lock_fd >= 0;
}

BerthStore *
berth_store_open (const char *root, const char *driver_override, GError **error)
{
  g_autoptr (BerthStore) store = store_new (root, driver_override, error);
  if (store == NULL)
    return NULL;
  store->lock_fd = take_lock (store->root, error);
  if (store->lock_fd < 0 || !sweep_staging (store, error))
    return NULL;
  static const char *const swept[] = { "", "blobs/sha256", "images", "containers", "networks" };
  for (guint i = 0; i < G_N_ELEMENTS (swept); i++)
    {
      g_autofree char *dir = berth_store_path (store, swept[i], NULL);
      if (!berth_remove_stale_temps (dir, error))
        return NULL;
    }
  sweep_storage_temps (store);
  if (!read_config (store, error))
    return NULL;
  return g_steal_pointer (&store);
}

/* Set by a command before it makes or drops layers, blobs, images or
 * containers, and cleared when it lets go of the store: one found at open
 * was left by a command killed half-way, whose leftovers (a layer without
 * its marker, an image file without its tags, layers no image needs) only
 * garbage collection finds. */
#define CHANGE_MARK "changing"

gboolean
berth_store_begin_change (BerthStore *store, GError **error)
{
  if (store->changing)
    return TRUE;
  g_autofree char *path = berth_store_path (store, CHANGE_MARK, NULL);
  int fd = open (path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return berth_fail_errno (error, errno, "create %s", path);
  close (fd);
  store->changing = TRUE;
  return TRUE;
}

/* Only under the lock: another command may have set the mark since. */
static void
end_change (BerthStore *store)
{
  if (!store->changing || store->lock_fd < 0)
    return;
  g_autofree char *path = berth_store_path (store, CHANGE_MARK, NULL);
  if (unlink (path) < 0 && errno != ENOENT)
    g_printerr ("berth: warning: unlink %s: %s\n", path, g_strerror (errno));
  store->changing = FALSE;
}

void
berth_store_forget_change (BerthStore *store)
{
  store->changing = FALSE;
}

/* Holds a load killed while unpacking without the store lock left: the
 * layers it made are collected as a change mark's are. Only the lock's
 * holder drops them (a reader would leave them for it). */
static gboolean
stale_holds (BerthStore *store)
{
  g_autofree char *dir = berth_store_path (store, "holds", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  if (d == NULL || g_dir_read_name (d) == NULL)
    return FALSE;
  return store->lock_fd < 0 || berth_layer_holds_sweep_stale (store);
}

gboolean
berth_store_recover (BerthStore *store, GError **error)
{
  g_autofree char *path = berth_store_path (store, CHANGE_MARK, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS) && !stale_holds (store))
    return TRUE;
  /* A reader (berth_store_open_reader) recovers only when the lock is
   * free: a holder either recovered when it took the lock or is making
   * the change the mark is about. */
  if (store->lock_fd < 0)
    {
      store->lock_fd = try_lock (store->root);
      if (store->lock_fd < 0)
        return TRUE;
      gboolean ok = berth_store_recover (store, error);
      berth_store_unlock (store);
      return ok;
    }
  /* The mark goes even when collection fails (a busy mount): every later
   * command would otherwise retry it; the next rmi collects again. A
   * reader's handle was opened without the sweep of half-made layers. */
  sweep_storage_temps (store);
  gboolean collected = berth_store_collect_garbage (store, error);
  if (unlink (path) < 0 && errno != ENOENT && collected)
    return berth_fail_errno (error, errno, "unlink %s", path);
  return collected;
}

void
berth_store_unlock (BerthStore *store)
{
  end_change (store);
  if (store->lock_fd >= 0)
    close (store->lock_fd);
  store->lock_fd = -1;
}

gboolean
berth_store_lock (BerthStore *store, GError **error)
{
  if (store->lock_fd >= 0)
    return TRUE;
  store->lock_fd = take_lock (store->root, error);
  return store->lock_fd >= 0;
}

void
berth_store_close (BerthStore *store)
{
  if (store == NULL)
    return;
  end_change (store);
  if (store->drivers)
    g_hash_table_destroy (store->drivers);
  if (store->lock_fd >= 0)
    close (store->lock_fd);
  g_free (store->root);
  g_free (store->driver_override);
  g_strfreev (store->storage_opts);
  g_strfreev (store->conf_storage_opts);
  g_free (store->default_driver);
  g_free (store->default_rule);
  g_free (store);
}

const char *
berth_store_root (BerthStore *store)
{
  return store->root;
}

const char *
berth_store_default_driver (BerthStore *store, const char **rule)
{
  if (store->driver_override)
    {
      if (rule)
        *rule = "named with --storage-driver";
      return store->driver_override;
    }
  if (rule)
    *rule = store->default_rule;
  return store->default_driver;
}

/* What --storage-opt keys the drivers take, from the storage table:
 * "devicemapper takes dm.*; the others take none". */
static char *
options_taken (void)
{
  g_autoptr (GString) text = g_string_new (NULL);
  gboolean others = FALSE;
  for (const BerthStorageFamily *f = berth_storage_families; f->name; f++)
    if (f->option_prefix)
      g_string_append_printf (text, "%s%s takes %s*", text->len ? "; " : "", f->name,
                              f->option_prefix);
    else
      others = TRUE;
  if (others)
    g_string_append (text, text->len ? "; the others take none" : "no driver takes any");
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static gboolean
check_storage_option (const char *option, GError **error)
{
  const char *eq = strchr (option, '=');
  gboolean key_value = eq && eq != option;
  const BerthStorageFamily *f = berth_storage_family_for_option (option);
  if (key_value && f && f->ops)
    return TRUE;
  /* Told apart from a typo: an option for a driver this build left out. */
  if (key_value && f)
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "storage option '%s': the %s driver is %s",
                       option, f->name, f->not_built);
  g_autofree char *taken = options_taken ();
  if (!key_value)
    return berth_fail (error, BERTH_ERROR_INVALID, "storage option '%s' is not KEY=VALUE (%s)",
                       option, taken);
  return berth_fail (error, BERTH_ERROR_INVALID, "storage option '%s' is for no storage driver "
                     "(%s)", option, taken);
}

gboolean
berth_store_driver_used (BerthStore *store, const char *name)
{
  g_autofree char *home = berth_store_path (store, "storage", name, NULL);
  return g_file_test (home, G_FILE_TEST_IS_DIR);
}

GPtrArray *
berth_store_used_drivers (BerthStore *store)
{
  GPtrArray *used = g_ptr_array_new ();
  for (const BerthStorageOps *const *o = berth_storage_drivers (); *o; o++)
    {
      if (!berth_store_driver_used (store, (*o)->name))
        continue;
      /* One that cannot run here keeps its layers for a host where it can. */
      g_autoptr (GError) local = NULL;
      BerthStorage *s = berth_store_driver (store, (*o)->name, &local);
      if (s)
        g_ptr_array_add (used, s);
    }
  return used;
}

BerthStorage *
berth_store_driver (BerthStore *store, const char *name, GError **error)
{
  gboolean is_default = name == NULL;
  if (name == NULL)
    name = berth_store_default_driver (store, NULL);
  BerthStorage *s = g_hash_table_lookup (store->drivers, name);
  if (s)
    return s;
  g_autoptr (GError) local = NULL;
  g_autoptr (GStrvBuilder) mine = g_strv_builder_new ();
  for (char **o = store->storage_opts; o && *o; o++)
    {
      const BerthStorageFamily *f = berth_storage_family_for_option (*o);
      if (f && strcmp (f->name, name) == 0)
        g_strv_builder_add (mine, *o);
    }
  g_auto (GStrv) options = g_strv_builder_end (mine);
  s = berth_storage_open (store->root, name, options, &local);
  if (s == NULL)
    {
      if (is_default && !store->driver_override)
        g_set_error (error, BERTH_ERROR, local->code,
                     "%s (the store's default driver; pass --storage-driver to use another)",
                     local->message);
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  g_autofree char *marks = berth_store_path (store, "layers", name, NULL);
  if ((is_default && !record_default_driver (store, error)) || !berth_mkdir_p (marks, 0700, error))
    {
      berth_storage_close (s);
      return NULL;
    }
  sweep_driver (store, s);
  g_hash_table_insert (store->drivers, g_strdup (name), s);
  return s;
}

gboolean
berth_store_set_storage_options (BerthStore *store, char **options, GError **error)
{
  g_autoptr (GStrvBuilder) all = g_strv_builder_new ();
  if (options)
    g_strv_builder_addv (all, (const char **) options);
  if (store->conf_storage_opts)
    g_strv_builder_addv (all, (const char **) store->conf_storage_opts);
  g_auto (GStrv) merged = g_strv_builder_end (all);
  for (char **o = merged; *o; o++)
    if (!check_storage_option (*o, error))
      return FALSE;
  g_strfreev (store->storage_opts);
  store->storage_opts = g_steal_pointer (&merged);
  return TRUE;
}

char *
berth_store_mkdtemp (BerthStore *store, GError **error)
{
  /* Named after this process, so that a store opened meanwhile by another
   * command keeps it (sweep_staging). */
  pid_t self = getpid ();
  g_autofree char *name = g_strdup_printf ("%d-%" G_GUINT64_FORMAT "-XXXXXX", (int) self,
                                           berth_process_start_time (self));
  g_autofree char *path = berth_store_path (store, "tmp", name, NULL);
  if (g_mkdtemp_full (path, 0700) == NULL)
    {
      berth_fail_errno (error, errno, "mkdtemp %s", path);
      return NULL;
    }
  return g_steal_pointer (&path);
}
