# hakmem fuzzing: a libFuzzer target over hakmem's own API (fuzz/fuzz_alloc.c),
# linked with the library's debug build (HK_DEBUG=2) compiled by clang with
# coverage instrumentation.  The main Makefile includes it after defining
# BASEFLAGS, DBGFLAGS, SRCS and HDRS, which it uses.
#   make fuzz [FUZZ_SECONDS=25]   build build/fuzz/fuzz_alloc, run fuzz/run.sh
#   make build/fuzz/fuzz_alloc    build only
# Everything goes to build/fuzz/ (objects in build/fuzz/obj/).

# keep the including Makefile's default goal (this file may come first)
fuzz_saved_goal := $(.DEFAULT_GOAL)

FUZZ_CC   ?= clang
FUZZ_OBJS := $(SRCS:src/%.c=build/fuzz/obj/%.o)

.PHONY: fuzz

build/fuzz/obj/%.o: src/%.c $(HDRS) | build/fuzz/obj
	$(FUZZ_CC) $(BASEFLAGS) $(DBGFLAGS) -fsanitize=fuzzer-no-link $(CFLAGS) -c $< -o $@

build/fuzz/obj:
	mkdir -p $@

build/fuzz/fuzz_alloc: fuzz/fuzz_alloc.c $(FUZZ_OBJS) include/hakmem.h
	$(FUZZ_CC) -std=gnu11 -fsanitize=fuzzer $(UBSAN) -g -O1 -Iinclude -pthread -Wall -Wextra \
	    fuzz/fuzz_alloc.c $(FUZZ_OBJS) -o $@

fuzz: build/fuzz/fuzz_alloc
	$(if $(FUZZ_SECONDS),FUZZ_SECONDS=$(FUZZ_SECONDS)) bash fuzz/run.sh

.DEFAULT_GOAL := $(fuzz_saved_goal)
