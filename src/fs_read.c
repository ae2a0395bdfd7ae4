/*
 * The filesystem's open, read and release of files: a task's files, the
 * info and stats contents, and the read-ahead of streams.
 */
#include "fs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

/* Bytes a read of a stream fetches ahead for the reads that follow. */
#define READ_AHEAD (512 * 1024)

/* The states `stats` shows, in its order. */
static const enum task_state stat_states[] = {
	TASK_QUEUED, TASK_RUNNING, TASK_DONE, TASK_FAILED, TASK_CANCELLED,
};
#define N_STAT_STATES (sizeof(stat_states) / sizeof(stat_states[0]))

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const struct pool_counts *counts_of(const struct store_counts *c, const char *pool)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->pools[i].pool, pool) == 0)
			return &c->pools[i];
	return NULL;
}

/*
 * Totals, then by pool name every pool of this daemon's configuration and
 * every other pool that has tasks (another daemon's), each with all its
 * keys, zeros too, so that scripts can rely on them.
 */
static int format_counts(struct fs *fs, const struct store_counts *c, struct buf *out)
{
	const struct config *cfg = fs->cfg;	/* one, should a reload come */
	size_t n = cfg->n_pools + c->n;
	const char **names = calloc(n ? n : 1, sizeof(*names));
	int r = 0;

	if (!names)
		return -ENOMEM;
	for (size_t i = 0; i < cfg->n_pools; i++)
		names[i] = cfg->pools[i].name;
	for (size_t i = 0; i < c->n; i++)
		names[cfg->n_pools + i] = c->pools[i].pool;
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t w = 0; w < N_STAT_STATES && r == 0; w++) {
		int64_t total = 0;

		for (size_t i = 0; i < c->n; i++)
			total += c->pools[i].n[stat_states[w]];
		r = buf_printf(out, "%s %lld\n", task_state_name(stat_states[w]),
			       (long long)total);
	}
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct pool_counts *pc;

		if (i > 0 && strcmp(names[i - 1], names[i]) == 0)
			continue;
		pc = counts_of(c, names[i]);
		for (size_t w = 0; w < N_STAT_STATES && r == 0; w++)
			r = buf_printf(out, "pool.%s.%s %lld\n", names[i],
				       task_state_name(stat_states[w]),
				       pc ? (long long)pc->n[stat_states[w]] : 0LL);
	}
	free(names);
	return r;
}

/* The stats file's content, as of now; its size is remembered for stat. */
int stats_content(struct fs *fs, struct buf *out)
{
	struct executor_counters c = { 0 };
	struct store_counts counts;
	size_t start = out->len, waiting, staged;
	int r;

	r = store_count_tasks(fs->store, &counts);
	if (r < 0)
		return r;
	r = format_counts(fs, &counts, out);
	store_counts_finish(&counts);
	if (fs->executor)
		executor_get_counters(fs->executor, &c);
	pthread_mutex_lock(&fs->wait_lock);
	waiting = fs->n_waiters;
	pthread_mutex_unlock(&fs->wait_lock);
	/* Files being written, and submitted ones the kernel still holds:
	 * this drops back once writers stop (the notifier lets them go). */
	pthread_mutex_lock(&fs->lock);
	staged = fs->n_staged;
	pthread_mutex_unlock(&fs->lock);
	if (r == 0)
		r = buf_printf(out,
			       "since_start.submitted %llu\nsince_start.started %llu\n"
			       "since_start.done %llu\nsince_start.failed %llu\nwaiting %zu\n"
			       "staged %zu\n",
			       (unsigned long long)atomic_load(&fs->n_submitted),
			       (unsigned long long)c.started, (unsigned long long)c.done,
			       (unsigned long long)c.failed, waiting, staged);
	if (r == 0)
		atomic_store(&fs->stats_size, out->len - start);
	return r;
}

static void format_time(struct buf *b, const char *key, int64_t us)
{
	char stamp[ISO_TIME_MAX];

	(void)buf_printf(b, "%s=%s\n", key, us ? iso_time(us, 6, stamp) : "");
}

