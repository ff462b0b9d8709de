"""What `pip install .` ships: every package of hpt, and the data files it reads."""

import pytest
from conftest import REPO

tomllib = pytest.importorskip("tomllib")  # Python 3.11 and later


def test_every_package_is_installed():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "hpt").rglob("__init__.py")}
    assert found <= listed, f"not in pyproject.toml's packages: {sorted(found - listed)}"
    assert (REPO / "schemas" / "spec.schema.json").is_file() and "hpt.schemas" in listed
