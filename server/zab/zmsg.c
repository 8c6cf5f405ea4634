/*
 * zmsg.c — lifetime of the structured ensemble messages of zmsg.h: free,
 * deep copy, names for logs.  Deep copies of the nested records go through
 * their own codecs (core_txn_encode/decode, zk_request_put/get): one
 * definition of what a txn or a request holds, and a copy is exactly what
 * the other end would have decoded.
 *
 * A SNAP's core is never owned by the message: on the sending side it is
 * the leader's live core, read at send time; on the receiving side
 * qc_reader_next hands a new core to its caller (zab), which must take it
 * (install it or core_free it) before zmsg_free.  zmsg_clone shares it.
 */
#include "zmsg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "txn.h"

void zmsg_free(struct zmsg *m)
{
	if (!m)
		return;
	core_txn_free(m->txn);
	if (m->req) {
		zk_request_free(m->req);
		free(m->req);
	}
	if (m->auth) {
		core_auth_free(m->auth);
		free(m->auth);
	}
	free(m->touches);
	free(m->config);
	memset(m, 0, sizeof(*m));
}

static int clone_txn(struct core_txn **dst, const struct core_txn *src)
{
	struct jute_out o;
	jute_out_init(&o);
	core_txn_encode(src, &o);
	int rc = o.err ? o.err : core_txn_decode(o.buf, o.len, dst);
	jute_out_free(&o);
	if (rc == 0) {
		/* fields the log format does not carry (a check's version) */
		for (int32_t i = 0; i < src->nops && i < (*dst)->nops; i++)
			(*dst)->ops[i].version = src->ops[i].version;
	}
	return rc == -EBADMSG ? -EINVAL : rc;
}

static int clone_req(struct zk_request **dst, const struct zk_request *src)
{
	struct jute_out o;
	jute_out_init(&o);
	zk_request_put(&o, src);
	struct zk_request *r = calloc(1, sizeof(*r));
	int rc = o.err ? o.err : !r ? -ENOMEM : 0;
	if (rc == 0)
		rc = zk_request_get_limit(o.buf + 4, o.len - 4, (size_t)1 << 30, r);
	jute_out_free(&o);
	if (rc) {
		free(r);
		return rc == -EBADMSG ? -EINVAL : rc;
	}
	*dst = r;
	return 0;
}

static int clone_auth(struct core_auth **dst, const struct core_auth *src)
{
	struct core_auth *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	*dst = a;
	if (src->n == 0)
		return 0;
	a->ids = calloc((size_t)src->n, sizeof(*a->ids));
	if (!a->ids)
		return -ENOMEM;
	a->cap = src->n;
	for (int i = 0; i < src->n; i++) {
		a->ids[i].scheme = strdup(src->ids[i].scheme ? src->ids[i].scheme : "");
		a->ids[i].id = strdup(src->ids[i].id ? src->ids[i].id : "");
		a->n = i + 1;
		if (!a->ids[i].scheme || !a->ids[i].id)
			return -ENOMEM;
	}
	return 0;
}

int zmsg_clone(struct zmsg *dst, const struct zmsg *src)
{
	*dst = *src;
	dst->txn = NULL;
	dst->req = NULL;
	dst->auth = NULL;
	dst->touches = NULL;
	dst->config = NULL;
	int rc = 0;
	if (src->txn)
		rc = clone_txn(&dst->txn, src->txn);
	if (!rc && src->req)
		rc = clone_req(&dst->req, src->req);
	if (!rc && src->auth)
		rc = clone_auth(&dst->auth, src->auth);
	if (!rc && src->ntouches > 0) {
		dst->touches = malloc((size_t)src->ntouches * sizeof(*dst->touches));
		if (!dst->touches)
			rc = -ENOMEM;
		else
			memcpy(dst->touches, src->touches,
			       (size_t)src->ntouches * sizeof(*dst->touches));
	}
	if (!rc && src->config && !(dst->config = strdup(src->config)))
		rc = -ENOMEM;
	if (rc)
		zmsg_free(dst);
	return rc;
}

const char *zmsg_type_name(int32_t type)
{
	switch (type) {
	case ZM_REQUEST:
		return "REQUEST";
	case ZM_PROPOSAL:
		return "PROPOSAL";
	case ZM_ACK:
		return "ACK";
	case ZM_COMMIT:
		return "COMMIT";
	case ZM_PING:
		return "PING";
	case ZM_REVALIDATE:
		return "REVALIDATE";
	case ZM_SYNC:
		return "SYNC";
	case ZM_INFORM:
		return "INFORM";
	case ZM_NEWLEADER:
		return "NEWLEADER";
	case ZM_FOLLOWERINFO:
		return "FOLLOWERINFO";
	case ZM_UPTODATE:
		return "UPTODATE";
	case ZM_DIFF:
		return "DIFF";
	case ZM_TRUNC:
		return "TRUNC";
	case ZM_SNAP:
		return "SNAP";
	case ZM_OBSERVERINFO:
		return "OBSERVERINFO";
	case ZM_LEADERINFO:
		return "LEADERINFO";
	case ZM_ACKEPOCH:
		return "ACKEPOCH";
	case ZM_NOTIFICATION:
		return "NOTIFICATION";
	}
	return "?";
}
