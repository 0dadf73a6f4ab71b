/* The two renderings of a `berth bench` results document: a terminal table
 * and one HTML file with inline SVG charts. Both read the document
 * defensively (a half-failed run still reports) and both place backends in
 * the order of storage_drivers then exec_drivers, so a backend keeps its
 * row and its colour from one phase, chart and run to the next. */
#include "config.h"
#include <berth/bench-report.h>
#include <berth/error.h>
#include <berth/fsutil.h>
#include <berth/json.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

/* Tableau 10: distinct, and still told apart by most colour-blind readers. */
static const char *const palette[] = {
  "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
};

typedef struct {
  JsonObject *root;
  GPtrArray *order;    /* driver names (borrowed): storage then exec */
  GHashTable *colours; /* name (borrowed) -> palette slot + 1 */
} Report;

static void
report_add_drivers (Report *r, const char *member)
{
  JsonArray *drivers = berth_json_array (r->root, member);
  guint n = drivers ? json_array_get_length (drivers) : 0;
  for (guint i = 0; i < n; i++)
    {
      const char *name = berth_json_string (berth_json_array_object (drivers, i), "name", NULL);
      if (name && !g_hash_table_contains (r->colours, name))
        {
          g_ptr_array_add (r->order, (char *) name);
          g_hash_table_insert (r->colours, (char *) name, GUINT_TO_POINTER (r->order->len));
        }
    }
}

static void
report_init (Report *r, JsonObject *root)
{
  r->root = root;
  r->order = g_ptr_array_new ();
  r->colours = g_hash_table_new (g_str_hash, g_str_equal);
  report_add_drivers (r, "storage_drivers");
  report_add_drivers (r, "exec_drivers");
  report_add_drivers (r, "network_modes");
}

static void
report_clear (Report *r)
{
  g_clear_pointer (&r->order, g_ptr_array_unref);
  g_clear_pointer (&r->colours, g_hash_table_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Report, report_clear)

/* A backend missing from the driver lists (an engine newer than this code)
 * still gets a colour of its own, after the listed ones. */
static const char *
report_colour (Report *r, const char *name)
{
  guint slot = GPOINTER_TO_UINT (g_hash_table_lookup (r->colours, name));
  if (slot == 0)
    {
      slot = g_hash_table_size (r->colours) + 1;
      g_hash_table_insert (r->colours, (char *) name, GUINT_TO_POINTER (slot));
    }
  return palette[(slot - 1) % G_N_ELEMENTS (palette)];
}

/* ---- reading the document ---- */

static gboolean
node_number (JsonNode *n, double *out)
{
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n))
    return FALSE;
  GType t = json_node_get_value_type (n);
  if (t == G_TYPE_DOUBLE)
    *out = json_node_get_double (n);
  else if (t == G_TYPE_INT64)
    *out = (double) json_node_get_int (n);
  else
    return FALSE;
  return isfinite (*out);
}

static gboolean
json_number (JsonObject *obj, const char *member, double *out)
{
  return obj && node_number (json_object_get_member (obj, member), out);
}

static guint
array_length (JsonArray *arr)
{
  return arr ? json_array_get_length (arr) : 0;
}

static const char *
phase_title (JsonObject *phase)
{
  return berth_json_string (phase, "title", berth_json_string (phase, "id", "?"));
}

static gboolean
higher_is_better (JsonObject *phase)
{
  return g_strcmp0 (berth_json_string (phase, "better", NULL), "higher") == 0;
}

/* Appends the members of @obj that @names lacks, in @obj's order. */
static void
append_other_members (GPtrArray *names, JsonObject *obj)
{
  if (obj == NULL)
    return;
  g_autoptr (GList) members = json_object_get_members (obj);
  for (GList *l = members; l; l = l->next)
    if (!g_ptr_array_find_with_equal_func (names, l->data, g_str_equal, NULL))
      g_ptr_array_add (names, l->data);
}

/* The backends a phase is about: its group's drivers that are available
 * (one that failed the whole phase shows as such) or that have a result,
 * then any other result. */
static GPtrArray *
phase_backends (Report *r, JsonObject *phase)
{
  JsonObject *results = berth_json_object (phase, "results");
  const char *group = berth_json_string (phase, "group", "");
  const char *member = strcmp (group, "exec") == 0      ? "exec_drivers"
                       : strcmp (group, "storage") == 0 ? "storage_drivers"
                       : strcmp (group, "network") == 0 ? "network_modes"
                                                        : NULL;
  JsonArray *drivers = member ? berth_json_array (r->root, member) : NULL;
  GPtrArray *names = g_ptr_array_new ();
  for (guint i = 0; i < array_length (drivers); i++)
    {
      JsonObject *d = berth_json_array_object (drivers, i);
      const char *name = berth_json_string (d, "name", NULL);
      if (name == NULL)
        continue;
      gboolean measured = results && json_object_has_member (results, name);
      if (measured || berth_json_bool (d, "available", FALSE))
        g_ptr_array_add (names, (char *) name);
    }
  append_other_members (names, results);
  return names;
}

/* The series of a growth curve, known drivers first. */
static GPtrArray *
growth_backends (Report *r, JsonObject *series)
{
  GPtrArray *names = g_ptr_array_new ();
  for (guint i = 0; series && i < r->order->len; i++)
    if (json_object_has_member (series, r->order->pdata[i]))
      g_ptr_array_add (names, r->order->pdata[i]);
  append_other_members (names, series);
  return names;
}

typedef enum { CELL_MISSING, CELL_ERROR, CELL_OK } CellState;

typedef struct {
  CellState state;
  const char *error;
  double median, min, max, spread;
  gboolean has_range, has_spread;
} Cell;

static Cell
phase_cell (JsonObject *phase, const char *backend)
{
  Cell c = { .state = CELL_MISSING };
  JsonObject *res = berth_json_object (berth_json_object (phase, "results"), backend);
  if (res == NULL)
    return c;
  c.error = berth_json_string (res, "error", NULL);
  if (c.error)
    {
      c.state = CELL_ERROR;
      return c;
    }
  if (!json_number (res, "median", &c.median))
    return c;
  c.state = CELL_OK;
  c.has_range = json_number (res, "min", &c.min) && json_number (res, "max", &c.max);
  c.has_spread = json_number (res, "spread_pct", &c.spread);
  return c;
}

