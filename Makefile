# zkfs — one Makefile for the server, the client library and CLI, the FUSE
# daemon and every test.  `make help` lists the targets.
#
# Layout of sources (see shared design ARCHITECTURE.md):
#   proto/   shared codec            -> $(B)/libproto.a
#   server/  zkfs-server             -> $(B)/zkfs-server   (server/main.c is the entry point;
#                                       everything else also goes into $(B)/libserver.a for tests)
#     core/     pure state machine (tree, sessions, watches, ACLs, txns)
#     zab/      pure replication protocol and the ZooKeeper quorum codec
#     storage/  log, group commit, snapshots
#     edge/     libuv: connections, request pipeline, 4lw, config, logging
#   The pure layers see only their own headers and proto/: core/ compiles
#   with -Iserver/core, zab/ with -Iserver/core -Iserver/zab; everything
#   else sees every layer.
#   client/  libzkc + zkfs-cli       -> $(B)/libzkc.a, $(B)/zkfs-cli (client/cli*.c)
#   fs/      zkfs FUSE daemon        -> $(B)/zkfs
#   tests/unit/test_*.c              -> $(B)/tests/test_*  (cmocka)
#   bench/*.c                        -> $(B)/bench/*        (load generators)

CC      ?= gcc
B       ?= build
PREFIX  ?= /usr/local
SBINDIR ?= /sbin
SYSCONFDIR  ?= /etc
# systemd reads units and sysusers.d from /usr/local/lib too
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d

# `make deps` installs packages; it runs while the Makefile is read, before
# anything else, so `make -j2 deps test` on a fresh machine is safe.
ifneq ($(filter deps,$(MAKECMDGOALS)),)
DEPS_STATUS := $(shell scripts/deps >&2; echo $$?)
ifneq ($(DEPS_STATUS),0)
$(error make deps failed)
endif
endif

PKGS     := libuv fuse3 libssl libcrypto libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
WARN     := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers -Wstrict-prototypes -Werror
OPT      ?= -O2 -g
CFLAGS   += -std=gnu11 $(OPT) $(WARN) -MMD -MP -D_GNU_SOURCE -Iproto -Iclient $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS  += $(EXTRA_LDFLAGS)
# Cyrus SASL for SASL authentication; MIT GSSAPI so libzkc owns the
# Kerberos credentials it hands to Cyrus (client/zkc_sasl.c)
LIBS     := -luv -lssl -lcrypto -lsasl2 $(shell pkg-config --libs krb5-gssapi 2>/dev/null || echo -lgssapi_krb5) -lpthread -lm

ifeq ($(SAN),1)
  CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
endif

