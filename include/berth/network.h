/* The network-driver contract.
 *
 * A network driver gives a container's network namespace a way out: an
 * interface, an address, a default route, and on the host whatever carries
 * the traffic on (a bridge and its NAT rules). Each driver fills one const
 * BerthNetworkOps (designated initializers; NULL = not supported), listed in
 * the network table (include/berth/family.h, core/registry/family.c); the
 * core calls only berth_network_*.
 *
 * The namespace itself is the exec driver's: berth attaches a network to a
 * created container, before its program runs, through a process inside it
 * (@pid). The kernel removes an interface with the namespace it is in, so a
 * container that dies, however, leaves no interface inside; what is left on
 * the host is detach's to remove, and must be removable more than once. */
#pragma once
#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* One network as the store records it (core/store/network.c). */
typedef struct {
  char *name;       /* "bridge" is the default one */
  char *driver;     /* a name in the network table */
  char *subnet;     /* IPv4 CIDR, "172.29.0.0/16" */
  char *gateway;    /* "172.29.0.1": the host's address on the network */
  char *interface;  /* bridge: the bridge berth makes ("berth0"); macvlan: the parent */
  char *owner;      /* the record's path: what the host-side objects are labelled with,
                     * so ones whose record is gone can be found (not in the record) */
} BerthNetwork;

/* Is the network whose record is at @owner still there, on @interface? */
typedef gboolean (*BerthNetworkAlive) (const char *owner, const char *interface, gpointer data);
void berth_network_free (BerthNetwork *net);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthNetwork, berth_network_free)

/* One container's place on a network. */
typedef struct {
  const char *address;   /* "172.29.0.2/16" */
  const char *mac;       /* "02:42:ac:1d:00:02" */
  const char *host_end;  /* the host's end of the container's link ("vb0123456789"), if any */
  const char *ifname;    /* the container's interface: "eth0", "eth1" for the next network */
  gboolean default_route; /* route the rest through the network's gateway (the container's
                           * first network; one connected later routes its subnet only) */
  pid_t pid;             /* a process in the container's network namespace */
  const char *owner;     /* the container's directory: what its published ports are
                          * labelled with, so ones whose container is gone can be found */
} BerthNetworkEndpoint;

/* A published port: the host's @host_ip:@host_port (0.0.0.0: every
 * address of the host; port 0: one the start picks, free then) forwarded
 * to the container's @container_port. */
typedef struct {
  char host_ip[16];
  guint16 host_port;
  guint16 container_port;
  char protocol[4];  /* "tcp" or "udp" */
} BerthPort;

/* "[[IP:]HOST:]CTR[/tcp|udp]" (Docker's -p; HOST 0 or none: any free
 * one); INVALID naming what is wrong. */
gboolean berth_port_parse (const char *text, BerthPort *port, GError **error);
/* "IP:HOST:CTR/PROTO", which berth_port_parse reads back. */
char *berth_port_to_string (const BerthPort *port);

typedef struct {
  const char *name;

  /* Can this host run the driver? FALSE with a one-line reason. */
  gboolean (*probe) (GError **error);
  /* Key/value facts for `berth info` (alternating strings). */
  void (*status) (GPtrArray *pairs);
  /* Make (or check) the host's side of @net: a bridge, its address, the
   * NAT rules. Called before each attach; must succeed on a network that
   * is already set up. */
  gboolean (*setup) (const BerthNetwork *net, GError **error);
  /* Remove what setup made; what is already gone is no error. */
  gboolean (*teardown) (const BerthNetwork *net, GError **error);
  /* Remove what setup made for networks that @alive says are gone (a
   * store removed, a command killed between the two), and what publish
   * made for containers whose directory is gone: the host's objects
   * carry their owner. */
  void (*collect) (BerthNetworkAlive alive, gpointer data);
  /* Give the namespace of @ep->pid its interface, address and route. */
  gboolean (*attach) (const BerthNetwork *net, const BerthNetworkEndpoint *ep, GError **error);
  /* Remove what attach left on the host; what is gone is no error. With
   * @ep->pid, the container lives on (network disconnect): its interface
   * must go from its namespace too. */
  gboolean (*detach) (const BerthNetwork *net, const BerthNetworkEndpoint *ep, GError **error);
  /* Forward @ports of the host to the endpoint's address, labelled with
   * its owner; replaces what was published for it before. */
  gboolean (*publish) (const BerthNetwork *net, const BerthNetworkEndpoint *ep,
                       const BerthPort *ports, guint n_ports, GError **error);
  /* Stop forwarding to the endpoint; nothing published is no error. */
  gboolean (*unpublish) (const BerthNetwork *net, const BerthNetworkEndpoint *ep,
                         GError **error);
} BerthNetworkOps;

/* NOT_FOUND naming the table's not_built line, or that berth knows no
 * such driver. */
const BerthNetworkOps *berth_network_driver_lookup (const char *name, GError **error);

/* The wrappers: NOT_SUPPORTED naming the driver where its op is NULL. */
gboolean berth_network_probe (const BerthNetworkOps *ops, GError **error);
gboolean berth_network_setup (const BerthNetworkOps *ops, const BerthNetwork *net, GError **error);
gboolean berth_network_teardown (const BerthNetworkOps *ops, const BerthNetwork *net,
                                 GError **error);
void berth_network_collect_orphans (const BerthNetworkOps *ops, BerthNetworkAlive alive,
                                    gpointer data);
gboolean berth_network_attach (const BerthNetworkOps *ops, const BerthNetwork *net,
                               const BerthNetworkEndpoint *ep, GError **error);
gboolean berth_network_detach (const BerthNetworkOps *ops, const BerthNetwork *net,
                               const BerthNetworkEndpoint *ep, GError **error);
gboolean berth_network_publish (const BerthNetworkOps *ops, const BerthNetwork *net,
                                const BerthNetworkEndpoint *ep, const BerthPort *ports,
                                guint n_ports, GError **error);
gboolean berth_network_unpublish (const BerthNetworkOps *ops, const BerthNetwork *net,
                                  const BerthNetworkEndpoint *ep, GError **error);

G_END_DECLS
