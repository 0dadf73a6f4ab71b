/* berth network create|ls|inspect|rm|connect|disconnect, as Docker's. */
#include "config.h"
#include "cli.h"
#include <berth/error.h>
#include <berth/store.h>
#include <stdio.h>
#include <string.h>

/* -o KEY=VALUE: parent= is the one Docker's macvlan takes. */
static gboolean
parse_driver_opts (char **opts, const char **parent, GError **error)
{
  for (char **o = opts; o && *o; o++)
    {
      if (!g_str_has_prefix (*o, "parent=") || (*o)[7] == '\0')
        return berth_fail (error, BERTH_ERROR_INVALID,
                           "-o '%s': unknown (berth's drivers take parent=INTERFACE)", *o);
      *parent = *o + 7;
    }
  return TRUE;
}

static int
network_create (BerthCli *cli, int argc, char **argv)
{
  g_autofree char *driver = NULL, *subnet = NULL, *gateway = NULL;
  g_auto (GStrv) opts = NULL;
  const GOptionEntry entries[] = {
    { "driver", 'd', 0, G_OPTION_ARG_STRING, &driver, "The network driver (bridge, macvlan)",
      "DRIVER" },
    { "subnet", 0, 0, G_OPTION_ARG_STRING, &subnet, "IPv4 subnet (default: a free private one)",
      "CIDR" },
    { "gateway", 0, 0, G_OPTION_ARG_STRING, &gateway, "The subnet's gateway (default: its first "
      "address)", "IP" },
    { "opt", 'o', 0, G_OPTION_ARG_STRING_ARRAY, &opts, "A driver option: parent=INTERFACE "
      "(macvlan)", "KEY=VALUE" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "NAME", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 2)
    return berth_cli_usage ("network create needs one name");
  g_autoptr (GError) error = NULL;
  BerthNetworkRequest req = { .name = argv[1], .driver = driver ? driver : "bridge",
                              .subnet = subnet, .gateway = gateway };
  if (!parse_driver_opts (opts, &req.parent, &error))
    return berth_cli_fail (error);
  g_autoptr (BerthStore) store = berth_cli_open_store (cli, &error);
  if (store == NULL)
    return berth_cli_fail (error);
  g_autoptr (BerthNetwork) net = berth_network_create (store, &req, &error);
  if (net == NULL)
    return berth_cli_fail (error);
  printf ("%s\n", net->name);
  return 0;
}

static int
network_ls (BerthCli *cli, int argc, char **argv)
{
  if (!berth_cli_parse (&argc, &argv, NULL, "", FALSE))
    return BERTH_EXIT_USAGE;
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = berth_cli_open_reader (cli, &error);
  g_autoptr (GPtrArray) networks = store ? berth_store_networks (store, &error) : NULL;
  if (networks == NULL)
    return berth_cli_fail (error);
  printf ("%-20s %-10s %-18s %s\n", "NAME", "DRIVER", "SUBNET", "INTERFACE");
  for (guint i = 0; i < networks->len; i++)
    {
      BerthNetwork *net = networks->pdata[i];
      printf ("%-20s %-10s %-18s %s\n", net->name, net->driver, net->subnet, net->interface);
    }
  return 0;
}

static JsonNode *
network_inspect_one (BerthStore *store, const char *name, GError **error)
{
  g_autoptr (BerthNetwork) net = berth_store_network (store, name, error);
  g_autoptr (GPtrArray) members = net ? berth_network_members (store, name, error) : NULL;
  if (members == NULL)
    return NULL;
  JsonNode *node = berth_network_to_json (net);
  JsonObject *o = json_node_get_object (node);
  JsonObject *containers = json_object_new ();
  for (guint i = 0; i < members->len; i++)
    {
      g_auto (GStrv) pair = g_strsplit (members->pdata[i], " ", 2);
      json_object_set_string_member (containers, pair[0], pair[1] ? pair[1] : "");
    }
  json_object_set_object_member (o, "Containers", containers);
  return node;
}

static int
network_inspect (BerthCli *cli, int argc, char **argv)
{
  g_autofree char *format = NULL;
  const GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "A template: {{.Subnet}}, "
      "{{json .Containers}}", "TEMPLATE" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "NAME...", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc < 2)
    return berth_cli_usage ("network inspect needs at least one network");
  g_autoptr (GError) error = NULL;
  /* The default network's record is made on first use: the lock. */
  g_autoptr (BerthStore) store = berth_cli_open_store (cli, &error);
  if (store == NULL)
    return berth_cli_fail (error);
  return berth_cli_inspect_each (store, argc, argv, network_inspect_one, format);
}

static gboolean
remove_network (BerthStore *store, const char *name, gpointer data, GError **error)
{
  (void) data;
  return berth_network_remove (store, name, error);
}

static int
network_rm (BerthCli *cli, int argc, char **argv)
{
  if (!berth_cli_parse (&argc, &argv, NULL, "NAME...", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc < 2)
    return berth_cli_usage ("network rm needs at least one network");
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = berth_cli_open_store (cli, &error);
  if (store == NULL)
    return berth_cli_fail (error);
  return berth_cli_each_operand (store, argc, argv, remove_network, NULL, TRUE);
}

static int
network_connect (BerthCli *cli, int argc, char **argv)
{
  g_autofree char *ip = NULL;
  const GOptionEntry entries[] = {
    { "ip", 0, 0, G_OPTION_ARG_STRING, &ip, "The container's IPv4 address on the network",
      "IP" },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "NETWORK CONTAINER", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 3)
    return berth_cli_usage ("network connect needs a network and a container");
  g_autoptr (BerthContainer) c = NULL;
  g_autoptr (BerthStore) store = berth_cli_open_with_container (cli, argv[2], &c);
  if (store == NULL)
    return BERTH_EXIT_FAILED;
  g_autoptr (GError) error = NULL;
  if (!berth_network_connect (store, c, argv[1], ip, &error))
    return berth_cli_fail (error);
  return 0;
}

static int
network_disconnect (BerthCli *cli, int argc, char **argv)
{
  gboolean force = FALSE;
  const GOptionEntry entries[] = {
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Taken for Docker's sake: a disconnect never "
      "needs it", NULL },
    G_OPTION_ENTRY_NULL
  };
  if (!berth_cli_parse (&argc, &argv, entries, "NETWORK CONTAINER", FALSE))
    return BERTH_EXIT_USAGE;
  if (argc != 3)
    return berth_cli_usage ("network disconnect needs a network and a container");
  g_autoptr (BerthContainer) c = NULL;
  g_autoptr (BerthStore) store = berth_cli_open_with_container (cli, argv[2], &c);
  if (store == NULL)
    return BERTH_EXIT_FAILED;
  g_autoptr (GError) error = NULL;
  if (!berth_network_disconnect (store, c, argv[1], &error))
    return berth_cli_fail (error);
  return 0;
}

int
berth_cmd_network (BerthCli *cli, int argc, char **argv)
{
  static const BerthSubcommand subs[] = {
    { "create", network_create, "Create a network" },
    { "ls", network_ls, "List networks" }, { "list", network_ls, NULL },
    { "inspect", network_inspect, "Show networks and their running containers as JSON" },
    { "rm", network_rm, "Remove networks" }, { "remove", network_rm, NULL },
    { "connect", network_connect, "Connect a container to a further network" },
    { "disconnect", network_disconnect, "Disconnect a container from a network it was "
      "connected to" },
  };
  return berth_cli_dispatch (cli, "network", subs, G_N_ELEMENTS (subs), argc, argv);
}
