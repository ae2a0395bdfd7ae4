/*
 * Connections to targets: what they are opened with (the conninfo's
 * parameters, host names resolved, the role) and opening them without
 * blocking, and which connection a task gets.  Their life once opened is
 * conn.c's; a task on a connection is run by run.c.
 *
 * Nothing here blocks the loop.  libpq would: PQconnectStartParams
 * resolves host names synchronously unless hostaddr is given, PQcancel
 * connects and waits (and ignores connect_timeout), and a nonblocking
 * connect has no timeout at all.  So host names are resolved and cancels
 * sent by threads of their own ("jobs", jobs.c), and connect timeouts and
 * cancel graces are timers of the loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "buf.h"
#include "clock.h"
#include "executor_internal.h"
#include "log.h"

const char *conn_error(const struct conn *c)
{
	if (c->err[0])
		return c->err;
	return c->pg ? PQerrorMessage(c->pg) : "unknown error\n";
}

void conn_free(struct conn *c)
{
	if (!c)
		return;
	if (c->job)
		c->job->conn = NULL;
	timer_cancel(&c->connect_timer);
	timer_cancel(&c->drop_timer);
	PQconninfoFree(c->opts);
	PQfinish(c->pg);
	free(c->role);
	free(c);
}

void conn_flush(struct conn *c)
{
	int r = PQflush(c->pg);

	c->want_write = r == 1;
	if (r < 0)
		conn_set_state(c, CONN_BROKEN);
}

static const char *opt_val(const PQconninfoOption *opts, const char *key)
{
	for (const PQconninfoOption *o = opts; o->keyword; o++)
		if (strcmp(o->keyword, key) == 0)
			return o->val && o->val[0] ? o->val : NULL;
	return NULL;
}

uint64_t conninfo_connect_timeout_ms(const PQconninfoOption *opts, uint64_t dflt_ms)
{
	const char *ct = opt_val(opts, "connect_timeout");
	char *end;
	long long v;

	if (!ct)
		return dflt_ms;
	v = strtoll(ct, &end, 10);
	/* As libpq: whole seconds, 1 counts as 2; zero or less is no
	 * timeout, for which the configuration's stands in. */
	if (*end != '\0' || v <= 0 || v > 24 * 3600)
		return dflt_ms;
	return (uint64_t)(v < 2 ? 2 : v) * 1000;
}

