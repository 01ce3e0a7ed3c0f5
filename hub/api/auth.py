"""Sign-in, sign-out, the second factor (TOTP), and user administration.

Every failed sign-in gets the same answer (401, `SIGN_IN_FAILED`), whatever failed; the audit log says what.
Each password check, at sign-in and when a signed-in user enrols a second factor, is first reserved with
`hub.throttle` and the reservation committed (423/429 + Retry-After when refused), so simultaneous guesses
are counted before any is checked. Validation errors from these routes never repeat the input.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Callable

from fastapi import APIRouter, HTTPException, Path, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub import audit, throttle
from hub.api.deps import AdminDep, ApiSessionDep, HubDep, SessionDep, UserDep, client_address
from hub.passwords import MAX_LENGTH, MIN_LENGTH
from hub.security import (PasswordPolicyError, claim_totp, enabled_admins_besides, find_user, hash_password,
                          lock_user_administration, new_session, new_totp_secret, revoke_sessions, totp_step, totp_uri,
                          verify_password)
from hub.tables import Business, Role, User, utcnow

SIGN_IN_FAILED = "wrong user name, password or one-time code"


class _NoEchoRoute(APIRoute):
    """A route whose 422 leaves out the `input` pydantic puts in each error: a refused password is not sent back."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def without_input(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise RequestValidationError([{k: v for k, v in error.items() if k != "input"}
                                              for error in exc.errors()]) from None

        return without_input


router = APIRouter(prefix="/api", tags=["auth"], route_class=_NoEchoRoute)

Username = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")]
Password = Annotated[str, Field(min_length=1, max_length=MAX_LENGTH)]
Code = Annotated[str, Field(pattern=r"^[0-9]{6}$", description="The current six-digit code of the authenticator.")]
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]
THROTTLED = {423: {"description": "Locked for this address after failed sign-ins (Retry-After)"},
             429: {"description": "Too many failed sign-ins from this address or to this account (Retry-After)"}}


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_In):
    username: Username
    password: Password
    totp: Code | None = None


class LoginOut(BaseModel):
    token: str
    expires_at: dt.datetime
    role: Role


class UserOut(BaseModel):
    id: int
    username: str
    role: Role
    business_id: int | None
    unit: str
    totp_enabled: bool
    disabled: bool


def user_out(user: User) -> UserOut:
    return UserOut(id=user.id, username=user.username, role=user.role, business_id=user.business_id, unit=user.unit,
                   totp_enabled=user.totp_enabled, disabled=user.disabled)


