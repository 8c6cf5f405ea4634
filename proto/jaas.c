/*
 * jaas.c — JAAS login configuration files (see jaas.h): a tokenizer that
 * knows words, quoted strings, '{', '}', ';' and '=', and a parser for
 * "Name { Module flag key=value ... ; ... };" on top of it.
 */
#include "jaas.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tok { T_END, T_WORD, T_LBRACE, T_RBRACE, T_SEMI, T_EQ, T_ERR };

struct lexer {
	const char *p;
	const char *name;
	int line;
	char *word; /* the last T_WORD (owned; taken by the parser or freed) */
	char *err;
	size_t errlen;
};

static int fail(struct lexer *lx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct lexer *lx, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lx->err && lx->errlen)
		snprintf(lx->err, lx->errlen, "%s:%d: %s", lx->name, lx->line, msg);
	return -EINVAL;
}

static void skip_blank(struct lexer *lx)
{
	for (;;) {
		while (*lx->p && isspace((unsigned char)*lx->p)) {
			if (*lx->p == '\n')
				lx->line++;
			lx->p++;
		}
		if ((lx->p[0] == '/' && lx->p[1] == '/') || lx->p[0] == '#') {
			while (*lx->p && *lx->p != '\n')
				lx->p++;
		} else if (lx->p[0] == '/' && lx->p[1] == '*') {
			lx->p += 2;
			while (*lx->p && !(lx->p[0] == '*' && lx->p[1] == '/')) {
				if (*lx->p == '\n')
					lx->line++;
				lx->p++;
			}
			if (*lx->p)
				lx->p += 2;
		} else {
			return;
		}
	}
}

static enum tok next(struct lexer *lx)
{
	free(lx->word);
	lx->word = NULL;
	skip_blank(lx);
	char ch = *lx->p;
	switch (ch) {
	case 0: return T_END;
	case '{': lx->p++; return T_LBRACE;
	case '}': lx->p++; return T_RBRACE;
	case ';': lx->p++; return T_SEMI;
	case '=': lx->p++; return T_EQ;
	default: break;
	}
	/* find the token's end first: its text is never longer than that */
	bool quoted = ch == '"' || ch == '\'';
	const char *b = lx->p + quoted, *e = b;
	if (quoted) {
		while (*e && *e != ch)
			e += e[0] == '\\' && e[1] ? 2 : 1;
		if (!*e) {
			fail(lx, "unterminated quoted value");
			return T_ERR;
		}
	} else {
		while (*e && !isspace((unsigned char)*e) && !strchr("{};=\"'", *e))
			e++;
	}
	char *w = malloc((size_t)(e - b) + 1);
	if (!w)
		return T_ERR;
	size_t n = 0;
	for (const char *q = b; q < e; q++) {
		if (quoted && *q == '\\' && q + 1 < e)
			q++;
		if (*q == '\n')
			lx->line++;
		w[n++] = *q;
	}
	lx->p = e + quoted;
	w[n] = 0;
	lx->word = w;
	return T_WORD;
}

static char *take_word(struct lexer *lx)
{
	char *w = lx->word;
	lx->word = NULL;
	return w;
}

/* Appends a zeroed element to the vector *v of *n elements of size bytes;
 * returns it, or NULL (out of memory, *v unchanged). */
static void *push(void *v, size_t *n, size_t size)
{
	char *nv = realloc(*(void **)v, (*n + 1) * size);
	if (!nv)
		return NULL;
	*(void **)v = nv;
	memset(nv + *n * size, 0, size);
	return nv + (*n)++ * size;
}

static void entry_free(struct jaas_entry *e)
{
	free(e->module);
	free(e->flag);
	for (size_t i = 0; i < e->nopts; i++) {
		free(e->opts[i].key);
		if (e->opts[i].value) /* may hold a password: wipe it */
			memset(e->opts[i].value, 0, strlen(e->opts[i].value));
		free(e->opts[i].value);
	}
	free(e->opts);
}

