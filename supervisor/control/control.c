/*
 * The control socket yardctl talks to. Each connection carries exactly one
 * CTL_REQUEST frame (stream 1) and gets one CTL_RESPONSE, after which the
 * supervisor closes it. Connections, frame sizes and the time a client may
 * take are all bounded, so a slow or hostile local client costs little.
 *
 * CtlResponse.code follows yardctl's exit-code contract (docs/DESIGN.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/control.h"
#include "control/ctl.h"
#include "frame.h"
#include "log.h"
#include "serve/events.h"
#include "serve/logring.h"
#include "switchyard.pb-c.h"
#include "util.h"

#define CTL_MAX_CONNS 16
/* bytes of one request payload: a whole frame, for kv import batches */
#define CTL_FRAME_MAX SY_FRAME_MAX
#define CTL_TIMEOUT_MS 30000	    /* whole life of one connection */
#define CTL_MAX_ARGS 8
#define CTL_POLL_MS 50 /* how often a deferred command looks again */

struct ctl_conn {
	int fd;
	int handled;  /* its request was read; reading is over */
	int answered; /* the response is queued */
	int shutdown; /* stop the platform once the response is sent */
	ctl_poll_fn *poll; /* a deferred command, until it answers */
	void *poll_arg;
	uint64_t poll_timer;
	struct logring *follow; /* tail -f: pushes this ring's new output */
	uint64_t follow_off;
	uid_t uid;    /* peer's, for the log */
	uint64_t timer;
	struct sy_reader rd;
	struct sy_writer wr;
	struct ctl_conn *prev, *next;
};

struct control_env control_env;

static struct ev_loop *ctl_loop;
static int ctl_fd = -1;
static char *ctl_path;
static dev_t ctl_dev;
static ino_t ctl_ino;
static struct ctl_conn *ctl_conns;
static size_t ctl_nconns;

static const struct ctl_cmd {
	const char *name;
	ctl_cmd_fn *fn;
} ctl_cmds[] = {
    {"deploy", ctl_deploy},   {"status", ctl_status},
    {"list", ctl_list},       {"start", ctl_start},
    {"delete", ctl_delete},   {"versions", ctl_versions},
    {"rollback", ctl_rollback}, {"secret", ctl_secret},
    {"stop", ctl_stop},       {"restart", ctl_restart},
    {"signal", ctl_signal},   {"pid", ctl_pid},
    {"tail", ctl_tail},       {"avail", ctl_avail},
    {"shutdown", ctl_shutdown}, {"reread", ctl_reread},
    {"update", ctl_update},   {"reload", ctl_update},
    {"kv", ctl_kv},           {"events", ctl_events},
};

static void ctl_dispatch(const Switchyard__CtlRequest *req, int fd,
			 struct ctl_reply *rep)
{
	char safe[64];
	size_t i;

	for (i = 0; i < req->n_args; i++) {
		if (strlen(req->args[i]) > 256) {
			ctl_fail(rep, CTL_USAGE, "%s: argument %zu too long",
				 ctl_safe(req->command, safe, sizeof(safe)),
				 i + 1);
			return;
		}
	}
	if (req->n_args > CTL_MAX_ARGS) {
		ctl_fail(rep, CTL_USAGE, "%s: too many arguments",
			 ctl_safe(req->command, safe, sizeof(safe)));
		return;
	}
	for (i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++) {
		if (strcmp(req->command, ctl_cmds[i].name) == 0) {
			ctl_cmds[i].fn(req, fd, rep);
			return;
		}
	}
	ctl_fail(rep, CTL_USAGE, "unknown command: %s",
		 ctl_safe(req->command, safe, sizeof(safe)));
}

/* ---- connections ---- */

