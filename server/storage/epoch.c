/*
 * epoch.c — acceptedEpoch / currentEpoch files (see epoch.h).
 *
 * Small files, rarely written (once per election won or joined), so every
 * write takes the slow, safe path: temp file, fsync, rename, fsync of the
 * directory.  Reads accept exactly what ZooKeeper's readLongFromFile
 * accepts from its first line: an optional '+' and decimal digits
 * (negative values are refused here: an epoch is never negative).
 */
#include "epoch.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int epoch_dir(const char *data_dir, char *buf, size_t n)
{
	int l = snprintf(buf, n, "%s/%s", data_dir, EPOCH_SUBDIR);
	return l < 0 || (size_t)l >= n ? -ENAMETOOLONG : 0;
}

static int path_of(char *buf, size_t n, const char *dir, const char *name, const char *suffix)
{
	int l = snprintf(buf, n, "%s/%s%s", dir, name, suffix);
	return l < 0 || (size_t)l >= n ? -ENAMETOOLONG : 0;
}

/* Parses the content of an epoch file: its first line (as ZooKeeper's
 * readLine + parseLong), digits with an optional '+'. */
static bool parse_epoch(const char *s, size_t len, uint64_t *out)
{
	const char *nl = memchr(s, '\n', len);
	if (nl)
		len = (size_t)(nl - s);
	if (len && s[len - 1] == '\r')
		len--;
	size_t i = 0;
	if (i < len && s[i] == '+')
		i++;
	if (i == len)
		return false;
	uint64_t v = 0;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (INT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* Reads path; -ENOENT if missing, -EBADMSG if garbled (message emitted). */
static int read_file(const char *path, uint64_t *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	char buf[64];
	size_t len = 0;
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = -errno;
			close(fd);
			storage_msg(STORAGE_ERROR, "cannot read epoch file %s: %s", path,
				    strerror(-e));
			return e;
		}
		if (r == 0 || (len += (size_t)r) == sizeof(buf) - 1)
			break;
	}
	close(fd);
	buf[len] = '\0';
	if (!parse_epoch(buf, len, out)) {
		/* printable excerpt of what is there */
		for (size_t i = 0; i < len; i++)
			if (buf[i] < 0x20 || buf[i] > 0x7e)
				buf[i] = '?';
		storage_msg(STORAGE_ERROR,
			    "epoch file %s is damaged: it holds '%s', not a decimal number "
			    "(restore it, e.g. from another member's value, before starting)",
			    path, buf);
		return -EBADMSG;
	}
	return 0;
}

int epoch_write(const char *dir, const char *name, uint64_t value)
{
	char path[4096], tmp[4096];
	int rc = path_of(path, sizeof(path), dir, name, "");
	if (!rc)
		rc = path_of(tmp, sizeof(tmp), dir, name, ".tmp");
	if (!rc)
		rc = storage_make_dirs(dir);
	if (rc)
		return rc;
	char text[32];
	int len = snprintf(text, sizeof(text), "%" PRIu64, value);
	rc = storage_fault_hit(STORAGE_FAULT_OPEN);
	if (rc)
		return rc;
	int fd = open(tmp, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	rc = storage_fault_hit(STORAGE_FAULT_WRITE);
	if (!rc) {
		ssize_t w;
		do
			w = write(fd, text, (size_t)len);
		while (w < 0 && errno == EINTR);
		if (w < 0)
			rc = -errno;
		else if (w != len)
			rc = -EIO;
	}
	if (!rc)
		rc = storage_fault_hit(STORAGE_FAULT_SYNC);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (!rc)
		rc = storage_fsync_dir(dir);
	if (rc)
		storage_msg(STORAGE_ERROR, "cannot write epoch file %s: %s", path, strerror(-rc));
	return rc;
}

int epoch_read(const char *dir, const char *name, uint64_t dflt, uint64_t *out)
{
	char path[4096];
	int rc = path_of(path, sizeof(path), dir, name, "");
	if (rc)
		return rc;
	rc = read_file(path, out);
	if (rc != -ENOENT)
		return rc;
	storage_msg(STORAGE_INFO, "%s not found: creating it with %" PRIu64 " (last zxid's epoch)",
		    path, dflt);
	rc = epoch_write(dir, name, dflt);
	if (rc)
		return rc;
	*out = dflt;
	return 0;
}

int epoch_load(const char *dir, uint64_t last_zxid, struct epoch_state *st)
{
	uint64_t zxid_epoch = last_zxid >> 32;
	uint64_t current, accepted;
	int rc = epoch_read(dir, EPOCH_CURRENT, zxid_epoch, &current);
	if (rc)
		return rc;
	if (zxid_epoch > current) {
		/* ZooKeeper: a crash after currentEpoch.tmp was written but
		 * before the rename; the tmp holds the epoch being accepted */
		char tmp[4096];
		rc = path_of(tmp, sizeof(tmp), dir, EPOCH_CURRENT, ".tmp");
		if (rc)
			return rc;
		uint64_t t;
		rc = read_file(tmp, &t);
		if (rc == -ENOENT) {
			storage_msg(STORAGE_ERROR,
				    "The current epoch, %" PRIx64 ", is older than the last zxid, %" PRIu64
				    " (0x%" PRIx64 "): %s/%s is behind the data; refusing to start",
				    current, last_zxid, last_zxid, dir, EPOCH_CURRENT);
			return -EINVAL;
		}
		if (rc)
			return rc;
		storage_msg(STORAGE_INFO, "%s found. Setting current epoch to %" PRIu64 ".", tmp, t);
		rc = epoch_write(dir, EPOCH_CURRENT, t);
		if (rc)
			return rc;
		current = t;
	}
	rc = epoch_read(dir, EPOCH_ACCEPTED, zxid_epoch, &accepted);
	if (rc)
		return rc;
	if (accepted < current) {
		storage_msg(STORAGE_ERROR,
			    "The accepted epoch, %" PRIx64 " is less than the current epoch, %" PRIx64
			    " (%s): refusing to start",
			    accepted, current, dir);
		return -EINVAL;
	}
	st->accepted = accepted;
	st->current = current;
	return 0;
}
