/*
 * jaas.h — a reader for the JAAS login configuration files ZooKeeper's
 * SASL set-up is written in (java.security.auth.login.config):
 *
 *   Server {
 *       org.apache.zookeeper.server.auth.DigestLoginModule required
 *       user_bob="bobsecret";
 *   };
 *   Client {
 *       com.sun.security.auth.module.Krb5LoginModule required
 *       useKeyTab=true keyTab="/etc/zk.keytab" principal="zkcli@EXAMPLE.COM";
 *   };
 *
 * The server (its "Server" section) and the clients (a "Client" section)
 * both read it, so it lives next to the shared codec.  Values may be
 * quoted ("..." with \" and \\ escapes) or bare words; // and slash-star
 * comments are skipped as Java's reader does, and so are # lines.
 * Nothing here logs: the file holds passwords.
 */
#ifndef ZKFS_PROTO_JAAS_H
#define ZKFS_PROTO_JAAS_H

#include <stddef.h>

struct jaas_option {
	char *key;
	char *value;
};

/* One login module line: "Module flag key=value ... ;" */
struct jaas_entry {
	char *module; /* the class name, e.g. ...DigestLoginModule */
	char *flag;   /* required, requisite, sufficient, optional */
	struct jaas_option *opts;
	size_t nopts;
};

struct jaas_section {
	char *name;
	struct jaas_entry *entries;
	size_t nentries;
};

struct jaas {
	struct jaas_section *sections;
	size_t nsections;
};

/* Parses the file at path into *out (zeroed first; jaas_free releases it).
 * Returns 0, or a negative errno with a message in err ("jaas.conf:3:
 * expected '{' after the section name"; never a value from the file). */
int jaas_load(const char *path, struct jaas *out, char *err, size_t errlen);
/* The same for text already in memory; name is used in messages. */
int jaas_parse(const char *text, const char *name, struct jaas *out, char *err, size_t errlen);
void jaas_free(struct jaas *j);

/* The section called name, or NULL. */
const struct jaas_section *jaas_section(const struct jaas *j, const char *name);
/* The value of key in entry e, or NULL. */
const char *jaas_option(const struct jaas_entry *e, const char *key);
/* True when e's module class name ends with suffix ("DigestLoginModule",
 * "Krb5LoginModule"): the package may differ between vendors. */
int jaas_module_is(const struct jaas_entry *e, const char *suffix);

#endif
