#!/usr/bin/env bash
# Checks sonic-lock's split against SONiC's own merge: exports a lock (or a
# files/build/versions tree, imported first) as a SONiC versions tree, runs
# sonic-buildimage's scripts/versions_manager.py `generate` for every module,
# dist and architecture, and compares what it yields with the lock's effective
# sets (`sonic-lock export --format effective`). For a tree input it also runs
# `generate` on the tree as given, so the comparison covers SONiC's reading of
# the original files.
#
# Usage: ci/check-versions-generate.sh SONIC_BUILDIMAGE LOCK_OR_TREE [-- EXPORT_ARGS...]
#   SONIC_BUILDIMAGE  a sonic-buildimage checkout (only scripts/versions_manager.py is used)
#   LOCK_OR_TREE      a lockfile, or a files/build/versions directory
#   EXPORT_ARGS       passed to both exports (e.g. --parents FILE, --no-split, --arch arm64)
# Environment: SONIC_LOCK (the binary; default: sonic-lock on PATH), KEEP=1 keeps the work directory.
# Exit: 0 no difference, 1 differences (listed), 2 usage or tool error.
set -uo pipefail

usage() { echo "usage: $0 SONIC_BUILDIMAGE LOCK_OR_TREE [-- EXPORT_ARGS...]" >&2; exit 2; }
[ $# -ge 2 ] || usage
SBI=$1 INPUT=$2
shift 2
if [ $# -gt 0 ]; then [ "$1" = "--" ] || usage; shift; fi
SONIC_LOCK=${SONIC_LOCK:-sonic-lock}
VM="$SBI/scripts/versions_manager.py"
[ -f "$VM" ] || { echo "$VM: not found (is $SBI a sonic-buildimage checkout?)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is needed to run $VM" >&2; exit 2; }

WORK=$(mktemp -d)
if [ "${KEEP:-}" = 1 ]; then echo "work directory: $WORK" >&2; else trap 'rm -rf "$WORK"' EXIT; fi

LOCK=$INPUT
if [ -d "$INPUT" ]; then
  LOCK=$WORK/input.lock
  "$SONIC_LOCK" --quiet import --sonic-versions "$INPUT" -o "$LOCK" >/dev/null || exit 2
fi
mkdir -p "$WORK/ours-src/files/build"
"$SONIC_LOCK" --quiet export --lock "$LOCK" --format sonic-versions \
  --out "$WORK/ours-src/files/build/versions" "$@" >&2 || exit 2
"$SONIC_LOCK" --quiet export --lock "$LOCK" --format effective --out "$WORK/effective" "$@" >/dev/null || exit 2

# generate SRC OUT: runs generate for every module/dist/arch of the index into OUT.
generate() {
  local src=$1 out=$2 module dist arch
  while read -r module dist arch; do
    [ -n "$module" ] || continue
    python3 "$VM" generate -s "$src" -n "$module" -d "$dist" -a "$arch" \
      -t "$out/$module/$dist-$arch" >/dev/null || { echo "generate failed: $module $dist $arch" >&2; exit 2; }
    rm -f "$out/$module/$dist-$arch/01-versions-deb"
  done < "$WORK/effective/modules.txt"
}

# compare A B LABEL: compares two trees of effective files, one file per module x kind.
compare() {
  local a=$1 b=$2 label=$3 files differ
  files=$( (cd "$a" && find . -name 'versions-*'; cd "$b" && find . -name 'versions-*') | sort -u)
  total=$(printf '%s\n' "$files" | grep -c . || true)
  differ=0
  while read -r f; do
    [ -n "$f" ] || continue
    if ! cmp -s "$a/$f" "$b/$f" 2>/dev/null; then
      differ=$((differ + 1))
      echo "differs: $f" >&2
      diff <(cat "$a/$f" 2>/dev/null) <(cat "$b/$f" 2>/dev/null) | sed 's/^/    /' | head -20 >&2
    fi
  done <<< "$files"
  echo "$label: $total module x kind files, $differ differ"
  [ "$differ" -eq 0 ]
}

status=0
generate "$WORK/ours-src" "$WORK/generated"
compare "$WORK/effective" "$WORK/generated" "generate on the export vs the lock's effective sets" || status=1
if [ -d "$INPUT" ]; then
  mkdir -p "$WORK/input-src/files/build"
  ln -s "$(cd "$INPUT" && pwd)" "$WORK/input-src/files/build/versions"
  generate "$WORK/input-src" "$WORK/generated-input"
  compare "$WORK/generated-input" "$WORK/generated" "generate on the input tree vs on the export" || status=1
fi
exit $status