static void ctl_conn_close(struct ctl_conn *c)
{
	if (c->follow != NULL && c->follow == events_stream())
		events_listen(-1);
	if (c->timer != 0)
		ev_timer_del(ctl_loop, c->timer);
	if (c->poll_timer != 0)
		ev_timer_del(ctl_loop, c->poll_timer);
	free(c->poll_arg);
	if (ev_del(ctl_loop, c->fd) == -1)
		log_warn("control: ev_del fd %d", c->fd);
	close(c->fd);
	sy_reader_free(&c->rd);
	sy_writer_free(&c->wr);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ctl_conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	ctl_nconns--;
	free(c);
}

static void ctl_reply_free(struct ctl_reply *rep)
{
	size_t i;

	free(rep->ws);
	free(rep->wsp);
	free(rep->pids);
	free(rep->oc);
	free(rep->ocp);
	free(rep->versions);
	free(rep->res.versions);
	for (i = 0; i < rep->nlines; i++)
		free(rep->lines[i]);
	free(rep->lines);
	free(rep->output);
	for (i = 0; i < rep->nowned; i++)
		free(rep->owned[i]);
	free(rep->owned);
	memset(rep, 0, sizeof(*rep));
}

/* Room a part leaves for the rest of the response (code, error, lines). */
#define CTL_PART_MAX (SY_FRAME_MAX - 16u * 1024u)

/* A response whose workers do not fit one frame (status or list of
 * thousands): the workers go first, as many per CTL_RESPONSE as fit, each
 * flagged more; the last part is rep itself with the workers left. The
 * client puts them back together (ctl/client.c). */
static int ctl_respond_parts(struct ctl_conn *c, struct ctl_reply *rep)
{
	Switchyard__CtlResponse part = SWITCHYARD__CTL_RESPONSE__INIT;
	Switchyard__WorkerStatus **ws = rep->res.workers;
	size_t n = rep->res.n_workers, i = 0, k, size;

	part.more = 1;
	while (n - i > 1) {
		for (k = 0, size = 0; i + k < n - 1; k++) {
			size += switchyard__worker_status__get_packed_size(
				ws[i + k]) + 8;
			if (size > CTL_PART_MAX)
				break;
		}
		if (k == 0)
			return -1;
		if (i + k == n - 1 && size <= CTL_PART_MAX / 2)
			break;	/* the rest fits beside the final fields */
		part.workers = ws + i;
		part.n_workers = k;
		if (sy_writer_msg(&c->wr, SY_MSG_CTL_RESPONSE, 0, 1,
				  &part.base) == -1)
			return -1;
		i += k;
	}
	rep->res.workers = ws + i;
	rep->res.n_workers = n - i;
	return sy_writer_msg(&c->wr, SY_MSG_CTL_RESPONSE, SY_FLAG_END, 1,
			     &rep->res.base);
}

/* Queues the response and starts writing it; frees what rep holds. */
static int ctl_respond(struct ctl_conn *c, struct ctl_reply *rep)
{
	Switchyard__WorkerStatus **all = rep->res.workers;
	int rc;

	rep->res.error = rep->error;
	rep->res.message = rep->message;
	rep->res.lines = rep->lines;
	rep->res.n_lines = rep->nlines;
	rc = sy_writer_msg(&c->wr, SY_MSG_CTL_RESPONSE, SY_FLAG_END, 1,
			   &rep->res.base);
	if (rc == -1 && errno == EMSGSIZE && rep->res.n_workers > 1)
		rc = ctl_respond_parts(c, rep);
	rep->res.workers = all;
	if (rc == -1 && errno == EMSGSIZE) {
		/* a single part too large (never for status or list) */
		rep->res.n_workers = 0;
		rep->res.n_lines = 0;
		ctl_fail(rep, CTL_FAIL,
			 "response too large for one frame: ask for one "
			 "namespace (NS/*) or one worker");
		rc = sy_writer_msg(&c->wr, SY_MSG_CTL_RESPONSE, SY_FLAG_END, 1,
				   &rep->res.base);
	}
	if (rep->res.code == CTL_OK && rep->follow != NULL) {
		c->follow = rep->follow;
		c->follow_off = rep->follow_off;
		if (c->follow == events_stream())
			events_listen(1);
	}
	c->shutdown = rep->shutdown && rep->res.code == CTL_OK;
	ctl_reply_free(rep);
	c->answered = 1;
	if (rc == -1) {
		log_warn("control: cannot queue a response");
		return -1;
	}
	if (ev_mod(ctl_loop, c->fd, EPOLLIN | EPOLLOUT) == -1) {
		log_warn("control: ev_mod fd %d", c->fd);
		return -1;
	}
	return 0;
}

