"""stepbridge: durable business workflows on AWS Lambda, written as plain async Python.

Public API (see docs/API.md)::

    from stepbridge import App, Context, Retry, WaitTimeout, StepTimeout, StateMachine, State, Transition
    from stepbridge import Calendar, BusinessDays, BusinessHours, load_ics
"""

from stepbridge.api.app import App, JwtAuth
from stepbridge.api.calendar import BusinessDays, BusinessHours, Calendar
from stepbridge.api.ics import load_ics
from stepbridge.api.machine import State, StateMachine, Transition
from stepbridge.api.retry import Retry
from stepbridge.errors import (
    CallbackAlreadyCompleted,
    CallbackFailed,
    CallbackNotFound,
    CallbackTimeout,
    ChildFailed,
    CircuitOpenError,
    ExecutionAlreadyExists,
    ExecutionCancelled,
    ExecutionFailedError,
    ExecutionNotFound,
    ExecutionTimedOut,
    NonDeterminismError,
    NonRetryableError,
    PayloadMissing,
    PayloadTooLarge,
    PollTimeout,
    SecretNotDeclared,
    SecretUnavailable,
    StepFailed,
    StepInterrupted,
    StepTimeout,
    UnknownWorkflowError,
    WaitTimeout,
    WorkflowDefinitionError,
)
from stepbridge.runtime.context import Context, Saga
from stepbridge.runtime.stepcontext import StepContext, step_context
from stepbridge.secrets import secret

__all__ = [
    "App",
    "BusinessDays",
    "BusinessHours",
    "Calendar",
    "CallbackAlreadyCompleted",
    "CallbackFailed",
    "CallbackNotFound",
    "CallbackTimeout",
    "ChildFailed",
    "CircuitOpenError",
    "Context",
    "ExecutionAlreadyExists",
    "ExecutionCancelled",
    "ExecutionFailedError",
    "ExecutionNotFound",
    "ExecutionTimedOut",
    "JwtAuth",
    "NonDeterminismError",
    "NonRetryableError",
    "PayloadMissing",
    "PayloadTooLarge",
    "PollTimeout",
    "Retry",
    "Saga",
    "SecretNotDeclared",
    "SecretUnavailable",
    "State",
    "StateMachine",
    "StepContext",
    "StepFailed",
    "StepInterrupted",
    "StepTimeout",
    "Transition",
    "UnknownWorkflowError",
    "WaitTimeout",
    "WorkflowDefinitionError",
    "load_ics",
    "secret",
    "step_context",
]
__version__ = "0.1.0"
