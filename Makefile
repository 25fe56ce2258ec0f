# hakmem — build, test and benchmark.
#   make            build/libhakmem.so and build/libhakmem.a (release)
#   make debug      build/debug/libhakmem.{so,a} with internal assertions
#   make hardened   build/hardened/libhakmem.{so,a}: HAKMEM_HARDEN=1 by default
#   make valgrind   build/valgrind/libhakmem.so: memcheck sees its blocks (src/track.h)
#   make test       build everything and run every test (release and debug)
#   make bench      benchmark hakmem beside the installed peers
#   make install PREFIX=/usr/local   (with hakmem.pc and a CMake package)

# Builds run in parallel, a job per CPU, unless make -jN says otherwise.
HK_JOBS := $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc 2>/dev/null || echo 2))
MAKEFLAGS += $(HK_JOBS)

CC       ?= cc
PREFIX   ?= /usr/local
LIBDIR   ?= $(PREFIX)/lib
INCDIR   ?= $(PREFIX)/include

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASEFLAGS := -std=c11 -D_GNU_SOURCE -fPIC -pthread -fvisibility=hidden \
             -ftls-model=initial-exec -fno-builtin-malloc -fno-builtin-free \
             -fno-plt -Iinclude -Isrc $(WARN)
RELFLAGS := -O2 -DNDEBUG -g
# The debug build: internal assertions and UBSan (undefined behaviour aborts
# with its report; tests run it preloaded and linked).
UBSAN    := -fsanitize=undefined -fno-sanitize-recover=undefined
DBGFLAGS := -O1 -g -DHK_DEBUG=2 -fno-omit-frame-pointer $(UBSAN)
# The release, read from hakmem.h (written once there): 0.1.0; the soname
# carries its major number.
VERSION  := $(shell awk '/^\#define HAKMEM_VERSION_(MAJOR|MINOR|PATCH) / { v = v (v == "" ? "" : ".") $$3 } END { print v }' include/hakmem.h)
SONAME   := libhakmem.so.$(firstword $(subst ., ,$(VERSION)))
LDSHARED := -shared -pthread -Wl,--no-undefined -Wl,-z,now -Wl,--version-script=src/exports.map \
            -Wl,-soname,$(SONAME)

