/*
 * Rows as JSON lines: each row one object, equal as parsed JSON to what
 * PostgreSQL's row_to_json() gives for it (datum_to_json() and
 * array_to_json_internal() in src/backend/utils/adt/json.c, PostgreSQL
 * 15).  Only the text of each value and its type OID are at hand, so the
 * value is rebuilt from the text the way row_to_json() builds it from the
 * datum:
 *
 *  - bool: true / false;
 *  - int2, int4, int8, float4, float8, numeric: the text as a number when
 *    it is a valid JSON number, else (NaN, Infinity, -Infinity) a string,
 *    exactly the IsValidJsonNumber() test row_to_json() makes.  oid is no
 *    number there (it is a string), nor are money and the others;
 *  - json, jsonb: the text as it is (a server only sends valid JSON), with
 *    CR and LF, which can only be whitespace between tokens there, made
 *    spaces so that one row stays one line;
 *  - timestamp, timestamptz: row_to_json() writes them in ISO 8601 whatever
 *    DateStyle says: the ISO text output with 'T' for the space, and a
 *    whole-hour offset "+HH" as "+HH:00".  date's ISO text output is
 *    already what row_to_json() writes;
 *  - arrays of the built-in types (and int2vector, oidvector, which
 *    row_to_json() treats as arrays): JSON arrays, nested per dimension,
 *    bounds dropped, each element converted by its element type;
 *  - everything else: a string of the text, escaped as escape_json() does.
 *
 * What a type OID cannot tell, and is written as a string of the text
 * (row_to_json() gives something else):
 *  - composite values (table row types, ROW(...), record): row_to_json()
 *    nests them as objects, but their field names and types live in the
 *    catalog; also their arrays, which become arrays of strings;
 *  - types created in the database (OIDs >= 16384): enums and most others
 *    are strings in row_to_json() too, but their arrays are JSON arrays
 *    there, and a type with a cast to json (hstore) uses the cast.
 *    Domains are no problem: the server sends a domain column's base type;
 *  - date and timestamp text in a DateStyle other than ISO (a task that
 *    SETs DateStyle): written as the text, where row_to_json() writes ISO.
 *
 * A text that could not have come from a server for its type (an array
 * that does not parse, a json that is not JSON, a bool neither t nor f)
 * is written as a string, so that the line is valid JSON whatever the
 * result holds.
 */
#include "format.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* How row_to_json() writes a (non-array) value of a type. */
enum json_kind {
	KIND_STRING,
	KIND_BOOL,
	KIND_NUMBER,
	KIND_JSON,
	KIND_TIMESTAMP,
	KIND_TIMESTAMPTZ,
};

/* Type OIDs of pg_type.dat (fixed across versions). */
enum {
	OID_BOOL = 16,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT2VECTOR = 22,
	OID_INT4 = 23,
	OID_OID = 26,
	OID_OIDVECTOR = 30,
	OID_JSON = 114,
	OID_FLOAT4 = 700,
	OID_FLOAT8 = 701,
	OID_BOX_ARRAY = 1020,
	OID_TIMESTAMP = 1114,
	OID_TIMESTAMPTZ = 1184,
	OID_NUMERIC = 1700,
	OID_JSONB = 3802,
};

static enum json_kind scalar_kind(Oid type)
{
	switch (type) {
	case OID_BOOL:
		return KIND_BOOL;
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
	case OID_FLOAT4:
	case OID_FLOAT8:
	case OID_NUMERIC:
		return KIND_NUMBER;
	case OID_JSON:
	case OID_JSONB:
		return KIND_JSON;
	case OID_TIMESTAMP:
		return KIND_TIMESTAMP;
	case OID_TIMESTAMPTZ:
		return KIND_TIMESTAMPTZ;
	default:
		return KIND_STRING;
	}
}

/*
 * The built-in array types and their element types: every pg_type row of
 * PostgreSQL 15 below 10000 that get_element_type() (what row_to_json()
 * asks) calls an array, sorted by OID.  The catalog's composite types
 * (pg_type, pg_class, ...) are here too; their elements become strings.
 */
