"""The public model: App, Retry, StateMachine, cron and durations (decorators only record)."""
