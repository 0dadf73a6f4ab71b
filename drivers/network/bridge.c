/* The bridge network driver: a Linux bridge per network with the
 * network's gateway address, a veth pair per container (the host's end on
 * the bridge, "eth0" in the container), and outbound NAT, as Docker's
 * docker0. Links through libnl-route-3 (netlink.c); the rules through
 * libnftables, in a table of berth's own per network ("ip berth_<bridge>"),
 * made whole in one transaction and removed with the network. */
#include "config.h"
#include "netlink.h"
#include <berth/network.h>
#include <berth/error.h>
#include <errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>
#include <string.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/bridge.h>
#include <nftables/libnftables.h>

/* The bridge's alias: this, then its network record's path. */
#define OWNER_PREFIX "berth network "
/* A container's port table's comment: this, then its directory, when
 * that fits in nftables' 128 bytes (a path of up to 120 does). */
#define PORTS_OWNER_PREFIX "berth: "
#define NFT_COMMENT_MAX 127

typedef struct nft_ctx BerthNftCtx;
G_DEFINE_AUTOPTR_CLEANUP_FUNC (BerthNftCtx, nft_ctx_free)

/* Can this kernel take nftables' netlink? libnftables exit()s the whole
 * process (status 3, "Unable to initialize Netlink socket") when it
 * cannot open that socket, as on a kernel built without nf_tables: every
 * call into it is guarded by this, which says so in one line instead. */
static gboolean
nft_kernel_usable (GError **error)
{
  int sock = socket (AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (sock < 0)
    return berth_fail_errno (error, errno, "nftables: the kernel's netfilter netlink");
  close (sock);
  return TRUE;
}

/* Run @commands as one nft transaction; the error is nft's first line. */
static gboolean
nft_run (const char *commands, const char *what, GError **error)
{
  g_autoptr (GError) kernel = NULL;
  if (!nft_kernel_usable (&kernel))
    return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "%s: %s", what, kernel->message);
  g_autoptr (BerthNftCtx) nft = nft_ctx_new (NFT_CTX_DEFAULT);
  if (nft == NULL)
    return berth_fail (error, BERTH_ERROR_FAILED, "%s: libnftables: out of memory", what);
  nft_ctx_buffer_output (nft);
  nft_ctx_buffer_error (nft);
  if (nft_run_cmd_from_buffer (nft, commands) == 0)
    return TRUE;
  const char *out = nft_ctx_get_error_buffer (nft);
  g_autofree char *line = g_strndup (out ? out : "", out ? strcspn (out, "\n") : 0);
  return berth_fail (error, BERTH_ERROR_FAILED, "%s: nftables: %s", what,
                     *line ? line : "failed");
}

static char *
table_name (const BerthNetwork *net)
{
  g_autofree char *name = g_strconcat ("berth_", net->interface, NULL);
  return g_strdelimit (g_steal_pointer (&name), "-.", '_');
}

static gboolean
bridge_probe (GError **error)
{
  g_autoptr (BerthNlSock) sock = berth_nl_open (error);
  if (sock == NULL)
    return FALSE;
  return nft_run ("list tables", "bridge network driver", error);
}

static void
bridge_status (GPtrArray *pairs)
{
  g_ptr_array_add (pairs, g_strdup ("firewall"));
  g_ptr_array_add (pairs, g_strdup ("nftables (libnftables), a table per network"));
}

static gboolean
bridge_nat_rules (const BerthNetwork *net, GError **error)
{
  g_autofree char *table = table_name (net);
  /* add + flush + add: the same whole table whether it was there or not. */
  g_autofree char *rules = g_strdup_printf (
    "add table ip %1$s\n"
    "flush table ip %1$s\n"
    "add chain ip %1$s postrouting { type nat hook postrouting priority srcnat; policy accept; }\n"
    "add rule ip %1$s postrouting ip saddr %2$s oifname != \"%3$s\" masquerade\n"
    "add chain ip %1$s forward { type filter hook forward priority filter; policy accept; }\n"
    "add rule ip %1$s forward iifname \"%3$s\" accept\n"
    "add rule ip %1$s forward oifname \"%3$s\" ct state established,related accept\n"
    "add rule ip %1$s forward oifname \"%3$s\" ct status dnat accept\n",
    table, net->subnet, net->interface);
  g_autofree char *what = g_strdup_printf ("network %s: NAT rules", net->name);
  return nft_run (rules, what, error);
}

