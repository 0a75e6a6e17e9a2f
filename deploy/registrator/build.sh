#!/bin/sh
# Builds the static registrator binary and the FROM-scratch image.
# Usage: deploy/registrator/build.sh [image tag]   (default gliderlabs/registrator:latest)
# IMAGE_LABEL=key=value adds that label to the image (examples/tutorial/run marks its images).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
tag=${1:-gliderlabs/registrator:latest}
cd "$root"
RUSTFLAGS='-C target-feature=+crt-static' \
  cargo build --release --target x86_64-unknown-linux-gnu -p registrator
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp target/x86_64-unknown-linux-gnu/release/registrator "$ctx/registrator"
strip "$ctx/registrator" 2>/dev/null || true
cp deploy/registrator/Dockerfile "$ctx/Dockerfile"
DOCKER_BUILDKIT=0 docker build -q ${IMAGE_LABEL:+--label "$IMAGE_LABEL"} -t "$tag" "$ctx"
