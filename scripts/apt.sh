# Sourced by deps.sh and bench-deps.sh: apt_install installs Debian
# packages, as root directly or through sudo, with a clear message instead
# of apt's permission errors when neither works. The caller defines say and
# die (its own prefix) before sourcing; apt_install leaves the sudo array
# set for later steps that need it.

# apt_install PACKAGE...
apt_install() {
  command -v apt-get >/dev/null 2>&1 ||
    die "apt-get not found; install $* (or their equivalents) by hand"
  sudo=()
  if ((EUID != 0)); then
    command -v sudo >/dev/null 2>&1 ||
      die "not root and sudo not found; run as root: apt-get install $*"
    sudo=(sudo)
  fi
  say "apt-get update"
  "${sudo[@]}" apt-get update -qq || die "apt-get update failed"
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" ||
    die "apt-get install failed"
}
