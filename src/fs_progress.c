/*
 * A task's progress file: made when it is opened.  While the task runs:
 * where it is (statement i of n, rows so far: as the executor last stored
 * them, at most about a second late), then the server's
 * pg_stat_progress_* row of its backend (command=, phase=, and the view's
 * other columns), read from the task's target at the open.  Empty when
 * the task is not running (queued, or ended): scripts that poll it need
 * not tell a missing file from a task that just ended.
 *
 * The filesystem has no target connections of its own: one per target
 * is opened on first use with the target's conninfo, kept, and reused
 * (taken out of the cache while a reader uses it, so that readers never
 * wait for one another).  Its wait has the request's deadline and ends at
 * once when the reader is interrupted.
 */
#include "fs_internal.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"

/* A target that cannot be asked is logged at most this often. */
#define WARN_EVERY_MS 60000

/* A target's cached connection. */
struct progress_conn {
	struct progress_conn *next;
	char *target;
	char *conninfo;		/* a reload that changes it makes a new entry */
	PGconn *idle;		/* NULL while a reader has it, or none */
	int64_t warned_ms;	/* mono_ms() of the last warning */
};

/*
 * The backend's rows of the progress views, one row per column in the
 * view's order (phase first), `ord` numbering the view.  The views with a
 * command column name it (CREATE INDEX, REINDEX CONCURRENTLY, VACUUM
 * FULL, COPY FROM...); the others are named here.
 */
#define PROGRESS_SELECT(view, command, ord)                                               \
	"SELECT " #ord " AS ord, " command " AS command, pg_catalog.row_to_json(p) AS j "   \
	"FROM pg_catalog." view " p WHERE p.pid = $1::pg_catalog.int4"
#define PROGRESS_COLUMNS(views)                                                           \
	"SELECT v.ord, v.command, e.key, e.value FROM (" views ") v "                     \
	"CROSS JOIN LATERAL pg_catalog.json_each_text(v.j) WITH ORDINALITY "              \
	"AS e(key, value, n) "                                                             \
	"WHERE e.key NOT IN ('pid', 'datid', 'datname', 'command') "                       \
	"ORDER BY v.ord, e.key <> 'phase', e.n"

/* PostgreSQL 14 and later: all six views. */
static const char progress_sql_14[] = PROGRESS_COLUMNS(
	PROGRESS_SELECT("pg_stat_progress_vacuum", "'VACUUM'", 1)
	" UNION ALL " PROGRESS_SELECT("pg_stat_progress_analyze", "'ANALYZE'", 2)
	" UNION ALL " PROGRESS_SELECT("pg_stat_progress_create_index", "p.command", 3)
	" UNION ALL " PROGRESS_SELECT("pg_stat_progress_cluster", "p.command", 4)
	" UNION ALL " PROGRESS_SELECT("pg_stat_progress_copy", "p.command", 5)
	" UNION ALL " PROGRESS_SELECT("pg_stat_progress_basebackup", "'BASE BACKUP'", 6));

/* PostgreSQL 12 and 13: the views they have in common with 14. */
static const char progress_sql_12[] = PROGRESS_COLUMNS(
	PROGRESS_SELECT("pg_stat_progress_vacuum", "'VACUUM'", 1)
	" UNION ALL " PROGRESS_SELECT("pg_stat_progress_create_index", "p.command", 3)
	" UNION ALL " PROGRESS_SELECT("pg_stat_progress_cluster", "p.command", 4));

/* The request a wait serves: its deadline and whether it was interrupted. */
/* A new connection to a target, within the request's deadline and the
 * configuration's connect timeout. */
static int target_connect(const struct config *cfg, const char *conninfo,
			  int64_t deadline, PGconn **ret, char *err, size_t err_size)
{
	static const char *const keys[] = { "dbname", "application_name", NULL };
	const char *vals[] = { conninfo, "pgqfs progress", NULL };
	int64_t connect_deadline = mono_ms() + (int64_t)cfg->connect_timeout_ms;
	PGconn *pg;
	int r = 0;

	if (connect_deadline < deadline)
		deadline = connect_deadline;
	/* expand_dbname: the conninfo is a full connection string. */
	r = store_pq_connect(keys, vals, deadline, &pg);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		snprintf(err, err_size, "%s", PQerrorMessage(pg));
		PQfinish(pg);
	} else {
		*ret = pg;
	}
	return r;
}

/* Whether a cached connection is still up (never blocks). */
static bool conn_alive(PGconn *pg)
{
	struct pollfd p = { .fd = PQsocket(pg), .events = POLLIN | POLLRDHUP };

	if (PQstatus(pg) != CONNECTION_OK || p.fd < 0)
		return false;
	if (poll(&p, 1, 0) < 0)
		return true;
	if (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL))
		return false;
	if ((p.revents & POLLIN) && !PQconsumeInput(pg))
		return false;
	return PQstatus(pg) == CONNECTION_OK;
}

/* The cache entry of a target (fs->progress_lock held); NULL: no memory. */
static struct progress_conn *entry_of(struct fs *fs, const struct config_target *tg)
{
	struct progress_conn *c;

	for (c = fs->progress_conns; c; c = c->next)
		if (strcmp(c->target, tg->name) == 0 && strcmp(c->conninfo, tg->conninfo) == 0)
			return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->target = strdup(tg->name);
	c->conninfo = strdup(tg->conninfo);
	if (!c->target || !c->conninfo) {
		free(c->target);
		free(c->conninfo);
		free(c);
		return NULL;
	}
	c->next = fs->progress_conns;
	fs->progress_conns = c;
	return c;
}

