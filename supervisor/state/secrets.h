/*
 * Secrets: values a worker reads with ws_env(KEY) that are never shown.
 * They belong to the worker, not to a version (a new deploy keeps them), are
 * kept in state_dir/secrets.json (0600, replaced atomically), never in
 * deployments.json, never logged, never sent back to a client: only their
 * names leave this file. Freed values are zeroed first.
 */
#ifndef SY_STATE_SECRETS_H
#define SY_STATE_SECRETS_H

#include <stddef.h>

#define SECRETS_MAX 64         /* per worker */

/* Loads state_dir/secrets.json (missing: none). 0 or -1 with err. */
int secrets_load(const char *state_dir, char *err, size_t errlen);
/* Writes every worker's secrets to state_dir/secrets.json. 0 or -1. */
int secrets_save(const char *state_dir, char *err, size_t errlen);
/* Checks one "KEY=VALUE" (an environment entry: names.h): NULL if valid,
 * else why (naming no value). */
const char *secrets_problem(const char *kv);
/* Sets (adding or replacing by KEY) the n "KEY=VALUE" entries of worker
 * "ns/name"; all or nothing. 0, or -1 with err (too many, ENOMEM). */
int secrets_set(const char *worker, char *const *kv, size_t n, char *err,
                size_t errlen);
/* Removes KEY; 1 if it was there, 0 if not. */
int secrets_delete(const char *worker, const char *key);
/* Forgets every secret of worker (deleted). */
void secrets_forget(const char *worker);
/* A copy of worker's secrets ("K=V", *n of them; NULL with *n 0 when it
 * has none), for secrets_restore if what follows fails. 0, or -1
 * (ENOMEM). */
int secrets_snapshot(const char *worker, char ***out, size_t *n);
/* Makes worker's secrets exactly the n of kv again, then zeroes and frees
 * kv (worker NULL: only frees it): 0, or -1
 * with err when they could not all be put back. */
int secrets_restore(const char *worker, char **kv, size_t n, char *err,
		    size_t errlen);
/* The worker's "KEY=VALUE" entries (owned here, valid until the next
 * change), *n of them; NULL when none. */
char *const *secrets_env(const char *worker, size_t *n);
/* Their names, in the same order (owned here, as secrets_env). */
char *const *secrets_names(const char *worker, size_t *n);
/* Frees everything, zeroing values. */
void secrets_free(void);

#endif
