/* The berth command line: main.c parses the global options and dispatches to
 * one function per command; the work is done by libberth (core/). */
#pragma once
#include <berth/runtime.h>
#include <berth/json.h>
#include <berth/template.h>

typedef struct {
  const char *root;    /* --root, $BERTH_ROOT, or the default */
  const char *driver;  /* --storage-driver, or NULL */
  GPtrArray *storage_opts; /* --storage-opt KEY=VALUE, repeatable; NULL-terminated */
} BerthCli;

typedef int (*BerthCommandFunc) (BerthCli *cli, int argc, char **argv);

/* Exit codes: 0 ok, 1 the command failed, 2 it was called wrongly. */
#define BERTH_EXIT_FAILED 1
#define BERTH_EXIT_USAGE 2

BerthStore *berth_cli_open_store (BerthCli *cli, GError **error);
#define OPEN_STORE_OR_FAIL(store, cli, error)                        \
  g_autoptr (BerthStore) store = berth_cli_open_store (cli, &error); \
  if (store == NULL)                                                 \
    return berth_cli_fail (error)
/* The same without the store lock, for the commands that only read (ps,
 * images, inspect); a change mark is recovered only if the lock is free. */
BerthStore *berth_cli_open_reader (BerthCli *cli, GError **error);
/* Open the store and find container @ref; NULL after printing the error. */
BerthStore *berth_cli_open_with_container (BerthCli *cli, const char *ref, BerthContainer **out);

/* @text fit for one terminal line: control characters and backslashes
 * escaped (\n, \t, \\, \xNN), so a name cannot forge a line or move the
 * cursor, and cut after @max bytes with how much was left out. */
#define BERTH_CLI_MAX_MESSAGE 1024
char *berth_cli_printable (const char *text, gsize max);

/* Run @act on each container named in argv[1..] in one store session: every
 * failure is printed, the exit code says whether any failed. */
typedef gboolean (*BerthContainerAction) (BerthStore *store, BerthContainer *c, gpointer data,
                                          GError **error);
/* The same for any operand (a network's name): @act on each of argv[1..]. */
typedef gboolean (*BerthOperandAction) (BerthStore *store, const char *operand, gpointer data,
                                        GError **error);
int berth_cli_each_operand (BerthStore *store, int argc, char **argv, BerthOperandAction act,
                            gpointer data, gboolean print_names);
/* Print the JSON array of @inspect's result for each of argv[1..] (with
 * @format, that template filled from each, a line each); a failure is
 * printed and left out, and makes the exit code 1. */
typedef JsonNode *(*BerthInspectFunc) (BerthStore *store, const char *operand, GError **error);
int berth_cli_inspect_each (BerthStore *store, int argc, char **argv, BerthInspectFunc inspect,
                            const char *format);
int berth_cli_for_each_container (BerthCli *cli, int argc, char **argv, BerthContainerAction act,
                                  gpointer data, gboolean print_names);
