"""The data model every layer shares: columns, statuses, errors and settings types.

A leaf: it imports nothing of the project (stdlib and pydantic only), so any package may import it.
"""
