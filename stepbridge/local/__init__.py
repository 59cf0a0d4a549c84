"""LocalCloud: run an app offline — moto inside, in-process delivery, a virtual clock."""

from stepbridge.local.cloud import LocalCloud
from stepbridge.local.values import CapturedEvent, Crash, HttpResponse, MockStep

__all__ = ["CapturedEvent", "Crash", "HttpResponse", "LocalCloud", "MockStep"]
