/*
 * qseal.c — Adler32, the checksum that seals ZooKeeper's snapshot and
 * log files (fact sheet §5.2, §5.3).  The tree digest every PROPOSAL
 * carries (§4.2) is kept by the core (core/digest.c).
 */
#include "qcodec.h"

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
