/* The storage-driver registry and the wrappers the core calls. Reference
 * counts for get/put live in <home>/refs/<id> so that separate berth
 * processes (`berth mount` then `berth umount`) share them; the store lock
 * held by every berth command serialises their updates. Holds taken for
 * one command's length are recorded with their process, so that a command
 * killed while holding a layer does not pin it for good. */
#include "config.h"
#include <berth/storage.h>
#include <berth/family.h>
#include <berth/archive.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/names.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

void
berth_change_free (BerthChange *change)
{
  if (change == NULL)
    return;
  g_free (change->path);
  g_free (change);
}

void
berth_changes_add (GPtrArray *changes, BerthChangeKind kind, const char *path)
{
  BerthChange *ch = g_new0 (BerthChange, 1);
  ch->kind = kind;
  ch->path = path[0] == '/' ? g_strdup (path) : g_strconcat ("/", path, NULL);
  g_ptr_array_add (changes, ch);
}

gboolean
berth_storage_probe (const char *store_root, const char *name, GError **error)
{
  const BerthStorageFamily *f = berth_storage_family_lookup (name);
  if (f == NULL)
    {
      g_autofree char *known = berth_storage_family_names ();
      return berth_fail (error, BERTH_ERROR_NOT_FOUND, "berth has no such driver (it knows %s)",
                         known);
    }
  if (f->ops == NULL)
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "%s", f->not_built);
  g_autofree char *home = g_build_filename (store_root, "storage", name, NULL);
  return f->ops->probe (home, error);
}

BerthStorage *
berth_storage_open (const char *store_root, const char *name, char **options, GError **error)
{
  if (!berth_storage_probe (store_root, name, error))
    {
      g_prefix_error (error, "storage driver %s: ", name);
      return NULL;
    }
  const BerthStorageOps *ops = berth_storage_driver_lookup (name);
  g_autofree char *home = g_build_filename (store_root, "storage", name, NULL);
  g_autofree char *refs = g_build_filename (home, "refs", NULL);
  if (!berth_mkdir_p (refs, 0700, error))
    return NULL;
  g_autoptr (BerthStorage) s = g_new0 (BerthStorage, 1);
  g_autofree char *boot = NULL;
  if (!g_file_get_contents ("/proc/sys/kernel/random/boot_id", &boot, NULL, error))
    return NULL;
  g_strlcpy (s->boot_id, g_strstrip (boot), sizeof s->boot_id);
  s->ops = ops;
  s->home = g_steal_pointer (&home);
  s->priv = ops->init (s->home, options, error);
  if (s->priv == NULL)
    {
      s->ops = NULL; /* init failed: nothing for cleanup to undo */
      return NULL;
    }
  return g_steal_pointer (&s);
}

void
berth_storage_close (BerthStorage *storage)
{
  if (storage == NULL)
    return;
  if (storage->ops && storage->ops->cleanup)
    storage->ops->cleanup (storage);
  g_free (storage->home);
  g_free (storage);
}

static char *
ref_path (BerthStorage *s, const char *id)
{
  return g_build_filename (s->home, "refs", id, NULL);
}

/* A layer's holds: @count anonymous ones that outlive the process taking
 * them (`berth mount`, a started container), and @holders, the processes
 * holding it for the length of one command, each named by pid and start
 * time so that a reused pid is not mistaken for the holder. */
typedef struct {
  guint count;
  GArray *holders; /* of RefHolder */
  gboolean pruned; /* holders that died without releasing were dropped */
} Refs;

typedef struct {
  gint64 pid;
  guint64 start;
} RefHolder;

