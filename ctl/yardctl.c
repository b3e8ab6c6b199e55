/*
 * yardctl [-s SOCKET] [--json] COMMAND [ARGS]
 *
 * The command table drives parsing, abbreviations and help. Each command
 * checks what it can locally (names, the executable) so that mistakes are
 * reported before the supervisor is involved, then makes one control call.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "yardctl.h"

static int cmd_status(struct yc_opts *o, int argc, char **argv);
static int cmd_help(struct yc_opts *o, int argc, char **argv);

#define SEL "NS/NAME | NS/* | all"

const struct yc_cmd yc_commands[] = {
    {"deploy", "NS/NAME EXECUTABLE [--plan PLAN] [--env KEY=VALUE]... "
     "[--kv B=KVNS[:ro]]... [--tag T]... [--tail-consumer NS/NAME]... "
     "[--service NAME=NS/WORKER]... [--dispatch-namespace NS]... "
     "[--secret KEY] [--secret-file KEY=PATH]...",
     "deploy EXECUTABLE as the next version of worker NS/NAME",
     "Copies EXECUTABLE into the supervisor's store and makes it the\n"
     "current version of NS/NAME: new requests go to it, idle processes\n"
     "of older versions stop now and busy ones after their request.\n"
     "The last 20 versions are kept (see versions, rollback).\n"
     "  -p, --plan PLAN      resources from [plan.PLAN] (default: default)\n"
     "  -e, --env KEY=VALUE  environment variable for the worker; repeat\n"
     "                       for more. Recorded with the version.\n"
     "  -k, --kv B=KVNS[:ro] KV binding: the worker reaches namespace\n"
     "                       KVNS as B (read-only with :ro); repeat.\n"
     "  -t, --tag T          tag of this version (1-64 of A-Z a-z 0-9\n"
     "                       _ . : -); at most 8; see list, delete --tag\n"
     "  -T, --tail-consumer NS/NAME  a worker fed this worker's request\n"
     "                       events; repeat; never the worker itself\n"
     "  -S, --service NAME=NS/WORKER  service binding: the worker may call\n"
     "                       NS/WORKER, as http://NAME.worker/ or with\n"
     "                       ws_dispatch; repeat (at most 32). A worker\n"
     "                       calls nothing it has no binding for.\n"
     "  -D, --dispatch-namespace NS  the worker may call every worker of\n"
     "                       NS and give them context, as a dispatch\n"
     "                       worker; repeat (at most 8)\n"
     "  --secret KEY         secret read from stdin (one trailing newline\n"
     "                       dropped); at most one --secret\n"
     "  --secret-file KEY=PATH  secret read from PATH; repeat\n"
     "Secrets belong to the worker (later versions keep them); see\n"
     "`help secret`.\n",
     cmd_deploy},
    {"list", "[--tag T] [NS]", "list workers: version, plan, tags",
     "One line per worker: NAME, current VERSION, PLAN and TAGS. NS lists\n"
     "one namespace, --tag T the workers whose current version has tag T.\n",
     cmd_list},
    {"delete", "NS/NAME | --tag T", "drain, stop and forget a worker",
     "Drains and stops the worker's processes, then forgets it: its\n"
     "versions, KV bindings and secrets (KV data stays), and its\n"
     "executables no other version uses. Its uid is never given again.\n"
     "--tag T deletes every worker whose current version has tag T. The\n"
     "dispatch worker cannot be deleted. A worker still in a [deploy]\n"
     "section of the configuration comes back at the next start.\n",
     cmd_delete},
    {"versions", "NS/NAME", "list a worker's kept versions",
     "Oldest first: VERSION (* = current), DEPLOYED (UTC), SHA256 prefix,\n"
     "PLAN and TAGS. The last 20 versions are kept.\n",
     cmd_versions},
    {"rollback", "NS/NAME [VERSION]", "make an older version current",
     "Makes VERSION (default: the one before the current) current again;\n"
     "its processes replace the current ones as a deploy's would.\n",
     cmd_rollback},
    {"secret", "put|list|delete NS/NAME [KEY]",
     "set, list (names only) or delete a worker's secrets",
     "  secret put NS/NAME KEY     value read from stdin (one trailing\n"
     "                             newline dropped)\n"
     "  secret list NS/NAME        names only: values are never shown\n"
     "  secret delete NS/NAME KEY\n"
     "The worker reads a secret with ws_env(KEY); a secret wins over an\n"
     "--env of the same name. A change replaces the worker's processes\n"
     "through a new version (same executable and settings).\n",
     cmd_secret},
    {"status", "[-l] [" SEL "]",
     "show workers: state, version, processes, counters",
     "One line per worker: NAME, STATE (IDLE, STARTING, RUNNING, BACKOFF,\n"
     "STOPPING, STOPPED, FATAL), current VERSION, PROCS (live/busy),\n"
     "REQUESTS and ERRORS since the supervisor started, UPTIME of its\n"
     "oldest process (h:mm:ss) and the PIDS of its processes. NS/* shows\n"
     "one namespace. -l adds CPU (seconds used) and VIOLATIONS.\n"
     "Exits 6 when a worker shown is STOPPED, STOPPING or FATAL; IDLE (no\n"
     "process until a request comes) is not an error.\n",
     cmd_status},
    {"start", SEL, "start a worker's processes now (and undo stop)",
     "Starts the plan's instances now and waits until they are ready\n"
     "(at most 15 s). A STOPPED or FATAL worker serves again.\n",
     cmd_simple},
    {"stop", SEL, "drain and stop a worker; it stays stopped",
     "Requests being served finish; queued and new requests are answered\n"
     "503 (loadShed) until `yardctl start`. Waits until every process\n"
     "has exited.\n",
     cmd_simple},
    {"restart", SEL, "stop, then start (new processes)", NULL, cmd_simple},
    {"signal", "SIGNAL " SEL, "send a signal to a worker's processes",
     "SIGNAL is TERM, HUP, INT, KILL, USR1 or USR2, by name (SIGTERM or\n"
     "TERM) or number. A process that dies is replaced on demand.\n",
     cmd_simple},
    {"pid", "[" SEL "]", "the supervisor's pid, or a worker's pids",
     "Without an argument, the supervisor's pid; else the pids of the\n"
     "workers' processes, one per line.\n",
     cmd_simple},
    {"tail", "[-f] [-BYTES] NS/NAME [stdout|stderr]",
     "show a worker's own output (its stdout or stderr)",
     "Shows the end (1600 bytes, or BYTES) of what the worker's processes\n"
     "wrote, as the supervisor keeps it (the last 64 KiB per stream).\n"
     "-f keeps following until interrupted. Request events are not\n"
     "shown here.\n",
     cmd_tail},
    {"events", "[-f] [--json] [--outcome OUTCOME] [--request-id ID] [NS/NAME]"
     " | --ring on|off",
     "show request events (outcome, status, CPU and wall time)",
     "One event per request per worker, as Cloudflare's tail events: the\n"
     "supervisor keeps the last 1024. One line each (time, request id,\n"
     "worker, outcome, status, CPU ms, wall ms, method and URL), or with\n"
     "--json the whole event as one JSON object per line. --outcome keeps\n"
     "one outcome (ok, exception, exceededCpu, ...). --request-id keeps the\n"
     "events of one request: the id a client got in its\n"
     "Switchyard-Request-Id header and error page. -f keeps following new\n"
     "events until interrupted. Events are built only while the ring is\n"
     "on (--ring on; off at start: they cost CPU) or one follows them.\n"
     "A worker's own output is `tail`'s.\n",
     cmd_events},
    {"avail", "", "configured plans and deployed workers", NULL, cmd_simple},
    {"reread", "", "show what changed in the configuration file",
     "Reads the configuration file again and lists plans added, changed\n"
     "and removed and [deploy] sections changed, without applying them.\n",
     cmd_simple},
    {"update", "", "apply the configuration file's changes",
     "As reread, and applies them: new limits reach new requests and new\n"
     "processes, fewer instances stop idle processes above the number,\n"
     "[deploy] sections are deployed. A removed plan still used by a\n"
     "worker refuses the update (exit 5). Same as SIGHUP.\n",
     cmd_simple},
    {"reload", "", "same as update", NULL, cmd_simple},
    {"shutdown", "", "stop the whole platform (as SIGTERM)", NULL,
     cmd_simple},
    {"top", "[-d SECONDS] [-n COUNT]", "a live view of the workers",
     "Workers sorted by CPU use, with requests/s, errors and violations,\n"
     "and the host's load and memory. q quits. Not on a terminal, or\n"
     "with -n, prints COUNT (default 1) snapshots and exits.\n",
     cmd_top},
    {"kv", "get|put|delete|list|import|drop KVNS [KEY [VALUE|--file F]]",
     "read and write the platform's KV namespaces",
     "  kv get KVNS KEY              print the value (exit 4: no such key)\n"
     "  kv put KVNS KEY VALUE        or --file F; --ttl S expires it\n"
     "  kv delete KVNS KEY\n"
     "  kv list KVNS [PREFIX]        every key; --limit N shows one page\n"
     "                               and its --cursor on stderr\n"
     "  kv import KVNS FILE          bulk load: JSON lines {\"key\",\n"
     "                               \"value\", \"expiration\"} or\n"
     "                               KEY<TAB>VALUE lines, sent in batches\n"
     "                               (one transaction each)\n"
     "  kv drop KVNS                 delete the namespace and every key in\n"
     "                               it, freeing its place among the 256;\n"
     "                               refused while a worker's current\n"
     "                               version binds it\n",
     cmd_kv},
    {"help", "[COMMAND]", "show this help, or one command's", NULL, cmd_help},
};

const size_t yc_ncommands = sizeof(yc_commands) / sizeof(yc_commands[0]);
#define NCOMMANDS yc_ncommands
#define commands yc_commands

static const struct yc_cmd *cmd_named(const char *name)
{
	size_t i;

	for (i = 0; i < NCOMMANDS; i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return &commands[NCOMMANDS - 1];
}

int yc_usage(const char *name, const char *fmt, ...)
{
	const struct yc_cmd *c = cmd_named(name);
	va_list ap;

	fprintf(stderr, "yardctl: %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: yardctl %s %s\n", c->name, c->synopsis);
	return CTL_USAGE;
}

static int usage_error(const struct yc_cmd *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "yardctl: CMD: problem" and the command's usage line; exit 2. */
static int usage_error(const struct yc_cmd *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "yardctl: %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: yardctl %s %s\n", c->name, c->synopsis);
	return CTL_USAGE;
}

