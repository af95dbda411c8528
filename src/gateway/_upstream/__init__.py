"""The model: what a backend is and how its usage is read, the one call point with retries and
timeouts, relaying its event streams, and the Worker's `env.AI` binding."""
