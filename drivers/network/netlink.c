/* rtnetlink for the network drivers (drivers/network/netlink.h). */
#include "config.h"
#include "netlink.h"
#include <berth/error.h>
#include <berth/fsutil.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netlink/route/link.h>
#include <netlink/route/addr.h>
#include <netlink/route/route.h>

typedef struct nl_addr BerthNlAddr;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthNlAddr, nl_addr_put)
typedef struct rtnl_link BerthRtLink;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthRtLink, rtnl_link_put)
typedef struct rtnl_addr BerthRtAddr;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthRtAddr, rtnl_addr_put)
typedef struct rtnl_route BerthRtRoute;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthRtRoute, rtnl_route_put)

static gboolean
nl_fail (GError **error, int err, const char *what, const char *name)
{
  return berth_fail (error, BERTH_ERROR_FAILED, "%s %s: %s", what, name, nl_geterror (err));
}

BerthNlSock *
berth_nl_open (GError **error)
{
  g_autoptr (BerthNlSock) sock = nl_socket_alloc ();
  if (sock == NULL)
    return berth_fail (error, BERTH_ERROR_FAILED, "netlink: out of memory"), NULL;
  int err = nl_connect (sock, NETLINK_ROUTE);
  if (err < 0)
    return nl_fail (error, err, "netlink", "connect"), NULL;
  return g_steal_pointer (&sock);
}

int
berth_nl_link_index (BerthNlSock *sock, const char *name)
{
  g_autoptr (BerthRtLink) link = NULL;
  if (rtnl_link_get_kernel (sock, 0, name, &link) < 0)
    return 0;
  return rtnl_link_get_ifindex (link);
}

/* Change the link @name by what @change holds. */
static gboolean
link_change (BerthNlSock *sock, const char *name, BerthRtLink *change, const char *what,
             GError **error)
{
  g_autoptr (BerthRtLink) link = NULL;
  int err = rtnl_link_get_kernel (sock, 0, name, &link);
  if (err < 0)
    return nl_fail (error, err, "find interface", name);
  err = rtnl_link_change (sock, link, change, 0);
  if (err < 0)
    return nl_fail (error, err, what, name);
  return TRUE;
}

gboolean
berth_nl_link_up (BerthNlSock *sock, const char *name, GError **error)
{
  g_autoptr (BerthRtLink) change = rtnl_link_alloc ();
  rtnl_link_set_flags (change, IFF_UP);
  return link_change (sock, name, change, "bring up", error);
}

static gboolean
link_set_mac (BerthNlSock *sock, const char *name, const char *mac, GError **error)
{
  g_autoptr (BerthNlAddr) addr = NULL;
  int err = nl_addr_parse (mac, AF_LLC, &addr);
  if (err < 0)
    return nl_fail (error, err, "MAC address", mac);
  g_autoptr (BerthRtLink) change = rtnl_link_alloc ();
  rtnl_link_set_addr (change, addr);
  return link_change (sock, name, change, "set the MAC address of", error);
}

gboolean
berth_nl_link_delete (BerthNlSock *sock, const char *name, GError **error)
{
  g_autoptr (BerthRtLink) link = NULL;
  int err = rtnl_link_get_kernel (sock, 0, name, &link);
  if (err == -NLE_NODEV || err == -NLE_OBJ_NOTFOUND)
    return TRUE;
  if (err < 0)
    return nl_fail (error, err, "find interface", name);
  err = rtnl_link_delete (sock, link);
  if (err < 0 && err != -NLE_NODEV && err != -NLE_OBJ_NOTFOUND)
    return nl_fail (error, err, "delete interface", name);
  return TRUE;
}

gboolean
berth_nl_link_set_alias (BerthNlSock *sock, const char *name, const char *alias, GError **error)
{
  g_autoptr (BerthRtLink) change = rtnl_link_alloc ();
  rtnl_link_set_ifalias (change, alias);
  return link_change (sock, name, change, "label", error);
}

