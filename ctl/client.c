/*
 * One request, one response over the control socket, with blocking I/O and
 * a timeout: yardctl has nothing else to do meanwhile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"
#include "yardctl.h"

static int client_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct timeval tv = {YC_TIMEOUT_S, 0};
	int s;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen,
			 "cannot reach supervisor at %s: path too long", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		snprintf(err, errlen, "cannot reach supervisor at %s: %s", path,
			 strerror(errno));
		close(s);
		return -1;
	}
	if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1) {
		snprintf(err, errlen, "%s: setsockopt: %s", path,
			 strerror(errno));
		close(s);
		return -1;
	}
	return s;
}

/* Queues and writes the request; the writer owns fd from here on. */
static int client_send(int s, const char *path,
		       const Switchyard__CtlRequest *req, int fd, char *err,
		       size_t errlen)
{
	struct sy_writer w;
	int rc = -1;

	if (sy_writer_init(&w) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (fd >= 0)
		sy_writer_attach_fd(&w, fd); /* cannot fail: a fresh writer */
	if (sy_writer_msg(&w, SY_MSG_CTL_REQUEST, SY_FLAG_END, 1, &req->base) ==
	    -1)
		snprintf(err, errlen, "cannot encode the request: %s",
			 strerror(errno));
	else if (sy_writer_flush_all(&w, s) == -1)
		snprintf(err, errlen, "cannot send to supervisor at %s: %s",
			 path, errno == EAGAIN ? "timed out" : strerror(errno));
	else
		rc = 0;
	sy_writer_free(&w);
	return rc;
}

/* One response, from r (which may hold more frames already read). */
static int client_recv_r(int s, const char *path, struct sy_reader *r,
			 Switchyard__CtlResponse **res, char *err,
			 size_t errlen)
{
	struct sy_frame f;
	int rc;

	rc = sy_frame_recv(s, r, &f);
	if (rc == 0)
		snprintf(
		    err, errlen,
		    "supervisor at %s closed the connection without answering",
		    path);
	else if (rc == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		snprintf(err, errlen,
			 "no answer from supervisor at %s within %d s", path,
			 YC_TIMEOUT_S);
	else if (rc == -1)
		snprintf(err, errlen, "cannot read from supervisor at %s: %s",
			 path, strerror(errno));
	else if (f.type != SY_MSG_CTL_RESPONSE || f.stream != 1)
		snprintf(
		    err, errlen,
		    "supervisor at %s answered with an unexpected %s frame",
		    path, sy_msg_name(f.type));
	else if ((*res = switchyard__ctl_response__unpack(NULL, f.len,
							  f.payload)) == NULL)
		snprintf(err, errlen,
			 "malformed response from supervisor at %s", path);
	else
		return 0;
	return -1;
}

/* Moves part's workers in front of res's (the supervisor sends those of a
 * long status or list first, in parts flagged more: control.c). The
 * messages come from protobuf-c's default allocator, malloc, so the
 * arrays can be grown here and each worker freed with res. */
static int merge_workers(Switchyard__CtlResponse *res,
			 Switchyard__CtlResponse **held, size_t nheld)
{
	Switchyard__WorkerStatus **all;
	size_t i, n = res->n_workers;

	for (i = 0; i < nheld; i++)
		n += held[i]->n_workers;
	if ((all = malloc((n ? n : 1) * sizeof(*all))) == NULL)
		return -1;
	for (n = 0, i = 0; i < nheld; i++) {
		memcpy(all + n, held[i]->workers,
		       held[i]->n_workers * sizeof(*all));
		n += held[i]->n_workers;
		held[i]->n_workers = 0; /* now res's to free */
	}
	memcpy(all + n, res->workers, res->n_workers * sizeof(*all));
	free(res->workers);
	res->workers = all;
	res->n_workers = n + res->n_workers;
	return 0;
}

static int client_recv(int s, const char *path, Switchyard__CtlResponse **res,
		       char *err, size_t errlen)
{
	Switchyard__CtlResponse **held = NULL, **grown;
	struct sy_reader r;
	size_t nheld = 0, i;
	int rc;

	err[0] = '\0';
	if (sy_reader_init(&r, 0) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -1;
	}
	while ((rc = client_recv_r(s, path, &r, res, err, errlen)) == 0 &&
	       (*res)->more) {
		if ((grown = realloc(held, (nheld + 1) * sizeof(*held))) ==
		    NULL) {
			switchyard__ctl_response__free_unpacked(*res, NULL);
			rc = -1;
			break;
		}
		held = grown;
		held[nheld++] = *res;
	}
	if (rc == 0 && nheld > 0 && merge_workers(*res, held, nheld) == -1) {
		switchyard__ctl_response__free_unpacked(*res, NULL);
		rc = -1;
	}
	if (rc == -1 && err[0] == '\0')
		snprintf(err, errlen, "%s", strerror(ENOMEM));
	for (i = 0; i < nheld; i++)
		switchyard__ctl_response__free_unpacked(held[i], NULL);
	free(held);
	if (rc == -1)
		*res = NULL;
	sy_reader_free(&r);
	return rc;
}

int client_call(const char *path, const Switchyard__CtlRequest *req, int fd,
		Switchyard__CtlResponse **res, char *err, size_t errlen)
{
	int s, rc;

	*res = NULL;
	if ((s = client_connect(path, err, errlen)) == -1) {
		if (fd >= 0)
			close(fd);
		return CTL_UNREACHABLE;
	}
	rc = client_send(s, path, req, fd, err, errlen);
	if (rc == 0)
		rc = client_recv(s, path, res, err, errlen);
	close(s);
	return rc == 0 ? CTL_OK : CTL_FAIL;
}

/* Reads responses until one says no more follow (or each says stop). */
static int client_recv_all(int s, const char *path,
			   int (*each)(const Switchyard__CtlResponse *,
				       void *),
			   void *arg, char *err, size_t errlen)
{
	Switchyard__CtlResponse *res;
	struct sy_reader r;
	int more, rc = CTL_OK;

	if (sy_reader_init(&r, 0) == -1) {
		snprintf(err, errlen, "%s", strerror(errno));
		return CTL_FAIL;
	}
	do {
		if (client_recv_r(s, path, &r, &res, err, errlen) == -1) {
			rc = CTL_FAIL;
			break;
		}
		more = res->more;
		rc = each(res, arg);
		switchyard__ctl_response__free_unpacked(res, NULL);
		if (rc != 0) {
			rc = rc > 0 ? rc : CTL_OK;
			break;
		}
	} while (more);
	sy_reader_free(&r);
	return rc;
}

int client_stream(const char *path, const Switchyard__CtlRequest *req,
		  int timeout_s,
		  int (*each)(const Switchyard__CtlResponse *res, void *arg),
		  void *arg, char *err, size_t errlen)
{
	struct timeval tv = {timeout_s, 0};
	int s, rc;

	if ((s = client_connect(path, err, errlen)) == -1)
		return CTL_UNREACHABLE;
	if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1) {
		snprintf(err, errlen, "%s: setsockopt: %s", path,
			 strerror(errno));
		close(s);
		return CTL_FAIL;
	}
	rc = client_send(s, path, req, -1, err, errlen);
	if (rc == 0)
		rc = client_recv_all(s, path, each, arg, err, errlen);
	else
		rc = CTL_FAIL;
	close(s);
	return rc;
}
