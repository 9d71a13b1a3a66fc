"""Support package of the CS231n course companion: data, checks, layers and grading."""

__version__ = "0.1.0"
