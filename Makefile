# farm: build farm-image (and later farm-node) and run the tests.
#
# Targets:
#   make            build build/farm-image
#   make test       build, then run the whole test suite (tests/run)
#   make image      build the example node's image (README, first command)
#   make bench      run the side-by-side build benchmark (bench/)
#   make format     reformat the C sources with clang-format
#   make clean      remove build/
#   make help       this text
#
# Knobs:
#   D=asan          debug build with AddressSanitizer and UBSan (into build-asan/)
#   V=1             show the full compiler command lines
#   TEST=GLOB       run only tests whose path matches GLOB (make test TEST='*fat*')
#   NODE=NAME       node for `make image` (default: see README)

D ?=
V ?= 0
TEST ?=

CC ?= gcc
PKG_CONFIG ?= pkg-config
PKGS := fdisk ext2fs com_err libarchive yaml-0.1 libzstd libcrypto libcurl

ifeq ($(D),asan)
O := build-asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPTFLAGS := -O1 -g
else
O := build
SANFLAGS :=
OPTFLAGS := -O2 -g
endif

CFLAGS_BASE := -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla -Wno-format-truncation \
	-D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Icommon -Ibuilder
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS := $(CFLAGS_BASE) $(OPTFLAGS) $(SANFLAGS) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS := $(SANFLAGS) $(LDFLAGS)
LIBS := $(PKG_LIBS) -lpthread

ifeq ($(V),1)
Q :=
else
Q := @
endif

COMMON_SRC := $(wildcard common/*.c)
BUILDER_SRC := $(filter-out builder/main.c,$(wildcard builder/*.c))
UNIT_SRC := $(wildcard tests/unit/test-*.c)
HELPER_SRC := $(wildcard tests/helpers/*.c)

COMMON_OBJ := $(COMMON_SRC:%.c=$(O)/%.o)
BUILDER_OBJ := $(BUILDER_SRC:%.c=$(O)/%.o)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(O)/tests/unit/%)
HELPER_BIN := $(HELPER_SRC:tests/helpers/%.c=$(O)/tests/helpers/%)

PROGRAMS := $(O)/farm-image

.PHONY: all test image bench format clean help
.SECONDARY:
all: $(PROGRAMS) $(UNIT_BIN) $(HELPER_BIN)

$(O)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(filter 1,$(V)),,echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(O)/farm-image: $(O)/builder/main.o $(BUILDER_OBJ) $(COMMON_OBJ)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(O)/tests/unit/%: $(O)/tests/unit/%.o $(BUILDER_OBJ) $(COMMON_OBJ)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(O)/tests/helpers/%: $(O)/tests/helpers/%.o $(BUILDER_OBJ) $(COMMON_OBJ)
	@$(if $(filter 1,$(V)),,echo "  LD      $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(O)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	@$(if $(filter 1,$(V)),,echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -Itests -MMD -MP -c -o $@ $<

test: all
	@FARM_BUILD=$(O) TEST='$(TEST)' tests/run

image:
	@scripts/build-example $(if $(NODE),--node $(NODE))

bench: all
	@FARM_BUILD=$(O) bench/build-vs-standard

format:
	clang-format -i $(wildcard common/*.[ch] builder/*.[ch] tests/*/*.[ch])

clean:
	rm -rf build build-asan

help:
	@sed -n '1,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

-include $(shell find $(O) -name '*.d' 2>/dev/null)