static Cell *
phase_cells (JsonObject *phase, GPtrArray *names)
{
  Cell *cells = g_new0 (Cell, MAX (names->len, 1));
  for (guint i = 0; i < names->len; i++)
    cells[i] = phase_cell (phase, names->pdata[i]);
  return cells;
}

/* Index of the best median, -1 when none was measured. */
static int
best_cell (const Cell *cells, guint n, gboolean higher)
{
  int best = -1;
  for (guint i = 0; i < n; i++)
    if (cells[i].state == CELL_OK
        && (best < 0 || (higher ? cells[i].median > cells[best].median
                                : cells[i].median < cells[best].median)))
      best = (int) i;
  return best;
}

typedef struct {
  double x, y;
} Point;

/* The [x, y] pairs of @arr that are numbers; a log axis cannot place
 * x <= 0, so those are left out. */
static GArray *
series_points (JsonArray *arr)
{
  GArray *pts = g_array_new (FALSE, FALSE, sizeof (Point));
  for (guint i = 0; i < array_length (arr); i++)
    {
      JsonNode *n = json_array_get_element (arr, i);
      JsonArray *pair = JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
      Point p;
      if (array_length (pair) == 2 && node_number (json_array_get_element (pair, 0), &p.x)
          && node_number (json_array_get_element (pair, 1), &p.y) && p.x > 0)
        g_array_append_val (pts, p);
    }
  return pts;
}

static gboolean
point_at (GArray *pts, double x, double *y)
{
  for (guint i = 0; i < pts->len; i++)
    if (g_array_index (pts, Point, i).x == x)
      {
        *y = g_array_index (pts, Point, i).y;
        return TRUE;
      }
  return FALSE;
}

static int
compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* The x values of all series together, sorted, each once: the columns of
 * a growth table and the ticks of its chart. */
static GArray *
growth_xs (GPtrArray *series_points_list)
{
  GArray *xs = g_array_new (FALSE, FALSE, sizeof (double));
  for (guint s = 0; s < series_points_list->len; s++)
    {
      GArray *pts = series_points_list->pdata[s];
      for (guint i = 0; i < pts->len; i++)
        g_array_append_val (xs, g_array_index (pts, Point, i).x);
    }
  g_array_sort (xs, compare_double);
  guint kept = 0;
  for (guint i = 0; i < xs->len; i++)
    if (kept == 0 || g_array_index (xs, double, i) != g_array_index (xs, double, kept - 1))
      g_array_index (xs, double, kept++) = g_array_index (xs, double, i);
  g_array_set_size (xs, kept);
  return xs;
}

/* A growth curve, read once for a table or a chart. */
typedef struct {
  const char *x_label;
  GPtrArray *names;  /* borrowed */
  GPtrArray *points; /* a GArray of Point per name */
  GArray *xs;
  gboolean wide;     /* too many x values for a row: the table is transposed */
} Curve;

static void
curve_init (Curve *c, Report *r, JsonObject *growth)
{
  JsonObject *series = berth_json_object (growth, "series");
  c->x_label = berth_json_string (growth, "x_label", "x");
  c->names = growth_backends (r, series);
  c->points = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  for (guint i = 0; i < c->names->len; i++)
    g_ptr_array_add (c->points, series_points (berth_json_array (series, c->names->pdata[i])));
  c->xs = growth_xs (c->points);
  c->wide = c->xs->len > 12;
}

