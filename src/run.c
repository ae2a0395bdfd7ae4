/*
 * A task's life on its target connection: setting up the session, sending
 * its statements one by one, formatting their results as they arrive, and
 * recording its outcome for the next progress batch (control.c).
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "executor_internal.h"
#include "format.h"
#include "split.h"

static int64_t stream_size(const struct stream_out *s)
{
	return s->base + (int64_t)s->pending.len;
}

/* When (monotonic ms) something of t must be stored at the latest; -1: nothing. */
static int64_t task_flush_due(const struct task *t)
{
	if (t->final_sent)
		return -1;
	if (t->start_unsent && t->phase != PHASE_FINISHED)
		return t->started_mono_ms + START_FLUSH_MS;
	if (t->first_unsent_ms)
		return t->first_unsent_ms + PARTIAL_FLUSH_MS;
	return -1;
}

void task_flush_rearm(struct task *t)
{
	int64_t due = task_flush_due(t);

	if (due < 0)
		timer_cancel(&t->flush_timer);
	else if (!timer_armed(&t->flush_timer) || t->flush_timer.due != due)
		timer_set(&t->flush_timer, due);
}

static void task_mark_unsent(struct task *t)
{
	if (t->first_unsent_ms == 0) {
		t->first_unsent_ms = mono_ms();
		task_flush_rearm(t);
	}
}

void task_timers_init(struct executor *e, struct task *t)
{
	timer_init(&t->timeout_timer, &e->timers, task_timed_out, t);
	/* Storing is the control connection's: ctl_next() sends what is due. */
	timer_init(&t->flush_timer, &e->timers, timer_wake, t);
}

/* A log line: ISO-8601 UTC timestamp, the event, newline. */
__attribute__((format(printf, 2, 3)))
void task_log(struct task *t, const char *fmt, ...)
{
	struct buf *b = &t->out[STREAM_LOG].pending;
	char stamp[ISO_TIME_MAX];
	va_list ap;
	size_t at = b->len;
	int n;

	if (buf_printf(b, "%s ", iso_time(wall_us(), 6, stamp)) < 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n + 1) < 0) {
		b->len = at;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	(void)buf_putc(b, '\n');
	task_mark_unsent(t);
}

void task_free(struct task *t)
{
	if (!t)
		return;
	if (t->unassigned)
		t->pool->target->unassigned--;
	if (t->held)
		atomic_fetch_sub(&t->pool->target->e->n_held, 1);
	timer_cancel(&t->timeout_timer);
	timer_cancel(&t->flush_timer);
	free(t->name);
	free(t->query);
	free(t->stmts);
	for (int i = 0; i < N_STREAMS; i++)
		buf_finish(&t->out[i].pending);
	buf_finish(&t->error);
	free(t);
}

/* Drops what s holds from stream offset `at` on; true when some of it was
 * stored already (the store must drop it too). */
static bool stream_cut(struct stream_out *s, int64_t at)
{
	if (at >= s->base) {
		s->pending.len = (size_t)(at - s->base);
		return false;
	}
	s->pending.len = 0;
	s->base = at;
	return true;
}

void task_fail(struct executor *e, struct task *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n >= 0 && buf_reserve(&t->error, (size_t)n + 1) == 0) {
		va_start(ap, fmt);
		vsnprintf(t->error.data + t->error.len, (size_t)n + 1, fmt, ap);
		va_end(ap);
		t->error.len += (size_t)n;
	}
	task_finish(e, t, TASK_FAILED);
}

/*
 * The outcome of a task is known: record it and free its connection.  The
 * final update is stored by the next progress batch.
 */