static gboolean
bridge_setup (const BerthNetwork *net, GError **error)
{
  g_autoptr (BerthNlSock) sock = berth_nl_open (error);
  if (sock == NULL)
    return FALSE;
  g_autofree char *alias = g_strconcat (OWNER_PREFIX, net->owner, NULL);
  g_autofree char *label = NULL;
  if (berth_nl_link_index (sock, net->interface) == 0)
    {
      int err = rtnl_link_bridge_add (sock, net->interface);
      if (err < 0 && err != -NLE_EXIST)
        return berth_fail (error, BERTH_ERROR_FAILED, "network %s: make bridge %s: %s", net->name,
                           net->interface, nl_geterror (err));
    }
  else if (!berth_nl_link_alias (sock, net->interface, &label, error))
    return FALSE;
  /* One a reboot, or another store, gave the name since: not to be taken
   * over, addresses, rules and all. */
  if (label && strcmp (label, alias) != 0)
    return berth_fail (error, BERTH_ERROR_BUSY, "network %s: interface %s is not its bridge (%s)",
                       net->name, net->interface,
                       g_str_has_prefix (label, OWNER_PREFIX) ? label : "not made by berth");
  if (label == NULL && !berth_nl_link_set_alias (sock, net->interface, alias, error))
    return FALSE;
  const char *slash = strchr (net->subnet, '/');
  g_autofree char *gateway_cidr = g_strconcat (net->gateway, slash ? slash : "/16", NULL);
  return berth_nl_address_add (sock, net->interface, gateway_cidr, error)
         && berth_nl_link_up (sock, net->interface, error) && berth_nl_enable_forwarding (error)
         && berth_nl_route_localnet (net->interface, error) && bridge_nat_rules (net, error);
}

static gboolean
delete_bridge (BerthNlSock *sock, const BerthNetwork *net, GError **error)
{
  if (!berth_nl_link_delete (sock, net->interface, error))
    return FALSE;
  g_autofree char *table = table_name (net);
  g_autofree char *rules = g_strdup_printf ("add table ip %1$s\ndelete table ip %1$s\n", table);
  g_autofree char *what = g_strdup_printf ("network %s: remove its NAT rules", net->name);
  return nft_run (rules, what, error);
}

/* Only a bridge labelled as this network's (or one with no label, made
 * before labels): a name reused by another store's network since is
 * that one's, rules and all. */
static gboolean
bridge_teardown (const BerthNetwork *net, GError **error)
{
  g_autoptr (BerthNlSock) sock = berth_nl_open (error);
  if (sock == NULL)
    return FALSE;
  g_autofree char *label = NULL;
  g_autofree char *alias = g_strconcat (OWNER_PREFIX, net->owner, NULL);
  if (berth_nl_link_index (sock, net->interface) != 0
      && berth_nl_link_alias (sock, net->interface, &label, NULL) && label
      && strcmp (label, alias) != 0)
    return TRUE;
  return delete_bridge (sock, net, error);
}

/* The names of the host's ip tables, from nft's own listing. */
static GPtrArray *
nft_table_names (void)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  if (!nft_kernel_usable (NULL))
    return names;
  g_autoptr (BerthNftCtx) nft = nft_ctx_new (NFT_CTX_DEFAULT);
  if (nft == NULL)
    return names;
  nft_ctx_buffer_output (nft);
  nft_ctx_buffer_error (nft);
  if (nft_run_cmd_from_buffer (nft, "list tables ip") != 0)
    return names;
  g_auto (GStrv) lines = g_strsplit (nft_ctx_get_output_buffer (nft), "\n", -1);
  for (char **l = lines; *l; l++)
    if (g_str_has_prefix (*l, "table ip "))
      g_ptr_array_add (names, g_strstrip (g_strdup (*l + strlen ("table ip "))));
  return names;
}

/* nft's listing of @table, or NULL. */
static char *
table_listing (const char *table)
{
  if (!nft_kernel_usable (NULL))
    return NULL;
  g_autoptr (BerthNftCtx) nft = nft_ctx_new (NFT_CTX_DEFAULT);
  if (nft == NULL)
    return NULL;
  nft_ctx_buffer_output (nft);
  nft_ctx_buffer_error (nft);
  g_autofree char *command = g_strdup_printf ("list table ip %s", table);
  if (nft_run_cmd_from_buffer (nft, command) != 0)
    return NULL;
  return g_strdup (nft_ctx_get_output_buffer (nft));
}

/* The directory a port table names in its comment (of its @listing),
 * or NULL. */
static char *
port_table_owner (const char *listing)
{
  const char *start = listing ? strstr (listing, "comment \"" PORTS_OWNER_PREFIX) : NULL;
  if (start == NULL)
    return NULL;
  start += strlen ("comment \"" PORTS_OWNER_PREFIX);
  return g_strndup (start, strcspn (start, "\""));
}

