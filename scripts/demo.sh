#!/usr/bin/env bash
# make demo: the pipeline and the registry end to end, in a scratch repository.
#
# Everything happens under .demo/ (ignored by git): a bare repository stands in
# for the team's origin, a folder for the DVC remote, and a checkout of this
# project (its files as they are now) for the engineer's clone. There the DVC
# pipeline trains, evaluates, exports and benchmarks the example models; the
# digits classifier is registered, a param is changed, the pipeline runs again,
# the second version is registered, and the two are compared. Version 1 goes to
# production, then version 2, and a rollback puts version 1 back, while an
# inference server follows the production pointer and answers. A second clone
# then pulls the latest version's weights by hash from the DVC remote.
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/.." && pwd)
demo="${DEMO_DIR:-$repo_root/.demo}"
rm -rf "$demo"
mkdir -p "$demo/repo"

# The demo must not depend on (or change) the user's own git identity.
export GIT_AUTHOR_NAME="Demo Engineer" GIT_AUTHOR_EMAIL="demo@example.com"
export GIT_COMMITTER_NAME="Demo Engineer" GIT_COMMITTER_EMAIL="demo@example.com"
export DVC_NO_ANALYTICS=1
unset MLFLOW_TRACKING_URI  # runs go to the scratch clone's own .mlflow/

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
step() {
    local shown="" arg
    for arg in "$@"; do
        [[ $arg =~ [[:space:]] ]] && arg="\"$arg\""
        shown+="$arg "
    done
    printf '\n%s$ %s%s\n' "$bold" "${shown% }" "$plain"
    "$@"
}

# The project's files as they are in this checkout (tracked and new, not ignored).
(cd "$repo_root" && git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf -) | tar -xf - -C "$demo/repo"

git init -q --bare -b main "$demo/origin.git"
cd "$demo/repo"
git init -q -b main
git add -A
git commit -q -m "Start from the modelreg project ($(git -C "$repo_root" rev-parse --short HEAD))"
git remote add origin "$demo/origin.git"
git push -q -u origin main
# The DVC remote is set per clone, without editing tracked files.
step dvc remote modify --local local url "$demo/dvc-remote"

step dvc repro
git add dvc.lock data outputs
git commit -q -m "Run the example pipelines"
step modelreg register digits-cnn --from-dvc --description "Baseline CNN: 16 channels" --commit
step modelreg register diabetes-mlp --from-dvc --description "Baseline regressor" --commit

# A change of param is a commit; the pipeline reruns only the stages it affects.
sed -i.bak 's/^    channels: 16$/    channels: 8/' params.yaml && rm params.yaml.bak
grep -q '^    channels: 8$' params.yaml || { echo "demo: params.yaml has no 'channels: 16'" >&2; exit 1; }
step git diff --stat
git commit -q -am "Halve the CNN's channels: smaller and faster"
step dvc repro
git add dvc.lock
git commit -q -m "Run the digits pipeline with 8 channels"
step modelreg register digits-cnn --from-dvc --description "8 channels: smaller, faster" --commit
git push -q origin main

step modelreg list
step modelreg versions digits-cnn
step modelreg compare digits-cnn 1 2
step modelreg validate

# Promotion is one commit of one pointer file; rollback reverts it.
step modelreg promote digits-cnn 1 --to production --reason "baseline"

# The inference server follows the production pointer: no restart for a promotion
# or a rollback (its log is in .demo/serve.log).
port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
printf '\n%s$ modelreg serve digits-cnn@production --port %s --poll 0.5 &%s\n' "$bold" "$port" "$plain"
modelreg serve digits-cnn@production --port "$port" --poll 0.5 2>"$demo/serve.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
client="$repo_root/scripts/demo_client.py"
python "$client" "$url" wait
step python "$client" "$url" info
step python "$client" "$url" predict

step modelreg promote digits-cnn 2 --to production --reason "8 channels: half the size"
promoted=$(git rev-parse HEAD)
step python "$client" "$url" expect 2
step modelreg history digits-cnn --stage production
step modelreg rollback digits-cnn --stage production --reason "demo: back to the baseline"
step python "$client" "$url" expect 1
kill "$server"
wait "$server" 2>/dev/null || true
grep -E "serving|now serves" "$demo/serve.log" | sed 's/^/serve.log: /'
step git show --stat --format='%B' HEAD
step modelreg diff "$promoted" HEAD
step modelreg resolve digits-cnn@production
[ "$(modelreg resolve digits-cnn@production)" = "digits-cnn/1" ] \
    || { echo "demo: production should hold digits-cnn/1 after the rollback" >&2; exit 1; }
git push -q origin main
# The static dashboard CI publishes to GitHub Pages.
step modelreg dashboard --out "$demo/site"

# A teammate's clone: the weights come from the DVC remote by hash, verified.
git clone -q "$demo/origin.git" "$demo/teammate"
cd "$demo/teammate"
dvc remote modify --local local url "$demo/dvc-remote"
step modelreg pull digits-cnn/latest
cmp registry/digits-cnn/artifacts/2/model.onnx "$demo/repo/outputs/digits-cnn/model.onnx"
echo "byte-identical to the pipeline's output"
cd "$demo/repo"
step git log --oneline

printf '\nThe project clone is %s (origin: %s, DVC remote: %s); the dashboard is %s.\n' \
    "$demo/repo" "$demo/origin.git" "$demo/dvc-remote" "$demo/site/index.html"
