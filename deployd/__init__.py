"""deployd: replaces a running Docker container when a CI pipeline asks with a token."""

__version__ = "0.1.0"
