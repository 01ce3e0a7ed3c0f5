"""The appliance witnesses the hub's audit log: it follows honest growth and catches forks and shrinking."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edge.link.witness import LogForked, Witness
from hub import audit
from hub.keys import public_pem
from tests.hub_support import HubApi


def grow(api: HubApi, n: int, tag: str) -> None:
    with api.hub.db.session() as session:
        for i in range(n):
            audit.append(session, actor=tag, action="test.event", outcome="success", object=f"{tag}:{i}")


def fetcher(api: HubApi):
    def fetch(path: str, params: dict) -> dict:
        with api.client() as c:
            r = c.get(path, params=params)
            r.raise_for_status()
            return r.json()

    return fetch


def twin(api: HubApi, root: Path) -> HubApi:
    """Another hub that signs with the same audit key: what a hub rewriting its own history looks like."""
    keys = root / "hub" / "keys"
    keys.mkdir(parents=True)
    shutil.copy2(api.settings.data_dir / "keys" / "audit-signing.key", keys / "audit-signing.key")
    return HubApi(root)


@pytest.fixture
def hub_a(tmp_path: Path):
    api = HubApi(tmp_path / "a")
    yield api
    api.close()


def witness_of(api: HubApi, tmp_path: Path) -> Witness:
    return Witness(tmp_path / "witness" / "checkpoint", public_pem(api.hub.audit_key), api.settings.audit_origin,
                   fetcher(api))


def test_follows_an_honest_log(hub_a: HubApi, tmp_path: Path):
    witness = witness_of(hub_a, tmp_path)
    grow(hub_a, 10, "a")
    assert witness.check().size == 10
    for more in (1, 5, 37):
        grow(hub_a, more, "a")
        result = witness.check()
        assert result.advanced
    assert witness.check().advanced is False and witness.last().size == 53


def test_catches_a_rewritten_history(hub_a: HubApi, tmp_path: Path):
    witness = witness_of(hub_a, tmp_path)
    grow(hub_a, 10, "a")
    witness.check()
    forked = twin(hub_a, tmp_path / "b")
    try:
        grow(forked, 9, "a")
        grow(forked, 5, "rewritten")  # same key, same first 9 entries, then a different history
        witness.fetch = fetcher(forked)
        with pytest.raises(LogForked, match="does not extend"):
            witness.check()
        assert witness.last().size == 10  # the forked checkpoint was not accepted
    finally:
        forked.close()


def test_catches_a_shrunken_or_equivocating_log(hub_a: HubApi, tmp_path: Path):
    witness = witness_of(hub_a, tmp_path)
    grow(hub_a, 10, "a")
    witness.check()
    smaller = twin(hub_a, tmp_path / "b")
    same_size = twin(hub_a, tmp_path / "c")
    try:
        grow(smaller, 6, "a")
        witness.fetch = fetcher(smaller)
        with pytest.raises(LogForked, match="shrank from 10 to 6"):
            witness.check()
        grow(same_size, 10, "other")
        witness.fetch = fetcher(same_size)
        with pytest.raises(LogForked, match="two different audit logs of 10"):
            witness.check()
    finally:
        smaller.close()
        same_size.close()


def test_refuses_a_checkpoint_signed_by_another_key(hub_a: HubApi, tmp_path: Path):
    witness = witness_of(hub_a, tmp_path)
    impostor = HubApi(tmp_path / "impostor")
    try:
        grow(impostor, 3, "x")
        witness.fetch = fetcher(impostor)
        with pytest.raises(LogForked, match="not validly signed"):
            witness.check()
    finally:
        impostor.close()


def test_a_grant_checkpoint_must_agree_with_the_witnessed_log(hub_a: HubApi, tmp_path: Path):
    """The consent guard asks the witness to vouch for the checkpoint inside each grant."""
    from edge.consent.guard import ConsentGuard
    from hub.access.grants import issue_grant
    from tests.owner_support import SoftwareAuthenticator, pair_at_box, signed_policy
    from wire import consent as c

    witness = witness_of(hub_a, tmp_path)
    grow(hub_a, 10, "a")
    witness.check()
    guard = ConsentGuard(tmp_path / "box" / "consent.sqlite3", device_id="dev-aaaaaaaaaaaa", cameras=["front"],
                         grant_key_pem=hub_a.hub.grant_public_key_pem, audit_key_pem=public_pem(hub_a.hub.audit_key),
                         audit_origin=hub_a.settings.audit_origin, witness=witness)
    forked = twin(hub_a, tmp_path / "b")
    try:
        policy = c.Policy(sharing="always", modes=["live"])
        owner = SoftwareAuthenticator()
        pair_at_box(guard, owner)
        guard.accept_policy(signed_policy(owner, device_id="dev-aaaaaaaaaaaa", camera="front", version=1,
                                          policy=policy))
        args = dict(device_id="dev-aaaaaaaaaaaa", camera="front", mode="live", analyst="ana",
                    reason="armed robbery at the corner store", case_number="2026-1", policy_version=1, lifetime_s=300)
        assert guard.judge(issue_grant(hub_a.hub, **args)).accepted
        assert witness.last().size > 10  # the grant's newer checkpoint advanced the witness
        # A grant from a forked log signed with the same keys (a hub hiding entries from the auditors).
        shutil.copy2(hub_a.settings.data_dir / "keys" / "grant-signing.key",
                     forked.settings.data_dir / "keys" / "grant-signing.key")
        forked.hub.signing_key = hub_a.hub.signing_key
        grow(forked, 40, "rewritten")
        witness.fetch = fetcher(forked)  # the forked hub answers the box's proof requests from its forked log
        decision = guard.judge(issue_grant(forked.hub, **args))
        assert not decision.accepted
        assert decision.reason.startswith("the grant's audit checkpoint contradicts the log this appliance has witnessed")
    finally:
        forked.close()
        guard.close()
