"""The review queue and customer information panel in a browser (`idres web`)."""
