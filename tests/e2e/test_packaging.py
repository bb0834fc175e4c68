"""Real process: the source distribution carries the docs, the example billing.yaml, the CI
examples and the licence, with the metadata a package index shows (built from a copy of the
checkout, so the repository itself is not touched)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

from tests.helpers import ROOT

SKIP = shutil.ignore_patterns(
    ".venv", ".git", "*.egg-info", "build", "dist", "__pycache__", ".*_cache", "results"
)


def test_sdist_has_docs_examples_licence_and_metadata(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=SKIP)
    out = tmp_path / "dist"
    proc = subprocess.run(
        [sys.executable, "setup.py", "-q", "sdist", "-d", str(out)],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (archive,) = out.glob("billing-sync-*.tar.gz")
    with tarfile.open(archive) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
        top = archive.name.removesuffix(".tar.gz")
        member = tar.extractfile(f"{top}/PKG-INFO")
        assert member is not None
        pkg_info = member.read().decode()
    for wanted in (
        "LICENSE",
        "CHANGELOG.md",
        "README.md",
        "billing.yaml",
        ".pre-commit-hooks.yaml",
        "docs/billing-yaml.md",
        "docs/architecture.md",
        "examples/github-actions/billing-sync-plan.yml",
        "examples/github-actions/billing-sync-apply.yml",
        "examples/github-actions/billing-sync-drift.yml",
        "billing_sync/py.typed",
        "billing_sync/cli/app.py",
    ):
        assert wanted in names, wanted
    assert "License: MIT" in pkg_info
    assert "Classifier: License :: OSI Approved :: MIT License" in pkg_info
    assert "Classifier: Programming Language :: Python :: 3.11" in pkg_info
    assert "Project-URL: Changelog, " in pkg_info
    assert not any(name.startswith(("tests/", ".venv/", "benchmarks/results")) for name in names)
