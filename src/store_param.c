/* Binary parameters and results: PostgreSQL's wire formats of integers
 * and one-dimensional arrays. */
#include "store_internal.h"

#include <arpa/inet.h>
#include <endian.h>
#include <string.h>

void put_be64(char *p, int64_t v)
{
	uint64_t be = htobe64((uint64_t)v);

	memcpy(p, &be, 8);
}

void put_be32(char *p, int32_t v)
{
	uint32_t be = htonl((uint32_t)v);

	memcpy(p, &be, 4);
}

static int64_t get_be64(const char *p)
{
	uint64_t be;

	memcpy(&be, p, 8);
	return (int64_t)be64toh(be);
}

static int32_t get_be32(const char *p)
{
	uint32_t be;

	memcpy(&be, p, 4);
	return (int32_t)ntohl(be);
}

/* Column `col` of a binary-format row as an integer of any width; NULL -> dflt. */
int64_t res_int(const PGresult *res, int row, int col, int64_t dflt)
{
	const char *v;

	if (PQgetisnull(res, row, col))
		return dflt;
	v = PQgetvalue(res, row, col);
	switch (PQgetlength(res, row, col)) {
	case 8:
		return get_be64(v);
	case 4:
		return get_be32(v);
	case 2: {
		uint16_t be;

		memcpy(&be, v, 2);
		return (int16_t)ntohs(be);
	}
	default:
		return dflt;
	}
}

char *res_strdup(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return strndup(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

#define ARR_HEADER 20

void arr_init(struct arr *a, uint32_t oid)
{
	buf_init(&a->b);
	a->oid = oid;
	a->n = 0;
	a->has_null = false;
}

int arr_add(struct arr *a, const void *data, int32_t len)
{
	uint32_t be = htonl((uint32_t)len);
	int r;

	if (a->b.len == 0) {
		r = buf_reserve(&a->b, ARR_HEADER);
		if (r < 0)
			return r;
		a->b.len = ARR_HEADER;
	}
	r = buf_reserve(&a->b, 4 + (len > 0 ? (size_t)len : 0));
	if (r < 0)
		return r;
	if (len < 0)
		a->has_null = true;
	(void)buf_append(&a->b, &be, 4);
	if (len > 0)
		(void)buf_append(&a->b, data, (size_t)len);
	a->n++;
	return 0;
}

int arr_add_i64(struct arr *a, int64_t v)
{
	char p[8];

	put_be64(p, v);
	return arr_add(a, p, 8);
}

int arr_add_i32(struct arr *a, int32_t v)
{
	uint32_t be = htonl((uint32_t)v);

	return arr_add(a, &be, 4);
}

int arr_add_i16(struct arr *a, int16_t v)
{
	uint16_t be = htons((uint16_t)v);

	return arr_add(a, &be, 2);
}

int arr_add_bool(struct arr *a, bool v)
{
	char c = v ? 1 : 0;

	return arr_add(a, &c, 1);
}

int arr_add_str(struct arr *a, const char *s)
{
	return arr_add(a, s, s ? (int32_t)strlen(s) : -1);
}

/* Fills in the header; returns the bytes to send and their length. */
const char *arr_finish(struct arr *a, int *ret_len)
{
	static const char empty[12] = { 0 };	/* ndim 0, no nulls, oid set below */
	uint32_t w[5];

	if (a->n == 0) {
		/* An empty array has no dimensions: a 12-byte header. */
		if (buf_reserve(&a->b, 12) < 0)
			return NULL;
		memcpy(a->b.data, empty, 12);
		w[0] = htonl(a->oid);
		memcpy(a->b.data + 8, &w[0], 4);
		a->b.len = 12;
	} else {
		w[0] = htonl(1);
		w[1] = htonl(a->has_null ? 1 : 0);
		w[2] = htonl(a->oid);
		w[3] = htonl((uint32_t)a->n);
		w[4] = htonl(1);
		memcpy(a->b.data, w, ARR_HEADER);
	}
	*ret_len = (int)a->b.len;
	return a->b.data;
}

void arr_reset(struct arr *a)
{
	buf_reset(&a->b);
	a->n = 0;
	a->has_null = false;
}

void arr_finish_free(struct arr *a)
{
	buf_finish(&a->b);
}
