/* A container's place on networks (include/berth/network.h): its leases,
 * containers/<id>/network.json for eth0, the network it was run on, and
 * network-ethN.json for each network connected later (`network connect`,
 * remembered in connected.json for the next start), written atomically
 * under the store lock when the container starts or is connected and
 * removed when it is finished or disconnected.
 *
 * A lease counts only while its container is live (a running record whose
 * monitor is alive), so a container lost to a SIGKILL of everything holds
 * no address: the next start reuses it, and the kernel has already taken
 * the container's end of its link away with its namespace. */
#include "config.h"
#include "runtime-internal.h"
#include <berth/network.h>
#include <berth/family.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/json.h>
#include <berth/fdutil.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/wait.h>
#include <unistd.h>

#define NETWORK_ANNOTATION "org.berth.network"
#define PORTS_ANNOTATION "org.berth.ports"
/* eth0 to eth9: the host end's name ("vb" + 10 of the id + the digit)
 * must fit IFNAMSIZ. */
#define MAX_INTERFACES 10

static void refresh_peers (BerthStore *store, const char *network, BerthContainer *self,
                           GPtrArray *self_leases);

static const char *
annotation (JsonNode *spec, const char *key, const char *fallback)
{
  JsonObject *annotations = berth_json_object (berth_json_node_object (spec), "annotations");
  return berth_json_string (annotations, key, fallback);
}

void
berth_lease_free (BerthLease *lease)
{
  if (lease == NULL)
    return;
  g_free (lease->network);
  g_free (lease->address);
  g_free (lease->mac);
  g_free (lease->host_end);
  g_free (lease->ports);
  g_free (lease->driver);
  g_free (lease->ifname);
  g_free (lease);
}

void
berth_network_plan_free (BerthNetworkPlan *plan)
{
  if (plan == NULL)
    return;
  g_ptr_array_unref (plan->networks);
  g_ptr_array_unref (plan->leases);
  g_free (plan);
}


const char *
berth_spec_network (JsonNode *spec)
{
  return annotation (spec, NETWORK_ANNOTATION, NULL);
}

const char *
berth_spec_network_container (JsonNode *spec)
{
  return annotation (spec, "org.berth.network-container", NULL);
}

/* Copy @from's etc file @file over @to's: a container in another's
 * network namespace resolves names as that one does. */
static gboolean
copy_etc_file (BerthStore *store, BerthContainer *from, BerthContainer *to, const char *file,
               GError **error)
{
  g_autofree char *src = berth_container_dir (store, from, file);
  g_autofree char *dst = berth_container_dir (store, to, file);
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (src, &text, &len, &local))
    return berth_fail (error, BERTH_ERROR_FAILED, "container %s: %s", from->name, local->message);
  return berth_write_file_atomic (dst, text, len, 0644, error);
}

static gboolean
same_namespace (pid_t pid, const char *type)
{
  struct stat mine, theirs;
  g_autofree char *self = g_strdup_printf ("/proc/self/ns/%s", type);
  g_autofree char *other = g_strdup_printf ("/proc/%d/ns/%s", (int) pid, type);
  return stat (self, &mine) == 0 && stat (other, &theirs) == 0 && mine.st_ino == theirs.st_ino
         && mine.st_dev == theirs.st_dev;
}

/* A process of the container's in its namespaces: the recorded pid is not
 * with every driver, and its cgroup may hold a process of the driver's
 * (lxc's keeper) that is still in the host's; every container has a pid
 * namespace of its own. 0 when there is none. */
static pid_t
process_inside (GArray *pids)
{
  for (guint i = 0; i < pids->len; i++)
    {
      pid_t pid = g_array_index (pids, pid_t, i);
      if (!same_namespace (pid, "pid"))
        return pid;
    }
  return 0;
}

static gboolean
is_live (BerthStore *store, BerthContainer *c)
{
  g_autoptr (BerthContainerState) s = berth_state_read (store, c, NULL);
  return s && berth_state_is_live (s) && berth_monitor_alive (s);
}

/* A process of running container @c's in its namespaces, or 0 with
 * @error. */
static pid_t
running_process_inside (BerthStore *store, BerthContainer *c, GError **error)
{
  g_autoptr (BerthContainerState) s = berth_state_read (store, c, error);
  if (s == NULL)
    return 0;
  if (!berth_state_is_live (s) || !berth_monitor_alive (s) || s->pid <= 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "container %s is not running", c->name), 0;
  g_autoptr (GArray) pids = berth_container_pids (store, c, error);
  if (pids == NULL)
    return 0;
  pid_t inside = process_inside (pids);
  if (inside == 0)
    berth_fail (error, BERTH_ERROR_INVALID, "container %s has no process in namespaces of its "
                "own", c->name);
  return inside;
}

gboolean
berth_container_join_network_of (BerthStore *store, BerthContainer *c, JsonNode *spec,
                                 const char *other_id, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (BerthContainer) other = berth_container_lookup (store, other_id, &local);
  if (other == NULL)
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "--network container:%.12s: that container "
                       "is gone", other_id);
  pid_t inside = running_process_inside (store, other, error);
  if (inside == 0)
    return g_prefix_error (error, "--network container:%s: ", other->name), FALSE;
  return berth_spec_join_network (spec, inside, error)
         && copy_etc_file (store, other, c, "hosts", error)
         && copy_etc_file (store, other, c, "resolv.conf", error);
}


/* The lease file of interface @ifname. */
static char *
lease_path (BerthStore *store, BerthContainer *c, const char *ifname)
{
  g_autofree char *file = strcmp (ifname, "eth0") == 0
                              ? g_strdup ("network.json")
                              : g_strdup_printf ("network-%s.json", ifname);
  return berth_container_dir (store, c, file);
}

static BerthLease *
lease_read (BerthStore *store, BerthContainer *c, const char *ifname)
{
  g_autofree char *path = lease_path (store, c, ifname);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) node = berth_json_read (path, &error);
  JsonObject *o = node ? berth_json_node_object (node) : NULL;
  const char *fields[4];
  const char *names[] = { "Network", "Address", "MAC", "HostEnd" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if ((fields[i] = berth_json_string (o, names[i], NULL)) == NULL)
      {
        /* Said, not hidden: the address it holds counts as free. */
        g_autofree char *why = error ? g_strdup (error->message)
                                     : g_strdup_printf ("no %s", names[i]);
        g_printerr ("berth: container %s: lease %s is unreadable (%s), so it is ignored\n",
                    c->name, path, why);
        return NULL;
      }
  BerthLease *lease = g_new0 (BerthLease, 1);
  lease->network = g_strdup (fields[0]);
  lease->address = g_strdup (fields[1]);
  lease->mac = g_strdup (fields[2]);
  lease->host_end = g_strdup (fields[3]);
  lease->ports = g_strdup (berth_json_string (o, "Ports", ""));
  lease->driver = g_strdup (berth_json_string (o, "Driver", "bridge"));
  lease->ifname = g_strdup (ifname);
  return lease;
}

