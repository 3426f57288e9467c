//! The queue worker: consumes one queue per integration, each on its own channel with its own
//! prefetch, so a slow integration never holds the others back.
//!
//! For each message: start the job in the job table — only a message of the job's current
//! generation can (a duplicate or stale message finds the generation moved on and is acked without
//! running anything) — then run it on a blocking thread while a heartbeat renews its lease, record
//! the outcome (fenced by the attempt: an attempt that lost its job writes nothing), and only then
//! settle the message: ack when done; for a retry, record it pending (due after the backoff), publish
//! a delayed message of the new generation, mark the job queued, then ack; when dead, reject it to
//! the dead-letter queue. A retry whose delayed message cannot be published stays pending, and the
//! relay publishes it when due; a delayed message that comes back before the job is marked queued
//! finds it pending and starts it. A worker killed at any point leaves a job whose lease stops being
//! renewed (once it runs out, the relay publishes the job again) or a pending job (published when
//! due).
//!
//! The session ends, and the worker reconnects, when the broker goes away, when the publishing
//! channel breaks, or when the broker cancels a consumer (its queue deleted, say). On shutdown the
//! consumers are cancelled first, then the jobs in flight finish and are settled, then the
//! connection closes; prefetched messages not started go back to the queue.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use jobs::{ClaimedJob, JobStore, Outcome, Registry, TransportStore, attempt, to_chrono};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    BasicRejectOptions,
};
use lapin::types::FieldTable;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::{Message, Publisher, Settings, pause, reconnect_delay};

/// How long a message waits before going back to its queue after a storage failure.
const AFTER_STORAGE_ERROR: Duration = Duration::from_secs(1);

/// Runs the worker on `queues` (names as jobs declare them, `webhooks` say) until `shutdown` turns
/// true, reconnecting whenever the broker goes away.
pub async fn run<S>(
    settings: Settings,
    store: S,
    registry: Arc<Registry>,
    queues: Vec<String>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: JobStore + TransportStore + Clone + Send + Sync + 'static,
{
    let settings = Arc::new(settings);
    let mut failures = 0;
    loop {
        if *shutdown.borrow() {
            return;
        }
        match session(&settings, &store, &registry, &queues, &mut shutdown).await {
            Ok(()) => return,
            Err(error) => {
                failures += 1;
                tracing::warn!(%error, "worker: lost the broker; reconnecting");
            }
        }
        if pause(reconnect_delay(failures), &mut shutdown).await {
            return;
        }
    }
}

/// A queue's deliveries, ending with an error when the broker cancels the consumer.
fn deliveries_of(
    queue: String,
    consumer: lapin::Consumer,
) -> impl Stream<Item = Result<Delivery, String>> + Send + Unpin {
    Box::pin(consumer.map(|delivery| delivery.map_err(|error| error.to_string())).chain(
        futures_util::stream::once(async move { Err(format!("the consumer of {queue} was cancelled")) }),
    ))
}

/// One connection's life: `Ok` after a clean shutdown, `Err` when it must reconnect.
async fn session<S>(
    settings: &Arc<Settings>,
    store: &S,
    registry: &Arc<Registry>,
    queues: &[String],
    shutdown: &mut watch::Receiver<bool>,
) -> Result<(), String>
where
    S: JobStore + TransportStore + Clone + Send + Sync + 'static,
{
    let connection = crate::connect(settings).await.map_err(|error| error.to_string())?;
    let publisher =
        Publisher::open(&connection, settings.topology()).await.map_err(|error| error.to_string())?;
    let broken = Arc::new(Notify::new());
    let mut streams = Vec::with_capacity(queues.len());
    let mut channels = Vec::with_capacity(queues.len());
    for queue in queues {
        let consumer = async {
            let name = publisher.ensure_queue(queue).await?;
            let channel = connection.create_channel().await?;
            channel.basic_qos(settings.prefetch, BasicQosOptions::default()).await?;
            let consumer = channel
                .basic_consume(
                    name.as_str().into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            lapin::Result::Ok((channel, consumer))
        }
        .await
        .map_err(|error| error.to_string())?;
        let (channel, consumer) = consumer;
        channels.push((channel, consumer.tag()));
        streams.push(deliveries_of(queue.clone(), consumer));
    }
    tracing::info!(?queues, prefetch = settings.prefetch, "worker: consuming");
    let mut deliveries = futures_util::stream::select_all(streams);
    let mut in_flight = JoinSet::new();
    let outcome = loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    for (channel, tag) in &channels {
                        let _ = channel.basic_cancel(tag.clone(), BasicCancelOptions::default()).await;
                    }
                    tracing::info!(in_flight = in_flight.len(), "worker: stopping after the jobs in flight");
                    break Ok(());
                }
            }
            () = broken.notified() => break Err("the publishing channel broke".to_owned()),
            next = deliveries.next() => match next {
                Some(Ok(delivery)) => {
                    in_flight.spawn(handle(
                        delivery,
                        store.clone(),
                        Arc::clone(registry),
                        publisher.clone(),
                        Arc::clone(settings),
                        Arc::clone(&broken),
                    ));
                }
                Some(Err(error)) => break Err(error),
                None => break Err("every consumer ended".to_owned()),
            },
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
        }
    };
    while in_flight.join_next().await.is_some() {}
    if outcome.is_ok() {
        let _ = connection.close(200, "worker stopping".into()).await;
    }
    outcome
}

