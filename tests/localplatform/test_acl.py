"""The permission tree: actions, whole-segment prefix inheritance (reference §3.2, §3.4)."""

import pytest

from jupyter_apolo.localplatform.acl import PermissionTree, action_rank


def test_actions_are_ordered():
    assert [action_rank(a) for a in ("deny", "list", "read", "write", "manage")] == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="Unknown action"):
        action_rank("admin")


def test_prefix_inheritance_by_whole_segments():
    tree = PermissionTree([("storage://c/u1", "write"), ("storage://c/u2", "read"), ("storage://c/u3/subpath", "read")])
    assert tree.allows("storage://c/u1/very/deep/subpath", "write")
    assert tree.allows("storage://c/u2/x", "read") and not tree.allows("storage://c/u2/x", "write")
    assert tree.action_for("storage://c/u3/another") == "deny"
    assert tree.action_for("storage://c/u3") == "list"  # ancestor of a grant
    assert tree.action_for("storage://c") == "list"
    assert tree.action_for("storage://c/u1data") == "deny"  # .../u1 does not cover .../u1data
    assert tree.action_for("job://c/u1") == "deny"  # other scheme


def test_highest_grant_wins_and_visible_children():
    tree = PermissionTree([("storage://c/o/p", "read"), ("storage://c/o/p/data", "manage"),
                           ("storage://c/o/q/x", "read")])
    assert tree.action_for("storage://c/o/p/data/f") == "manage"
    assert tree.action_for("storage://c/o/p/other") == "read"
    assert tree.visible_children("storage://c/o") == {"p", "q"}
    assert tree.visible_children("storage://c/o/q") == {"x"}
    assert dict(tree.items()) == {"storage://c/o/p": "read", "storage://c/o/p/data": "manage",
                                  "storage://c/o/q/x": "read"}
