/*
 * The filesystem's submission: files written into queue/<pool>/ (create,
 * write, flush; their last close and the store are fs_stage.c's), their
 * names (rename, unlink) and the refusals of everything else that would
 * change the tree.
 */
#include "fs_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"


/* Why the store refused a file, for its log line. */
static const char *submit_refusal(int r)
{
	switch (r) {
	case -EBUSY:
		return "a task of that name is pending";
	case -EFBIG:
		return "it grew past max_task_bytes; nothing is queued";
	case -EDQUOT:
		return "a write past max_pending_bytes_per_user was refused; nothing is queued";
	case -ENOSPC:
		return "a write past max_pending_bytes was refused; nothing is queued";
	case -EACCES:
		return "its name is a task id another user reserved (new-id)";
	case -EEXIST:
		return "the task of that reserved id was submitted already; nothing is queued";
	case -EPERM:
		return "its name is another user's schedule in this pool (schedules/): only its owner "
		       "may submit that name there";
	case -ESTALE:
		return "its task left the staged state (cancelled, or its name submitted again "
		       "through another daemon; see the task's error)";
	default:
		return store_last_error();
	}
}

/*
 * 0, or the -errno refusing a file named "<n>.sql" where n is a task id
 * handed out by new-id: -EACCES (another user reserved it), -EBUSY (its
 * task is pending), -EEXIST (its task has left the queue: a retry must not
 * run it twice).  Any other name is an ordinary one and needs no store.
 * The store decides again when the content is stored (two daemons share
 * it); this spares the writer a file that could never be submitted.
 */
static int reserved_name_errno(struct fs *fs, const char *name, uid_t uid)
{
	size_t n = strlen(name);
	int64_t id = 0;
	uint32_t owner;
	bool used, pending;
	int r;

	if (n < 5 || n > 18 + 4 || name[0] < '1' || name[0] > '9' ||
	    strcmp(name + n - 4, ".sql") != 0)
		return 0;
	for (size_t i = 0; i < n - 4; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		id = id * 10 + (name[i] - '0');
	}
	/* Just handed out here, to this user, and not tried since: its
	 * own and unused (stage_many() checks again, for other daemons). */
	if (fresh_id_take(fs, id, uid))
		return 0;
	r = store_get_reservation(fs->store, id, &owner, &used, &pending);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (owner != uid)
		return -EACCES;
	if (used)
		return pending ? -EBUSY : -EEXIST;
	return 0;
}

static struct staged *staged_new(struct fs *fs, size_t pool, const char *name,
				 const struct fuse_ctx *ctx, bool dot)
{
	struct staged *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->name = strdup(name);
	if (!s->name) {
		free(s);
		return NULL;
	}
	s->pool = pool;
	s->uid = ctx->uid;
	s->gid = ctx->gid;
	s->dot = dot;
	s->listed = true;
	clock_gettime(CLOCK_REALTIME, &s->mtime);
	staged_insert(fs, s);
	return s;
}

void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	int pi = pool_index(fs, parent);
	struct fuse_entry_param e;
	struct staged *s;
	bool dot;
	int r;

	if (is_sched_ino(parent)) {
		sched_create(req, parent, name, mode, fi);	/* schedules/ */
		return;
	}
	if (pi < 0) {
		refuse(req, parent == INO_QUEUE ? EPERM : EROFS, "create", name,
		       "files are submitted only inside queue/<pool>/");
		return;
	}
	if (check_queue_name(req, pool_name(fs, (size_t)pi), name, &dot))
		return;
	fs_store_begin(req);
	r = dot ? 0 : reserved_name_errno(fs, name, fuse_req_ctx(req)->uid);
	fs_store_end();
	if (r < 0) {
		refuse(req, r == -ESTALE ? EIO : -r, pool_name(fs, (size_t)pi), name, "%s",
		       submit_refusal(r));
		return;
	}
	/*
	 * The kernel looked the name up just before (and found nothing: a
	 * pending name would have been opened, and refused, instead).  A
	 * task of that name queued in between is caught by the store's
	 * unique index when the content is stored: EBUSY at close().
	 */
	memset(&e, 0, sizeof(e));
	pthread_mutex_lock(&fs->lock);
	if (staged_by_name(fs, (size_t)pi, name)) {
		pthread_mutex_unlock(&fs->lock);
		refuse(req, EBUSY, pool_name(fs, (size_t)pi), name,
		       "that name is being written");
		return;
	}
	s = staged_new(fs, (size_t)pi, name, fuse_req_ctx(req), dot);
	if (s) {
		s->open_count = 1;
		s->nlookup = 1;
		e.ino = s->ino;
		staged_attr(s, &e.attr);
		/* Only this mount's writers change it, through this kernel,
		 * which keeps the size it caches: cp's fstat needs no request. */
		e.attr_timeout = TTL_STAGED_ATTR;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!s) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = 0;
	fi->direct_io = 1;
	if (fuse_reply_create(req, &e, fi) != 0) {
		pthread_mutex_lock(&fs->lock);
		s->open_count--;
		s->nlookup--;
		staged_unlist(fs, s);
		staged_maybe_free(fs, s);
		pthread_mutex_unlock(&fs->lock);
	}
}

