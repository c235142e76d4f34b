#!/usr/bin/env bash
# Builds the image from the project's Dockerfile under Podman, offline: a directory laid out
# as the builder stage would leave it, holding the static binary built here, stands in for
# that stage (podman build --build-context), so nothing is pulled. Needs root (setcap).
#
#   cargo build --release --locked -p retracker --target x86_64-unknown-linux-musl
#   scripts/image.sh [TAG]        # TAG defaults to retracker:local
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-retracker:local}
binary=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-musl/release/retracker
if [ ! -x "$binary" ]; then
  echo "no $binary: build it first (see the top of $0)" >&2
  exit 1
fi

# Read from the Dockerfile, so this follows it: the stage's name, its directory, the
# capability it gives the binary.
stage=$(sed -n 's/^FROM [^ ]* AS \([A-Za-z0-9_-]*\)$/\1/p' Dockerfile | head -n 1)
workdir=$(sed -n 's/^WORKDIR //p' Dockerfile | head -n 1)
caps=$(grep -o 'setcap [^ ]*' Dockerfile | head -n 1 | cut -d ' ' -f 2)
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
# Every file the final stage takes from the builder: the binary from this build, the rest
# (the CA bundle) from this machine's packages, as the builder's own would have them.
grep "^COPY --from=$stage " Dockerfile | while read -r _ _ source _; do
  mkdir -p "$context$(dirname "$source")"
  case $source in
    "$workdir"/*/release/retracker)
      cp "$binary" "$context$source"
      setcap "$caps" "$context$source"
      ;;
    *) cp -L "$source" "$context$source" ;;
  esac
done
podman build --pull=never --build-context "$stage=$context" -t "$tag" .