/* Every lease of @c's, eth0's first. eth0's is made first and released
 * last (berth_container_network_release), so a container without it has
 * none: a start looks at one file of each stopped container, not ten. */
static GPtrArray *
container_leases (BerthStore *store, BerthContainer *c)
{
  GPtrArray *leases = g_ptr_array_new_with_free_func ((GDestroyNotify) berth_lease_free);
  for (guint i = 0; i < MAX_INTERFACES; i++)
    {
      g_autofree char *ifname = g_strdup_printf ("eth%u", i);
      BerthLease *lease = lease_read (store, c, ifname);
      if (lease)
        g_ptr_array_add (leases, lease);
      else if (i == 0)
        break;
    }
  return leases;
}

/* The lease of @leases on @network, or NULL. */
static const BerthLease *
lease_on (GPtrArray *leases, const char *network)
{
  for (guint i = 0; i < leases->len; i++)
    {
      const BerthLease *lease = leases->pdata[i];
      if (strcmp (lease->network, network) == 0)
        return lease;
    }
  return NULL;
}

static gboolean
lease_write (BerthStore *store, BerthContainer *c, const BerthLease *lease, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  const char *pairs[][2] = { { "Network", lease->network }, { "Address", lease->address },
                             { "MAC", lease->mac }, { "HostEnd", lease->host_end },
                             { "Ports", lease->ports ? lease->ports : "" },
                             { "Driver", lease->driver } };
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    {
      json_builder_set_member_name (b, pairs[i][0]);
      json_builder_add_string_value (b, pairs[i][1]);
    }
  json_builder_end_object (b);
  g_autoptr (JsonNode) node = json_builder_get_root (b);
  g_autofree char *path = lease_path (store, c, lease->ifname);
  return berth_json_write (path, node, error);
}

/* A live container (a running record whose monitor is alive) that holds
 * leases. */
typedef struct {
  BerthContainer *c;
  GPtrArray *leases;  /* eth0's first */
} LiveLease;

static void
live_lease_free (LiveLease *l)
{
  berth_container_free (l->c);
  g_ptr_array_unref (l->leases);
  g_free (l);
}

/* Every live container's leases but @self_id's; those with a lease on
 * @network only, unless it is NULL. */
static GPtrArray *
live_leases (BerthStore *store, const char *network, const char *self_id, GError **error)
{
  g_autoptr (GPtrArray) containers = berth_container_list (store, error);
  if (containers == NULL)
    return NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) live_lease_free);
  for (guint i = 0; i < containers->len; i++)
    {
      BerthContainer *c = containers->pdata[i];
      if (self_id && strcmp (c->id, self_id) == 0)
        continue;
      g_autoptr (GPtrArray) leases = container_leases (store, c);
      if (leases->len == 0 || (network && lease_on (leases, network) == NULL))
        continue;
      g_autoptr (BerthContainerState) s = berth_state_read (store, c, NULL);
      if (s == NULL || !berth_state_is_live (s) || !berth_monitor_alive (s))
        continue;
      LiveLease *l = g_new0 (LiveLease, 1);
      l->leases = g_steal_pointer (&leases);
      l->c = g_ptr_array_steal_index (containers, i--);
      g_ptr_array_add (out, l);
    }
  return out;
}

static gboolean
ports_parse (const char *text, GArray **out, GError **error)
{
  g_autoptr (GArray) ports = g_array_new (FALSE, TRUE, sizeof (BerthPort));
  g_auto (GStrv) items = g_strsplit (text ? text : "", ",", -1);
  for (guint i = 0; items[i]; i++)
    {
      BerthPort port;
      if (*items[i] == '\0')
        continue;
      if (!berth_port_parse (items[i], &port, error))
        return FALSE;
      g_array_append_val (ports, port);
    }
  *out = g_steal_pointer (&ports);
  return TRUE;
}

