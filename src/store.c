#include "store.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "store_internal.h"

/* Statements a pooled connection keeps prepared (there are fewer). */
#define STORE_PREPARED_MAX 32

/*
 * A pooled connection and the statements it has prepared, by the address
 * of their (constant) text: each is parsed and planned once per
 * connection instead of once per call.
 */
struct pconn {
	PGconn *pg;
	const char *prepared[STORE_PREPARED_MAX];
	int n_prepared;
};

/* ------------------------------------------------------------------ */
/* connections                                                         */

static __thread char last_error[256];

void set_error(const char *what, const char *msg)
{
	size_t n;

	snprintf(last_error, sizeof(last_error), "%s: %s", what, msg ? msg : "");
	n = strlen(last_error);
	while (n > 0 && (last_error[n - 1] == '\n' || last_error[n - 1] == ' '))
		last_error[--n] = '\0';
}

const char *store_last_error(void)
{
	return last_error;
}

void store_log_notice(void *arg, const char *message)
{
	int len = (int)strlen(message);

	(void)arg;
	while (len > 0 && message[len - 1] == '\n')
		len--;
	log_info("control database: %.*s", len, message);
}

void store_host_name(char *buf, size_t size)
{
	if (gethostname(buf, size) < 0)
		snprintf(buf, size, "localhost");
	buf[size - 1] = '\0';
}

/* This process's token: random, positive, fixed for its lifetime. */
static int64_t daemon_token;
static pthread_once_t daemon_token_once = PTHREAD_ONCE_INIT;

static void daemon_token_pick(void)
{
	uint64_t v = 0;

	while ((v & INT64_MAX) == 0) {
		if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
			v = (uint64_t)wall_us() ^ ((uint64_t)getpid() << 40);
	}
	daemon_token = (int64_t)(v & INT64_MAX);
}

int64_t store_daemon_token(void)
{
	pthread_once(&daemon_token_once, daemon_token_pick);
	return daemon_token;
}

PGconn *store_connect(const struct config *cfg, const char *purpose)
{
	static const char *const keys[] = { "dbname", "application_name", NULL };
	const char *vals[] = { cfg->control, purpose, NULL };
	const char *pv[1] = { cfg->schema };
	PGconn *conn;
	PGresult *res;

	if (!schema_name_ok(cfg->schema)) {
		log_error("schema name '%s' must be a lowercase SQL identifier of at most 57 bytes",
			  cfg->schema);
		return NULL;
	}
	/* expand_dbname: the control conninfo is a full connection string. */
	conn = PQconnectdbParams(keys, vals, 1);
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		log_error("cannot connect to the control database: %s",
			  conn ? PQerrorMessage(conn) : "out of memory");
		PQfinish(conn);
		return NULL;
	}
	PQsetNoticeProcessor(conn, store_log_notice, NULL);
	res = PQexecParams(conn, CONTROL_SESSION_SETTINGS, 1, NULL, pv, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("control database: %s", PQerrorMessage(conn));
		PQclear(res);
		PQfinish(conn);
		return NULL;
	}
	PQclear(res);
	return conn;
}

/* ------------------------------------------------------------------ */
/* the filesystem's connection pool                                    */

int store_create(const struct config *cfg, struct store **ret)
{
	struct store *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;

	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	pthread_mutex_init(&s->lock, NULL);
	/* Waits for a free connection end at a deadline on mono_ms()'s clock. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* A writer waiting for the group commit has a deadline too. */
	pthread_condattr_init(&s->stage_condattr);
	pthread_condattr_setclock(&s->stage_condattr, CLOCK_MONOTONIC);
	pthread_mutex_init(&s->stage_lock, NULL);
	*ret = s;
	return 0;
}

void store_destroy(struct store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_idle; i++) {
		PQfinish(s->idle[i]->pg);
		free(s->idle[i]);
	}
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->stage_lock);
	pthread_condattr_destroy(&s->stage_condattr);
	free(s);
}

void store_set_config(struct store *s, const struct config *cfg)
{
	s->cfg = cfg;
}

