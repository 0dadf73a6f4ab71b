/* berth-runc, berth's OCI runtime command line (runc's), for callers that
 * drive a runtime by path: containerd's shim, podman. main.c parses the
 * global options and dispatches to one function per command; the work is
 * libberth's (core/runtime/oci.c over the native exec driver).
 *
 * Every failure is one line on stderr, "berth-runc: <what>: <why>", and
 * the same line in --log (text or json, as runc writes it: containerd's
 * shim reads the last error from there). Exit codes: 0 ok, 1 the command
 * failed, 2 it was called wrongly. */
#pragma once
#include <berth/exec.h>
#include <glib.h>
#include <json-glib/json-glib.h>

typedef struct {
  const char *root;     /* --root: the containers' state */
  const char *log_path; /* --log, or NULL */
  gboolean log_json;    /* --log-format json */
  gboolean debug;       /* --debug: debug lines in the log too */
  gboolean systemd_cgroup; /* --systemd-cgroup: cgroupsPath is "slice:prefix:name" */
} BerthRunc;

typedef int (*BerthRuncCommand) (BerthRunc *r, int argc, char **argv);

/* Print and log @error; returns 1. */
int berth_runc_fail (BerthRunc *r, GError *error);
/* Print and log a usage error; returns 2. */
int berth_runc_usage (BerthRunc *r, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
/* A line in --log at @level ("debug" only with --debug). */
void berth_runc_log (BerthRunc *r, const char *level, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* Parse @entries; argv[0] is the command, the operands stay in argv. With
 * @stop_at_operand, options after the first operand are left to it (exec's
 * command line). FALSE after printing the error. */
gboolean berth_runc_parse (BerthRunc *r, int *argc, char ***argv, const GOptionEntry *entries,
                           const char *operands, gboolean stop_at_operand);
/* For commands taking exactly one container id and no options: the
 * container, or NULL with *rc set to the exit code. */
BerthExec *berth_runc_open_only_operand (BerthRunc *r, int *argc, char ***argv,
                                         const char *command, int *rc);
gboolean berth_runc_write_pid_file (const char *path, pid_t pid, GError **error);
void berth_runc_print_json (JsonNode *node);

/* The stdio of a container process whose process.terminal is @terminal:
 * berth-runc's own without a terminal; with one, a pty the driver makes
 * inside the container, whose master (console->master once the process
 * exists) goes to @console_socket (berth_runc_console_send), or, with
 * @relay, stays with berth-runc, which copies it to and from its own stdio
 * (run in the foreground). Refuses a terminal with neither, and a socket
 * without a terminal, as runc does. */
typedef struct {
  int master;
} BerthRuncConsole;
gboolean berth_runc_console_open (gboolean terminal, const char *console_socket, gboolean relay,
                                  BerthExecStdio *stdio, BerthRuncConsole *console, GError **error);
gboolean berth_runc_console_send (const char *console_socket, BerthRuncConsole *console,
                                  GError **error);
void berth_runc_console_close (BerthRuncConsole *console);

int berth_runc_create (BerthRunc *r, int argc, char **argv);
int berth_runc_run (BerthRunc *r, int argc, char **argv);
int berth_runc_start (BerthRunc *r, int argc, char **argv);
int berth_runc_state (BerthRunc *r, int argc, char **argv);
int berth_runc_list (BerthRunc *r, int argc, char **argv);
int berth_runc_ps (BerthRunc *r, int argc, char **argv);
int berth_runc_kill (BerthRunc *r, int argc, char **argv);
int berth_runc_delete (BerthRunc *r, int argc, char **argv);
int berth_runc_pause (BerthRunc *r, int argc, char **argv);
int berth_runc_resume (BerthRunc *r, int argc, char **argv);
int berth_runc_exec (BerthRunc *r, int argc, char **argv);
int berth_runc_update (BerthRunc *r, int argc, char **argv);
int berth_runc_spec (BerthRunc *r, int argc, char **argv);
int berth_runc_features (BerthRunc *r, int argc, char **argv);
