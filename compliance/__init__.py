"""Compliance: export and anonymization requests and the runs that carry them out."""
