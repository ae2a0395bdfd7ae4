/*
 * The control connection: one statement at a time (recover, claim,
 * progress, housekeeping), its results, NOTIFYs, and its loss.  Claimed
 * tasks are handed to run.c; their output goes back in progress batches.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "clock.h"
#include "executor_internal.h"
#include "log.h"
#include "split.h"
#include "store.h"

static int global_free(const struct executor *e)
{
	if (e->cfg->workers == 0)
		return 1 << 30;
	return e->cfg->workers - e->running;
}

static void ctl_flush(struct executor *e)
{
	int r = PQflush(e->control);

	e->ctl_want_write = r == 1;
}

/* Adds a task's output and state to the batch; false when it is full. */
static bool batch_add_task(struct executor *e, struct task *t, int64_t now, bool partial_due)
{
	struct task_update u;
	bool final = t->phase == PHASE_FINISHED;
	bool full = t->out[STREAM_RESULT].pending.len >= CHUNK_MAX ||
		    t->out[STREAM_LOG].pending.len >= CHUNK_MAX;
	bool has_output = t->out[0].pending.len || t->out[1].pending.len;

	bool start_due = t->start_unsent && now - t->started_mono_ms >= START_FLUSH_MS;
	bool rest = false;	/* output left for the next batch */

	if (t->final_sent)
		return true;
	if (!final && !start_due && !full && !(partial_due && has_output))
		return true;
	if (progress_bytes(e->batch) >= BATCH_BYTES)
		return false;
	for (int s = 0; s < 2; s++) {
		struct stream_out *o = &t->out[s];
		size_t done = 0;

		while (done < o->pending.len) {
			size_t n = o->pending.len - done;

			/* A huge row goes in several batches: neither a batch
			 * nor libpq's output buffer (never shrunk) grows with it. */
			if (progress_bytes(e->batch) >= BATCH_BYTES) {
				rest = true;
				break;
			}
			if (n > CHUNK_MAX)
				n = CHUNK_MAX;
			if (progress_add_chunk(e->batch, t->id, (enum task_stream)s,
					       o->base + (int64_t)done, o->pending.data + done, n) < 0)
				return false;
			done += n;
		}
		o->base += (int64_t)done;
		if (done < o->pending.len)
			memmove(o->pending.data, o->pending.data + done, o->pending.len - done);
		o->pending.len -= done;
	}
	final = final && !rest;
	memset(&u, 0, sizeof(u));
	u.id = t->id;
	u.result_size = t->out[STREAM_RESULT].base;
	u.log_size = t->out[STREAM_LOG].base;
	u.state = -1;
	u.rows = -1;
	/* The connection may be gone already (the task finished). */
	if (t->start_unsent && t->started_us) {
		u.backend_pid = t->backend_pid;
		u.started_us = t->started_us;
	}
	if (t->start_unsent)
		u.target = t->pool->target->cfg->name;
	t->start_unsent = false;
	if (final) {
		u.state = t->final_state;
		u.finished_us = t->finished_us;
		u.rows = t->rows;
		u.error = t->error.len ? t->error.data : NULL;
		u.error_len = t->error.len;
		u.truncate = t->truncate;
		t->final_sent = true;
	}
	if (!rest)
		t->first_unsent_ms = 0;
	return progress_add_update(e->batch, &u) == 0 && !rest;
}

static bool partial_due(const struct executor *e, int64_t now)
{
	for (const struct task *t = e->tasks; t; t = t->next)
		if (t->first_unsent_ms && now - t->first_unsent_ms >= PARTIAL_FLUSH_MS)
			return true;
	return false;
}

/* Sends a progress batch if any task has something to store; true if sent. */
static bool ctl_send_progress(struct executor *e, int64_t now, bool stopping)
{
	bool due = partial_due(e, now) || stopping;
	int finals = 0;

	progress_reset(e->batch);
	/* NOTIFY payloads hold 8000 bytes: at most 400 "id:state"s. */
	for (struct task *t = e->tasks; t && finals < 400; t = t->next) {
		if (t->phase == PHASE_FINISHED && !t->final_sent)
			finals++;
		if (!batch_add_task(e, t, now, due))
			break;
	}
	if (progress_empty(e->batch))
		return false;
	if (store_send_progress(e->control, e->instance, e->batch) == 0) {
		e->op = OP_PROGRESS;
		e->n_progress++;
		ctl_flush(e);
	}
	return true;
}