def _seconds(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def _reserve(session: Session, hub: HubDep, request: Request, *, username: str, action: str,
             now: dt.datetime) -> throttle.Reservation:
    """Reserve one password check for `username` from this request's address and commit it; answer 423/429
    (audited) when the throttle refuses."""
    source = client_address(request)
    try:
        reservation = throttle.reserve(session, account=throttle.account_key(username),
                                       source=throttle.source_key(source),
                                       limits=throttle.Limits.from_settings(hub.settings), now=_seconds(now))
    except throttle.SignInRefused as refused:
        audit.append(session, actor=username, action=action, outcome=audit.Outcome.DENIED, source=source,
                     reason=refused.reason)
        session.commit()
        raise HTTPException(refused.status, refused.reason,
                            headers={"Retry-After": str(refused.retry_after)}) from None
    session.commit()  # counted before the password is checked: simultaneous guesses cannot all get through
    return reservation


def _settle(session: Session, hub: HubDep, reservation: throttle.Reservation, *, ok: bool, now: dt.datetime) -> None:
    limits = throttle.Limits.from_settings(hub.settings)
    if ok:
        throttle.succeeded(session, reservation, limits=limits, now=_seconds(now))
    throttle.prune(session, limits=limits, now=_seconds(now))


def _login_problem(session: Session, user: User | None, body: LoginIn, now: dt.datetime) -> str | None:
    """What is wrong with this sign-in, for the audit log only (the answer is the same whatever it is)."""
    password_right = verify_password(user, body.password)  # hashed even for no user: timing tells nothing
    if user is None:
        return "no such user"
    if not password_right:
        return "wrong password"
    if user.disabled:
        return "account disabled"
    if user.totp_enabled and body.totp is None:
        return "one-time code missing"
    if user.totp_enabled and not claim_totp(session, user=user, code=body.totp or "", at=now):
        return "one-time code wrong or already used"
    return None


@router.post("/auth/login", response_model=LoginOut, responses={401: {"description": SIGN_IN_FAILED}, **THROTTLED})
def login(body: LoginIn, request: Request, hub: HubDep, session: SessionDep) -> LoginOut:
    now = utcnow()
    reservation = _reserve(session, hub, request, username=body.username, action="auth.login", now=now)
    user = find_user(session, body.username)
    problem = _login_problem(session, user, body, now)
    _settle(session, hub, reservation, ok=problem is None, now=now)
    if problem is not None or user is None:
        audit.append(session, actor=body.username, action="auth.login", outcome=audit.Outcome.FAILURE,
                     source=client_address(request), reason=problem or "")
        session.commit()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, SIGN_IN_FAILED)
    token, row = new_session(session, user, hub.settings.secret_key, hub.settings.session_ttl_s)
    audit.append(session, actor=user.username, action="auth.login", outcome=audit.Outcome.SUCCESS,
                 source=client_address(request))
    return LoginOut(token=token, expires_at=row.expires_at, role=user.role)


@router.post("/auth/logout", status_code=204)
def logout(request: Request, session: SessionDep, signed_in: ApiSessionDep) -> None:
    """Revoke the session whose token authenticated this request."""
    signed_in.revoked = True
    audit.append(session, actor=signed_in.user.username, action="auth.logout", outcome=audit.Outcome.SUCCESS,
                 source=client_address(request))


@router.get("/auth/me", response_model=UserOut)
def me(user: UserDep) -> UserOut:
    return user_out(user)


def _check_own_password(session: Session, hub: HubDep, request: Request, *, user: User, password: str,
                        action: str) -> None:
    """Let a signed-in user on only with their current password (throttled like sign-in): 403 if wrong."""
    now = utcnow()
    reservation = _reserve(session, hub, request, username=user.username, action=action, now=now)
    right = verify_password(user, password)
    _settle(session, hub, reservation, ok=right, now=now)
    if not right:
        audit.append(session, actor=user.username, action=action, outcome=audit.Outcome.FAILURE,
                     object=f"user:{user.username}", source=client_address(request), reason="wrong password")
        session.commit()
        raise HTTPException(status.HTTP_403_FORBIDDEN, "wrong password")


class PasswordIn(_In):
    password: Password


class TotpSetupOut(BaseModel):
    secret: str
    uri: str


@router.post("/auth/totp/setup", response_model=TotpSetupOut,
             responses={403: {"description": "Wrong password"}, 409: {"description": "Already enabled"}, **THROTTLED})
def totp_setup(body: PasswordIn, request: Request, hub: HubDep, session: SessionDep, user: UserDep) -> TotpSetupOut:
    """A new TOTP secret for the signed-in user (their password required); it takes effect once confirmed with
    /auth/totp/enable."""
    if user.totp_enabled:
        raise HTTPException(status.HTTP_409_CONFLICT, "second factor already enabled")
    _check_own_password(session, hub, request, user=user, password=body.password, action="auth.totp_setup")
    user.totp_secret = new_totp_secret()
    audit.append(session, actor=user.username, action="auth.totp_setup", outcome=audit.Outcome.SUCCESS,
                 object=f"user:{user.username}", source=client_address(request))
    return TotpSetupOut(secret=user.totp_secret, uri=totp_uri(user.totp_secret, user.username))


class TotpEnableIn(_In):
    password: Password
    code: Code