/* A comma-separated list as libpq reads host, hostaddr and port. */
static int split_list(const char *s, char ***ret, size_t *ret_n)
{
	size_t n = 1, k = 0;
	char **v;

	for (const char *p = s; *p; p++)
		n += *p == ',';
	v = calloc(n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (;;) {
		size_t len = strcspn(s, ",");

		v[k] = strndup(s, len);
		if (!v[k]) {
			while (k > 0)
				free(v[--k]);
			free(v);
			return -ENOMEM;
		}
		k++;
		if (!s[len])
			break;
		s += len + 1;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

enum host_kind { HOST_SOCKET, HOST_ADDRESS, HOST_NAME };

static enum host_kind host_kind(const char *h)
{
	unsigned char a[16];

	/* Empty: libpq's default, a Unix socket; '@': an abstract one. */
	if (!h[0] || h[0] == '/' || h[0] == '@')
		return HOST_SOCKET;
	if (inet_pton(AF_INET, h, a) == 1 || inet_pton(AF_INET6, h, a) == 1)
		return HOST_ADDRESS;
	return HOST_NAME;
}

/*
 * The host list libpq would resolve for a conninfo, or NULL when it
 * resolves nothing: hostaddr given, or a service file decides.  (libpq
 * reads PGHOST and PGHOSTADDR when the conninfo sets neither.)
 */
static const char *hosts_to_resolve(const PQconninfoOption *opts)
{
	const char *host = opt_val(opts, "host");

	if (opt_val(opts, "hostaddr"))
		return NULL;
	if (!host) {
		const char *env = getenv("PGHOSTADDR");

		if (opt_val(opts, "service") || getenv("PGSERVICE") || (env && env[0]))
			return NULL;
		host = getenv("PGHOST");
	}
	return host && host[0] ? host : NULL;
}

/* A new connection that cannot connect: our message, state broken. */
static void conn_set_broken(struct conn *c, const char *msg)
{
	snprintf(c->err, sizeof(c->err), "%s", msg);
	conn_set_state(c, CONN_BROKEN);
}

void conn_params_finish(struct conn_params *p)
{
	buf_finish(&p->host);
	buf_finish(&p->addr);
	buf_finish(&p->port);
	free(p->keys);
	free(p->vals);
	p->keys = NULL;
	p->vals = NULL;
}

/*
 * Each name becomes one host entry per address (host kept for TLS and
 * .pgpass, hostaddr the address), so that libpq tries them all in turn as
 * it would have, and never resolves anything itself.
 *
 * With role, it replaces the conninfo's user, and its password (which is
 * the conninfo's user's: the role's comes from .pgpass, as libpq does);
 * dbname, if the conninfo sets none, is dflt_db (what libpq would have
 * taken, the conninfo's user, rather than the role).
 */
static int conn_params_build_as(struct conn_params *p, const PQconninfoOption *opts,
				const struct job *j, const char *application_name,
				const char *role, const char *dflt_db,
				char *err, size_t err_size)
{
	size_t n_opts = 0, k = 0, n_hosts = 0, n_ports = 0, name_i = 0;
	char **hosts = NULL, **ports = NULL;
	const char *first_failed = NULL;
	int gai = 0, r = 0;

	memset(p, 0, sizeof(*p));
	buf_init(&p->host);
	buf_init(&p->addr);
	buf_init(&p->port);
	for (const PQconninfoOption *o = opts; o->keyword; o++)
		n_opts++;
	p->keys = calloc(n_opts + 7, sizeof(*p->keys));
	p->vals = calloc(n_opts + 7, sizeof(*p->vals));
	if (!p->keys || !p->vals)
		goto nomem;
	for (const PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val || !o->val[0] || strcmp(o->keyword, "application_name") == 0)
			continue;
		if (j && (strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "hostaddr") == 0 ||
			  strcmp(o->keyword, "port") == 0))
			continue;
		if (role && (strcmp(o->keyword, "user") == 0 || strcmp(o->keyword, "password") == 0))
			continue;
		p->keys[k] = o->keyword;
		p->vals[k++] = o->val;
	}
	if (j) {
		const char *pt = opt_val(opts, "port");
		bool first = true;

		if (split_list(hosts_to_resolve(opts), &hosts, &n_hosts) < 0 ||
		    (pt && split_list(pt, &ports, &n_ports) < 0))
			goto nomem;
		for (size_t i = 0; i < n_hosts; i++) {
			const char *h = hosts[i];
			/* One port for all, or one per host (libpq checks). */
			const char *pi = n_ports > 1 && i < n_ports ? ports[i] : pt ? pt : "";
			enum host_kind kind = host_kind(h);
			char **a = NULL;
			size_t n_a = 0;

			if (kind == HOST_NAME) {
				size_t ni = name_i++;

				if (ni >= j->n_names || !j->addrs[ni]) {
					if (!first_failed && ni < j->n_names) {
						first_failed = h;
						gai = j->gai[ni];
					}
					continue;
				}
				if (split_list(j->addrs[ni], &a, &n_a) < 0)
					goto nomem;
			}
			for (size_t m = 0; m < (kind == HOST_NAME ? n_a : 1); m++) {
				const char *ad = kind == HOST_NAME ? a[m] :
						 kind == HOST_ADDRESS ? h : "";

				if (buf_printf(&p->host, "%s%s", first ? "" : ",", h) < 0 ||
				    buf_printf(&p->addr, "%s%s", first ? "" : ",", ad) < 0 ||
				    buf_printf(&p->port, "%s%s", first ? "" : ",", pi) < 0) {
					free_list(a, n_a);
					goto nomem;
				}
				first = false;
			}
			free_list(a, n_a);
		}
		if (first) {
			snprintf(err, err_size,
				 "could not translate host name \"%s\" to address: %s\n",
				 first_failed ? first_failed : "", gai_strerror(gai));
			r = -ENOENT;
			goto out;
		}
		if (!buf_cstr(&p->host) || !buf_cstr(&p->addr) || !buf_cstr(&p->port))
			goto nomem;
		p->keys[k] = "host";
		p->vals[k++] = p->host.data;
		p->keys[k] = "hostaddr";
		p->vals[k++] = p->addr.data;
		if (pt) {
			p->keys[k] = "port";
			p->vals[k++] = p->port.data;
		}
	}
	if (role) {
		p->keys[k] = "user";
		p->vals[k++] = role;
		if (dflt_db && !opt_val(opts, "dbname")) {
			p->keys[k] = "dbname";
			p->vals[k++] = dflt_db;
		}
	}
	p->keys[k] = "application_name";
	p->vals[k++] = application_name;
	goto out;
nomem:
	snprintf(err, err_size, "out of memory\n");
	r = -ENOMEM;
out:
	free_list(hosts, n_hosts);
	free_list(ports, n_ports);
	if (r < 0)
		conn_params_finish(p);
	return r;
}

int conn_params_build(struct conn_params *p, const PQconninfoOption *opts,
		      const struct job *j, const char *application_name,
		      char *err, size_t err_size)
{
	return conn_params_build_as(p, opts, j, application_name, NULL, NULL, err, err_size);
}

/* Whether libpq, given opts, would pick its database by the user name (it
 * does when nothing names one). */
static bool db_from_user(const PQconninfoOption *opts)
{
	const char *env = getenv("PGDATABASE");

	return !opt_val(opts, "dbname") && !(env && env[0]) && !opt_val(opts, "service") &&
	       !getenv("PGSERVICE");
}

/*
 * The database a role other than the conninfo's user connects to: the one
 * the conninfo's user would have had (j->self_user: the daemon's user
 * name), or NULL when libpq does not take it from the user name.
 */
static const char *conn_dflt_db(const PQconninfoOption *opts, const struct job *j)
{
	const char *env = getenv("PGUSER");

	if (!db_from_user(opts))
		return NULL;
	if (opt_val(opts, "user"))
		return opt_val(opts, "user");
	if (env && env[0])
		return env;
	return j ? j->self_user : NULL;
}

/* Starts connecting with c->opts; with j, its hosts replaced by what j
 * resolved (if it resolved any) and its user name looked up. */
void conn_start(struct conn *c, const struct job *j)
{
	struct conn_params p;
	const struct job *hosts = j && j->n_names ? j : NULL;

	if (conn_params_build_as(&p, c->opts, hosts, "pgqfs", c->role,
				 c->role ? conn_dflt_db(c->opts, j) : NULL,
				 c->err, sizeof(c->err)) < 0) {
		conn_set_state(c, CONN_BROKEN);
		goto out;
	}
	/* The conninfo was parsed already: no dbname to expand. */
	c->pg = PQconnectStartParams(p.keys, p.vals, 0);
	conn_params_finish(&p);
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		conn_set_state(c, CONN_BROKEN);
		goto out;
	}
	c->poll = PGRES_POLLING_WRITING;
out:
	PQconninfoFree(c->opts);
	c->opts = NULL;
}


