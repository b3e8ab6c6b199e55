/*
 * The KV store on LMDB (see kv.h). Single-threaded: one read transaction
 * handle is kept and reset/renewed around every read, so a get costs no
 * allocation and no lock beyond LMDB's reader slot. Writes are one write
 * transaction each (kv_put_batch: one for the whole batch), committed with
 * LMDB's default durability (fsync at commit).
 */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "names.h"
#include "state/kv.h"
#include "util.h"

#define EXP_LEN 8 /* bytes of the expiration before each value */

struct kv_ns {
	char name[64];
	MDB_dbi dbi;
};

struct kv {
	MDB_env *env;
	MDB_txn *rtxn; /* reset between reads, NULL until the first */
	int viewing;   /* rtxn is live: kv_view's answer is in use */
	struct kv_ns ns[KV_MAX_NS];
	size_t nns;
};

static int kv_err(int rc)
{
	switch (rc) {
	case 0: return 0;
	case MDB_NOTFOUND: return -ENOENT;
	case MDB_MAP_FULL: return -ENOSPC;
	case MDB_DBS_FULL: return -EMLINK;
	case MDB_BAD_VALSIZE: return -EINVAL;
	default: return -EIO;
	}
}

int kv_open(const char *dir, uint64_t mapsize, struct kv **out, char *err,
            size_t errlen)
{
	struct kv *kv;
	int rc;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "kv: mkdir %s: %s", dir, strerror(errno));
		return -EIO;
	}
	if ((kv = calloc(1, sizeof(*kv))) == NULL) {
		snprintf(err, errlen, "kv: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	if ((rc = mdb_env_create(&kv->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(kv->env, KV_MAX_NS)) != 0 ||
	    (rc = mdb_env_set_mapsize(kv->env, mapsize ? (size_t)mapsize
	                                 : (size_t)KV_MAPSIZE_DEFAULT)) != 0 ||
	    (rc = mdb_env_open(kv->env, dir, 0, 0600)) != 0) {
		snprintf(err, errlen, "kv: open %s: %s", dir, mdb_strerror(rc));
		if (kv->env != NULL)
			mdb_env_close(kv->env);
		free(kv);
		return -EIO;
	}
	*out = kv;
	return 0;
}

uint64_t kv_mapsize(struct kv *kv)
{
	MDB_envinfo info;

	if (mdb_env_info(kv->env, &info) != 0)
		return 0;
	return (uint64_t)info.me_mapsize;
}

void kv_close(struct kv *kv)
{
	if (kv == NULL)
		return;
	if (kv->rtxn != NULL)
		mdb_txn_abort(kv->rtxn);
	mdb_env_close(kv->env);
	free(kv);
}

/* The namespace's database handle; created (in a transaction of its own)
 * only when create is set, else -ENOENT if it does not exist. */
static int find_dbi(struct kv *kv, const char *ns, int create, MDB_dbi *dbi)
{
	MDB_txn *txn;
	size_t i;
	int rc;

	if (!sy_valid_name(ns))
		return -EINVAL;
	for (i = 0; i < kv->nns; i++) {
		if (strcmp(kv->ns[i].name, ns) == 0) {
			*dbi = kv->ns[i].dbi;
			return 0;
		}
	}
	if (kv->nns == KV_MAX_NS)
		return -EMLINK;
	if ((rc = mdb_txn_begin(kv->env, NULL, create ? 0 : MDB_RDONLY,
	                        &txn)) != 0)
		return kv_err(rc);
	if ((rc = mdb_dbi_open(txn, ns, create ? MDB_CREATE : 0, dbi)) != 0) {
		mdb_txn_abort(txn);
		return kv_err(rc);
	}
	/* committing (even a read transaction) makes the handle permanent */
	if ((rc = mdb_txn_commit(txn)) != 0)
		return kv_err(rc);
	snprintf(kv->ns[kv->nns].name, sizeof(kv->ns[0].name), "%s", ns);
	kv->ns[kv->nns++].dbi = *dbi;
	return 0;
}

