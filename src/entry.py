from workers import WorkerEntrypoint
from workers import asgi

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return await asgi.fetch(None, request, self.env, self.ctx)
