/*
 * test_epoch.c — acceptedEpoch / currentEpoch files (server/storage/epoch.c):
 * the exact bytes ZooKeeper writes, round trips, a missing file created
 * from the default, garbled files refused with the file's name, a .tmp
 * left by a crash, the start-up rules of QuorumPeer.loadDataBase, and
 * write faults.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "epoch.h"
#include "log.h"

#include "storage_fixture.h"

static int setup(void **state)
{
	return fx_setup(state, "/tmp/zkfs-test-epoch-XXXXXX");
}

static void put(const char *dir, const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* the file's bytes, "" if missing (static buffer) */
static const char *get(const char *dir, const char *name)
{
	static char buf[128];
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	buf[0] = '\0';
	FILE *f = fopen(p, "r");
	if (!f)
		return "(missing)";
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_dir_name(void **state)
{
	char b[64];
	assert_int_equal(epoch_dir("/var/lib/zk", b, sizeof(b)), 0);
	assert_string_equal(b, "/var/lib/zk/version-2");
	assert_int_equal(epoch_dir("/var/lib/zk", b, 10), -ENAMETOOLONG);
}

static void test_write_read_round_trip(void **state)
{
	struct fx *fx = *state;
	char dir[256];
	assert_int_equal(epoch_dir(fx->dir, dir, sizeof(dir)), 0);
	/* the directory is created; the content is ZooKeeper's: decimal, no newline */
	assert_int_equal(epoch_write(dir, EPOCH_ACCEPTED, 12), 0);
	assert_string_equal(get(dir, "acceptedEpoch"), "12");
	assert_string_equal(get(dir, "acceptedEpoch.tmp"), "(missing)");
	uint64_t v = 0;
	assert_int_equal(epoch_read(dir, EPOCH_ACCEPTED, 99, &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(epoch_write(dir, EPOCH_ACCEPTED, 4294967295u), 0);
	assert_string_equal(get(dir, "acceptedEpoch"), "4294967295");
	assert_int_equal(epoch_read(dir, EPOCH_ACCEPTED, 99, &v), 0);
	assert_int_equal(v, 4294967295u);
	assert_int_equal(epoch_write(dir, EPOCH_CURRENT, 0), 0);
	assert_int_equal(epoch_read(dir, EPOCH_CURRENT, 99, &v), 0);
	assert_int_equal(v, 0);
	/* a hand-written file with a newline is read */
	put(dir, "currentEpoch", "7\n");
	assert_int_equal(epoch_read(dir, EPOCH_CURRENT, 99, &v), 0);
	assert_int_equal(v, 7);
	/* only the first line counts (ZooKeeper's readLine) */
	put(dir, "currentEpoch", "8\r\nrest\n");
	assert_int_equal(epoch_read(dir, EPOCH_CURRENT, 99, &v), 0);
	assert_int_equal(v, 8);
}

static void test_missing_is_created_with_default(void **state)
{
	struct fx *fx = *state;
	uint64_t v = 0;
	assert_string_equal(get(fx->dir, "currentEpoch"), "(missing)");
	assert_int_equal(epoch_read(fx->dir, EPOCH_CURRENT, 5, &v), 0);
	assert_int_equal(v, 5);
	assert_string_equal(get(fx->dir, "currentEpoch"), "5");
	assert_non_null(strstr(msgs, "currentEpoch not found: creating it with 5"));
	/* and from then on the file counts, not the default */
	assert_int_equal(epoch_read(fx->dir, EPOCH_CURRENT, 9, &v), 0);
	assert_int_equal(v, 5);
}

static void test_garbled_is_error(void **state)
{
	struct fx *fx = *state;
	const char *bad[] = {"", "x", "1 2", " 3", "-1", "12a", "99999999999999999999", "\n1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msgs[0] = '\0';
		put(fx->dir, "acceptedEpoch", bad[i]);
		uint64_t v = 77;
		assert_int_equal(epoch_read(fx->dir, EPOCH_ACCEPTED, 1, &v), -EBADMSG);
		assert_int_equal(v, 77);
		char want[512];
		snprintf(want, sizeof(want), "epoch file %s/acceptedEpoch is damaged", fx->dir);
		if (!strstr(msgs, want)) {
			print_error("'%s': %s", bad[i], msgs);
			fail();
		}
		/* not replaced by the default */
		assert_string_equal(get(fx->dir, "acceptedEpoch"), bad[i]);
	}
}

static void test_tmp_left_by_crash_is_ignored(void **state)
{
	struct fx *fx = *state;
	uint64_t v;
	assert_int_equal(epoch_write(fx->dir, EPOCH_ACCEPTED, 3), 0);
	/* a crash before the rename: the .tmp holds the new value, half written */
	put(fx->dir, "acceptedEpoch.tmp", "4");
	assert_int_equal(epoch_read(fx->dir, EPOCH_ACCEPTED, 0, &v), 0);
	assert_int_equal(v, 3);
	put(fx->dir, "acceptedEpoch.tmp", "");
	assert_int_equal(epoch_read(fx->dir, EPOCH_ACCEPTED, 0, &v), 0);
	assert_int_equal(v, 3);
	/* the next write replaces it */
	assert_int_equal(epoch_write(fx->dir, EPOCH_ACCEPTED, 5), 0);
	assert_string_equal(get(fx->dir, "acceptedEpoch.tmp"), "(missing)");
	assert_int_equal(epoch_read(fx->dir, EPOCH_ACCEPTED, 0, &v), 0);
	assert_int_equal(v, 5);
}

static void test_write_faults_keep_old_value(void **state)
{
	struct fx *fx = *state;
	uint64_t v;
	assert_int_equal(epoch_write(fx->dir, EPOCH_CURRENT, 2), 0);
	storage_fault_set(STORAGE_FAULT_WRITE, 1, -ENOSPC);
	assert_int_equal(epoch_write(fx->dir, EPOCH_CURRENT, 3), -ENOSPC);
	storage_fault_set(STORAGE_FAULT_SYNC, 1, -EIO);
	assert_int_equal(epoch_write(fx->dir, EPOCH_CURRENT, 3), -EIO);
	storage_fault_set(STORAGE_FAULT_OPEN, 1, -EMFILE);
	assert_int_equal(epoch_write(fx->dir, EPOCH_CURRENT, 3), -EMFILE);
	assert_non_null(strstr(msgs, "cannot write epoch file"));
	assert_int_equal(epoch_read(fx->dir, EPOCH_CURRENT, 0, &v), 0);
	assert_int_equal(v, 2);
}

#define Z(epoch, counter) (((uint64_t)(epoch) << 32) | (counter))

static void test_load_rules(void **state)
{
	struct fx *fx = *state;
	struct epoch_state st;
	/* fresh: both created from the last zxid's epoch */
	assert_int_equal(epoch_load(fx->dir, Z(3, 9), &st), 0);
	assert_int_equal(st.current, 3);
	assert_int_equal(st.accepted, 3);
	assert_string_equal(get(fx->dir, "currentEpoch"), "3");
	assert_string_equal(get(fx->dir, "acceptedEpoch"), "3");
	/* accepted ahead of current (between ACKEPOCH and NEWLEADER): fine */
	assert_int_equal(epoch_write(fx->dir, EPOCH_ACCEPTED, 5), 0);
	assert_int_equal(epoch_load(fx->dir, Z(3, 9), &st), 0);
	assert_int_equal(st.accepted, 5);
	assert_int_equal(st.current, 3);
	/* accepted < current */
	assert_int_equal(epoch_write(fx->dir, EPOCH_ACCEPTED, 2), 0);
	msgs[0] = '\0';
	assert_int_equal(epoch_load(fx->dir, Z(3, 9), &st), -EINVAL);
	assert_non_null(strstr(msgs, "The accepted epoch, 2 is less than the current epoch, 3"));
	assert_int_equal(epoch_write(fx->dir, EPOCH_ACCEPTED, 0x1a), 0);
	/* the last zxid's epoch > current, no currentEpoch.tmp */
	msgs[0] = '\0';
	assert_int_equal(epoch_load(fx->dir, Z(0x10, 1), &st), -EINVAL);
	assert_non_null(strstr(msgs, "The current epoch, 3, is older than the last zxid, 68719476737"));
	/* ... with one (a crash before its rename): it becomes currentEpoch */
	put(fx->dir, "currentEpoch.tmp", "17");
	assert_int_equal(epoch_load(fx->dir, Z(0x10, 1), &st), 0);
	assert_int_equal(st.current, 17);
	assert_int_equal(st.accepted, 0x1a);
	assert_string_equal(get(fx->dir, "currentEpoch"), "17");
	/* a garbled currentEpoch.tmp in that case: an error naming it */
	assert_int_equal(epoch_write(fx->dir, EPOCH_CURRENT, 3), 0);
	put(fx->dir, "currentEpoch.tmp", "1?");
	msgs[0] = '\0';
	assert_int_equal(epoch_load(fx->dir, Z(0x10, 1), &st), -EBADMSG);
	assert_non_null(strstr(msgs, "currentEpoch.tmp is damaged"));
	/* a garbled currentEpoch: an error, whatever the zxid */
	put(fx->dir, "currentEpoch", "three");
	assert_int_equal(epoch_load(fx->dir, Z(1, 1), &st), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dir_name),
	    cmocka_unit_test_setup_teardown(test_write_read_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_missing_is_created_with_default, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_garbled_is_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tmp_left_by_crash_is_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_faults_keep_old_value, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_rules, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
