/* Network records: <root>/networks/<name>.json, one per network, written
 * atomically under the store lock. A new one gets, unless told, the first
 * private /16 that neither the host's routes nor another network of the
 * store use, and the first bridge name the host has not. */
#include "config.h"
#include "store-internal.h"
#include <berth/store.h>
#include <berth/network.h>
#include <berth/family.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/json.h>
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  guint32 base; /* host order */
  guint prefix;
} Subnet;

static guint32
prefix_mask (guint prefix)
{
  return prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
}

static gboolean
parse_subnet (const char *cidr, Subnet *out, GError **error)
{
  const char *slash = strchr (cidr, '/');
  g_autofree char *addr = g_strndup (cidr, slash ? (gsize) (slash - cidr) : strlen (cidr));
  struct in_addr in;
  char *end = NULL;
  guint64 prefix = slash ? g_ascii_strtoull (slash + 1, &end, 10) : 0;
  if (slash == NULL || end == slash + 1 || *end != '\0' || prefix < 8 || prefix > 30
      || inet_pton (AF_INET, addr, &in) != 1)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "subnet '%s': not an IPv4 network with a prefix from /8 to /30 "
                       "(\"172.30.0.0/16\")", cidr);
  out->prefix = prefix;
  out->base = ntohl (in.s_addr) & prefix_mask (prefix);
  if (out->base != ntohl (in.s_addr))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "subnet '%s': has host bits set (the network is %u.%u.%u.%u/%u)", cidr,
                       out->base >> 24, (out->base >> 16) & 255, (out->base >> 8) & 255,
                       out->base & 255, out->prefix);
  return TRUE;
}

static gboolean
subnets_overlap (const Subnet *a, const Subnet *b)
{
  guint prefix = MIN (a->prefix, b->prefix);
  return (a->base & prefix_mask (prefix)) == (b->base & prefix_mask (prefix));
}

static char *
address_text (guint32 host_order)
{
  return g_strdup_printf ("%u.%u.%u.%u", host_order >> 24, (host_order >> 16) & 255,
                          (host_order >> 8) & 255, host_order & 255);
}

char *
berth_network_address_at (const BerthNetwork *net, guint32 offset)
{
  Subnet s;
  if (!parse_subnet (net->subnet, &s, NULL))
    return NULL;
  return address_text (s.base + offset);
}

guint32
berth_network_size (const BerthNetwork *net)
{
  Subnet s;
  return parse_subnet (net->subnet, &s, NULL) ? 1u << (32 - s.prefix) : 0;
}

static char *
network_path (BerthStore *store, const char *name)
{
  g_autofree char *file = g_strconcat (name, ".json", NULL);
  return g_build_filename (store->root, "networks", file, NULL);
}

static BerthNetwork *
network_from_json (JsonNode *node, const char *path, GError **error)
{
  JsonObject *o = berth_json_node_object (node);
  const char *name = berth_json_string (o, "Name", NULL);
  const char *driver = berth_json_string (o, "Driver", NULL);
  const char *subnet = berth_json_string (o, "Subnet", NULL);
  const char *gateway = berth_json_string (o, "Gateway", NULL);
  const char *interface = berth_json_string (o, "Interface", NULL);
  if (!name || !driver || !subnet || !gateway || !interface)
    return berth_fail (error, BERTH_ERROR_INVALID, "%s: not a network record (Name, Driver, "
                       "Subnet, Gateway and Interface needed)", path), NULL;
  BerthNetwork *net = g_new0 (BerthNetwork, 1);
  net->owner = g_strdup (path);
  net->name = g_strdup (name);
  net->driver = g_strdup (driver);
  net->subnet = g_strdup (subnet);
  net->gateway = g_strdup (gateway);
  net->interface = g_strdup (interface);
  return net;
}

JsonNode *
berth_network_to_json (const BerthNetwork *net)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  const char *pairs[][2] = { { "Name", net->name }, { "Driver", net->driver },
                             { "Subnet", net->subnet }, { "Gateway", net->gateway },
                             { "Interface", net->interface } };
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      json_builder_set_member_name (b, pairs[i][0]);
      json_builder_add_string_value (b, pairs[i][1]);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static BerthNetwork *
network_read (BerthStore *store, const char *name, GError **error)
{
  if (!berth_validate_name (name, NULL))
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "network '%s': no such network", name), NULL;
  g_autofree char *path = network_path (store, name);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "network %s: no such network", name), NULL;
  g_autoptr (JsonNode) node = berth_json_read (path, error);
  return node ? network_from_json (node, path, error) : NULL;
}

