/*
 * yardctl without a command: an interactive shell (libedit) with history,
 * help, and tab completion of command words and worker names, the latter
 * asked from the supervisor at each completion.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <histedit.h>

#include "yardctl.h"

#define SHELL_MAX_WORDS 64

static struct yc_opts *shell_opts;

#ifdef __SANITIZE_ADDRESS__
/* libedit (Debian 3.1-20221030) copies the name and help of an EL_ADDFN
 * function with wcsdup and never frees them: 112 bytes once per shell,
 * not ours to fix. We use no wcsdup ourselves. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:wcsdup\n";
}
#endif

struct cands {
	char *v[512];
	size_t n;
};

static void cand_add(struct cands *c, const char *s, const char *prefix)
{
	if (c->n < sizeof(c->v) / sizeof(c->v[0]) &&
	    strncmp(s, prefix, strlen(prefix)) == 0 &&
	    (c->v[c->n] = strdup(s)) != NULL)
		c->n++;
}

/* Worker names, from `status all`; nothing if the supervisor is away. */
static void cand_workers(struct cands *c, const char *prefix)
{
	Switchyard__CtlRequest req = SWITCHYARD__CTL_REQUEST__INIT;
	Switchyard__CtlResponse *res;
	char err[512], name[140];
	size_t i;

	req.command = "status";
	if (client_call(shell_opts->socket, &req, -1, &res, err,
			sizeof(err)) != CTL_OK)
		return;
	for (i = 0; i < res->n_workers; i++) {
		snprintf(name, sizeof(name), "%s/%s", res->workers[i]->ns,
			 res->workers[i]->name);
		cand_add(c, name, prefix);
	}
	switchyard__ctl_response__free_unpacked(res, NULL);
	cand_add(c, "all", prefix);
}

static void candidates(struct cands *c, int word, const char *first,
		       const char *prefix)
{
	static const char *const extra[] = {"quit", "exit"};
	static const char *const sigs[] = {"TERM", "HUP", "INT",
					   "KILL", "USR1", "USR2"};
	size_t i;

	if (word == 0) {
		for (i = 0; i < yc_ncommands; i++)
			cand_add(c, yc_commands[i].name, prefix);
		for (i = 0; i < 2; i++)
			cand_add(c, extra[i], prefix);
	} else if (strcmp(first, "help") == 0) {
		for (i = 0; i < yc_ncommands; i++)
			cand_add(c, yc_commands[i].name, prefix);
	} else if (strcmp(first, "signal") == 0 && word == 1) {
		for (i = 0; i < 6; i++)
			cand_add(c, sigs[i], prefix);
	} else if (strcmp(first, "secret") == 0 && word == 1) {
		cand_add(c, "put", prefix);
		cand_add(c, "list", prefix);
		cand_add(c, "delete", prefix);
	} else if (strcmp(first, "tail") == 0 && word >= 2) {
		cand_add(c, "stdout", prefix);
		cand_add(c, "stderr", prefix);
	} else {
		cand_workers(c, prefix);
	}
}

static size_t common_len(const struct cands *c)
{
	size_t i, n = strlen(c->v[0]);

	for (i = 1; i < c->n; i++) {
		size_t k = 0;

		while (k < n && c->v[i][k] == c->v[0][k])
			k++;
		n = k;
	}
	return n;
}

static unsigned char shell_complete(EditLine *el, int ch)
{
	const LineInfo *li = el_line(el);
	char line[1024], *words[SHELL_MAX_WORDS], *p, *start;
	struct cands c = {{NULL}, 0};
	size_t len = (size_t)(li->cursor - li->buffer), i, plen, common;
	int n = 0;
	unsigned char rc = CC_REFRESH;

	if (len >= sizeof(line))
		return CC_ERROR;
	memcpy(line, li->buffer, len);
	line[len] = '\0';
	start = line;
	for (p = strtok(line, " \t"); p != NULL && n < SHELL_MAX_WORDS;
	     p = strtok(NULL, " \t"))
		words[n++] = p;
	/* the word under the cursor, or a new one after a space */
	if (len == 0 || li->buffer[len - 1] == ' ' || n == 0)
		start = "";
	else
		start = words[--n];
	candidates(&c, n, n > 0 ? words[0] : "", start);
	if (c.n == 0)
		return CC_ERROR;
	plen = strlen(start);
	common = common_len(&c);
	if (c.n == 1) {
		char add[256];

		snprintf(add, sizeof(add), "%s ", c.v[0] + plen);
		el_insertstr(el, add);
	} else if (common > plen) {
		char add[256];

		snprintf(add, sizeof(add), "%.*s", (int)(common - plen),
			 c.v[0] + plen);
		el_insertstr(el, add);
	} else {
		printf("\n");
		for (i = 0; i < c.n; i++)
			printf("%s%s", i ? "  " : "", c.v[i]);
		printf("\n");
		rc = CC_REDISPLAY;
	}
	for (i = 0; i < c.n; i++)
		free(c.v[i]);
	return rc;
}