/* Puts the most urgent statement on the idle control connection. */
void ctl_next(struct executor *e)
{
	int64_t now = mono_ms();
	bool stopping = atomic_load(&e->stopping);
	const char *names[256];
	int max[256], want[256], running[256];
	size_t n = 0;
	int room = stopping ? 0 : global_free(e);

	if (e->op != OP_NONE)
		return;
	/* Recovery first: at start it decides what the old instance left. */
	if (now >= e->next_recover_ms) {
		if (store_send_recover(e->control, e->instance) == 0) {
			e->op = OP_RECOVER;
			ctl_flush(e);
		}
		return;
	}
	/* Claims and progress take turns, so that neither starves. */
	if (e->last_op == OP_CLAIM && ctl_send_progress(e, now, stopping))
		return;

	/* Take the releases the filesystem made since the last claim. */
	pthread_mutex_lock(&e->release_lock);
	if (e->n_release && e->n_releasing == 0) {
		int64_t *tmp = e->releasing;
		size_t cap = e->cap_releasing;

		e->releasing = e->release;
		e->cap_releasing = e->cap_release;
		e->n_releasing = e->n_release;
		e->release = tmp;
		e->cap_release = cap;
		e->n_release = 0;
		e->releasing_seq = e->release_seq;
	} else if (e->n_release) {
		/* A claim that failed left its releases: send them again, with
		 * the new ones. */
		size_t need = e->n_releasing + e->n_release;

		if (need > e->cap_releasing) {
			int64_t *p = realloc(e->releasing, need * sizeof(*p));

			if (p) {
				e->releasing = p;
				e->cap_releasing = need;
			}
		}
		if (need <= e->cap_releasing) {
			memcpy(e->releasing + e->n_releasing, e->release,
			       e->n_release * sizeof(*e->release));
			e->n_releasing = need;
			e->n_release = 0;
			e->releasing_seq = e->release_seq;
		}
	}
	pthread_mutex_unlock(&e->release_lock);
	for (size_t i = 0; i < e->cfg->n_pools && n < 256 && room > 0; i++) {
		struct pool *p = &e->pools[i];
		int w = p->cfg->max_workers - p->running;
		int tf = target_free(p->target);

		if (!p->has_work)
			continue;
		if (w > tf)
			w = tf;
		if (w > room)
			w = room;
		if (w <= 0)
			continue;
		names[n] = p->cfg->name;
		max[n] = p->cfg->max_workers;
		want[n] = w;
		running[n] = p->running;
		/* It has work again if the claim comes back full, or when a
		 * NOTIFY or a finished task says so. */
		p->claim_want = w;
		p->has_work = false;
		room -= w;
		n++;
	}
	if (n > 0 || e->n_releasing) {
		if (store_send_claim(e->control, e->instance, e->releasing, e->n_releasing,
				     names, max, want, running, n) == 0) {
			e->op = OP_CLAIM;
			e->last_op = OP_CLAIM;
			ctl_flush(e);
		}
		return;
	}
	e->last_op = OP_PROGRESS;
	if (ctl_send_progress(e, now, stopping))
		return;
	if (!stopping && now >= e->next_housekeeping_ms) {
		if (store_send_housekeeping(e->control, e->cfg->retention_ms) == 0) {
			e->op = OP_HOUSEKEEPING;
			ctl_flush(e);
		}
		e->next_housekeeping_ms = now + HOUSEKEEPING_MS;
	}
}

static struct pool *find_pool(struct executor *e, const char *name)
{
	for (size_t i = 0; i < e->cfg->n_pools; i++)
		if (strcmp(e->pools[i].cfg->name, name) == 0)
			return &e->pools[i];
	return NULL;
}

struct claim_order {
	int64_t id;
	int row;
};

