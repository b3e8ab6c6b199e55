/*
 * The request path's entry: what main.c starts and stops, and the one
 * dispatch function per peer (OpenBSD's p_cb): the router's frames and a
 * worker process's frames, each a flat switch on the frame type handing
 * the frame to the file that owns its meaning. An unexpected frame is the
 * sender's protocol error: the router's stops the platform (it is our own
 * program), a worker's kills that worker.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "serve/call.h"
#include "serve/decision_cache.h"
#include "serve/kv_serve.h"
#include "serve/pool.h"
#include "serve/routerproc.h"
#include "serve/serve.h"
#include "serve/stats.h"

struct serve_env serve_env;

static void router_frame(struct peer *p, const struct sy_frame *f)
{
	char why[64];

	switch (f->type) {
	case SY_MSG_REQUEST:
		call_request(p, f);
		break;
	case SY_MSG_REQ_BODY:
		call_req_body(p, f);
		break;
	case SY_MSG_CANCEL:
		call_cancel(p, f);
		break;
	case SY_MSG_RESPONSE:
		fetch_response(p, f);
		break;
	case SY_MSG_RES_BODY:
		fetch_res_body(p, f);
		break;
	case SY_MSG_STATS_REQUEST:
		stats_request(p, f);
		break;
	default:
		snprintf(why, sizeof(why), "protocol error: unexpected %s frame",
		         sy_msg_name(f->type));
		routerproc_lost(why);
		break;
	}
}

static void router_broken(struct peer *p, int err, const char *why)
{
	(void)p;
	(void)err;
	routerproc_lost(why);
}

static const struct peer_ops router_ops = {
	.frame = router_frame,
	.broken = router_broken,
};

static void worker_frame(struct peer *peer, const struct sy_frame *f)
{
	struct proc *proc = peer->owner;
	char why[64];

	switch (f->type) {
	case SY_MSG_HELLO:
		pool_hello(proc, f);
		break;
	case SY_MSG_REQUEST:
		call_request(peer, f);
		break;
	case SY_MSG_REQ_BODY:
		call_req_body(peer, f);
		break;
	case SY_MSG_CANCEL:
		call_cancel(peer, f);
		break;
	case SY_MSG_RESPONSE:
		call_response(proc, f);
		break;
	case SY_MSG_FORWARD:
		call_forward(proc, f);
		break;
	case SY_MSG_BODY_PULL:
		call_body_pull(proc, f);
		break;
	case SY_MSG_RES_BODY:
		call_res_body(proc, f);
		break;
	case SY_MSG_KV_REQUEST:
		kv_worker_request(proc, f);
		break;
	case SY_MSG_KV_VALUE:
		kv_worker_value(proc, f);
		break;
	default:
		snprintf(why, sizeof(why), "protocol error: unexpected %s frame",
		         sy_msg_name(f->type));
		pool_kill(proc, why, BLAME_PROTOCOL);
		break;
	}
}

/* A queue it let grow is the worker's fault, a malformed frame a
 * protocol violation, memory ours; anything else means it is dying. */
static void worker_broken(struct peer *peer, int err, const char *why)
{
	struct proc *proc = peer->owner;

	if (err == ENOBUFS)
		pool_kill(proc, why, BLAME_WORKER);
	else if (err == EMSGSIZE || err == EPROTO)
		pool_kill(proc, why, BLAME_PROTOCOL);
	else if (err == ENOMEM)
		pool_kill(proc, why, BLAME_PLATFORM);
	else
		pool_channel_lost(proc, why);
}

/* A KV value the worker was sending in KV_VALUE frames ends here. */
static void worker_closed(struct peer *peer)
{
	kv_channel_closed(peer->owner);
}

static const struct peer_ops worker_ops = {
	.frame = worker_frame,
	.broken = worker_broken,
	.closed = worker_closed,
};

int serve_init(struct ev_loop *loop, const struct sup_config *conf,
               const struct serve_hooks *hooks, char *err, size_t errlen)
{
	serve_env.loop = loop;
	serve_env.conf = conf;
	serve_env.hooks = *hooks;
	if (pool_init(&worker_ops) == -1) {
		snprintf(err, errlen, "pool timer: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int serve_router_start(const int *lfds, size_t n, char *err, size_t errlen)
{
	return routerproc_start(&router_ops, lfds, n, err, errlen);
}

int serve_router_attach(int fd, char *err, size_t errlen)
{
	return routerproc_attach(&router_ops, fd, err, errlen);
}

void serve_settle(void)
{
	peer_flush_all();
	call_collect();
}

void serve_shutdown(void)
{
	routerproc_stop();
	pool_shutdown();
}

int serve_reaped(pid_t pid, int status)
{
	return routerproc_reaped(pid, status) || pool_reaped(pid, status);
}

unsigned serve_children(void)
{
	return (routerproc_running() ? 1u : 0u) + pool_children();
}

void serve_fini(void)
{
	pool_fini();
	call_fini();
	kv_serve_fini();
	dcache_fini();
}

/* A deploy or rollback of the dispatch worker: the decisions of the
 * version it replaces go at once (a lookup would find them stale). */
void serve_version_changed(struct worker *w)
{
	dcache_forget(w);
	pool_version_changed(w);
}

void serve_worker_removing(struct worker *w)
{
	dcache_forget(w);
	pool_destroy(w);
}
