//! OpenTelemetry tracing (cargo feature `otel`): the backend's `tracing` spans (each request's
//! `request` span with its `request_id`, plugin startup spans) exported over OTLP/HTTP
//! (protobuf) to the collector named by the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) environment variable. Without either, or with
//! `OTEL_SDK_DISABLED=true`, nothing is exported and no exporter is built.
//!
//! Spans are batched on a thread of their own (`OTEL_BSP_*` variables tune the batching) and
//! flushed when the backend stops. `OTEL_SERVICE_NAME` names the service (default `backlot`);
//! `OTEL_RESOURCE_ATTRIBUTES` adds resource attributes.

use std::sync::OnceLock;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing::Subscriber;
use tracing_subscriber::registry::LookupSpan;

/// The provider of the process-wide layer, kept to flush it.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Why the exporter could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the OTLP span exporter: {0}")]
pub struct OtelError(String);

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// Whether the environment asks for export: an OTLP endpoint is set and the SDK is not
/// disabled.
pub fn export_configured() -> bool {
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    !disabled
        && (env_set("OTEL_EXPORTER_OTLP_ENDPOINT") || env_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// The `tracing` layer exporting spans, when the environment configures an endpoint.
pub(crate) fn layer<S>()
-> Result<Option<tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>>, OtelError>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    if !export_configured() {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| OtelError(e.to_string()))?;
    let mut resource = Resource::builder();
    if !env_set("OTEL_SERVICE_NAME") {
        resource = resource.with_service_name("backlot");
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("backlot");
    if PROVIDER.set(provider).is_err() {
        // A layer is installed once per process; a second one would never be flushed.
        return Ok(None);
    }
    Ok(Some(tracing_opentelemetry::layer().with_tracer(tracer)))
}

/// Exports the spans still batched (called when a backend stops). Blocks until the exporter
/// answered or gave up.
pub fn flush_tracing() {
    if let Some(provider) = PROVIDER.get() {
        let _ = provider.force_flush();
    }
}
