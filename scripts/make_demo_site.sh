#!/usr/bin/env bash
# Builds the demo site of sluice-file-server: copies examples/www into BUILD_DIR/www and adds
# big.bin there (256 MiB by default, DEMO_BIG_MIB to change), which is generated, never
# committed. An existing big.bin of the right size is kept.
#
#   scripts/make_demo_site.sh build/release
#   build/release/bin/sluice-file-server --root build/release/www --port 8080
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")/.." && pwd)
site="$1/www"
mib=${DEMO_BIG_MIB:-256}

mkdir -p "$site"
# The bundled pages are refreshed on every run; big.bin is left alone.
cp -R "$here/examples/www/." "$site/"

big="$site/big.bin"
want=$((mib * 1024 * 1024))
if [[ ! -f "$big" || $(stat -c %s "$big") -ne $want ]]; then
  echo "generating $big ($mib MiB)..."
  tmp="$big.tmp.$$"
  trap 'rm -f "$tmp" "$tmp.block"' EXIT
  # A repeating, non-zero pattern rather than zeros, so that a range shows recognisable bytes:
  # one 1 MiB block of "sluice sluice ...", written MIB times by dd.
  python3 -c 'import sys; sys.stdout.buffer.write((b"sluice " * 149797)[:1048576])' >"$tmp.block"
  for ((i = 0; i < mib; i++)); do cat "$tmp.block"; done |
    dd of="$tmp" bs=1M iflag=fullblock status=none
  rm -f "$tmp.block"
  mv "$tmp" "$big"
  trap - EXIT
fi
echo "demo site ready: $site"
