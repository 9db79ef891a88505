"""The documentation site builds from docs/ with every warning an error (broken links,
pages left out of the navigation, unknown anchors), as `make docs` builds it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent


def build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config),
         "--site-dir", str(site)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip


def test_the_site_builds_strictly_with_every_page(tmp_path: Path) -> None:
    done = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert done.returncode == 0, done.stderr
    pages = {
        p.relative_to(tmp_path / "site").as_posix() for p in (tmp_path / "site").rglob("*.html")
    }
    expected = {p.relative_to(ROOT / "docs").with_suffix(".html").as_posix()
                for p in (ROOT / "docs").rglob("*.md")}  # fmt: skip
    assert expected <= pages


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "tutorials").mkdir(parents=True)
    for page in (ROOT / "docs").rglob("*.md"):
        target = docs / page.relative_to(ROOT / "docs")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page.read_text())
    (docs / "images").mkdir(exist_ok=True)
    for image in (ROOT / "docs" / "images").iterdir():
        (docs / "images" / image.name).write_bytes(image.read_bytes())
    (docs / "index.md").write_text((docs / "index.md").read_text() + "\n[gone](nowhere.md)\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text((ROOT / "mkdocs.yml").read_text())
    done = build(config, tmp_path / "site")
    assert done.returncode == 1
    assert "nowhere.md" in done.stderr
