/*
 * fourlw.h — ZooKeeper's four-letter words (ruok, srvr, stat, mntr, conf,
 * cons, wchs, wchc, wchp, dump, envi, isro, crst, srst, dirs) for
 * zkfs-server.
 *
 * A four-letter word is the first four bytes of a connection, sent
 * instead of a ConnectRequest.  The answer is plain text and the
 * connection closes after it (net.c).  Only words named in
 * 4lw.commands.whitelist run; others get the standard refusal line.
 */
#ifndef ZKFS_SERVER_FOURLW_H
#define ZKFS_SERVER_FOURLW_H

#include <stdbool.h>
#include <stdint.h>

#include "jute.h"

struct server;
struct conn;

/* Bit set of allowed words, one bit per entry of the command table. */
typedef uint32_t fourlw_set;

/* True when p[0..4) is one of the known words (whitelisted or not). */
bool fourlw_is_command(const uint8_t *p);

/* Parses a whitelist value ("srvr, stat", "*", "" = none).  Unknown words
 * are ignored (a warning is logged).  Never fails. */
fourlw_set fourlw_parse_whitelist(const char *s);

/* True when cmd (4 bytes) is in the set. */
bool fourlw_allowed(fourlw_set set, const char *cmd);

/* Writes the answer to cmd (4 bytes) into o: the command's output when
 * whitelisted, otherwise "<cmd> is not executed because it is not in the
 * whitelist.\n".  srv may be NULL only for words that need no server
 * state (ruok, isro, and the refusal); tests use that. */
void fourlw_answer(struct server *srv, fourlw_set set, const char *cmd, struct jute_out *o);

/* ZooKeeper's short name of an opcode as cons shows it ("GETD", "SETD",
 * "NA" for none); the admin API's connections command uses it too. */
const char *fourlw_op_short(int32_t op);

/* Answers cmd on connection c (output queued; the caller closes). */
void fourlw_run(struct server *srv, struct conn *c, const char *cmd);

#endif
