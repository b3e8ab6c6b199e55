/*
 * yardctl kv get|put|delete|list|import|drop: the supervisor's KV store
 * (docs/kv.md). A value larger than one frame travels as a memfd passed
 * with the request, in both directions; an import is sent in batches of
 * one transaction each.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "frame.h"
#include "kv_wire.h"
#include "names.h"
#include "yardctl.h"

#define KV_BATCH_BYTES (200u * 1024u) /* packed pairs per import frame */
#define KV_BATCH_MAX 20000u

struct kv_args {
	const char *op, *ns, *key, *value, *file, *cursor;
	uint32_t ttl, limit;
	int npos;
};

/* Reads all of path (a value for put --file) into *buf. */
static int read_file(struct yc_opts *o, const char *path, char **buf,
		     size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return print_error(o, CTL_BAD_INPUT, "kv: cannot open %s: %s",
				   path, strerror(errno));
	if ((*buf = malloc(SY_KV_VALUE_MAX + 1)) == NULL) {
		fclose(f);
		return print_error(o, CTL_FAIL, "out of memory");
	}
	n = fread(*buf, 1, SY_KV_VALUE_MAX + 1, f);
	if (ferror(f) || n > SY_KV_VALUE_MAX) {
		fclose(f);
		free(*buf);
		*buf = NULL;
		if (n > SY_KV_VALUE_MAX)
			return print_error(o, CTL_BAD_INPUT, "kv: %s: larger "
					   "than the value limit (%u bytes)",
					   path, SY_KV_VALUE_MAX);
		return print_error(o, CTL_BAD_INPUT, "kv: %s: %s", path,
				   strerror(errno));
	}
	fclose(f);
	*len = n;
	return CTL_OK;
}

/* A memfd holding len bytes of buf, for a value too large for a frame.
 * The descriptor, or -1 with errno. */
static int kv_value_fd(const void *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;
	int fd, e;

	if ((fd = memfd_create("yardctl-kv", MFD_CLOEXEC)) == -1)
		return -1;
	while (off < len) {
		n = write(fd, (const char *)buf + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n == -1 ? errno : EIO;
			close(fd);
			errno = e;
			return -1;
		}
		off += (size_t)n;
	}
	return fd;
}

/* The len bytes the supervisor wrote into fd (kv get of a large value). */
static int kv_read_back(const struct yc_opts *o, int fd, size_t len,
			uint8_t **out)
{
	size_t off = 0;
	ssize_t n;

	if ((*out = malloc(len)) == NULL)
		return print_error(o, CTL_FAIL, "out of memory");
	while (off < len) {
		n = pread(fd, *out + off, len - off, (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(*out);
			*out = NULL;
			return print_error(o, CTL_FAIL, "kv get: the value "
					   "came back short: %s", n == -1 ?
					   strerror(errno) : "end of file");
		}
		off += (size_t)n;
	}
	return CTL_OK;
}

static int kv_num(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || end == s || v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int kv_parse(struct yc_opts *o, int argc, char **argv,
		    struct kv_args *a)
{
	const char **pos[] = {&a->op, &a->ns, &a->key, &a->value};
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			o->json = 1;
		} else if (i + 1 < argc && strcmp(argv[i], "--file") == 0) {
			a->file = argv[++i];
		} else if (i + 1 < argc && strcmp(argv[i], "--cursor") == 0) {
			a->cursor = argv[++i];
		} else if (i + 1 < argc && (strcmp(argv[i], "--ttl") == 0 ||
					    strcmp(argv[i], "--limit") == 0)) {
			if (kv_num(argv[i + 1], argv[i][2] == 't' ? &a->ttl
				   : &a->limit) == -1)
				return yc_usage("kv", "%s needs a number",
						argv[i]);
			i++;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			return yc_usage("kv", "unknown option: %s", argv[i]);
		} else if (a->npos == 4) {
			return yc_usage("kv", "unexpected argument: %s",
					argv[i]);
		} else {
			*pos[a->npos++] = argv[i];
		}
	}
	if (a->npos < 2)
		return yc_usage("kv", "missing %s", a->npos ? "KVNS"
				: "get|put|delete|list|import|drop");
	return CTL_OK;
}

