# Switchyard. `make` builds everything into $(B)/; `make check` runs the unit
# and integration tests against a build with AddressSanitizer and UBSan.
# The source lists below are the design: one file per responsibility.

PREFIX ?= /usr/local
DESTDIR ?=
SAN ?= 0

ifeq ($(SAN),1)
B ?= build-san
SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
OPT = -O1 -g
else
B ?= build
SANFLAGS =
OPT = -O2 -g
endif

CC ?= cc
PKGS = libprotobuf-c inih libseccomp libcap libmd jansson lmdb
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter \
	-fPIC $(OPT) $(SANFLAGS)
INC = -I$(B)/gen -Iproto -Ilib -Iworker-shim
CFLAGS_ALL = $(CFLAGS_BASE) $(INC) $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(LDFLAGS)
SHIM_CFLAGS = $(filter-out $(SANFLAGS) -O1,$(CFLAGS_ALL)) -O2

LLHTTP_DIR ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp

# --- shared code -----------------------------------------------------------
PROTO_SRCS = proto/frame.c proto/outcome.c proto/names.c proto/pbscan.c \
	proto/pbwire.c \
	proto/http_syntax.c
LIB_SRCS = lib/ev.c lib/log.c lib/util.c lib/notify.c lib/buf.c \
	lib/seccomp_filter.c lib/seccomp_load.c
GEN_SRCS = $(B)/gen/switchyard.pb-c.c

# --- processes -------------------------------------------------------------
ROUTER_SRCS = router/main.c router/config.c router/conn.c router/http.c \
	router/request.c router/body.c \
	router/upstream.c router/response.c router/privdrop.c router/sandbox.c \
	router/egress.c router/admin.c
# The supervisor's layers, bottom up; calls only go down this list
# (docs/DESIGN.md, scripts/check-layers.sh).
SUP_JAIL_SRCS = supervisor/jail/jail.c supervisor/jail/caps.c \
	supervisor/jail/ids.c supervisor/jail/rlimits.c \
	supervisor/jail/rootfs.c supervisor/jail/cgroup.c \
	supervisor/jail/namespaces.c supervisor/jail/spawn.c
SUP_STATE_SRCS = supervisor/state/config.c supervisor/state/netpolicy.c \
	supervisor/state/bindings.c \
	supervisor/state/deploy_spec.c supervisor/state/registry.c \
	supervisor/state/registry_deploy.c \
	supervisor/state/store.c supervisor/state/store_json.c \
	supervisor/state/secrets.c \
	supervisor/state/kv.c supervisor/state/kvstore.c
SUP_SERVE_SRCS = supervisor/serve/serve.c supervisor/serve/peer.c \
	supervisor/serve/routerproc.c supervisor/serve/call.c \
	supervisor/serve/call_answer.c supervisor/serve/call_forward.c \
	supervisor/serve/call_id.c supervisor/serve/decision_cache.c \
	supervisor/serve/subrequest.c \
	supervisor/serve/fetch.c \
	supervisor/serve/limits.c supervisor/serve/pool.c \
	supervisor/serve/pool_proc.c supervisor/serve/pool_ops.c \
	supervisor/serve/pool_stats.c \
	supervisor/serve/events.c supervisor/serve/tailcons.c \
	supervisor/serve/kv_serve.c supervisor/serve/stats.c \
	supervisor/serve/logring.c
SUP_CONTROL_SRCS = supervisor/control/control.c supervisor/control/ctl_args.c \
	supervisor/control/ctl_status.c supervisor/control/ctl_deploy.c \
	supervisor/control/ctl_secret.c supervisor/control/ctl_ops.c \
	supervisor/control/ctl_events.c supervisor/control/ctl_kv.c \
	supervisor/control/ctl_reload.c
SUP_LAYERS = jail state serve control
SUPERVISOR_SRCS = supervisor/main.c $(SUP_JAIL_SRCS) $(SUP_STATE_SRCS) \
	$(SUP_SERVE_SRCS) $(SUP_CONTROL_SRCS)
CTL_SRCS = ctl/yardctl.c ctl/client.c ctl/print.c ctl/ops.c ctl/top.c \
	ctl/shell.c ctl/deploy.c ctl/kv.c
