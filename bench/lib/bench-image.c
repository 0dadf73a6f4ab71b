/* The images `berth bench` loads: generated in memory with libarchive into
 * one docker-save tar, so every backend unpacks the same bytes through the
 * same `berth load` path a user's image takes.
 *
 * Layer contents come from a seeded PRNG: the same settings give the same
 * image on every run and host, and the data does not compress (a backend
 * that compresses gains nothing it would not gain on real data). */
#include "config.h"
#include <berth/bench.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/json.h>
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOISE_SIZE (1024 * 1024)

typedef struct {
  const char *dir;    /* where layer tars are staged */
  guchar *noise;      /* NOISE_SIZE pseudo-random bytes, sliced for content */
  GPtrArray *layers;  /* staged layer files: "<hex>.tar" names in dir */
  GPtrArray *images;  /* JsonObject manifest entries */
  GHashTable *configs; /* "<hex>.json" -> config text */
} ImageSet;

static gboolean
archive_fail (GError **error, struct archive *a, const char *what)
{
  const char *msg = archive_error_string (a);
  return berth_fail (error, BERTH_ERROR_FAILED, "%s: %s", what, msg ? msg : "libarchive error");
}

/* One regular file of @size bytes, its content sliced from the noise at an
 * offset of its own. */
static gboolean
add_file (struct archive *a, ImageSet *set, const char *name, gsize size, guint salt,
          GError **error)
{
  struct archive_entry *e = archive_entry_new ();
  archive_entry_set_pathname (e, name);
  archive_entry_set_filetype (e, AE_IFREG);
  archive_entry_set_perm (e, 0644);
  archive_entry_set_size (e, size);
  archive_entry_set_mtime (e, 1700000000, 0);
  gboolean ok = archive_write_header (a, e) == ARCHIVE_OK;
  archive_entry_free (e);
  if (!ok)
    return archive_fail (error, a, name);
  gsize offset = (salt * 7919u) % NOISE_SIZE;
  while (size > 0)
    {
      gsize n = MIN (size, (gsize) NOISE_SIZE - offset);
      if (archive_write_data (a, set->noise + offset, n) != (la_ssize_t) n)
        return archive_fail (error, a, name);
      size -= n;
      offset = 0;
    }
  return TRUE;
}

static gboolean
add_dir (struct archive *a, const char *name, GError **error)
{
  struct archive_entry *e = archive_entry_new ();
  archive_entry_set_pathname (e, name);
  archive_entry_set_filetype (e, AE_IFDIR);
  archive_entry_set_perm (e, 0755);
  archive_entry_set_mtime (e, 1700000000, 0);
  gboolean ok = archive_write_header (a, e) == ARCHIVE_OK;
  archive_entry_free (e);
  return ok ? TRUE : archive_fail (error, a, name);
}

typedef gboolean (*LayerFill) (struct archive *a, ImageSet *set, gconstpointer spec, GError **error);

/* Writes one layer tar through @fill, names it by its digest and returns
 * the diff id "sha256:<hex>". */
static char *
stage_layer (ImageSet *set, LayerFill fill, gconstpointer spec, GError **error)
{
  g_autofree char *tmp = g_build_filename (set->dir, "layer.tmp", NULL);
  int fd = open (tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return berth_fail_errno (error, errno, "create %s", tmp), NULL;
  struct archive *a = archive_write_new ();
  gboolean ok = a && archive_write_set_format_pax_restricted (a) == ARCHIVE_OK
                && archive_write_open_fd (a, fd) == ARCHIVE_OK;
  if (!ok)
    archive_fail (error, a, tmp);
  ok = ok && fill (a, set, spec, error);
  if (ok && archive_write_close (a) != ARCHIVE_OK)
    ok = archive_fail (error, a, tmp);
  archive_write_free (a);
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  guchar buf[65536];
  ssize_t n = 0;
  if (ok && lseek (fd, 0, SEEK_SET) < 0)
    ok = berth_fail_errno (error, errno, "seek %s", tmp);
  while (ok && (n = read (fd, buf, sizeof buf)) > 0)
    g_checksum_update (sum, buf, n);
  if (ok && n < 0)
    ok = berth_fail_errno (error, errno, "read %s", tmp);
  close (fd);
  if (!ok)
    return NULL;
  const char *hex = g_checksum_get_string (sum);
  g_autofree char *name = g_strdup_printf ("%s.tar", hex);
  g_autofree char *path = g_build_filename (set->dir, name, NULL);
  if (rename (tmp, path) < 0)
    return berth_fail_errno (error, errno, "rename %s", tmp), NULL;
  if (!g_ptr_array_find_with_equal_func (set->layers, name, g_str_equal, NULL))
    g_ptr_array_add (set->layers, g_steal_pointer (&name));
  return g_strdup_printf ("sha256:%s", hex);
}

/* An image of @diff_ids tagged @tag: its config and its manifest entry. */
static void
add_image (ImageSet *set, const char *tag, char **diff_ids)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "architecture");
  json_builder_add_string_value (b, "amd64");
  json_builder_set_member_name (b, "os");
  json_builder_add_string_value (b, "linux");
  json_builder_set_member_name (b, "config");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "Cmd");
  json_builder_begin_array (b);
  json_builder_add_string_value (b, "/bin/sh");
  json_builder_end_array (b);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "rootfs");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "layers");
  json_builder_set_member_name (b, "diff_ids");
  json_builder_add_value (b, berth_json_strv_node (diff_ids));
  json_builder_end_object (b);
  json_builder_end_object (b);
  g_autoptr (JsonNode) config = json_builder_get_root (b);
  gsize len = 0;
  char *text = berth_json_to_string (config, &len);
  g_autofree char *hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) text, len);
  char *config_name = g_strdup_printf ("%s.json", hex);
  g_hash_table_replace (set->configs, config_name, text);

  JsonObject *entry = json_object_new ();
  json_object_set_string_member (entry, "Config", config_name);
  JsonArray *tags = json_array_new ();
  json_array_add_string_element (tags, tag);
  json_object_set_array_member (entry, "RepoTags", tags);
  JsonArray *layers = json_array_new ();
  for (char **d = diff_ids; *d; d++)
    {
      g_autofree char *file = g_strdup_printf ("%s.tar", *d + strlen ("sha256:"));
      json_array_add_string_element (layers, file);
    }
  json_object_set_array_member (entry, "Layers", layers);
  g_ptr_array_add (set->images, entry);
}

