"""What each model costs on Workers AI, in USD per million tokens (the model pages)."""

from __future__ import annotations

__all__ = ["PRICES_PER_MILLION", "cost_usd"]

# (input, output) USD per million tokens.
PRICES_PER_MILLION: dict[str, tuple[float, float]] = {
    "@cf/openai/gpt-oss-120b": (0.35, 0.75),
    "@cf/openai/gpt-oss-20b": (0.20, 0.30),
}


def cost_usd(model: str | None, input_tokens: int | None, output_tokens: int | None) -> float | None:
    prices = PRICES_PER_MILLION.get(model or "")
    if prices is None or (input_tokens is None and output_tokens is None):
        return None
    total = (input_tokens or 0) * prices[0] + (output_tokens or 0) * prices[1]
    return round(total / 1_000_000, 8)