/// Renews `job`'s lease every third of it until dropped (aborted).
async fn heartbeat<S>(store: S, job: ClaimedJob, lease: Duration)
where
    S: TransportStore + Clone + Send + Sync + 'static,
{
    let mut every = tokio::time::interval((lease / 3).max(Duration::from_millis(10)));
    every.tick().await;
    loop {
        every.tick().await;
        let (store, job) = (store.clone(), job.clone());
        let renewed =
            tokio::task::spawn_blocking(move || store.extend_lease(&job, store.now() + to_chrono(lease)))
                .await;
        match renewed {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {
                tracing::warn!("worker: a running job was taken over; its lease is no longer renewed");
                return;
            }
            other => tracing::warn!(?other, "worker: cannot renew a job's lease"),
        }
    }
}

/// Aborts the heartbeat when dropped, whatever way the handling ends.
struct Beat(tokio::task::JoinHandle<()>);

impl Drop for Beat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `work` on a blocking thread.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, incidents_core::RepositoryError> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(error) => Err(error.to_string()),
    }
}

async fn handle<S>(
    delivery: Delivery,
    store: S,
    registry: Arc<Registry>,
    publisher: Publisher,
    settings: Arc<Settings>,
    broken: Arc<Notify>,
) where
    S: JobStore + TransportStore + Clone + Send + Sync + 'static,
{
    let Ok(Message { job_id, attempts: generation }) = serde_json::from_slice::<Message>(&delivery.data)
    else {
        tracing::error!(routing_key = %delivery.routing_key, "worker: a message that is not a job; dead-lettered");
        let _ = delivery.acker.reject(BasicRejectOptions { requeue: false }).await;
        return;
    };
    let lease = settings.lease;
    let start_store = store.clone();
    let started = blocking(move || start_store.start(job_id, generation, start_store.now(), lease)).await;
    let job = match started {
        Ok(Some(job)) => job,
        Ok(None) => {
            tracing::debug!(job = job_id, generation, "worker: nothing to run (duplicate or stale message)");
            settle(&delivery, Settle::Ack).await;
            return;
        }
        Err(error) => {
            tracing::warn!(job = job_id, %error, "worker: storage failed; the message goes back to its queue");
            tokio::time::sleep(AFTER_STORAGE_ERROR).await;
            settle(&delivery, Settle::Requeue).await;
            return;
        }
    };
    // Renewed until the outcome is recorded (the guard drops at the end of this function).
    let _beat = Beat(tokio::spawn(heartbeat(store.clone(), job.clone(), lease)));
    let (run_registry, run_job, policy) = (Arc::clone(&registry), job.clone(), settings.policy);
    let outcome =
        tokio::task::spawn_blocking(move || attempt(&run_registry, policy, &run_job)).await.unwrap_or_else(
            |panic| Outcome::RetryIn(Duration::from_secs(10), format!("the job's thread failed: {panic}")),
        );
    let (record_store, record_job) = (store.clone(), job.clone());
    let settled = match outcome {
        Outcome::Done => blocking(move || record_store.complete(&record_job, record_store.now()))
            .await
            .map(|_| Settle::Ack),
        Outcome::Dead(error) => blocking(move || record_store.bury(&record_job, &error, record_store.now()))
            .await
            // Taken over meanwhile: the message is stale, not dead.
            .map(|buried| if buried { Settle::DeadLetter } else { Settle::Ack }),
        Outcome::RetryIn(delay, error) => {
            retry_later(&delivery, &store, &publisher, &job, delay, error, &broken).await
        }
    };
    match settled {
        Ok(how) => settle(&delivery, how).await,
        Err(error) => {
            // The row still says running at this attempt: once the lease runs out, the relay
            // publishes the job again.
            tracing::warn!(job = job.id, %error, "worker: cannot record a job's outcome; it runs again after its lease");
            settle(&delivery, Settle::Ack).await;
        }
    }
}