static int claim_order_cmp(const void *a, const void *b)
{
	const struct claim_order *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static void claimed_tasks(struct executor *e, PGresult *res)
{
	int n = PQntuples(res);
	struct claim_order *order = n ? malloc(sizeof(*order) * (size_t)n) : NULL;
	int got_per_pool[256] = { 0 };

	if (n && !order) {
		log_error("out of memory taking claimed tasks");
		return;
	}
	/* Start them in submission order. */
	for (int i = 0; i < n; i++) {
		struct claimed cl;

		store_parse_claimed(res, i, &cl);
		order[i].id = cl.id;
		order[i].row = i;
	}
	if (n > 1)
		qsort(order, (size_t)n, sizeof(*order), claim_order_cmp);
	for (int i = 0; i < n; i++) {
		struct claimed cl;
		struct task *t;
		struct pool *p;

		store_parse_claimed(res, order[i].row, &cl);
		p = find_pool(e, cl.pool);
		t = calloc(1, sizeof(*t));
		if (!p || !t) {
			free(t);
			log_error("claimed task %lld of unknown pool %s", (long long)cl.id, cl.pool);
			continue;
		}
		got_per_pool[p - e->pools]++;
		t->id = cl.id;
		t->pool = p;
		t->final_state = -1;
		t->name = strdup(cl.name);
		t->query = malloc(cl.query_len + 1);
		t->out[STREAM_LOG].base = cl.log_size;
		t->next = e->tasks;
		e->tasks = t;
		p->running++;
		e->running++;
		t->phase = PHASE_CONNECT;
		t->started_mono_ms = mono_ms();
		if (!t->name || !t->query) {
			task_fail(e, t, "pgqfs: out of memory\n");
			continue;
		}
		memcpy(t->query, cl.query, cl.query_len);
		t->query[cl.query_len] = '\0';
		t->query_len = cl.query_len;
		if (sql_split(t->query, t->query_len, true, &t->stmts, &t->n_stmts) < 0) {
			task_fail(e, t, "pgqfs: out of memory\n");
			continue;
		}
		task_assign(e, t);
	}
	free(order);
	/* A pool that gave all we asked may have more. */
	for (size_t i = 0; i < e->cfg->n_pools && i < 256; i++)
		if (e->pools[i].claim_want > 0 && got_per_pool[i] >= e->pools[i].claim_want)
			e->pools[i].has_work = true;
	for (size_t i = 0; i < e->cfg->n_pools; i++)
		e->pools[i].claim_want = 0;
}

/*
 * Finished tasks "id:state,id:state", from a progress result or a NOTIFY.
 * Any task finishing may free room in a pool shared with other daemons.
 */
static void report_finished(struct executor *e, const char *list)
{
	int64_t ids[512];
	enum task_state states[512];
	size_t n = 0;

	for (size_t i = 0; i < e->cfg->n_pools; i++)
		e->pools[i].has_work = true;
	while (list && *list) {
		char *end, word[16];
		long long v = strtoll(list, &end, 10);
		size_t k = 0;
		int st;

		if (end == list || *end != ':')
			break;
		list = end + 1;
		while (*list && *list != ',' && k < sizeof(word) - 1)
			word[k++] = *list++;
		word[k] = '\0';
		st = task_state_parse(word);
		if (st >= 0) {
			ids[n] = v;
			states[n++] = (enum task_state)st;
		}
		if (n == sizeof(ids) / sizeof(ids[0])) {
			e->on_finished(e->on_finished_arg, ids, states, n);
			n = 0;
		}
		if (*list == ',')
			list++;
	}
	if (n)
		e->on_finished(e->on_finished_arg, ids, states, n);
}

static void progress_stored(struct executor *e, PGresult *res)
{
	struct task **pp = &e->tasks;

	/* Finished tasks whose end is now committed are gone from memory. */
	while (*pp) {
		struct task *t = *pp;

		if (t->final_sent) {
			*pp = t->next;
			/* Its slot is free once its end is on record, so that
			 * the control database never shows more running than a
			 * pool allows (stats, other daemons' claims). */
			t->pool->running--;
			e->running--;
			task_free(t);
		} else {
			pp = &t->next;
		}
	}
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		report_finished(e, PQgetvalue(res, 0, 0));
}

static void ctl_lost(struct executor *e);

static void ctl_result(struct executor *e, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_TUPLES_OK) {
		log_error("control database: %s", PQresultErrorMessage(res));
		if (e->op == OP_PROGRESS || e->op == OP_CLAIM)
			ctl_lost(e);
		return;
	}
	switch (e->op) {
	case OP_PROGRESS:
		progress_stored(e, res);
		break;
	case OP_CLAIM:
		/* They are claimed or queued now: no longer staged. */
		atomic_store(&e->settled_seq, e->releasing_seq);
		e->n_releasing = 0;
		e->n_claims++;
		e->n_claimed += (uint64_t)PQntuples(res);
		claimed_tasks(e, res);
		break;
	case OP_RECOVER: {
		long long failed = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		long long requeued = strtoll(PQgetvalue(res, 0, 1), NULL, 10);


		if (failed || requeued)
			log_warn("a daemon sharing the queue stopped: %lld of its running tasks "
				 "marked failed (outcome unknown), %lld staged tasks queued",
				 failed, requeued);
		e->next_recover_ms = mono_ms() + RECOVER_MS;
		break;
	}
	case OP_HOUSEKEEPING: {
		long long n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);

		if (n)
			log_info("removed %lld finished tasks older than the retention", n);
		break;
	}
	case OP_NONE:
		break;
	}
}

