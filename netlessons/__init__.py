"""netlessons: runnable, checked lessons on Linux container networking."""

__version__ = "0.1.0"
