/* berth bench's network phases (bench/lib/bench-net.c): the start of a
 * container on each network mode, and TCP throughput and round trips
 * between containers, a container and the host, and the host and a
 * published port, measured by berth-net-probe (bench/net-probe.c) at both
 * ends; "loopback" is the host talking to itself, the floor the others
 * are read against. Everything runs through the berth command (@berth_exe)
 * on a store with busybox (@root), as a user would. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *berth_exe;
  const char *root;       /* a store holding busybox:latest */
  const char *probe;      /* berth-net-probe */
  guint stream_mib;       /* each throughput sample sends this much */
  guint rtt_count;        /* round trips per latency sample (their median) */
} BerthBenchNet;

/* Each figure (or the failure that stopped it) of a run: @phase's id,
 * the mode as the backend. */
typedef void (*BerthBenchNetRecord) (const char *phase, const char *mode, double value,
                                     const GError *error, gpointer data);

/* Every program the bench runs runs through this: the stop signals the
 * bench holds back are unblocked in the child, stdout goes to *@out
 * (stripped; /dev/null when @out is NULL), stderr to *@err_out; a
 * failure's error is the program's first stderr line. */
gboolean berth_bench_command (const char *const *argv, char **out, char **err_out,
                              GError **error);

/* The modes, in the report's order, NULL-terminated. */
extern const char *const berth_bench_net_modes[];

/* berth-net-probe: $BERTH_NET_PROBE, beside @berth_exe (a build tree), or
 * the installed one; NULL with @error when none is there. */
char *berth_bench_net_probe_path (const char *berth_exe, GError **error);
/* Why @mode cannot be measured on this host, or NULL. */
char *berth_bench_net_unavailable (const char *mode);
/* One sample of every phase of @mode. */
void berth_bench_net_run (const BerthBenchNet *n, const char *mode, BerthBenchNetRecord record,
                          gpointer data);

G_END_DECLS
