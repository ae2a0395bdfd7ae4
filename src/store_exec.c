/* The executor's statements (recover, housekeeping, claim, progress), sent
 * on its own non-blocking control connection. */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/*
 * The executor's statements, prepared once per control connection: they
 * run hundreds of times a second, and parsing and planning them each time
 * would cost more than running them.
 */
enum exec_stmt {
	ES_RECOVER, ES_RECOVER_AGAIN, ES_HOUSEKEEPING, ES_CLAIM, ES_CLAIM_ONE, ES_PROGRESS, ES_STEP,
	ES_CANCELS, ES_UNHOLD, ES_COUNT
};

/* The most parameters of a statement below (step()'s). */
#define EXEC_ARGS_MAX 28

static const struct {
	const char *name;
	const char *sql;
	int n;
	Oid types[EXEC_ARGS_MAX];
} exec_stmts[ES_COUNT] = {
	[ES_RECOVER] = { "pgqfs_recover",
		"SELECT failed, requeued, alive FROM recover($1)", 1, { OID_INT8 } },
	[ES_RECOVER_AGAIN] = { "pgqfs_recover_again",
		"SELECT failed, requeued, alive, own_failed FROM recover_again($1, $2)", 2,
		{ OID_INT8, OID_INT8 } },
	[ES_UNHOLD] = { "pgqfs_unhold",
		"SELECT count(give_back(u.instance, u.id, u.started))"
		" FROM unnest($1::int8[], $2::int8[], $3::bool[]) AS u(id, instance, started)", 3,
		{ OID_INT8_ARRAY, OID_INT8_ARRAY, OID_BOOL_ARRAY } },
	[ES_CANCELS] = { "pgqfs_cancels",
		"SELECT id, cancel_uid FROM cancels_asked($1, $2)", 2,
		{ OID_INT8, OID_INT8_ARRAY } },
	[ES_HOUSEKEEPING] = { "pgqfs_housekeeping",
		"SELECT housekeeping($1)", 1, { OID_INT8 } },
	[ES_CLAIM] = { "pgqfs_claim",
		"SELECT * FROM claim($1, $2, $3, $4, $5, $6, $7)", 7,
		{ OID_INT8, OID_INT8_ARRAY, OID_INT8_ARRAY, OID_TEXT_ARRAY, OID_INT4_ARRAY,
		  OID_INT4_ARRAY, OID_INT4_ARRAY } },
	[ES_CLAIM_ONE] = { "pgqfs_claim_one",
		"SELECT * FROM claim_one($1, $2, $3, $4, $5, $6, $7)", 7,
		{ OID_INT8, OID_INT8, OID_INT8, OID_TEXT, OID_INT4, OID_INT4, OID_INT4 } },
	[ES_PROGRESS] = { "pgqfs_progress",
		"SELECT progress($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
		" $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)", 23,
		{ OID_INT8, OID_BOOL,
		  OID_INT8_ARRAY, OID_INT8_ARRAY, OID_INT8_ARRAY, OID_INT4_ARRAY,
		  OID_TEXT_ARRAY, OID_INT8_ARRAY, OID_TEXT_ARRAY, OID_INT8_ARRAY,
		  OID_INT8_ARRAY, OID_BYTEA_ARRAY, OID_BOOL_ARRAY, OID_INT8_ARRAY,
		  OID_INT4_ARRAY, OID_INT4_ARRAY, OID_INT8_ARRAY, OID_INT8_ARRAY,
		  OID_INT8_ARRAY, OID_INT2_ARRAY, OID_INT8_ARRAY, OID_BYTEA_ARRAY,
		  OID_INT8_ARRAY } },
	[ES_STEP] = { "pgqfs_step",
		"SELECT * FROM step($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
		" $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)", 28,
		{ OID_INT8,
		  OID_INT8_ARRAY, OID_INT8_ARRAY, OID_INT8_ARRAY, OID_INT4_ARRAY,
		  OID_TEXT_ARRAY, OID_INT8_ARRAY, OID_TEXT_ARRAY, OID_INT8_ARRAY,
		  OID_INT8_ARRAY, OID_BYTEA_ARRAY, OID_BOOL_ARRAY, OID_INT8_ARRAY,
		  OID_INT4_ARRAY, OID_INT4_ARRAY, OID_INT8_ARRAY, OID_INT8_ARRAY,
		  OID_INT8_ARRAY, OID_INT2_ARRAY, OID_INT8_ARRAY, OID_BYTEA_ARRAY,
		  OID_INT8_ARRAY,
		  OID_INT8_ARRAY, OID_INT8_ARRAY, OID_TEXT_ARRAY, OID_INT4_ARRAY,
		  OID_INT4_ARRAY, OID_INT4_ARRAY } },
};

