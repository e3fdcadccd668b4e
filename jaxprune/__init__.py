"""jaxprune: network-pruning research in JAX/Flax."""

__version__ = '0.1.0'
