/* A container's volumes, as Docker makes them: `-v NAME:/dst` mounts the
 * named volume (made when missing), `-v /dst` a new anonymous one, and a
 * volume still empty gets the image's content at /dst copied in first
 * (owner and mode too). `rm -v` and `run --rm` remove the anonymous
 * volumes no other container uses. */
#include "config.h"
#include "runtime-internal.h"
#include <berth/archive.h>
#include <berth/copy.h>
#include <berth/error.h>
#include <berth/json.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  BerthVolume *volume;
  char *destination;
} VolumeUse;

static void
volume_use_free (VolumeUse *u)
{
  berth_volume_free (u->volume);
  g_free (u->destination);
  g_free (u);
}

static gboolean
directory_is_empty (int dirfd)
{
  int fd = dup (dirfd);
  DIR *d = fd >= 0 ? fdopendir (fd) : NULL;
  if (d == NULL)
    {
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  struct dirent *e;
  gboolean empty = TRUE;
  while (empty && (e = readdir (d)))
    empty = strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0;
  closedir (d);
  return empty;
}

/* The image's /dst (inside @root_fd, symlinks kept inside) into @use's
 * volume when that is empty and /dst is a directory. */
static gboolean
copy_up (int root_fd, VolumeUse *use, GError **error)
{
  int src = berth_open_in_root (root_fd, use->destination + 1, O_RDONLY | O_DIRECTORY);
  if (src < 0)
    return errno == ENOENT || errno == ENOTDIR
           || berth_fail_errno (error, errno, "volume %s: the image's %s", use->volume->name,
                                use->destination);
  int dst = open (use->volume->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  gboolean ok = dst >= 0 || berth_fail_errno (error, errno, "open %s", use->volume->mountpoint);
  if (ok && directory_is_empty (dst))
    {
      ok = berth_copy_tree (src, dst, NULL, error);
      if (!ok)
        g_prefix_error (error, "volume %s: copying the image's %s: ", use->volume->name,
                        use->destination);
    }
  if (dst >= 0)
    close (dst);
  close (src);
  return ok;
}

static gboolean
copy_up_all (BerthStore *store, BerthContainer *c, GPtrArray *uses, GError **error)
{
  if (uses->len == 0)
    return TRUE;
  BerthStorage *storage = berth_store_driver (store, c->driver, error);
  g_autofree char *rootfs = storage ? berth_storage_get_transient (storage, c->id, error) : NULL;
  if (rootfs == NULL)
    return FALSE;
  int root_fd = open (rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  gboolean ok = root_fd >= 0 || berth_fail_errno (error, errno, "open %s", rootfs);
  for (guint i = 0; ok && i < uses->len; i++)
    ok = copy_up (root_fd, uses->pdata[i], error);
  if (root_fd >= 0)
    close (root_fd);
  if (!berth_storage_put_transient (storage, c->id, ok ? error : NULL))
    ok = FALSE;
  return ok;
}

/* "NAME:/dst[:mode]" or "/dst": the volume it names (made when missing,
 * noted in @made) and the -v entry with its host path instead. */
static char *
resolve_one (BerthStore *store, const char *spec, GPtrArray *uses, GPtrArray *made,
             GError **error)
{
  g_auto (GStrv) parts = g_strsplit (spec, ":", 3);
  guint n = g_strv_length (parts);
  gboolean anonymous = n == 1;
  if (!anonymous && (n < 2 || g_path_is_absolute (parts[0])))
    return g_strdup (spec);   /* a bind mount: spec.c checks it */
  if (anonymous && !g_path_is_absolute (parts[0]))
    return berth_fail (error, BERTH_ERROR_INVALID, "volume '%s': a container path alone must "
                       "be absolute (an anonymous volume)", spec), NULL;
  gboolean created = FALSE;
  BerthVolume *v = berth_volume_ensure (store, anonymous ? NULL : parts[0], &created, error);
  if (v == NULL)
    return g_prefix_error (error, "volume '%s': ", spec), NULL;
  if (created)
    g_ptr_array_add (made, g_strdup (v->name));
  VolumeUse *use = g_new0 (VolumeUse, 1);
  use->volume = v;
  use->destination = g_strdup (anonymous ? parts[0] : parts[1]);
  g_ptr_array_add (uses, use);
  return g_strconcat (v->mountpoint, ":", use->destination, n == 3 ? ":" : "",
                      n == 3 ? parts[2] : "", NULL);
}

char **
berth_container_resolve_volumes (BerthStore *store, BerthContainer *c, char **volumes,
                                 GPtrArray *made, GError **error)
{
  g_autoptr (GStrvBuilder) out = g_strv_builder_new ();
  g_autoptr (GPtrArray) uses = g_ptr_array_new_with_free_func ((GDestroyNotify) volume_use_free);
  for (char **s = volumes; s && *s; s++)
    {
      g_autofree char *resolved = resolve_one (store, *s, uses, made, error);
      if (resolved == NULL)
        return NULL;
      g_strv_builder_add (out, resolved);
    }
  /* A destination cleaned later by spec.c would still name the same
   * directory here: copy-up goes through openat2 inside the image. */
  for (guint i = 0; i < uses->len; i++)
    {
      VolumeUse *u = uses->pdata[i];
      if (u->destination[0] != '/' || strstr (u->destination, ".."))
        return berth_fail (error, BERTH_ERROR_INVALID, "volume %s: container path '%s' must be "
                           "absolute, without '..'", u->volume->name, u->destination),
               NULL;
    }
  if (!copy_up_all (store, c, uses, error))
    return NULL;
  return g_strv_builder_end (out);
}

void
berth_container_drop_volumes (BerthStore *store, GPtrArray *names)
{
  for (guint i = 0; names && i < names->len; i++)
    berth_volume_remove (store, names->pdata[i], NULL);
}

GPtrArray *
berth_container_anonymous_volumes (BerthStore *store, BerthContainer *c)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *path = berth_container_dir (store, c, "config.json");
  g_autoptr (JsonNode) node = berth_json_read (path, NULL);
  JsonObject *spec = node ? berth_json_node_object (node) : NULL;
  JsonArray *mounts = spec ? berth_json_array (spec, "mounts") : NULL;
  g_autofree char *dir = berth_store_path (store, "volumes", NULL);
  g_autofree char *prefix = g_strconcat (dir, "/", NULL);
  for (guint i = 0; mounts && i < json_array_get_length (mounts); i++)
    {
      JsonObject *m = berth_json_array_object (mounts, i);
      const char *source = m ? berth_json_string (m, "source", NULL) : NULL;
      if (source == NULL || !g_str_has_prefix (source, prefix) || !g_str_has_suffix (source, "/_data"))
        continue;
      g_autofree char *name = g_strndup (source + strlen (prefix),
                                         strlen (source) - strlen (prefix) - strlen ("/_data"));
      g_autoptr (BerthVolume) v = berth_volume_lookup (store, name, NULL);
      if (v && v->anonymous)
        g_ptr_array_add (names, g_steal_pointer (&name));
    }
  return names;
}

/* The container path of a -v entry ("SRC:DST[:MODE]" or "DST"). */
static char *
volume_destination (const char *spec)
{
  g_auto (GStrv) parts = g_strsplit (spec, ":", 3);
  return g_strdup (parts[0] && parts[1] ? parts[1] : parts[0]);
}

static gboolean
mount_has_option (JsonObject *m, const char *option)
{
  g_auto (GStrv) options = berth_json_strv (m, "options");
  return options && g_strv_contains ((const char *const *) options, option);
}

/* @c's volumes and binds as -v entries into @out, skipping @taken's
 * destinations (and adding theirs). */
static void
inherit_mounts (BerthStore *store, BerthContainer *c, const char *mode, GHashTable *taken,
                GStrvBuilder *out)
{
  g_autofree char *path = berth_container_dir (store, c, "config.json");
  g_autoptr (JsonNode) node = berth_json_read (path, NULL);
  JsonArray *mounts = node ? berth_json_array (berth_json_node_object (node), "mounts") : NULL;
  g_autofree char *own = berth_container_dir (store, c, NULL);
  for (guint i = 0; mounts && i < json_array_get_length (mounts); i++)
    {
      JsonObject *m = berth_json_array_object (mounts, i);
      const char *source = m ? berth_json_string (m, "source", NULL) : NULL;
      const char *destination = m ? berth_json_string (m, "destination", NULL) : NULL;
      if (source == NULL || destination == NULL
          || g_strcmp0 (berth_json_string (m, "type", NULL), "bind") != 0
          || g_str_has_prefix (source, own) || g_hash_table_contains (taken, destination))
        continue;
      const char *how = mode ? mode : mount_has_option (m, "ro") ? "ro" : "rw";
      g_autofree char *entry = g_strdup_printf ("%s:%s:%s", source, destination, how);
      g_strv_builder_add (out, entry);
      g_hash_table_add (taken, g_strdup (destination));
    }
}

char **
berth_container_volumes_from (BerthStore *store, char **volumes, char **from, GError **error)
{
  g_autoptr (GStrvBuilder) out = g_strv_builder_new ();
  g_autoptr (GHashTable) taken = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (char **v = volumes; v && *v; v++)
    {
      g_strv_builder_add (out, *v);
      g_hash_table_add (taken, volume_destination (*v));
    }
  for (char **f = from; f && *f; f++)
    {
      const char *colon = strrchr (*f, ':');
      const char *mode = colon ? colon + 1 : NULL;
      if (mode && strcmp (mode, "ro") != 0 && strcmp (mode, "rw") != 0)
        return berth_fail (error, BERTH_ERROR_INVALID, "--volumes-from '%s': the mode after "
                           "':' is ro or rw", *f), NULL;
      g_autofree char *name = colon ? g_strndup (*f, colon - *f) : g_strdup (*f);
      g_autoptr (GError) local = NULL;
      g_autoptr (BerthContainer) c = berth_container_lookup (store, name, &local);
      if (c == NULL)
        return berth_fail (error, BERTH_ERROR_NOT_FOUND, "--volumes-from '%s': %s", *f,
                           local->message), NULL;
      inherit_mounts (store, c, mode, taken, out);
    }
  return g_strv_builder_end (out);
}
