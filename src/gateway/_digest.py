"""SHA-256 and a constant-time comparison, without importing `hashlib` and `hmac` in the Worker.

In Pyodide, `import hashlib` loads every builtin hash module (md5, sha1, sha2, sha3, blake2) and
`hmac` loads one more: about 12 ms of the Worker's import on Pyodide 314, for the one hash the
gateway uses. The builtin functions behind `hashlib.sha256` and `hmac.compare_digest` are taken
directly where they exist, with the public modules as the fallback, so the behaviour is the same
everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the same functions, as the type checker knows them
    from hashlib import sha256
    from hmac import compare_digest
else:
    try:
        from _sha2 import sha256  # CPython 3.12+ and Pyodide: what hashlib.sha256 falls back to
    except ImportError:  # CPython 3.11
        from hashlib import sha256
    try:
        from _operator import _compare_digest as compare_digest  # what hmac.compare_digest is
    except ImportError:
        from hmac import compare_digest

__all__ = ["compare_digest", "sha256"]
