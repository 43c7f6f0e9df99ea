"""The GSM Fusion client: the only code that talks to the provider. It knows no models."""

from .client import GsmFusionClient, PlacedOrder, ProviderError

__all__ = ["GsmFusionClient", "PlacedOrder", "ProviderError"]
