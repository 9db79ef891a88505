#!/usr/bin/env bash
# make demo: build a registry in a scratch repository through the CLI, and show it.
#
# Everything happens under .demo/ (ignored by git): a bare repository stands in
# for the team's origin, a folder for the DVC remote, and a clone for the
# engineer's checkout. Two versions of a real (small) digits classifier are
# trained, registered and pushed; then the registry is listed and checked.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
demo="${DEMO_DIR:-$repo_root/.demo}"
rm -rf "$demo"
mkdir -p "$demo"
cd "$demo"

# The demo must not depend on (or change) the user's own git identity.
export GIT_AUTHOR_NAME="Demo Engineer" GIT_AUTHOR_EMAIL="demo@example.com"
export GIT_COMMITTER_NAME="Demo Engineer" GIT_COMMITTER_EMAIL="demo@example.com"
export DVC_NO_ANALYTICS=1

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

git init -q --bare -b main origin.git
git clone -q origin.git registry 2>/dev/null
cd registry
git commit -q --allow-empty -m "Start the model registry"

step modelreg init --remote ../dvc-remote --commit

step python "$repo_root/scripts/demo_model.py" --epochs 5 --lr 0.5 --out ../run-1
step modelreg register digits-linear --weights ../run-1/weights.npz --onnx ../run-1/model.onnx \
    --metrics ../run-1/metrics.json --params ../run-1/params.yaml \
    --description "Baseline: 5 epochs" --tag task=image-classification --commit

step python "$repo_root/scripts/demo_model.py" --epochs 200 --lr 0.5 --out ../run-2
step modelreg register digits-linear --weights ../run-2/weights.npz --onnx ../run-2/model.onnx \
    --metrics ../run-2/metrics.json --params ../run-2/params.yaml \
    --description "Longer training: 200 epochs" --tag task=image-classification --commit

git push -q origin main

step modelreg list
step modelreg versions digits-linear
step modelreg show digits-linear/latest
step modelreg resolve models:/digits-linear/latest
step modelreg validate
step git log --oneline

printf '\nThe registry is in %s (origin: %s, DVC remote: %s).\n' \
    "$demo/registry" "$demo/origin.git" "$demo/dvc-remote"
