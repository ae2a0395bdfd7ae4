/*
 * What a file being written in queue/<pool>/ stores: the durable copy of
 * its content (a flush), its last close, which submits it, and the removal
 * of what a staging commit with an unknown outcome may have left.  The
 * FUSE operations that call these are in fs_submit.c.
 */
#include "fs_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "header.h"
#include "log.h"
#include "split.h"

/*
 * One store of a file at a time (struct staged's storing): two descriptors
 * closing at once must commit their copies in the order they were taken,
 * or an older copy could overwrite a newer one in the store.  Used with
 * fs->lock.
 */
pthread_cond_t staged_store_done = PTHREAD_COND_INITIALIZER;

/*
 * Removes the row a staging commit whose outcome was unknown may have left
 * (store_stage_outcome_unknown()): its writer was told the commit failed,
 * so nothing of it may run.  Called without fs->lock, with s kept alive.
 */
int staged_forget_unknown(struct fs *fs, struct staged *s)
{
	char pool[256], name[NAME_MAX + 1];
	int64_t instance, keep[16];
	size_t n_keep;
	bool found = false;
	int r;

	pthread_mutex_lock(&fs->lock);
	snprintf(pool, sizeof(pool), "%s", pool_name(fs, s->pool));
	snprintf(name, sizeof(name), "%s", s->name);
	instance = s->unknown_instance;
	pthread_mutex_unlock(&fs->lock);
	n_keep = executor_task_ids(fs->executor, pool, name, keep, 16);
	r = store_unstage_name(fs->store, pool, name, instance, keep, n_keep, &found);
	pthread_mutex_lock(&fs->lock);
	if (r == 0 && s->row_unknown) {
		s->row_unknown = false;
		atomic_fetch_sub(&fs->n_row_unknown, 1);
	}
	pthread_mutex_unlock(&fs->lock);
	if (r == 0)
		log_info("queue/%s/%s: a staging commit whose outcome was unknown %s", LOG_ESCAPE(pool),
			 LOG_ESCAPE(name), found ? "had stored it: that row is removed" :
			 "had stored nothing");
	else
		log_warn("queue/%s/%s: cannot remove what a staging commit with an unknown "
			 "outcome may have stored (tried again later): %s", LOG_ESCAPE(pool),
			 LOG_ESCAPE(name), store_last_error());
	return r;
}

void staged_forget_sweep(struct fs *fs)
{
	while (atomic_load(&fs->n_row_unknown) > 0) {
		struct staged *s;
		int r;

		pthread_mutex_lock(&fs->lock);
		for (s = fs->staged; s; s = s->next)
			if (s->row_unknown && !s->task_id && !s->storing)
				break;
		if (s) {
			s->storing = true;
			s->pins++;	/* kept alive while unlocked */
		}
		pthread_mutex_unlock(&fs->lock);
		if (!s)
			return;
		r = staged_forget_unknown(fs, s);
		pthread_mutex_lock(&fs->lock);
		s->storing = false;
		pthread_cond_broadcast(&staged_store_done);
		s->pins--;
		staged_maybe_free(fs, s);
		pthread_mutex_unlock(&fs->lock);
		if (r < 0)
			return;	/* the database is still away: another time */
	}
}

/* Whether text's header asks for single_transaction (its BEGIN goes
 * first, and the session is named apart), or does not parse (the task
 * fails at its claim: nothing to name). */
static bool single_transaction(const char *text, size_t len)
{
	struct task_options o;
	char err[8];

	return header_parse(text, len, false, &o, err, sizeof(err)) < 0 || o.single_transaction;
}

/*
 * The staging of sub, which asked for its claim (executor_hold_room()),
 * stored it as task id (0: it failed) at submitted_us: the executor holds
 * the task if it was claimed, and gives the slot back.  A claim that the
 * executor cannot hold (its control connection was lost meanwhile) is
 * given back to the store: the file is claimed at its release then.
 */
static void staged_hold(struct fs *fs, const struct submission *sub, int64_t id,
			int64_t submitted_us, struct stage_claim *claim)
{
	bool plain = sub->data && sql_plain_query(sub->data, sub->len) &&
		     !single_transaction(sub->data, sub->len);

	if (!id)
		claim->claimed = false;
	/* Its submitted_at: the commit's ack, as for any file (stored with
	 * its start). */
	claim->submitted_us = submitted_us;
	if (executor_hold(fs->executor, sub->pool, id, sub->name, sub->data, sub->len, plain,
			  claim) || !claim->claimed)
		return;
	/* As the instance that took it: after a lost control connection,
	 * the store's instance may be a newer one. */
	staged_give_back(fs, id, claim->instance);
	claim->claimed = false;
}

