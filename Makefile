# gatekeep: `make run` checks the example infra repo, `make test` runs every
# test. Only Go is needed; everything else is built from the Go module proxy.
GO      ?= go
BIN     := $(CURDIR)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
APPS    ?= 2000

# A real kube-apiserver and etcd for the webhook tests, built from the Go
# module proxy into bin/ once (pinned in hack/controlplane/*/go.mod).
KUBE_VERSION := v1.37.1
KUBE_LDFLAGS := -s -w -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37
export KUBEBUILDER_ASSETS := $(BIN)

.PHONY: all build run test vet lint fuzz bench clean controlplane schemas image

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/gatekeep ./cmd/gatekeep

# The example repo has deliberate problems: gatekeep exits 1 on them, which
# is the demonstration, not a failure. Exit 2 (unusable input) fails.
run: build
	@echo "gatekeep check testdata/infra-repo"
	@cd testdata/infra-repo && $(BIN)/gatekeep check --repo-root . --repo-url https://git.example.com/platform/infra.git . ; code=$$?; \
	  if [ $$code -gt 1 ]; then exit $$code; fi; \
	  echo; echo "(exit code $$code: 1 means something was denied, as the example intends)"

# vet: gofmt, go vet, and a go.mod that go mod tidy would not change.
vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	@$(GO) mod tidy -diff >/dev/null || { $(GO) mod tidy -diff; echo "go.mod is not tidy: run go mod tidy"; exit 1; }

# golangci-lint, built from the module proxy (hack/golangci-lint pins it in
# a module of its own), with the linters of .golangci.yaml.
$(BIN)/golangci-lint: hack/golangci-lint/go.mod
	cd hack/golangci-lint && $(GO) build -o $@ github.com/golangci/golangci-lint/v2/cmd/golangci-lint

lint: $(BIN)/golangci-lint
	$(BIN)/golangci-lint run ./...

# Each fuzz target runs for FUZZTIME; what it finds lands in the package's
# testdata/fuzz and becomes a regression test of go test.
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$target ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

controlplane: $(BIN)/kube-apiserver $(BIN)/etcd

# The real kubeseal, to seal test values offline (--cert).
$(BIN)/kubeseal:
	cd hack/kubeseal && $(GO) build -ldflags "-s -w" -o $@ github.com/bitnami-labs/sealed-secrets/cmd/kubeseal

$(BIN)/kube-apiserver:
	cd hack/controlplane/kube-apiserver && $(GO) build -ldflags "$(KUBE_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/kube-apiserver

$(BIN)/etcd:
	cd hack/controlplane/etcd && $(GO) build -ldflags "-s -w" -o $@ go.etcd.io/etcd/server/v3

# GATEKEEP_CONTROLPLANE=required: the webhook and sealed-secrets tests fail,
# not skip, without the binaries.
# The packages that run work concurrently are tested under the race
# detector, the others plainly.
RACE_PKGS := ./engine/... ./webhook/... ./gatekeeper/... ./internal/... ./scanner/... ./audit/... ./progress/...
# A gatekeeper-library checkout (its root or library/), e.g.
# GATEKEEPER_LIBRARY=../gatekeeper-library. make test then also runs the
# tests on the public library (optimizations and verdict caches keep its
# verdicts); make bench compares with gator on its templates (each with its
# first sample constraint) instead of generated ones, verifies its suites
# with both, and measures the webhook with it.
GATEKEEPER_LIBRARY ?=
LIBRARY_ENV = GATEKEEPER_LIBRARY=$(abspath $(GATEKEEPER_LIBRARY))

