/*
 * The executor's two state machines: a target connection's state and a
 * task's phase.  Every change goes through conn_set_state() and
 * task_set_phase(), which know the moves that can happen and refuse any
 * other (as pgbouncer's change_client_state() does): a bug shows as a log
 * line (and an abort in a debug build), not as a connection that leaks or
 * a task that runs twice.
 */
#include <assert.h>
#include <stdbool.h>

#include "executor_internal.h"
#include "log.h"

static const char *const conn_state_names[] = {
	[CONN_CONNECTING] = "connecting",
	[CONN_IDLE] = "idle",
	[CONN_BUSY] = "busy",
	[CONN_RESET] = "reset",
	[CONN_BROKEN] = "broken",
};

/*
 * conn_moves[from][to]: the moves a connection makes.  Any state may
 * break; breaking again is a no-op (a connection can fail twice before
 * the loop reaps it).  A connection gets a task only when idle, and a
 * task waiting for one that is connecting or being reset begins there.
 */
static const bool conn_moves[5][5] = {
	[CONN_CONNECTING] = { [CONN_IDLE] = true, [CONN_BUSY] = true, [CONN_BROKEN] = true },
	[CONN_IDLE] = { [CONN_BUSY] = true, [CONN_RESET] = true, [CONN_BROKEN] = true },
	[CONN_BUSY] = { [CONN_RESET] = true, [CONN_BROKEN] = true },
	[CONN_RESET] = { [CONN_IDLE] = true, [CONN_BUSY] = true, [CONN_BROKEN] = true },
	[CONN_BROKEN] = { [CONN_BROKEN] = true },
};

static const char *const phase_names[] = {
	[PHASE_CONNECT] = "connect",
	[PHASE_SETUP] = "setup",
	[PHASE_STMT] = "statement",
	[PHASE_FINISHED] = "finished",
};

/*
 * phase_moves[from][to]: a task sets its session up once connected, runs
 * its statements one after the other (STMT to STMT), and may end in any
 * phase; an ended task never moves again.
 */
static const bool phase_moves[4][4] = {
	[PHASE_CONNECT] = { [PHASE_SETUP] = true, [PHASE_FINISHED] = true },
	[PHASE_SETUP] = { [PHASE_STMT] = true, [PHASE_FINISHED] = true },
	[PHASE_STMT] = { [PHASE_STMT] = true, [PHASE_FINISHED] = true },
	[PHASE_FINISHED] = { 0 },
};

bool conn_set_state(struct conn *c, enum conn_state to)
{
	enum conn_state from = c->state;

	if ((unsigned)from > CONN_BROKEN || (unsigned)to > CONN_BROKEN || !conn_moves[from][to]) {
		log_error("bug: a connection to target %s cannot go from %s to %s",
			  LOG_ESCAPE(c->target->cfg->name),
			  (unsigned)from <= CONN_BROKEN ? conn_state_names[from] : "?",
			  (unsigned)to <= CONN_BROKEN ? conn_state_names[to] : "?");
		assert(!"impossible connection state change");
		return false;
	}
	c->state = to;
	return true;
}

void conn_attach_task(struct conn *c, struct task *t)
{
	if (c->task || t->conn) {
		log_error("bug: task %lld given a connection while %s",
			  (long long)t->id, c->task ? "the connection has a task" : "it has one");
		assert(!"task attached twice");
		return;
	}
	c->task = t;
	t->conn = c;
}

void conn_detach_task(struct conn *c)
{
	struct task *t = c->task;

	if (!t)
		return;
	if (t->conn == c)
		t->conn = NULL;
	c->task = NULL;
}

bool task_set_phase(struct task *t, enum task_phase to)
{
	enum task_phase from = t->phase;

	if ((unsigned)from > PHASE_FINISHED || (unsigned)to > PHASE_FINISHED ||
	    !phase_moves[from][to]) {
		log_error("bug: task %lld cannot go from phase %s to %s", (long long)t->id,
			  (unsigned)from <= PHASE_FINISHED ? phase_names[from] : "?",
			  (unsigned)to <= PHASE_FINISHED ? phase_names[to] : "?");
		assert(!"impossible task phase change");
		return false;
	}
	t->phase = to;
	return true;
}
