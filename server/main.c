/*
 * main.c — entry point of zkfs-server: parse the command line / zoo.cfg
 * (config.c), set up logging, build the server (server.c) and run its
 * libuv loop until SIGTERM or SIGINT ends it cleanly.  The admin HTTP API
 * and the Prometheus endpoint (admin.c), when configured, run beside the
 * loop on their own thread from just before the loop starts until just
 * after it ends.
 *
 *   zkfs-server zoo.cfg
 *   zkfs-server --port N --data DIR [--address A]
 *   zkfs-server -Dzookeeper.KEY=VALUE ... zoo.cfg   (and SERVER_JVMFLAGS)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "admin.h"
#include "config.h"
#include "server.h"
#include "slog.h"

int main(int argc, char **argv)
{
	struct config cfg;
	slog_init();
	config_init(&cfg);
	int rc = config_from_args(&cfg, argc, argv, stdout);
	if (rc == 1) {
		config_free(&cfg);
		return 0;
	}
	if (rc < 0) {
		fprintf(stderr, "zkfs-server: %s\n", cfg.error);
		fprintf(stderr, "Try 'zkfs-server --help'.\n");
		config_free(&cfg);
		return 2;
	}
	config_print_warnings(&cfg, stderr);

	uv_loop_t *loop = uv_default_loop();
	struct server srv;
	server_set_argv(argv);
	rc = server_init(&srv, loop, &cfg);
	if (rc < 0) {
		config_free(&cfg);
		return 1;
	}
	struct admin *admin = NULL;
	if (admin_start(&srv, &admin) < 0)
		fprintf(stderr, "zkfs-server: warning: out of memory: no admin server\n");
	int status = server_run(&srv);
	admin_stop(admin);
	server_free(&srv);
	uv_loop_close(loop);
	config_free(&cfg);
	return status;
}
