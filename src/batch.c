/*
 * The progress batch (see control.c): what of the running tasks goes to
 * the control database next (output chunks, starts, where they are,
 * ends), the orphans of a claim that could not be taken, and what a
 * committed batch lets go of.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "executor_internal.h"
#include "log.h"
#include "store.h"

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
			if (n > CHUNK_WRITE)
				n = CHUNK_WRITE;
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
		u.submitted_us = t->submitted_us;
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
	static const char no_memory[] = "pgqfs: out of memory when this task was claimed\n";
	static const char no_pool[] = "pgqfs: claimed for a pool this daemon does not have\n";

	while (e->orphans_batched < e->n_orphans && *finals < 400) {
		const struct orphan *o = &e->orphans[e->orphans_batched];
		struct task_update u;

		memset(&u, 0, sizeof(u));
		u.id = o->id;
		u.log_size = o->log_size;
		u.state = TASK_FAILED;
		u.finished_us = wall_us();
		u.rows = -1;
		u.error = o->no_pool ? no_pool : no_memory;
		u.error_len = strlen(u.error);
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
bool ctl_build_progress(struct executor *e, int64_t now, bool stopping)
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
int reserve_orphans(struct executor *e, size_t more)
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

void add_orphan(struct executor *e, int64_t id, int64_t log_size, bool no_pool)
{
	if (e->n_orphans == e->cap_orphans) {
		/* The claim returned more than it was asked for. */
		log_error("task %lld claimed but not taken: it stays running until "
			  "this daemon stops", (long long)id);
		return;
	}
	e->orphans[e->n_orphans].id = id;
	e->orphans[e->n_orphans].log_size = log_size;
	e->orphans[e->n_orphans].no_pool = no_pool;
	e->n_orphans++;
}

/* Puts the most urgent statement on the idle control connection. */

/* A batch is committed; done: the ids it finished ("id:state,..."), or NULL. */
void progress_stored(struct executor *e, const char *done)
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
	free(e->own_done);
	e->own_done = done ? strdup(done) : NULL;
	if (done)
		report_finished(e, done, true);
}
