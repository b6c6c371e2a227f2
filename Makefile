# Stage's targets: build, demo, tests, benchmarks. On a bare Debian 12
# machine `./run TARGET` installs make and calls `make TARGET`. Each target
# first installs the Debian packages it needs (scripts/deps.sh GROUP...,
# which says what it installs and why), then builds in its own directory.
#
# Variables: BUILD (build: the directory; the sanitizer and clang builds
# add a suffix), JOBS (nproc), STAGE_WERROR (OFF; ON makes every compiler
# warning an error, as CI does).
BUILD ?= build
JOBS ?= $(shell nproc)
STAGE_WERROR ?= OFF
DEPS = sh scripts/deps.sh
BUILD_TYPES = Release RelWithDebInfo Debug MinSizeRel

# $(call build_in,DIR,TYPE,CMAKE OPTIONS): configure DIR, then build it.
build_in = cmake -S . -B $(1) -DCMAKE_BUILD_TYPE=$(2) \
	-DSTAGE_WERROR=$(STAGE_WERROR) $(3) >/dev/null && \
	cmake --build $(1) -j $(JOBS)
# $(call test_in,DIR[,ENVIRONMENT]): every test of the build in DIR.
test_in = cd $(1) && $(2) ctest --output-on-failure -j $(JOBS)
# The build of $(BUILD) with its tests (they need cmocka: group test).
build_tests = $(call build_in,$(BUILD),RelWithDebInfo,-DBUILD_TESTING=ON)

.PHONY: all build demo test test-asan test-tsan test-clang builds bench \
	bench-net bench-dht bench-reliability bench-failover bench-migrate \
	wire-bench deps clean

all: build

# The stage command and its libraries, and the tests if cmocka is there
# (the demo does not need them).
build:
	@$(DEPS) build
	@$(call build_in,$(BUILD),RelWithDebInfo,-DBUILD_TESTING=$$(pkg-config \
		--exists cmocka && echo ON || echo OFF))

# The main job: an example script on an embedded single node, all cores.
demo: build
	$(BUILD)/src/cli/stage run examples/hello.lua

# Every test: unit, Lua-level, simulation, cluster, examples.
test:
	@$(DEPS) build test
	@$(build_tests)
	$(call test_in,$(BUILD))

# The same tests built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan:
	@$(DEPS) build test
	@$(call build_in,$(BUILD)-asan,Debug,-DSTAGE_SANITIZE=ON)
	$(call test_in,$(BUILD)-asan)

# The same tests built with ThreadSanitizer. A race report stops the
# program that has it (halt_on_error), so its test fails.
test-tsan:
	@$(DEPS) build test
	@$(call build_in,$(BUILD)-tsan,RelWithDebInfo,-DSTAGE_TSAN=ON)
	$(call test_in,$(BUILD)-tsan,TSAN_OPTIONS="halt_on_error=1 \
		second_deadlock_stack=1")

# The same tests, built by clang as a packager would (Release).
test-clang:
	@$(DEPS) build test clang
	@$(call build_in,$(BUILD)-clang,Release,-DCMAKE_C_COMPILER=clang)
	$(call test_in,$(BUILD)-clang)

# Every build type with gcc and with clang, tests included, none run: with
# STAGE_WERROR=ON, CI's check that each builds without a warning.
builds:
	@$(DEPS) build test clang
	@for cc in gcc clang; do for type in $(BUILD_TYPES); do \
		echo "builds: $$cc $$type"; \
		$(call build_in,$(BUILD)-$$cc-$$type,$$type,-DCMAKE_C_COMPILER=$$cc) \
			>/dev/null || exit 1; \
	done; done

bench:
	@$(DEPS) build test bench
	@$(build_tests)
	sh bench/run.sh $(BUILD)

# Between nodes on loopback beside Erlang and raw TCP: round trip, one-way
# throughput, find_name, the thesis's Appendix A (tcpdump: run as root).
bench-net:
	@$(DEPS) build test bench bench-net
	@$(build_tests)
	sh bench/net/run.sh $(BUILD)

# What the links between nodes keep across a stalled peer and a cut link
# (network namespaces: run as root), and how fast a killed node is known.
bench-reliability:
	@$(DEPS) build test bench-reliability
	@$(build_tests)
	sh bench/reliability/run.sh $(BUILD)

# Failover of a named service, replaced on its node and its node killed and
# restarted at its address, with callers on other nodes (python3: the kill's
# time on the monotonic clock).
bench-failover:
	@$(DEPS) build test bench-reliability
	@$(build_tests)
	sh bench/failover/run.sh $(BUILD)

# The costs of moving actors. Inside a node (bench/migrate): between
# theatres (small and 100 KB), and messages/s to an actor that moves every
# 10 ms against one that stays. Between nodes (bench/net/migrate.sh): moves
# of an actor between two nodes on loopback, small and 100 KB state; a
# drain of 10,000 actors (bench/net/drain.sh).
bench-migrate:
	@$(DEPS) build test bench
	@$(build_tests)
	sh bench/migrate/run.sh $(BUILD)
	sh bench/net/migrate.sh $(BUILD)
	sh bench/net/drain.sh $(BUILD)

# The DHT at 1,000 and 10,000 simulated nodes, each figure beside its target.
bench-dht:
	@$(DEPS) build test bench-dht
	@$(build_tests)
	sh bench/dht/run.sh $(BUILD)

# The value encoding's micro-benchmark, beside msgpack-c's packer.
wire-bench:
	@$(DEPS) build test wire-bench
	@$(build_tests)
	$(BUILD)/tests/fuzz/wire_bench

# Everything any target needs.
deps:
	@$(DEPS) build test clang bench bench-net bench-dht bench-reliability wire-bench

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-clang \
		$(foreach cc,gcc clang,$(foreach t,$(BUILD_TYPES),$(BUILD)-$(cc)-$(t)))
