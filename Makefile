# flint - one hand-written GNU Makefile (Redis style).
#
#   make            build ./flint (objects and generated code under build/)
#   make run        install missing packages, build, start the server
#   make test       install missing packages, unit tests, crash test, fuzz
#                   smoke runs, then the unit tests again under ASan+UBSan
#   make asan       unit tests under AddressSanitizer + UBSan
#   make fuzz       libFuzzer targets (clang), FUZZ_SECONDS each
#   make bench      benchmarks side by side with Prometheus / VictoriaMetrics
#   make clean
#
# Sources are found by directory, so a new module is a new file: every
# tests/unit/check_<module>.c defines `Suite *<module>_suite(void)` and is
# picked up by the generated runner; every tests/fuzz/fuzz_<name>.c is a
# libFuzzer target. re2c (*.re) and lemon (*.y) output goes to build/gen/.

.DEFAULT_GOAL := all
SHELL := /bin/bash

BUILD   ?= build
CC      ?= cc
PKGS    := check liblz4 libxxhash libpcre2-8 yaml-0.1 libcurl libmicrohttpd zlib gnutls libcrypt
OPT     ?= -O2
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -g -pthread \
               -I. -I$(BUILD)/gen -MMD -MP
CFLAGS  ?= $(OPT)
ALL_CFLAGS = $(CFLAGS_BASE) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS  = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -lpthread

Q := @
ifeq ($(V),1)
  Q :=
endif

