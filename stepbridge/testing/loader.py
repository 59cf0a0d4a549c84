"""Import an App from ``path/to/file.py:attr`` or ``package.module:attr`` (tests, CLI)."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from stepbridge.api.app import App


def load_app_from_spec(spec: str, *, root: Path | None = None) -> App:
    """Load the App named by ``spec``; a file's folder is put on ``sys.path`` (it is the SAM CodeUri)."""
    target, _, attr = spec.partition(":")
    attr = attr or "app"
    if target.endswith(".py"):
        path = Path(target) if Path(target).is_absolute() else (root or Path.cwd()) / target
        if not path.exists():
            raise FileNotFoundError(f"no such app file: {path}")
        folder = str(path.parent.resolve())
        if folder not in sys.path:
            sys.path.insert(0, folder)
        loaded = sys.modules.get(path.stem)
        loaded_file = getattr(loaded, "__file__", None)
        if loaded is not None and (not loaded_file or Path(loaded_file).resolve() != path.resolve()):
            del sys.modules[path.stem]  # another module of that name was imported first: load ours
            sys.path.remove(folder)
            sys.path.insert(0, folder)
        module = importlib.import_module(path.stem)
    else:
        module = importlib.import_module(target)
    app = getattr(module, attr, None)
    if not isinstance(app, App):
        raise TypeError(f"{spec!r} is not a stepbridge App (found {type(app).__name__})")
    return app