/* The canonical comma list, host ports as picked. */
static char *
ports_to_string (GArray *ports)
{
  g_autoptr (GString) out = g_string_new (NULL);
  for (guint i = 0; i < ports->len; i++)
    {
      g_autofree char *one = berth_port_to_string (&g_array_index (ports, BerthPort, i));
      g_string_append_printf (out, "%s%s", i ? "," : "", one);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static gboolean
ports_clash (const BerthPort *a, const BerthPort *b)
{
  return a->host_port == b->host_port && strcmp (a->protocol, b->protocol) == 0
         && (strcmp (a->host_ip, b->host_ip) == 0 || strcmp (a->host_ip, "0.0.0.0") == 0
             || strcmp (b->host_ip, "0.0.0.0") == 0);
}

/* Does live container @l publish a port that clashes with @port? */
static gboolean
published_by (const LiveLease *l, const BerthPort *port)
{
  for (guint i = 0; i < l->leases->len; i++)
    {
      const BerthLease *lease = l->leases->pdata[i];
      g_autoptr (GArray) theirs = NULL;
      if (!ports_parse (lease->ports, &theirs, NULL))
        continue;
      for (guint k = 0; k < theirs->len; k++)
        if (ports_clash (port, &g_array_index (theirs, BerthPort, k)))
          return TRUE;
    }
  return FALSE;
}

/* Could a program of the host take @port? The forwarding would hide it. */
static gboolean
port_free_on_host (const BerthPort *port, GError **error)
{
  gboolean udp = strcmp (port->protocol, "udp") == 0;
  int sock = socket (AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return berth_fail_errno (error, errno, "socket");
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (port->host_port) };
  inet_pton (AF_INET, port->host_ip, &addr.sin_addr);
  gboolean ok = bind (sock, (struct sockaddr *) &addr, sizeof addr) == 0;
  int errsv = errno;
  close (sock);
  if (!ok)
    return berth_fail_errno (error, errsv, "-p %s:%u/%s: the host's port cannot be published",
                             port->host_ip, port->host_port, port->protocol);
  return TRUE;
}

/* A host port for @port (host port 0: -P, or -p with the container's port
 * alone): one the kernel says is free for its protocol and address, and
 * that no live container publishes. */
static gboolean
pick_host_port (BerthPort *port, GPtrArray *live, GError **error)
{
  gboolean udp = strcmp (port->protocol, "udp") == 0;
  for (int tries = 0; tries < 64; tries++)
    {
      int sock = socket (AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
      if (sock < 0)
        return berth_fail_errno (error, errno, "socket");
      struct sockaddr_in addr = { .sin_family = AF_INET };
      socklen_t len = sizeof addr;
      inet_pton (AF_INET, port->host_ip, &addr.sin_addr);
      gboolean ok = bind (sock, (struct sockaddr *) &addr, sizeof addr) == 0
                    && getsockname (sock, (struct sockaddr *) &addr, &len) == 0;
      int errsv = errno;
      close (sock);
      if (!ok)
        return berth_fail_errno (error, errsv, "-p %u/%s: pick a free port of the host's",
                                 port->container_port, port->protocol);
      port->host_port = ntohs (addr.sin_port);
      gboolean taken = FALSE;
      for (guint j = 0; j < live->len && !taken; j++)
        taken = published_by (live->pdata[j], port);
      if (!taken)
        return TRUE;
    }
  return berth_fail (error, BERTH_ERROR_BUSY, "-p %u/%s: no free port of the host's found",
                     port->container_port, port->protocol);
}

/* BUSY naming the container that publishes one of @ports already, or
 * the host's error when a program of its own holds one. */
static gboolean
ports_available (GArray *ports, GPtrArray *live, GError **error)
{
  for (guint i = 0; i < ports->len; i++)
    {
      BerthPort *want = &g_array_index (ports, BerthPort, i);
      if (want->host_port == 0 && !pick_host_port (want, live, error))
        return FALSE;
      for (guint j = 0; j < i; j++)
        if (ports_clash (want, &g_array_index (ports, BerthPort, j)))
          return berth_fail (error, BERTH_ERROR_INVALID, "-p %s:%u/%s: given twice",
                             want->host_ip, want->host_port, want->protocol);
      for (guint j = 0; j < live->len; j++)
        {
          LiveLease *l = live->pdata[j];
          if (published_by (l, want))
            return berth_fail (error, BERTH_ERROR_BUSY,
                               "-p %s:%u/%s: port already published by container %s",
                               want->host_ip, want->host_port, want->protocol, l->c->name);
        }
      if (!port_free_on_host (want, error))
        return FALSE;
    }
  return TRUE;
}

/* Docker's: 02:42 and the address's four bytes. */
static char *
mac_for (const char *address)
{
  guint a = 0, b = 0, c = 0, d = 0;
  sscanf (address, "%u.%u.%u.%u", &a, &b, &c, &d);
  return g_strdup_printf ("02:42:%02x:%02x:%02x:%02x", a & 255, b & 255, c & 255, d & 255);
}

/* --ip: an address of @net's that is not its network, gateway or
 * broadcast address, and no live container's. */
static char *
requested_address (const BerthNetwork *net, const char *ip, GHashTable *used, GError **error)
{
  guint32 size = berth_network_size (net);
  g_autofree char *first = berth_network_address_at (net, 0);
  struct in_addr base, want;
  guint32 offset = G_MAXUINT32;
  if (first && inet_pton (AF_INET, first, &base) == 1 && inet_pton (AF_INET, ip, &want) == 1)
    offset = ntohl (want.s_addr) - ntohl (base.s_addr);
  if (offset == 0 || offset >= size - 1 || strcmp (ip, net->gateway) == 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "--ip %s: not a container address of network "
                       "%s (%s, gateway %s)", ip, net->name, net->subnet, net->gateway), NULL;
  g_autofree char *address = g_strconcat (ip, strchr (net->subnet, '/'), NULL);
  if (g_hash_table_contains (used, address))
    return berth_fail (error, BERTH_ERROR_BUSY, "--ip %s: another container of network %s has it",
                       ip, net->name), NULL;
  return g_steal_pointer (&address);
}

/* The lowest address of @net that no live container holds and that is
 * not the gateway. */
static char *
free_address (const BerthNetwork *net, GHashTable *used, GError **error)
{
  guint32 size = berth_network_size (net);
  const char *slash = strchr (net->subnet, '/');
  /* 0 is the network, the last the broadcast address. */
  for (guint32 offset = 1; offset + 1 < size; offset++)
    {
      g_autofree char *host = berth_network_address_at (net, offset);
      if (strcmp (host, net->gateway) == 0)
        continue;
      g_autofree char *address = g_strconcat (host, slash, NULL);
      if (!g_hash_table_contains (used, address))
        return g_steal_pointer (&address);
    }
  return berth_fail (error, BERTH_ERROR_BUSY, "network %s: every address of %s is taken",
                     net->name, net->subnet), NULL;
}

/* An address of @net for @c's interface eth@index: @ip, or the lowest
 * no live container holds; @mac or one made from the address; @ports
 * (eth0's only) checked free and picked where 0. Recorded in its lease
 * file. */
static BerthLease *
lease_make (BerthStore *store, BerthContainer *c, const BerthNetwork *net, guint index,
            const char *ip, const char *mac, const char *ports_text, GError **error)
{
  g_autoptr (GArray) ports = NULL;
  if (!ports_parse (ports_text, &ports, error))
    return NULL;
  g_autoptr (GPtrArray) live = live_leases (store, NULL, c->id, error);
  if (live == NULL || !ports_available (ports, live, error))
    return NULL;
  g_autoptr (GHashTable) used = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < live->len; i++)
    {
      LiveLease *l = live->pdata[i];
      const BerthLease *theirs = lease_on (l->leases, net->name);
      if (theirs)
        g_hash_table_add (used, theirs->address);
    }
  g_autofree char *address = ip ? requested_address (net, ip, used, error)
                                : free_address (net, used, error);
  if (address == NULL)
    return NULL;
  g_autoptr (BerthLease) lease = g_new0 (BerthLease, 1);
  lease->network = g_strdup (net->name);
  g_autofree char *host = g_strndup (address, strcspn (address, "/"));
  lease->mac = mac ? g_strdup (mac) : mac_for (host);
  lease->address = g_steal_pointer (&address);
  lease->host_end = index == 0 ? g_strdup_printf ("vb%.10s", c->id)
                               : g_strdup_printf ("vb%.10s%u", c->id, index);
  lease->ports = ports_to_string (ports);
  lease->driver = g_strdup (net->driver);
  lease->ifname = g_strdup_printf ("eth%u", index);
  if (!lease_write (store, c, lease, error))
    return NULL;
  return g_steal_pointer (&lease);
}

static BerthNetworkEndpoint
endpoint_of (const BerthLease *lease, pid_t pid)
{
  return (BerthNetworkEndpoint) { .address = lease->address, .mac = lease->mac,
                                  .host_end = lease->host_end, .ifname = lease->ifname,
                                  .default_route = strcmp (lease->ifname, "eth0") == 0,
                                  .pid = pid };
}

static gboolean
lease_publish (BerthStore *store, BerthContainer *c, const BerthNetwork *net,
               const BerthLease *lease, GError **error)
{
  g_autoptr (GArray) ports = NULL;
  const BerthNetworkOps *ops = berth_network_driver_lookup (net->driver, error);
  g_autofree char *owner = berth_container_dir (store, c, NULL);
  BerthNetworkEndpoint ep = endpoint_of (lease, 0);
  ep.owner = owner;
  return ops && ports_parse (lease->ports, &ports, error)
         && berth_network_publish (ops, net, &ep, (const BerthPort *) ports->data, ports->len,
                                   error);
}

static gboolean
lease_attach (const BerthNetwork *net, const BerthLease *lease, pid_t pid, GError **error)
{
  const BerthNetworkOps *ops = berth_network_driver_lookup (net->driver, error);
  BerthNetworkEndpoint ep = endpoint_of (lease, pid);
  return ops && berth_network_attach (ops, net, &ep, error);
}

gboolean
berth_network_plan_attach (const BerthNetworkPlan *plan, pid_t pid, GError **error)
{
  for (guint i = 0; i < plan->leases->len; i++)
    if (!lease_attach (plan->networks->pdata[i], plan->leases->pdata[i], pid, error))
      return FALSE;
  return TRUE;
}

/* Unpublish and detach @lease (from the living container whose namespace
 * @pid is in, or 0 when it is gone), and drop its file. The lease says
 * all that needs (the driver, the host end): the network's record may be
 * gone already, with the default network when its last live container
 * went before this one. */
static gboolean
lease_release (BerthStore *store, BerthContainer *c, const BerthLease *lease, pid_t pid,
               GError **error)
{
  const BerthNetworkOps *ops = berth_network_driver_lookup (lease->driver, error);
  if (ops == NULL)
    return FALSE;
  g_autoptr (BerthNetwork) net = berth_store_network (store, lease->network, NULL);
  BerthNetwork gone = { .name = lease->network, .driver = lease->driver, .interface = "" };
  const BerthNetwork *on = net ? net : &gone;
  BerthNetworkEndpoint ep = endpoint_of (lease, pid);
  if ((*lease->ports && !berth_network_unpublish (ops, on, &ep, error))
      || !berth_network_detach (ops, on, &ep, error))
    return FALSE;
  g_autofree char *path = lease_path (store, c, lease->ifname);
  if (unlink (path) < 0 && errno != ENOENT)
    return berth_fail_errno (error, errno, "remove %s", path);
  return TRUE;
}

gboolean
berth_container_network_release (BerthStore *store, BerthContainer *c, GError **error)
{
  g_autoptr (GPtrArray) leases = container_leases (store, c);
  g_autoptr (GError) first = NULL;
  /* eth0's last: while a later one is left, so is eth0's, which is how
   * container_leases finds them. */
  for (guint i = leases->len; i > 0; i--)
    {
      g_autoptr (GError) local = NULL;
      if (!lease_release (store, c, leases->pdata[i - 1], 0, &local) && first == NULL)
        first = g_steal_pointer (&local);
    }
  /* Peers are told once every lease is gone, so none still lists @c. */
  for (guint i = 0; i < leases->len; i++)
    {
      const BerthLease *lease = leases->pdata[i];
      refresh_peers (store, lease->network, c, NULL);
      berth_network_drop_idle_default (store, lease->network, c->id);
    }
  if (first)
    return g_propagate_error (error, g_steal_pointer (&first)), FALSE;
  return TRUE;
}

static gboolean
spec_has_network_namespace (JsonNode *spec)
{
  JsonObject *linux_ = berth_json_object (berth_json_node_object (spec), "linux");
  JsonArray *list = berth_json_array (linux_, "namespaces");
  for (guint i = 0; list && i < json_array_get_length (list); i++)
    if (g_strcmp0 (berth_json_string (berth_json_array_object (list, i), "type", NULL), "network")
        == 0)
      return TRUE;
  return FALSE;
}

static gboolean
is_loopback_nameserver (const char *line)
{
  g_auto (GStrv) words = g_strsplit_set (line, " \t", -1);
  guint n = 0;
  const char *fields[2] = { NULL, NULL };
  for (guint i = 0; words[i] && n < 2; i++)
    if (*words[i])
      fields[n++] = words[i];
  return n == 2 && strcmp (fields[0], "nameserver") == 0
         && (g_str_has_prefix (fields[1], "127.") || strcmp (fields[1], "::1") == 0);
}

/* The host's resolv.conf as Docker gives it to a container with a network
 * namespace of its own: a loopback nameserver (systemd-resolved's
 * 127.0.0.53, dnsmasq) is the host's, unreachable from there, so it goes;
 * with none left, Google's public ones, as Docker falls back to. --dns and
 * --dns-search (@dns, @search: comma lists, "" for none) replace the
 * host's nameserver and search lines. */
static char *
container_resolv_conf (gboolean own_namespace, const char *dns, const char *search)
{
  g_autofree char *host = NULL;
  if (!g_file_get_contents ("/etc/resolv.conf", &host, NULL, NULL))
    host = g_strdup ("");
  if (!own_namespace)
    return g_steal_pointer (&host);
  g_autoptr (GString) out = g_string_new (NULL);
  gboolean any = FALSE;
  g_auto (GStrv) lines = g_strsplit (host, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      gboolean nameserver = g_str_has_prefix (lines[i], "nameserver");
      gboolean search_line = g_str_has_prefix (lines[i], "search")
                             || g_str_has_prefix (lines[i], "domain");
      if (*lines[i] == '\0' || is_loopback_nameserver (lines[i]) || (nameserver && *dns)
          || (search_line && *search))
        continue;
      any |= nameserver;
      g_string_append_printf (out, "%s\n", lines[i]);
    }
  g_auto (GStrv) servers = g_strsplit (dns, ",", -1);
  for (char **d = servers; *d && **d; d++, any = TRUE)
    g_string_append_printf (out, "nameserver %s\n", *d);
  if (*search)
    {
      g_autofree char *spaced = g_strdup (search);
      g_string_append_printf (out, "search %s\n", g_strdelimit (spaced, ",", ' '));
    }
  if (!any)
    g_string_append (out, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* One line of a hosts file: a live container on the same network. */
typedef struct {
  char *address; /* without its prefix length */
  char *names;   /* "NAME ID12" */
} Peer;

static void
peer_free (Peer *p)
{
  g_free (p->address);
  g_free (p->names);
  g_free (p);
}

static Peer *
peer_new (BerthContainer *c, const BerthLease *lease)
{
  Peer *p = g_new0 (Peer, 1);
  p->address = g_strndup (lease->address, strcspn (lease->address, "/"));
  p->names = g_strdup_printf ("%s %.12s", c->name, c->id);
  return p;
}

/* The hosts-file lines @c's networks (@leases) give it: the other live
 * containers on each, and @joining (a container starting, not live yet,
 * with @joining_leases) where it shares one. */
static GPtrArray *
peers_for (BerthStore *store, BerthContainer *c, GPtrArray *leases, BerthContainer *joining,
           GPtrArray *joining_leases)
{
  GPtrArray *peers = g_ptr_array_new_with_free_func ((GDestroyNotify) peer_free);
  for (guint i = 0; i < leases->len; i++)
    {
      const char *network = ((BerthLease *) leases->pdata[i])->network;
      g_autoptr (GPtrArray) live = live_leases (store, network, c->id, NULL);
      for (guint j = 0; live && j < live->len; j++)
        {
          LiveLease *l = live->pdata[j];
          if (joining == NULL || strcmp (l->c->id, joining->id) != 0)
            g_ptr_array_add (peers, peer_new (l->c, lease_on (l->leases, network)));
        }
      const BerthLease *theirs = joining ? lease_on (joining_leases, network) : NULL;
      if (theirs)
        g_ptr_array_add (peers, peer_new (joining, theirs));
    }
  return peers;
}

/* localhost as Docker writes it; with a lease, the container's own
 * address for its hostname, then the other containers of its network by
 * name (those of @peers not at @lease's address). */
static char *
container_hosts (JsonNode *spec, gboolean own_namespace, const BerthLease *lease,
                 GPtrArray *peers)
{
  const char *hostname = berth_json_string (berth_json_node_object (spec), "hostname", "");
  g_autofree char *host = NULL;
  g_autoptr (GString) extra = g_string_new (NULL);
  g_auto (GStrv) added = g_strsplit (annotation (spec, "org.berth.add-hosts", ""), ",", -1);
  for (char **a = added; *a && **a; a++)
    {
      const char *colon = strchr (*a, ':');
      g_string_append_printf (extra, "%s\t%.*s\n", colon + 1, (int) (colon - *a), *a);
    }
  if (!own_namespace && g_file_get_contents ("/etc/hosts", &host, NULL, NULL))
    return g_strconcat (host, extra->str, NULL);
  g_autoptr (GString) out = g_string_new ("127.0.0.1\tlocalhost\n"
                                          "::1\tlocalhost ip6-localhost ip6-loopback\n"
                                          "fe00::0\tip6-localnet\n"
                                          "ff00::0\tip6-mcastprefix\n"
                                          "ff02::1\tip6-allnodes\n"
                                          "ff02::2\tip6-allrouters\n");
  gsize own_len = lease ? strcspn (lease->address, "/") : 0;
  if (lease)
    g_string_append_printf (out, "%.*s\t%s\n", (int) own_len, lease->address, hostname);
  for (guint i = 0; peers && i < peers->len; i++)
    {
      Peer *p = peers->pdata[i];
      if (!(strlen (p->address) == own_len && strncmp (p->address, lease->address, own_len) == 0))
        g_string_append_printf (out, "%s\t%s\n", p->address, p->names);
    }
  g_string_append (out, extra->str);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static gboolean
write_etc_files (BerthStore *store, BerthContainer *c, JsonNode *spec, const BerthLease *lease,
                 GPtrArray *peers, GError **error)
{
  const char *hostname = berth_json_string (berth_json_node_object (spec), "hostname", "");
  gboolean own = spec_has_network_namespace (spec);
  g_autofree char *hostname_line = g_strconcat (hostname, "\n", NULL);
  g_autofree char *hosts = container_hosts (spec, own, lease, peers);
  g_autofree char *resolv = container_resolv_conf (own, annotation (spec, "org.berth.dns", ""),
                                                   annotation (spec, "org.berth.dns-search", ""));
  const char *files[][2] = { { "hostname", hostname_line }, { "hosts", hosts },
                             { "resolv.conf", resolv } };
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *path = berth_container_dir (store, c, files[i][0]);
      if (!berth_write_file_atomic (path, files[i][1], strlen (files[i][1]), 0644, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
berth_container_write_etc (BerthStore *store, BerthContainer *c, JsonNode *spec,
                           const BerthLease *lease, GError **error)
{
  return write_etc_files (store, c, spec, lease, NULL, error);
}

/* A running container's hosts file is bound into its mounts: rewritten in
 * place (same inode), never renamed over. */
static gboolean
rewrite_in_place (const char *path, const char *text, GError **error)
{
  int fd = open (path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", path);
  gsize len = strlen (text);
  gboolean ok = pwrite (fd, text, len, 0) == (gssize) len && ftruncate (fd, len) == 0;
  int errsv = errno;
  close (fd);
  return ok || berth_fail_errno (error, errsv, "write %s", path);
}

/* Rewrite the hosts file of running container @c (with @leases) for the
 * peers it has now, @joining among them (see peers_for). */
static void
refresh_hosts (BerthStore *store, BerthContainer *c, GPtrArray *leases, BerthContainer *joining,
               GPtrArray *joining_leases)
{
  g_autoptr (JsonNode) spec = berth_container_spec (store, c, NULL);
  if (spec == NULL || leases->len == 0)
    return;
  g_autoptr (GPtrArray) peers = peers_for (store, c, leases, joining, joining_leases);
  g_autofree char *hosts = container_hosts (spec, TRUE, leases->pdata[0], peers);
  g_autofree char *path = berth_container_dir (store, c, "hosts");
  g_autoptr (GError) error = NULL;
  if (!rewrite_in_place (path, hosts, &error))
    g_printerr ("berth: container %s: %s\n", c->name, error->message);
}

/* Give each running peer of @network the hosts file that lists the
 * others, @self included when @self_leases (it is starting) are given. */
static void
refresh_peers (BerthStore *store, const char *network, BerthContainer *self,
               GPtrArray *self_leases)
{
  g_autoptr (GPtrArray) live = live_leases (store, network, self->id, NULL);
  for (guint i = 0; live && i < live->len; i++)
    {
      LiveLease *l = live->pdata[i];
      refresh_hosts (store, l->c, l->leases, self_leases ? self : NULL, self_leases);
    }
}

void
berth_container_network_names_changed (BerthStore *store, BerthContainer *c)
{
  g_autoptr (GPtrArray) leases = container_leases (store, c);
  if (leases->len == 0 || !is_live (store, c))
    return;
  for (guint i = 0; i < leases->len; i++)
    refresh_peers (store, ((BerthLease *) leases->pdata[i])->network, c, NULL);
}

/* Start of @c on its networks (@leases): its etc files with the other
 * running containers there by name, and theirs rewritten (in place: they
 * are bound into running containers) to list @c. */
static gboolean
join_names (BerthStore *store, BerthContainer *c, JsonNode *spec, GPtrArray *leases,
            GError **error)
{
  g_autoptr (GPtrArray) peers = peers_for (store, c, leases, NULL, NULL);
  if (!write_etc_files (store, c, spec, leases->pdata[0], peers, error))
    return FALSE;
  for (guint i = 0; i < leases->len; i++)
    refresh_peers (store, ((BerthLease *) leases->pdata[i])->network, c, leases);
  return TRUE;
}

/* lo up in the new namespace: the container may be in a user namespace
 * of its own, without the right to do it there. */
static gboolean
loopback_up (GError **error)
{
  int sock = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0)
    return berth_fail_errno (error, errno, "socket for lo");
  struct ifreq ifr = { 0 };
  g_strlcpy (ifr.ifr_name, "lo", IFNAMSIZ);
  gboolean ok = ioctl (sock, SIOCGIFFLAGS, &ifr) == 0;
  if (ok)
    {
      ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
      ok = ioctl (sock, SIOCSIFFLAGS, &ifr) == 0;
    }
  int errsv = errno;
  close (sock);
  return ok || berth_fail_errno (error, errsv, "bring lo up in the container's network namespace");
}

/* The holder's side: never returns. */
G_GNUC_NORETURN static void
holder_main (int ready, pid_t parent)
{
  g_autoptr (GError) error = NULL;
  /* The monitor's descriptors (pipes to the starting command among them)
   * are not the holder's to keep open. */
  if (berth_fd_close_except (0, &ready, 1) < 0)
    _exit (1);
  /* It must not outlive the monitor, its parent, however that ends. */
  if (prctl (PR_SET_PDEATHSIG, SIGKILL) < 0)
    berth_fail_errno (&error, errno, "tie the network namespace to the monitor");
  else if (getppid () != parent)
    berth_fail_errno (&error, ESRCH, "tie the network namespace to the monitor");
  else if (unshare (CLONE_NEWNET) < 0)
    berth_fail_errno (&error, errno, "make the container's network namespace");
  else
    loopback_up (&error);
  const char *message = error ? error->message : "";
  berth_write_all (ready, message, strlen (message) + 1);
  close (ready);
  if (error)
    _exit (1);
  for (;;)
    pause ();
}

pid_t
berth_netns_holder_start (GError **error)
{
  int ready[2];
  if (pipe2 (ready, O_CLOEXEC) < 0)
    return berth_fail_errno (error, errno, "pipe"), 0;
  pid_t parent = getpid ();
  pid_t holder = fork ();
  if (holder == 0)
    {
      close (ready[0]);
      holder_main (ready[1], parent);
    }
  int errsv = errno;
  close (ready[1]);
  if (holder < 0)
    {
      close (ready[0]);
      return berth_fail_errno (error, errsv, "fork the network namespace's holder"), 0;
    }
  char message[512];
  gssize n;
  while ((n = read (ready[0], message, sizeof message - 1)) < 0 && errno == EINTR)
    ;
  close (ready[0]);
  message[MAX (n, 0)] = '\0';
  if (n > 0 && message[0] == '\0')
    return holder;
  berth_netns_holder_stop (holder);
  return berth_fail (error, BERTH_ERROR_FAILED, "%s",
                     n > 0 ? message : "the network namespace's holder died"), 0;
}

void
berth_netns_holder_stop (pid_t holder)
{
  if (holder <= 0)
    return;
  kill (holder, SIGKILL);
  while (waitpid (holder, NULL, 0) < 0 && errno == EINTR)
    ;
}

gboolean
berth_spec_join_network (JsonNode *spec, pid_t pid, GError **error)
{
  JsonObject *linux_ = berth_json_object (berth_json_node_object (spec), "linux");
  JsonArray *list = berth_json_array (linux_, "namespaces");
  for (guint i = 0; list && i < json_array_get_length (list); i++)
    {
      JsonObject *o = berth_json_array_object (list, i);
      if (g_strcmp0 (berth_json_string (o, "type", NULL), "network") == 0)
        {
          g_autofree char *path = g_strdup_printf ("/proc/%d/ns/net", (int) pid);
          json_object_set_string_member (o, "path", path);
          return TRUE;
        }
    }
  return berth_fail (error, BERTH_ERROR_INVALID, "the container's config has no network namespace");
}

GPtrArray *
berth_network_members (BerthStore *store, const char *network, GError **error)
{
  g_autoptr (GPtrArray) live = live_leases (store, network, NULL, error);
  if (live == NULL)
    return NULL;
  GPtrArray *members = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < live->len; i++)
    {
      LiveLease *l = live->pdata[i];
      g_ptr_array_add (members, g_strdup_printf ("%s %s", l->c->name,
                                                 lease_on (l->leases, network)->address));
    }
  return members;
}

/* Bridges and subnets are the host's, shared by every store on it: a
 * network's name and subnet are picked and its bridge made under one
 * host-wide lock, so two stores never pick the same. */
static int
host_network_lock (GError **error)
{
  const char *dir = "/run/lock";
  g_autofree char *path = g_build_filename (dir, "berth-networks.lock", NULL);
  if (!berth_mkdir_p (dir, 0755, error))
    return -1;
  int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return berth_fail_errno (error, errno, "open %s", path), -1;
  while (flock (fd, LOCK_EX) < 0)
    if (errno != EINTR)
      {
        int errsv = errno;
        close (fd);
        return berth_fail_errno (error, errsv, "lock %s", path), -1;
      }
  return fd;
}

/* A network record at @owner (any store's) that still names @interface.
 * Unreadable counts as there: only a record that is gone frees a bridge. */
static gboolean
record_alive (const char *owner, const char *interface, gpointer data)
{
  (void) data;
  if (!g_file_test (owner, G_FILE_TEST_EXISTS))
    return FALSE;
  g_autoptr (JsonNode) node = berth_json_read (owner, NULL);
  const char *named = berth_json_string (berth_json_node_object (node), "Interface", NULL);
  return node == NULL || g_strcmp0 (named, interface) == 0;
}

/* Under the host lock, before a new network takes a name and a subnet:
 * what every driver left for networks whose record is gone, with the store
 * that held it or a command killed half-way, goes, so it holds neither. */
static void
collect_orphan_networks (void)
{
  for (const BerthNetworkFamily *f = berth_network_families; f->name; f++)
    if (f->ops)
      berth_network_collect_orphans (f->ops, record_alive, NULL);
}

BerthNetwork *
berth_network_create (BerthStore *store, const BerthNetworkRequest *req, GError **error)
{
  const BerthNetworkOps *ops = berth_network_driver_lookup (req->driver, error);
  if (ops == NULL || !berth_network_probe (ops, error))
    return NULL;
  int lock = host_network_lock (error);
  if (lock < 0)
    return NULL;
  collect_orphan_networks ();
  g_autoptr (BerthNetwork) net = berth_store_network_create (store, req, error);
  if (net && !berth_network_setup (ops, net, error))
    {
      berth_network_teardown (ops, net, NULL);
      berth_store_network_remove (store, req->name, NULL);
      g_clear_pointer (&net, berth_network_free);
    }
  close (lock);
  return g_steal_pointer (&net);
}

BerthNetwork *
berth_network_for_start (BerthStore *store, const char *name, GError **error)
{
  g_autoptr (GError) local = NULL;
  BerthNetwork *net = berth_store_network (store, name, &local);
  if (net || strcmp (name, BERTH_DEFAULT_NETWORK) != 0
      || !g_error_matches (local, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
    {
      if (local)
        g_propagate_error (error, g_steal_pointer (&local));
      return net;
    }
  BerthNetworkRequest req = { .name = name, .driver = "bridge", .is_default = TRUE };
  return berth_network_create (store, &req, error);
}

/* The default network lives while a container is on it: a store with no
 * running container holds no bridge, rule or subnet of the host's. */
void
berth_network_drop_idle_default (BerthStore *store, const char *network, const char *leaving)
{
  if (strcmp (network, BERTH_DEFAULT_NETWORK) != 0)
    return;
  g_autoptr (GPtrArray) live = live_leases (store, network, leaving, NULL);
  if (live == NULL || live->len > 0)
    return;
  g_autoptr (GError) error = NULL;
  if (!berth_network_remove (store, network, &error)
      && !g_error_matches (error, BERTH_ERROR, BERTH_ERROR_NOT_FOUND))
    g_printerr ("berth: %s\n", error->message);
}

gboolean
berth_network_remove (BerthStore *store, const char *name, GError **error)
{
  g_autoptr (BerthNetwork) net = berth_store_network (store, name, error);
  if (net == NULL)
    return FALSE;
  g_autoptr (GPtrArray) members = berth_network_members (store, name, error);
  if (members == NULL)
    return FALSE;
  if (members->len > 0)
    {
      const char *first = members->pdata[0];
      return berth_fail (error, BERTH_ERROR_BUSY, "network %s: in use by running container %.*s",
                         name, (int) strcspn (first, " "), first);
    }
  const BerthNetworkOps *ops = berth_network_driver_lookup (net->driver, error);
  return ops && berth_network_teardown (ops, net, error)
         && berth_store_network_remove (store, name, error);
}

void
berth_network_collect (BerthStore *store)
{
  g_autoptr (GPtrArray) containers = berth_container_list (store, NULL);
  for (guint i = 0; containers && i < containers->len; i++)
    {
      BerthContainer *c = containers->pdata[i];
      g_autoptr (GPtrArray) leases = container_leases (store, c);
      if (leases->len == 0)
        continue;
      g_autoptr (BerthContainerState) s = berth_state_read (store, c, NULL);
      if (s && berth_state_is_live (s) && berth_monitor_alive (s))
        continue;
      g_autoptr (GError) error = NULL;
      if (!berth_container_network_release (store, c, &error))
        g_printerr ("berth: container %s: %s\n", c->name, error->message);
    }
  berth_network_drop_idle_default (store, BERTH_DEFAULT_NETWORK, NULL);
}

static void
set_string (JsonObject *o, const char *member, const char *value)
{
  json_object_set_string_member (o, member, value ? value : "");
}

/* Docker's Ports map: "80/tcp" -> [{HostIp, HostPort}]. */
static void
add_published (JsonObject *ports, const BerthLease *lease)
{
  g_autoptr (GArray) published = NULL;
  if (!ports_parse (lease->ports, &published, NULL))
    return;
  for (guint i = 0; i < published->len; i++)
    {
      const BerthPort *p = &g_array_index (published, BerthPort, i);
      g_autofree char *key = g_strdup_printf ("%u/%s", p->container_port, p->protocol);
      g_autofree char *host_port = g_strdup_printf ("%u", p->host_port);
      JsonArray *bindings = json_object_has_member (ports, key)
                                ? json_object_get_array_member (ports, key)
                                : NULL;
      if (bindings == NULL)
        {
          bindings = json_array_new ();
          json_object_set_array_member (ports, key, bindings);
        }
      JsonObject *b = json_object_new ();
      set_string (b, "HostIp", p->host_ip);
      set_string (b, "HostPort", host_port);
      json_array_add_object_element (bindings, b);
    }
}

JsonNode *
berth_container_network_settings (BerthStore *store, BerthContainer *c)
{
  JsonObject *o = json_object_new ();
  JsonObject *networks = json_object_new ();
  JsonObject *ports = json_object_new ();
  g_autoptr (GPtrArray) leases = container_leases (store, c);
  g_autoptr (BerthContainerState) s = leases->len ? berth_state_read (store, c, NULL) : NULL;
  gboolean live = s && berth_state_is_live (s) && berth_monitor_alive (s);
  for (guint i = 0; live && i < leases->len; i++)
    {
      const BerthLease *lease = leases->pdata[i];
      g_autoptr (BerthNetwork) net = berth_store_network (store, lease->network, NULL);
      if (net == NULL)
        continue;
      const char *slash = strchr (lease->address, '/');
      g_autofree char *ip = g_strndup (lease->address, strcspn (lease->address, "/"));
      JsonObject *entry = json_object_new ();
      set_string (entry, "IPAddress", ip);
      json_object_set_int_member (entry, "IPPrefixLen", slash ? atoi (slash + 1) : 32);
      set_string (entry, "Gateway", net->gateway);
      set_string (entry, "MacAddress", lease->mac);
      if (i == 0)
        {
          set_string (o, "IPAddress", ip);
          set_string (o, "Gateway", net->gateway);
          set_string (o, "MacAddress", lease->mac);
        }
      json_object_set_object_member (networks, net->name, entry);
      add_published (ports, lease);
    }
  json_object_set_object_member (o, "Networks", networks);
  json_object_set_object_member (o, "Ports", ports);
  return json_node_init_object (json_node_alloc (), o);
}

/* connected.json: {"Networks": [{"Name": NET, "IP": IP or ""}, ...]}, the
 * networks `network connect` added, in the order of their interfaces. */
static JsonArray *
connected_read (BerthStore *store, BerthContainer *c, GError **error)
{
  g_autofree char *path = berth_container_dir (store, c, "connected.json");
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return json_array_new ();
  g_autoptr (JsonNode) node = berth_json_read (path, error);
  if (node == NULL)
    return NULL;
  JsonArray *list = berth_json_array (berth_json_node_object (node), "Networks");
  return list ? json_array_ref (list) : json_array_new ();
}

static gboolean
connected_write (BerthStore *store, BerthContainer *c, JsonArray *list, GError **error)
{
  g_autoptr (JsonObject) o = json_object_new ();
  json_object_set_array_member (o, "Networks", json_array_ref (list));
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), o);
  g_autofree char *path = berth_container_dir (store, c, "connected.json");
  return berth_json_write (path, node, error);
}

/* The index of @network in @list, or -1. */
static int
connected_find (JsonArray *list, const char *network)
{
  for (guint i = 0; i < json_array_get_length (list); i++)
    if (g_strcmp0 (berth_json_string (berth_json_array_object (list, i), "Name", NULL), network)
        == 0)
      return (int) i;
  return -1;
}

/* @c's lease on @name (its record; the default network made on first
 * use), the host's side set up, published, for interface eth@index. */
static BerthLease *
network_lease (BerthStore *store, BerthContainer *c, const char *name, guint index,
               const char *ip, const char *mac, const char *ports, BerthNetwork **net,
               GError **error)
{
  *net = berth_network_for_start (store, name, error);
  if (*net == NULL)
    return NULL;
  /* No probe: the network was made by a driver whose probe passed, and
   * setup says in one line what the host no longer has. */
  const BerthNetworkOps *ops = berth_network_driver_lookup ((*net)->driver, error);
  if (ops == NULL || !berth_network_setup (ops, *net, error))
    return NULL;
  g_autoptr (BerthLease) lease = lease_make (store, c, *net, index, ip, mac, ports, error);
  if (lease == NULL)
    return NULL;
  if (!lease_publish (store, c, *net, lease, error))
    {
      lease_release (store, c, lease, 0, NULL);
      return NULL;
    }
  return g_steal_pointer (&lease);
}

gboolean
berth_container_network_prepare (BerthStore *store, BerthContainer *c, JsonNode *spec,
                                 BerthNetworkPlan **plan, GError **error)
{
  const char *name = berth_spec_network (spec);
  const char *joined = berth_spec_network_container (spec);
  if (joined)
    return berth_container_join_network_of (store, c, spec, joined, error);
  if (name == NULL)
    return TRUE;
  berth_network_collect (store);
  g_autoptr (JsonArray) connected = connected_read (store, c, error);
  if (connected == NULL)
    return FALSE;
  *plan = g_new0 (BerthNetworkPlan, 1);
  (*plan)->networks = g_ptr_array_new_with_free_func ((GDestroyNotify) berth_network_free);
  (*plan)->leases = g_ptr_array_new_with_free_func ((GDestroyNotify) berth_lease_free);
  for (guint i = 0; i <= json_array_get_length (connected); i++)
    {
      JsonObject *o = i ? berth_json_array_object (connected, i - 1) : NULL;
      const char *network = o ? berth_json_string (o, "Name", "") : name;
      const char *ip = o ? berth_json_string (o, "IP", "") : annotation (spec, "org.berth.ip", "");
      g_autoptr (BerthNetwork) net = NULL;
      BerthLease *lease = network_lease (store, c, network, i, *ip ? ip : NULL,
                                         o ? NULL : annotation (spec, "org.berth.mac", NULL),
                                         o ? "" : annotation (spec, PORTS_ANNOTATION, ""), &net,
                                         error);
      if (lease == NULL)
        return FALSE;
      g_ptr_array_add ((*plan)->networks, g_steal_pointer (&net));
      g_ptr_array_add ((*plan)->leases, lease);
    }
  return join_names (store, c, spec, (*plan)->leases, error);
}

/* The lowest interface of @leases' container that none of them has. */
static guint
free_interface (GPtrArray *leases)
{
  for (guint index = 1; index < MAX_INTERFACES; index++)
    {
      g_autofree char *ifname = g_strdup_printf ("eth%u", index);
      gboolean taken = FALSE;
      for (guint i = 0; i < leases->len; i++)
        taken |= strcmp (((BerthLease *) leases->pdata[i])->ifname, ifname) == 0;
      if (!taken)
        return index;
    }
  return 0;
}

/* Tell @c and its peers on @network what changed on @c's interfaces. */
static void
refresh_after_change (BerthStore *store, BerthContainer *c, const char *network)
{
  g_autoptr (GPtrArray) leases = container_leases (store, c);
  refresh_hosts (store, c, leases, NULL, NULL);
  refresh_peers (store, network, c, NULL);
}

/* Lease, attach and remember @network for running @c. */
static gboolean
connect_running (BerthStore *store, BerthContainer *c, const char *network, const char *ip,
                 JsonArray *connected, GError **error)
{
  pid_t inside = running_process_inside (store, c, error);
  if (inside == 0)
    return FALSE;
  g_autoptr (GPtrArray) leases = container_leases (store, c);
  guint index = free_interface (leases);
  g_autoptr (BerthNetwork) net = NULL;
  g_autoptr (BerthLease) lease = index ? network_lease (store, c, network, index, ip, NULL, "",
                                                        &net, error)
                                       : NULL;
  if (index == 0)
    berth_fail (error, BERTH_ERROR_BUSY, "container %s: every interface up to eth%u is taken",
                c->name, MAX_INTERFACES - 1);
  if (lease == NULL || !lease_attach (net, lease, inside, error)
      || !connected_write (store, c, connected, error))
    {
      if (lease)
        lease_release (store, c, lease, inside, NULL);
      berth_network_drop_idle_default (store, network, c->id);
      return FALSE;
    }
  refresh_after_change (store, c, network);
  return TRUE;
}

gboolean
berth_network_connect (BerthStore *store, BerthContainer *c, const char *network, const char *ip,
                       GError **error)
{
  g_autoptr (JsonNode) spec = berth_container_spec (store, c, error);
  if (spec == NULL)
    return FALSE;
  const char *own = berth_spec_network (spec);
  if (own == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "container %s: its network is none, host or "
                       "another container's, so it cannot be connected to %s", c->name, network);
  g_autoptr (JsonArray) connected = connected_read (store, c, error);
  if (connected == NULL)
    return FALSE;
  if (strcmp (own, network) == 0 || connected_find (connected, network) >= 0)
    return berth_fail (error, BERTH_ERROR_EXISTS, "container %s is already connected to "
                       "network %s", c->name, network);
  if (json_array_get_length (connected) + 1 >= MAX_INTERFACES)
    return berth_fail (error, BERTH_ERROR_BUSY, "container %s: on %u networks already, as many "
                       "as berth gives a container (eth0 to eth%u)", c->name, MAX_INTERFACES,
                       MAX_INTERFACES - 1);
  struct in_addr parsed;
  if (ip && inet_pton (AF_INET, ip, &parsed) != 1)
    return berth_fail (error, BERTH_ERROR_INVALID, "--ip %s: not an IPv4 address", ip);
  /* The default network is made when a container starts on it. */
  g_autoptr (BerthNetwork) net = strcmp (network, BERTH_DEFAULT_NETWORK) == 0
                                     ? NULL
                                     : berth_store_network (store, network, error);
  if (net == NULL && strcmp (network, BERTH_DEFAULT_NETWORK) != 0)
    return FALSE;
  g_autoptr (JsonObject) entry = json_object_new ();
  json_object_set_string_member (entry, "Name", network);
  json_object_set_string_member (entry, "IP", ip ? ip : "");
  json_array_add_object_element (connected, json_object_ref (entry));
  if (!is_live (store, c))
    return connected_write (store, c, connected, error);
  return connect_running (store, c, network, ip, connected, error);
}

gboolean
berth_network_disconnect (BerthStore *store, BerthContainer *c, const char *network,
                          GError **error)
{
  g_autoptr (JsonNode) spec = berth_container_spec (store, c, error);
  if (spec == NULL)
    return FALSE;
  if (g_strcmp0 (berth_spec_network (spec), network) == 0)
    return berth_fail (error, BERTH_ERROR_INVALID, "container %s: %s is the network it was "
                       "created on (--network); only one added by network connect can be "
                       "disconnected", c->name, network);
  g_autoptr (JsonArray) connected = connected_read (store, c, error);
  if (connected == NULL)
    return FALSE;
  int at = connected_find (connected, network);
  if (at < 0)
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "container %s is not connected to network "
                       "%s", c->name, network);
  g_autoptr (GPtrArray) leases = container_leases (store, c);
  const BerthLease *lease = lease_on (leases, network);
  gboolean live = is_live (store, c);
  pid_t inside = lease && live ? running_process_inside (store, c, error) : 0;
  if (lease && live && inside == 0)
    return FALSE;
  if (lease && !lease_release (store, c, lease, inside, error))
    return FALSE;
  json_array_remove_element (connected, at);
  if (!connected_write (store, c, connected, error))
    return FALSE;
  if (lease)
    {
      refresh_after_change (store, c, network);
      berth_network_drop_idle_default (store, network, c->id);
    }
  return TRUE;
}