static void
refs_clear (Refs *r)
{
  g_clear_pointer (&r->holders, g_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Refs, refs_clear)

static guint
refs_total (const Refs *r)
{
  return r->count + r->holders->len;
}

static gboolean
holder_alive (const RefHolder *h)
{
  return h->pid > 0 && h->pid <= G_MAXINT && berth_process_start_time ((pid_t) h->pid) == h->start;
}

/* The holder lines after the first, "<pid> <start time>", @n of them: what
 * follows is what a longer earlier record left past the end of this one. */
static void
refs_parse_holders (Refs *r, char **lines, guint n)
{
  for (guint i = 0; i < n && lines[i]; i++)
    {
      RefHolder h = { 0 };
      if (sscanf (lines[i], "%" G_GINT64_FORMAT " %" G_GUINT64_FORMAT, &h.pid, &h.start) != 2)
        break;
      if (holder_alive (&h))
        g_array_append_val (r->holders, h);
      else
        r->pruned = TRUE;
    }
}

/* "<boot id> <count> <holders>" then one line per holder: mounts do not
 * survive a reboot, so neither do counts from another boot. A missing or
 * unreadable record is no holds. */
static void
refs_read (BerthStorage *s, const char *id, Refs *r)
{
  *r = (Refs) { .holders = g_array_new (FALSE, FALSE, sizeof (RefHolder)) };
  g_autofree char *path = ref_path (s, id);
  g_autofree char *text = NULL;
  if (!g_file_get_contents (path, &text, NULL, NULL))
    return;
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  char boot[sizeof s->boot_id] = "";
  guint count = 0, holders = 0;
  /* Empty: killed between making the file and writing it. */
  if (lines[0] == NULL || sscanf (lines[0], "%39s %u %u", boot, &count, &holders) < 2 ||
      strcmp (boot, s->boot_id) != 0)
    return;
  r->count = count;
  refs_parse_holders (r, lines + 1, holders);
}

/* Records are rewritten in place: no inode is made or freed on the mount
 * path, and no fsync, since mounts do not outlive a reboot either. The
 * holder count in the first line makes a kill between the write and the
 * truncation harmless. The store lock keeps readers and writers apart. */
static gboolean
refs_write (BerthStorage *s, const char *id, const Refs *r, GError **error)
{
  g_autofree char *path = ref_path (s, id);
  g_autoptr (GString) text = g_string_new (NULL);
  g_string_printf (text, "%s %10u %10u\n", s->boot_id, r->count, r->holders->len);
  for (guint i = 0; i < r->holders->len; i++)
    {
      const RefHolder *h = &g_array_index (r->holders, RefHolder, i);
      g_string_append_printf (text, "%" G_GINT64_FORMAT " %" G_GUINT64_FORMAT "\n", h->pid,
                              h->start);
    }
  int fd = open (path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", path);
  ssize_t n = pwrite (fd, text->str, text->len, 0);
  int errsv = errno;
  if (n == (ssize_t) text->len && ftruncate (fd, text->len) < 0)
    n = -1, errsv = errno;
  close (fd);
  if (n != (ssize_t) text->len)
    return berth_fail_errno (error, n < 0 ? errsv : EIO, "write %s", path);
  return TRUE;
}

static gboolean
self_holder (RefHolder *h, GError **error)
{
  h->pid = getpid ();
  h->start = berth_process_start_time (getpid ());
  if (h->start == 0)
    return berth_fail (error, BERTH_ERROR_FAILED,
                       "cannot read this process's start time from /proc/self/stat");
  return TRUE;
}

/* Add a hold: a transient one names this process. */
static gboolean
refs_hold (Refs *r, gboolean transient, GError **error)
{
  if (!transient)
    return r->count++, TRUE;
  RefHolder self;
  if (!self_holder (&self, error))
    return FALSE;
  g_array_append_val (r->holders, self);
  return TRUE;
}

/* Drop one hold; FALSE when there is none of that kind to drop. */
static gboolean
refs_drop (Refs *r, gboolean transient)
{
  if (!transient)
    return r->count > 0 ? (r->count--, TRUE) : FALSE;
  RefHolder self;
  if (!self_holder (&self, NULL))
    return FALSE;
  for (guint i = r->holders->len; i-- > 0;)
    {
      const RefHolder *h = &g_array_index (r->holders, RefHolder, i);
      if (h->pid == self.pid && h->start == self.start)
        return g_array_remove_index (r->holders, i), TRUE;
    }
  return FALSE;
}

static gboolean
forget_refcount (BerthStorage *s, const char *id, GError **error)
{
  g_autofree char *path = ref_path (s, id);
  if (unlink (path) < 0 && errno != ENOENT)
    return berth_fail_errno (error, errno, "unlink %s", path);
  return TRUE;
}

guint
berth_storage_refcount (BerthStorage *s, const char *id)
{
  g_auto (Refs) r;
  refs_read (s, id, &r);
  return refs_total (&r);
}

gboolean
berth_storage_create (BerthStorage *s, const char *id, const char *parent, gboolean writable,
                      GError **error)
{
  if (s->ops->exists (s, id))
    return berth_fail (error, BERTH_ERROR_EXISTS, "layer %s already exists in %s", id,
                       s->ops->name);
  if (parent && !s->ops->exists (s, parent))
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "parent layer %s is not in %s", parent,
                       s->ops->name);
  return s->ops->create (s, id, parent, writable, error);
}

/* A holder that died may have left the view mounted, so any record of
 * holds, live or dead, means releasing the view first. */
gboolean
berth_storage_remove (BerthStorage *s, const char *id, GError **error)
{
  if (!s->ops->exists (s, id))
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "layer %s is not in %s", id, s->ops->name);
  g_auto (Refs) r;
  refs_read (s, id, &r);
  if ((refs_total (&r) > 0 || r.pruned) && !s->ops->put (s, id, error))
    return FALSE;
  return forget_refcount (s, id, error) && s->ops->remove (s, id, error);
}

