/*
 * qcodec.c — the two channels between ZooKeeper 3.8 servers, as bytes:
 * the election port (connection header, framed notifications, the config
 * text they carry: fact sheet §1) and the quorum port (QuorumPackets
 * written back to back with no length prefix, §2), with the incremental
 * reader that turns a TCP byte stream into whole messages, SNAP streams
 * included.  Txn payloads are qtxn.c's, SNAP streams qsnap.c's.
 */
#include "qcodec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txn.h"

/* ================================================================ election header */

void qc_hello_put(struct jute_out *o, int64_t sid, const char *addr)
{
	size_t n = addr ? strlen(addr) : 0;
	jute_put_long(o, QC_ELECTION_V1);
	jute_put_long(o, sid);
	jute_put_int(o, (int32_t)n);
	jute_put_raw(o, addr, n);
}

int qc_hello_parse(const uint8_t *p, size_t len, struct qc_hello *h, size_t *used)
{
	if (len < 8)
		return 0;
	int64_t v = (int64_t)jute_load64(p);
	memset(h, 0, sizeof(*h));
	if (v >= 0) {
		/* QuorumCnxManager before 3.5: the bare sid */
		h->sid = v;
		h->old_format = true;
		*used = 8;
		return 1;
	}
	if (v != QC_ELECTION_V1 && v != QC_ELECTION_V2)
		return -EBADMSG;
	if (len < 20)
		return 0;
	int32_t n = (int32_t)jute_load32(p + 16);
	if (n < 1 || n > QC_ADDR_MAX)
		return -EBADMSG;
	if (len < 20 + (size_t)n)
		return 0;
	h->sid = (int64_t)jute_load64(p + 8);
	memcpy(h->addr, p + 20, (size_t)n);
	h->addr[n] = 0;
	*used = 20 + (size_t)n;
	return 1;
}

int qc_frame_parse(const uint8_t *p, size_t len, const uint8_t **body, size_t *blen,
		   size_t *used)
{
	if (len < 4)
		return 0;
	int32_t n = (int32_t)jute_load32(p);
	if (n <= 0 || n > QC_NOTIFY_MAX)
		return -EBADMSG;
	if (len < 4 + (size_t)n)
		return 0;
	*body = p + 4;
	*blen = (size_t)n;
	*used = 4 + (size_t)n;
	return 1;
}

/* ================================================================ notifications */

void qc_notification_put(struct jute_out *o, const struct zmsg *m, const char *config)
{
	size_t clen = config ? strlen(config) : 0;
	size_t at = jute_frame_begin(o);
	jute_put_int(o, m->vote.state);
	jute_put_long(o, m->vote.leader);
	jute_put_long(o, m->vote.zxid);
	jute_put_long(o, m->vote.round);
	jute_put_long(o, m->vote.peer_epoch);
	jute_put_int(o, 2); /* version: with config (3.5+) */
	jute_put_int(o, (int32_t)clen);
	jute_put_raw(o, config, clen);
	jute_frame_end(o, at);
}

int qc_notification_get(const uint8_t *body, size_t len, struct zmsg *m)
{
	memset(m, 0, sizeof(*m));
	m->type = ZM_NOTIFICATION;
	if (len < 28)
		return -EBADMSG;
	m->vote.state = (int32_t)jute_load32(body);
	m->vote.leader = (int64_t)jute_load64(body + 4);
	m->vote.zxid = (int64_t)jute_load64(body + 12);
	m->vote.round = (int64_t)jute_load64(body + 20);
	if (m->vote.state < ZS_LOOKING || m->vote.state > ZS_OBSERVING)
		return -EBADMSG;
	if (len == 28) {
		/* before ZOOKEEPER-107: no peerEpoch, it is the zxid's */
		m->vote.peer_epoch = m->vote.zxid >> 32;
		return 0;
	}
	if (len < 36)
		return -EBADMSG;
	m->vote.peer_epoch = (int64_t)jute_load64(body + 28);
	if (len == 40)
		return 0; /* no version (before 3.4.6) */
	if (len < 40)
		return -EBADMSG;
	int32_t version = (int32_t)jute_load32(body + 36);
	if (version <= 1)
		return 0;
	if (len < 44)
		return -EBADMSG;
	int32_t clen = (int32_t)jute_load32(body + 40);
	if (clen < 0 || (size_t)clen > len - 44)
		return -EBADMSG;
	m->config = malloc((size_t)clen + 1);
	if (!m->config)
		return -ENOMEM;
	memcpy(m->config, body + 44, (size_t)clen);
	m->config[clen] = 0;
	if (qc_config_version(m->config, (size_t)clen, &m->vote.config_version)) {
		free(m->config);
		m->config = NULL;
		return -EBADMSG;
	}
	return 0;
}

