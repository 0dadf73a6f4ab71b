/* berth pull, push, login, logout: core/distribution/ does the work. */
#include "config.h"
#include "cli.h"
#include <berth/distribution.h>
#include <berth/error.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The options every registry command takes, as podman spells them. */
typedef struct {
  char *authfile;
  char *cert_dir;
  char *creds;
  char *tls_verify;
  char *platform;
  gboolean quiet;
  char *user_part;
  BerthRegistryOptions options;
} RegistryArgs;

static void
registry_args_clear (RegistryArgs *a)
{
  g_free (a->authfile);
  g_free (a->cert_dir);
  g_free (a->creds);
  g_free (a->tls_verify);
  g_free (a->platform);
  g_free (a->user_part);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RegistryArgs, registry_args_clear)

#define REGISTRY_OPTION_ENTRIES(a)                                                                \
  { "authfile", 0, 0, G_OPTION_ARG_FILENAME, &(a).authfile,                                       \
    "Credentials file (default: $REGISTRY_AUTH_FILE, else ~/.docker/config.json)", "FILE" },      \
  { "cert-dir", 0, 0, G_OPTION_ARG_FILENAME, &(a).cert_dir,                                       \
    "CA certificates (*.crt) for this registry", "DIR" },                                         \
  { "tls-verify", 0, 0, G_OPTION_ARG_STRING, &(a).tls_verify,                                     \
    "Check the registry's certificate (default: unless listed insecure)", "true|false" }

static gboolean
finish_args (RegistryArgs *a, GError **error)
{
  BerthRegistryOptions *o = &a->options;
  o->auth_file = a->authfile;
  o->certs_dir = a->cert_dir;
  o->platform = a->platform;
  o->quiet = a->quiet;
  o->tls_verify = -1;
  if (a->tls_verify)
    {
      if (strcmp (a->tls_verify, "true") == 0)
        o->tls_verify = 1;
      else if (strcmp (a->tls_verify, "false") == 0)
        o->tls_verify = 0;
      else
        return berth_fail (error, BERTH_ERROR_INVALID, "--tls-verify takes true or false, not '%s'",
                           a->tls_verify);
    }
  if (a->creds)
    {
      char *colon = strchr (a->creds, ':');
      if (colon == NULL)
        return berth_fail (error, BERTH_ERROR_INVALID, "--creds takes USER:PASSWORD");
      a->user_part = g_strndup (a->creds, colon - a->creds);
      o->username = a->user_part;
      o->password = colon + 1;
    }
  if (a->platform && strchr (a->platform, '/') == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "--platform takes OS/ARCH[/VARIANT], not '%s'",
                       a->platform);
  return TRUE;
}

/* --- progress: on a terminal, a line a layer redrawn in place (bytes,
 * total, rate); otherwise a line a layer as it completes --- */

typedef struct {
  char *digest;
  guint64 bytes, total;
  gint64 first_byte;   /* monotonic time of its first report */
  gboolean done;
} LayerLine;

typedef struct {
  GMutex lock;
  gboolean tty;
  gboolean quiet;
  GPtrArray *lines;    /* LayerLine, in the order they first reported */
  guint drawn;         /* how many lines the last redraw printed */
  gint64 last_draw;
} Progress;

static void
layer_line_free (LayerLine *l)
{
  g_free (l->digest);
  g_free (l);
}

static void
progress_init (Progress *p, gboolean quiet)
{
  g_mutex_init (&p->lock);
  p->tty = isatty (STDERR_FILENO);
  p->quiet = quiet;
  p->lines = g_ptr_array_new_with_free_func ((GDestroyNotify) layer_line_free);
  p->drawn = 0;
  p->last_draw = 0;
}

