"""The audit log as a Merkle tree in the hub's database (SQLite and PostgreSQL): proofs, export, tampering."""

from __future__ import annotations

import base64
import datetime as dt
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
from wire import audit as wa
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


def verify(path: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hub.audit.verify", "verify", str(path), *options],
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
    assert "VERIFIED: 12 entries (entries 9..20 of a log of 30; proven complete for every entry logged from " \
           f"{t1.isoformat()} until {t2.isoformat()})" in done.stdout  # 10..19 and the two fences
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
    done = verify(path)
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
    assert ok.returncode == 0 and "VERIFIED: 4 entries (entries 0..3 of a log of 4; proven complete for every " \
        "entry logged from 2000-01-01T00:00:00+00:00 until 2999-01-01T00:00:00+00:00)" in ok.stdout, ok.stdout
    bad = subprocess.run(base + ["--from", "last tuesday"], capture_output=True, text=True, cwd=REPO, env=env)
    assert bad.returncode == 2 and "not an ISO 8601 date" in bad.stderr
    backwards = subprocess.run(base + ["--from", "2030-01-01", "--to", "2020-01-01"], capture_output=True,
                               text=True, cwd=REPO, env=env)
    assert backwards.returncode == 2 and "--from must be before --to" in backwards.stderr


def test_a_ranges_start_cannot_be_moved_past_entries_folded_into_the_left_hashes(hub_api: HubApi, tmp_path: Path):
    """The attack: fold the fence and eleven entries into the left hashes, move `since` past them, and the
    export still rebuilt the signed root and passed the fence check. The hub's signature over the range
    claim no longer matches."""
    from hub.tables import utcnow
    fill(hub_api, 10)
    t1 = utcnow()
    fill(hub_api, 20)
    t2 = utcnow()
    fill(hub_api, 10)
    path = tmp_path / "range.jsonl"
    assert ranged_export(hub_api, path, t1, t2).returncode == 0  # entries 9..30: the fences 9 and 30
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    span, entries, folded = header["range"], [json.loads(line) for line in lines[2:-2]], 12
    known = {(level, index): bytes.fromhex(h) for level, index, h in json.loads(lines[1])["left"]}
    known.update(((0, e["index"]), bytes.fromhex(e["leaf_hash"])) for e in entries[:folded])
    first = span["first"] + folded  # entry 21 becomes the "fence" …
    tree = merkle.PartialTree(span["size"], known)
    left = [[level, index, tree.perfect(level, index).hex()] for level, index in merkle.aligned_blocks(0, first)]
    later = wa.AuditEntry.parse(entries[folded + 1]["entry"]).at  # … once `since` is entry 22's time
    span.update(first=first, since=later.isoformat())
    path.write_text("\n".join([json.dumps(header), json.dumps({"left": left}), *lines[2 + folded:]]) + "\n")
    done = verify(path)
    assert done.returncode == 1, done.stdout
    assert "the export's range is not signed by the hub's audit key" in done.stderr


def test_verify_requires_the_period_the_auditor_asked_for(hub_api: HubApi, tmp_path: Path):
    t1, t2 = three_periods(hub_api)
    path = tmp_path / "range.jsonl"
    assert ranged_export(hub_api, path, t1, t2).returncode == 0
    asked = verify(path, "--from", t1.isoformat(), "--to", t2.isoformat())
    assert asked.returncode == 0 and "covers the period asked for" in asked.stdout, asked.stderr
    inside = verify(path, "--from", (t1 + (t2 - t1) / 2).isoformat(), "--to", t2.isoformat())
    assert inside.returncode == 0, inside.stderr  # a wider proven period covers a narrower one
    earlier = verify(path, "--from", (t1 - dt.timedelta(hours=1)).isoformat(), "--to", t2.isoformat())
    assert earlier.returncode == 1 and "does not cover the period asked for" in earlier.stderr
    later = verify(path, "--from", t1.isoformat())  # up to now: entries after t2 are not in this export
    assert later.returncode == 1 and "does not cover the period asked for" in later.stderr
    backwards = verify(path, "--from", t2.isoformat(), "--to", t1.isoformat())
    assert backwards.returncode == 2 and "--from must be before --to" in backwards.stderr


def test_a_truncated_whole_export_fails_against_a_checkpoint_or_size_known_from_elsewhere(hub_api: HubApi,
                                                                                         tmp_path: Path):
    """The last 49 entries and their checkpoints dropped: a complete older export, as far as the file can
    tell. A checkpoint an appliance witnessed (or the log's size) says otherwise."""
    fill(hub_api, 98)  # checkpoints at 7, 14, …, 98
    path = tmp_path / "audit.jsonl"
    assert export_and_verify(hub_api, path).returncode == 0
    with hub_api.client() as c:
        latest = c.get("/api/audit/checkpoint").json()
    witnessed = tmp_path / "witnessed.json"
    witnessed.write_text(json.dumps({"note": latest["note"]}))  # as an appliance's witness keeps it
    assert verify(path, "--checkpoint", str(witnessed), "--min-size", "98").returncode == 0

    lines = path.read_text().splitlines()
    kept = [line for line in lines[1:] if "checkpoint" not in json.loads(line) or
            cp.parse_body(json.loads(line)["checkpoint"].partition("\n\n")[0] + "\n").size <= 49]
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text("\n".join([lines[0], *kept[:49], *kept[98:]]) + "\n")
    assert "VERIFIED: 49 entries" in verify(truncated).stdout  # nothing in the file can tell
    done = verify(truncated, "--checkpoint", str(witnessed))
    assert done.returncode == 1 and "the export is truncated or older than that checkpoint" in done.stderr
    done = verify(truncated, "--min-size", "98")
    assert done.returncode == 1 and "the export is truncated or older than what is known" in done.stderr

    published = tmp_path / "published.txt"  # a bare signed note, at a size the export covers
    with hub_api.hub.db.session() as session:
        published.write_text(session.scalar(select(AuditCheckpoint.note).where(AuditCheckpoint.size == 42)))
    done = verify(truncated, "--checkpoint", str(published))
    assert done.returncode == 0 and "consistent with the known checkpoint at 42 entries" in done.stdout

    forked = tmp_path / "forked.txt"  # the hub's key, the same size, another root
    forked.write_text(cp.sign(cp.Checkpoint(hub_api.settings.audit_origin, 49, bytes(32)), hub_api.hub.audit_key,
                              hub_api.settings.audit_origin))
    done = verify(truncated, "--checkpoint", str(forked))
    assert done.returncode == 1 and "contradicts the checkpoint known from elsewhere" in done.stderr
