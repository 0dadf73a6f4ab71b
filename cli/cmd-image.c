#include "config.h"
#include "cli.h"
#include <berth/error.h>
#include <berth/spec.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

/* --max-layer-size and --max-archive-size: a size with k/m/g, above 0;
 * absent: 0, the default. */
static gboolean
parse_limit (const char *text, const char *flag, gint64 *bytes, GError **error)
{
  *bytes = 0;
  if (text == NULL)
    return TRUE;
  if (!berth_parse_size (text, flag, bytes, error))
    return FALSE;
  if (*bytes <= 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "%s '%s': must be more than 0", flag, text);
  return TRUE;
}

#define LIMIT_HELP_DEFAULT "(default: 100 times the input's size, at least 1 GiB; 16 GiB from a pipe)"

int
berth_cmd_import (BerthCli *cli, int argc, char **argv)
{
  g_autofree char *driver = NULL;
  g_autofree char *max_layer = NULL;
  const GOptionEntry entries[] = {
    { "storage-driver", 's', 0, G_OPTION_ARG_STRING, &driver, "Unpack into this driver", "NAME" },
    { "max-layer-size", 0, 0, G_OPTION_ARG_STRING, &max_layer,
      "Refuse a tarball that decompresses to more " LIMIT_HELP_DEFAULT, "SIZE" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "TARBALL|- NAME[:TAG]", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 3)
    return berth_cli_usage ("import needs a tarball (or -) and a NAME[:TAG]");
  g_autoptr (GError) error = NULL;
  BerthImportLimits limits = { 0 };
  if (!parse_limit (max_layer, "--max-layer-size", &limits.max_layer_size, &error))
    return berth_cli_fail (error);
  OPEN_STORE_OR_FAIL (store, cli, error);
  g_autofree char *id = berth_image_import (store, argv[1], argv[2], driver, &limits,
                                            berth_cli_progress, "import", &error);
  if (id == NULL)
    return berth_cli_fail (error);
  berth_cli_progress_done ("import");
  printf ("sha256:%s\n", id);
  return 0;
}

int
berth_cmd_load (BerthCli *cli, int argc, char **argv)
{
  g_autofree char *input = NULL;
  g_autofree char *driver = NULL;
  g_autofree char *max_layer = NULL, *max_archive = NULL;
  const GOptionEntry entries[] = {
    { "input", 'i', 0, G_OPTION_ARG_FILENAME, &input, "Read from this tar (default stdin)", "FILE" },
    { "storage-driver", 's', 0, G_OPTION_ARG_STRING, &driver, "Unpack into this driver", "NAME" },
    { "max-archive-size", 0, 0, G_OPTION_ARG_STRING, &max_archive,
      "Refuse an archive that unpacks to more " LIMIT_HELP_DEFAULT, "SIZE" },
    { "max-layer-size", 0, 0, G_OPTION_ARG_STRING, &max_layer,
      "Refuse a layer that decompresses to more (default: 100 times its compressed size, at least 1 GiB)",
      "SIZE" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 1)
    return berth_cli_usage ("load takes no operands; use -i FILE");
  g_autoptr (GError) error = NULL;
  BerthImportLimits limits = { 0 };
  if (!parse_limit (max_layer, "--max-layer-size", &limits.max_layer_size, &error)
      || !parse_limit (max_archive, "--max-archive-size", &limits.max_archive_size, &error))
    return berth_cli_fail (error);
  OPEN_STORE_OR_FAIL (store, cli, error);
  g_autoptr (GPtrArray) loaded = berth_image_load (store, input ? input : "-", driver, &limits,
                                                   berth_cli_progress, "load", &error);
  if (loaded == NULL)
    return berth_cli_fail (error);
  berth_cli_progress_done ("load");
  for (guint i = 0; i < loaded->len; i++)
    printf ("Loaded image: %s\n", (char *) loaded->pdata[i]);
  return 0;
}

int
berth_cmd_save (BerthCli *cli, int argc, char **argv)
{
  g_autofree char *output = NULL;
  const GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Write to this file (default stdout)", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "IMAGE...", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc < 2)
    return berth_cli_usage ("save needs at least one image");
  g_autoptr (GError) error = NULL;
  OPEN_STORE_OR_FAIL (store, cli, error);
  if (!berth_image_save (store, argv + 1, output ? output : "-", &error))
    return berth_cli_fail (error);
  return 0;
}

int
berth_cmd_bootstrap (BerthCli *cli, int argc, char **argv)
{
  g_autofree char *tag = NULL;
  g_autofree char *driver = NULL;
  const GOptionEntry entries[] = {
    { "tag", 't', 0, G_OPTION_ARG_STRING, &tag, "Name the image (default busybox:latest / debian:bookworm)", "NAME[:TAG]" },
    { "storage-driver", 's', 0, G_OPTION_ARG_STRING, &driver, "Unpack into this driver", "NAME" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "busybox|debian", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 2)
    return berth_cli_usage ("bootstrap needs busybox or debian");
  g_autoptr (GError) error = NULL;
  OPEN_STORE_OR_FAIL (store, cli, error);
  g_autofree char *id = berth_image_bootstrap (store, argv[1], tag, driver, &error);
  if (id == NULL)
    return berth_cli_fail (error);
  printf ("sha256:%s\n", id);
  return 0;
}

static void
print_size (gint64 bytes)
{
  g_autofree char *s = g_format_size (bytes);
  printf ("%s", s);
}

/* The digest of @repo's manifest of this image, from @repo_digests
 * ("REPO@sha256:..."), or "<none>". */
static const char *
digest_for (char **repo_digests, const char *repo)
{
  gsize n = strlen (repo);
  for (char **d = repo_digests; d && *d; d++)
    if (strncmp (*d, repo, n) == 0 && (*d)[n] == '@')
      return *d + n + 1;
  return "<none>";
}

/* One row of images as --format's templates see it: Docker's Repository,
 * Tag, Digest, ID, CreatedAt, CreatedSince and Size, and berth's Layers. */
static JsonNode *
image_row (BerthStore *store, BerthImage *image, const char *repo, const char *tag,
           const char *digest)
{
  g_autoptr (JsonObject) o = json_object_new ();
  g_autofree char *short_id = g_strndup (image->id, 12);
  g_autofree char *size = g_format_size (berth_image_size (store, image));
  JsonObject *config = berth_json_node_object (image->config);
  const char *created = berth_json_string (config, "created", "");
  g_autofree char *since = berth_cli_time_ago (created);
  const char *pairs[][2] = {
    { "Repository", repo }, { "Tag", tag }, { "Digest", digest }, { "ID", short_id },
    { "CreatedAt", created }, { "CreatedSince", since }, { "Size", size },
  };
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    json_object_set_string_member (o, pairs[i][0], pairs[i][1]);
  json_object_set_int_member (o, "Layers", g_strv_length (image->diff_ids));
  return json_node_init_object (json_node_alloc (), o);
}

int
berth_cmd_images (BerthCli *cli, int argc, char **argv)
{
  gboolean quiet = FALSE, digests = FALSE, all = FALSE;
  g_autofree char *format = NULL;
  const GOptionEntry entries[] = {
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Only show image ids", NULL },
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all, "Docker's: with intermediate images (berth "
      "makes none, so every image is listed either way)", NULL },
    { "digests", 0, 0, G_OPTION_ARG_NONE, &digests,
      "Show the manifest digest a registry has of each (pulled or pushed)", NULL },
    { "format", 0, 0, G_OPTION_ARG_STRING, &format, "A template a line: {{.Repository}}:{{.Tag}} "
      "{{.ID}} {{.Size}}...", "TEMPLATE" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "", FALSE))
    return BERTH_EXIT_USAGE;
  g_autoptr (GError) error = NULL;
  if (format && !berth_template_check (format, &error))
    return berth_cli_usage ("%s", error->message);
  g_autoptr (BerthStore) store = berth_cli_open_reader (cli, &error);
  if (store == NULL)
    return berth_cli_fail (error);
  g_autoptr (GPtrArray) images = berth_image_list (store, &error);
  if (images == NULL)
    return berth_cli_fail (error);
  if (!quiet && !format)
    printf ("%-30s %-12s %s%-14s %-16s %-7s %s\n", "REPOSITORY", "TAG",
            digests ? "DIGEST                                                                    " : "",
            "IMAGE ID", "CREATED", "LAYERS", "SIZE");
  for (guint i = 0; i < images->len; i++)
    {
      BerthImage *image = images->pdata[i];
      if (quiet)
        {
          printf ("%.12s\n", image->id);
          continue;
        }
      g_auto (GStrv) repo_digests = berth_origin_repo_digests (store, image->id);
      guint ntags = MAX (image->tags->len, 1);
      for (guint t = 0; t < ntags; t++)
        {
          g_autofree char *repo = g_strdup (t < image->tags->len ? image->tags->pdata[t] : "<none>:<none>");
          char *colon = strrchr (repo, ':');
          *colon = '\0';
          /* Pulled by digest, untagged: the repository the digest names. */
          if (image->tags->len == 0 && repo_digests[0])
            {
              g_free (repo);
              repo = g_strndup (repo_digests[0], strcspn (repo_digests[0], "@"));
              colon = NULL;
            }
          const char *tag = colon ? colon + 1 : "<none>";
          const char *digest = digest_for (repo_digests, repo);
          if (format)
            {
              g_autoptr (JsonNode) row = image_row (store, image, repo, tag, digest);
              g_autoptr (GString) line = g_string_new (NULL);
              if (!berth_template_render (format, row, line, &error))
                return berth_cli_fail (error);
              printf ("%s\n", line->str);
              continue;
            }
          printf ("%-30s %-12s ", repo, tag);
          if (digests)
            printf ("%-73s ", digest);
          g_autofree char *since = berth_cli_time_ago (
              berth_json_string (berth_json_node_object (image->config), "created", ""));
          printf ("%-14.12s %-16s %-7u ", image->id, since, g_strv_length (image->diff_ids));
          print_size (berth_image_size (store, image));
          printf ("\n");
        }
    }
  return 0;
}

int
berth_cmd_rmi (BerthCli *cli, int argc, char **argv)
{
  gboolean force = FALSE;
  const GOptionEntry entries[] = {
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Untag even if a container uses the image", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "IMAGE...", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc < 2)
    return berth_cli_usage ("rmi needs at least one image");
  g_autoptr (GError) error = NULL;
  OPEN_STORE_OR_FAIL (store, cli, error);
  int rc = 0;
  for (int i = 1; i < argc; i++)
    {
      g_autoptr (GError) local = NULL;
      if (!berth_image_remove (store, argv[i], force, &local))
        rc = berth_cli_fail (local);
      else
        printf ("Deleted: %s\n", argv[i]);
    }
  return rc;
}

int
berth_cmd_tag (BerthCli *cli, int argc, char **argv)
{
  if (!berth_cli_parse (&argc, &argv, NULL, "IMAGE NAME[:TAG]", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 3)
    return berth_cli_usage ("tag needs an image and a NAME[:TAG]");
  g_autoptr (GError) error = NULL;
  OPEN_STORE_OR_FAIL (store, cli, error);
  g_autoptr (BerthImage) image = berth_image_lookup (store, argv[1], &error);
  if (image == NULL || !berth_tag_set (store, argv[2], image->id, &error))
    return berth_cli_fail (error);
  return 0;
}

int
berth_cmd_history (BerthCli *cli, int argc, char **argv)
{
  if (!berth_cli_parse (&argc, &argv, NULL, "IMAGE", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 2)
    return berth_cli_usage ("history needs an image");
  g_autoptr (GError) error = NULL;
  OPEN_STORE_OR_FAIL (store, cli, error);
  g_autoptr (BerthImage) image = berth_image_lookup (store, argv[1], &error);
  if (image == NULL)
    return berth_cli_fail (error);
  JsonObject *cfg = json_node_get_object (image->config);
  JsonArray *hist = json_object_has_member (cfg, "history") ? json_object_get_array_member (cfg, "history") : NULL;
  printf ("%-22s %-9s %-12s %s\n", "CREATED", "LAYER", "SIZE", "CREATED BY");
  guint layer = 0;
  for (guint i = 0; hist && i < json_array_get_length (hist); i++)
    {
      JsonObject *h = json_array_get_object_element (hist, i);
      gboolean empty = json_object_get_boolean_member_with_default (h, "empty_layer", FALSE);
      const char *diff = !empty && image->diff_ids[layer] ? image->diff_ids[layer++] + 7 : NULL;
      g_autofree char *size = NULL;
      if (diff)
        {
          g_autofree char *path = berth_blob_path (store, diff);
          GStatBuf st;
          size = g_format_size (g_stat (path, &st) == 0 ? st.st_size : 0);
        }
      printf ("%-22.19s %-9.8s %-12s %s\n", json_object_get_string_member_with_default (h, "created", ""),
              diff ? diff : "-", size ? size : "0 B",
              json_object_get_string_member_with_default (h, "created_by", ""));
    }
  return 0;
}

/* `berth image SUBCOMMAND`: docker's grouped spelling of the same commands. */
int
berth_cmd_image (BerthCli *cli, int argc, char **argv)
{
  static const BerthSubcommand subs[] = {
    { "import", berth_cmd_import, "Import a rootfs tarball as a one-layer image" },
    { "load", berth_cmd_load, "Load images from a docker-save or OCI layout tar" },
    { "pull", berth_cmd_pull, "Pull an image from a registry" },
    { "push", berth_cmd_push, "Push an image to a registry" },
    { "save", berth_cmd_save, "Save images to a docker-save tar" },
    { "bootstrap", berth_cmd_bootstrap, "Build a base image (busybox, debian) on this host" },
    { "ls", berth_cmd_images, "List images" }, { "list", berth_cmd_images, NULL },
    { "rm", berth_cmd_rmi, "Remove images" },
    { "tag", berth_cmd_tag, "Give an image another name" },
    { "history", berth_cmd_history, "Show an image's layers" },
    { "prune", berth_cmd_image_prune, "Remove untagged images no container uses (-a: every one)" },
  };
  return berth_cli_dispatch (cli, "image", subs, G_N_ELEMENTS (subs), argc, argv);
}