void task_finish(struct executor *e, struct task *t, enum task_state state)
{
	struct conn *c = t->conn;
	int64_t ms;

	if (t->phase == PHASE_FINISHED)
		return;
	if (t->held) {
		/* Cancelled before its file was released: it never starts. */
		t->held = false;
		atomic_fetch_sub(&e->n_held, 1);
		conn_unname(t->pool, t->id);
	}
	if ((state == TASK_FAILED || state == TASK_CANCELLED) && t->stmt_rows &&
	    (!t->over_cap || t->log_over_cap)) {
		/* psql prints no row of a statement that failed.  (A result
		 * cut at max_result_bytes is kept, up to the cap.) */
		t->rows -= t->stmt_nrows;
		t->truncate |= stream_cut(&t->out[STREAM_RESULT], t->stmt_start);
		t->truncate |= stream_cut(&t->out[STREAM_JSON], t->stmt_start_json);
	}
	task_set_phase(t, PHASE_FINISHED);
	t->finished_us = wall_us();
	ms = mono_ms() - t->started_mono_ms;
	if (state == TASK_DONE)
		task_log(t, "finished: done in %lld ms, %lld rows", (long long)ms,
			 (long long)t->rows);
	else
		task_log(t, "finished: %s after %lld ms", task_state_name(state), (long long)ms);
	if (state == TASK_FAILED && task_retry_due(e, t)) {
		state = TASK_QUEUED;
		metrics_task_retried(e, t->pool->cfg->name);
	} else {
		/* This attempt's time on its connection (0: it never began). */
		metrics_task_ended(e, t->pool->cfg->name, state,
				   t->started_us ? t->finished_us - t->started_us : 0);
	}
	t->final_state = (int)state;
	task_mark_unsent(t);
	timer_cancel(&t->timeout_timer);
	task_flush_rearm(t);	/* its start is stored with its end */
	if (state != TASK_QUEUED)
		atomic_fetch_add(state == TASK_DONE ? &e->n_done : &e->n_failed, 1);
	if (c) {
		conn_detach_task(c);
		if (c->state == CONN_BUSY)
			conn_start_reset(c);
		else if (c->state == CONN_CONNECTING)
			conn_set_state(c, CONN_BROKEN);
		else if (c->state == CONN_RESET && c->named_id == t->id)
			c->unname = true;	/* named for it; it ended first */
	}
}

/*
 * Output was added to t's result: past its pool's max_result_bytes the
 * excess goes, nothing more is kept, and the statement is cancelled.
 */
static void result_check_cap(struct executor *e, struct task *t)
{
	uint64_t cap = t->pool->cfg->max_result_bytes;
	struct stream_out *r = &t->out[STREAM_RESULT];
	int64_t excess = stream_size(r) - (int64_t)cap;

	if (!cap || t->over_cap || excess <= 0)
		return;
	r->pending.len -= (size_t)excess < r->pending.len ? (size_t)excess : r->pending.len;
	t->over_cap = true;
	task_log(t, "result reached max_result_bytes (%llu bytes): cancelling",
		 (unsigned long long)cap);
	if (t->conn)
		conn_cancel(e, t->conn);
}

/*
 * The log is capped as the result is, on its own: a loop of RAISE NOTICE
 * must not fill the control database (DESIGN.md, Security).  A notice
 * that would take it past max_result_bytes is dropped, as is every one
 * after it, and the statement is cancelled; the daemon's own lines (the
 * cancel, the end) are still written.
 */
void task_notice(struct executor *e, struct task *t, const char *line, size_t len)
{
	uint64_t cap = t->pool->cfg->max_result_bytes;
	/* The line as task_log() writes it: a timestamp, a space, a newline. */
	int64_t size = stream_size(&t->out[STREAM_LOG]) + ISO_TIME_MAX + (int64_t)len + 1;

	if (t->over_cap)
		return;
	if (cap && size > (int64_t)cap) {
		t->over_cap = true;
		t->log_over_cap = true;
		task_log(t, "log reached max_result_bytes (%llu bytes): cancelling",
			 (unsigned long long)cap);
		if (t->conn)
			conn_cancel(e, t->conn);
		return;
	}
	task_log(t, "%s", line);
}

/* Its started_at: when its first statement is sent (DESIGN.md), after the
 * session's set-up. */
static void task_stamp_start(struct task *t)
{
	if (t->started_us)
		return;
	t->started_us = wall_us();
	t->start_unsent = true;
	task_flush_rearm(t);
}

