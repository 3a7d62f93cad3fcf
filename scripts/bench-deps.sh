#!/usr/bin/env bash
# Installs what `make bench` needs beyond `make deps`: the seed's Celery
# stack that scenarios 12 and 13 run beside Docket (tools/bench/celery):
# Debian's python3-celery and python3-redis, and redis-server. Only
# `make bench` and `make bench-short` call it; `make test` does not (the
# harness's test skips, saying why, without them). Idempotent: apt is
# touched only when something is missing. Debian only: PyPI is not used.
set -euo pipefail

# Keep in step with celeryPackages in tools/bench/celery.go.
PACKAGES=(python3-celery python3-redis redis-server)
# Debian's interpreter: the packages install into its dist-packages, which a
# python3 earlier on PATH (pyenv, a virtualenv) may not see.
PYTHON=/usr/bin/python3

say() { echo "bench-deps: $*"; }
die() { echo "bench-deps: $*" >&2; exit 1; }
# shellcheck source=scripts/apt.sh
. "$(dirname "$0")/apt.sh"

present() {
  command -v redis-server >/dev/null 2>&1 &&
    "$PYTHON" -c 'import celery, kombu, redis' >/dev/null 2>&1
}

if present; then
  say "all present (celery $("$PYTHON" -c 'import celery; print(celery.__version__)'), $(redis-server --version | cut -d' ' -f1-3))"
  exit 0
fi
say "missing: some of ${PACKAGES[*]}"

# policy-rc.d or systemd may refuse to start Debian's own redis service in
# a container; the bench starts its own Redis and does not need it.
apt_install "${PACKAGES[@]}"

present || die "installed ${PACKAGES[*]}, but redis-server or $PYTHON's celery and redis are still missing"
say "installed ${PACKAGES[*]}"