void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	      dev_t rdev)
{
	refuse(req, pool_index(fs_of(req), parent) >= 0 ? EPERM : EROFS, "mknod", name,
	       "only regular files can be submitted");
}

void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fs *fs = fs_of(req);
	bool inside = parent == INO_QUEUE || pool_index(fs, parent) >= 0;

	refuse(req, inside ? EPERM : EROFS, "mkdir", name,
	       inside ? "pools come from the configuration; tasks are files" :
			"the tree outside queue/<pool>/ is read-only");
}

void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	refuse(req, pool_index(fs_of(req), parent) >= 0 ? EPERM : EROFS, "symlink", name,
	       "symbolic links cannot be submitted");
}

void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	refuse(req, pool_index(fs_of(req), newparent) >= 0 ? EPERM : EROFS, "link", newname,
	       "hard links cannot be submitted");
}

void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	refuse(req, EROFS, "rmdir", name, "directories of the mount cannot be removed");
}

void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int pi = pool_index(fs, parent);
	struct staged *s;
	int64_t unstage = 0, id;
	int r;

	if (is_sched_ino(parent)) {
		sched_unlink(req, parent, name);	/* schedules/ */
		return;
	}
	if (pi < 0) {
		refuse(req, EROFS, "unlink", name,
		       "only pending files in queue/<pool>/ can be removed");
		return;
	}
	pthread_mutex_lock(&fs->lock);
	/*
	 * Not while a flush stores it: its answer would give the unlisted
	 * file a staged row that nothing removes, and that runs when the
	 * daemon restarts.  The row goes first, and the name only once it is
	 * gone: a removal that fails leaves the file as it was, and says so.
	 * Meanwhile s counts as storing, so that a flush or a rename waits.
	 */
	while ((s = staged_by_name(fs, (size_t)pi, name)) && s->storing)
		pthread_cond_wait(&staged_store_done, &fs->lock);
	r = 0;
	if (s && (s->task_id || s->row_unknown)) {
		bool held = s->held;

		unstage = s->task_id;
		s->storing = true;
		pthread_mutex_unlock(&fs->lock);
		fs_store_begin(req);
		r = unstage ? store_unstage(fs->store, unstage) : staged_forget_unknown(fs, s);
		fs_store_end();
		/* Its claim goes with its row, and only then: a removal that
		 * failed leaves both (no release comes before s stops storing). */
		if (r == 0 && held)
			executor_unhold(fs->executor, unstage);
		pthread_mutex_lock(&fs->lock);
		s->storing = false;
		pthread_cond_broadcast(&staged_store_done);
		if (r == 0) {
			s->task_id = 0;
			s->held = false;
		}
	}
	if (s && r == 0) {
		staged_unlist(fs, s);
		staged_maybe_free(fs, s);
	}
	pthread_mutex_unlock(&fs->lock);
	if (s) {
		if (r < 0) {
			log_warn("removing queue/%s/%s: %s", LOG_ESCAPE(pool_name(fs, (size_t)pi)),
				 LOG_ESCAPE(name), store_last_error());
			r = r == -ESTALE ? -EIO : r;
		}
		fuse_reply_err(req, -r);
		return;
	}
	if (name[0] == '.') {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* The directory is sticky: the kernel lets only the submitter (or
	 * root) get here when permissions are enforced. */
	pthread_mutex_lock(&fs->lock);
	released_prune(fs, (size_t)pi, name);
	pthread_mutex_unlock(&fs->lock);
	fs_store_begin(req);
	r = store_cancel(fs->store, pool_name(fs, (size_t)pi), name, ctx->uid, &id);
	fs_store_end();
	if (r == -ENOENT) {
		refuse(req, ENOENT, pool_name(fs, (size_t)pi), name,
		       "no pending task of that name (it has started, or ended)");
		return;
	}
	if (r == -EPERM) {
		refuse(req, EPERM, pool_name(fs, (size_t)pi), name,
		       "the pending task of that name is another user's");
		return;
	}
	if (r < 0) {
		log_warn("cancelling queue/%s/%s: %s", LOG_ESCAPE(pool_name(fs, (size_t)pi)),
			 LOG_ESCAPE(name), store_last_error());
		fuse_reply_err(req, -r);
		return;
	}
	log_info("task %lld (queue/%s/%s) cancelled by uid %u", (long long)id,
		 LOG_ESCAPE(pool_name(fs, (size_t)pi)), LOG_ESCAPE(name), (unsigned)ctx->uid);
	fuse_reply_err(req, 0);
}