static int read_begin(struct kv *kv)
{
	if (kv->rtxn != NULL)
		return kv_err(mdb_txn_renew(kv->rtxn));
	return kv_err(mdb_txn_begin(kv->env, NULL, MDB_RDONLY, &kv->rtxn));
}

static int64_t val_exp(const MDB_val *v)
{
	int64_t e;

	memcpy(&e, v->mv_data, sizeof(e));
	return e;
}

static int expired(const MDB_val *v, int64_t now)
{
	int64_t e = val_exp(v);

	return e != 0 && e <= now;
}

/* Deletes key if it is still expired: readers found it so. */
static void expire(struct kv *kv, MDB_dbi dbi, const char *key, int64_t now)
{
	MDB_val k = { strlen(key), (void *)key }, v;
	MDB_txn *txn;

	if (mdb_txn_begin(kv->env, NULL, 0, &txn) != 0)
		return;
	if (mdb_get(txn, dbi, &k, &v) == 0 && v.mv_size >= EXP_LEN &&
	    expired(&v, now) && mdb_del(txn, dbi, &k, NULL) == 0)
		mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
}

int kv_view(struct kv *kv, const char *ns, const char *key, int64_t now,
            const void **val, size_t *len, int64_t *exp)
{
	MDB_val k = { 0, (void *)key }, v;
	MDB_dbi dbi;
	int rc;

	*val = NULL;
	*len = 0;
	if (key == NULL || !sy_kv_key_valid(key, k.mv_size = strlen(key)))
		return -EINVAL;
	if ((rc = find_dbi(kv, ns, 0, &dbi)) != 0 || (rc = read_begin(kv)) != 0)
		return rc;
	if ((rc = kv_err(mdb_get(kv->rtxn, dbi, &k, &v))) == 0 &&
	    v.mv_size < EXP_LEN)
		rc = -EIO;
	if (rc == 0 && expired(&v, now)) {
		mdb_txn_reset(kv->rtxn);
		expire(kv, dbi, key, now);
		return -ENOENT;
	}
	if (rc != 0) {
		mdb_txn_reset(kv->rtxn);
		return rc;
	}
	*val = (const char *)v.mv_data + EXP_LEN;
	*len = v.mv_size - EXP_LEN;
	if (exp != NULL)
		*exp = val_exp(&v);
	kv->viewing = 1;
	return 0;
}

void kv_view_end(struct kv *kv)
{
	if (kv->viewing)
		mdb_txn_reset(kv->rtxn);
	kv->viewing = 0;
}

int kv_get(struct kv *kv, const char *ns, const char *key, int64_t now,
           void **val, size_t *len, int64_t *exp)
{
	const void *v;
	int rc;

	*val = NULL;
	if ((rc = kv_view(kv, ns, key, now, &v, len, exp)) != 0)
		return rc;
	if (*len > 0 && (*val = malloc(*len)) == NULL)
		rc = -ENOMEM;
	else if (*len > 0)
		memcpy(*val, v, *len);
	if (rc != 0)
		*len = 0;
	kv_view_end(kv);
	return rc;
}

static int put_one(MDB_txn *txn, MDB_dbi dbi, const struct kv_item *it)
{
	MDB_val k = { strlen(it->key), (void *)it->key };
	MDB_val v = { it->len + EXP_LEN, NULL };
	int rc;

	if ((rc = mdb_put(txn, dbi, &k, &v, MDB_RESERVE)) != 0)
		return kv_err(rc);
	memcpy(v.mv_data, &it->expiration, EXP_LEN);
	if (it->len > 0)
		memcpy((char *)v.mv_data + EXP_LEN, it->val, it->len);
	return 0;
}

static int item_valid(const struct kv_item *it)
{
	return it->key != NULL && sy_kv_key_valid(it->key, strlen(it->key)) &&
	       it->len <= SY_KV_VALUE_MAX && (it->len == 0 || it->val != NULL) &&
	       it->expiration >= 0;
}

