"""idres package."""
