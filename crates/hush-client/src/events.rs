//! Following `GET /v1/events`: [`Client::events`] gives an [`Events`] whose
//! [`Events::next`] yields each change event in order, reconnecting with `Last-Event-ID`
//! after a lost connection so nothing is missed (the server keeps events 48 hours). The
//! Server-Sent Events format is parsed by `eventsource-stream`.

use std::pin::Pin;
use std::time::Duration;

use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt};
use reqwest::Method;

use crate::{status_error, Client, Error};

/// A quiet stream gets a heartbeat every 15 s; none for this long means the connection is
/// gone even if the socket says nothing.
const SILENCE: Duration = Duration::from_secs(45);
/// The longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

type Parsed = Pin<
    Box<
        dyn Stream<
                Item = Result<
                    eventsource_stream::Event,
                    eventsource_stream::EventStreamError<String>,
                >,
            > + Send,
    >,
>;

/// A followed event stream (see the module docs).
pub struct Events {
    client: Client,
    keys: Vec<String>,
    last_id: Option<i64>,
    stream: Option<Parsed>,
    failures: u32,
}

impl Client {
    /// Follows the change events this token may see, narrowed to `keys` when not empty,
    /// from after event `after` (`None`: from now on). Connects on the first
    /// [`Events::next`].
    pub fn events(&self, keys: &[String], after: Option<i64>) -> Events {
        Events {
            client: self.clone(),
            keys: keys.to_vec(),
            last_id: after,
            stream: None,
            failures: 0,
        }
    }
}

impl Events {
    /// The id of the newest event yielded (or the `after` given): where a reconnection
    /// resumes.
    pub fn last_id(&self) -> Option<i64> {
        self.last_id
    }

    /// The next event. `Err` when the connection failed or was lost (a transport error, a
    /// 5xx) or the server refused (401, 403, 422 — calling again will not help); calling
    /// again after a transport error reconnects, after a growing pause, from the last event
    /// yielded.
    pub async fn next(&mut self) -> Result<hush_wire::Event, Error> {
        loop {
            let stream = match self.stream.as_mut() {
                Some(s) => s,
                None => {
                    if self.failures > 0 {
                        let pause = Duration::from_millis(250 << self.failures.min(6));
                        tokio::time::sleep(pause.min(MAX_BACKOFF)).await;
                    }
                    let (client, keys) = (self.client.clone(), self.keys.clone());
                    match connect(client, keys, self.last_id).await {
                        Ok(s) => self.stream.insert(s),
                        Err(e) => {
                            self.failures += 1;
                            return Err(e);
                        }
                    }
                }
            };
            match stream.next().await {
                Some(Ok(ev)) => {
                    self.failures = 0;
                    if ev.data.is_empty() {
                        continue;
                    }
                    let parsed: hush_wire::Event =
                        serde_json::from_str(&ev.data).map_err(|e| Error::Server {
                            status: 200,
                            message: format!("unexpected event: {e}"),
                        })?;
                    self.last_id = Some(parsed.id);
                    return Ok(parsed);
                }
                Some(Err(e)) => {
                    self.stream = None;
                    self.failures += 1;
                    return Err(Error::Transport {
                        addr: self.client.addr().to_string(),
                        message: format!("the event stream broke: {e}"),
                    });
                }
                None => {
                    self.stream = None;
                    self.failures += 1;
                    return Err(Error::Transport {
                        addr: self.client.addr().to_string(),
                        message: "the server ended the event stream".into(),
                    });
                }
            }
        }
    }
}

/// Opens the stream (owning what it needs, so the future holds no borrow of [`Events`]).
async fn connect(client: Client, keys: Vec<String>, last_id: Option<i64>) -> Result<Parsed, Error> {
    let mut query: Vec<(&str, String)> = Vec::new();
    if !keys.is_empty() {
        query.push(("key", keys.join(",")));
    }
    let mut rb = client
        .req(Method::GET, "/v1/events")
        .query(&query)
        .header("accept", "text/event-stream")
        // The stream has no end: the client's request timeout must not cut it (silence
        // is watched instead).
        .timeout(Duration::from_secs(365 * 86_400));
    if let Some(id) = last_id {
        rb = rb.header("last-event-id", id.to_string());
    }
    let res = rb.send().await.map_err(|e| client.transport(e))?;
    let status = res.status();
    if !status.is_success() {
        let bytes = res.bytes().await.map_err(|e| client.transport(e))?;
        return Err(status_error(status, &bytes));
    }
    let bytes = res.bytes_stream();
    let watched = futures_util::stream::unfold(bytes, |mut s| async move {
        match tokio::time::timeout(SILENCE, s.next()).await {
            Ok(Some(Ok(b))) => Some((Ok(b), s)),
            Ok(Some(Err(e))) => Some((Err(crate::cause_chain(&e.without_url())), s)),
            Ok(None) => None,
            Err(_) => Some((Err(format!("nothing heard for {} s", SILENCE.as_secs())), s)),
        }
    });
    Ok(Box::pin(watched.eventsource()))
}
