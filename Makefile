# gatekeep: `make run` checks the example infra repo, `make test` runs every
# test. Only Go is needed; everything else is built from the Go module proxy.
GO      ?= go
BIN     := $(CURDIR)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
APPS    ?= 2000

.PHONY: all build run test vet bench clean

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/gatekeep ./cmd/gatekeep

# The example repo has deliberate problems: gatekeep exits 1 on them, which
# is the demonstration, not a failure. Exit 2 (unusable input) fails.
run: build
	@echo "gatekeep check testdata/infra-repo"
	@cd testdata/infra-repo && $(BIN)/gatekeep check . ; code=$$?; \
	  if [ $$code -gt 1 ]; then exit $$code; fi; \
	  echo; echo "(exit code $$code: 1 means something was denied, as the example intends)"

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

test: vet
	$(GO) test ./...

# Benchmarks measure, they assert nothing: Go benchmarks, then whole runs of
# the binary over a generated repo of $(APPS) apps.
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./...
	$(GO) run ./hack/bench -apps $(APPS) -gatekeep $(BIN)/gatekeep

clean:
	rm -rf $(BIN)