/* The info file: key=value lines for scripts. */
int format_info(const struct task_info *t, struct buf *b)
{
	int r = buf_printf(b, "id=%lld\nname=%s\npool=%s\ntarget=%s\nstate=%s\nsubmitted_uid=%u\n",
			   (long long)t->id, t->name, t->pool, t->target ? t->target : "",
			   shown_state(t->state), t->uid);

	if (r < 0)
		return r;
	format_time(b, "submitted_at", t->submitted_us);
	format_time(b, "started_at", t->started_us);
	format_time(b, "finished_at", t->finished_us);
	if (t->started_us && t->finished_us)
		r = buf_printf(b, "duration_ms=%lld\n",
			       (long long)((t->finished_us - t->started_us) / 1000));
	else
		r = buf_puts(b, "duration_ms=\n");
	if (r == 0 && t->rows >= 0)
		r = buf_printf(b, "rows=%lld\n", (long long)t->rows);
	else if (r == 0)
		r = buf_puts(b, "rows=\n");
	if (r == 0)
		r = buf_printf(b, "attempt=%lld\n", (long long)t->attempt);
	if (r == 0 && t->backend_pid)
		r = buf_printf(b, "backend_pid=%lld\n", (long long)t->backend_pid);
	else if (r == 0)
		r = buf_puts(b, "backend_pid=\n");
	if (r == 0)
		r = buf_printf(b, "daemon=%s\n", t->daemon ? t->daemon : "");
	if (r == 0 && t->group_id)
		r = buf_printf(b, "group=%lld\n", (long long)t->group_id);
	if (r == 0 && t->is_group)
		r = buf_printf(b, "members=%lld\n", (long long)t->n_members);
	/* The header's options in effect, as header_format() wrote them; a
	 * member's are its group's but group=, which would say again, as
	 * another value, what group=ID above says. */
	for (const char *o = t->options; r == 0 && o && *o;) {
		const char *nl = strchr(o, '\n');
		size_t n = nl ? (size_t)(nl - o) + 1 : strlen(o);

		if (!(t->group_id && strncmp(o, "group=", 6) == 0))
			r = buf_append(b, o, n);
		o += n;
	}
	/* What a task that cannot start yet waits for: ids (after=), a time
	 * (not_before, a retry's back-off). */
	if (r == 0 && (t->state == TASK_QUEUED || t->state == TASK_STAGED)) {
		char stamp[ISO_TIME_MAX];

		if (t->waits_for && t->waits_for[0])
			r = buf_printf(b, "waits_for=%s\n", t->waits_for);
		if (r == 0 && t->run_at_us)
			r = buf_printf(b, "waits_until=%s\n", iso_time(t->run_at_us, 6, stamp));
	}
	return r;
}

static struct handle *handle_new(void)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (h)
		pthread_mutex_init(&h->lock, NULL);
	return h;
}

static void handle_free(struct handle *h)
{
	if (!h)
		return;
	buf_finish(&h->buf);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

static int open_task_file(struct fs *fs, fuse_ino_t ino, struct fuse_file_info *fi,
			  struct handle *h)
{
	struct task_info t;
	int r;

	r = get_visible_task(fs, ino, &t);
	if (r < 0)
		return r;
	h->id = t.id;
	h->file = ino_view(ino) == V_QUEUE ? F_QUERY : ino_file(ino);
	switch (h->file) {
	case F_STATE:
		h->snapshot = true;
		r = buf_printf(&h->buf, "%s\n", shown_state(t.state));
		break;
	case F_INFO:
		h->snapshot = true;
		r = format_info(&t, &h->buf);
		break;
	case F_ERROR:
		h->snapshot = true;
		r = buf_append(&h->buf, t.error, t.error_len);
		break;
	case F_RESULT:
		if (!t.is_group)
			break;
		/* A group's result lists its members, as they are now. */
		h->snapshot = true;
		r = store_group_result(fs->store, t.id, &h->buf);
		break;
	default:
		break;
	}
	/* Content of a done task never changes: let the page cache keep it.
	 * A failed or cancelled one may be retried (here or through another
	 * daemon, or its group or a member of it), and anything else is read
	 * from the store every time. */
	h->final = task_state_final(t.state);
	if (t.state == TASK_DONE && ino_view(ino) != V_QUEUE && h->file != F_WAIT)
		fi->keep_cache = 1;
	else
		fi->direct_io = 1;
	task_info_finish(&t);
	return r;
}

static void handle_obj_free(struct open_obj *o)
{
	handle_free((struct handle *)o);
}

/*
 * A task's cancel or retry, or a file of pools/<pool>/: open for writing
 * (O_TRUNC is no change: `echo 1 > cancel`), and for reading (pools/ files
 * read their value as of the open; cancel and retry read empty, for root,
 * whom their mode does not stop).  Never cached: pools/ values change under
 * the reader, and a write must reach the daemon.
 */
static void control_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct handle *h = handle_new();
	struct task_info t;
	int r = 0;

	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	h->snapshot = true;
	fs_store_begin(req);
	if (is_task_ino(ino)) {
		/* Still there: running/ID/cancel goes when the task ends. */
		r = get_visible_task(fs, ino, &t);
		if (r == 0) {
			h->id = t.id;
			h->file = ino_file(ino);
			task_info_finish(&t);
		}
	} else if ((fi->flags & O_ACCMODE) != O_WRONLY) {
		r = pool_file_content(fs, ino, &h->buf);
	}
	fs_store_end();
	if (r < 0) {
		handle_free(h);
		fuse_reply_err(req, -r);
		return;
	}
	fi->direct_io = 1;
	fi->fh = (uintptr_t)h;
	h->obj.free = handle_obj_free;
	open_add(fs, &h->obj);
	if (fuse_reply_open(req, fi) != 0) {
		open_remove(fs, &h->obj);
		handle_free(h);
	}
}