void store_set_instance(struct store *s, int64_t instance)
{
	pthread_mutex_lock(&s->lock);
	s->instance = instance;
	pthread_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------------ */
/* deadlines                                                           */

/* How often a wait looks whether its request was interrupted. */
#define INTERRUPT_POLL_MS 50

/* The filesystem request this thread serves (store_request_begin()). */
static _Thread_local struct {
	store_interrupted_fn *interrupted;	/* NULL: none */
	void *arg;
	int64_t deadline_ms;	/* mono_ms(); 0: each call has its own */
	int64_t heed_ms;	/* mono_ms(): interrupted() counts from then on */
} request;

static bool interrupted_now(store_interrupted_fn *interrupted, void *arg, int64_t heed_ms)
{
	return interrupted && mono_ms() >= heed_ms && interrupted(arg);
}

void store_request_begin(struct store *s, store_interrupted_fn *interrupted, void *arg,
			 int64_t grace_ms)
{
	int64_t now = mono_ms();

	request.interrupted = interrupted;
	request.arg = arg;
	request.heed_ms = now + grace_ms;
	request.deadline_ms = now + (int64_t)s->cfg->request_timeout_ms;
}

void store_request_end(void)
{
	request.interrupted = NULL;
	request.arg = NULL;
	request.deadline_ms = 0;
}

void store_span_take(struct store *s, struct store_span *out)
{
	out->interrupted = request.interrupted;
	out->arg = request.arg;
	out->heed_ms = request.heed_ms;
	out->deadline_ms = request.deadline_ms ? request.deadline_ms :
			   mono_ms() + (int64_t)s->cfg->request_timeout_ms;
	store_request_end();
}

void store_span_put(const struct store_span *in)
{
	request.interrupted = in->interrupted;
	request.arg = in->arg;
	request.heed_ms = in->heed_ms;
	request.deadline_ms = in->interrupted ? in->deadline_ms : 0;
}

int store_span_wait(struct store *s, const struct store_span *sp, pthread_cond_t *cond,
		    pthread_mutex_t *m)
{
	int64_t left;
	char why[128];
	struct timespec ts;

	if (interrupted_now(sp->interrupted, sp->arg, sp->heed_ms)) {
		set_error("control database", "request interrupted");
		return -EINTR;
	}
	left = sp->deadline_ms - mono_ms();
	if (left <= 0) {
		snprintf(why, sizeof(why), "no answer within request_timeout (%llu ms): "
			 "earlier writers' commits took it", (unsigned long long)s->cfg->request_timeout_ms);
		set_error("control database", why);
		return -EIO;
	}
	if (sp->interrupted && left > INTERRUPT_POLL_MS)
		left = INTERRUPT_POLL_MS;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(left / 1000);
	ts.tv_nsec += (long)(left % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	(void)pthread_cond_timedwait(cond, m, &ts);
	return 0;
}

/* When a call starting now must give up. */
static int64_t call_deadline(const struct store *s)
{
	return request.deadline_ms ? request.deadline_ms :
				     mono_ms() + (int64_t)s->cfg->request_timeout_ms;
}

/* -EINTR when the request was interrupted, -ETIMEDOUT past deadline, else
 * how long (ms) a wait may sleep before it looks again. */
static int wait_slice(int64_t deadline, int *ret_ms)
{
	int64_t left;

	if (interrupted_now(request.interrupted, request.arg, request.heed_ms))
		return -EINTR;
	left = deadline - mono_ms();
	if (left <= 0)
		return -ETIMEDOUT;
	if (request.interrupted && left > INTERRUPT_POLL_MS)
		left = INTERRUPT_POLL_MS;
	*ret_ms = left > INT_MAX ? INT_MAX : (int)left;
	return 0;
}

int store_pq_wait(PGconn *pg, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = PQsocket(pg), .events = events };
		int ms, r = wait_slice(deadline, &ms);

		if (r < 0)
			return r;
		if (p.fd < 0)
			return -EIO;
		r = poll(&p, 1, ms);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -EIO;
	}
}

