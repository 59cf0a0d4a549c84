"""Large values as claim checks: a value too big for a DynamoDB item or an event goes to the app's S3 bucket.

A workflow input, a step's argument or result, a child's input, a workflow's final result or an event's
detail over the inline limit is written to the app's payload bucket under its content hash and replaced,
where it would be stored, by a small reference a person can read in the console::

    {"$stepbridge.payload": {"uri": "s3://<bucket>/payloads/<sha256>.json", "bytes": 5242880, "sha256": "..."}}

Reading it back (:func:`resolve`, called by the codec's decoders) fetches and checks the object, so user
code sees the value itself on the first run and on every replay alike. Keys are content hashes, so a
retried write puts the same object again and nothing is orphaned by a race.

The limits and why:

* ``INLINE_VALUE_BYTES`` (64 KiB): above it a value costs more in DynamoDB than in S3. A DynamoDB write
  is billed per 1 KB (64 KB = 64 write request units, $40 per million at $0.625 per million WRU) and every
  replay reads it again from the journal; an S3 PUT is $5 per million and a GET $0.40 per million (S3
  pricing, us-east-1, Standard). It also keeps journals, which every cold replay reads whole, small.
* Events keep their detail inline up to stepbridge's event cap (``limits.EVENT_BYTES``, 256 KB): rules
  and ``wait_for(match=)`` see the detail itself; only a bigger detail becomes a reference, which the
  router and ``wait_for`` resolve (EventBridge rule patterns on ``detail`` fields do not see inside it).
* ``MAX_VALUE_BYTES`` (50 MiB): the largest value stepbridge stores. S3 takes 5 GB in one PUT (S3 User
  Guide, "Uploading objects"), but the value is held in the function's memory as JSON text and as Python
  objects (measured up to ~8x the JSON size for many small objects), and the orchestrator's default is
  512 MB (docs/LIMITS.md). Past it the step, input or result fails with ``PayloadTooLarge`` naming it.

Without an installed blob store (:func:`install`) values stay inline and the DynamoDB limits apply as before.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from stepbridge.errors import PayloadMissing, PayloadTooLarge
from stepbridge.runtime.limits import event_entry_size

if TYPE_CHECKING:
    from stepbridge.runtime.ports import Blobs
    from stepbridge.runtime.records import Event

#: Values whose JSON is larger than this go to S3 (see the module docstring for the cost comparison).
INLINE_VALUE_BYTES = 64 * 1024
#: Largest value stepbridge stores, in bytes of its JSON (50 MiB = 52,428,800 bytes; see the docstring).
MAX_VALUE_BYTES = 50 * 1024 * 1024
#: The recorded error type of a value that is gone (the engine reports it rather than the replay's shortened path).
MISSING_TYPE = "stepbridge.errors.PayloadMissing"
#: The key of a reference: a dict with this single key is a claim check, never user data.
REF = "$stepbridge.payload"
#: Prefix of the objects in the bucket (the compiled lifecycle rule applies to it).
PREFIX = "payloads/"
#: Resolved values kept in the process (by content hash: immutable, so always safe to reuse), so a replay
#: does not read the same object again on every wake-up; bytes of JSON, least recently used first out.
_CACHE_BYTES = 64 * 1024 * 1024

_blobs: Blobs | None = None
_cache: OrderedDict[str, bytes] = OrderedDict()
_cache_size = 0
_lock = threading.Lock()


def install(blobs: Blobs | None) -> Blobs | None:
    """Make ``blobs`` the store of large values for this process; returns the previous one (to restore)."""
    global _blobs
    previous, _blobs = _blobs, blobs
    _clear_cache()
    return previous


def installed() -> Blobs | None:
    """The store of large values, or ``None`` (values then stay inline)."""
    return _blobs


def encode(data: object) -> bytes:
    """The stored form of a JSON value: compact UTF-8 JSON (what the size limits count)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def is_ref(data: object) -> bool:
    """Whether ``data`` is a claim-check reference."""
    return isinstance(data, dict) and len(data) == 1 and isinstance(data.get(REF), dict)


