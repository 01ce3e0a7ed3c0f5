"""Sign-in, sign-out, TOTP enrolment, and user administration."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub import audit
from hub.api.deps import AdminDep, HubDep, SessionDep, UserDep, client_address
from hub.tables import ApiSession, Business, Role, User
from hub.security import (PasswordPolicyError, clear_failures, hash_password, keyed_hash, new_session,
                          new_totp_secret, recent_failures, record_failure, totp_uri, verify_password, verify_totp)

router = APIRouter(prefix="/api", tags=["auth"])

Username = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_In):
    username: Username
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    totp: Annotated[str | None, Field(pattern=r"^[0-9]{6}$")] = None


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


@router.post("/auth/login", response_model=LoginOut,
             responses={401: {"description": "Wrong credentials"}, 423: {"description": "Account locked"}})
def login(body: LoginIn, request: Request, hub: HubDep, session: SessionDep) -> LoginOut:
    source = client_address(request)
    settings = hub.settings
    if recent_failures(session, body.username, settings.lockout_window_s) >= settings.lockout_failures:
        audit.append(session, actor=body.username, action="auth.login", outcome=audit.Outcome.DENIED,
                     source=source, reason="account locked")
        session.commit()
        raise HTTPException(status.HTTP_423_LOCKED,
                            f"account locked after {settings.lockout_failures} failed sign-ins; "
                            f"try again in {settings.lockout_window_s // 60} minutes")
    user = session.scalar(select(User).where(User.username == body.username))
    problem = None
    if not verify_password(user, body.password) or user.disabled:
        problem = "wrong username or password"
    elif user.totp_enabled and not verify_totp(user.totp_secret or "", body.totp or ""):
        problem = "second factor required" if body.totp is None else "wrong second factor"
    if problem:
        record_failure(session, body.username, source)
        audit.append(session, actor=body.username, action="auth.login", outcome=audit.Outcome.FAILURE,
                     source=source, reason=problem)
        session.commit()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, problem)
    clear_failures(session, body.username)
    token, row = new_session(session, user, settings.secret_key, settings.session_ttl_s)
    audit.append(session, actor=user.username, action="auth.login", outcome=audit.Outcome.SUCCESS, source=source)
    return LoginOut(token=token, expires_at=row.expires_at, role=user.role)


@router.post("/auth/logout", status_code=204)
def logout(request: Request, hub: HubDep, session: SessionDep, user: UserDep) -> None:
    token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    row = session.scalar(select(ApiSession).where(ApiSession.token_hash == keyed_hash(hub.settings.secret_key, token)))
    if row is not None:
        row.revoked = True
    audit.append(session, actor=user.username, action="auth.logout", outcome=audit.Outcome.SUCCESS,
                 source=client_address(request))


@router.get("/auth/me", response_model=UserOut)
def me(user: UserDep) -> UserOut:
    return user_out(user)


class TotpSetupOut(BaseModel):
    secret: str
    uri: str


@router.post("/auth/totp/setup", response_model=TotpSetupOut)
def totp_setup(session: SessionDep, user: UserDep) -> TotpSetupOut:
    """A new TOTP secret for the signed-in user; it takes effect once confirmed with /auth/totp/enable."""
    if user.totp_enabled:
        raise HTTPException(status.HTTP_409_CONFLICT, "second factor already enabled")
    user.totp_secret = new_totp_secret()
    return TotpSetupOut(secret=user.totp_secret, uri=totp_uri(user.totp_secret, user.username))


class TotpEnableIn(_In):
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$")]


@router.post("/auth/totp/enable", status_code=204)
def totp_enable(body: TotpEnableIn, request: Request, session: SessionDep, user: UserDep) -> None:
    if not user.totp_secret or not verify_totp(user.totp_secret, body.code):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "code does not match; run /auth/totp/setup first")
    user.totp_enabled = True
    audit.append(session, actor=user.username, action="auth.totp_enable", outcome=audit.Outcome.SUCCESS,
                 object=f"user:{user.username}", source=client_address(request))


class UserIn(_In):
    username: Username
    password: Annotated[str, Field(min_length=12, max_length=1024)]
    role: Role
    business_id: int | None = None
    unit: Annotated[str, Field(max_length=100, description="Agency unit (analysts), for the transparency report")] = ""


@router.post("/users", response_model=UserOut, status_code=201, tags=["users"])
def create_user(body: UserIn, request: Request, session: SessionDep, admin: AdminDep) -> UserOut:
    if session.scalar(select(User).where(User.username == body.username)) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, "username taken")
    _check_business(session, body.role, body.business_id)
    try:
        user = User(username=body.username, password_hash=hash_password(body.password), role=body.role,
                    business_id=body.business_id, unit=body.unit.strip())
    except PasswordPolicyError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    session.add(user)
    session.flush()
    audit.append(session, actor=admin.username, action="user.create", outcome=audit.Outcome.SUCCESS,
                 object=f"user:{user.username}", source=client_address(request), role=user.role.value,
                 unit=user.unit)
    return user_out(user)


@router.get("/users", response_model=list[UserOut], tags=["users"])
def list_users(session: SessionDep, admin: AdminDep) -> list[UserOut]:
    return [user_out(u) for u in session.scalars(select(User).order_by(User.id))]


class RoleIn(_In):
    role: Role
    business_id: int | None = None


@router.put("/users/{user_id}/role", response_model=UserOut, tags=["users"])
def change_role(user_id: int, body: RoleIn, request: Request, session: SessionDep, admin: AdminDep) -> UserOut:
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such user")
    _check_business(session, body.role, body.business_id)
    before = user.role
    user.role, user.business_id = body.role, body.business_id
    audit.append(session, actor=admin.username, action="user.role_change", outcome=audit.Outcome.SUCCESS,
                 object=f"user:{user.username}", source=client_address(request), before=before.value,
                 after=body.role.value)
    return user_out(user)


def _check_business(session, role: Role, business_id: int | None) -> None:
    if role == Role.OWNER:
        if business_id is None or session.get(Business, business_id) is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "a business owner needs an existing business_id")
    elif business_id is not None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "only business owners belong to a business")
