//! `hush server`: the API over HTTP/1.1 and HTTP/2, with TLS (rustls) when given a
//! certificate. It stops cleanly on SIGINT and SIGTERM; SIGHUP reloads the certificate
//! (crate::tls).
//!
//! Every connection is held to deadlines that do not depend on the protocol, because hyper's
//! own are per protocol and leave gaps (the auto builder waits without limit for the bytes that
//! tell HTTP/1 from HTTP/2, and an HTTP/2 connection with no stream has no deadline at all). A
//! watchdog beside each connection knows when its requests start and end, and closes it:
//! - when its first request's headers are not complete [`HEADER_TIMEOUT`] after accept (the TLS
//!   handshake included);
//! - when no request has been in flight for [`IDLE_TIMEOUT`] (a graceful close: HTTP/2 gets a
//!   GOAWAY, then [`CLOSE_GRACE`] to finish).
//!
//! Each request's body must arrive within [`BODY_TIMEOUT`] of its headers, however it trickles
//! in. HTTP/2 connections are pinged every [`H2_PING_INTERVAL`] and dropped when a ping goes
//! unanswered. At most `--max-connections` are served at once: at the cap the server stops
//! accepting, so further clients wait in the kernel's listen queue (and time out there) rather
//! than each costing a file descriptor and a task. Accept errors (e.g. out of file descriptors)
//! back off from 10 to 100 ms and are logged at most once a second, with the count of those
//! not logged.

use std::future::Future as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

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
    let (tls, reloadable) = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let (cfg, cert) = crate::tls::server_config(cert, key)?;
            (Some(cfg), Some(cert))
        }
        _ => (None, None),
    };
    let (hush, created) = local::open_or_init(scope.db.as_deref()).await?;
    // Before the first audited operation below, so even the first admin token's row is in it.
    let hush = match &args.audit_file {
        Some(path) => hush.with_audit_sink(path).await.map_err(|e| match e {
            e @ hush_core::Error::AuditSink { .. } => Failure::usage(format!(
                "{e}: give --audit-file (HUSH_AUDIT_FILE) a file hush can create or append to"
            ))
            .into(),
            other => anyhow::Error::from(other),
        })?,
        None => hush,
    };
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
    let hush = Arc::new(hush);
    if std::env::var("HUSH_CACHE").is_ok_and(|v| matches!(v.as_str(), "off" | "0" | "false")) {
        hush.set_caches(false);
    }
    hush_server::start_background(hush.clone(), sweep_interval());
    let state = hush_server::AppState::new(hush)
        .with_secure_cookies(tls.is_some())
        .with_trusted_proxies(args.trusted_proxies.clone());
    let app = hush_server::router(state.clone());
    let drain = Drain {
        state,
        timeout: Duration::from_secs(args.drain_timeout),
    };
    let limits = Limits::from_env();
    let max_connections = args.max_connections.unwrap_or_else(default_max_connections);
    if let Some(room) = fd_room() {
        if u64::from(max_connections) > room {
            eprintln!(
                "hush: --max-connections {max_connections} is more than the open-file limit leaves \
                 room for ({room}); raise it (ulimit -n) or accept errors will be backed off"
            );
        }
    }
    // Before the listening line: from then on a SIGHUP reloads, it no longer kills.
    crate::tls::reload_on_sighup(reloadable)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!("hush listening on {scheme}://{addr}");
    tracing::info!(%addr, tls = tls.is_some(), commit = hush_server::COMMIT, "listening");
    // The accept loop runs on a worker, not on this thread (which only waits for it): each
    // connection's task then starts on the worker that accepted it, where `block_on` here
    // would wake a worker for every new connection (a `hush run` is one).
    tokio::spawn(serve(listener, app, tls, limits, max_connections, drain))
        .await
        .context("the accept loop failed")?
}

/// From accept to the first request's complete headers (TLS handshake included).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// From a request's headers to the last byte of its body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection with no request in flight for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a connection asked to close gracefully may take.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// HTTP/2 keep-alive pings, and how long one may go unanswered.
const H2_PING_INTERVAL: Duration = Duration::from_secs(20);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(10);
/// The connection cap when the open-file limit allows it.
const DEFAULT_MAX_CONNECTIONS: u32 = 1024;
/// File descriptors kept for the store, logs and the listener when deriving the cap.
const RESERVED_FDS: u64 = 64;
/// Backoff after a failed accept.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_millis(100);
/// At most one log line per this period for failed accepts.
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(1);

