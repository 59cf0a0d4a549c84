"""Suite-wide test speed-ups: what every moto-backed ``LocalCloud`` pays again at each start and never changes.

- moto starts each mock with ``boto3.DEFAULT_SESSION`` unset, so every cloud's first ``boto3.client`` builds a
  new botocore session, and each session a new data loader that parses the service model JSON files again
  (about half of a moto cloud's start). The files are read-only package data and botocore already shares one
  loader's parsed models among all clients of a session, so here one loader per data path serves every session.
- moto creates the ``alias/aws/dynamodb`` KMS key for the SSE table of each cloud, and for a
  ``SYMMETRIC_DEFAULT`` key it also generates an RSA-2048 private key that only sign/verify of asymmetric keys
  use. That key is generated once per process and reused; the symmetric key material stays per key.
- moto converts the same few CamelCase names with ``camelcase_to_underscores`` (a pure string function) for every
  request's action and for every attribute of every SQS queue it describes, and lists each response class's
  methods with ``inspect.getmembers`` on every request: both are cached (about a tenth of a long moto test).

Neither changes what a test sees from AWS or from stepbridge; they only skip repeated work.

A test's ``("terminal_summary", (title, lines))`` user property (the soak figures) is printed as a section of
the terminal summary; the hook is here because under pytest-xdist only the controller writes the summary, and
it loads this conftest but not those of the directories below.

Parallel runs (pytest-xdist, ``python3 dev.py test``) rely on every test keeping its files in ``tmp_path``
and its servers on port 0; see docs/TESTING.md.
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.loaders
import botocore.session
import pytest


@functools.cache
def _shared_loader(search_path_string: str | None = None) -> botocore.loaders.Loader:
    return botocore.loaders.create_loader(search_path_string)


botocore.session.create_loader = _shared_loader  # type: ignore[assignment]


def _reuse_symmetric_default_rsa_key() -> None:
    try:
        import moto.kms.models as kms_models
    except ImportError:  # moto is the `local` extra; without it no LocalCloud runs on moto
        return
    generate = kms_models.generate_private_key
    symmetric = functools.cache(generate)

    def generate_private_key(key_spec: str) -> Any:
        return symmetric(key_spec) if key_spec == "SYMMETRIC_DEFAULT" else generate(key_spec)

    kms_models.generate_private_key = generate_private_key


_reuse_symmetric_default_rsa_key()


def _cache_moto_name_lookups() -> None:
    try:
        import moto.core.responses as responses
        import moto.core.utils as utils
        import moto.sqs.models as sqs_models
    except ImportError:
        return
    camel = functools.lru_cache(maxsize=4096)(utils.camelcase_to_underscores)
    methods = functools.lru_cache(maxsize=1024)(utils.method_names_from_class)
    for module in (responses, sqs_models):
        if getattr(module, "camelcase_to_underscores", None) is utils.camelcase_to_underscores:
            module.camelcase_to_underscores = camel  # type: ignore[attr-defined]
    if getattr(responses, "method_names_from_class", None) is utils.method_names_from_class:
        responses.method_names_from_class = methods  # type: ignore[attr-defined]


_cache_moto_name_lookups()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the figures tests recorded as ``terminal_summary`` user properties, one section each."""
    for kind in ("passed", "failed"):
        for report in terminalreporter.stats.get(kind, []):
            if getattr(report, "when", None) != "call":
                continue
            for key, value in report.user_properties:
                if key == "terminal_summary":
                    title, lines = value
                    terminalreporter.section(title)
                    for line in lines:
                        terminalreporter.write_line(line)