static void
curve_clear (Curve *c)
{
  g_clear_pointer (&c->names, g_ptr_array_unref);
  g_clear_pointer (&c->points, g_ptr_array_unref);
  g_clear_pointer (&c->xs, g_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Curve, curve_clear)

/* ---- numbers ---- */

/* Three significant digits or so: enough to compare backends, few enough
 * to read across a row. */
static char *
fmt_value (double v)
{
  double a = fabs (v);
  return g_strdup_printf ("%.*f", a < 10 ? 2 : a < 100 ? 1 : 0, v);
}

static char *
fmt_x (double x)
{
  if (x == floor (x) && fabs (x) < 1e15)
    return g_strdup_printf ("%.0f", x);
  return fmt_value (x);
}

static char *
fmt_spread (const Cell *c)
{
  return c->has_spread ? g_strdup_printf ("± %.1f%%", c->spread) : g_strdup ("—");
}

static char *
fmt_range (const Cell *c)
{
  if (!c->has_range)
    return g_strdup ("—");
  g_autofree char *lo = fmt_value (c->min);
  g_autofree char *hi = fmt_value (c->max);
  return g_strdup_printf ("%s–%s", lo, hi);
}

static char *
fmt_samples (JsonObject *phase, const char *backend)
{
  JsonObject *res = berth_json_object (berth_json_object (phase, "results"), backend);
  JsonArray *samples = berth_json_array (res, "samples");
  g_autoptr (GString) s = g_string_new (NULL);
  for (guint i = 0; i < array_length (samples); i++)
    {
      double v;
      if (!node_number (json_array_get_element (samples, i), &v))
        continue;
      g_autofree char *t = fmt_value (v);
      g_string_append_printf (s, "%s%s", s->len ? ", " : "", t);
    }
  return g_strdup (s->len ? s->str : "—");
}

/* Host and settings values: strings as they are, byte counts also in
 * MiB/GiB, anything structured as compact JSON. */
static char *
fmt_member (JsonObject *obj, const char *member)
{
  JsonNode *n = json_object_get_member (obj, member);
  if (JSON_NODE_HOLDS_NULL (n))
    return g_strdup ("—");
  if (!JSON_NODE_HOLDS_VALUE (n))
    return berth_json_to_string (n, NULL);
  GType t = json_node_get_value_type (n);
  if (t == G_TYPE_STRING)
    return g_strdup (json_node_get_string (n));
  if (t == G_TYPE_BOOLEAN)
    return g_strdup (json_node_get_boolean (n) ? "yes" : "no");
  if (t == G_TYPE_INT64 && g_str_has_suffix (member, "_size") && json_node_get_int (n) >= 1024)
    {
      g_autofree char *size = g_format_size_full ((guint64) json_node_get_int (n),
                                                  G_FORMAT_SIZE_IEC_UNITS);
      return g_strdup_printf ("%" G_GINT64_FORMAT " (%s)", json_node_get_int (n), size);
    }
  if (t == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (n));
  return fmt_value (json_node_get_double (n));
}

static char *
member_label (const char *member)
{
  char *label = g_strdup (member);
  g_strdelimit (label, "_", ' ');
  return label;
}

static char *
driver_details (JsonObject *d)
{
  const char *parts[4] = { NULL };
  guint n = 0;
  g_autofree char *io = NULL;
  if (!berth_json_bool (d, "available", FALSE))
    parts[n++] = berth_json_string (d, "reason", "no reason given");
  if (berth_json_string (d, "io_mode", NULL))
    parts[n++] = io = g_strdup_printf ("I/O %s", berth_json_string (d, "io_mode", NULL));
  if (berth_json_string (d, "note", NULL))
    parts[n++] = berth_json_string (d, "note", NULL);
  return g_strjoinv ("; ", (char **) parts);
}

/* The curve's table: a row per backend and a column per x (or the
 * transpose when wide), row 0 and column 0 holding the headings. */
static guint
curve_rows (const Curve *c)
{
  return 1 + (c->wide ? c->xs->len : c->names->len);
}

static guint
curve_cols (const Curve *c)
{
  return 1 + (c->wide ? c->names->len : c->xs->len);
}

static char *
curve_cell (const Curve *c, guint row, guint col)
{
  guint backend = c->wide ? col : row, x = c->wide ? row : col;
  if (backend == 0 && x == 0)
    return g_strdup (c->x_label);
  if (backend == 0)
    return fmt_x (g_array_index (c->xs, double, x - 1));
  if (x == 0)
    return g_strdup (c->names->pdata[backend - 1]);
  double y;
  if (!point_at (c->points->pdata[backend - 1], g_array_index (c->xs, double, x - 1), &y))
    return g_strdup ("—");
  return fmt_value (y);
}

/* ---- the terminal table ---- */

/* A table is a GPtrArray of rows, each a GStrv of cells. A row's trailing
 * empty cells are dropped, so no line ends in padding. */
static void
text_row_take (GPtrArray *rows, GPtrArray *cells)
{
  for (guint i = 0; i < cells->len; i++)
    for (char *c = cells->pdata[i]; *c; c++)
      if ((guchar) *c < 0x20 || *c == 0x7f)
        *c = ' ';
  while (cells->len > 1 && *(char *) cells->pdata[cells->len - 1] == '\0')
    g_free (g_ptr_array_steal_index (cells, cells->len - 1));
  g_ptr_array_add (cells, NULL);
  g_ptr_array_add (rows, g_ptr_array_free (cells, FALSE));
}

static void G_GNUC_NULL_TERMINATED
text_row (GPtrArray *rows, const char *first, ...)
{
  GPtrArray *cells = g_ptr_array_new ();
  va_list ap;
  va_start (ap, first);
  for (const char *c = first; c; c = va_arg (ap, const char *))
    g_ptr_array_add (cells, g_strdup (c));
  va_end (ap);
  text_row_take (rows, cells);
}

static GPtrArray *
text_rows_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
}

/* Columns padded to their widest cell, counted in characters so "±" and
 * "—" do not skew them. @align has one letter per column, 'l' or 'r'; the
 * last letter serves the columns beyond. */
static void
text_rows_print (GPtrArray *rows, const char *align, FILE *out)
{
  g_autoptr (GArray) widths = g_array_new (FALSE, TRUE, sizeof (glong));
  for (guint r = 0; r < rows->len; r++)
    {
      char **cells = rows->pdata[r];
      guint n = g_strv_length (cells);
      if (widths->len < n)
        g_array_set_size (widths, n);
      for (guint c = 0; c < n; c++)
        g_array_index (widths, glong, c)
          = MAX (g_array_index (widths, glong, c), g_utf8_strlen (cells[c], -1));
    }
  gsize last_align = strlen (align) - 1;
  for (guint r = 0; r < rows->len; r++)
    {
      char **cells = rows->pdata[r];
      for (guint c = 0; cells[c]; c++)
        {
          glong pad = g_array_index (widths, glong, c) - g_utf8_strlen (cells[c], -1);
          gboolean right = align[MIN (c, last_align)] == 'r';
          gboolean last = cells[c + 1] == NULL;
          fprintf (out, "  %*s%s%*s", right ? (int) pad : 0, "", cells[c],
                   right || last ? 0 : (int) pad, "");
        }
      fputs ("\n", out);
    }
}

static void
print_members (JsonObject *obj, const char *title, FILE *out)
{
  if (obj == NULL)
    return;
  g_autoptr (GPtrArray) rows = text_rows_new ();
  g_autoptr (GList) members = json_object_get_members (obj);
  for (GList *l = members; l; l = l->next)
    {
      g_autofree char *label = member_label (l->data);
      g_autofree char *value = fmt_member (obj, l->data);
      text_row (rows, label, value, NULL);
    }
  fprintf (out, "\n%s\n", title);
  text_rows_print (rows, "l", out);
}

static void
print_drivers (JsonObject *root, const char *member, const char *title, FILE *out)
{
  JsonArray *drivers = berth_json_array (root, member);
  if (array_length (drivers) == 0)
    return;
  g_autoptr (GPtrArray) rows = text_rows_new ();
  for (guint i = 0; i < array_length (drivers); i++)
    {
      JsonObject *d = berth_json_array_object (drivers, i);
      g_autofree char *details = driver_details (d);
      text_row (rows, berth_json_string (d, "name", "?"),
                berth_json_bool (d, "available", FALSE) ? "available" : "unavailable", details,
                NULL);
    }
  fprintf (out, "\n%s\n", title);
  text_rows_print (rows, "l", out);
}

static char *
cell_note (const Cell *c, gboolean best)
{
  if (c->state == CELL_ERROR)
    return g_strdup_printf ("error: %s", c->error);
  if (c->state == CELL_MISSING)
    return g_strdup ("no result");
  return g_strdup (best ? "best" : "");
}

