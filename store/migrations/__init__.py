"""Schema migrations, one module each: `vNNN_name.py` exporting `MIGRATION`."""
