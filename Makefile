# strata — one Makefile for the library, the CLI, the tests and the benchmarks.
#
#   make          build bin/strata (warning-free with -Wall -Wextra)
#   make test     install missing Debian packages, build, run the whole test suite with prove
#   make bench    run the benchmarks in bench/
#   make docs     regenerate the reference docs from the key tables the parser uses
#   make test-asan  the suite again, built with AddressSanitizer + UBSan (docs/testing.md)
#   make fuzz     build the libFuzzer harnesses of tests/fuzz/ and run each FUZZ_SECONDS (60)
#
# Dependencies come from Debian packages (scripts/install-deps.sh): Open MPI, BLIS (OpenMP
# build), parallel HDF5, cJSON, cmocka, protobuf-c (ONNX export).

CC        := mpicc
BLIS_INC  := /usr/include/x86_64-linux-gnu/blis-openmp
PKGS      := hdf5-openmpi libcjson sndfile samplerate fftw3 libprotobuf-c
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS   ?= -O3 -g
CFLAGS   += -std=c17 -Wall -Wextra -fopenmp -fno-math-errno -MMD -MP -D_GNU_SOURCE
CPPFLAGS += -I. -Icore -isystem $(BUILD)/gen -isystem $(BLIS_INC) $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lblis -lz -lm

