"""The ASGI app for servers: `hypercorn webapp.asgi:app`."""

from webapp import create_app

app = create_app()
