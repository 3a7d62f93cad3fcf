# Docket's developer entry points. `make run` and `make test` are all a new
# machine with Go needs: every tool is built from the Go module proxy into
# .tools/ (git-ignored) on first use.

SHELL := /bin/bash
TOOLS := $(CURDIR)/.tools
BIN := $(CURDIR)/bin

# The temporal CLI embeds the dev server and Web UI. Later tags carry
# replace directives and cannot be built with `go install`.
TEMPORAL_CLI_VERSION := v1.5.1
TEMPORAL := $(TOOLS)/bin/temporal
STATICCHECK_VERSION := v0.8.2
WORKFLOWCHECK_VERSION := v0.6.0
STATICCHECK := $(TOOLS)/bin/staticcheck
WORKFLOWCHECK := $(TOOLS)/bin/workflowcheck

GO_TEST_FLAGS ?= -count=1 -timeout 20m

export DOCKET_TEMPORAL_CLI := $(TEMPORAL)

.PHONY: all build run test test-api-fast lint histories tools deps clean

all: build

$(TEMPORAL):
	@echo ">> building temporal CLI $(TEMPORAL_CLI_VERSION) from the Go module proxy (first run only, a few minutes)"
	GOBIN=$(TOOLS)/bin GOFLAGS=-buildvcs=false go install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

tools: $(TEMPORAL)

## deps: tesseract, its English data, poppler and node/npm from Debian's packages, when missing.
deps:
	@./scripts/deps.sh

build:
	go build -o $(BIN)/worker ./worker
	go build -o $(BIN)/docket-api ./api/cmd/docket-api
	go build -o $(BIN)/starter ./starter

## run: the whole local stack (dev server with Web UI, worker, API) until Ctrl-C.
run: tools deps build
	@./scripts/run.sh

## test: every test, against a dev server the tests start themselves.
test: tools deps
	go vet ./...
	go test $(GO_TEST_FLAGS) ./...

## test-api-fast: the API's handler tests, which need no Temporal (seconds).
test-api-fast:
	go test $(GO_TEST_FLAGS) ./api/handlertest/

$(STATICCHECK):
	GOBIN=$(TOOLS)/bin go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(WORKFLOWCHECK):
	GOBIN=$(TOOLS)/bin go install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION)

## lint: gofmt, go vet, staticcheck, and Temporal's workflowcheck over the workflows.
lint: $(STATICCHECK) $(WORKFLOWCHECK)
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	go vet ./...
	$(STATICCHECK) ./...
	$(WORKFLOWCHECK) ./workflows/...

## histories: record real jobs' histories for the replay tests (GEN names the workflow-code generation).
histories: tools deps
	@test -n "$(GEN)" || { echo "usage: make histories GEN=v3 (a new folder; keep the old ones)"; exit 2; }
	@test ! -e workflows/testdata/histories/$(GEN) || { echo "workflows/testdata/histories/$(GEN) exists; pick a new GEN"; exit 2; }
	go run ./tools/cmd/record -out workflows/testdata/histories/$(GEN)

clean:
	rm -rf $(BIN)

# Targets of larger capabilities (cluster, chaos, bench) live in mk/.
-include mk/*.mk