#define CTL_FOLLOW_CHUNK (16u * 1024u)

/* Sends what c's ring got since c->follow_off, one frame at a time: a
 * client that reads slowly misses lines rather than costing memory. */
static int ctl_follow_push(struct ctl_conn *c)
{
	Switchyard__CtlResponse res = SWITCHYARD__CTL_RESPONSE__INIT;
	uint8_t buf[CTL_FOLLOW_CHUNK];
	size_t n;

	if (sy_writer_pending(&c->wr) > 0)
		return 0;
	if ((n = logring_read(c->follow, &c->follow_off, (char *)buf,
			      sizeof(buf))) == 0)
		return ev_mod(ctl_loop, c->fd, EPOLLIN);
	res.error = res.message = "";
	res.output.data = buf;
	res.output.len = n;
	res.more = 1;
	if (sy_writer_msg(&c->wr, SY_MSG_CTL_RESPONSE, 0, 1, &res.base) == -1)
		return -1;
	return ev_mod(ctl_loop, c->fd, EPOLLIN | EPOLLOUT);
}

static void ctl_ring_hook(const struct logring *r, int gone)
{
	struct ctl_conn *c, *next;

	for (c = ctl_conns; c != NULL; c = next) {
		next = c->next;
		if (c->follow != r)
			continue;
		if (gone || ctl_follow_push(c) == -1)
			ctl_conn_close(c);
	}
}

static int ctl_poll_once(struct ctl_conn *c);

static void ctl_poll_tick(struct ev_loop *loop, void *arg)
{
	struct ctl_conn *c = arg;

	c->poll_timer = 0;
	if (ctl_poll_once(c) == -1)
		ctl_conn_close(c);
}

/* Asks a deferred command whether it is done; answers if so, else looks
 * again in CTL_POLL_MS. */
static int ctl_poll_once(struct ctl_conn *c)
{
	struct ctl_reply rep;

	memset(&rep, 0, sizeof(rep));
	switchyard__ctl_response__init(&rep.res);
	rep.uid = c->uid;
	if (c->poll(c->poll_arg, &rep) == 0) {
		ctl_reply_free(&rep);
		c->poll_timer = ev_timer_add(ctl_loop, CTL_POLL_MS,
					     ctl_poll_tick, c);
		return c->poll_timer == 0 ? -1 : 0;
	}
	free(c->poll_arg);
	c->poll_arg = NULL;
	c->poll = NULL;
	return ctl_respond(c, &rep);
}

/* A command that answers later, or follows output, outlives the time
 * limit of an exchange: its own rules bound it. */
static int ctl_defer(struct ctl_conn *c, struct ctl_reply *rep)
{
	if (c->timer != 0)
		ev_timer_del(ctl_loop, c->timer);
	c->timer = 0;
	c->poll = rep->poll;
	c->poll_arg = rep->poll_arg;
	ctl_reply_free(rep);
	return ctl_poll_once(c);
}

