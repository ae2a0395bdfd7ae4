/*
 * The filesystem: libfuse low-level operations over the queue store.
 * Paths, files and errno live here; SQL does not (see store.h).
 */
#ifndef PGQFS_FS_H
#define PGQFS_FS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <stdint.h>

#include "config.h"
#include "executor.h"
#include "store.h"

struct fs;

/* Borrowed: cfg and store, which outlive the fs. */
__attribute__((warn_unused_result))
int fs_create(const struct config *cfg, struct store *store, struct fs **ret);

/*
 * A reloaded configuration (SIGHUP): queue/ and pools/ list its pools from
 * now on.  Borrowed: the old one stays allocated until fs_destroy().
 */
void fs_reload(struct fs *fs, const struct config *cfg);

/* The executor to wake after a submission and to read counters from. */
void fs_set_executor(struct fs *fs, struct executor *e);

/* The session the filesystem serves, to which it sends notifications
 * (borrowed).  NULL stops them: call it so before unmounting, since the
 * session's descriptor is closed then and its number may be reused. */
void fs_set_session(struct fs *fs, struct fuse_session *se);

/* executor_finished_fn: answers the `wait` readers of finished tasks (of
 * others' tasks, once the store confirms). */
void fs_tasks_finished(void *fs, const int64_t *ids, const enum task_state *states,
		       size_t n, bool own);

/*
 * Re-checks the task of every parked `wait` reader and answers those that
 * ended (the control connection came back: NOTIFYs may have been lost).
 * Callable from any thread (the executor's): never blocks on I/O, the
 * look-ups run on fs_wait.c's replier thread.
 */
void fs_recheck_waiters(void *fs);

/* Answers every parked request (EINTR) and waits until the answers are
 * sent: the daemon is stopping; later `wait` reads get EINTR at once. */
void fs_release_waiters(struct fs *fs);
/* The daemon drains, or stops: the tasks claimed with the staging of files
 * still open are staged again (held.c), as their files were, so none
 * starts here any more; a release that comes later queues its file, and a
 * restart's recovery queues those still open.  Returns how many. */
size_t fs_unhold_all(struct fs *fs);

void fs_destroy(struct fs *fs);

/*
 * Once mounted, before the loop: the session reads and writes /dev/fuse
 * through fs_io.c, which lets the kernel run look-ups in parallel (libfuse
 * 3.14 never says it may).  0, or a negative errno.
 */
__attribute__((warn_unused_result))
int fs_io_install(struct fuse_session *se);

extern const struct fuse_lowlevel_ops fs_ops;

#endif