SHIM_SRCS = worker-shim/serve.c worker-shim/request.c worker-shim/response.c \
	worker-shim/headers.c worker-shim/dispatch.c worker-shim/channel.c \
	worker-shim/env.c worker-shim/errors.c worker-shim/kv.c \
	worker-shim/forward.c worker-shim/later.c
EXAMPLES = hello alice bob echo crash dispatcher limits fetch kv envecho tailstore

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

LIB_OBJS = $(call obj,$(PROTO_SRCS) $(LIB_SRCS)) $(B)/obj/gen/switchyard.pb-c.o
# The programs link lib/ and proto/ as one archive, so each takes only the
# objects it uses: yardctl loads no seccomp profile and needs no libseccomp.
LIB_AR = $(B)/libsy.a
ROUTER_OBJS = $(call obj,$(ROUTER_SRCS)) $(B)/obj/llhttp/llhttp.o \
	$(B)/obj/llhttp/api.o $(B)/obj/llhttp/http.o
SUPERVISOR_OBJS = $(call obj,$(SUPERVISOR_SRCS))
CTL_OBJS = $(call obj,$(CTL_SRCS))
SHIM_ALL_SRCS = $(SHIM_SRCS) $(PROTO_SRCS) lib/buf.c \
	$(B)/gen/switchyard.pb-c.c
SHIM_OBJS = $(patsubst %.c,$(B)/obj-shim/%.o,$(SHIM_ALL_SRCS:$(B)/%=%))
SHIM_SAN_OBJS = $(patsubst %.c,$(B)/obj-shim-san/%.o,$(SHIM_ALL_SRCS:$(B)/%=%))

BINS = $(B)/switchyard-router $(B)/switchyard-supervisor $(B)/yardctl
SHIM = $(B)/libworkershim.a $(B)/libworkershim.so $(B)/workershim.pc
EXAMPLE_BINS = $(patsubst %,$(B)/examples/%,$(EXAMPLES))

