# Vaultaire build, test and benchmark entry points. README.md documents them.
GO      ?= go
BIN     ?= bin/vaultaire
PKGS    ?= ./...
# Benchmarks: packages with Go benchmarks, and how long each runs.
BENCHPKGS ?= ./erasure ./drivers/... ./metastore ./node ./s3
BENCHTIME ?= 1x

.PHONY: build test test-short bench bench-s3 lint run clean fuzz

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

run: build
	./$(BIN) server

clean:
	rm -rf bin
