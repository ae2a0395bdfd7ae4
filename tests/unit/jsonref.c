/*
 * jsonref CONNINFO QUERY: runs QUERY (one or more statements) on a real
 * server and prints json_row() of every row of every result, so that
 * tests/e2e/jsonref.sh can hold it against row_to_json() of the same
 * rows.  A test tool: the query is the caller's text, and a failed
 * statement ends it with exit status 1 and the server's message.
 */
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "buf.h"
#include "format.h"

int main(int argc, char **argv)
{
	PGconn *conn;
	PGresult *res;
	struct buf b;
	int row, status = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: jsonref CONNINFO QUERY\n");
		return 2;
	}
	buf_init(&b);
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "jsonref: %s", PQerrorMessage(conn));
		status = 1;
		goto out;
	}
	if (!PQsendQuery(conn, argv[2])) {
		fprintf(stderr, "jsonref: %s", PQerrorMessage(conn));
		status = 1;
		goto out;
	}
	while ((res = PQgetResult(conn)) != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_TUPLES_OK:
			for (row = 0; row < PQntuples(res); row++) {
				if (json_row(&b, res, row) != 0) {
					fprintf(stderr, "jsonref: out of memory\n");
					status = 1;
					break;
				}
			}
			break;
		case PGRES_COMMAND_OK:
			break;
		default:
			fprintf(stderr, "jsonref: %s", PQresultErrorMessage(res));
			status = 1;
			break;
		}
		PQclear(res);
	}
	if (b.len > 0 && fwrite(b.data, 1, b.len, stdout) != b.len)
		status = 1;
	if (fflush(stdout) != 0)
		status = 1;
out:
	PQfinish(conn);
	buf_finish(&b);
	return status;
}