void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	       fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fs *fs = fs_of(req);
	int pi = pool_index(fs, parent), npi = pool_index(fs, newparent);
	struct submission sub = { 0 };
	struct task_info t;
	struct staged *s, *old;
	char *data = NULL, *nn;
	bool dot, was_dot, unknown;
	int r;
	int64_t id = 0, unstage = 0, committed_us = 0;

	if (pi < 0 || npi < 0) {
		refuse(req, EROFS, "rename", name,
		       "files move only between queue/<pool>/ directories");
		return;
	}
	if (flags & ~RENAME_NOREPLACE) {
		refuse(req, EINVAL, "rename", name, "unsupported rename flags");
		return;
	}
	if (check_queue_name(req, pool_name(fs, (size_t)npi), newname, &dot))
		return;
	/*
	 * The store calls of the rename share one deadline and end at
	 * Ctrl-C, up to the submission itself (see there).  Every answer
	 * below ends the span first: req is gone once answered.
	 */
	fs_store_begin(req);
	r = dot ? 0 : reserved_name_errno(fs, newname, fuse_req_ctx(req)->uid);
	if (r < 0) {
		fs_store_end();
		refuse(req, r == -ESTALE ? EIO : -r, pool_name(fs, (size_t)npi), newname, "%s",
		       submit_refusal(r));
		return;
	}
	if (!dot && store_get_pending(fs->store, pool_name(fs, (size_t)npi), newname, &t) == 0) {
		task_info_finish(&t);
		fs_store_end();
		refuse(req, EBUSY, pool_name(fs, (size_t)npi), newname,
		       "a task of that name is pending in the pool");
		return;
	}
	pthread_mutex_lock(&fs->lock);
