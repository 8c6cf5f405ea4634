/*
 * procs.c — the processes behind a FUSE request, from /proc (see procs.h).
 */
#include "procs.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Calls fn(pid, arg) for every process in /proc but the daemon itself. */
static void each_pid(void (*fn)(pid_t pid, void *arg), void *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || (pid_t)pid == getpid())
			continue;
		fn((pid_t)pid, arg);
	}
	closedir(d);
}

struct session_walk {
	pid_t sid;
	int sig;
	int n;
};

static void signal_if_in_session(pid_t pid, void *arg)
{
	struct session_walk *w = arg;
	if (getsid(pid) == w->sid && kill(pid, w->sig) == 0)
		w->n++;
}

int procs_signal_session(pid_t sid, int sig)
{
	struct session_walk w = {sid, sig, 0};
	each_pid(signal_if_in_session, &w);
	return w.n;
}

/* The fields of /proc/PID/stat after the command name (which may hold
 * spaces and parentheses: the last ')' ends it), into buf; NULL if the
 * process is gone. */
static const char *stat_fields(pid_t pid, char *buf, size_t size)
{
	char path[64];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *rp = strrchr(buf, ')');
	return rp ? rp + 1 : NULL;
}

/* The parent of pid, or -1. */
static pid_t parent_of(pid_t pid)
{
	char buf[512];
	const char *p = stat_fields(pid, buf, sizeof(buf));
	int ppid;
	char state;

	if (!p || sscanf(p, " %c %d", &state, &ppid) != 2)
		return -1;
	return (pid_t)ppid;
}

uint64_t procs_start_time(pid_t pid)
{
	char buf[1024];
	const char *p = stat_fields(pid, buf, sizeof(buf));
	unsigned long long start;
	char state;

	/* state is field 3, starttime field 22: 18 fields skipped between */
	if (!p || sscanf(p, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			 &state, &start) != 2)
		return 0;
	if (state == 'Z' || state == 'X')
		return 0;
	return (uint64_t)start;
}

struct tree_walk {
	pid_t *pid, *ppid;
	size_t n, cap;
};

static void note_parent(pid_t pid, void *arg)
{
	struct tree_walk *w = arg;
	pid_t pp = parent_of(pid);

	if (pp <= 0)
		return;
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 256;
		pid_t *a = realloc(w->pid, cap * sizeof(*a));
		if (!a)
			return;
		w->pid = a;
		pid_t *b = realloc(w->ppid, cap * sizeof(*b));
		if (!b)
			return;
		w->ppid = b;
		w->cap = cap;
	}
	w->pid[w->n] = pid;
	w->ppid[w->n++] = pp;
}

int procs_signal_descendants(pid_t root, int sig)
{
	struct tree_walk w = {0};
	pid_t *found;
	size_t nfound = 0, next = 0;
	int sent = 0;

	each_pid(note_parent, &w);
	found = malloc((w.n ? w.n : 1) * sizeof(*found));
	if (!found)
		goto out;
	/* breadth first: found[next..] are the parents still to expand */
	for (size_t i = 0; i < w.n; i++)
		if (w.ppid[i] == root)
			found[nfound++] = w.pid[i];
	for (; next < nfound; next++)
		for (size_t i = 0; i < w.n; i++)
			if (w.ppid[i] == found[next] && nfound < w.n)
				found[nfound++] = w.pid[i];
	for (size_t i = 0; i < nfound; i++)
		if (kill(found[i], sig) == 0)
			sent++;
out:
	free(found);
	free(w.pid);
	free(w.ppid);
	return sent;
}

bool procs_comm_is(pid_t pid, const char *name)
{
	char path[64], comm[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	return !strcmp(comm, name);
}
