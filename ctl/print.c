/*
 * Output: aligned columns for people (like supervisorctl status), JSON for
 * scripts. Strings from the supervisor are shown with control characters
 * replaced, so a terminal never interprets them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "yardctl.h"

#define COLS 11 /* the last only with status -l */

static const char *const col_names[COLS] = {
    "NAME",	  "STATE",  "VERSION", "PROCS", "REQUESTS",
    "ERRORS", "VIOLATIONS", "CPU_P50/P99", "UPTIME",  "PIDS",  "CPU"};

/* Copies s with control characters replaced by '?'. */
static void safe_copy(char *dst, size_t size, const char *s)
{
	size_t i;

	for (i = 0; s != NULL && s[i] != '\0' && i + 1 < size; i++)
		dst[i] =
		    ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	dst[i] = '\0';
}

/* A JSON string even when the supervisor sent bytes that are not UTF-8. */
static json_t *jstr(const char *s)
{
	char buf[1024];
	json_t *j = json_string(s != NULL ? s : "");
	size_t i;

	if (j != NULL)
		return j;
	safe_copy(buf, sizeof(buf), s);
	for (i = 0; buf[i] != '\0'; i++) {
		if ((unsigned char)buf[i] >= 0x80)
			buf[i] = '?';
	}
	return json_string(buf);
}

static void json_print(json_t *j)
{
	char *text = j != NULL
			 ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
			 : NULL;

	if (text == NULL) {
		fprintf(stderr, "yardctl: cannot encode JSON output\n");
	} else {
		printf("%s\n", text);
		free(text);
	}
	json_decref(j);
}

int print_error(const struct yc_opts *o, int code, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (o != NULL && o->json)
		json_print(
		    json_pack("{s:i, s:o}", "code", code, "error", jstr(msg)));
	else
		fprintf(stderr, "yardctl: %s\n", msg);
	return code;
}

static json_t *strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		json_array_append_new(a, jstr(v[i]));
	return a;
}

/* Names only for secrets: the supervisor never sends their values. */
static json_t *deploy_json(const Switchyard__WorkerStatus *ws, json_t *j)
{
	if (j == NULL)
		return NULL;
	json_object_set_new(j, "tags", strv_json(ws->tags, ws->n_tags));
	json_object_set_new(j, "secret_names",
			    strv_json(ws->secret_names, ws->n_secret_names));
	json_object_set_new(j, "tail_consumers",
			    strv_json(ws->tail_consumers,
				      ws->n_tail_consumers));
	json_object_set_new(j, "services",
			    strv_json(ws->services, ws->n_services));
	json_object_set_new(j, "dispatch_namespaces",
			    strv_json(ws->dispatch_namespaces,
				      ws->n_dispatch_namespaces));
	return j;
}

static json_t *worker_json(const Switchyard__WorkerStatus *ws)
{
	json_t *pids = json_array();
	size_t i;

	for (i = 0; pids != NULL && i < ws->n_pids; i++)
		json_array_append_new(pids, json_integer(ws->pids[i]));
	return deploy_json(ws, json_pack(
	    "{s:o, s:o, s:i, s:o, s:i, s:i, s:i, s:I, s:I, s:I, s:o, s:o, s:o,"
	    " s:I, s:I, s:b}",
	    "ns", jstr(ws->ns), "name", jstr(ws->name), "version",
	    (int)ws->version, "state", jstr(ws->state), "live", (int)ws->live,
	    "busy", (int)ws->busy, "queued", (int)ws->queued, "requests",
	    (json_int_t)ws->requests, "errors", (json_int_t)ws->errors,
	    "uptime_s", (json_int_t)ws->uptime_s, "plan", jstr(ws->plan),
	    "sha256", jstr(ws->sha256), "pids", pids, "violations",
	    (json_int_t)ws->violations, "uid", (json_int_t)ws->uid, "jailed",
	    (int)ws->jailed));
}

/* {"exception": 2, ...}: the non-OK outcomes of a worker's requests. */
static json_t *outcomes_json(const Switchyard__WorkerStatus *ws)
{
	json_t *o = json_object();
	size_t i;

	for (i = 0; o != NULL && i < ws->n_outcomes; i++)
		json_object_set_new(o, ws->outcomes[i]->outcome,
				    json_integer((json_int_t)ws->outcomes[i]
						     ->count));
	return o;
}

