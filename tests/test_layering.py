"""The architecture's one-way imports (design.md "Layout"), checked on the real modules: the client and
the surface-neutral display module pull in no Jupyter, IPython, tornado or ipywidgets module; the server
never imports magics (or widgets); widgets never import magics; the embedded platform never imports the
client."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "jupyter_apolo"
FRONTEND_MODULES = ("IPython", "ipykernel", "ipywidgets", "tornado", "jupyter_server", "jupyter_client", "traitlets",
                    "zmq")


def loaded_after(statement: str) -> set[str]:
    """Top-level names of the modules a fresh interpreter has loaded after ``statement``."""
    code = f"{statement}\nimport sys\nprint('\\n'.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_client_and_display_import_no_frontend():
    loaded = loaded_after("import jupyter_apolo.display, jupyter_apolo.client")
    assert "jupyter_apolo" in loaded  # the probe ran
    assert not loaded & set(FRONTEND_MODULES), sorted(loaded & set(FRONTEND_MODULES))


def test_the_notebooks_workflow_imports_no_server_or_kernel():
    # nbformat (notebooks/git.py) brings traitlets; nothing of a server, a kernel or a widget
    loaded = loaded_after("import jupyter_apolo.notebooks")
    assert not loaded & {"IPython", "ipykernel", "ipywidgets", "tornado", "jupyter_server", "zmq"}


def test_loading_the_server_extension_does_not_load_magics():
    code = ("import jupyter_apolo, jupyter_apolo.server, sys; jupyter_apolo._jupyter_server_extension_points(); "
            "print(sorted(m for m in sys.modules "
            "if m.startswith(('jupyter_apolo.magics', 'jupyter_apolo.widgets', 'IPython'))))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert out == "[]", out


def imported_packages(folder: str) -> dict[str, set[str]]:
    """``{file: {absolute module names it imports}}`` for every module under ``jupyter_apolo/<folder>``."""
    found: dict[str, set[str]] = {}
    for path in sorted((PACKAGE / folder).rglob("*.py")):
        package = ["jupyter_apolo", *path.relative_to(PACKAGE).parent.parts]
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                names.add(".".join([*base, *(node.module.split(".") if node.module else [])]))
        found[str(path.relative_to(PACKAGE))] = names
    return found


@pytest.mark.parametrize("folder, forbidden", [
    ("server", ("jupyter_apolo.magics", "jupyter_apolo.widgets")),
    ("widgets", ("jupyter_apolo.magics", "jupyter_apolo.server")),
    ("client", ("jupyter_apolo.magics", "jupyter_apolo.server", "jupyter_apolo.widgets", "jupyter_apolo.notebooks",
                "jupyter_apolo.display", "IPython", "tornado", "ipywidgets", "jupyter_server")),
    ("localplatform", ("jupyter_apolo.client",)),
])
def test_adapters_import_only_downwards(folder, forbidden):
    if not (PACKAGE / folder).is_dir():
        pytest.skip(f"jupyter_apolo/{folder} does not exist yet")
    bad = {file: sorted(n for n in names if n.startswith(forbidden))
           for file, names in imported_packages(folder).items()}
    assert not {f: n for f, n in bad.items() if n}


def test_the_import_scan_sees_relative_imports():
    # guards the scanner itself: magics/core.py imports the client relatively
    assert "jupyter_apolo.client" in imported_packages("magics")["magics/core.py"]
