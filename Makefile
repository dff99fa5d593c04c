# patchgrad's build. `make` builds everything; `make test` builds and runs the test suite.
#
# Knobs (make KNOB=value), each building into its own object tree so they never mix:
#   CXX=g++     the compiler: g++ (12 or newer), clang++ (14 or newer, with libomp-dev for OpenMP), g++-14,
#               aarch64-linux-gnu-g++...; Apple's clang++ is the default on macOS
#   ARCH=native -march=ARCH, the instruction set to compile for: native (this machine's), x86-64-v3 (AVX2 +
#               FMA, a typical laptop), x86-64-v2 (SSE4.2, any x86-64 since about 2011), armv8-a (64-bit
#               ARM)...; NATIVE=0 is the older spelling of ARCH=x86-64-v2
#   OPT=-O3     the optimisation level
#   OMP=1       OpenMP threads (OMP=0: a serial build, same results)
#   WERROR=0    WERROR=1 turns warnings into errors (CI)
#   SAN=0       SAN=1 builds with AddressSanitizer + UndefinedBehaviorSanitizer (what `make sanitize` does)
#
# The default build's objects go to build/release/ and its programs straight into build/. Any other build
# is named by what differs from it (sanitize, the arch, the optimisation level, noomp, the compiler), and
# its objects and programs go to build/<that name>/: `make CXX=clang++ ARCH=x86-64-v3 test` builds and runs
# build/x86-64-v3-clang/tests. Every library source is compiled twice: as float32 (training) and as float64
# (gradient checks), each in its own inline namespace (core/scalar.h), into <tree>/f32 and <tree>/f64.
# docs/building.md lists the toolchains the suite was run with, and how long each took.
#
# Targets: all (default), test, sanitize, test-aarch64 (the suite cross-compiled for 64-bit ARM and run
# under QEMU: not part of `make test` or CI), gradcheck, bench, data, train (the main job), train-swin, train-mnist,
# figures, reliability, exercise NAME=... and exercises (docs/exercises.md), compile_commands.json, fuzz
# (coverage-guided fuzzing of every file parser with clang's libFuzzer: FUZZ_SECONDS=60 per fuzzer,
# FUZZER=name for one; not part of `make test`), clean, help.

# Every core by default: `make test` on a fresh clone compiles all files in parallel (make -jN overrides).
# Only in the first make: one started by a recipe (make sanitize, make test-aarch64) shares its job slots.
ifeq ($(MAKELEVEL)$(filter -j%,$(MAKEFLAGS)),0)
  MAKEFLAGS += -j$(shell nproc 2>/dev/null || sysctl -n hw.ncpu 2>/dev/null || echo 2)
endif

OPT    ?= -O3
OMP    ?= 1
NATIVE ?= 1
ARCH   ?= $(if $(filter 0,$(NATIVE)),x86-64-v2,native)
WERROR ?= 0
SAN    ?= 0

# The compiler: g++ unless one is given (make's built-in default for CXX does not count), clang++ on macOS,
# where g++ is Apple's clang under another name. COMPILER names it in the tree: clang++ -> clang,
# g++-14 -> gcc-14, aarch64-linux-gnu-g++ -> aarch64-linux-gnu-gcc; plain g++ (gcc) is the default build.
UNAME := $(shell uname -s)
ifeq ($(origin CXX),default)
  CXX := $(if $(filter Darwin,$(UNAME)),clang++,g++)
endif
COMPILER := $(subst g++,gcc,$(subst clang++,clang,$(notdir $(firstword $(CXX)))))
IS_CLANG := $(findstring clang,$(shell $(CXX) --version 2>/dev/null))