int store_pq_result(PGconn *pg, int64_t deadline, PGresult **ret)
{
	PGresult *res = NULL, *next;
	int f, r;

	while ((f = PQflush(pg)) != 0) {
		if (f < 0)
			return -EIO;
		/* The server may talk while we send: read, or both stall. */
		r = store_pq_wait(pg, POLLIN | POLLOUT, deadline);
		if (r < 0)
			return r;
		if (!PQconsumeInput(pg))
			return -EIO;
	}
	for (;;) {
		while (PQisBusy(pg)) {
			r = store_pq_wait(pg, POLLIN, deadline);
			if (r == 0 && !PQconsumeInput(pg))
				r = -EIO;
			if (r < 0) {
				PQclear(res);
				return r;
			}
		}
		next = PQgetResult(pg);
		if (!next)
			break;
		if (!res || (PQresultStatus(next) == PGRES_FATAL_ERROR &&
			     PQresultStatus(res) != PGRES_FATAL_ERROR)) {
			PQclear(res);
			res = next;
		} else {
			PQclear(next);
		}
	}
	if (!res)
		return -EIO;
	*ret = res;
	return 0;
}

/* ------------------------------------------------------------------ */
/* the filesystem's connections                                        */

static void pconn_free(struct pconn *c)
{
	if (!c)
		return;
	/* Non-blocking: the goodbye PQfinish sends never waits for a
	 * stopped server; closing the socket is what it notices. */
	PQfinish(c->pg);
	free(c);
}

int store_pq_connect(const char *const *keys, const char *const *vals, int64_t deadline,
		     PGconn **ret)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	PGconn *pg = PQconnectStartParams(keys, vals, 1);
	int r = 0;

	*ret = pg;
	if (!pg)
		return -ENOMEM;
	if (PQstatus(pg) == CONNECTION_BAD)
		st = PGRES_POLLING_FAILED;
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		r = store_pq_wait(pg, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
		if (r < 0)
			return r;
		st = PQconnectPoll(pg);
	}
	if (st == PGRES_POLLING_FAILED || PQsetnonblocking(pg, 1) != 0)
		return -EIO;
	return 0;
}

/*
 * A new pooled connection, set up as store_connect()'s, within deadline:
 * 0, or -ETIMEDOUT, -EINTR, -EIO (refused: the error is set), -ENOMEM.
 */
static int pconn_open(const struct config *cfg, int64_t deadline, PGconn **ret)
{
	static const char *const keys[] = { "dbname", "application_name", NULL };
	const char *vals[] = { cfg->control, "pgqfs filesystem", NULL };
	char token[24];
	const char *pv[2] = { cfg->schema, token };
	PGresult *res = NULL;
	PGconn *pg;
	int r = 0;

	snprintf(token, sizeof(token), "%lld", (long long)store_daemon_token());
	if (!schema_name_ok(cfg->schema)) {
		set_error("control database", "bad schema name");
		return -EIO;
	}
	/* expand_dbname: the control conninfo is a full connection string. */
	r = store_pq_connect(keys, vals, deadline, &pg);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		goto out;
	PQsetNoticeProcessor(pg, store_log_notice, NULL);
	/*
	 * Without JIT, as in store_connect().  The writer lock says that this
	 * daemon's filesystem is alive (WRITER_LOCK).  And a statement given up on
	 * (past request_timeout the connection is closed) must not commit
	 * later, behind the back of a writer told it failed: the server looks
	 * at the socket every second while the statement waits (14 and later).
	 */
	if (!PQsendQueryParams(pg, PQserverVersion(pg) >= 140000 ?
			       CONTROL_SESSION_SETTINGS ","
			       " pg_catalog.set_config('client_connection_check_interval', '1000', false),"
			       WRITER_LOCK :
			       CONTROL_SESSION_SETTINGS "," WRITER_LOCK,
			       2, NULL, pv, NULL, NULL, 0)) {
		r = -EIO;
		goto out;
	}
	r = store_pq_result(pg, deadline, &res);
	if (r == 0 && PQresultStatus(res) != PGRES_TUPLES_OK)
		r = -EIO;
out:
	if (r == -EIO)
		set_error("cannot connect to the control database", PQerrorMessage(pg));
	PQclear(res);
	if (r < 0)
		PQfinish(pg);
	else
		*ret = pg;
	return r;
}

/*
 * A server that restarted or ended the session has closed the socket (after
 * a FATAL message): look before a user's request fails on it.  Never blocks.
 */
