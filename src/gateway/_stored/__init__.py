"""Stored responses: the Responses API's state, kept per API key."""