# -fno-trapping-math: no code here reads or traps on floating-point exception flags, so the compiler may
# compute both sides of a select between floats. Without it GCC keeps fast_exp's clamp (core/ops/fast_math.h)
# scalar wherever vectors have no masks (AVX2, NEON), and GELU and softmax run one number at a time there.
# It changes no result: every operation still rounds as written (docs/performance.md, "What each change
# bought"). Clang assumes it already.
CXXFLAGS := -std=c++20 -Wall -Wextra -MMD -MP -I. $(OPT) -fno-trapping-math
LDFLAGS  :=
OMP_CXXFLAGS := -fopenmp
OMP_LDFLAGS  := -fopenmp
DOCTEST_HEADER  := /usr/include/doctest/doctest.h
DOCTEST_INSTALL := sudo apt-get install doctest-dev

# macOS (docs/building.md; not tested on this project's machines): Apple's clang takes OpenMP through its
# preprocessor, from Homebrew's libomp (brew install libomp), and doctest is Homebrew's too. Apple's clang
# already compiles for the chip it runs on, and older versions reject -march=native on Apple silicon.
ifeq ($(UNAME),Darwin)
  BREW := $(shell brew --prefix 2>/dev/null)
  CXXFLAGS += -I$(BREW)/include
  DOCTEST_HEADER  := $(BREW)/include/doctest/doctest.h
  DOCTEST_INSTALL := brew install doctest
  ifneq ($(IS_CLANG),)
    LIBOMP   := $(shell brew --prefix libomp 2>/dev/null)
    OMP_CXXFLAGS := -Xpreprocessor -fopenmp -I$(LIBOMP)/include
    OMP_LDFLAGS  := -L$(LIBOMP)/lib -lomp
  endif
  ifeq ($(ARCH)-$(shell uname -m),native-arm64)
    ARCH_FLAGS :=
  endif
endif
ARCH_FLAGS ?= -march=$(ARCH)
CXXFLAGS   += $(ARCH_FLAGS)

# The object tree's name (see the top of this file): release, or sanitize, or the arch when it is not
# native; then whatever else differs from the default build.
empty :=
space := $(empty) $(empty)
VARIANT_TAGS := $(if $(filter 1,$(SAN)),sanitize $(filter-out native,$(ARCH)),$(patsubst native,release,$(ARCH))) \
                $(subst -,,$(subst $(space),,$(filter-out -O3,$(OPT)))) $(if $(filter 0,$(OMP)),noomp) \
                $(filter-out gcc,$(COMPILER))
VARIANT := $(subst $(space),-,$(strip $(VARIANT_TAGS)))

ifeq ($(OMP),1)
  CXXFLAGS += $(OMP_CXXFLAGS)
  LDFLAGS  += $(OMP_LDFLAGS)
else
  CXXFLAGS += -Wno-unknown-pragmas
endif
ifeq ($(SAN),1)
  CXXFLAGS := $(filter-out -O%,$(CXXFLAGS)) -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
  LDFLAGS  += -fsanitize=address,undefined
  # With ASan at -O1, GCC 12 warns falsely inside libstdc++ (std::function as <regex> builds its
  # automaton); the release build keeps the warning. Clang has no such warning (and would reject its name).
  ifeq ($(IS_CLANG),)
    CXXFLAGS += -Wno-maybe-uninitialized
  endif
endif
ifeq ($(WERROR),1)
  CXXFLAGS += -Werror
endif

OBJ := build/$(VARIANT)
ifeq ($(VARIANT),release)
  BIN := build
else
  BIN := build/$(VARIANT)
endif

