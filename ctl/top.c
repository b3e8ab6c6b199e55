/*
 * yardctl top: the workers sorted by CPU use, refreshed like top(1).
 * Rates (CPU %, requests/s) come from two samples of `status all`; the
 * host's load and memory are read here from /proc.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "yardctl.h"

struct row {
	char name[130];
	char state[16];
	uint32_t live, busy;
	uint64_t cpu_us, requests, errors, violations;
	uint64_t cpu_p50_us, cpu_p99_us; /* CPU per request */
	double cpu_pct, rps; /* < 0: no earlier sample */
};

struct sample {
	struct row *rows;
	size_t n;
	struct timespec at;
};

static volatile sig_atomic_t top_quit;

static void top_on_signal(int sig)
{
	top_quit = 1;
}

static void host_line(char *buf, size_t size)
{
	char key[64];
	unsigned long long v, total = 0, avail = 0;
	double l1 = 0, l5 = 0, l15 = 0;
	FILE *f;

	if ((f = fopen("/proc/loadavg", "r")) != NULL) {
		if (fscanf(f, "%lf %lf %lf", &l1, &l5, &l15) != 3)
			l1 = l5 = l15 = 0;
		fclose(f);
	}
	if ((f = fopen("/proc/meminfo", "r")) != NULL) {
		while (fscanf(f, "%63s %llu kB", key, &v) == 2) {
			if (strcmp(key, "MemTotal:") == 0)
				total = v;
			else if (strcmp(key, "MemAvailable:") == 0)
				avail = v;
		}
		fclose(f);
	}
	snprintf(buf, size,
		 "load average: %.2f %.2f %.2f   memory: %llu MiB used of "
		 "%llu MiB",
		 l1, l5, l15, (total - avail) / 1024, total / 1024);
}

static const struct row *find(const struct sample *s, const char *name)
{
	size_t i;

	for (i = 0; s != NULL && i < s->n; i++) {
		if (strcmp(s->rows[i].name, name) == 0)
			return &s->rows[i];
	}
	return NULL;
}

static void fill_row(struct row *r, const Switchyard__WorkerStatus *ws,
		     const struct sample *prev, const struct timespec *now)
{
	const struct row *p;
	double dt;
	size_t i;

	snprintf(r->name, sizeof(r->name), "%s/%s", ws->ns, ws->name);
	for (i = 0; r->name[i] != '\0'; i++)
		if ((unsigned char)r->name[i] < 0x20 || r->name[i] == 0x7f)
			r->name[i] = '?';
	snprintf(r->state, sizeof(r->state), "%.15s", ws->state);
	r->live = ws->live;
	r->busy = ws->busy;
	r->cpu_us = ws->cpu_us;
	r->requests = ws->requests;
	r->errors = ws->errors;
	r->violations = ws->violations;
	r->cpu_p50_us = ws->cpu_p50_us;
	r->cpu_p99_us = ws->cpu_p99_us;
	r->cpu_pct = r->rps = -1;
	if ((p = find(prev, r->name)) == NULL)
		return;
	dt = (double)(now->tv_sec - prev->at.tv_sec) +
	     (double)(now->tv_nsec - prev->at.tv_nsec) / 1e9;
	if (dt <= 0)
		return;
	r->cpu_pct = r->cpu_us >= p->cpu_us
			 ? (double)(r->cpu_us - p->cpu_us) / 1e4 / dt
			 : 0;
	r->rps = r->requests >= p->requests
		     ? (double)(r->requests - p->requests) / dt
		     : 0;
}