/* The command a word names: exactly, or as the only one it abbreviates.
 * Sets *nmatch to the number of commands the word abbreviates. */
static const struct yc_cmd *cmd_lookup(const char *word, size_t *nmatch)
{
	const struct yc_cmd *found = NULL;
	size_t i;

	*nmatch = 0;
	for (i = 0; i < NCOMMANDS; i++) {
		if (strcmp(word, commands[i].name) == 0) {
			*nmatch = 1;
			return &commands[i];
		}
		if (word[0] != '\0' &&
		    strncmp(word, commands[i].name, strlen(word)) == 0) {
			found = &commands[i];
			(*nmatch)++;
		}
	}
	/* read-only status wins a tie ("st"): commands that change things
	 * (start, stop) need a prefix of their own */
	if (*nmatch > 1 && strncmp(word, "status", strlen(word)) == 0) {
		*nmatch = 1;
		return cmd_named("status");
	}
	return *nmatch == 1 ? found : NULL;
}

static int cmd_unknown(const char *word, size_t nmatch)
{
	size_t i;

	if (nmatch == 0) {
		fprintf(stderr,
			"yardctl: unknown command: %s (see yardctl help)\n",
			word);
		return CTL_USAGE;
	}
	fprintf(stderr, "yardctl: ambiguous command: %s could be", word);
	for (i = 0; i < NCOMMANDS; i++) {
		if (strncmp(word, commands[i].name, strlen(word)) == 0)
			fprintf(stderr, " %s", commands[i].name);
	}
	fprintf(stderr, "\n");
	return CTL_USAGE;
}

