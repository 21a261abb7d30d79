"""tconv.files: atomic writes with open()'s permissions, without touching the process umask."""

from __future__ import annotations

import os
import stat

import pytest

from tconv import files


def test_write_keeps_open_permissions_and_never_sets_the_umask(tmp_path, monkeypatch):
    old = os.umask(0o027)  # the test may set it; the library must not
    try:
        monkeypatch.setattr(os, "umask", lambda *_: pytest.fail("tconv.files changed the process umask"))
        p = files.write_text(tmp_path / "a.txt", "hello")
        q = tmp_path / "b.txt"
        q.write_text("x")  # what open() gives
        assert stat.S_IMODE(p.stat().st_mode) == stat.S_IMODE(q.stat().st_mode) == 0o640
        files.write_json(tmp_path / "a.txt", {"k": 1})  # over an existing file: replaced atomically
        assert (tmp_path / "a.txt").read_text().strip().startswith("{")
    finally:
        monkeypatch.undo()
        os.umask(old)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["a.txt", "b.txt"]  # no temporary file left


def test_failed_write_leaves_the_old_file(tmp_path):
    target = files.write_text(tmp_path / "keep.txt", "old")
    with pytest.raises(RuntimeError), files.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("writer failed")
    assert target.read_text() == "old" and [f.name for f in tmp_path.iterdir()] == ["keep.txt"]