/* Appends the rows of the progress query (ord, command, key, value). */
static int format_rows(const PGresult *res, struct buf *out)
{
	const char *ord = NULL;
	int r = 0;

	for (int i = 0; i < PQntuples(res) && r == 0; i++) {
		if (!ord || strcmp(ord, PQgetvalue(res, i, 0)) != 0) {
			ord = PQgetvalue(res, i, 0);
			r = buf_printf(out, "command=%s\n", PQgetvalue(res, i, 1));
		}
		/* NULL (a column the role may not see, a phase without it):
		 * the key with nothing after it. */
		if (r == 0)
			r = buf_printf(out, "%s=%s\n", PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
	}
	return r;
}

/*
 * Appends the server's progress lines of backend `pid` on target tg:
 * 0 (nothing appended when it has none, or the target could not say:
 * logged), -EINTR, -ENOMEM.
 */
static int server_progress(struct fs *fs, const struct config *cfg,
			   const struct config_target *tg, int64_t pid, struct buf *out)
{
	/* The open's request span makes an interrupt end the waits. */
	int64_t deadline = mono_ms() + (int64_t)cfg->request_timeout_ms;
	char err[256] = "";
	struct progress_conn *c;
	PGresult *res = NULL;
	PGconn *pg;
	char pidv[24];
	const char *pv[1] = { pidv };
	const char *sql;
	const char *why = NULL;
	int r;

	pthread_mutex_lock(&fs->progress_lock);
	c = entry_of(fs, tg);
	pg = c ? c->idle : NULL;
	if (c)
		c->idle = NULL;
	pthread_mutex_unlock(&fs->progress_lock);
	if (!c)
		return -ENOMEM;
	if (pg && !conn_alive(pg)) {
		PQfinish(pg);
		pg = NULL;
	}
	r = pg ? 0 : target_connect(cfg, tg->conninfo, deadline, &pg, err, sizeof(err));
	if (r < 0) {
		why = r == -ETIMEDOUT ? "connect timed out" : "cannot connect";
		goto out;
	}
	snprintf(pidv, sizeof(pidv), "%lld", (long long)pid);
	sql = PQserverVersion(pg) >= 140000 ? progress_sql_14 :
	      PQserverVersion(pg) >= 120000 ? progress_sql_12 : NULL;
	if (!sql)
		goto out;	/* no progress views to ask: the connection stays */
	if (!PQsendQueryParams(pg, sql, 1, NULL, pv, NULL, NULL, 0)) {
		r = -EIO;
		why = "cannot send";
		goto out;
	}
	r = store_pq_result(pg, deadline, &res);
	if (r < 0) {
		why = r == -ETIMEDOUT ? "timed out" : "lost the connection";
		goto out;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		why = "query failed";
		goto out;
	}
	r = format_rows(res, out);
out:
	if (why && r != -EINTR) {
		int64_t now = mono_ms();
		bool say;

		pthread_mutex_lock(&fs->progress_lock);
		say = !c->warned_ms || now - c->warned_ms >= WARN_EVERY_MS;
		if (say)
			c->warned_ms = now;
		pthread_mutex_unlock(&fs->progress_lock);
		if (say)
			log_warn("progress: target %s: %s: %s", LOG_ESCAPE(tg->name), why,
				 res ? PQresultErrorMessage(res) : pg ? PQerrorMessage(pg) : err);
	}
	PQclear(res);
	/* A connection that failed, or whose wait was cut short with a query
	 * in flight, is not reused. */
	if (pg && (why || r < 0)) {
		PQfinish(pg);
		pg = NULL;
	}
	if (pg) {
		pthread_mutex_lock(&fs->progress_lock);
		if (!c->idle) {
			c->idle = pg;
			pg = NULL;
		}
		pthread_mutex_unlock(&fs->progress_lock);
		PQfinish(pg);	/* another reader's is kept */
	}
	return r == -EINTR || r == -ENOMEM ? r : 0;
}

static const struct config_target *find_target(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_targets; i++)
		if (strcmp(cfg->targets[i].name, name) == 0)
			return &cfg->targets[i];
	return NULL;
}

int progress_open(struct fs *fs, fuse_req_t req, fuse_ino_t ino, struct handle *h)
{
	const struct config *cfg = __atomic_load_n(&fs->cfg, __ATOMIC_ACQUIRE);
	const struct config_target *tg;
	struct task_info t;
	int r;

	r = get_visible_task(fs, ino, &t);
	if (r < 0)
		return r;
	h->id = t.id;
	h->file = F_PROGRESS;
	h->snapshot = true;
	if (t.state != TASK_RUNNING)
		goto out;
	/* 0: not known yet (stored with the task's first progress batch). */
	if (t.stmt > 0)
		r = buf_printf(&h->buf, "statement=%lld\nstatements=%lld\nrows=%lld\n",
			       (long long)t.stmt, (long long)t.n_stmts, (long long)t.rows_now);
	else
		r = buf_puts(&h->buf, "statement=\nstatements=\nrows=\n");
	/* The target by the name the task ran on (another daemon's task too,
	 * when this configuration has a target of that name). */
	tg = r == 0 && t.target && t.backend_pid > 0 ? find_target(cfg, t.target) : NULL;
	if (tg)
		r = server_progress(fs, cfg, tg, t.backend_pid, &h->buf);
out:
	task_info_finish(&t);
	return r;
}

void progress_finish(struct fs *fs)
{
	while (fs->progress_conns) {
		struct progress_conn *c = fs->progress_conns;

		fs->progress_conns = c->next;
		PQfinish(c->idle);
		free(c->target);
		free(c->conninfo);
		free(c);
	}
	pthread_mutex_destroy(&fs->progress_lock);
}
