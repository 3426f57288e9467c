//! Socket Mode: Slack without a public URL. With `SLACK_APP_TOKEN` (an `xapp-` token), the process
//! asks `apps.connections.open` for a websocket URL (single-use: every reconnection asks again),
//! receives the envelopes of slash commands, interactivity and the Events API over it, runs the same
//! handlers as the HTTP endpoint, and acknowledges each envelope by its id (a command's or a view
//! submission's answer goes in the acknowledgement's `payload`). A `disconnect` reconnects at once; a
//! connection silent for a minute (Slack pings every few seconds; we ping too) is dropped and
//! replaced. Every process may hold a connection (Slack spreads envelopes across them); an envelope
//! Slack sends again is recognised by its id.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use platform::Secret;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::inbound::{Handlers, Request};

/// How long an envelope id is remembered.
const ENVELOPE_MEMORY: Duration = Duration::from_secs(60 * 60);

/// The Socket Mode client.
#[derive(Clone)]
pub struct SocketMode {
    pub api_url: url::Url,
    pub app_token: Secret,
    pub handlers: Handlers,
    /// A connection that showed no sign of life for this long is replaced (`FF_SLACK_SOCKET_SILENCE`,
    /// 60 s); we ping every third of it.
    pub silence: Duration,
}

impl std::fmt::Debug for SocketMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketMode").field("api_url", &self.api_url.as_str()).finish_non_exhaustive()
    }
}

impl SocketMode {
    /// Runs the connection on a thread of its own, for the life of the process.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub fn spawn(self) -> std::io::Result<()> {
        std::thread::Builder::new().name("ff-slack-socket".into()).spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(error) => {
                    tracing::error!(%error, "Socket Mode cannot start");
                    return;
                }
            };
            runtime.block_on(self.run());
        })?;
        Ok(())
    }

    async fn run(self) {
        let mut backoff = Duration::from_secs(1);
        loop {
            match self.session().await {
                Ok(()) => {
                    tracing::info!("Slack asked Socket Mode to reconnect");
                    backoff = Duration::from_secs(1);
                }
                Err(error) => {
                    tracing::warn!(%error, wait_seconds = backoff.as_secs(), "Socket Mode connection lost; reconnecting");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                }
            }
        }
    }

    /// A fresh, single-use websocket URL.
    async fn open_url(&self) -> Result<String, String> {
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(10)).build().map_err(|e| e.to_string())?;
        let url = self.api_url.join("apps.connections.open").map_err(|e| e.to_string())?;
        let answer: Value = client
            .post(url)
            .bearer_auth(self.app_token.expose())
            .send()
            .await
            .map_err(|error| format!("apps.connections.open: {}", error.without_url()))?
            .json()
            .await
            .map_err(|error| format!("apps.connections.open: {}", error.without_url()))?;
        match answer.get("url").and_then(Value::as_str) {
            Some(url) if answer["ok"] == true => Ok(url.to_owned()),
            _ => Err(format!(
                "apps.connections.open refused: {}",
                answer.get("error").and_then(Value::as_str).unwrap_or("no URL")
            )),
        }
    }

    /// One connection, until Slack asks for another (`Ok`) or it fails (`Err`).
    async fn session(&self) -> Result<(), String> {
        let url = self.open_url().await?;
        let (socket, _) =
            tokio_tungstenite::connect_async(url.as_str()).await.map_err(|e| format!("connect: {e}"))?;
        tracing::info!("Socket Mode connected");
        let (mut sink, mut stream) = socket.split();
        let (acks, mut outgoing) = tokio::sync::mpsc::channel::<String>(256);
        let mut ping = tokio::time::interval(self.silence / 3);
        let mut last_seen = Instant::now();
        loop {
            tokio::select! {
                received = stream.next() => {
                    let message = match received {
                        None => return Err("the connection closed".into()),
                        Some(Err(error)) => return Err(format!("read: {error}")),
                        Some(Ok(message)) => message,
                    };
                    last_seen = Instant::now();
                    match message {
                        Message::Text(text) => {
                            let Ok(envelope) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                            match envelope.get("type").and_then(Value::as_str) {
                                Some("hello") => tracing::debug!("Socket Mode: hello"),
                                Some("disconnect") => return Ok(()),
                                _ if envelope.get("envelope_id").is_some() => {
                                    let (handlers, acks) = (self.handlers.clone(), acks.clone());
                                    tokio::spawn(async move {
                                        if let Some(ack) = handle(&handlers, envelope).await {
                                            let _ = acks.send(ack.to_string()).await;
                                        }
                                    });
                                }
                                _ => {}
                            }
                        }
                        Message::Ping(payload) => sink.send(Message::Pong(payload)).await.map_err(|e| format!("pong: {e}"))?,
                        Message::Close(_) => return Err("Slack closed the connection".into()),
                        _ => {}
                    }
                }
                Some(ack) = outgoing.recv() => {
                    sink.send(Message::text(ack)).await.map_err(|e| format!("acknowledge: {e}"))?;
                }
                _ = ping.tick() => {
                    if last_seen.elapsed() > self.silence {
                        return Err(format!("no sign of life for {} s", self.silence.as_secs()));
                    }
                    sink.send(Message::Ping(Vec::new().into())).await.map_err(|e| format!("ping: {e}"))?;
                }
            }
        }
    }
}

/// Handles one envelope; the acknowledgement to send (`None`: none, so that Slack sends it again).
async fn handle(handlers: &Handlers, envelope: Value) -> Option<Value> {
    let id = envelope.get("envelope_id").and_then(Value::as_str)?.to_owned();
    let ack = |payload: Option<Value>| {
        let mut ack = json!({"envelope_id": id});
        if let Some(payload) = payload {
            ack["payload"] = payload;
        }
        Some(ack)
    };
    // An envelope Slack sends again (to this connection or another process's) is handled once.
    if let Ok(false) =
        handlers.cache.set_if_absent(&format!("slack:envelope:{id}"), b"1", ENVELOPE_MEMORY).await
    {
        return ack(None);
    }
    let payload = envelope.get("payload").cloned().unwrap_or_default();
    match envelope.get("type").and_then(Value::as_str) {
        Some("slash_commands") => {
            let form: Vec<(String, String)> = payload
                .as_object()
                .map(|fields| {
                    fields
                        .iter()
                        .map(|(key, value)| {
                            (key.clone(), value.as_str().map_or_else(|| value.to_string(), str::to_owned))
                        })
                        .collect()
                })
                .unwrap_or_default();
            ack(handlers.answer(Request::Command(form)).await)
        }
        Some("interactive") => ack(handlers.answer(Request::Interaction(payload)).await),
        Some("events_api") => {
            let (Some(event_id), Some(event)) =
                (payload.get("event_id").and_then(Value::as_str), payload.get("event"))
            else {
                return ack(None);
            };
            match handlers.store_event(event_id, event).await {
                Ok(()) => ack(None),
                Err(_) => {
                    // Not acknowledged: Slack sends it again.
                    let _ = handlers.cache.delete(&format!("slack:envelope:{id}")).await;
                    None
                }
            }
        }
        _ => ack(None),
    }
}
