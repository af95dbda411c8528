"""gpt-oss gateway: an authenticated, rate-limited, streaming API in front of Workers AI's gpt-oss.

This package's import path is the standard library only, so it loads fast in the Worker
(Pyodide). CPython-only code (the local server, its HTTP backends, the CLI) lives in
`gateway.local` and `gateway.cli`, which the Worker never imports.
"""

from ._app import Gateway
from ._asgi.http import ByteStream
from ._config import Settings, read_settings
from ._errors import GatewayError, WorkersAIError
from ._upstream.backend import Backend

__all__ = ["Backend", "ByteStream", "Gateway", "GatewayError", "Settings", "WorkersAIError", "read_settings"]
