"""The offline engine: a `ChatModel` that researches extractively, with no API key, network or model weights."""

from .model import OfflineModel

__all__ = ["OfflineModel"]