static struct conn *conn_open(struct target *tg, bool as_submitter, uint32_t uid)
{
	struct conn *c = calloc(1, sizeof(*c));
	const char *hosts;
	char *msg = NULL;

	if (!c)
		return NULL;
	c->target = tg;
	c->as_submitter = as_submitter;
	c->uid = uid;
	c->state = CONN_CONNECTING;	/* its first state, not a move */
	c->opened_ms = mono_ms();
	timer_init(&c->connect_timer, &tg->e->timers, conn_connect_timed_out, c);
	timer_init(&c->drop_timer, &tg->e->timers, conn_drop_due, c);
	c->opts = PQconninfoParse(tg->cfg->conninfo, &msg);
	if (!c->opts) {
		/* libpq's message may quote the conninfo, password and all. */
		PQfreemem(msg);
		conn_set_broken(c, "its conninfo cannot be parsed\n");
		return c;
	}
	c->connect_timeout_ms = conninfo_connect_timeout_ms(c->opts,
							   tg->e->cfg->connect_timeout_ms);
	timer_set(&c->connect_timer, c->opened_ms + (int64_t)c->connect_timeout_ms);
	hosts = hosts_to_resolve(c->opts);
	/* The role's name is looked up by the job, as the host names are. */
	c->resolving = as_submitter;
	if (hosts) {
		char **v;
		size_t n;

		if (split_list(hosts, &v, &n) < 0) {
			conn_set_broken(c, "out of memory\n");
			return c;
		}
		for (size_t i = 0; i < n; i++)
			if (host_kind(v[i]) == HOST_NAME)
				c->resolving = true;
		free_list(v, n);
	}
	/* Names wait for targets_tick(), which has the executor for a job. */
	if (!c->resolving)
		conn_start(c, NULL);
	return c;
}

int resolve_job_new(const PQconninfoOption *opts, struct job **ret)
{
	const char *hosts = hosts_to_resolve(opts);
	struct job *j = NULL;
	char **v = NULL;
	size_t n = 0;

	*ret = NULL;
	if (!hosts)
		return 0;
	j = calloc(1, sizeof(*j));
	if (!j || split_list(hosts, &v, &n) < 0)
		goto nomem;
	j->kind = JOB_RESOLVE;
	j->names = calloc(n, sizeof(*j->names));
	j->addrs = calloc(n, sizeof(*j->addrs));
	j->gai = calloc(n, sizeof(*j->gai));
	if (!j->names || !j->addrs || !j->gai)
		goto nomem;
	for (size_t i = 0; i < n; i++)
		if (host_kind(v[i]) == HOST_NAME) {
			j->names[j->n_names++] = v[i];
			v[i] = NULL;
		}
	free_list(v, n);
	/* Sockets and addresses only: libpq resolves nothing. */
	if (j->n_names == 0)
		job_free(j);
	else
		*ret = j;
	return 0;
nomem:
	free_list(v, n);
	job_free(j);
	return -ENOMEM;
}

/* Starts resolving c's host names, and looking up its role's name, in a
 * thread of their own. */
