/*
 * zkdigest.c — the checksums ZooKeeper's formats use: CRC32 (IEEE, as
 * java.util.zip.CRC32) for the tree digest every PROPOSAL carries
 * (DigestCalculator, fact sheet §4.2) and Adler32 for the seals of
 * snapshot and log files (§5.2, §5.3), plus the per-node digest itself.
 * zlib has both but is not linked into the server; these are small
 * table-driven versions (slice-by-8 for CRC32: the digest of a
 * million-node tree is computed on every SNAP check).
 */
#include <string.h>

#include "qcodec.h"
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

uint32_t qc_crc32(uint32_t crc, const void *buf, size_t n)
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

uint32_t qc_adler32(uint32_t adler, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	uint32_t a = adler & 0xffff, b = adler >> 16;
	while (n) {
		/* 5552: the most bytes before the sums can overflow 32 bits */
		size_t k = n < 5552 ? n : 5552;
		n -= k;
		while (k--) {
			a += *p++;
			b += a;
		}
		a %= 65521;
		b %= 65521;
	}
	return b << 16 | a;
}

int64_t qc_zk_owner(int32_t kind, int64_t owner)
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

uint32_t qc_node_digest(const char *path, size_t plen, const uint8_t *data, int32_t dlen,
			const struct qc_pstat *st)
{
	/* quota and system nodes are left out (DigestCalculator) */
	if (plen >= 11 && !memcmp(path, "/zookeeper/", 11))
		return 0;
	if (plen == 1 && path[0] == '/')
		plen = 0; /* "/" and "" are the same node: counted as "" */
	uint8_t b[60];
	jute_store64(b, (uint64_t)st->czxid);
	jute_store64(b + 8, (uint64_t)st->mzxid);
	jute_store64(b + 16, (uint64_t)st->pzxid);
	jute_store64(b + 24, (uint64_t)st->ctime);
	jute_store64(b + 32, (uint64_t)st->mtime);
	jute_store32(b + 40, (uint32_t)st->version);
	jute_store32(b + 44, (uint32_t)st->cversion);
	jute_store32(b + 48, (uint32_t)st->aversion);
	jute_store64(b + 52, (uint64_t)st->ephemeral_owner);
	uint32_t crc = qc_crc32(0, path, plen);
	if (dlen > 0)
		crc = qc_crc32(crc, data, (size_t)dlen);
	return qc_crc32(crc, b, sizeof(b));
}
