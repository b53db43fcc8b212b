"""Where the app's files are: inside the package when installed from a wheel, at the top of
the repository in a checkout (an editable install included).

The wheel carries `templates/`, `static/` and `piccolo_migrations/` as `webapp/templates`,
`webapp/static` and `webapp/migrations` (see pyproject.toml), so nothing generic lands at
the top of site-packages.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent


def _folder(in_package: str, in_checkout: str) -> Path:
    bundled = PACKAGE / in_package
    return bundled if bundled.is_dir() else CHECKOUT / in_checkout


TEMPLATES = _folder("templates", "templates")
STATIC = _folder("static", "static")
MIGRATIONS = _folder("migrations", "piccolo_migrations")
