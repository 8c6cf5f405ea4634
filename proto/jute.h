/*
 * jute.h — the primitive encoding of ZooKeeper's wire protocol ("jute").
 *
 * Everything on the wire is big-endian; a record is its fields in order
 * with no tags or padding.  int = 4 bytes, long = 8, boolean = 1,
 * ustring/buffer = int32 length + bytes (-1 = null), vector = int32 count
 * + elements (-1 = null).  Frames are prefixed by a 4-byte length.
 *
 * Writers append to a growable `struct jute_out`; a failed allocation sets
 * `err` and later writes become no-ops, so callers check once at the end.
 * Readers consume a `struct jute_in` view of a frame; any short read or
 * out-of-range length sets `err` (-EBADMSG) and later reads return zeros,
 * so a decoder checks once at the end too.  Nothing here allocates on the
 * read side except the *_dup helpers.
 */
#ifndef ZKFS_PROTO_JUTE_H
#define ZKFS_PROTO_JUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* jute.maxbuffer default: the largest frame and the largest string/buffer. */
#define JUTE_MAX_BUFFER 0xfffff

struct jute_out {
	uint8_t *buf;
	size_t len;
	size_t cap;
	int err; /* 0 or -ENOMEM, sticky */
};

struct jute_in {
	const uint8_t *p;
	size_t len;
	size_t pos;
	size_t maxbuf; /* largest string/buffer accepted; JUTE_MAX_BUFFER by default */
	int err;       /* 0 or -EBADMSG, sticky */
};

/* Writer. jute_out_init leaves an empty writer (no allocation yet). */
void jute_out_init(struct jute_out *o);
/* Frees the buffer; the writer may be re-initialised afterwards. */
void jute_out_free(struct jute_out *o);
/* Forgets the content but keeps the allocation. */
void jute_out_reset(struct jute_out *o);
/* Ensures room for n more bytes; returns 0 or -ENOMEM (also sets err). */
int jute_out_reserve(struct jute_out *o, size_t n);
/* Moves the buffer out to the caller (who frees it); the writer is reset. */
uint8_t *jute_out_steal(struct jute_out *o, size_t *len);

void jute_put_int(struct jute_out *o, int32_t v);
void jute_put_long(struct jute_out *o, int64_t v);
void jute_put_bool(struct jute_out *o, bool v);
void jute_put_raw(struct jute_out *o, const void *p, size_t n);
/* A buffer: len -1 (with p NULL) encodes null. */
void jute_put_buffer(struct jute_out *o, const void *p, int32_t len);
/* A NUL-terminated string; NULL encodes "" (the C client cannot read null strings). */
void jute_put_string(struct jute_out *o, const char *s);
void jute_put_stringn(struct jute_out *o, const char *s, size_t n);

/* Frame helpers: begin reserves the 4-byte length and returns its offset;
 * end patches it with the number of bytes written since. */
size_t jute_frame_begin(struct jute_out *o);
void jute_frame_end(struct jute_out *o, size_t at);

/* Reader over p[0..len). */
void jute_in_init(struct jute_in *in, const void *p, size_t len);

int32_t jute_get_int(struct jute_in *in);
int64_t jute_get_long(struct jute_in *in);
bool jute_get_bool(struct jute_in *in);
/* A view into the frame: *p points inside it (valid as long as the frame),
 * *len is -1 for null.  Lengths < -1 or > maxbuf set err. */
void jute_get_buffer(struct jute_in *in, const uint8_t **p, int32_t *len);
/* Malloc'd copy (NUL-terminated for convenience); *len -1 and NULL for null.
 * Returns NULL with err set on decode error or -ENOMEM. */
uint8_t *jute_get_buffer_dup(struct jute_in *in, int32_t *len);
/* Malloc'd NUL-terminated string; null decodes as NULL (no error).  A
 * string with an embedded NUL is a decode error. */
char *jute_get_string_dup(struct jute_in *in);
/* Vector count: -1 (null) is returned as 0; negative or larger than the
 * remaining bytes could hold sets err. */
int32_t jute_get_count(struct jute_in *in, size_t min_elem_size);
/* Bytes left unread. */
static inline size_t jute_in_left(const struct jute_in *in)
{
	return in->len - in->pos;
}

/* Big-endian helpers for framing code. */
static inline uint32_t jute_load32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void jute_store32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}
static inline uint64_t jute_load64(const uint8_t *p)
{
	return (uint64_t)jute_load32(p) << 32 | jute_load32(p + 4);
}
static inline void jute_store64(uint8_t *p, uint64_t v)
{
	jute_store32(p, v >> 32);
	jute_store32(p + 4, (uint32_t)v);
}

#endif
