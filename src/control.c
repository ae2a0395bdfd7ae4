/*
 * The control connection: one statement at a time (recover, claim,
 * progress, housekeeping), its results, NOTIFYs, and its loss.  Claimed
 * tasks are handed to run.c; their output goes back in progress batches.
 *
 * A statement that fails (a lock or statement timeout, a deadlock) rolled
 * back and is sent again after a back-off: a progress batch stays whole
 * until it is committed, a claim's releases stay for the next claim.  Only
 * a lost connection ends the instance; the new one is opened and set up
 * inside the event loop, never blocking it.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "executor_internal.h"
#include "log.h"
#include "store.h"

/* Microseconds on the monotonic clock: a statement's latency. */
static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int global_free(const struct executor *e)
{
	if (e->cfg->workers == 0)
		return 1 << 30;
	return e->cfg->workers - e->running;
}

void ctl_flush(struct executor *e)
{
	/* -1: the socket failed; the next read says the connection is lost. */
	int r = PQflush(e->control);

	e->ctl_want_write = r == 1;
}

static const char *op_name(enum ctl_op op)
{
	switch (op) {
	case OP_RECOVER:
		return "recover";
	case OP_CLAIM:
		return "claim";
	case OP_STEP:
		return "claim with progress";
	case OP_PROGRESS:
		return "progress";
	case OP_HOUSEKEEPING:
		return "housekeeping";
	case OP_SCHEDULE:
		return "schedules";
	case OP_NONE:
		break;
	}
	return "statement";
}

/* Waits the back-off before the next statement or attempt, and doubles it. */
int64_t ctl_back_off(struct executor *e)
{
	int64_t wait = e->ctl_backoff_ms < CTL_BACKOFF_MIN_MS ? CTL_BACKOFF_MIN_MS :
		       e->ctl_backoff_ms;

	e->ctl_retry_ms = mono_ms() + wait;
	timer_set(&e->ctl_retry_timer, e->ctl_retry_ms);
	e->ctl_backoff_ms = wait * 2 > CTL_BACKOFF_MAX_MS ? CTL_BACKOFF_MAX_MS : wait * 2;
	return wait;
}

/*
 * Statement `op` failed or could not be sent.  Its transaction rolled
 * back, so nothing of it happened: unless the connection is gone it is
 * tried again after a back-off, with the same batch or releases.
 */
static void ctl_failed(struct executor *e, enum ctl_op op, const char *why)
{
	int len = (int)strlen(why);
	int64_t wait;

	if (PQstatus(e->control) == CONNECTION_BAD) {
		log_error("lost the control connection: %s", why);
		ctl_lost(e);
		return;
	}
	while (len > 0 && why[len - 1] == '\n')
		len--;
	switch (op) {
	case OP_CLAIM:
	case OP_STEP:
		/* Nothing was claimed: the pools still have their work (and a
		 * step's batch is sent again as it is). */
		for (size_t i = 0; i < e->cfg->n_pools; i++) {
			if (e->pools[i].claim_want > 0)
				e->pools[i].has_work = true;
			e->pools[i].claim_want = 0;
		}
		break;
	case OP_RECOVER:
		/* At its usual pace: claims and progress go on meanwhile. */
		ctl_recover_at(e, mono_ms() + RECOVER_MS);
		break;
	default:
		break;
	}
	wait = ctl_back_off(e);
	log_warn("control database: %s failed, trying again in %lld ms: %.*s", op_name(op),
		 (long long)wait, len, why);
}

/* Puts statement `op` in flight, or fails it when store_send_*() did. */
static bool ctl_sent(struct executor *e, enum ctl_op op, int r)
{
	if (r < 0) {
		ctl_failed(e, op, r == -ENOMEM ? "out of memory" : PQerrorMessage(e->control));
		return false;
	}
	e->op = op;
	e->ctl_sent_us = mono_us();
	ctl_flush(e);
	return true;
}

