# Benchmarks: tools/bench (run by tools/cmd/bench) measures Docket against
# bare Temporal on this machine, starting its own dev servers, bin/worker
# and bin/docket-api, and writes BENCHMARKS.md. Not part of `make test`.
#   make bench         the full run (under 15 minutes on 2 cores before
#                      scenarios 12 and 13, the Celery comparison, which add ~6)
#   make bench-short   every scenario briefly, a smoke check (~2 minutes);
#                      writes no BENCHMARKS.md
# BENCH_FLAGS passes more flags, e.g. BENCH_FLAGS='-scenarios 3 -keep'.

BENCH_FLAGS ?=

.PHONY: bench bench-short bench-deps

# bench-deps: the seed's Celery stack that scenarios 12 and 13 run beside
# Docket (Debian's python3-celery, python3-redis, redis-server), installed
# when missing. Only the bench targets need it. An install that fails (no
# apt, no root) does not stop the run: bin/bench skips those scenarios and
# prints why.
bench-deps:
	@./scripts/bench-deps.sh || echo "bench-deps: continuing without them; scenarios 12 and 13 will be skipped"

# `bench` depends on cluster-tools (mk/cluster.mk): scenario 4 measures the
# PostgreSQL cluster of `make cluster` beside the SQLite settings, and the
# report `make bench` writes should hold that row rather than a "skipped".
# The build costs about 6 minutes once (stamp files skip it afterwards, as
# `tools` skips the CLI's), and the 15-minute budget applies once tools are
# built: the cluster adds its start, its blocks and its stop to scenario 4.
# bench-short skips that row, so it does not wait for the build; bin/bench
# run directly without the binaries reports the row as skipped.
bench: tools cluster-tools build bench-deps
	go build -o $(BIN)/bench ./tools/cmd/bench
	$(BIN)/bench -temporal $(TEMPORAL) -bin $(BIN) -out BENCHMARKS.md $(BENCH_FLAGS)

bench-short: tools build bench-deps
	go build -o $(BIN)/bench ./tools/cmd/bench
	$(BIN)/bench -short -temporal $(TEMPORAL) -bin $(BIN) -out "" $(BENCH_FLAGS)