static int kv_get_show(const struct yc_opts *o,
		       const Switchyard__CtlResponse *res)
{
	if (o->json || res->code != CTL_OK)
		return print_response(o, res);
	fwrite(res->output.data, 1, res->output.len, stdout);
	return CTL_OK;
}

/* get passes a memfd: the supervisor writes a value too large for its
 * answer's frame there (kv_value_len says so), and it is read back. */
static int kv_get(struct yc_opts *o, Switchyard__CtlRequest *req)
{
	Switchyard__CtlResponse *res;
	ProtobufCBinaryData inline_out;
	uint8_t *big = NULL;
	char err[1024];
	int fd, sfd, rc;

	if ((fd = memfd_create("yardctl-kv", MFD_CLOEXEC)) == -1 ||
	    (sfd = dup(fd)) == -1) {
		rc = print_error(o, CTL_FAIL, "kv get: memfd: %s",
				 strerror(errno));
		if (fd != -1)
			close(fd);
		return rc;
	}
	rc = client_call(o->socket, req, sfd, &res, err, sizeof(err));
	if (rc != CTL_OK) {
		close(fd);
		return print_error(o, rc, "%s", err);
	}
	if (res->code == CTL_OK && res->kv_value_len > 0)
		rc = kv_read_back(o, fd, res->kv_value_len, &big);
	close(fd);
	inline_out = res->output;
	if (big != NULL) {
		res->output.data = big;
		res->output.len = res->kv_value_len;
	}
	if (rc == CTL_OK)
		rc = kv_get_show(o, res);
	res->output = inline_out;
	free(big);
	switchyard__ctl_response__free_unpacked(res, NULL);
	return rc;
}

/* Lists every page, or one page when --limit is given (its cursor then
 * goes to stderr). */
static int kv_list_all(struct yc_opts *o, Switchyard__CtlRequest *req,
		       const struct kv_args *a)
{
	Switchyard__CtlResponse *res;
	char err[1024], cursor[600];
	size_t i;
	int rc;

	snprintf(cursor, sizeof(cursor), "%s", a->cursor ? a->cursor : "");
	for (;;) {
		req->kv_cursor = cursor;
		rc = client_call(o->socket, req, -1, &res, err, sizeof(err));
		if (rc != CTL_OK)
			return print_error(o, rc, "%s", err);
		if (res->code != CTL_OK || o->json) {
			rc = print_response(o, res);
			switchyard__ctl_response__free_unpacked(res, NULL);
			return rc;
		}
		for (i = 0; i < res->n_lines; i++)
			printf("%s\n", res->lines[i]);
		snprintf(cursor, sizeof(cursor), "%s", res->kv_cursor);
		switchyard__ctl_response__free_unpacked(res, NULL);
		if (cursor[0] == '\0')
			return CTL_OK;
		if (a->limit) {
			fprintf(stderr, "yardctl: more keys: --cursor %s\n",
				cursor);
			return CTL_OK;
		}
	}
}

struct kv_batch {
	Switchyard__KvPair *pairs;
	Switchyard__KvPair **pp;
	size_t n, bytes;
};

static void batch_clear(struct kv_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		free(b->pairs[i].key);
		free(b->pairs[i].value.data);
	}
	b->n = b->bytes = 0;
}

static int batch_send(struct yc_opts *o, Switchyard__CtlRequest *req,
		      struct kv_batch *b);

/* One request whose success is silent (import prints a summary at the
 * end); a failure prints the supervisor's answer. fd is passed, or -1. */
static int quiet_call(struct yc_opts *o, Switchyard__CtlRequest *req, int fd)
{
	Switchyard__CtlResponse *res;
	char err[1024];
	int rc;

	rc = client_call(o->socket, req, fd, &res, err, sizeof(err));
	if (rc != CTL_OK)
		return print_error(o, rc, "%s", err);
	rc = res->code;
	if (rc != CTL_OK)
		print_response(o, res);
	switchyard__ctl_response__free_unpacked(res, NULL);
	return rc;
}

/* A pair too large for any batch: a put of its own (its own transaction),
 * the value passed as a memfd, its expiration kept. */
