"""Deploy tokens: PASETO v4.public tokens signed by the daemon's Ed25519 key.

Everything the daemon, the web layer and the CLI need is re-exported here;
``Tokens`` is the object they share.
"""

from deployd.tokens.claims import Action, Claims
from deployd.tokens.durations import format_duration, parse_duration, parse_expiry
from deployd.tokens.issued import IssuedToken
from deployd.tokens.store import Inspection, RevokeOutcome, Tokens

__all__ = [
    "Action",
    "Claims",
    "Inspection",
    "IssuedToken",
    "RevokeOutcome",
    "Tokens",
    "format_duration",
    "parse_duration",
    "parse_expiry",
]
