"""exports package."""
