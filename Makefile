# farm: build farm-image and farm-node (native, and aarch64 with CROSS=1) and
# run the tests.
#
# Targets:
#   make            build build/farm-image
#   make test       build, then run the whole test suite (tests/run)
#   make image      build the example node's image (README, first command)
#   make bench      run the side-by-side benchmarks (bench/): build, flash
#   make fuzz       build the fuzzing targets (clang, libFuzzer, ASan+UBSan,
#                   into build-fuzz/) and run each for FUZZ_TIME seconds
#   make format     reformat every C source and header with clang-format
#   make clean      remove build/
#   make help       this text
#
# Knobs:
#   D=asan          debug build with AddressSanitizer and UBSan (into build-asan/)
#   V=1             show the full compiler command lines
#   TEST=GLOB       run only tests whose path matches GLOB (make test TEST='*fat*')
#   NODE=NAME       node for `make image` (default: see README)
#   FUZZ_TIME=S     seconds each fuzzing target runs in `make fuzz` (default 30)
#   CROSS=0         do not build farm-node for aarch64 (needs gcc-aarch64-linux-gnu
#                   and the arm64 -dev packages that scripts/install-deps installs)

D ?=
V ?= 0
TEST ?=

CC ?= gcc
PKG_CONFIG ?= pkg-config
PKGS := fdisk blkid ext2fs com_err libarchive yaml-0.1 libzstd libxxhash libcrypto libcurl expat

ifeq ($(D),asan)
O := build-asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPTFLAGS := -O1 -g
else
O := build
SANFLAGS :=
OPTFLAGS := -O2 -g
endif

CROSS ?= 1
NODE_PKGS := fdisk blkid libbtrfsutil yaml-0.1 json-c
CROSS_CC := aarch64-linux-gnu-gcc
CROSS_PKG_CONFIG := PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig $(PKG_CONFIG)

CFLAGS_BASE := -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla -Wno-format-truncation \
	-D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Icommon -Ibuilder \
	-ffile-prefix-map=$(CURDIR)=.
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
# libcurl is not linked: builder/curl-dl.c loads it for fetch (dlopen).
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(filter-out libcurl,$(PKGS)) 2>/dev/null)
ALL_CFLAGS := $(CFLAGS_BASE) $(OPTFLAGS) $(SANFLAGS) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(SANFLAGS) $(LDFLAGS)
LIBS := $(PKG_LIBS) -lpthread

ifeq ($(V),1)
Q :=
else
Q := @
endif

