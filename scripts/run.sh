#!/usr/bin/env bash
# Runs Docket's local stack: the Temporal dev server (persistent SQLite file,
# Web UI), one worker and the API. Ctrl-C stops all three. `make run` calls it
# after building the binaries into bin/.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${DOCKET_DATA_DIR:-.data}
TEMPORAL_PORT=${DOCKET_TEMPORAL_PORT:-7233}
UI_PORT=${DOCKET_UI_PORT:-8233}
# Prometheus metrics: the dev server's (--metrics-port) and the worker's
# (DOCKET_METRICS_ADDR); the API's are GET /metrics on its own port.
TEMPORAL_METRICS_PORT=${DOCKET_TEMPORAL_METRICS_PORT:-9233}
WORKER_METRICS_PORT=${DOCKET_WORKER_METRICS_PORT:-9181}
export DOCKET_HTTP_ADDR=${DOCKET_HTTP_ADDR:-127.0.0.1:8080}
export TEMPORAL_ADDRESS=${TEMPORAL_ADDRESS:-127.0.0.1:$TEMPORAL_PORT}
API_PORT=${DOCKET_HTTP_ADDR##*:}
mkdir -p "$DATA"

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$TEMPORAL_PORT" "$UI_PORT" "$API_PORT" "$TEMPORAL_METRICS_PORT" "$WORKER_METRICS_PORT"; do
  if port_busy "$p"; then
    echo "make run: port $p is already in use (another 'make run'?). Stop it, or set DOCKET_TEMPORAL_PORT / DOCKET_UI_PORT / DOCKET_HTTP_ADDR / DOCKET_TEMPORAL_METRICS_PORT / DOCKET_WORKER_METRICS_PORT." >&2
    exit 1
  fi
done

pids=()
stop() {
  # Ignore SIGPIPE first: with `make run | tee`, Ctrl-C ends tee too, and
  # the next echo would kill this script before it stopped anything.
  trap '' PIPE
  trap - INT TERM EXIT
  echo
  echo "stopping..."
  # API and worker first, so that running activities can finish while the
  # server is still there; then the server.
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  echo "stopped."
}
trap stop INT TERM EXIT

# Encrypted by default: every Temporal payload Docket writes and every
# object in the blob store is sealed with this key ring, made on first run
# (mode 0600). Keep it with the data: without it neither can be read.
export DOCKET_ENCRYPTION_KEYS_FILE=${DOCKET_ENCRYPTION_KEYS_FILE:-$DATA/encryption-keys.json}
if [[ ! -e $DOCKET_ENCRYPTION_KEYS_FILE ]]; then
  bin/docket-api keyring new "$DOCKET_ENCRYPTION_KEYS_FILE" >/dev/null
  echo "make run: made the encryption key ring $DOCKET_ENCRYPTION_KEYS_FILE (keep it: the jobs and documents in $DATA need it)"
fi
# The Web UI decodes payloads through the API's codec server, which the
# browser calls from the UI's origin.
export DOCKET_CORS_ORIGINS=${DOCKET_CORS_ORIGINS:-http://localhost:$UI_PORT,http://127.0.0.1:$UI_PORT}

# WAL with synchronous=NORMAL: a committed transaction survives a crash of
# the server process; only an OS crash or power loss can lose the last few.
# The dynamic config removes a 50 ms wait per workflow hop: the one-shard
# dev server reads its transfer queue at 20 reads/s by default, and ignores
# the SDK's eager-activity requests unless enabled. One partition per task
# queue keeps a queue's few pollers on the partition its tasks land on. The
# visibility queue keeps its default rate: it is off a job's path, and
# faster reads cost the server CPU. None of it changes what is persisted or
# when. See the README's "Latency and durability of `make run`".
# matching.enableFairness dispatches a task queue's tasks round-robin across
# their fairness keys (each job's tenant, also its DocketTenant search
# attribute) instead of first in, first out, so that one tenant's burst does
# not starve another; server 1.29.1 has it off by default. It keeps a
# queue's backlog in other tables: tasks queued in $DATA before it was on
# wait until it is off again, so let a queue drain before switching.
.tools/bin/temporal server start-dev \
  --ip 127.0.0.1 --port "$TEMPORAL_PORT" --ui-port "$UI_PORT" \
  --metrics-port "$TEMPORAL_METRICS_PORT" \
  --ui-codec-endpoint "http://localhost:$API_PORT/codec" \
  --db-filename "$DATA/temporal.db" \
  --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=NORMAL \
  --dynamic-config-value history.transferProcessorMaxPollRPS=1000 \
  --dynamic-config-value system.enableActivityEagerExecution=true \
  --dynamic-config-value matching.numTaskqueueReadPartitions=1 \
  --dynamic-config-value matching.numTaskqueueWritePartitions=1 \
  --dynamic-config-value matching.enableFairness=true \
  --search-attribute DocketStatus=Keyword \
  --search-attribute DocketTenant=Keyword \
  --log-level warn >"$DATA/temporal.log" 2>&1 &
pids+=($!)

for _ in $(seq 1 120); do
  if .tools/bin/temporal operator cluster health --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1; then break; fi
  if ! kill -0 "${pids[0]}" 2>/dev/null; then
    echo "make run: the Temporal dev server exited; see $DATA/temporal.log" >&2
    tail -20 "$DATA/temporal.log" >&2
    exit 1
  fi
  sleep 0.5
done

DOCKET_METRICS_ADDR=127.0.0.1:$WORKER_METRICS_PORT bin/worker >"$DATA/worker.log" 2>&1 &
pids+=($!)
bin/docket-api >"$DATA/api.log" 2>&1 &
pids+=($!)

cat <<MSG

Docket is running.
  Jobs API      http://localhost:$API_PORT        (docs: http://localhost:$API_PORT/docs)
  Temporal UI   http://localhost:$UI_PORT
  Temporal      $TEMPORAL_ADDRESS  (namespace default, task queue docket)
  Metrics       API http://localhost:$API_PORT/metrics, worker http://127.0.0.1:$WORKER_METRICS_PORT/metrics, Temporal http://127.0.0.1:$TEMPORAL_METRICS_PORT/metrics
  Logs          $DATA/{temporal,worker,api}.log
  Encryption    payloads and blobs sealed with $DOCKET_ENCRYPTION_KEYS_FILE; the UI decodes through http://localhost:$API_PORT/codec
  Try           curl -s -X POST localhost:$API_PORT/jobs -H 'Content-Type: application/json' -d '{"type":"sum","input":{"start":1,"end":100}}'
Press Ctrl-C to stop.
MSG

# Exit (and stop the rest) as soon as any of the three stops by itself.
wait -n "${pids[@]}"
echo "make run: a process exited; see the logs in $DATA/" >&2
