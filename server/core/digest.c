/*
 * digest.c — ZooKeeper's data tree digest (see digest.h).  CRC32 is a
 * table-driven slice-by-8: a million-node tree is hashed whenever a
 * replica loads a snapshot.
 */
#include "digest.h"

#include <string.h>

#include "tree.h"

static uint32_t crc_tab[8][256];
static bool crc_ready;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
	/* idempotent: a race between threads computes the same table */
	crc_ready = true;
}

uint32_t dg_crc32(uint32_t crc, const void *buf, size_t n)
{
	if (!crc_ready)
		crc_init();
	const uint8_t *p = buf;
	uint32_t c = ~crc;
	while (n >= 8) {
		uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				   (uint32_t)p[3] << 24);
		uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
			      (uint32_t)p[7] << 24;
		c = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
		    crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^ crc_tab[3][hi & 0xff] ^
		    crc_tab[2][(hi >> 8) & 0xff] ^ crc_tab[1][(hi >> 16) & 0xff] ^
		    crc_tab[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	while (n--)
		c = crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

int64_t dg_zk_owner(int32_t kind, int64_t owner)
{
	switch (kind) {
	case TN_EPHEMERAL:
		return owner;
	case TN_CONTAINER:
		return INT64_MIN; /* EphemeralType.CONTAINER_EPHEMERAL_OWNER */
	case TN_TTL:
		return (int64_t)(0xff00000000000000ull | (uint64_t)owner); /* TTL.toEphemeralOwner */
	}
	return 0;
}

bool dg_excluded(const char *path, size_t plen)
{
	return plen >= 11 && !memcmp(path, "/zookeeper/", 11);
}

uint32_t dg_path_data(const char *path, size_t plen, const uint8_t *data, int32_t dlen)
{
	if (plen == 1 && path[0] == '/')
		plen = 0; /* "/" and "" are the same node: hashed as "" */
	uint32_t crc = dg_crc32(0, path, plen);
	if (dlen > 0)
		crc = dg_crc32(crc, data, (size_t)dlen);
	return crc;
}

static void store64(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
}

static void store32(uint8_t *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (24 - 8 * i));
}

uint32_t dg_finish(uint32_t crc, const struct dg_stat *st)
{
	uint8_t b[60];
	store64(b, (uint64_t)st->czxid);
	store64(b + 8, (uint64_t)st->mzxid);
	store64(b + 16, (uint64_t)st->pzxid);
	store64(b + 24, (uint64_t)st->ctime);
	store64(b + 32, (uint64_t)st->mtime);
	store32(b + 40, (uint32_t)st->version);
	store32(b + 44, (uint32_t)st->cversion);
	store32(b + 48, (uint32_t)st->aversion);
	store64(b + 52, (uint64_t)st->ephemeral_owner);
	return dg_crc32(crc, b, sizeof(b));
}

uint32_t dg_node(const char *path, size_t plen, const uint8_t *data, int32_t dlen,
		 const struct dg_stat *st)
{
	if (dg_excluded(path, plen))
		return 0;
	return dg_finish(dg_path_data(path, plen, data, dlen), st);
}
