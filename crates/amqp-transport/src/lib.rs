//! The scaled transport (`AMQP_URL` set): jobs travel through RabbitMQ instead of the embedded
//! runner's loop.
//!
//! - The [`relay`] turns outbox events into jobs (as the embedded runner does), publishes every job
//!   that needs a message to the queue of its integration, and marks it `queued` only once the
//!   broker has confirmed it (publisher confirms, in the transaction that holds the row).
//! - The [`worker`] consumes those queues with manual acks and a bounded prefetch, starts the job in
//!   the job table (which stays the truth: a duplicate message finds the job done and is dropped),
//!   runs it, and then acks it, sends it through a delay queue for its next attempt, or rejects it to
//!   the dead-letter queue.
//!
//! Topology, all durable, names under a prefix (`firefighter` by default):
//!
//! | name | kind | role |
//! |---|---|---|
//! | `<p>.jobs` | direct exchange | routes a job by its queue name |
//! | `<p>.<queue>` | queue | one per integration (`webhooks`, `maintenance`, ...), dead-letters to `<p>.dead` |
//! | `<p>.delay.<queue>.<ms>` | queue | retries waiting their backoff (per-message TTL, bucketed by power of two), then back to `<p>.jobs` |
//! | `<p>.dead` | fanout exchange and queue | jobs that failed their last attempt (kept 14 days) |
//!
//! Messages carry only the job id and its generation (`{"job_id": 42, "attempts": 0}`: the job's
//! attempts when it was published), persistent, with the job's idempotency key as message id and its
//! name as type. Only a message of the job's current generation can start it: a duplicate or a stale
//! message is acked without running anything.

pub mod listen;
pub mod relay;
pub mod worker;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jobs::{QueuedJob, RetryPolicy};
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde::{Deserialize, Serialize};

/// How long dead jobs' messages stay in the dead-letter queue (the job table keeps them for good).
const DEAD_MESSAGE_TTL_MS: i64 = 14 * 24 * 3600 * 1000;

/// What the relay and the worker need to know.
#[derive(Clone)]
pub struct Settings {
    /// `AMQP_URL`; it may hold a password, so it is never logged.
    pub url: String,
    /// Prefix of every exchange and queue name.
    pub prefix: String,
    /// Unacknowledged messages a worker holds per queue: the jobs it runs at once on that queue.
    pub prefetch: u16,
    /// How long a started job is protected from other workers. The worker renews it every third of
    /// it while the job runs; a job whose worker died is published again once it runs out.
    pub lease: Duration,
    /// Outbox events and jobs the relay takes per round.
    pub batch: u32,
    /// How long the relay waits when a round found nothing to do, without a LISTEN connection.
    pub idle: Duration,
    /// How long it waits with one ([`listen`]): notifications announce new work, this bounds the wait
    /// for what no one announces (retries coming due, work written by an older version).
    pub idle_listening: Duration,
    /// A queued job due for longer than this is published again (its message was lost); a
    /// duplicate is harmless, the worker drops it.
    pub requeue_after: Duration,
    pub policy: RetryPolicy,
    /// Shown in RabbitMQ's connection list.
    pub connection_name: String,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("url", &"<secret>")
            .field("prefix", &self.prefix)
            .field("prefetch", &self.prefetch)
            .field("lease", &self.lease)
            .field("batch", &self.batch)
            .field("idle", &self.idle)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Defaults for `url`: prefix `firefighter`, prefetch 32, lease 30 s (renewed while the job
    /// runs), batches of 200, idle wait 20 ms (1 s while notifications wake the relay), lost messages replaced after 2 hours (longer than a
    /// retry can wait in its delay queue).
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "firefighter".into(),
            prefetch: 32,
            lease: Duration::from_secs(30),
            batch: 200,
            idle: Duration::from_millis(20),
            idle_listening: Duration::from_secs(1),
            requeue_after: Duration::from_secs(7200),
            policy: RetryPolicy::default(),
            connection_name: "firefighter".into(),
        }
    }

    fn topology(&self) -> Topology {
        Topology { prefix: self.prefix.clone() }
    }
}

/// Exchange and queue names.
#[derive(Debug, Clone)]
pub struct Topology {
    pub prefix: String,
}

impl Topology {
    #[must_use]
    pub fn exchange(&self) -> String {
        format!("{}.jobs", self.prefix)
    }

    /// The dead-letter exchange and its queue share this name.
    #[must_use]
    pub fn dead(&self) -> String {
        format!("{}.dead", self.prefix)
    }

    /// The queue of one integration.
    #[must_use]
    pub fn queue(&self, queue: &str) -> String {
        format!("{}.{queue}", self.prefix)
    }

    /// The queue where retries of `queue` wait about `bucket_ms`.
    #[must_use]
    pub fn delay_queue(&self, queue: &str, bucket_ms: u64) -> String {
        format!("{}.delay.{queue}.{bucket_ms}", self.prefix)
    }
}

