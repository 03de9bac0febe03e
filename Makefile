# baton-runner build, test and benchmark entry points. Everything runs from a
# fresh clone with Go and make; see README.md.

GO        ?= go
BIN       := bin
GUEST     := $(BIN)/segment.wasm
HOST      := $(BIN)/baton-runner
TESTGUESTS := $(BIN)/testguests
# A baton-sdk connector's guest is a module of its own: it replaces
# modernc.org/sqlite, which has no wasip1 build (guest/batonsdk).
DEMO_GUEST := examples/baton-demo/wasm
# The guest is a WASI reactor: -buildmode=c-shared gives it _initialize and
# lets //go:wasmexport functions be called repeatedly.
WASMBUILD := GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 $(GO) build -buildmode=c-shared -trimpath -ldflags="-s -w"

.PHONY: all build guest host test test-race fuzz demo bench lint clean FORCE

all: build

build: host

guest: $(GUEST)

$(GUEST): FORCE
	@mkdir -p $(BIN)
	$(WASMBUILD) -o $@ ./guest/segment/wasm

# --version says which build it is: git's description of the checkout,
# stamped here because GOFLAGS=-buildvcs=false (set in some environments)
# keeps the toolchain from recording the revision; without git, the binary
# falls back to what the toolchain recorded, and to "dev" without either.
HOST_VERSION ?= $(shell git describe --always --dirty 2>/dev/null)

# The host embeds the guest, so one binary works from any directory.
host: $(GUEST)
	cp $(GUEST) cmd/baton-runner/guests/segment.wasm
	$(GO) build $(if $(HOST_VERSION),-ldflags "-X main.version=$(HOST_VERSION)") -o $(HOST) ./cmd/baton-runner

# Test guests are built once per run and shared by every test package.
testguests: FORCE
	@mkdir -p $(TESTGUESTS)
	$(WASMBUILD) -o $(TESTGUESTS)/segment.wasm ./guest/segment/wasm
	$(WASMBUILD) -o $(TESTGUESTS)/probe.wasm ./internal/testguests/probe
	$(WASMBUILD) -o $(TESTGUESTS)/abiv2.wasm ./internal/testguests/abiv2
	$(WASMBUILD) -o $(TESTGUESTS)/hostile.wasm ./internal/testguests/hostile
	$(WASMBUILD) -o $(TESTGUESTS)/oldguest.wasm ./internal/testguests/oldguest
	$(WASMBUILD) -o $(TESTGUESTS)/liar.wasm ./internal/testguests/liar
	cd $(DEMO_GUEST) && $(WASMBUILD) -o $(CURDIR)/$(TESTGUESTS)/baton-demo.wasm .

# Tests keep what they write under TESTDIR: each run a TMPDIR of its own,
# removed after the run however it ends (a binary a test kills leaves its
# working directories, a guest built on the fly its module), beside one
# compilation cache that every package, the binaries they run and later
# runs share (compiling the guests takes longer than the rest of a short
# run). Every change to a guest adds to the cache, so it starts afresh once
# past TESTCACHE_MAX_MIB; a run killed before its cleanup is removed a day on.
TESTDIR ?= $(or $(TMPDIR),/tmp)/baton-runner-test-$(shell id -u)
TESTCACHE_MAX_MIB ?= 512
TESTRUN_BEGIN = mkdir -p $(TESTDIR)/cache \
	&& { [ "$$(du -sm $(TESTDIR)/cache | cut -f1)" -le $(TESTCACHE_MAX_MIB) ] || { rm -rf $(TESTDIR)/cache && mkdir $(TESTDIR)/cache; }; } \
	&& find $(TESTDIR) -mindepth 1 -maxdepth 1 -name 'run.*' -mmin +1440 -exec rm -rf {} + \
	&& tmp=$$(mktemp -d $(TESTDIR)/run.XXXXXX) && export TMPDIR=$$tmp BATON_TEST_CACHE_DIR=$(TESTDIR)/cache
TESTRUN_END = status=$$?; rm -rf "$$tmp"; exit $$status

# The CLI tests run the real binary, with the guest embedded.
test: testguests host
	$(TESTRUN_BEGIN) && BATON_TEST_WASM_DIR=$(CURDIR)/$(TESTGUESTS) BATON_TEST_BINARY=$(CURDIR)/$(HOST) $(GO) test -count=1 ./...; $(TESTRUN_END)

# The race detector over the host and internal packages, where the
# goroutines are (tenants, sync slots, instance pools, egress, service mode,
# the simulator and fake ConductorOne); the packages without any cost little.
# cmd is left out: its tests run the binary in a child process, which the
# detector does not see. Needs cgo (gcc).
RACE_PKGS ?= ./host/... ./internal/...
test-race: testguests
	$(TESTRUN_BEGIN) && BATON_TEST_WASM_DIR=$(CURDIR)/$(TESTGUESTS) CGO_ENABLED=1 $(GO) test -race -count=1 $(RACE_PKGS); $(TESTRUN_END)

# Each fuzz target for a bounded time (CI runs this too); seeds also run in
# make test.
# Each target's budget can be set on its own; CI gives execution counts
# ("20000x"): a duration budget can end with a bare "context deadline
# exceeded" failure when the deadline races a busy worker, a known race in
# Go's fuzzing coordinator (golang/go#75804), while a count has no deadline.
FUZZTIME ?= 10s
FUZZ_PARSE ?= $(FUZZTIME)
FUZZ_URL ?= $(FUZZTIME)
FUZZ_SEGMENT ?= $(FUZZTIME)
FUZZ_OUTPUT ?= $(FUZZTIME)
FUZZ_INSTRUMENT ?= $(FUZZTIME)
# FuzzInstrument hands wazero what the rewriter accepts; should that ever
# be a module wazero allocates gigabytes for, the address-space cap turns
# it into a reported crash instead of a swapping machine.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZ_PARSE) ./config
	$(GO) test -run '^$$' -fuzz '^FuzzBuildURL$$' -fuzztime $(FUZZ_URL) ./host/egress
	$(GO) test -run '^$$' -fuzz '^FuzzSegmentResponses$$' -fuzztime $(FUZZ_SEGMENT) ./guest/segment
	$(GO) test -run '^$$' -fuzz '^FuzzGuestOutput$$' -fuzztime $(FUZZ_OUTPUT) ./internal/connector
	ulimit -v 16000000; $(GO) test -run '^$$' -fuzz '^FuzzInstrument$$' -fuzztime $(FUZZ_INSTRUMENT) ./host/sandbox/internal/fuel

demo: build
	$(HOST) demo

bench: build
	$(GO) run ./bench/cmd/runbench -out BENCHMARKS.md

lint:
	@out=$$(gofmt -l abi guest host cmd config internal bench examples 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet $$($(GO) list ./abi/... ./guest/... | grep -v /guest/batonsdk)
	cd $(DEMO_GUEST) && GOOS=wasip1 GOARCH=wasm $(GO) vet . github.com/baton-runner/baton-runner/guest/batonsdk

clean:
	rm -rf $(BIN) cmd/baton-runner/guests/*.wasm $(TESTDIR)

FORCE:
