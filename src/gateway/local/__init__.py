"""CPython-only pieces: the local server, its configuration and its HTTP backends.

Nothing here is imported by the Worker (uvicorn and httpx do not belong in Pyodide).
"""
