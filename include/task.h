/* A task's states and streams: shared vocabulary of store, executor and fs. */
#ifndef PGQFS_TASK_H
#define PGQFS_TASK_H

#include <stdint.h>
#include <string.h>

/*
 * staged: content durably stored by a writer that has not closed the file
 * yet; queued: runnable; running: claimed by one daemon; the last three
 * are final.  The words are what the `state` file and the control
 * database's task.state column hold.
 */
enum task_state {
	TASK_STAGED,
	TASK_QUEUED,
	TASK_RUNNING,
	TASK_DONE,
	TASK_FAILED,
	TASK_CANCELLED,
};

/* Output streams, stored as chunks keyed by (task, stream, offset). */
enum task_stream {
	STREAM_RESULT = 0,
	STREAM_LOG = 1,
	STREAM_JSON = 2,	/* result.json: the result's rows as JSON lines */
};
#define N_STREAMS 3

/* The largest chunk any version of the executor wrote: readers rely on
 * this bound. */
#define CHUNK_MAX (128 * 1024)
/*
 * The size the executor writes now.  A chunk of 128 KiB, once detoasted,
 * is an allocation just over glibc's mmap threshold in the backend that
 * reads or writes it, made and returned to the kernel for every chunk:
 * 12 page faults a chunk, 9,855 in a read of a 100 MB result, and 50
 * with 64 KiB chunks.  That read went from 224-309 to 320-481 MB/s.
 */
#define CHUNK_WRITE (64 * 1024)

static inline const char *task_state_name(enum task_state s)
{
	static const char *const names[] = {
		"staged", "queued", "running", "done", "failed", "cancelled",
	};
	return names[s];
}

/* Parses a state word; returns -1 for an unknown one. */
static inline int task_state_parse(const char *s)
{
	for (int i = TASK_STAGED; i <= TASK_CANCELLED; i++)
		if (strcmp(s, task_state_name((enum task_state)i)) == 0)
			return i;
	return -1;
}

static inline int task_state_final(enum task_state s)
{
	return s >= TASK_DONE;
}

#endif