static void print_json(const Switchyard__CtlResponse *res, int code)
{
	json_t *workers = json_array(), *lines = json_array(), *j, *out;
	size_t i;

	for (i = 0; workers != NULL && i < res->n_workers; i++) {
		j = worker_json(res->workers[i]);
		json_object_set_new(j, "cpu_us",
				    json_integer((json_int_t)res->workers[i]
						     ->cpu_us));
		json_object_set_new(j, "outcomes",
				    outcomes_json(res->workers[i]));
		json_object_set_new(j, "cpu_p50_us",
				    json_integer((json_int_t)res->workers[i]
						     ->cpu_p50_us));
		json_object_set_new(j, "cpu_p99_us",
				    json_integer((json_int_t)res->workers[i]
						     ->cpu_p99_us));
		json_array_append_new(workers, j);
	}
	for (i = 0; lines != NULL && i < res->n_lines; i++)
		json_array_append_new(lines, jstr(res->lines[i]));
	j = json_pack("{s:i, s:o, s:o, s:o, s:o}", "code", code, "message",
		      jstr(res->message), "error", jstr(res->error), "workers",
		      workers, "lines", lines);
	if (j != NULL && res->output.len > 0) {
		out = json_stringn((const char *)res->output.data,
				   res->output.len);
		if (out == NULL)
			out = jstr("(output is not UTF-8)");
		json_object_set_new(j, "output", out);
	}
	json_print(j);
}

static void fmt_uptime(char *buf, size_t size,
		       const Switchyard__WorkerStatus *ws)
{
	uint64_t s = ws->uptime_s;

	if (ws->live == 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%llu:%02u:%02u",
			 (unsigned long long)(s / 3600),
			 (unsigned)(s / 60 % 60), (unsigned)(s % 60));
}

static void fmt_pids(char *buf, size_t size, const Switchyard__WorkerStatus *ws)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < ws->n_pids && off < size; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%u",
					i ? "," : "", ws->pids[i]);
	if (ws->n_pids == 0)
		snprintf(buf, size, "-");
}

/* "3 (exception=2,exceededCpu=1)": the errors and the outcomes they had,
 * as supervisorctl users expect to see why a program failed. */
static void fmt_errors(char *buf, size_t size,
		       const Switchyard__WorkerStatus *ws)
{
	char name[64];
	size_t i, len;

	len = (size_t)snprintf(buf, size, "%llu",
			       (unsigned long long)ws->errors);
	for (i = 0; i < ws->n_outcomes && len + 1 < size; i++) {
		safe_copy(name, sizeof(name), ws->outcomes[i]->outcome);
		len += (size_t)snprintf(buf + len, size - len, "%s%s=%llu",
					i == 0 ? " (" : ",", name,
					(unsigned long long)ws->outcomes[i]
					    ->count);
	}
	if (ws->n_outcomes > 0 && len + 1 < size)
		snprintf(buf + len, size - len, ")");
}

/* "0.12/0.31": CPU ms per request, median and 99th percentile; "-" before
 * any request. */
static void fmt_cpu_pct(char *buf, size_t size,
			const Switchyard__WorkerStatus *ws)
{
	if (ws->cpu_p99_us == 0 && ws->requests == 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.2f/%.2f", (double)ws->cpu_p50_us / 1e3,
			 (double)ws->cpu_p99_us / 1e3);
}

/* One row of cells for ws. */
static void status_row(char cells[COLS][512],
		       const Switchyard__WorkerStatus *ws)
{
	char ns[64], name[64];

	safe_copy(ns, sizeof(ns), ws->ns);
	safe_copy(name, sizeof(name), ws->name);
	snprintf(cells[0], 512, "%s/%s", ns, name);
	safe_copy(cells[1], 512, ws->state);
	snprintf(cells[2], 512, "%u", ws->version);
	snprintf(cells[3], 512, "%u/%u", ws->live, ws->busy);
	snprintf(cells[4], 512, "%llu", (unsigned long long)ws->requests);
	fmt_errors(cells[5], 512, ws);
	snprintf(cells[6], 512, "%llu", (unsigned long long)ws->violations);
	fmt_cpu_pct(cells[7], 512, ws);
	fmt_uptime(cells[8], 512, ws);
	fmt_pids(cells[9], 512, ws);
	snprintf(cells[10], 512, "%.2f", (double)ws->cpu_us / 1e6);
}

static void print_row(char cells[COLS][512], const int width[COLS],
		      int ncols)
{
	int c;

	for (c = 0; c < ncols - 1; c++)
		printf("%-*s  ", width[c], cells[c]);
	printf("%s\n", cells[ncols - 1]);
}

