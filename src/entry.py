"""The Worker's entry point: hand each request to the gateway's ASGI app."""

from workers import WorkerEntrypoint, asgi

from gateway import Gateway

# Exported: wrangler.toml binds TOKEN_BUDGETS and STORED_RESPONSES to these Durable Object classes.
from gateway.durable import StoredResponses, TokenBudget

__all__ = ["Default", "StoredResponses", "TokenBudget"]

# Built once per isolate; it reads settings from `env` on the first request.
app = Gateway()


class Default(WorkerEntrypoint):
    async def fetch(self, request):  # type: ignore[no-untyped-def]
        return await asgi.fetch(app, request, self.env, self.ctx)