BUILD    := build
LIB_DIRS := core core/layers sharding mpi jobs slurm
LIB_SRC  := $(wildcard $(addsuffix /*.c,$(LIB_DIRS)))
# `strata export --format onnx` (jobs/onnx_*.c) writes ModelProto messages with protobuf-c code
# generated from the onnx.proto Debian ships (libonnx-dev) into build/gen/.
ONNX_PROTO := /usr/include/onnx/onnx.proto
ONNX_GEN   := $(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/onnx.pb-c.o
LIB      := $(BUILD)/libstrata.a
# The command line (cli/) is not part of the library: tests and benchmarks link libstrata.a only.
CLI_SRC  := $(wildcard cli/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)

# tests/util/mpi_count.c is an MPI profiling shim loaded with LD_PRELOAD (tests/test_collectives.sh),
# not linked into the tests.
TEST_UTIL_SRC := $(filter-out tests/util/mpi_count.c,$(wildcard tests/util/*.c))
MPI_COUNT_SO  := $(BUILD)/tests/libmpi_count.so
TEST_UTIL_OBJ := $(TEST_UTIL_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(wildcard tests/test_*.c)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# MPI test programs (tests/mpi_*.c) are run by the tests/test_mpi_*.sh wrappers under mpirun.
MPI_TEST_SRC := $(wildcard tests/mpi_*.c)
MPI_TEST_BIN := $(MPI_TEST_SRC:tests/%.c=$(BUILD)/tests/%)

# tests/test_simd.sh: the files with ST_CLONES kernels (core/simd.h) built again without clones
# (baseline) and for AVX2 only, each linked into a copy of tests/simd_digest.c, whose output
# must not change.
SIMD_SRC := $(shell grep -l ST_CLONES $(LIB_SRC))
SIMD_BIN := $(BUILD)/tests/simd_digest $(BUILD)/tests/simd_digest_baseline $(BUILD)/tests/simd_digest_avx2

BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: all probe test test-asan fuzz deps bench bench-net docs clean
all: probe bin/strata

probe:
	@command -v $(CC) >/dev/null || { echo "make: $(CC) not found: run scripts/install-deps.sh (Open MPI)"; exit 1; }
	@for p in $(PKGS); do pkg-config --exists $$p || { echo "make: pkg-config module $$p not found: run scripts/install-deps.sh"; exit 1; }; done
	@test -f $(BLIS_INC)/blis.h || { echo "make: $(BLIS_INC)/blis.h not found: run scripts/install-deps.sh (libblis-openmp-dev)"; exit 1; }
	@test -f $(ONNX_PROTO) || { echo "make: $(ONNX_PROTO) not found: run scripts/install-deps.sh (libonnx-dev)"; exit 1; }
	@command -v protoc-c >/dev/null || { echo "make: protoc-c not found: run scripts/install-deps.sh (protobuf-c-compiler)"; exit 1; }

$(ONNX_GEN) &: $(ONNX_PROTO)
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=$(dir $(ONNX_PROTO)) --c_out=$(BUILD)/gen $(notdir $(ONNX_PROTO))

$(BUILD)/gen/onnx.pb-c.o: $(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@


$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/cli/cmd_train.o $(BUILD)/cli/cmd_eval.o: CPPFLAGS += -DSTRATA_COMMIT=\"$(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)\"

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

bin/strata: $(CLI_OBJ) $(LIB)
	@mkdir -p bin
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/%.o: CPPFLAGS += -Itests/util
$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TEST_UTIL_OBJ) $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lcmocka

$(MPI_COUNT_SO): tests/util/mpi_count.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -shared $< -o $@

$(BUILD)/simd-baseline/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DST_NO_CLONES $(CFLAGS) -c $< -o $@

$(BUILD)/simd-avx2/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DST_CLONES_TARGET='"avx2"' $(CFLAGS) -c $< -o $@

$(BUILD)/tests/simd_digest_baseline: $(BUILD)/tests/simd_digest.o $(SIMD_SRC:%.c=$(BUILD)/simd-baseline/%.o) $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/simd_digest_avx2: $(BUILD)/tests/simd_digest.o $(SIMD_SRC:%.c=$(BUILD)/simd-avx2/%.o) $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(LIB)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

deps:
	@scripts/install-deps.sh

# The whole suite: every tests/test_*.c is a cmocka program printing TAP, run by prove.
# tests/*.sh are TAP-printing scripts (CLI and MPI tests).
test: deps
	@$(MAKE) --no-print-directory all $(TEST_BIN) $(MPI_TEST_BIN) $(SIMD_BIN) $(MPI_COUNT_SO) $(BUILD)/bench/bench_seq \
	  $(BUILD)/bench/net_relay $(BUILD)/bench/mpi_pingpong
	CMOCKA_MESSAGE_OUTPUT=TAP prove --exec '' --timer $(TEST_BIN) $(filter-out $(TEST_SKIP),$(wildcard tests/*.sh))

# The same suite built with AddressSanitizer + UndefinedBehaviorSanitizer, in a copy of the tree
# (build/asan-tree: the tests call bin/strata and build/tests/... by relative path). CFLAGS comes
# from the environment so the Makefile's own flags are kept. Every report goes to a file under
# build/asan-logs instead of stderr, and any such file fails the target: a test that expects a
# non-zero exit cannot hide a sanitizer abort. The Slurm tests are skipped (the fake nodes' jobs
# do not inherit the sanitizer settings). tests/asan/lsan.supp says why each leak is suppressed.
# "Tracer caught signal 11 ... LeakSanitizer has encountered a fatal error" is LSan's own
# stop-the-world tracer crashing at exit (google/sanitizers#1170): seen in the test programs that
# start MPI as a singleton (test_dataset, test_lengths_data, test_sequence_targets) in two full
# runs on a loaded machine, never when run alone; tests/asan/rerun_tracer_crashes.sh runs such
# programs again and fails on anything else.
ASAN_TREE  := $(BUILD)/asan-tree
ASAN_LOGS  := $(CURDIR)/$(BUILD)/asan-logs
ASAN_SKIP  := tests/test_slurm_cluster.sh tests/test_slurm_e2e.sh
test-asan: deps
	@mkdir -p $(ASAN_TREE) && rm -rf $(ASAN_LOGS) && mkdir -p $(ASAN_LOGS)
	@tar -c --exclude=./build --exclude=./bin --exclude=./data --exclude=./results --exclude=./.git . | tar -x -C $(ASAN_TREE)
	@mkdir -p $(ASAN_TREE)/results
	cd $(ASAN_TREE) && \
	  export ASAN_OPTIONS="log_path=$(ASAN_LOGS)/asan:log_exe_name=1:halt_on_error=1:detect_leaks=1:fast_unwind_on_malloc=0:verify_asan_link_order=0" \
	  LSAN_OPTIONS="suppressions=$(CURDIR)/tests/asan/lsan.supp:print_suppressions=0" \
	  UBSAN_OPTIONS="log_path=$(ASAN_LOGS)/ubsan:log_exe_name=1:halt_on_error=1:print_stacktrace=1" && \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
	  $(MAKE) --no-print-directory test TEST_SKIP="$(ASAN_SKIP)"; rc=$$?; \
	  tests/asan/rerun_tracer_crashes.sh $(ASAN_LOGS) || exit 1; \
	  echo "test-asan: no sanitizer reports (skipped: $(ASAN_SKIP))"; exit $$rc

# Fuzzing (docs/testing.md): libFuzzer harnesses tests/fuzz/fuzz_<name>.c over the library built
# again with clang (Open MPI's wrapper, OMPI_CC=clang), AddressSanitizer and UBSan, in
# build/fuzz/. -DST_CKPT_NO_INTEGRITY lets the checkpoint harness reach the reader behind the
# file's integrity check; clang's -Wmissing-field-initializers also flags designated initialisers
# that leave fields to zero on purpose (GCC does not), so it is off here. Each runs FUZZ_SECONDS from the committed seeds (tests/fuzz/corpus/<name>)
# plus what earlier runs found (build/fuzz/corpus/<name>); crashes land in build/fuzz/crashes/<name>/.
# The packages it needs (clang's libFuzzer) are in tests/fuzz/packages.txt, installed by tests/fuzz/deps.sh.
FUZZ_SECONDS ?= 60
# More libFuzzer flags, e.g. FUZZ_NAMES=dataset FUZZ_FLAGS="-fork=1 -ignore_crashes=1" to go on
# past a known crash, or -malloc_limit_mb=N.
FUZZ_FLAGS   ?=
FUZZ_NAMES   ?= config csv idx dataset ckpt
FUZZ_BIN     := $(FUZZ_NAMES:%=$(BUILD)/fuzz/fuzz_%)
FUZZ_CFLAGS  := -O1 -g -std=c17 -Wall -Wextra -Wno-missing-field-initializers -fopenmp -fno-math-errno -MMD -MP -D_GNU_SOURCE \
                -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
                -DST_NO_CLONES -DST_CKPT_NO_INTEGRITY
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/fuzz/obj/%.o)

$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	OMPI_CC=clang $(CC) $(CPPFLAGS) -Itests/fuzz $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(BUILD)/fuzz/libstrata.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/obj/tests/fuzz/fuzz_%.o $(BUILD)/fuzz/libstrata.a
	OMPI_CC=clang $(CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

fuzz: probe
	@tests/fuzz/deps.sh
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@fail=0; for h in $(FUZZ_NAMES); do \
	  mkdir -p $(BUILD)/fuzz/corpus/$$h $(BUILD)/fuzz/crashes/$$h; \
	  echo "== fuzz_$$h: $(FUZZ_SECONDS) s"; \
	  OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1 $(BUILD)/fuzz/fuzz_$$h -max_total_time=$(FUZZ_SECONDS) \
	    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 $(FUZZ_FLAGS) \
	    -artifact_prefix=$(BUILD)/fuzz/crashes/$$h/ $(BUILD)/fuzz/corpus/$$h tests/fuzz/corpus/$$h \
	    > $(BUILD)/fuzz/$$h.log 2>&1 || fail=1; \
	  grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::number_of_executed_units|^==[0-9]+==ERROR|^SUMMARY|Test unit written' $(BUILD)/fuzz/$$h.log; \
	  grep -E '^#[0-9]+: cov' $(BUILD)/fuzz/$$h.log | tail -n 1; \
	done; \
	if [ $$fail != 0 ]; then echo "fuzz: a harness failed; logs in $(BUILD)/fuzz/*.log, inputs in $(BUILD)/fuzz/crashes/"; exit 1; fi

# Benchmarks are build/bench/bench_* and bench/*.sh; other bench/*.c programs are helpers the
# scripts run (bench/mpi_empty.c: the MPI start-up reference of bench_startup.sh). Each writes
# build/bench/<name>.json; bench/summary.sh, last, tabulates this run's against the targets.
# build/bench/bench_seq needs a model and is run by bench/bench_seq.sh (A, B, C × 1, 2 threads).
bench: all $(BENCH_BIN)
	@rm -f $(BUILD)/bench/*.json
	@for b in $(filter-out $(BUILD)/bench/bench_seq,$(filter $(BUILD)/bench/bench_%,$(BENCH_BIN))) $(filter-out bench/summary.sh bench/bench_net.sh,$(wildcard bench/*.sh)) bench/summary.sh; do echo "== $$b"; $$b || exit 1; done

# The all-reduce and training over network namespaces at 2 and 4 hosts and several link rates
# (slurm/netns.sh, docs/scaling.md): a few minutes, so not part of `make bench`.
bench-net: all $(BUILD)/bench/bench_allreduce $(BUILD)/bench/mpi_pingpong $(BUILD)/bench/net_relay
	bench/bench_net.sh

docs: bin/strata
	bin/strata help reference --markdown > docs/reference.md

clean:
	rm -rf $(BUILD) bin

# Every library object waits for the generated header (jobs/onnx_*.c include it).
$(LIB_SRC:%.c=$(BUILD)/%.o) $(FUZZ_LIB_OBJ) $(CLI_OBJ): | $(BUILD)/gen/onnx.pb-c.h

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