static void
print_phase (Report *r, JsonObject *phase, FILE *out)
{
  g_autoptr (GPtrArray) names = phase_backends (r, phase);
  g_autofree Cell *cells = phase_cells (phase, names);
  gboolean higher = higher_is_better (phase);
  int best = best_cell (cells, names->len, higher);
  g_autoptr (GPtrArray) rows = text_rows_new ();
  text_row (rows, "backend", "median", "spread", "min–max", "", NULL);
  for (guint i = 0; i < names->len; i++)
    {
      const Cell *c = &cells[i];
      gboolean ok = c->state == CELL_OK;
      g_autofree char *median = ok ? fmt_value (c->median) : g_strdup ("—");
      g_autofree char *spread = ok ? fmt_spread (c) : g_strdup ("—");
      g_autofree char *range = ok ? fmt_range (c) : g_strdup ("—");
      g_autofree char *note = cell_note (c, (int) i == best);
      text_row (rows, names->pdata[i], median, spread, range, note, NULL);
    }
  fprintf (out, "\n%s — %s, %s is better\n", phase_title (phase),
           berth_json_string (phase, "unit", "?"), higher ? "higher" : "lower");
  if (names->len == 0)
    fputs ("  no results\n", out);
  else
    text_rows_print (rows, "lrrrl", out);
}

static void
print_growth (Report *r, JsonObject *growth, FILE *out)
{
  g_auto (Curve) c = { 0 };
  curve_init (&c, r, growth);
  g_autoptr (GPtrArray) rows = text_rows_new ();
  for (guint row = 0; row < curve_rows (&c); row++)
    {
      GPtrArray *cells = g_ptr_array_new ();
      for (guint col = 0; col < curve_cols (&c); col++)
        g_ptr_array_add (cells, curve_cell (&c, row, col));
      text_row_take (rows, cells);
    }
  fprintf (out, "\n%s — %s by %s\n", berth_json_string (growth, "title", "?"),
           berth_json_string (growth, "unit", "?"), c.x_label);
  if (c.names->len == 0)
    fputs ("  no results\n", out);
  else
    text_rows_print (rows, c.wide ? "r" : "lr", out);
}

static void
print_recommendation (JsonObject *root, FILE *out)
{
  JsonObject *rec = berth_json_object (root, "recommendation");
  if (rec == NULL)
    return;
  fprintf (out, "\nRecommendation: storage %s, exec %s, network %s\n",
           berth_json_string (rec, "storage", "—"), berth_json_string (rec, "exec", "—"),
           berth_json_string (rec, "network", "—"));
  g_auto (GStrv) reasons = berth_json_strv (rec, "reasons");
  for (char **s = reasons; s && *s; s++)
    fprintf (out, "  - %s\n", *s);
}

void
berth_bench_print_table (JsonNode *results, FILE *out)
{
  JsonObject *root = berth_json_node_object (results);
  if (root == NULL)
    {
      fputs ("berth bench: no results\n", out);
      return;
    }
  g_auto (Report) r = { 0 };
  report_init (&r, root);
  fprintf (out, "berth bench %s, %s\n", berth_json_string (root, "berth_version", "?"),
           berth_json_string (root, "date", "?"));
  print_members (berth_json_object (root, "host"), "Host", out);
  print_members (berth_json_object (root, "settings"), "Settings", out);
  print_drivers (root, "storage_drivers", "Storage drivers", out);
  print_drivers (root, "exec_drivers", "Exec drivers", out);
  print_drivers (root, "network_modes", "Network modes", out);
  JsonArray *phases = berth_json_array (root, "phases");
  for (guint i = 0; i < array_length (phases); i++)
    print_phase (&r, berth_json_array_object (phases, i), out);
  JsonArray *growth = berth_json_array (root, "growth");
  for (guint i = 0; i < array_length (growth); i++)
    print_growth (&r, berth_json_array_object (growth, i), out);
  print_recommendation (root, out);
}

/* ---- HTML ---- */

/* Text from the document goes through here, escaped; markup built from
 * it (attributes, coordinates) is appended with g_string_append_printf,
 * never passed as an argument, or it would be escaped too. */
static void G_GNUC_PRINTF (2, 3)
put (GString *s, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *t = g_markup_vprintf_escaped (fmt, ap);
  va_end (ap);
  g_string_append (s, t);
}

static const char css[] =
  "body{font:14px/1.45 system-ui,sans-serif;color:#222;max-width:62em;margin:2em auto;"
  "padding:0 1em}\n"
  "h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}\n"
  "h3{font-size:1.05em}\n"
  "table{border-collapse:collapse;margin:.5em 0}\n"
  "th,td{padding:.2em .7em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}\n"
  "td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
  ".no,.err{color:#b00}\n"
  ".swatch{display:inline-block;width:.8em;height:.8em;margin-right:.4em}\n"
  "figure{margin:1.5em 0}\n"
  "figcaption{color:#444;max-width:48em}\n"
  "svg{display:block;max-width:100%;height:auto}\n"
  "svg text{font:12px system-ui,sans-serif;fill:#333}\n"
  "svg text.value{font-weight:bold}\n"
  "svg text.err{fill:#b00}\n";