int kv_put_batch(struct kv *kv, const char *ns, const struct kv_item *items,
                 size_t n, size_t *bad)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		if (!item_valid(&items[i])) {
			if (bad != NULL)
				*bad = i;
			return -EINVAL;
		}
	}
	if ((rc = find_dbi(kv, ns, 1, &dbi)) != 0)
		return rc;
	if ((rc = mdb_txn_begin(kv->env, NULL, 0, &txn)) != 0)
		return kv_err(rc);
	for (i = 0; i < n; i++) {
		if ((rc = put_one(txn, dbi, &items[i])) != 0) {
			mdb_txn_abort(txn);
			return rc;
		}
	}
	return kv_err(mdb_txn_commit(txn));
}

int kv_put(struct kv *kv, const char *ns, const char *key, const void *val,
           size_t len, int64_t expiration)
{
	struct kv_item it = { key, val, len, expiration };

	return kv_put_batch(kv, ns, &it, 1, NULL);
}

int kv_delete(struct kv *kv, const char *ns, const char *key)
{
	MDB_val k = { 0, (void *)key };
	MDB_txn *txn;
	MDB_dbi dbi;
	int rc;

	if (key == NULL || !sy_kv_key_valid(key, k.mv_size = strlen(key)))
		return -EINVAL;
	if ((rc = find_dbi(kv, ns, 0, &dbi)) != 0)
		return rc;
	if ((rc = mdb_txn_begin(kv->env, NULL, 0, &txn)) != 0)
		return kv_err(rc);
	if ((rc = mdb_del(txn, dbi, &k, NULL)) != 0) {
		mdb_txn_abort(txn);
		return kv_err(rc);
	}
	return kv_err(mdb_txn_commit(txn));
}

void kv_keys_free(struct kv_keys *k)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		free(k->keys[i]);
	free(k->keys);
	free(k->cursor);
	memset(k, 0, sizeof(*k));
}

static int keys_add(struct kv_keys *out, const MDB_val *k)
{
	char *s;

	if ((s = malloc(k->mv_size + 1)) == NULL)
		return -ENOMEM;
	memcpy(s, k->mv_data, k->mv_size);
	s[k->mv_size] = '\0';
	out->keys[out->n++] = s;
	return 0;
}

/* Walks from the cursor's position; sets *more when keys were left. */
static int list_walk(MDB_cursor *cur, MDB_val *k, int rc, const char *prefix,
                     const char *after, unsigned limit, int64_t now,
                     struct kv_keys *out, int *more)
{
	size_t plen = strlen(prefix), bytes = 0;
	MDB_val v;

	for (; rc == 0; rc = mdb_cursor_get(cur, k, &v, MDB_NEXT)) {
		if (k->mv_size < plen || memcmp(k->mv_data, prefix, plen) != 0)
			return 0;
		if (after != NULL && k->mv_size == strlen(after) &&
		    memcmp(k->mv_data, after, k->mv_size) == 0)
			continue;
		if (mdb_cursor_get(cur, k, &v, MDB_GET_CURRENT) != 0 ||
		    v.mv_size < EXP_LEN)
			return -EIO;
		if (expired(&v, now))
			continue;
		if (out->n == limit || bytes + k->mv_size > KV_LIST_BYTES) {
			*more = 1;
			return 0;
		}
		bytes += k->mv_size;
		if (keys_add(out, k) != 0)
			return -ENOMEM;
	}
	return rc == MDB_NOTFOUND ? 0 : kv_err(rc);
}

static int list_run(struct kv *kv, MDB_dbi dbi, const char *prefix,
                    const char *cursor, unsigned limit, int64_t now,
                    struct kv_keys *out)
{
	const char *start = prefix, *after = NULL;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, more = 0;