LAYERS  := storage tsdb scrape query web
RE_SRC  := $(foreach d,$(LAYERS),$(wildcard $(d)/*.re))
Y_SRC   := $(foreach d,$(LAYERS),$(wildcard $(d)/*.y))
GEN_C   := $(RE_SRC:%.re=$(BUILD)/gen/%.c) $(Y_SRC:%.y=$(BUILD)/gen/%.c)
GEN_H   := $(Y_SRC:%.y=$(BUILD)/gen/%.h)
# The web UI (web/ui/*) embedded as byte arrays for web/ui.c.
UI_FILES := $(sort $(wildcard web/ui/*.html web/ui/*.css web/ui/*.js web/ui/*.svg))
GEN_C   += $(BUILD)/gen/web/ui_assets.c
LIB_SRC := $(foreach d,$(LAYERS),$(wildcard $(d)/*.c))
CMD_SRC := $(wildcard cmd/*.c)
TEST_SRC := $(wildcard tests/unit/check_*.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
SUITES  := $(patsubst tests/unit/check_%.c,%,$(TEST_SRC))

# --- objects for one build flavour ($1 = object dir) ----------------------
lib_objs = $(patsubst %.c,$(1)/%.o,$(LIB_SRC)) $(patsubst $(BUILD)/gen/%.c,$(1)/gen/%.o,$(GEN_C))

OBJ      := $(BUILD)/obj
ASAN     := $(BUILD)/asan
LIB_OBJ  := $(call lib_objs,$(OBJ))
ASAN_OBJ := $(call lib_objs,$(ASAN))

all: flint

# --- generated code --------------------------------------------------------
$(BUILD)/gen/%.c: %.re
	@mkdir -p $(dir $@)
	@echo "  RE2C  $<"
	$(Q)re2c -W --no-generation-date -o $@ $<

$(BUILD)/gen/%.c $(BUILD)/gen/%.h: %.y
	@mkdir -p $(dir $@)
	@echo "  LEMON $<"
	$(Q)lemon -q -d$(dir $@) -T/usr/share/lemon/lempar.c $< && touch $(basename $@).c $(basename $@).h

$(BUILD)/gen/web/ui_assets.c: $(UI_FILES) scripts/ui-embed.sh
	@mkdir -p $(dir $@)
	@echo "  EMBED web/ui"
	$(Q)scripts/ui-embed.sh $@ $(UI_FILES)

# Every object may include generated headers.
$(LIB_OBJ) $(ASAN_OBJ): | $(GEN_H)

# --- normal build ---------------------------------------------------------
$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(OBJ)/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	$(Q)$(CC) $(ALL_CFLAGS) -Wno-unused-parameter -Wno-unused-variable -I$(dir $<) -I$(dir $*) -c -o $@ $<

$(BUILD)/libflint.a: $(LIB_OBJ)
	@echo "  AR    $@"
	$(Q)rm -f $@ && ar rcs $@ $^

flint: $(patsubst %.c,$(OBJ)/%.o,$(CMD_SRC)) $(BUILD)/libflint.a
	@echo "  LINK  $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# --- unit tests (Check) -----------------------------------------------------
$(BUILD)/gen/suites.h: $(TEST_SRC)
	@mkdir -p $(dir $@)
	$(Q)printf '%s\n' $(foreach s,$(SUITES),"SUITE($(s))") > $@.tmp && \
	  (cmp -s $@.tmp $@ || mv $@.tmp $@) && rm -f $@.tmp

$(OBJ)/tests/unit/main.o $(ASAN)/tests/unit/main.o: $(BUILD)/gen/suites.h

TEST_OBJ = $(patsubst %.c,$(1)/%.o,$(TEST_SRC) tests/unit/main.c tests/unit/testutil.c)

$(BUILD)/check_flint: $(call TEST_OBJ,$(OBJ)) $(BUILD)/libflint.a
	@echo "  LINK  $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# --- ASan + UBSan flavour -----------------------------------------------------
ASAN_FLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

$(ASAN)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $< (asan)"
	$(Q)$(CC) $(CFLAGS_BASE) $(ASAN_FLAGS) -c -o $@ $<

$(ASAN)/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	@echo "  CC    $< (asan)"
	$(Q)$(CC) $(CFLAGS_BASE) $(ASAN_FLAGS) -Wno-unused-parameter -Wno-unused-variable -I$(dir $<) -I$(dir $*) -c -o $@ $<

$(BUILD)/libflint-asan.a: $(ASAN_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/check_flint_asan: $(call TEST_OBJ,$(ASAN)) $(BUILD)/libflint-asan.a
	@echo "  LINK  $@"
	$(Q)$(CC) $(CFLAGS_BASE) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/flint-asan: $(patsubst %.c,$(ASAN)/%.o,$(CMD_SRC)) $(BUILD)/libflint-asan.a
	$(Q)$(CC) $(CFLAGS_BASE) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS)

# --- fuzz targets (clang libFuzzer) -------------------------------------------
FUZZ      := $(BUILD)/fuzz
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
FUZZ_OBJ  := $(call lib_objs,$(FUZZ))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(FUZZ)/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 30

$(FUZZ_OBJ): | $(GEN_H)
$(FUZZ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)clang $(CFLAGS_BASE) $(FUZZ_FLAGS) -c -o $@ $<
$(FUZZ)/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(Q)clang $(CFLAGS_BASE) $(FUZZ_FLAGS) -Wno-unused-parameter -Wno-unused-variable -Wno-unused-but-set-variable -I$(dir $<) -I$(dir $*) -c -o $@ $<
$(FUZZ)/libflint-fuzz.a: $(FUZZ_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^
$(FUZZ)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ)/libflint-fuzz.a
	@echo "  FUZZ  $@"
	$(Q)clang $(CFLAGS_BASE) -O1 -g -fsanitize=fuzzer,address,undefined -o $@ $(filter-out %.h,$^) $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: deps-test fuzz-build
	$(Q)scripts/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

# --- entry points --------------------------------------------------------------
deps:
	$(Q)scripts/deps.sh build
deps-test:
	$(Q)scripts/deps.sh test
deps-bench:
	$(Q)scripts/deps.sh bench

RUN_ARGS ?=
run: deps
	$(Q)$(MAKE) --no-print-directory flint
	./flint server $(RUN_ARGS)

unit: $(BUILD)/check_flint
	$(Q)CK_FORK=yes $(BUILD)/check_flint

asan: deps-test
	$(Q)$(MAKE) --no-print-directory $(BUILD)/check_flint_asan
	$(Q)CK_FORK=yes ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/check_flint_asan

crash: flint $(BUILD)/crashwriter
	$(Q)tests/crash/run.sh $(CRASH_RUNS)

CRASH_RUNS ?= 60
$(BUILD)/crashwriter: $(OBJ)/tests/crash/crashwriter.o $(BUILD)/libflint.a
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

# The whole suite; the last lines are the totals of every Check run.
test: deps-test
	$(Q)$(MAKE) --no-print-directory flint $(BUILD)/check_flint $(BUILD)/crashwriter $(BUILD)/promql-runner $(BUILD)/apiserver
	$(Q)scripts/test.sh

bench: deps-bench flint
	$(Q)bench/run.sh

clean:
	rm -rf $(BUILD) flint

.PHONY: all run test unit asan crash fuzz fuzz-build bench clean deps deps-test deps-bench

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)

# --- benchmark programs: bench/<name>.c -> build/bench/<name> ----------------
BENCH_SRC  := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
$(BUILD)/bench/%: bench/%.c $(BUILD)/libflint.a
	@mkdir -p $(dir $@)
	@echo "  LINK  $@"
	$(Q)$(CC) $(ALL_CFLAGS) -O3 -o $@ $(filter-out %.h,$^) $(LDLIBS)
bench-build: $(BENCH_BINS)

# --- PromQL conformance: tests/promql/runner.c -> build/promql-runner ---------
# Runs Prometheus' PromQL test files ($PROMQL_TESTS_DIR, default
# ../shared/promql-tests) and fails when fewer evals pass than
# tests/promql/FLOOR says.
$(BUILD)/promql-runner: $(OBJ)/tests/promql/runner.o $(BUILD)/libflint.a
	@echo "  LINK  $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

conformance: $(BUILD)/promql-runner
	$(Q)$(BUILD)/promql-runner --floor $$(cat tests/promql/FLOOR)

.PHONY: conformance

# --- HTTP API end-to-end test: tests/web/apiserver.c + tests/web/api_test.py ---
$(BUILD)/apiserver: $(OBJ)/tests/web/apiserver.o $(BUILD)/libflint.a
	@echo "  LINK  $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

webtest: $(BUILD)/apiserver
	$(Q)timeout 300 python3 tests/web/api_test.py $(BUILD)/apiserver

.PHONY: webtest

# --- ThreadSanitizer: the concurrent tests (clang -fsanitize=thread) ---------
# `make tsan` builds the library, the Check runner and tests/web/apiserver
# with TSan and runs scripts/tsan.sh: the web and head suites (queries,
# label scans, /federate, /metrics while appending; concurrent head
# readers/writers) and api_test.py's concurrent checks against
# build/apiserver_tsan. Summary line: "tsan: N passed, N failed" where
# every race report counts as a failure.
TSAN       := $(BUILD)/tsan
TSAN_FLAGS := -O1 -g -fsanitize=thread -fno-omit-frame-pointer
# clang-only warning some test tables trip (adjacent literals on purpose)
TSAN_WNO   := -Wno-string-concatenation
TSAN_OBJ   := $(call lib_objs,$(TSAN))

$(TSAN_OBJ): | $(GEN_H)
$(TSAN)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC    $< (tsan)"
	$(Q)clang $(CFLAGS_BASE) $(TSAN_FLAGS) $(TSAN_WNO) -c -o $@ $<
$(TSAN)/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(Q)clang $(CFLAGS_BASE) $(TSAN_FLAGS) -Wno-unused-parameter -Wno-unused-variable -Wno-unused-but-set-variable -I$(dir $<) -I$(dir $*) -c -o $@ $<
$(BUILD)/libflint-tsan.a: $(TSAN_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^
$(TSAN)/tests/unit/main.o: $(BUILD)/gen/suites.h
$(BUILD)/check_flint_tsan: $(call TEST_OBJ,$(TSAN)) $(BUILD)/libflint-tsan.a
	@echo "  LINK  $@"
	$(Q)clang $(CFLAGS_BASE) $(TSAN_FLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/apiserver_tsan: $(TSAN)/tests/web/apiserver.o $(BUILD)/libflint-tsan.a
	@echo "  LINK  $@"
	$(Q)clang $(CFLAGS_BASE) $(TSAN_FLAGS) -o $@ $^ $(LDLIBS)

tsan: deps-test
	$(Q)$(MAKE) --no-print-directory $(BUILD)/check_flint_tsan $(BUILD)/apiserver_tsan
	$(Q)scripts/tsan.sh

.PHONY: tsan