/// The connection deadlines in force.
#[derive(Debug, Clone, Copy)]
struct Limits {
    header: Duration,
    body: Duration,
    idle: Duration,
}

impl Limits {
    /// The documented limits; `HUSH_HEADER_TIMEOUT_MS`, `HUSH_BODY_TIMEOUT_MS` and
    /// `HUSH_IDLE_TIMEOUT_MS` shorten them for the test suite (not documented for operators).
    fn from_env() -> Self {
        let ms = |name: &str, default: Duration| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|&v| v > 0)
                .map_or(default, Duration::from_millis)
        };
        Limits {
            header: ms("HUSH_HEADER_TIMEOUT_MS", HEADER_TIMEOUT),
            body: ms("HUSH_BODY_TIMEOUT_MS", BODY_TIMEOUT),
            idle: ms("HUSH_IDLE_TIMEOUT_MS", IDLE_TIMEOUT),
        }
    }
}

/// File descriptors the open-file limit leaves for connections, when there is a limit.
fn fd_room() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .map(|n| n.saturating_sub(RESERVED_FDS).max(1))
}

fn default_max_connections() -> u32 {
    fd_room().map_or(DEFAULT_MAX_CONNECTIONS, |room| {
        u32::try_from(room).map_or(DEFAULT_MAX_CONNECTIONS, |r| r.min(DEFAULT_MAX_CONNECTIONS))
    })
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

/// Failed accepts: how long to wait before the next, and whether to log this one.
#[derive(Debug)]
struct AcceptBackoff {
    delay: Duration,
    logged: Option<Instant>,
    suppressed: u64,
}

impl AcceptBackoff {
    fn new() -> Self {
        AcceptBackoff {
            delay: ACCEPT_BACKOFF_MIN,
            logged: None,
            suppressed: 0,
        }
    }

    /// Notes a failure at `now`: the wait before trying again, and, when this one is to be
    /// logged, how many were not logged since the last line.
    fn failed(&mut self, now: Instant) -> (Duration, Option<u64>) {
        let log = if self
            .logged
            .is_none_or(|t| now.duration_since(t) >= ACCEPT_LOG_EVERY)
        {
            self.logged = Some(now);
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        };
        let wait = self.delay;
        self.delay = (self.delay * 2).min(ACCEPT_BACKOFF_MAX);
        (wait, log)
    }

    fn succeeded(&mut self) {
        self.delay = ACCEPT_BACKOFF_MIN;
    }
}

/// How the server stops: the state whose `/readyz` turns 503, and how long requests in flight
/// may take.
struct Drain {
    state: hush_server::AppState,
    timeout: Duration,
}

impl Drain {
    /// After the signal: `/readyz` says 503, every connection is asked to close once its
    /// request in flight is answered (idle ones close at once), and the server waits for them
    /// all — at most `timeout` — before returning. The store's group commit has then nothing
    /// pending: every write was committed before its answer.
    async fn run(
        self,
        slots: Arc<tokio::sync::Semaphore>,
        max_connections: u32,
        closing: tokio::sync::watch::Sender<bool>,
    ) {
        self.state.start_draining();
        let _ = closing.send(true);
        let open = max_connections as usize - slots.available_permits();
        tracing::info!(
            open,
            timeout_s = self.timeout.as_secs(),
            "shutting down: draining"
        );
        let all = slots.acquire_many_owned(max_connections);
        match tokio::time::timeout(self.timeout, all).await {
            Ok(_) => tracing::info!("every request answered; stopped"),
            Err(_) => tracing::warn!(
                timeout_s = self.timeout.as_secs(),
                "drain timeout reached with requests still in flight; stopped anyway"
            ),
        }
    }
}

/// One accept loop for HTTP and HTTPS: hyper-util's auto builder speaks HTTP/1.1 and HTTP/2
/// (h2c with prior knowledge in the clear, ALPN under TLS). See the module doc for the limits.
async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
    max_connections: u32,
    drain: Drain,
) -> Result<()> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections as usize));
    let (closing, closing_rx) = tokio::sync::watch::channel(false);
    let mut backoff = AcceptBackoff::new();
    let stop = shutdown();
    tokio::pin!(stop);
    loop {
        // At the cap, stop accepting until a connection closes.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p.context("connection slots closed")?,
            _ = &mut stop => {
                drop(listener);
                drain.run(slots, max_connections, closing).await;
                return Ok(());
            }
        };
        let (tcp, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => {
                    backoff.succeeded();
                    c
                }
                Err(e) => {
                    let (wait, log) = backoff.failed(Instant::now());
                    if let Some(suppressed) = log {
                        tracing::warn!(%e, suppressed, "accept failed; backing off");
                    }
                    drop(permit);
                    tokio::time::sleep(wait).await;
                    continue;
                }
            },
            _ = &mut stop => {
                drop(permit);
                drop(listener);
                drain.run(slots, max_connections, closing).await;
                return Ok(());
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        let closing = closing_rx.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let activity = Arc::new(Activity::new());
            match acceptor {
                Some(acceptor) => {
                    let deadline = activity.started + limits.header;
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout_at(deadline.into(), acceptor.accept(tcp)).await
                    {
                        serve_connection(stream, remote, app, limits, activity, closing).await;
                    }
                }
                None => serve_connection(tcp, remote, app, limits, activity, closing).await,
            }
        });
    }
}

