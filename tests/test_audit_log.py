"""The audit log as a Merkle tree in the hub's database (SQLite and PostgreSQL): proofs, export, tampering."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select, text

from hub import audit
from hub.audit.export import export_file
from hub.audit.log import DbTree, canonical
from hub.tables import AuditCheckpoint, AuditEntry, AuditNode
from tests.hub_support import HubApi
from wire import checkpoint as cp
from wire import merkle

REPO = Path(__file__).resolve().parents[1]


def fill(api: HubApi, n: int, checkpoint_every: int = 7) -> None:
    for i in range(n):
        with api.hub.db.session() as session:
            audit.append(session, actor=f"user{i % 3}", action="test.event", outcome=audit.Outcome.SUCCESS,
                         object=f"camera:{i}", reason=f"reason {i}", case_number=f"C-{i}")
        if i % checkpoint_every == checkpoint_every - 1:
            api.hub.checkpoint()


def export_and_verify(api: HubApi, path: Path) -> subprocess.CompletedProcess:
    with api.hub.db.session() as session:
        export_file(session, path, api.hub.audit_key, api.settings.audit_origin)
    key = base64.b64encode(cp.raw_public(api.hub.audit_key.public_key())).decode()
    return subprocess.run([sys.executable, "-m", "hub.audit.verify", "verify", str(path), "--public-key", key],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


def test_untouched_log_verifies_and_proofs_check(hub_api: HubApi, tmp_path: Path):
    fill(hub_api, 40)
    done = export_and_verify(hub_api, tmp_path / "audit.jsonl")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("VERIFIED: 40 entries")
    with hub_api.client() as c:
        latest = c.get("/api/audit/checkpoint").json()
        checkpoint = cp.verify(latest["note"], hub_api.hub.audit_key.public_key(), hub_api.settings.audit_origin)
        assert checkpoint.size == 40
        with hub_api.hub.db.session() as session:
            entry = session.scalar(select(AuditEntry).where(AuditEntry.leaf_index == 17))
            leaf = merkle.leaf_hash(canonical(entry))
        proof = [base64.b64decode(h) for h in c.get("/api/audit/proof/inclusion",
                                                    params={"index": 17, "size": 40}).json()["proof"]]
        assert merkle.verify_inclusion(17, 40, leaf, proof, checkpoint.root)
        with hub_api.hub.db.session() as session:
            old_root = merkle.root(DbTree(session), 21)
        proof = [base64.b64decode(h) for h in c.get("/api/audit/proof/consistency",
                                                    params={"old": 21, "new": 40}).json()["proof"]]
        assert merkle.verify_consistency(21, 40, old_root, checkpoint.root, proof)
        assert c.get("/api/audit/proof/inclusion", params={"index": 40, "size": 40}).status_code == 422
        assert c.get("/api/audit/entries").status_code == 401  # entries are for auditors


def tamper(api: HubApi, sql: str, **params) -> None:
    with api.hub.db.engine.begin() as connection:
        connection.execute(text(sql), params)


def test_edited_entry_is_named(hub_api: HubApi, tmp_path: Path):
    fill(hub_api, 30)
    tamper(hub_api, "UPDATE audit_entries SET reason = 'nothing to see' WHERE leaf_index = 12")
    done = export_and_verify(hub_api, tmp_path / "audit.jsonl")
    assert done.returncode == 1
    assert "entry 12 does not match its leaf hash" in done.stderr and "first bad entry: 12" in done.stderr


def test_deleted_entry_is_named(hub_api: HubApi, tmp_path: Path):
    fill(hub_api, 30)
    tamper(hub_api, "DELETE FROM audit_entries WHERE leaf_index = 9")
    done = export_and_verify(hub_api, tmp_path / "audit.jsonl")
    assert done.returncode == 1 and "entry 9 is missing" in done.stderr


def test_deleting_the_newest_entries_is_caught(hub_api: HubApi, tmp_path: Path):
    fill(hub_api, 30)
    hub_api.hub.checkpoint()
    tamper(hub_api, "DELETE FROM audit_entries WHERE leaf_index >= 25")
    done = export_and_verify(hub_api, tmp_path / "audit.jsonl")
    assert done.returncode == 1 and "entries were deleted" in done.stderr


def test_reordered_entries_are_caught(hub_api: HubApi, tmp_path: Path):
    fill(hub_api, 30)
    tamper(hub_api, "UPDATE audit_entries SET leaf_index = -1 WHERE leaf_index = 4")
    tamper(hub_api, "UPDATE audit_entries SET leaf_index = 4 WHERE leaf_index = 5")
    tamper(hub_api, "UPDATE audit_entries SET leaf_index = 5 WHERE leaf_index = -1")
    done = export_and_verify(hub_api, tmp_path / "audit.jsonl")
    assert done.returncode == 1 and "first bad entry: 4" in done.stderr


def test_rewritten_tree_is_caught_by_the_signed_checkpoints(hub_api: HubApi, tmp_path: Path):
    """An attacker edits an entry and recomputes every hash in the database; only the signature stops them."""
    fill(hub_api, 30)
    tamper(hub_api, "UPDATE audit_entries SET reason = 'rewritten' WHERE leaf_index = 20")
    with hub_api.hub.db.session() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.leaf_index)).all()
        tree = merkle.MemoryTree()
        session.execute(AuditNode.__table__.delete())
        for entry in entries:
            for level, index, digest in tree.append(merkle.leaf_hash(canonical(entry))):
                session.add(AuditNode(level=level, index=index, hash=digest))
    done = export_and_verify(hub_api, tmp_path / "audit.jsonl")
    assert done.returncode == 1
    assert "do not hash to the signed root" in done.stderr and "between 14 and 20" in done.stderr


def test_forged_checkpoint_signature_is_caught(hub_api: HubApi, tmp_path: Path):
    fill(hub_api, 20)
    with hub_api.hub.db.session() as session:
        row = session.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.size).limit(1))
        row.note = row.note.replace(f"\n{row.size}\n", f"\n{row.size - 1}\n")
    done = export_and_verify(hub_api, tmp_path / "audit.jsonl")
    assert done.returncode == 1 and "checkpoint rejected: checkpoint signature does not verify" in done.stderr


def test_export_cli_and_a_pinned_key(hub_api: HubApi, tmp_path: Path):
    fill(hub_api, 5)
    hub_api.hub.close()
    out = tmp_path / "export.jsonl"
    done = subprocess.run([sys.executable, "-m", "hub.cli", "--data", str(hub_api.settings.data_dir), "audit",
                           "export", "--out", str(out)], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={**os.environ,
                               **({"CANVASS_HUB_DATABASE_URL": hub_api.settings.database_url}
                                  if hub_api.settings.database_url else {})})
    assert done.returncode == 0, done.stderr
    ok = subprocess.run([sys.executable, "-m", "hub.audit.verify", "verify", str(out)], capture_output=True,
                        text=True, cwd=REPO)
    assert ok.returncode == 0 and "VERIFIED: 6 entries" in ok.stdout  # five, and the export's own entry
    wrong = base64.b64encode(b"\x01" * 32).decode()
    pinned = subprocess.run([sys.executable, "-m", "hub.audit.verify", "verify", str(out), "--public-key", wrong],
                            capture_output=True, text=True, cwd=REPO)
    assert pinned.returncode == 1 and "different key" in pinned.stderr


def test_concurrent_checkpoints_at_one_size_agree(hub_api: HubApi):
    """The checkpointer and grant requests may sign the same size together: all get the one checkpoint."""
    import threading

    fill(hub_api, 5, checkpoint_every=100)
    barrier = threading.Barrier(4)
    got, errors = [], []

    def sign() -> None:
        barrier.wait()
        try:
            got.append(hub_api.hub.checkpoint())
        except Exception as exc:  # noqa: BLE001 - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=sign) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert {(c.size, c.root) for c in got} == {(5, got[0].root)}


def ranged_export(api: HubApi, path: Path, since, until) -> subprocess.CompletedProcess:
    with api.hub.db.session() as session:
        export_file(session, path, api.hub.audit_key, api.settings.audit_origin, since, until)
    return subprocess.run([sys.executable, "-m", "hub.audit.verify", "verify", str(path)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


def three_periods(api: HubApi):
    """Entries 0..9, then 10..19, then 20..29; returns the moments between them."""
    from hub.tables import utcnow
    fill(api, 10)
    t1 = utcnow()
    fill(api, 10)
    t2 = utcnow()
    fill(api, 10)
    return t1, t2


def test_a_time_range_exports_verifiably_with_its_fences(hub_api: HubApi, tmp_path: Path):
    t1, t2 = three_periods(hub_api)
    done = ranged_export(hub_api, tmp_path / "range.jsonl", t1, t2)
    assert done.returncode == 0, done.stderr
    assert "VERIFIED: 12 entries (entries 9..20 of a log of 30)" in done.stdout  # 10..19 and the two fences
    done = ranged_export(hub_api, tmp_path / "open.jsonl", t2, None)
    assert done.returncode == 0 and "entries 19..29 of a log of 30" in done.stdout, done.stdout + done.stderr
    done = ranged_export(hub_api, tmp_path / "head.jsonl", None, t1)
    assert done.returncode == 0 and "entries 0..10 of a log of 30" in done.stdout, done.stdout + done.stderr


def test_tampering_inside_a_range_is_caught(hub_api: HubApi, tmp_path: Path):
    t1, t2 = three_periods(hub_api)
    hub_api.hub.checkpoint()
    tamper(hub_api, "UPDATE audit_entries SET reason = 'quiet' WHERE leaf_index = 14")
    done = ranged_export(hub_api, tmp_path / "edit.jsonl", t1, t2)
    assert done.returncode == 1 and "first bad entry: 14" in done.stderr
    tamper(hub_api, "DELETE FROM audit_entries WHERE leaf_index IN (14, 19)")  # the range's last entry too
    done = ranged_export(hub_api, tmp_path / "drop.jsonl", t1, t2)
    assert done.returncode == 1 and "entry 14 is missing" in done.stderr


def test_hiding_the_edges_of_a_range_is_caught(hub_api: HubApi, tmp_path: Path):
    t1, t2 = three_periods(hub_api)
    path = tmp_path / "range.jsonl"
    assert ranged_export(hub_api, path, t1, t2).returncode == 0
    lines = path.read_text().splitlines()
    # Drop the fence after the range and give honest hashes for the right side: the signed root still
    # rebuilds, so only the fence check can tell that the range was cut short.
    header = json.loads(lines[0])
    header["range"]["end"] -= 1
    with hub_api.hub.db.session() as session:
        right = [[lv, ix, DbTree(session).perfect(lv, ix).hex()] for lv, ix in merkle.aligned_blocks(20, 30)]
    forged = [json.dumps(header), *lines[1:-3], json.dumps({"right": right}), lines[-1]]
    path.write_text("\n".join(forged) + "\n")
    done = subprocess.run([sys.executable, "-m", "hub.audit.verify", "verify", str(path)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 1 and "should be the first one at or after" in done.stderr


def test_export_cli_takes_a_time_range(hub_api: HubApi, tmp_path: Path):
    fill(hub_api, 3)
    hub_api.hub.close()
    out = tmp_path / "export.jsonl"
    env = {**os.environ,
           **({"CANVASS_HUB_DATABASE_URL": hub_api.settings.database_url} if hub_api.settings.database_url else {})}
    base = [sys.executable, "-m", "hub.cli", "--data", str(hub_api.settings.data_dir), "audit", "export",
            "--out", str(out)]
    done = subprocess.run(base + ["--from", "2000-01-01", "--to", "2999-01-01T00:00:00+00:00"], capture_output=True,
                          text=True, cwd=REPO, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    ok = subprocess.run([sys.executable, "-m", "hub.audit.verify", "verify", str(out)], capture_output=True,
                        text=True, cwd=REPO)
    assert ok.returncode == 0 and "VERIFIED: 4 entries (entries 0..3 of a log of 4)" in ok.stdout, ok.stdout
    bad = subprocess.run(base + ["--from", "last tuesday"], capture_output=True, text=True, cwd=REPO, env=env)
    assert bad.returncode == 2 and "not an ISO 8601 date" in bad.stderr
    backwards = subprocess.run(base + ["--from", "2030-01-01", "--to", "2020-01-01"], capture_output=True,
                               text=True, cwd=REPO, env=env)
    assert backwards.returncode == 2 and "--from must be before --to" in backwards.stderr
