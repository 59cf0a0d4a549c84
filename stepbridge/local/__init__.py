"""LocalCloud: run an app offline — moto inside, in-process delivery, a virtual clock."""

from stepbridge.local.cloud import CapturedEvent, Crash, HttpResponse, LocalCloud, MockStep

__all__ = ["CapturedEvent", "Crash", "HttpResponse", "LocalCloud", "MockStep"]
