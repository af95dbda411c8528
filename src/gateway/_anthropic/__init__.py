"""Anthropic's Messages API (`/v1/messages`, `/v1/messages/count_tokens`), for Claude Code and the
Anthropic SDKs: models (names), conversation (to Workers AI's messages form), request (fields and
their policy), message_builder (the message and its stream events), route (the endpoints)."""
