/* Networks as a user meets them: real bridges, veth pairs and nftables
 * rules on this host, busybox's httpd and wget on both ends, a client in
 * a network namespace of its own as the outside world, and after every
 * case a check that nothing is left: no link, no rule, no lease. */
#include "config.h"
#include "testutil.h"
#include <berth/error.h>
#include <berth/family.h>
#include <berth/network.h>
#include <berth/runtime.h>
#include <json-glib/json-glib.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  const char *exec_driver;
} Params;

typedef struct {
  const Params *params;
  char *dir;
  char *root;
  gboolean skipped;
  GPtrArray *cleanup; /* shell commands for the teardown (host-side helpers) */
} Fixture;

#define SKIP_IF_SKIPPED(f) \
  if ((f)->skipped)        \
  return

static int
fb (Fixture *f, char **out, char **err, ...)
{
  va_list ap;
  va_start (ap, err);
  int rc = tu_berth_va (f->root, out, err, ap);
  va_end (ap);
  return rc;
}

static int
sh (const char *script, char **out, char **err)
{
  char *argv[] = { "sh", "-c", (char *) script, NULL };
  return tu_run (argv, out, err);
}

/* The bridge driver needs netlink, nftables and this build's libraries:
 * what its probe says is the skip's reason. */
static gboolean
bridge_usable (GError **error)
{
  const BerthNetworkOps *ops = berth_network_driver_lookup ("bridge", error);
  return ops && berth_network_probe (ops, error);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->params = data;
  f->dir = tu_mkdtemp ("berth-net");
  f->root = g_build_filename (f->dir, "store", NULL);
  f->cleanup = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  const BerthExecOps *ops = berth_exec_driver_lookup (f->params->exec_driver, &error);
  if ((ops && !berth_exec_probe (ops, &error)) || error || !bridge_usable (&error))
    {
      g_test_skip (error->message);
      f->skipped = TRUE;
      return;
    }
  g_autofree char *err = NULL;
  g_assert_cmpint (fb (f, NULL, &err, "image", "bootstrap", "busybox", NULL), ==, 0);
}

/* The names of this store's networks' bridges, and the host ends and
 * port tables its containers' leases would have. */
static char *
leftovers (Fixture *f)
{
  g_autoptr (GString) found = g_string_new (NULL);
  g_autofree char *links = NULL, *tables = NULL;
  sh ("ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1", &links, NULL);
  sh ("nft list tables 2>/dev/null", &tables, NULL);
  g_autofree char *containers = g_build_filename (f->root, "containers", NULL);
  g_autoptr (GDir) d = g_dir_open (containers, 0, NULL);
  const char *id;
  while (d && (id = g_dir_read_name (d)))
    {
      g_autofree char *host_end = g_strdup_printf ("vb%.10s", id);
      g_autofree char *table = g_strdup_printf ("berth_p_%s", host_end);
      /* Its host ends are vbID, vbID1... (one a network it is on). */
      if (strstr (links, host_end))
        g_string_append_printf (found, "link %s; ", host_end);
      if (strstr (tables, table))
        g_string_append_printf (found, "table %s; ", table);
      for (guint i = 0; i < 10; i++)
        {
          g_autofree char *file = i ? g_strdup_printf ("network-eth%u.json", i)
                                    : g_strdup ("network.json");
          g_autofree char *lease = g_build_filename (containers, id, file, NULL);
          if (g_file_test (lease, G_FILE_TEST_EXISTS))
            g_string_append_printf (found, "lease %s; ", lease);
        }
    }
  return g_string_free (g_steal_pointer (&found), FALSE);
}

static GPtrArray *
network_records (Fixture *f)
{
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  g_autofree char *dir = g_build_filename (f->root, "networks", NULL);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_autoptr (JsonParser) p = json_parser_new ();
      g_assert_true (json_parser_load_from_file (p, path, NULL));
      g_ptr_array_add (out, json_node_copy (json_parser_get_root (p)));
    }
  return out;
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  (void) data;
  if (!f->skipped)
    {
      g_autofree char *ids = NULL;
      fb (f, &ids, NULL, "ps", "-aq", NULL);
      g_auto (GStrv) list = g_strsplit (g_strstrip (ids), "\n", -1);
      for (char **i = list; *i && **i; i++)
        g_assert_cmpint (fb (f, NULL, NULL, "rm", "-f", *i, NULL), ==, 0);
      g_autofree char *left = leftovers (f);
      g_assert_cmpstr (left, ==, "");
      g_autoptr (GPtrArray) nets = network_records (f);
      for (guint i = 0; i < nets->len; i++)
        {
          JsonObject *o = json_node_get_object (nets->pdata[i]);
          const char *name = json_object_get_string_member (o, "Name");
          const char *bridge = json_object_get_string_member (o, "Interface");
          g_autofree char *err = NULL;
          if (fb (f, NULL, &err, "network", "rm", name, NULL) != 0)
            g_error ("network rm %s: %s", name, err);
          /* A macvlan network's interface is its parent, the host's. */
          if (strcmp (json_object_get_string_member (o, "Driver"), "bridge") != 0)
            continue;
          g_assert_cmpuint (if_nametoindex (bridge), ==, 0);
          g_autofree char *tables = NULL;
          sh ("nft list tables 2>/dev/null", &tables, NULL);
          g_autofree char *table = g_strdup_printf ("berth_%s", bridge);
          g_assert_null (strstr (tables, table));
        }
    }
  for (guint i = f->cleanup->len; i > 0; i--)
    sh (f->cleanup->pdata[i - 1], NULL, NULL);
  g_ptr_array_unref (f->cleanup);
  g_assert_false (tu_mounted_below (f->dir));
  tu_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->root);
}