static void
html_open (GString *s, JsonObject *root)
{
  g_string_append (s, "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\""
                      " xml:lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
  put (s, "<title>berth bench, %s</title>\n", berth_json_string (root, "date", "?"));
  g_string_append_printf (s, "<style>\n%s</style>\n</head>\n<body>\n", css);
  put (s, "<h1>berth bench</h1>\n<p>berth %s, %s</p>\n",
       berth_json_string (root, "berth_version", "?"), berth_json_string (root, "date", "?"));
}

static void
html_recommendation (GString *s, JsonObject *root)
{
  JsonObject *rec = berth_json_object (root, "recommendation");
  if (rec == NULL)
    return;
  put (s, "<h2 id=\"recommendation\">Recommendation</h2>\n"
          "<p>Storage driver: <strong>%s</strong>; exec driver: <strong>%s</strong>; network: "
          "<strong>%s</strong>.</p>\n",
       berth_json_string (rec, "storage", "—"), berth_json_string (rec, "exec", "—"),
       berth_json_string (rec, "network", "—"));
  g_auto (GStrv) reasons = berth_json_strv (rec, "reasons");
  if (reasons == NULL || reasons[0] == NULL)
    return;
  g_string_append (s, "<ul>\n");
  for (char **r = reasons; *r; r++)
    put (s, "<li>%s</li>\n", *r);
  g_string_append (s, "</ul>\n");
}

static void
html_members (GString *s, JsonObject *obj, const char *title)
{
  if (obj == NULL)
    return;
  put (s, "<h3>%s</h3>\n<table>\n<tbody>\n", title);
  g_autoptr (GList) members = json_object_get_members (obj);
  for (GList *l = members; l; l = l->next)
    {
      g_autofree char *label = member_label (l->data);
      g_autofree char *value = fmt_member (obj, l->data);
      put (s, "<tr><th>%s</th><td>%s</td></tr>\n", label, value);
    }
  g_string_append (s, "</tbody>\n</table>\n");
}

static void
html_driver_rows (GString *s, Report *r, const char *member, const char *kind)
{
  JsonArray *drivers = berth_json_array (r->root, member);
  for (guint i = 0; i < array_length (drivers); i++)
    {
      JsonObject *d = berth_json_array_object (drivers, i);
      const char *name = berth_json_string (d, "name", "?");
      gboolean ok = berth_json_bool (d, "available", FALSE);
      g_autofree char *details = driver_details (d);
      put (s, "<tr><td>%s</td><td><span class=\"swatch\" style=\"background:%s\"></span>%s</td>"
              "<td class=\"%s\">%s</td><td>%s</td></tr>\n",
           kind, report_colour (r, name), name, ok ? "ok" : "no", ok ? "available" : "unavailable",
           details);
    }
}

static void
html_drivers (GString *s, Report *r)
{
  g_string_append (s, "<h2 id=\"backends\">Backends</h2>\n<table>\n<thead>\n<tr><th>Kind</th>"
                      "<th>Backend</th><th>Status</th><th>Reason, I/O mode, notes</th></tr>\n"
                      "</thead>\n<tbody>\n");
  html_driver_rows (s, r, "storage_drivers", "storage");
  html_driver_rows (s, r, "exec_drivers", "exec");
  html_driver_rows (s, r, "network_modes", "network");
  g_string_append (s, "</tbody>\n</table>\n");
}

/* ---- SVG charts ---- */

typedef struct {
  double width, height;
  double x0, x1, y0, y1; /* the plot area; y1 is the baseline */
  double bottom, top;    /* the y range; bottom is 0 unless log_y */
  double step;           /* linear y: ticks every step */
  gboolean log_y;
} Frame;

/* 1, 2 or 5 times a power of ten: ticks people read at a glance. */
static double
nice_step (double raw)
{
  double mag = pow (10, floor (log10 (raw)));
  double norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

/* Room above the highest value for its label; an all-zero or empty chart
 * still gets a scale (and no division by zero). */
static void
frame_scale_y (Frame *f, double vmax)
{
  if (!(vmax > 0))
    vmax = 1;
  f->step = nice_step (vmax / 5);
  f->top = ceil (vmax * 1.08 / f->step) * f->step;
}

/* Whole decades, so that every tick is a round number. */
static void
frame_scale_log_y (Frame *f, double vmin, double vmax)
{
  f->log_y = TRUE;
  f->bottom = pow (10, floor (log10 (vmin)));
  f->top = MAX (pow (10, ceil (log10 (vmax))), f->bottom * 10);
}

static double
frame_y (const Frame *f, double v)
{
  double t;
  if (f->log_y)
    t = v > 0 ? log (v / f->bottom) / log (f->top / f->bottom) : 0;
  else
    t = v / f->top;
  return f->y1 - CLAMP (t, 0, 1) * (f->y1 - f->y0);
}

/* Ticks for a log axis from @lo to @hi: the powers of ten, and 2 and 5
 * times them when @with_2_5 (a range of few decades). */
static GArray *
decade_ticks (double lo, double hi, gboolean with_2_5)
{
  static const double mantissas[] = { 1, 2, 5 };
  GArray *ticks = g_array_new (FALSE, FALSE, sizeof (double));
  for (double d = pow (10, floor (log10 (lo))); d <= hi * (1 + 1e-9); d *= 10)
    for (guint m = 0; m < (with_2_5 ? 3 : 1); m++)
      {
        double v = d * mantissas[m];
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9))
          g_array_append_val (ticks, v);
      }
  return ticks;
}

static GArray *
frame_ticks (const Frame *f)
{
  if (f->log_y)
    return decade_ticks (f->bottom, f->top, f->top / f->bottom <= 100 * (1 + 1e-9));
  GArray *ticks = g_array_new (FALSE, FALSE, sizeof (double));
  for (int i = 0; i * f->step <= f->top * (1 + 1e-9); i++)
    {
      double v = i * f->step;
      g_array_append_val (ticks, v);
    }
  return ticks;
}

/* Tick values are round, so "%g" prints them exactly; large ones get a
 * k or M so that the labels fit the margin (IOPS run to six digits). */
static char *
fmt_tick (double v)
{
  if (fabs (v) >= 1e6)
    return g_strdup_printf ("%gM", v / 1e6);
  if (fabs (v) >= 1e4)
    return g_strdup_printf ("%gk", v / 1e3);
  return g_strdup_printf ("%g", v);
}

static void
svg_open (GString *s, const Frame *f, const char *id, const char *title)
{
  put (s, "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"%s\" role=\"img\" ", id);
  g_string_append_printf (s, "width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\">\n",
                          f->width, f->height, f->width, f->height);
  put (s, "<title>%s</title>\n", title);
}

static void
svg_text (GString *s, double x, double y, const char *anchor, const char *cls, const char *text)
{
  g_string_append_printf (s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"", x, y, anchor);
  if (cls)
    g_string_append_printf (s, " class=\"%s\"", cls);
  put (s, ">%s</text>\n", text);
}