/// The delay queue bucket for a backoff: the next power of two in milliseconds (at least 1,024).
/// Messages in one bucket carry their own TTL, all within a factor of two, so one expiring late at
/// the head of the queue holds the others back by less than their own delay.
#[must_use]
pub fn delay_bucket(delay: Duration) -> u64 {
    u64::try_from(delay.as_millis())
        .unwrap_or(u64::MAX)
        .max(1024)
        .checked_next_power_of_two()
        .unwrap_or(1 << 63)
}

/// A message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub job_id: i64,
    /// The job's attempts when the message was published (its generation).
    pub attempts: u32,
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value.as_bytes().to_vec()))
}

/// Connects to the broker.
///
/// # Errors
/// The broker is unreachable or refuses the credentials.
pub async fn connect(settings: &Settings) -> lapin::Result<Connection> {
    let properties =
        ConnectionProperties::default().with_connection_name(settings.connection_name.as_str().into());
    Connection::connect(&settings.url, properties).await
}

/// Checks that the broker answers (readiness): connects and closes.
///
/// # Errors
/// The broker is unreachable, or did not answer within `timeout`.
pub async fn ping(settings: &Settings, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, connect(settings)).await {
        Ok(Ok(connection)) => {
            let _ = connection.close(200, "readiness check".into()).await;
            Ok(())
        }
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

/// A confirm-mode channel that declares what it publishes to.
#[derive(Clone)]
pub(crate) struct Publisher {
    channel: Channel,
    topology: Topology,
    declared: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").field("topology", &self.topology).finish_non_exhaustive()
    }
}

impl Publisher {
    /// Opens the channel, turns confirms on, and declares the exchanges and the dead-letter queue.
    pub(crate) async fn open(connection: &Connection, topology: Topology) -> lapin::Result<Self> {
        let channel = connection.create_channel().await?;
        channel.confirm_select(ConfirmSelectOptions::default()).await?;
        let durable = ExchangeDeclareOptions { durable: true, ..ExchangeDeclareOptions::default() };
        channel
            .exchange_declare(
                topology.exchange().into(),
                ExchangeKind::Direct,
                durable,
                FieldTable::default(),
            )
            .await?;
        channel
            .exchange_declare(topology.dead().into(), ExchangeKind::Fanout, durable, FieldTable::default())
            .await?;
        let mut dead_args = FieldTable::default();
        dead_args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(DEAD_MESSAGE_TTL_MS));
        channel.queue_declare(topology.dead().into(), QueueDeclareOptions::durable(), dead_args).await?;
        channel
            .queue_bind(
                topology.dead().into(),
                topology.dead().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(Self { channel, topology, declared: Arc::new(Mutex::new(HashSet::new())) })
    }

    fn is_declared(&self, name: &str) -> bool {
        self.declared.lock().is_ok_and(|declared| declared.contains(name))
    }

    fn mark_declared(&self, name: String) {
        if let Ok(mut declared) = self.declared.lock() {
            declared.insert(name);
        }
    }

    /// Declares the queue of an integration and binds it (once per channel).
    pub(crate) async fn ensure_queue(&self, queue: &str) -> lapin::Result<String> {
        let name = self.topology.queue(queue);
        if !self.is_declared(&name) {
            let mut args = FieldTable::default();
            args.insert("x-dead-letter-exchange".into(), text(&self.topology.dead()));
            self.channel.queue_declare(name.as_str().into(), QueueDeclareOptions::durable(), args).await?;
            self.channel
                .queue_bind(
                    name.as_str().into(),
                    self.topology.exchange().into(),
                    queue.into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            self.mark_declared(name.clone());
        }
        Ok(name)
    }

    fn properties(message: Message, message_id: &str, name: &str) -> (Vec<u8>, BasicProperties) {
        let body = serde_json::to_vec(&message).unwrap_or_default();
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(ShortString::from(short(message_id)))
            .with_type(ShortString::from(short(name)));
        (body, properties)
    }

    /// Whether the channel still works (a failed publish or a broker-side close ends it).
    pub(crate) fn usable(&self) -> bool {
        self.channel.status().connected()
    }

    /// Publishes `jobs` and waits for the broker's confirms. Returns the ids the broker took, and
    /// what went wrong otherwise: a broken channel, or a message the broker returned (unroutable) or
    /// refused, after which the caller should reconnect (and so declare again) rather than retry.
    pub(crate) async fn publish_jobs(&self, jobs: &[QueuedJob]) -> (Vec<i64>, Option<String>) {
        let mut pending = Vec::with_capacity(jobs.len());
        for job in jobs {
            if let Err(error) = self.ensure_queue(&job.queue).await {
                let (ids, _) = self.confirmed(pending).await;
                return (ids, Some(error.to_string()));
            }
            let message = Message { job_id: job.id, attempts: job.attempts };
            let (body, properties) = Self::properties(message, &job.idempotency_key, &job.name);
            let options = BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() };
            match self
                .channel
                .basic_publish(
                    self.topology.exchange().into(),
                    job.queue.as_str().into(),
                    options,
                    &body,
                    properties,
                )
                .await
            {
                Ok(confirm) => pending.push((job.id, confirm)),
                Err(error) => {
                    let (ids, _) = self.confirmed(pending).await;
                    return (ids, Some(error.to_string()));
                }
            }
        }
        self.confirmed(pending).await
    }

