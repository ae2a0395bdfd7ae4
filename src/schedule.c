/*
 * Firing schedules (DESIGN.md, "Schedules"): the executor's side.
 *
 * Each answer of fire_schedules() gives the earliest schedules of this
 * daemon's pools with their next tick and the database's clock; a timer
 * waits for the earliest.  When ticks are due the daemon computes each
 * one's next tick (the first strictly after now: missed ticks are not made
 * up) and sends them; the database moves a schedule and submits its run
 * only if no other daemon moved it first (schema_v4_schedules.sql.h), so
 * each tick fires once however many daemons share the control database.
 * Ticks are judged by the database's clock, which all daemons share.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cron.h"
#include "executor_internal.h"
#include "log.h"
#include "store.h"

/* Between two statements at least this: a tick another daemon holds (its
 * transaction not yet committed) is asked about again, not spun on; up to
 * the most while the ticks sent are still not taken. */
#define SCHED_MIN_GAP_MS 100
#define SCHED_MAX_GAP_MS 5000
/* A schedule is read again at least this often (a NOTIFY lost with a
 * connection is made up for by the new connection's first statement). */
#define SCHED_REFRESH_MS 60000
/* After a statement that failed: claims and progress go first. */
#define SCHED_RETRY_MS 5000
/*
 * A tick found due longer ago than this was missed (no daemon ran, or none
 * reached the database): it is not made up, the schedule moves on to its
 * next tick.  Longer than any stall of a running daemon's control
 * connection (its back-off is at most 5 s), short beside the ticks that
 * matter (a daily run at 03:00 is not run at 09:00 when the daemons come
 * back).
 */
#define SCHED_GRACE_MS 60000

void sched_init(struct executor *e)
{
	memset(&e->sched, 0, sizeof(e->sched));
	e->sched.gap_ms = SCHED_MIN_GAP_MS;
	timer_init(&e->sched.timer, &e->timers, timer_wake, e);
}

void sched_changed(struct executor *e)
{
	e->sched.want_seq++;
}

/* The database's clock now, as the last answer and the time since say. */
static int64_t db_now(const struct schedules *sc, int64_t now)
{
	return sc->db_now_ms + (now - sc->answer_mono_ms);
}

/* The first tick of row r strictly after db time now_ms, or -errno. */
static int next_tick(const struct sched_row *r, int64_t now_ms, int64_t *ret_ms)
{
	struct cron c;
	char err[160];
	int64_t s;
	int rc;

	if (r->every_ms > 0)
		return cron_every_next((uint64_t)r->every_ms, now_ms, ret_ms);
	rc = cron_parse(r->cron, &c, err, sizeof(err));
	if (rc < 0)
		return rc;
	/* Minutes: a tick at now's second itself is not after it. */
	rc = cron_next(&c, r->tz[0] ? r->tz : NULL, now_ms / 1000 - (now_ms % 1000 < 0), &s);
	if (rc == 0)
		*ret_ms = s * 1000;
	return rc;
}

/* Whether row r is due at db time t. */
static bool row_due(const struct sched_row *r, int64_t t)
{
	return !r->broken && r->next_ms <= t;
}

bool sched_due(struct executor *e, int64_t now)
{
	struct schedules *sc = &e->sched;
	int64_t t;

	if (atomic_load(&e->stopping) || atomic_load(&e->draining))
		return false;	/* other daemons fire them */
	if (sc->instance != e->instance) {
		sc->instance = e->instance;
		sc->asked = false;
		sc->in_flight = false;
	}
	if (sc->in_flight) {
		/* It failed (ctl_failed() logged why) and rolled back: its
		 * ticks are due again, after the others' turn. */
		sc->in_flight = false;
		sc->next_send_ms = now + SCHED_RETRY_MS;
		timer_set(&sc->timer, sc->next_send_ms);
		return false;
	}
	if (now < sc->next_send_ms) {
		/* A change seen meanwhile is read at the end of the gap. */
		if (!sc->asked || sc->want_seq != sc->answered_seq)
			timer_set(&sc->timer, sc->next_send_ms);
		return false;
	}
	if (!sc->asked || sc->want_seq != sc->answered_seq ||
	    now - sc->answer_mono_ms >= SCHED_REFRESH_MS)
		return true;
	t = db_now(sc, now);
	for (size_t i = 0; i < sc->n; i++)
		if (row_due(&sc->rows[i], t))
			return true;
	return false;
}

int sched_send(struct executor *e, int64_t now)
{
	struct schedules *sc = &e->sched;
	struct schedule_tick ticks[SCHED_ROWS];
	const char *pools[256];
	size_t n = 0, np = 0;
	int64_t t = db_now(sc, now);

	/* No tick while a change is unread: a rewritten schedule's next
	 * tick must come from its new rule, and this statement reads it
	 * (the ticks go with the next, a gap later, well within the grace).
	 * Not twice in a row, though (held stays set when another change
	 * came while the holding statement was in flight): a writer
	 * rewriting a schedule in a loop must not hold everyone's ticks off;
	 * the rows read by the statement before are then at most a gap old. */
	bool hold = sc->want_seq != sc->answered_seq && !sc->held;

	sc->held = hold;
	for (size_t i = 0; sc->asked && !hold && i < sc->n; i++) {
		struct sched_row *r = &sc->rows[i];
		int64_t next;
		int rc;

		if (!row_due(r, t))
			continue;
		rc = next_tick(r, t, &next);
		if (rc < 0) {
			/* A tz this host's database lacks: another daemon may
			 * have it.  Not asked about again until the next read. */
			r->broken = true;
			log_warn("schedule %s/%s: cannot compute its next tick here: %s",
				 LOG_ESCAPE(r->pool), LOG_ESCAPE(r->name), strerror(-rc));
			continue;
		}
		ticks[n].pool = r->pool;
		ticks[n].name = r->name;
		ticks[n].at_ms = r->next_ms;
		ticks[n].next_ms = next;
		n++;
	}
	for (size_t i = 0; i < e->cfg->n_pools && np < 256; i++)
		pools[np++] = e->cfg->pools[i].name;
	sc->sent_seq = sc->want_seq;
	sc->next_send_ms = now + sc->gap_ms;
	sc->in_flight = true;
	sc->n_sent = n;
	return store_send_fire_schedules(e->control, e->instance, pools, np, ticks, n,
					 SCHED_ROWS, SCHED_GRACE_MS);
}