static bool pconn_alive(struct pconn *c)
{
	struct pollfd p = { .fd = PQsocket(c->pg), .events = POLLIN | POLLRDHUP };

	if (PQstatus(c->pg) != CONNECTION_OK || p.fd < 0)
		return false;
	if (poll(&p, 1, 0) < 0)
		return true;	/* no verdict: let the request find out */
	if (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL))
		return false;
	if ((p.revents & POLLIN) && !PQconsumeInput(c->pg))
		return false;
	return PQstatus(c->pg) == CONNECTION_OK;
}

/* Waits (s->lock held) for a connection to come back, or for room to
 * open one: 0, -ETIMEDOUT or -EINTR. */
static int pool_wait(struct store *s, int64_t deadline)
{
	struct timespec until;
	int64_t at;
	int ms, r = wait_slice(deadline, &ms);

	if (r < 0)
		return r;
	at = mono_ms() + ms;
	until.tv_sec = (time_t)(at / 1000);
	until.tv_nsec = (long)(at % 1000) * 1000000;
	(void)pthread_cond_timedwait(&s->cond, &s->lock, &until);
	return 0;
}

/* A pooled connection, or a new one, within deadline: 0 and *ret, or
 * -ETIMEDOUT, -EINTR, -EIO (the error is set), -ENOMEM. */
static int conn_get(struct store *s, int64_t deadline, struct pconn **ret)
{
	struct pconn *c = NULL;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	while (s->n_idle == 0 && s->n_open >= STORE_POOL_MAX && r == 0)
		r = pool_wait(s, deadline);
	if (r < 0) {
		pthread_mutex_unlock(&s->lock);
		return r;
	}
	if (s->n_idle > 0) {
		c = s->idle[--s->n_idle];
		pthread_mutex_unlock(&s->lock);
		if (pconn_alive(c)) {
			*ret = c;
			return 0;
		}
		/* Broken: replaced by a new connection below. */
		pconn_free(c);
		pthread_mutex_lock(&s->lock);
		s->n_open--;
	}
	s->n_open++;
	pthread_mutex_unlock(&s->lock);
	c = calloc(1, sizeof(*c));
	r = c ? pconn_open(s->cfg, deadline, &c->pg) : -ENOMEM;
	if (r < 0) {
		free(c);
		pthread_mutex_lock(&s->lock);
		s->n_open--;
		pthread_cond_signal(&s->cond);
		pthread_mutex_unlock(&s->lock);
		return r;
	}
	*ret = c;
	return 0;
}

static void conn_put(struct store *s, struct pconn *c)
{
	pthread_mutex_lock(&s->lock);
	if (PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) == PQTRANS_IDLE) {
		s->idle[s->n_idle++] = c;
	} else {
		pconn_free(c);
		s->n_open--;
	}
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Closes c instead of pooling it: its statement is still running, or the
 * server stopped answering.  No cancel request: that too could wait on a
 * stopped server; the backend finds the socket closed. */
