#!/usr/bin/env bash
# `make chaos`: runs the fault-tolerance scenarios (package chaos) against
# the native cluster. A cluster that already runs (`make cluster` in another
# terminal) is used as it is; otherwise this starts one in the background
# and stops it afterwards. Arguments go to the chaos command (-only 1,3,
# -short, -timeout 20m).
set -euo pipefail
cd "$(dirname "$0")/../.."

started=0
if [[ -z $(cluster/cluster.sh pid temporal 2>/dev/null) ]]; then
  echo "chaos: no cluster is running; starting one (cluster/cluster.sh start)"
  cluster/cluster.sh start
  started=1
fi
# shellcheck disable=SC2317  # run by the EXIT trap
stop_cluster() {
  if [[ $started == 1 ]]; then
    echo "chaos: stopping the cluster it started"
    cluster/cluster.sh stop
  fi
}
trap stop_cluster EXIT

mkdir -p .data/cluster
go build -o .data/cluster/chaos ./tools/cmd/chaos
rc=0
.data/cluster/chaos -cluster cluster/cluster.sh "$@" || rc=$?
exit $rc
