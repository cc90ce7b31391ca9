"""The whole product (runtime and web app) against the real Asterisk of asterisk-dev: see ``conftest.py``."""