static LayerLine *
line_for (Progress *p, const char *digest)
{
  for (guint i = 0; i < p->lines->len; i++)
    {
      LayerLine *l = p->lines->pdata[i];
      if (strcmp (l->digest, digest) == 0)
        return l;
    }
  LayerLine *l = g_new0 (LayerLine, 1);
  l->digest = g_strdup (digest);
  l->first_byte = g_get_monotonic_time ();
  g_ptr_array_add (p->lines, l);
  return l;
}

/* Move up over the last redraw and print every line again. */
static void
draw (Progress *p)
{
  if (p->drawn > 0)
    fprintf (stderr, "\033[%uA", p->drawn);
  gint64 now = g_get_monotonic_time ();
  for (guint i = 0; i < p->lines->len; i++)
    {
      LayerLine *l = p->lines->pdata[i];
      double secs = MAX (0.001, (now - l->first_byte) / 1e6);
      if (l->done)
        fprintf (stderr, "\033[2K%.12s: done, %.1f MB\n", l->digest + 7, l->total / 1e6);
      else
        fprintf (stderr, "\033[2K%.12s: %.1f/%.1f MB  %.1f MB/s\n", l->digest + 7,
                 l->bytes / 1e6, l->total / 1e6, l->bytes / 1e6 / secs);
    }
  p->drawn = p->lines->len;
}

static void
on_layer (const char *digest, guint64 bytes, guint64 total, gboolean done, gpointer data)
{
  Progress *p = data;
  if (p->quiet)
    return;
  g_mutex_lock (&p->lock);
  LayerLine *l = line_for (p, digest);
  l->bytes = bytes;
  l->total = total;
  l->done = done;
  gint64 now = g_get_monotonic_time ();
  if (done && !p->tty)
    fprintf (stderr, "%.12s: done, %.1f MB\n", digest + 7, total / 1e6);
  else if (p->tty && (done || now - p->last_draw > 100000))
    {
      p->last_draw = now;
      draw (p);
    }
  g_mutex_unlock (&p->lock);
}

/* The last redraw, on a terminal; the lines go. */
static void
progress_finish (Progress *p)
{
  if (p->tty && !p->quiet && p->lines->len > 0)
    draw (p);
  g_ptr_array_unref (p->lines);
  g_mutex_clear (&p->lock);
}