PROTO_SRC  := $(wildcard proto/*.c)
SERVER_DIRS := server/core server/zab server/storage server/edge
SERVER_SRC := $(foreach d,$(SERVER_DIRS),$(wildcard $(d)/*.c))
CLIENT_SRC := $(filter-out client/cli%.c,$(wildcard client/*.c))
CLI_SRC    := $(wildcard client/cli*.c)
FS_SRC     := $(wildcard fs/*.c)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_HELP  := $(filter-out tests/unit/test_%.c,$(wildcard tests/unit/*.c))
BENCH_SRC  := $(wildcard bench/*.c)
PERF_SRC   := $(wildcard tests/perf/*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

PROGS := $(B)/zkfs-server
ifneq ($(CLI_SRC),)
PROGS += $(B)/zkfs-cli
endif
ifneq ($(FS_SRC),)
PROGS += $(B)/zkfs
endif
UNIT_BINS  := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
BENCH_BINS := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRC)) $(patsubst tests/perf/%.c,$(B)/perf/%,$(PERF_SRC))

.PHONY: all help test unit asan valgrind bench deps install uninstall clean run stop fmt sim ensemble ensemble-stop
# Keep object files that make would see as intermediates (unit tests link
# their own .o): no rebuilds next time, and no "rm ..." line printed after
# the test summary, which must stay the last line of `make test`.
.SECONDARY:
all: $(PROGS)

help:
	@echo "make            build zkfs-server, zkfs-cli, zkfs into $(B)/"
	@echo "make deps       install build and test dependencies (Debian 12, as root)"
	@echo "make test       build and run every test suite; ends with 'N passed, N failed'"
	@echo "make asan       the same tests under ASan/UBSan (build-asan/)"
	@echo "make valgrind   unit programs, protocol suites and a mount session under memcheck"
	@echo "make sim        ensemble simulator seed sweep (SEEDS=N FROM=S)"
	@echo "make bench      benchmarks against Apache ZooKeeper, with ratios"
	@echo "make run        start a standalone server (data in ./data) and mount it on ./mnt"
	@echo "make ensemble   start a 3-server ensemble on 127.0.0.1:2181-2183 (ensemble-stop)"
	@echo "make install    install binaries to $(PREFIX)/bin, mount.zkfs to $(SBINDIR), and the"
	@echo "                zkfs-server systemd unit (DESTDIR=, PREFIX=, SYSCONFDIR= as usual)"

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) -c $< -o $@

# Include paths by layer (see the layout above): pure code cannot reach
# storage/ or edge/ headers even by accident.
INC := $(addprefix -I,$(SERVER_DIRS))
$(B)/obj/server/core/%.o: INC := -Iserver/core
$(B)/obj/server/zab/%.o: INC := -Iserver/core -Iserver/zab

$(B)/libproto.a: $(call obj,$(PROTO_SRC))
	@rm -f $@; ar rcs $@ $^
$(B)/libserver.a: $(call obj,$(SERVER_SRC))
	@rm -f $@; ar rcs $@ $^
$(B)/libzkc.a: $(call obj,$(CLIENT_SRC))
	@rm -f $@; ar rcs $@ $^

$(B)/zkfs-server: $(call obj,server/main.c) $(B)/libserver.a $(B)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ -lmicrohttpd $(LIBS)
$(B)/zkfs-cli: $(call obj,$(CLI_SRC)) $(B)/libzkc.a $(B)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
$(B)/zkfs: $(call obj,$(FS_SRC)) $(B)/libzkc.a $(B)/libproto.a
	$(CC) $(LDFLAGS) -o $@ $^ -lfuse3 $(LIBS)

# Unit tests link against every library; each test_*.c is one cmocka program.
$(B)/tests/%: $(call obj,tests/unit/%.c) $(call obj,$(UNIT_HELP)) $(B)/libserver.a $(B)/libzkc.a $(B)/libproto.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIBS)

# Benchmarks may use the Apache C client as the common load generator.
$(B)/bench/%: $(call obj,bench/%.c) $(B)/libzkc.a $(B)/libproto.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lzookeeper_mt $(LIBS)
$(B)/obj/bench/%.o: CFLAGS += -DTHREADED
# libzkc's load generator, measured against the Apache C client in the same run.
$(B)/perf/%: $(call obj,tests/perf/%.c) $(B)/libzkc.a $(B)/libproto.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lzookeeper_mt $(LIBS)
$(B)/obj/tests/perf/%.o: CFLAGS += -DTHREADED

# The libzkc client that tests/ensemble/clients_failover.py runs across a
# failover: built here so that it links what libzkc needs (TLS, SASL) with
# the same flags (SAN=1 too) as everything else.
ENS_BINS := $(B)/ensemble/clients_failover_zkc
$(B)/ensemble/%: $(call obj,tests/ensemble/%.c) $(B)/libzkc.a $(B)/libproto.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

unit: $(UNIT_BINS)

# The deterministic ensemble simulator: real core/ and zab/ code, simulated
# clock, network and disk (tests/sim/zabsim.c).  `make sim SEEDS=N [FROM=S]`
# runs a long sweep; `make test` runs a few hundred seeds.
SIM_BIN := $(B)/sim/zabsim
$(SIM_BIN): $(call obj,tests/sim/zabsim.c) $(B)/libserver.a $(B)/libproto.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
SEEDS ?= 10000
FROM  ?= 1
sim: $(SIM_BIN)
	$(SIM_BIN) --seeds $(SEEDS) --from $(FROM)

# The whole test run: unit, compat, fault, bats.  tests/run prints the
# closing 'N passed, N failed' line and exits non-zero on any failure.
test: all $(UNIT_BINS) $(SIM_BIN) $(ENS_BINS)
	B=$(B) tests/run

asan:
	$(MAKE) B=build-asan SAN=1 OPT="-O1 -g" test

# The unit programs, the protocol suites against zkfs-server and a mount
# session, under valgrind's memcheck (tests/valgrind/run).
valgrind: all $(UNIT_BINS)
	B=$(B) tests/valgrind/run

bench: all $(BENCH_BINS)
	B=$(B) bench/run

deps:
	@:

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SBINDIR) $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/
	if [ -f mount.zkfs ]; then install -m 755 mount.zkfs $(DESTDIR)$(SBINDIR)/mount.zkfs; fi
	for m in docs/*.1; do [ -f "$$m" ] && install -m 644 "$$m" $(DESTDIR)$(PREFIX)/share/man/man1/ || true; done
	for m in docs/*.8; do [ -f "$$m" ] && install -m 644 "$$m" $(DESTDIR)$(PREFIX)/share/man/man8/ || true; done
	@# the server as a hardened systemd service (dist/zkfs-server.service says how)
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(SYSCONFDIR)/zkfs
	sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|/etc/|$(SYSCONFDIR)/|g' dist/zkfs-server.service \
		>$(DESTDIR)$(UNITDIR)/zkfs-server.service
	chmod 644 $(DESTDIR)$(UNITDIR)/zkfs-server.service
	install -m 644 dist/zkfs.sysusers $(DESTDIR)$(SYSUSERSDIR)/zkfs.conf
	[ -e $(DESTDIR)$(SYSCONFDIR)/zkfs/zoo.cfg ] || install -m 644 dist/zoo.cfg $(DESTDIR)$(SYSCONFDIR)/zkfs/zoo.cfg
	@echo "zkfs-server service: systemd-sysusers && systemctl daemon-reload && systemctl enable --now zkfs-server"

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(notdir $(PROGS))) $(DESTDIR)$(SBINDIR)/mount.zkfs
	rm -f $(DESTDIR)$(UNITDIR)/zkfs-server.service $(DESTDIR)$(SYSUSERSDIR)/zkfs.conf
	@# $(SYSCONFDIR)/zkfs/zoo.cfg and /var/lib/zkfs are the operator's: kept

run: all
	scripts/run start

stop:
	scripts/run stop

# A 3-server ensemble on this machine (clients on 127.0.0.1:2181-2183).
ensemble: all
	scripts/ensemble start 3

ensemble-stop:
	scripts/ensemble stop 3

fmt:
	clang-format -i $(PROTO_SRC) $(wildcard proto/*.h server/*.[ch] server/*/*.[ch] client/*.[ch] fs/*.[ch] tests/unit/*.[ch])

clean:
	rm -rf build build-asan

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
