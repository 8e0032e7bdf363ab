"""finews: a self-hosted archive and static-site mirror of Chinese financial news."""

__version__ = "0.1.0"
