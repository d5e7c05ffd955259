"""Staff sign-in: cookie session (+ CSRF token) for the consoles, or the token as a Bearer header."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api import errors
from api.auth import CSRF_COOKIE, SESSION_COOKIE
from api.deployment import cookie_secure
from api.deps import AuditDep, AuthDep, OperatorSession, SettingsDep

router = APIRouter(prefix="/v1/auth", tags=["auth"])


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    want_token: bool = Field(False, description="scripts: also return the session token for a Bearer header")


class LoginResponse(BaseModel):
    username: str
    role: str
    csrf_token: str
    token: str | None = None  # only when asked for: browsers keep it in the HttpOnly cookie
    expires_at: float


class Me(BaseModel):
    username: str
    role: str


@router.post("/login", response_model=LoginResponse, responses=errors.responses(401, 429))
def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    auth: AuthDep,
    settings: SettingsDep,
    audit: AuditDep,
) -> LoginResponse:
    client = request.client.host if request.client else "?"
    if (wait := auth.login_wait(body.username, client)) is not None:
        raise HTTPException(
            429,
            f"登录尝试过于频繁，请 {wait} 秒后再试 (too many login attempts: retry after {wait} s)",
            headers={"Retry-After": str(wait)},
        )
    user = auth.authenticate(body.username, body.password)
    if user is None:
        audit.record(body.username, "anonymous", "user.login_failed", body.username, detail=f"from {client}")
        raise HTTPException(401, "用户名或密码错误 (wrong username or password)")
    session = auth.open_session(user)
    audit.record(user.username, user.role, "user.login", user.username, detail=f"from {client}")
    max_age = settings.session_login_seconds
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(settings),
    )
    response.set_cookie(
        CSRF_COOKIE,
        session.csrf_token,
        max_age=max_age,
        httponly=False,
        samesite="strict",
        secure=cookie_secure(settings),
    )
    return LoginResponse(
        username=user.username,
        role=user.role,
        csrf_token=session.csrf_token,
        token=session.token if body.want_token else None,
        expires_at=session.expires_at,
    )


@router.post("/logout", status_code=204)
def logout(session: OperatorSession, response: Response, auth: AuthDep, audit: AuditDep) -> Response:
    auth.close_session(session.token)
    audit.record(session.username, session.role, "user.logout", session.username)
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    response.status_code = 204
    return response


@router.get("/me", response_model=Me)
def me(session: OperatorSession) -> Me:
    return Me(username=session.username, role=session.role)
