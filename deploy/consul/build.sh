#!/bin/sh
# Builds the static consul binary and the FROM-scratch image.
# Usage: deploy/consul/build.sh [image tag]   (default consul:latest)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
tag=${1:-consul:latest}
cd "$root"
RUSTFLAGS='-C target-feature=+crt-static' \
  cargo build --release --target x86_64-unknown-linux-gnu -p catalog-server --bin consul
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp target/x86_64-unknown-linux-gnu/release/consul "$ctx/consul"
strip "$ctx/consul" 2>/dev/null || true
cp deploy/consul/Dockerfile "$ctx/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx"
