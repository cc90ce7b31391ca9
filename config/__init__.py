"""Settings shared by every part of the product."""

from config.settings import Settings, get_settings

__all__ = ["Settings", "get_settings"]