@router.post("/auth/totp/enable", status_code=204,
             responses={400: {"description": "Code does not match"}, 403: {"description": "Wrong password"},
                        409: {"description": "Already enabled"}, **THROTTLED})
def totp_enable(body: TotpEnableIn, request: Request, hub: HubDep, session: SessionDep, user: UserDep) -> None:
    """Turn the second factor on with the password and a code from the secret of /auth/totp/setup; that code
    cannot then sign in."""
    if user.totp_enabled:
        raise HTTPException(status.HTTP_409_CONFLICT, "second factor already enabled")
    _check_own_password(session, hub, request, user=user, password=body.password, action="auth.totp_enable")
    step = totp_step(user.totp_secret, body.code, utcnow()) if user.totp_secret else None
    if step is None:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "code does not match; run /auth/totp/setup first")
    user.totp_enabled, user.totp_last_step = True, step
    audit.append(session, actor=user.username, action="auth.totp_enable", outcome=audit.Outcome.SUCCESS,
                 object=f"user:{user.username}", source=client_address(request))


class UserIn(_In):
    username: Username
    password: Annotated[str, Field(min_length=MIN_LENGTH, max_length=MAX_LENGTH, description=(
        "NIST SP 800-63B: at least 12 characters, not common, not the user name, not a pattern; no other rules."))]
    role: Role
    business_id: int | None = None
    unit: Annotated[str, Field(max_length=100, description="Agency unit (analysts), for the transparency report")] = ""


@router.post("/users", response_model=UserOut, status_code=201, tags=["users"],
             responses={409: {"description": "User name taken (in any case)"}})
def create_user(body: UserIn, request: Request, session: SessionDep, admin: AdminDep) -> UserOut:
    if find_user(session, body.username) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, "username taken")
    _check_business(session, body.role, body.business_id)
    try:
        password_hash = hash_password(body.password, username=body.username)
    except PasswordPolicyError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    user = User(username=body.username, password_hash=password_hash, role=body.role, business_id=body.business_id,
                unit=body.unit.strip())
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # the same name, in some case, created at the same moment
        raise HTTPException(status.HTTP_409_CONFLICT, "username taken") from None
    audit.append(session, actor=admin.username, action="user.create", outcome=audit.Outcome.SUCCESS,
                 object=f"user:{user.username}", source=client_address(request), role=user.role.value,
                 unit=user.unit)
    return user_out(user)


@router.get("/users", response_model=list[UserOut], tags=["users"])
def list_users(session: SessionDep, admin: AdminDep) -> list[UserOut]:
    return [user_out(u) for u in session.scalars(select(User).order_by(User.id))]


def _user_or_404(session: Session, user_id: int) -> User:
    user = session.get(User, user_id, populate_existing=True)  # read again after lock_user_administration
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such user")
    return user


def _refuse_last_admin(session: Session, request: Request, *, user: User, admin: User, action: str) -> None:
    """409 (audited) if `user` is the last enabled admin; call after `lock_user_administration`."""
    if user.role != Role.ADMIN or user.disabled or enabled_admins_besides(session, user=user) > 0:
        return
    audit.append(session, actor=admin.username, action=action, outcome=audit.Outcome.DENIED,
                 object=f"user:{user.username}", source=client_address(request), reason="the last enabled admin")
    session.commit()
    raise HTTPException(status.HTTP_409_CONFLICT, "the last enabled admin cannot be demoted or disabled")


class RoleIn(_In):
    role: Role
    business_id: int | None = None


@router.put("/users/{user_id}/role", response_model=UserOut, tags=["users"],
            responses={404: {"description": "No such user"}, 409: {"description": "The last enabled admin"}})
