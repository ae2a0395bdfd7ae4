/*
 * A one-statement task in libpq's pipeline mode: its session's naming, its
 * statement and the reset after it go to the target in one write, each
 * ended by a Sync:
 *
 *     naming, statement, Sync    DISCARD ALL, Sync
 *
 * The backend runs the reset the moment the statement's transaction ends,
 * with no round trip between them: a task costs the target one wake-up
 * where it cost two (the statement, then the reset once its end was read).
 *
 * The statement runs alone in its own implicit transaction, as psql's
 * simple query would: the naming shares it, as when folded into the query
 * string (run.c), so a naming that fails runs nothing.  Its end is the Sync
 * after it, not its last result: the extended protocol commits at the Sync,
 * and an error there (a deferred constraint) comes after the statement's
 * results.  The reset's Sync ends the pipeline; the connection is then idle
 * and out of pipeline mode, as after a reset sent on its own.
 *
 * Only a single plain query or data change (sql_plain_query()) with no
 * parameter symbol goes so: a COPY cannot run in a pipeline, and a
 * statement of several in a file waits for the one before it, as psql
 * does.
 */
#include "executor_internal.h"

#include <stdbool.h>
#include <string.h>

#include "log.h"
#include "split.h"

/*
 * Whether text may hold a parameter symbol ($1): the extended protocol
 * takes one for a parameter the Bind does not supply ("bind message
 * supplies 0 parameters"), where psql's simple query says "there is no
 * parameter $1".  Anywhere in the text, quoted or not: no dollar-quote tag
 * begins with a digit, so this errs only on the side of no pipeline.
 */
static bool may_have_param(const char *text, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
		if (text[i] == '$' && text[i + 1] >= '0' && text[i + 1] <= '9')
			return true;
	return false;
}

bool task_pipe_fits(const struct task *t)
{
	const char *text = t->query + (t->n_stmts ? t->stmts[0].start : 0);
	size_t len = t->n_stmts ? t->stmts[0].len : 0;

	return t->n_stmts == 1 && !t->stmts[0].meta && !t->opts.single_transaction &&
	       sql_plain_query(text, len) && !may_have_param(text, len);
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

int task_pipe_send(struct task *t, const char *stmt)
{
	struct conn *c = t->conn;
	char app[96];
	bool naming = c->named_id != t->id;

	t->pipe_naming = naming;
	if (naming) {
		app_name_query(app, sizeof(app), t->id);
		if (!PQsendQueryParams(c->pg, app, 0, NULL, NULL, NULL, NULL, 0))
			return -1;
		c->named_id = t->id;
	}
	if (!PQsendQueryParams(c->pg, stmt, 0, NULL, NULL, NULL, NULL, 0) ||
	    !PQpipelineSync(c->pg) ||
	    !PQsendQueryParams(c->pg, "DISCARD ALL", 0, NULL, NULL, NULL, NULL, 0) ||
	    !PQpipelineSync(c->pg))
		return -1;
	/* Rows as they arrive; with a naming first, once its results are
	 * read (libpq sets the mode for the query at the pipeline's head). */
	if (!naming && !PQsetSingleRowMode(c->pg))
		log_debug("task %lld: single-row mode refused in the pipeline", (long long)t->id);
	log_debug("task %lld: named, run and reset in one write (pipeline mode)", (long long)t->id);
	conn_flush(c);
	return 0;
}

bool task_pipe_filter(struct task *t, PGresult **resp)
{
	struct conn *c = t->conn;
	PGresult *res = *resp;
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_EMPTY_QUERY;

	if (t->pipe_naming) {
		/* The naming's row and its end; an error is the task's, and
		 * the statement behind it is aborted. */
		if (!res) {
			t->pipe_naming = false;
			if (!PQsetSingleRowMode(c->pg))
				log_debug("task %lld: single-row mode refused in the pipeline",
					  (long long)t->id);
			return true;
		}
		if (st == PGRES_FATAL_ERROR && t->error.len == 0) {
			(void)buf_printf(&t->error, "pgqfs: cannot prepare the session on target %s: %s",
					 t->pool->target->cfg->name, PQresultErrorMessage(res));
			t->final_state = TASK_FAILED;
		}
		PQclear(res);
		return true;
	}
	/* The end of the statement's results: its commit is the Sync's. */
	if (!res)
		return true;
	if (st == PGRES_PIPELINE_ABORTED) {
		PQclear(res);
		return true;
	}
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

		if (!res)
			continue;	/* between DISCARD ALL's result and its Sync */
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
