"""What the gateway knows about the models it serves: names, limits, defaults and prices.

Each fact is written here once (sources: the model pages on developers.cloudflare.com and the
model JSON in cloudflare-docs; see DESIGN.md).
"""

from __future__ import annotations

__all__ = [
    "CONTEXT_WINDOW",
    "DEFAULT_MODEL",
    "KNOWN_MODELS",
    "LONGEST_TOKEN_BYTES",
    "NANO_USD",
    "OPENAI_DEFAULT_MAX_TOKENS",
    "PRICES_PER_MILLION",
    "RELEASED_AT",
    "WORKERS_AI_DEFAULT_MAX_TOKENS",
    "aliases_of",
    "price_nano_usd",
    "served_model",
]

DEFAULT_MODEL = "@cf/openai/gpt-oss-120b"
# The models whose input schema the gateway knows; the allow-list (`MODELS`) may only name these.
KNOWN_MODELS = ("@cf/openai/gpt-oss-120b", "@cf/openai/gpt-oss-20b")

# Both models: input and output together (the model pages).
CONTEXT_WINDOW = 128_000

# The longest token of gpt-oss's tokenizer (o200k_harmony: o200k_base's 199,998 ordinary tokens
# plus special ones) is 128 bytes (a run of 128 spaces), so a text of B bytes is at least B / 128
# tokens, however it is split: the gateway's certain lower bound of an input's size.
# tests/upstream/test_context_window.py checks the figure against the vocabulary npm's
# js-tiktoken ships.
LONGEST_TOKEN_BYTES = 128

# What Workers AI generates at most when a body names no `max_tokens` (the model page's schema).
# Native bodies pass through unchanged, so this is what a native request without one can cost.
WORKERS_AI_DEFAULT_MAX_TOKENS = 256

# gpt-oss reasons before it answers, and Workers AI's 256 tokens often end mid-thought. An OpenAI
# client that names no limit gets this many: room for reasoning at high effort and a full answer,
# while staying a bounded reservation against a key's token budget.
OPENAI_DEFAULT_MAX_TOKENS = 8_192

# gpt-oss's release date (2025-08-05), for OpenAI's `created` on model objects.
RELEASED_AT = 1754352000

# Money is counted in whole nano-dollars (10^-9 USD): a price per million tokens with up to three
# decimals is a whole number of them per token, so every sum of prices is exact.
NANO_USD = 1_000_000_000

# (input, output, cached input) USD per million tokens, to at most three decimals. Workers AI bills
# prefix-cached input tokens at a lower rate on the models whose page publishes one ("per M cached
# input tokens", as kimi-k2.5's does); the gpt-oss pages publish none, so their cached tokens cost
# the input rate.
PRICES_PER_MILLION: dict[str, tuple[float, float, float | None]] = {
    "@cf/openai/gpt-oss-120b": (0.35, 0.75, None),
    "@cf/openai/gpt-oss-20b": (0.20, 0.30, None),
}


def aliases_of(model: str) -> tuple[str, ...]:
    """`@cf/openai/gpt-oss-120b` is also `openai/gpt-oss-120b` and `gpt-oss-120b`."""
    short = model.rsplit("/", 1)[-1]
    return (model, f"openai/{short}", short)


def served_model(name: str, models: tuple[str, ...]) -> str | None:
    """The model among `models` that `name` is one of the aliases of, if any."""
    return next((model for model in models if name in aliases_of(model)), None)


def price_nano_usd(
    model: str | None, input_tokens: int | None, output_tokens: int | None, cached_tokens: int | None = None
) -> int | None:
    """What these tokens cost on this model at its list price, in whole nano-dollars: `cached_tokens`
    (a part of `input_tokens`) at the cached rate where there is one, the rest of the input and the
    output at theirs. None for a model without prices, or no usage."""
    prices = PRICES_PER_MILLION.get(model or "")
    if prices is None or (input_tokens is None and output_tokens is None):
        return None
    input_rate, output_rate, cached_rate = prices
    cached = min(cached_tokens or 0, input_tokens or 0)
    return (
        ((input_tokens or 0) - cached) * _per_token(input_rate)
        + cached * _per_token(input_rate if cached_rate is None else cached_rate)
        + (output_tokens or 0) * _per_token(output_rate)
    )


def _per_token(rate_per_million: float) -> int:
    """A rate in USD per million tokens as whole nano-dollars per token."""
    return round(rate_per_million * 1000)
