"""``stepbridge.secret(name)``: read a secret the running function declared in ``secrets=``.

``@app.step(secrets={"STRIPE_KEY": "/acme/stripe/api-key"})`` grants the step's role read access to
that one SSM parameter (or Secrets Manager secret, given by ARN) and tells the function where it is;
inside the step, ``secret("STRIPE_KEY")`` returns its decrypted value. Values are read through
Powertools Parameters (``get_parameter(..., decrypt=True)`` / ``get_secret``) and cached per
container for ``max_age`` seconds (default :data:`DEFAULT_MAX_AGE`, or the
``POWERTOOLS_PARAMETERS_MAX_AGE`` environment variable): one call per secret per container per
``max_age``, and a rotated value is seen within it.

A name the running function did not declare raises :class:`~stepbridge.errors.SecretNotDeclared`,
locally and in AWS alike (in AWS its role could not read it anyway). Inline steps run in the
orchestrator, so they see the secrets of ``App(secrets=...)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from stepbridge.errors import SecretNotDeclared
from stepbridge.infra.parameters import PowertoolsSecrets
from stepbridge.runtime import functionscope
from stepbridge.runtime.observability import register_secret

#: Seconds a read value is reused by a warm container (Powertools' own default is 5).
DEFAULT_MAX_AGE = 300

#: ``reader(source, max_age) -> value``: how values are fetched (Powertools in AWS; LocalCloud installs its own).
SecretReader = Callable[[str, int], str]
_reader: list[SecretReader] = []


def set_reader(reader: SecretReader | None) -> SecretReader | None:
    """Install ``reader`` (``None``: back to Powertools); returns the previous one (LocalCloud's seam)."""
    previous = _reader[0] if _reader else None
    _reader.clear()
    if reader is not None:
        _reader.append(reader)
    return previous


def _default_reader() -> SecretReader:
    reader = PowertoolsSecrets()
    _reader.append(reader.read)
    return reader.read


def secret(name: str, *, max_age: int | None = None) -> str:
    """The value of the secret ``name`` declared by the running function; ``SecretNotDeclared`` otherwise."""
    scope = functionscope.current()
    source = scope.secrets.get(name)
    if source is None:
        declared = sorted(scope.secrets) or "none"
        raise SecretNotDeclared(
            f"secret {name!r} is not declared by {scope.name} (declared: {declared}); add it to "
            "secrets={...} of its @app.step (or of App(...) for inline steps) and recompile"
        )
    if max_age is None:
        max_age = int(os.environ.get("POWERTOOLS_PARAMETERS_MAX_AGE", DEFAULT_MAX_AGE))
    reader = _reader[0] if _reader else _default_reader()
    value = reader(source, max_age)

    register_secret(value)  # never in a log line, whatever logs it later
    return value


__all__ = ["DEFAULT_MAX_AGE", "SecretNotDeclared", "secret", "set_reader"]
