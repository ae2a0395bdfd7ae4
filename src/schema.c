/* The control database's schema: its name, its creation and migrations
 * (the SQL text is src/schema.sql.h), and a daemon's registration. */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "schema.sql.h"

bool schema_name_ok(const char *s)
{
	size_t n = strlen(s);

	/* 57: room for the "_queue" of its NOTIFY channel in 63 bytes. */
	if (n == 0 || n > 57 || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_'))
			return false;
	return true;
}

static int exec_simple(PGconn *conn, const char *sql);

int store_listen_command(PGconn *conn, const struct config *cfg, size_t i,
			 struct buf *ret_sql)
{
	static const char *const suffix[STORE_N_CHANNELS] = {
		STORE_CHANNEL_QUEUE, STORE_CHANNEL_DONE, STORE_CHANNEL_CANCEL,
	};
	char channel[80];
	char *ident;
	int r;

	/* The schema name is a validated identifier from the configuration,
	 * quoted here; nothing from a path. */
	snprintf(channel, sizeof(channel), "%s%s", cfg->schema, suffix[i]);
	ident = PQescapeIdentifier(conn, channel, strlen(channel));
	if (!ident)
		return -ENOMEM;
	r = buf_printf(ret_sql, "LISTEN %s", ident);
	PQfreemem(ident);
	if (r == 0 && !buf_cstr(ret_sql))
		r = -ENOMEM;
	return r;
}

int store_listen(PGconn *conn, const struct config *cfg)
{
	for (size_t i = 0; i < STORE_N_CHANNELS; i++) {
		struct buf sql;
		int r;

		buf_init(&sql);
		r = store_listen_command(conn, cfg, i, &sql);
		if (r == 0)
			r = exec_simple(conn, sql.data);
		buf_finish(&sql);
		if (r < 0)
			return r;
	}
	return 0;
}

static int exec_simple(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int r = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		log_error("control database: %s", PQerrorMessage(conn));
		r = -EIO;
	}
	PQclear(res);
	return r;
}

int store_migrate(PGconn *conn, const struct config *cfg)
{
	const char *pv[1] = { cfg->schema };
	const size_t n_versions = sizeof(schema_versions) / sizeof(schema_versions[0]);
	PGresult *res;
	long have = 0;
	int r;

	if (exec_simple(conn, "BEGIN") < 0)
		return -EIO;
	/* Daemons starting together must not both create the schema. */
	r = exec_simple(conn, "SELECT pg_advisory_xact_lock(hashtext('pgqfs schema migration'))");
	if (r < 0)
		goto fail;
	res = PQexecParams(conn, "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1",
			   1, NULL, pv, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("control database: %s", PQerrorMessage(conn));
		PQclear(res);
		r = -EIO;
		goto fail;
	}
	if (PQntuples(res) == 0) {
		/* The one identifier that reaches SQL text: from the
		 * configuration, validated above and quoted here. */
		char *ident = PQescapeIdentifier(conn, cfg->schema, strlen(cfg->schema));
		struct buf sql;

		buf_init(&sql);
		r = ident ? buf_printf(&sql, "CREATE SCHEMA %s", ident) : -ENOMEM;
		PQfreemem(ident);
		if (r == 0)
			r = exec_simple(conn, buf_cstr(&sql));
		buf_finish(&sql);
		if (r < 0) {
			PQclear(res);
			goto fail;
		}
	}
	PQclear(res);
	res = PQexec(conn, "SELECT to_regclass('meta') IS NOT NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("control database: %s", PQerrorMessage(conn));
		PQclear(res);
		r = -EIO;
		goto fail;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0) {
		PQclear(res);
		res = PQexec(conn, "SELECT max(version) FROM meta");
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			log_error("control database: %s", PQerrorMessage(conn));
			PQclear(res);
			r = -EIO;
			goto fail;
		}
		have = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	}
	PQclear(res);
	if (have > (long)n_versions) {
		log_error("schema %s has version %ld, newer than this pgqfs knows (%zu)",
			  cfg->schema, have, n_versions);
		r = -EPROTO;
		goto fail;
	}
	for (size_t v = (size_t)have; v < n_versions; v++) {
		for (const char *const *q = schema_versions[v]; *q; q++) {
			r = exec_simple(conn, *q);
			if (r < 0)
				goto fail;
		}
		log_info("control schema %s upgraded to version %zu", cfg->schema, v + 1);
	}
	{
		char v[16];
		const char *vv[1] = { v };

		snprintf(v, sizeof(v), "%zu", n_versions);
		res = PQexecParams(conn, "UPDATE meta SET version = $1::int", 1, NULL, vv,
				   NULL, NULL, 0);
		r = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -EIO;
		PQclear(res);
		if (r < 0)
			goto fail;
	}
	if (exec_simple(conn, "COMMIT") < 0)
		return -EIO;
	return 0;
fail:
	(void)exec_simple(conn, "ROLLBACK");
	return r;
}

int store_register(PGconn *conn, const struct config *cfg, int64_t *ret_instance)
{
	char host[256], pid[16], token[24];
	const char *pv[3] = { host, pid, token };
	PGresult *res;
	int64_t id;

	(void)cfg;
	store_host_name(host, sizeof(host));
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	snprintf(token, sizeof(token), "%lld", (long long)store_daemon_token());
	res = PQexecParams(conn,
		"WITH i AS (INSERT INTO instance (host, pid, token) VALUES ($1, $2, $3::int8)"
		" RETURNING id)"
		" SELECT id, pg_advisory_lock(hashtext(current_schema()), id::int) FROM i",
		3, NULL, pv, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		log_error("cannot register with the control database: %s", PQerrorMessage(conn));
		PQclear(res);
		return -EIO;
	}
	id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	*ret_instance = id;
	return 0;
}