gboolean
berth_nl_link_alias (BerthNlSock *sock, const char *name, char **alias, GError **error)
{
  g_autoptr (BerthRtLink) link = NULL;
  int err = rtnl_link_get_kernel (sock, 0, name, &link);
  if (err < 0)
    return nl_fail (error, err, "find interface", name);
  const char *text = rtnl_link_get_ifalias (link);
  *alias = text && *text ? g_strdup (text) : NULL;
  return TRUE;
}

GPtrArray *
berth_nl_links_aliased (BerthNlSock *sock, const char *prefix)
{
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  struct nl_cache *cache = NULL;
  if (rtnl_link_alloc_cache (sock, AF_UNSPEC, &cache) < 0)
    return out;
  for (struct nl_object *o = nl_cache_get_first (cache); o; o = nl_cache_get_next (o))
    {
      struct rtnl_link *link = (struct rtnl_link *) o;
      const char *alias = rtnl_link_get_ifalias (link);
      if (alias && g_str_has_prefix (alias, prefix))
        {
          g_ptr_array_add (out, g_strdup (rtnl_link_get_name (link)));
          g_ptr_array_add (out, g_strdup (alias + strlen (prefix)));
        }
    }
  nl_cache_free (cache);
  return out;
}

gboolean
berth_nl_address_add (BerthNlSock *sock, const char *name, const char *cidr, GError **error)
{
  int index = berth_nl_link_index (sock, name);
  if (index == 0)
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "interface %s: not found", name);
  g_autoptr (BerthNlAddr) local = NULL;
  int err = nl_addr_parse (cidr, AF_INET, &local);
  if (err < 0)
    return nl_fail (error, err, "address", cidr);
  g_autoptr (BerthRtAddr) addr = rtnl_addr_alloc ();
  rtnl_addr_set_ifindex (addr, index);
  rtnl_addr_set_local (addr, local);
  err = rtnl_addr_add (sock, addr, 0);
  if (err < 0 && err != -NLE_EXIST)
    return berth_fail (error, BERTH_ERROR_FAILED, "add address %s to %s: %s", cidr, name,
                       nl_geterror (err));
  return TRUE;
}

static gboolean
default_route_add (BerthNlSock *sock, const char *name, const char *gateway, GError **error)
{
  g_autoptr (BerthNlAddr) via = NULL, any = NULL;
  int err = nl_addr_parse (gateway, AF_INET, &via);
  if (err < 0)
    return nl_fail (error, err, "gateway", gateway);
  err = nl_addr_parse ("0.0.0.0/0", AF_INET, &any);
  if (err < 0)
    return nl_fail (error, err, "route", "0.0.0.0/0");
  g_autoptr (BerthRtRoute) route = rtnl_route_alloc ();
  rtnl_route_set_family (route, AF_INET);
  rtnl_route_set_dst (route, any);
  struct rtnl_nexthop *hop = rtnl_route_nh_alloc ();
  rtnl_route_nh_set_gateway (hop, via);
  rtnl_route_nh_set_ifindex (hop, berth_nl_link_index (sock, name));
  rtnl_route_add_nexthop (route, hop); /* the route owns it now */
  err = rtnl_route_add (sock, route, NLM_F_CREATE);
  if (err < 0 && err != -NLE_EXIST)
    return berth_fail (error, BERTH_ERROR_FAILED, "add the default route via %s on %s: %s",
                       gateway, name, nl_geterror (err));
  return TRUE;
}

gboolean
berth_nl_configure_inside (const char *ifname, const char *mac, const char *cidr,
                           const char *gateway, GError **error)
{
  g_autoptr (BerthNlSock) sock = berth_nl_open (error);
  return sock && (mac == NULL || link_set_mac (sock, ifname, mac, error))
         && berth_nl_address_add (sock, ifname, cidr, error)
         && berth_nl_link_up (sock, ifname, error)
         && (gateway == NULL || default_route_add (sock, ifname, gateway, error));
}

