#!/usr/bin/env bash
# Installs the build into a scratch prefix, then builds and runs a consumer against it twice:
# through find_package(sluice) and through pkg-config; then links README's example as printed.
set -euo pipefail
build_dir=$1
source_dir=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

cmake --install "$build_dir" --prefix "$scratch/prefix" >/dev/null
cmake -S "$source_dir/consumer" -B "$scratch/cmake-build" -DCMAKE_PREFIX_PATH="$scratch/prefix" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$scratch/cmake-build" -j2 >/dev/null
"$scratch/cmake-build/consumer"

export PKG_CONFIG_PATH="$scratch/prefix/lib/pkgconfig:$scratch/prefix/lib/x86_64-linux-gnu/pkgconfig"
# shellcheck disable=SC2046
g++ -O1 -o "$scratch/pc-consumer" "$source_dir/consumer/main.cpp" $(pkg-config --cflags --libs sluice)
"$scratch/pc-consumer"

# README's first C++ block is what a new user copies: it must build against the install.
awk '/^```cpp/ { inside = 1; next } /^```/ { if (inside) exit } inside' \
  "$source_dir/../../README.md" >"$scratch/readme_example.cpp"
[ -s "$scratch/readme_example.cpp" ] || { echo "no C++ example found in README.md" >&2; exit 1; }
# shellcheck disable=SC2046
g++ -std=c++20 -Wall -Wextra -Werror -O1 -o "$scratch/readme-example" \
  "$scratch/readme_example.cpp" $(pkg-config --cflags --libs sluice)
echo "install_consumer: find_package, pkg-config and README's example all build"