    async fn confirmed(&self, pending: Vec<(i64, lapin::PublisherConfirm)>) -> (Vec<i64>, Option<String>) {
        let mut ids = Vec::with_capacity(pending.len());
        let mut failure = None;
        for (id, confirm) in pending {
            match confirm.await {
                Ok(lapin::Confirmation::Ack(None)) => ids.push(id),
                // Returned (unroutable: its queue is gone) or refused.
                Ok(other) => failure = Some(format!("the broker did not take job {id}: {other:?}")),
                Err(error) => failure = Some(error.to_string()),
            }
        }
        (ids, failure)
    }

    /// Publishes `message` (a job of `queue`) to wait `delay` in a delay queue, then return to its
    /// queue. `Ok(true)` once the broker confirmed it.
    pub(crate) async fn publish_delayed(
        &self,
        message: Message,
        queue: &str,
        message_id: &str,
        name: &str,
        delay: Duration,
    ) -> lapin::Result<bool> {
        let bucket = delay_bucket(delay);
        let delay_queue = self.topology.delay_queue(queue, bucket);
        if !self.is_declared(&delay_queue) {
            let mut args = FieldTable::default();
            args.insert("x-dead-letter-exchange".into(), text(&self.topology.exchange()));
            args.insert("x-dead-letter-routing-key".into(), text(queue));
            self.channel
                .queue_declare(delay_queue.as_str().into(), QueueDeclareOptions::durable(), args)
                .await?;
            self.mark_declared(delay_queue.clone());
        }
        let (body, properties) = Self::properties(message, message_id, name);
        let expiration = delay.as_millis().max(1).to_string();
        let options = BasicPublishOptions { mandatory: true, ..BasicPublishOptions::default() };
        let confirmation = self
            .channel
            .basic_publish(
                "".into(),
                delay_queue.as_str().into(),
                options,
                &body,
                properties.with_expiration(expiration.as_str().into()),
            )
            .await?
            .await?;
        Ok(matches!(confirmation, lapin::Confirmation::Ack(None)))
    }
}

/// At most 200 bytes of `text`, cut on a character boundary (AMQP short strings hold 255 bytes).
fn short(text: &str) -> String {
    let mut end = text.len().min(200);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Waits `delay`, or less if `shutdown` turns true. Returns whether it did.
pub(crate) async fn pause(delay: Duration, shutdown: &mut tokio::sync::watch::Receiver<bool>) -> bool {
    if *shutdown.borrow() {
        return true;
    }
    tokio::select! {
        () = tokio::time::sleep(delay) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}

/// Reconnection backoff: 0.5 s doubling to 30 s.
pub(crate) fn reconnect_delay(failures: u32) -> Duration {
    Duration::from_millis(500u64.saturating_mul(1u64 << failures.min(6))).min(Duration::from_secs(30))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_buckets_are_powers_of_two_covering_the_delay() {
        assert_eq!(delay_bucket(Duration::from_millis(1)), 1024);
        assert_eq!(delay_bucket(Duration::from_secs(10)), 16384);
        assert_eq!(delay_bucket(Duration::from_millis(16384)), 16384);
        assert_eq!(delay_bucket(Duration::from_secs(3600)), 4_194_304);
        for ms in [1500u64, 5000, 9999, 250_000] {
            let bucket = delay_bucket(Duration::from_millis(ms));
            assert!(bucket >= ms && bucket < 2 * ms.max(1024), "{ms} -> {bucket}");
        }
    }

    #[test]
    fn names_live_under_the_prefix() {
        let topology = Topology { prefix: "ff".into() };
        assert_eq!(topology.exchange(), "ff.jobs");
        assert_eq!(topology.queue("webhooks"), "ff.webhooks");
        assert_eq!(topology.delay_queue("webhooks", 2048), "ff.delay.webhooks.2048");
        assert_eq!(topology.dead(), "ff.dead");
    }

    #[test]
    fn reconnecting_backs_off_to_thirty_seconds() {
        assert_eq!(reconnect_delay(0), Duration::from_millis(500));
        assert_eq!(reconnect_delay(1), Duration::from_secs(1));
        assert_eq!(reconnect_delay(20), Duration::from_secs(30));
    }

    #[test]
    fn short_strings_are_cut_on_bytes_at_a_character_boundary() {
        assert_eq!(short("webhook.deliver"), "webhook.deliver");
        let long = "é".repeat(150);
        let cut = short(&long);
        assert!(cut.len() <= 200 && long.starts_with(&cut) && cut.len() == 200);
    }

    #[test]
    fn settings_never_show_the_url() {
        let settings = Settings::new("amqp://user:hunter2@broker:5672/%2f");
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
