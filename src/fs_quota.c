/*
 * What a file being written holds in memory: its buffer, and the charge of
 * its length against its uid's cap (max_pending_bytes_per_user, EDQUOT)
 * and the total one (max_pending_bytes, ENOSPC).  A buffer grows by a
 * quarter at a time and shrinks when cut, so what is held stays within a
 * quarter (and 64 bytes) of what is charged.  Everything here runs under
 * fs->lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs_internal.h"

/* uid's entry in the table of bytes held for files not yet submitted, or
 * NULL.  Under fs->lock. */
struct pending_use *pending_use_of(struct fs *fs, uid_t uid)
{
	for (size_t i = 0; i < fs->n_pending_users; i++)
		if (fs->pending_users[i].uid == uid)
			return &fs->pending_users[i];
	return NULL;
}

int pending_charge(struct fs *fs, uid_t uid, uint64_t *charged, uint64_t size)
{
	struct pending_use *u = pending_use_of(fs, uid);

	if (size > *charged) {
		uint64_t more = size - *charged;

		if ((u ? u->bytes : 0) + more > fs->cfg->max_pending_bytes_per_user)
			return -EDQUOT;
		if (fs->pending_total + more > fs->cfg->max_pending_bytes)
			return -ENOSPC;
		if (!u) {
			struct pending_use *a = realloc(fs->pending_users,
							(fs->n_pending_users + 1) * sizeof(*a));

			if (!a)
				return -ENOMEM;
			fs->pending_users = a;
			u = &a[fs->n_pending_users++];
			u->uid = uid;
			u->bytes = 0;
		}
		u->bytes += more;
		fs->pending_total += more;
	} else if (size < *charged && u) {
		uint64_t less = *charged - size;

		u->bytes -= less;
		fs->pending_total -= less;
		if (u->bytes == 0)
			*u = fs->pending_users[--fs->n_pending_users];
	}
	*charged = size;
	return 0;
}

/* The storage for a buffer of size bytes that had cap: by a quarter at
 * least when it grows, exact when it shrinks; in 64-byte steps. */
static size_t held_cap(uint64_t size, size_t cap, uint64_t max)
{
	uint64_t c = size + 1;

	if (c > cap && c < (uint64_t)cap + cap / 4)
		c = (uint64_t)cap + cap / 4;
	c = (c + 63) & ~(uint64_t)63;
	if (c > max + 1)
		c = size + 1 > max + 1 ? size + 1 : max + 1;
	return (size_t)c;
}

void held_drop(struct fs *fs, uid_t uid, uint64_t *charged, struct buf *b)
{
	(void)pending_charge(fs, uid, charged, 0);	/* giving back cannot fail */
	buf_finish(b);
}

int held_resize(struct fs *fs, uid_t uid, uint64_t *charged, struct buf *b, uint64_t size)
{
	uint64_t was = *charged;
	size_t cap;
	int r;

	if (size == 0) {
		held_drop(fs, uid, charged, b);	/* a truncation to 0 frees it */
		return 0;
	}
	if (size < b->len) {
		/* Cut short: what is allocated follows (a cut that kept its
		 * memory would hold more than is charged), then the charge,
		 * which only goes down, so cannot fail. */
		size_t len = b->len;

		b->len = (size_t)size;
		if (buf_set_cap(b, held_cap(size, b->cap, fs->cfg->max_task_bytes)) < 0) {
			b->len = len;
			return -ENOMEM;
		}
		(void)pending_charge(fs, uid, charged, size);
		return 0;
	}
	/* Grown: the charge first, which may be refused; given back (which
	 * cannot fail) if the memory cannot be had. */
	r = pending_charge(fs, uid, charged, size);
	if (r < 0)
		return r;
	if (size + 1 > b->cap) {
		cap = held_cap(size, b->cap, fs->cfg->max_task_bytes);
		if (buf_set_cap(b, cap) < 0) {
			(void)pending_charge(fs, uid, charged, was);
			return -ENOMEM;
		}
	}
	memset(b->data + b->len, 0, (size_t)size - b->len);
	b->len = (size_t)size;
	return 0;
}

void staged_drop_data(struct fs *fs, struct staged *s)
{
	held_drop(fs, s->uid, &s->charged, &s->data);
}

int staged_resize(struct fs *fs, struct staged *s, uint64_t size)
{
	int r;

	if (size > fs->cfg->max_task_bytes) {
		s->too_big = true;	/* like a write past the limit: never runs */
		return -EFBIG;
	}
	r = held_resize(fs, s->uid, &s->charged, &s->data, size);
	if (r == -EDQUOT || r == -ENOSPC)
		s->cap_err = -r;	/* the same: a file cut short never runs */
	if (r < 0)
		return r;
	s->dirty = true;
	clock_gettime(CLOCK_REALTIME, &s->mtime);
	return 0;
}