/* ================================================================ config text */

static int server_cmp(const void *a, const void *b)
{
	const struct qc_server *x = *(const struct qc_server *const *)a;
	const struct qc_server *y = *(const struct qc_server *const *)b;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Appends host the way InetSocketAddress prints it in QuorumServer:
 * IPv6 literals in brackets. */
static void put_host(struct jute_out *o, const char *host)
{
	bool v6 = strchr(host, ':') && host[0] != '[';
	if (v6)
		jute_put_raw(o, "[", 1);
	jute_put_raw(o, host, strlen(host));
	if (v6)
		jute_put_raw(o, "]", 1);
}

char *qc_config_text(const struct qc_server *v, size_t n, int64_t version)
{
	const struct qc_server **s = malloc((n ? n : 1) * sizeof(*s));
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++)
		s[i] = &v[i];
	qsort(s, n, sizeof(*s), server_cmp);
	struct jute_out o;
	jute_out_init(&o);
	char num[64];
	for (size_t i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "server.%" PRId64 "=", s[i]->id);
		jute_put_raw(&o, num, strlen(num));
		put_host(&o, s[i]->host ? s[i]->host : "");
		snprintf(num, sizeof(num), ":%d:%d:%s", (int)s[i]->qport, (int)s[i]->eport,
			 s[i]->observer ? "observer" : "participant");
		jute_put_raw(&o, num, strlen(num));
		if (s[i]->client_host) {
			jute_put_raw(&o, ";", 1);
			put_host(&o, s[i]->client_host);
			snprintf(num, sizeof(num), ":%d", (int)s[i]->client_port);
			jute_put_raw(&o, num, strlen(num));
		}
		jute_put_raw(&o, "\n", 1);
	}
	/* Long.toHexString: two's complement for negatives */
	snprintf(num, sizeof(num), "version=%" PRIx64, (uint64_t)version);
	jute_put_raw(&o, num, strlen(num) + 1); /* with the NUL */
	free(s);
	if (o.err) {
		jute_out_free(&o);
		return NULL;
	}
	return (char *)jute_out_steal(&o, NULL);
}

int qc_config_version(const char *text, size_t len, int64_t *version)
{
	*version = 0;
	size_t i = 0;
	while (i < len) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		if (e - i > 8 && !memcmp(text + i, "version=", 8)) {
			uint64_t v = 0;
			size_t k = i + 8;
			if (k == e || e - k > 16)
				return -EBADMSG;
			for (; k < e; k++) {
				char ch = text[k];
				int d = ch >= '0' && ch <= '9'	 ? ch - '0'
					: ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
					: ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
								 : -1;
				if (d < 0)
					return -EBADMSG;
				v = v << 4 | (uint64_t)d;
			}
			*version = (int64_t)v;
		}
		i = e + 1;
	}
	return 0;
}

/* ================================================================ quorum packets */

static void put_authinfo(struct jute_out *o, const struct core_auth *a)
{
	if (!a) {
		jute_put_int(o, -1);
		return;
	}
	jute_put_int(o, a->n);
	for (int i = 0; i < a->n; i++) {
		jute_put_string(o, a->ids[i].scheme);
		jute_put_string(o, a->ids[i].id);
	}
}