/* Sends statement t->cur, or finishes the task after the last one. */
static void task_next_statement(struct executor *e, struct task *t)
{
	struct conn *c = t->conn;
	const struct sql_stmt *s;
	int r = 0;

	if (t->cancel_asked && !task_ran_all(t)) {
		/* The cancel came between two statements: run no more. */
		buf_reset(&t->error);
		task_cancel_error(t, &t->error);
		task_finish(e, t, TASK_CANCELLED);
		return;
	}
	/* Before COMMIT, and before the end after the last statement: a
	 * statement that ended before its cancel came fails the task all the
	 * same (its result is cut at the cap; a single transaction rolls back). */
	if (t->over_cap) {
		buf_reset(&t->error);
		task_cap_error(t, &t->error);
		task_finish(e, t, TASK_FAILED);
		return;
	}
	if (task_ran_all(t) && (t->cancel_asked || t->timed_out)) {
		/* Too late: what committed stays, and the task is done. */
		if (t->n_stmts > 0)
			task_log(t, "its last statement ended before the %s took effect: nothing "
				 "was stopped", t->cancel_asked ? "cancel" : "timeout");
		task_finish(e, t, TASK_DONE);
		return;
	}
	if (t->timed_out) {
		task_fail_timed_out(e, t);
		return;
	}
	if (t->opts.single_transaction && (t->tx == TX_NONE || t->tx == TX_OPEN) &&
	    (t->cur >= t->n_stmts) == (t->tx == TX_OPEN) && t->n_stmts > 0) {
		/* Like psql -1: BEGIN before the first statement, COMMIT
		 * after the last; neither prints anything. */
		bool begin = t->tx == TX_NONE;

		task_set_phase(t, PHASE_STMT);
		t->stmt_start = stream_size(&t->out[STREAM_RESULT]);
		t->stmt_start_json = stream_size(&t->out[STREAM_JSON]);
		t->stmt_rows = false;
		t->stmt_nrows = 0;
		t->copy_out = false;
		t->tx = begin ? TX_BEGIN : TX_COMMIT;
		task_stamp_start(t);
		if (!PQsendQuery(c->pg, begin ? "BEGIN" : "COMMIT")) {
			task_fail(e, t, "pgqfs: cannot send to target %s: %s",
				  t->pool->target->cfg->name, PQerrorMessage(c->pg));
			return;
		}
		conn_flush(c);
		return;
	}
	if (t->cur >= t->n_stmts) {
		task_finish(e, t, TASK_DONE);
		return;
	}
	s = &t->stmts[t->cur];
	if (s->meta) {
		int len = (int)s->len;

		task_fail(e, t, "psql:query.sql:%u: error: pgqfs does not run psql meta-commands: %.*s\n",
			  s->line, len, t->query + s->start);
		return;
	}
	if (memchr(t->query + s->start, '\0', s->len)) {
		task_fail(e, t, "psql:query.sql:%u: error: pgqfs cannot send a statement that contains a NUL byte\n",
			  s->line);
		return;
	}
	/*
	 * The session's naming may go first, on a line of its own, in the
	 * statement's query string (name_first): one round trip, where the
	 * naming alone took one before the statement.  Only for a plain query
	 * or data change (sql_plain_query()), which runs alike in the
	 * implicit transaction the two share.  The naming's row is dropped
	 * (task_pump()); an error's excerpt is numbered as psql, which sends
	 * the statement alone, numbers it (format_error_skip()).
	 */
	t->folded = t->name_first;
	t->name_first = false;
	buf_reset(&e->stmt);
	if (t->folded) {
		char app[96];

		app_name_query(app, sizeof(app), t->id);
		r = buf_printf(&e->stmt, "%s;\n", app);
	}
	if (r == 0)
		r = sql_stmt_text(&e->stmt, t->query, s);
	if (r < 0 || !buf_cstr(&e->stmt)) {
		task_fail(e, t, "pgqfs: out of memory\n");
		return;
	}
	task_set_phase(t, PHASE_STMT);
	t->stmt_start = stream_size(&t->out[STREAM_RESULT]);
	t->stmt_start_json = stream_size(&t->out[STREAM_JSON]);
	t->stmt_rows = false;
	t->stmt_nrows = 0;
	t->copy_out = false;
	/* Where it is goes with the next batch (the progress file). */
	t->where_unsent = true;
	task_mark_unsent(t);
	task_stamp_start(t);
	if (t->piped) {
		if (task_pipe_send(t, e->stmt.data) < 0)
			task_fail(e, t, "pgqfs: cannot send to target %s: %s",
				  t->pool->target->cfg->name, PQerrorMessage(c->pg));
		return;
	}
	if (!PQsendQuery(c->pg, e->stmt.data)) {
		task_fail(e, t, "pgqfs: cannot send to target %s: %s", t->pool->target->cfg->name,
			  PQerrorMessage(c->pg));
		return;
	}
	/* Rows are formatted as they arrive; no result is held whole. */
	(void)PQsetSingleRowMode(c->pg);
	if (t->folded) {
		c->named_id = t->id;
		t->naming_rows = true;
		log_debug("task %lld: its session is named in its first statement's query string",
			  (long long)t->id);
	}
	conn_flush(c);
}

