"""Server-rendered pages (Jinja2 + htmx) beside the JSON API, on the same domain code."""

from __future__ import annotations

import secrets
from typing import Any

from quart import Quart, Response, abort, redirect, request, url_for
from quart_auth import QuartAuth

from webapp import kinds, passwords
from webapp.callers import session_account
from webapp.clients import device_id, ensure_device
from webapp.config import Settings
from webapp.pages.session import (
    CSRF_FIELD,
    CSRF_HEADER,
    SignedCookieSessions,
    SignInRequired,
    csrf_token,
    csrf_valid,
)
from webapp.tables import EMAIL_MAX, NAME_MAX, OPTION_MAX, QUESTION_MAX, Kind

KIND_LABELS = {
    Kind.choice: "Multiple choice",
    Kind.scale: "Rating scale",
    Kind.word_cloud: "Word cloud",
    Kind.ranking: "Ranking",
    Kind.open_text: "Open text",
    Kind.qa: "Audience Q&A",
}

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
PERMISSIONS = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
HSTS = "max-age=31536000"
AUTH_COOKIE = "QUART_AUTH"  # quart-auth's default cookie name
# Swagger UI sets inline styles; its page alone may use them.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def setup(app: Quart, settings: Settings) -> None:
    from webapp.pages import answers, auth, events, home, integrity, polls, present, qa, words

    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
    )
    app.session_interface = SignedCookieSessions()
    # The remember-me cookie lives no longer than the session token it carries.
    QuartAuth(
        app,
        cookie_secure=settings.cookie_secure,
        cookie_samesite="Lax",
        duration=settings.token_ttl_days * 24 * 3600,
    )
    blueprints = (home, auth, polls, present, integrity, events, words, answers, qa)
    for blueprint in (module.blueprint for module in blueprints):
        app.register_blueprint(blueprint)

    @app.before_request
    async def check_csrf() -> None:
        """Every state-changing request made with the cookie session carries its CSRF token."""
        if request.method in SAFE_METHODS or request.path.startswith("/api/"):
            return
        submitted = request.headers.get(CSRF_HEADER) or (await request.form).get(CSRF_FIELD)
        if not csrf_valid(submitted):
            abort(403, "The form expired or did not come from this site: reload and try again.")

    @app.after_request
    async def security_headers(response: Response) -> Response:
        policy = DOCS_CSP if request.path == "/docs" else CSP
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Permissions-Policy", PERMISSIONS)
        if settings.cookie_secure:  # served over HTTPS: browsers should never try plain HTTP
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        if not request.path.startswith(("/api/", "/static/")):
            # Every browser gets its device id on its first page: a guest ballot is refused
            # where this browser already holds one, an account's included.
            ensure_device(response, device_id())
        if AUTH_COOKIE in request.cookies or "Authorization" in request.headers:
            # A page or answer for one signed-in person: no shared or stored copies.
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(SignInRequired)
    async def sign_in_first(error: SignInRequired) -> Any:
        return redirect(url_for("auth.signin", next=error.next_path), 303)

    # The lengths the forms allow, from where the server checks them (one number for both).
    app.jinja_env.globals["LIMITS"] = {
        "name": NAME_MAX,
        "email": EMAIL_MAX,
        "question": QUESTION_MAX,
        "option": OPTION_MAX,
        "password": passwords.MAX_LENGTH,
        "password_min": passwords.MIN_LENGTH,
    }

    # The voting block's heading of each kind other than choice (choice: "Your vote(s)").
    app.jinja_env.globals["KIND_TITLES"] = {
        "scale": "Your rating",
        "word_cloud": "Your answers",
        "ranking": "Your ranking",
        "open_text": "Your answer",
        "qa": "Your questions",
    }

    # The question types the new-poll form offers: those this server has wired up.
    app.jinja_env.globals["KIND_CHOICES"] = [
        (kind.value, label) for kind, label in KIND_LABELS.items() if kind in kinds.WIRED
    ]

    # How often the live stream sends a heartbeat (0: never): a page watches for them only
    # when the server sends them (templates/_partials/heartbeat.html, docs/live.md).
    app.jinja_env.globals["HEARTBEAT_MS"] = round(settings.heartbeat_s * 1000)
    # A fresh Idempotency-Key for each vote form rendered: a form sent twice without
    # JavaScript (a double tap, a resubmitted page) counts once (webapp/idempotency.py).
    app.jinja_env.globals["fresh_key"] = lambda: secrets.token_urlsafe(16)
    # A word cloud's picture, drawn from its results (also in the live HTML stream).
    app.jinja_env.globals["word_cloud_svg"] = kinds.word_cloud.picture

    window = settings.guest_network_window_s
    network_window = "hour" if window == 3600 else f"{window // 60} minutes"

    @app.context_processor
    async def page_context() -> dict[str, object]:
        return {
            "csrf_token": csrf_token(),
            "me": await session_account(),
            "network_window": network_window,
        }