static int import_big(struct yc_opts *o, const char *ns,
		      const Switchyard__KvPair *p)
{
	Switchyard__CtlRequest req = SWITCHYARD__CTL_REQUEST__INIT;
	char *args[2];
	int fd;

	args[0] = "put";
	args[1] = (char *)ns;
	req.command = "kv";
	req.n_args = 2;
	req.args = args;
	req.kv_key = p->key;
	req.kv_expiration = p->expiration;
	if ((fd = kv_value_fd(p->value.data, p->value.len)) == -1)
		return print_error(o, CTL_FAIL, "kv import: memfd: %s",
				   strerror(errno));
	return quiet_call(o, &req, fd);
}

/* Adds p (taken) to the batch, sending the batch first when p would not
 * fit its frame; a pair larger than a batch goes alone (import_big). */
static int batch_add(struct yc_opts *o, Switchyard__CtlRequest *req,
		     struct kv_batch *b, Switchyard__KvPair *p)
{
	size_t size = strlen(p->key) + p->value.len + 24;
	int rc = CTL_OK;

	if (size > KV_BATCH_BYTES || b->n == KV_BATCH_MAX ||
	    b->bytes + size > KV_BATCH_BYTES)
		rc = batch_send(o, req, b);
	if (rc == CTL_OK && size > KV_BATCH_BYTES)
		rc = import_big(o, req->args[1], p);
	if (rc != CTL_OK || size > KV_BATCH_BYTES) {
		free(p->key);
		free(p->value.data);
		return rc;
	}
	b->pairs[b->n] = *p;
	b->pp[b->n] = &b->pairs[b->n];
	b->n++;
	b->bytes += size;
	return CTL_OK;
}

static int batch_send(struct yc_opts *o, Switchyard__CtlRequest *req,
		      struct kv_batch *b)
{
	int rc;

	if (b->n == 0)
		return CTL_OK;
	req->n_kv_pairs = b->n;
	req->kv_pairs = b->pp;
	rc = quiet_call(o, req, -1);
	batch_clear(b);
	return rc;
}

/* One JSON line {"key", "value", "expiration"|"expiration_ttl"} or
 * "key<TAB>value" into p. NULL, or what is wrong with it. */
static const char *line_parse(char *line, Switchyard__KvPair *p)
{
	const char *k, *v;
	json_int_t exp = 0, ttl = 0;
	json_error_t je;
	json_t *j;
	char *tab;

	if (line[0] != '{') {
		if ((tab = strchr(line, '\t')) == NULL)
			return "expected KEY<TAB>VALUE or a JSON object";
		*tab = '\0';
		k = line;
		v = tab + 1;
		p->key = strdup(k);
		p->value.len = strlen(v);
		p->value.data = (uint8_t *)strdup(v);
		return p->key && p->value.data ? NULL : "out of memory";
	}
	if ((j = json_loads(line, 0, &je)) == NULL)
		return "invalid JSON";
	if (json_unpack_ex(j, &je, 0, "{s:s, s:s, s?I, s?I}", "key", &k,
			   "value", &v, "expiration", &exp, "expiration_ttl",
			   &ttl) == -1 || exp < 0 || ttl < 0) {
		json_decref(j);
		return "expected {\"key\": string, \"value\": string, "
		       "\"expiration\": unix seconds}";
	}
	p->expiration = ttl ? (int64_t)time(NULL) + ttl : exp;
	p->key = strdup(k);
	p->value.len = strlen(v);
	p->value.data = (uint8_t *)strdup(v);
	json_decref(j);
	return p->key && p->value.data ? NULL : "out of memory";
}

static int kv_import_lines(struct yc_opts *o, Switchyard__CtlRequest *req,
			   FILE *f, const char *path, struct kv_batch *b,
			   size_t *total)
{
	Switchyard__KvPair one;
	const char *why;
	char *line = NULL, limits[64];
	size_t cap = 0, lineno = 0, klen;
	ssize_t n;
	int rc = CTL_OK;

	while (rc == CTL_OK && (n = getline(&line, &cap, f)) != -1) {
		lineno++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		switchyard__kv_pair__init(&one);
		one.key = NULL; /* not the library's "" */
		why = line_parse(line, &one);
		klen = one.key ? strlen(one.key) : 0;
		if (why == NULL && (!sy_kv_key_valid(one.key, klen) ||
				    one.value.len > SY_KV_VALUE_MAX)) {
			snprintf(limits, sizeof(limits), "key must be 1-%d "
				 "bytes, value at most %u", SY_KV_KEY_MAX,
				 SY_KV_VALUE_MAX);
			why = limits;
		}
		if (why != NULL) {
			free(one.key);
			free(one.value.data);
			rc = print_error(o, CTL_BAD_INPUT, "kv import %s line "
					 "%zu: %s", path, lineno, why);
			break;
		}
		(*total)++;
		rc = batch_add(o, req, b, &one);
	}
	free(line);
	if (rc == CTL_OK && ferror(f))
		rc = print_error(o, CTL_BAD_INPUT, "kv import: read %s: %s",
				 path, strerror(errno));
	if (rc == CTL_OK)
		rc = batch_send(o, req, b);
	batch_clear(b);
	return rc;
}

