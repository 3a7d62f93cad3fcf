#!/usr/bin/env bash
# Installs the system tools Docket's document (OCR) job runs: tesseract with
# its English data and poppler's pdftotext, pdftoppm, pdfinfo and pdfimages; plus qpdf,
# which only the ocr tests use (to make an encrypted PDF, something Go's
# standard library cannot); and node with npm, which the api tests use to
# generate a TypeScript client from the OpenAPI document and compile it
# (api/typescript_test.go; npm fetches the pinned generator); and Debian's
# prometheus package, whose promtool lints every metrics exposition in the
# tests and whose prometheus scrapes a real stack in them
# (tools/metricstest, `make metrics-check`). Idempotent: it touches apt only when something
# is missing, so `make` targets can call it on every run. Debian only.
set -euo pipefail

# Each tool and the Debian package that provides it. Only the packages of
# missing tools are installed: a machine whose node and npm come from
# elsewhere (NodeSource's nodejs bundles npm) cannot take Debian's npm as
# well, and apt refuses the whole install ("held broken packages").
declare -A PACKAGE_OF=(
  [tesseract]=tesseract-ocr [pdftotext]=poppler-utils [pdftoppm]=poppler-utils
  [pdfinfo]=poppler-utils [pdfimages]=poppler-utils [qpdf]=qpdf [node]=nodejs [npm]=npm
  [promtool]=prometheus [prometheus]=prometheus
)
TOOLS=(tesseract pdftotext pdftoppm pdfinfo pdfimages qpdf node npm promtool prometheus)

say() { echo "deps: $*"; }
die() { echo "deps: $*" >&2; exit 1; }
# shellcheck source=scripts/apt.sh
. "$(dirname "$0")/apt.sh"

missing=()
PACKAGES=()
want() { [[ " ${PACKAGES[*]} " == *" $1 "* ]] || PACKAGES+=("$1"); }
for tool in "${TOOLS[@]}"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    missing+=("$tool")
    want "${PACKAGE_OF[$tool]}"
  fi
done
# The eng data is a separate package; a tesseract without it runs but
# recognises nothing, so check the language list rather than the binary.
if ! command -v tesseract >/dev/null 2>&1 ||
   ! tesseract --list-langs 2>/dev/null | grep -qx eng; then
  command -v tesseract >/dev/null 2>&1 && missing+=("tesseract eng data")
  want tesseract-ocr-eng
fi

if ((${#missing[@]} == 0)); then
  say "all present ($(tesseract --version 2>&1 | head -n1), $(pdftotext -v 2>&1 | head -n1), $(qpdf --version | head -n1), node $(node --version), npm $(npm --version), $(promtool --version 2>&1 | head -n1))"
  exit 0
fi
say "missing: ${missing[*]}"

apt_install "${PACKAGES[@]}"

# Check again: a package that installed but left a tool or the language data
# missing (renamed package, held version) must not pass silently.
for tool in "${TOOLS[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool still missing after install"
done
tesseract --list-langs 2>/dev/null | grep -qx eng || die "tesseract eng data still missing after install"
# Debian's prometheus package enables a system Prometheus on :9090; Docket
# needs only the binaries (the tests run their own on a free loopback port).
if [[ " ${PACKAGES[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null 2>&1 &&
   systemctl is-enabled --quiet prometheus 2>/dev/null; then
  say "disabling the system prometheus service the package enabled (Docket runs its own)"
  "${sudo[@]}" systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
say "installed ${PACKAGES[*]}"