void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct handle *h;
	int r = 0;

	if (is_sched_ino(ino)) {
		sched_open(req, ino, fi);
		return;
	}
	if (ino & INO_STAGED_BIT) {
		const char *busy_why = NULL;
		struct staged *s;

		pthread_mutex_lock(&fs->lock);
		s = staged_by_ino(fs, ino);
		/* O_TRUNC empties the file even when opened read-only. */
		if (s && !s->dot && (s->open_count > 0 || s->releasing) &&
		    ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))) {
			/* Two writers of one task would mix their SQL, and a
			 * file whose writer closed it is a task already. */
			r = -EBUSY;
			busy_why = s->releasing ? "the file was just submitted"
						: "another writer has the file open";
		} else if (s) {
			s->open_count++;
			if (fi->flags & O_TRUNC)
				r = staged_resize(fs, s, 0);
		}
		pthread_mutex_unlock(&fs->lock);
		if (!s) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		if (r == -EBUSY) {
			refuse(req, EBUSY, pool_name(fs, s->pool), s->name, "%s", busy_why);
			return;
		}
		fi->fh = 0;
		fi->direct_io = 1;
		if (fuse_reply_open(req, fi) != 0)
			staged_release(fs, s);
		return;
	}
	if (is_control_file(fs, ino)) {
		control_open(req, ino, fi);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		struct task_info t;

		bool pending;

		fs_store_begin(req);
		pending = is_task_ino(ino) && ino_view(ino) == V_QUEUE &&
			  store_get_task(fs->store, ino_id(ino), &t) == 0;
		fs_store_end();
		if (pending) {
			refuse(req, EBUSY, t.pool, t.name,
			       "task %lld of that name is pending in the pool; its file cannot change (rm cancels it)",
			       (long long)t.id);
			task_info_finish(&t);
		} else {
			char where[96];

			ino_where("open for writing of", ino, where, sizeof(where));
			refuse(req, EROFS, where, NULL, "it is read-only");
		}
		return;
	}
	h = handle_new();
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_store_begin(req);
	if (ino == INO_NEW_ID) {
		int64_t id;
		bool pending;
		uint64_t gen;

		h->snapshot = true;
		pthread_mutex_lock(&fs->lock);
		gen = fs->neg_gen;
		pthread_mutex_unlock(&fs->lock);
		r = store_new_id(fs->store, fuse_req_ctx(req)->uid, &id, &pending);
		if (r == 0)
			r = buf_printf(&h->buf, "%lld\n", (long long)id);
		else
			log_warn("new-id: %s", store_last_error());
		/* The script's cp of ID.sql comes next: its lookup needs no query. */
		if (r == 0)
			fresh_id_add(fs, id, fuse_req_ctx(req)->uid);
		if (r == 0 && !pending) {
			char name[32];

			snprintf(name, sizeof(name), "%lld.sql", (long long)id);
			for (size_t i = 0; i < pool_slots(fs); i++)
				if (pool_live(fs, i))
					neg_remember(fs, i, name, gen, false);
		}
		fi->direct_io = 1;
	} else if (ino == INO_STATS) {
		h->snapshot = true;
		r = stats_content(fs, &h->buf);
		fi->direct_io = 1;
	} else if (ino == INO_METRICS) {
		h->snapshot = true;
		r = metrics_content(fs, &h->buf);
		fi->direct_io = 1;
	} else if (is_task_ino(ino) && ino_file(ino) == F_PROGRESS && ino_view(ino) != V_QUEUE) {
		r = progress_open(fs, req, ino, h);
		fi->direct_io = 1;
	} else if (is_task_ino(ino) && ino_file(ino) != F_DIR) {
		r = open_task_file(fs, ino, fi, h);
	} else {
		r = -EISDIR;
	}
	fs_store_end();
	if (r < 0) {
		handle_free(h);
		fuse_reply_err(req, -r);
		return;
	}
	fi->fh = (uintptr_t)h;
	h->obj.free = handle_obj_free;
	open_add(fs, &h->obj);
	if (fuse_reply_open(req, fi) != 0) {
		open_remove(fs, &h->obj);
		handle_free(h);
	}
}

