/*
 * Connections to targets: opening them without blocking, their reset
 * between tasks, and what their sockets say.  A task on a connection is
 * run by run.c; a connection only hands it its events.
 */
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>

#include "buf.h"
#include "executor_internal.h"
#include "format.h"
#include "log.h"

void conn_free(struct conn *c)
{
	if (!c)
		return;
	PQfinish(c->pg);
	free(c);
}

void conn_flush(struct conn *c)
{
	int r = PQflush(c->pg);

	c->want_write = r == 1;
	if (r < 0)
		c->state = CONN_BROKEN;
}

static void notice_receiver(void *arg, const PGresult *res)
{
	struct conn *c = arg;
	struct buf line;

	if (!c->task)
		return;
	buf_init(&line);
	if (format_notice(&line, res) == 0 && buf_cstr(&line))
		task_log(c->task, "%s", line.data);
	buf_finish(&line);
}

static struct conn *conn_open(struct target *tg)
{
	static const char *const keys[] = { "dbname", "application_name", NULL };
	const char *vals[] = { tg->cfg->conninfo, "pgqfs", NULL };
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->target = tg;
	c->pg = PQconnectStartParams(keys, vals, 1);
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		c->state = CONN_BROKEN;
		return c;
	}
	c->state = CONN_CONNECTING;
	c->poll = PGRES_POLLING_WRITING;
	return c;
}

struct conn *target_add_conn(struct target *tg)
{
	struct conn *c;

	if (tg->n_conns >= (size_t)tg->cfg->max_workers)
		return NULL;
	c = conn_open(tg);
	if (!c)
		return NULL;
	tg->conns[tg->n_conns++] = c;
	return c;
}

/* Slots a new task of this target could take now. */
int target_free(const struct target *tg)
{
	int busy = 0;

	for (size_t i = 0; i < tg->n_conns; i++)
		if (tg->conns[i]->task)
			busy++;
	return tg->cfg->max_workers - busy;
}

void conn_start_reset(struct conn *c)
{
	PGTransactionStatusType ts = PQtransactionStatus(c->pg);

	c->task = NULL;
	if (ts == PQTRANS_UNKNOWN || PQstatus(c->pg) != CONNECTION_OK) {
		c->state = CONN_BROKEN;
		return;
	}
	/* An open transaction ends as it would when psql exits: rolled back.
	 * Then nothing of this task's session may leak into the next one. */
	c->state = CONN_RESET;
	c->reset_step = ts == PQTRANS_IDLE ? 1 : 0;
	if (!PQsendQuery(c->pg, c->reset_step == 0 ? "ROLLBACK" : "DISCARD ALL")) {
		c->state = CONN_BROKEN;
		return;
	}
	conn_flush(c);
}

/* A connection is readable or writable (or has buffered input to use). */
void conn_event(struct executor *e, struct conn *c, short revents)
{
	if (c->state == CONN_CONNECTING) {
		c->poll = PQconnectPoll(c->pg);
		if (c->poll == PGRES_POLLING_FAILED) {
			struct task *t = c->task;

			c->state = CONN_BROKEN;
			if (t) {
				char *msg = PQerrorMessage(c->pg);

				c->task = NULL;
				t->conn = NULL;
				task_log(t, "cannot connect to target %s", c->target->cfg->name);
				task_fail(e, t, "pgqfs: cannot connect to target %s: %s",
					  c->target->cfg->name, msg);
			} else {
				log_warn("cannot connect to target %s: %s", c->target->cfg->name,
					 PQerrorMessage(c->pg));
			}
			return;
		}
		if (c->poll != PGRES_POLLING_OK)
			return;
		if (PQsetnonblocking(c->pg, 1) < 0) {
			c->state = CONN_BROKEN;
			return;
		}
		PQsetNoticeReceiver(c->pg, notice_receiver, c);
		c->state = c->task ? CONN_BUSY : CONN_IDLE;
		if (c->task)
			task_begin(e, c->task);
		return;
	}
	if ((revents & POLLOUT) && c->want_write)
		conn_flush(c);
	if ((revents & (POLLIN | POLLHUP | POLLERR)) && !PQconsumeInput(c->pg)) {
		struct task *t = c->task;

		c->state = CONN_BROKEN;
		if (t) {
			c->task = NULL;
			t->conn = NULL;
			task_fail(e, t, "pgqfs: lost the connection to target %s: %s",
				  c->target->cfg->name, PQerrorMessage(c->pg));
		}
		return;
	}
	if (c->state == CONN_BUSY && c->task) {
		task_pump(e, c->task);
	} else if (c->state == CONN_RESET) {
		while (!PQisBusy(c->pg)) {
			PGresult *res = PQgetResult(c->pg);

			if (res) {
				if (PQresultStatus(res) != PGRES_COMMAND_OK)
					c->state = CONN_BROKEN;
				PQclear(res);
				continue;
			}
			if (c->state == CONN_BROKEN)
				return;
			if (++c->reset_step == 1) {
				if (!PQsendQuery(c->pg, "DISCARD ALL")) {
					c->state = CONN_BROKEN;
					return;
				}
				conn_flush(c);
				return;
			}
			c->state = CONN_IDLE;
			if (c->task) {
				/* A task was waiting for this reset. */
				c->state = CONN_BUSY;
				task_begin(e, c->task);
			}
			return;
		}
	} else if (c->state == CONN_IDLE) {
		/* Nothing is expected; drop anything (a notice, a shutdown). */
		while (!PQisBusy(c->pg)) {
			PGresult *res = PQgetResult(c->pg);

			if (!res)
				break;
			PQclear(res);
		}
	}
}

/*
 * Frees broken connections of every target.  A task still on one (running
 * or waiting for it) fails with the connection's last error.
 */
void reap_conns(struct executor *e)
{
	for (size_t i = 0; i < e->cfg->n_targets; i++) {
		struct target *tg = &e->targets[i];
		size_t k = 0;

		for (size_t j = 0; j < tg->n_conns; j++) {
			struct conn *c = tg->conns[j];

			if (c->state == CONN_BROKEN && c->task) {
				struct task *t = c->task;

				c->task = NULL;
				t->conn = NULL;
				task_fail(e, t, "pgqfs: lost the connection to target %s: %s",
					  tg->cfg->name, c->pg ? PQerrorMessage(c->pg) : "\n");
			}
			if (c->state == CONN_BROKEN)
				conn_free(c);
			else
				tg->conns[k++] = c;
		}
		tg->n_conns = k;
	}
}
