#include "executor.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "executor_internal.h"
#include "format.h"
#include "log.h"
#include "split.h"

/* ------------------------------------------------------------------ */
/* the control connection                                              */

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

static bool batch_add_task(struct executor *e, struct task *t, int64_t now, bool partial_due)
{
	struct task_update u;
	bool final = t->phase == PHASE_FINISHED;
	bool full = t->out[STREAM_RESULT].pending.len >= CHUNK_MAX ||
		    t->out[STREAM_LOG].pending.len >= CHUNK_MAX;
	bool has_output = t->out[0].pending.len || t->out[1].pending.len;

	bool start_due = t->start_unsent && now - t->started_mono_ms >= START_FLUSH_MS;

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

			if (n > CHUNK_MAX)
				n = CHUNK_MAX;
			if (progress_add_chunk(e->batch, t->id, (enum task_stream)s,
					       o->base + (int64_t)done, o->pending.data + done, n) < 0)
				return false;
			done += n;
		}
		o->base += (int64_t)o->pending.len;
		o->pending.len = 0;
	}
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
	t->first_unsent_ms = 0;
	return progress_add_update(e->batch, &u) == 0;
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
static void ctl_next(struct executor *e)
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
		if (sql_split(t->query, t->query_len, &t->stmts, &t->n_stmts) < 0) {
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

static void ctl_event(struct executor *e, short revents)
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

static int ctl_setup(struct executor *e)
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

/* ------------------------------------------------------------------ */
/* the loop                                                            */

/* When (monotonic ms) t runs past its pool's timeout; -1: never. */
static int64_t task_timeout_due(const struct task *t)
{
	if (!t->pool->cfg->timeout_ms || t->timed_out || !t->started_mono_ms ||
	    (t->phase != PHASE_SETUP && t->phase != PHASE_STMT))
		return -1;
	return t->started_mono_ms + (int64_t)t->pool->cfg->timeout_ms;
}

/* Cancels the tasks that ran past their pool's timeout. */
static void check_timeouts(struct executor *e, int64_t now)
{
	for (struct task *t = e->tasks; t; t = t->next) {
		int64_t due = task_timeout_due(t);
		PGcancel *cancel;
		char err[256];

		if (due < 0 || now < due || !t->conn)
			continue;
		t->timed_out = true;
		task_log(t, "timed out after %llu ms: cancelling",
			 (unsigned long long)t->pool->cfg->timeout_ms);
		cancel = PQgetCancel(t->conn->pg);
		if (!cancel || !PQcancel(cancel, err, sizeof(err)))
			log_warn("cannot cancel task %lld: %s", (long long)t->id,
				 cancel ? err : "out of memory");
		if (cancel)
			PQfreeCancel(cancel);
	}
}

static void cancel_all(struct executor *e)
{
	for (struct task *t = e->tasks; t; t = t->next) {
		if (t->conn && t->phase != PHASE_FINISHED) {
			PGcancel *cancel = PQgetCancel(t->conn->pg);
			char err[256];

			task_log(t, "cancelling: the daemon is stopping");
			if (cancel) {
				if (!PQcancel(cancel, err, sizeof(err)))
					log_warn("cannot cancel task %lld: %s", (long long)t->id, err);
				PQfreeCancel(cancel);
			}
		} else if (t->phase == PHASE_CONNECT) {
			task_fail(e, t, "pgqfs: the daemon stopped before this task started\n");
		}
	}
	e->cancels_sent = true;
}

static bool work_left(const struct executor *e)
{
	return e->tasks != NULL || e->op != OP_NONE;
}

static void *executor_main(void *arg)
{
	struct executor *e = arg;
	struct pollfd *fds = NULL;
	struct conn **fd_conn = NULL;
	size_t cap = 0;

	for (;;) {
		size_t nfds = 0, total = 2;
		int64_t now = mono_ms();
		int timeout = -1;
		bool stopping = atomic_load(&e->stopping);

		if (stopping) {
			if (!e->cancels_sent) {
				cancel_all(e);
				e->stop_deadline_ms = now + STOP_GRACE_MS;
			}
			if (!work_left(e) || !e->control || now >= e->stop_deadline_ms)
				break;
		}
		reap_conns(e);
		check_timeouts(e, now);
		if (e->control)
			ctl_next(e);

		for (size_t i = 0; i < e->cfg->n_targets; i++)
			total += e->targets[i].n_conns;
		if (total > cap) {
			struct pollfd *nf = realloc(fds, total * sizeof(*fds));
			struct conn **nc = nf ? realloc(fd_conn, total * sizeof(*nc)) : NULL;

			if (nf)
				fds = nf;
			if (nc)
				fd_conn = nc;
			if (!nf || !nc) {
				log_error("out of memory in the executor");
				break;
			}
			cap = total;
		}
		fds[nfds].fd = e->wake_fd;
		fds[nfds].events = POLLIN;
		fd_conn[nfds++] = NULL;
		/* Slot 1 is the control connection, or nothing while it is down. */
		fds[nfds].fd = e->control ? PQsocket(e->control) : -1;
		fds[nfds].events = POLLIN | (e->ctl_want_write ? POLLOUT : 0);
		fd_conn[nfds++] = NULL;
		for (size_t i = 0; i < e->cfg->n_targets; i++) {
			struct target *tg = &e->targets[i];

			for (size_t j = 0; j < tg->n_conns; j++) {
				struct conn *c = tg->conns[j];
				short ev = 0;

				if (c->state == CONN_BROKEN || PQsocket(c->pg) < 0)
					continue;
				if (c->state == CONN_CONNECTING) {
					ev = c->poll == PGRES_POLLING_READING ? POLLIN : POLLOUT;
				} else {
					bool paused = c->task &&
						c->task->out[STREAM_RESULT].pending.len >= PENDING_MAX;

					ev = paused ? 0 : POLLIN;
					if (c->want_write)
						ev |= POLLOUT;
				}
				fds[nfds].fd = PQsocket(c->pg);
				fds[nfds].events = ev;
				fd_conn[nfds++] = c;
			}
		}
		/* Timers: partial output, liveness checks, housekeeping. */
		for (struct task *t = e->tasks; t; t = t->next) {
			int64_t due = task_flush_due(t);
			int64_t tdue = task_timeout_due(t);

			if (due < 0 || (tdue >= 0 && tdue < due))
				due = tdue;
			if (due >= 0 && (timeout < 0 || due - now < timeout))
				timeout = due <= now ? 0 : (int)(due - now > INT_MAX ? INT_MAX : due - now);
		}
		if (e->control && e->op == OP_NONE) {
			int64_t next = e->next_recover_ms < e->next_housekeeping_ms ?
				       e->next_recover_ms : e->next_housekeeping_ms;
			int64_t d = next - now;

			if (timeout < 0 || d < timeout)
				timeout = d < 0 ? 0 : (int)(d > 3600000 ? 3600000 : d);
		}
		if (stopping) {
			int64_t d = e->stop_deadline_ms - now;

			if (timeout < 0 || d < timeout)
				timeout = d < 0 ? 0 : (int)d;
		}

		if (poll(fds, nfds, timeout) < 0) {
			if (errno == EINTR)
				continue;
			log_error("poll: %s", strerror(errno));
			break;
		}
		if (fds[0].revents & POLLIN) {
			uint64_t v;

			if (read(e->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				log_warn("wake-up: %s", strerror(errno));
			for (size_t i = 0; i < e->cfg->n_pools; i++)
				e->pools[i].has_work = true;
		}
		if (e->control && fds[1].revents)
			ctl_event(e, fds[1].revents);
		for (size_t i = 2; i < nfds; i++) {
			struct conn *c = fd_conn[i];

			/* Busy connections are pumped every round: a task paused
			 * by back-pressure has input waiting in libpq. */
			if (c->state != CONN_BROKEN &&
			    (fds[i].revents || (c->task && c->state == CONN_BUSY)))
				conn_event(e, c, fds[i].revents);
		}
	}
	free(fds);
	free(fd_conn);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* life cycle                                                          */

int executor_create(const struct config *cfg, struct store *store, PGconn *control,
		    int64_t instance, executor_finished_fn *on_finished, void *arg,
		    struct executor **ret)
{
	struct executor *e = calloc(1, sizeof(*e));
	char host[256];

	if (!e)
		return -ENOMEM;
	e->cfg = cfg;
	e->store = store;
	e->control = control;
	e->instance = instance;
	e->on_finished = on_finished;
	e->on_finished_arg = arg;
	e->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&e->release_lock, NULL);
	e->targets = calloc(cfg->n_targets, sizeof(*e->targets));
	e->pools = calloc(cfg->n_pools, sizeof(*e->pools));
	e->batch = progress_create();
	if (gethostname(host, sizeof(host)) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(e->daemon, sizeof(e->daemon), "%s:%d", host, (int)getpid());
	if (e->wake_fd < 0 || !e->targets || !e->pools || !e->batch)
		goto fail;
	for (size_t i = 0; i < cfg->n_targets; i++) {
		e->targets[i].cfg = &cfg->targets[i];
		e->targets[i].conns = calloc((size_t)cfg->targets[i].max_workers,
					     sizeof(struct conn *));
		if (!e->targets[i].conns)
			goto fail;
	}
	for (size_t i = 0; i < cfg->n_pools; i++) {
		e->pools[i].cfg = &cfg->pools[i];
		e->pools[i].target = &e->targets[cfg->pools[i].target];
	}
	if (ctl_setup(e) < 0) {
		e->control = NULL;	/* the caller still owns it on failure */
		goto fail;
	}
	e->next_housekeeping_ms = 0;
	*ret = e;
	return 0;
fail:
	e->control = NULL;
	executor_destroy(e);
	return -ENOMEM;
}

int executor_start(struct executor *e)
{
	/* Warm connections: the first tasks should not wait for backends. */
	for (size_t i = 0; i < e->cfg->n_targets; i++) {
		struct target *tg = &e->targets[i];
		int want = 0;

		for (size_t p = 0; p < e->cfg->n_pools; p++)
			if (e->pools[p].target == tg)
				want += e->pools[p].cfg->max_workers;
		if (want > tg->cfg->max_workers)
			want = tg->cfg->max_workers;
		while ((int)tg->n_conns < want && target_add_conn(tg))
			;
	}
	if (pthread_create(&e->thread, NULL, executor_main, e) != 0)
		return -errno;
	e->thread_started = true;
	return 0;
}

bool executor_release_settled(struct executor *e, uint64_t seq)
{
	return atomic_load(&e->settled_seq) >= seq;
}

int executor_release(struct executor *e, int64_t id, uint64_t *ret_seq)
{
	int r = 0;

	pthread_mutex_lock(&e->release_lock);
	if (e->n_release == e->cap_release) {
		size_t cap = e->cap_release ? e->cap_release * 2 : 256;
		int64_t *p = realloc(e->release, cap * sizeof(*p));

		if (p) {
			e->release = p;
			e->cap_release = cap;
		} else {
			r = -ENOMEM;
		}
	}
	if (r == 0) {
		e->release[e->n_release++] = id;
		*ret_seq = ++e->release_seq;
	}
	pthread_mutex_unlock(&e->release_lock);
	if (r == 0)
		executor_wake(e);
	return r;
}

void executor_wake(struct executor *e)
{
	uint64_t one = 1;

	if (write(e->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("cannot wake the executor: %s", strerror(errno));
}

void executor_stop(struct executor *e)
{
	if (!e || !e->thread_started)
		return;
	atomic_store(&e->stopping, true);
	executor_wake(e);
	pthread_join(e->thread, NULL);
	e->thread_started = false;
	log_info("executor stopped: %llu tasks started in %llu claims, %llu progress statements",
		 (unsigned long long)atomic_load(&e->n_started), (unsigned long long)e->n_claims,
		 (unsigned long long)e->n_progress);
}

void executor_destroy(struct executor *e)
{
	if (!e)
		return;
	while (e->tasks) {
		struct task *t = e->tasks;

		e->tasks = t->next;
		task_free(t);
	}
	if (e->targets) {
		for (size_t i = 0; i < e->cfg->n_targets; i++) {
			for (size_t j = 0; j < e->targets[i].n_conns; j++)
				conn_free(e->targets[i].conns[j]);
			free(e->targets[i].conns);
		}
	}
	free(e->targets);
	free(e->pools);
	progress_destroy(e->batch);
	buf_finish(&e->stmt);
	PQfinish(e->control);
	free(e->release);
	free(e->releasing);
	pthread_mutex_destroy(&e->release_lock);
	if (e->wake_fd >= 0)
		close(e->wake_fd);
	free(e);
}

void executor_get_counters(struct executor *e, struct executor_counters *ret)
{
	ret->started = atomic_load(&e->n_started);
	ret->done = atomic_load(&e->n_done);
	ret->failed = atomic_load(&e->n_failed);
}
