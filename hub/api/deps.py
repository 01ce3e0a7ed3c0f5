"""Request-scoped dependencies: the hub's services, the access service, a database session, the signed-in
session and user, and role checks.

The database session is committed when the route function returns, before the response is sent
(`scope="function"`): a client told 204 after logout, or 200 after a user was disabled, can rely on it, and a
failed commit is the client's error response rather than a silent loss after a success."""

from __future__ import annotations

from typing import Annotated, Iterator

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from hub.access.service import AccessService
from hub.audit.recorder import AccessRecorder
from hub.services import HubServices
from hub.tables import ApiSession, Role, User
from hub.security import session_for_token

_bearer = HTTPBearer(auto_error=False, description="Session token from POST /api/auth/login")


def get_hub(request: Request) -> HubServices:
    return request.app.state.hub


def get_access(request: Request) -> AccessService:
    return request.app.state.access


def get_recorder(request: Request) -> AccessRecorder:
    """The recorder that puts reads, failed attempts and clip downloads on the record, aggregated."""
    return request.app.state.access_recorder


def get_session(hub: Annotated[HubServices, Depends(get_hub)]) -> Iterator[Session]:
    with hub.db.session() as session:
        yield session


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def current_session(hub: Annotated[HubServices, Depends(get_hub)],
                    session: Annotated[Session, Depends(get_session, scope="function")],
                    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> ApiSession:
    """The sign-in session whose token authenticated this request (the one logout revokes)."""
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in first", headers={"WWW-Authenticate": "Bearer"})
    row = session_for_token(session, credentials.credentials, hub.settings.secret_key)
    if row is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "session expired or invalid",
                            headers={"WWW-Authenticate": "Bearer"})
    return row


#: What a dispatch account (a CAD integration) may reach: its own sign-in and the incidents. Every other route
#: answers it 403, whatever that route lets the other roles (which see every business) do.
DISPATCH_ROUTES = ("/api/auth/", "/api/incidents")


def current_user(request: Request, signed_in: Annotated[ApiSession, Depends(current_session)]) -> User:
    """The signed-in user, also left in the request's state as the actor of what the access log records."""
    request.state.actor = signed_in.user.username
    if signed_in.user.role == Role.DISPATCH:
        template = getattr(request.scope.get("route"), "path", "")
        if not template.startswith(DISPATCH_ROUTES):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "a dispatch account files and reads incidents only")
    return signed_in.user


def check_role(user: User, roles: tuple[Role, ...]) -> User:
    """`user` if they have one of `roles`; 403 if not."""
    if user.role not in roles:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"needs role {' or '.join(r.value for r in roles)}")
    return user


def require(*roles: Role):
    """A dependency that lets through only users with one of `roles`."""

    def check(user: Annotated[User, Depends(current_user)]) -> User:
        return check_role(user, roles)

    return check


HubDep = Annotated[HubServices, Depends(get_hub)]
AccessDep = Annotated[AccessService, Depends(get_access)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
RecorderDep = Annotated[AccessRecorder, Depends(get_recorder)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
ApiSessionDep = Annotated[ApiSession, Depends(current_session)]
UserDep = Annotated[User, Depends(current_user)]
AdminDep = Annotated[User, Depends(require(Role.ADMIN))]