static void
svg_line (GString *s, double x1, double y1, double x2, double y2, const char *stroke,
          double width)
{
  g_string_append_printf (s, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                             "stroke-width=\"%.1f\"/>\n",
                          x1, y1, x2, y2, stroke, width);
}

/* Grid lines and labels at the ticks, the axes, and @title (the unit)
 * written up the left side. */
static void
svg_y_axis (GString *s, const Frame *f, const char *title)
{
  g_autoptr (GArray) ticks = frame_ticks (f);
  for (guint i = 0; i < ticks->len; i++)
    {
      double v = g_array_index (ticks, double, i), y = frame_y (f, v);
      g_autofree char *label = fmt_tick (v);
      if (i > 0)
        svg_line (s, f->x0, y, f->x1, y, "#e5e5e5", 1);
      svg_line (s, f->x0 - 4, y, f->x0, y, "#555", 1);
      svg_text (s, f->x0 - 7, y + 4, "end", NULL, label);
    }
  svg_line (s, f->x0, f->y0, f->x0, f->y1, "#555", 1);
  svg_line (s, f->x0, f->y1, f->x1, f->y1, "#555", 1);
  g_string_append_printf (s, "<text x=\"%.1f\" y=\"16\" text-anchor=\"middle\" "
                             "transform=\"rotate(-90)\">",
                          -(f->y0 + f->y1) / 2);
  put (s, "%s</text>\n", title);
}

static void
svg_bar (GString *s, Report *r, const Frame *f, const char *name, const Cell *c, double cx,
         double w, const char *unit)
{
  g_autofree char *median = fmt_value (c->median);
  g_autofree char *range = fmt_range (c);
  double y = frame_y (f, c->median);
  g_string_append_printf (s, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                             "fill=\"%s\">",
                          cx - w / 2, y, w, f->y1 - y, report_colour (r, name));
  put (s, "<title>%s: median %s %s, min–max %s</title></rect>\n", name, median, unit, range);
  double label_y = y;
  if (c->has_range)
    {
      double lo = frame_y (f, c->min), hi = frame_y (f, c->max);
      svg_line (s, cx, lo, cx, hi, "#222", 1.5);
      svg_line (s, cx - 6, lo, cx + 6, lo, "#222", 1.5);
      svg_line (s, cx - 6, hi, cx + 6, hi, "#222", 1.5);
      label_y = MIN (y, hi);
    }
  svg_text (s, cx, MAX (label_y - 6, 12), "middle", "value", median);
}

/* A backend without a number gets no bar but a word at the baseline, the
 * error itself in its tooltip. */
static void
svg_no_bar (GString *s, const Frame *f, const Cell *c, double cx)
{
  g_string_append_printf (s, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"err\">",
                          cx, f->y1 - 8);
  if (c->state == CELL_ERROR)
    put (s, "<title>%s</title>failed</text>\n", c->error);
  else
    g_string_append (s, "<title>no result</title>—</text>\n");
}

static void
svg_phase_chart (GString *s, Report *r, JsonObject *phase, GPtrArray *names, const Cell *cells)
{
  double vmax = 0;
  for (guint i = 0; i < names->len; i++)
    if (cells[i].state == CELL_OK)
      vmax = MAX (vmax, cells[i].has_range ? MAX (cells[i].median, cells[i].max) : cells[i].median);
  double width = MAX (640, 100 + names->len * 96.0);
  Frame f = { .width = width, .height = 280, .x0 = 64, .x1 = width - 16, .y0 = 20, .y1 = 236 };
  frame_scale_y (&f, vmax);
  const char *unit = berth_json_string (phase, "unit", "");
  g_autofree char *id = g_strdup_printf ("chart-%s", berth_json_string (phase, "id", "?"));
  svg_open (s, &f, id, phase_title (phase));
  svg_y_axis (s, &f, unit);
  double slot = (f.x1 - f.x0) / MAX (names->len, 1);
  double bar_w = MIN (72, slot * 0.6);
  for (guint i = 0; i < names->len; i++)
    {
      double cx = f.x0 + slot * (i + 0.5);
      if (cells[i].state == CELL_OK)
        svg_bar (s, r, &f, names->pdata[i], &cells[i], cx, bar_w, unit);
      else
        svg_no_bar (s, &f, &cells[i], cx);
      svg_text (s, cx, f.y1 + 18, "middle", NULL, names->pdata[i]);
    }
  if (names->len == 0)
    svg_text (s, (f.x0 + f.x1) / 2, (f.y0 + f.y1) / 2, "middle", "err", "no results");
  g_string_append (s, "</svg>\n");
}

static void
html_phase_caption (GString *s, JsonObject *root, JsonObject *phase, GPtrArray *names,
                    const Cell *cells)
{
  gboolean higher = higher_is_better (phase);
  const char *unit = berth_json_string (phase, "unit", "");
  gint64 runs = berth_json_int (berth_json_object (root, "settings"), "runs", 0);
  g_autofree char *over = runs > 0 ? g_strdup_printf (" over %" G_GINT64_FORMAT " runs", runs)
                                   : g_strdup ("");
  put (s, "<figcaption><strong>%s</strong>: median %s per backend, whiskers from min to max%s. "
          "<strong>%s is better.</strong>",
       phase_title (phase), unit, over, higher ? "Higher" : "Lower");
  int best = best_cell (cells, names->len, higher);
  if (best >= 0)
    {
      g_autofree char *v = fmt_value (cells[best].median);
      put (s, " Best: %s, %s %s.", (char *) names->pdata[best], v, unit);
    }
  g_string_append (s, "</figcaption>\n");
}

static void
html_phases (GString *s, Report *r)
{
  JsonArray *phases = berth_json_array (r->root, "phases");
  if (array_length (phases) == 0)
    return;
  g_string_append (s, "<h2 id=\"phases\">Phases</h2>\n");
  for (guint i = 0; i < array_length (phases); i++)
    {
      JsonObject *phase = berth_json_array_object (phases, i);
      g_autoptr (GPtrArray) names = phase_backends (r, phase);
      g_autofree Cell *cells = phase_cells (phase, names);
      g_string_append (s, "<figure>\n");
      svg_phase_chart (s, r, phase, names, cells);
      html_phase_caption (s, r->root, phase, names, cells);
      g_string_append (s, "</figure>\n");
    }
}