/*
 * Stores a staged file's content durably (a flush with data).  Called
 * without fs->lock held: the store call blocks.  The caller holds an
 * open reference, so s stays alive.  In a flush's request span
 * (fs_store_begin), the wait behind other writers' group commits ends at
 * the request's deadline or its interrupt; the batch that holds this
 * file's rows is stored outside it, with a deadline of its own
 * (request_timeout), since an interrupt would fail every writer in it.
 */
int staged_store(struct fs *fs, struct staged *s, bool closing)
{
	struct submission sub;
	struct stage_claim claim;
	int64_t id, old, submitted_us = 0;
	char *name = NULL, *data = NULL;
	bool held, asked = false;
	int r;

	pthread_mutex_lock(&fs->lock);
	while (s->storing)
		pthread_cond_wait(&staged_store_done, &fs->lock);
	if (s->too_big || s->cap_err) {
		/* Nothing of a file that did not fit may run. */
		r = s->too_big ? -EFBIG : -s->cap_err;
		id = s->task_id;
		s->task_id = 0;
		if (s->row_unknown && !id) {
			s->storing = true;
			pthread_mutex_unlock(&fs->lock);
			(void)staged_forget_unknown(fs, s);	/* else a sweep does */
			pthread_mutex_lock(&fs->lock);
			s->storing = false;
			pthread_cond_broadcast(&staged_store_done);
		}
		held = s->held;
		pthread_mutex_unlock(&fs->lock);
		if (id && store_unstage(fs->store, id) < 0) {
			/* Still stored: the next store, or an rm, tries again. */
			pthread_mutex_lock(&fs->lock);
			if (!s->task_id)
				s->task_id = id;
			pthread_mutex_unlock(&fs->lock);
			return -EIO;
		}
		if (held)
			executor_unhold(fs->executor, id);	/* its row is gone */
		pthread_mutex_lock(&fs->lock);
		s->held = false;
		pthread_mutex_unlock(&fs->lock);
		return r;
	}
	if (s->dot || !s->listed || !s->dirty) {
		pthread_mutex_unlock(&fs->lock);
		return 0;
	}
	if (s->row_unknown && !s->task_id) {
		/* What an earlier commit may have left goes first: this
		 * content replaces it (its writer was told it failed). */
		s->storing = true;
		pthread_mutex_unlock(&fs->lock);
		r = staged_forget_unknown(fs, s);
		pthread_mutex_lock(&fs->lock);
		s->storing = false;
		pthread_cond_broadcast(&staged_store_done);
		if (r < 0) {
			pthread_mutex_unlock(&fs->lock);
			return r;
		}
	}
	/*
	 * Copied under the lock: another descriptor of the same open file
	 * ({ a & b; } > x.sql) may write (and realloc) the buffer while this
	 * one's flush stores it, and a rename may free the name.
	 */
	name = strdup(s->name);
	if (s->data.len && name && !(data = malloc(s->data.len))) {
		free(name);
		name = NULL;
	}
	if (!name) {
		pthread_mutex_unlock(&fs->lock);
		return -ENOMEM;
	}
	if (data)
		memcpy(data, s->data.data, s->data.len);
	id = s->task_id;
	sub.pool = pool_name(fs, s->pool);
	sub.name = name;
	sub.uid = s->uid;
	sub.gid = s->gid;
	sub.data = data;
	sub.len = s->data.len;
	sub.claim = NULL;
	s->dirty = false;
	s->storing = true;
	held = s->held;
	/* The close of its only open file: its release comes next (unless
	 * the descriptor was duplicated), and the claim with it. */
	closing = closing && s->open_count <= 1;
	pthread_mutex_unlock(&fs->lock);
	if (sub.len == 0) {
		old = id;
		r = id ? store_unstage(fs->store, id) : 0, id = 0;
	} else {
		/* On an idle daemon with room, claimed with its staging. */
		asked = closing && executor_hold_room(fs->executor, sub.pool, &claim);
		if (asked)
			sub.claim = &claim;
		old = id;
		r = store_stage(fs->store, &sub, &id, &submitted_us);
	}
	/*
	 * Claimed with an earlier staging: that claim would run the content
	 * it was claimed with, not this one.  The store gave it back (the
	 * row staged again, or gone) if it answered; if its outcome is
	 * unknown, the row is taken back later (staged_forget_unknown()).
	 * A failure that rolled back leaves the row and the hold as they
	 * were: the file is not released after a failed flush.  ESTALE
	 * committed: the row is no longer staged (unhold() failed it, its
	 * name pending again through another daemon), so no hold is left.
	 */
	if (held && (r == 0 || r == -ESTALE || (sub.len && store_stage_outcome_unknown())))
		executor_unhold(fs->executor, old);
	if (asked)
		staged_hold(fs, &sub, r == 0 ? id : 0, submitted_us, &claim);
	free(data);
	free(name);
	pthread_mutex_lock(&fs->lock);
	if (r == 0) {
		/* Committed: a hold before it is undone, and this one is as
		 * the answer says. */
		s->held = asked && claim.claimed;
		s->held_instance = asked ? claim.instance : 0;
		/* A drain began after executor_hold() took it, and perhaps
		 * after fs_unhold_all() passed this file (storing): given
		 * back here, still storing, so that a release waits for it. */
		if (s->held && executor_draining(fs->executor)) {
			s->held = false;
			pthread_mutex_unlock(&fs->lock);
			staged_give_back(fs, id, claim.instance);
			pthread_mutex_lock(&fs->lock);
		}
	}
	if (r < 0) {
		s->dirty = true;
		if (sub.len && !id && !s->row_unknown && store_stage_outcome_unknown()) {
			s->row_unknown = true;
			/* The staging's own: the store's may have moved on. */
			s->unknown_instance = asked && claim.instance ? claim.instance :
					      store_instance(fs->store);
			atomic_fetch_add(&fs->n_row_unknown, 1);
		}
	} else {
		s->task_id = id;
		s->submitted_us = submitted_us;
	}
	s->storing = false;
	pthread_cond_broadcast(&staged_store_done);
	pthread_mutex_unlock(&fs->lock);
	/* The database answers again: what earlier failures left goes now. */
	if (r == 0 && atomic_load(&fs->n_row_unknown) > 0)
		staged_forget_sweep(fs);
	return r;
}