static void ctl_notifies(struct executor *e)
{
	PGnotify *n;

	while ((n = PQnotifies(e->control))) {
		size_t sl = strlen(e->cfg->schema);
		const char *suffix = strncmp(n->relname, e->cfg->schema, sl) == 0 ?
				     n->relname + sl : "";

		if (strcmp(suffix, STORE_CHANNEL_QUEUE) == 0) {
			struct pool *p = n->extra[0] ? find_pool(e, n->extra) : NULL;

			if (p) {
				p->has_work = true;
			} else {
				for (size_t i = 0; i < e->cfg->n_pools; i++)
					e->pools[i].has_work = true;
			}
		} else if (strcmp(suffix, STORE_CHANNEL_DONE) == 0) {
			report_finished(e, n->extra);
		}
		PQfreemem(n);
	}
}

void ctl_event(struct executor *e, short revents)
{
	if ((revents & POLLOUT) && e->ctl_want_write)
		ctl_flush(e);
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	if (!PQconsumeInput(e->control)) {
		log_error("lost the control connection: %s", PQerrorMessage(e->control));
		ctl_lost(e);
		return;
	}
	while (e->op != OP_NONE && !PQisBusy(e->control)) {
		PGresult *res = PQgetResult(e->control);

		if (!res) {
			e->op = OP_NONE;
			break;
		}
		ctl_result(e, res);
		PQclear(res);
		if (!e->control)
			return;
	}
	ctl_notifies(e);
}

int ctl_setup(struct executor *e)
{
	if (store_listen(e->control, e->cfg) < 0)
		return -EIO;
	if (store_prepare(e->control) < 0 || PQsetnonblocking(e->control, 1) < 0)
		return -EIO;
	e->op = OP_NONE;
	e->next_recover_ms = 0;
	for (size_t i = 0; i < e->cfg->n_pools; i++)
		e->pools[i].has_work = true;
	return 0;
}

/*
 * The control connection is gone, and with it the advisory lock that said
 * this daemon is alive: another daemon may already have failed our running
 * tasks.  Cancel them and record nothing; then register anew.
 */
static void ctl_lost(struct executor *e)
{
	int64_t delay = 100;

	for (struct task *t = e->tasks; t; t = t->next) {
		if (t->conn && t->conn->pg) {
			PGcancel *cancel = PQgetCancel(t->conn->pg);
			char err[256];

			if (cancel) {
				(void)PQcancel(cancel, err, sizeof(err));
				PQfreeCancel(cancel);
			}
			t->conn->task = NULL;
			t->conn->state = CONN_BROKEN;
			t->conn = NULL;
		}
	}
	while (e->tasks) {
		struct task *t = e->tasks;

		e->tasks = t->next;
		t->pool->running--;
		e->running--;
		task_free(t);
	}
	PQfinish(e->control);
	e->control = NULL;
	e->op = OP_NONE;
	while (!atomic_load(&e->stopping)) {
		struct timespec ts = { delay / 1000, (delay % 1000) * 1000000 };

		e->control = store_connect(e->cfg, "pgqfs executor");
		if (e->control && store_register(e->control, e->cfg, &e->instance) == 0 &&
		    ctl_setup(e) == 0) {
			store_set_instance(e->store, e->instance);
			log_info("reconnected to the control database as instance %lld",
				 (long long)e->instance);
			return;
		}
		PQfinish(e->control);
		e->control = NULL;
		nanosleep(&ts, NULL);
		if (delay < 5000)
			delay *= 2;
	}
}