# Hostile workers (tests/hostile/NAME.c): each tries to break out of the jail.
HOSTILE_BINS = $(patsubst tests/hostile/%.c,$(B)/hostile/%,$(wildcard tests/hostile/*.c))

UNIT_TESTS = $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))

# Probes (tests/probes/NAME.c): what the host's kernel does, unjailed, so
# that a test tells "the kernel lacks it" from "our code broke".
PROBE_BINS = $(patsubst tests/probes/%.c,$(B)/probes/%,$(wildcard tests/probes/*.c))

all: $(BINS) $(SHIM) $(EXAMPLE_BINS) $(HOSTILE_BINS) $(PROBE_BINS)

$(B)/gen/switchyard.pb-c.c $(B)/gen/switchyard.pb-c.h &: proto/switchyard.proto
	@mkdir -p $(B)/gen
	protoc-c --proto_path=proto --c_out=$(B)/gen proto/switchyard.proto

# Every object depends on the generated header so it exists before use.
$(B)/obj/%.o: %.c $(B)/gen/switchyard.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# The shim that tenants link is always built without sanitizers: workers are
# static executables run under the jail's seccomp allow-list, which the
# sanitizer runtimes would break. tests/unit/test_shim.c covers the shim's
# code under ASan and UBSan instead (objects in $(B)/obj-shim-san).
$(B)/obj-shim/%.o: %.c $(B)/gen/switchyard.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_CFLAGS) -MMD -MP -c $< -o $@

$(B)/obj-shim-san/%.o: %.c $(B)/gen/switchyard.pb-c.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(B)/obj/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Wno-missing-prototypes -c $< -o $@

$(B)/obj-shim/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(SHIM_CFLAGS) -Wno-missing-prototypes -c $< -o $@

$(B)/obj-shim-san/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Wno-missing-prototypes -c $< -o $@

# llhttp is compiled from Debian's node-llhttp sources, never hand-written.
$(B)/obj/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -fPIC $(SANFLAGS) -I$(LLHTTP_INC) -w -c $< -o $@

$(call obj,$(ROUTER_SRCS)): CFLAGS_ALL += -I$(LLHTTP_INC) -Irouter
$(call obj,$(SUPERVISOR_SRCS)): CFLAGS_ALL += -Isupervisor
$(call obj,$(CTL_SRCS)): CFLAGS_ALL += -Ictl

$(LIB_AR): $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(B)/switchyard-router: $(ROUTER_OBJS) $(LIB_AR)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ \
		$(shell pkg-config --libs libprotobuf-c inih libseccomp libcurl)

$(B)/switchyard-supervisor: $(SUPERVISOR_OBJS) $(LIB_AR)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(shell pkg-config --libs $(PKGS))

$(B)/yardctl: $(CTL_OBJS) $(LIB_AR)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(shell pkg-config --libs libprotobuf-c jansson libedit)

$(B)/libworkershim.a: $(SHIM_OBJS)
	rm -f $@
	ar rcs $@ $^

$(B)/libworkershim.so: $(SHIM_OBJS)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libworkershim.so.1 -o $@ $^ \
		$(shell pkg-config --libs libprotobuf-c)
	ln -sf libworkershim.so $(B)/libworkershim.so.1

# The .pc used from the build tree points at the build tree; `make install`
# writes one pointing at PREFIX.
$(B)/workershim.pc: worker-shim/workershim.pc.in
	@mkdir -p $(B)
	sed -e 's|@PREFIX@|$(abspath $(B))|' -e 's|@INCLUDEDIR@|$(abspath worker-shim)|' \
		-e 's|@LIBDIR@|$(abspath $(B))|' $< > $@

# Examples are tenants: they see only workershim.h and link the shim
# statically (no sanitizers, see above), which also makes exec cheaper.
WORKER_CFLAGS = $(filter-out $(SANFLAGS) -O1,$(CFLAGS_BASE)) -O2 -Iworker-shim
WORKER_LINK = -static $(B)/libworkershim.a $(shell pkg-config --static --libs libprotobuf-c)
$(B)/examples/%: examples/%/main.c $(B)/libworkershim.a worker-shim/workershim.h
	@mkdir -p $(dir $@)
	$(CC) $(WORKER_CFLAGS) -o $@ $< $(WORKER_LINK)

# The dispatcher is several files and reads its routes' JSON metadata with
# jansson, linked statically like the shim (docs/dispatch.md).
DISPATCHER_SRCS = examples/dispatcher/main.c examples/dispatcher/route.c \
	examples/dispatcher/meta.c examples/dispatcher/plan.c \
	examples/dispatcher/auth.c examples/dispatcher/edit.c
$(B)/examples/dispatcher: $(DISPATCHER_SRCS) examples/dispatcher/dispatcher.h \
		$(B)/libworkershim.a worker-shim/workershim.h
	@mkdir -p $(dir $@)
	$(CC) $(WORKER_CFLAGS) $(shell pkg-config --cflags jansson) -o $@ \
		$(DISPATCHER_SRCS) $(WORKER_LINK) $(shell pkg-config --static --libs jansson)

$(B)/probes/%: tests/probes/%.c
	@mkdir -p $(dir $@)
	$(CC) $(WORKER_CFLAGS) -static -o $@ $<

$(B)/hostile/%: tests/hostile/%.c $(B)/libworkershim.a worker-shim/workershim.h
	@mkdir -p $(dir $@)
	$(CC) $(WORKER_CFLAGS) -o $@ $< $(WORKER_LINK)

# --- tests -----------------------------------------------------------------
# Unit tests link the supervisor's layers through one archive each, so that
# a test pulls in only the objects it uses, and a test of a layer can be
# linked without the layers above it (UNIT_LAYERS below).
SUP_LAYER_LIBS = $(patsubst %,$(B)/libsy-%.a,$(SUP_LAYERS))
$(B)/libsy-jail.a: $(call obj,$(SUP_JAIL_SRCS))
$(B)/libsy-state.a: $(call obj,$(SUP_STATE_SRCS))
$(B)/libsy-serve.a: $(call obj,$(SUP_SERVE_SRCS))
$(B)/libsy-control.a: $(call obj,$(SUP_CONTROL_SRCS))
$(SUP_LAYER_LIBS):
	rm -f $@
	ar rcs $@ $^

$(B)/libworkershim-san.a: $(SHIM_SAN_OBJS)
	rm -f $@
	ar rcs $@ $^

# helpers more than one unit test needs (tests/unit/testutil.h)
$(B)/obj/tests/testutil.o: tests/unit/testutil.c tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

# The supervisor layers a unit test links, top first: a test of a layer
# links only that layer and those below it, which shows that the layer
# needs nothing above it. Default: none (tests of lib/, proto/, the shim).
TEST_LAYERS_test_cgroup = jail
TEST_LAYERS_test_jail = jail
TEST_LAYERS_test_rootfs = jail
TEST_LAYERS_test_spawn = jail
TEST_LAYERS_test_kv = state jail
TEST_LAYERS_test_pool = serve state jail
# test_pool runs the echo example as its workers.
$(B)/tests/test_pool: $(B)/examples/echo
TEST_LAYERS_test_registry = state jail
TEST_LAYERS_test_bindings = state jail
TEST_LAYERS_test_store = state jail
TEST_LAYERS_test_call = serve state jail
# test_call runs these example workers.
$(B)/tests/test_call: $(B)/examples/echo $(B)/examples/hello
TEST_LAYERS_test_decision_cache = serve state jail

.SECONDEXPANSION:
$(B)/tests/%: tests/unit/%.c $(B)/obj/tests/testutil.o $(LIB_OBJS) \
		$(SUP_LAYER_LIBS) $(B)/libworkershim-san.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Isupervisor -Irouter -Itests/unit -o $@ $< \
		$(B)/obj/tests/testutil.o \
		$(patsubst %,$(B)/libsy-%.a,$(TEST_LAYERS_$*)) $(LIB_OBJS) \
		$(B)/libworkershim-san.a \
		$(LDFLAGS_ALL) $(shell pkg-config --libs cmocka $(PKGS))

unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

PYTEST ?= /usr/bin/python3 -m pytest
integration: all
	SY_BUILD=$(abspath $(B)) $(PYTEST) -q tests/integration $(PYTEST_ARGS)

# The floor plan: every #include goes down the layers (docs/DESIGN.md).
layers:
	bash scripts/check-layers.sh

# make check: the floor plan, sanitizer build, unit tests, integration
# tests, then a plain build so that -Werror covers the optimised
# configuration too.
check: layers
	$(MAKE) SAN=1 all unit integration
	$(MAKE) SAN=0 all

bench: all
	bash bench/run.sh $(abspath $(B))
	bash bench/limits.sh $(abspath $(B))
	bash bench/dispatch.sh $(abspath $(B))

# --- install ---------------------------------------------------------------
# Configuration and state live at fixed places (/etc/switchyard,
# /var/lib/switchyard) whatever PREFIX is: the default switchyard.ini and
# the systemd unit name them. docs/operations.md describes the result.
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR ?= $(PREFIX)/share/doc/switchyard

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include \
		$(DESTDIR)$(PREFIX)/share/switchyard/examples \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)/etc/switchyard
	install -d -m 0755 $(DESTDIR)/var/lib/switchyard
	install -m 0755 $(B)/yardctl $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(B)/switchyard-supervisor $(B)/switchyard-router $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 $(B)/libworkershim.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(B)/libworkershim.so $(DESTDIR)$(PREFIX)/lib/libworkershim.so.1
	ln -sf libworkershim.so.1 $(DESTDIR)$(PREFIX)/lib/libworkershim.so
	install -m 0644 worker-shim/workershim.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@INCLUDEDIR@|$(PREFIX)/include|' \
		-e 's|@LIBDIR@|$(PREFIX)/lib|' worker-shim/workershim.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/workershim.pc
	install -m 0755 $(EXAMPLE_BINS) $(DESTDIR)$(PREFIX)/share/switchyard/examples/
	install -d $(DESTDIR)/etc/switchyard/seccomp
	install -m 0644 policies/seccomp/*.policy $(DESTDIR)/etc/switchyard/seccomp/
	test -e $(DESTDIR)/etc/switchyard/egress.ini || \
		install -m 0644 policies/egress.ini $(DESTDIR)/etc/switchyard/egress.ini
	test -e $(DESTDIR)/etc/switchyard/switchyard.ini || \
		install -m 0644 policies/switchyard.ini $(DESTDIR)/etc/switchyard/switchyard.ini
	sed -e 's|@SBINDIR@|$(PREFIX)/sbin|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
		packaging/systemd/switchyard.service \
		> $(DESTDIR)$(SYSTEMDUNITDIR)/switchyard.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/switchyard.service
	install -m 0644 docs/operations.md $(DESTDIR)$(DOCDIR)/

clean:
	rm -rf build build-san

.PHONY: all unit integration layers check bench install clean
.SECONDARY:

-include $(shell find $(B)/obj $(B)/obj-shim $(B)/obj-shim-san -name '*.d' 2>/dev/null)
