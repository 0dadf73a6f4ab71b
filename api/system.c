/* GET /_ping, /version and /info: what a client asks before anything else. */
#include "config.h"
#include "api.h"
#include <berth/error.h>
#include <berth/json.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

void
berth_api_ping (BerthApi *api, SoupServerMessage *msg, const char *arg, GHashTable *query)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (headers, "Docker-Experimental", "false");
  soup_message_headers_replace (headers, "Cache-Control", "no-cache, no-store, must-revalidate");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_STATIC, "OK", 2);
}

/* Go's name for the machine, as Docker reports it. */
static const char *
go_arch (const char *machine)
{
  const char *names[][2] = { { "x86_64", "amd64" }, { "aarch64", "arm64" }, { "i686", "386" },
                             { "armv7l", "arm" }, { "ppc64le", "ppc64le" }, { "s390x", "s390x" } };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_strcmp0 (machine, names[i][0]) == 0)
      return names[i][1];
  return machine;
}

void
berth_api_version (BerthApi *api, SoupServerMessage *msg, const char *arg, GHashTable *query)
{
  struct utsname u;
  if (uname (&u) < 0)
    memset (&u, 0, sizeof u);
  g_autoptr (JsonObject) o = json_object_new ();
  json_object_set_string_member (o, "Version", PACKAGE_VERSION);
  json_object_set_string_member (o, "ApiVersion", BERTH_API_VERSION);
  json_object_set_string_member (o, "MinAPIVersion", BERTH_API_MIN_VERSION);
  json_object_set_string_member (o, "GitCommit", "");
  json_object_set_string_member (o, "GoVersion", "none (berth is written in C)");
  json_object_set_string_member (o, "Os", "linux");
  json_object_set_string_member (o, "Arch", go_arch (u.machine));
  json_object_set_string_member (o, "KernelVersion", u.release);
  JsonObject *platform = json_object_new ();
  json_object_set_string_member (platform, "Name", "berth");
  json_object_set_object_member (o, "Platform", platform);
  JsonObject *engine = json_object_new ();
  json_object_set_string_member (engine, "Name", "Engine");
  json_object_set_string_member (engine, "Version", PACKAGE_VERSION);
  JsonObject *details = json_object_new ();
  json_object_set_string_member (details, "ApiVersion", BERTH_API_VERSION);
  json_object_set_string_member (details, "MinAPIVersion", BERTH_API_MIN_VERSION);
  json_object_set_string_member (details, "Os", "linux");
  json_object_set_string_member (details, "Arch", go_arch (u.machine));
  json_object_set_string_member (details, "KernelVersion", u.release);
  json_object_set_object_member (engine, "Details", details);
  JsonArray *components = json_array_new ();
  json_array_add_object_element (components, engine);
  json_object_set_array_member (o, "Components", components);
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), o);
  berth_api_reply_json (msg, SOUP_STATUS_OK, node);
}

/* PRETTY_NAME of /etc/os-release, as docker info's "Operating System". */
static char *
os_name (void)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/etc/os-release", &text, NULL, NULL))
    return g_strdup ("Linux");
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (char **l = lines; *l; l++)
    if (g_str_has_prefix (*l, "PRETTY_NAME="))
      {
        char *value = *l + strlen ("PRETTY_NAME=");
        gsize len = strlen (value);
        if (len >= 2 && value[0] == '"' && value[len - 1] == '"')
          return g_strndup (value + 1, len - 2);
        return g_strdup (value);
      }
  return g_strdup ("Linux");
}

static void
set_int (JsonObject *o, const char *name, gint64 value)
{
  json_object_set_int_member (o, name, value);
}

void
berth_api_info (BerthApi *api, SoupServerMessage *msg, const char *arg, GHashTable *query)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (BerthStore) store = berth_api_open_store (api, FALSE, &error);
  g_autoptr (GPtrArray) containers = store ? berth_container_list (store, &error) : NULL;
  g_autoptr (GPtrArray) images = containers ? berth_image_list (store, &error) : NULL;
  if (images == NULL)
    {
      berth_api_reply_error (msg, error);
      return;
    }
  gint64 running = 0, paused = 0;
  for (guint i = 0; i < containers->len; i++)
    {
      g_autoptr (BerthContainerState) s = berth_container_state (store, containers->pdata[i], NULL);
      if (s && g_strcmp0 (s->status, "paused") == 0)
        paused++;
      else if (s && berth_container_state_is_live (s))
        running++;
    }
  struct utsname u;
  if (uname (&u) < 0)
    memset (&u, 0, sizeof u);
  g_autofree char *os = os_name ();
  g_autofree char *hostname = g_strdup (g_get_host_name ());
  long pages = sysconf (_SC_PHYS_PAGES), page_size = sysconf (_SC_PAGESIZE);
  const char *rule = NULL;
  gboolean cgroup2 = g_file_test ("/sys/fs/cgroup/cgroup.controllers", G_FILE_TEST_EXISTS);
  g_autoptr (JsonObject) o = json_object_new ();
  json_object_set_string_member (o, "ID", berth_store_root (store));
  set_int (o, "Containers", containers->len);
  set_int (o, "ContainersRunning", running);
  set_int (o, "ContainersPaused", paused);
  set_int (o, "ContainersStopped", containers->len - running - paused);
  set_int (o, "Images", images->len);
  json_object_set_string_member (o, "Driver", berth_store_default_driver (store, &rule));
  json_object_set_array_member (o, "DriverStatus", json_array_new ());
  json_object_set_boolean_member (o, "MemoryLimit", TRUE);
  json_object_set_boolean_member (o, "SwapLimit", TRUE);
  json_object_set_boolean_member (o, "CpuCfsQuota", TRUE);
  json_object_set_boolean_member (o, "PidsLimit", TRUE);
  json_object_set_string_member (o, "KernelVersion", u.release);
  json_object_set_string_member (o, "OperatingSystem", os);
  json_object_set_string_member (o, "OSType", "linux");
  json_object_set_string_member (o, "Architecture", u.machine);
  set_int (o, "NCPU", g_get_num_processors ());
  set_int (o, "MemTotal", pages > 0 && page_size > 0 ? (gint64) pages * page_size : 0);
  json_object_set_string_member (o, "DockerRootDir", berth_store_root (store));
  json_object_set_string_member (o, "Name", hostname);
  json_object_set_string_member (o, "ServerVersion", PACKAGE_VERSION);
  json_object_set_string_member (o, "CgroupDriver", "cgroupfs");
  json_object_set_string_member (o, "CgroupVersion", cgroup2 ? "2" : "1");
  json_object_set_string_member (o, "DefaultRuntime", "berth");
  json_object_set_string_member (o, "LoggingDriver", "json-file");
  JsonArray *security = json_array_new ();
  json_array_add_string_element (security, "name=seccomp,profile=builtin");
  json_object_set_array_member (o, "SecurityOptions", security);
  json_object_set_array_member (o, "Warnings", json_array_new ());
  g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (), o);
  berth_api_reply_json (msg, SOUP_STATUS_OK, node);
}
