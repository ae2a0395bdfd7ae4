/*
 * Private to the filesystem (src/fs*.c): the shared state, inode
 * encoding and the functions its files call in one another.
 */
#ifndef PGQFS_FS_INTERNAL_H
#define PGQFS_FS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "buf.h"
#include "fs.h"

/*
 * Inode numbers are computed, not allocated, so that any daemon mounting
 * the same control database shows the same numbers:
 *
 *   1..8            the fixed directories and files below
 *   64 + i          queue/<pool i>/
 *   id<<8 | v<<4 | f  file f of task id as seen through view v
 *   1<<62 | n       a file being written (struct staged), this daemon only
 *   1<<61 | i<<2 | k  pools/<pool i>/ (k 0) and its files (enum pool_file)
 *   1<<60 | k       schedules/ (k 0), schedules/<pool i>/ (k 1 + i), and
 *                   (k 1<<32 | n) entry n of this daemon's schedule names
 */
enum {
	INO_ROOT = 1, INO_QUEUE, INO_RUNNING, INO_DONE, INO_FAILED, INO_TASKS,
	INO_NEW_ID, INO_STATS,
	INO_POOLS,
};
/* The metrics file (fs_metrics.c): apart from the sequence above. */
#define INO_METRICS 24
#define INO_POOL_BASE 64
#define MAX_POOLS CONFIG_MAX_POOLS
#define INO_STAGED_BIT (1ULL << 62)
#define INO_POOL_CTL_BIT (1ULL << 61)
#define INO_SCHED_BIT (1ULL << 60)
#define INO_SCHED_FILE (1ULL << 32)

static inline bool is_sched_ino(fuse_ino_t ino)
{
	return (ino & INO_SCHED_BIT) && !(ino & (INO_STAGED_BIT | INO_POOL_CTL_BIT));
}

/* A schedule file's inode (fs_schedule.c). */
static inline bool is_sched_file_ino(fuse_ino_t ino)
{
	return is_sched_ino(ino) && (ino & INO_SCHED_FILE);
}

/* pools/<pool>/ and its files: the pool's live settings. */
enum pool_file { PF_DIR, PF_MAX_WORKERS, PF_PAUSED, PF_COUNT };

static inline fuse_ino_t pool_ctl_ino(size_t pool, enum pool_file k)
{
	return INO_POOL_CTL_BIT | ((fuse_ino_t)pool << 2) | (fuse_ino_t)k;
}

static inline bool is_pool_ctl_ino(fuse_ino_t ino)
{
	return (ino & INO_POOL_CTL_BIT) && !(ino & INO_STAGED_BIT) && (ino & 3) < PF_COUNT;
}

static inline size_t pool_ctl_pool(fuse_ino_t ino)
{
	return (size_t)((ino & ~INO_POOL_CTL_BIT) >> 2);
}

static inline enum pool_file pool_ctl_file(fuse_ino_t ino) { return (enum pool_file)(ino & 3); }

enum view { V_TASKS = 1, V_RUNNING, V_DONE, V_FAILED, V_QUEUE };
enum file { F_DIR, F_QUERY, F_STATE, F_RESULT, F_JSON, F_LOG, F_ERROR, F_INFO, F_WAIT,
	F_CANCEL, F_RETRY,	/* written, never read: fs_control.c */
	F_PROGRESS,		/* made when opened: fs_progress.c */
	F_COUNT };

/* The names of a task directory's files, by enum file. */
extern const char *const file_names[F_COUNT];
extern const char *const view_names[V_QUEUE + 1];

/* Kernel cache lifetimes.  Anything that can change is not cached, so
 * that a consumed queue name is never served from a stale dentry. */
#define TTL_STATIC 3600.0
#define TTL_FINAL 60.0		/* done: never changes again */
#define TTL_RETRYABLE 1.0	/* failed or cancelled: a retry (here, through
				 * another daemon, or of its group or a member)
				 * queues it again */
#define TTL_NONE 0.0
#define TTL_NEGATIVE 1.0
#define TTL_STAGED_ATTR 1.0

static inline fuse_ino_t task_ino(int64_t id, enum view v, enum file f)
{
	return ((fuse_ino_t)id << 8) | ((fuse_ino_t)v << 4) | (fuse_ino_t)f;
}

