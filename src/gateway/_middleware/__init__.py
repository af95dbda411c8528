"""The middleware stack, one concern a module, in the order `_app` applies them: request context,
errors, CORS, body limit, auth, rate limit."""
