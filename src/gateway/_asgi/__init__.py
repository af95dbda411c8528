"""A small plain-ASGI toolkit that knows nothing of models or keys: HTTP primitives, the request
context, routing, server-sent events and a JSON body checker."""