/* Streams the file to the supervisor in batches, each one transaction. */
static int kv_import(struct yc_opts *o, Switchyard__CtlRequest *req,
		     const char *path)
{
	struct kv_batch b = {NULL, NULL, 0, 0};
	struct timespec t0, t1;
	size_t total = 0;
	FILE *f;
	int rc;

	if ((f = fopen(path, "r")) == NULL)
		return print_error(o, CTL_BAD_INPUT, "kv import: cannot open "
				   "%s: %s", path, strerror(errno));
	b.pairs = calloc(KV_BATCH_MAX, sizeof(*b.pairs));
	b.pp = calloc(KV_BATCH_MAX, sizeof(*b.pp));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (b.pairs == NULL || b.pp == NULL)
		rc = print_error(o, CTL_FAIL, "out of memory");
	else
		rc = kv_import_lines(o, req, f, path, &b, &total);
	fclose(f);
	free(b.pairs);
	free(b.pp);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc == CTL_OK && !o->json)
		printf("imported %zu keys into %s in %.2f s\n", total,
		       req->args[1], (double)(t1.tv_sec - t0.tv_sec) +
		       (t1.tv_nsec - t0.tv_nsec) / 1e9);
	else if (rc == CTL_OK)
		printf("{\"code\": 0, \"imported\": %zu}\n", total);
	return rc;
}

int cmd_kv(struct yc_opts *o, int argc, char **argv)
{
	Switchyard__CtlRequest req = SWITCHYARD__CTL_REQUEST__INIT;
	struct kv_args a;
	char *args[2], *buf = NULL;
	size_t len = 0;
	int rc, need, fd;

	memset(&a, 0, sizeof(a));
	if ((rc = kv_parse(o, argc, argv, &a)) != CTL_OK)
		return rc;
	args[0] = (char *)a.op;
	args[1] = (char *)a.ns;
	req.command = "kv";
	req.n_args = 2;
	req.args = args;
	req.kv_key = (char *)(a.key ? a.key : "");
	req.kv_ttl = a.ttl;
	req.kv_limit = a.limit;
	if (strcmp(a.op, "import") == 0)
		return a.key ? kv_import(o, &req, a.key)
			     : yc_usage("kv", "import needs a FILE");
	if (strcmp(a.op, "list") == 0)
		return kv_list_all(o, &req, &a);
	if (strcmp(a.op, "drop") == 0)
		return a.npos == 2 && a.file == NULL
		       ? yc_call(o, &req, -1, print_response)
		       : yc_usage("kv", "drop needs only KVNS");
	need = strcmp(a.op, "put") == 0 ? 4 : 3;
	if (a.npos + (a.file != NULL) != need)
		return yc_usage("kv", "%s needs KVNS KEY%s", a.op,
				need == 4 ? " VALUE (or --file F)" : "");
	if (strcmp(a.op, "get") == 0)
		return kv_get(o, &req);
	if (a.file != NULL && (rc = read_file(o, a.file, &buf, &len)) != CTL_OK)
		return rc;
	if (a.value != NULL) {
		buf = strdup(a.value);
		len = strlen(a.value);
	}
	/* Larger values do not fit one frame: they travel as a memfd passed
	 * with the request. */
	if (len > SY_KV_INLINE_MAX) {
		fd = kv_value_fd(buf, len);
		free(buf);
		if (fd == -1)
			return print_error(o, CTL_FAIL, "kv put: memfd: %s",
					   strerror(errno));
		return yc_call(o, &req, fd, print_response);
	}
	req.kv_value.data = (uint8_t *)buf;
	req.kv_value.len = len;
	rc = yc_call(o, &req, -1, print_response);
	free(buf);
	return rc;
}