/* Task id, staged and committed at committed_us, is released: the executor
 * queues it with its next claim, many at a time. */
void staged_released(struct fs *fs, int64_t id, int64_t committed_us, const char *pool, bool held,
		     const char *where, bool plain)
{
	uint64_t seq;
	int r;

	r = fs->executor ? executor_release(fs->executor, id, committed_us, pool, plain, held, &seq) : -ENOSYS;
	released_number(fs, id, r == 0 ? seq : 0);
	if (r < 0)
		r = store_release(fs->store, id);
	if (r < 0) {
		/* Durable but not runnable: recovery queues it when this
		 * daemon restarts. */
		log_error("task %lld (%s) stored but not queued: %s", (long long)id, where,
			  store_last_error());
		return;
	}
	atomic_fetch_add(&fs->n_submitted, 1);
	executor_count_submitted(fs->executor, pool);
	log_debug("task %lld submitted as %s", (long long)id, where);
}


/* The last close of a file being written: it becomes a runnable task. */
void staged_release(struct fs *fs, struct staged *s)
{
	char where[600];
	const char *pool;
	int64_t id, committed_us;
	bool run, refused, plain = false, held = false;
	int r, flush_err;

	pthread_mutex_lock(&fs->lock);
	run = --s->open_count == 0 && s->listed && !s->dot;
	/* From now on the file is submitted: no writer may open it again. */
	if (run)
		s->releasing = true;
	/* Pinned: once its name is gone, a FORGET could free it meanwhile. */
	s->pins++;
	snprintf(where, sizeof(where), "queue/%s/%s", LOG_ESCAPE(pool_name(fs, s->pool)),
		 LOG_ESCAPE(s->name));
	pool = pool_name(fs, s->pool);	/* slot names stay until exit */
	pthread_mutex_unlock(&fs->lock);
	if (!run)
		goto out;
	/*
	 * Its writer's last close failed, and it was told so: nothing is
	 * stored or queued now (the file stays listed, for an rm or a
	 * rewrite), unless its row was taken from it (ESTALE: the name is
	 * the store's now).  A file that did not fit is still refused by
	 * staged_store(), which takes back what an earlier flush stored.
	 * Else the content written after the last flush (rare: mmap) is
	 * stored now.
	 */
	pthread_mutex_lock(&fs->lock);
	flush_err = s->too_big || s->cap_err ? 0 : s->flush_err;
	pthread_mutex_unlock(&fs->lock);
	r = flush_err ? flush_err : staged_store(fs, s, true);
	pthread_mutex_lock(&fs->lock);
	/* An rm or a rename may have come between the store and here, and
	 * taken the file and its stored row: it is theirs now. */
	while (s->storing)
		pthread_cond_wait(&staged_store_done, &fs->lock);
	if (!s->listed) {
		s->releasing = false;
		pthread_mutex_unlock(&fs->lock);
		goto out;
	}
	id = s->task_id;
	committed_us = s->submitted_us;
	held = s->held;
	refused = r == -EFBIG || r == -EBUSY || r == -EDQUOT || r == -ENOSPC ||
		  r == -EACCES || r == -EPERM || r == -EEXIST || r == -ESTALE;
	if (refused || (r == 0 && s->open_count == 0)) {
		/* From now on the name belongs to the queued task in the store
		 * (ours, or the one queued through another daemon that made
		 * ours EBUSY, or the reserved id's owner's; or, for a file that
		 * did not fit, to nothing). */
		if (r == 0 && id && !s->held)
			released_add_locked(fs, s);
		/* The executor's from now on (it starts it, or claims it if
		 * its hold is gone): nothing here gives its claim back. */
		s->held = false;
		/* Before its content goes: whether its session can be named
		 * with its first statement (no naming during its claim). */
		plain = r == 0 && s->data.data && sql_plain_query(s->data.data, s->data.len) &&
			!single_transaction(s->data.data, s->data.len);
		staged_unlist(fs, s);
		staged_drop_data(fs, s);	/* in the store now, or never */
		staged_let_go(fs, s, s->pool, s->name);
	}
	s->releasing = false;
	pthread_mutex_unlock(&fs->lock);
	if (refused)
		goto out;	/* refused, and logged, by the flush before */
	if (flush_err) {
		bool unknown;

		log_warn("%s: not submitted: its last close failed, and its writer was told; "
			 "it stays listed until removed or rewritten", where);
		pthread_mutex_lock(&fs->lock);
		unknown = s->row_unknown && !s->task_id && !s->storing;
		if (unknown)
			s->storing = true;
		pthread_mutex_unlock(&fs->lock);
		if (unknown) {
			/* Else a restart would queue it. */
			(void)staged_forget_unknown(fs, s);
			pthread_mutex_lock(&fs->lock);
			s->storing = false;
			pthread_cond_broadcast(&staged_store_done);
			pthread_mutex_unlock(&fs->lock);
		}
		goto out;
	}
	if (r < 0) {
		log_error("%s: cannot store the file at its last close: %s", where,
			  store_last_error());
		goto out;
	}
	if (id)
		staged_released(fs, id, committed_us, pool, held, where, plain);
out:
	pthread_mutex_lock(&fs->lock);
	s->pins--;
	staged_maybe_free(fs, s);
	pthread_mutex_unlock(&fs->lock);
}

