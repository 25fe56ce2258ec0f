# hakmem under ThreadSanitizer and AddressSanitizer.  The sanitizer's runtime
# owns malloc, so these builds name hakmem's malloc family hks_malloc, ...
# (src/sanitizer_names.h, -DHK_SANITIZER_NAMES=1) and link it statically into
# test programs whose malloc() calls are renamed the same way
# (tests/testutil.h): the sanitizer instruments hakmem and the test both.
# The main Makefile includes this file after BASEFLAGS, SRCS, HDRS, PROG_SRCS
# and TEST_CFLAGS; tests/run.sh runs the programs (section "sanitizers").
#   make tsan   build/tsan/libhakmem.a and build/tsan/tests/NAME
#   make asan   build/asan/libhakmem.a and build/asan/tests/NAME
# Both keep the internal assertions: TSan at HK_DEBUG=2, ASan at HK_DEBUG=3,
# where the heap validator (src/validate.c) walks the heap on slow paths.

san_saved_goal := $(.DEFAULT_GOAL)

# TSan: the tests with threads (transfers, fork, thread exit, first-class
# heaps freed from another thread; the adaptive thread runs in them).  ASan: every test program but these: oom (its
# address-space limits leave no room for the shadow memory), ace, ace_thread
# and limit (they measure the resident set and count threads, which the
# sanitizer's own change) and hak_api (it compares the addresses of the
# exported functions).
TSAN_TESTS := mt_stress fork thread_exit churn heaps
ASAN_TESTS := $(filter-out oom hak_api ace ace_thread limit,$(basename $(notdir $(PROG_SRCS))))

SAN_COMMON := -O1 -g -fno-omit-frame-pointer -DHK_SANITIZER_NAMES=1
TSAN_FLAGS := $(SAN_COMMON) -DHK_DEBUG=2 -fsanitize=thread
ASAN_FLAGS := $(SAN_COMMON) -DHK_DEBUG=3 -fsanitize=address

.PHONY: tsan asan
tsan: $(TSAN_TESTS:%=build/tsan/tests/%)
asan: $(ASAN_TESTS:%=build/asan/tests/%) build/asan/tests/unit_validate

build/tsan/obj build/asan/obj build/tsan/tests build/asan/tests:
	mkdir -p $@

build/tsan/obj/%.o: src/%.c $(HDRS) | build/tsan/obj
	$(CC) $(BASEFLAGS) $(TSAN_FLAGS) $(CFLAGS) -c $< -o $@
build/asan/obj/%.o: src/%.c $(HDRS) | build/asan/obj
	$(CC) $(BASEFLAGS) $(ASAN_FLAGS) $(CFLAGS) -c $< -o $@

build/tsan/libhakmem.a: $(SRCS:src/%.c=build/tsan/obj/%.o)
	rm -f $@ && ar rcs $@ $^
build/asan/libhakmem.a: $(SRCS:src/%.c=build/asan/obj/%.o)
	rm -f $@ && ar rcs $@ $^

# build/SAN/tests/NAME from tests/api/NAME.c or tests/stress/NAME.c
define san_test_rule
build/$(1)/tests/$(basename $(notdir $(2))): $(2) tests/testutil.h include/hakmem.h build/$(1)/libhakmem.a | build/$(1)/tests
	$$(CC) $$(TEST_CFLAGS) -DHK_LINKED=1 $$($(3)) $$< -o $$@ build/$(1)/libhakmem.a -lm
endef
$(foreach s,$(PROG_SRCS),$(eval $(call san_test_rule,tsan,$(s),TSAN_FLAGS)))
$(foreach s,$(PROG_SRCS),$(eval $(call san_test_rule,asan,$(s),ASAN_FLAGS)))

# The validator's own test (tests/unit/validate.c) at HK_DEBUG=3.
build/asan/tests/unit_validate: tests/unit/validate.c tests/unit/unit.h $(HDRS) build/asan/libhakmem.a | build/asan/tests
	$(CC) $(TEST_CFLAGS) -Isrc $(ASAN_FLAGS) $< -o $@ build/asan/libhakmem.a -lm

.DEFAULT_GOAL := $(san_saved_goal)
