//! Tracing exported over OTLP: a small OTLP receiver in this process collects the spans, and a
//! county's push and the city's commit of it share one trace id. Its own test binary, because
//! the tracing subscriber is global to a process.

#[path = "../it/city.rs"]
#[allow(dead_code)]
mod city;
#[path = "../it/federation.rs"]
#[allow(dead_code)]
mod federation;
#[path = "../it/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;
#[path = "../it/proxy.rs"]
#[allow(dead_code)]
mod proxy;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tonic::{Request, Response, Status};
use xuncha_domain::Command;
use xuncha_domain::model::UnitKind;

use crate::federation::Federation;
use crate::fixtures::eventually;

/// A span received: its name and trace id.
type Received = (String, Vec<u8>);

/// Every span received.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Received>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        r: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut spans = self.0.lock().unwrap();
        for rs in r.into_inner().resource_spans {
            for ss in rs.scope_spans {
                for s in ss.spans {
                    spans.push((s.name, s.trace_id));
                }
            }
        }
        Ok(Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_county_push_and_its_city_commit_share_a_trace_id() {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let log =
        xuncha_node::LogConfig { level: "info,xuncha_replication=debug,openraft=warn".into(), ..Default::default() };
    let telemetry = xuncha_node::telemetry::init_with(&log, Some(format!("http://{addr}")));

    let fed = Federation::start(&["anping"]).await;
    let api = fed.county("anping").api.clone();
    let office = fixtures::admin_session(&api).await;
    let cmd =
        xuncha_domain::term::RegisterUnit { name: "追踪测试单位".into(), kind: UnitKind::Township, parent: None };
    api.execute(office, Command::RegisterUnit(cmd)).await.unwrap();
    fed.converged().await;

    eventually("a push and its commit in one trace", Duration::from_secs(60), || async {
        telemetry.flush();
        let spans = receiver.0.lock().unwrap().clone();
        let pushes: Vec<&Vec<u8>> = spans.iter().filter(|(n, _)| n == "sync.push").map(|(_, t)| t).collect();
        let applied = spans.iter().any(|(n, t)| n == "sync.apply" && pushes.contains(&t));
        let committed = spans.iter().any(|(n, t)| n == "sync.commit" && pushes.contains(&t));
        (applied && committed).then_some(())
    })
    .await;
}
