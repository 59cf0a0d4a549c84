"""The one ``App`` of the example application, in a module of its own.

Workflow modules import ``app`` from here to register themselves; ``app.py`` imports every
workflow module and re-exports ``app`` (it is what ``stepbridge compile`` and the Lambda
handlers load as ``app:app``). Keeping the ``App`` here avoids circular imports between
``app.py`` and the workflow modules.
"""

from __future__ import annotations

from stepbridge import App

app = App("acme")

#: Where the support team is reached (onboarding calls, escalations).
SUCCESS_TEAM_EMAIL = "success@acme.example"
