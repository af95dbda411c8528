"""OpenAI's API: Chat Completions, Responses, Completions and Models, rebuilt on Workers AI's forms.

The package is private, so its modules carry no leading underscore.
"""