void task_begin(struct executor *e, struct task *t)
{
	struct conn *c = t->conn;
	char app[96];
	const char *scs = PQparameterStatus(c->pg, "standard_conforming_strings");
	/* Lexed as psql would in this session (on unless the server says). */
	bool std_strings = !scs || strcmp(scs, "off") != 0;
	struct sql_stmt *stmts = NULL;
	size_t n_stmts = 0;
	unsigned line = 0;

	/* A file cut short (a writer killed mid-copy) runs nothing at all. */
	if (sql_cut_short(t->query, t->query_len, std_strings, &line)) {
		task_fail(e, t, "psql:query.sql:%u: error: pgqfs ran nothing: the file ends inside "
			  "a statement at line %u; a \";\" ends it\n", line, line);
		return;
	}
	if (sql_split(t->query, t->query_len, std_strings, &stmts, &n_stmts) < 0) {
		task_fail(e, t, "pgqfs: out of memory\n");
		return;
	}
	free(t->stmts);
	t->stmts = stmts;
	t->n_stmts = n_stmts;

	c->backend_pid = PQbackendPID(c->pg);
	t->backend_pid = c->backend_pid;
	t->started_us = 0;	/* task_stamp_start() */
	t->started_mono_ms = mono_ms();
	t->start_unsent = true;
	if (t->opts.retries > 0)
		task_log(t, "started attempt %lld of %d on target %s, backend pid %d, daemon %s",
			 (long long)t->attempt, t->opts.retries + 1, t->pool->target->cfg->name,
			 c->backend_pid, e->daemon);
	else if (t->attempt > 1)
		task_log(t, "started attempt %lld on target %s, backend pid %d, daemon %s",
			 (long long)t->attempt, t->pool->target->cfg->name, c->backend_pid,
			 e->daemon);
	else
		task_log(t, "started on target %s, backend pid %d, daemon %s",
			 t->pool->target->cfg->name, c->backend_pid, e->daemon);
	atomic_fetch_add(&e->n_started, 1);
	metrics_task_started(e, t->pool->cfg->name);
	task_set_phase(t, PHASE_SETUP);
	task_flush_rearm(t);
	if (t->timeout_ms)
		timer_set(&t->timeout_timer, t->started_mono_ms + (int64_t)t->timeout_ms);
	if (task_pipe_begin(t)) {
		/* Named, run and reset in one write (pipe.c). */
		t->cur = 0;
		task_next_statement(e, t);
		return;
	}
	if (c->named_id == t->id) {
		/* Named while its claim was in flight, or its file closed
		 * (conn_prename()). */
		t->cur = 0;
		task_next_statement(e, t);
		return;
	}
	if (!t->opts.single_transaction && t->n_stmts > 0 && !t->stmts[0].meta &&
	    sql_plain_query(t->query + t->stmts[0].start, t->stmts[0].len)) {
		/* Named in its first statement's string (task_next_statement()). */
		t->name_first = true;
		t->cur = 0;
		task_next_statement(e, t);
		return;
	}
	app_name_query(app, sizeof(app), t->id);
	if (!PQsendQuery(c->pg, app)) {
		task_fail(e, t, "pgqfs: cannot send to target %s: %s", t->pool->target->cfg->name,
			  PQerrorMessage(c->pg));
		return;
	}
	c->named_id = t->id;
	conn_flush(c);
}

/*
 * Recognisable in pg_stat_activity.  One simple query, cheaper than a
 * parameter's four messages; nothing in it comes from outside.  A SELECT,
 * not SET: pg_stat_statements (15) keeps a SET's constant, so every task
 * would make a new entry on the target.
 */
void app_name_query(char *buf, size_t size, int64_t id)
{
	snprintf(buf, size, "SELECT pg_catalog.set_config('application_name', 'pgqfs task %lld', false)",
		 (long long)id);
}

