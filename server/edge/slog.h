/*
 * slog.h — operator-readable logging of zkfs-server.
 *
 * One line per event on stderr: an ISO-8601 UTC timestamp with
 * milliseconds, a level word, the subsystem, then the message.  Lines are
 * written with a single write(2) so they never interleave with a forked
 * snapshot child's lines.  Levels below the configured threshold cost one
 * comparison.
 */
#ifndef ZKFS_SERVER_SLOG_H
#define ZKFS_SERVER_SLOG_H

enum slog_level { SLOG_DEBUG, SLOG_INFO, SLOG_WARN, SLOG_ERROR };

/* Current threshold; messages below it are dropped.  INFO by default,
 * DEBUG when the environment has ZKFS_DEBUG set (see slog_init). */
extern enum slog_level slog_threshold;

/* Reads ZKFS_LOG_LEVEL (debug|info|warn|error) / ZKFS_DEBUG once. */
void slog_init(void);

/* Parses a level word; returns 0 and sets *out, or -EINVAL. */
int slog_parse_level(const char *s, enum slog_level *out);

/* Formats and writes one line: "2026-11-21T05:33:20.123Z INFO  net: ...". */
void slog_write(enum slog_level lvl, const char *sub, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define slog(lvl, sub, ...)                                   \
	do {                                                  \
		if ((lvl) >= slog_threshold)                  \
			slog_write((lvl), (sub), __VA_ARGS__); \
	} while (0)
#define slog_debug(sub, ...) slog(SLOG_DEBUG, sub, __VA_ARGS__)
#define slog_info(sub, ...) slog(SLOG_INFO, sub, __VA_ARGS__)
#define slog_warn(sub, ...) slog(SLOG_WARN, sub, __VA_ARGS__)
#define slog_error(sub, ...) slog(SLOG_ERROR, sub, __VA_ARGS__)

#endif