/* The child's side of berth_nl_in_netns: never returns. */
G_GNUC_NORETURN static void
netns_child (int netns, int report, BerthNetnsFunc func, gpointer data)
{
  g_autoptr (GError) error = NULL;
  if (setns (netns, CLONE_NEWNET) < 0)
    berth_fail_errno (&error, errno, "join the container's network namespace");
  else
    func (data, &error);
  if (error)
    berth_write_all (report, error->message, strlen (error->message));
  _exit (error ? 1 : 0);
}

gboolean
berth_nl_in_netns (pid_t pid, BerthNetnsFunc func, gpointer data, GError **error)
{
  g_autofree char *path = g_strdup_printf ("/proc/%d/ns/net", (int) pid);
  int netns = open (path, O_RDONLY | O_CLOEXEC);
  if (netns < 0)
    return berth_fail_errno (error, errno, "open %s", path);
  int report[2];
  if (pipe2 (report, O_CLOEXEC) < 0)
    {
      int errsv = errno;
      close (netns);
      return berth_fail_errno (error, errsv, "pipe");
    }
  pid_t child = fork ();
  if (child == 0)
    {
      close (report[0]);
      netns_child (netns, report[1], func, data);
    }
  int errsv = errno;
  close (netns);
  close (report[1]);
  if (child < 0)
    {
      close (report[0]);
      return berth_fail_errno (error, errsv, "fork into the container's network namespace");
    }
  char message[1024];
  gssize n, len = 0;
  while (len < (gssize) sizeof message - 1
         && ((n = read (report[0], message + len, sizeof message - 1 - len)) > 0
             || (n < 0 && errno == EINTR)))
    len += n > 0 ? n : 0;
  message[len] = '\0';
  close (report[0]);
  int status;
  while (waitpid (child, &status, 0) < 0)
    if (errno != EINTR)
      return berth_fail_errno (error, errno, "wait for the network namespace's child");
  if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
    return TRUE;
  return berth_fail (error, BERTH_ERROR_FAILED, "%s",
                     len > 0 ? message : "the network namespace's child died");
}

/* "1" into the sysctl @path, unless it says so already. */
static gboolean
sysctl_on (const char *path, const char *what, GError **error)
{
  g_autofree char *now = NULL;
  if (g_file_get_contents (path, &now, NULL, NULL) && now[0] == '1')
    return TRUE;
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s (%s)", path, what);
  gboolean ok = berth_write_all (fd, "1\n", 2);
  int errsv = errno;
  close (fd);
  if (!ok)
    return berth_fail_errno (error, errsv, "turn on %s (%s)", what, path);
  return TRUE;
}

gboolean
berth_nl_enable_forwarding (GError **error)
{
  return sysctl_on ("/proc/sys/net/ipv4/ip_forward", "IPv4 forwarding", error);
}

gboolean
berth_nl_route_localnet (const char *ifname, GError **error)
{
  g_autofree char *path = g_strdup_printf ("/proc/sys/net/ipv4/conf/%s/route_localnet", ifname);
  return sysctl_on (path, "route_localnet", error);
}

typedef struct {
  const BerthNetwork *net;
  const BerthNetworkEndpoint *ep;
} Endpoint;

static gboolean
configure_inside (gpointer data, GError **error)
{
  Endpoint *e = data;
  return berth_nl_configure_inside (e->ep->ifname, e->ep->mac, e->ep->address,
                                    e->ep->default_route ? e->net->gateway : NULL,
                                    error);
}

gboolean
berth_nl_configure_endpoint (const BerthNetwork *net, const BerthNetworkEndpoint *ep,
                             GError **error)
{
  Endpoint e = { net, ep };
  return berth_nl_in_netns (ep->pid, configure_inside, &e, error);
}
