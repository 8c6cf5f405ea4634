/*
 * zk.c — names of error codes and opcodes, and ZooKeeper's path rules.
 */
#include "zk.h"

#include <string.h>

const char *zk_err_name(int code)
{
	switch (code) {
#define ZK_ERR_NAME(name, c, text) \
	case c:                    \
		return #name;
		ZK_ERRORS(ZK_ERR_NAME)
#undef ZK_ERR_NAME
	}
	return "UNKNOWN";
}

const char *zk_err_text(int code)
{
	switch (code) {
#define ZK_ERR_TEXT(name, c, text) \
	case c:                    \
		return text;
		ZK_ERRORS(ZK_ERR_TEXT)
#undef ZK_ERR_TEXT
	}
	return "unknown error";
}

const char *zk_op_name(int op)
{
	switch (op) {
	case ZOP_NOTIFICATION: return "notification";
	case ZOP_CREATE: return "create";
	case ZOP_DELETE: return "delete";
	case ZOP_EXISTS: return "exists";
	case ZOP_GETDATA: return "getData";
	case ZOP_SETDATA: return "setData";
	case ZOP_GETACL: return "getACL";
	case ZOP_SETACL: return "setACL";
	case ZOP_GETCHILDREN: return "getChildren";
	case ZOP_SYNC: return "sync";
	case ZOP_PING: return "ping";
	case ZOP_GETCHILDREN2: return "getChildren2";
	case ZOP_CHECK: return "check";
	case ZOP_MULTI: return "multi";
	case ZOP_CREATE2: return "create2";
	case ZOP_RECONFIG: return "reconfig";
	case ZOP_CHECKWATCHES: return "checkWatches";
	case ZOP_REMOVEWATCHES: return "removeWatches";
	case ZOP_CREATECONTAINER: return "createContainer";
	case ZOP_DELETECONTAINER: return "deleteContainer";
	case ZOP_CREATETTL: return "createTTL";
	case ZOP_MULTIREAD: return "multiRead";
	case ZOP_AUTH: return "auth";
	case ZOP_SETWATCHES: return "setWatches";
	case ZOP_SASL: return "sasl";
	case ZOP_GETEPHEMERALS: return "getEphemerals";
	case ZOP_GETALLCHILDRENNUMBER: return "getAllChildrenNumber";
	case ZOP_SETWATCHES2: return "setWatches2";
	case ZOP_ADDWATCH: return "addWatch";
	case ZOP_WHOAMI: return "whoAmI";
	case ZOP_CREATESESSION: return "createSession";
	case ZOP_CLOSESESSION: return "closeSession";
	case ZOP_ERROR: return "error";
	}
	return "unknown";
}

/* Decodes one UTF-8 code point at s[*i] (advancing *i); returns -1 when the
 * sequence is malformed (a malformed sequence is not a valid path). */
static long utf8_next(const unsigned char *s, size_t len, size_t *i)
{
	unsigned char c = s[*i];
	long cp;
	size_t n;
	if (c < 0x80) {
		(*i)++;
		return c;
	} else if ((c & 0xe0) == 0xc0) {
		cp = c & 0x1f;
		n = 1;
	} else if ((c & 0xf0) == 0xe0) {
		cp = c & 0x0f;
		n = 2;
	} else if ((c & 0xf8) == 0xf0) {
		cp = c & 0x07;
		n = 3;
	} else {
		return -1;
	}
	for (size_t k = 1; k <= n; k++) {
		if (*i + k >= len || (s[*i + k] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[*i + k] & 0x3f);
	}
	*i += n + 1;
	return cp;
}

bool zk_path_valid(const char *path, size_t len)
{
	const unsigned char *s = (const unsigned char *)path;
	if (!path || len == 0 || s[0] != '/')
		return false;
	if (len == 1)
		return true;
	if (s[len - 1] == '/')
		return false;
	size_t i = 1, comp = 1;
	while (i <= len) {
		if (i == len || s[i] == '/') {
			size_t clen = i - comp;
			if (clen == 0)
				return false;
			if (clen == 1 && s[comp] == '.')
				return false;
			if (clen == 2 && s[comp] == '.' && s[comp + 1] == '.')
				return false;
			comp = i + 1;
			i++;
			continue;
		}
		long cp = utf8_next(s, len, &i);
		if (cp < 0)
			return false;
		if (cp == 0 || (cp >= 0x01 && cp <= 0x1f) || (cp >= 0x7f && cp <= 0x9f) ||
		    (cp >= 0xd800 && cp <= 0xf8ff) || (cp >= 0xfff0 && cp <= 0xffff))
			return false;
	}
	return true;
}

size_t zk_path_parent_len(const char *path, size_t len)
{
	if (len <= 1)
		return 0;
	size_t i = len - 1;
	while (i > 0 && path[i] != '/')
		i--;
	return i == 0 ? 1 : i;
}