static void print_status(const Switchyard__CtlResponse *res, int ncols)
{
	char(*rows)[COLS][512];
	int width[COLS], c;
	size_t i, n = res->n_workers + 1;

	if ((rows = calloc(n, sizeof(*rows))) == NULL) {
		fprintf(stderr, "yardctl: out of memory\n");
		return;
	}
	for (c = 0; c < COLS; c++) {
		snprintf(rows[0][c], 512, "%s", col_names[c]);
		width[c] = 0;
	}
	for (i = 1; i < n; i++)
		status_row(rows[i], res->workers[i - 1]);
	for (i = 0; i < n; i++) {
		for (c = 0; c < COLS; c++) {
			if ((int)strlen(rows[i][c]) > width[c])
				width[c] = (int)strlen(rows[i][c]);
		}
	}
	for (i = 0; i < n; i++)
		print_row(rows[i], width, ncols);
	free(rows);
	/* Under the table, so scripts reading rows by column still work. */
	for (i = 0; i < res->n_workers; i++) {
		if (!res->workers[i]->jailed) {
			printf("INSECURE: workers are not jailed (the supervisor "
			       "runs with --insecure-no-jail)\n");
			break;
		}
	}
}

int print_response(const struct yc_opts *o, const Switchyard__CtlResponse *res)
{
	char line[2048];
	int code = res->code;
	size_t i;

	if (code < CTL_OK || code > CTL_NOT_RUNNING)
		code = CTL_FAIL;
	if (o->json) {
		print_json(res, code);
		return code;
	}
	if (code != CTL_OK) {
		safe_copy(
		    line, sizeof(line),
		    res->error[0] != '\0'
			? res->error
			: "the supervisor reported a failure without a reason");
		fprintf(stderr, "yardctl: %s\n", line);
		return code;
	}
	if (res->message[0] != '\0') {
		safe_copy(line, sizeof(line), res->message);
		printf("%s\n", line);
	}
	for (i = 0; i < res->n_lines; i++) {
		safe_copy(line, sizeof(line), res->lines[i]);
		printf("%s\n", line);
	}
	return code;
}

void print_output(const uint8_t *data, size_t len)
{
	size_t i;
	int ch;

	for (i = 0; i < len; i++) {
		ch = data[i];
		if ((ch < 0x20 && ch != '\n' && ch != '\t') || ch == 0x7f)
			ch = '?';
		putchar(ch);
	}
}

/* status prints the table in place of the message when there are workers. */
static int status_show(const struct yc_opts *o,
		       const Switchyard__CtlResponse *res, int ncols)
{
	if (o->json || res->n_workers == 0 ||
	    (res->code != CTL_OK && res->code != CTL_NOT_RUNNING))
		return print_response(o, res);
	print_status(res, ncols);
	if (res->code == CTL_OK)
		return CTL_OK;
	fflush(stdout);
	return print_response(o, res);
}

int print_status_response(const struct yc_opts *o,
			  const Switchyard__CtlResponse *res)
{
	return status_show(o, res, COLS - 1);
}

static void long_list(const char *label, char *const *v, size_t n)
{
	char one[256];
	size_t i;

	if (n == 0)
		return;
	printf("  %s:", label);
	for (i = 0; i < n; i++) {
		safe_copy(one, sizeof(one), v[i]);
		printf("%s%s", i ? "," : " ", one);
	}
	printf("\n");
}

/* Under the -l table: per worker, what its deploy set (secret names
 * only), whom it may call included. */
static void print_deploy_details(const Switchyard__CtlResponse *res)
{
	const Switchyard__WorkerStatus *ws;
	char ns[64], name[64];
	size_t i;

	for (i = 0; i < res->n_workers; i++) {
		ws = res->workers[i];
		if (ws->n_tags + ws->n_secret_names + ws->n_tail_consumers +
		    ws->n_services + ws->n_dispatch_namespaces == 0)
			continue;
		safe_copy(ns, sizeof(ns), ws->ns);
		safe_copy(name, sizeof(name), ws->name);
		printf("%s/%s\n", ns, name);
		long_list("tags", ws->tags, ws->n_tags);
		long_list("secrets", ws->secret_names, ws->n_secret_names);
		long_list("tail consumers", ws->tail_consumers,
			  ws->n_tail_consumers);
		long_list("services", ws->services, ws->n_services);
		long_list("dispatch namespaces", ws->dispatch_namespaces,
			  ws->n_dispatch_namespaces);
	}
}

int print_status_long(const struct yc_opts *o,
		      const Switchyard__CtlResponse *res)
{
	int rc = status_show(o, res, COLS);

	if (!o->json && (res->code == CTL_OK || res->code == CTL_NOT_RUNNING))
		print_deploy_details(res);
	return rc;
}