void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);

	if (is_sched_ino(ino)) {
		sched_release(req, fi);
		return;
	}
	if (ino & INO_STAGED_BIT) {
		struct staged *s;

		pthread_mutex_lock(&fs->lock);
		s = staged_by_ino(fs, ino);
		pthread_mutex_unlock(&fs->lock);
		/* Reply first: the writer does not wait for the release. */
		fuse_reply_err(req, 0);
		if (s)
			staged_release(fs, s);
		return;
	}
	{
		struct handle *h = (struct handle *)(uintptr_t)fi->fh;

		open_remove(fs, &h->obj);
		handle_free(h);
	}
	fuse_reply_err(req, 0);
}

/*
 * Copies bytes [off, off+size) of b, whose first byte is at offset base,
 * into out.  The reply is sent from this private copy: once the kernel has
 * the data, the reader may close the file and its release may free the
 * handle while the replying thread is still inside fuse_reply_buf().
 */
static int slice_copy(const struct buf *b, uint64_t base, off_t off, size_t size,
		      struct buf *out)
{
	uint64_t o = (uint64_t)off;

	if (o < base || o >= base + b->len)
		return 0;
	if (size > base + b->len - o)
		size = (size_t)(base + b->len - o);
	return buf_append(out, b->data + (o - base), size);
}

/* Replies with out (or the error r) and frees it. */
static void reply_copy(fuse_req_t req, struct buf *out, int r)
{
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, out->data, out->len);
	buf_finish(out);
}

void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	struct buf out;
	size_t want;
	int r;

	if (is_sched_ino(ino)) {
		sched_read(req, size, off, fi);
		return;
	}
	buf_init(&out);
	if (ino & INO_STAGED_BIT) {
		struct staged *s;

		pthread_mutex_lock(&fs->lock);
		s = staged_by_ino(fs, ino);
		r = s ? slice_copy(&s->data, 0, off, size, &out) : -ENOENT;
		pthread_mutex_unlock(&fs->lock);
		reply_copy(req, &out, r);
		return;
	}
	if (!h) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (h->file == F_WAIT && !h->snapshot) {
		wait_read(fs, req, h, off, size);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (h->snapshot) {
		r = slice_copy(&h->buf, 0, off, size, &out);
		pthread_mutex_unlock(&h->lock);
		reply_copy(req, &out, r);
		return;
	}
	/* Streams: served from the read-ahead cache when it covers the
	 * request, else fetched with read-ahead.  Only a complete answer may
	 * be short: the kernel takes a short read for the end of the file. */
	if (!((uint64_t)off >= h->buf_off &&
	      ((uint64_t)off + size <= h->buf_off + h->buf.len ||
	       (h->buf_whole && (uint64_t)off <= h->buf_off + h->buf.len)))) {
		buf_reset(&h->buf);
		h->buf_off = (uint64_t)off;
		want = size > READ_AHEAD ? size : READ_AHEAD;
		fs_store_begin(req);
		if (h->file == F_QUERY)
			r = store_read_query(fs->store, h->id, (uint64_t)off, want, &h->buf);
		else
			r = store_read_stream(fs->store, h->id,
					      h->file == F_RESULT ? STREAM_RESULT :
					      h->file == F_JSON ? STREAM_JSON : STREAM_LOG,
					      (uint64_t)off, want, &h->buf);
		fs_store_end();
		if (r < 0) {
			buf_reset(&h->buf);
			pthread_mutex_unlock(&h->lock);
			fuse_reply_err(req, -r);
			return;
		}
		/* A short fetch reached the end, which only a finished task keeps. */
		h->buf_whole = h->buf.len < want && h->final;
	}
	r = slice_copy(&h->buf, h->buf_off, off, size, &out);
	pthread_mutex_unlock(&h->lock);
	reply_copy(req, &out, r);
}