again:
	/* Not while a flush stores it: its answer would set the task id of
	 * the old name after this rename dropped it. */
	while ((s = staged_by_name(fs, (size_t)pi, name)) && s->storing)
		pthread_cond_wait(&staged_store_done, &fs->lock);
	if (s && (s->task_id || s->row_unknown)) {
		/*
		 * Content stored under the old name goes first (it is stored
		 * again under the new one at the next flush or now): a staged
		 * row left behind would run after a restart.  So does what a
		 * commit with an unknown outcome may have stored.  As in
		 * unlink, s counts as storing meanwhile, and a failure changes
		 * nothing.
		 */
		bool held = s->held;

		unstage = s->task_id;
		s->storing = true;
		pthread_mutex_unlock(&fs->lock);
		r = unstage ? store_unstage(fs->store, unstage) : staged_forget_unknown(fs, s);
		if (r == 0 && held)
			executor_unhold(fs->executor, unstage);	/* as in unlink */
		pthread_mutex_lock(&fs->lock);
		s->storing = false;
		pthread_cond_broadcast(&staged_store_done);
		if (r == 0)
			s->held = false;
		if (r < 0) {
			pthread_mutex_unlock(&fs->lock);
			fs_store_end();
			log_warn("renaming queue/%s/%s: %s", LOG_ESCAPE(pool_name(fs, (size_t)pi)),
				 LOG_ESCAPE(name), store_last_error());
			fuse_reply_err(req, r == -ESTALE ? EIO : -r);
			return;
		}
		if (s->task_id == unstage) {
			s->task_id = 0;
			s->dirty = true;
		}
		goto again;
	}
	if (!s) {
		pthread_mutex_unlock(&fs->lock);
		/* A pending task: EXDEV makes mv copy it (a new task) and
		 * remove the old name (a cancel), which is what moving means. */
		r = name[0] != '.' ?
		    store_get_pending(fs->store, pool_name(fs, (size_t)pi), name, &t) : -ENOENT;
		fs_store_end();
		if (r == 0) {
			task_info_finish(&t);
			refuse(req, EXDEV, pool_name(fs, (size_t)pi), name,
			       "a pending task cannot be renamed; mv copies it and cancels the old one");
			return;
		}
		fuse_reply_err(req, r == -ENOENT ? ENOENT : r == -ESTALE ? EIO : -r);
		return;
	}
	old = staged_by_name(fs, (size_t)npi, newname);
	if (old && old != s) {
		if ((flags & RENAME_NOREPLACE) || !old->dot) {
			pthread_mutex_unlock(&fs->lock);
			fs_store_end();
			refuse(req, old->dot ? EEXIST : EBUSY, pool_name(fs, (size_t)npi), newname,
			       "that name is being written");
			return;
		}
		staged_unlist(fs, old);
		staged_maybe_free(fs, old);
	}
	if (dot || s->open_count > 0) {
		/* Still a staging file, or still open: it is submitted when
		 * its last writer closes it. */
		if (!(nn = strdup(newname))) {
			pthread_mutex_unlock(&fs->lock);
			fs_store_end();
			fuse_reply_err(req, ENOMEM);
			return;
		}
		staged_rename(fs, s, (size_t)npi, nn);
		s->dot = dot;
		s->dirty = true;
		pthread_mutex_unlock(&fs->lock);
		fs_store_end();
		fuse_reply_err(req, 0);
		return;
	}
	if (s->too_big || s->cap_err) {
		r = s->too_big ? EFBIG : s->cap_err;
		pthread_mutex_unlock(&fs->lock);
		fs_store_end();
		refuse(req, r, pool_name(fs, (size_t)npi), newname,
		       "a write to the file was refused (%s): it is cut short and never runs",
		       r == EFBIG ? "max_task_bytes" : r == EDQUOT ? "max_pending_bytes_per_user" :
		       "max_pending_bytes");
		return;
	}
	/*
	 * A complete file takes its final name: submit it now, durably.
	 * Copied under the lock, and closed to writers meanwhile (releasing):
	 * once unlisted, s can still be reopened by inode (an O_PATH
	 * descriptor), and an O_TRUNC would free the buffer being stored.
	 */
	if (s->data.len && !(data = malloc(s->data.len))) {
		pthread_mutex_unlock(&fs->lock);
		fs_store_end();
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (data)
		memcpy(data, s->data.data, s->data.len);
	if (!(nn = strdup(newname))) {
		pthread_mutex_unlock(&fs->lock);
		fs_store_end();
		free(data);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	staged_unlist(fs, s);
	sub.pool = pool_name(fs, (size_t)npi);
	sub.name = newname;
	sub.uid = s->uid;
	sub.gid = s->gid;
	sub.data = data;
	sub.len = s->data.len;
	s->pins++;		/* keeps s alive while unlocked */
	s->releasing = true;
	was_dot = s->dot;
	s->dot = false;		/* fs_open lets writers into staging files */
	pthread_mutex_unlock(&fs->lock);
	/* Staged, then released as at a last close: a commit whose answer
	 * is lost leaves a staged row of this instance, which can be taken
	 * back (fs_stage.c), not a queued one that any daemon may run.  In
	 * the span for its wait behind other writers' group commits; the
	 * batch itself is stored outside it (staged_store()). */
	r = sub.len ? store_stage(fs->store, &sub, &id, &committed_us) : 0;
	unknown = r < 0 && sub.len && !id && store_stage_outcome_unknown();
	fs_store_end();
	free(data);
	pthread_mutex_lock(&fs->lock);
	s->pins--;
	s->releasing = false;
	s->dot = was_dot;
	neg_forget(fs, (size_t)npi, newname);	/* lookups that raced the commit */
	if (unknown && !staged_by_name(fs, (size_t)npi, newname)) {
		/* It may be stored under its new name: it keeps that name,
		 * as a file whose last close failed, until what the commit
		 * left is taken back (fs_stage.c). */
		staged_rename(fs, s, (size_t)npi, nn);
		nn = NULL;
		staged_relist(fs, s);
		s->dot = false;		/* its name is a task's now */
		s->dirty = true;
		s->flush_err = -EIO;
		s->row_unknown = true;
		s->unknown_instance = store_instance(fs->store);
		atomic_fetch_add(&fs->n_row_unknown, 1);
		unknown = false;
	} else if (r < 0) {
		staged_relist(fs, s);	/* nothing queued: the file stays as it was */
	} else {
		if (id) {
			staged_rename(fs, s, (size_t)npi, nn);
			nn = NULL;
			s->task_id = id;
			s->submitted_us = committed_us;
			released_add_locked(fs, s);
		}
		staged_drop_data(fs, s);	/* in the store now */
		staged_let_go(fs, s, (size_t)npi, newname);
	}
	staged_maybe_free(fs, s);
	pthread_mutex_unlock(&fs->lock);
	free(nn);
	if (unknown)
		/* Its new name was taken meanwhile (the kernel's lock on the
		 * directory should forbid it): a removal by name could take
		 * the other file's row, whose writer was told it is stored. */
		log_error("queue/%s/%s: a rename's commit had an unknown outcome and the name "
			  "was taken meanwhile: what it may have stored is left, and may run",
			  LOG_ESCAPE(sub.pool), LOG_ESCAPE(newname));
	if (r < 0) {
		refuse(req, r == -ESTALE ? EIO : -r, pool_name(fs, (size_t)npi), newname, "%s",
		       submit_refusal(r));
		return;
	}
	if (id) {
		char where[600];

		snprintf(where, sizeof(where), "queue/%s/%s (rename)", LOG_ESCAPE(sub.pool),
			 LOG_ESCAPE(newname));
		staged_released(fs, id, committed_us, sub.pool, false, where, false);
	}
	fuse_reply_err(req, 0);
}

void fs_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size,
	      off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct staged *s;
	char name[NAME_MAX + 1] = "";
	size_t pool = 0;
	uid_t uid = 0;
	uint64_t held = 0, total = 0;
	int r = 0;

	if (is_sched_ino(ino)) {
		sched_write(req, data, size, off, fi);
		return;
	}
	if (!(ino & INO_STAGED_BIT)) {
		control_write(req, ino, data, size, off);	/* cancel, retry, pools/ */
		return;
	}
	pthread_mutex_lock(&fs->lock);
	s = staged_by_ino(fs, ino);
	if (!s) {
		r = -EROFS;
	} else if ((uint64_t)off + size > fs->cfg->max_task_bytes) {
		r = -EFBIG;
		s->too_big = true;
	} else {
		if ((size_t)off + size > s->data.len)
			r = staged_resize(fs, s, (uint64_t)off + size);
		if (r == 0) {
			memcpy(s->data.data + off, data, size);
			s->dirty = true;
			clock_gettime(CLOCK_REALTIME, &s->mtime);
		}
	}
	if (s && r < 0) {
		/* For the log line: s's name may change once unlocked. */
		const struct pending_use *u = pending_use_of(fs, s->uid);

		snprintf(name, sizeof(name), "%s", s->name);
		pool = s->pool;
		uid = s->uid;
		held = u ? u->bytes : 0;
		total = fs->pending_total;
	}
	pthread_mutex_unlock(&fs->lock);
	if (r == -EFBIG)
		refuse(req, EFBIG, pool_name(fs, pool), name,
		       "the file would exceed max_task_bytes (%llu bytes); nothing of it will run",
		       (unsigned long long)fs->cfg->max_task_bytes);
	else if (r == -EDQUOT)
		refuse(req, EDQUOT, pool_name(fs, pool), name,
		       "uid %u holds %llu bytes in files not yet submitted, and max_pending_bytes_per_user is %llu; nothing of this file will run",
		       (unsigned)uid, (unsigned long long)held,
		       (unsigned long long)fs->cfg->max_pending_bytes_per_user);
	else if (r == -ENOSPC)
		refuse(req, ENOSPC, pool_name(fs, pool), name,
		       "files not yet submitted hold %llu bytes, and max_pending_bytes is %llu; nothing of this file will run",
		       (unsigned long long)total, (unsigned long long)fs->cfg->max_pending_bytes);
	else if (r == -EROFS)
		refuse(req, EROFS, "write of inode", NULL, "only files in queue/<pool>/ are writable");
	else if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_write(req, size);
}