int store_prepare(PGconn *conn)
{
	for (int i = 0; i < ES_COUNT; i++) {
		PGresult *res = PQprepare(conn, exec_stmts[i].name, exec_stmts[i].sql,
					  exec_stmts[i].n, exec_stmts[i].types);
		int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

		PQclear(res);
		if (!ok) {
			log_error("control database: %s", PQerrorMessage(conn));
			return -EIO;
		}
	}
	return 0;
}

/* The setup pipeline's register statement names its column, so that its
 * result is told from the others'. */
#define SETUP_INSTANCE_COLUMN "pgqfs_instance"

int store_send_setup(PGconn *conn, const struct config *cfg, int64_t old_instance)
{
	char host[256], pid[16], old[24], token[24];
	const char *reg[4] = { host, pid, old, token };
	const char *sp[1] = { cfg->schema };
	int r = -EIO;

	store_host_name(host, sizeof(host));
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(old, sizeof(old), "%lld", (long long)old_instance);
	snprintf(token, sizeof(token), "%lld", (long long)store_daemon_token());
	if (!PQenterPipelineMode(conn))
		return -EIO;
	if (!PQsendQueryParams(conn, CONTROL_SESSION_SETTINGS, 1, NULL, sp, NULL, NULL, 0))
		return -EIO;
	/* As store_register(): the session advisory lock proves us alive. */
	if (!PQsendQueryParams(conn,
		"SELECT id AS " SETUP_INSTANCE_COLUMN ", reused"
		" FROM register_again($3::int8, $1, $2::int4, $4::int8)",
		4, NULL, reg, NULL, NULL, 0))
		return -EIO;
	for (size_t i = 0; i < STORE_N_CHANNELS; i++) {
		struct buf sql;
		bool ok;

		buf_init(&sql);
		/* PQsendQuery is refused in a pipeline: no parameters instead. */
		ok = store_listen_command(conn, cfg, i, &sql) == 0 &&
		     PQsendQueryParams(conn, sql.data, 0, NULL, NULL, NULL, NULL, 0);
		buf_finish(&sql);
		if (!ok)
			return -EIO;
	}
	for (int i = 0; i < ES_COUNT; i++)
		if (!PQsendPrepare(conn, exec_stmts[i].name, exec_stmts[i].sql,
				   exec_stmts[i].n, exec_stmts[i].types))
			return -EIO;
	if (PQpipelineSync(conn))
		r = 0;
	return r;
}

int store_setup_result(PGconn *conn, const PGresult *res, struct store_setup *ret)
{
	ExecStatusType st = PQresultStatus(res);
	int col;

	switch (st) {
	case PGRES_PIPELINE_SYNC:
		return PQexitPipelineMode(conn) ? 1 : -EIO;
	case PGRES_TUPLES_OK:
		col = PQfnumber(res, SETUP_INSTANCE_COLUMN);
		if (col >= 0) {
			if (PQntuples(res) != 1 || PQnfields(res) != 2)
				return -EIO;
			ret->instance = strtoll(PQgetvalue(res, 0, col), NULL, 10);
			ret->reused = PQgetvalue(res, 0, 1)[0] == 't';
		}
		return 0;
	case PGRES_COMMAND_OK:
		return 0;
	default:
		return -EIO;
	}
}