static void conn_drop(struct store *s, struct pconn *c)
{
	pconn_free(c);
	pthread_mutex_lock(&s->lock);
	s->n_open--;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void store_warm(struct store *s, size_t n)
{
	struct pconn *c[STORE_POOL_MAX];
	int64_t deadline = call_deadline(s);
	size_t got = 0;

	if (n > STORE_POOL_MAX)
		n = STORE_POOL_MAX;
	while (got < n && conn_get(s, deadline, &c[got]) == 0)
		got++;
	while (got > 0)
		conn_put(s, c[--got]);
}

/*
 * The name under which c has `sql` prepared, preparing it if need be, or
 * NULL to run it unnamed (no room, or the server refused it: the unnamed
 * run reports why).  *ret_err: -ETIMEDOUT, -EINTR or -EIO when the
 * connection failed meanwhile, else 0.
 */
static const char *conn_prepared(struct pconn *c, const char *sql, int n, const Oid *types,
				 char *name, size_t namelen, int64_t deadline, int *ret_err)
{
	PGresult *res = NULL;
	int i;

	*ret_err = 0;
	for (i = 0; i < c->n_prepared; i++)
		if (c->prepared[i] == sql)
			break;
	snprintf(name, namelen, "pgqfs_fs_%d", i);
	if (i < c->n_prepared)
		return name;
	if (i == STORE_PREPARED_MAX)
		return NULL;		/* unnamed: parsed every time */
	*ret_err = PQsendPrepare(c->pg, name, sql, n, types) ?
		   store_pq_result(c->pg, deadline, &res) : -EIO;
	if (*ret_err < 0 || PQresultStatus(res) != PGRES_COMMAND_OK) {
		PQclear(res);
		return NULL;
	}
	PQclear(res);
	c->prepared[c->n_prepared++] = sql;
	return name;
}

/* Whether this thread's last failed statement left its connection broken
 * (then it may have committed or not: its outcome is unknown). */
_Thread_local bool run_conn_lost;

/* The error of a wait that did not end with an answer. */
static int wait_failed(const struct store *s, PGconn *pg, int r)
{
	char why[96];

	if (r == -ETIMEDOUT) {
		snprintf(why, sizeof(why), "no answer within request_timeout (%llu ms)",
			 (unsigned long long)s->cfg->request_timeout_ms);
		set_error("control database", why);
		return -EIO;
	}
	if (r == -EINTR)
		set_error("control database", "request interrupted");
	else if (r == -EIO && pg)
		set_error("control database", PQerrorMessage(pg));
	return r;
}

/*
 * Runs one parameterised statement on a pooled connection, within the
 * request's deadline.  `sql` must be a string constant: it is prepared
 * once per connection, by address.  Results come in binary when `binary`.
 * Maps failures to -errno: a pending-name conflict to -EBUSY, "no longer
 * staged" to -ESTALE, an interrupted request to -EINTR, anything else
 * (the deadline too) -EIO.  A deadlock or a serialization failure is tried
 * again, up to RUN_TRIES times within the deadline: the statement is its
 * own transaction, which the server rolled back whole.
 */
#define RUN_TRIES 3

/* Whether the server rolled res's statement back for a reason that another
 * try may not meet: a deadlock, or a serialization failure. */
static bool try_again(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0);
}

int run(struct store *s, const char *sql, int n, const Oid *types,
	const char *const *values, const int *lengths, const int *formats,
	bool binary, PGresult **ret)
{
	int64_t deadline = call_deadline(s);
	struct pconn *c;
	PGresult *res = NULL;
	ExecStatusType st;
	const char *name;
	char buf[32];
	int r, tries = 0;

	/* Any failure but the server's answer is the connection's: then
	 * every statement would fail alike. */
	run_conn_lost = true;
	r = conn_get(s, deadline, &c);
	if (r < 0) {
		r = wait_failed(s, NULL, r);
		if (r == -EIO)
			log_warn("%s", store_last_error());
		return r;
	}
again:
	name = conn_prepared(c, sql, n, types, buf, sizeof(buf), deadline, &r);
	if (r == 0 && name)
		r = PQsendQueryPrepared(c->pg, name, n, values, lengths, formats,
					binary ? 1 : 0) ? 0 : -EIO;
	else if (r == 0)
		r = PQsendQueryParams(c->pg, sql, n, types, values, lengths, formats,
				      binary ? 1 : 0) ? 0 : -EIO;
	if (r == 0)
		r = store_pq_result(c->pg, deadline, &res);
	if (r < 0) {
		/* Sent or not, the connection is of no further use: its
		 * statement's outcome is unknown. */
		r = wait_failed(s, c->pg, r);
		conn_drop(s, c);
		if (r == -EIO)
			log_warn("%s", store_last_error());
		return r;
	}
	st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && try_again(res) &&
	    ++tries < RUN_TRIES && mono_ms() < deadline &&
	    PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) == PQTRANS_IDLE) {
		int len = (int)strcspn(PQresultErrorMessage(res), "\n");

		log_info("control database: %.*s; the statement is tried again", len,
			 PQresultErrorMessage(res));
		PQclear(res);
		res = NULL;
		goto again;
	}
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		r = -EIO;
		if (state && strcmp(state, "23505") == 0)
			r = -EBUSY;
		else if (state && strcmp(state, "P0002") == 0)
			r = -ESTALE;
		set_error("control database", PQresultErrorMessage(res));
		run_conn_lost = PQstatus(c->pg) != CONNECTION_OK;
		if (r == -EIO)
			log_warn("%s", store_last_error());
		PQclear(res);
		conn_put(s, c);
		return r;
	}
	conn_put(s, c);
	*ret = res;
	return 0;
}