/* A close's flush (closing), or an fsync: each stores the content so far. */
static void store_now(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, bool closing)
{
	struct fs *fs = fs_of(req);
	struct staged *s;
	char name[512] = "";
	size_t pool = 0;
	int r;

	if (is_sched_ino(ino)) {
		sched_flush(req, fi);
		return;
	}
	if (!(ino & INO_STAGED_BIT)) {
		fuse_reply_err(req, 0);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	s = staged_by_ino(fs, ino);
	if (s) {
		snprintf(name, sizeof(name), "%s", s->name);
		pool = s->pool;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!s) {
		fuse_reply_err(req, 0);
		return;
	}
	/* Each flush with data makes the content so far durable: when cp's
	 * close() returns 0, the task will run. */
	fs_store_begin(req);
	r = staged_store(fs, s, closing);
	fs_store_end();
	pthread_mutex_lock(&fs->lock);
	s->flush_err = r < 0 ? r : 0;	/* what its writer is told */
	pthread_mutex_unlock(&fs->lock);
	if (r < 0)
		refuse(req, r == -ESTALE ? EIO : -r, pool_name(fs, pool), name,
		       "cannot store the file: %s", submit_refusal(r));
	else
		fuse_reply_err(req, 0);
}

void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	store_now(req, ino, fi, true);
}

void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	store_now(req, ino, fi, false);
}
