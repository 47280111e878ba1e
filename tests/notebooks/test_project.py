"""Reading the real template project (../shared/fixtures/flow-project) and its ignore rules."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from jupyter_apolo.notebooks.ignore import FileFilter, project_filter
from jupyter_apolo.notebooks.project import ExpressionError, ProjectError, find_project_root, load_project


def test_fixture_project_volumes(shared_fixtures):
    root = shared_fixtures / "flow-project"
    project = load_project(root / "notebooks")
    assert project.root == root and project.config_dir == root / ".neuro"
    assert (project.project_id, project.project_name) == ("awesome_project", "awesome-team")
    nb = project.notebooks()
    assert (nb.remote, nb.mount, nb.local) == (
        "storage:/awesome-team/awesome_project/notebooks", "/project/notebooks", root / "notebooks")
    assert project.volumes["project"].local == root
    assert project.volumes["code"].remote == "storage:/awesome-team/awesome_project/modules"
    known = r"\(volumes: code, config, data, notebooks, project, results\)"
    with pytest.raises(ProjectError, match=r"Unknown volume 'nope'.*" + known):
        project.volume("nope")


def test_settings_override_the_notebooks_volume(shared_fixtures):
    project = load_project(shared_fixtures / "flow-project")
    nb = project.notebooks(remote="storage:/awesome-team/elsewhere")
    assert nb.remote == "storage:/awesome-team/elsewhere" and nb.local == project.root / "notebooks"
    nb = project.notebooks(local="results")
    assert nb.remote.endswith("/notebooks") and nb.local == project.root / "results"


def copy_project(shared_fixtures: Path, dest: Path, config_dir: str = ".neuro") -> Path:
    shutil.copytree(shared_fixtures / "flow-project", dest)
    if config_dir != ".neuro":
        (dest / ".neuro").rename(dest / config_dir)
    return dest


def test_apolo_dir_and_expressions(shared_fixtures, tmp_path):
    root = copy_project(shared_fixtures, tmp_path / "my-proj", ".apolo")
    (root / ".apolo/project.yml").write_text("id: my_flow\n")  # no project_name
    with pytest.raises(ExpressionError) as err:
        load_project(root).notebooks()
    assert "$[[ project.project_name ]]" in str(err.value) and "set project_name in project.yml" in str(err.value)
    project = load_project(root / "notebooks", default_project_name="alice")  # the CLI's current project
    assert project.config_dir == root / ".apolo"
    assert project.notebooks().remote == "storage:/alice/my_flow/notebooks"

    live = root / ".apolo/live.yml"
    live.write_text(live.read_text().replace(
        "remote: storage:/$[[ project.project_name ]]/$[[ flow.project_id ]]/notebooks",
        "remote: storage:${{ flow.project_id }}/$[[ hash_files('x') ]]"))
    project = load_project(root, default_project_name="alice")
    expected = (r"cannot evaluate \"\$\[\[ hash_files\('x'\) \]\]\" in .*volumes\.notebooks\.remote: "
                r"only context references")
    with pytest.raises(ExpressionError, match=expected):
        project.notebooks()
    assert project.volume("data").remote == "storage:/alice/my_flow/data"  # other volumes still usable


def test_not_a_project(tmp_path):
    with pytest.raises(ProjectError, match="not inside an apolo-flow project"):
        find_project_root(tmp_path)


def test_ignore_rules_of_the_fixture(shared_fixtures, tmp_path):
    root = copy_project(shared_fixtures, tmp_path / "p")
    (root / "notebooks/sub").mkdir()
    (root / "notebooks/sub/.neuroignore").write_text("*.csv\n!keep.csv\n")
    flt = project_filter(root, root / "notebooks")
    assert not flt.excluded("demo.ipynb")
    assert flt.excluded(".ipynb_checkpoints/demo-checkpoint.ipynb")  # always
    assert flt.excluded("results/metrics.txt") and flt.excluded("deep/data/x.bin")  # .neuroignore results/ data/
    assert flt.excluded(".git/config") and flt.excluded("x/.neuro/live.yml")  # cp-exclude
    assert flt.excluded("sub/a.csv") and not flt.excluded("sub/keep.csv") and not flt.excluded("a.csv")
    assert not flt.excluded("results.ipynb")  # "results/" matches folders only


@pytest.mark.parametrize("pattern, path, is_dir, excluded", [
    ("*.log", "a/b/c.log", False, True),
    ("/top.txt", "top.txt", False, True),
    ("/top.txt", "sub/top.txt", False, False),
    ("a/**/z", "a/b/c/z", False, True),
    ("build/", "build", True, True),
    ("build/", "build", False, False),
    ("[!x]y", "ay", False, True),
    ("[!x]y", "xy", False, False),
])
def test_patterns_follow_the_cli(pattern, path, is_dir, excluded):
    flt = FileFilter()
    flt.add(pattern)
    assert flt.excluded(path, is_dir) is excluded
    # the apolo SDK's own filter is the referee (it is given the path with "/" for folders)
    from apolo_sdk._file_filter import FileFilter as SdkFilter

    sdk = SdkFilter()
    sdk.append(True, pattern.lstrip("!"))
    assert asyncio.run(sdk.match(path + ("/" if is_dir else ""))) is (not excluded)