/*
 * Task id, held here and claimed by instance, will not start here: the
 * executor drops it and its claim goes back (by the executor, once it
 * can, if the store cannot now).  Called without fs->lock.
 */
void staged_give_back(struct fs *fs, int64_t id, int64_t instance)
{
	executor_unhold(fs->executor, id);
	if (store_unhold(fs->store, instance, id, false) < 0) {
		log_warn("task %lld: its claim, taken as its file was stored, could not be given "
			 "back now (%s); the executor gives it back once it can", (long long)id,
			 store_last_error());
		executor_unhold_later(fs->executor, id, instance);
	}
}

size_t fs_unhold_all(struct fs *fs)
{
	size_t n = 0;

	if (!fs)
		return 0;
	for (;;) {
		struct staged *found = NULL;
		int64_t id = 0, instance = 0;

		pthread_mutex_lock(&fs->lock);
		for (struct staged *s = fs->staged; s && !found; s = s->next)
			if (s->held && s->task_id && !s->storing)
				found = s;
		if (found) {
			/* Stored meanwhile by no one else: a release that comes
			 * now waits, then finds the file not held (the claim
			 * path, which queues it while the daemon drains).  One
			 * storing now gives its claim back itself if it gets
			 * one (staged_store()). */
			id = found->task_id;
			instance = found->held_instance;
			found->held = false;
			found->storing = true;
			found->pins++;
		}
		pthread_mutex_unlock(&fs->lock);
		if (!found)
			return n;
		staged_give_back(fs, id, instance);
		n++;
		pthread_mutex_lock(&fs->lock);
		found->storing = false;
		pthread_cond_broadcast(&staged_store_done);
		found->pins--;
		staged_maybe_free(fs, found);
		pthread_mutex_unlock(&fs->lock);
	}
}