/* Adds a task's output and state to the batch; false when it is full. */
static bool batch_add_task(struct executor *e, struct task *t, int64_t now, bool partial_due)
{
	struct task_update u;
	bool final = t->phase == PHASE_FINISHED;
	bool full = t->out[STREAM_RESULT].pending.len >= CHUNK_MAX ||
		    t->out[STREAM_LOG].pending.len >= CHUNK_MAX ||
		    t->out[STREAM_JSON].pending.len >= CHUNK_MAX;
	bool has_output = t->out[0].pending.len || t->out[1].pending.len ||
			  t->out[2].pending.len;

	bool start_due = t->start_unsent && now - t->started_mono_ms >= START_FLUSH_MS;
	bool rest = false;	/* output left for the next batch */

	if (t->final_sent)
		return true;
	if (!final && !start_due && !full && !(partial_due && (has_output || t->where_unsent)))
		return true;
	if (progress_bytes(e->batch) >= BATCH_BYTES)
		return false;
	for (int s = 0; s < N_STREAMS; s++) {
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
	u.json_size = t->out[STREAM_JSON].base;
	u.state = -1;
	u.rows = -1;
	if (t->n_stmts > 0 && t->phase != PHASE_CONNECT) {
		u.stmt = (int)(t->cur < t->n_stmts ? t->cur + 1 : t->n_stmts);
		u.n_stmts = (int)t->n_stmts;
		u.rows_now = t->rows;
	}
	t->where_unsent = false;
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
		u.retry_at_us = t->retry_at_us;
		u.finished_us = t->finished_us;
		u.rows = t->rows;
		u.error = t->error.len ? t->error.data : NULL;
		u.error_len = t->error.len;
		u.truncate = t->truncate;
		t->final_sent = true;
	}
	if (!rest)
		t->first_unsent_ms = 0;
	task_flush_rearm(t);
	return progress_add_update(e->batch, &u) == 0 && !rest;
}

static bool partial_due(const struct executor *e, int64_t now)
{
	for (const struct task *t = e->tasks; t; t = t->next)
		if (t->first_unsent_ms && now - t->first_unsent_ms >= PARTIAL_FLUSH_MS)
			return true;
	return false;
}

/* Adds the end of the orphans (tasks claimed but not taken) to the batch. */
static void batch_add_orphans(struct executor *e, int *finals)
{
	static const char error[] = "pgqfs: out of memory when this task was claimed\n";

	while (e->orphans_batched < e->n_orphans && *finals < 400) {
		const struct orphan *o = &e->orphans[e->orphans_batched];
		struct task_update u;

		memset(&u, 0, sizeof(u));
		u.id = o->id;
		u.log_size = o->log_size;
		u.state = TASK_FAILED;
		u.finished_us = wall_us();
		u.rows = -1;
		u.error = error;
		u.error_len = sizeof(error) - 1;
		if (progress_add_update(e->batch, &u) < 0)
			return;
		e->orphans_batched++;
		(*finals)++;
	}
}

/*
 * Builds a progress batch if any task has something to store (or keeps
 * the one not yet committed); true if there is one.  The batch moves the
 * tasks' output and state out of them: it is kept, and sent again as it
 * is, until a statement committed it.
 */
static bool ctl_build_progress(struct executor *e, int64_t now, bool stopping)
{
	if (!e->batch_unsent) {
		bool due = partial_due(e, now) || stopping;
		int finals = 0;

		progress_reset(e->batch);
		e->orphans_batched = 0;
		batch_add_orphans(e, &finals);
		/* NOTIFY payloads hold 8000 bytes: at most 400 "id:state"s. */
		for (struct task *t = e->tasks; t && finals < 400; t = t->next) {
			if (t->phase == PHASE_FINISHED && !t->final_sent)
				finals++;
			if (!batch_add_task(e, t, now, due))
				break;
		}
		if (progress_empty(e->batch))
			return false;
		e->batch_unsent = true;
	}
	return true;
}

/* Room for as many orphans as the claim may return: taking a claimed task
 * must not need memory that may be missing. */
static int reserve_orphans(struct executor *e, size_t more)
{
	size_t need = e->n_orphans + more;
	struct orphan *p;

	if (need <= e->cap_orphans)
		return 0;
	p = realloc(e->orphans, need * sizeof(*p));
	if (!p)
		return -ENOMEM;
	e->orphans = p;
	e->cap_orphans = need;
	return 0;
}

static void add_orphan(struct executor *e, int64_t id, int64_t log_size)
{
	if (e->n_orphans == e->cap_orphans) {
		/* The claim returned more than it was asked for. */
		log_error("task %lld claimed but not taken: it stays running until "
			  "this daemon stops", (long long)id);
		return;
	}
	e->orphans[e->n_orphans].id = id;
	e->orphans[e->n_orphans].log_size = log_size;
	e->n_orphans++;
}

