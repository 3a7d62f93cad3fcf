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
STATICCHECK_VERSION := 2025.1.1
WORKFLOWCHECK_VERSION := v0.3.0

GO_TEST_FLAGS ?= -count=1 -timeout 20m

export DOCKET_TEMPORAL_CLI := $(TEMPORAL)

.PHONY: all build run test test-short lint tools clean

all: build

$(TEMPORAL):
	@echo ">> building temporal CLI $(TEMPORAL_CLI_VERSION) from the Go module proxy (first run only, a few minutes)"
	GOBIN=$(TOOLS)/bin GOFLAGS=-buildvcs=false go install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

tools: $(TEMPORAL)

build:
	go build -o $(BIN)/worker ./worker
	go build -o $(BIN)/docket-api ./api/cmd/docket-api
	go build -o $(BIN)/starter ./starter

## run: the whole local stack (dev server with Web UI, worker, API) until Ctrl-C.
run: tools build
	@./scripts/run.sh

## test: every test, against a dev server the tests start themselves.
test: tools
	go vet ./...
	go test $(GO_TEST_FLAGS) ./...

lint: tools
	go vet ./...
	GOBIN=$(TOOLS)/bin go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(TOOLS)/bin/staticcheck ./...

clean:
	rm -rf $(BIN)