GPtrArray *
berth_store_networks (BerthStore *store, GError **error)
{
  g_autofree char *dir = g_build_filename (store->root, "networks", NULL);
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) berth_network_free);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  if (d == NULL)
    return g_steal_pointer (&out);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *entry;
  while ((entry = g_dir_read_name (d)))
    if (g_str_has_suffix (entry, ".json"))
      g_ptr_array_add (names, g_strndup (entry, strlen (entry) - 5));
  g_ptr_array_sort (names, berth_compare_string_slots);
  for (guint i = 0; i < names->len; i++)
    {
      BerthNetwork *net = network_read (store, names->pdata[i], error);
      if (net == NULL)
        return NULL;
      g_ptr_array_add (out, net);
    }
  return g_steal_pointer (&out);
}

/* The host's IPv4 routes, as subnets, but for those through @skip (the
 * bridges of berth's own networks, whose routes are theirs). */
static GArray *
host_routes (GPtrArray *skip)
{
  GArray *routes = g_array_new (FALSE, FALSE, sizeof (Subnet));
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/net/route", &text, NULL, NULL))
    return routes;
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 1; lines[i]; i++)
    {
      char iface[IF_NAMESIZE + 1];
      unsigned int dest, gw, flags, refcnt, use, metric, mask;
      if (sscanf (lines[i], "%16s %x %x %x %u %u %u %x", iface, &dest, &gw, &flags, &refcnt, &use,
                  &metric, &mask) != 8 || mask == 0)
        continue;
      gboolean ours = FALSE;
      for (guint j = 0; j < skip->len; j++)
        ours |= g_strcmp0 (((BerthNetwork *) skip->pdata[j])->interface, iface) == 0;
      if (ours)
        continue;
      Subnet s = { .base = ntohl (dest), .prefix = __builtin_popcount (mask) };
      g_array_append_val (routes, s);
    }
  return routes;
}

/* Why @s cannot be used (an overlap, named), or NULL. */
static char *
subnet_taken (const Subnet *s, GPtrArray *networks)
{
  for (guint i = 0; i < networks->len; i++)
    {
      BerthNetwork *other = networks->pdata[i];
      Subnet o;
      if (parse_subnet (other->subnet, &o, NULL) && subnets_overlap (s, &o))
        return g_strdup_printf ("overlaps network %s (%s)", other->name, other->subnet);
    }
  g_autoptr (GArray) routes = host_routes (networks);
  for (guint i = 0; i < routes->len; i++)
    {
      Subnet *r = &g_array_index (routes, Subnet, i);
      if (subnets_overlap (s, r))
        {
          g_autofree char *base = address_text (r->base);
          return g_strdup_printf ("overlaps the host's route to %s/%u", base, r->prefix);
        }
    }
  return NULL;
}

/* "berthN" for the lowest N no network of the store and no host link has. */
static char *
free_bridge_name (GPtrArray *networks)
{
  for (guint n = 0;; n++)
    {
      g_autofree char *name = g_strdup_printf ("berth%u", n);
      gboolean used = if_nametoindex (name) != 0;
      for (guint i = 0; i < networks->len && !used; i++)
        used = g_strcmp0 (((BerthNetwork *) networks->pdata[i])->interface, name) == 0;
      if (!used)
        return g_steal_pointer (&name);
    }
}

/* Docker's default pools: 172.17-31.0.0/16, then 192.168.N.0/20; 172.17 is
 * docker0's, so berth starts at 172.18. */
static char *
free_subnet (GPtrArray *networks, GError **error)
{
  for (guint i = 18; i <= 31 + 16; i++)
    {
      Subnet s = i <= 31 ? (Subnet){ .base = (172u << 24) | (i << 16), .prefix = 16 }
                         : (Subnet){ .base = (192u << 24) | (168u << 16) | ((i - 32) * 16u << 8),
                                     .prefix = 20 };
      g_autofree char *why = subnet_taken (&s, networks);
      if (why == NULL)
        {
          g_autofree char *base = address_text (s.base);
          return g_strdup_printf ("%s/%u", base, s.prefix);
        }
    }
  return berth_fail (error, BERTH_ERROR_BUSY, "no free subnet in 172.18-31.0.0/16 or "
                     "192.168.0-240.0/20: name one with --subnet"), NULL;
}