void conn_resolve_start(struct executor *e, struct conn *c)
{
	struct job *j;
	int r;

	if (resolve_job_new(c->opts, &j) < 0) {
		conn_set_broken(c, "out of memory\n");
		return;
	}
	if (!j && c->as_submitter) {
		j = calloc(1, sizeof(*j));
		if (j)
			j->kind = JOB_RESOLVE;
	}
	if (!j) {
		/* (Or no name: cannot be, conn_open() saw one.) */
		conn_set_broken(c, "out of memory\n");
		return;
	}
	if (c->as_submitter) {
		j->lookup_user = true;
		j->uid = c->uid;
		j->lookup_self = db_from_user(c->opts) && !opt_val(c->opts, "user") &&
				 !(getenv("PGUSER") && getenv("PGUSER")[0]);
	}
	j->conn = c;
	c->job = j;
	r = job_start(e, j);
	if (r == -EAGAIN) {
		/* JOBS_MAX lookups run already (a burst of new connections):
		 * this one starts when one of them ends and wakes the executor
		 * (targets_tick() tries again each round), within the
		 * connection's connect deadline.  A task waiting for it must
		 * not fail for a limit of ours. */
		c->job = NULL;
	} else if (r < 0) {
		c->job = NULL;
		conn_set_broken(c, "cannot start a thread to resolve its host name\n");
	}
}

bool conn_fits(const struct conn *c, const struct task *t)
{
	bool as_submitter = t->pool->cfg->run_as == RUN_AS_SUBMITTER;

	return c->as_submitter == as_submitter && (!as_submitter || c->uid == t->uid);
}

/*
 * Closes a connection of tg without a task, to make room for one of another
 * role: idle ones first (a reset or a connect is nearly done).  It stays in
 * tg->conns, broken, until reap_conns(): the loop's round may hold it.
 */
static bool target_close_spare(struct target *tg)
{
	static const enum conn_state order[] = { CONN_IDLE, CONN_RESET, CONN_CONNECTING };

	for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++)
		for (size_t i = 0; i < tg->n_conns; i++) {
			struct conn *c = tg->conns[i];

			if (c->state != order[o] || c->task)
				continue;
			conn_set_state(c, CONN_BROKEN);
			/* Its backend goes now: max_workers holds on the server. */
			PQfinish(c->pg);
			c->pg = NULL;
			snprintf(c->err, sizeof(c->err), "closed for a task of another role\n");
			return true;
		}
	return false;
}

/* With make_room, a spare connection may be closed for the new one. */
static struct conn *target_add(struct target *tg, bool as_submitter, uint32_t uid,
			       bool make_room)
{
	size_t open = 0;
	struct conn *c;

	/* A broken connection not yet reaped may still hold its backend.
	 * Without a task (a task abandoned, an idle session found dead in
	 * this round), nothing reads it any more: its backend goes now, as
	 * target_close_spare() does, and its slot is this one's.  With a
	 * task, it holds the slot until reap_conns() fails that task. */
	for (size_t i = 0; i < tg->n_conns; i++) {
		struct conn *o = tg->conns[i];

		if (o->state == CONN_BROKEN && o->pg && !o->task) {
			PQfinish(o->pg);
			o->pg = NULL;
		}
		open += o->state != CONN_BROKEN || o->pg;
	}
	if (open >= (size_t)tg->cfg->max_workers && !(make_room && target_close_spare(tg)))
		return NULL;
	/* Closed ones stay until reaped, so the array may need more room
	 * than max_workers (which a reload may also have raised). */
	if (tg->n_conns >= tg->cap_conns) {
		size_t cap = tg->cap_conns ? tg->cap_conns * 2 : 4;
		struct conn **v = realloc(tg->conns, cap * sizeof(*v));

		if (!v)
			return NULL;
		tg->conns = v;
		tg->cap_conns = cap;
	}
	c = conn_open(tg, as_submitter, uid);
	if (!c)
		return NULL;
	tg->conns[tg->n_conns++] = c;
	return c;
}

struct conn *target_add_conn(struct target *tg)
{
	return target_add(tg, false, 0, false);
}

struct conn *target_add_conn_for(struct target *tg, const struct task *t)
{
	return target_add(tg, t->pool->cfg->run_as == RUN_AS_SUBMITTER, t->uid, true);
}

/* Slots a new task of this target could take now. */
int target_free(const struct target *tg)
{
	int busy = 0;

	for (size_t i = 0; i < tg->n_conns; i++)
		if (tg->conns[i]->task)
			busy++;
	/* Held tasks (held.c) take theirs at their release. */
	if (atomic_load(&tg->e->n_held) > 0)
		for (const struct task *t = tg->e->tasks; t; t = t->next)
			if (t->held && t->pool->target == tg)
				busy++;
	return tg->cfg->max_workers - busy - tg->unassigned;
}
