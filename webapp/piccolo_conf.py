"""Piccolo's configuration: the engine comes from DATABASE_URL (see webapp.config).

The app points PICCOLO_CONF here (webapp/__init__.py), so an installed wheel needs no
top-level `piccolo_conf` module."""

from piccolo.conf.apps import AppRegistry

from webapp.config import database_url
from webapp.db import make_engine

DB = make_engine(database_url())

APP_REGISTRY = AppRegistry(apps=["webapp.piccolo_app"])
