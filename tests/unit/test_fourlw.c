/*
 * test_fourlw.c — unit tests of zkfs-server's four-letter-word layer that
 * need no network and no server state: command detection, whitelist
 * parsing, the refusal line, and the state-free answers (ruok, isro).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fourlw.h"

static char *answer(fourlw_set set, const char *cmd)
{
	static char buf[256];
	struct jute_out o;
	jute_out_init(&o);
	fourlw_answer(NULL, set, cmd, &o);
	size_t n = o.len < sizeof(buf) - 1 ? o.len : sizeof(buf) - 1;
	memcpy(buf, o.buf, n);
	buf[n] = 0;
	jute_out_free(&o);
	return buf;
}

static void test_is_command(void **state)
{
	(void)state;
	const char *yes[] = {"ruok", "srvr", "stat", "mntr", "conf", "cons", "wchs",
			     "wchc", "wchp", "dump", "envi", "isro", "crst", "srst"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(fourlw_is_command((const uint8_t *)yes[i]));
	assert_false(fourlw_is_command((const uint8_t *)"RUOK"));
	assert_false(fourlw_is_command((const uint8_t *)"kill"));
	/* a ConnectRequest starts with its length 0x0000002d */
	const uint8_t frame[4] = {0, 0, 0, 0x2d};
	assert_false(fourlw_is_command(frame));
}

static void test_whitelist(void **state)
{
	(void)state;
	fourlw_set s = fourlw_parse_whitelist("srvr");
	assert_true(fourlw_allowed(s, "srvr"));
	assert_false(fourlw_allowed(s, "ruok"));
	s = fourlw_parse_whitelist(" ruok , stat,mntr ");
	assert_true(fourlw_allowed(s, "ruok"));
	assert_true(fourlw_allowed(s, "stat"));
	assert_true(fourlw_allowed(s, "mntr"));
	assert_false(fourlw_allowed(s, "dump"));
	s = fourlw_parse_whitelist("*");
	assert_true(fourlw_allowed(s, "dump"));
	assert_true(fourlw_allowed(s, "srst"));
	assert_false(fourlw_allowed(s, "xxxx"));
	assert_int_equal(fourlw_parse_whitelist(""), 0);
	assert_int_equal(fourlw_parse_whitelist(NULL), 0);
	/* unknown words are ignored, known ones kept */
	s = fourlw_parse_whitelist("bogus,ruok");
	assert_true(fourlw_allowed(s, "ruok"));
}

static void test_answers(void **state)
{
	(void)state;
	fourlw_set all = fourlw_parse_whitelist("*");
	assert_string_equal(answer(all, "ruok"), "imok");
	assert_string_equal(answer(all, "isro"), "rw");
	fourlw_set none = fourlw_parse_whitelist("srvr");
	assert_string_equal(answer(none, "ruok"),
			    "ruok is not executed because it is not in the whitelist.\n");
	assert_string_equal(answer(none, "dump"),
			    "dump is not executed because it is not in the whitelist.\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_command),
		cmocka_unit_test(test_whitelist),
		cmocka_unit_test(test_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
