"""A record names the commit of the code the run executed. The pre-forked engine server imports the engine
once and forks a process per run, possibly hours later; a checkout in between must not change the commit
its runs report (found when a `budget` run recorded the commit checked out after its server started)."""

from adamixbench.engine import record


def test_the_record_names_the_commit_the_engine_imported_not_the_checkout_of_now(monkeypatch):
    head = record._git("rev-parse", "HEAD")
    assert record.CODE_SHA == head  # imported from this checkout (None for both when git is unavailable)
    monkeypatch.setattr(record, "_git", lambda *args: "f" * 40)  # the checkout moves after the import
    prov = record.provenance(None, "2026-01-01T00:00:00")
    assert prov["git_sha"] == head and prov["git_dirty"] is record.CODE_DIRTY