/* Answers the frame f (whose descriptor, if any, this closes). */
static int ctl_handle(struct ctl_conn *c, struct sy_frame *f)
{
	Switchyard__CtlRequest *req = NULL;
	struct ctl_reply rep;

	memset(&rep, 0, sizeof(rep));
	switchyard__ctl_response__init(&rep.res);
	rep.uid = c->uid;
	if (f->type != SY_MSG_CTL_REQUEST || f->stream != 1)
		ctl_fail(&rep, CTL_FAIL,
			 "control: expected CTL_REQUEST on stream 1, got %s on "
			 "stream %u",
			 sy_msg_name(f->type), f->stream);
	else if ((req = switchyard__ctl_request__unpack(NULL, f->len,
							f->payload)) == NULL)
		ctl_fail(&rep, CTL_FAIL, "control: malformed CtlRequest");
	else
		ctl_dispatch(req, f->fd, &rep);
	/* failed deploys and broken requests are worth an operator's eye */
	if (rep.res.code != CTL_OK &&
	    (req == NULL || strcmp(req->command, "deploy") == 0))
		log_warnx("control: uid %u: %s", (unsigned)rep.uid, rep.error);
	else if (rep.res.code != CTL_OK)
		log_debug("control: uid %u: %s", (unsigned)rep.uid, rep.error);
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
	if (req != NULL)
		switchyard__ctl_request__free_unpacked(req, NULL);
	if (rep.poll != NULL && rep.res.code == CTL_OK)
		return ctl_defer(c, &rep);
	free(rep.poll_arg);
	rep.poll_arg = NULL;
	if (rep.follow != NULL && rep.res.code == CTL_OK && c->timer != 0) {
		ev_timer_del(ctl_loop, c->timer);
		c->timer = 0;
	}
	return ctl_respond(c, &rep);
}

static void ctl_write(struct ctl_conn *c)
{
	ssize_t left = sy_writer_flush(&c->wr, c->fd);
	int shutdown;

	if (left == -1 && errno != EPIPE && errno != ECONNRESET)
		log_warn("control: uid %u: cannot send the response",
			 (unsigned)c->uid);
	if (left == -1) {
		ctl_conn_close(c);
	} else if (left == 0 && c->follow != NULL) {
		if (ctl_follow_push(c) == -1)
			ctl_conn_close(c);
	} else if (left == 0) {
		shutdown = c->shutdown;
		if (shutdown)
			log_info("control: uid %u: shutdown requested",
				 (unsigned)c->uid);
		/* first: stopping closes every control connection */
		ctl_conn_close(c);
		if (shutdown)
			control_env.hooks.shutdown();
	}
}

/* A garbled request gets an answer saying so, then the connection ends. */
static void ctl_reject(struct ctl_conn *c, const char *why)
{
	struct ctl_reply rep;

	log_warnx("control: uid %u: %s", (unsigned)c->uid, why);
	memset(&rep, 0, sizeof(rep));
	switchyard__ctl_response__init(&rep.res);
	ctl_fail(&rep, CTL_FAIL, "control: %s", why);
	if (ctl_respond(c, &rep) == -1)
		ctl_conn_close(c);
	else
		ctl_write(c);
}

/* Is the frame being received larger than any control request may be?
 * Checked on the header so that its payload is never buffered. */
static int ctl_too_big(const struct sy_reader *r)
{
	struct sy_frame f;

	if (r->end - r->start < SY_FRAME_HDR_LEN)
		return 0;
	if (sy_hdr_decode(r->buf + r->start, &f) == -1)
		return 0; /* sy_reader_next reports it */
	return f.len > CTL_FRAME_MAX;
}

static void ctl_read(struct ctl_conn *c)
{
	struct sy_frame f;
	char why[128];
	ssize_t n;
	int rc;

	for (;;) {
		if (ctl_too_big(&c->rd)) {
			snprintf(why, sizeof(why),
				 "request larger than %u bytes", CTL_FRAME_MAX);
			ctl_reject(c, why);
			return;
		}
		rc = sy_reader_next(&c->rd, &f);
		if (rc == 1) {
			c->handled = 1;
			if (ctl_handle(c, &f) == -1)
				ctl_conn_close(c);
			else if (c->answered)
				ctl_write(c);
			return;
		}
		if (rc == -1) {
			snprintf(why, sizeof(why), "bad frame: %s",
				 strerror(errno));
			ctl_reject(c, why);
			return;
		}
		n = sy_reader_fill(&c->rd, c->fd);
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n == -1 && errno != ECONNRESET)
			log_warn("control: uid %u: read", (unsigned)c->uid);
		if (n <= 0) {
			ctl_conn_close(c);
			return;
		}
	}
}

