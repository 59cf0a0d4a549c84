"""Reading declared secrets with Powertools Parameters: SSM (``SecureString``, decrypted) or Secrets Manager.

``stepbridge.secret(name)`` calls :meth:`PowertoolsSecrets.read` with the declared source: a Secrets
Manager ARN goes to ``GetSecretValue``, anything else is an SSM parameter name read with
``GetParameter(WithDecryption=True)``. Powertools caches each value for ``max_age`` seconds.
The providers are this object's own (not Powertools' module-level defaults), so LocalCloud can
start from a clean cache and a client bound to moto.
"""

from __future__ import annotations

from typing import Any

from stepbridge.errors import SecretUnavailable


class PowertoolsSecrets:
    """SSM and Secrets Manager providers of Powertools Parameters, with their caches."""

    def __init__(self) -> None:
        self._ssm: Any = None
        self._sm: Any = None

    def _providers(self) -> tuple[Any, Any]:
        if self._ssm is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider

            self._ssm, self._sm = SSMProvider(), SecretsProvider()
        return self._ssm, self._sm

    def read(self, source: str, max_age: int) -> str:
        """The decrypted value of ``source`` (an SSM parameter name or a Secrets Manager ARN)."""
        ssm, sm = self._providers()
        try:
            if source.startswith("arn:") and ":secretsmanager:" in source:
                value = sm.get(source, max_age=max_age)
            else:
                value = ssm.get(source, max_age=max_age, decrypt=True)
        except Exception as exc:  # Powertools wraps every failure in GetParameterError
            raise SecretUnavailable(f"could not read secret {source!r}: {exc}") from None
        return value.decode() if isinstance(value, bytes) else str(value)

    def clear(self) -> None:
        """Forget cached values (LocalCloud, after ``set_secret``)."""
        for provider in (self._ssm, self._sm):
            if provider is not None:
                provider.clear_cache()


__all__ = ["PowertoolsSecrets"]
