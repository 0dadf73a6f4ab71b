/* The macvlan network driver: each container gets a macvlan link of its
 * own on a parent interface of the host's (Docker's -o parent=), in
 * bridge mode, so containers on it reach each other and the parent's LAN
 * with addresses of that LAN, without a bridge or NAT. As with Docker's,
 * the host itself cannot reach them through the parent: the kernel does
 * not deliver between a macvlan and its parent. No ports to publish: the
 * containers are on the LAN already. */
#include "config.h"
#include "netlink.h"
#include <berth/network.h>
#include <berth/error.h>
#include <linux/if_link.h>
#include <string.h>
#include <netlink/route/link.h>
#include <netlink/route/link/macvlan.h>

typedef struct rtnl_link BerthMacvlanLink;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthMacvlanLink, rtnl_link_put)

static gboolean
macvlan_probe (GError **error)
{
  g_autoptr (BerthNlSock) sock = berth_nl_open (error);
  return sock != NULL;
}

/* Nothing to make: the parent must be there. */
static gboolean
macvlan_setup (const BerthNetwork *net, GError **error)
{
  g_autoptr (BerthNlSock) sock = berth_nl_open (error);
  if (sock == NULL)
    return FALSE;
  if (berth_nl_link_index (sock, net->interface) == 0)
    return berth_fail (error, BERTH_ERROR_NOT_FOUND,
                       "network %s: parent interface %s: the host has no such interface",
                       net->name, net->interface);
  return TRUE;
}

/* The link is made in the container's namespace directly, so the host
 * never holds it and the kernel takes it away with the namespace. */
static gboolean
macvlan_attach (const BerthNetwork *net, const BerthNetworkEndpoint *ep, GError **error)
{
  g_autoptr (BerthNlSock) sock = berth_nl_open (error);
  if (sock == NULL || !macvlan_setup (net, error))
    return FALSE;
  g_autoptr (BerthMacvlanLink) link = rtnl_link_macvlan_alloc ();
  if (link == NULL)
    return berth_fail (error, BERTH_ERROR_FAILED, "macvlan: out of memory");
  rtnl_link_set_name (link, ep->ifname);
  rtnl_link_set_link (link, berth_nl_link_index (sock, net->interface));
  rtnl_link_set_ns_pid (link, ep->pid);
  rtnl_link_macvlan_set_mode (link, MACVLAN_MODE_BRIDGE);
  int err = rtnl_link_add (sock, link, NLM_F_CREATE | NLM_F_EXCL);
  if (err < 0)
    return berth_fail (error, BERTH_ERROR_FAILED, "network %s: make a macvlan link on %s: %s",
                       net->name, net->interface, nl_geterror (err));
  return berth_nl_configure_endpoint (net, ep, error);
}

static gboolean
delete_inside (gpointer data, GError **error)
{
  g_autoptr (BerthNlSock) sock = berth_nl_open (error);
  return sock && berth_nl_link_delete (sock, data, error);
}

/* The host holds nothing: a container that is gone took its link with
 * it. One that lives on (network disconnect) loses it now. */
static gboolean
macvlan_detach (const BerthNetwork *net, const BerthNetworkEndpoint *ep, GError **error)
{
  (void) net;
  if (ep->pid <= 0)
    return TRUE;
  return berth_nl_in_netns (ep->pid, delete_inside, (gpointer) ep->ifname, error);
}

const BerthNetworkOps berth_network_macvlan_ops = {
  .name = "macvlan",
  .probe = macvlan_probe,
  .setup = macvlan_setup,
  .attach = macvlan_attach,
  .detach = macvlan_detach,
};