def change_role(user_id: UserId, body: RoleIn, request: Request, session: SessionDep, admin: AdminDep) -> UserOut:
    lock_user_administration(session)
    user = _user_or_404(session, user_id)
    _check_business(session, body.role, body.business_id)
    if body.role != Role.ADMIN:
        _refuse_last_admin(session, request, user=user, admin=admin, action="user.role_change")
    before = user.role
    user.role, user.business_id = body.role, body.business_id
    audit.append(session, actor=admin.username, action="user.role_change", outcome=audit.Outcome.SUCCESS,
                 object=f"user:{user.username}", source=client_address(request), before=before.value,
                 after=body.role.value)
    return user_out(user)


class ReasonIn(_In):
    reason: Annotated[str, Field(min_length=3, max_length=500, description="Why; kept in the audit log.")]


ADMIN_ACTION = {404: {"description": "No such user"}}


@router.post("/users/{user_id}/disable", response_model=UserOut, tags=["users"],
             responses={**ADMIN_ACTION, 409: {"description": "The last enabled admin"}})
def disable_user(user_id: UserId, body: ReasonIn, request: Request, session: SessionDep, admin: AdminDep) -> UserOut:
    """Disable a user: they cannot sign in, and every session of theirs is revoked."""
    lock_user_administration(session)
    user = _user_or_404(session, user_id)
    _refuse_last_admin(session, request, user=user, admin=admin, action="user.disable")
    user.disabled = True
    revoked = revoke_sessions(session, user=user)
    audit.append(session, actor=admin.username, action="user.disable", outcome=audit.Outcome.SUCCESS,
                 object=f"user:{user.username}", source=client_address(request), reason=body.reason,
                 sessions_revoked=revoked)
    return user_out(user)


@router.post("/users/{user_id}/enable", response_model=UserOut, tags=["users"], responses=ADMIN_ACTION)
def enable_user(user_id: UserId, body: ReasonIn, request: Request, session: SessionDep, admin: AdminDep) -> UserOut:
    """Let a disabled user sign in again (their old sessions stay revoked)."""
    user = _user_or_404(session, user_id)
    user.disabled = False
    audit.append(session, actor=admin.username, action="user.enable", outcome=audit.Outcome.SUCCESS,
                 object=f"user:{user.username}", source=client_address(request), reason=body.reason)
    return user_out(user)


class RevokedOut(BaseModel):
    revoked: int = Field(description="Sessions revoked.")


@router.post("/users/{user_id}/sessions/revoke", response_model=RevokedOut, tags=["users"], responses=ADMIN_ACTION)
def revoke_user_sessions(user_id: UserId, body: ReasonIn, request: Request, session: SessionDep,
                         admin: AdminDep) -> RevokedOut:
    """Sign a user out everywhere: revoke every session of theirs (the account stays usable)."""
    user = _user_or_404(session, user_id)
    revoked = revoke_sessions(session, user=user)
    audit.append(session, actor=admin.username, action="user.sessions_revoke", outcome=audit.Outcome.SUCCESS,
                 object=f"user:{user.username}", source=client_address(request), reason=body.reason,
                 revoked=revoked)
    return RevokedOut(revoked=revoked)


@router.post("/users/{user_id}/totp/reset", response_model=UserOut, tags=["users"], responses=ADMIN_ACTION)
def reset_totp(user_id: UserId, body: ReasonIn, request: Request, session: SessionDep, admin: AdminDep) -> UserOut:
    """Remove a user's second factor (a lost authenticator); they sign in with their password and enrol again."""
    user = _user_or_404(session, user_id)
    user.totp_enabled, user.totp_secret, user.totp_last_step = False, None, None
    audit.append(session, actor=admin.username, action="user.totp_reset", outcome=audit.Outcome.SUCCESS,
                 object=f"user:{user.username}", source=client_address(request), reason=body.reason)
    return user_out(user)


def _check_business(session: Session, role: Role, business_id: int | None) -> None:
    if role == Role.OWNER:
        if business_id is None or session.get(Business, business_id) is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "a business owner needs an existing business_id")
    elif business_id is not None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "only business owners belong to a business")
