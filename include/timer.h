/*
 * Timers: one list of deadlines for an event loop.  A timer is a handle
 * embedded in whatever owns the deadline (a task, a connection, the
 * loop); arming, re-arming and cancelling it never allocate, so they
 * cannot fail.  The loop sleeps until timer_next_due() and then calls
 * timer_run_due(), which fires, earliest first, every timer that is due.
 *
 * Inside, the list is a pairing heap (a min-heap of trees: O(1) to arm,
 * O(log n) amortized to take the earliest or cancel any).  Single
 * threaded: a list and its timers belong to one thread.
 */
#ifndef PGQFS_TIMER_H
#define PGQFS_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct timer;
/* A due timer fires: it is disarmed already, and may be armed again. */
typedef void timer_fn(struct timer *tm, void *arg, int64_t now);

struct timer_list {
	struct timer *root;
	uint64_t seq;		/* arms so far: equal deadlines fire in order */
	size_t n;		/* armed timers */
};

struct timer {
	struct timer_list *list;
	timer_fn *fn;
	void *arg;
	int64_t due;		/* armed: when it fires (ms, the caller's clock) */
	uint64_t seq;
	bool armed;
	/* The heap: first child, next sibling, and the previous sibling or
	 * (for a first child) the parent. */
	struct timer *child, *next, *prev;
};

void timer_list_init(struct timer_list *l);
/* A timer of l, not armed, that calls fn(tm, arg, now) when it fires. */
void timer_init(struct timer *tm, struct timer_list *l, timer_fn *fn, void *arg);
/* Arms tm to fire at due; an armed timer is moved there. */
void timer_set(struct timer *tm, int64_t due);
/* Disarms tm; nothing if it is not armed. */
void timer_cancel(struct timer *tm);
bool timer_armed(const struct timer *tm);
/* The earliest deadline of l; -1: none is armed. */
int64_t timer_next_due(const struct timer_list *l);
/* What poll() wants: ms from now to the next deadline (0 if past, at
 * most INT_MAX), or -1 when no timer is armed. */
int timer_poll_timeout(const struct timer_list *l, int64_t now);
/*
 * Fires every timer due at now, earliest first; returns how many fired.
 * A timer armed by a callback to a time already past fires in the next
 * call, not this one: a callback that re-arms itself cannot loop.
 */
size_t timer_run_due(struct timer_list *l, int64_t now);

#endif
