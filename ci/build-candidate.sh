#!/usr/bin/env bash
# Builder command for `sonic-lock lock` and `sonic-lock bisect --builder command`.
#
# sonic-lock exports the candidate into SONIC_LOCK_VERSIONS_DIR (a SONiC
# files/build/versions tree) and SONIC_LOCK_LOCKFILE; this script builds
# sonic-buildimage with exactly those versions enforced and answers with
# `git bisect run` exit codes:
#   0   the image built
#   1   the build failed (the candidate is bad)
#   125 the candidate could not be judged (infrastructure trouble: no docker,
#       disk full, the mirror unreachable) - bisect routes around it
#   255 stop everything (misconfiguration)
#
# Environment:
#   SONIC_BUILDIMAGE   path of the sonic-buildimage checkout (required)
#   PLATFORM           sonic-buildimage PLATFORM (default: barefoot)
#   BUILD_TARGET       make target (default: target/sonic-$PLATFORM.bin)
#   MAKE_ARGS          extra arguments for make (e.g. "SONIC_BUILD_JOBS=4")
set -uo pipefail

: "${SONIC_BUILDIMAGE:?set SONIC_BUILDIMAGE to the sonic-buildimage checkout}"
: "${SONIC_LOCK_VERSIONS_DIR:?run me from sonic-lock (SONIC_LOCK_VERSIONS_DIR is not set)}"
PLATFORM="${PLATFORM:-barefoot}"
BUILD_TARGET="${BUILD_TARGET:-target/sonic-${PLATFORM}.bin}"

[ -d "$SONIC_BUILDIMAGE/.git" ] || [ -f "$SONIC_BUILDIMAGE/.git" ] || {
  echo "not a git checkout: $SONIC_BUILDIMAGE" >&2; exit 255; }
docker info >/dev/null 2>&1 || { echo "docker is not usable: cannot judge" >&2; exit 125; }
avail_kb=$(df -Pk "$SONIC_BUILDIMAGE" | awk 'NR==2 {print $4}')
[ "${avail_kb:-0}" -gt $((50 * 1024 * 1024)) ] || { echo "less than 50 GiB free: cannot judge" >&2; exit 125; }

cd "$SONIC_BUILDIMAGE" || exit 255
# Start every trial from the same tree: drop the previous candidate's versions and outputs.
git clean -fdxq -- files/build/versions target 2>/dev/null || true
git checkout -q -- files/build/versions 2>/dev/null || true
mkdir -p files/build/versions
cp -a "$SONIC_LOCK_VERSIONS_DIR"/. files/build/versions/ || exit 255

make configure PLATFORM="$PLATFORM" >/dev/null 2>&1 || true
# shellcheck disable=SC2086
make SONIC_VERSION_CONTROL_COMPONENTS=all ${MAKE_ARGS:-} "$BUILD_TARGET"
rc=$?
if [ $rc -ne 0 ]; then
  # Network trouble is not the candidate's fault.
  if find target -name "*.log" -exec grep -qsE "Temporary failure resolving|Could not resolve host|No space left on device" {} + 2>/dev/null; then
    exit 125
  fi
  exit 1
fi
exit 0
