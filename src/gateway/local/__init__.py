"""CPython-only pieces: the local server, its configuration, backends (HTTP and the emulator) and keys.

Nothing here is imported by the Worker (uvicorn, httpx, sqlite3 and hashlib do not belong on its
import path); the Pyodide conformance suite checks that no `gateway.local` module loads there.
"""
