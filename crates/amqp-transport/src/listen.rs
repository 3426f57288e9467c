//! Waking the relay when work is committed, instead of polling: a PostgreSQL connection of its own
//! LISTENs on the channel that storage NOTIFYs in every transaction writing outbox events or jobs
//! (`storage::work_signal`). PostgreSQL delivers a notification at its transaction's commit, from any
//! server or worker. While the listener is down the relay polls as before (`Settings::idle`); once
//! it is up, the relay still looks every `Settings::idle_listening` for what no one announces
//! (retries coming due).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::{Notify, mpsc, watch};
use tokio_postgres::{AsyncMessage, NoTls};

use crate::{pause, reconnect_delay};

/// What the listener tells the relay.
#[derive(Debug, Default)]
pub struct Wakeup {
    notify: Notify,
    listening: AtomicBool,
}

impl Wakeup {
    /// Whether a notification will come when work is committed.
    #[must_use]
    pub fn listening(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
    }

    /// Waits for a notification (one that came since the last wait counts), `timeout`, or
    /// `shutdown`: `true` when it is time to stop.
    pub async fn wait(&self, timeout: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
        if *shutdown.borrow() {
            return true;
        }
        tokio::select! {
            () = self.notify.notified() => *shutdown.borrow(),
            () = tokio::time::sleep(timeout) => *shutdown.borrow(),
            _ = shutdown.changed() => true,
        }
    }

    fn wake(&self) {
        self.notify.notify_one();
    }
}

/// LISTENs on `channel` at `url` until `shutdown` turns true, reconnecting with a backoff; every
/// notification wakes `wakeup`. A database the listener cannot reach (TLS is not spoken here: a
/// server that demands it) leaves the relay polling, with a warning.
pub async fn listen(
    url: String,
    channel: &'static str,
    wakeup: Arc<Wakeup>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut failures = 0;
    loop {
        if *shutdown.borrow() {
            return;
        }
        match tokio_postgres::connect(&url, NoTls).await {
            Ok((client, mut connection)) => {
                let (notified, mut notifications) = mpsc::unbounded_channel::<()>();
                let driver = tokio::spawn(async move {
                    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                    while let Some(message) = messages.next().await {
                        match message {
                            Ok(AsyncMessage::Notification(_)) => {
                                if notified.send(()).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(error) => {
                                tracing::warn!(%error, "relay: the LISTEN connection failed");
                                return;
                            }
                        }
                    }
                });
                match client.batch_execute(&format!("LISTEN {channel}")).await {
                    Ok(()) => {
                        tracing::info!(channel, "relay: woken by the database's notifications");
                        failures = 0;
                        wakeup.listening.store(true, Ordering::Relaxed);
                        // What was committed before LISTEN took effect is looked for at once.
                        wakeup.wake();
                        loop {
                            tokio::select! {
                                received = notifications.recv() => match received {
                                    Some(()) => wakeup.wake(),
                                    None => break,
                                },
                                _ = shutdown.changed() => {
                                    if *shutdown.borrow() {
                                        driver.abort();
                                        return;
                                    }
                                }
                            }
                        }
                        wakeup.listening.store(false, Ordering::Relaxed);
                    }
                    Err(error) => tracing::warn!(%error, "relay: cannot LISTEN; polling instead"),
                }
                driver.abort();
                drop(client);
            }
            Err(error) => {
                tracing::warn!(%error, "relay: cannot open the LISTEN connection; polling instead");
            }
        }
        failures += 1;
        if pause(reconnect_delay(failures), &mut shutdown).await {
            return;
        }
    }
}