/* `berth run --exec-driver D ARGS... busybox sh -c SCRIPT`. */
static int
run_sh (Fixture *f, const char *const *args, const char *script, char **out, char **err)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  const char *head[] = { tu_berth_bin (), "--root", f->root, "run", "--exec-driver",
                         f->params->exec_driver };
  for (guint i = 0; i < G_N_ELEMENTS (head); i++)
    g_ptr_array_add (argv, (gpointer) head[i]);
  for (const char *const *a = args; a && *a; a++)
    g_ptr_array_add (argv, (gpointer) *a);
  const char *tail[] = { "busybox", "sh", "-c", script, NULL };
  for (guint i = 0; i < G_N_ELEMENTS (tail); i++)
    g_ptr_array_add (argv, (gpointer) tail[i]);
  return tu_run ((char **) argv->pdata, out, err);
}

static char *
run_ok (Fixture *f, const char *const *args, const char *script)
{
  char *out = NULL;
  g_autofree char *err = NULL;
  int rc = run_sh (f, args, script, &out, &err);
  if (rc != 0)
    g_error ("run %s: exit %d: %s", script, rc, err);
  return out;
}

/* wget a page, tried again for up to 10 s: a server just started with
 * run -d (or start) may not listen yet when the command returns, as with
 * Docker. The wait bounds nothing the test asserts. */
#define RETRY(cmd) "i=0; until " cmd "; do i=$((i+1)); [ $i -lt 50 ] || exit 1; sleep 0.2; done"
#define WAIT_WGET(url) "(" RETRY ("wget -q -O - " url) ")"

/* A web server in a container, answering @body at /. */
#define HTTPD(body) "mkdir -p /www && echo " body " > /www/index.html && exec httpd -f -p 80 -h /www"

static char *
host_address (void)
{
  g_autofree char *out = NULL;
  sh ("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1", &out, NULL);
  return out && *g_strstrip (out) ? g_steal_pointer (&out) : NULL;
}

