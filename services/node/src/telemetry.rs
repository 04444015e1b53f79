//! Logs and traces. Logs go to stderr as text or JSON. Traces are exported over OTLP (gRPC)
//! when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set, and are off
//! otherwise; the standard `OTEL_*` variables (service name, headers, timeout) apply. Trace
//! context travels as W3C `traceparent` in gRPC metadata.

use opentelemetry::global;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogConfig;

/// Keeps the trace exporter alive; flush or shut down before the process ends.
#[derive(Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans buffered so far.
    pub fn flush(&self) {
        if let Some(p) = &self.provider {
            let _ = p.force_flush();
        }
    }

    pub async fn shutdown(self) {
        if let Some(p) = self.provider {
            let _ = tokio::task::spawn_blocking(move || p.shutdown()).await;
        }
    }
}

/// Installs logging (and OTLP export when the environment asks for it). The first call in a
/// process wins; later ones (tests starting many nodes) change nothing.
pub fn init(log: &LogConfig) -> Telemetry {
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT"))
        .ok();
    init_with(log, endpoint)
}

/// Like [`init`], exporting to `otlp` (a gRPC endpoint such as `http://collector:4317`) if given.
/// Call inside the tokio runtime.
pub fn init_with(log: &LogConfig, otlp: Option<String>) -> Telemetry {
    global::set_text_map_propagator(TraceContextPropagator::new());
    let service = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| "xuncha".into());
    let provider = otlp.and_then(|endpoint| {
        use opentelemetry_otlp::WithExportConfig;
        match opentelemetry_otlp::SpanExporter::builder().with_tonic().with_endpoint(endpoint.clone()).build() {
            Ok(exporter) => Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(Resource::builder().with_service_name(service.clone()).build())
                    .build(),
            ),
            Err(e) => {
                eprintln!("OTLP export to {endpoint} is off: {e}");
                None
            }
        }
    });
    if let Some(p) = &provider {
        global::set_tracer_provider(p.clone());
    }
    let otel = provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service)));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.level));
    let (json, text) = if log.format == "json" {
        (Some(tracing_subscriber::fmt::layer().json().with_current_span(true).with_writer(std::io::stderr)), None)
    } else {
        (None, Some(tracing_subscriber::fmt::layer().with_writer(std::io::stderr)))
    };
    // Already installed (several nodes in one process): keep the first.
    let installed = tracing_subscriber::registry().with(filter).with(json).with(text).with(otel).try_init().is_ok();
    Telemetry { provider: if installed { provider } else { None } }
}
