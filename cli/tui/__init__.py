"""The full-screen deployd-cli: generate, list and revoke tokens, add registry logins.

``run_tui`` is what ``deployd-cli`` runs without arguments (and ``cli`` inside
the container image).
"""

from .run import run_tui

__all__ = ["run_tui"]