/* Why @s cannot be used: an overlap with another network of the store,
 * or, with @routes, with a route of the host's. NULL when it is free. */
static char *
subnet_conflict (const Subnet *s, GPtrArray *networks, gboolean routes)
{
  g_autofree char *why = subnet_taken (s, networks);
  if (why == NULL || routes || strstr (why, "the host's route") == NULL)
    return g_steal_pointer (&why);
  return NULL;
}

/* The gateway: @given, which must be a host of @s, or the first host. */
static char *
gateway_for (const Subnet *s, const char *given, GError **error)
{
  if (given == NULL)
    return address_text (s->base + 1);
  struct in_addr in;
  guint32 size = 1u << (32 - s->prefix);
  guint32 host = inet_pton (AF_INET, given, &in) == 1 ? ntohl (in.s_addr) : 0;
  if (host <= s->base || host >= s->base + size - 1)
    {
      g_autofree char *base = address_text (s->base);
      return berth_fail (error, BERTH_ERROR_INVALID, "--gateway '%s': not a host address of "
                         "%s/%u", given, base, s->prefix), NULL;
    }
  return g_strdup (given);
}

BerthNetwork *
berth_store_network_create (BerthStore *store, const BerthNetworkRequest *req, GError **error)
{
  if (!berth_validate_name (req->name, error))
    return NULL;
  /* --network none and host are modes, not networks; bridge, berth's
   * default, is made by berth on first use and goes with its last user. */
  if (strcmp (req->name, "none") == 0 || strcmp (req->name, "host") == 0
      || (strcmp (req->name, BERTH_DEFAULT_NETWORK) == 0 && !req->is_default))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "network %s: a name berth keeps (--network none, host and the default "
                       "network bridge)", req->name), NULL;
  if (berth_network_driver_lookup (req->driver, error) == NULL)
    return NULL;
  /* A macvlan network lives on its parent's LAN, whose route the host
   * has: only the store's other networks must not overlap it. */
  gboolean on_parent = strcmp (req->driver, "macvlan") == 0;
  if (on_parent && req->parent == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "network %s: a macvlan network needs -o parent=INTERFACE", req->name), NULL;
  if (!on_parent && req->parent)
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "network %s: -o parent= is for macvlan networks, not %s", req->name,
                       req->driver), NULL;
  g_autofree char *path = network_path (store, req->name);
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    return berth_fail (error, BERTH_ERROR_EXISTS, "network %s: already exists", req->name), NULL;
  g_autoptr (GPtrArray) networks = berth_store_networks (store, error);
  if (networks == NULL)
    return NULL;
  g_autofree char *chosen = req->subnet ? g_strdup (req->subnet) : free_subnet (networks, error);
  if (chosen == NULL)
    return NULL;
  Subnet s;
  if (!parse_subnet (chosen, &s, error))
    return NULL;
  g_autofree char *why = subnet_conflict (&s, networks, !on_parent);
  if (why)
    return berth_fail (error, BERTH_ERROR_BUSY, "network %s: subnet %s %s", req->name, chosen,
                       why), NULL;
  g_autoptr (BerthNetwork) net = g_new0 (BerthNetwork, 1);
  net->gateway = gateway_for (&s, req->gateway, error);
  if (net->gateway == NULL)
    return NULL;
  net->name = g_strdup (req->name);
  net->driver = g_strdup (req->driver);
  net->subnet = g_steal_pointer (&chosen);
  net->interface = on_parent ? g_strdup (req->parent) : free_bridge_name (networks);
  net->owner = g_strdup (path);
  g_autofree char *dir = g_build_filename (store->root, "networks", NULL);
  g_autoptr (JsonNode) node = berth_network_to_json (net);
  if (!berth_mkdir_p (dir, 0700, error) || !berth_json_write (path, node, error))
    return NULL;
  return g_steal_pointer (&net);
}

BerthNetwork *
berth_store_network (BerthStore *store, const char *name, GError **error)
{
  return network_read (store, name, error);
}

gboolean
berth_store_network_remove (BerthStore *store, const char *name, GError **error)
{
  g_autofree char *path = network_path (store, name);
  if (unlink (path) < 0)
    return errno == ENOENT ? berth_fail (error, BERTH_ERROR_NOT_FOUND,
                                         "network %s: no such network", name)
                           : berth_fail_errno (error, errno, "remove %s", path);
  return TRUE;
}
