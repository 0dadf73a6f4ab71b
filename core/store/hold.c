/* Layer holds: how a load or import unpacks image layers into a storage
 * driver without the store lock, beside other commands.
 *
 * <root>/holds/<driver>.<chain> is flocked by the one command making or
 * reusing that layer until it has the store lock again for its commit. A
 * second unpacker of the same layer waits for it and then finds the layer
 * made; garbage collection and berth_layer_ensure, which run under the
 * store lock and so must never wait on a hold, only try it and leave a held
 * layer alone. A hold file is unlinked before it is unlocked: a waiter that
 * then gets the lock finds its file gone and takes a fresh one. One left by
 * a killed command is unlocked: the next command that opens the store
 * collects what that command made (berth_store_recover).
 *
 * The holds directory itself is flocked shared by every unpacker and
 * exclusively by the sweeps of half-made layers (".tmp-" names, overlay's
 * links to nothing), which an unpack in progress also has. */
#include "config.h"
#include "store-internal.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
  char *path;
  int fd;
} Hold;

struct BerthLayerHolds {
  int dir_fd; /* the holds directory, flocked shared */
  GPtrArray *held; /* Hold */
};

static void
hold_release (Hold *h)
{
  unlink (h->path); /* before the unlock: see the top of the file */
  close (h->fd);
  g_free (h->path);
  g_free (h);
}

BerthLayerHolds *
berth_layer_holds_new (BerthStore *store, GError **error)
{
  g_autofree char *dir = berth_store_path (store, "holds", NULL);
  if (!berth_mkdir_p (dir, 0700, error))
    return NULL;
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", dir), NULL;
  /* Sweeps run under the store lock, which the caller holds: no wait. */
  if (flock (fd, LOCK_SH) < 0)
    {
      berth_fail_errno (error, errno, "lock %s", dir);
      close (fd);
      return NULL;
    }
  BerthLayerHolds *holds = g_new0 (BerthLayerHolds, 1);
  holds->dir_fd = fd;
  holds->held = g_ptr_array_new_with_free_func ((GDestroyNotify) hold_release);
  return holds;
}

void
berth_layer_holds_free (BerthLayerHolds *holds)
{
  if (holds == NULL)
    return;
  g_ptr_array_unref (holds->held);
  close (holds->dir_fd);
  g_free (holds);
}

static char *
hold_path (BerthStore *store, BerthStorage *storage, const char *chain)
{
  g_autofree char *name = g_strdup_printf ("%s.%s", storage->ops->name, chain);
  return berth_store_path (store, "holds", name, NULL);
}

/* Open and lock @path; -1 with errno EWOULDBLOCK when another holds it and
 * @wait is FALSE. A file unlinked by its last holder while this one waited
 * is not the hold any more: take the new one. */
static int
lock_hold_file (const char *path, gboolean wait, GError **error)
{
  for (;;)
    {
      int fd = open (path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0)
        return berth_fail_errno (error, errno, "open %s", path), -1;
      if (flock (fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0)
        {
          int errsv = errno;
          close (fd);
          if (errsv != EWOULDBLOCK)
            berth_fail_errno (error, errsv, "lock %s", path);
          errno = errsv;
          return -1;
        }
      struct stat mine, now;
      if (fstat (fd, &mine) == 0 && stat (path, &now) == 0 && mine.st_ino == now.st_ino
          && mine.st_dev == now.st_dev)
        return fd;
      close (fd);
    }
}

gboolean
berth_layer_holds_take (BerthLayerHolds *holds, BerthStore *store, BerthStorage *storage,
                        GPtrArray *chains, GError **error)
{
  /* One order for every unpacker, so two never wait on each other. */
  g_autoptr (GPtrArray) sorted = g_ptr_array_sized_new (chains->len);
  for (guint i = 0; i < chains->len; i++)
    g_ptr_array_add (sorted, chains->pdata[i]);
  g_ptr_array_sort (sorted, berth_compare_string_slots);
  for (guint i = 0; i < sorted->len; i++)
    {
      if (i > 0 && strcmp (sorted->pdata[i], sorted->pdata[i - 1]) == 0)
        continue;
      g_autofree char *path = hold_path (store, storage, sorted->pdata[i]);
      int fd = lock_hold_file (path, TRUE, error);
      if (fd < 0)
        return FALSE;
      Hold *h = g_new0 (Hold, 1);
      h->path = g_steal_pointer (&path);
      h->fd = fd;
      g_ptr_array_add (holds->held, h);
    }
  return TRUE;
}

/* Under the store lock, never waiting: TRUE when another command holds
 * @chain. A hold a killed command left is removed on the way. */
gboolean
berth_layer_is_held (BerthStore *store, BerthStorage *storage, const char *chain)
{
  g_autofree char *path = hold_path (store, storage, chain);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return FALSE;
  int fd = lock_hold_file (path, FALSE, NULL);
  if (fd < 0)
    return errno == EWOULDBLOCK;
  unlink (path);
  close (fd);
  return FALSE;
}

/* Unlocked hold files: commands killed while unpacking. Removed; TRUE when
 * there were any, so that what those commands made gets collected. */
gboolean
berth_layer_holds_sweep_stale (BerthStore *store)
{
  g_autofree char *dir = berth_store_path (store, "holds", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  gboolean found = FALSE;
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      int fd = lock_hold_file (path, FALSE, NULL);
      if (fd < 0)
        continue;
      unlink (path);
      close (fd);
      found = TRUE;
    }
  return found;
}

gboolean
berth_layer_holds_lock_for_sweep (BerthStore *store, int *fd)
{
  g_autofree char *dir = berth_store_path (store, "holds", NULL);
  *fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (*fd < 0)
    return TRUE; /* no holds directory: no load has ever unpacked here */
  if (flock (*fd, LOCK_EX | LOCK_NB) == 0)
    return TRUE;
  close (*fd);
  *fd = -1;
  return FALSE;
}