static int result_append_row(struct executor *e, struct task *t, const PGresult *res, int row)
{
	struct buf *b = &t->out[STREAM_RESULT].pending;
	int r = 0;

	if (row >= 0 && t->conn) {
		size_t len = 0;

		for (int f = 0; f < PQnfields(res); f++)
			len += (size_t)PQgetlength(res, row, f);
		if (len > t->conn->max_message)
			t->conn->max_message = len;
	}
	if (t->over_cap)
		return 0;	/* drained, not kept */
	if (!t->stmt_rows) {
		r = csv_header(b, res);
		t->stmt_rows = true;
	}
	if (r == 0 && row >= 0) {
		r = csv_row(b, res, row);
		if (r == 0)
			r = json_row(&t->out[STREAM_JSON].pending, res, row);
		t->rows++;
		t->stmt_nrows++;
	}
	task_mark_unsent(t);
	if (r == 0)
		result_check_cap(e, t);
	return r;
}

/* Handles one PGresult of the statement in flight. */
static void task_result(struct executor *e, struct task *t, PGresult *res)
{
	struct conn *c = t->conn;

	switch (PQresultStatus(res)) {
	case PGRES_SINGLE_TUPLE:
		if (result_append_row(e, t, res, 0) < 0)
			task_fail(e, t, "pgqfs: out of memory\n");
		break;
	case PGRES_TUPLES_OK:
		/* End of a row set; one with no rows still prints its header. */
		if (!t->stmt_rows && result_append_row(e, t, res, -1) < 0)
			task_fail(e, t, "pgqfs: out of memory\n");
		/* A piped statement's one row set: an error at its Sync (its
		 * commit) still takes it back, as psql shows none then. */
		if (t->piped)
			break;
		t->stmt_rows = false;
		t->stmt_nrows = 0;
		t->stmt_start = stream_size(&t->out[STREAM_RESULT]);
		t->stmt_start_json = stream_size(&t->out[STREAM_JSON]);
		break;
	case PGRES_COPY_OUT:
		t->copy_out = true;
		break;
	case PGRES_COPY_IN:
		/* The server ends the COPY with this as its error message. */
		if (PQputCopyEnd(c->pg, "pgqfs tasks have no input: use COPY FROM a file the server can read, or INSERT") < 0)
			task_fail(e, t, "pgqfs: cannot end COPY on target %s\n", t->pool->target->cfg->name);
		conn_flush(c);
		break;
	case PGRES_FATAL_ERROR: {
		/* BEGIN and COMMIT of a single transaction: the line of the
		 * first or last statement. */
		size_t at = t->cur < t->n_stmts ? t->cur : t->n_stmts - 1;
		const struct sql_stmt *s = &t->stmts[at];
		const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		if (st && strlen(st) == 5 && !t->sqlstate[0])
			memcpy(t->sqlstate, st, 6);
		if (t->error.len == 0 && t->cancel_asked) {
			task_cancel_error(t, &t->error);
			if (format_error_skip(&t->error, "query.sql", s->line, res, t->folded) < 0)
				t->error.len = 0;
		} else if (t->error.len == 0 && t->over_cap) {
			/* Most likely our cancel: the cap is the reason. */
			task_cap_error(t, &t->error);
		} else if (t->error.len == 0) {
			if (t->timed_out)
				task_timeout_error(t, &t->error);
			else if (e->cancels_sent)
				(void)buf_printf(&t->error, "pgqfs: cancelled: the daemon stopped%s\n",
						 atomic_load(&e->draining) ?
						 " and its shutdown_grace ran out" : "");
			if (format_error_skip(&t->error, "query.sql", s->line, res, t->folded) < 0)
				t->error.len = 0;
		}
		format_error_cap(&t->error, ERROR_MAX);
		/* drained, then finished */
		t->final_state = t->cancel_asked ? TASK_CANCELLED : TASK_FAILED;
		break;
	}
	default:
		break;
	}
}