/* ---- the workload image ---- */

typedef struct {
  guint index, small_files, large_files;
  gsize large_size;
} WorkloadLayer;

/* Small files of 1 to 8 KiB spread over directories of 100, as a package
 * tree is; the large files only in the base layer. */
static gboolean
fill_workload (struct archive *a, ImageSet *set, gconstpointer data, GError **error)
{
  const WorkloadLayer *l = data;
  g_autofree char *top = g_strdup_printf ("l%u", l->index);
  if (!add_dir (a, top, error))
    return FALSE;
  for (guint i = 0; i < l->small_files; i++)
    {
      if (i % 100 == 0)
        {
          g_autofree char *dir = g_strdup_printf ("l%u/d%u", l->index, i / 100);
          if (!add_dir (a, dir, error))
            return FALSE;
        }
      g_autofree char *name = g_strdup_printf ("l%u/d%u/f%u", l->index, i / 100, i);
      if (!add_file (a, set, name, 1024 * (1 + (i * 2654435761u) % 8), l->index * 100003 + i, error))
        return FALSE;
    }
  if (l->large_files && !add_dir (a, "big", error))
    return FALSE;
  for (guint i = 0; i < l->large_files; i++)
    {
      g_autofree char *name = g_strdup_printf ("big/large-%u", i);
      if (!add_file (a, set, name, l->large_size, 77 + i, error))
        return FALSE;
    }
  return TRUE;
}

/* ---- the growth images ---- */

static gboolean
fill_tiny (struct archive *a, ImageSet *set, gconstpointer data, GError **error)
{
  g_autofree char *name = g_strdup_printf ("layer-%03u", GPOINTER_TO_UINT (data));
  return add_file (a, set, name, 4096, GPOINTER_TO_UINT (data), error);
}