def too_large(what: str, size: int) -> PayloadTooLarge:
    """The error for a value over ``MAX_VALUE_BYTES``."""
    return PayloadTooLarge(
        f"{what} is {size:,} bytes, over stepbridge's maximum of {MAX_VALUE_BYTES:,} bytes (50 MiB) per stored "
        "value; keep the data in S3 (or another store) yourself and pass its key instead"
    )


def store_value(data: object, *, what: str, inline: int = INLINE_VALUE_BYTES) -> Any:
    """``data`` itself when its JSON is at most ``inline`` bytes, else a reference to it in the bucket.

    Raises ``PayloadTooLarge`` naming ``what`` past ``MAX_VALUE_BYTES``. Without a blob store, returns
    ``data`` unchanged (the callers' DynamoDB size checks then apply).
    """
    blobs = _blobs
    if blobs is None or is_ref(data) or _small(data, inline):
        return data
    raw = encode(data)
    if len(raw) <= inline:
        return data
    if len(raw) > MAX_VALUE_BYTES:
        raise too_large(what, len(raw))
    digest = hashlib.sha256(raw).hexdigest()
    key = f"{PREFIX}{digest}.json"
    if _cached(key) is None:  # written (or read) by this process already: the object is there
        blobs.put_blob(key, raw)
        _remember(key, raw)
    return {REF: {"uri": f"s3://{blobs.bucket}/{key}", "bytes": len(raw), "sha256": digest}}


def _small(data: object, inline: int) -> bool:
    """A cheap lower bound: scalars and short containers of scalars are never near the inline limit."""
    if data is None or isinstance(data, bool | int | float):
        return True
    if isinstance(data, str):
        return len(data) * 6 + 2 <= inline  # at most 6 bytes of JSON per character (a \uXXXX escape)
    return False


def resolve(data: Any) -> Any:
    """The value a reference stands for (read from the bucket, checked against its hash); other data as is."""
    if not is_ref(data):
        return data
    ref = data[REF]
    uri, digest = str(ref.get("uri", "")), str(ref.get("sha256", ""))
    key = uri.split("/", 3)[3] if uri.startswith("s3://") and uri.count("/") >= 3 else ""
    raw = _cached(key)
    if raw is None:
        blobs = _blobs
        if blobs is None:
            raise PayloadMissing(
                f"the value stored at {uri} cannot be read: this process has no payload bucket configured "
                "(STEPBRIDGE_PAYLOAD_BUCKET); deploy the function from the compiled template"
            )
        raw = blobs.get_blob(key)
        if raw is None:
            raise PayloadMissing(
                f"the value stored at {uri} ({ref.get('bytes')} bytes) is gone: it expired under the app's "
                "retention or was deleted from the payload bucket"
            )
        if hashlib.sha256(raw).hexdigest() != digest:
            raise PayloadMissing(f"the value stored at {uri} does not match its sha256 {digest}; it was altered")
        _remember(key, raw)
    return json.loads(raw)


def store_event_detail(event: Event, *, cap: int) -> Event:
    """``event`` with its detail replaced by a reference when the event is over ``cap`` bytes (and a blob
    store is installed); the detail's own size is bounded by ``MAX_VALUE_BYTES``."""
    if _blobs is None or is_ref(event.detail) or event_entry_size(event) <= cap:
        return event
    ref = store_value(event.detail, what=f"the detail of event '{event.detail_type}'", inline=0)
    return replace(event, detail=ref)


def resolve_event(event: Event) -> Event:
    """``event`` with a referenced detail read back (a detail that is not a JSON object is left as it was)."""
    if not is_ref(event.detail):
        return event
    detail = resolve(event.detail)
    return replace(event, detail=detail) if isinstance(detail, dict) else event


def _cached(key: str) -> bytes | None:
    with _lock:
        raw = _cache.get(key)
        if raw is not None:
            _cache.move_to_end(key)
        return raw


def _remember(key: str, raw: bytes) -> None:
    global _cache_size
    if len(raw) > _CACHE_BYTES // 4:
        return
    with _lock:
        if key in _cache:
            return
        _cache[key] = raw
        _cache_size += len(raw)
        while _cache_size > _CACHE_BYTES and _cache:
            _, old = _cache.popitem(last=False)
            _cache_size -= len(old)


def _clear_cache() -> None:
    global _cache_size
    with _lock:
        _cache.clear()
        _cache_size = 0
