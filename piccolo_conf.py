"""For the `piccolo` command run in a checkout: the app's own configuration is
webapp/piccolo_conf.py (the app names it in PICCOLO_CONF itself)."""

from webapp.piccolo_conf import APP_REGISTRY, DB

__all__ = ["APP_REGISTRY", "DB"]
