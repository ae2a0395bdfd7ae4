/*
 * handoff-ref: the hand-off that contrib/bench.sh measures pgqfs against,
 * done by a client with nothing in its way.  Never installed, never used by
 * the tests.
 *
 *   handoff-ref CONNINFO SLOTS TASKS SLEEP [bare]
 *
 * It opens SLOTS connections, takes advisory lock 8008 on one more, and
 * starts on each connection the statement phase 12 queues in pgqfs:
 *
 *     SELECT pg_sleep(SLEEP) FROM (SELECT pg_advisory_xact_lock_shared(8008)) gate;
 *
 * Once all SLOTS wait for the lock it releases it, stamped by the server's
 * clock as phase 12 stamps it, and from then on starts the next statement on
 * a connection the moment that connection's last one ends, until TASKS have
 * run.  It keeps no queue, no state and no record: between two statements a
 * connection gets what pgqfs gives a session between two tasks, `DISCARD ALL`
 * and then the task's naming sent with its statement in one string (the
 * same text as src/run.c's, app_name_query()), unless "bare" is given, in which case it gets nothing
 * at all.  "bare" is the floor of this machine: the time PostgreSQL itself
 * takes to wake the lock's waiters and to end and start statements.
 *
 * It prints one line, "release_to_last_finish_us N", the release by the
 * server's clock and the last finish by this process's, as phase 12 reads
 * the daemon's finished_at (the same host, the same clock).
 */
#include <libpq-fe.h>

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum slot_state {
	SLOT_TASK,	/* a task's statement in flight */
	SLOT_RESET,	/* DISCARD ALL in flight */
	SLOT_IDLE,	/* nothing left to start */
};

struct slot {
	PGconn *conn;
	enum slot_state state;
};

static char task_sql[256];
static char named_sql[512];
static int named_at;	/* where the task's number goes in named_sql */

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what, PGconn *conn)
{
	fprintf(stderr, "handoff-ref: %s: %s", what, conn ? PQerrorMessage(conn) : "\n");
	exit(1);
}

/* A query that must succeed, with its one value (or NULL). */
static char *exec_value(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	char *value = NULL;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		die(sql, conn);
	if (PQntuples(res) > 0)
		value = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return value;
}

static void send_or_die(struct slot *s, const char *sql, enum slot_state state)
{
	if (!PQsendQuery(s->conn, sql))
		die("send", s->conn);
	s->state = state;
}

/*
 * Reads what came on a slot.  Returns true when its query in flight has
 * ended, every result consumed; a statement that failed ends the run.
 */
static bool slot_done(struct slot *s)
{
	PGresult *res;

	if (!PQconsumeInput(s->conn))
		die("read", s->conn);
	while (!PQisBusy(s->conn)) {
		res = PQgetResult(s->conn);
		if (!res)
			return true;
		if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
			die("statement", s->conn);
		PQclear(res);
	}
	return false;
}

int main(int argc, char **argv)
{
	struct slot *slots;
	struct pollfd *pfd;
	PGconn *gate;
	char *value;
	int n_slots, n_tasks, started = 0, finished = 0;
	int64_t released = 0, last = 0;
	bool bare;

	if (argc < 5 || argc > 6 || (argc == 6 && strcmp(argv[5], "bare") != 0)) {
		fprintf(stderr, "usage: handoff-ref CONNINFO SLOTS TASKS SLEEP [bare]\n");
		return 2;
	}
	n_slots = atoi(argv[2]);
	n_tasks = atoi(argv[3]);
	bare = argc == 6;
	if (n_slots < 1 || n_tasks < n_slots || atof(argv[4]) <= 0) {
		fprintf(stderr, "handoff-ref: SLOTS must be positive, TASKS at least SLOTS, SLEEP positive\n");
		return 2;
	}
	snprintf(task_sql, sizeof task_sql,
		 "SELECT pg_sleep(%s) FROM (SELECT pg_advisory_xact_lock_shared(8008)) gate;", argv[4]);
	named_at = snprintf(named_sql, sizeof named_sql, "SELECT pg_catalog.set_config('application_name', 'pgqfs task ");

	slots = calloc(n_slots, sizeof *slots);
	pfd = calloc(n_slots, sizeof *pfd);
	if (!slots || !pfd)
		die("out of memory", NULL);
	gate = PQconnectdb(argv[1]);
	if (PQstatus(gate) != CONNECTION_OK)
		die("connect", gate);
	free(exec_value(gate, "SELECT pg_advisory_lock(8008)"));
	for (int i = 0; i < n_slots; i++) {
		slots[i].conn = PQconnectdb(argv[1]);
		if (PQstatus(slots[i].conn) != CONNECTION_OK)
			die("connect", slots[i].conn);
		send_or_die(&slots[i], task_sql, SLOT_TASK);
		started++;
	}
	/* Every slot waiting for the lock, as phase 12 waits for the pool's. */
	for (;;) {
		value = exec_value(gate, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
		bool all = atoi(value) >= n_slots;

		free(value);
		if (all)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
	}
	value = exec_value(gate, "SELECT (extract(epoch FROM clock_timestamp()) * 1e6)::bigint, pg_advisory_unlock(8008)");
	released = strtoll(value, NULL, 10);
	free(value);

	while (finished < n_tasks) {
		for (int i = 0; i < n_slots; i++) {
			pfd[i].fd = PQsocket(slots[i].conn);
			pfd[i].events = slots[i].state == SLOT_IDLE ? 0 : POLLIN;
		}
		if (poll(pfd, n_slots, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll", NULL);
		}
		for (int i = 0; i < n_slots; i++) {
			struct slot *s = &slots[i];

			if (!(pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) || !slot_done(s))
				continue;
			if (s->state == SLOT_RESET) {
				snprintf(named_sql + named_at, sizeof named_sql - named_at, "%d', false);\n%s",
					 started, task_sql);
				send_or_die(s, named_sql, SLOT_TASK);
				continue;
			}
			finished++;
			last = now_us();
			if (started == n_tasks) {
				s->state = SLOT_IDLE;
				continue;
			}
			started++;
			if (bare)
				send_or_die(s, task_sql, SLOT_TASK);
			else
				send_or_die(s, "DISCARD ALL", SLOT_RESET);
		}
	}
	printf("release_to_last_finish_us %lld\n", (long long)(last - released));
	for (int i = 0; i < n_slots; i++)
		PQfinish(slots[i].conn);
	PQfinish(gate);
	free(slots);
	free(pfd);
	return 0;
}