static const struct array_type {
	Oid type;
	Oid elem;
} array_types[] = {
	{ 22, 21 },     { 30, 26 },     { 143, 142 },   { 199, 114 },
	{ 210, 71 },    { 270, 75 },    { 271, 5069 },  { 272, 81 },
	{ 273, 83 },    { 629, 628 },   { 651, 650 },   { 719, 718 },
	{ 775, 774 },   { 791, 790 },   { 1000, 16 },   { 1001, 17 },
	{ 1002, 18 },   { 1003, 19 },   { 1005, 21 },   { 1006, 22 },
	{ 1007, 23 },   { 1008, 24 },   { 1009, 25 },   { 1010, 27 },
	{ 1011, 28 },   { 1012, 29 },   { 1013, 30 },   { 1014, 1042 },
	{ 1015, 1043 }, { 1016, 20 },   { 1017, 600 },  { 1018, 601 },
	{ 1019, 602 },  { 1020, 603 },  { 1021, 700 },  { 1022, 701 },
	{ 1027, 604 },  { 1028, 26 },   { 1034, 1033 }, { 1040, 829 },
	{ 1041, 869 },  { 1115, 1114 }, { 1182, 1082 }, { 1183, 1083 },
	{ 1185, 1184 }, { 1187, 1186 }, { 1231, 1700 }, { 1263, 2275 },
	{ 1270, 1266 }, { 1561, 1560 }, { 1563, 1562 }, { 2201, 1790 },
	{ 2207, 2202 }, { 2208, 2203 }, { 2209, 2204 }, { 2210, 2205 },
	{ 2211, 2206 }, { 2287, 2249 }, { 2949, 2970 }, { 2951, 2950 },
	{ 3221, 3220 }, { 3643, 3614 }, { 3644, 3642 }, { 3645, 3615 },
	{ 3735, 3734 }, { 3770, 3769 }, { 3807, 3802 }, { 3905, 3904 },
	{ 3907, 3906 }, { 3909, 3908 }, { 3911, 3910 }, { 3913, 3912 },
	{ 3927, 3926 }, { 4073, 4072 }, { 4090, 4089 }, { 4097, 4096 },
	{ 4192, 4191 }, { 5039, 5038 }, { 6150, 4451 }, { 6151, 4532 },
	{ 6152, 4533 }, { 6153, 4534 }, { 6155, 4535 }, { 6157, 4536 },
};

/* The element type of an array type, or 0. */
static Oid array_elem(Oid type)
{
	size_t lo = 0, hi = sizeof(array_types) / sizeof(array_types[0]), mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (array_types[mid].type == type)
			return array_types[mid].elem;
		if (array_types[mid].type < type)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* ---- Strings ----------------------------------------------------------- */

/* s[0..len) as a JSON string, escaped as escape_json() escapes it. */
static int put_string(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run;
	unsigned char c;
	char esc[6];
	int r;

	r = buf_putc(b, '"');
	for (i = 0; r == 0 && i < len; i += run) {
		for (run = 0; i + run < len; run++) {
			c = (unsigned char)s[i + run];
			if (c < 0x20 || c == '"' || c == '\\')
				break;
		}
		if (run > 0) {
			r = buf_append(b, s + i, run);
			continue;
		}
		run = 1;
		c = (unsigned char)s[i];
		esc[0] = '\\';
		switch (c) {
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 0xf];
			r = buf_append(b, esc, 6);
			continue;
		}
		r = buf_append(b, esc, 2);
	}
	if (r == 0)
		r = buf_putc(b, '"');
	return r;
}

/* ---- JSON text --------------------------------------------------------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Length of the JSON number at s[0..len) (RFC 8259's grammar, which is
 * also PostgreSQL's json_lex_number()), or 0 when there is none.
 */
static size_t number_len(const char *s, size_t len)
{
	size_t i = 0;

	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0')
		i++;
	else if (i < len && is_digit(s[i]))
		while (i < len && is_digit(s[i]))
			i++;
	else
		return 0;
	if (i < len && s[i] == '.') {
		i++;
		if (i >= len || !is_digit(s[i]))
			return 0;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || !is_digit(s[i]))
			return 0;
		while (i < len && is_digit(s[i]))
			i++;
	}
	return i;
}

/* IsValidJsonNumber(): the whole text is one JSON number. */
static bool is_json_number(const char *s, size_t len)
{
	return len > 0 && number_len(s, len) == len;
}