/* Reads what the connection has for its task, as far as it may. */
void task_pump(struct executor *e, struct task *t)
{
	struct conn *c = t->conn;

	while (c && t->conn == c && t->phase != PHASE_FINISHED) {
		PGresult *res;

		if (t->copy_out) {
			char *data = NULL;
			int n = PQgetCopyData(c->pg, &data, 1);

			if (n > 0) {
				int r = t->over_cap ? 0 :
					buf_append(&t->out[STREAM_RESULT].pending, data, (size_t)n);

				PQfreemem(data);
				if ((size_t)n > c->max_message)
					c->max_message = (size_t)n;
				task_mark_unsent(t);
				if (r < 0) {
					task_fail(e, t, "pgqfs: out of memory\n");
					return;
				}
				result_check_cap(e, t);
				if (t->out[STREAM_RESULT].pending.len >= PENDING_MAX)
					return;
				continue;
			}
			if (n == 0)
				return;		/* needs more input */
			t->copy_out = false;	/* -1: done; -2: error, reported as a result */
			continue;
		}
		if (t->out[STREAM_RESULT].pending.len >= PENDING_MAX ||
		    t->out[STREAM_JSON].pending.len >= PENDING_MAX)
			return;		/* back-pressure: wait for the store */
		if (PQisBusy(c->pg))
			return;
		res = PQgetResult(c->pg);
		if (t->piped && task_pipe_filter(e, t, &res))
			continue;
		if (!res) {
			/* The query in flight is complete. */
			if (t->phase == PHASE_SETUP) {
				t->cur = 0;
			} else if (t->final_state == TASK_FAILED || t->final_state == TASK_CANCELLED) {
				task_finish(e, t, (enum task_state)t->final_state);
				return;
			} else if (t->tx == TX_BEGIN) {
				t->tx = TX_OPEN;
			} else if (t->tx == TX_COMMIT) {
				t->tx = TX_DONE;
			} else {
				t->cur++;
			}
			if (atomic_load(&e->stopping) && e->cancels_sent && !task_ran_all(t)) {
				task_fail(e, t, t->phase == PHASE_SETUP ?
					  "pgqfs: the daemon stopped before this task's first "
					  "statement; nothing ran\n" :
					  "pgqfs: the daemon stopped before this task ended\n");
				return;
			}
			task_next_statement(e, t);
			continue;
		}
		if (t->naming_rows) {
			ExecStatusType st = PQresultStatus(res);

			/* Its row, then its end; an error is the statement's (the
			 * string is parsed whole before the naming runs). */
			if (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK) {
				t->naming_rows = st != PGRES_TUPLES_OK;
				PQclear(res);
				continue;
			}
			t->naming_rows = false;
		}
		if (t->phase == PHASE_SETUP) {
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
				task_setup_failed(e, t, res);
		} else {
			task_result(e, t, res);
		}
		PQclear(res);
	}
}

/* Gives a claimed task a connection of its role: an idle one, or a new one. */
void task_assign(struct executor *e, struct task *t)
{
	struct target *tg = t->pool->target;
	struct conn *c = NULL;

	/* The one named for it while its claim was in flight, if any. */
	for (size_t i = 0; i < tg->n_conns && !c; i++)
		if (tg->conns[i]->named_id == t->id && !tg->conns[i]->task &&
		    conn_fits(tg->conns[i], t) &&
		    (tg->conns[i]->state == CONN_RESET ||
		     (tg->conns[i]->state == CONN_IDLE && conn_idle_alive(tg->conns[i]))))
			c = tg->conns[i];
	for (size_t i = 0; i < tg->n_conns && !c; i++)
		if (tg->conns[i]->state == CONN_IDLE && !tg->conns[i]->task &&
		    conn_fits(tg->conns[i], t) && conn_idle_alive(tg->conns[i])) {
			c = tg->conns[i];
			break;
		}
	/* Else one that is being reset or connecting: both are ready in
	 * well under the time a new backend takes to start. */
	for (size_t i = 0; !c && i < tg->n_conns; i++)
		if ((tg->conns[i]->state == CONN_RESET || tg->conns[i]->state == CONN_CONNECTING) &&
		    !tg->conns[i]->task && conn_fits(tg->conns[i], t))
			c = tg->conns[i];
	if (!c)
		c = target_add_conn_for(tg, t);
	if (!c || c->state == CONN_BROKEN) {
		task_log(t, "could not connect to target %s", tg->cfg->name);
		task_fail(e, t, "pgqfs: could not connect to target %s: %s", tg->cfg->name,
			  c ? conn_error(c) : "no free connection slot\n");
		return;
	}
	conn_attach_task(c, t);
	/* Its timeout runs from its claim, also while its session is being
	 * reset or named (task_timed_out()). */
	if (t->timeout_ms && c->state == CONN_RESET)
		timer_set(&t->timeout_timer, t->started_mono_ms + (int64_t)t->timeout_ms);
	if (c->state == CONN_IDLE) {
		conn_set_state(c, CONN_BUSY);
		task_begin(e, t);
	}
}