/* After its request, a client only sends end of file (it went away, e.g.
 * Ctrl-C on `tail -f`, or gave up waiting): anything else is dropped. */
static int ctl_gone(struct ctl_conn *c)
{
	char buf[256];
	ssize_t n;

	for (;;) {
		n = read(c->fd, buf, sizeof(buf));
		if (n > 0)
			continue;
		if (n == -1 && errno == EINTR)
			continue;
		return !(n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK));
	}
}

static void ctl_io(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	struct ctl_conn *c = arg;

	if (c->handled && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) &&
	    ctl_gone(c)) {
		ctl_conn_close(c);
		return;
	}
	if (c->answered && (events & EPOLLOUT))
		ctl_write(c);
	else if (!c->handled)
		ctl_read(c);
}

static void ctl_timeout(struct ev_loop *loop, void *arg)
{
	struct ctl_conn *c = arg;

	c->timer = 0;
	log_warnx("control: uid %u: no complete exchange within %d ms, closing",
		  (unsigned)c->uid, CTL_TIMEOUT_MS);
	ctl_conn_close(c);
}

static int ctl_conn_new(int fd)
{
	struct ctl_conn *c;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->fd = fd;
	c->uid = (uid_t)-1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		c->uid = cred.uid;
	if (sy_reader_init(&c->rd, 1) == -1 || sy_writer_init(&c->wr) == -1)
		goto fail;
	c->timer = ev_timer_add(ctl_loop, CTL_TIMEOUT_MS, ctl_timeout, c);
	if (c->timer == 0)
		goto fail;
	if (ev_add(ctl_loop, fd, EPOLLIN, ctl_io, c) == -1) {
		ev_timer_del(ctl_loop, c->timer);
		goto fail;
	}
	c->next = ctl_conns;
	if (ctl_conns != NULL)
		ctl_conns->prev = c;
	ctl_conns = c;
	ctl_nconns++;
	return 0;
fail:
	sy_reader_free(&c->rd);
	sy_writer_free(&c->wr);
	free(c);
	return -1;
}

static void ctl_accept(struct ev_loop *loop, int fd, uint32_t events,
		       void *arg);

static void ctl_accept_resume(struct ev_loop *loop, void *arg)
{
	if (ctl_fd >= 0 &&
	    ev_add(loop, ctl_fd, EPOLLIN, ctl_accept, NULL) == -1)
		log_warn("control: cannot watch %s again", ctl_path);
}

