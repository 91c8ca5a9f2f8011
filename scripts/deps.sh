#!/usr/bin/env bash
# Installs, from Debian's packages, what building, testing and benchmarking sluice needs and the
# machine lacks. Quiet and idempotent: nothing happens when everything is present.
#   scripts/deps.sh          build + test dependencies
#   scripts/deps.sh --fuzz   also clang's fuzzer runtime
#   scripts/deps.sh --plot   also matplotlib (for bench/plot_transfer.py)
set -euo pipefail

packages=(
  cmake make g++ pkg-config
  libuv1-dev libboost-dev libspdlog-dev libfmt-dev doctest-dev libbenchmark-dev
  libjemalloc-dev libmimalloc-dev libhttp-parser-dev
  python3 curl wrk strace procps
)
for arg in "$@"; do
  case "$arg" in
    --fuzz) packages+=(clang libclang-rt-14-dev) ;;
    --plot) packages+=(python3-matplotlib) ;;
    *) echo "deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "deps.sh: missing ${missing[*]}; run as root or install sudo" >&2
  exit 1
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq >/dev/null
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
