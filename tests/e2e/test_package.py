"""
The package as PyPI would get it: C{python -m build} gives no warning, the
sdist carries the tests, examples and scripts, and the fast tests pass when
run from the unpacked sdist.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
import tarfile
from typing import Any

import pytest

from .support import REPO

pytestmark = pytest.mark.e2e


def test_build_and_sdist_tests(tmp_path: Any) -> None:
    pytest.importorskip("build")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(tmp_path / "dist"), REPO],
        capture_output=True, text=True, timeout=600, env=env,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # pip's notes about index locations configured on the machine are not
    # the package's
    warnings = [
        line for line in output.splitlines()
        if "warn" in line.lower() and not line.startswith("WARNING: Location ")
    ]
    assert warnings == [], "\n".join(warnings)

    (sdist,) = glob.glob(str(tmp_path / "dist" / "*.tar.gz"))
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
        archive.extractall(tmp_path / "sdist", filter="data")
    for needed in (
        "LICENSE", "CHANGELOG.rst", "tests/__init__.py", "tests/_helpers.py", "tests/e2e/conftest.py",
        "tests/e2e/package.json", "examples/chat/index.html", "examples/test_server.py", "scripts/test.sh",
        "scripts/demo.sh", ".ci/run",
    ):
        assert needed in names, needed
    assert not any("node_modules" in name for name in names)
    with tarfile.open(sdist) as archive:
        info = archive.extractfile(f"{os.path.basename(sdist)[:-7]}/PKG-INFO")
        assert info is not None
        pkg_info = info.read().decode()
    assert "License-Expression: MIT" in pkg_info
    assert "License-File: LICENSE" in pkg_info

    (unpacked,) = glob.glob(str(tmp_path / "sdist" / "*"))
    env["PYTHONPATH"] = unpacked
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-m", "not e2e", "-q", "-p", "no:cacheprovider"],
        cwd=unpacked, capture_output=True, text=True, timeout=600, env=env,
    )
    assert tests.returncode == 0, tests.stdout[-5000:] + tests.stderr[-2000:]
    passed = re.search(r"(\d+) passed", tests.stdout)
    assert passed is not None and int(passed.group(1)) >= 200, tests.stdout[-2000:]
    where = subprocess.run(
        [sys.executable, "-c", "import txsockjs; print(txsockjs.__file__)"],
        cwd=unpacked, capture_output=True, text=True, timeout=60, env=env,
    ).stdout
    assert where.startswith(unpacked), where  # the tests ran the sdist's code
