"""`python -m idres`."""

from idres.cli import main

main()