# common/jsonq.c is for the programs that link json-c (farm-node, the k3s
# stand-in), not farm-image.
COMMON_SRC := $(filter-out common/jsonq.c,$(wildcard common/*.c))
BUILDER_SRC := $(filter-out builder/main.c,$(wildcard builder/*.c))
UNIT_SRC := $(wildcard tests/unit/test-*.c)
# Each tests/helpers/*.c is a program, but mkarchive-*.c (parts of
# mkarchive, below).
HELPER_SRC := $(filter-out tests/helpers/mkarchive-%.c,$(wildcard tests/helpers/*.c))

COMMON_OBJ := $(COMMON_SRC:%.c=$(O)/%.o)
BUILDER_OBJ := $(BUILDER_SRC:%.c=$(O)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/unit/%)
HELPER_BIN := $(HELPER_SRC:tests/helpers/%.c=$(O)/tests/helpers/%)
# LD_PRELOAD libraries of the tests (tests/helpers/preload/NAME.c -> libNAME.so).
PRELOAD_SO := $(patsubst tests/helpers/preload/%.c,$(O)/tests/helpers/lib%.so,$(wildcard tests/helpers/preload/*.c))

# The k3s stand-in (tests/helpers/standin/): one program of several
# files, for this machine and, as the aarch64 boot test bakes it, for arm64.
STANDIN_SRC := $(wildcard tests/helpers/standin/*.c) common/fileio.c common/util.c common/jsonq.c
STANDIN_PKGS := yaml-0.1 json-c libcrypto
STANDIN_LIBS := $(shell $(PKG_CONFIG) --libs $(STANDIN_PKGS) 2>/dev/null)
STANDIN_CROSS_LIBS := $(shell $(CROSS_PKG_CONFIG) --libs $(STANDIN_PKGS) 2>/dev/null)

# mkarchive (tests/helpers/): one program of several files too,
# mkarchive.c (the command) and mkarchive-*.c, which need nothing of
# common/ but util.c.
MKARCHIVE_SRC := $(wildcard tests/helpers/mkarchive*.c) common/util.c
MKARCHIVE_LIBS := $(shell $(PKG_CONFIG) --libs libarchive 2>/dev/null)

# farm-node links only what it uses of common/ (no OpenSSL, no libarchive:
# the node's base provides libfdisk, libblkid, libbtrfsutil, libyaml and
# libjson-c).
NODE_SRC := $(wildcard node/*.c)
NODE_COMMON := common/util.c common/log.c common/conf.c common/conf-diag.c common/conf-scalar.c \
	common/net.c common/fileio.c common/json.c common/nodeconf.c common/process.c \
	common/cli.c common/role.c common/stackplan.c common/jsonq.c common/subvol.c \
	common/yamlout.c
NODE_OBJ := $(NODE_SRC:%.c=$(O)/%.o) $(NODE_COMMON:%.c=$(O)/%.o)
NODE_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(NODE_PKGS) 2>/dev/null) -Inode
NODE_LIBS := $(shell $(PKG_CONFIG) --libs $(NODE_PKGS) 2>/dev/null) -lresolv
CROSS_OBJ := $(NODE_SRC:%.c=$(O)/aarch64/%.o) $(NODE_COMMON:%.c=$(O)/aarch64/%.o)
CROSS_CFLAGS := $(shell $(CROSS_PKG_CONFIG) --cflags $(NODE_PKGS) 2>/dev/null) -Inode
CROSS_LIBS := $(shell $(CROSS_PKG_CONFIG) --libs $(NODE_PKGS) 2>/dev/null) -lresolv
HAVE_CROSS := $(shell [ "$(CROSS)" = 1 ] && command -v $(CROSS_CC) >/dev/null && $(CROSS_PKG_CONFIG) --exists $(NODE_PKGS) 2>/dev/null && echo 1)

PROGRAMS := $(O)/farm-image $(O)/farm-node $(O)/tests/helpers/k3s-standin
ifeq ($(HAVE_CROSS),1)
PROGRAMS += $(O)/aarch64/farm-node
ifeq ($(shell $(CROSS_PKG_CONFIG) --exists $(STANDIN_PKGS) 2>/dev/null && echo 1),1)
PROGRAMS += $(O)/aarch64/tests/helpers/k3s-standin
endif
endif

.PHONY: all test image bench fuzz format clean help
.SECONDARY:
all: $(PROGRAMS) $(UNIT_BIN) $(HELPER_BIN) $(PRELOAD_SO)
ifneq ($(HAVE_CROSS),1)
	@echo "  note    farm-node for aarch64 not built: no $(CROSS_CC) or arm64 -dev packages (scripts/install-deps)"
endif

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(filter 1,$(V)),,echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(O)/node/%.o: node/%.c
	@mkdir -p $(dir $@)
	@$(if $(filter 1,$(V)),,echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(NODE_CFLAGS) -MMD -MP -c -o $@ $<

$(O)/farm-node: $(NODE_OBJ)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(NODE_LIBS)

# aarch64: the same sources with Debian's cross compiler, no sanitizers.
$(O)/aarch64/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(filter 1,$(V)),,echo "  CC      $< (aarch64)")
	$(Q)$(CROSS_CC) $(CFLAGS_BASE) -O2 -g $(CROSS_CFLAGS) -MMD -MP -c -o $@ $<

$(O)/aarch64/farm-node: $(CROSS_OBJ)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CROSS_CC) -o $@ $^ $(CROSS_LIBS)

$(O)/tests/helpers/k3s-standin: $(STANDIN_SRC:%.c=$(O)/%.o)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(STANDIN_LIBS)

$(O)/aarch64/tests/helpers/k3s-standin: $(STANDIN_SRC:%.c=$(O)/aarch64/%.o)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CROSS_CC) -o $@ $^ $(STANDIN_CROSS_LIBS)

$(O)/tests/helpers/mkarchive: $(MKARCHIVE_SRC:%.c=$(O)/%.o)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(MKARCHIVE_LIBS)

$(O)/farm-image: $(O)/builder/main.o $(BUILDER_OBJ) $(COMMON_OBJ)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# farm-node's cluster module, on its own.
$(O)/tests/unit/test-cluster: $(O)/tests/unit/test-cluster.o $(O)/node/cluster.o $(COMMON_OBJ) $(O)/common/jsonq.o
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(NODE_LIBS)

$(O)/tests/unit/%: $(O)/tests/unit/%.o $(BUILDER_OBJ) $(COMMON_OBJ)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(O)/tests/helpers/%: $(O)/tests/helpers/%.o $(BUILDER_OBJ) $(COMMON_OBJ) $(O)/node/disk.o
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# No sanitizers, no _FILE_OFFSET_BITS (it defines both pwrite and pwrite64):
# the library is preloaded into other programs.
$(O)/tests/helpers/lib%.so: tests/helpers/preload/%.c
	@mkdir -p $(dir $@)
	@$(if $(filter 1,$(V)),,echo "  CC      $< (shared)")
	$(Q)$(CC) -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -O2 -g -fPIC -shared -o $@ $< -ldl

$(O)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	@$(if $(filter 1,$(V)),,echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -Inode -MMD -MP -c -o $@ $<

test: all
	@FARM_BUILD=$(O) TEST='$(TEST)' tests/run

image:
	@scripts/build-example $(if $(NODE),--node $(NODE))

bench: all
	@FARM_BUILD=$(O) bench/build-vs-standard
	@FARM_BUILD=$(O) bench/flash-vs-standard

# Fuzzing (tests/fuzz/): the builder and common/ again, with clang and the
# fuzzer's coverage instrumentation, plus one libFuzzer target each.
FUZZ_CC ?= clang
FUZZ_O := build-fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := $(CFLAGS_BASE) -Wno-unknown-warning-option -Wno-format-nonliteral -O1 -g $(FUZZ_SAN) \
	-fsanitize=fuzzer-no-link $(PKG_CFLAGS)
FUZZ_TIME ?= 30
FUZZ_SRC := $(wildcard tests/fuzz/fuzz-*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_O)/%)
FUZZ_LIB_OBJ := $(BUILDER_SRC:%.c=$(FUZZ_O)/%.o) $(COMMON_SRC:%.c=$(FUZZ_O)/%.o)

$(FUZZ_O)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(filter 1,$(V)),,echo "  CC      $< (fuzz)")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Itests -MMD -MP -c -o $@ $<

$(FUZZ_O)/fuzz-%: $(FUZZ_O)/tests/fuzz/fuzz-%.o $(FUZZ_LIB_OBJ)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

fuzz: $(FUZZ_BIN) $(O)/tests/helpers/mkarchive
	@FARM_BUILD=$(O) FUZZ_BUILD=$(FUZZ_O) FUZZ_TIME=$(FUZZ_TIME) tests/fuzz/run

# Every C file of the tree, whichever folder it is in (the build folders aside).
FORMAT_SRC = $(shell find . \( -path ./build -o -path './build-*' -o -path ./.git \) -prune \
	-o -name '*.[ch]' -print)
format:
	clang-format -i $(FORMAT_SRC)

clean:
	rm -rf build build-asan build-fuzz

help:
	@sed -n '1,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

-include $(shell find $(O) -name '*.d' 2>/dev/null)
ifneq ($(filter fuzz,$(MAKECMDGOALS)),)
-include $(shell find $(FUZZ_O) -name '*.d' 2>/dev/null)
endif