/* c is one of the characters of set (never the NUL that ends it). */
static bool in_set(const char *set, char c)
{
	return c != '\0' && strchr(set, c) != NULL;
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Length of the JSON string starting at the quote s[0], or 0. */
static size_t string_len(const char *s, size_t len)
{
	size_t i = 1;
	int k;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"')
			return i + 1;
		if (c < 0x20)
			return 0;
		if (c != '\\') {
			i++;
			continue;
		}
		if (++i >= len)
			return 0;
		if (s[i] == 'u') {
			for (k = 1; k <= 4; k++)
				if (i + (size_t)k >= len || !is_hex(s[i + (size_t)k]))
					return 0;
			i += 5;
		} else if (in_set("\"\\/bfnrt", s[i])) {
			i++;
		} else {
			return 0;
		}
	}
	return 0;
}

static size_t skip_space(const char *s, size_t len, size_t i)
{
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
			   s[i] == '\r'))
		i++;
	return i;
}

/*
 * Whether s[0..len) is one JSON value (surrounded by whitespace): 1, 0, or
 * -ENOMEM.  Iterative, with the open containers on a stack of its own, as
 * a json value may nest far deeper than a C stack would like.
 */
static int json_valid(const char *s, size_t len)
{
	struct buf open;	/* '{' or '[' per open container */
	size_t i = 0, n;
	int r = 0;
	char top;

	buf_init(&open);
	for (;;) {
		/* A value is expected at i. */
		i = skip_space(s, len, i);
		if (i >= len)
			goto out;
		if (s[i] == '{' || s[i] == '[') {
			top = s[i];
			if (buf_putc(&open, top) < 0) {
				r = -ENOMEM;
				goto out;
			}
			i = skip_space(s, len, i + 1);
			if (i < len && s[i] == (top == '{' ? '}' : ']')) {
				open.len--;
				i++;
				goto after_value;
			}
			if (top == '{')
				goto key;
			continue;
		}
		if (s[i] == '"')
			n = string_len(s + i, len - i);
		else if (s[i] == '-' || is_digit(s[i]))
			n = number_len(s + i, len - i);
		else if (len - i >= 4 && memcmp(s + i, "true", 4) == 0)
			n = 4;
		else if (len - i >= 5 && memcmp(s + i, "false", 5) == 0)
			n = 5;
		else if (len - i >= 4 && memcmp(s + i, "null", 4) == 0)
			n = 4;
		else
			n = 0;
		if (n == 0)
			goto out;
		i += n;
after_value:
		i = skip_space(s, len, i);
		if (open.len == 0) {
			r = i == len;
			goto out;
		}
		if (i >= len)
			goto out;
		top = open.data[open.len - 1];
		if (s[i] == (top == '{' ? '}' : ']')) {
			open.len--;
			i++;
			goto after_value;
		}
		if (s[i] != ',')
			goto out;
		i++;
		if (top == '[')
			continue;
key:
		/* An object member: "key" : value. */
		i = skip_space(s, len, i);
		if (i >= len || s[i] != '"')
			goto out;
		n = string_len(s + i, len - i);
		if (n == 0)
			goto out;
		i = skip_space(s, len, i + n);
		if (i >= len || s[i] != ':')
			goto out;
		i++;
	}
out:
	buf_finish(&open);
	return r;
}

/* A json or jsonb text, as it is but on one line; else a string. */
static int put_json(struct buf *b, const char *s, size_t len)
{
	size_t start = b->len, i;
	int r;

	r = json_valid(s, len);
	if (r < 0)
		return r;
	if (r == 0)
		return put_string(b, s, len);
	r = buf_append(b, s, len);
	if (r < 0)
		return r;
	/* Outside strings (where they cannot be raw): whitespace. */
	for (i = start; i < b->len; i++)
		if (b->data[i] == '\n' || b->data[i] == '\r')
			b->data[i] = ' ';
	return 0;
}

/* ---- Timestamps -------------------------------------------------------- */

/* Skips exactly n digits at s[*i]; false when they are not there. */
static bool digits(const char *s, size_t len, size_t *i, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		if (*i + k >= len || !is_digit(s[*i + k]))
			return false;
	*i += n;
	return true;
}

/*
 * A timestamp(tz) as row_to_json() writes it (EncodeDateTime() with
 * USE_XSD_DATES) from its ISO text output (USE_ISO_DATES):
 * "YYYY-MM-DD HH:MM:SS[.f][+HH[:MM[:SS]]][ BC]" becomes
 * "YYYY-MM-DDTHH:MM:SS[.f][+HH:MM[:SS]][ BC]".  infinity, -infinity and
 * any other DateStyle's text stay as they are.
 */
