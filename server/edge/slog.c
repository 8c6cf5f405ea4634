/*
 * slog.c — the log line formatter of zkfs-server (see slog.h).  Timestamps
 * come from the wall clock because operators correlate them with other
 * logs; everything else in the server uses the monotonic loop clock.
 */
#include "slog.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

enum slog_level slog_threshold = SLOG_INFO;

static const char *const level_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

int slog_parse_level(const char *s, enum slog_level *out)
{
	static const char *const words[] = {"debug", "info", "warn", "error"};
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, words[i]) == 0) {
			*out = (enum slog_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void slog_init(void)
{
	const char *s = getenv("ZKFS_LOG_LEVEL");
	enum slog_level l;
	if (s && slog_parse_level(s, &l) == 0)
		slog_threshold = l;
	else if (getenv("ZKFS_DEBUG"))
		slog_threshold = SLOG_DEBUG;
}

void slog_write(enum slog_level lvl, const char *sub, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, level_names[lvl & 3], sub);
	if (n < 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w; /* nothing sensible to do when stderr is gone */
}