static inline int64_t ino_id(fuse_ino_t ino) { return (int64_t)(ino >> 8); }
static inline enum view ino_view(fuse_ino_t ino) { return (enum view)((ino >> 4) & 15); }
static inline enum file ino_file(fuse_ino_t ino) { return (enum file)(ino & 15); }

static inline bool is_task_ino(fuse_ino_t ino)
{
	return ino >= 256 && !(ino & (INO_STAGED_BIT | INO_POOL_CTL_BIT | INO_SCHED_BIT)) &&
	       ino_view(ino) >= V_TASKS &&
	       ino_view(ino) <= V_QUEUE && ino_file(ino) < F_COUNT;
}

/*
 * Names found not pending in queue/<pool>/, remembered as long as the
 * kernel keeps its negative entry (TTL_NEGATIVE): cp looks a new name up
 * two to four times (stat, lstat, the open with O_EXCL that the kernel
 * never answers from its cache, lstat after close), and only the first
 * needs the store.  A name this daemon makes pending is forgotten here
 * at once; one another daemon queues meanwhile is the same race as the
 * kernel's own negative entry (EBUSY at close()).
 */
#define NEG_SLOTS 256

/* Reservations remembered by fresh_id_add(); ids come in sequence, so a
 * slot is only reused after that many more. */
#define FRESH_SLOTS 256

struct neg_entry {
	uint64_t gen;		/* bumped when a name of this slot may become pending */
	int64_t expires_ms;	/* 0: empty */
	size_t pool;
	char name[256];
};

/*
 * A file whose writer closed it is a pending task under its name from then
 * on, and its row changes only when the executor's next claim takes or
 * queues it.  Until then lookups of the name (cp -t looks each file up
 * again after closing it) are answered from here, not from the store.
 */
#define RELEASED_MAX 1024
#define RELEASED_BUCKETS 2048
#define RELEASED_MS 2000	/* at the latest, ask the store again */

struct released {
	struct released *next;
	struct released *prev;		/* toward the newest; fs->released_oldest is the tail */
	struct released *by_name, *by_id;	/* hash chains (fs_cache.c) */
	size_t pool;
	char *name;
	int64_t id;
	uint32_t uid, gid;
	int64_t size;
	int64_t submitted_us;
	uint64_t seq;		/* settled when the executor says so */
	int64_t expires_ms;
};

/* A file being written in queue/<pool>/, held in memory until released. */
struct staged {
	struct staged *next;
	struct staged *prev;
	struct staged *by_ino, *by_name;	/* hash chains (fs_cache.c); by_name while listed */
	fuse_ino_t ino;
	size_t pool;
	char *name;
	uid_t uid;
	gid_t gid;
	struct buf data;
	int64_t task_id;	/* staged row in the store, 0 if none yet */
	bool row_unknown;	/* a staging commit of a new row failed with its
				 * outcome unknown: a row of its name may be
				 * stored, its id unknown */
	int64_t unknown_instance;	/* the instance that commit staged as */
	int64_t submitted_us;	/* of that row */
	int64_t held_instance;	/* the instance whose staging claimed it */
	bool held;		/* its row may be claimed with its staging: the
				 * executor holds its task until the release
				 * (held.c); written again, removed or renamed,
				 * it is staged again first */
	bool dot;		/* a staging name: never runs */
	bool listed;		/* still has its name in the directory */
	bool dirty;		/* changed since last stored */
	bool too_big;		/* a write hit max_task_bytes: never runs */
	bool releasing;		/* its last writer closed it: being submitted */
	bool storing;		/* a flush is storing a copy of it */
	int cap_err;		/* EDQUOT or ENOSPC: a write hit a memory cap; never runs */
	int flush_err;		/* the -errno its last flush told its writer; 0 after
				 * one that stored it all */
	uint64_t charged;	/* bytes counted against its uid's and the total cap */
	int open_count;
	uint64_t nlookup;	/* the kernel's references */
	int pins;		/* threads using it while fs->lock is released */
	struct timespec mtime;
};

/* Bytes a uid holds in memory for files not yet submitted. */
struct pending_use {
	uid_t uid;
	uint64_t bytes;
};

