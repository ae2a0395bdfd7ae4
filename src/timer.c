/*
 * The timer list: a pairing heap of timers embedded in their owners.  See
 * include/timer.h.  Order is (due, seq): equal deadlines fire in the order
 * they were armed.
 */
#include "timer.h"

#include <limits.h>
#include <stddef.h>

static bool before(const struct timer *a, const struct timer *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

/* Links two heaps (roots, no siblings) into one; returns its root. */
static struct timer *meld(struct timer *a, struct timer *b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	if (before(b, a)) {
		struct timer *t = a;

		a = b;
		b = t;
	}
	/* b becomes a's first child. */
	b->prev = a;
	b->next = a->child;
	if (a->child)
		a->child->prev = b;
	a->child = b;
	a->next = NULL;
	a->prev = NULL;
	return a;
}

/* The heap of a list of siblings: melded in pairs left to right, then the
 * pairs right to left (the two passes that give the amortized bound). */
static struct timer *merge_siblings(struct timer *first)
{
	struct timer *pairs = NULL, *root = NULL;

	while (first) {
		struct timer *a = first, *b = first->next;

		first = b ? b->next : NULL;
		a->next = a->prev = NULL;
		if (b)
			b->next = b->prev = NULL;
		a = meld(a, b);
		/* A stack of the pairs, through next. */
		a->next = pairs;
		pairs = a;
	}
	while (pairs) {
		struct timer *a = pairs;

		pairs = a->next;
		a->next = NULL;
		root = meld(root, a);
	}
	return root;
}

/* Takes tm (armed) out of its list's heap. */
static void unlink_timer(struct timer *tm)
{
	struct timer_list *l = tm->list;
	struct timer *sub = merge_siblings(tm->child);

	if (tm == l->root) {
		l->root = sub;
	} else {
		/* Out of its parent's child list. */
		if (tm->prev->child == tm)
			tm->prev->child = tm->next;
		else
			tm->prev->next = tm->next;
		if (tm->next)
			tm->next->prev = tm->prev;
		l->root = meld(l->root, sub);
	}
	tm->child = tm->next = tm->prev = NULL;
	tm->armed = false;
	l->n--;
}

void timer_list_init(struct timer_list *l)
{
	l->root = NULL;
	l->seq = 0;
	l->n = 0;
}

void timer_init(struct timer *tm, struct timer_list *l, timer_fn *fn, void *arg)
{
	*tm = (struct timer){ .list = l, .fn = fn, .arg = arg };
}

void timer_set(struct timer *tm, int64_t due)
{
	struct timer_list *l = tm->list;

	if (tm->armed)
		unlink_timer(tm);
	tm->due = due;
	tm->seq = l->seq++;
	tm->armed = true;
	tm->child = tm->next = tm->prev = NULL;
	l->root = meld(l->root, tm);
	l->n++;
}

void timer_cancel(struct timer *tm)
{
	if (tm->armed)
		unlink_timer(tm);
}

bool timer_armed(const struct timer *tm)
{
	return tm->armed;
}

int64_t timer_next_due(const struct timer_list *l)
{
	return l->root ? l->root->due : -1;
}

int timer_poll_timeout(const struct timer_list *l, int64_t now)
{
	int64_t due = timer_next_due(l);

	if (due < 0)
		return -1;
	if (due <= now)
		return 0;
	return due - now > INT_MAX ? INT_MAX : (int)(due - now);
}

size_t timer_run_due(struct timer_list *l, int64_t now)
{
	uint64_t armed_before = l->seq;
	size_t n = 0;

	while (l->root && l->root->due <= now && l->root->seq < armed_before) {
		struct timer *tm = l->root;

		unlink_timer(tm);
		n++;
		tm->fn(tm, tm->arg, now);
	}
	return n;
}
