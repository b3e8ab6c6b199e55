/*
 * What every command of the control socket uses: failing a reply, making a
 * client's string printable, adding lines, and reading the arguments that
 * name workers (NS/NAME, a namespace, all).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/ctl.h"
#include "state/registry.h"
#include "util.h"

void ctl_fail(struct ctl_reply *rep, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rep->error, sizeof(rep->error), fmt, ap);
	va_end(ap);
	rep->res.code = code;
}

/* Copies a client's string for a message: printable ASCII only, bounded, so
 * it can be echoed back and logged without forging lines. */
const char *ctl_safe(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < size; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	buf[i] = '\0';
	return buf;
}

int ctl_parse_sel(const char *cmd, const char *arg, struct ctl_sel *sel,
                  struct ctl_reply *rep)
{
	char e[384];
	size_t len;

	memset(sel, 0, sizeof(*sel));
	if (arg == NULL || strcmp(arg, "all") == 0) {
		sel->any = 1;
		snprintf(sel->text, sizeof(sel->text), "all");
		return 0;
	}
	len = strlen(ctl_safe(arg, sel->text, sizeof(sel->text)));
	if (len > 2 && strcmp(sel->text + len - 2, "/*") == 0) {
		sel->all_ns = 1;
		snprintf(sel->ns, sizeof(sel->ns), "%.*s", (int)(len - 2),
			 sel->text);
		if (len - 2 < SY_NAME_MAX && sy_valid_name(sel->ns))
			return 0;
		ctl_fail(rep, CTL_BAD_INPUT,
			 "%s %s: invalid namespace (use 1-63 of a-z 0-9 - "
			 "_, starting with a letter or digit)",
			 cmd, sel->text);
		return -1;
	}
	if (sy_split_worker(sel->text, sel->ns, sel->name, e, sizeof(e)) == 0)
		return 0;
	ctl_fail(rep, CTL_BAD_INPUT, "%s %s", cmd, e);
	return -1;
}

size_t ctl_sel_count(const char *cmd, const struct ctl_sel *sel,
                     struct ctl_reply *rep)
{
	struct worker *w;
	size_t n = 0;

	for (w = registry_first(); w != NULL; w = registry_next(w))
		n += ctl_sel_match(sel, w);
	if (n == 0 && sel->all_ns)
		ctl_fail(rep, CTL_UNKNOWN_WORKER,
			 "%s %s: no workers in namespace %s", cmd, sel->text,
			 sel->ns);
	else if (n == 0 && !sel->any)
		ctl_fail(rep, CTL_UNKNOWN_WORKER, "%s %s: no such worker", cmd,
			 sel->text);
	return n;
}

void *ctl_own(struct ctl_reply *rep, size_t size)
{
	void **grown, *b;

	if ((grown = realloc(rep->owned, (rep->nowned + 1) *
	                     sizeof(*grown))) == NULL ||
	    (b = calloc(1, size)) == NULL) {
		if (grown != NULL)
			rep->owned = grown;
		ctl_fail(rep, CTL_FAIL, "out of memory");
		return NULL;
	}
	rep->owned = grown;
	rep->owned[rep->nowned++] = b;
	return b;
}

char **ctl_service_texts(struct ctl_reply *rep, const struct version *v)
{
	enum { TEXT = 3 * SY_NAME_MAX };
	char **p;
	size_t i;

	if (v->nservices == 0 ||
	    (p = ctl_own(rep, v->nservices * (sizeof(*p) + TEXT))) == NULL)
		return NULL;
	for (i = 0; i < v->nservices; i++) {
		p[i] = (char *)(p + v->nservices) + i * TEXT;
		registry_service_text(&v->services[i], p[i], TEXT);
	}
	return p;
}

int ctl_line(struct ctl_reply *rep, const char *fmt, ...)
{
	va_list ap;
	char **nl;
	char *line;
	int n;

	if (rep->nlines == rep->alines) {
		rep->alines = rep->alines ? 2 * rep->alines : 16;
		nl = realloc(rep->lines, rep->alines * sizeof(*nl));
		if (nl == NULL)
			goto fail;
		rep->lines = nl;
	}
	va_start(ap, fmt);
	n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto fail;
	rep->lines[rep->nlines++] = line;
	return 0;
fail:
	ctl_fail(rep, CTL_FAIL, "out of memory");
	return -1;
}

int ctl_sel_match(const struct ctl_sel *sel, const struct worker *w)
{
	return sel->any || (strcmp(w->ns, sel->ns) == 0 &&
			    (sel->all_ns || strcmp(w->name, sel->name) == 0));
}

/* The one NS/NAME argument of a command; -1 with rep failed. */
int ctl_worker_arg(const Switchyard__CtlRequest *req, const char *cmd,
                   char *ns, char *name, char *safe, size_t safelen,
                   struct ctl_reply *rep)
{
	char e[384];

	if (req->n_args < 1) {
		ctl_fail(rep, CTL_USAGE, "%s: expected NS/NAME", cmd);
		return -1;
	}
	ctl_safe(req->args[0], safe, safelen);
	if (sy_split_worker(safe, ns, name, e, sizeof(e)) == -1) {
		ctl_fail(rep, CTL_BAD_INPUT, "%s %s", cmd, e);
		return -1;
	}
	return 0;
}

struct worker *ctl_worker_named(const Switchyard__CtlRequest *req,
                                const char *cmd, char *safe, size_t safelen,
                                struct ctl_reply *rep)
{
	char ns[SY_NAME_MAX], name[SY_NAME_MAX];
	struct worker *w;

	if (ctl_worker_arg(req, cmd, ns, name, safe, safelen, rep) == -1)
		return NULL;
	if ((w = registry_find(ns, name)) == NULL)
		ctl_fail(rep, CTL_UNKNOWN_WORKER, "%s %s: no such worker", cmd,
			 safe);
	return w;
}
