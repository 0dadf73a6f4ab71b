/* berth cp: docker cp's operands and flags over berth_container_copy. */
#include "config.h"
#include "cli.h"
#include <berth/error.h>
#include <string.h>

/* "CONTAINER:PATH" as docker cp reads it: a colon before any "/" (so a host
 * path with a colon is written ./a:b). The container part, or NULL. */
static char *
split_container (const char *operand, const char **path)
{
  const char *colon = strchr (operand, ':');
  const char *slash = strchr (operand, '/');
  if (colon == NULL || colon == operand || (slash && slash < colon))
    return NULL;
  *path = colon + 1;
  return g_strndup (operand, colon - operand);
}

int
berth_cmd_cp (BerthCli *cli, int argc, char **argv)
{
  BerthCopyOptions options = { 0 };
  const GOptionEntry entries[] = {
    { "archive", 'a', 0, G_OPTION_ARG_NONE, &options.archive,
      "Keep the owners (uid/gid) of what is copied in", NULL },
    { "follow-link", 'L', 0, G_OPTION_ARG_NONE, &options.follow_link,
      "Copy what a source symlink points to, not the link", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "CONTAINER:SRC DEST|-  or  SRC|- CONTAINER:DEST",
                        FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 3)
    return berth_cli_usage ("cp needs a source and a destination");
  const char *src_path = argv[1], *dst_path = argv[2];
  g_autofree char *from = split_container (argv[1], &src_path);
  g_autofree char *to = split_container (argv[2], &dst_path);
  if (from && to)
    return berth_cli_usage ("cp copies between a container and the host, not between "
                            "two containers");
  if (from == NULL && to == NULL)
    return berth_cli_usage ("cp needs a container on one side: CONTAINER:PATH");
  if ((from && src_path[0] == '\0') || (to && dst_path[0] == '\0'))
    return berth_cli_usage ("cp: the path inside the container is empty");
  g_autoptr (BerthContainer) c = NULL;
  g_autoptr (BerthStore) store = berth_cli_open_with_container (cli, from ? from : to, &c);
  if (store == NULL)
    return BERTH_EXIT_FAILED;
  g_autoptr (GError) error = NULL;
  if (!berth_container_copy (store, c, src_path, dst_path, to != NULL, &options, &error))
    return berth_cli_fail (error);
  return 0;
}