/* REQUEST data (§4.3): sessionId, cxid, type, the request record. */
static int put_request(struct jute_out *o, const struct zmsg *m)
{
	const struct zk_request *r = m->req;
	if (!r)
		return -EINVAL;
	size_t at = jute_frame_begin(o);
	jute_put_long(o, m->session);
	if (r->type == ZOP_CREATESESSION || r->type == ZOP_CLOSESESSION) {
		jute_put_int(o, r->xid);
		jute_put_int(o, r->type);
		if (r->type == ZOP_CREATESESSION)
			jute_put_int(o, m->session_timeout);
	} else {
		/* zk_request_put writes len ‖ xid ‖ type ‖ record: drop its len */
		size_t inner = o->len;
		zk_request_put(o, r);
		if (o->err)
			return o->err;
		memmove(o->buf + inner, o->buf + inner + 4, o->len - inner - 4);
		o->len -= 4;
	}
	jute_frame_end(o, at);
	return 0;
}

int qc_snap_packet_stream(const struct zmsg *m, size_t chunk,
			  int (*out)(void *arg, const void *buf, size_t len), void *arg)
{
	if (m->type != ZM_SNAP || !m->snap)
		return -EINVAL;
	/* QuorumPacket {type, zxid, data null, authinfo null}, the tree after */
	uint8_t h[20];
	jute_store32(h, (uint32_t)ZM_SNAP);
	jute_store64(h + 4, (uint64_t)m->zxid);
	jute_store32(h + 12, UINT32_MAX);
	jute_store32(h + 16, UINT32_MAX);
	int rc = out(arg, h, sizeof(h));
	if (rc)
		return rc;
	return qc_snap_stream(m->snap, true, chunk, out, arg);
}

int qc_packet_put(struct jute_out *o, const struct zmsg *m, bool from_leader,
		  const int64_t *digest)
{
	size_t start = o->len;
	int rc = 0;
	jute_put_int(o, m->type);
	jute_put_long(o, m->zxid);
	switch (m->type) {
	case ZM_REQUEST:
		rc = put_request(o, m);
		if (rc)
			break;
		put_authinfo(o, m->auth);
		return o->err;
	case ZM_PROPOSAL:
	case ZM_INFORM: {
		if (!m->txn) {
			rc = -EINVAL;
			break;
		}
		size_t at = jute_frame_begin(o);
		rc = qc_txn_put(o, m->txn, digest);
		if (rc)
			break;
		jute_frame_end(o, at);
		break;
	}
	case ZM_ACK:
	case ZM_COMMIT:
	case ZM_SYNC:
	case ZM_UPTODATE:
	case ZM_DIFF:
	case ZM_TRUNC:
		jute_put_int(o, -1);
		break;
	case ZM_PING:
		if (from_leader) {
			jute_put_int(o, -1);
		} else {
			/* a learner's reply: the touched sessions, never null
			 * (a null one ends the LearnerHandler) */
			if (m->ntouches < 0 || (m->ntouches && !m->touches) ||
			    m->ntouches > INT32_MAX / 12) {
				rc = -EINVAL;
				break;
			}
			jute_put_int(o, m->ntouches * 12);
			for (int32_t i = 0; i < m->ntouches; i++) {
				jute_put_long(o, m->touches[i].sid);
				jute_put_int(o, m->touches[i].timeout);
			}
		}
		break;
	case ZM_REVALIDATE: {
		int64_t sid = m->session ? m->session : m->sid;
		if (from_leader) {
			jute_put_int(o, 9);
			jute_put_long(o, sid);
			jute_put_bool(o, m->valid);
		} else {
			jute_put_int(o, 12);
			jute_put_long(o, sid);
			jute_put_int(o, m->session_timeout);
		}
		break;
	}
	case ZM_NEWLEADER:
		if (m->config)
			jute_put_buffer(o, m->config, (int32_t)strlen(m->config));
		else
			jute_put_int(o, -1);
		break;
	case ZM_FOLLOWERINFO:
	case ZM_OBSERVERINFO:
		/* LearnerInfo */
		jute_put_int(o, 20);
		jute_put_long(o, m->sid);
		jute_put_int(o, m->protocol);
		jute_put_long(o, m->config_version);
		break;
	case ZM_LEADERINFO:
		jute_put_int(o, 4);
		jute_put_int(o, m->protocol);
		break;
	case ZM_ACKEPOCH:
		jute_put_int(o, 4);
		jute_put_int(o, m->epoch);
		break;
	case ZM_SNAP:
		if (!m->snap) {
			rc = -EINVAL;
			break;
		}
		jute_put_int(o, -1);
		jute_put_int(o, -1);
		rc = qc_snap_put(o, m->snap, true);
		if (rc)
			break;
		return o->err;
	default:
		rc = -EINVAL;
		break;
	}
	if (rc) {
		if (!o->err)
			o->len = start;
		return o->err ? o->err : rc;
	}
	jute_put_int(o, -1); /* authinfo */
	return o->err;
}