SRCS := $(wildcard src/*.c)
HDRS := $(wildcard src/*.h) include/hakmem.h

REL_OBJS := $(SRCS:src/%.c=build/obj/%.o)
DBG_OBJS := $(SRCS:src/%.c=build/debug/obj/%.o)
NOTEL_OBJS := $(SRCS:src/%.c=build/notel/obj/%.o)
HARD_OBJS := $(SRCS:src/%.c=build/hardened/obj/%.o)
VG_OBJS := $(SRCS:src/%.c=build/valgrind/obj/%.o)

.PHONY: all debug notel hardened valgrind test test-only bench bench-fastpath install print-version clean
all: build/libhakmem.so build/libhakmem.a build/hakmem.pc

build/obj/%.o: src/%.c $(HDRS) | build/obj
	$(CC) $(BASEFLAGS) $(RELFLAGS) $(CFLAGS) -c $< -o $@
build/debug/obj/%.o: src/%.c $(HDRS) | build/debug/obj
	$(CC) $(BASEFLAGS) $(DBGFLAGS) $(CFLAGS) -c $< -o $@

# telemetry compiled out: the baseline of the telemetry overhead benchmark
build/notel/obj/%.o: src/%.c $(HDRS) | build/notel/obj
	$(CC) $(BASEFLAGS) $(RELFLAGS) -DHK_TELEMETRY=0 $(CFLAGS) -c $< -o $@

# hardened mode by default (HAKMEM_HARDEN=0 still turns it off)
build/hardened/obj/%.o: src/%.c $(HDRS) | build/hardened/obj
	$(CC) $(BASEFLAGS) $(RELFLAGS) -DHK_HARDEN_DEFAULT=1 $(CFLAGS) -c $< -o $@

# memcheck sees what the malloc family hands out and takes back (src/track.h)
build/valgrind/obj/%.o: src/%.c $(HDRS) | build/valgrind/obj
	$(CC) $(BASEFLAGS) $(RELFLAGS) -DHK_VALGRIND=1 $(CFLAGS) -c $< -o $@

build/obj build/debug/obj build/notel/obj build/hardened/obj build/valgrind/obj build/tests build/debug/tests \
build/tests/misuse:
	mkdir -p $@

build/libhakmem.so: $(REL_OBJS) src/exports.map
	$(CC) $(LDSHARED) $(LDFLAGS) -o $@ $(REL_OBJS)
	ln -sf $(@F) $(@D)/$(SONAME)
build/libhakmem.a: $(REL_OBJS)
	rm -f $@ && ar rcs $@ $(REL_OBJS)
build/debug/libhakmem.so: $(DBG_OBJS) src/exports.map
	$(CC) $(LDSHARED) $(UBSAN) $(LDFLAGS) -o $@ $(DBG_OBJS)
	ln -sf $(@F) $(@D)/$(SONAME)
build/debug/libhakmem.a: $(DBG_OBJS)
	rm -f $@ && ar rcs $@ $(DBG_OBJS)

build/notel/libhakmem.so: $(NOTEL_OBJS) src/exports.map
	$(CC) $(LDSHARED) $(LDFLAGS) -o $@ $(NOTEL_OBJS)
	ln -sf $(@F) $(@D)/$(SONAME)
build/hardened/libhakmem.so: $(HARD_OBJS) src/exports.map
	$(CC) $(LDSHARED) $(LDFLAGS) -o $@ $(HARD_OBJS)
	ln -sf $(@F) $(@D)/$(SONAME)
build/valgrind/libhakmem.so: $(VG_OBJS) src/exports.map
	$(CC) $(LDSHARED) $(LDFLAGS) -o $@ $(VG_OBJS)
	ln -sf $(@F) $(@D)/$(SONAME)
build/hardened/libhakmem.a: $(HARD_OBJS)
	rm -f $@ && ar rcs $@ $(HARD_OBJS)

# hakmem.pc.in and cmake/*.in: the install's paths and the release
SUBST := sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@INCDIR@|$(INCDIR)|g' \
             -e 's|@VERSION@|$(VERSION)|g' -e 's|@MAJOR@|$(firstword $(subst ., ,$(VERSION)))|g' \
             -e 's|@SONAME@|$(SONAME)|g'
build/hakmem.pc: hakmem.pc.in Makefile include/hakmem.h | build/obj
	$(SUBST) $< > $@

debug: build/debug/libhakmem.so build/debug/libhakmem.a
notel: build/notel/libhakmem.so
hardened: build/hardened/libhakmem.so build/hardened/libhakmem.a
valgrind: build/valgrind/libhakmem.so

# ---- tests ---------------------------------------------------------------
# tests/unit/*.c   link libhakmem.a and use internals (src/*.h)
# tests/api/*.c, tests/stress/*.c   plain programs of the malloc API; each is
#   built twice: plain (run with LD_PRELOAD) and linked with libhakmem.a.
UNIT_SRCS := $(wildcard tests/unit/*.c)
PROG_SRCS := $(wildcard tests/api/*.c) $(wildcard tests/stress/*.c)
TEST_CFLAGS := -std=gnu11 -O1 -g -pthread -Iinclude -Wall -Wextra -Wno-unused-parameter \
               -fno-builtin -D_GNU_SOURCE

UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=build/tests/unit_%) \
             $(UNIT_SRCS:tests/unit/%.c=build/debug/tests/unit_%)
PROG_BINS := $(foreach s,$(PROG_SRCS),build/tests/$(basename $(notdir $(s))) \
             build/tests/$(basename $(notdir $(s))).static \
             build/debug/tests/$(basename $(notdir $(s))).static)

build/tests/unit_%: tests/unit/%.c build/libhakmem.a $(HDRS) | build/tests
	$(CC) $(TEST_CFLAGS) -Isrc $< -o $@ build/libhakmem.a -lm
build/debug/tests/unit_%: tests/unit/%.c build/debug/libhakmem.a $(HDRS) | build/debug/tests
	$(CC) $(TEST_CFLAGS) -DHK_DEBUG=2 -Isrc $(UBSAN) $< -o $@ build/debug/libhakmem.a -lm

define prog_rules
build/tests/$(basename $(notdir $(1))): $(1) tests/testutil.h include/hakmem.h | build/tests
	$$(CC) $$(TEST_CFLAGS) $$< -o $$@ -lm
build/tests/$(basename $(notdir $(1))).static: $(1) tests/testutil.h include/hakmem.h build/libhakmem.a | build/tests
	$$(CC) $$(TEST_CFLAGS) -DHK_LINKED=1 $$< -o $$@ build/libhakmem.a -lm
build/debug/tests/$(basename $(notdir $(1))).static: $(1) tests/testutil.h include/hakmem.h build/debug/libhakmem.a | build/debug/tests
	$$(CC) $$(TEST_CFLAGS) -DHK_LINKED=1 $$(UBSAN) $$< -o $$@ build/debug/libhakmem.a -lm
endef
$(foreach s,$(PROG_SRCS),$(eval $(call prog_rules,$(s))))

# tests/misuse/*.c: one misuse each, run by tests/misuse.sh (preloaded)
MISUSE_BINS := $(patsubst tests/misuse/%.c,build/tests/misuse/%,$(wildcard tests/misuse/*.c))
build/tests/misuse/%: tests/misuse/%.c tests/misuse/misuse.h | build/tests/misuse
	$(CC) $(TEST_CFLAGS) $< -o $@

# tests/valgrind/memcheck.c: run under memcheck with the valgrind build
build/tests/memcheck: tests/valgrind/memcheck.c | build/tests
	$(CC) -std=gnu11 -O0 -g -Wall -Wextra $< -o $@

# fuzz/fuzz_alloc: the libFuzzer target (clang), run by fuzz/run.sh
include fuzz/fuzz.mk
# make tsan, make asan: hakmem and the tests under the sanitizers
include tests/sanitizers.mk

test: all debug hardened valgrind build/tests/memcheck $(UNIT_BINS) $(PROG_BINS) $(MISUSE_BINS) build/fuzz/fuzz_alloc tsan asan
	bash tests/run.sh

# ---- benchmarks ----------------------------------------------------------
# make bench [PROFILE=quick|full]        the suite beside glibc, mimalloc,
#                                        jemalloc, tcmalloc (bench/run.sh)
# make bench-sweep [PROFILE=quick|full]  parameter sweeps (bench/sweep.sh)
# make bench-fastpath                    instructions per malloc+free pair
# make bench-overhead [PROFILE=...]      telemetry on versus compiled out
# make bench-learn                       learning mode against each static strategy
# make report [PROFILE=full]             docs/evaluation.md and its charts (bench/report.sh)
# See bench/README.md.
PROFILE ?= quick
BENCH_PROGS := tiny_hot random_mixed mid_mt larson threads scenarios extended large peak_idle phases rss_run fastpath_loop
BENCH_CFLAGS := -std=gnu11 -O2 -g -fno-builtin -D_GNU_SOURCE -pthread -Wall -Wextra
.PHONY: bench-progs bench-sweep bench-overhead bench-learn report

build/bench:
	mkdir -p $@
build/bench/%: bench/%.c bench/bench_common.h | build/bench
	$(CC) $(BENCH_CFLAGS) $< -o $@ -ldl -lm
build/bench/fastpath_loop: bench/fastpath_loop.c bench/bench_common.h | build/bench
	$(CC) $(BENCH_CFLAGS) -fno-optimize-sibling-calls $< -o $@ -ldl -lm
bench-progs: $(BENCH_PROGS:%=build/bench/%)

bench: all bench-progs
	PROFILE=$(PROFILE) bash bench/run.sh

bench-sweep: all bench-progs
	PROFILE=$(PROFILE) bash bench/sweep.sh

bench-fastpath: all build/bench/fastpath_loop
	bash bench/fastpath.sh

# telemetry on versus compiled out (A=... B=... compare two variants)
bench-overhead: all notel bench-progs
	PROFILE=$(PROFILE) bash bench/overhead.sh

bench-learn: all bench-progs
	bash bench/learn_eval.sh

report: all bench-progs
	PROFILE=$(PROFILE) bash bench/report.sh

# ---- install ---------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
	    $(DESTDIR)$(LIBDIR)/cmake/hakmem
	install -m 755 build/libhakmem.so $(DESTDIR)$(LIBDIR)/libhakmem.so.$(VERSION)
	ln -sf libhakmem.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libhakmem.so
	install -m 644 build/libhakmem.a $(DESTDIR)$(LIBDIR)/libhakmem.a
	install -m 644 include/hakmem.h $(DESTDIR)$(INCDIR)/hakmem.h
	$(SUBST) hakmem.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/hakmem.pc
	$(SUBST) cmake/hakmem-config.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/hakmem/hakmem-config.cmake
	$(SUBST) cmake/hakmem-config-version.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/hakmem/hakmem-config-version.cmake

# the release (make -s print-version): tests/run.sh's install check
print-version:
	@echo $(VERSION)

clean:
	rm -rf build
