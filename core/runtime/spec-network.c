/* The network part of a container's config: what --network, -p, --ip,
 * --mac-address, --dns, --dns-search and --add-host asked for, checked and
 * kept as annotations of config.json (org.berth.*), which the start
 * (core/runtime/network.c) reads back: the lease, the rules and the etc
 * files all come from them. */
#include "config.h"
#include "runtime-internal.h"
#include <berth/error.h>
#include <berth/network.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static gboolean
is_ipv4 (const char *text)
{
  struct in_addr in;
  return inet_pton (AF_INET, text, &in) == 1;
}

static gboolean
is_ip (const char *text)
{
  struct in6_addr in6;
  return is_ipv4 (text) || inet_pton (AF_INET6, text, &in6) == 1;
}

/* Six colon-separated hex pairs, unicast (the first byte even). */
static gboolean
is_unicast_mac (const char *text)
{
  guint b[6];
  char tail;
  return strlen (text) == 17
         && sscanf (text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                    &tail) == 6
         && (b[0] & 1) == 0;
}

/* A DNS name: labels of letters, digits and hyphens, 253 bytes at most. */
static gboolean
is_domain (const char *text)
{
  gsize len = strlen (text);
  if (len == 0 || len > 253)
    return FALSE;
  g_auto (GStrv) labels = g_strsplit (text, ".", -1);
  for (char **l = labels; *l; l++)
    if (**l == '\0' || strlen (*l) > 63 || (*l)[0] == '-'
        || strspn (*l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
               != strlen (*l))
      return FALSE;
  return TRUE;
}

/* @values checked one by one, comma-joined; NULL with INVALID naming
 * @option and the bad value. */
static char *
joined_checked (char **values, const char *option, gboolean (*valid) (const char *),
                const char *expected, GError **error)
{
  g_autoptr (GString) out = g_string_new (NULL);
  for (char **v = values; v && *v; v++)
    {
      if (!valid (*v))
        return berth_fail (error, BERTH_ERROR_INVALID, "%s '%s': not %s", option, *v, expected),
               NULL;
      g_string_append_printf (out, "%s%s", out->len ? "," : "", *v);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* "NAME:IP", as Docker's --add-host. */
static gboolean
is_host_entry (const char *text)
{
  const char *colon = strchr (text, ':');
  if (colon == NULL)
    return FALSE;
  g_autofree char *name = g_strndup (text, colon - text);
  return is_domain (name) && is_ip (colon + 1);
}

/* -p's, then with -P each port the image EXPOSEs ("80/tcp") on a host
 * port the start picks. */
static char *
published_ports (const BerthSpecOptions *options, JsonObject *image, GError **error)
{
  g_autoptr (GPtrArray) specs = g_ptr_array_new_with_free_func (g_free);
  for (char **p = options->publish; p && *p; p++)
    g_ptr_array_add (specs, g_strdup (*p));
  JsonObject *exposed = options->publish_all ? berth_json_object (image, "ExposedPorts") : NULL;
  g_autoptr (GList) members = exposed ? json_object_get_members (exposed) : NULL;
  for (GList *m = members; m; m = m->next)
    g_ptr_array_add (specs, g_strdup (m->data));
  g_autoptr (GString) out = g_string_new (NULL);
  for (guint i = 0; i < specs->len; i++)
    {
      BerthPort port;
      if (!berth_port_parse (specs->pdata[i], &port, error))
        return NULL;
      g_autofree char *canonical = berth_port_to_string (&port);
      g_string_append_printf (out, "%s%s", out->len ? "," : "", canonical);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

/* What only a berth network can give: refused, naming the first such
 * option, for none, host or container:. */
static gboolean
check_needs_berth_network (const BerthSpecOptions *options, GError **error)
{
  const char *option = options->publish && options->publish[0] ? "-p"
                       : options->publish_all                  ? "-P"
                       : options->ip                           ? "--ip"
                       : options->mac_address                  ? "--mac-address"
                                                               : NULL;
  if (option == NULL)
    return TRUE;
  return berth_fail (error, BERTH_ERROR_INVALID,
                     "%s needs a berth network (--network bridge or another), not '%s'", option,
                     options->network ? options->network : "none");
}

JsonNode *
berth_spec_network_annotations (const BerthSpecOptions *options, JsonObject *image,
                                gboolean berth_network, gboolean own_namespace, GError **error)
{
  if (!berth_network && !check_needs_berth_network (options, error))
    return NULL;
  if (options->ip && !is_ipv4 (options->ip))
    return berth_fail (error, BERTH_ERROR_INVALID, "--ip '%s': not an IPv4 address", options->ip),
           NULL;
  if (options->mac_address && !is_unicast_mac (options->mac_address))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "--mac-address '%s': not a unicast MAC address (02:42:ac:11:00:02)",
                       options->mac_address), NULL;
  g_autofree char *ports = published_ports (options, image, error);
  g_autofree char *dns = ports ? joined_checked (options->dns, "--dns", is_ip, "an IP address",
                                                 error) : NULL;
  g_autofree char *search = dns ? joined_checked (options->dns_search, "--dns-search", is_domain,
                                                  "a domain name", error) : NULL;
  g_autofree char *hosts = search ? joined_checked (options->add_hosts, "--add-host",
                                                    is_host_entry, "NAME:IP", error) : NULL;
  if (hosts == NULL)
    return NULL;
  if (!own_namespace && (*dns || *search || *hosts))
    return berth_fail (error, BERTH_ERROR_INVALID,
                       "--dns, --dns-search and --add-host need a network namespace of the "
                       "container's own, not '%s'", options->network), NULL;
  JsonObject *o = json_object_new ();
  const char *joined = g_str_has_prefix (options->network ? options->network : "", "container:")
                           ? options->network + 10
                           : NULL;
  const char *pairs[][2] = {
    { "org.berth.network", berth_network ? options->network : NULL },
    { "org.berth.network-container", joined },
    { "org.berth.ports", ports }, { "org.berth.ip", options->ip },
    { "org.berth.mac", options->mac_address }, { "org.berth.dns", dns },
    { "org.berth.dns-search", search }, { "org.berth.add-hosts", hosts },
  };
  for (guint i = 0; i < G_N_ELEMENTS (pairs); i++)
    if (pairs[i][1] && *pairs[i][1])
      json_object_set_string_member (o, pairs[i][0], pairs[i][1]);
  return json_node_init_object (json_node_alloc (), o);
}
