"""Finding the flow projects of a workspace (notebooks/discover.py): the launcher's sample project and the
fixture project are found with their notebooks folders; hidden folders, symlinks and a project's own subfolders
are not searched."""

from __future__ import annotations

import os
import shutil

from jupyter_apolo.localplatform import seed
from jupyter_apolo.notebooks.discover import FoundProject, find_projects


def test_finds_projects_with_their_notebooks_folders(tmp_path, shared_fixtures):
    seed.seed_workspace(tmp_path)
    shutil.copytree(shared_fixtures / "flow-project", tmp_path / "team" / "fixture")
    (tmp_path / "awesome-project" / "notebooks" / "nested" / ".apolo").mkdir(parents=True)  # a project's own subfolder
    (tmp_path / ".hidden" / "p" / ".apolo").mkdir(parents=True)
    (tmp_path / "elsewhere" / ".neuro").mkdir(parents=True)
    os.symlink(tmp_path / "elsewhere", tmp_path / "linked")
    (tmp_path / "too" / "deep" / "down" / "here" / ".apolo").mkdir(parents=True)

    found = find_projects(tmp_path)
    assert found == [
        FoundProject("awesome-project", "awesome-project/notebooks"),
        FoundProject("elsewhere", None),  # no live.yml: listed, the panel says what is wrong
        FoundProject("team/fixture", "team/fixture/notebooks"),
    ]
    assert find_projects(tmp_path / "awesome-project") == [FoundProject("", "notebooks")]
    assert find_projects(tmp_path, limit=1) == [FoundProject("awesome-project", "awesome-project/notebooks")]
