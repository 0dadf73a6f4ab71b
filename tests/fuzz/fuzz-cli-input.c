/* What a user types that berth parses itself (cli/): Docker's --format
 * templates (berth_template_render, core/util/template.c) over an
 * inspect-shaped object, --since/--until times (berth_parse_time,
 * core/util/names.c) and --env-file files (berth_spec_parse_env_file,
 * core/runtime/spec.c). The input's first byte picks the parser. */
#include "config.h"
#include "fuzz-common.h"
#include <berth/names.h>
#include <berth/spec.h>
#include <berth/template.h>

/* Process-wide, as libFuzzer's entry points take no context. */
static JsonNode *inspected;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  (void) argc;
  (void) argv;
  g_autoptr (GError) error = NULL;
  inspected = json_from_string ("{\"Id\": \"0123abcd\", \"State\": {\"Pid\": 42, \"Running\": true, "
                                "\"Status\": \"running\", \"Health\": null}, \"Config\": "
                                "{\"Cmd\": [\"sh\", \"-c\", \"x\"], \"Env\": [], \"Labels\": {}}, "
                                "\"Size\": 1.5}", &error);
  fuzz_check (error, "the inspect object");
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size == 0)
    return 0;
  g_autofree char *text = g_strndup ((const char *) data + 1, size - 1);
  g_autoptr (GError) error = NULL;
  switch (data[0] % 3)
    {
    case 0:
      {
        g_autoptr (GString) out = g_string_new (NULL);
        if (berth_template_render (text, inspected, out, &error) != (error == NULL))
          g_error ("template: the result and the error disagree");
        break;
      }
    case 1:
      {
        gint64 when = 0;
        berth_parse_time (text, "--since", G_GINT64_CONSTANT (1765100000000000), &when, &error);
        break;
      }
    default:
      {
        g_autoptr (GStrvBuilder) env = g_strv_builder_new ();
        if (berth_spec_parse_env_file (text, "fuzz.env", env, &error))
          {
            g_auto (GStrv) entries = g_strv_builder_end (g_steal_pointer (&env));
            for (char **e = entries; *e; e++)
              if (**e == '=' || **e == '#' || **e == ' ')
                g_error ("env-file: took '%s'", *e);
          }
        break;
      }
    }
  fuzz_report ("cli-input", error);
  return 0;
}
