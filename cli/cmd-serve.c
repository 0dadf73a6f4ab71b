/* berth serve: Docker's Engine API on a unix socket. The server is its own
 * program, berth-serve (api/), so that the berth command does not load an
 * HTTP stack on every start; this runs it on the same store. */
#include "config.h"
#include "cli.h"
#include <berth/error.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SERVE_PROGRAM "berth-serve"

/* Beside this berth (a build tree, or the same bindir), else where make
 * install put it. */
static char *
serve_program (void)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *dir = self ? g_path_get_dirname (self) : NULL;
  char *beside = dir ? g_build_filename (dir, SERVE_PROGRAM, NULL) : NULL;
  if (beside && access (beside, X_OK) == 0)
    return beside;
  g_free (beside);
  return g_build_filename (BERTH_BIN_DIR, SERVE_PROGRAM, NULL);
}

int
berth_cmd_serve (BerthCli *cli, int argc, char **argv)
{
  g_autofree char *host = NULL;
  const GOptionEntry entries[] = {
    { "host", 'H', 0, G_OPTION_ARG_STRING, &host, "The socket to serve the Engine API on "
      "(default unix:///run/berth.sock); DOCKER_HOST=unix://PATH points clients at it",
      "unix://PATH" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 1)
    return berth_cli_usage ("serve takes no operands");
  g_autofree char *program = serve_program ();
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  g_ptr_array_add (args, program);
  g_ptr_array_add (args, (char *) "--root");
  g_ptr_array_add (args, (char *) cli->root);
  if (cli->driver)
    {
      g_ptr_array_add (args, (char *) "--storage-driver");
      g_ptr_array_add (args, (char *) cli->driver);
    }
  if (self)
    {
      g_ptr_array_add (args, (char *) "--berth");
      g_ptr_array_add (args, self);
    }
  if (host)
    {
      g_ptr_array_add (args, (char *) "--host");
      g_ptr_array_add (args, host);
    }
  g_ptr_array_add (args, NULL);
  fflush (NULL);
  execv (program, (char **) args->pdata);
  int errsv = errno;
  g_autoptr (GError) error = NULL;
  berth_fail_errno (&error, errsv, "run %s (%s)", program,
                    errsv == ENOENT ? "berth was built without libsoup-3.0: install "
                    "libsoup-3.0-dev and rebuild" : "berth serve's server");
  return berth_cli_fail (error);
}
