# Benchmarks (issue 6): bench/ measures Docket against bare Temporal on this
# machine, starting its own dev servers, bin/worker and bin/docket-api, and
# writes BENCHMARKS.md. Not part of `make test`.
#   make bench         the full run (under 15 minutes on 2 cores)
#   make bench-short   every scenario briefly, a smoke check (~2 minutes);
#                      writes no BENCHMARKS.md
# BENCH_FLAGS passes more flags, e.g. BENCH_FLAGS='-scenarios 3 -keep'.

BENCH_FLAGS ?=

.PHONY: bench bench-short

bench: tools build
	go build -o $(BIN)/bench ./bench
	$(BIN)/bench -temporal $(TEMPORAL) -bin $(BIN) -out BENCHMARKS.md $(BENCH_FLAGS)

bench-short: tools build
	go build -o $(BIN)/bench ./bench
	$(BIN)/bench -short -temporal $(TEMPORAL) -bin $(BIN) -out "" $(BENCH_FLAGS)