/* Puts the most urgent statement on the idle control connection. */
void ctl_next(struct executor *e)
{
	int64_t now = mono_ms();
	bool stopping = atomic_load(&e->stopping);
	const char *names[256];
	int max[256], want[256], running[256];
	size_t n = 0;
	int room = stopping || atomic_load(&e->draining) ? 0 : global_free(e);
	int sum_want = 0, freed = 0;
	bool batch;

	switch (e->ctl_state) {
	case CTL_DOWN:
		if (!stopping && now >= e->ctl_retry_ms)
			ctl_connect_start(e, now);
		return;
	case CTL_CONNECTING:
	case CTL_SETUP:
		return;		/* its deadline is a timer */
	case CTL_UP:
		break;
	}
	if (e->op != OP_NONE || now < e->ctl_retry_ms)
		return;
	/* Recovery first: at start it decides what the old instance left. */
	if (now >= e->next_recover_ms) {
		(void)ctl_sent(e, OP_RECOVER, store_send_recover(e->control, e->instance));
		return;
	}
	/* A schedule's tick: one statement per tick at most. */
	if (sched_due(e, now)) {
		(void)ctl_sent(e, OP_SCHEDULE, sched_send(e, now));
		return;
	}
	/*
	 * A batch goes with the claim, in one statement and one commit
	 * (step()): the slots of the tasks it ends are free for the claim.
	 */
	batch = ctl_build_progress(e, now, stopping);
	for (size_t i = 0; i < e->n_pools; i++)
		e->pools[i].batch_freed = 0;
	for (struct task *t = e->tasks; batch && t; t = t->next)
		if (t->final_sent) {
			t->pool->batch_freed++;
			freed++;
		}
	if (!stopping && !atomic_load(&e->draining))
		room += freed;

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
		int held = p->running - p->batch_freed;
		int w = p->live_max - held;
		int tf = target_free(p->target);

		if (!p->has_work)
			continue;
		if (w > tf)
			w = tf;
		if (w > room)
			w = room;
		/* A paused pool, or one at its limit, is still asked about
		 * (for nothing): its settings may have changed. */
		if (w < 0 || p->paused)
			w = 0;
		names[n] = p->cfg->name;
		max[n] = p->cfg->max_workers;
		want[n] = w;
		running[n] = held;
		/* It has work again if the claim comes back full, or when a
		 * NOTIFY or a finished task says so. */
		p->claim_want = w;
		p->has_work = false;
		room -= w;
		sum_want += w;
		n++;
	}
	if (n > 0 || e->n_releasing) {
		int r = reserve_orphans(e, (size_t)sum_want);

		if (r == 0 && batch)
			r = store_send_step(e->control, e->instance, e->batch, e->releasing,
					    e->n_releasing, names, max, want, running, n);
		else if (r == 0)
			r = store_send_claim(e->control, e->instance, e->releasing,
					     e->n_releasing, names, max, want, running, n);
		if (ctl_sent(e, batch ? OP_STEP : OP_CLAIM, r) && batch)
			e->n_progress++;
		return;
	}
	if (batch) {
		if (ctl_sent(e, OP_PROGRESS, store_send_progress(e->control, e->instance, e->batch)))
			e->n_progress++;
		return;
	}
	if (!stopping && now >= e->next_housekeeping_ms) {
		e->next_housekeeping_ms = now + HOUSEKEEPING_MS;
		timer_set(&e->housekeeping_timer, e->next_housekeeping_ms);
		(void)ctl_sent(e, OP_HOUSEKEEPING,
			       store_send_housekeeping(e->control, e->cfg->retention_ms));
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
	int priority;
	int64_t id;
	int row;
};

static int claim_order_cmp(const void *a, const void *b)
{
	const struct claim_order *x = a, *y = b;

	if (x->priority != y->priority)
		return (x->priority > y->priority) - (x->priority < y->priority);
	return (x->id > y->id) - (x->id < y->id);
}

void pool_hold_due(struct timer *tm, void *arg, int64_t now)
{
	struct pool *p = arg;

	(void)tm;
	(void)now;
	p->has_work = true;
}

/* What a claim learnt of pool p's settings and held tasks. */
static void pool_learnt(struct executor *e, struct pool *p, const struct claimed *cl)
{
	/* Asked for less than the limit allows now: ask again. */
	if (cl->pool_max > p->live_max || (p->paused && !cl->pool_paused))
		p->has_work = true;
	if (cl->pool_max != p->live_max)
		log_info("pool %s: max_workers is %d (across all daemons)",
			 LOG_ESCAPE(p->cfg->name), cl->pool_max);
	if (cl->pool_paused != p->paused)
		log_info("pool %s %s", LOG_ESCAPE(p->cfg->name),
			 cl->pool_paused ? "paused: it starts no task" : "resumed");
	p->live_max = cl->pool_max;
	p->paused = cl->pool_paused;
	if (cl->pool_next_us > 0) {
		/* In wall-clock time, which the server's clock_timestamp()
		 * compares; a millisecond late rather than early. */
		int64_t in_ms = (cl->pool_next_us - wall_us()) / 1000 + 1;

		timer_set(&p->hold_timer, mono_ms() + (in_ms > 0 ? in_ms : 0));
	} else {
		timer_cancel(&p->hold_timer);
	}
	(void)e;
}

