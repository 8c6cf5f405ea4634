/*
 * jute.c — primitive encoders and decoders of the ZooKeeper wire format.
 * See jute.h for the error conventions (sticky err, check once at the end).
 */
#include "jute.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void jute_out_init(struct jute_out *o)
{
	memset(o, 0, sizeof(*o));
}

void jute_out_free(struct jute_out *o)
{
	free(o->buf);
	memset(o, 0, sizeof(*o));
}

void jute_out_reset(struct jute_out *o)
{
	o->len = 0;
	o->err = 0;
}

int jute_out_reserve(struct jute_out *o, size_t n)
{
	if (o->err)
		return o->err;
	if (o->cap - o->len >= n)
		return 0;
	size_t cap = o->cap ? o->cap : 256;
	while (cap - o->len < n)
		cap *= 2;
	uint8_t *b = realloc(o->buf, cap);
	if (!b) {
		o->err = -ENOMEM;
		return o->err;
	}
	o->buf = b;
	o->cap = cap;
	return 0;
}

uint8_t *jute_out_steal(struct jute_out *o, size_t *len)
{
	uint8_t *b = o->buf;
	if (len)
		*len = o->len;
	memset(o, 0, sizeof(*o));
	return b;
}

void jute_put_raw(struct jute_out *o, const void *p, size_t n)
{
	if (jute_out_reserve(o, n))
		return;
	if (n)
		memcpy(o->buf + o->len, p, n);
	o->len += n;
}

void jute_put_int(struct jute_out *o, int32_t v)
{
	if (jute_out_reserve(o, 4))
		return;
	jute_store32(o->buf + o->len, (uint32_t)v);
	o->len += 4;
}

void jute_put_long(struct jute_out *o, int64_t v)
{
	if (jute_out_reserve(o, 8))
		return;
	jute_store64(o->buf + o->len, (uint64_t)v);
	o->len += 8;
}

void jute_put_bool(struct jute_out *o, bool v)
{
	uint8_t b = v ? 1 : 0;
	jute_put_raw(o, &b, 1);
}

void jute_put_buffer(struct jute_out *o, const void *p, int32_t len)
{
	if (len < 0 || (!p && len > 0)) {
		jute_put_int(o, -1);
		return;
	}
	jute_put_int(o, len);
	jute_put_raw(o, p, (size_t)len);
}

void jute_put_stringn(struct jute_out *o, const char *s, size_t n)
{
	jute_put_int(o, (int32_t)n);
	jute_put_raw(o, s, n);
}

void jute_put_string(struct jute_out *o, const char *s)
{
	if (!s)
		s = "";
	jute_put_stringn(o, s, strlen(s));
}

size_t jute_frame_begin(struct jute_out *o)
{
	size_t at = o->len;
	jute_put_int(o, 0);
	return at;
}

void jute_frame_end(struct jute_out *o, size_t at)
{
	if (o->err || at + 4 > o->len)
		return;
	jute_store32(o->buf + at, (uint32_t)(o->len - at - 4));
}

void jute_in_init(struct jute_in *in, const void *p, size_t len)
{
	in->p = p;
	in->len = len;
	in->pos = 0;
	in->maxbuf = JUTE_MAX_BUFFER;
	in->err = 0;
}

static const uint8_t *take(struct jute_in *in, size_t n)
{
	if (in->err)
		return NULL;
	if (in->len - in->pos < n) {
		in->err = -EBADMSG;
		in->pos = in->len;
		return NULL;
	}
	const uint8_t *p = in->p + in->pos;
	in->pos += n;
	return p;
}

int32_t jute_get_int(struct jute_in *in)
{
	const uint8_t *p = take(in, 4);
	return p ? (int32_t)jute_load32(p) : 0;
}

int64_t jute_get_long(struct jute_in *in)
{
	const uint8_t *p = take(in, 8);
	return p ? (int64_t)jute_load64(p) : 0;
}

bool jute_get_bool(struct jute_in *in)
{
	const uint8_t *p = take(in, 1);
	return p ? *p != 0 : false;
}

void jute_get_buffer(struct jute_in *in, const uint8_t **out, int32_t *len)
{
	*out = NULL;
	*len = -1;
	int32_t n = jute_get_int(in);
	if (in->err)
		return;
	if (n == -1)
		return;
	if (n < -1 || (size_t)n > in->maxbuf) {
		in->err = -EBADMSG;
		return;
	}
	const uint8_t *p = take(in, (size_t)n);
	if (!p)
		return;
	*out = p;
	*len = n;
}

uint8_t *jute_get_buffer_dup(struct jute_in *in, int32_t *len)
{
	const uint8_t *p;
	jute_get_buffer(in, &p, len);
	if (in->err || *len < 0)
		return NULL;
	uint8_t *b = malloc((size_t)*len + 1);
	if (!b) {
		in->err = -ENOMEM;
		return NULL;
	}
	if (*len)
		memcpy(b, p, (size_t)*len);
	b[*len] = 0;
	return b;
}

char *jute_get_string_dup(struct jute_in *in)
{
	const uint8_t *p;
	int32_t n;
	jute_get_buffer(in, &p, &n);
	if (in->err || n < 0)
		return NULL;
	if (n && memchr(p, 0, (size_t)n)) {
		in->err = -EBADMSG;
		return NULL;
	}
	char *s = malloc((size_t)n + 1);
	if (!s) {
		in->err = -ENOMEM;
		return NULL;
	}
	if (n)
		memcpy(s, p, (size_t)n);
	s[n] = 0;
	return s;
}

int32_t jute_get_count(struct jute_in *in, size_t min_elem_size)
{
	int32_t n = jute_get_int(in);
	if (in->err)
		return 0;
	if (n == -1)
		return 0;
	if (n < 0 || (min_elem_size && (size_t)n > jute_in_left(in) / min_elem_size)) {
		in->err = -EBADMSG;
		return 0;
	}
	return n;
}
