"""Optional OpenTelemetry traces (`pip install .[otel]`): HTTP requests, GraphQL operations,
MongoDB commands and calls to Shopify, with a webhook's processing continuing its ingest's trace.

Off, and costless, unless the extra is installed and the standard variables ask for traces:
`OTEL_TRACES_EXPORTER` (`otlp`, `console`) or an `OTEL_EXPORTER_OTLP_ENDPOINT` /
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; `OTEL_SDK_DISABLED=true` turns it off, and the exporter,
service name (`OTEL_SERVICE_NAME`) and resource read their own `OTEL_*` variables. Nothing here
is configured by the service's settings. Every function below is a no-op while tracing is off.

The provider is this module's own (not the process-global one), handed to each instrumentation
explicitly; MongoDB commands are traced by a small `CommandListener` here because the upstream
PyMongo instrumentation lags the OpenTelemetry releases the others need.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from pymongo import monitoring

if TYPE_CHECKING:
    import httpx
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer
    from starlette.applications import Starlette

INSTRUMENTATION_NAME = "returns-management"
_TRUE = {"1", "true", "yes", "on"}

_provider: TracerProvider | None = None


def tracing_enabled() -> bool:
    return _provider is not None


def configure_tracing(provider: TracerProvider | None = None) -> bool:
    """Turn tracing on with `provider`, or with one built from the `OTEL_*` variables when they
    ask for traces and the extra is installed. Returns whether tracing is on."""
    global _provider
    if provider is not None:
        _provider = provider
        return True
    if _provider is not None:
        return True
    if not _requested(os.environ):
        return False
    try:
        _provider = _provider_from_environment()
    except ImportError:  # the `otel` extra is not installed
        return False
    return True


def reset_tracing() -> None:
    """Tracing off again (for tests; a process configures it once)."""
    global _provider
    _provider = None


def _requested(environ: Mapping[str, str]) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() in _TRUE:
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return bool(exporter) or any(environ.get(name) for name in endpoints)


def _provider_from_environment() -> TracerProvider:
    """Raises ImportError unless every part tracing uses is installed (a partial install is off)."""
    import opentelemetry.instrumentation.asgi
    import opentelemetry.instrumentation.httpx  # noqa: F401
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    # Resource.create reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; ours is the default.
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    provider = TracerProvider(
        resource=Resource.create({} if named else {"service.name": INSTRUMENTATION_NAME})
    )
    exporters = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(",")
    for exporter in {name.strip() for name in exporters} or {"otlp"}:
        if exporter == "console":
            provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif exporter == "otlp":
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def _tracer() -> Tracer | None:
    return _provider.get_tracer(INSTRUMENTATION_NAME) if _provider is not None else None


# HTTP in and out -------------------------------------------------------------------------------
def add_server_spans(app: Starlette) -> None:
    """A server span per request around everything else `app` does (added last, so outermost)."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    app.add_middleware(
        OpenTelemetryMiddleware, tracer_provider=_provider, exclude_spans=["receive", "send"]
    )


def trace_http_client(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client span for every call `client` makes (to Shopify)."""
    if _provider is not None:
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=_provider)
    return client


# MongoDB ---------------------------------------------------------------------------------------
class MongoCommandSpans(monitoring.CommandListener):
    """A client span per MongoDB command, child of whatever span issued it. PyMongo calls
    `started` in the task that sends the command, so the current span is the caller's."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer
        self._open: dict[tuple[int, Any], Span] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        collection = event.command.get(event.command_name)
        span = self._tracer.start_span(
            f"mongodb {event.command_name}",
            kind=_client_kind(),
            attributes={
                "db.system": "mongodb",
                "db.name": event.database_name,
                "db.operation": event.command_name,
                **({"db.mongodb.collection": collection} if isinstance(collection, str) else {}),
            },
        )
        self._open[(event.request_id, event.connection_id)] = span

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        span = self._open.pop((event.request_id, event.connection_id), None)
        if span is not None:
            span.end()

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        span = self._open.pop((event.request_id, event.connection_id), None)
        if span is not None:
            from opentelemetry.trace import Status, StatusCode

            span.set_status(Status(StatusCode.ERROR, str(event.failure.get("errmsg", ""))))
            span.end()


def _client_kind() -> Any:
    from opentelemetry.trace import SpanKind

    return SpanKind.CLIENT


def mongo_listeners() -> list[monitoring.CommandListener]:
    """The command listener to give a new client while tracing is on (else none)."""
    tracer = _tracer()
    return [MongoCommandSpans(tracer)] if tracer is not None else []


# Spans of our own, and traces carried into background work -----------------------------------
@contextmanager
def span(name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Span | None]:
    """A span around the block, child of the current one; yields it (None while tracing is
    off), so the block can name it better once it knows more."""
    tracer = _tracer()
    if tracer is None:
        yield None
        return
    with tracer.start_as_current_span(name, attributes=dict(attributes or {})) as current:
        yield current


def current_trace_context() -> dict[str, str]:
    """The current span as W3C trace headers (`traceparent`), to store with work done later;
    empty while tracing is off or outside a span."""
    if _provider is None:
        return {}
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier


@contextmanager
def continued_trace(
    carrier: Mapping[str, str] | None, name: str, attributes: Mapping[str, Any] | None = None
) -> Iterator[None]:
    """A span for background work, child of the span `carrier` was taken from (its ingest), so
    the work continues that trace; a new trace when there is no carrier."""
    tracer = _tracer()
    if tracer is None:
        yield
        return
    from opentelemetry.propagate import extract

    parent = extract(dict(carrier)) if carrier else None
    with tracer.start_as_current_span(name, context=parent, attributes=dict(attributes or {})):
        yield


def current_trace_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current span, for log lines; None when there is none."""
    if _provider is None:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return f"{context.trace_id:032x}", f"{context.span_id:016x}"
