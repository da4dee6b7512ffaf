//! The floor: the least a server on hush's HTTP stack can do for a request. It is axum 0.8 on
//! a tokio multi-thread runtime with hyper-util's HTTP/1.1 + HTTP/2 connection builder — the
//! same pieces and the same accept loop as `hush server` — and it answers every request, on any
//! path and method, 200 with a constant body (the bytes of hush's own answer to the request
//! being measured, as `application/json`) after reading the request body. What hush costs on
//! top (authentication, decryption, the audit row, the store) is then the gap between the two.
//!
//! It runs as a separate process (`hush-bench floor`, a hidden subcommand), like hush, so that
//! both are measured the same way, one after the other.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, Result};
use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tower::ServiceExt as _;

use crate::child::ChildGuard;
use crate::server::{free_port, Server};

/// Serves `body_file`'s bytes on `listen` until killed.
pub fn serve(listen: &str, body_file: &Path) -> Result<()> {
    let body = Bytes::from(
        std::fs::read(body_file).with_context(|| format!("cannot read {}", body_file.display()))?,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let app = axum::Router::new().fallback(move |request_body: Bytes| {
            let body = body.clone();
            async move {
                std::hint::black_box(request_body);
                ([(CONTENT_TYPE, "application/json")], body)
            }
        });
        loop {
            let (tcp, _remote) = match listener.accept().await {
                Ok(c) => c,
                Err(_) => continue,
            };
            let app = app.clone();
            tokio::spawn(serve_connection(tcp, app));
        }
    })
}

/// One connection, built as `hush server` builds it.
async fn serve_connection(tcp: tokio::net::TcpStream, app: axum::Router) {
    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        app.clone().oneshot(req.map(axum::body::Body::new))
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(std::time::Duration::from_secs(10));
    builder.http2().timer(hyper_util::rt::TokioTimer::new());
    let _ = builder.serve_connection(TokioIo::new(tcp), svc).await;
}

/// Starts the floor (this very binary, `floor` subcommand) answering `body`; the body file is
/// written to `dir`. Ready when this returns.
pub fn spawn(body: &[u8], dir: &Path) -> Result<Server> {
    let file = dir.join("floor-body.json");
    std::fs::write(&file, body).with_context(|| format!("cannot write {}", file.display()))?;
    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let exe = std::env::current_exe().context("cannot find hush-bench's own path")?;
    let child = Command::new(exe)
        .arg("floor")
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--body-file")
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("cannot start the floor server")?;
    let mut server = Server {
        child: ChildGuard::new(child, "floor server"),
        addr,
        log: None,
    };
    server.wait_ready("/")?;
    Ok(server)
}