/* Port tables whose container's directory is gone (a store removed with
 * a container berth had no chance to release). */
static void
collect_port_tables (void)
{
  g_autoptr (GPtrArray) tables = nft_table_names ();
  for (guint i = 0; i < tables->len; i++)
    {
      const char *table = tables->pdata[i];
      if (!g_str_has_prefix (table, "berth_p_"))
        continue;
      g_autofree char *listing = table_listing (table);
      g_autofree char *owner = port_table_owner (listing);
      if (owner == NULL || *owner == '\0' || g_file_test (owner, G_FILE_TEST_IS_DIR))
        continue;
      g_autofree char *rules = g_strdup_printf ("delete table ip %s\n", table);
      g_autoptr (GError) error = NULL;
      if (!nft_run (rules, "remove the port table of a container that is gone", &error))
        g_printerr ("berth: %s\n", error->message);
    }
}

/* Bridges labelled as berth's whose record is gone, with their tables. */
static void
bridge_collect (BerthNetworkAlive alive, gpointer data)
{
  g_autoptr (BerthNlSock) sock = berth_nl_open (NULL);
  g_autoptr (GPtrArray) links = sock ? berth_nl_links_aliased (sock, OWNER_PREFIX) : NULL;
  for (guint i = 0; links && i + 1 < links->len; i += 2)
    {
      const char *name = links->pdata[i], *owner = links->pdata[i + 1];
      if (alive (owner, name, data))
        continue;
      BerthNetwork orphan = { .name = (char *) owner, .interface = (char *) name };
      g_autoptr (GError) error = NULL;
      if (!delete_bridge (sock, &orphan, &error))
        g_printerr ("berth: %s\n", error->message);
    }
  collect_port_tables ();
}

static gboolean
bridge_attach (const BerthNetwork *net, const BerthNetworkEndpoint *ep, GError **error)
{
  g_autoptr (BerthNlSock) sock = berth_nl_open (error);
  if (sock == NULL)
    return FALSE;
  /* One left by an earlier run whose namespace something else kept: the
   * lease proved no live container has it. */
  if (!berth_nl_link_delete (sock, ep->host_end, error))
    return FALSE;
  int err = rtnl_link_veth_add (sock, ep->host_end, ep->ifname, ep->pid);
  if (err < 0)
    return berth_fail (error, BERTH_ERROR_FAILED, "network %s: make the veth pair %s: %s",
                       net->name, ep->host_end, nl_geterror (err));
  int bridge = berth_nl_link_index (sock, net->interface);
  int host_end = berth_nl_link_index (sock, ep->host_end);
  if (bridge == 0)
    err = -NLE_NODEV;
  else
    err = rtnl_link_enslave_ifindex (sock, bridge, host_end);
  if (err < 0)
    berth_fail (error, BERTH_ERROR_FAILED, "network %s: put %s on bridge %s: %s", net->name,
                ep->host_end, net->interface, nl_geterror (err));
  else if (berth_nl_link_up (sock, ep->host_end, error)
           && berth_nl_configure_endpoint (net, ep, error))
    return TRUE;
  berth_nl_link_delete (sock, ep->host_end, NULL);
  return FALSE;
}

static gboolean
bridge_detach (const BerthNetwork *net, const BerthNetworkEndpoint *ep, GError **error)
{
  (void) net;
  g_autoptr (BerthNlSock) sock = berth_nl_open (error);
  return sock && berth_nl_link_delete (sock, ep->host_end, error);
}

/* The endpoint's own table: its published ports are added and removed
 * with it, never touching another container's. */
static char *
endpoint_table (const BerthNetworkEndpoint *ep)
{
  g_autofree char *name = g_strconcat ("berth_p_", ep->host_end, NULL);
  return g_strdelimit (g_steal_pointer (&name), "-.", '_');
}

/* Can @owner go in a table's comment? Not when too long or quoted:
 * such a table is then only removed with its container, never collected. */
static gboolean
labellable (const char *owner)
{
  return owner && strlen (PORTS_OWNER_PREFIX) + strlen (owner) <= NFT_COMMENT_MAX
         && !strpbrk (owner, "\"\\");
}

/* Does a line of @listing forward @p's protocol and host port? */
static gboolean
listing_forwards (const char *listing, const BerthPort *p)
{
  g_autofree char *match = g_strdup_printf (" %s dport %u ", p->protocol, p->host_port);
  g_auto (GStrv) lines = g_strsplit (listing, "\n", -1);
  for (char **l = lines; *l; l++)
    if (strstr (*l, match) && strstr (*l, "dnat"))
      return TRUE;
  return FALSE;
}

