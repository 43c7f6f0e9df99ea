"""The GSM Fusion client: the only code that talks to the provider. It knows no models."""

from .client import GsmFusionClient
from .errors import ProviderError
from .placed import PlacedOrder

__all__ = ["GsmFusionClient", "PlacedOrder", "ProviderError"]