/* ---------------------------------------------------------------- scanning */

int qc_packet_scan(const uint8_t *p, size_t len, size_t maxbuf, size_t *plen)
{
	size_t at = 12;
	if (len < at + 4)
		return 0;
	int32_t dlen = (int32_t)jute_load32(p + at);
	at += 4;
	if (dlen < -1)
		return -EBADMSG;
	if (dlen > 0 && (size_t)dlen > maxbuf)
		return -EMSGSIZE;
	if (dlen > 0)
		at += (size_t)dlen;
	if (len < at + 4)
		return 0;
	int32_t n = (int32_t)jute_load32(p + at);
	at += 4;
	if (n < -1)
		return -EBADMSG;
	if (n > 0 && (size_t)n > maxbuf / 8)
		return -EMSGSIZE;
	for (int32_t i = 0; i < n; i++) {
		for (int k = 0; k < 2; k++) {
			if (len < at + 4)
				return 0;
			int32_t sl = (int32_t)jute_load32(p + at);
			at += 4;
			if (sl < -1)
				return -EBADMSG;
			if (sl > 0 && (size_t)sl > maxbuf)
				return -EMSGSIZE;
			if (sl > 0)
				at += (size_t)sl;
		}
	}
	if (len < at)
		return 0;
	*plen = at;
	return 1;
}

/* ---------------------------------------------------------------- decoding */

static int get_authinfo(struct jute_in *in, struct core_auth **out)
{
	*out = NULL;
	int32_t n = (int32_t)jute_get_int(in);
	if (in->err)
		return in->err;
	if (n == -1)
		return 0;
	if (n < 0 || (size_t)n > jute_in_left(in) / 8)
		return in->err = -EBADMSG;
	struct core_auth *a = calloc(1, sizeof(*a));
	if (!a)
		return in->err = -ENOMEM;
	if (n) {
		a->ids = calloc((size_t)n, sizeof(*a->ids));
		if (!a->ids) {
			free(a);
			return in->err = -ENOMEM;
		}
		a->cap = n;
	}
	for (int32_t i = 0; i < n && !in->err; i++) {
		char *s = jute_get_string_dup(in);
		char *id = jute_get_string_dup(in);
		/* a null string reads as "" (Java's Id tolerates null) */
		if (!in->err && !s)
			s = strdup("");
		if (!in->err && !id)
			id = strdup("");
		a->ids[i].scheme = s;
		a->ids[i].id = id;
		a->n = i + 1;
		if (!in->err && (!s || !id))
			in->err = -ENOMEM;
	}
	if (in->err) {
		core_auth_free(a);
		free(a);
		return in->err;
	}
	*out = a;
	return 0;
}

static int get_request(const uint8_t *d, int32_t dlen, size_t maxbuf, struct zmsg *m)
{
	if (dlen < 16)
		return -EBADMSG;
	m->session = (int64_t)jute_load64(d);
	struct zk_request *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	int32_t xid = (int32_t)jute_load32(d + 8), type = (int32_t)jute_load32(d + 12);
	int rc = 0;
	if (type == ZOP_CREATESESSION) {
		if (dlen != 20)
			rc = -EBADMSG;
		else
			m->session_timeout = (int32_t)jute_load32(d + 16);
		r->xid = xid;
		r->type = type;
	} else if (type == ZOP_CLOSESESSION) {
		if (dlen != 16)
			rc = -EBADMSG;
		r->xid = xid;
		r->type = type;
	} else {
		rc = zk_request_get_limit(d + 8, (size_t)dlen - 8, maxbuf, r);
	}
	if (rc) {
		zk_request_free(r);
		free(r);
		return rc;
	}
	m->req = r;
	return 0;
}