/// How a message is settled.
enum Settle {
    Ack,
    Requeue,
    DeadLetter,
}

async fn settle(delivery: &Delivery, how: Settle) {
    let result = match how {
        Settle::Ack => delivery.acker.ack(BasicAckOptions::default()).await,
        Settle::Requeue => delivery.acker.nack(BasicNackOptions { requeue: true, multiple: false }).await,
        Settle::DeadLetter => delivery.acker.reject(BasicRejectOptions { requeue: false }).await,
    };
    if !matches!(result, Ok(true)) {
        // The channel is gone: the broker delivers the message again, and its generation decides.
        tracing::warn!(?result, "worker: cannot settle a message");
    }
}

/// The retry is recorded pending (due after `delay`), a delayed message of the new generation is
/// published, then the job is marked queued. If the message cannot be published, the job stays
/// pending for the relay, and a broken publishing channel ends the session.
async fn retry_later<S>(
    delivery: &Delivery,
    store: &S,
    publisher: &Publisher,
    job: &ClaimedJob,
    delay: Duration,
    error: String,
    broken: &Notify,
) -> Result<Settle, String>
where
    S: JobStore + TransportStore + Clone + Send + Sync + 'static,
{
    let (record_store, record_job) = (store.clone(), job.clone());
    let retried = blocking(move || {
        let now = record_store.now();
        record_store.retry_at(&record_job, now + to_chrono(delay), &error, now)
    });
    if !retried.await? {
        // Taken over meanwhile: the new owner decides.
        return Ok(Settle::Ack);
    }
    let queue = delivery.routing_key.as_str();
    let message_id =
        delivery.properties.message_id().as_ref().map(|id| id.as_str().to_owned()).unwrap_or_default();
    let message = Message { job_id: job.id, attempts: job.attempt };
    let published = tokio::time::timeout(
        Duration::from_secs(10),
        publisher.publish_delayed(message, queue, &message_id, &job.name, delay),
    )
    .await;
    if matches!(published, Ok(Ok(true))) {
        let (store, job) = (store.clone(), job.clone());
        blocking(move || store.mark_queued(&job, store.now())).await?;
    } else {
        tracing::warn!(job = job.id, "worker: cannot publish the retry; the relay will publish it when due");
        if !publisher.usable() {
            broken.notify_one();
        }
    }
    Ok(Settle::Ack)
}
