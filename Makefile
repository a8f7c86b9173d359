# subproc - a plain GNU Makefile.
#
#   make                  library (static + shared), the subproc command, examples, test binary
#   make check            the whole suite, once per backend (linux, posix)
#   make demo             the CLI and the five examples doing real work
#   make asan|ubsan|tsan|valgrind   the suite under each tool
#   make install PREFIX=/usr/local LIBDIR=$(PREFIX)/lib DESTDIR=
#   make bench            benchmarks against peers (see docs/BENCHMARKS.md)

VERSION   := 0.1.0
SOVERSION := 0

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Werror
BASEFLAGS := -std=gnu11 -D_GNU_SOURCE -pthread $(WARN)
SAN      ?=
SANFLAGS := $(if $(SAN),-fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all)
# child.c runs between clone and exec, where a sanitizer runtime must not run (see its header).
CHILD_NOSAN := $(if $(SAN),-fno-sanitize=all)
LDLIBS   ?=

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LIBDIR  ?= $(PREFIX)/lib
INCDIR  ?= $(PREFIX)/include
MANDIR  ?= $(PREFIX)/share/man
PCDIR   ?= $(LIBDIR)/pkgconfig
CMAKEDIR ?= $(LIBDIR)/cmake/subproc
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  ?= $(PREFIX)/share/zsh/site-functions
DESTDIR ?=

B ?= build

