"""Sign-in hardening, against a real hub served by uvicorn on loopback, on SQLite and on PostgreSQL.

Each client binds its own loopback address (127.0.0.x), so the hub sees distinct sources as it would see
distinct machines: lockout per (account, address), the per-address throttle and the per-account slow-down;
atomic counting under simultaneous guesses; the second factor (one answer for every failure, no replayed
code, the password to enrol, an admin's reset); logout revoking the token it was called with; the password
rules and case-insensitive user names; disabling users, revoking their sessions, and the last admin.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pyotp
import pytest
from argon2 import PasswordHasher
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from hub.db import Database, alembic_config
from hub.passwords import PasswordPolicyError, check_password_policy
from hub.tables import AuditEntry, Role, User
from hub.throttle import Limits, retry_after, source_key
from tests.hub_support import HubApi, HubServer

PASSWORD = "correct-horse-battery"
WRONG = "not-the-password-at-all"
#: The one answer to every failed sign-in.
FAILED = "wrong user name, password or one-time code"


class ServedHub:
    """A hub without a broker, served by uvicorn on 127.0.0.1; clients connect from any 127.0.0.x."""

    def __init__(self, root: Path, database_url: str | None = None, **settings):
        self.api = HubApi(root, database_url, **settings)
        self.server = HubServer(self.api.hub)
        self.server.start()

    def close(self) -> None:
        self.server.stop()  # the app's lifespan closes the hub's services

    def client(self, source: str = "127.0.0.1", token: str | None = None, scheme: str = "Bearer") -> httpx.Client:
        headers = {"Authorization": f"{scheme} {token}"} if token else {}
        return httpx.Client(base_url=self.server.url, headers=headers, timeout=120,
                            transport=httpx.HTTPTransport(local_address=source))

    def add_user(self, username: str, role: Role = Role.ANALYST, password: str = PASSWORD, *,
                 hasher: PasswordHasher | None = None) -> int:
        """A user straight into the database (a slower `hasher` makes each password check take longer)."""
        with self.api.hub.db.session() as session:
            user = User(username=username, password_hash=(hasher or PasswordHasher()).hash(password), role=role)
            session.add(user)
            session.flush()
            return user.id

    def login(self, username: str, password: str = PASSWORD, source: str = "127.0.0.1",
              totp: str | None = None) -> httpx.Response:
        body = {"username": username, "password": password} | ({"totp": totp} if totp else {})
        with self.client(source) as c:
            return c.post("/api/auth/login", json=body)

    def token(self, username: str, password: str = PASSWORD, source: str = "127.0.0.1", totp: str | None = None) -> str:
        r = self.login(username, password, source, totp)
        assert r.status_code == 200, r.text
        return r.json()["token"]

    def admin(self) -> str:
        """A signed-in admin's token (the admin is made on first use)."""
        with self.api.hub.db.session() as session:
            exists = session.scalar(select(User).where(User.username == "root")) is not None
        if not exists:
            self.add_user("root", Role.ADMIN)
        return self.token("root", source="127.0.0.250")

    def audit(self, action: str) -> list[AuditEntry]:
        with self.api.hub.db.session() as session:
            return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                        .order_by(AuditEntry.leaf_index)))


@pytest.fixture
def served(tmp_path: Path, database_url: str | None):
    hub = ServedHub(tmp_path, database_url)
    yield hub
    hub.close()