int yc_take_opt(int argc, char **argv, int *i, const char *lng,
		const char *shrt, const char **val)
{
	const char *a = argv[*i];
	size_t ll = strlen(lng);

	if (strncmp(a, lng, ll) == 0 && a[ll] == '=') {
		*val = a + ll + 1;
		return 1;
	}
	if (strcmp(a, lng) != 0 && strcmp(a, shrt) != 0)
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

/* Sends req (with fd, consumed) and prints the answer with show. */
int yc_call(struct yc_opts *o, Switchyard__CtlRequest *req, int fd,
		int (*show)(const struct yc_opts *,
			    const Switchyard__CtlResponse *))
{
	Switchyard__CtlResponse *res;
	char err[1024];
	int rc;

	rc = client_call(o->socket, req, fd, &res, err, sizeof(err));
	if (rc != CTL_OK)
		return print_error(o, rc, "%s", err);
	rc = show(o, res);
	switchyard__ctl_response__free_unpacked(res, NULL);
	return rc;
}

static int cmd_status(struct yc_opts *o, int argc, char **argv)
{
	Switchyard__CtlRequest req = SWITCHYARD__CTL_REQUEST__INIT;
	const struct yc_cmd *c = cmd_named("status");
	int lng = 0;
	char *worker = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			o->json = 1;
		else if (strcmp(argv[i], "-l") == 0 ||
			 strcmp(argv[i], "--long") == 0)
			lng = 1;
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			return usage_error(c, "unknown option: %s", argv[i]);
		else if (worker == NULL)
			worker = argv[i];
		else
			return usage_error(c, "unexpected argument: %s",
					   argv[i]);
	}
	req.command = "status";
	if (worker != NULL) {
		req.n_args = 1;
		req.args = &worker;
	}
	return yc_call(o, &req, -1,
		       lng ? print_status_long : print_status_response);
}

