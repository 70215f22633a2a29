"""``browse.py`` and ``api.query_files`` on sample logs: the pieces under the REST/WS
queries that a running host rarely shows (long checkpoint files, a round half on disk,
many files)."""

from __future__ import annotations

from pathlib import Path

from auditools import read_files, sample_log

from gatehouse.integrations.audit.api import query_files
from gatehouse.integrations.audit.browse import _last_checkpoint, verify_snapshot
from gatehouse.integrations.audit.verify import verify_path


def test_the_newest_checkpoint_is_read_from_the_tail_of_a_long_file(tmp_path: Path) -> None:
    sample_log(tmp_path, records=600, checkpoint_every=2, max_file_size=1 << 20)
    assert (tmp_path / "checkpoints.jsonl").stat().st_size > 64 * 1024
    newest = _last_checkpoint(tmp_path)
    assert newest is not None
    last_seq = sum(data.count(b"\n") for _, data in read_files(tmp_path))
    assert newest["seq"] == last_seq - 1
    assert newest["note"].startswith("gatehouse-audit/")


def test_a_round_half_on_disk_is_not_damage_for_the_snapshot(tmp_path: Path) -> None:
    sample_log(tmp_path, records=20, checkpoint_every=5, max_file_size=1 << 20)
    path = tmp_path / "audit-000001.jsonl"
    with path.open("ab") as f:
        f.write(b'{"action":"service.call","actor"')  # a write caught half way
    assert not verify_path(tmp_path).ok  # the offline tool: an incomplete line
    report = verify_snapshot(tmp_path)
    assert report.ok, report.problem
    assert report.last_seq == 24  # 20 records + 4 checkpoints


def test_paging_across_files_and_text_searches_values_not_names(tmp_path: Path) -> None:
    sample_log(tmp_path, records=250, checkpoint_every=100, max_file_size=4000)
    assert len(read_files(tmp_path)) > 5
    seen: list[int] = []
    before: int | None = None
    while True:
        page = query_files(tmp_path, limit=40, before=before)
        if not page:
            break
        seen.extend(r["seq"] for r in page)
        before = page[-1]["seq"]
    assert len(seen) == 250 and seen == sorted(seen, reverse=True)
    assert query_files(tmp_path, text="details") == []  # a field name, in every record
    assert query_files(tmp_path, text="prev") == []
    assert {r["target"] for r in query_files(tmp_path, text="LIGHT.L3", limit=500)} == {
        "light.l3"}