/* Sends a prepared statement; every parameter is in binary. */
static int send_prepared(PGconn *conn, enum exec_stmt st, const char *const *values,
			 const int *lengths, int result_format)
{
	int formats[EXEC_ARGS_MAX];

	for (int i = 0; i < exec_stmts[st].n; i++)
		formats[i] = 1;
	if (!PQsendQueryPrepared(conn, exec_stmts[st].name, exec_stmts[st].n, values, lengths,
				 formats, result_format))
		return -EIO;
	return 0;
}

int store_send_recover(PGconn *conn, int64_t instance)
{
	char a[8];
	const char *pv[1] = { a };
	int len[1] = { 8 };

	put_be64(a, instance);
	return send_prepared(conn, ES_RECOVER, pv, len, 0);
}

int store_send_recover_again(PGconn *conn, int64_t instance, int64_t old_instance)
{
	char a[8], b[8];
	const char *pv[2] = { a, b };
	int len[2] = { 8, 8 };

	put_be64(a, instance);
	put_be64(b, old_instance);
	return send_prepared(conn, ES_RECOVER_AGAIN, pv, len, 0);
}

int store_send_cancels(PGconn *conn, int64_t instance, const int64_t *ids, size_t n)
{
	struct arr a;
	char inst[8];
	const char *pv[2] = { inst, NULL };
	int lens[2] = { 8, 0 };
	int r = 0;

	arr_init(&a, OID_INT8);
	for (size_t i = 0; i < n && r == 0; i++)
		r = arr_add_i64(&a, ids[i]);
	put_be64(inst, instance);
	if (r == 0 && !(pv[1] = arr_finish(&a, &lens[1])))
		r = -ENOMEM;
	if (r == 0)
		r = send_prepared(conn, ES_CANCELS, pv, lens, 0);
	arr_finish_free(&a);
	return r;
}

int store_send_unhold(PGconn *conn, const struct give_back *g, size_t n)
{
	struct arr a, b, c;
	const char *pv[3] = { NULL, NULL, NULL };
	int lens[3] = { 0, 0, 0 };
	int r = 0;

	arr_init(&a, OID_INT8);
	arr_init(&b, OID_INT8);
	arr_init(&c, OID_BOOL);
	for (size_t i = 0; i < n && r == 0; i++) {
		r = arr_add_i64(&a, g[i].id);
		if (r == 0)
			r = arr_add_i64(&b, g[i].instance);
		if (r == 0)
			r = arr_add_bool(&c, g[i].started);
	}
	if (r == 0 && (!(pv[0] = arr_finish(&a, &lens[0])) || !(pv[1] = arr_finish(&b, &lens[1])) ||
		       !(pv[2] = arr_finish(&c, &lens[2]))))
		r = -ENOMEM;
	if (r == 0)
		r = send_prepared(conn, ES_UNHOLD, pv, lens, 0);
	arr_finish_free(&a);
	arr_finish_free(&b);
	arr_finish_free(&c);
	return r;
}

int store_send_housekeeping(PGconn *conn, uint64_t retention_ms)
{
	char a[8];
	const char *pv[1] = { a };
	int len[1] = { 8 };

	put_be64(a, (int64_t)retention_ms);
	return send_prepared(conn, ES_HOUSEKEEPING, pv, len, 0);
}

/* The claim's parameters (after the instance, and the batch's for a step). */
enum { CLAIM_ARGS = 6 };

struct claim_args {
	struct arr a[CLAIM_ARGS];
};

