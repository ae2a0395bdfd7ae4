/*
 * A step's gathering under load: whether the executor's next step waits
 * for more ends and releases to share its statement (control.c asks).
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

#include "clock.h"
#include "executor_internal.h"
#include "timer.h"

/*
 * Under load a step gathers: ends and releases wait up to GATHER_MS,
 * counted from the oldest of them, for more to share their statement and
 * commit, unless GATHER_MAX of them are waiting.  Most of a step's cost
 * on the control database is per statement: with a step for every three
 * files (8 writers, 5,000 files), the executor's backend spent 230-280 us
 * of CPU a file, more than the staging that the writers wait for; with
 * steps gathered 6 ms, 130-150 us, and the files went 5-20% faster; 12 ms
 * was faster again than 6 in 5 of 5 pairs, 20 ms no faster than 12.  A
 * release counts from its staging's commit (0 when not known: it does not
 * wait).
 *
 * Never when waiting costs more than a late record:
 *  - on an idle connection (nothing answered within GATHER_MS): a pickup,
 *    the first step of a wave of ends;
 *  - while a `wait` reader is parked on the mount (scripts that wait for
 *    their tasks: a wait would lengthen each one's turn), and when ends
 *    and releases come one at a time (one waiting, one in the last step:
 *    such a script on another daemon's mount, or one that polls);
 *  - when an end frees a slot that queued work may wait for: its pool at
 *    its limit, its target's connections or the daemon's workers all
 *    taken, counting the ended tasks as they were before their ends (the
 *    hand-off of a full pool).  The other daemons' tasks in the pool are
 *    not known here: a slot that they make full waits GATHER_MS at most;
 *  - when a task's output waits for a batch (a chunk's worth or more):
 *    past PENDING_MAX its connection is no longer read.
 */
#define GATHER_MS 12
#define GATHER_MAX 128

/* Ended tasks of tg whose ends are not yet in a statement: their
 * connections are free, but a full target's queued work waits for the
 * step that records them. */
static int ended_on(const struct executor *e, const struct target *tg)
{
	int n = 0;

	for (const struct task *t = e->tasks; t; t = t->next)
		n += t->phase == PHASE_FINISHED && !t->final_sent && t->pool->target == tg;
	return n;
}

bool gather_wait(struct executor *e, int64_t now, bool stopping)
{
	int64_t oldest = INT64_MAX, now_us, due_us;
	const struct target *checked = NULL;
	size_t pending = 0;

	if (stopping || atomic_load(&e->draining) || e->batch_unsent || e->n_releasing ||
	    now - e->ctl_answered_ms >= GATHER_MS || atomic_load(&e->n_waiters) > 0)
		return false;
	if (e->cfg->workers > 0 && e->running >= e->cfg->workers)
		return false;
	for (const struct task *t = e->tasks; t; t = t->next) {
		for (int s = 0; s < N_STREAMS; s++)
			if (t->out[s].pending.len >= CHUNK_MAX)
				return false;
		if (t->phase != PHASE_FINISHED || t->final_sent)
			continue;
		if (t->pool->running >= t->pool->live_max)
			return false;
		pending++;
		if (t->finished_us < oldest)
			oldest = t->finished_us;
	}
	pthread_mutex_lock(&e->release_lock);
	pending += e->n_release;
	for (size_t i = 0; i < e->n_release; i++)
		if (e->release[i].committed_us < oldest)
			oldest = e->release[i].committed_us;
	pthread_mutex_unlock(&e->release_lock);
	/* One end or release, and one in the last step: nothing comes
	 * faster than steps go (a script that waits for each task before it
	 * submits the next), and a wait would only slow it down. */
	if (pending == 0 || pending >= GATHER_MAX || (pending < 2 && e->step_items < 2))
		return false;
	/* Wall-clock stamps: a clock step changes no wait beyond GATHER_MS. */
	now_us = wall_us();
	due_us = oldest + GATHER_MS * 1000;
	if (due_us <= now_us)
		return false;
	if (due_us > now_us + GATHER_MS * 1000)
		due_us = now_us + GATHER_MS * 1000;
	/* Last, as it walks the tasks and connections again: each target
	 * once in a row (the ends of one target usually follow each other). */
	for (const struct task *t = e->tasks; t; t = t->next) {
		const struct target *tg = t->pool->target;

		if (t->phase != PHASE_FINISHED || t->final_sent || tg == checked)
			continue;
		if (target_free(tg) <= ended_on(e, tg))
			return false;
		checked = tg;
	}
	timer_set(&e->gather_timer, now + (due_us - now_us + 999) / 1000);
	e->gathering = true;
	return true;
}