int qc_packet_get(const uint8_t *p, size_t len, bool from_leader, size_t maxbuf, struct zmsg *m,
		  bool *has_digest, int64_t *digest)
{
	memset(m, 0, sizeof(*m));
	if (has_digest)
		*has_digest = false;
	if (!maxbuf)
		maxbuf = QC_MAXBUF_DEFAULT;
	struct jute_in in;
	jute_in_init(&in, p, len);
	in.maxbuf = maxbuf;
	m->type = jute_get_int(&in);
	m->zxid = jute_get_long(&in);
	const uint8_t *d;
	int32_t dlen;
	jute_get_buffer(&in, &d, &dlen);
	struct core_auth *auth = NULL;
	if (!in.err)
		get_authinfo(&in, &auth);
	if (!in.err && jute_in_left(&in))
		in.err = -EBADMSG;
	if (in.err) {
		/* jute says -EBADMSG for lengths past maxbuf too: tell them apart */
		size_t pl;
		int rc = qc_packet_scan(p, len, maxbuf, &pl);
		return rc == -EMSGSIZE ? rc : in.err;
	}
	int rc = 0;
	switch (m->type) {
	case ZM_REQUEST:
		m->auth = auth;
		auth = NULL;
		rc = get_request(d, dlen, maxbuf, m);
		break;
	case ZM_PROPOSAL:
	case ZM_INFORM:
		if (dlen < 0)
			rc = -EBADMSG;
		else
			rc = qc_txn_get(d, (size_t)dlen, maxbuf, &m->txn, has_digest, digest);
		break;
	case ZM_ACK:
	case ZM_COMMIT:
	case ZM_SYNC:
	case ZM_UPTODATE:
	case ZM_DIFF:
	case ZM_TRUNC:
	case ZM_SNAP:
		break; /* data ignored, as Apache does */
	case ZM_PING:
		if (from_leader)
			break;
		if (dlen < 0 || dlen % 12) {
			rc = -EBADMSG;
			break;
		}
		m->ntouches = dlen / 12;
		if (m->ntouches) {
			m->touches = malloc((size_t)m->ntouches * sizeof(*m->touches));
			if (!m->touches) {
				rc = -ENOMEM;
				break;
			}
		}
		for (int32_t i = 0; i < m->ntouches; i++) {
			m->touches[i].sid = (int64_t)jute_load64(d + 12 * i);
			m->touches[i].timeout = (int32_t)jute_load32(d + 12 * i + 8);
		}
		break;
	case ZM_REVALIDATE:
		if (dlen != (from_leader ? 9 : 12)) {
			rc = -EBADMSG;
			break;
		}
		m->session = m->sid = (int64_t)jute_load64(d);
		if (from_leader)
			m->valid = d[8] != 0;
		else
			m->session_timeout = (int32_t)jute_load32(d + 8);
		break;
	case ZM_NEWLEADER:
		if (dlen < 0)
			break;
		m->config = malloc((size_t)dlen + 1);
		if (!m->config) {
			rc = -ENOMEM;
			break;
		}
		memcpy(m->config, d, (size_t)dlen);
		m->config[dlen] = 0;
		if (memchr(m->config, 0, (size_t)dlen))
			rc = -EBADMSG;
		else
			rc = qc_config_version(m->config, (size_t)dlen, &m->config_version);
		break;
	case ZM_FOLLOWERINFO:
	case ZM_OBSERVERINFO:
		/* LearnerInfo; 3.4 learners sent 12 bytes (no configVersion) and
		 * pre-3.4 ones 8 (no protocol): Apache reads what is there */
		if (dlen != 20 && dlen != 12 && dlen != 8) {
			rc = -EBADMSG;
			break;
		}
		m->sid = (int64_t)jute_load64(d);
		m->protocol = dlen >= 12 ? (int32_t)jute_load32(d + 8) : 0;
		m->config_version = dlen >= 20 ? (int64_t)jute_load64(d + 12) : 0;
		break;
	case ZM_LEADERINFO:
		if (dlen != 4) {
			rc = -EBADMSG;
			break;
		}
		m->protocol = (int32_t)jute_load32(d);
		break;
	case ZM_ACKEPOCH:
		if (dlen != 4) {
			rc = -EBADMSG; /* null kills Apache's LearnerHandler too */
			break;
		}
		m->epoch = (int32_t)jute_load32(d);
		break;
	default:
		rc = -EBADMSG;
		break;
	}
	if (auth) {
		core_auth_free(auth);
		free(auth);
	}
	if (rc)
		zmsg_free(m);
	return rc;
}

