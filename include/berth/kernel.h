/* The kernel features berth uses that a supported kernel may lack, one table
 * read by `berth info` and docs/kernels.md. Each is probed by calling it,
 * never by the kernel's version (distributions backport); the probes have no
 * side effects (nothing is mounted, made or left open). */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  BERTH_FEATURE_YES,
  BERTH_FEATURE_NO,      /* the kernel lacks it, or a filter refuses it */
  BERTH_FEATURE_UNKNOWN, /* nothing here to look at (no cgroup2 mounted...) */
} BerthFeatureAnswer;

typedef struct {
  const char *name;  /* as berth info prints it: "close_range CLOSE_RANGE_CLOEXEC" */
  const char *since; /* the mainline release that brought it: "5.11" */
  /* What berth does on a kernel without it; NULL where berth cannot do
   * without it, and @needed_by says what fails then. */
  const char *without;
  const char *needed_by;
  /* Sets @why (the errno text, or what was missing) unless the answer is YES. */
  BerthFeatureAnswer (*probe) (char **why);
} BerthKernelFeature;

/* Ends with an entry whose name is NULL. */
extern const BerthKernelFeature berth_kernel_features[];

/* The answer of the table's row @name (which must be in it). */
BerthFeatureAnswer berth_kernel_feature_probe (const char *name, char **why);

G_END_DECLS