int
berth_cmd_pull (BerthCli *cli, int argc, char **argv)
{
  g_auto (RegistryArgs) a = { 0 };
  g_autofree char *driver = NULL;
  const GOptionEntry entries[] = {
    REGISTRY_OPTION_ENTRIES (a),
    { "creds", 0, 0, G_OPTION_ARG_STRING, &a.creds, "Credentials to use instead of the file's",
      "USER:PASSWORD" },
    { "platform", 0, 0, G_OPTION_ARG_STRING, &a.platform,
      "Pull this platform's image from a list (default: this host's)", "OS/ARCH[/VARIANT]" },
    { "storage-driver", 's', 0, G_OPTION_ARG_STRING, &driver, "Unpack into this driver", "NAME" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &a.quiet, "Print only the image id", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "NAME[:TAG|@DIGEST]", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 2)
    return berth_cli_usage ("pull takes one image reference");
  g_autoptr (GError) error = NULL;
  if (!finish_args (&a, &error))
    return berth_cli_fail (error);
  OPEN_STORE_OR_FAIL (store, cli, error);
  Progress progress;
  progress_init (&progress, a.quiet);
  g_autofree char *digest = NULL;
  g_autofree char *id = berth_pull (store, argv[1], driver, &a.options, on_layer, &progress,
                                    &digest, &error);
  progress_finish (&progress);
  if (id == NULL)
    return berth_cli_fail (error);
  if (a.quiet)
    printf ("sha256:%s\n", id);
  else
    printf ("Digest: %s\nImage: sha256:%s\n", digest, id);
  return 0;
}

int
berth_cmd_push (BerthCli *cli, int argc, char **argv)
{
  g_auto (RegistryArgs) a = { 0 };
  const GOptionEntry entries[] = {
    REGISTRY_OPTION_ENTRIES (a),
    { "creds", 0, 0, G_OPTION_ARG_STRING, &a.creds, "Credentials to use instead of the file's",
      "USER:PASSWORD" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &a.quiet, "Print only the manifest digest", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "IMAGE [DESTINATION]", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 2 && argc != 3)
    return berth_cli_usage ("push takes an image and, optionally, where to push it");
  g_autoptr (GError) error = NULL;
  if (!finish_args (&a, &error))
    return berth_cli_fail (error);
  OPEN_STORE_OR_FAIL (store, cli, error);
  Progress progress;
  progress_init (&progress, a.quiet);
  g_autofree char *digest = berth_push (store, argv[1], argc == 3 ? argv[2] : NULL, &a.options,
                                        on_layer, &progress, &error);
  progress_finish (&progress);
  if (digest == NULL)
    return berth_cli_fail (error);
  printf (a.quiet ? "%s\n" : "Digest: %s\n", digest);
  return 0;
}

/* The password from stdin (--password-stdin): one line, newline dropped. */
static char *
read_password_stdin (GError **error)
{
  g_autoptr (GString) line = g_string_new (NULL);
  int c;
  while ((c = getchar ()) != EOF && c != '\n')
    {
      if (line->len > 4096)
        return berth_fail (error, BERTH_ERROR_INVALID, "--password-stdin: longer than 4096 bytes"),
               NULL;
      g_string_append_c (line, c);
    }
  if (line->len > 0 && line->str[line->len - 1] == '\r')
    g_string_truncate (line, line->len - 1);
  return g_string_free (g_steal_pointer (&line), FALSE);
}

int
berth_cmd_login (BerthCli *cli, int argc, char **argv)
{
  (void) cli;
  g_auto (RegistryArgs) a = { 0 };
  g_autofree char *username = NULL, *password = NULL;
  gboolean password_stdin = FALSE;
  const GOptionEntry entries[] = {
    REGISTRY_OPTION_ENTRIES (a),
    { "username", 'u', 0, G_OPTION_ARG_STRING, &username, "User name", "NAME" },
    { "password", 'p', 0, G_OPTION_ARG_STRING, &password,
      "Password (visible to other users in ps: prefer --password-stdin)", "PASSWORD" },
    { "password-stdin", 0, 0, G_OPTION_ARG_NONE, &password_stdin, "Read the password from stdin",
      NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "REGISTRY", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 2)
    return berth_cli_usage ("login takes one registry (HOST[:PORT], or docker.io)");
  if (password && password_stdin)
    return berth_cli_usage ("--password and --password-stdin exclude each other");
  if (username == NULL)
    return berth_cli_usage ("login needs --username (berth does not prompt)");
  g_autoptr (GError) error = NULL;
  if (!finish_args (&a, &error))
    return berth_cli_fail (error);
  if (password_stdin && (password = read_password_stdin (&error)) == NULL)
    return berth_cli_fail (error);
  if (password == NULL)
    return berth_cli_usage ("login needs --password-stdin or --password");
  g_autofree char *path = berth_login (argv[1], username, password, &a.options, &error);
  if (path == NULL)
    return berth_cli_fail (error);
  printf ("Login Succeeded (credentials in %s)\n", path);
  return 0;
}

int
berth_cmd_logout (BerthCli *cli, int argc, char **argv)
{
  (void) cli;
  g_auto (RegistryArgs) a = { 0 };
  const GOptionEntry entries[] = {
    { "authfile", 0, 0, G_OPTION_ARG_FILENAME, &a.authfile,
      "Credentials file (default: $REGISTRY_AUTH_FILE, else ~/.docker/config.json)", "FILE" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "REGISTRY", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 2)
    return berth_cli_usage ("logout takes one registry");
  g_autoptr (GError) error = NULL;
  if (!finish_args (&a, &error) || !berth_logout (argv[1], &a.options, &error))
    return berth_cli_fail (error);
  printf ("Removed login credentials for %s\n", argv[1]);
  return 0;
}
