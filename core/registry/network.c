/* The network-driver lookup and the wrappers the core calls; the drivers
 * are listed in core/registry/family.c. A NULL op is "not supported by
 * this driver", reported with the driver's name. */
#include "config.h"
#include <berth/network.h>
#include <berth/family.h>
#include <berth/error.h>
#include <arpa/inet.h>
#include <string.h>

void
berth_network_free (BerthNetwork *net)
{
  if (net == NULL)
    return;
  g_free (net->name);
  g_free (net->driver);
  g_free (net->subnet);
  g_free (net->gateway);
  g_free (net->interface);
  g_free (net->owner);
  g_free (net);
}

const BerthNetworkOps *
berth_network_driver_lookup (const char *name, GError **error)
{
  const BerthNetworkFamily *f = berth_network_family_lookup (name);
  if (f && f->ops)
    return f->ops;
  if (f)
    return berth_fail (error, BERTH_ERROR_NOT_FOUND, "network driver %s: %s", name, f->not_built),
           NULL;
  g_autofree char *known = berth_network_family_names ();
  berth_fail (error, BERTH_ERROR_NOT_FOUND,
              "network driver '%s': berth has no such driver (it knows %s)", name, known);
  return NULL;
}

static gboolean
unsupported (const BerthNetworkOps *ops, const char *what, GError **error)
{
  return berth_fail (error, BERTH_ERROR_NOT_SUPPORTED, "network driver %s cannot %s", ops->name,
                     what);
}

gboolean
berth_network_probe (const BerthNetworkOps *ops, GError **error)
{
  return ops->probe ? ops->probe (error) : TRUE;
}

gboolean
berth_network_setup (const BerthNetworkOps *ops, const BerthNetwork *net, GError **error)
{
  return ops->setup ? ops->setup (net, error) : TRUE;
}

gboolean
berth_network_teardown (const BerthNetworkOps *ops, const BerthNetwork *net, GError **error)
{
  return ops->teardown ? ops->teardown (net, error) : TRUE;
}

void
berth_network_collect_orphans (const BerthNetworkOps *ops, BerthNetworkAlive alive,
                               gpointer data)
{
  if (ops->collect)
    ops->collect (alive, data);
}

gboolean
berth_network_attach (const BerthNetworkOps *ops, const BerthNetwork *net,
                      const BerthNetworkEndpoint *ep, GError **error)
{
  return ops->attach ? ops->attach (net, ep, error)
                     : unsupported (ops, "attach a container", error);
}

gboolean
berth_network_detach (const BerthNetworkOps *ops, const BerthNetwork *net,
                      const BerthNetworkEndpoint *ep, GError **error)
{
  return ops->detach ? ops->detach (net, ep, error) : TRUE;
}

gboolean
berth_network_publish (const BerthNetworkOps *ops, const BerthNetwork *net,
                       const BerthNetworkEndpoint *ep, const BerthPort *ports, guint n_ports,
                       GError **error)
{
  if (n_ports == 0)
    return TRUE;
  return ops->publish ? ops->publish (net, ep, ports, n_ports, error)
                      : unsupported (ops, "publish ports (-p)", error);
}

gboolean
berth_network_unpublish (const BerthNetworkOps *ops, const BerthNetwork *net,
                         const BerthNetworkEndpoint *ep, GError **error)
{
  return ops->unpublish ? ops->unpublish (net, ep, error) : TRUE;
}

static gboolean
parse_port_number (const char *text, guint16 *port)
{
  guint64 value = 0;
  return g_ascii_string_to_unsigned (text, 10, 1, 65535, &value, NULL) && (*port = value, TRUE);
}

gboolean
berth_port_parse (const char *text, BerthPort *port, GError **error)
{
  *port = (BerthPort) { .host_ip = "0.0.0.0", .protocol = "tcp" };
  g_autofree char *copy = g_strdup (text);
  char *slash = strchr (copy, '/');
  if (slash)
    {
      *slash = '\0';
      if (strcmp (slash + 1, "tcp") != 0 && strcmp (slash + 1, "udp") != 0)
        return berth_fail (error, BERTH_ERROR_INVALID,
                           "-p '%s': protocol '%s' is not tcp or udp", text, slash + 1);
      g_strlcpy (port->protocol, slash + 1, sizeof port->protocol);
    }
  g_auto (GStrv) parts = g_strsplit (copy, ":", -1);
  guint n = g_strv_length (parts);
  /* "CONTAINER" alone: a host port the start picks (0 until then). */
  if (n == 1 && parse_port_number (parts[0], &port->container_port))
    return TRUE;
  struct in_addr in;
  if (n == 3 && (inet_pton (AF_INET, parts[0], &in) != 1
                 || strlen (parts[0]) >= sizeof port->host_ip))
    return berth_fail (error, BERTH_ERROR_INVALID, "-p '%s': '%s' is not an IPv4 address", text,
                       parts[0]);
  if (n == 3)
    g_strlcpy (port->host_ip, parts[0], sizeof port->host_ip);
  gboolean any_host_port = n >= 2 && strcmp (parts[n - 2], "0") == 0;
  if ((n != 2 && n != 3)
      || (!any_host_port && !parse_port_number (parts[n - 2], &port->host_port))
      || !parse_port_number (parts[n - 1], &port->container_port))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "-p '%s': not [[IP:]HOST:]CONTAINER[/tcp|udp] with ports 1-65535", text);
  return TRUE;
}

char *
berth_port_to_string (const BerthPort *port)
{
  return g_strdup_printf ("%s:%u:%u/%s", port->host_ip, port->host_port, port->container_port,
                          port->protocol);
}
