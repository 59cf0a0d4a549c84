"""AI generation with a pluggable model (the seed's ``ai.generate({model, prompt, schema})``).

Workflows call :func:`generate`; it asks the current :class:`TextModel`, validates the answer
against the requested pydantic schema and records the call in ``fakes.world.ai_calls``.

The default model is :class:`DeterministicModel`: offline, free and repeatable (the same
model, prompt and context always give the same object), so tests and the local demo need no
API key. Plug a real one (for example an Amazon Bedrock client) with :func:`use_model`, or
set ``fakes.world.ai_model`` in a test; ``fakes.reset()`` puts the default back.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing
from typing import Any, Protocol, TypeVar

import fakes
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


class TextModel(Protocol):
    """What a model must do: turn a prompt (and optional context) into data shaped like ``schema``."""

    def generate(self, *, model: str, prompt: str, schema: type[BaseModel], context: Any = None) -> dict[str, Any]:
        """Return a dict that ``schema`` validates."""
        ...


class DeterministicModel:
    """A stand-in model: fills the schema's fields from the prompt, reproducibly.

    With a ``context`` (a previous draft) it "reviews" it: keeps the title, tightens the
    summary and marks the body as reviewed by ``model``.
    """

    def generate(self, *, model: str, prompt: str, schema: type[BaseModel], context: Any = None) -> dict[str, Any]:
        """Build the answer from the prompt's subject and a hash of the request."""
        if isinstance(context, dict):
            reviewed = dict(context)
            for name, value in context.items():
                if isinstance(value, str) and name in ("summary",):
                    reviewed[name] = value.rstrip(".") + " (edited)."
                elif isinstance(value, str) and name in ("body", "content", "text"):
                    reviewed[name] = f"{value}\n\n[reviewed by {model}]"
            return reviewed
        subject = _subject(prompt)
        seed = hashlib.sha256(f"{model}|{prompt}".encode()).hexdigest()
        return {name: _value(name, field.annotation, subject, seed) for name, field in schema.model_fields.items()}


def _subject(prompt: str) -> str:
    match = re.search(r"\babout (.+?)[.!?]?$", prompt.strip(), flags=re.IGNORECASE)
    return (match.group(1) if match else prompt).strip()


def _value(name: str, annotation: Any, subject: str, seed: str) -> Any:
    origin = typing.get_origin(annotation)
    if annotation is str:
        if name == "title":
            return subject.title()
        if name == "summary":
            return f"A short guide to {subject}."
        return f"{subject.capitalize()} matters. This post explains why, in three parts. (draft {seed[:6]})"
    if origin is list:
        words = [w.lower() for w in re.findall(r"[A-Za-z0-9]+", subject)]
        return words[:5] or ["general"]
    if annotation is int:
        return int(seed[:4], 16)
    if annotation is float:
        return int(seed[:4], 16) / 65535
    if annotation is bool:
        return int(seed[0], 16) % 2 == 0
    return None


DEFAULT_MODEL = DeterministicModel()


def use_model(model: TextModel | None) -> None:
    """Plug in a model (``None`` restores the deterministic default)."""
    fakes.world.ai_model = model


def generate(*, model: str, prompt: str, schema: type[M], context: Any = None) -> M:
    """Ask the current model; validate with ``schema``; record the call."""
    if isinstance(context, BaseModel):
        context = context.model_dump(mode="json")
    impl: TextModel = fakes.world.ai_model or DEFAULT_MODEL
    raw = impl.generate(model=model, prompt=prompt, schema=schema, context=context)
    result = schema.model_validate(raw)
    fakes.world.count("ai.generate")
    with fakes.world.lock:
        fakes.world.ai_calls.append(
            {"model": model, "prompt": prompt, "schema": schema.__name__,
             "context": json.loads(json.dumps(context, default=str)), "result": result.model_dump(mode="json")}
        )
    return result
