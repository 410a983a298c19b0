#!/usr/bin/env bash
# Locks the real Wedge100BF images from local clones: sonic-buildimage at the
# Barefoot cutoff and its submodules. Writes lockfiles/wedge100bf-32x.lock and
# lockfiles/wedge100bf-32qs.lock (header: the sources read and their as-of
# rules; gaps: what could not be reached from here).
#
#   ci/lock-real-tree.sh SONIC_CLONE SUBMODULES_DIR [extra sonic-lock lock args]
#
# Defaults read Debian from its mirror (deb.debian.org keeps no history, so the
# header says "the index served today"); a runner that reaches
# snapshot.debian.org drops `--mirror` (see github-actions/lock-real-tree.yml).
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 SONIC_CLONE SUBMODULES_DIR [sonic-lock lock args...]" >&2
  exit 2
fi
repo=$1 subs=$2
shift 2
cd "$(dirname "$0")/.."
bin=${SONIC_LOCK:-target/release/sonic-lock}
[ -x "$bin" ] || cargo build --release --quiet
out=${LOCKFILES:-lockfiles}
mkdir -p "$out"
# DEBIAN_MIRROR= (empty) reads snapshot.debian.org at the cutoff, with every
# suite the tree uses (buster included); the default mirror serves bullseye only.
mirror=${DEBIAN_MIRROR-http://deb.debian.org}
debian=()
if [ -n "$mirror" ]; then
  debian=(--suite bullseye --suite bullseye-updates --suite bullseye-security --mirror "$mirror")
fi
for platform in wedge100bf-32x wedge100bf-32qs; do
  "$bin" lock --platform "$platform" --sonic-repo "$repo" --submodules "$subs" \
    ${debian[@]+"${debian[@]}"} \
    --retries "${RETRIES:-0}" --allow-incomplete --lockfiles "$out" --quiet "$@"
  echo "$out/$platform.lock: $(grep -c '^\[\[pin\]\]' "$out/$platform.lock") pins, $(grep -c '^\[\[gap\]\]' "$out/$platform.lock") gaps"
done
