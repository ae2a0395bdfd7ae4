/*
 * What the store's rooms (src/store*.c, src/schema.c) share among
 * themselves and nobody else sees; the public API is include/store.h.
 */
#ifndef PGQFS_STORE_INTERNAL_H
#define PGQFS_STORE_INTERNAL_H

/*
 * The settings of every control connection, $1 the schema: without JIT
 * (every statement of the daemon is short, and a plan may pass
 * jit_above_cost without being slow: schema_v6.sql.h), and READ COMMITTED
 * whatever the database's default, since the schema's functions count on
 * each statement seeing what committed before it (the locks that order
 * claims, names and schedules: schema_v8.sql.h, schema_v11.sql.h).  From
 * the next transaction on: the executor's setup pipeline is one
 * transaction at the database's default, in which register_again() can
 * only fail (a concurrent recovery under REPEATABLE READ or stricter),
 * and the connection is then made again.
 */
/*
 * The filesystem's connections hold this session lock, shared, $2 the
 * daemon's token (store_daemon_token()), which its instances are
 * registered with: a recovery that finds an instance's executor gone (its
 * own lock free) but this lock held knows that its files may still be open
 * for writing, and queues none of its staged rows (schema_v11.sql.h).
 * Waits while a recovery looks (it takes the lock for its transaction).
 */
#define WRITER_LOCK " pg_catalog.pg_advisory_lock_shared($2::int8)"

#define CONTROL_SESSION_SETTINGS \
	"SELECT pg_catalog.set_config('search_path', $1, false)," \
	" pg_catalog.set_config('jit', 'off', false)," \
	" pg_catalog.set_config('default_transaction_isolation', 'read committed', false)"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "store.h"

/* Type OIDs of parameters we send in binary. */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_BOOL_ARRAY 1000
#define OID_BYTEA_ARRAY 1001
#define OID_INT2_ARRAY 1005
#define OID_INT4_ARRAY 1007
#define OID_TEXT_ARRAY 1009
#define OID_INT8_ARRAY 1016

/* Connections the filesystem's threads share; more threads wait. */
#define STORE_POOL_MAX 16

struct pconn;
struct stage_req;

struct store {
	/* Borrowed; outlives the store.  A reload swaps it (atomic: request
	 * threads read it as they go; every configuration stays allocated). */
	const struct config *_Atomic cfg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct pconn *idle[STORE_POOL_MAX];	/* connected and unused */
	size_t n_idle;
	size_t n_open;			/* idle + lent out */
	int64_t instance;		/* owner of rows staged from here */
	pthread_mutex_t stage_lock;	/* the group commit of stage_request() */
	pthread_condattr_t stage_condattr; /* its writers' conditions: deadlines on mono_ms() */
	struct stage_req *stage_queue;	/* requests waiting for a batch */
	bool stage_leading;		/* a batch is being stored */
};

/*
 * A one-dimensional array in PostgreSQL's binary format, built element by
 * element.  The header is written by arr_finish() once the count is known.
 */
struct arr {
	struct buf b;
	uint32_t oid;
	int32_t n;
	bool has_null;
};

/* src/store_param.c: binary parameters and results */
void put_be64(char *p, int64_t v);
void put_be32(char *p, int32_t v);
/* Column `col` of a binary-format row as an integer of any width; NULL -> dflt. */
int64_t res_int(const PGresult *res, int row, int col, int64_t dflt);
/* A copy of the column, or NULL (also when it is NULL); the caller frees it. */
char *res_strdup(const PGresult *res, int row, int col);
void arr_init(struct arr *a, uint32_t oid);
__attribute__((warn_unused_result))
int arr_add(struct arr *a, const void *data, int32_t len);
__attribute__((warn_unused_result))
int arr_add_i64(struct arr *a, int64_t v);
__attribute__((warn_unused_result))
int arr_add_i32(struct arr *a, int32_t v);
__attribute__((warn_unused_result))
int arr_add_i16(struct arr *a, int16_t v);
__attribute__((warn_unused_result))
int arr_add_bool(struct arr *a, bool v);
__attribute__((warn_unused_result))
int arr_add_str(struct arr *a, const char *s);
/* The bytes to send (owned by a; NULL: out of memory) and their length. */
const char *arr_finish(struct arr *a, int *ret_len);
void arr_reset(struct arr *a);
void arr_finish_free(struct arr *a);

/* src/schema.c */
/* Whether s may name the schema: a lowercase SQL identifier that leaves
 * room for the suffixes of its NOTIFY channels. */
bool schema_name_ok(const char *s);

/* src/store.c: the filesystem's connection pool */
/* A request's span (store_request_begin()), taken off its thread: a writer
 * waiting in the group commit's line keeps its request's deadline and
 * answers its interrupt, while the batch its leader stores runs outside
 * any request (each writer's rows in it would fail with the leader's
 * EINTR). */
struct store_span {
	store_interrupted_fn *interrupted;	/* NULL: none */
	void *arg;
	int64_t deadline_ms;	/* mono_ms(); the span's, else request_timeout from now */
	int64_t heed_ms;	/* when interrupted() begins to count */
};
/* Saves the thread's span in *out and ends it. */
void store_span_take(struct store *s, struct store_span *out);
/* Begins the saved span again on this thread. */
void store_span_put(const struct store_span *in);
/* Waits on cond (m held) until signalled, for at most the span's time
 * left: 0, or -EINTR (interrupted) or -EIO (past its deadline), with the
 * error set. */
__attribute__((warn_unused_result))
int store_span_wait(struct store *s, const struct store_span *sp, pthread_cond_t *cond,
		    pthread_mutex_t *m);
/* Sets what store_last_error() reports to this thread. */
void set_error(const char *what, const char *msg);
/* Whether this thread's last failed run() failed for its connection (lost,
 * unreachable, past the deadline, interrupted) rather than for the
 * statement: then the statement's outcome is unknown. */
extern _Thread_local bool run_conn_lost;
/* This host's name (its instances' host). */
void store_host_name(char *buf, size_t size);
/* This daemon's token, a random positive number fixed for the process: its
 * instances are registered with it, its filesystem holds its lock. */
int64_t store_daemon_token(void);

/* Runs one statement, a string constant, on a pooled connection within the
 * request's deadline (store_request_begin()); 0 and *ret (the caller
 * clears it) or -EBUSY, -ESTALE, -EINTR, -EIO. */
__attribute__((warn_unused_result))
int run(struct store *s, const char *sql, int n, const Oid *types,
	const char *const *values, const int *lengths, const int *formats,
	bool binary, PGresult **ret);

#endif
