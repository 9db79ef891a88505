#!/usr/bin/env bash
# The root action's install step: check the inputs, pip install the release, report
# the version. Inputs come from the caller's workflow, so they are checked before use
# and only ever passed as single arguments.
#   MODELREG_VERSION  a release, e.g. 0.1.0 or 0.2.0rc1
#   MODELREG_EXTRAS   comma-separated extras (may be empty)
#   PYTHON            the interpreter (default: python)
set -euo pipefail

version=${MODELREG_VERSION:-}
extras=${MODELREG_EXTRAS:-}
python=${PYTHON:-python}
known=" export serve mlflow gpu s3 gs azure all "

if [[ ! $version =~ ^[0-9]+(\.[0-9]+){0,3}((a|b|rc)[0-9]+)?(\.post[0-9]+)?(\.dev[0-9]+)?$ ]]; then
    echo "::error::version: expected a modelreg release such as 0.1.0, not '${version//[^[:alnum:]. _-]/?}'"
    exit 1
fi
spec="modelreg==$version"
if [[ -n $extras ]]; then
    extras=${extras// /}
    IFS=, read -r -a names <<<"$extras"
    for name in "${names[@]}"; do
        if [[ $known != *" $name "* ]]; then
            echo "::error::extras: unknown extra '${name//[^[:alnum:]_-]/?}'; use any of:${known% }"
            exit 1
        fi
    done
    spec="modelreg[$extras]==$version"
fi

"$python" -m pip install --disable-pip-version-check "$spec"
installed=$("$python" -m modelreg --version)
echo "$installed"
echo "version=${installed##* }" >>"${GITHUB_OUTPUT:-/dev/null}"