/// What a connection's watchdog knows of its requests.
#[derive(Debug)]
struct Activity {
    /// When the connection was accepted.
    started: Instant,
    in_flight: AtomicUsize,
    /// Milliseconds after `started` when a request last started or ended; `u64::MAX` before the
    /// first request.
    last_ms: AtomicU64,
    /// Wakes the watchdog when a request starts or ends.
    changed: tokio::sync::Notify,
}

/// What the watchdog should do.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Look again at this instant.
    WaitUntil(Instant),
    /// No request's headers within the header deadline: drop the connection.
    Drop,
    /// Idle for too long: close gracefully.
    Close,
}

impl Activity {
    fn new() -> Self {
        Activity {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ms: AtomicU64::new(u64::MAX),
            changed: tokio::sync::Notify::new(),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// A request's headers are complete: it is in flight until the guard drops.
    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.touch();
        self.changed.notify_one();
        InFlight(self.clone())
    }

    fn verdict(&self, limits: Limits, now: Instant) -> Verdict {
        let last = self.last_ms.load(Ordering::Relaxed);
        if last == u64::MAX {
            let deadline = self.started + limits.header;
            return if now >= deadline {
                Verdict::Drop
            } else {
                Verdict::WaitUntil(deadline)
            };
        }
        if self.in_flight.load(Ordering::Acquire) > 0 {
            // A request's own deadlines bound it; look again once it could have become idle.
            return Verdict::WaitUntil(now + limits.idle);
        }
        let deadline = self.started + Duration::from_millis(last) + limits.idle;
        if now >= deadline {
            Verdict::Close
        } else {
            Verdict::WaitUntil(deadline)
        }
    }
}

/// A request in flight on a connection.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_one();
    }
}

/// A request body that fails once its deadline passes, however the bytes trickle in.
struct DeadlineBody {
    inner: hyper::body::Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
}

/// The error a late body ends with (axum answers 400 and the connection is closed).
#[derive(Debug)]
struct BodyTimeout(Duration);

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body did not arrive within {} s",
            self.0.as_secs_f64()
        )
    }
}

impl std::error::Error for BodyTimeout {}

