"""`python -m data.independent --identities N --seed S --out DIR`."""

from data.independent.generator import main

main()