/* Module flag key=value ... ;   (the module word already read) */
static int parse_entry(struct lexer *lx, struct jaas_entry *e)
{
	e->module = take_word(lx);
	if (next(lx) != T_WORD)
		return fail(lx, "expected a control flag (required, ...) after the module name");
	e->flag = take_word(lx);
	for (;;) {
		enum tok t = next(lx);
		if (t == T_SEMI)
			return 0;
		if (t != T_WORD)
			return fail(lx, "expected key=value or ';' in a login module entry");
		char *key = take_word(lx);
		if (next(lx) != T_EQ || next(lx) != T_WORD) {
			int rc = fail(lx, "expected '=' and a value after option '%.60s'", key);
			free(key);
			return rc;
		}
		struct jaas_option *o = push(&e->opts, &e->nopts, sizeof(*o));
		if (!o) {
			free(key);
			return -ENOMEM;
		}
		o->key = key;
		o->value = take_word(lx);
	}
}

int jaas_parse(const char *text, const char *name, struct jaas *out, char *err, size_t errlen)
{
	struct lexer lx = {.p = text, .name = name, .line = 1, .err = err, .errlen = errlen};
	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = 0;
	int rc = 0;
	for (;;) {
		enum tok t = next(&lx);
		if (t == T_END)
			break;
		if (t != T_WORD) {
			rc = t == T_ERR && err && err[0] ? -EINVAL : fail(&lx, "expected a section name");
			goto fail;
		}
		struct jaas_section *s = push(&out->sections, &out->nsections, sizeof(*s));
		if (!s) {
			rc = -ENOMEM;
			goto fail;
		}
		s->name = take_word(&lx);
		if (next(&lx) != T_LBRACE) {
			rc = fail(&lx, "expected '{' after section '%s'", s->name);
			goto fail;
		}
		for (;;) {
			t = next(&lx);
			if (t == T_RBRACE)
				break;
			if (t != T_WORD) {
				rc = fail(&lx, "expected a login module name or '}' in section '%s'",
					  s->name);
				goto fail;
			}
			struct jaas_entry *e = push(&s->entries, &s->nentries, sizeof(*e));
			if (!e) {
				rc = -ENOMEM;
				goto fail;
			}
			rc = parse_entry(&lx, e);
			if (rc < 0)
				goto fail;
		}
		if (next(&lx) != T_SEMI) {
			rc = fail(&lx, "expected ';' after the '}' of section '%s'", s->name);
			goto fail;
		}
	}
	free(lx.word);
	return 0;
fail:
	free(lx.word);
	jaas_free(out);
	return rc;
}

int jaas_load(const char *path, struct jaas *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		if (err && errlen)
			snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
		return -e;
	}
	size_t cap = 4096, n = 0;
	char *text = malloc(cap);
	size_t got;
	while (text && (got = fread(text + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (n + 1 == cap) {
			char *nt = cap < (1u << 20) ? realloc(text, cap *= 2) : NULL;
			if (!nt) {
				free(text);
				text = NULL;
			}
			text = nt;
		}
	}
	fclose(f);
	if (!text) {
		if (err && errlen)
			snprintf(err, errlen, "%s: too large or out of memory", path);
		return -ENOMEM;
	}
	text[n] = 0;
	int rc = jaas_parse(text, path, out, err, errlen);
	memset(text, 0, n);
	free(text);
	return rc;
}

void jaas_free(struct jaas *j)
{
	for (size_t i = 0; i < j->nsections; i++) {
		struct jaas_section *s = &j->sections[i];
		for (size_t k = 0; k < s->nentries; k++)
			entry_free(&s->entries[k]);
		free(s->entries);
		free(s->name);
	}
	free(j->sections);
	memset(j, 0, sizeof(*j));
}

const struct jaas_section *jaas_section(const struct jaas *j, const char *name)
{
	for (size_t i = 0; i < j->nsections; i++)
		if (!strcmp(j->sections[i].name, name))
			return &j->sections[i];
	return NULL;
}

const char *jaas_option(const struct jaas_entry *e, const char *key)
{
	for (size_t i = 0; i < e->nopts; i++)
		if (!strcmp(e->opts[i].key, key))
			return e->opts[i].value;
	return NULL;
}

int jaas_module_is(const struct jaas_entry *e, const char *suffix)
{
	size_t l = strlen(e->module), sl = strlen(suffix);
	return l >= sl && !strcmp(e->module + l - sl, suffix);
}
