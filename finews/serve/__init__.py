"""Serving the site and the JSON API: static.py, queries.py, api.py, openapi.py, app.py."""
