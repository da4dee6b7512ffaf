//! `hush server`: the API over HTTP/1.1 and HTTP/2, with TLS (rustls) when given a
//! certificate. It stops cleanly on SIGINT and SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use hush_core::token::Role;
use hush_core::Actor;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tower::ServiceExt as _;

use crate::cli::ServerArgs;
use crate::fail::Failure;
use crate::local;

pub async fn run(args: ServerArgs, scope: &crate::Scope) -> Result<()> {
    let workspace = scope.workspace.as_str();
    // Bad TLS files are refused before anything is created or printed.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls_config(cert, key)?),
        _ => None,
    };
    let (hush, created) = local::open_or_init(scope.db.as_deref()).await?;
    let (ws, _) = hush.workspace(workspace, true).await?;
    let actor = Actor::local();
    if created || hush.tokens(&ws, &actor).await?.is_empty() {
        let (row, secret) = hush
            .create_token(&ws, "first-admin", Role::Admin, None, None, None, &actor)
            .await?;
        eprintln!(
            "{} store; first admin token ({}) printed on stdout, once: keep it safe",
            if created {
                "initialised a new"
            } else {
                "no tokens in this"
            },
            row.id
        );
        // EXPOSE: the operator must receive the first admin token exactly once.
        println!("{}", secret.expose_secret());
    }
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| Failure::usage(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener.local_addr()?;
    let app = hush_server::router(
        hush_server::AppState::new(Arc::new(hush)).with_secure_cookies(tls.is_some()),
    );
    match tls {
        Some(tls) => {
            eprintln!("hush listening on https://{addr}");
            serve(listener, app, Some(tls)).await
        }
        None => {
            eprintln!("hush listening on http://{addr}");
            serve(listener, app, None).await
        }
    }
}

async fn shutdown() {
    let term = async {
        #[cfg(unix)]
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
            return;
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    eprintln!("hush: shutting down");
}

fn tls_config(cert: &std::path::Path, key: &std::path::Path) -> Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let read = |path: &std::path::Path| {
        std::fs::read(path)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))
    };
    let cert_pem = read(cert)?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            Failure::usage(format!(
                "{} is not a PEM certificate chain: {e}",
                cert.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Failure::usage(format!("{} holds no PEM certificate", cert.display())).into());
    }
    // The key file's bytes are cleared once the key is parsed.
    let key_pem = zeroize::Zeroizing::new(read(key)?);
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => {
            Failure::usage("the --tls-key file holds no PEM private key")
        }
        e => Failure::usage(format!("cannot read the private key: {e}")),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS setup")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            Failure::usage(format!(
                "the certificate and key do not form a usable pair: {e}"
            ))
        })?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// How long a client may take to send a request's headers, or to finish a TLS handshake,
/// before the connection is dropped (slow clients must not pin connections forever).
const CLIENT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One accept loop for HTTP and HTTPS: hyper-util's auto builder speaks HTTP/1.1 and HTTP/2
/// (h2c with prior knowledge in the clear, ALPN under TLS), with a header-read timeout.
async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let stop = shutdown();
    tokio::pin!(stop);
    loop {
        let (tcp, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => { tracing::warn!(%e, "accept failed"); continue; }
            },
            _ = &mut stop => return Ok(()),
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            match acceptor {
                Some(acceptor) => {
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(CLIENT_TIMEOUT, acceptor.accept(tcp)).await
                    {
                        serve_connection(stream, remote, app).await;
                    }
                }
                None => serve_connection(tcp, remote, app).await,
            }
        });
    }
}

async fn serve_connection<S>(stream: S, remote: SocketAddr, app: axum::Router)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(remote));
        app.clone().oneshot(req.map(axum::body::Body::new))
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(CLIENT_TIMEOUT);
    builder.http2().timer(hyper_util::rt::TokioTimer::new());
    let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
}