static int put_timestamp(struct buf *b, const char *s, size_t len, bool tz)
{
	size_t i = 0, space, zone_end;
	bool hours_only = false;
	int r;

	while (i < len && is_digit(s[i]))
		i++;
	if (i < 4 || !(i < len && s[i] == '-'))
		return put_string(b, s, len);
	i++;
	if (!digits(s, len, &i, 2) || i >= len || s[i++] != '-' ||
	    !digits(s, len, &i, 2) || i >= len || s[i] != ' ')
		return put_string(b, s, len);
	space = i++;
	if (!digits(s, len, &i, 2) || i >= len || s[i++] != ':' ||
	    !digits(s, len, &i, 2) || i >= len || s[i++] != ':' ||
	    !digits(s, len, &i, 2))
		return put_string(b, s, len);
	if (i < len && s[i] == '.') {
		i++;
		if (i >= len || !is_digit(s[i]))
			return put_string(b, s, len);
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (tz) {
		if (i >= len || (s[i] != '+' && s[i] != '-'))
			return put_string(b, s, len);
		i++;
		if (!digits(s, len, &i, 2))
			return put_string(b, s, len);
		hours_only = true;
		if (i < len && s[i] == ':') {
			i++;
			if (!digits(s, len, &i, 2))
				return put_string(b, s, len);
			hours_only = false;
			if (i < len && s[i] == ':') {
				i++;
				if (!digits(s, len, &i, 2))
					return put_string(b, s, len);
			}
		}
	}
	zone_end = i;
	if (i < len && len - i == 3 && memcmp(s + i, " BC", 3) == 0)
		i += 3;
	if (i != len)
		return put_string(b, s, len);

	r = buf_reserve(b, len + 5);
	if (r < 0)
		return r;
	(void)buf_putc(b, '"');
	(void)buf_append(b, s, space);
	(void)buf_putc(b, 'T');
	(void)buf_append(b, s + space + 1, zone_end - space - 1);
	if (hours_only)
		(void)buf_append(b, ":00", 3);
	(void)buf_append(b, s + zone_end, len - zone_end);
	(void)buf_putc(b, '"');
	return 0;
}

/* ---- Values ------------------------------------------------------------ */

static int put_scalar(struct buf *b, Oid type, const char *s, size_t len)
{
	switch (scalar_kind(type)) {
	case KIND_BOOL:
		if (len == 1 && s[0] == 't')
			return buf_append(b, "true", 4);
		if (len == 1 && s[0] == 'f')
			return buf_append(b, "false", 5);
		break;
	case KIND_NUMBER:
		if (is_json_number(s, len))
			return buf_append(b, s, len);
		break;
	case KIND_JSON:
		return put_json(b, s, len);
	case KIND_TIMESTAMP:
		return put_timestamp(b, s, len, false);
	case KIND_TIMESTAMPTZ:
		return put_timestamp(b, s, len, true);
	case KIND_STRING:
		break;
	}
	return put_string(b, s, len);
}

/*
 * int2vector and oidvector, which row_to_json() writes as arrays: their
 * text is the elements separated by single spaces.  Returns 1 when the
 * text is not such a list (nothing appended), else 0 or -ENOMEM.
 */
static int put_vector(struct buf *b, Oid elem, const char *s, size_t len)
{
	size_t i = 0, n;
	int r;

	r = buf_putc(b, '[');
	while (r == 0 && i < len) {
		n = 0;
		while (i + n < len && s[i + n] != ' ')
			n++;
		if (n == 0)
			return 1;
		if (i > 0)
			r = buf_putc(b, ',');
		if (r == 0)
			r = put_scalar(b, elem, s + i, n);
		i += n;
		if (i < len && ++i == len)
			return 1;	/* a trailing space */
	}
	if (r == 0)
		r = buf_putc(b, ']');
	return r;
}

/* An element of an array or vector, by its type. */
static int put_element(struct buf *b, Oid elem, const char *s, size_t len)
{
	size_t start = b->len;
	int r;

	if (elem == OID_INT2VECTOR || elem == OID_OIDVECTOR) {
		r = put_vector(b, elem == OID_INT2VECTOR ? OID_INT2 : OID_OID,
			       s, len);
		if (r <= 0)
			return r;
		b->len = start;
		return put_string(b, s, len);
	}
	return put_scalar(b, elem, s, len);
}

/*
 * An array's text output (array_out()) as a JSON array: optional bounds
 * "[l:u]...=" (dropped, as row_to_json() drops them), then braces nested
 * per dimension holding elements separated by the type's delimiter, each
 * NULL, unquoted, or in double quotes with backslash escapes.  Returns 1
 * when the text is not an array (what was appended is for the caller to
 * drop), else 0 or -ENOMEM.
 */
static int put_array(struct buf *b, Oid elem, char delim, const char *s,
		     size_t len)
{
	struct buf item;
	size_t i = 0, n, depth = 0;
	int r = 1;

	buf_init(&item);
	if (i < len && s[i] == '[') {
		while (i < len && s[i] != '=') {
			if (!in_set("[]:-0123456789", s[i]))
				goto out;
			i++;
		}
		i++;
	}
	if (i >= len || s[i] != '{')
		goto out;
	for (;;) {
		/* An item is expected at i: a sub-array or an element. */
		if (i >= len)
			goto fail;
		if (s[i] == '{') {
			depth++;
			i++;
			if (buf_putc(b, '[') < 0)
				goto nomem;
			if (i < len && s[i] == '}')
				goto close;
			continue;
		}
		if (s[i] == '"') {
			buf_reset(&item);
			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] == '\\' && ++i >= len)
					goto fail;
				if (buf_putc(&item, s[i]) < 0)
					goto nomem;
			}
			if (i >= len)
				goto fail;
			i++;
			if (put_element(b, elem, item.data ? item.data : "",
					item.len) < 0)
				goto nomem;
		} else {
			for (n = 0; i + n < len && s[i + n] != delim &&
				    s[i + n] != '}'; n++)
				if (in_set("{\"\\", s[i + n]))
					goto fail;
			if (n == 0)
				goto fail;
			if (n == 4 && strncasecmp(s + i, "NULL", 4) == 0)
				r = buf_append(b, "null", 4);
			else
				r = put_element(b, elem, s + i, n);
			if (r < 0)
				goto nomem;
			i += n;
		}