static int claim_args_build(struct claim_args *c, const struct store_release *release,
			    size_t n_release, const char *const *pools, const int *max,
			    const int *want, const int *running, size_t n)
{
	int r = 0;

	arr_init(&c->a[0], OID_INT8);
	arr_init(&c->a[1], OID_INT8);
	arr_init(&c->a[2], OID_TEXT);
	arr_init(&c->a[3], OID_INT4);
	arr_init(&c->a[4], OID_INT4);
	arr_init(&c->a[5], OID_INT4);
	for (size_t i = 0; i < n_release && r == 0; i++) {
		r = arr_add_i64(&c->a[0], release[i].id);
		if (r == 0)
			r = release[i].committed_us ? arr_add_i64(&c->a[1], release[i].committed_us)
						    : arr_add(&c->a[1], NULL, -1);
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		r = arr_add_str(&c->a[2], pools[i]);
		if (r == 0)
			r = arr_add_i32(&c->a[3], max[i]);
		if (r == 0)
			r = arr_add_i32(&c->a[4], want[i]);
		if (r == 0)
			r = arr_add_i32(&c->a[5], running[i]);
	}
	return r;
}

static void claim_args_free(struct claim_args *c)
{
	for (int i = 0; i < CLAIM_ARGS; i++)
		arr_finish_free(&c->a[i]);
}

int store_send_claim(PGconn *conn, int64_t instance, const struct store_release *release,
		     size_t n_release, const char *const *pools, const int *max,
		     const int *want, const int *running, size_t n)
{
	struct claim_args c;
	char inst[8];
	const char *pv[1 + CLAIM_ARGS];
	int lens[1 + CLAIM_ARGS];
	int r;

	r = claim_args_build(&c, release, n_release, pools, max, want, running, n);
	put_be64(inst, instance);
	pv[0] = inst;
	lens[0] = 8;
	for (int i = 0; i < CLAIM_ARGS && r == 0; i++) {
		pv[1 + i] = arr_finish(&c.a[i], &lens[1 + i]);
		if (!pv[1 + i])
			r = -ENOMEM;
	}
	if (r == 0)
		r = send_prepared(conn, ES_CLAIM, pv, lens, 1);
	claim_args_free(&c);
	return r;
}

int store_send_claim_one(PGconn *conn, int64_t instance, const struct store_release *release,
			 const char *pool, int max, int want, int running)
{
	char inst[8], id[8], us[8], m[4], w[4], run[4];
	const char *pv[7] = { inst, id, release->committed_us ? us : NULL, pool, m, w, run };
	int lens[7] = { 8, 8, 8, (int)strlen(pool), 4, 4, 4 };

	put_be64(inst, instance);
	put_be64(id, release->id);
	put_be64(us, release->committed_us);
	put_be32(m, max);
	put_be32(w, want);
	put_be32(run, running);
	return send_prepared(conn, ES_CLAIM_ONE, pv, lens, 1);
}

void store_parse_claimed(const PGresult *res, int row, struct claimed *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (PQgetisnull(res, row, 1)) {
		/* step()'s last row: what its progress part answered. */
		ret->done_row = true;
		ret->done = PQnfields(res) > 12 && !PQgetisnull(res, row, 12) ?
			    PQgetvalue(res, row, 12) : NULL;
		return;
	}
	ret->pool = PQgetvalue(res, row, 1);
	if (PQgetisnull(res, row, 0)) {
		ret->pool_info = true;
		ret->pool_max = (int)res_int(res, row, 9, 0);
		ret->pool_paused = res_int(res, row, 10, 0) != 0;
		ret->pool_next_us = res_int(res, row, 11, 0);
		return;
	}
	ret->id = res_int(res, row, 0, 0);
	ret->name = PQgetvalue(res, row, 2);
	ret->query = PQgetvalue(res, row, 3);
	ret->query_len = (size_t)PQgetlength(res, row, 3);
	ret->submitted_us = res_int(res, row, 4, 0);
	ret->log_size = res_int(res, row, 5, 0);
	ret->attempt = res_int(res, row, 6, 0);
	ret->uid = (uint32_t)res_int(res, row, 7, 0);
	ret->priority = (int)res_int(res, row, 8, 0);
}