def at_once(calls) -> list[httpx.Response]:
    """Run every call in its own thread, all started together; the responses in call order."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


# 1. Lockout per (account, address), a throttle per address, a slow-down per account.

def test_a_strangers_failures_lock_the_strangers_address_not_the_user(served: ServedHub):
    served.add_user("admin", Role.ADMIN)
    for _ in range(5):
        assert served.login("admin", WRONG, source="127.0.0.2").status_code == 401
    assert served.login("admin", PASSWORD, source="127.0.0.3").status_code == 200
    locked = served.login("admin", PASSWORD, source="127.0.0.2")
    assert locked.status_code == 423 and "locked" in locked.json()["detail"]
    assert int(locked.headers["Retry-After"]) > 0


def test_one_address_is_throttled_across_all_user_names_with_429_and_retry_after(served: ServedHub):
    served.add_user("ana")
    statuses = []
    for attempt in range(80):  # 20 names, 4 tries each: no (name, address) pair reaches its lock
        r = served.login(f"name{attempt % 20}", WRONG, source="127.0.0.4")
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["Retry-After"]) > 0 and "address" in r.json()["detail"]
    assert statuses == [401] * 20 + [429] * 60
    assert served.login("ana", source="127.0.0.4").status_code == 429  # refused before the password is checked
    assert served.login("ana", source="127.0.0.5").status_code == 200


def test_a_distributed_attack_on_one_account_is_slowed_not_locked(tmp_path: Path, database_url: str | None):
    hub = ServedHub(tmp_path, database_url, sign_in_account_ceiling=10, sign_in_account_interval_s=600)
    try:
        hub.add_user("ana")
        hub.token("ana", source="127.0.0.3")  # ana's own address, where she signed in before
        statuses = [hub.login("ana", WRONG, source=f"127.0.1.{n}").status_code for n in range(1, 16)]
        assert statuses == [401] * 10 + [429] * 5  # no address reached its own lock: the account is slowed
        slowed = hub.login("ana", PASSWORD, source="127.0.1.99")
        assert slowed.status_code == 429 and 0 < int(slowed.headers["Retry-After"]) <= 600
        assert hub.login("ana", PASSWORD, source="127.0.0.3").status_code == 200
    finally:
        hub.close()


def test_retry_after_is_the_end_of_the_window_or_the_next_slot():
    limits = Limits(window_s=900, pair_failures=5, source_failures=20, account_ceiling=10,
                    account_interval_s=60, trust_s=86400)
    assert retry_after("pair", failures=5, window_start=1000, limits=limits, now=1100) == 800
    assert retry_after("source", failures=20, window_start=1000, limits=limits, now=1899) == 1
    assert retry_after("account", failures=10, window_start=1000, limits=limits, now=1030) == 30
    assert retry_after("account", failures=12, window_start=1000, limits=limits, now=1150) == 30
    assert retry_after("account", failures=30, window_start=1000, limits=limits, now=1100) == 800


def test_an_ipv6_source_is_throttled_by_its_64_bit_prefix():
    assert source_key("2001:db8:1:2:aaaa::1") == source_key("2001:db8:1:2:bbbb::7") == "2001:db8:1:2::/64"
    assert source_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert source_key("192.0.2.7") == "192.0.2.7"
    assert source_key("testclient") == "testclient"


# 2. Counting is atomic: an attempt is reserved before its password is checked.

def test_forty_simultaneous_wrong_guesses_check_exactly_five_passwords(served: ServedHub):
    served.add_user("ana")
    statuses = [r.status_code for r in at_once([lambda: served.login("ana", WRONG, source="127.0.0.6")] * 40)]
    assert statuses.count(401) == 5 and set(statuses) <= {401, 423, 429}, statuses
    assert [e.outcome for e in served.audit("auth.login")].count("failure") == 5
    assert served.login("ana", source="127.0.0.7").status_code == 200


def test_the_right_password_sent_after_eleven_wrong_ones_is_not_checked(served: ServedHub):
    served.add_user("ana", hasher=PasswordHasher(time_cost=8))  # each check takes long enough to overlap
    with ThreadPoolExecutor(max_workers=31) as pool:
        wrong = [pool.submit(served.login, "ana", WRONG, "127.0.0.8") for _ in range(11)]
        time.sleep(0.5)  # ordering only: the eleven are on their way before the right one is sent
        right = pool.submit(served.login, "ana", PASSWORD, "127.0.0.8")
        wrong += [pool.submit(served.login, "ana", WRONG, "127.0.0.8") for _ in range(19)]
        statuses = [f.result().status_code for f in wrong]
        assert right.result().status_code in (423, 429)
    assert statuses.count(401) == 5 and set(statuses) <= {401, 423, 429}, statuses


# 3. The second factor.

def with_totp(hub: ServedHub, username: str) -> pyotp.TOTP:
    """A second factor for `username`, set in the database as if enrolled before (no code used yet)."""
    totp = pyotp.TOTP(pyotp.random_base32())
    with hub.api.hub.db.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        user.totp_secret, user.totp_enabled = totp.secret, True
    return totp


def a_wrong_code(totp: pyotp.TOTP) -> str:
    valid = {totp.at(time.time() + step * totp.interval) for step in (-1, 0, 1, 2)}
    return next(code for code in ("000000", "111111", "222222", "333333", "444444") if code not in valid)


def test_every_failed_sign_in_gets_the_same_answer(served: ServedHub):
    served.add_user("ana")
    totp = with_totp(served, "ana")
    answers = [served.login("ana", PASSWORD, source="127.0.0.9"),  # right password, no code
               served.login("ana", WRONG, source="127.0.0.10"),
               served.login("ana", PASSWORD, source="127.0.0.11", totp=a_wrong_code(totp)),
               served.login("nobody", WRONG, source="127.0.0.12")]
    assert [(r.status_code, r.json()) for r in answers] == [(401, {"detail": FAILED})] * 4


def test_a_one_time_code_is_accepted_once(served: ServedHub):
    served.add_user("ana")
    totp = with_totp(served, "ana")
    code = totp.at(time.time() + totp.interval)  # the next time step's code: accepted one step early
    assert served.login("ana", totp=code).status_code == 200
    replayed = served.login("ana", totp=code, source="127.0.0.13")
    assert replayed.status_code == 401 and replayed.json() == {"detail": FAILED}
    older = totp.at(time.time() - totp.interval)  # within the window, but older than the code last accepted
    assert served.login("ana", totp=older, source="127.0.0.14").status_code == 401


def test_the_code_that_enrols_a_second_factor_cannot_sign_in(served: ServedHub):
    served.add_user("ana")
    with served.client(token=served.token("ana")) as c:
        totp = pyotp.TOTP(c.post("/api/auth/totp/setup", json={"password": PASSWORD}).json()["secret"])
        code = totp.now()
        assert c.post("/api/auth/totp/enable", json={"password": PASSWORD, "code": code}).status_code == 204
    assert served.login("ana", totp=code, source="127.0.0.20").status_code == 401
    assert served.login("ana", totp=totp.at(time.time() + totp.interval), source="127.0.0.20").status_code == 200


def test_enrolling_a_second_factor_needs_the_current_password(served: ServedHub):
    served.add_user("ana")
    stolen = served.token("ana")
    with served.client(token=stolen) as c:
        assert c.post("/api/auth/totp/setup").status_code == 422
        refused = c.post("/api/auth/totp/setup", json={"password": WRONG})
        assert refused.status_code == 403 and WRONG not in refused.text
        secret = c.post("/api/auth/totp/setup", json={"password": PASSWORD}).json()["secret"]
        code = pyotp.TOTP(secret).now()
        assert c.post("/api/auth/totp/enable", json={"code": code}).status_code == 422
        assert c.post("/api/auth/totp/enable", json={"password": WRONG, "code": code}).status_code == 403
        assert c.get("/api/auth/me").json()["totp_enabled"] is False
    assert [e.outcome for e in served.audit("auth.totp_setup")] == ["failure", "success"]
    assert [(e.outcome, e.reason) for e in served.audit("auth.totp_enable")] == [("failure", "wrong password")]


def test_a_stolen_session_cannot_guess_the_password_without_limit(served: ServedHub):
    served.add_user("ana")
    with served.client("127.0.0.15", served.token("ana")) as c:
        statuses = [c.post("/api/auth/totp/setup", json={"password": WRONG}).status_code for _ in range(6)]
    assert statuses == [403] * 5 + [423]


def test_an_admin_resets_a_users_second_factor_and_it_is_audited(served: ServedHub):
    ana = served.add_user("ana")
    with_totp(served, "ana")
    assert served.login("ana", source="127.0.0.16").status_code == 401
    with served.client(token=served.admin()) as c:
        assert c.post(f"/api/users/{ana}/totp/reset", json={}).status_code == 422
        r = c.post(f"/api/users/{ana}/totp/reset", json={"reason": "lost phone, ticket 4411"})
        assert r.status_code == 200 and r.json()["totp_enabled"] is False
        assert c.post("/api/users/999/totp/reset", json={"reason": "no such user"}).status_code == 404
    assert served.login("ana", source="127.0.0.17").status_code == 200
    [entry] = served.audit("user.totp_reset")
    assert (entry.actor, entry.object, entry.outcome, entry.reason) == (
        "root", "user:ana", "success", "lost phone, ticket 4411")
    with served.client(token=served.token("ana", source="127.0.0.17")) as c:
        assert c.post(f"/api/users/{ana}/totp/reset", json={"reason": "myself"}).status_code == 403


# 4. Logout revokes the token that authenticated the request.

def test_logout_with_a_lower_case_scheme_revokes_exactly_that_token(served: ServedHub):
    served.add_user("ana")
    first, second = served.token("ana"), served.token("ana")
    with served.client(token=first, scheme="bearer") as c:
        assert c.get("/api/auth/me").status_code == 200
        assert c.post("/api/auth/logout").status_code == 204
    with served.client(token=first) as c:
        assert c.get("/api/auth/me").status_code == 401
    with served.client(token=second) as c:
        assert c.get("/api/auth/me").status_code == 200


# 5. Password rules (NIST SP 800-63B) and user names unique regardless of case.

@pytest.mark.parametrize("password, why", [
    ("short-pass", "at least 12"),
    ("aaaaaaaaaaaa", "pattern"),
    ("abcabcabcabcabc", "pattern"),
    ("iloveyouiloveyou", "pattern"),
    ("123456789012", "pattern"),
    ("abcdefghijklm", "pattern"),
    ("qwertyuiopasdf", "pattern"),
    ("9876543210zyxw", "pattern"),
    ("1qaz2wsx3edc", "common"),
    ("Dragon12345678", "common"),
    ("P@ssw0rd!2024", "common"),
    ("iloveyou2024!!", "common"),
    ("dana.scully-files", "user name"),
    ("x-DANA.SCULLY-x", "user name"),
    ("my-canvass-password", "this service"),
])
def test_the_password_rules_refuse_weak_passwords(password: str, why: str):
    with pytest.raises(PasswordPolicyError, match=why) as refused:
        check_password_policy(password, username="dana.scully")
    assert password not in str(refused.value)


@pytest.mark.parametrize("password", ["correct-horse-battery", "a-long-enough-password", "Tr0ub4dor&3-staple",
                                      "ᚠᚢᚦᚨᚱᚲ ᚷᚹᚺᚾᛁᛃ", "four words no rules"])
def test_the_password_rules_accept_long_uncommon_passwords_without_composition_rules(password: str):
    check_password_policy(password, username="dana.scully")


def test_the_common_password_list_ships_with_the_hub_with_its_source():
    from importlib.resources import files

    data = files("hub").joinpath("common-passwords.txt").read_bytes()
    header = data.splitlines()[0].decode()
    assert len(data) < 150_000 and "zxcvbn" in header and "MIT" in header
    assert len(data.splitlines()) > 9000


def test_weak_passwords_are_refused_by_the_api_without_echoing_them(served: ServedHub):
    with served.client(token=served.admin()) as c:
        for password in ("aaaaaaaaaaaa", "dana.scully-files", "1qaz2wsx3edc", "x" * 2000):
            r = c.post("/api/users", json={"username": "dana.scully", "password": password, "role": "analyst"})
            assert r.status_code == 422 and password not in r.text, r.text
        assert c.post("/api/users", json={"username": "dana.scully", "password": PASSWORD,
                                          "role": "analyst"}).status_code == 201


def test_user_names_are_unique_regardless_of_case_and_sign_in_takes_any_case(served: ServedHub):
    with served.client(token=served.admin()) as c:
        r = c.post("/api/users", json={"username": "Dana", "password": PASSWORD, "role": "analyst"})
        assert r.status_code == 201
        for taken in ("DANA", "dana", "ROOT"):
            r = c.post("/api/users", json={"username": taken, "password": PASSWORD, "role": "admin"})
            assert r.status_code == 409, r.text
    assert served.login("dANa").json()["role"] == "analyst"
    with served.client(token=served.token("DANA")) as c:
        assert c.get("/api/auth/me").json()["username"] == "Dana"


def test_the_database_refuses_two_names_differing_only_in_case(served: ServedHub):
    served.add_user("sam")
    with pytest.raises(IntegrityError):
        served.add_user("SAM")


def database_at(url: str, revision: str) -> Database:
    database = Database(url)
    command.upgrade(alembic_config(database.engine), revision)
    return database


def test_the_migration_stops_on_names_differing_only_in_case(tmp_path: Path, database_url: str | None):
    database = database_at(database_url or f"sqlite:///{tmp_path / 'hub.db'}", "0006")
    try:
        with database.engine.begin() as connection:
            for name in ("Sam", "sam", "kim"):
                connection.execute(text("INSERT INTO users (username, password_hash, role, totp_enabled, disabled, "
                                        "unit, created_at) VALUES (:name, 'x', 'ADMIN', false, false, '', "
                                        "CURRENT_TIMESTAMP)"), {"name": name})
        with pytest.raises(RuntimeError, match="differing only in case cannot stay: sam;"):
            database.migrate()
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE users SET username = 'sam-2' WHERE username = 'Sam'"))
        database.migrate()
        with database.session() as session:
            assert sorted(session.scalars(select(User.username))) == ["kim", "sam", "sam-2"]
    finally:
        database.dispose()


def test_the_migration_goes_down_and_up_again(tmp_path: Path, database_url: str | None):
    database = database_at(database_url or f"sqlite:///{tmp_path / 'hub.db'}", "head")
    try:
        command.downgrade(alembic_config(database.engine), "0006")
        with database.engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM login_failures")).scalar() == 0
        database.migrate()
        with database.engine.begin() as connection:
            assert connection.execute(text("SELECT count(*) FROM sign_in_counters")).scalar() == 0
    finally:
        database.dispose()


# 6. Disabling users, revoking their sessions, the last admin.

def test_disabling_a_user_revokes_every_session_and_refuses_sign_in(served: ServedHub):
    ana = served.add_user("ana")
    sessions = [served.token("ana"), served.token("ana", source="127.0.0.18")]
    with served.client(token=served.admin()) as c:
        r = c.post(f"/api/users/{ana}/disable", json={"reason": "left the unit"})
        assert r.status_code == 200 and r.json()["disabled"] is True
    for token in sessions:
        with served.client(token=token) as c:
            assert c.get("/api/auth/me").status_code == 401
    refused = served.login("ana")
    assert (refused.status_code, refused.json()) == (401, {"detail": FAILED})
    with served.client(token=served.admin()) as c:
        assert c.post(f"/api/users/{ana}/enable", json={"reason": "back on duty"}).json()["disabled"] is False
    with served.client(token=served.token("ana", source="127.0.0.19")) as c:
        assert c.get("/api/auth/me").status_code == 200
    for token in sessions:  # re-enabling does not bring old sessions back
        with served.client(token=token) as c:
            assert c.get("/api/auth/me").status_code == 401
    [disabled] = served.audit("user.disable")
    assert (disabled.actor, disabled.object, disabled.reason, disabled.details) == (
        "root", "user:ana", "left the unit", {"sessions_revoked": 2})
    assert [e.object for e in served.audit("user.enable")] == ["user:ana"]


def test_an_admin_revokes_a_users_sessions(served: ServedHub):
    ana = served.add_user("ana")
    sessions = [served.token("ana"), served.token("ana")]
    with served.client(token=served.admin()) as c:
        r = c.post(f"/api/users/{ana}/sessions/revoke", json={"reason": "laptop stolen"})
        assert r.status_code == 200 and r.json() == {"revoked": 2}
    for token in sessions:
        with served.client(token=token) as c:
            assert c.get("/api/auth/me").status_code == 401
    assert served.login("ana").status_code == 200  # the account itself stays usable
    [entry] = served.audit("user.sessions_revoke")
    assert (entry.actor, entry.object, entry.details) == ("root", "user:ana", {"revoked": 2})


def test_the_last_enabled_admin_cannot_be_demoted_or_disabled(served: ServedHub):
    admin = served.admin()
    with served.api.hub.db.session() as session:
        root = session.scalar(select(User).where(User.username == "root")).id
    with served.client(token=admin) as c:
        r = c.put(f"/api/users/{root}/role", json={"role": "analyst"})
        assert r.status_code == 409 and "last" in r.json()["detail"]
        assert c.post(f"/api/users/{root}/disable", json={"reason": "oops"}).status_code == 409
        second = c.post("/api/users", json={"username": "deputy", "password": PASSWORD, "role": "admin"}).json()["id"]
        assert c.post(f"/api/users/{second}/disable", json={"reason": "on leave"}).status_code == 200
        assert c.put(f"/api/users/{root}/role", json={"role": "analyst"}).status_code == 409  # deputy is disabled
        assert c.post(f"/api/users/{second}/enable", json={"reason": "back"}).status_code == 200
        assert c.put(f"/api/users/{second}/role", json={"role": "auditor"}).status_code == 200
        assert c.get("/api/auth/me").json()["role"] == "admin"
    refusals = [(e.action, e.outcome) for e in served.audit("user.role_change") + served.audit("user.disable")
                if e.outcome == "denied"]
    assert sorted(refusals) == [("user.disable", "denied"), ("user.role_change", "denied"),
                                ("user.role_change", "denied")]


def test_two_admins_demoting_each_other_at_once_leave_one_admin(served: ServedHub):
    served.add_user("root", Role.ADMIN)
    served.add_user("deputy", Role.ADMIN)
    tokens = {name: served.token(name) for name in ("root", "deputy")}
    with served.api.hub.db.session() as session:
        ids = {u.username: u.id for u in session.scalars(select(User))}

    def demote(actor: str, target: str):
        with served.client(token=tokens[actor]) as c:
            return c.put(f"/api/users/{ids[target]}/role", json={"role": "analyst"}).status_code

    statuses = at_once([lambda: demote("root", "deputy"), lambda: demote("deputy", "root")])
    assert sorted(statuses) in ([200, 403], [200, 409])  # the loser is no longer an admin, or is the last one
    with served.api.hub.db.session() as session:
        assert len(session.scalars(select(User).where(User.role == Role.ADMIN)).all()) == 1