/* A TCP port of the host's that is free now, from the kernel. */
static guint
free_port (void)
{
  int sock = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (sock, >=, 0);
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;
  g_assert_cmpint (bind (sock, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (sock, (struct sockaddr *) &addr, &len), ==, 0);
  close (sock);
  return ntohs (addr.sin_port);
}

/* berth-net-probe (bench/net-probe.c): $BERTH_NET_PROBE, or beside the
 * berth under test, as every build tree has it. */
static char *
net_probe_path (void)
{
  const char *env = g_getenv ("BERTH_NET_PROBE");
  if (env && *env)
    return g_strdup (env);
  g_autofree char *dir = g_path_get_dirname (tu_berth_bin ());
  char *probe = g_build_filename (dir, "berth-net-probe", NULL);
  if (access (probe, X_OK) != 0)
    g_error ("%s: not there (build berth-net-probe, or set BERTH_NET_PROBE)", probe);
  return probe;
}

/* A busybox httpd of the host's on @address:@port serving @body; it goes
 * in the teardown. */
static void
host_httpd (Fixture *f, const char *netns, const char *address, guint port, const char *body)
{
  g_autofree char *www = g_build_filename (f->dir, "www", NULL);
  g_autofree char *index = g_build_filename (www, "index.html", NULL);
  g_assert_cmpint (g_mkdir_with_parents (www, 0755), ==, 0);
  tu_write_file (index, body, 0644);
  g_autofree char *prefix = netns ? g_strdup_printf ("ip netns exec %s ", netns) : g_strdup ("");
  g_autofree char *pidfile = g_build_filename (f->dir, "httpd.pid", NULL);
  g_autofree char *start = g_strdup_printf ("%sbusybox httpd -f -p %s:%u -h %s </dev/null >/dev/null 2>&1 & echo $! > %s; "
                                            "sleep 0.2", prefix, address, port, www, pidfile);
  g_assert_cmpint (sh (start, NULL, NULL), ==, 0);
  g_ptr_array_add (f->cleanup, g_strdup_printf ("kill $(cat %s)", pidfile));
}

/* ---- the default network ---- */

/* A container on the default network has eth0 in the network's subnet, a
 * default route through the host, and reaches a server of the host's;
 * its hostname, /etc/hostname and /etc/hosts agree. */
static void
test_reaches_host (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  guint port = free_port ();
  const char *args[] = { "--rm", "--network", "bridge", "--hostname", "box1", NULL };
  /* The default network is made by the first container that starts on
   * it, and lives as long as one runs there. */
  const char *keep_args[] = { "-d", "--network", "bridge", NULL };
  g_autofree char *keeper = run_ok (f, keep_args, "exec sleep 1000");
  g_autoptr (GPtrArray) nets = network_records (f);
  g_assert_cmpuint (nets->len, ==, 1);
  JsonObject *net = json_node_get_object (nets->pdata[0]);
  g_assert_cmpstr (json_object_get_string_member (net, "Name"), ==, "bridge");
  const char *first = json_object_get_string_member (net, "Gateway");
  host_httpd (f, NULL, first, port, "from-the-host\n");
  g_autofree char *script = g_strdup_printf (
    "wget -q -O - http://%s:%u/; hostname; cat /etc/hostname; "
    "grep -w box1 /etc/hosts | cut -f1; ip -4 -o addr show eth0 | awk '{print $4}'",
    first, port);
  g_autofree char *out = run_ok (f, args, script);
  g_auto (GStrv) l = g_strsplit (out, "\n", -1);
  g_assert_cmpstr (l[0], ==, "from-the-host");
  g_assert_cmpstr (l[1], ==, "box1");
  g_assert_cmpstr (l[2], ==, "box1");
  /* /etc/hosts names the hostname at eth0's address. */
  g_autofree char *with_prefix = g_strdup (l[4]);
  *strchrnul (with_prefix, '/') = '\0';
  g_assert_cmpstr (l[3], ==, with_prefix);
  g_assert_true (g_str_has_prefix (l[4], "172.") || g_str_has_prefix (l[4], "192.168."));
  /* The last container gone, so is the default network, bridge and all. */
  const char *bridge = json_object_get_string_member (net, "Interface");
  g_autofree char *bridge_name = g_strdup (bridge);
  g_strstrip (keeper);
  g_assert_cmpint (fb (f, NULL, NULL, "rm", "-f", keeper, NULL), ==, 0);
  g_autoptr (GPtrArray) after = network_records (f);
  g_assert_cmpuint (after->len, ==, 0);
  g_assert_cmpuint (if_nametoindex (bridge_name), ==, 0);
}

/* ---- names ---- */

/* Containers on one user-defined network reach each other by name,
 * whichever started first, and a restarted one (at another address) is
 * still found. */
static void
test_names (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_autofree char *err = NULL;
  g_assert_cmpint (fb (f, NULL, &err, "network", "create", "app", NULL), ==, 0);
  const char *web_args[] = { "-d", "--name", "web", "--network", "app", NULL };
  const char *client_args[] = { "-d", "--name", "client", "--network", "app", NULL };
  g_free (run_ok (f, web_args, HTTPD ("hello-web")));
  g_free (run_ok (f, client_args, "exec sleep 1000"));
  g_autofree char *out = NULL;
  g_assert_cmpint (fb (f, &out, NULL, "exec", "client", "sh", "-c",
                       WAIT_WGET ("http://web/") " && ping -c1 -W3 web >/dev/null && echo ping-ok",
                       NULL), ==, 0);
  g_assert_cmpstr (out, ==, "hello-web\nping-ok\n");
  /* The one started first finds the later one too. */
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (fb (f, &out, NULL, "exec", "web", "sh", "-c", "ping -c1 -W3 client >/dev/null "
                       "&& echo found", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "found\n");
  /* Restarted behind another container that took its address. */
  g_assert_cmpint (fb (f, NULL, NULL, "stop", "-t", "1", "web", NULL), ==, 0);
  const char *other_args[] = { "-d", "--name", "other", "--network", "app", NULL };
  g_free (run_ok (f, other_args, "exec sleep 1000"));
  g_assert_cmpint (fb (f, NULL, NULL, "start", "web", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (fb (f, &out, NULL, "exec", "client", "sh", "-c", WAIT_WGET ("http://web/"),
                       NULL), ==, 0);
  g_assert_cmpstr (out, ==, "hello-web\n");
  /* Renamed while it runs: found by its new name only. */
  g_assert_cmpint (fb (f, NULL, NULL, "rename", "web", "site", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (fb (f, &out, NULL, "exec", "client", "sh", "-c",
                       "wget -q -O - http://site/; ping -c1 -W1 web >/dev/null 2>&1 || echo no-web",
                       NULL), ==, 0);
  g_assert_cmpstr (out, ==, "hello-web\nno-web\n");
}

/* ---- published ports and the outside ---- */

typedef struct {
  char *ns;       /* the outside client's network namespace */
  char *host_ip;  /* the host's address on the link to it */
  char *ns_ip;    /* its own */
} Outside;

static void
outside_free (Outside *o)
{
  g_free (o->ns);
  g_free (o->host_ip);
  g_free (o->ns_ip);
  g_free (o);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Outside, outside_free)

/* A network namespace joined to the host by a veth pair on a /30 of its
 * own, its default route through the host: a machine outside. */
static Outside *
outside_make (Fixture *f)
{
  Outside *o = g_new0 (Outside, 1);
  guint n = getpid () % 250;
  o->ns = g_strdup_printf ("berth-out-%d", (int) getpid ());
  o->host_ip = g_strdup_printf ("10.251.%u.1", n);
  o->ns_ip = g_strdup_printf ("10.251.%u.2", n);
  g_autofree char *setup = g_strdup_printf (
    "set -e; ip netns add %1$s; ip link add bo%4$d type veth peer name bi%4$d; "
    "ip link set bi%4$d netns %1$s; ip addr add %2$s/30 dev bo%4$d; ip link set bo%4$d up; "
    "ip -n %1$s addr add %3$s/30 dev bi%4$d; ip -n %1$s link set bi%4$d up; "
    "ip -n %1$s link set lo up; ip -n %1$s route add default via %2$s",
    o->ns, o->host_ip, o->ns_ip, (int) getpid ());
  g_autofree char *err = NULL;
  if (sh (setup, NULL, &err) != 0)
    g_error ("the outside namespace: %s", err);
  g_ptr_array_add (f->cleanup, g_strdup_printf ("ip link del bo%d; ip netns del %s",
                                                (int) getpid (), o->ns));
  return o;
}

/* A busybox httpd in a container published with -p answers wget from the
 * host on 127.0.0.1 and on the host's address, and a client outside; a
 * port published on 127.0.0.1 only does not answer on the host's address. */
static void
test_publish (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  guint port = free_port (), local_port = free_port ();
  g_autofree char *p1 = g_strdup_printf ("%u:80", port);
  g_autofree char *p2 = g_strdup_printf ("127.0.0.1:%u:80", local_port);
  const char *args[] = { "-d", "--name", "web", "--network", "bridge", "-p", p1, "-p", p2, NULL };
  g_free (run_ok (f, args, HTTPD ("published")));
  g_autoptr (Outside) out_ns = outside_make (f);
  g_autofree char *host = host_address ();
  struct { const char *netns, *address; guint port; } reach[] = {
    { NULL, "127.0.0.1", port }, { NULL, host, port }, { out_ns->ns, out_ns->host_ip, port },
    { NULL, "127.0.0.1", local_port },
  };
  for (guint i = 0; i < G_N_ELEMENTS (reach); i++)
    {
      if (reach[i].address == NULL)
        continue;
      g_autofree char *prefix = reach[i].netns ? g_strdup_printf ("ip netns exec %s ", reach[i].netns)
                                               : g_strdup ("");
      g_autofree char *cmd = g_strdup_printf (RETRY ("%sbusybox wget -q -O - http://%s:%u/"),
                                              prefix, reach[i].address, reach[i].port);
      g_autofree char *body = NULL, *err = NULL;
      if (sh (cmd, &body, &err) != 0)
        g_error ("%s: %s", cmd, err);
      g_assert_cmpstr (body, ==, "published\n");
    }
  /* UDP: berth-net-probe answers a datagram sent to a published port. */
  g_autofree char *probe = net_probe_path ();
  g_autofree char *volume = g_strdup_printf ("%s:/probe:ro", probe);
  guint udp_port = free_port ();
  g_autofree char *p3 = g_strdup_printf ("%u:53/udp", udp_port);
  const char *udp_run[] = { tu_berth_bin (), "--root", f->root, "run", "-d", "--exec-driver",
                            f->params->exec_driver, "--network", "bridge", "-v", volume, "-p", p3,
                            "busybox", "/probe", "udp-echo", "53", NULL };
  g_autofree char *udp_id = NULL, *udp_err = NULL;
  if (tu_run ((char **) udp_run, &udp_id, &udp_err) != 0)
    g_error ("run the UDP server: %s", udp_err);
  g_autofree char *udp_port_text = g_strdup_printf ("%u", udp_port);
  const char *ask[] = { probe, "udp", "127.0.0.1", udp_port_text, "over-udp", NULL };
  g_autofree char *answer = NULL;
  g_assert_cmpint (tu_run ((char **) ask, &answer, NULL), ==, 0);
  g_assert_cmpstr (answer, ==, "over-udp\n");
  /* Published on 127.0.0.1 only: the outside client is refused. */
  g_autofree char *cmd = g_strdup_printf ("ip netns exec %s busybox nc -w 2 %s %u </dev/null",
                                          out_ns->ns, out_ns->host_ip, local_port);
  g_assert_cmpint (sh (cmd, NULL, NULL), !=, 0);
}

/* A container reaches a server in the outside namespace through the
 * host's NAT: the server sees the host's address, not the container's. */
static void
test_outbound_nat (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_autoptr (Outside) o = outside_make (f);
  guint port = free_port ();
  host_httpd (f, o->ns, o->ns_ip, port, "outside-server\n");
  const char *args[] = { "--rm", "--network", "bridge", NULL };
  g_autofree char *script = g_strdup_printf ("wget -q -O - http://%s:%u/", o->ns_ip, port);
  g_autofree char *out = run_ok (f, args, script);
  g_assert_cmpstr (out, ==, "outside-server\n");
  /* The outside has no route to the container's subnet: only the NAT's
   * rewrite of the source can have brought the answer back. */
  g_autofree char *routes = NULL;
  g_autofree char *show = g_strdup_printf ("ip -n %s route", o->ns);
  g_assert_cmpint (sh (show, &routes, NULL), ==, 0);
  g_assert_null (strstr (routes, "172."));
}

/* ---- what must fail, and leave nothing ---- */

static void
assert_fails (Fixture *f, const char *needle, ...)
{
  va_list ap;
  va_start (ap, needle);
  g_autofree char *err = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) tu_berth_bin ());
  g_ptr_array_add (argv, (gpointer) "--root");
  g_ptr_array_add (argv, f->root);
  tu_argv_add_va (argv, ap);
  va_end (ap);
  g_assert_cmpint (tu_berth_argv (argv, NULL, &err), !=, 0);
  tu_assert_one_line_error (err, needle);
}

static void
test_errors (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_assert_cmpint (fb (f, NULL, NULL, "network", "create", "--subnet", "10.252.0.0/24", "one",
                       NULL), ==, 0);
  assert_fails (f, "overlaps network one", "network", "create", "--subnet", "10.252.0.0/16", "two",
                NULL);
  assert_fails (f, "already exists", "network", "create", "one", NULL);
  assert_fails (f, "has host bits set", "network", "create", "--subnet", "10.253.1.1/16", "three",
                NULL);
  assert_fails (f, "no such driver", "network", "create", "-d", "nosuch", "four", NULL);
  assert_fails (f, "no such network", "run", "--rm", "--network", "nosuch", "busybox", "true",
                NULL);
  assert_fails (f, "not [[IP:]HOST:]CONTAINER", "run", "--rm", "--network", "one", "-p", "80:http",
                "busybox", "true", NULL);
  assert_fails (f, "-p needs a berth network", "run", "--rm", "--network", "none", "-p",
                "8080:80", "busybox", "true", NULL);
  guint port = free_port ();
  g_autofree char *p = g_strdup_printf ("%u:80", port);
  const char *args[] = { "-d", "--name", "first", "--network", "one", "-p", p, NULL };
  g_autofree char *id = run_ok (f, args, "exec sleep 1000");
  assert_fails (f, "already published by container first", "run", "-d", "--network", "one", "-p",
                p, "busybox", "sleep", "1000", NULL);
  assert_fails (f, "in use by running container first", "network", "rm", "one", NULL);
  /* A port another store's container publishes: that store is named. */
  g_autofree char *other = g_build_filename (f->dir, "other", NULL);
  guint taken = free_port ();
  g_autofree char *tp = g_strdup_printf ("%u:80", taken);
  g_assert_cmpint (tu_berth (other, NULL, NULL, "image", "bootstrap", "busybox", NULL), ==, 0);
  g_ptr_array_add (f->cleanup, g_strdup_printf ("%s --root %s rm -f holder", tu_berth_bin (),
                                                other));
  g_assert_cmpint (tu_berth (other, NULL, NULL, "run", "-d", "--name", "holder", "--exec-driver",
                             f->params->exec_driver, "--network", "bridge", "-p", tp, "busybox",
                             "sleep", "1000", NULL), ==, 0);
  assert_fails (f, "of another store", "run", "--rm", "--network", "one", "-p", tp, "busybox",
                "true", NULL);
  /* Nothing of the failures is left: one network, one lease. */
  g_autoptr (GPtrArray) nets = network_records (f);
  g_assert_cmpuint (nets->len, ==, 1);
  g_autofree char *ps = NULL;
  fb (f, &ps, NULL, "ps", "-q", NULL);
  g_autofree char *short_id = g_strndup (id, 12);
  g_assert_cmpstr (g_strstrip (ps), ==, short_id);
}

/* A container on the default network with a published port: its id. */
static char *
run_published (Fixture *f)
{
  g_autofree char *p = g_strdup_printf ("%u:80", free_port ());
  const char *args[] = { "-d", "--network", "bridge", "-p", p, NULL };
  return g_strstrip (run_ok (f, args, "exec sleep 1000"));
}

/* The monitor killed: the next command finds the container exited and
 * its link, rules and lease gone. */
static void
test_monitor_killed (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_autofree char *id = run_published (f);
  g_autofree char *state_path = g_build_filename (f->root, "containers", id, "state.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_assert_true (json_parser_load_from_file (parser, state_path, NULL));
  JsonObject *state = json_node_get_object (json_parser_get_root (parser));
  pid_t monitor = json_object_get_int_member (state, "MonitorPid");
  g_assert_cmpint (monitor, >, 0);
  g_assert_cmpint (kill (monitor, SIGKILL), ==, 0);
  g_usleep (200 * 1000);
  g_autofree char *ps = NULL;
  g_assert_cmpint (fb (f, &ps, NULL, "ps", "-q", NULL), ==, 0);
  g_assert_cmpstr (ps, ==, "");
  /* Killed with the monitor, its namespace went, and its veth with it. */
  for (int i = 0; i < 50; i++)
    {
      g_autofree char *left = leftovers (f);
      if (*left == '\0')
        break;
      g_usleep (100 * 1000);
    }
  g_autofree char *left = leftovers (f);
  g_assert_cmpstr (left, ==, "");
}

/* busybox with EXPOSE 80/tcp and 53/udp, as `bbexpose:latest`: saved,
 * its config given ExposedPorts under its new digest, loaded back. */
static void
load_exposing_image (Fixture *f)
{
  g_autofree char *dir = g_build_filename (f->dir, "expose", NULL);
  g_autofree char *tar = g_build_filename (f->dir, "busybox.tar", NULL);
  g_assert_cmpint (g_mkdir_with_parents (dir, 0755), ==, 0);
  g_assert_cmpint (fb (f, NULL, NULL, "save", "busybox", "-o", tar, NULL), ==, 0);
  char *untar[] = { "tar", "-C", dir, "-xf", tar, NULL };
  g_assert_cmpint (tu_run (untar, NULL, NULL), ==, 0);
  g_autofree char *manifest_path = g_build_filename (dir, "manifest.json", NULL);
  g_autoptr (JsonParser) mp = json_parser_new ();
  g_assert_true (json_parser_load_from_file (mp, manifest_path, NULL));
  JsonObject *entry = json_array_get_object_element (json_node_get_array (json_parser_get_root (mp)), 0);
  g_autofree char *old_config = g_build_filename (dir, json_object_get_string_member (entry, "Config"), NULL);
  g_autoptr (JsonParser) cp = json_parser_new ();
  g_assert_true (json_parser_load_from_file (cp, old_config, NULL));
  JsonObject *config = json_object_get_object_member (json_node_get_object (json_parser_get_root (cp)),
                                                      "config");
  JsonObject *exposed = json_object_new ();
  json_object_set_object_member (exposed, "80/tcp", json_object_new ());
  json_object_set_object_member (exposed, "53/udp", json_object_new ());
  json_object_set_object_member (config, "ExposedPorts", exposed);
  g_autofree char *text = json_to_string (json_parser_get_root (cp), FALSE);
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, text, -1);
  g_autofree char *config_name = g_strconcat (digest, ".json", NULL);
  g_autofree char *new_config = g_build_filename (dir, config_name, NULL);
  g_assert_cmpint (unlink (old_config), ==, 0);
  tu_write_file (new_config, text, 0644);
  json_object_set_string_member (entry, "Config", config_name);
  JsonArray *tags = json_array_new ();
  json_array_add_string_element (tags, "bbexpose:latest");
  json_object_set_array_member (entry, "RepoTags", tags);
  g_autofree char *manifest = json_to_string (json_parser_get_root (mp), FALSE);
  tu_write_file (manifest_path, manifest, 0644);
  g_autofree char *out_tar = g_build_filename (f->dir, "expose.tar", NULL);
  char *retar[] = { "tar", "-C", dir, "-cf", out_tar, ".", NULL };
  g_assert_cmpint (tu_run (retar, NULL, NULL), ==, 0);
  g_assert_cmpint (fb (f, NULL, NULL, "load", "-i", out_tar, NULL), ==, 0);
}

/* @container's NetworkSettings @member, from `berth inspect`. */
static JsonNode *
inspected_settings (Fixture *f, const char *container, const char *member)
{
  g_autofree char *out = NULL;
  g_assert_cmpint (fb (f, &out, NULL, "inspect", container, NULL), ==, 0);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_assert_true (json_parser_load_from_data (p, out, -1, NULL));
  JsonObject *c = json_array_get_object_element (json_node_get_array (json_parser_get_root (p)), 0);
  JsonObject *settings = json_object_get_object_member (c, "NetworkSettings");
  return json_node_copy (json_object_get_member (settings, member));
}

/* The host port of @container's @port ("80/tcp"), from `berth inspect`. */
static char *
inspected_host_port (Fixture *f, const char *container, const char *port)
{
  g_autoptr (JsonNode) node = inspected_settings (f, container, "Ports");
  JsonObject *ports = json_node_get_object (node);
  g_assert_true (json_object_has_member (ports, port));
  JsonObject *binding = json_array_get_object_element (json_object_get_array_member (ports, port), 0);
  return g_strdup (json_object_get_string_member (binding, "HostPort"));
}

/* The networks `berth inspect` shows @container on. */
static char *
inspected_networks (Fixture *f, const char *container)
{
  g_autoptr (JsonNode) node = inspected_settings (f, container, "Networks");
  g_autoptr (GList) names = json_object_get_members (json_node_get_object (node));
  names = g_list_sort (names, (GCompareFunc) strcmp);
  g_autoptr (GString) list = g_string_new (NULL);
  for (GList *n = names; n; n = n->next)
    g_string_append_printf (list, "%s%s", list->len ? " " : "", (const char *) n->data);
  return g_string_free (g_steal_pointer (&list), FALSE);
}

/* `berth exec CONTAINER sh -c SCRIPT`'s output, which must succeed. */
static char *
exec_ok (Fixture *f, const char *container, const char *script)
{
  char *out = NULL;
  g_autofree char *err = NULL;
  int rc = fb (f, &out, &err, "exec", container, "sh", "-c", script, NULL);
  if (rc != 0)
    g_error ("exec %s %s: exit %d: %s", container, script, rc, err);
  return out;
}

/* network connect gives a running container an interface on a second
 * network (eth1, no second default route), where it and the containers
 * there reach each other by name; it comes back at the next start;
 * disconnect takes it away, interface, host end, lease and names. */
static void
test_connect (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_assert_cmpint (fb (f, NULL, NULL, "network", "create", "--subnet", "10.254.21.0/24", "front",
                       NULL), ==, 0);
  g_assert_cmpint (fb (f, NULL, NULL, "network", "create", "--subnet", "10.254.22.0/24", "back",
                       NULL), ==, 0);
  const char *db_args[] = { "-d", "--name", "db", "--network", "back", NULL };
  const char *app_args[] = { "-d", "--name", "app", "--network", "front", NULL };
  g_free (run_ok (f, db_args, HTTPD ("hello-db")));
  g_autofree char *app = g_strstrip (run_ok (f, app_args, "exec sleep 1000"));
  g_autofree char *before = exec_ok (f, "app", "wget -q -T 2 -O - http://db/ || echo no-db");
  g_assert_cmpstr (before, ==, "no-db\n");

  g_autofree char *err = NULL;
  if (fb (f, NULL, &err, "network", "connect", "back", "app", NULL) != 0)
    g_error ("network connect: %s", err);
  g_autofree char *out = exec_ok (f, "app", "wget -q -O - http://db/; "
                                            "ip -4 -o addr show eth1 | awk '{print $4}'; "
                                            "ip route | grep -c ^default");
  g_assert_cmpstr (out, ==, "hello-db\n10.254.22.3/24\n1\n");
  g_autofree char *found = exec_ok (f, "db", "ping -c1 -W3 app >/dev/null && echo found");
  g_assert_cmpstr (found, ==, "found\n");
  g_autofree char *networks = inspected_networks (f, "app");
  g_assert_cmpstr (networks, ==, "back front");
  assert_fails (f, "already connected to network back", "network", "connect", "back", "app", NULL);
  assert_fails (f, "in use by running container", "network", "rm", "back", NULL);
  assert_fails (f, "no such network", "network", "connect", "nosuch", "app", NULL);

  /* The connection is the container's: its next start has it too. */
  g_assert_cmpint (fb (f, NULL, NULL, "stop", "-t", "1", "app", NULL), ==, 0);
  g_assert_cmpint (fb (f, NULL, NULL, "start", "app", NULL), ==, 0);
  g_autofree char *again = exec_ok (f, "app", "wget -q -O - http://db/");
  g_assert_cmpstr (again, ==, "hello-db\n");

  g_clear_pointer (&err, g_free);
  if (fb (f, NULL, &err, "network", "disconnect", "back", "app", NULL) != 0)
    g_error ("network disconnect: %s", err);
  g_autofree char *after = exec_ok (f, "app", "ip link show eth1 >/dev/null 2>&1 || echo no-eth1; "
                                              "wget -q -T 2 -O - http://db/ || echo no-db");
  g_assert_cmpstr (after, ==, "no-eth1\nno-db\n");
  g_autofree char *named = exec_ok (f, "db", "grep -cw app /etc/hosts || true");
  g_assert_cmpstr (named, ==, "0\n");
  g_autofree char *host_end = g_strdup_printf ("vb%.10s1", app);
  g_assert_cmpuint (if_nametoindex (host_end), ==, 0);
  g_autofree char *networks_after = inspected_networks (f, "app");
  g_assert_cmpstr (networks_after, ==, "front");
  assert_fails (f, "not connected to network back", "network", "disconnect", "back", "app", NULL);
  assert_fails (f, "only one added by network connect", "network", "disconnect", "front", "app",
                NULL);
  const char *none_args[] = { "-d", "--name", "alone", "--network", "none", NULL };
  g_free (run_ok (f, none_args, "exec sleep 1000"));
  assert_fails (f, "cannot be connected to back", "network", "connect", "back", "alone", NULL);
}

/* -p with the container's port alone and -P (every EXPOSE) publish on
 * free host ports, which inspect shows and which answer. */
static void
test_publish_any_port (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  const char *args[] = { "-d", "--name", "web", "--network", "bridge", "-p", "80", NULL };
  g_free (run_ok (f, args, HTTPD ("any-port")));
  g_autofree char *port = inspected_host_port (f, "web", "80/tcp");
  g_autofree char *cmd = g_strdup_printf (RETRY ("busybox wget -q -O - http://127.0.0.1:%s/"),
                                          port);
  g_autofree char *body = NULL;
  g_assert_cmpint (sh (cmd, &body, NULL), ==, 0);
  g_assert_cmpstr (body, ==, "any-port\n");
  load_exposing_image (f);
  g_assert_cmpint (fb (f, NULL, NULL, "run", "-d", "--name", "all", "-P", "bbexpose", "sh", "-c",
                       HTTPD ("exposed"), NULL), ==, 0);
  g_autofree char *tcp = inspected_host_port (f, "all", "80/tcp");
  g_autofree char *udp = inspected_host_port (f, "all", "53/udp");
  g_assert_cmpstr (tcp, !=, udp);
  g_autofree char *cmd2 = g_strdup_printf (RETRY ("busybox wget -q -O - http://127.0.0.1:%s/"),
                                           tcp);
  g_autofree char *body2 = NULL;
  g_assert_cmpint (sh (cmd2, &body2, NULL), ==, 0);
  g_assert_cmpstr (body2, ==, "exposed\n");
  /* berth port says the same as inspect, in Docker's words. */
  g_autofree char *listed = NULL, *one = NULL;
  g_assert_cmpint (fb (f, &listed, NULL, "port", "all", NULL), ==, 0);
  g_autofree char *want = g_strdup_printf ("53/udp -> 0.0.0.0:%s\n80/tcp -> 0.0.0.0:%s\n", udp,
                                           tcp);
  g_assert_cmpstr (listed, ==, want);
  g_assert_cmpint (fb (f, &one, NULL, "port", "all", "80", NULL), ==, 0);
  g_autofree char *want_one = g_strdup_printf ("0.0.0.0:%s\n", tcp);
  g_assert_cmpstr (one, ==, want_one);
  assert_fails (f, "no public port '8080/tcp' published", "port", "all", "8080", NULL);
}

/* ---- other drivers and modes ---- */

/* macvlan on a parent of the host's (one end of a veth pair, which every
 * kernel here has; Docker's tests use a dummy, which not every kernel
 * builds): two containers reach each other by name on it, and it refuses
 * -p and a missing parent in one line. */
static void
test_macvlan (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_autofree char *parent = g_strdup_printf ("bmv%da", (int) getpid ());
  g_autofree char *make = g_strdup_printf ("ip link add %1$s type veth peer name bmv%2$db && "
                                           "ip link set %1$s up && ip link set bmv%2$db up",
                                           parent, (int) getpid ());
  g_autofree char *err = NULL;
  if (sh (make, NULL, &err) != 0)
    g_error ("the parent interface: %s", err);
  g_ptr_array_add (f->cleanup, g_strdup_printf ("ip link del %s", parent));
  g_autofree char *opt = g_strdup_printf ("parent=%s", parent);
  g_assert_cmpint (fb (f, NULL, NULL, "network", "create", "-d", "macvlan", "--subnet",
                       "10.254.7.0/24", "-o", opt, "lan", NULL), ==, 0);
  assert_fails (f, "the host has no such interface", "network", "create", "-d", "macvlan",
                "--subnet", "10.254.8.0/24", "-o", "parent=berth-nosuch0", "lan2", NULL);
  assert_fails (f, "needs -o parent=INTERFACE", "network", "create", "-d", "macvlan", "lan3",
                NULL);
  const char *web_args[] = { "-d", "--name", "web", "--network", "lan", NULL };
  g_free (run_ok (f, web_args, HTTPD ("over-macvlan")));
  const char *args[] = { "--rm", "--network", "lan", NULL };
  g_autofree char *out = run_ok (f, args, WAIT_WGET ("http://web/") "; "
                                          "ip -4 -o addr show eth0 | awk '{print $4}'");
  g_auto (GStrv) l = g_strsplit (out, "\n", -1);
  g_assert_cmpstr (l[0], ==, "over-macvlan");
  g_assert_true (g_str_has_prefix (l[1], "10.254.7."));
  assert_fails (f, "cannot publish ports", "run", "--rm", "--network", "lan", "-p", "8080:80",
                "busybox", "true", NULL);
  /* A container of another network connected to this one and
   * disconnected again: its macvlan link is made and removed in its
   * namespace, where the host holds no end of it. */
  const char *other_args[] = { "-d", "--name", "other", "--network", "bridge", NULL };
  g_free (run_ok (f, other_args, "exec sleep 1000"));
  g_assert_cmpint (fb (f, NULL, NULL, "network", "connect", "lan", "other", NULL), ==, 0);
  g_autofree char *via = exec_ok (f, "other", "wget -q -O - http://web/");
  g_assert_cmpstr (via, ==, "over-macvlan\n");
  g_assert_cmpint (fb (f, NULL, NULL, "network", "disconnect", "lan", "other", NULL), ==, 0);
  g_autofree char *gone = exec_ok (f, "other", "ip link show eth1 >/dev/null 2>&1 || echo gone");
  g_assert_cmpstr (gone, ==, "gone\n");
}

/* --network container:NAME: the same namespace as a running container
 * (its server on 127.0.0.1, its address), and a one-line error when
 * that container is not running. */
static void
test_join_container (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  const char *web_args[] = { "-d", "--name", "web", "--network", "bridge", NULL };
  g_free (run_ok (f, web_args, HTTPD ("same-namespace")));
  g_autofree char *web_addr = NULL;
  g_assert_cmpint (fb (f, &web_addr, NULL, "exec", "web", "sh", "-c",
                       "ip -4 -o addr show eth0 | awk '{print $4}'", NULL), ==, 0);
  const char *args[] = { "--rm", "--network", "container:web", NULL };
  g_autofree char *out = run_ok (f, args, WAIT_WGET ("http://127.0.0.1/") "; "
                                          "ip -4 -o addr show eth0 | awk '{print $4}'");
  g_autofree char *want = g_strconcat ("same-namespace\n", web_addr, NULL);
  g_assert_cmpstr (out, ==, want);
  g_assert_cmpint (fb (f, NULL, NULL, "create", "--name", "joiner", "--network", "container:web",
                       "busybox", "true", NULL), ==, 0);
  g_assert_cmpint (fb (f, NULL, NULL, "stop", "-t", "1", "web", NULL), ==, 0);
  assert_fails (f, "web is not running", "start", "joiner", NULL);
  assert_fails (f, "no such container", "run", "--rm", "--network", "container:nosuch", "busybox",
                "true", NULL);
}

/* --ip, --mac-address, --dns, --dns-search and --add-host, as a program
 * inside sees them. */
static void
test_options (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_assert_cmpint (fb (f, NULL, NULL, "network", "create", "--subnet", "10.254.9.0/24", "opts",
                       NULL), ==, 0);
  const char *args[] = { "--rm", "--network", "opts", "--ip", "10.254.9.77", "--mac-address",
                         "02:11:22:33:44:55", "--dns", "192.0.2.53", "--dns-search",
                         "example.com", "--add-host", "db:10.1.2.3", NULL };
  g_autofree char *out = run_ok (f, args, "ip -4 -o addr show eth0 | awk '{print $4}'; "
                                          "cat /sys/class/net/eth0/address; "
                                          "grep -v '^#' /etc/resolv.conf; grep -w db /etc/hosts");
  g_assert_cmpstr (out, ==, "10.254.9.77/24\n02:11:22:33:44:55\nnameserver 192.0.2.53\n"
                            "search example.com\n10.1.2.3\tdb\n");
  assert_fails (f, "not a container address of network opts", "run", "--rm", "--network", "opts",
                "--ip", "10.254.10.5", "busybox", "true", NULL);
  assert_fails (f, "not a container address of network opts", "run", "--rm", "--network", "opts",
                "--ip", "10.254.9.1", "busybox", "true", NULL);
  /* A gateway that is not the first address is never handed out. */
  g_assert_cmpint (fb (f, NULL, NULL, "network", "create", "--subnet", "10.254.11.0/29",
                       "--gateway", "10.254.11.2", "gw2", NULL), ==, 0);
  const char *gw_args[] = { "--rm", "--network", "gw2", NULL };
  g_autofree char *addrs = run_ok (f, gw_args, "ip -4 -o addr show eth0 | awk '{print $4}'; "
                                              "ip route | awk '/default/ {print $3}'");
  g_assert_cmpstr (addrs, ==, "10.254.11.1/29\n10.254.11.2\n");
  assert_fails (f, "a name berth keeps", "network", "create", "bridge", NULL);
  assert_fails (f, "a name berth keeps", "network", "create", "host", NULL);
  assert_fails (f, "not an IP address", "run", "--rm", "--dns", "ns.example", "busybox", "true",
                NULL);
  assert_fails (f, "not NAME:IP", "run", "--rm", "--add-host", "db", "busybox", "true", NULL);
  assert_fails (f, "not a unicast MAC address", "run", "--rm", "--mac-address",
                "01:00:5e:00:00:01", "busybox", "true", NULL);
}

/* A store removed from under a running container on a network (its
 * processes killed, its directory deleted): nothing of berth's is told.
 * The next network made on this host, by any store, removes the bridge and
 * the port table left for it, which carry the record's and the
 * container's paths. */
static void
test_store_removed (Fixture *f, gconstpointer data)
{
  (void) data;
  SKIP_IF_SKIPPED (f);
  g_autofree char *id = run_published (f);
  g_autoptr (GPtrArray) nets = network_records (f);
  g_assert_cmpuint (nets->len, ==, 1);
  g_autofree char *bridge = g_strdup (
      json_object_get_string_member (json_node_get_object (nets->pdata[0]), "Interface"));
  g_autofree char *table = g_strdup_printf ("berth_p_vb%.10s", id);
  /* Every process of the store's, then the store. */
  g_autofree char *kill_all = g_strdup_printf (
    "for p in $(grep -l -- '%s' /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3); do "
    "[ $p = $$ ] || kill -9 $p 2>/dev/null; done; "
    "for c in $(find /sys/fs/cgroup -path '*berth/%s*' -name cgroup.procs 2>/dev/null); do "
    "xargs -r kill -9 < $c; done; sleep 0.5", f->root, id);
  g_assert_cmpint (sh (kill_all, NULL, NULL), ==, 0);
  tu_remove_tree (f->root);
  g_autofree char *cgroups = g_strdup_printf (
    "find /sys/fs/cgroup -depth -type d -path '*berth/%s*' -exec rmdir {} + 2>/dev/null; true", id);
  sh (cgroups, NULL, NULL);
  g_assert_cmpuint (if_nametoindex (bridge), !=, 0);
  g_clear_pointer (&bridge, g_free);
  /* Another store makes a network. */
  g_autofree char *other = g_build_filename (f->dir, "other", NULL);
  g_autofree char *err = NULL;
  g_assert_cmpint (tu_berth (other, NULL, &err, "network", "create", "--subnet", "10.254.12.0/24",
                             "again", NULL), ==, 0);
  /* The name may be the new network's now: what must be gone is a bridge
   * labelled with the removed store's record. */
  g_autofree char *labelled = NULL;
  g_autofree char *find_label = g_strdup_printf ("ip -d -o link show | grep -F 'alias berth network "
                                                 "%s/' || true", f->root);
  g_assert_cmpint (sh (find_label, &labelled, NULL), ==, 0);
  g_assert_cmpstr (labelled, ==, "");
  g_autofree char *tables = NULL;
  sh ("nft list tables 2>/dev/null", &tables, NULL);
  g_assert_null (strstr (tables, table));
  g_assert_cmpint (tu_berth (other, NULL, NULL, "network", "rm", "again", NULL), ==, 0);
  /* The teardown has nothing of this store's left to check. */
  f->skipped = TRUE;
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const Params params[] = { { "native" }, { "lxc" } };
  static const struct {
    const char *name;
    void (*func) (Fixture *, gconstpointer);
    gboolean every_driver;
  } cases[] = {
    { "reaches-host", test_reaches_host, TRUE }, { "names", test_names, TRUE },
    { "publish", test_publish, TRUE }, { "outbound-nat", test_outbound_nat, FALSE },
    { "errors", test_errors, FALSE }, { "monitor-killed", test_monitor_killed, TRUE },
    { "macvlan", test_macvlan, TRUE }, { "join-container", test_join_container, TRUE },
    { "options", test_options, FALSE }, { "publish-any-port", test_publish_any_port, FALSE },
    { "store-removed", test_store_removed, FALSE }, { "connect", test_connect, TRUE },
  };
  for (guint d = 0; d < G_N_ELEMENTS (params); d++)
    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        if (d > 0 && !cases[i].every_driver)
          continue;
        g_autofree char *path = g_strdup_printf ("/network/%s/%s", params[d].exec_driver,
                                                 cases[i].name);
        g_test_add (path, Fixture, &params[d], fixture_setup, cases[i].func, fixture_teardown);
      }
  return g_test_run ();
}
