/*
 * Durable state under state_dir (store.c): the deployed executables,
 * content-addressed, and deployments.json, every worker's versions. Files
 * are replaced only by rename(2) of a fully written, fsynced file.
 */
#ifndef SY_STATE_STORE_H
#define SY_STATE_STORE_H

#include <stddef.h>
#include <stdint.h>

/* Copies exe_fd into state_dir/exe/<sha256> (atomic rename, 0555), filling
 * sha256 and the path (malloc'd). 0 or -1 with err. */
int store_put_exe(const char *state_dir, int exe_fd, char sha256[65],
                  char **path, char *err, size_t errlen);
/* Writes every worker's versions to state_dir/deployments.json atomically
 * (write, fsync, rename, fsync dir). 0 or -1 with err. */
int store_save(const char *state_dir, char *err, size_t errlen);
/* Between store_defer(1) and store_defer(0), store_save only notes that the
 * state changed and store_defer(0) writes it once: the [deploy] sections
 * at start-up, so that booting N workers writes the file once, not N times
 * (O(N^2) bytes and N fsyncs). They are in the configuration file, so a
 * crash before the write loses nothing. store_defer(0) returns as
 * store_save. */
int store_defer(int on, const char *state_dir, char *err, size_t errlen);
/* Loads deployments.json into the registry; a missing file is an empty
 * registry. 0 or -1 with err. */
int store_load(const char *state_dir, char *err, size_t errlen);
/* Removes state_dir/exe/ files no version of any worker names; failures
 * are logged (a file left over costs only disk). */
void store_gc_exes(const char *state_dir);
/* Writes text to state_dir/leaf atomically (temporary file 0600, fsync,
 * rename, fsync of the directory). 0 or -1 with err. */
int store_write_file(const char *state_dir, const char *leaf,
                     const char *text, char *err, size_t errlen);
/* SHA-256 of everything in the regular file open at fd (read with pread from
 * offset 0, so the file offset is untouched), as 64 lowercase hex digits.
 * 0 or -1 with err. */
int store_hash_fd(int fd, char sha256[65], char *err, size_t errlen);

/* ---- between store.c and store_json.c ---- */

#define STORE_FILE "deployments.json"
/* The registry as deployments.json's text (malloc'd), or NULL (ENOMEM). */
char *store_json(void);
/* 1 if s is 64 lowercase hex digits. */
int store_valid_sha(const char *s);

#endif