static gboolean
fill_sized (struct archive *a, ImageSet *set, gconstpointer data, GError **error)
{
  guint mib = GPOINTER_TO_UINT (data);
  if (!add_dir (a, "data", error))
    return FALSE;
  for (guint i = 0; i < mib * 4; i++)
    {
      g_autofree char *name = g_strdup_printf ("data/chunk-%05u", i);
      if (!add_file (a, set, name, 256 * 1024, 5000 + i, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
add_workload (ImageSet *set, const BerthBenchOptions *o, GError **error)
{
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < o->layers; i++)
    {
      WorkloadLayer l = {
        .index = i,
        .small_files = o->files / o->layers + (i < o->files % o->layers),
        .large_files = i == 0 ? BERTH_BENCH_LARGE_FILES : 0,
        .large_size = o->large_file_size,
      };
      char *id = stage_layer (set, fill_workload, &l, error);
      if (id == NULL)
        return FALSE;
      g_ptr_array_add (ids, id);
    }
  g_ptr_array_add (ids, NULL);
  add_image (set, BERTH_BENCH_IMAGE, (char **) ids->pdata);
  return TRUE;
}

static gboolean
add_growth (ImageSet *set, GError **error)
{
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);
  for (guint n = 1; n <= BERTH_BENCH_MAX_LAYERS; n++)
    {
      char *id = stage_layer (set, fill_tiny, GUINT_TO_POINTER (n), error);
      if (id == NULL)
        return FALSE;
      g_ptr_array_add (ids, id);
      if ((n & (n - 1)) == 0) /* 1, 2, 4 ... 128 */
        {
          g_ptr_array_add (ids, NULL);
          g_autofree char *tag = g_strdup_printf ("%s:%u", BERTH_BENCH_LAYERS_REPO, n);
          add_image (set, tag, (char **) ids->pdata);
          g_ptr_array_remove_index (ids, ids->len - 1);
        }
    }
  for (const guint *mib = berth_bench_image_sizes; *mib; mib++)
    {
      g_autofree char *id = stage_layer (set, fill_sized, GUINT_TO_POINTER (*mib), error);
      if (id == NULL)
        return FALSE;
      char *one[] = { id, NULL };
      g_autofree char *tag = g_strdup_printf ("%s:%u", BERTH_BENCH_SIZE_REPO, *mib);
      add_image (set, tag, one);
    }
  return TRUE;
}

/* ---- the docker-save tar ---- */

static gboolean
add_staged (struct archive *a, const char *dir, const char *name, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  int fd = open (path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", path);
  struct stat st;
  if (fstat (fd, &st) < 0)
    {
      int errsv = errno;
      close (fd);
      return berth_fail_errno (error, errsv, "stat %s", path);
    }
  struct archive_entry *e = archive_entry_new ();
  archive_entry_set_pathname (e, name);
  archive_entry_set_filetype (e, AE_IFREG);
  archive_entry_set_perm (e, 0644);
  archive_entry_set_size (e, st.st_size);
  gboolean ok = archive_write_header (a, e) == ARCHIVE_OK;
  archive_entry_free (e);
  if (!ok)
    ok = archive_fail (error, a, name);
  char buf[65536];
  ssize_t n = 0;
  while (ok && (n = read (fd, buf, sizeof buf)) > 0)
    if (archive_write_data (a, buf, n) != n)
      ok = archive_fail (error, a, name);
  if (ok && n < 0)
    ok = berth_fail_errno (error, errno, "read %s", path);
  close (fd);
  unlink (path);
  return ok;
}

static gboolean
add_memory (struct archive *a, const char *name, const char *text, GError **error)
{
  gsize len = strlen (text);
  struct archive_entry *e = archive_entry_new ();
  archive_entry_set_pathname (e, name);
  archive_entry_set_filetype (e, AE_IFREG);
  archive_entry_set_perm (e, 0644);
  archive_entry_set_size (e, len);
  gboolean ok = archive_write_header (a, e) == ARCHIVE_OK
                && archive_write_data (a, text, len) == (la_ssize_t) len;
  archive_entry_free (e);
  return ok ? TRUE : archive_fail (error, a, name);
}

static gboolean
write_save_tar (ImageSet *set, const char *out_path, GError **error)
{
  int fd = open (out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return berth_fail_errno (error, errno, "create %s", out_path);
  struct archive *a = archive_write_new ();
  gboolean ok = a && archive_write_set_format_pax_restricted (a) == ARCHIVE_OK
                && archive_write_open_fd (a, fd) == ARCHIVE_OK;
  if (!ok)
    archive_fail (error, a, out_path);
  for (guint i = 0; ok && i < set->layers->len; i++)
    ok = add_staged (a, set->dir, set->layers->pdata[i], error);
  GHashTableIter it;
  gpointer name, text;
  g_hash_table_iter_init (&it, set->configs);
  while (ok && g_hash_table_iter_next (&it, &name, &text))
    ok = add_memory (a, name, text, error);
  JsonArray *manifest = json_array_new ();
  for (guint i = 0; i < set->images->len; i++)
    json_array_add_object_element (manifest, json_object_ref (set->images->pdata[i]));
  g_autoptr (JsonNode) node = json_node_init_array (json_node_alloc (), manifest);
  json_array_unref (manifest);
  g_autofree char *manifest_text = berth_json_to_string (node, NULL);
  ok = ok && add_memory (a, "manifest.json", manifest_text, error);
  if (ok && archive_write_close (a) != ARCHIVE_OK)
    ok = archive_fail (error, a, out_path);
  archive_write_free (a);
  if (fsync (fd) < 0 && ok)
    ok = berth_fail_errno (error, errno, "fsync %s", out_path);
  close (fd);
  return ok;
}

gboolean
berth_bench_make_images (const BerthBenchOptions *o, const char *work_dir, const char *out_path,
                         gboolean workload, GError **error)
{
  g_autofree guchar *noise = g_malloc (NOISE_SIZE);
  g_autoptr (GRand) rand = g_rand_new_with_seed (0xbe47);
  for (gsize i = 0; i < NOISE_SIZE; i += 4)
    {
      guint32 r = g_rand_int (rand);
      memcpy (noise + i, &r, 4);
    }
  ImageSet set = {
    .dir = work_dir,
    .noise = noise,
    .layers = g_ptr_array_new_with_free_func (g_free),
    .images = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref),
    .configs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free),
  };
  gboolean ok = (workload ? add_workload (&set, o, error) : add_growth (&set, error))
                && write_save_tar (&set, out_path, error);
  g_ptr_array_unref (set.layers);
  g_ptr_array_unref (set.images);
  g_hash_table_unref (set.configs);
  return ok;
}
