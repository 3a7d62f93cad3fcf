# Docket's production topology, natively: the real Temporal server
# on PostgreSQL, the Temporal Web UI, two workers and two API replicas on
# loopback, and the fault-tolerance scenarios run against it.
#
#   make cluster          start it all, print the URLs; Ctrl-C stops all
#   make cluster-start    the same, in the background
#   make cluster-stop     stop it (from any terminal)
#   make cluster-status   what runs
#   make chaos            the four chaos scenarios against the cluster
#                         (starts and stops a cluster if none runs)
#
# The server and the UI server are built from the Go module proxy into
# their own folders under .tools/ (both binaries are named `server`); a
# stamp file per version rebuilds them when the versions below change.

# The release the pinned CLI embeds (`temporal --version`: Server 1.29.1, UI 2.42.1).
TEMPORAL_SERVER_VERSION := v1.29.1
TEMPORAL_UI_SERVER_VERSION := v2.42.1
TEMPORAL_SERVER_DIR := $(TOOLS)/temporal-server
TEMPORAL_UI_DIR := $(TOOLS)/temporal-ui
TEMPORAL_SERVER_STAMP := $(TEMPORAL_SERVER_DIR)/.installed-$(TEMPORAL_SERVER_VERSION)
TEMPORAL_UI_STAMP := $(TEMPORAL_UI_DIR)/.installed-$(TEMPORAL_UI_SERVER_VERSION)
CLUSTER_ENV := TEMPORAL_SERVER_VERSION=$(TEMPORAL_SERVER_VERSION)

.PHONY: cluster cluster-start cluster-stop cluster-status cluster-tools chaos

# go.temporal.io/server has no replace directives, so `go install` builds
# both the server (cmd/server) and its SQL schema tool (cmd/tools/sql, which
# Temporal ships as temporal-sql-tool).
$(TEMPORAL_SERVER_STAMP):
	@echo ">> building Temporal server $(TEMPORAL_SERVER_VERSION) and temporal-sql-tool from the Go module proxy (first run only, a few minutes)"
	rm -rf $(TEMPORAL_SERVER_DIR)
	GOBIN=$(TEMPORAL_SERVER_DIR)/bin GOFLAGS=-buildvcs=false go install \
		go.temporal.io/server/cmd/server@$(TEMPORAL_SERVER_VERSION) \
		go.temporal.io/server/cmd/tools/sql@$(TEMPORAL_SERVER_VERSION)
	mv $(TEMPORAL_SERVER_DIR)/bin/sql $(TEMPORAL_SERVER_DIR)/bin/temporal-sql-tool
	touch $@

$(TEMPORAL_UI_STAMP):
	@echo ">> building Temporal Web UI server $(TEMPORAL_UI_SERVER_VERSION) from the Go module proxy (first run only)"
	rm -rf $(TEMPORAL_UI_DIR)
	GOBIN=$(TEMPORAL_UI_DIR)/bin GOFLAGS=-buildvcs=false go install \
		github.com/temporalio/ui-server/v2/cmd/server@$(TEMPORAL_UI_SERVER_VERSION)
	touch $@

cluster-tools: tools $(TEMPORAL_SERVER_STAMP) $(TEMPORAL_UI_STAMP)

## cluster: PostgreSQL, Temporal server, Web UI, 2 workers, 2 APIs until Ctrl-C.
# deps: the workers run document jobs (tesseract, poppler).
cluster: cluster-tools deps build
	@$(CLUSTER_ENV) ./cluster/cluster.sh up

cluster-start: cluster-tools deps build
	@$(CLUSTER_ENV) ./cluster/cluster.sh start

cluster-stop:
	@$(CLUSTER_ENV) ./cluster/cluster.sh stop

cluster-status:
	@$(CLUSTER_ENV) ./cluster/cluster.sh status

## chaos: kill workers, the server and an API replica under load; no job may be lost or duplicated.
chaos: cluster-tools deps build
	@$(CLUSTER_ENV) ./tools/chaos/run.sh $(CHAOS_FLAGS)
