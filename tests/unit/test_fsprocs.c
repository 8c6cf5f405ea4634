/*
 * test_fsprocs.c — unit tests of the mount's /proc helpers (fs/procs.c):
 * start times that tell a live process from an exited one, the command
 * name, and signals to a process's descendants (what a lost flock(1)
 * lock and a polled session leader rely on).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include <sys/wait.h>

#include "../../fs/procs.c"

static void test_start_time(void **state)
{
	uint64_t me = procs_start_time(getpid());
	assert_true(me > 0);
	assert_int_equal(procs_start_time(getpid()), me);

	pid_t c = fork();
	if (c == 0)
		_exit(0);
	assert_true(c > 0);
	/* exited, not yet reaped: a zombie counts as gone */
	for (int i = 0; i < 200 && procs_start_time(c); i++)
		usleep(10000);
	assert_int_equal(procs_start_time(c), 0);
	waitpid(c, NULL, 0);
	assert_int_equal(procs_start_time(c), 0);
}

static void test_comm(void **state)
{
	/* our own name as the kernel has it (not "test_fsprocs" under
	 * valgrind, whose tool runs in our place) */
	char me[64] = "";
	FILE *f = fopen("/proc/self/comm", "r");
	assert_non_null(f);
	assert_non_null(fgets(me, sizeof(me), f));
	fclose(f);
	me[strcspn(me, "\n")] = '\0';
	assert_true(procs_comm_is(getpid(), me));
	assert_false(procs_comm_is(getpid(), "flock"));
	assert_false(procs_comm_is(0x7ffffff0, me));
}

/* A child that forks a grandchild; both sleep until signalled. */
static void test_descendants(void **state)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t c = fork();
	if (c == 0) {
		pid_t g = fork();
		if (g == 0) {
			close(p[0]);
			(void)!write(p[1], "g", 1);
			pause();
			_exit(1);
		}
		close(p[0]);
		(void)!write(p[1], "c", 1);
		int st;
		waitpid(g, &st, 0);
		/* the grandchild died of SIGUSR1: say so in our status */
		_exit(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1 ? 7 : 1);
	}
	char b[2];
	close(p[1]);
	assert_int_equal(read(p[0], b, 1), 1);
	assert_int_equal(read(p[0], b + 1, 1), 1);
	close(p[0]);
	/* the child is not signalled (a SIGUSR1 would kill it too), its
	 * grandchild is */
	assert_int_equal(procs_signal_descendants(c, SIGUSR1), 1);
	int st;
	waitpid(c, &st, 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_start_time),
	    cmocka_unit_test(test_comm),
	    cmocka_unit_test(test_descendants),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
