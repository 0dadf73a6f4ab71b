/* Renders the results document of `berth bench` (bench.h; schema in
 * docs/benchmarking.md) for people: a table for the terminal and a
 * self-contained HTML page with SVG charts. A run that half failed still
 * yields a document, so every member is optional here: a missing number, a
 * backend absent from a phase or one carrying "error" shows as such, and
 * nothing in the document can make either output malformed. */
#pragma once
#include <stdio.h>
#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Prints the host and settings, the backends (an unavailable one with its
 * reason), one block per phase (backend rows: median, "± spread%", min–max,
 * the best one or the error marked), each growth curve as an x→y table and
 * the recommendation with its reasons. */
void berth_bench_print_table (JsonNode *results, FILE *out);

/* Writes @path atomically: one HTML file that needs nothing else (no
 * external CSS, script, font or image) and is well-formed XML (XHTML
 * polyglot). One inline SVG bar chart per phase, id "chart-<phase id>",
 * and one log-x line chart per growth curve, id "growth-<growth id>"; no
 * other <svg> element. Also host and settings, backend availability, every
 * number in tables and the recommendation. Fails with INVALID when @results
 * is not a JSON object, or with the write's error. */
gboolean berth_bench_write_html (JsonNode *results, const char *path, GError **error);

G_END_DECLS
