__version__ = "0.1.0"

from .train import load