/* The progress function's array parameters, in its order. */
enum {
	P_ID, P_RESULT_SIZE, P_LOG_SIZE, P_PID, P_TARGET, P_STARTED, P_STATE,
	P_FINISHED, P_ROWS, P_ERROR, P_TRUNCATE, P_RETRY_AT, P_STMT, P_N_STMTS, P_ROWS_NOW,
	P_JSON_SIZE,
	P_C_TASK, P_C_STREAM, P_C_OFF, P_C_DATA,
	P_SUBMITTED,
	P_COUNT
};

struct progress {
	struct arr a[P_COUNT];
	size_t bytes;
	bool sync;		/* a task finishes: its commit must reach disk */
};

struct progress *progress_create(void)
{
	static const uint32_t oids[P_COUNT] = {
		[P_ID] = OID_INT8, [P_RESULT_SIZE] = OID_INT8, [P_LOG_SIZE] = OID_INT8,
		[P_PID] = OID_INT4, [P_TARGET] = OID_TEXT, [P_STARTED] = OID_INT8,
		[P_STATE] = OID_TEXT, [P_FINISHED] = OID_INT8, [P_ROWS] = OID_INT8,
		[P_ERROR] = OID_BYTEA, [P_TRUNCATE] = OID_BOOL, [P_RETRY_AT] = OID_INT8,
		[P_STMT] = OID_INT4, [P_N_STMTS] = OID_INT4, [P_ROWS_NOW] = OID_INT8,
		[P_JSON_SIZE] = OID_INT8,
		[P_C_TASK] = OID_INT8, [P_C_STREAM] = OID_INT2, [P_C_OFF] = OID_INT8,
		[P_C_DATA] = OID_BYTEA, [P_SUBMITTED] = OID_INT8,
	};
	struct progress *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	for (int i = 0; i < P_COUNT; i++)
		arr_init(&p->a[i], oids[i]);
	return p;
}

void progress_destroy(struct progress *p)
{
	if (!p)
		return;
	for (int i = 0; i < P_COUNT; i++)
		arr_finish_free(&p->a[i]);
	free(p);
}

void progress_reset(struct progress *p)
{
	for (int i = 0; i < P_COUNT; i++)
		arr_reset(&p->a[i]);
	p->bytes = 0;
	p->sync = false;
}

bool progress_empty(const struct progress *p)
{
	return p->a[P_ID].n == 0 && p->a[P_C_TASK].n == 0;
}

size_t progress_bytes(const struct progress *p)
{
	return p->bytes;
}

int progress_add_chunk(struct progress *p, int64_t task, enum task_stream stream,
		       int64_t off, const char *data, size_t len)
{
	int r;

	r = arr_add_i64(&p->a[P_C_TASK], task);
	if (r == 0)
		r = arr_add_i16(&p->a[P_C_STREAM], (int16_t)stream);
	if (r == 0)
		r = arr_add_i64(&p->a[P_C_OFF], off);
	if (r == 0)
		r = arr_add(&p->a[P_C_DATA], data, (int32_t)len);
	p->bytes += len;
	return r;
}

