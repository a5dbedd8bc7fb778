"""`python -m idres`: through the warm command runner when one is up (see idres/launcher.py)."""

from idres.launcher import main

main()
