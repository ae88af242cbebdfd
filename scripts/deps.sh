#!/bin/sh
# deps.sh - install the Debian packages flint needs, only when one is missing.
#
# Usage: scripts/deps.sh [build|test|bench]
#   build: compiler, generators and libraries (default)
#   test:  build + what the tests run against
#   bench: test + the peers the benchmarks compare with
# Runs `apt-get update` then `apt-get install -y` only if `dpkg -s` says a
# package is absent, so a machine that has everything never touches apt.
set -eu
what=${1:-build}
pkgs="gcc make pkg-config re2c lemon liblz4-dev libmicrohttpd-dev check libsubunit-dev
libyaml-dev libcurl4-openssl-dev libpcre2-dev libxxhash-dev zlib1g-dev libgnutls28-dev libcrypt-dev"
# what the end-to-end tests run against (tests/e2e/)
e2e="prometheus prometheus-node-exporter python3-prometheus-client openssl chromium curl"
case "$what" in
  test)  pkgs="$pkgs clang libclang-rt-14-dev python3 $e2e" ;;
  bench) pkgs="$pkgs clang libclang-rt-14-dev python3 $e2e victoria-metrics xz-utils" ;;
esac
missing=""
for p in $pkgs; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
