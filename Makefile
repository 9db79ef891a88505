# make demo: the main job end to end, in a scratch repository.
# make test: lint, types and the test suite.
# Both create .venv and install modelreg from this repository's own files.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PIP_FLAGS := --quiet --disable-pip-version-check

.PHONY: demo test prereqs lint typecheck pytest bench docs constraints clean mutation

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --upgrade "pip>=25.1"
	$(PY) -m pip install $(PIP_FLAGS) -c constraints.txt --group test -e '.[examples,serve]'
	# An editable install has no bytecode yet; compile it now, as a wheel install would,
	# so that no command pays for compiling modelreg on its first (or every) run.
	$(PY) -m compileall -q src/modelreg
	touch $(STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash scripts/demo.sh

test: prereqs lint typecheck pytest

prereqs:
	@bash scripts/check-prereqs

lint: $(STAMP)
	$(PY) -m ruff check src tests benchmarks scripts
	$(PY) -m ruff format --check src tests benchmarks scripts

typecheck: $(STAMP)
	$(PY) -m mypy

pytest: $(STAMP)
	$(PY) -m pytest

docs: $(STAMP)
	$(PY) scripts/gen_cli_docs.py > docs/cli.md
	$(PY) -m mkdocs build --strict --quiet

bench: $(STAMP)
	$(PY) -m benchmarks.registry_scale
	$(PY) -m benchmarks.benchmark_stability --runs 3
	$(PY) -m benchmarks.serve_load

# make mutation: mutation testing of the core modules ([tool.mutmut] in pyproject.toml)
# with mutmut; slow, so not part of make test or CI. Results are cached in mutants/, so a
# rerun only tests what changed; MUTANTS='modelreg.core.refs*' reruns one module's mutants.
# Prints killed/total and the score per module; benchmarks/results/mutation.md has a run.
MUTATION_JOBS ?= 2
MUTANTS ?=
define MUTATION_SCORES
import json, pathlib
print(f"{'module':<34} {'killed':>6} {'run':>6} {'total':>6} {'score':>7}  survived/no tests")
for meta in sorted(pathlib.Path("mutants/src").rglob("*.py.meta")):
    codes = list(json.loads(meta.read_text())["exit_code_by_key"].values())
    killed = sum(c in (1, 3, 24, -24, 36, 37, 152, 255) for c in codes)
    survived, untested = codes.count(0), codes.count(33) + codes.count(5)
    run = len(codes) - codes.count(None)
    score = f"{100 * killed / run:6.1f}%" if run else "    n/a"
    name = str(meta.relative_to("mutants/src"))[: -len(".meta")]
    print(f"{name:<34} {killed:>6} {run:>6} {len(codes):>6} {score}  {survived}/{untested}")
endef
export MUTATION_SCORES

mutation: $(STAMP)
	$(PY) -m pip install $(PIP_FLAGS) -c constraints.txt --group mutation
	$(VENV)/bin/mutmut run --max-children $(MUTATION_JOBS) $(MUTANTS)
	$(PY) -c "$$MUTATION_SCORES"

constraints: $(STAMP)
	{ sed -n '1,4p' constraints.txt; $(PY) -m pip freeze --exclude-editable | grep -v '^-e' | grep -iv '^modelreg' | grep -iv '^torch=='; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache .hypothesis