/*
 * Every open file and directory is on the fs's list of open objects, so
 * that a daemon stopping with files still open (their release never
 * comes) frees them all.
 */
struct open_obj {
	struct open_obj *prev, *next;
	void (*free)(struct open_obj *o);
};

struct inval;		/* a name the notifier invalidates (fs_cache.c) */

/*
 * A pool's number in the mount (its queue/ and pools/ inodes and its
 * staged files' keys hold it), for the daemon's life: a reload adds
 * slots and marks removed pools gone, never renumbers, so that nothing
 * the kernel or a writer holds changes meaning.  Names are freed with the
 * fs only.
 */
struct absent_set;

struct pool_slot {
	char *name;
	atomic_bool live;	/* in the running configuration */
	struct absent_set *absent;	/* fs_absent.c, under fs->lock */
};

struct fs {
	/* The running configuration: a reload swaps it (every one stays
	 * allocated until exit). */
	const struct config *_Atomic cfg;
	struct pool_slot slots[MAX_POOLS];
	atomic_size_t n_slots;
	struct store *store;
	struct executor *executor;
	uid_t owner;		/* the mounting user: owns the fixed tree */
	gid_t owner_gid;
	struct timespec start;
	pthread_mutex_t lock;	/* staged list, negative cache and counters */
	struct staged *staged;
	uint64_t next_staged;
	struct neg_entry neg[NEG_SLOTS];
	/* Ids this daemon just handed out through new-id, unused: the
	 * script's cp of ID.sql then needs no query to learn that the id is
	 * its own (fresh_id_take()).  Slot id % FRESH_SLOTS; 0: empty. */
	struct fresh_id {
		int64_t id;
		uid_t uid;
	} fresh[FRESH_SLOTS];
	struct released *released;	/* newest first */
	size_t n_released;
	struct released *released_oldest;
	struct released *released_name_index[RELEASED_BUCKETS];
	struct released *released_id_index[RELEASED_BUCKETS];
	struct staged **ino_index, **name_index;	/* index_cap buckets each */
	size_t index_cap;
	size_t n_staged;
	struct fuse_session *se;	/* for the notifier; NULL in unit tests */
	pthread_t inval_thread;
	bool inval_running, inval_quit, inval_exited;
	bool inval_closed;	/* the session is going: the notifier may not start */
	struct fuse_session *inval_se;	/* the one the notifier writes to */
	pthread_cond_t inval_cond;	/* with fs->lock: the queue has work */
	struct inval *inval_head, *inval_tail;
	size_t n_inval;
	uint64_t neg_gen;	/* bumped whenever any local name may become pending */
	uint64_t pending_total;	/* bytes of all staged files (the memory caps) */
	struct pending_use *pending_users;	/* per uid, only uids holding some */
	size_t n_pending_users;
	struct pending_use *listing_users;	/* bytes of open listings, per uid */
	size_t n_listing_users;
	pthread_mutex_t wait_lock;
	struct waitq *waitq;	/* fs_wait.c: parked `wait` readers, made on first use */
	size_t n_waiters;
	bool wait_stopped;	/* fs_release_waiters ran: `wait` answers EINTR */
	atomic_uint_fast64_t n_submitted;
	atomic_int n_row_unknown;	/* staged files with row_unknown set */
	atomic_size_t stats_size;	/* of the stats content last produced */
	atomic_size_t metrics_size;	/* of the metrics content last produced */
	pthread_mutex_t open_lock;
	struct open_obj open;	/* list head of open files and directories */
	/* fs_schedule.c: the (pool, name)s given schedule inodes (fs->lock) */
	struct sched_name *sched_names;
	size_t n_sched_names, cap_sched_names;
	pthread_mutex_t progress_lock;	/* fs_progress.c: its target connections */
	struct progress_conn *progress_conns;
};

/* What an open file reads from. */
struct handle {
	struct open_obj obj;	/* first: the list links */
	pthread_mutex_t lock;	/* the kernel reads one file in parallel */
	enum file file;
	int64_t id;
	bool snapshot;		/* content is fully in buf (state, info, ...) */
	struct buf buf;		/* snapshot, or cached stream bytes */
	uint64_t buf_off;	/* stream offset of buf.data[0] */
	bool buf_whole;		/* the cache ends at the stream's end */
	bool final;		/* the task had ended when opened */
	atomic_int wait_answer;	/* `wait`: 1 + the state a read of it answered,
				 * 0 before (later reads need no look-up) */
};