impl hyper::body::Body for DeadlineBody {
    type Data = hyper::body::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        // The deadline first: a steady trickle must not starve it.
        if this.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimeout(this.limit)))));
        }
        Pin::new(&mut this.inner)
            .poll_frame(cx)
            .map(|f| f.map(|r| r.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

async fn serve_connection<S>(
    stream: S,
    remote: SocketAddr,
    app: axum::Router,
    limits: Limits,
    activity: Arc<Activity>,
    mut closing: tokio::sync::watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let watched = activity.clone();
    let svc = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let guard = watched.begin();
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(axum::extract::ConnectInfo(remote));
        let body = if hyper::body::Body::is_end_stream(&body) {
            axum::body::Body::new(body)
        } else {
            axum::body::Body::new(DeadlineBody {
                inner: body,
                deadline: Box::pin(tokio::time::sleep(limits.body)),
                limit: limits.body,
            })
        };
        let req = hyper::Request::from_parts(parts, body);
        let app = app.clone();
        async move {
            let res = app.oneshot(req).await;
            drop(guard);
            res
        }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header);
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(H2_PING_INTERVAL)
        .keep_alive_timeout(H2_PING_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    let mut shutting_down = *closing.borrow();
    while !shutting_down {
        let wake = match activity.verdict(limits, Instant::now()) {
            Verdict::WaitUntil(at) => at,
            Verdict::Drop => return,
            Verdict::Close => break,
        };
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = tokio::time::sleep_until(wake.into()) => {}
            _ = activity.changed.notified() => {}
            _ = closing.changed() => shutting_down = true,
        }
    }
    // Asked to close (idle, or the server is stopping): the request in flight is answered,
    // then the connection closes (HTTP/2: GOAWAY). When the server is stopping, the drain
    // timeout bounds it (the process exits); the body and header deadlines still apply.
    conn.as_mut().graceful_shutdown();
    if shutting_down {
        let _ = conn.await;
    } else {
        let _ = tokio::time::timeout(CLOSE_GRACE, conn).await;
    }
}

/// How often this node looks for secrets entering their warning window or expiring
/// (`HUSH_EXPIRY_SWEEP_MS`, default 5 s): the delay before an `expiring` or `expired` event.
fn sweep_interval() -> Duration {
    std::env::var("HUSH_EXPIRY_SWEEP_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|ms| *ms >= 100)
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_accepts_back_off_and_log_once_a_second() {
        let mut b = AcceptBackoff::new();
        let t0 = Instant::now();
        let mut logged = Vec::new();
        let mut waits = Vec::new();
        // 10,000 failures in 2.5 s (what EMFILE gives without a backoff).
        for i in 0..10_000u64 {
            let (wait, log) = b.failed(t0 + Duration::from_micros(i * 250));
            waits.push(wait);
            if let Some(n) = log {
                logged.push(n);
            }
        }
        assert_eq!(logged.len(), 3, "one line per second");
        assert_eq!(logged[0], 0);
        assert!(logged[1] > 3_000, "the suppressed ones are counted");
        assert_eq!(waits[0], ACCEPT_BACKOFF_MIN);
        assert_eq!(waits[1], ACCEPT_BACKOFF_MIN * 2);
        assert!(waits.iter().all(|w| *w <= ACCEPT_BACKOFF_MAX));
        assert_eq!(waits[9_999], ACCEPT_BACKOFF_MAX);
        b.succeeded();
        assert_eq!(b.failed(t0 + Duration::from_secs(9)).0, ACCEPT_BACKOFF_MIN);
    }

    #[test]
    fn the_watchdog_drops_silent_connections_and_closes_idle_ones() {
        let limits = Limits {
            header: Duration::from_secs(10),
            body: Duration::from_secs(30),
            idle: Duration::from_secs(60),
        };
        let a = Arc::new(Activity::new());
        let t0 = a.started;
        assert_eq!(
            a.verdict(limits, t0),
            Verdict::WaitUntil(t0 + limits.header)
        );
        assert_eq!(a.verdict(limits, t0 + limits.header), Verdict::Drop);
        // A request in flight is never cut by the watchdog.
        let guard = a.begin();
        assert!(matches!(
            a.verdict(limits, t0 + Duration::from_secs(500)),
            Verdict::WaitUntil(_)
        ));
        drop(guard);
        let now = Instant::now();
        assert!(matches!(a.verdict(limits, now), Verdict::WaitUntil(_)));
        assert_eq!(
            a.verdict(limits, now + limits.idle + Duration::from_millis(5)),
            Verdict::Close
        );
    }
}
