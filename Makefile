# Vaultaire build, test and benchmark entry points. README.md documents them.
GO      ?= go
BIN     ?= bin/vaultaire
PKGS    ?= ./...
# Benchmarks: packages with Go benchmarks, and how long each runs.
BENCHPKGS ?= ./erasure ./drivers/... ./metastore ./node ./s3 ./md5lanes
BENCHTIME ?= 1x
# Fault-injection suite: rounds of faults on a 3-node cluster (TestChaos in
# cmd/vaultaire); the table goes to CHAOSOUT too.
ROUNDS   ?= 6
CHAOSOUT ?= chaos-table.md
# NEMESES: only these nemeses, in turn (e.g. "partition"; empty: the whole
# cycle); CHAOSDUMPS: a directory for every node's goroutines when a
# request on an unaffected node stalls, and for each node's whole log
# across its restarts (n<i>.log) (empty: neither).
# LEDGEREVERY: each round reads back its own writes and 1/LEDGEREVERY of
# the older ones through every node (every key in any LEDGEREVERY rounds);
# the last round reads them all.
# CHAOSLIVE: MiB of live data the load keeps; past it, new writes give way
# to deletes of older rounds' keys, so a long run fits the disk.
NEMESES    ?=
CHAOSDUMPS ?=
LEDGEREVERY ?= 10
CHAOSLIVE  ?= 2048
# Fuzzing: every Fuzz* target in the repo, one at a time, this long each;
# FUZZPARALLEL limits its workers (-parallel; empty: one per CPU).
FUZZTIME ?= 1m
FUZZPARALLEL ?=

.PHONY: build test test-short bench bench-s3 lint run clean fuzz chaos

# The release identity: the tag (or commit) and the commit, printed by
# `vaultaire version` and gossiped to the cluster.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS ?= -X main.version=$(VERSION) -X main.commit=$(COMMIT)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/vaultaire

# The whole suite, as CI runs it.
test:
	$(GO) test -race -count=1 -timeout 40m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(BENCHPKGS)

# S3 suite against a fresh server, with raw-disk and harness-ceiling references.
bench-s3:
	scripts/bench-s3.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

# The fault-injection suite: ROUNDS rounds (about a minute each) on 3 real
# server processes; as root it adds network partitions and a full drive.
chaos:
	VAULTAIRE_CHAOS_ROUNDS=$(ROUNDS) VAULTAIRE_CHAOS_OUT=$(abspath $(CHAOSOUT)) \
		VAULTAIRE_CHAOS_NEMESES="$(NEMESES)" VAULTAIRE_CHAOS_DUMPS="$(if $(CHAOSDUMPS),$(abspath $(CHAOSDUMPS)))" \
		VAULTAIRE_CHAOS_LEDGER_EVERY=$(LEDGEREVERY) VAULTAIRE_CHAOS_LIVE_MIB=$(CHAOSLIVE) \
		$(GO) test -count=1 -timeout $$(( $(ROUNDS) * 5 + 10 ))m -run '^TestChaos$$' -v ./cmd/vaultaire

# Every native fuzzer (found by grep), one at a time, for FUZZTIME each;
# FUZZDIRS limits the run to some package dirs (e.g. "s3 erasure"), FUZZNAMES
# to some fuzzers (e.g. "FuzzCombine FuzzParse"). A
# crasher stops the run and stays in the package's testdata/fuzz. A failure
# that wrote no crasher is Go's coordinator race at the end of -fuzztime
# (golang/go#75804, "context deadline exceeded"): reported, not fatal.
fuzz:
	@set -e; git grep -l '^func Fuzz' -- '*_test.go' | while read -r f; do \
		dir=$$(dirname "$$f"); \
		if [ -n "$(FUZZDIRS)" ] && ! echo " $(FUZZDIRS) " | grep -q " $$dir "; then continue; fi; \
		for name in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$f"); do \
			if [ -n "$(FUZZNAMES)" ] && ! echo " $(FUZZNAMES) " | grep -q " $$name "; then continue; fi; \
			echo "== ./$$dir $$name ($(FUZZTIME))"; \
			before=$$(ls "$$dir/testdata/fuzz/$$name" 2>/dev/null | wc -l); \
			if ! $(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) $(if $(FUZZPARALLEL),-parallel $(FUZZPARALLEL)) "./$$dir"; then \
				after=$$(ls "$$dir/testdata/fuzz/$$name" 2>/dev/null | wc -l); \
				if [ "$$after" -gt "$$before" ]; then echo "crasher in $$dir/testdata/fuzz/$$name"; exit 1; fi; \
				echo "== $$name: failed without a crasher (golang/go#75804), going on"; \
			fi; \
		done; \
	done

run: build
	./$(BIN) server

clean:
	rm -rf bin