static inline struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline struct timespec us_to_ts(int64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };

	return ts;
}

/* fs_absent.c: whole-pool answers to lookups of new names.  Under
 * fs->lock, but absent_load() (which takes it). */
/* For how many more ms name is known not pending in the pool, from the
 * pool's set (0: not known). */
int64_t absent_left_ms(struct fs *fs, size_t pool, const char *name);
/* Counts a store lookup of a new name: true when the caller is to read
 * the pool's set now (absent_load, without fs->lock). */
bool absent_begin(struct fs *fs, size_t pool);
void absent_load(struct fs *fs, size_t pool);
/* name may be pending from now on (neg_forget). */
void absent_note(struct fs *fs, size_t pool, const char *name);
void absent_free(struct fs *fs);

/* fs_wait.c */
void wait_read(struct fs *fs, fuse_req_t req, struct handle *h, off_t off,
	       size_t size);
/* Frees what fs_release_waiters left (fs_destroy, after the session). */
void wait_destroy(struct fs *fs);

/* fs_cache.c */
/* The hash of a name in a pool, for every name table of the caches. */
uint64_t name_hash(size_t pool, const char *name);
struct staged *staged_by_ino(struct fs *fs, fuse_ino_t ino);
struct staged *staged_by_name(struct fs *fs, size_t pool, const char *name);
struct neg_entry *neg_slot(struct fs *fs, size_t pool, const char *name);
int64_t neg_left_ms(struct fs *fs, size_t pool, const char *name);
void neg_remember(struct fs *fs, size_t pool, const char *name, uint64_t gen,
		  bool slot_gen);
void neg_forget(struct fs *fs, size_t pool, const char *name);
/* uid was handed out id (new-id), unused. */
void fresh_id_add(struct fs *fs, int64_t id, uid_t uid);
/* Whether id is one uid was just handed out and has not tried to use
 * since; forgets it (a second try asks the store). */
bool fresh_id_take(struct fs *fs, int64_t id, uid_t uid);
void staged_unlist(struct fs *fs, struct staged *s);
void released_free(struct released *r);
void released_prune(struct fs *fs, size_t pool, const char *name);
void released_add_locked(struct fs *fs, const struct staged *s);
void released_number(struct fs *fs, int64_t id, uint64_t seq);
void released_forget(struct fs *fs, int64_t id);
bool released_find_id(struct fs *fs, int64_t id, struct task_info *t);
bool released_find(struct fs *fs, size_t pool, const char *name, struct task_info *t);
void staged_maybe_free(struct fs *fs, struct staged *s);
__attribute__((warn_unused_result))
int fs_cache_init(struct fs *fs);
void fs_cache_finish(struct fs *fs);
void staged_insert(struct fs *fs, struct staged *s);
void staged_rename(struct fs *fs, struct staged *s, size_t pool, char *name);
void staged_relist(struct fs *fs, struct staged *s);
void staged_let_go(struct fs *fs, const struct staged *s, size_t pool, const char *name);
void inval_start(struct fs *fs);
void inval_entry_add(struct fs *fs, fuse_ino_t parent, const char *name);
void inval_stop(struct fs *fs);

/* fs_io.c: whether the INIT answer lets the kernel run look-ups in
 * parallel (fs_init() decides, before the answer goes). */
void fs_io_want_parallel_dirops(bool want);

/* fs_ino.c */
/* Slots so far (some may be gone), and whether slot i's pool is live. */
static inline size_t pool_slots(const struct fs *fs) { return atomic_load(&fs->n_slots); }
static inline bool pool_live(const struct fs *fs, size_t i)
{
	return i < pool_slots(fs) && atomic_load(&fs->slots[i].live);
}
/* Slot i's pool in the running configuration; NULL if it left. */
const struct config_pool *pool_config(const struct fs *fs, size_t i);
/* Adds a slot for pool `name` (or makes its old one live again). */
int pool_slot_add(struct fs *fs, const char *name);
/*
 * 0, or the errno that refuses `name` as a file in a pool directory (and
 * then the request is answered and the refusal logged).
 */
