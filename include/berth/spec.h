/* Building a container's OCI runtime config (config.json) from its image's
 * config and what the user asked for on the command line, with Docker's
 * defaults: its capability set, masked and read-only paths, seccomp profile,
 * and /proc, /dev, /sys mounts. Any exec driver runs the result. */
#pragma once
#include <berth/names.h>
#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Where --init's binary is bound in the container (Docker's path). */
#define BERTH_INIT_DESTINATION "/sbin/docker-init"

typedef struct {
  char **cmd;              /* replaces the image's Cmd (Entrypoint kept) */
  const char *entrypoint;  /* --entrypoint: replaces the image's Entrypoint and, as
                            * Docker's, drops its Cmd; "": no entrypoint; NULL: the image's */
  char **env;              /* "K=V", over the image's Env */
  const char *user;        /* "user[:group]", names or numbers */
  const char *workdir;
  const char *hostname;    /* default: the first 12 hex of the id */
  gint64 memory;           /* bytes; 0 = no limit */
  gint64 memory_swap;      /* memory+swap bytes; -1 unlimited; 0 = unset */
  double cpus;             /* 0 = no quota */
  const char *cpuset_cpus;
  gint64 cpu_shares;       /* 0 = unset */
  gint64 pids_limit;       /* 0 = unset, -1 unlimited */
  gint64 blkio_weight;     /* 0 = unset; 10..1000 */
  const char *network;     /* "none" (loopback only, default), "host", or a network's name */
  char **volumes;          /* "HOST:CTR[:ro]" (create turns "NAME:CTR" and "CTR" into host
                            * paths of named and anonymous volumes first) */
  char **volumes_from;     /* --volumes-from "NAME[:ro|rw]": create adds their mounts to volumes */
  char **tmpfs;            /* --tmpfs "CTR[:OPTS]": a tmpfs, noexec,nosuid,nodev unless OPTS
                            * say exec, suid, dev */
  gboolean read_only;      /* the root filesystem */
  gboolean tty;
  gboolean interactive;
  char **cap_add, **cap_drop; /* "NET_ADMIN", "CAP_NET_ADMIN" or "ALL" */
  const char *seccomp;     /* NULL: the default profile; "unconfined"; or a JSON file */
  const char *userns;      /* NULL/"host": none; "remap": root = host uid 100000 */
  char **log_opts;         /* "max-size=10m", "max-file=3": the container's log rotation */
  const char *restart;     /* --restart: the monitor's policy (the container's record) */
  char **labels;           /* --label "KEY[=VALUE]": over the image's (the container's record) */
  gboolean init;           /* --init: create finds the host's init and sets init_path */
  gboolean auto_remove;    /* --rm: every start of it removes it at its exit (the record) */
  const char *init_path;   /* an init (tini) bound read-only at /sbin/docker-init that runs
                            * the command as its child, as Docker's --init; NULL: none */
  char **publish;          /* -p "[[IP:]HOST:]CTR[/tcp|udp]": needs a berth network */
  gboolean publish_all;    /* -P: every port the image EXPOSEs, on free host ports */
  const char *ip;          /* --ip: the address on a berth network */
  const char *mac_address; /* --mac-address */
  char **dns;              /* --dns: the nameservers of resolv.conf */
  char **dns_search;       /* --dns-search */
  char **add_hosts;        /* --add-host "NAME:IP": /etc/hosts lines */
  const char *etc_dir;     /* holds hostname, hosts and resolv.conf, bound over the
                            * image's (create sets it); NULL: the image's own */
} BerthSpecOptions;

/* The OCI config for container @id. @image_config: the OCI image config (its
 * "config" member gives Env, Cmd, Entrypoint, WorkingDir, User). @rootfs_dir:
 * needed only to resolve a user or group name through its /etc/passwd and
 * /etc/group (may be NULL: numeric ids only). INVALID on a bad option, naming it. */
JsonNode *berth_spec_build (const char *id, JsonNode *image_config, const char *rootfs_dir,
                            const BerthSpecOptions *options, GError **error);

/* The OCI process.user for Docker's "user[:group]" @user_spec (names or
 * numbers), resolved in @rootfs_dir's /etc/passwd and /etc/group as
 * create does: uid, gid, and the supplementary groups. INVALID naming a
 * user or group that is not there. */
JsonNode *berth_spec_user (const char *user_spec, const char *rootfs_dir, GError **error);

/* Docker's --env-file format in @text (the file @file): one K=V a line,
 * or K alone (the host's value, as -e K); blank lines and lines starting
 * with # are skipped. Each entry added to @env; INVALID naming the line
 * of one with no name or white space in its name. */
gboolean berth_spec_parse_env_file (const char *text, const char *file, GStrvBuilder *env,
                                    GError **error);

/* Docker's --mount "type=bind|volume|tmpfs,source=,target=,readonly,
 * tmpfs-size=,tmpfs-mode=" as the -v entry (added to @volumes) or
 * --tmpfs entry (to @tmpfs) it means. INVALID naming the field. */
gboolean berth_spec_parse_mount (const char *text, GStrvBuilder *volumes, GStrvBuilder *tmpfs,
                                 GError **error);

/* Docker's default seccomp profile as an OCI linux.seccomp object. */
JsonNode *berth_seccomp_default_profile (void);



G_END_DECLS