static void ctl_accept(struct ev_loop *loop, int fd, uint32_t events, void *arg)
{
	int cfd;

	for (;;) {
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (cfd == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (cfd == -1) {
			/* out of descriptors: pause accepting instead of
			 * spinning on a socket that stays readable */
			log_warn("control: accept on %s", ctl_path);
			ev_del(loop, fd);
			if (ev_timer_add(loop, 1000, ctl_accept_resume, NULL) ==
			    0)
				log_warn("control: cannot schedule accept");
			return;
		}
		if (ctl_nconns >= CTL_MAX_CONNS) {
			log_warnx(
			    "control: %d connections open, refusing another",
			    CTL_MAX_CONNS);
			close(cfd);
			continue;
		}
		if (ctl_conn_new(cfd) == -1) {
			log_warn("control: cannot take a connection");
			close(cfd);
		}
	}
}

/* ---- the listening socket ---- */

/* A socket left by a supervisor that died is removed; one that still
 * answers belongs to a running supervisor and is left alone. */
static int ctl_clear_stale(const struct sockaddr_un *sun, char *err,
			   size_t errlen)
{
	struct stat st;
	int fd, rc;

	if (lstat(sun->sun_path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "control socket %s: %s", sun->sun_path,
			 strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen,
			 "control socket %s: exists and is not a socket",
			 sun->sun_path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0)) == -1) {
		snprintf(err, errlen, "control socket %s: socket: %s",
			 sun->sun_path, strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	if (rc == 0 || errno == EAGAIN || errno == EINPROGRESS) {
		close(fd);
		snprintf(
		    err, errlen,
		    "control socket %s: another supervisor is listening on it",
		    sun->sun_path);
		return -1;
	}
	close(fd);
	if (errno != ECONNREFUSED) {
		snprintf(err, errlen, "control socket %s: connect: %s",
			 sun->sun_path, strerror(errno));
		return -1;
	}
	if (unlink(sun->sun_path) == -1 && errno != ENOENT) {
		snprintf(
		    err, errlen,
		    "control socket %s: cannot remove the stale socket: %s",
		    sun->sun_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Binds with a umask so that the socket is never reachable by others, even
 * for the moment before chmod. */
static int ctl_bind(int fd, const struct sockaddr_un *sun, char *err,
		    size_t errlen)
{
	struct stat st;
	mode_t old = umask(0117);
	int rc = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));

	umask(old);
	if (rc == -1) {
		snprintf(err, errlen, "control socket %s: bind: %s",
			 sun->sun_path, strerror(errno));
		return -1;
	}
	if (chmod(sun->sun_path, 0660) == -1 ||
	    lstat(sun->sun_path, &st) == -1) {
		snprintf(err, errlen, "control socket %s: chmod: %s",
			 sun->sun_path, strerror(errno));
		unlink(sun->sun_path);
		return -1;
	}
	ctl_dev = st.st_dev;
	ctl_ino = st.st_ino;
	return 0;
}

int control_listen(struct ev_loop *loop, struct sup_config *conf,
                   const struct control_hooks *hooks, char *err,
                   size_t errlen)
{
	const char *path = conf->control_socket;
	struct sockaddr_un sun;
	int fd;

	control_env.loop = loop;
	control_env.conf = conf;
	control_env.hooks = *hooks;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen,
			 "control socket %s: path too long (at most %zu bytes)",
			 path, sizeof(sun.sun_path) - 1);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (ctl_clear_stale(&sun, err, errlen) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0)) == -1) {
		snprintf(err, errlen, "control socket %s: socket: %s", path,
			 strerror(errno));
		return -1;
	}
	if (ctl_bind(fd, &sun, err, errlen) == -1) {
		close(fd);
		return -1;
	}
	if (listen(fd, 32) == -1 || (ctl_path = strdup(path)) == NULL ||
	    ev_add(loop, fd, EPOLLIN, ctl_accept, NULL) == -1) {
		snprintf(err, errlen, "control socket %s: %s", path,
			 strerror(errno));
		free(ctl_path);
		ctl_path = NULL;
		unlink(path);
		close(fd);
		return -1;
	}
	ctl_loop = loop;
	ctl_fd = fd;
	logring_hook = ctl_ring_hook;
	return 0;
}

void control_close(void)
{
	struct stat st;

	while (ctl_conns != NULL)
		ctl_conn_close(ctl_conns);
	if (ctl_fd < 0)
		return;
	ev_del(ctl_loop, ctl_fd);
	close(ctl_fd);
	ctl_fd = -1;
	/* only our own socket: a new supervisor may have replaced it */
	if (lstat(ctl_path, &st) == 0 && st.st_dev == ctl_dev &&
	    st.st_ino == ctl_ino && unlink(ctl_path) == -1)
		log_warn("control: cannot remove %s", ctl_path);
	free(ctl_path);
	ctl_path = NULL;
}
