"""The compiler: discover the ``App``, build the resource model, emit a SAM template, validate it.

Build/deploy tooling only - the Lambda runtime never imports this package (it is left out of the
layer). Entry points::

    from stepbridge.compiler import compile_file, compile_app, CompileOptions
    compiled = compile_file("functions/app.py", "template.yaml")   # .template (data), .text (YAML)

``stepbridge.compiler.validate`` (SAM transform, cfn-lint, moto stack) and
``stepbridge.compiler.graph`` (Mermaid diagrams) are imported on demand.
"""

from stepbridge.compiler.discovery import LoadedApp, load_app
from stepbridge.compiler.model import AppModel, CompileOptions, build_model
from stepbridge.compiler.template import Compiled, build_template, compile_app, compile_file

__all__ = [
    "AppModel",
    "CompileOptions",
    "Compiled",
    "LoadedApp",
    "build_model",
    "build_template",
    "compile_app",
    "compile_file",
    "load_app",
]