typedef struct {
  Frame f;
  double lo, hi; /* x range, on a log scale */
} LogFrame;

static double
log_frame_x (const LogFrame *lf, double x)
{
  return lf->f.x0 + (log (x) - log (lf->lo)) / (log (lf->hi) - log (lf->lo)) * (lf->f.x1 - lf->f.x0);
}

/* A tick at each x measured, or at round values when there are too many
 * for their labels to fit; x_label under them. */
static void
svg_x_axis (GString *s, const LogFrame *lf, GArray *xs, const char *title)
{
  g_autoptr (GArray) ticks = xs->len <= 12 ? g_array_ref (xs)
                                           : decade_ticks (lf->lo, lf->hi, lf->hi / lf->lo <= 1000);
  for (guint i = 0; i < ticks->len; i++)
    {
      double x = log_frame_x (lf, g_array_index (ticks, double, i));
      g_autofree char *label = fmt_x (g_array_index (ticks, double, i));
      svg_line (s, x, lf->f.y1, x, lf->f.y1 + 4, "#555", 1);
      svg_text (s, x, lf->f.y1 + 17, "middle", NULL, label);
    }
  svg_text (s, (lf->f.x0 + lf->f.x1) / 2, lf->f.height - 8, "middle", NULL, title);
}

static void
svg_series (GString *s, const LogFrame *lf, GArray *pts, const char *name, const char *colour,
            JsonObject *growth)
{
  g_string_append_printf (s, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"",
                          colour);
  for (guint i = 0; i < pts->len; i++)
    {
      Point p = g_array_index (pts, Point, i);
      g_string_append_printf (s, "%s%.1f,%.1f", i ? " " : "", log_frame_x (lf, p.x),
                              frame_y (&lf->f, p.y));
    }
  g_string_append (s, "\"/>\n");
  for (guint i = 0; i < pts->len; i++)
    {
      Point p = g_array_index (pts, Point, i);
      g_autofree char *x = fmt_x (p.x);
      g_autofree char *y = fmt_value (p.y);
      g_string_append_printf (s, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\">",
                              log_frame_x (lf, p.x), frame_y (&lf->f, p.y), colour);
      put (s, "<title>%s: %s %s → %s %s</title></circle>\n", name, x,
           berth_json_string (growth, "x_label", ""), y, berth_json_string (growth, "unit", ""));
    }
}

/* Above the plot, left to right; names are measured at ~7px a character. */
static void
svg_legend (GString *s, Report *r, const LogFrame *lf, GPtrArray *names)
{
  double x = lf->f.x0;
  for (guint i = 0; i < names->len; i++)
    {
      g_string_append_printf (s, "<rect x=\"%.1f\" y=\"8\" width=\"10\" height=\"10\" "
                                 "fill=\"%s\"/>\n",
                              x, report_colour (r, names->pdata[i]));
      svg_text (s, x + 14, 17, "start", NULL, names->pdata[i]);
      x += 14 + 7.0 * g_utf8_strlen (names->pdata[i], -1) + 18;
    }
}

/* y is logarithmic too when the values span two decades or more (time
 * against container count, say): on a linear axis the small end would be
 * flattened onto the baseline. */
static void
log_frame_init (LogFrame *lf, const Curve *c)
{
  GPtrArray *points = c->points;
  GArray *xs = c->xs;
  double ymin = INFINITY, ymax = 0;
  for (guint s = 0; s < points->len; s++)
    {
      GArray *pts = points->pdata[s];
      for (guint i = 0; i < pts->len; i++)
        {
          ymin = MIN (ymin, g_array_index (pts, Point, i).y);
          ymax = MAX (ymax, g_array_index (pts, Point, i).y);
        }
    }
  lf->f = (Frame) { .width = 640, .height = 320, .x0 = 64, .x1 = 616, .y0 = 36, .y1 = 272 };
  if (ymin > 0 && ymax >= 100 * ymin)
    frame_scale_log_y (&lf->f, ymin, ymax);
  else
    frame_scale_y (&lf->f, ymax);
  lf->lo = xs->len ? g_array_index (xs, double, 0) : 1;
  lf->hi = xs->len ? g_array_index (xs, double, xs->len - 1) : 10;
  /* One x value alone still needs a range to sit in the middle of. */
  if (lf->hi <= lf->lo)
    {
      lf->lo /= 2;
      lf->hi *= 2;
    }
}

/* TRUE when the y axis is logarithmic too, for the caption to say. */
static gboolean
svg_growth_chart (GString *s, Report *r, JsonObject *growth)
{
  g_auto (Curve) c = { 0 };
  curve_init (&c, r, growth);
  LogFrame lf;
  log_frame_init (&lf, &c);
  g_autofree char *id = g_strdup_printf ("growth-%s", berth_json_string (growth, "id", "?"));
  svg_open (s, &lf.f, id, berth_json_string (growth, "title", "?"));
  svg_y_axis (s, &lf.f, berth_json_string (growth, "unit", ""));
  svg_x_axis (s, &lf, c.xs, c.x_label);
  for (guint i = 0; i < c.names->len; i++)
    svg_series (s, &lf, c.points->pdata[i], c.names->pdata[i],
                report_colour (r, c.names->pdata[i]), growth);
  svg_legend (s, r, &lf, c.names);
  if (c.xs->len == 0)
    svg_text (s, (lf.f.x0 + lf.f.x1) / 2, (lf.f.y0 + lf.f.y1) / 2, "middle", "err", "no results");
  g_string_append (s, "</svg>\n");
  return lf.f.log_y;
}

static void
html_growths (GString *s, Report *r)
{
  JsonArray *growth = berth_json_array (r->root, "growth");
  if (array_length (growth) == 0)
    return;
  g_string_append (s, "<h2 id=\"growth\">Growth</h2>\n");
  for (guint i = 0; i < array_length (growth); i++)
    {
      JsonObject *g = berth_json_array_object (growth, i);
      g_string_append (s, "<figure>\n");
      gboolean log_y = svg_growth_chart (s, r, g);
      put (s, "<figcaption><strong>%s</strong>: %s against %s, %s.</figcaption>\n</figure>\n",
           berth_json_string (g, "title", "?"), berth_json_string (g, "unit", ""),
           berth_json_string (g, "x_label", "x"),
           log_y ? "both axes logarithmic" : "the x axis logarithmic");
    }
}