int check_queue_name(fuse_req_t req, const char *pool, const char *name,
		     bool *ret_dot);

/* "WHAT tasks/ID/FILE" for a task's file, else "WHAT inode N": for the log. */
void ino_where(const char *what, fuse_ino_t ino, char *buf, size_t size);
void refuse(fuse_req_t req, int err, const char *where, const char *name,
	    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int queue_name_errno(const char *name, bool *ret_dot);
int pool_index(const struct fs *fs, fuse_ino_t ino);
const char *pool_name(const struct fs *fs, size_t i);
void dir_attr(const struct fs *fs, fuse_ino_t ino, mode_t mode, struct stat *st);
void special_attr(struct fs *fs, fuse_ino_t ino, struct stat *st);
bool view_shows(enum view v, enum task_state s);
const char *shown_state(enum task_state s);
bool file_exists(const struct task_info *t, enum file f);
mode_t task_mode(const struct fs *fs, const char *pool, bool dir, bool pending);
double task_ttl(const struct task_info *t, enum view v);
void task_attr(const struct fs *fs, const struct task_info *t, enum view v,
	       enum file f, struct stat *st);
void staged_attr(const struct staged *s, struct stat *st);
enum view view_of_dir(fuse_ino_t ino);
int get_visible_task(struct fs *fs, fuse_ino_t ino, struct task_info *ret);

/* fs_dir.c */
struct dir_handle;
/* Adds an entry to a listing being snapshot; `name` NULL names it by its
 * task's id. */
__attribute__((warn_unused_result))
int dir_add(struct dir_handle *d, size_t *cap, const char *name, fuse_ino_t ino,
	    const struct stat *st, double ttl);
void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);

/* fs_read.c */
int stats_content(struct fs *fs, struct buf *out);
int format_info(const struct task_info *t, struct buf *b);
void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	     struct fuse_file_info *fi);

/* fs_metrics.c: the metrics file's content, as of now; its size is
 * remembered for stat. */
__attribute__((warn_unused_result))
int metrics_content(struct fs *fs, struct buf *out);

/* fs_progress.c: a task's progress file, made at its open (req: the
 * open, for its deadline and interrupt): 0, or -ENOENT, -EINTR, ... */
__attribute__((warn_unused_result))
int progress_open(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct handle *h);
/* Closes the cached target connections (fs_destroy). */
void progress_finish(struct fs *fs);

/* fs_quota.c: a file's buffer and its charge against the caps (fs->lock) */
/* Sets s's length (zeros when it grows): -EFBIG, -EDQUOT, -ENOSPC, -ENOMEM. */
__attribute__((warn_unused_result))
int staged_resize(struct fs *fs, struct staged *s, uint64_t size);
/* Frees s's content and gives its bytes back to the caps. */
void staged_drop_data(struct fs *fs, struct staged *s);
/* uid's bytes held in files not yet submitted, or NULL if none. */
struct pending_use *pending_use_of(struct fs *fs, uid_t uid);
/*
 * Counts a buffer of uid's, charged *charged bytes so far, as holding
 * `size` bytes against uid's cap and the total one: 0, or -EDQUOT (the
 * uid's cap), -ENOSPC (the total cap) or -ENOMEM, and then nothing
 * changed.  Files being written and schedule files' buffers.  Under
 * fs->lock.
 */
int pending_charge(struct fs *fs, uid_t uid, uint64_t *charged, uint64_t size);
/*
 * Sets b's length to size (zeros when it grows), charged to uid (*charged
 * so far) as pending_charge() does.  Its storage grows by a quarter at a
 * time, shrinks when it is cut and is freed at 0, so that it stays within
 * a quarter of the charge.  0, or -EDQUOT, -ENOSPC, -ENOMEM, and then
 * nothing changed.  Under fs->lock.
 */
__attribute__((warn_unused_result))
int held_resize(struct fs *fs, uid_t uid, uint64_t *charged, struct buf *b, uint64_t size);
/* Frees b and gives its charge back.  Under fs->lock. */
void held_drop(struct fs *fs, uid_t uid, uint64_t *charged, struct buf *b);

