/*
 * A one-statement task in libpq's pipeline mode: its session's naming, its
 * statement and the reset after it go to the target in one write, each
 * ended by a Sync:
 *
 *     naming, Sync    statement, Sync    DISCARD ALL, Sync
 *
 * The backend runs the reset the moment the statement's transaction ends,
 * with no round trip between them: a task costs the target one wake-up
 * where it cost two (the statement, then the reset once its end was read).
 *
 * Each runs in an implicit transaction of its own, the statement as psql's
 * simple query would.  The statement's end is the Sync after it, not its
 * last result: the extended protocol commits at the Sync, and an error
 * there (a deferred constraint) comes after the statement's results.  The
 * reset's Sync ends the pipeline; the connection is then idle and out of
 * pipeline mode, as after a reset sent on its own.
 *
 * A cancel (the task's, its timeout's, its cap's, the daemon's stop) sent
 * while the naming ran may have stopped the naming, or reached the backend
 * between the two, where a cancel is dropped: the statement would run on.
 * So it is sent again once the naming's Sync is read.
 *
 * Only a single plain query or data change (sql_plain_query()) goes so,
 * and not every one of those (task_pipe_fits()): a COPY cannot run in a
 * pipeline, and a statement of several in a file waits for the one before
 * it, as psql does.
 */
#include "executor_internal.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "split.h"

/*
 * Whether a statement could tell the extended protocol from psql's simple
 * one, or needs the reset that the pipeline does not send, so that it does
 * not go in a pipeline:
 *  - a parameter symbol ($1): the Bind supplies none ("bind message
 *    supplies 0 parameters"), where psql's simple query says "there is no
 *    parameter $1".  Anywhere in the text, quoted or not: no dollar-quote
 *    tag begins with a digit, so this errs only on the side of no pipeline;
 *  - pg_cursors, which lists the extended protocol's unnamed portal;
 *  - statement_timestamp(), which the Bind and the Execute each set again
 *    after the Parse began the transaction: it is not now() there;
 *  - statement_timeout (set_config() of it): a short one set for the
 *    session is armed again for the reset, and past it during DISCARD ALL
 *    the server cancels the next task's statement; the reset sent on its
 *    own sets it to 0 first (conn.c).  The pipelined reset is DISCARD ALL
 *    alone: with that SET in the pipeline too, tasks of a pool sharing its
 *    target with another waited 10 s under load (targetshare, 2 runs of
 *    4; none of 6 without it), for a reason not found.
 * (A function that reads or sets them for the statement is not seen.)
 */
static bool protocol_shows(const char *text, size_t len)
{
	static const char *const words[] = { "pg_cursors", "statement_timestamp",
					     "statement_timeout" };

	for (size_t i = 0; i < len; i++) {
		if (text[i] == '$' && i + 1 < len && text[i + 1] >= '0' && text[i + 1] <= '9')
			return true;
		for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
			size_t n = strlen(words[w]);

			if (len - i >= n && strncasecmp(text + i, words[w], n) == 0)
				return true;
		}
	}
	return false;
}

/* Whether t may go in a pipeline: one plain statement that cannot tell. */
static bool task_pipe_fits(const struct task *t)
{
	const char *text;
	size_t len;

	if (t->n_stmts != 1 || t->stmts[0].meta || t->opts.single_transaction)
		return false;
	text = t->query + t->stmts[0].start;
	len = t->stmts[0].len;
	return sql_plain_query(text, len) && !protocol_shows(text, len);
}

bool task_pipe_begin(struct task *t)
{
	struct conn *c = t->conn;

	t->piped = false;	/* an attempt before may have gone so */
	t->pipe_naming = false;
	if (!task_pipe_fits(t) || !PQenterPipelineMode(c->pg))
		return false;
	c->pipe = PIPE_TASK;
	t->piped = true;
	return true;
}

/* Rows as they arrive, for the query at the pipeline's head: libpq sets
 * the mode one query at a time. */
static void single_row(const struct task *t)
{
	if (!PQsetSingleRowMode(t->conn->pg))
		log_debug("task %lld: single-row mode refused in the pipeline", (long long)t->id);
}

static bool send_one(PGconn *pg, const char *sql)
{
	return PQsendQueryParams(pg, sql, 0, NULL, NULL, NULL, NULL, 0) && PQpipelineSync(pg);
}

int task_pipe_send(struct task *t, const char *stmt)
{
	struct conn *c = t->conn;
	char app[96];

	t->pipe_naming = c->named_id != t->id;
	if (t->pipe_naming) {
		app_name_query(app, sizeof(app), t->id);
		if (!send_one(c->pg, app))
			return -1;
		c->named_id = t->id;
	}
	if (!send_one(c->pg, stmt) || !send_one(c->pg, "DISCARD ALL"))
		return -1;
	if (!t->pipe_naming)
		single_row(t);	/* else once the naming's Sync is read */
	log_debug("task %lld: named, run and reset in one write (pipeline mode)", (long long)t->id);
	conn_flush(c);
	return 0;
}

bool task_pipe_filter(struct executor *e, struct task *t, PGresult **resp)
{
	struct conn *c = t->conn;
	PGresult *res = *resp;
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_EMPTY_QUERY;

	if (!res && PQstatus(c->pg) == CONNECTION_BAD) {
		/* libpq gave the connection up (a message it could not take):
		 * it answers NULL from now on, and no Sync will come. */
		if (t->final_state != TASK_FAILED && t->final_state != TASK_CANCELLED) {
			if (t->error.len == 0)
				(void)buf_printf(&t->error, "pgqfs: lost the connection to target %s: %s",
						 t->pool->target->cfg->name, PQerrorMessage(c->pg));
			t->final_state = TASK_FAILED;
		}
		return false;	/* the end (*resp is NULL) */
	}
	if (t->pipe_naming) {
		/* The naming's row, its end and its Sync.  It fails only when
		 * a cancel met it (then sent again) or something is very
		 * wrong: the statement runs all the same, unnamed. */
		if (st == PGRES_PIPELINE_SYNC) {
			t->pipe_naming = false;
			if (c->no_reuse)
				conn_cancel(e, c);
			single_row(t);
		} else if (st == PGRES_FATAL_ERROR && !c->no_reuse) {
			const char *why = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

			task_log(t, "its session could not be named: %s", why ? why : "no message");
		}
		PQclear(res);
		return true;
	}
	/* The end of the statement's results: its commit is the Sync's. */
	if (!res)
		return true;
	if (st == PGRES_PIPELINE_SYNC) {
		/* Done, committed or not: the reset is the connection's now. */
		PQclear(res);
		c->pipe = PIPE_RESET;
		*resp = NULL;
		return false;
	}
	return false;
}

int conn_pipe_reset(struct conn *c)
{
	while (!PQisBusy(c->pg)) {
		PGresult *res = PQgetResult(c->pg);
		ExecStatusType st;

		if (!res) {
			if (PQstatus(c->pg) == CONNECTION_BAD)
				return -1;	/* NULL for good: see task_pipe_filter() */
			continue;	/* between DISCARD ALL's result and its Sync */
		}
		st = PQresultStatus(res);
		PQclear(res);
		if (st == PGRES_PIPELINE_SYNC) {
			c->pipe = PIPE_NONE;
			return PQexitPipelineMode(c->pg) ? 1 : -1;
		}
		if (st != PGRES_COMMAND_OK)
			return -1;
	}
	return 0;
}