static void copy_field(char *dst, size_t cap, const char *src, bool *fits)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= cap) {
		*fits = false;
		n = 0;
	}
	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

/* Whether the last answer had row (pool, name) at tick next_ms marked
 * broken: it stays so until its tick changes (no warning each read). */
static bool was_broken(const struct sched_row *old, size_t n, const char *pool,
		       const char *name, int64_t next_ms)
{
	for (size_t i = 0; i < n; i++)
		if (old[i].broken && old[i].next_ms == next_ms && strcmp(old[i].pool, pool) == 0 &&
		    strcmp(old[i].name, name) == 0)
			return true;
	return false;
}

void sched_result(struct executor *e, PGresult *res)
{
	struct schedules *sc = &e->sched;
	int64_t now = mono_ms(), earliest = INT64_MAX;
	size_t taken = 0, due = 0, n_old = 0;
	struct sched_row *old = NULL;

	for (size_t i = 0; i < sc->n; i++)
		if (sc->rows[i].broken && !old) {
			/* Rare (a tz this host lacks): worth a copy.  Out of
			 * memory, the warning comes again; nothing worse. */
			old = malloc(sc->n * sizeof(*old));
			if (old) {
				memcpy(old, sc->rows, sc->n * sizeof(*old));
				n_old = sc->n;
			}
		}
	sc->n = 0;
	sc->in_flight = false;
	sc->asked = true;
	sc->answered_seq = sc->sent_seq;
	/* Its rows are the latest: the next change may hold ticks again.
	 * A change that came while it was in flight (a writer in a loop)
	 * may not, this once (sched_send()). */
	if (sc->answered_seq == sc->want_seq)
		sc->held = false;
	sc->answer_mono_ms = now;
	for (int row = 0; row < PQntuples(res); row++) {
		struct schedule_row sr;
		struct sched_row *r;
		bool fits = true;

		store_parse_schedule_row(res, row, &sr);
		if (sr.kind != 0)
			taken++;
		if (sr.kind == 1) {
			log_info("schedule %s/%s: task %lld submitted", LOG_ESCAPE(sr.pool),
				 LOG_ESCAPE(sr.name), (long long)sr.fired);
			continue;
		}
		if (sr.kind == 3) {
			log_warn("schedule %s/%s: a tick was missed (no daemon fired it in time); "
				 "not made up", LOG_ESCAPE(sr.pool), LOG_ESCAPE(sr.name));
			continue;
		}
		if (sr.kind == 4) {
			log_info("schedule %s/%s: tick not fired: it had gone by when the schedule "
				 "was written (by the control database's clock, or a run was "
				 "submitted at or after it already)", LOG_ESCAPE(sr.pool),
				 LOG_ESCAPE(sr.name));
			continue;
		}
		if (sr.kind == 2) {
			log_info("schedule %s/%s: tick skipped: its last run is still pending or "
				 "running (or a task of its name is pending)",
				 LOG_ESCAPE(sr.pool), LOG_ESCAPE(sr.name));
			continue;
		}
		sc->db_now_ms = sr.now_ms;
		if (!sr.pool || !sr.name || sc->n == SCHED_ROWS)
			continue;
		r = &sc->rows[sc->n];
		copy_field(r->pool, sizeof(r->pool), sr.pool, &fits);
		copy_field(r->name, sizeof(r->name), sr.name, &fits);
		copy_field(r->cron, sizeof(r->cron), sr.cron, &fits);
		copy_field(r->tz, sizeof(r->tz), sr.tz, &fits);
		r->next_ms = sr.next_ms;
		r->every_ms = sr.every_ms;
		r->broken = !fits || (sr.every_ms <= 0 && !sr.cron) ||
			    was_broken(old, n_old, r->pool, r->name, r->next_ms);
		if (!r->broken && r->next_ms < earliest)
			earliest = r->next_ms;
		sc->n++;
	}
	for (size_t i = 0; i < sc->n; i++)
		if (row_due(&sc->rows[i], sc->db_now_ms))
			due++;
	if (sc->n_sent > 0 && taken == 0 && due > 0) {
		/* None was taken, and ticks are still due: held by a
		 * transaction elsewhere (a tick another daemon took shows
		 * moved on, and is not due). */
		sc->gap_ms = sc->gap_ms * 2 > SCHED_MAX_GAP_MS ? SCHED_MAX_GAP_MS : sc->gap_ms * 2;
	} else {
		sc->gap_ms = SCHED_MIN_GAP_MS;
	}
	sc->n_sent = 0;
	free(old);
	/* The next statement: the earliest tick, a periodic read, or after
	 * the gap when a tick is due already (another daemon holds it). */
	{
		int64_t when = now + SCHED_REFRESH_MS;

		if (earliest != INT64_MAX && earliest - sc->db_now_ms < SCHED_REFRESH_MS)
			when = now + (earliest > sc->db_now_ms ? earliest - sc->db_now_ms : 0);
		if (when < sc->next_send_ms)
			when = sc->next_send_ms;
		timer_set(&sc->timer, when);
	}
}
