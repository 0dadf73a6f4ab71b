/* What the network drivers share: rtnetlink through libnl-route-3, and work
 * done inside a container's network namespace.
 *
 * Every call takes a socket from berth_nl_open, reports a failure with the
 * interface or address it was about and libnl's reason, and treats what is
 * already as asked (an address present, a link gone) as done. */
#pragma once
#include <glib.h>
#include <sys/types.h>
#include <netlink/netlink.h>
#include <berth/network.h>

G_BEGIN_DECLS

/* A connected NETLINK_ROUTE socket, in the caller's network namespace. */
typedef struct nl_sock BerthNlSock;
BerthNlSock *berth_nl_open (GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthNlSock, nl_socket_free)

/* The link's index, 0 when there is none by that name. */
int berth_nl_link_index (BerthNlSock *sock, const char *name);
gboolean berth_nl_link_up (BerthNlSock *sock, const char *name, GError **error);
gboolean berth_nl_link_delete (BerthNlSock *sock, const char *name, GError **error);
gboolean berth_nl_link_set_alias (BerthNlSock *sock, const char *name, const char *alias,
                                  GError **error);
/* @name's alias in *@alias, NULL when it has none. */
gboolean berth_nl_link_alias (BerthNlSock *sock, const char *name, char **alias, GError **error);
/* Name, alias pairs (the alias without @prefix) of the links whose alias
 * starts with @prefix. */
GPtrArray *berth_nl_links_aliased (BerthNlSock *sock, const char *prefix);
/* "10.1.0.1/16" on @name, kept when it is there already. */
gboolean berth_nl_address_add (BerthNlSock *sock, const char *name, const char *cidr,
                               GError **error);

typedef gboolean (*BerthNetnsFunc) (gpointer data, GError **error);
/* Run @func in a child process that joined the network namespace of
 * @pid, and wait for it: a netlink socket opened there speaks to that
 * namespace, and the caller's stays its own. */
gboolean berth_nl_in_netns (pid_t pid, BerthNetnsFunc func, gpointer data, GError **error);

/* From the host: the endpoint's interface, in the namespace of @ep->pid,
 * gets its MAC, address, up, and (with @ep->default_route) a default route
 * through @net's gateway. */
gboolean berth_nl_configure_endpoint (const BerthNetwork *net, const BerthNetworkEndpoint *ep,
                                      GError **error);

/* Inside the namespace: @ifname gets @mac, @cidr, up, and a default route
 * through @gateway unless it is NULL. */
gboolean berth_nl_configure_inside (const char *ifname, const char *mac, const char *cidr,
                                    const char *gateway, GError **error);

/* /proc/sys/net/ipv4/ip_forward = 1, as Docker sets it: a bridge's NAT
 * forwards between its containers and the host's way out. */
gboolean berth_nl_enable_forwarding (GError **error);
/* route_localnet on @ifname: a connection to 127.0.0.1 may be forwarded
 * there (a published port reached from the host's loopback). */
gboolean berth_nl_route_localnet (const char *ifname, GError **error);

G_END_DECLS
