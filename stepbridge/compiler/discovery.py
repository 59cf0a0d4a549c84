"""Find the ``App`` in ``path.py[:attr]`` the way Lambda will import it.

The app file's folder is the functions' ``CodeUri`` (Lambda's task root), so the module is
imported by its name relative to that folder with the folder on ``sys.path`` - exactly what
the handlers do with ``STEPBRIDGE_APP`` (``module:attr``). An import that only works from the
repository root would fail in Lambda, and fails here first.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from stepbridge.api.app import App
from stepbridge.errors import CompileError

DEFAULT_TARGET = "functions/app.py"


@dataclass(frozen=True)
class LoadedApp:
    """An app plus where it came from: what ``STEPBRIDGE_APP`` and ``CodeUri`` must say."""

    app: App
    source: Path  # the .py file
    code_dir: Path  # the CodeUri folder (Lambda task root)
    module: str  # dotted module name relative to code_dir
    attr: str  # attribute holding the App

    @property
    def app_ref(self) -> str:
        """``module:attr``, the value of ``STEPBRIDGE_APP``."""
        return f"{self.module}:{self.attr}"


def split_target(target: str) -> tuple[Path, str | None]:
    """``functions/app.py:app`` -> (path, "app"); the attribute is optional."""
    path_text, sep, attr = target.rpartition(":")
    if not sep or not path_text or "/" in attr or "\\" in attr or attr.endswith(".py"):
        return Path(target), None  # no attribute (or a Windows drive colon)
    return Path(path_text), attr or None


def _module_name(source: Path, code_dir: Path) -> str:
    try:
        rel = source.resolve().relative_to(code_dir.resolve())
    except ValueError:
        raise CompileError(f"{source} is not inside the code folder {code_dir} (the functions' CodeUri)") from None
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if not parts or not all(p.isidentifier() for p in parts):
        raise CompileError(f"{rel} cannot be imported as a Python module (use identifier-like file/folder names)")
    return ".".join(parts)


def _import(module: str, code_dir: Path, source: Path) -> ModuleType:
    root = str(code_dir.resolve())
    added = root not in sys.path
    if added:
        sys.path.insert(0, root)
    previous = sys.modules.get(module)
    if previous is not None and Path(getattr(previous, "__file__", "") or "").resolve() != source.resolve():
        del sys.modules[module]  # another file of that name was imported before: load ours
    else:
        previous = None
    try:
        return importlib.import_module(module)
    except CompileError:
        raise
    except Exception as exc:
        raise CompileError(f"importing {source} as module '{module}' failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if added:
            sys.path.remove(root)
        if previous is not None:
            # Leave the process as we found it; the App object we return stays usable.
            sys.modules[module] = previous


def load_app(target: str = DEFAULT_TARGET, *, code_dir: str | Path | None = None) -> LoadedApp:
    """Import ``target`` (``path.py[:attr]``) and return its :class:`~stepbridge.api.app.App`.

    Without ``:attr`` the module must hold exactly one ``App`` (``app`` is preferred).
    ``code_dir`` defaults to the file's folder.
    """
    source, attr = split_target(target)
    if source.is_dir():
        source = source / "app.py"
    if not source.is_file():
        raise CompileError(f"app file {source} not found; pass path/to/app.py[:attribute]")
    folder = Path(code_dir) if code_dir is not None else source.parent
    module_name = _module_name(source, folder)
    module = _import(module_name, folder, source)
    if attr is None:
        apps = sorted(name for name, value in vars(module).items() if isinstance(value, App))
        if "app" in apps:
            attr = "app"
        elif len(apps) == 1:
            attr = apps[0]
        else:
            found = ", ".join(apps) or "none"
            raise CompileError(f"{source}: expected one App instance, found {found}; pass {source}:<attribute>")
    value = getattr(module, attr, None)
    if not isinstance(value, App):
        raise CompileError(f"{source}:{attr} is not a stepbridge App (got {type(value).__name__})")
    return LoadedApp(app=value, source=source, code_dir=folder, module=module_name, attr=attr)