static void claimed_tasks(struct executor *e, PGresult *res)
{
	int n = PQntuples(res);
	struct claim_order *order = n ? malloc(sizeof(*order) * (size_t)n) : NULL;
	int got_per_pool[256] = { 0 };

	if (n && !order) {
		log_error("out of memory taking %d claimed tasks: they fail", n);
		for (int i = 0; i < n; i++) {
			struct claimed cl;

			store_parse_claimed(res, i, &cl);
			if (!cl.pool_info && !cl.done_row)
				add_orphan(e, cl.id, cl.log_size);
		}
		goto out;
	}
	/* Start them in (priority, submission) order, as claimed. */
	for (int i = 0; i < n; i++) {
		struct claimed cl;

		store_parse_claimed(res, i, &cl);
		order[i].priority = cl.pool_info || cl.done_row ? INT_MIN : cl.priority;
		order[i].id = cl.id;
		order[i].row = i;
	}
	if (n > 1)
		qsort(order, (size_t)n, sizeof(*order), claim_order_cmp);
	for (int i = 0; i < n; i++) {
		struct claimed cl;
		struct task *t;
		struct pool *p;
		char err[256];

		store_parse_claimed(res, order[i].row, &cl);
		if (cl.done_row)
			continue;	/* step()'s: taken by ctl_result() */
		p = find_pool(e, cl.pool);
		if (cl.pool_info) {
			if (p)
				pool_learnt(e, p, &cl);
			continue;
		}
		t = calloc(1, sizeof(*t));
		if (!p || !t) {
			free(t);
			if (!p)
				log_error("claimed task %lld of unknown pool %s: it fails",
					  (long long)cl.id, LOG_ESCAPE(cl.pool));
			else
				log_error("out of memory taking claimed task %lld: it fails",
					  (long long)cl.id);
			add_orphan(e, cl.id, cl.log_size);
			continue;
		}
		got_per_pool[p - e->pools]++;
		t->id = cl.id;
		t->pool = p;
		t->uid = cl.uid;
		t->final_state = -1;
		t->name = strdup(cl.name);
		t->query = malloc(cl.query_len + 1);
		t->out[STREAM_LOG].base = cl.log_size;
		t->next = e->tasks;
		e->tasks = t;
		p->running++;
		e->running++;
		t->phase = PHASE_CONNECT;	/* its first phase, not a move */
		task_timers_init(e, t);
		t->started_mono_ms = mono_ms();
		if (!t->name || !t->query) {
			task_fail(e, t, "pgqfs: out of memory\n");
			continue;
		}
		memcpy(t->query, cl.query, cl.query_len);
		t->query[cl.query_len] = '\0';
		t->query_len = cl.query_len;
		t->attempt = cl.attempt;
		/* Checked when it was queued (a bad header fails it then); a
		 * task queued by an older pgqfs may still have one.  A
		 * schedule's run has its schedule's header, every= or cron=
		 * included: keys that a file of queue/ was refused for at
		 * its submission, so accepting them here changes nothing else. */
		if (header_parse(t->query, t->query_len, true, &t->opts, err, sizeof(err)) < 0) {
			task_options_init(&t->opts);
			task_fail(e, t, "pgqfs: not run: bad \"-- pgqfs:\" header: %s\n", err);
			continue;
		}
		t->timeout_ms = task_options_has(&t->opts, HEADER_TIMEOUT) ? t->opts.timeout_ms
									   : p->cfg->timeout_ms;
		/* Split in task_begin(), as the session reads strings. */
		task_assign(e, t);
	}
out:
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

/* A batch is committed; done: the ids it finished ("id:state,..."), or NULL. */
static void progress_stored(struct executor *e, const char *done)
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
	/* The orphans in it are on record too. */
	memmove(e->orphans, e->orphans + e->orphans_batched,
		(e->n_orphans - e->orphans_batched) * sizeof(*e->orphans));
	e->n_orphans -= e->orphans_batched;
	e->orphans_batched = 0;
	e->batch_unsent = false;
	if (done)
		report_finished(e, done);
}

