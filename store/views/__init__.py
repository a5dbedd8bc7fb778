"""Read-only queries, one module per reader: the page (`web_page`), the offline report (`report`),
`idres status` and the quarantine listing (`status`), a customer's whole record (`record`).

Nothing here writes; the tables' writes and status moves live in the modules of `store/` named
after them (`suggestions`, `merges`, `cannot_links`, `requests`, ...).
"""