static int by_cpu(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	double cx = x->cpu_pct >= 0 ? x->cpu_pct : 0;
	double cy = y->cpu_pct >= 0 ? y->cpu_pct : 0;

	if (cx != cy)
		return cx < cy ? 1 : -1;
	if (x->cpu_us != y->cpu_us)
		return x->cpu_us < y->cpu_us ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* Asks for `status all`; 0 with s filled, or an exit code (reported). */
static int take(struct yc_opts *o, const struct sample *prev,
		struct sample *s)
{
	Switchyard__CtlRequest req = SWITCHYARD__CTL_REQUEST__INIT;
	Switchyard__CtlResponse *res;
	char err[1024];
	size_t i;
	int rc;

	req.command = "status";
	rc = client_call(o->socket, &req, -1, &res, err, sizeof(err));
	if (rc != CTL_OK)
		return print_error(o, rc, "%s", err);
	if (res->code != CTL_OK && res->code != CTL_NOT_RUNNING) {
		rc = print_response(o, res);
		switchyard__ctl_response__free_unpacked(res, NULL);
		return rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &s->at);
	s->n = res->n_workers;
	s->rows = calloc(s->n ? s->n : 1, sizeof(*s->rows));
	for (i = 0; s->rows != NULL && i < s->n; i++)
		fill_row(&s->rows[i], res->workers[i], prev, &s->at);
	switchyard__ctl_response__free_unpacked(res, NULL);
	if (s->rows == NULL)
		return print_error(o, CTL_FAIL, "out of memory");
	qsort(s->rows, s->n, sizeof(*s->rows), by_cpu);
	return CTL_OK;
}

static void fmt_rate(char *buf, size_t size, double v, const char *f)
{
	if (v < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, f, v);
}

static void render(const struct sample *s, int tty, int rows_max)
{
	char host[256], pct[32], rps[32];
	time_t t = time(NULL);
	struct tm tm;
	size_t i;

	host_line(host, sizeof(host));
	localtime_r(&t, &tm);
	if (tty)
		printf("\033[H\033[2J");
	printf("yardctl top - %02d:%02d:%02d  %zu workers  %s\n", tm.tm_hour,
	       tm.tm_min, tm.tm_sec, s->n, host);
	printf("%-32s %-9s %7s %6s %9s %13s %8s %10s %8s %5s\n", "NAME",
	       "STATE", "PROCS", "CPU%", "CPU(s)", "P50/P99(ms)", "REQ/s",
	       "REQUESTS", "ERRORS", "VIOL");
	for (i = 0; i < s->n && (rows_max <= 0 || (int)i < rows_max); i++) {
		const struct row *r = &s->rows[i];
		char procs[24], pctl[32];

		snprintf(procs, sizeof(procs), "%u/%u", r->live, r->busy);
		snprintf(pctl, sizeof(pctl), "%.2f/%.2f",
			 (double)r->cpu_p50_us / 1e3,
			 (double)r->cpu_p99_us / 1e3);
		fmt_rate(pct, sizeof(pct), r->cpu_pct, "%.1f");
		fmt_rate(rps, sizeof(rps), r->rps, "%.1f");
		printf("%-32s %-9s %7s %6s %9.2f %13s %8s %10llu %8llu %5llu\n",
		       r->name, r->state, procs, pct, (double)r->cpu_us / 1e6,
		       pctl, rps, (unsigned long long)r->requests,
		       (unsigned long long)r->errors,
		       (unsigned long long)r->violations);
	}
	if (tty)
		printf("\n(q to quit)");
	fflush(stdout);
}

/* Waits up to ms for a key; 1 when it was q. */
static int key_quit(int ms)
{
	struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
	char c;

	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	if (read(STDIN_FILENO, &c, 1) != 1)
		return 1;
	return c == 'q' || c == 'Q';
}

static int top_loop(struct yc_opts *o, int tty, int delay_ms, int count)
{
	struct sample prev = {NULL, 0, {0, 0}}, cur;
	int rc, n = 0, rows = 0;
	const char *lines = getenv("LINES");

	if (lines != NULL)
		rows = atoi(lines) - 4;
	for (;;) {
		memset(&cur, 0, sizeof(cur));
		if ((rc = take(o, &prev, &cur)) != CTL_OK)
			break;
		render(&cur, tty, tty ? rows : 0);
		free(prev.rows);
		prev = cur;
		if (count > 0 && ++n >= count)
			break;
		if (tty ? key_quit(delay_ms) : (usleep((useconds_t)delay_ms *
						       1000), 0))
			break;
		if (top_quit)
			break;
	}
	free(prev.rows);
	if (tty)
		printf("\n");
	return rc;
}

int cmd_top(struct yc_opts *o, int argc, char **argv)
{
	struct termios old, raw;
	struct sigaction sa;
	int i, tty, rc, count = 0;
	double delay = 2;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
			delay = atof(argv[++i]);
		else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
			count = atoi(argv[++i]);
		else
			return yc_usage("top", "unexpected argument: %s",
					argv[i]);
	}
	if (delay < 0.1 || delay > 3600 || count < 0)
		return yc_usage("top", "-d needs 0.1 to 3600 s, -n a count");
	tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) && !o->json;
	if (!tty && count == 0)
		count = 1;
	if (!tty)
		return top_loop(o, 0, (int)(delay * 1000), count);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = top_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (tcgetattr(STDIN_FILENO, &old) == -1)
		return print_error(o, CTL_FAIL, "top: tcgetattr: %s",
				   strerror(errno));
	raw = old;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	top_quit = 0;
	rc = top_loop(o, 1, (int)(delay * 1000), count);
	tcsetattr(STDIN_FILENO, TCSANOW, &old);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	return rc;
}
