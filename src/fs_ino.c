/*
 * The filesystem's inodes and views: the name rules of queue/<pool>/, the
 * pools, what each view shows and the attributes of every inode.
 */
#include "fs_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"

const char *const view_names[V_QUEUE + 1] = {
	[V_TASKS] = "tasks", [V_RUNNING] = "running", [V_DONE] = "done",
	[V_FAILED] = "failed", [V_QUEUE] = "queue",
};

const char *const file_names[F_COUNT] = {
	[F_QUERY] = "query.sql", [F_STATE] = "state", [F_RESULT] = "result",
	[F_JSON] = "result.json",
	[F_LOG] = "log", [F_ERROR] = "error", [F_INFO] = "info", [F_WAIT] = "wait",
	[F_CANCEL] = "cancel", [F_RETRY] = "retry",
	[F_PROGRESS] = "progress",
};

/* ------------------------------------------------------------------ */
/* names                                                               */

static bool name_has_bad_bytes(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	/* Control characters would break the log's one line per event;
	 * names must be UTF-8 to be stored as text, as the server checks
	 * it: no overlong form, no surrogate, nothing past U+10FFFF (the
	 * server refuses those, which would be EIO at the commit). */
	while (*p) {
		int n;

		if (*p < 0x20 || *p == 0x7f)
			return true;
		if (*p < 0x80) {
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0 && *p >= 0xc2)
			n = 1;
		else if ((*p & 0xf0) == 0xe0)
			n = 2;
		else if ((*p & 0xf8) == 0xf0 && *p <= 0xf4)
			n = 3;
		else
			return true;
		for (int i = 1; i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				return true;
		if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
		    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
			return true;
		p += n + 1;
	}
	return false;
}

int queue_name_errno(const char *name, bool *ret_dot)
{
	size_t n = strlen(name);

	*ret_dot = name[0] == '.';
	/* The kernel passes FUSE longer names than any other filesystem takes. */
	if (n > NAME_MAX)
		return ENAMETOOLONG;
	if (name_has_bad_bytes(name))
		return EINVAL;
	if (*ret_dot)
		return 0;
	if (n <= 4 || strcmp(name + n - 4, ".sql") != 0)
		return EINVAL;
	return 0;
}

int pool_index(const struct fs *fs, fuse_ino_t ino)
{
	if (ino < INO_POOL_BASE || !pool_live(fs, ino - INO_POOL_BASE))
		return -1;
	return (int)(ino - INO_POOL_BASE);
}

const char *pool_name(const struct fs *fs, size_t i)
{
	return fs->slots[i].name;
}

const struct config_pool *pool_config(const struct fs *fs, size_t i)
{
	return pool_live(fs, i) ? config_find_pool(fs->cfg, fs->slots[i].name) : NULL;
}

int pool_slot_add(struct fs *fs, const char *name)
{
	size_t n = pool_slots(fs);

	for (size_t i = 0; i < n; i++)
		if (strcmp(fs->slots[i].name, name) == 0) {
			atomic_store(&fs->slots[i].live, true);
			return 0;
		}
	if (n >= MAX_POOLS)
		return -E2BIG;
	fs->slots[n].name = strdup(name);
	if (!fs->slots[n].name)
		return -ENOMEM;
	atomic_store(&fs->slots[n].live, true);
	atomic_store(&fs->n_slots, n + 1);	/* published last */
	return 0;
}

int check_queue_name(fuse_req_t req, const char *pool, const char *name,
		     bool *ret_dot)
{
	int err = queue_name_errno(name, ret_dot);

	if (err == ENAMETOOLONG)
		refuse(req, err, pool, name, "a name has at most %d bytes", NAME_MAX);
	else if (err)
		refuse(req, err, pool, name,
		       "only NAME.sql runs (and .NAME staging files); control characters and "
		       "non-UTF-8 names are refused");
	return err;
}

/* Logs a refused request once, with the path and the reason. */
__attribute__((format(printf, 5, 6)))
void refuse(fuse_req_t req, int err, const char *where, const char *name,
	    const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	log_warn("refused %s%s%s (uid %u): %s (%s)", LOG_ESCAPE(where), name ? "/" : "",
		 name ? LOG_ESCAPE(name) : "", (unsigned)fuse_req_ctx(req)->uid, why, strerror(err));
	fuse_reply_err(req, err);
}

void ino_where(const char *what, fuse_ino_t ino, char *buf, size_t size)
{
	if (is_task_ino(ino))
		snprintf(buf, size, "%s %s/%lld/%s", what, view_names[ino_view(ino)],
			 (long long)ino_id(ino), file_names[ino_file(ino)]);
	else
		snprintf(buf, size, "%s inode %llu", what, (unsigned long long)ino);
}

/* ------------------------------------------------------------------ */
/* attributes                                                          */

void dir_attr(const struct fs *fs, fuse_ino_t ino, mode_t mode, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFDIR | mode;
	st->st_nlink = 2;
	st->st_uid = fs->owner;
	st->st_gid = fs->owner_gid;
	st->st_atim = st->st_mtim = st->st_ctim = fs->start;
}

/* new-id and stats: generated when read, so their mtime is now.  Both are
 * read with direct_io, to their end whatever their size says, and the
 * fixed tree is listed and looked up without the database: stats's size
 * is that of the content this daemon last produced (0 before; an open
 * file's own in fstat), new-id's 0 (it cannot be known without reserving
 * an id). */
void special_attr(struct fs *fs, fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_uid = fs->owner;
	st->st_gid = fs->owner_gid;
	clock_gettime(CLOCK_REALTIME, &st->st_mtim);
	st->st_atim = st->st_ctim = st->st_mtim;
	if (ino == INO_STATS)
		st->st_size = (off_t)atomic_load(&fs->stats_size);
	if (ino == INO_METRICS)
		st->st_size = (off_t)atomic_load(&fs->metrics_size);
}

bool view_shows(enum view v, enum task_state s)
{
	switch (v) {
	case V_TASKS:
		return true;
	case V_RUNNING:
		return s == TASK_RUNNING;
	case V_DONE:
		return s == TASK_DONE;
	case V_FAILED:
		return s == TASK_FAILED || s == TASK_CANCELLED;
	case V_QUEUE:
		return s == TASK_STAGED || s == TASK_QUEUED;
	}
	return false;
}

/* What the state file says: a staged task's writer has returned. */
const char *shown_state(enum task_state s)
{
	return task_state_name(s == TASK_STAGED ? TASK_QUEUED : s);
}

bool file_exists(const struct task_info *t, enum file f)
{
	if (f == F_ERROR)
		return t->error != NULL;
	return true;
}

/*
 * A task's files are read-only.  A pending entry in queue/<pool>/ has its
 * owner's write bit, so that the owner's cp over it reaches the daemon and
 * gets EBUSY ("that name is pending") rather than the kernel's EACCES.
 */
mode_t task_mode(const struct fs *fs, const char *pool, bool dir, bool pending)
{
	const struct config_pool *p = pool ? config_find_pool(fs->cfg, pool) : NULL;
	bool pub = p && p->public;

	if (dir)
		return S_IFDIR | (pub ? 0555 : 0500);
	return S_IFREG | (pub ? 0444 : 0400) | (pending ? 0200 : 0);
}

double task_ttl(const struct task_info *t, enum view v)
{
	if (v == V_QUEUE || v == V_RUNNING || !task_state_final(t->state))
		return TTL_NONE;
	return t->state == TASK_DONE ? TTL_FINAL : TTL_RETRYABLE;
}

/* Attributes of file f of task t; the sizes are the content's, exactly. */
void task_attr(const struct fs *fs, const struct task_info *t, enum view v,
	       enum file f, struct stat *st)
{
	int64_t mtime = t->changed_us;
	struct buf info;

	memset(st, 0, sizeof(*st));
	st->st_ino = task_ino(t->id, v, f);
	st->st_uid = t->uid;
	st->st_gid = t->gid;
	st->st_nlink = f == F_DIR ? 2 : 1;
	st->st_mode = task_mode(fs, t->pool, f == F_DIR, v == V_QUEUE);
	switch (f) {
	case F_CANCEL:
	case F_RETRY:
		/* Only the submitter (and root) may write them; nothing to read. */
		st->st_mode = S_IFREG | 0200;
		break;
	case F_DIR:
		break;
	case F_QUERY:
		st->st_size = t->query_size;
		mtime = t->submitted_us;
		break;
	case F_STATE:
		st->st_size = (off_t)strlen(shown_state(t->state)) + 1;
		break;
	case F_RESULT:
		st->st_size = t->result_size;
		mtime = t->result_us ? t->result_us : t->submitted_us;
		break;
	case F_JSON:
		st->st_size = t->json_size;
		mtime = t->json_us ? t->json_us : t->submitted_us;
		break;
	case F_LOG:
		st->st_size = t->log_size;
		mtime = t->log_us ? t->log_us : t->submitted_us;
		break;
	case F_ERROR:
		st->st_size = (off_t)t->error_len;
		mtime = t->finished_us ? t->finished_us : t->changed_us;
		break;
	case F_INFO:
		buf_init(&info);
		if (format_info(t, &info) == 0)
			st->st_size = (off_t)info.len;
		buf_finish(&info);
		break;
	case F_WAIT:
		/* Known once the task has ended: its state line. */
		if (task_state_final(t->state))
			st->st_size = (off_t)strlen(shown_state(t->state)) + 1;
		mtime = t->finished_us ? t->finished_us : t->changed_us;
		break;
	case F_PROGRESS:
		/* Made when opened, read with direct_io to its end: size 0. */
		break;
	case F_COUNT:
		break;
	}
	if (v == V_QUEUE) {
		/* The pending entry is the submitted file itself. */
		st->st_size = t->query_size;
		mtime = t->submitted_us;
	}
	st->st_mtim = us_to_ts(mtime);
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
	st->st_blksize = 4096;
	st->st_blocks = (st->st_size + 511) / 512;
}

void staged_attr(const struct staged *s, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = s->ino;
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = s->listed ? 1 : 0;
	st->st_uid = s->uid;
	st->st_gid = s->gid;
	st->st_size = (off_t)s->data.len;
	st->st_mtim = st->st_ctim = st->st_atim = s->mtime;
	st->st_blksize = 4096;
	st->st_blocks = (st->st_size + 511) / 512;
}

enum view view_of_dir(fuse_ino_t ino)
{
	switch (ino) {
	case INO_TASKS: return V_TASKS;
	case INO_RUNNING: return V_RUNNING;
	case INO_DONE: return V_DONE;
	case INO_FAILED: return V_FAILED;
	default: return 0;
	}
}

/*
 * The task of inode `ino`, if its file is visible through the inode's view
 * (running/ shows running tasks only, error exists for failed ones...).
 */
int get_visible_task(struct fs *fs, fuse_ino_t ino, struct task_info *ret)
{
	int r;

	/* A file just closed: its pending entry (cp stats it) is known here. */
	if (ino_view(ino) == V_QUEUE && released_find_id(fs, ino_id(ino), ret))
		return 0;
	r = store_get_task(fs->store, ino_id(ino), ret);

	if (r < 0)
		return r;
	if (!view_shows(ino_view(ino), ret->state) || !file_exists(ret, ino_file(ino))) {
		task_info_finish(ret);
		return -ENOENT;
	}
	return 0;
}
