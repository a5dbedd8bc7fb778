"""Review: agents' decisions on suggestions, merges (apply, undo), survivorship, lock, edits, comments."""
