"""Kill -9 during writes, and two promotions at once, through the installed command.

A small, fixed sample of the trials that ``benchmarks/crash_check.py`` and
``benchmarks/concurrent_promote.py`` run 50 times at random moments; the trial code
and the rules are the same (``benchmarks/write_safety.py``). Kill points are fixed
fractions of the writer's own measured duration, so a slow machine moves them with
it: 0 (right after the start) and points inside each writer's write. Racers are released together or
with the second a fixed fraction of one promotion's time later, where a stale read
showed before the one-transaction rewrite.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.write_safety import (
    WRITERS,
    Sandbox,
    build_template,
    duration,
    kill_trial,
    race_duration,
    race_trial,
)

# Before the rewrite, register left files behind at 0.2-0.7 of its time, deprecate a
# temp file at 0.75, the plugin an alias file at 0.5-0.8 (of its time after `import
# mlflow`); promote and rollback commit at about 0.85.
KILLS = [
    *(("register", f) for f in (0.0, 0.2, 0.5, 0.8)),
    *(("promote", f) for f in (0.0, 0.5, 0.8, 0.9)),
    ("rollback", 0.85),
    ("deprecate", 0.75),
    ("plugin-alias", 0.6),
]
STAGGERS = (0.0, 0.1, 0.2, 0.3, 0.4)


@pytest.fixture(scope="module")
def crash_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Sandbox:
    return build_template(tmp_path_factory.mktemp("crash"), promotions=(1, 2))


@pytest.fixture(scope="module")
def durations(crash_sandbox: Sandbox) -> dict[str, float]:
    """Each writer's uninterrupted time, measured once (it must succeed)."""
    return {name: duration(crash_sandbox, WRITERS[name]) for name in dict(KILLS)}


@pytest.fixture(scope="module")
def race_sandbox(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sandbox, float]:
    sandbox = build_template(tmp_path_factory.mktemp("race"), promotions=(1,))
    return sandbox, race_duration(sandbox)


@pytest.mark.parametrize(("writer", "fraction"), KILLS, ids=[f"{w}-{f}" for w, f in KILLS])
def test_a_killed_writer_leaves_nothing_to_clean_up(
    crash_sandbox: Sandbox, durations: dict[str, float], writer: str, fraction: float
) -> None:
    trial = kill_trial(crash_sandbox, WRITERS[writer], fraction * durations[writer])
    assert trial.problems == [], trial.to_json()


@pytest.mark.parametrize("fraction", STAGGERS)
def test_concurrent_promotions_never_record_a_stale_previous(
    race_sandbox: tuple[Sandbox, float], fraction: float
) -> None:
    sandbox, seconds = race_sandbox
    trial = race_trial(sandbox, stagger_s=fraction * seconds)
    assert trial.problems == [], trial.to_json()


def test_the_template_is_what_the_trials_assume(crash_sandbox: Sandbox) -> None:
    """Guards the harness itself: versions 1-3, production at 2 after 1."""
    base = crash_sandbox.base.parent / "template"
    template = Sandbox(base)
    assert template.status() == []
    assert (Path(base) / "repo" / "registry" / "digits" / "versions" / "3.yaml").is_file()
    assert template.git("log", "--format=%s", "-2").splitlines() == [
        "promote digits version 2 to production",
        "promote digits version 1 to production",
    ]
