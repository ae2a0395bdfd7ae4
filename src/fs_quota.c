/*
 * What a file being written holds in memory: its buffer, and the charge of
 * its length against its uid's cap (max_pending_bytes_per_user, EDQUOT)
 * and the total one (max_pending_bytes, ENOSPC).  Everything here runs
 * under fs->lock.
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

/* s holds `size` bytes (its content's length): pending_charge(). */
static int staged_charge(struct fs *fs, struct staged *s, uint64_t size)
{
	return pending_charge(fs, s->uid, &s->charged, size);
}

void staged_drop_data(struct fs *fs, struct staged *s)
{
	(void)staged_charge(fs, s, 0);	/* giving back cannot fail */
	buf_finish(&s->data);
}

int staged_resize(struct fs *fs, struct staged *s, uint64_t size)
{
	int r;

	if (size > fs->cfg->max_task_bytes) {
		s->too_big = true;	/* like a write past the limit: never runs */
		return -EFBIG;
	}
	r = staged_charge(fs, s, size);
	if (r == -EDQUOT || r == -ENOSPC)
		s->cap_err = -r;	/* the same: a file cut short never runs */
	if (r < 0)
		return r;
	if (size == 0) {
		buf_finish(&s->data);	/* O_TRUNC gives the memory back */
	} else if (size > s->data.len) {
		size_t grow = (size_t)size - s->data.len;

		if (buf_reserve(&s->data, grow) < 0) {
			(void)staged_charge(fs, s, s->data.len);
			return -ENOMEM;
		}
		memset(s->data.data + s->data.len, 0, grow);
	}
	s->data.len = (size_t)size;
	s->dirty = true;
	clock_gettime(CLOCK_REALTIME, &s->mtime);
	return 0;
}
