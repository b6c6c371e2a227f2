# The two commands of the README, and a few more. Each installs the Debian
# packages it needs first (scripts/deps.sh).
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build demo test test-asan bench bench-net bench-dht clean

all: build

deps:
	@sh scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The main job: an example script on an embedded single node, all cores.
demo: build
	$(BUILD)/src/cli/stage run examples/hello.lua

# Every test: unit, Lua-level, simulation, integration, examples.
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The same tests built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: deps
	@cmake -S . -B $(BUILD)-asan -DSTAGE_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(BUILD)-asan -j $(JOBS)
	cd $(BUILD)-asan && ctest --output-on-failure -j $(JOBS)

bench: build
	sh bench/run.sh $(BUILD)

# Between nodes on loopback beside Erlang and raw TCP: round trip, one-way
# throughput, find_name, the thesis's Appendix A (tcpdump: run as root).
bench-net: build
	sh bench/net/run.sh $(BUILD)

# The DHT at 1,000 and 10,000 simulated nodes, each figure beside its target.
bench-dht: build
	sh bench/dht/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD)-asan