static char *shell_prompt(EditLine *el)
{
	return "yardctl> ";
}

/* A command runs in a child: `tail -f`, `events -f` and `top` end on
 * Ctrl-C by leaving the process, which must be the child's, not the
 * shell's. The shell ignores the interrupt while it waits. */
static void run_child(int argc, char **argv)
{
	struct sigaction ign, old;
	pid_t pid;
	int st;

	fflush(stdout);
	fflush(stderr);
	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigaction(SIGINT, &ign, &old);
	if ((pid = fork()) == -1) {
		fprintf(stderr, "yardctl: fork: %s\n", strerror(errno));
	} else if (pid == 0) {
		sigaction(SIGINT, &old, NULL);
		if (old.sa_handler == SIG_IGN)
			signal(SIGINT, SIG_DFL);
		st = yc_run(shell_opts, argc, argv);
		fflush(stdout);
		fflush(stderr);
		_exit(st);
	} else {
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		if (WIFSIGNALED(st) && WTERMSIG(st) == SIGINT)
			putchar('\n');
	}
	sigaction(SIGINT, &old, NULL);
}

/* One line: 0 to go on, 1 to leave. */
static int shell_line(Tokenizer *tok, const char *line)
{
	const char **argv;
	char *copy[SHELL_MAX_WORDS];
	int argc, i;

	tok_reset(tok);
	if (tok_str(tok, line, &argc, &argv) != 0) {
		fprintf(stderr, "yardctl: unmatched quote\n");
		return 0;
	}
	if (argc == 0)
		return 0;
	if (strcmp(argv[0], "quit") == 0 || strcmp(argv[0], "exit") == 0)
		return 1;
	if (argc > SHELL_MAX_WORDS) {
		fprintf(stderr, "yardctl: too many words\n");
		return 0;
	}
	for (i = 0; i < argc; i++)
		copy[i] = (char *)argv[i];
	shell_opts->json = 0;
	run_child(argc, copy);
	fflush(stdout);
	fflush(stderr);
	return 0;
}

int shell_run(struct yc_opts *o)
{
	EditLine *el;
	History *hist;
	HistEvent ev;
	Tokenizer *tok;
	const char *line;
	int count;

	shell_opts = o;
	o->shell = 1;
	hist = history_init();
	tok = tok_init(NULL);
	el = el_init("yardctl", stdin, stdout, stderr);
	if (hist == NULL || tok == NULL || el == NULL) {
		fprintf(stderr, "yardctl: cannot start the shell\n");
		return CTL_FAIL;
	}
	history(hist, &ev, H_SETSIZE, 500);
	el_set(el, EL_EDITOR, "emacs");
	el_set(el, EL_PROMPT, shell_prompt);
	el_set(el, EL_HIST, history, hist);
	el_set(el, EL_ADDFN, "yc-complete", "complete a word", shell_complete);
	el_set(el, EL_BIND, "^I", "yc-complete", NULL);
	if (isatty(STDIN_FILENO))
		printf("yardctl shell: `help` lists commands, tab completes, "
		       "`quit` or Ctrl-D leaves.\n");
	while ((line = el_gets(el, &count)) != NULL && count > 0) {
		if (strspn(line, " \t\n") != strlen(line))
			history(hist, &ev, H_ENTER, line);
		if (shell_line(tok, line))
			break;
	}
	el_end(el);
	tok_end(tok);
	history_end(hist);
	if (line == NULL && isatty(STDIN_FILENO))
		printf("\n");
	return CTL_OK;
}