static gboolean storage_put (BerthStorage *s, const char *id, gboolean transient,
                             GError **error);

/* The hold is recorded before the view is made: a kill in between leaves
 * a hold (a dead holder, for a transient one) and no mount, which the
 * driver's put tolerates; the other order could leave a mount no record
 * names. */
static char *
storage_get (BerthStorage *s, const char *id, gboolean transient, GError **error)
{
  if (!s->ops->exists (s, id))
    {
      berth_fail (error, BERTH_ERROR_NOT_FOUND, "layer %s is not in %s", id, s->ops->name);
      return NULL;
    }
  g_auto (Refs) r;
  refs_read (s, id, &r);
  if (!refs_hold (&r, transient, error) || !refs_write (s, id, &r, error))
    return NULL;
  char *path = s->ops->get (s, id, error);
  if (path == NULL)
    storage_put (s, id, transient, NULL);
  return path;
}

static gboolean
storage_put (BerthStorage *s, const char *id, gboolean transient, GError **error)
{
  g_auto (Refs) r;
  refs_read (s, id, &r);
  if (!refs_drop (&r, transient))
    return berth_fail (error, BERTH_ERROR_INVALID, "layer %s is not mounted%s", id,
                       transient ? " by this process" : "");
  if (refs_total (&r) == 0 && !s->ops->put (s, id, error))
    return FALSE;
  return refs_write (s, id, &r, error);
}

char *
berth_storage_get (BerthStorage *s, const char *id, GError **error)
{
  return storage_get (s, id, FALSE, error);
}

gboolean
berth_storage_put (BerthStorage *s, const char *id, GError **error)
{
  return storage_put (s, id, FALSE, error);
}

char *
berth_storage_get_transient (BerthStorage *s, const char *id, GError **error)
{
  return storage_get (s, id, TRUE, error);
}

gboolean
berth_storage_put_transient (BerthStorage *s, const char *id, GError **error)
{
  return storage_put (s, id, TRUE, error);
}

gboolean
berth_storage_keep (BerthStorage *s, const char *id, GError **error)
{
  g_auto (Refs) r;
  refs_read (s, id, &r);
  if (!refs_drop (&r, TRUE))
    return berth_fail (error, BERTH_ERROR_INVALID, "layer %s is not mounted by this process", id);
  r.count++;
  return refs_write (s, id, &r, error);
}

gboolean
berth_storage_exists (BerthStorage *s, const char *id)
{
  return s->ops->exists (s, id);
}

GPtrArray *
berth_storage_list (BerthStorage *s, GError **error)
{
  if (s->ops->list == NULL)
    return g_ptr_array_new_with_free_func (g_free);
  return s->ops->list (s, error);
}

GPtrArray *
berth_storage_list_dir (BerthStorage *s, const char *dir, const char *suffix, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GDir) d = g_dir_open (dir, 0, &local);
  if (d == NULL)
    {
      berth_fail (error, BERTH_ERROR_FAILED, "list %s layers: %s", s->ops->name, local->message);
      return NULL;
    }
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  const char *name;
  while ((name = g_dir_read_name (d)))
    {
      if (!g_str_has_suffix (name, suffix))
        continue;
      g_autofree char *id = g_strndup (name, strlen (name) - strlen (suffix));
      if (berth_is_hex_id (id) && s->ops->exists (s, id))
        g_ptr_array_add (ids, g_steal_pointer (&id));
    }
  return g_steal_pointer (&ids);
}