test: vet controlplane $(BIN)/kubeseal
	@if [ -z "$(GATEKEEPER_LIBRARY)" ]; then echo "note: GATEKEEPER_LIBRARY is not set: the tests on the public gatekeeper-library are skipped (make test GATEKEEPER_LIBRARY=<checkout> runs them)"; fi
	$(if $(GATEKEEPER_LIBRARY),$(LIBRARY_ENV)) GATEKEEP_CONTROLPLANE=required $(GO) test $$($(GO) list ./... | grep -v -e /engine -e /webhook -e /gatekeeper -e /internal/ -e /scanner -e /audit -e /progress)
	$(if $(GATEKEEPER_LIBRARY),$(LIBRARY_ENV)) GATEKEEP_CONTROLPLANE=required $(GO) test -race $(RACE_PKGS)

# Regenerate the embedded OpenAPI schemas (schema/data) from the
# api/openapi-spec of each pinned k8s.io/kubernetes release, and the CRD
# catalog (schema/crdcatalog, and its table in the README) from the CRDs
# the pinned modules of hack/crdgen ship.
schemas:
	$(GO) run ./hack/schemagen -out schema/data
	$(GO) run ./hack/crdgen -out schema/crdcatalog/catalog.json.gz -readme README.md -chart-crds charts/gatekeep/files/crds

# Benchmarks measure, they assert nothing: Go benchmarks, then whole runs of
# the binary over a generated repo of $(APPS) apps, the webhook under load,
# and gatekeep audit of a test API server holding $(AUDIT_OBJECTS) objects.
AUDIT_OBJECTS ?= 100000
bench: build controlplane $(BIN)/kubeconform $(BIN)/gator
	$(if $(GATEKEEPER_LIBRARY),$(LIBRARY_ENV)) $(GO) test -run '^$$' -bench . -benchmem ./...
	@if [ -n "$(GATEKEEPER_LIBRARY)" ]; then lib=$(abspath $(GATEKEEPER_LIBRARY)); [ -d $$lib/library ] && lib=$$lib/library; \
	  echo "gatekeep verify $$lib: $$($(BIN)/gatekeep verify $$lib | tail -1)"; \
	  out=$$($(BIN)/gator verify -v $$lib/...); \
	  echo "gator verify $$lib/...: $$(echo "$$out" | grep -c -- '^    --- PASS') cases passed, $$(echo "$$out" | grep -c -- '^    --- FAIL') failed"; fi
	$(GO) run ./hack/bench -apps $(APPS) -gatekeep $(BIN)/gatekeep -kubeconform $(BIN)/kubeconform -gator $(BIN)/gator $(if $(GATEKEEPER_LIBRARY),-library $(GATEKEEPER_LIBRARY))
	$(GO) run ./hack/webhookbench -ingresses 10000 -rate 1000 -duration 10s
	$(GO) run ./hack/webhookbench -templates 50 -ingresses 10000 -rate 1000 -duration 10s
	$(if $(GATEKEEPER_LIBRARY),$(GO) run ./hack/webhookbench -library $(GATEKEEPER_LIBRARY) -ingresses 10000 -rate 1000 -duration 10s)
	$(GO) run ./hack/auditbench -gatekeep $(BIN)/gatekeep -assets $(BIN) -objects $(AUDIT_OBJECTS)

# gator, the peer of the Gatekeeper engine, from the module proxy.
$(BIN)/gator:
	GOBIN=$(BIN) $(GO) install github.com/open-policy-agent/gatekeeper/v3/cmd/gator@v3.23.1

# kubeconform, the peer of the schema check, from the module proxy.
$(BIN)/kubeconform:
	$(GO) build -o $@ github.com/yannh/kubeconform/cmd/kubeconform

IMAGE  ?= ghcr.io/gatekeep-dev/gatekeep:$(VERSION)
ENGINE ?= $(shell command -v docker 2>/dev/null || command -v podman 2>/dev/null)

# The container image (Dockerfile: static binary on distroless, user 65532).
# Needs docker or podman; no test needs it.
image:
	@test -n "$(ENGINE)" || { echo "make image needs docker or podman (ENGINE=...)"; exit 1; }
	$(ENGINE) build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

clean:
	rm -rf $(BIN)