/* ================================================================ reader */

void qc_reader_init(struct qc_reader *r, bool from_leader, size_t maxbuf,
		    const struct core_config *snap_cfg)
{
	memset(r, 0, sizeof(*r));
	r->from_leader = from_leader;
	r->maxbuf = maxbuf ? maxbuf : QC_MAXBUF_DEFAULT;
	if (snap_cfg)
		r->snap_cfg = *snap_cfg;
}

void qc_reader_free(struct qc_reader *r)
{
	free(r->buf);
	qc_snap_parser_free(r->snap);
	zmsg_free(&r->snap_msg);
	memset(r, 0, sizeof(*r));
}

static int reader_fail(struct qc_reader *r, int err, const char *why)
{
	r->err = err;
	r->why = why;
	return err;
}

int qc_reader_feed(struct qc_reader *r, const void *p, size_t n)
{
	if (r->err)
		return r->err;
	if (r->pos && (r->pos == r->len || r->pos > r->cap / 2)) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
	}
	if (r->cap - r->len < n) {
		size_t cap = r->cap ? r->cap : 4096;
		while (cap - r->len < n)
			cap *= 2;
		uint8_t *b = realloc(r->buf, cap);
		if (!b)
			return reader_fail(r, -ENOMEM, "out of memory");
		r->buf = b;
		r->cap = cap;
	}
	if (n)
		memcpy(r->buf + r->len, p, n);
	r->len += n;
	return 0;
}

int qc_reader_next(struct qc_reader *r, struct zmsg *m)
{
	memset(m, 0, sizeof(*m));
	if (r->err)
		return r->err;
	for (;;) {
		if (r->snap) {
			size_t used = 0;
			int rc = qc_snap_parser_feed(r->snap, r->buf + r->pos, r->len - r->pos, &used);
			r->pos += used;
			if (rc < 0)
				return reader_fail(r, rc, "malformed SNAP stream");
			if (rc == 0)
				return 0;
			*m = r->snap_msg;
			memset(&r->snap_msg, 0, sizeof(r->snap_msg));
			m->snap = qc_snap_parser_take(r->snap);
			qc_snap_parser_free(r->snap);
			r->snap = NULL;
			r->has_digest = false;
			return 1;
		}
		size_t plen;
		int rc = qc_packet_scan(r->buf + r->pos, r->len - r->pos, r->maxbuf, &plen);
		if (rc == 0)
			return 0;
		if (rc == -EMSGSIZE)
			return reader_fail(r, rc, "packet buffer larger than jute.maxbuffer + extrasize");
		if (rc < 0)
			return reader_fail(r, rc, "malformed QuorumPacket lengths");
		rc = qc_packet_get(r->buf + r->pos, plen, r->from_leader, r->maxbuf, m,
				   &r->has_digest, &r->digest);
		if (rc == -EMSGSIZE)
			return reader_fail(r, rc, "packet buffer larger than jute.maxbuffer + extrasize");
		if (rc)
			return reader_fail(r, rc, "malformed QuorumPacket");
		r->pos += plen;
		if (m->type != ZM_SNAP)
			return 1;
		r->snap = qc_snap_parser_new(&r->snap_cfg, m->zxid, true, r->maxbuf);
		if (!r->snap)
			return reader_fail(r, -ENOMEM, "out of memory");
		r->snap_msg = *m;
		memset(m, 0, sizeof(*m));
	}
}