LIB_SRC  := $(wildcard src/*.c)
LIB_OBJ  := $(LIB_SRC:src/%.c=$(B)/obj/%.o)
PIC_OBJ  := $(LIB_SRC:src/%.c=$(B)/pic/%.o)
CLI_SRC  := $(wildcard cli/*.c)
CLI_OBJ  := $(CLI_SRC:cli/%.c=$(B)/cli/%.o)
TEST_SRC := $(wildcard tests/*.c)
TEST_OBJ := $(TEST_SRC:tests/%.c=$(B)/tests/%.o)
EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))
# The libuv example is built where libuv is installed (`make deps` installs it) and visible to
# $(CC): musl-gcc, say, does not see the system's glibc headers and libraries.
UV_LIBS  := $(shell printf '\043include <uv.h>\n' | $(CC) $$(pkg-config --cflags libuv 2>/dev/null) -E - \
              >/dev/null 2>&1 && pkg-config --libs libuv 2>/dev/null)
EXAMPLES += $(if $(UV_LIBS),$(B)/examples/uv_group)
HEADERS  := include/subproc.h src/internal.h

STATIC := $(B)/libsubproc.a
SHARED := $(B)/libsubproc.so.$(VERSION)
CLI    := $(if $(CLI_SRC),$(B)/subproc)
TESTS  := $(B)/test_subproc

ALL_CFLAGS = $(BASEFLAGS) $(CFLAGS) $(SANFLAGS) -Iinclude

.PHONY: deps all check demo install uninstall clean asan ubsan tsan valgrind bench header-test fuzz format
all: $(STATIC) $(SHARED) $(B)/libsubproc.so $(CLI) $(EXAMPLES) $(TESTS)

$(B)/obj/%.o: src/%.c $(HEADERS) | $(B)/obj
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(B)/pic/%.o: src/%.c $(HEADERS) | $(B)/pic
	$(CC) $(ALL_CFLAGS) -fPIC -c $< -o $@
$(B)/obj/child.o $(B)/pic/child.o: ALL_CFLAGS += $(CHILD_NOSAN)

$(STATIC): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^
# src/libsubproc.map: which symbols the shared library exports, under which version node.
$(SHARED): $(PIC_OBJ) src/libsubproc.map
	$(CC) $(ALL_CFLAGS) -shared -Wl,-soname,libsubproc.so.$(SOVERSION) \
	  -Wl,--version-script=src/libsubproc.map -o $@ $(PIC_OBJ) $(LDLIBS)
$(B)/libsubproc.so: $(SHARED)
	ln -sf libsubproc.so.$(VERSION) $(B)/libsubproc.so.$(SOVERSION)
	ln -sf libsubproc.so.$(VERSION) $@

$(B)/cli/%.o: cli/%.c include/subproc.h $(wildcard cli/*.h) | $(B)/cli
	$(CC) $(ALL_CFLAGS) -c $< -o $@
$(CLI): $(CLI_OBJ) $(STATIC)
	$(CC) $(ALL_CFLAGS) -o $@ $(CLI_OBJ) $(STATIC) $(LDLIBS)

$(B)/examples/%: examples/%.c include/subproc.h $(STATIC) | $(B)/examples
	$(CC) $(ALL_CFLAGS) -o $@ $< $(STATIC) $(LDLIBS)

$(B)/examples/uv_group: examples/uv/uv_group.c include/subproc.h $(STATIC) | $(B)/examples
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags libuv) -o $@ $< $(STATIC) $(UV_LIBS) $(LDLIBS)

$(B)/tests/%.o: tests/%.c $(HEADERS) tests/test.h | $(B)/tests
	$(CC) $(ALL_CFLAGS) -Isrc -c $< -o $@
$(B)/tests/sshd.o $(B)/tests/test_remote.o $(B)/tests/test_par_remote.o: tests/sshd.h
$(TESTS): $(TEST_OBJ) $(STATIC)
	$(CC) $(ALL_CFLAGS) -o $@ $(TEST_OBJ) $(STATIC) $(LDLIBS)

$(B)/obj $(B)/pic $(B)/cli $(B)/examples $(B)/tests:
	mkdir -p $@

# What the examples and tests use beyond libc: libuv (for examples/uv), strace, python3.
# Installed from Debian's packages when missing and we are root; otherwise only reported.
deps:
	@missing=""; \
	pkg-config --exists libuv 2>/dev/null || missing="$$missing libuv1-dev"; \
	command -v strace >/dev/null 2>&1 || missing="$$missing strace"; \
	command -v python3 >/dev/null 2>&1 || missing="$$missing python3"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing:$$missing"; \
	    (apt-get install -y -q $$missing >/dev/null 2>&1 || \
	     (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $$missing >/dev/null 2>&1)) || \
	     echo "could not install:$$missing"; \
	  else echo "missing (install them):$$missing"; fi; \
	fi

# The suite runs once per backend; tests/run.sh adds the counts and prints "N passed, N failed".
check: deps
	@$(MAKE) --no-print-directory all header-test
	@SUBPROC_BUILD=$(B) sh tests/run.sh

# The public header alone, as C99 -pedantic and as C++. Strict C99 hides POSIX types such as
# sigset_t unless a POSIX level is asked for, as any POSIX program must.
header-test: | $(B)/tests
	printf '#include <subproc.h>\nint main(void){return 0;}\n' > $(B)/tests/hdr.c
	$(CC) -std=c99 -pedantic -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -Iinclude -c $(B)/tests/hdr.c -o $(B)/tests/hdr_c.o
	@if command -v c++ >/dev/null 2>&1; then \
	  cp $(B)/tests/hdr.c $(B)/tests/hdr.cpp && \
	  echo "c++ -std=c++11 -pedantic ... include/subproc.h" && \
	  c++ -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude -c $(B)/tests/hdr.cpp -o $(B)/tests/hdr_cxx.o; \
	fi

asan:
	$(MAKE) B=build-asan SAN=address,undefined CFLAGS="-O1 -g" check
ubsan:
	$(MAKE) B=build-ubsan SAN=undefined CFLAGS="-O1 -g" check
tsan:
	$(MAKE) B=build-tsan SAN=thread CFLAGS="-O1 -g" check
valgrind: all
	@SUBPROC_BUILD=$(B) SUBPROC_VALGRIND=1 sh tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh examples/demo.sh $(B)

bench: all
	@$(MAKE) -C bench B=../$(B)

# Remote children: ms per short job over two loopback sshd servers (needs openssh-server; N=40).
.PHONY: bench-remote
bench-remote: all
	@sh bench/remote.sh $(B) $(or $(N),40)

# One man page per public function, made from the header (man/mkman3.sh).
$(B)/man3/.stamp: include/subproc.h man/mkman3.sh
	sh man/mkman3.sh include/subproc.h $(B)/man3 $(VERSION) >/dev/null
	touch $@

install: all $(B)/man3/.stamp
	install -d $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PCDIR) $(DESTDIR)$(BINDIR) \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	install -m 644 include/subproc.h $(DESTDIR)$(INCDIR)/
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/
	ln -sf libsubproc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libsubproc.so.$(SOVERSION)
	ln -sf libsubproc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libsubproc.so
	$(if $(CLI),install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/)
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCDIR@|$(INCDIR)|; s|@VERSION@|$(VERSION)|' \
	  subproc.pc.in > $(DESTDIR)$(PCDIR)/subproc.pc
	install -m 644 man/subproc.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 man/subproc.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 644 $(B)/man3/subproc_*.3 $(DESTDIR)$(MANDIR)/man3/
	install -d $(DESTDIR)$(CMAKEDIR) $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	for f in subprocConfig subprocConfigVersion; do \
	  sed -e 's|@VERSION@|$(VERSION)|g; s|@SOVERSION@|$(SOVERSION)|g; s|@MAJOR@|$(firstword $(subst ., ,$(VERSION)))|g' \
	      -e "s|@LIBDIR_REL@|$$(realpath -m --relative-to=$(CMAKEDIR) $(LIBDIR))|g" \
	      -e "s|@INCDIR_REL@|$$(realpath -m --relative-to=$(CMAKEDIR) $(INCDIR))|g" \
	      -e "s|@SIZEOF_VOID_P@|$$(echo __SIZEOF_POINTER__ | $(CC) -E -P - | tr -d ' ')|g" \
	      cmake/$$f.cmake.in > $(DESTDIR)$(CMAKEDIR)/$$f.cmake; \
	done
	install -m 644 completion/subproc.bash $(DESTDIR)$(BASHCOMPDIR)/subproc
	install -m 644 completion/_subproc $(DESTDIR)$(ZSHCOMPDIR)/_subproc

uninstall:
	rm -f $(DESTDIR)$(INCDIR)/subproc.h $(DESTDIR)$(LIBDIR)/libsubproc.* $(DESTDIR)$(PCDIR)/subproc.pc \
	  $(DESTDIR)$(BINDIR)/subproc $(DESTDIR)$(MANDIR)/man1/subproc.1 $(DESTDIR)$(MANDIR)/man3/subproc.3
	rm -f $(DESTDIR)$(MANDIR)/man3/subproc_*.3 $(DESTDIR)$(CMAKEDIR)/subprocConfig*.cmake \
	  $(DESTDIR)$(BASHCOMPDIR)/subproc $(DESTDIR)$(ZSHCOMPDIR)/_subproc

format:
	clang-format -i include/*.h src/*.c src/*.h cli/*.c tests/*.c tests/*.h examples/*.c

clean:
	rm -rf build build-*

# libFuzzer on the subproc command's argument parsing; new inputs go to $(B)/fuzz/corpus.
FUZZ_CC   ?= clang
FUZZ_TIME ?= 20
fuzz: | $(B)/fuzz/corpus
	$(FUZZ_CC) $(BASEFLAGS) -O1 -g -fsanitize=fuzzer,address,undefined -Iinclude -Icli \
	  -o $(B)/fuzz/fuzz_cliargs fuzz/fuzz_cliargs.c cli/parse.c cli/opts.c cli/json.c $(LIB_SRC)
	$(B)/fuzz/fuzz_cliargs -max_total_time=$(FUZZ_TIME) $(B)/fuzz/corpus fuzz/corpus
$(B)/fuzz/corpus:
	mkdir -p $@

# ---- packaging checks (each installs what it needs with apt-get when root; .ci/run runs them) --
.PHONY: abi-check
# The shared library against the ABI of the last release (abi/libsubproc-0.1.0.abi) with
# abigail-tools' abidiff; ends with "N passed, N failed".
abi-check: $(SHARED)
	@sh tests/abi-check.sh $(SHARED)

.PHONY: package-check
# debian/: dpkg-buildpackage on a clean clone (of what is committed), lintian, the packages'
# contents, and a client built against them (tests/package-check.sh).
package-check:
	@sh tests/package-check.sh

.PHONY: musl-check
# make CC=musl-gcc, then the suite on musl (tests/musl-check.sh installs musl-tools if needed).
musl-check:
	@B=$(B) sh tests/musl-check.sh