/* BUSY when a port table other than @own forwards one of @ports: a
 * container of another store (each store checks its own from its leases)
 * holds it, and a second forwarding would take its traffic silently. */
static gboolean
ports_free_of_other_stores (const char *own, const BerthPort *ports, guint n_ports,
                            GError **error)
{
  g_autoptr (GPtrArray) tables = nft_table_names ();
  for (guint i = 0; i < tables->len; i++)
    {
      const char *table = tables->pdata[i];
      if (!g_str_has_prefix (table, "berth_p_") || strcmp (table, own) == 0)
        continue;
      g_autofree char *listing = table_listing (table);
      for (guint j = 0; listing && j < n_ports; j++)
        if (listing_forwards (listing, &ports[j]))
          {
            g_autofree char *owner = port_table_owner (listing);
            return berth_fail (error, BERTH_ERROR_BUSY, "-p %s:%u/%s: port already published "
                               "by container %s of another store", ports[j].host_ip,
                               ports[j].host_port, ports[j].protocol,
                               owner && *owner ? owner : table);
          }
    }
  return TRUE;
}

/* DNAT from the host's address (every local one for 0.0.0.0) to the
 * container, for traffic that arrives (prerouting) and for the host's own
 * (output); masquerade what came from 127.0.0.1 (the bridge allows it
 * with route_localnet) and from the network itself (a container reaching
 * another through the host's port), so replies come back the same way. */
static gboolean
bridge_publish (const BerthNetwork *net, const BerthNetworkEndpoint *ep, const BerthPort *ports,
                guint n_ports, GError **error)
{
  g_autofree char *table = endpoint_table (ep);
  if (!ports_free_of_other_stores (table, ports, n_ports, error))
    return FALSE;
  g_autofree char *address = g_strndup (ep->address, strcspn (ep->address, "/"));
  g_autoptr (GString) rules = g_string_new (NULL);
  g_string_append_printf (rules,
    "add table ip %1$s { comment \"" PORTS_OWNER_PREFIX "%4$s\"; }\n"
    "flush table ip %1$s\n"
    "add chain ip %1$s prerouting { type nat hook prerouting priority dstnat; policy accept; }\n"
    "add chain ip %1$s output { type nat hook output priority -100; policy accept; }\n"
    "add chain ip %1$s postrouting { type nat hook postrouting priority srcnat; policy accept; }\n"
    "add rule ip %1$s postrouting ip saddr 127.0.0.0/8 ip daddr %2$s masquerade\n"
    "add rule ip %1$s postrouting ip saddr %3$s ip daddr %2$s ct status dnat masquerade\n",
    table, address, net->subnet, labellable (ep->owner) ? ep->owner : "");
  for (guint i = 0; i < n_ports; i++)
    {
      const BerthPort *p = &ports[i];
      g_autofree char *match = strcmp (p->host_ip, "0.0.0.0") == 0
                                   ? g_strdup ("fib daddr type local")
                                   : g_strdup_printf ("ip daddr %s", p->host_ip);
      const char *chains[] = { "prerouting", "output" };
      for (guint j = 0; j < G_N_ELEMENTS (chains); j++)
        g_string_append_printf (rules, "add rule ip %s %s %s %s dport %u dnat to %s:%u\n", table,
                                chains[j], match, p->protocol, p->host_port, address,
                                p->container_port);
    }
  g_autofree char *what = g_strdup_printf ("network %s: publish ports to %s", net->name, address);
  return nft_run (rules->str, what, error);
}

static gboolean
bridge_unpublish (const BerthNetwork *net, const BerthNetworkEndpoint *ep, GError **error)
{
  g_autofree char *table = endpoint_table (ep);
  g_autofree char *rules = g_strdup_printf ("add table ip %1$s\ndelete table ip %1$s\n", table);
  g_autofree char *what = g_strdup_printf ("network %s: stop publishing to %s", net->name,
                                           ep->address);
  return nft_run (rules, what, error);
}

const BerthNetworkOps berth_network_bridge_ops = {
  .name = "bridge",
  .probe = bridge_probe,
  .status = bridge_status,
  .setup = bridge_setup,
  .teardown = bridge_teardown,
  .collect = bridge_collect,
  .attach = bridge_attach,
  .detach = bridge_detach,
  .publish = bridge_publish,
  .unpublish = bridge_unpublish,
};