static void ctl_result(struct executor *e, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	if (e->ctl_sent_us) {	/* the statement's first result */
		metrics_statement(e, e->op, mono_us() - e->ctl_sent_us);
		e->ctl_sent_us = 0;
	}
	if (st != PGRES_TUPLES_OK) {
		ctl_failed(e, e->op, PQresultErrorMessage(res));
		return;
	}
	e->ctl_backoff_ms = CTL_BACKOFF_MIN_MS;
	switch (e->op) {
	case OP_PROGRESS:
		progress_stored(e, PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) ?
				   PQgetvalue(res, 0, 0) : NULL);
		break;
	case OP_STEP: {
		const char *done = NULL;

		/* Its batch first: the ends it recorded freed the slots the
		 * claim filled. */
		for (int i = PQntuples(res) - 1; i >= 0; i--) {
			struct claimed cl;

			store_parse_claimed(res, i, &cl);
			if (cl.done_row) {
				done = cl.done;
				break;
			}
		}
		progress_stored(e, done);
	}
		/* fall through */
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
		ctl_recover_at(e, mono_ms() + RECOVER_MS);
		break;
	}
	case OP_HOUSEKEEPING: {
		long long n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);

		if (n)
			log_info("removed %lld finished tasks older than the retention", n);
		break;
	}
	case OP_SCHEDULE:
		sched_result(e, res);
		break;
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

		if (strcmp(suffix, STORE_CHANNEL_QUEUE) == 0 &&
		    strcmp(n->extra, STORE_SCHEDULES_PAYLOAD) == 0) {
			sched_changed(e);
		} else if (strcmp(suffix, STORE_CHANNEL_QUEUE) == 0) {
			struct pool *p = n->extra[0] ? find_pool(e, n->extra) : NULL;

			if (p) {
				p->has_work = true;
			} else {
				for (size_t i = 0; i < e->cfg->n_pools; i++)
					e->pools[i].has_work = true;
			}
		} else if (strcmp(suffix, STORE_CHANNEL_DONE) == 0) {
			report_finished(e, n->extra);
		} else if (strcmp(suffix, STORE_CHANNEL_CANCEL) == 0) {
			char *end;
			long long id = strtoll(n->extra, &end, 10);
			unsigned long uid = *end == ':' ? strtoul(end + 1, NULL, 10) : 0;

			for (struct task *t = e->tasks; t; t = t->next)
				if (t->id == id)
					task_cancel_by(e, t, (uint32_t)uid);
		}
		PQfreemem(n);
	}
}

void ctl_recover_at(struct executor *e, int64_t when)
{
	e->next_recover_ms = when;
	timer_set(&e->recover_timer, when);
}

/* A connect or set-up attempt took too long. */
static void ctl_attempt_timed_out(struct timer *tm, void *arg, int64_t now)
{
	struct executor *e = arg;

	(void)tm;
	(void)now;
	if (e->ctl_state == CTL_CONNECTING || e->ctl_state == CTL_SETUP)
		ctl_attempt_failed(e, "timed out\n");
}

/*
 * Recover, housekeeping and the end of a back-off only wake the loop:
 * ctl_next() runs every round and sends, one at a time, what is due.  A
 * statement in flight holds them back until its result comes (on the
 * socket): a timer that fired meanwhile is not armed again, so nothing
 * spins.
 */
void ctl_timers_init(struct executor *e)
{
	timer_init(&e->ctl_retry_timer, &e->timers, timer_wake, e);
	timer_init(&e->ctl_deadline_timer, &e->timers, ctl_attempt_timed_out, e);
	timer_init(&e->recover_timer, &e->timers, timer_wake, e);
	timer_init(&e->housekeeping_timer, &e->timers, timer_wake, e);
	sched_init(e);
}

void ctl_event(struct executor *e, short revents)
{
	if (e->ctl_state == CTL_CONNECTING) {
		ctl_connect_poll(e);
		return;
	}
	if ((revents & POLLOUT) && e->ctl_want_write)
		ctl_flush(e);
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	if (!PQconsumeInput(e->control)) {
		if (e->ctl_state == CTL_SETUP) {
			ctl_attempt_failed(e, PQerrorMessage(e->control));
			return;
		}
		log_error("lost the control connection: %s", PQerrorMessage(e->control));
		ctl_lost(e);
		return;
	}
	if (e->ctl_state == CTL_SETUP) {
		ctl_setup_results(e);
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