/* fs_submit.c */
void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi);
void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	      dev_t rdev);
void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
	       fuse_ino_t newparent, const char *newname, unsigned int flags);
void fs_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size,
	      off_t off, struct fuse_file_info *fi);
void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);
/* fs_stage.c: what a file being written stores, and its last close. */
/* One store of a file at a time (struct staged's storing), with fs->lock:
 * two descriptors closing at once must commit their copies in the order
 * they were taken. */
extern pthread_cond_t staged_store_done;
/* Stores s's content durably (a flush with data): 0 or -errno.  Without
 * fs->lock; the caller keeps s alive.  closing: a close's flush (or the
 * release), not an fsync: on the close of its only open file, its claim
 * may be asked with it (held.c). */
int staged_store(struct fs *fs, struct staged *s, bool closing);
/* Removes what a staging commit of s with an unknown outcome may have
 * stored (s->row_unknown).  Without fs->lock; s kept alive. */
int staged_forget_unknown(struct fs *fs, struct staged *s);
void staged_release(struct fs *fs, struct staged *s);
/* Task id, staged and committed at committed_us (a last close or a
 * rename), goes to the executor; where names it in the log; plain: its
 * first statement is a plain query (executor_release()). */
void staged_give_back(struct fs *fs, int64_t id, int64_t instance);
void staged_released(struct fs *fs, int64_t id, int64_t committed_us, const char *pool, bool held,
		     const char *where, bool plain);
/* Tries again to remove what staging commits with an unknown outcome may
 * have stored (files whose first attempt failed); until one fails. */
void staged_forget_sweep(struct fs *fs);

/* fs_control.c: cancel, retry and pools/ */
extern const char *const pool_file_names[PF_COUNT];
bool pool_ctl_known(const struct fs *fs, fuse_ino_t ino);
/* Whether ino is a file written to control a task or a pool. */
bool is_control_file(const struct fs *fs, fuse_ino_t ino);
__attribute__((warn_unused_result))
int pool_file_content(struct fs *fs, fuse_ino_t ino, struct buf *out);
__attribute__((warn_unused_result))
int pool_ctl_attr(struct fs *fs, fuse_ino_t ino, struct stat *st);
void pools_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void control_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off);

/* fs_schedule.c: schedules/<pool>/NAME.sql */
struct sched_name;
/* Answers a lookup of the schedules tree (and of "schedules" in the root):
 * true; false when the parent is none of it. */
bool sched_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
__attribute__((warn_unused_result))
int sched_getattr(struct fs *fs, fuse_ino_t ino, struct stat *st, double *ttl);
/* Lists schedules/ or schedules/<pool>/, or (ino INO_ROOT) adds the
 * root's "schedules" entry. */
__attribute__((warn_unused_result))
int sched_snapshot(struct fs *fs, fuse_ino_t ino, struct dir_handle *d, size_t *cap);
void sched_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi);
void sched_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void sched_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi);
void sched_write(fuse_req_t req, const char *data, size_t size, off_t off,
		 struct fuse_file_info *fi);
void sched_flush(fuse_req_t req, struct fuse_file_info *fi);
void sched_release(fuse_req_t req, struct fuse_file_info *fi);
void sched_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
/* 0 with the attributes after the change in *ret, or -errno. */
__attribute__((warn_unused_result))
int sched_setattr(fuse_req_t req, fuse_ino_t ino, const struct stat *attr, int to_set,
		  struct fuse_file_info *fi, struct stat *ret);
void sched_names_free(struct fs *fs);
/* The kernel was told of schedule file ino n more times (n < 0: forgot it
 * -n times); under fs->lock.  sched_name_unpin() lets go of a pin taken
 * by a listing (sched_snapshot()). */
void sched_name_looked_up(struct fs *fs, fuse_ino_t ino, int64_t n);
void sched_name_unpin(struct fs *fs, fuse_ino_t ino);

/* fs.c */
void open_add(struct fs *fs, struct open_obj *o);
void open_remove(struct fs *fs, struct open_obj *o);
/* Store calls between these serve req: one deadline, and -EINTR as soon as
 * the kernel interrupts req.  End before replying to req. */
void fs_store_begin(fuse_req_t req);
void fs_store_end(void);

#endif