GPtrArray *
berth_storage_status (BerthStorage *s)
{
  GPtrArray *pairs = g_ptr_array_new_with_free_func (g_free);
  if (s->ops->status)
    s->ops->status (s, pairs);
  return pairs;
}

/* The generic diff path: mount both layers, compare the trees, release. */
typedef struct {
  char *layer_dir;
  char *parent_dir;
} MountedPair;

static gboolean
mount_pair (BerthStorage *s, const char *id, const char *parent, MountedPair *m, GError **error)
{
  m->layer_dir = berth_storage_get_transient (s, id, error);
  if (m->layer_dir == NULL)
    return FALSE;
  if (parent == NULL)
    return TRUE;
  m->parent_dir = berth_storage_get_transient (s, parent, error);
  if (m->parent_dir == NULL)
    {
      berth_storage_put_transient (s, id, NULL);
      g_clear_pointer (&m->layer_dir, g_free);
      return FALSE;
    }
  return TRUE;
}

static gboolean
release_pair (BerthStorage *s, const char *id, const char *parent, MountedPair *m,
              GError **error)
{
  gboolean ok = berth_storage_put_transient (s, id, error);
  if (parent && !berth_storage_put_transient (s, parent, ok ? error : NULL))
    ok = FALSE;
  g_clear_pointer (&m->layer_dir, g_free);
  g_clear_pointer (&m->parent_dir, g_free);
  return ok;
}

gboolean
berth_storage_diff (BerthStorage *s, const char *id, const char *parent, int out_fd,
                    GError **error)
{
  if (s->ops->diff)
    return s->ops->diff (s, id, parent, out_fd, error);
  MountedPair m = { 0 };
  if (!mount_pair (s, id, parent, &m, error))
    return FALSE;
  gboolean ok = berth_naive_diff (m.layer_dir, m.parent_dir, out_fd, error);
  return release_pair (s, id, parent, &m, ok ? error : NULL) && ok;
}

GPtrArray *
berth_storage_changes (BerthStorage *s, const char *id, const char *parent, GError **error)
{
  if (s->ops->changes)
    return s->ops->changes (s, id, parent, error);
  MountedPair m = { 0 };
  if (!mount_pair (s, id, parent, &m, error))
    return NULL;
  g_autoptr (GPtrArray) changes = berth_naive_changes (m.layer_dir, m.parent_dir, error);
  if (!release_pair (s, id, parent, &m, changes ? error : NULL))
    return NULL;
  return g_steal_pointer (&changes);
}

gint64
berth_storage_diff_size (BerthStorage *s, const char *id, const char *parent, GError **error)
{
  if (s->ops->diff_size)
    return s->ops->diff_size (s, id, parent, error);
  MountedPair m = { 0 };
  if (!mount_pair (s, id, parent, &m, error))
    return -1;
  gint64 size = berth_naive_diff_size (m.layer_dir, m.parent_dir, error);
  if (!release_pair (s, id, parent, &m, size >= 0 ? error : NULL))
    return -1;
  return size;
}

gboolean
berth_storage_sweep (BerthStorage *s, GError **error)
{
  return s->ops->sweep == NULL || s->ops->sweep (s, error);
}

gint64
berth_storage_apply_diff (BerthStorage *s, const char *id, const char *parent, int in_fd,
                          GError **error)
{
  if (s->ops->apply_diff)
    return s->ops->apply_diff (s, id, parent, in_fd, error);
  g_autofree char *dir = berth_storage_get_transient (s, id, error);
  if (dir == NULL)
    return -1;
  gint64 size = -1;
  int root_fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0)
    berth_fail_errno (error, errno, "open %s", dir);
  else
    {
      /* a base layer starts empty, as overlay's diff does: nothing to stage */
      size = parent ? berth_archive_apply_layer (root_fd, in_fd, error)
                    : berth_archive_extract (root_fd, in_fd, &berth_whiteout_delete_ops, error);
      close (root_fd);
    }
  if (!berth_storage_put_transient (s, id, size >= 0 ? error : NULL))
    return -1;
  return size;
}