int progress_add_update(struct progress *p, const struct task_update *u)
{
	struct arr *a = p->a;
	int r;

	r = arr_add_i64(&a[P_ID], u->id);
	if (r == 0)
		r = arr_add_i64(&a[P_RESULT_SIZE], u->result_size);
	if (r == 0)
		r = arr_add_i64(&a[P_LOG_SIZE], u->log_size);
	if (r == 0)
		r = u->backend_pid ? arr_add_i32(&a[P_PID], u->backend_pid) : arr_add(&a[P_PID], NULL, -1);
	if (r == 0)
		r = arr_add_str(&a[P_TARGET], u->target);
	if (r == 0)
		r = u->started_us ? arr_add_i64(&a[P_STARTED], u->started_us) : arr_add(&a[P_STARTED], NULL, -1);
	if (r == 0)
		r = arr_add_str(&a[P_STATE], u->state < 0 ? NULL : task_state_name((enum task_state)u->state));
	if (r == 0)
		r = u->state >= 0 ? arr_add_i64(&a[P_FINISHED], u->finished_us) : arr_add(&a[P_FINISHED], NULL, -1);
	if (r == 0)
		r = u->rows >= 0 ? arr_add_i64(&a[P_ROWS], u->rows) : arr_add(&a[P_ROWS], NULL, -1);
	if (r == 0)
		r = arr_add(&a[P_ERROR], u->error, u->error ? (int32_t)u->error_len : -1);
	if (r == 0)
		r = arr_add_bool(&a[P_TRUNCATE], u->truncate);
	if (r == 0)
		r = u->state == TASK_QUEUED ? arr_add_i64(&a[P_RETRY_AT], u->retry_at_us)
					    : arr_add(&a[P_RETRY_AT], NULL, -1);
	if (r == 0)
		r = u->stmt > 0 ? arr_add_i32(&a[P_STMT], u->stmt) : arr_add(&a[P_STMT], NULL, -1);
	if (r == 0)
		r = u->stmt > 0 ? arr_add_i32(&a[P_N_STMTS], u->n_stmts)
				: arr_add(&a[P_N_STMTS], NULL, -1);
	if (r == 0)
		r = u->stmt > 0 ? arr_add_i64(&a[P_ROWS_NOW], u->rows_now)
				: arr_add(&a[P_ROWS_NOW], NULL, -1);
	if (r == 0)
		r = arr_add_i64(&a[P_JSON_SIZE], u->json_size);
	if (r == 0)
		r = u->submitted_us ? arr_add_i64(&a[P_SUBMITTED], u->submitted_us)
				    : arr_add(&a[P_SUBMITTED], NULL, -1);
	if (u->state >= 0)
		p->sync = true;
	return r;
}

int store_send_progress(PGconn *conn, int64_t instance, struct progress *p)
{
	const char *pv[2 + P_COUNT];
	int lens[2 + P_COUNT];
	char inst[8], sync = p->sync ? 1 : 0;

	put_be64(inst, instance);
	pv[0] = inst;
	lens[0] = 8;
	pv[1] = &sync;
	lens[1] = 1;
	for (int i = 0; i < P_COUNT; i++) {
		pv[2 + i] = arr_finish(&p->a[i], &lens[2 + i]);
		if (!pv[2 + i])
			return -ENOMEM;
	}
	return send_prepared(conn, ES_PROGRESS, pv, lens, 0);
}

int store_send_step(PGconn *conn, int64_t instance, struct progress *p,
		    const struct store_release *release, size_t n_release,
		    const char *const *pools, const int *max, const int *want,
		    const int *running, size_t n)
{
	const char *pv[1 + P_COUNT + CLAIM_ARGS];
	int lens[1 + P_COUNT + CLAIM_ARGS];
	struct claim_args c;
	char inst[8];
	int r;

	r = claim_args_build(&c, release, n_release, pools, max, want, running, n);
	put_be64(inst, instance);
	pv[0] = inst;
	lens[0] = 8;
	for (int i = 0; i < P_COUNT && r == 0; i++) {
		pv[1 + i] = arr_finish(&p->a[i], &lens[1 + i]);
		if (!pv[1 + i])
			r = -ENOMEM;
	}
	for (int i = 0; i < CLAIM_ARGS && r == 0; i++) {
		pv[1 + P_COUNT + i] = arr_finish(&c.a[i], &lens[1 + P_COUNT + i]);
		if (!pv[1 + P_COUNT + i])
			r = -ENOMEM;
	}
	if (r == 0)
		r = send_prepared(conn, ES_STEP, pv, lens, 1);
	claim_args_free(&c);
	return r;
}