after_item:
		if (i >= len)
			goto fail;
		if (s[i] == delim) {
			i++;
			if (buf_putc(b, ',') < 0)
				goto nomem;
			continue;
		}
		if (s[i] != '}')
			goto fail;
close:
		i++;
		depth--;
		if (buf_putc(b, ']') < 0)
			goto nomem;
		if (depth == 0) {
			r = i == len ? 0 : 1;
			goto out;
		}
		goto after_item;
	}
fail:
	r = 1;
	goto out;
nomem:
	r = -ENOMEM;
out:
	buf_finish(&item);
	return r;
}

/* One value of type `type` as row_to_json() writes it. */
static int put_value(struct buf *b, Oid type, const char *s, size_t len)
{
	size_t start = b->len;
	Oid elem = array_elem(type);
	int r;

	if (elem == 0)
		return put_scalar(b, type, s, len);
	if (type == OID_INT2VECTOR || type == OID_OIDVECTOR)
		r = put_vector(b, elem, s, len);
	else
		r = put_array(b, elem, type == OID_BOX_ARRAY ? ';' : ',', s,
			      len);
	if (r <= 0)
		return r;
	/* Not the text output of an array: keep it whole, as a string. */
	b->len = start;
	return put_string(b, s, len);
}

int json_row(struct buf *b, const PGresult *res, int row)
{
	size_t orig = b->len;
	const char *name;
	int i, n = PQnfields(res), r;

	r = buf_putc(b, '{');
	for (i = 0; i < n && r == 0; i++) {
		if (i > 0)
			r = buf_putc(b, ',');
		name = PQfname(res, i);
		if (!name)
			name = "";
		if (r == 0)
			r = put_string(b, name, strlen(name));
		if (r == 0)
			r = buf_putc(b, ':');
		if (r < 0)
			break;
		if (PQgetisnull(res, row, i))
			r = buf_append(b, "null", 4);
		else
			r = put_value(b, PQftype(res, i),
				      PQgetvalue(res, row, i),
				      (size_t)PQgetlength(res, row, i));
	}
	if (r == 0)
		r = buf_append(b, "}\n", 2);
	if (r < 0)
		b->len = orig;
	return r;
}
