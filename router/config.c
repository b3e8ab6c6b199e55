#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "router.h"
#include "sandbox.h"
#include "util.h"

enum {
	OPT_UPSTREAM_FD = 256,
	OPT_LISTEN_FD,
	OPT_USER,
	OPT_MAX_HEADER,
	OPT_MAX_BODY,
	OPT_HEADER_TIMEOUT,
	OPT_IDLE_TIMEOUT,
	OPT_MAX_CONN,
	OPT_LOG_LEVEL,
	OPT_SECCOMP_POLICY,
	OPT_ADMIN_FD,
	OPT_BODY_BUFFER,
	OPT_BODY_TIMEOUT,
	OPT_BODY_DIR,
	OPT_HELP
};

static const struct option longopts[] = {
	{ "upstream-fd", required_argument, NULL, OPT_UPSTREAM_FD },
	{ "listen-fd", required_argument, NULL, OPT_LISTEN_FD },
	{ "user", required_argument, NULL, OPT_USER },
	{ "max-header-bytes", required_argument, NULL, OPT_MAX_HEADER },
	{ "max-body-bytes", required_argument, NULL, OPT_MAX_BODY },
	{ "header-timeout-ms", required_argument, NULL, OPT_HEADER_TIMEOUT },
	{ "idle-timeout-ms", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONN },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "seccomp-policy", required_argument, NULL, OPT_SECCOMP_POLICY },
	{ "admin-fd", required_argument, NULL, OPT_ADMIN_FD },
	{ "client-body-buffer-bytes", required_argument, NULL,
	  OPT_BODY_BUFFER },
	{ "body-timeout-ms", required_argument, NULL, OPT_BODY_TIMEOUT },
	{ "body-dir", required_argument, NULL, OPT_BODY_DIR },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

void config_usage(const char *prog)
{
	fprintf(stderr,
	        "usage: %s --upstream-fd FD --listen-fd FD... --body-dir DIR\n"
	        "    [--user NAME] [--max-header-bytes N]\n"
	        "    [--max-body-bytes N] [--client-body-buffer-bytes N]\n"
	        "    [--header-timeout-ms N] [--body-timeout-ms N]\n"
	        "    [--idle-timeout-ms N]\n"
	        "    [--max-connections N]\n"
	        "    [--log-level debug|info|warn|error]\n"
	        "    [--seccomp-policy PATH] [--admin-fd FD]\n",
	        prog);
}

static void config_defaults(struct router_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->upstream_fd = -1;
	cfg->admin_fd = -1;
	cfg->max_header_bytes = 16 * 1024;
	cfg->max_body_bytes = 16 * 1024 * 1024;
	cfg->client_body_buffer_bytes = 64 * 1024;
	cfg->header_timeout_ms = 10000;
	cfg->body_timeout_ms = 10000;
	cfg->idle_timeout_ms = 60000;
	cfg->max_connections = 1024;
	cfg->log_level = SY_LOG_INFO;
	sandbox_router_policy(NULL);
}

static int parse_level(const char *s, int *level)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	int i;

	for (i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*level = i;
			return 0;
		}
	}
	return -1;
}

/* A descriptor given on the command line must be open. */
static int parse_fd(const char *s, int *fd)
{
	uint64_t v;

	if (sy_parse_uint(s, 65535, &v) < 0 || v < 3)
		return -1;
	if (fcntl((int)v, F_GETFD) < 0)
		return -1;
	*fd = (int)v;
	return 0;
}

static int parse_number(const char *opt, const char *s, uint64_t min,
                        uint64_t max, uint64_t *out, char *err, size_t errlen)
{
	if (sy_parse_size(s, out) < 0 || *out < min || *out > max) {
		snprintf(err, errlen,
		         "--%s: expected a number in %llu..%llu: %s", opt,
		         (unsigned long long)min, (unsigned long long)max, s);
		return -1;
	}
	return 0;
}

static int config_option(struct router_config *cfg, int ch, const char *arg,
                         char *err, size_t errlen)
{
	switch (ch) {
	case OPT_UPSTREAM_FD:
		if (parse_fd(arg, &cfg->upstream_fd) < 0)
			goto badfd;
		return 0;
	case OPT_LISTEN_FD:
		if (cfg->nlisten == ROUTER_MAX_LISTEN) {
			snprintf(err, errlen, "--listen-fd: at most %d sockets",
			         ROUTER_MAX_LISTEN);
			return -1;
		}
		if (parse_fd(arg, &cfg->listen_fds[cfg->nlisten]) < 0)
			goto badfd;
		cfg->nlisten++;
		return 0;
	case OPT_ADMIN_FD:
		if (parse_fd(arg, &cfg->admin_fd) < 0)
			goto badfd;
		return 0;
	case OPT_USER:
		cfg->user = arg;
		return 0;
	case OPT_MAX_HEADER:
		/* A head must fit in one frame to the supervisor. */
		return parse_number("max-header-bytes", arg, 64, 192 * 1024,
		                    &cfg->max_header_bytes, err, errlen);
	case OPT_MAX_BODY:
		return parse_number("max-body-bytes", arg, 0, UINT64_MAX / 2,
		                    &cfg->max_body_bytes, err, errlen);
	case OPT_BODY_BUFFER:
		return parse_number("client-body-buffer-bytes", arg, 0,
		                    1024 * 1024 * 1024,
		                    &cfg->client_body_buffer_bytes, err, errlen);
	case OPT_HEADER_TIMEOUT:
		return parse_number("header-timeout-ms", arg, 1, 86400000,
		                    &cfg->header_timeout_ms, err, errlen);
	case OPT_BODY_TIMEOUT:
		return parse_number("body-timeout-ms", arg, 1, 86400000,
		                    &cfg->body_timeout_ms, err, errlen);
	case OPT_BODY_DIR:
		cfg->body_dir = arg;
		return 0;
	case OPT_IDLE_TIMEOUT:
		return parse_number("idle-timeout-ms", arg, 1, 86400000,
		                    &cfg->idle_timeout_ms, err, errlen);
	case OPT_MAX_CONN:
		return parse_number("max-connections", arg, 1, 1000000,
		                    &cfg->max_connections, err, errlen);
	case OPT_LOG_LEVEL:
		if (parse_level(arg, &cfg->log_level) == 0)
			return 0;
		snprintf(err, errlen, "--log-level: unknown level: %s", arg);
		return -1;
	case OPT_SECCOMP_POLICY:
		/* Read as root before the drop: permissions do not matter. */
		sandbox_router_policy(arg);
		return 0;
	default:
		snprintf(err, errlen, "unknown option");
		return -1;
	}
badfd:
	snprintf(err, errlen, "descriptor %s is not open (or below 3)", arg);
	return -1;
}

int config_parse(struct router_config *cfg, int argc, char *argv[], char *err,
                 size_t errlen)
{
	int ch;

	config_defaults(cfg);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch == OPT_HELP || ch == '?' || ch == ':') {
			snprintf(err, errlen, "%s", ch == OPT_HELP ? "" :
			         "unknown option or missing value");
			return -1;
		}
		if (config_option(cfg, ch, optarg, err, errlen) < 0)
			return -1;
	}
	if (optind != argc) {
		snprintf(err, errlen, "unexpected argument: %s", argv[optind]);
		return -1;
	}
	if (cfg->upstream_fd < 0 || cfg->nlisten == 0 ||
	    cfg->body_dir == NULL) {
		snprintf(err, errlen, "--upstream-fd, --listen-fd and "
		         "--body-dir are required");
		return -1;
	}
	return 0;
}