/* ---- the numbers ---- */

static void
html_phase_rows (GString *s, Report *r, JsonObject *phase)
{
  g_autoptr (GPtrArray) names = phase_backends (r, phase);
  g_autofree Cell *cells = phase_cells (phase, names);
  put (s, "<tr><th rowspan=\"%u\">%s (%s, %s is better)</th>", MAX (names->len, 1),
       phase_title (phase), berth_json_string (phase, "unit", "?"),
       higher_is_better (phase) ? "higher" : "lower");
  if (names->len == 0)
    g_string_append (s, "<td colspan=\"6\">no results</td></tr>\n");
  for (guint i = 0; i < names->len; i++)
    {
      const Cell *c = &cells[i];
      if (i > 0)
        g_string_append (s, "<tr>");
      put (s, "<td>%s</td>", (char *) names->pdata[i]);
      if (c->state != CELL_OK)
        {
          g_autofree char *note = cell_note (c, FALSE);
          put (s, "<td colspan=\"5\" class=\"err\">%s</td></tr>\n", note);
          continue;
        }
      g_autofree char *median = fmt_value (c->median);
      g_autofree char *lo = c->has_range ? fmt_value (c->min) : g_strdup ("—");
      g_autofree char *hi = c->has_range ? fmt_value (c->max) : g_strdup ("—");
      g_autofree char *spread = fmt_spread (c);
      g_autofree char *samples = fmt_samples (phase, names->pdata[i]);
      put (s, "<td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
              "<td class=\"n\">%s</td><td>%s</td></tr>\n",
           median, lo, hi, spread, samples);
    }
}

/* Same layout as the terminal's; headings in <th>, the first row in <thead>. */
static void
html_growth_table (GString *s, Report *r, JsonObject *growth)
{
  g_auto (Curve) c = { 0 };
  curve_init (&c, r, growth);
  put (s, "<h3>%s (%s)</h3>\n<table>\n", berth_json_string (growth, "title", "?"),
       berth_json_string (growth, "unit", "?"));
  for (guint row = 0; row < curve_rows (&c); row++)
    {
      g_string_append (s, row == 0 ? "<thead>\n<tr>" : "<tr>");
      for (guint col = 0; col < curve_cols (&c); col++)
        {
          g_autofree char *cell = curve_cell (&c, row, col);
          const char *tag = row == 0 || col == 0 ? "th" : "td";
          g_string_append_printf (s, "<%s%s>", tag, col > 0 ? " class=\"n\"" : "");
          put (s, "%s", cell);
          g_string_append_printf (s, "</%s>", tag);
        }
      g_string_append (s, row == 0 ? "</tr>\n</thead>\n<tbody>\n" : "</tr>\n");
    }
  g_string_append (s, "</tbody>\n</table>\n");
}

static void
html_numbers (GString *s, Report *r)
{
  g_string_append (s, "<h2 id=\"numbers\">All numbers</h2>\n<table>\n<thead>\n<tr><th>Phase</th>"
                      "<th>Backend</th><th>Median</th><th>Min</th><th>Max</th><th>Spread</th>"
                      "<th>Samples</th></tr>\n</thead>\n<tbody>\n");
  JsonArray *phases = berth_json_array (r->root, "phases");
  for (guint i = 0; i < array_length (phases); i++)
    html_phase_rows (s, r, berth_json_array_object (phases, i));
  g_string_append (s, "</tbody>\n</table>\n");
  JsonArray *growth = berth_json_array (r->root, "growth");
  for (guint i = 0; i < array_length (growth); i++)
    html_growth_table (s, r, berth_json_array_object (growth, i));
}

/* g_markup_escape_text writes C0 control characters (from an error
 * message, say) as character references, which XML 1.0 forbids: one would
 * make the whole file unparsable. They become U+FFFD. */
static gboolean
control_ref_at (const char *p, gsize *len)
{
  if (!g_str_has_prefix (p, "&#x"))
    return FALSE;
  guint v = 0;
  gsize i = 3;
  while (i < 6 && g_ascii_isxdigit (p[i]))
    v = v * 16 + (guint) g_ascii_xdigit_value (p[i++]);
  if (i == 3 || p[i] != ';' || v >= 0x20)
    return FALSE;
  *len = i + 1;
  return TRUE;
}

/* The document as it may be written: valid UTF-8 (the engine builds its
 * JSON from messages of other programs, which json-glib does not check)
 * and no forbidden character references. */
static char *
html_finish (GString *s, gsize *len)
{
  g_autofree char *valid = g_utf8_make_valid (s->str, (gssize) s->len);
  GString *out = g_string_sized_new (s->len);
  for (const char *p = valid; *p;)
    {
      gsize n;
      if (control_ref_at (p, &n))
        {
          g_string_append (out, "&#xfffd;");
          p += n;
        }
      else
        g_string_append_c (out, *p++);
    }
  *len = out->len;
  return g_string_free (out, FALSE);
}

gboolean
berth_bench_write_html (JsonNode *results, const char *path, GError **error)
{
  JsonObject *root = berth_json_node_object (results);
  if (root == NULL)
    return berth_fail (error, BERTH_ERROR_INVALID, "bench results: not a JSON object");
  g_auto (Report) r = { 0 };
  report_init (&r, root);
  g_autoptr (GString) s = g_string_new (NULL);
  html_open (s, root);
  html_recommendation (s, root);
  html_phases (s, &r);
  html_growths (s, &r);
  html_drivers (s, &r);
  g_string_append (s, "<h2 id=\"host\">Host and settings</h2>\n");
  html_members (s, berth_json_object (root, "host"), "Host");
  html_members (s, berth_json_object (root, "settings"), "Settings");
  html_numbers (s, &r);
  g_string_append (s, "</body>\n</html>\n");
  gsize len;
  g_autofree char *doc = html_finish (s, &len);
  return berth_write_file_atomic (path, doc, len, 0644, error);
}
