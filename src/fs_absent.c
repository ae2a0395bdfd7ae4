/*
 * Whole-pool answers to "is this new name pending?".
 *
 * cp and writers look each new name up in queue/<pool>/ before creating
 * it, and a name that is neither being written here nor just released
 * costs a round trip to the control database (store_get_pending) to learn
 * that another daemon has not queued it.  When a pool's new names come in
 * a burst, one statement instead reads every name pending in the pool, and
 * for TTL_NEGATIVE from when that statement began a name outside the set is
 * answered absent without a round trip.
 *
 * That is the promise the kernel's negative entries already make (and the
 * per-name cache in fs_cache.c): a name queued through another daemon can
 * take up to TTL_NEGATIVE to show in this mount's lookups, and a writer
 * racing it meets the store's unique index at close() (EBUSY).  A name this
 * daemon may make pending (neg_forget) joins the set at once, also while
 * the statement is in flight: the set only ever holds too much, and a name
 * in it is asked of the store as before.  A pool with more than ABSENT_MAX
 * pending names keeps asking per name.  All of it is under fs->lock.
 */
#include "fs_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

#define ABSENT_BUCKETS 1024
#define ABSENT_MAX 4096		/* pending names beyond which a set is not worth it */
#define ABSENT_BURST 4		/* store lookups in TTL_NEGATIVE that make a burst */
#define TTL_MS ((int64_t)(TTL_NEGATIVE * 1000))

struct absent_name {
	struct absent_name *next;
	char name[];
};

struct absent_set {
	int64_t since_ms;	/* when the statement began: valid until + TTL_MS */
	bool loading;		/* the statement is in flight */
	bool valid;		/* loaded whole, nothing lost since */
	int64_t burst_ms;	/* the window of store lookups being counted */
	unsigned burst_n;
	struct absent_name *bucket[ABSENT_BUCKETS];
};

static size_t bucket_of(const char *name)
{
	return (size_t)(name_hash(0, name) % ABSENT_BUCKETS);
}

static bool set_has(const struct absent_set *a, const char *name)
{
	for (const struct absent_name *n = a->bucket[bucket_of(name)]; n; n = n->next)
		if (strcmp(n->name, name) == 0)
			return true;
	return false;
}

static struct absent_name *name_new(const char *name)
{
	size_t len = strlen(name) + 1;
	struct absent_name *n = malloc(sizeof(*n) + len);

	if (n)
		memcpy(n->name, name, len);
	return n;
}

static void set_link(struct absent_set *a, struct absent_name *n)
{
	struct absent_name **b = &a->bucket[bucket_of(n->name)];

	n->next = *b;
	*b = n;
}

static void set_clear(struct absent_set *a)
{
	for (size_t i = 0; i < ABSENT_BUCKETS; i++)
		while (a->bucket[i]) {
			struct absent_name *n = a->bucket[i];

			a->bucket[i] = n->next;
			free(n);
		}
}

int64_t absent_left_ms(struct fs *fs, size_t pool, const char *name)
{
	const struct absent_set *a = fs->slots[pool].absent;
	int64_t left;

	if (!a || !a->valid || a->loading)
		return 0;
	left = a->since_ms + TTL_MS - mono_ms();
	return left > 0 && !set_has(a, name) ? left : 0;
}

bool absent_begin(struct fs *fs, size_t pool)
{
	struct absent_set *a = fs->slots[pool].absent;
	int64_t now = mono_ms();
	bool again;

	if (!a) {
		a = calloc(1, sizeof(*a));
		if (!a)
			return false;
		fs->slots[pool].absent = a;
	}
	if (a->loading)
		return false;
	/* A set that ran out within the last TTL: the burst goes on. */
	again = a->valid && now < a->since_ms + 2 * TTL_MS;
	if (!again) {
		if (now - a->burst_ms >= TTL_MS) {
			a->burst_ms = now;
			a->burst_n = 0;
		}
		if (++a->burst_n < ABSENT_BURST)
			return false;
	}
	set_clear(a);
	a->since_ms = now;
	a->loading = true;
	a->valid = true;	/* until something is lost */
	return true;
}

/* Names read by the statement, gathered outside fs->lock. */
struct gathered {
	struct absent_name *head;
};

static int gather(void *arg, const char *name)
{
	struct gathered *g = arg;
	struct absent_name *n = name_new(name);

	if (!n)
		return -ENOMEM;
	n->next = g->head;
	g->head = n;
	return 0;
}

void absent_load(struct fs *fs, size_t pool)
{
	struct gathered g = { NULL };
	struct absent_set *a;
	int r;

	r = store_pending_names(fs->store, pool_name(fs, pool), ABSENT_MAX, gather, &g);
	if (r == -E2BIG)
		log_debug("queue/%s: more than %d names pending; new names are looked up one by one",
			  LOG_ESCAPE(pool_name(fs, pool)), ABSENT_MAX);
	pthread_mutex_lock(&fs->lock);
	a = fs->slots[pool].absent;
	a->loading = false;
	if (r < 0)
		a->valid = false;
	while (g.head) {
		struct absent_name *n = g.head;

		g.head = n->next;
		if (a->valid)
			set_link(a, n);
		else
			free(n);
	}
	if (!a->valid)
		set_clear(a);
	pthread_mutex_unlock(&fs->lock);
}

void absent_note(struct fs *fs, size_t pool, const char *name)
{
	struct absent_set *a = fs->slots[pool].absent;
	struct absent_name *n;

	if (!a || !a->valid || set_has(a, name))
		return;
	n = name_new(name);
	if (!n) {
		/* Cannot hold it: the set says nothing until the next one. */
		a->valid = false;
		if (!a->loading)
			set_clear(a);
		return;
	}
	set_link(a, n);
}

void absent_free(struct fs *fs)
{
	for (size_t i = 0; i < MAX_POOLS; i++)
		if (fs->slots[i].absent) {
			set_clear(fs->slots[i].absent);
			free(fs->slots[i].absent);
			fs->slots[i].absent = NULL;
		}
}
