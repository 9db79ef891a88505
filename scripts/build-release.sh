#!/usr/bin/env bash
# Build modelreg's sdist and wheel as a release is built: from `git archive` of a
# commit, which writes that commit into modelreg/core/project.py (export-subst in
# .gitattributes). The installed modelreg then pins the reusable workflows and the
# pre-commit hook that 'modelreg init --ci github' writes to that exact commit.
#   scripts/build-release.sh [REF [OUTDIR]]    (default: HEAD, dist/)
#   PYTHON  the interpreter with 'build' installed (default: python3)
set -euo pipefail

ref=${1:-HEAD}
out=${2:-dist}
python=${PYTHON:-python3}

commit=$(git rev-parse --verify --quiet "$ref^{commit}") || {
    echo "error: '$ref' is not a commit of this repository" >&2
    exit 1
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git archive --format=tar "$commit" | tar -x -C "$work"
mkdir -p "$out"
"$python" -m build --outdir "$(cd "$out" && pwd)" "$work" >"$work.log" 2>&1 || {
    cat "$work.log" >&2
    rm -f "$work.log"
    exit 1
}
rm -f "$work.log"
echo "built modelreg from $commit into $out"