	if (cursor != NULL && cursor[0] && strcmp(cursor, prefix) >= 0)
		start = after = cursor;
	if ((rc = mdb_cursor_open(kv->rtxn, dbi, &cur)) != 0)
		return kv_err(rc);
	k.mv_size = strlen(start);
	k.mv_data = (void *)start;
	rc = mdb_cursor_get(cur, &k, &v, k.mv_size ? MDB_SET_RANGE : MDB_FIRST);
	rc = list_walk(cur, &k, rc, prefix, after, limit, now, out, &more);
	mdb_cursor_close(cur);
	if (rc == 0 && more && out->n > 0 &&
	    (out->cursor = strdup(out->keys[out->n - 1])) == NULL)
		rc = -ENOMEM;
	return rc;
}

int kv_list(struct kv *kv, const char *ns, const char *prefix,
            const char *cursor, unsigned limit, int64_t now,
            struct kv_keys *out)
{
	MDB_dbi dbi;
	int rc;

	memset(out, 0, sizeof(*out));
	if (prefix == NULL)
		prefix = "";
	if (strlen(prefix) > SY_KV_KEY_MAX ||
	    (cursor != NULL && strlen(cursor) > SY_KV_KEY_MAX))
		return -EINVAL;
	if (limit == 0 || limit > KV_LIST_MAX)
		limit = KV_LIST_MAX;
	if ((rc = find_dbi(kv, ns, 0, &dbi)) != 0)
		return rc == -ENOENT ? 0 : rc;
	if ((out->keys = calloc(limit, sizeof(*out->keys))) == NULL)
		return -ENOMEM;
	if ((rc = read_begin(kv)) != 0) {
		kv_keys_free(out);
		return rc;
	}
	rc = list_run(kv, dbi, prefix, cursor, limit, now, out);
	mdb_txn_reset(kv->rtxn);
	if (rc != 0)
		kv_keys_free(out);
	return rc;
}

/* Collects the main database's keys, the names of the named databases,
 * with rtxn live. */
static int ns_walk(struct kv *kv, struct kv_keys *out)
{
	MDB_cursor *cur;
	MDB_stat st;
	MDB_val k, v;
	MDB_dbi main;
	int rc;

	if ((rc = mdb_dbi_open(kv->rtxn, NULL, 0, &main)) != 0 ||
	    (rc = mdb_stat(kv->rtxn, main, &st)) != 0)
		return kv_err(rc);
	if ((out->keys = calloc(st.ms_entries + 1, sizeof(*out->keys))) ==
	    NULL)
		return -ENOMEM;
	if ((rc = mdb_cursor_open(kv->rtxn, main, &cur)) != 0)
		return kv_err(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	     rc == 0 && out->n < st.ms_entries;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size < SY_NAME_MAX && keys_add(out, &k) != 0) {
			rc = ENOMEM;
			break;
		}
	}
	mdb_cursor_close(cur);
	if (rc == ENOMEM)
		return -ENOMEM;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : kv_err(rc);
}

int kv_namespaces(struct kv *kv, struct kv_keys *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = read_begin(kv)) != 0)
		return rc;
	rc = ns_walk(kv, out);
	mdb_txn_reset(kv->rtxn);
	if (rc != 0)
		kv_keys_free(out);
	return rc;
}

int kv_has_ns(struct kv *kv, const char *ns)
{
	MDB_dbi dbi;

	return find_dbi(kv, ns, 0, &dbi) == 0;
}

int kv_drop(struct kv *kv, const char *ns)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	size_t i;
	int rc;

	if ((rc = find_dbi(kv, ns, 0, &dbi)) != 0)
		return rc;
	if ((rc = mdb_txn_begin(kv->env, NULL, 0, &txn)) != 0)
		return kv_err(rc);
	/* 1: delete the database itself, and close its handle at commit */
	if ((rc = mdb_drop(txn, dbi, 1)) != 0) {
		mdb_txn_abort(txn);
		return kv_err(rc);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return kv_err(rc);
	for (i = 0; i < kv->nns && kv->ns[i].dbi != dbi; i++)
		;
	if (i < kv->nns)
		kv->ns[i] = kv->ns[--kv->nns];
	return 0;
}
