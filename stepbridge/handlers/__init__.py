"""Lambda entry points. Each module has ``handler(event, context)`` for AWS, which builds its
:class:`~stepbridge.handlers.env.Environment` from the function's environment variables, and a
``handle(event, env)`` that LocalCloud calls with its own environment — the same code path."""