LIB_SRCS   := $(wildcard core/*.cpp core/ops/*.cpp core/io/*.cpp nn/*.cpp optim/*.cpp datasets/*.cpp)
# The command line's pieces (examples/cli/*.cpp but main.cpp) are linked into the tests too, so the
# training loop and the flag parser are tested as the program runs them.
CLI_SRCS   := $(filter-out examples/cli/main.cpp,$(wildcard examples/cli/*.cpp))
EXAMPLES   := $(patsubst examples/%.cpp,$(BIN)/examples/%,$(wildcard examples/*.cpp))
# tests/*.cpp check the float64 flavour (gradient checks need it); tests/f32/*.cpp the float32 one, with
# the fuzzers' bodies (tests/fuzz/targets.cpp), which replay the fuzzers' regressions.
TEST_SRCS_F64 := $(wildcard tests/*.cpp)
TEST_SRCS_F32 := $(wildcard tests/f32/*.cpp) tests/fuzz/targets.cpp

LIB_F32 := $(OBJ)/libpatchgrad_f32.a
LIB_F64 := $(OBJ)/libpatchgrad_f64.a
# The gradient-check catalogue and its table (examples/gradcheck/): test tooling, not a layer of the library.
# Built in both flavours like the library, because `patchgrad gradcheck` runs float64 checks from a float32
# program; its archives come before the library's on a link line.
GRADCHECK_SRCS := $(wildcard examples/gradcheck/*.cpp)
GRADCHECK_F32  := $(OBJ)/libgradcheck_f32.a
GRADCHECK_F64  := $(OBJ)/libgradcheck_f64.a
f32_objs = $(patsubst %.cpp,$(OBJ)/f32/%.o,$(1))
f64_objs = $(patsubst %.cpp,$(OBJ)/f64/%.o,$(1))

.PHONY: all test sanitize bench data clean help gradcheck exercise exercises ensure-ctags compile_commands.json
all: $(LIB_F32) $(LIB_F64) $(BIN)/patchgrad $(EXAMPLES)

# Each tree keeps the compile line its objects were built with in $(OBJ)/compile-flags, rewritten only when
# the line changes: a new flag in this Makefile, or ARCH_FLAGS=... given to an existing tree, recompiles the
# tree instead of linking old objects with new ones. -Werror changes no object and is left out of it.
FLAGS_STAMP  := $(OBJ)/compile-flags
COMPILE_LINE := $(CXX) $(filter-out -Werror,$(CXXFLAGS))
$(shell mkdir -p $(OBJ) && [ "$$(cat $(FLAGS_STAMP) 2>/dev/null)" = '$(COMPILE_LINE)' ] || \
        printf '%s\n' '$(COMPILE_LINE)' > $(FLAGS_STAMP))

$(OBJ)/f32/%.o: %.cpp $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c $< -o $@
$(OBJ)/f64/%.o: %.cpp $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -DPATCHGRAD_FLOAT64 -c $< -o $@

$(LIB_F32): $(call f32_objs,$(LIB_SRCS))
	@rm -f $@
	ar rcs $@ $^
$(LIB_F64): $(call f64_objs,$(LIB_SRCS))
	@rm -f $@
	ar rcs $@ $^
$(GRADCHECK_F32): $(call f32_objs,$(GRADCHECK_SRCS))
	@rm -f $@
	ar rcs $@ $^
$(GRADCHECK_F64): $(call f64_objs,$(GRADCHECK_SRCS))
	@rm -f $@
	ar rcs $@ $^

# The command line: float32 for training, plus the float64 library for `patchgrad gradcheck`.
$(BIN)/patchgrad: $(call f32_objs,examples/cli/main.cpp $(CLI_SRCS)) $(GRADCHECK_F32) $(GRADCHECK_F64) $(LIB_F32) $(LIB_F64)
	@mkdir -p $(dir $@)
	$(CXX) $^ -o $@ $(LDFLAGS)

$(BIN)/examples/%: $(OBJ)/f32/examples/%.o $(LIB_F32)
	@mkdir -p $(dir $@)
	$(CXX) $^ -o $@ $(LDFLAGS)
# An example whose name ends in _f64 is built in the float64 flavour (a gradient check needs it).
$(BIN)/examples/%_f64: $(OBJ)/f64/examples/%_f64.o $(GRADCHECK_F64) $(LIB_F64)
	@mkdir -p $(dir $@)
	$(CXX) $^ -o $@ $(LDFLAGS)

# doctest is the one test dependency: installed with apt when we can (root on Debian), else explained.
$(DOCTEST_HEADER):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "doctest is missing: installing Debian's doctest-dev"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq doctest-dev >/dev/null; \
	else \
	  echo "make: doctest is missing ($(DOCTEST_HEADER)); install it with: $(DOCTEST_INSTALL)" >&2; \
	  exit 1; \
	fi

# Graded exercises (docs/exercises.md): examples/exercises/NAME.cpp is the learner's file; its grader is
# examples/exercises/grading/NAME.cpp; both build in float64 into the program $(BIN)/exercises/NAME. The
# reference solutions, tests/exercises/solutions/*.cpp, are linked into the tests only.
EXERCISES      := $(patsubst examples/exercises/%.cpp,%,$(wildcard examples/exercises/*.cpp))
GRADING_OBJS   := $(call f64_objs,$(wildcard examples/exercises/grading/*.cpp))
SOLUTION_OBJS  := $(call f64_objs,$(wildcard tests/exercises/solutions/*.cpp))
EXERCISE_PROGS := $(patsubst %,$(BIN)/exercises/%,$(EXERCISES))

# A skeleton's parameters are unused until the learner writes the body.
$(patsubst %,$(OBJ)/f64/examples/exercises/%.o,$(EXERCISES)): CXXFLAGS += -Wno-unused-parameter
$(BIN)/exercises/%: $(OBJ)/f64/examples/exercises/%.o $(GRADING_OBJS) $(LIB_F64)
	@mkdir -p $(dir $@)
	$(CXX) $^ -o $@ $(LDFLAGS)

TEST_OBJS := $(call f64_objs,$(TEST_SRCS_F64)) $(call f32_objs,$(TEST_SRCS_F32))
$(TEST_OBJS): | $(DOCTEST_HEADER)

$(BIN)/tests: $(TEST_OBJS) $(call f32_objs,$(CLI_SRCS)) $(GRADING_OBJS) $(SOLUTION_OBJS) $(GRADCHECK_F64) \
              $(GRADCHECK_F32) $(LIB_F64) $(LIB_F32)
	@mkdir -p $(dir $@)
	$(CXX) $^ -o $@ $(LDFLAGS)

# Universal Ctags, for tests/test_tooling.cpp (an editor's indexer must see every definition): a tool of
# the tests, installed with apt like doctest.
# After doctest's install (| $(DOCTEST_HEADER)): two apt-get at once would fight over dpkg's lock.
CTAGS := $(shell command -v ctags 2>/dev/null)
ensure-ctags: | $(DOCTEST_HEADER)
	@if [ -z "$(CTAGS)" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "ctags is missing: installing Debian's universal-ctags"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq universal-ctags >/dev/null; \
	  else \
	    echo "make: ctags is missing; install it with: sudo apt-get install universal-ctags" >&2; exit 1; \
	  fi; \
	fi

# The tests run the untouched exercise programs too (each must say "not started"), from $(BIN)/exercises.
test: all $(BIN)/tests $(EXERCISE_PROGS) | ensure-ctags
	PATCHGRAD_EXERCISES=$(BIN)/exercises $(BIN)/tests
	$(BIN)/examples/custom_op_f64 > /dev/null  # docs/gradcheck.md's example: the planted bug must be caught
	$(BIN)/examples/autograd_by_hand_f64 > /dev/null  # docs/autograd.md's worked example

sanitize:
	$(MAKE) SAN=1 test

# The suite on 64-bit ARM (docs/building.md): the tests and the exercise programs, cross-compiled by Debian's
# aarch64-linux-gnu-g++ for ARCH=armv8-a into their own tree (build/armv8-a-aarch64-linux-gnu-gcc/), run
# under QEMU's user-mode emulator, which runs an ARM program on this machine (-L: where the ARM C and C++
# libraries are). A check that the code is portable (core/gemm.cpp's NEON tile, no x86 assumption), not a
# measurement. Not part of `make test` or CI: about 15 minutes on 2 cores, 11 of them running the tests
# (docs/building.md).
# AARCH64_TESTS holds doctest's filters: by default every test but the two that hold training to a budget
# of a few seconds on the wall clock, which an emulated core, ~30 times slower, cannot keep;
# AARCH64_TESTS= runs those too, AARCH64_TESTS='-tc=gemm*' only the matrix product's tests.
AARCH64_CXX   := aarch64-linux-gnu-g++
AARCH64_QEMU  := qemu-aarch64 -L /usr/aarch64-linux-gnu
AARCH64_TESTS ?= -tce='train --time: a machine slower*,train --time: a real budget*'
.PHONY: test-aarch64 test-emulated
test-aarch64:
	@for tool in $(AARCH64_CXX) qemu-aarch64; do command -v $$tool >/dev/null 2>&1 || { echo "make test-aarch64:" \
	  "$$tool is missing; install it with: sudo apt-get install g++-aarch64-linux-gnu qemu-user" >&2; exit 1; }; done
	@$(MAKE) --no-print-directory CXX=$(AARCH64_CXX) ARCH=armv8-a EMULATOR="$(AARCH64_QEMU)" test-emulated

# A cross-compiled build's suite, run under $(EMULATOR); the exercise programs the tests start run under it
# too (PATCHGRAD_EMULATOR, tests/test_exercises.cpp).
test-emulated: $(BIN)/tests $(EXERCISE_PROGS) | ensure-ctags
	PATCHGRAD_EXERCISES=$(BIN)/exercises PATCHGRAD_EMULATOR="$(EMULATOR)" $(EMULATOR) $(BIN)/tests $(AARCH64_TESTS)

# Every gradient check of examples/gradcheck/gradcheck_suite.cpp, as a table (the same checks run inside `make test`).
gradcheck: $(BIN)/patchgrad
	$(BIN)/patchgrad gradcheck

# The docs' pictures, docs/img/<topic>.svg, drawn by `patchgrad explain <topic>` from the real patch and
# window functions and Swin-T's config (docs/figures.md), and docs/img/autograd-graph.svg, the graph of
# docs/autograd.md's worked example. tests/f32/test_explain.cpp and tests/test_autograd_by_hand.cpp fail
# when one is out of date.
FIGURES := patches windows shift-mask relative-index merge hierarchy
.PHONY: figures
figures: $(BIN)/patchgrad $(BIN)/examples/autograd_by_hand_f64
	@mkdir -p docs/img
	@for topic in $(FIGURES); do echo "$(BIN)/patchgrad explain $$topic --out docs/img/$$topic.svg"; \
	  $(BIN)/patchgrad explain $$topic --out docs/img/$$topic.svg || exit 1; done
	$(BIN)/examples/autograd_by_hand_f64 --svg docs/img/autograd-graph.svg

# Benchmarks: patchgrad next to its peers in ../shared/bench, one table (tests/bench/bench_all.sh: matmul,
# per-layer and whole-model figures, then the targets, met or not). Knobs: QUICK=1 (a smoke run), REPS,
# THREADS, SHARED, BENCH_AVX2.
$(BIN)/bench_matmul: $(OBJ)/f32/tests/bench/bench_matmul.o $(LIB_F32)
	@mkdir -p $(dir $@)
	$(CXX) $^ -o $@ $(LDFLAGS)

# The attention op alone (docs/attention.md, section 8): `make build/bench_attention`, then run it.
$(BIN)/bench_attention: $(OBJ)/f32/tests/bench/bench_attention.o $(LIB_F32)
	@mkdir -p $(dir $@)
	$(CXX) $^ -o $@ $(LDFLAGS)

# On an x86-64 machine whose build is native, `make bench` also builds the same programs for AVX2 alone
# (ARCH=x86-64-v3, the instruction set of most laptops) and measures both in one run; BENCH_AVX2=0 skips it.
BENCH_AVX2 ?= $(if $(and $(filter x86_64,$(shell uname -m)),$(filter native,$(ARCH))),1,0)
AVX2_BIN   := build/$(subst release,x86-64-v3,$(VARIANT))
bench: $(BIN)/bench_matmul $(BIN)/patchgrad
ifeq ($(BENCH_AVX2),1)
	@$(MAKE) --no-print-directory ARCH=x86-64-v3 $(AVX2_BIN)/bench_matmul $(AVX2_BIN)/patchgrad
	BENCH_MATMUL=$(BIN)/bench_matmul PATCHGRAD=$(BIN)/patchgrad AVX2_BENCH_MATMUL=$(AVX2_BIN)/bench_matmul \
	  AVX2_PATCHGRAD=$(AVX2_BIN)/patchgrad bash tests/bench/bench_all.sh
else
	BENCH_MATMUL=$(BIN)/bench_matmul PATCHGRAD=$(BIN)/patchgrad bash tests/bench/bench_all.sh
endif

# make exercise NAME=softmax_backward [SEED=123]: build the learner's file with its grader and grade it.
# make exercises: every exercise with its status (passed, failing, not started, does not compile).
exercise:
	@if [ -z "$(NAME)" ] || [ ! -f examples/exercises/$(NAME).cpp ]; then \
	  echo "make exercise: NAME must name a file of examples/exercises/, e.g. make exercise NAME=softmax_backward" \
	       "(got '$(NAME)'); make exercises lists them" >&2; exit 2; fi
	@$(MAKE) -s --no-print-directory $(BIN)/exercises/$(NAME)
	@$(BIN)/exercises/$(NAME) $(if $(SEED),--seed $(SEED))

exercises:
	@for name in $(EXERCISES); do \
	  if ! $(MAKE) -s --no-print-directory $(BIN)/exercises/$$name >/dev/null 2>&1; then \
	    echo "-- $$name  DOES NOT COMPILE (make exercise NAME=$$name shows why)"; continue; fi; \
	  about=$$($(BIN)/exercises/$$name --about); $(BIN)/exercises/$$name --quiet; \
	  case $$? in 0) status="passed     ";; 3) status="not started";; *) status="FAILING    ";; esac; \
	  printf '%2s  %s  %s\n' "$${about%% *}" "$$status" "$${about#* }"; \
	done | sort -n

# compile_commands.json: how each source is compiled, for clangd and other editors' indexers (go to
# definition, find references). The library and the command line as float32; tests/*.cpp and the
# exercises as float64, as the build compiles them. COMPILE_COMMANDS=path writes it elsewhere.
COMPILE_COMMANDS ?= compile_commands.json
F64_SRCS := $(TEST_SRCS_F64) $(wildcard examples/exercises/*.cpp examples/exercises/grading/*.cpp \
            tests/exercises/solutions/*.cpp) examples/custom_op_f64.cpp examples/autograd_by_hand_f64.cpp
F32_SRCS := $(LIB_SRCS) $(GRADCHECK_SRCS) $(CLI_SRCS) examples/cli/main.cpp $(TEST_SRCS_F32)
compile_commands.json:
	@{ echo "["; sep=""; \
	  for f in $(F32_SRCS); do printf '%b  {"directory": "%s", "file": "%s", "command": "%s %s -c %s"}' \
	    "$$sep" "$(CURDIR)" "$$f" "$(CXX)" "$(CXXFLAGS)" "$$f"; sep=",\n"; done; \
	  for f in $(F64_SRCS); do printf '%b  {"directory": "%s", "file": "%s", "command": "%s %s -DPATCHGRAD_FLOAT64 -c %s"}' \
	    "$$sep" "$(CURDIR)" "$$f" "$(CXX)" "$(CXXFLAGS)" "$$f"; sep=",\n"; done; \
	  printf '\n]\n'; } > $(COMPILE_COMMANDS)
	@echo "wrote $(COMPILE_COMMANDS) ($(words $(F32_SRCS) $(F64_SRCS)) files)"

clean:
	rm -rf build

help:
	@sed -n '1,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)

# The datasets, into data/ (git-ignored): `make data` downloads them from the official locations;
# `make data DATA_SRC=../shared/data` copies them from a folder holding cifar-10-binary.tar.gz and
# mnist/*.gz. Checksums are verified; a second run does nothing. See docs/data.md.
DATA_SRC ?=
.PHONY: data
data:
	bash datasets/fetch_data.sh data $(DATA_SRC)

# The main job (docs/training.md): the default recipe, the reference tiny ViT on CIFAR-10, into
# runs/default, sized to a time budget: the whole of `make train` (the build and the data included) fits
# TRAIN_TIME seconds (3600), because the training is given `--time` = what is left of it when it starts.
# Fetches the data first when the dataset is missing (`make data`, from DATA_SRC when given). When
# runs/default/last.safetensors exists (a run stopped with Ctrl-C), it resumes it, with the steps its
# budget fixed; `rm -rf runs/default` starts afresh. Extra flags: make train TRAIN_ARGS="--val 5000"; with
# --epochs, --steps or --time among them no budget is added. Not part of `make test`.
# `make train-swin` does the same for the tiny Swin (`--model swin`, its own defaults), into runs/swin,
# in the same TRAIN_TIME. `make train-mnist` does it for the small ViT on MNIST, into runs/mnist, in
# TRAIN_MNIST_TIME seconds (300) counted from the end of the build: a build from a clean clone takes most
# of five minutes itself.
TRAIN_OUT  ?= runs/default
TRAIN_ARGS ?=
TRAIN_TIME ?= 3600
TRAIN_SWIN_OUT   ?= runs/swin
TRAIN_MNIST_OUT  ?= runs/mnist
TRAIN_MNIST_TIME ?= 300
ifneq ($(filter train train-swin,$(MAKECMDGOALS)),)
  TRAIN_START := $(shell date +%s)
endif
# A budgeted run: $(1) its folder, $(2) the seconds it may take, counted from $(3) (seconds since 1970; empty:
# from when this recipe starts), $(4) its flags, $(5) a file of its dataset that `make data` writes.
define budgeted_train
	@start=$(if $(3),$(3),$$(date +%s)); \
	if [ ! -f $(5) ]; then $(MAKE) data DATA_SRC=$(DATA_SRC) || exit 1; fi; \
	if [ -f $(1)/last.safetensors ]; then \
	  echo "$(BIN)/patchgrad train --resume $(1)/last.safetensors $(4)"; \
	  exec $(BIN)/patchgrad train --resume $(1)/last.safetensors $(4); \
	fi; \
	case " $(4) " in \
	  *" --epochs"*|*" --steps"*|*" --time"*) budget="" ;; \
	  *) budget="--time $$(( $(2) - ($$(date +%s) - $$start) ))s" ;; \
	esac; \
	echo "$(BIN)/patchgrad train --out $(1) $$budget $(4)"; \
	exec $(BIN)/patchgrad train --out $(1) $$budget $(4)
endef
.PHONY: train train-swin train-mnist
train: $(BIN)/patchgrad
	$(call budgeted_train,$(TRAIN_OUT),$(TRAIN_TIME),$(TRAIN_START),$(TRAIN_ARGS),data/cifar-10-batches-bin/test_batch.bin)
train-swin: $(BIN)/patchgrad
	$(call budgeted_train,$(TRAIN_SWIN_OUT),$(TRAIN_TIME),$(TRAIN_START),--model swin $(TRAIN_ARGS),data/cifar-10-batches-bin/test_batch.bin)
train-mnist: $(BIN)/patchgrad
	$(call budgeted_train,$(TRAIN_MNIST_OUT),$(TRAIN_MNIST_TIME),,--dataset mnist $(TRAIN_ARGS),data/mnist/t10k-labels-idx1-ubyte)

# Reliability (docs/reliability.md): SIGINT, SIGTERM, SIGKILL and a full disk against `patchgrad train`,
# then a 30-epoch memory soak. Not part of `make test`; about a minute. Uses data/mnist when present.
.PHONY: reliability
reliability: $(BIN)/patchgrad
	PATCHGRAD=$(BIN)/patchgrad bash tests/reliability/kill_and_disk.sh
	PATCHGRAD=$(BIN)/patchgrad bash tests/reliability/soak.sh

# Coverage-guided fuzzing (docs/reliability.md, "Fuzzing"): one libFuzzer program per parser of a file
# patchgrad reads (tests/fuzz/fuzz_NAME.cpp), built with clang++ and AddressSanitizer +
# UndefinedBehaviorSanitizer into build/fuzz/, each run for FUZZ_SECONDS on its corpus
# build/fuzz/corpus/NAME, seeded by tests/fuzz/make_seeds.cpp (with the real datasets' first bytes when
# FUZZ_DATA, data/ by default, holds them). FUZZER=NAME runs one. Exits non-zero when a fuzzer finds
# something; the reproducer is in build/fuzz/artifacts/NAME/, and goes into tests/fuzz/regressions/NAME/
# once fixed. The fuzzers' bodies are tests/fuzz/targets.cpp. A test tool: clang is not needed by any
# other target, and the library is built serial (no OpenMP) for it. Not part of `make test`.
FUZZ_CXX     ?= clang++
FUZZ_SECONDS ?= 60
FUZZER       ?=
FUZZ_DATA    ?= data
FUZZ_DIR     := build/fuzz
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.cpp,%,$(wildcard tests/fuzz/fuzz_*.cpp))
FUZZ_RUN     := $(if $(FUZZER),$(FUZZER),$(FUZZ_NAMES))
FUZZ_FLAGS   := -std=c++20 -I. -g -O1 -fno-omit-frame-pointer -Wno-unknown-pragmas -MMD -MP
FUZZ_SAN     := -fsanitize=address,undefined
FUZZ_OBJS    := $(patsubst %.cpp,$(FUZZ_DIR)/obj/%.o,$(LIB_SRCS) $(CLI_SRCS) $(GRADCHECK_SRCS))
FUZZ_LIB     := $(FUZZ_DIR)/libpatchgrad_fuzz.a

.PHONY: fuzz fuzz-build
fuzz:
	@command -v $(FUZZ_CXX) >/dev/null 2>&1 || { echo "make fuzz: $(FUZZ_CXX) is missing; the fuzzers need" \
	  "clang's libFuzzer: sudo apt-get install clang" >&2; exit 1; }
	@for name in $(FUZZ_RUN); do [ -f tests/fuzz/fuzz_$$name.cpp ] || { echo "make fuzz: no fuzzer" \
	  "'$$name' (FUZZER=one of: $(FUZZ_NAMES))" >&2; exit 2; }; done
	@$(MAKE) --no-print-directory fuzz-build
	$(FUZZ_DIR)/make_seeds $(FUZZ_DIR)/seeds $(FUZZ_DATA)
	FUZZ_DIR=$(FUZZ_DIR) FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/fuzz/run_fuzzers.sh $(FUZZ_RUN)

fuzz-build: $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_RUN)) $(FUZZ_DIR)/make_seeds

# The library's objects carry the coverage instrumentation (fuzzer-no-link); only the fuzzers link
# libFuzzer's main.
$(FUZZ_DIR)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_LIB): $(FUZZ_OBJS)
	@rm -f $@
	ar rcs $@ $^
# Kept (not deleted as intermediate files), so that the next `make fuzz` links without compiling again.
.SECONDARY: $(patsubst %.cpp,$(FUZZ_DIR)/obj/%.o,$(wildcard tests/fuzz/*.cpp))
$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_DIR)/obj/tests/fuzz/targets.o $(FUZZ_LIB)
	$(FUZZ_CXX) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@
$(FUZZ_DIR)/make_seeds: $(FUZZ_DIR)/obj/tests/fuzz/make_seeds.o $(FUZZ_LIB)
	$(FUZZ_CXX) $(FUZZ_SAN) -fsanitize=fuzzer-no-link $^ -o $@

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)