static void help_all(FILE *out)
{
	size_t i;

	fprintf(out,
		"usage: yardctl [-s SOCKET] [--json] [COMMAND [ARGS]]\n\n"
		"Controls a running switchyard-supervisor through its control "
		"socket:\n-s SOCKET, else $SWITCHYARD_SOCKET, "
		"else " YC_DEFAULT_SOCKET
		".\n\ncommands (any unique prefix will do; status wins a tie):\n");
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %s %s\n      %s\n", commands[i].name,
			commands[i].synopsis, commands[i].summary);
	fprintf(
	    out,
	    "\noptions:\n"
	    "  -s, --socket SOCKET  control socket of the supervisor\n"
	    "  --json               print the response as JSON, for scripts\n"
	    "\nexit codes:\n"
	    "  0  success\n"
	    "  1  other failure (the supervisor could not do it)\n"
	    "  2  usage error (unknown command, missing argument)\n"
	    "  3  supervisor unreachable (not running, wrong socket)\n"
	    "  4  unknown worker\n"
	    "  5  bad input (missing or non-executable file, invalid name,\n"
	    "     unknown plan, bad environment entry, bad signal, bad\n"
	    "     configuration file)\n"
	    "  6  status: a worker shown is STOPPED, STOPPING or FATAL\n"
	    "\nWithout a command, yardctl is an interactive shell.\n");
}

static int cmd_help(struct yc_opts *o, int argc, char **argv)
{
	const struct yc_cmd *c;
	size_t nmatch;

	if (argc < 2) {
		help_all(stdout);
		return CTL_OK;
	}
	if (argc > 2)
		return usage_error(cmd_named("help"), "unexpected argument: %s",
				   argv[2]);
	if ((c = cmd_lookup(argv[1], &nmatch)) == NULL)
		return cmd_unknown(argv[1], nmatch);
	printf("usage: yardctl %s %s\n\n%s.\n", c->name, c->synopsis,
	       c->summary);
	if (c->details != NULL)
		printf("\n%s", c->details);
	return CTL_OK;
}

/* Global options, before the command word. Returns the index of the
 * command word, -1 after a usage error, -2 when help was asked for. */
static int parse_global(struct yc_opts *o, int argc, char **argv)
{
	const char *v;
	int i, r;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--") == 0)
			return i + 1;
		if (strcmp(argv[i], "--json") == 0) {
			o->json = 1;
		} else if ((r = yc_take_opt(argc, argv, &i, "--socket", "-s",
					 &v)) != 0) {
			if (r == -1 || v[0] == '\0') {
				fprintf(stderr,
					"yardctl: -s needs a SOCKET path\n");
				return -1;
			}
			o->socket = v;
		} else if (strcmp(argv[i], "-h") == 0 ||
			   strcmp(argv[i], "--help") == 0) {
			return -2;
		} else {
			fprintf(stderr,
				"yardctl: unknown option: %s (see yardctl "
				"help)\n",
				argv[i]);
			return -1;
		}
	}
	return i;
}

int main(int argc, char **argv)
{
	struct yc_opts o = {NULL, 0, 0};
	const char *env;
	int i;

	if ((i = parse_global(&o, argc, argv)) == -1)
		return CTL_USAGE;
	if (i == -2) {
		help_all(stdout);
		return CTL_OK;
	}
	if (o.socket == NULL) {
		env = getenv("SWITCHYARD_SOCKET");
		o.socket =
		    env != NULL && env[0] != '\0' ? env : YC_DEFAULT_SOCKET;
	}
	/* the shell is for people; a script without a command is a mistake */
	if (i >= argc && isatty(STDIN_FILENO))
		return shell_run(&o);
	if (i >= argc) {
		help_all(stderr);
		return CTL_USAGE;
	}
	return yc_run(&o, argc - i, argv + i);
}

int yc_run(struct yc_opts *o, int argc, char **argv)
{
	const struct yc_cmd *c;
	size_t nmatch;
	char *word = argv[0];
	int rc;

	if ((c = cmd_lookup(word, &nmatch)) == NULL)
		return cmd_unknown(word, nmatch);
	argv[0] = (char *)c->name; /* commands read their canonical name */
	rc = c->fn(o, argc, argv);
	argv[0] = word;
	return rc;
}
