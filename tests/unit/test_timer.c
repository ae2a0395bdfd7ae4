/* Unit tests of src/timer.c: order, ties, cancel, re-arm, poll timeouts,
 * callbacks that arm and cancel, and a random run against a plain array. */
#include "timer.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* What fired, in order: each timer's arg is its index. */
static int fired[256];
static size_t n_fired;

static void record(struct timer *tm, void *arg, int64_t now)
{
	(void)tm;
	(void)now;
	if (n_fired < ARRAY_SIZE(fired))
		fired[n_fired++] = (int)(intptr_t)arg;
}

static void test_order(void)
{
	struct timer_list l;
	struct timer t[5];
	static const int64_t due[] = { 50, 10, 30, 10, 20 };
	static const int want[] = { 1, 3, 4, 2, 0 };
	int ok = 1;

	timer_list_init(&l);
	tap_ok(timer_next_due(&l) == -1, "empty list: no deadline");
	tap_ok(timer_poll_timeout(&l, 0) == -1, "empty list: poll waits forever");
	for (int i = 0; i < 5; i++) {
		timer_init(&t[i], &l, record, (void *)(intptr_t)i);
		timer_set(&t[i], due[i]);
	}
	tap_ok(timer_next_due(&l) == 10, "next due is the earliest");
	tap_ok(timer_poll_timeout(&l, 4) == 6, "poll timeout counts from now");
	tap_ok(timer_poll_timeout(&l, 11) == 0, "an overdue timer: poll does not wait");
	n_fired = 0;
	tap_ok(timer_run_due(&l, 9) == 0, "nothing fires before its time");
	tap_ok(timer_run_due(&l, 30) == 4, "every timer due fires");
	tap_ok(l.n == 1 && timer_armed(&t[0]) && !timer_armed(&t[2]),
	       "fired timers are disarmed, the later one stays");
	tap_ok(timer_run_due(&l, 100) == 1, "the last one fires at its time");
	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		ok &= n_fired == ARRAY_SIZE(want) && fired[i] == want[i];
	tap_ok(ok, "earliest first; equal deadlines in the order armed");
	tap_ok(timer_next_due(&l) == -1 && l.root == NULL, "the list is empty again");
}

static void test_cancel_reset(void)
{
	struct timer_list l;
	struct timer a, b, c;

	timer_list_init(&l);
	timer_init(&a, &l, record, (void *)0);
	timer_init(&b, &l, record, (void *)1);
	timer_init(&c, &l, record, (void *)2);
	timer_cancel(&a);
	tap_ok(!timer_armed(&a) && l.n == 0, "cancelling an unarmed timer does nothing");
	timer_set(&a, 10);
	timer_set(&b, 20);
	timer_set(&c, 30);
	timer_cancel(&a);
	tap_ok(timer_next_due(&l) == 20 && l.n == 2, "cancelling the earliest");
	timer_cancel(&c);
	tap_ok(timer_next_due(&l) == 20 && l.n == 1, "cancelling a later one");
	timer_set(&b, 5);
	tap_ok(timer_next_due(&l) == 5 && l.n == 1, "re-arming earlier moves it, once");
	timer_set(&a, 7);
	timer_set(&b, 50);
	tap_ok(timer_next_due(&l) == 7 && l.n == 2, "re-arming later moves it");
	timer_set(&c, INT64_MAX / 2);
	tap_ok(timer_poll_timeout(&l, 7) == 0, "due now: zero");
	timer_cancel(&a);
	timer_cancel(&b);
	tap_ok(timer_poll_timeout(&l, 0) == INT_MAX, "far deadlines clamp to INT_MAX");
	timer_cancel(&c);
	tap_ok(l.root == NULL && l.n == 0, "all cancelled");
}

/* Callbacks that act on the list while it runs. */
static struct timer cb_t[3];
static int self_fires;

static void rearm_self(struct timer *tm, void *arg, int64_t now)
{
	(void)arg;
	self_fires++;
	timer_set(tm, now);	/* due at once, again */
}

static void cancel_other(struct timer *tm, void *arg, int64_t now)
{
	(void)tm;
	(void)now;
	record(tm, arg, now);
	timer_cancel(&cb_t[2]);
}

static void test_callbacks(void)
{
	struct timer_list l;

	timer_list_init(&l);
	timer_init(&cb_t[0], &l, rearm_self, NULL);
	timer_set(&cb_t[0], 10);
	self_fires = 0;
	tap_ok(timer_run_due(&l, 10) == 1 && self_fires == 1,
	       "a timer re-armed to a past time does not fire again in the same run");
	tap_ok(timer_poll_timeout(&l, 10) == 0, "... it is due for the next run");
	tap_ok(timer_run_due(&l, 11) == 1 && self_fires == 2, "... and fires then");
	timer_cancel(&cb_t[0]);

	timer_init(&cb_t[1], &l, cancel_other, (void *)1);
	timer_init(&cb_t[2], &l, record, (void *)2);
	timer_set(&cb_t[1], 1);
	timer_set(&cb_t[2], 2);
	n_fired = 0;
	tap_ok(timer_run_due(&l, 5) == 1 && n_fired == 1 && fired[0] == 1,
	       "a timer cancelled by an earlier one's callback does not fire");
	tap_ok(l.n == 0, "nothing left armed");
}

/* A small generator of our own: the same sequence everywhere. */
static int next_rand(uint32_t *state)
{
	*state = *state * 1103515245u + 12345u;
	return (int)((*state >> 8) & 0x7fffff);
}

/* Random arms, re-arms, cancels and runs, against a plain array. */
static void test_random(void)
{
	enum { N = 200, ROUNDS = 20000 };
	static struct timer t[N];
	static int64_t model[N];	/* -1: not armed */
	struct timer_list l;
	int64_t now = 0;
	int ok = 1;
	uint32_t seed = 12345;

	timer_list_init(&l);
	for (int i = 0; i < N; i++) {
		timer_init(&t[i], &l, record, (void *)(intptr_t)i);
		model[i] = -1;
	}
	for (int r = 0; r < ROUNDS && ok; r++) {
		int i = next_rand(&seed) % N;
		int op = next_rand(&seed) % 10;

		if (op < 5) {
			model[i] = now + next_rand(&seed) % 1000;
			timer_set(&t[i], model[i]);
		} else if (op < 7) {
			model[i] = -1;
			timer_cancel(&t[i]);
		} else {
			int64_t min = -1, last = -1;
			size_t want = 0;

			now += next_rand(&seed) % 300;
			for (int k = 0; k < N; k++) {
				if (model[k] >= 0 && (min < 0 || model[k] < min))
					min = model[k];
				want += model[k] >= 0 && model[k] <= now;
			}
			ok &= timer_next_due(&l) == min;
			n_fired = 0;
			ok &= timer_run_due(&l, now) == want;
			for (size_t k = 0; k < n_fired; k++) {
				int64_t d = model[fired[k]];

				ok &= d >= 0 && d <= now && d >= last;
				last = d;
				model[fired[k]] = -1;
			}
		}
		{
			size_t armed = 0;

			for (int k = 0; k < N; k++) {
				armed += model[k] >= 0;
				ok &= timer_armed(&t[k]) == (model[k] >= 0);
			}
			ok &= l.n == armed;
		}
	}
	tap_ok(ok, "%d random operations agree with a plain array", ROUNDS);
}

int main(void)
{
	test_order();
	test_cancel_reset();
	test_callbacks();
	test_random();
	return tap_done();
}
