"""The composition root: builds the desk's services with their adapters, once, on first use."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from chalicelib.adapters.settings import Settings
from chalicelib.services.desk import Desk
from chalicelib.services.ports import Clock

if TYPE_CHECKING:
    from chalicelib.services.pipeline import Pipeline

_settings: Settings | None = None
_desk: Desk | None = None
_pipeline: Pipeline | None = None
_clock: Clock | None = None


def settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = Settings.from_env(os.environ)
    return _settings


def desk() -> Desk:
    """Imports PynamoDB only here, so a handler that never touches DynamoDB never pays for it."""
    global _desk
    if _desk is None:
        from chalicelib.adapters.clock import SystemClock
        from chalicelib.adapters.dynamo import DynamoDeskStore, DynamoTicketStore
        from chalicelib.adapters.events import DynamoEventStore
        from chalicelib.adapters.ids import UlidSource
        from chalicelib.adapters.records import bind_tables

        config = settings()
        bind_tables(config.tickets_table, config.desk_table, config.events_table, config.region)
        _desk = Desk(DynamoTicketStore(), DynamoDeskStore(), _clock or SystemClock(), UlidSource(), DynamoEventStore())
    return _desk


def pipeline() -> Pipeline:
    """The stream pipeline, reading the desk's configuration through the same (cached) desk."""
    global _pipeline
    if _pipeline is None:
        from chalicelib.services.pipeline import Pipeline

        built = desk()
        _pipeline = Pipeline(built.events, built.config)
    return _pipeline


def reset(clock: Clock | None = None) -> None:
    """Forget the built services and settings (tests and the local run rebuild them from a new environment)."""
    global _settings, _desk, _pipeline, _clock
    _settings, _desk, _pipeline, _clock = None, None, None, clock