/* Print "berth: <message>" and return BERTH_EXIT_FAILED. */
int berth_cli_fail (GError *error);
int berth_cli_usage (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
/* Parse @entries from argv (argv[0] is the command name); strict POSIX stops
 * at the first operand so a container command's own flags pass through. */
gboolean berth_cli_parse (int *argc, char ***argv, const GOptionEntry *entries,
                          const char *operands, gboolean strict_posix);
/* A subcommand of a command that has some (image, network). */
typedef struct {
  const char *name;
  BerthCommandFunc func;
  const char *summary;  /* NULL: an alias of another entry, not listed */
} BerthSubcommand;
/* Run subcommand argv[1] of @parent with argv[0] "PARENT SUB", so that
 * its usage and errors name both; --help lists the subcommands, and so
 * does a missing one (exit 2). */
int berth_cli_dispatch (BerthCli *cli, const char *parent, const BerthSubcommand *subs,
                        guint n_subs, int argc, char **argv);
/* Docker's --filter KEY=VALUE: berth_cli_filters_new's table holds each
 * key's values; add refuses a key not in @keys (INVALID, naming them);
 * match asks @match of each key's values: every label must match, one of
 * another key's values, and every key. */
typedef gboolean (*BerthFilterMatch) (const char *key, const char *value, gpointer item);
GHashTable *berth_cli_filters_new (void);
gboolean berth_cli_filter_add (GHashTable *filters, const char *filter, const char *const *keys,
                               GError **error);
gboolean berth_cli_filters_match (GHashTable *filters, BerthFilterMatch match, gpointer item);
/* How long ago @rfc3339 was, as Docker's CREATED column says it ("5
 * seconds ago", "About an hour ago", "3 weeks ago"); "" when it is not a
 * time. */
char *berth_cli_time_ago (const char *rfc3339);
/* A progress callback that redraws one line on a terminal (stderr). */
void berth_cli_progress (guint64 bytes, gpointer what);
void berth_cli_progress_done (const char *what);

int berth_cmd_info (BerthCli *cli, int argc, char **argv);
int berth_cmd_version (BerthCli *cli, int argc, char **argv);
int berth_cmd_port (BerthCli *cli, int argc, char **argv);
int berth_cmd_rename (BerthCli *cli, int argc, char **argv);
int berth_cmd_cp (BerthCli *cli, int argc, char **argv);
int berth_cmd_system (BerthCli *cli, int argc, char **argv);
int berth_cmd_events (BerthCli *cli, int argc, char **argv);
int berth_cmd_serve (BerthCli *cli, int argc, char **argv);
int berth_cmd_container (BerthCli *cli, int argc, char **argv);
int berth_cmd_container_prune (BerthCli *cli, int argc, char **argv);
int berth_cmd_image_prune (BerthCli *cli, int argc, char **argv);
int berth_cmd_bench (BerthCli *cli, int argc, char **argv);
int berth_cmd_images (BerthCli *cli, int argc, char **argv);
int berth_cmd_image (BerthCli *cli, int argc, char **argv);
int berth_cmd_import (BerthCli *cli, int argc, char **argv);
int berth_cmd_load (BerthCli *cli, int argc, char **argv);
int berth_cmd_pull (BerthCli *cli, int argc, char **argv);
int berth_cmd_volume (BerthCli *cli, int argc, char **argv);
int berth_cmd_push (BerthCli *cli, int argc, char **argv);
int berth_cmd_login (BerthCli *cli, int argc, char **argv);
int berth_cmd_logout (BerthCli *cli, int argc, char **argv);
int berth_cmd_save (BerthCli *cli, int argc, char **argv);
int berth_cmd_bootstrap (BerthCli *cli, int argc, char **argv);
int berth_cmd_rmi (BerthCli *cli, int argc, char **argv);
int berth_cmd_tag (BerthCli *cli, int argc, char **argv);
int berth_cmd_history (BerthCli *cli, int argc, char **argv);
int berth_cmd_create (BerthCli *cli, int argc, char **argv);
int berth_cmd_mount (BerthCli *cli, int argc, char **argv);
int berth_cmd_umount (BerthCli *cli, int argc, char **argv);
int berth_cmd_diff (BerthCli *cli, int argc, char **argv);
int berth_cmd_commit (BerthCli *cli, int argc, char **argv);
int berth_cmd_export (BerthCli *cli, int argc, char **argv);
int berth_cmd_rm (BerthCli *cli, int argc, char **argv);
int berth_cmd_ps (BerthCli *cli, int argc, char **argv);
int berth_cmd_run (BerthCli *cli, int argc, char **argv);
int berth_cmd_start (BerthCli *cli, int argc, char **argv);
int berth_cmd_stop (BerthCli *cli, int argc, char **argv);
int berth_cmd_kill (BerthCli *cli, int argc, char **argv);
int berth_cmd_wait (BerthCli *cli, int argc, char **argv);
int berth_cmd_logs (BerthCli *cli, int argc, char **argv);
int berth_cmd_exec (BerthCli *cli, int argc, char **argv);
int berth_cmd_inspect (BerthCli *cli, int argc, char **argv);
int berth_cmd_stats (BerthCli *cli, int argc, char **argv);
int berth_cmd_pause (BerthCli *cli, int argc, char **argv);
int berth_cmd_unpause (BerthCli *cli, int argc, char **argv);
int berth_cmd_top (BerthCli *cli, int argc, char **argv);
int berth_cmd_network (BerthCli *cli, int argc, char **argv);
