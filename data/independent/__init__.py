"""A second, independent sample-data generator (see generator.py); shares no code with data/generator.py."""

from data.independent.generator import IndependentSample, generate_independent, write_independent

__all__ = ["IndependentSample", "generate_independent", "write_independent"]
