//! The queue worker: consumes one queue per integration, each on its own channel with its own
//! prefetch, so a slow integration never holds the others back.
//!
//! For each message: start the job in the job table (a duplicate finds it done, or running under a
//! live lease, and is acked without running), run it on a blocking thread, record the outcome, and
//! only then settle the message: ack when done; for a retry, publish it to a delay queue, wait for
//! the confirm, mark it queued, then ack; when dead, reject it to the dead-letter queue. A worker
//! killed at any point leaves an unacked message that the broker hands to another worker, flagged
//! redelivered, which takes the job over.
//!
//! On shutdown the consumers are cancelled first, then the jobs in flight finish and are settled,
//! then the connection closes; prefetched messages not started go back to the queue.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use jobs::{ClaimedJob, JobStore, Outcome, Registry, TransportStore, attempt, to_chrono};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    BasicRejectOptions,
};
use lapin::types::FieldTable;
use tokio::sync::watch;
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

/// One connection's life: `Ok` after a clean shutdown, `Err` when the broker went away.
async fn session<S>(
    settings: &Arc<Settings>,
    store: &S,
    registry: &Arc<Registry>,
    queues: &[String],
    shutdown: &mut watch::Receiver<bool>,
) -> lapin::Result<()>
where
    S: JobStore + TransportStore + Clone + Send + Sync + 'static,
{
    let connection = crate::connect(settings).await?;
    let publisher = Publisher::open(&connection, settings.topology()).await?;
    let mut consumers = Vec::with_capacity(queues.len());
    let mut channels = Vec::with_capacity(queues.len());
    for queue in queues {
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
        channels.push((channel, consumer.tag()));
        consumers.push(consumer);
    }
    tracing::info!(?queues, prefetch = settings.prefetch, "worker: consuming");
    let mut deliveries = futures_util::stream::select_all(consumers);
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
            next = deliveries.next() => match next {
                Some(Ok(delivery)) => {
                    in_flight.spawn(handle(
                        delivery,
                        store.clone(),
                        Arc::clone(registry),
                        publisher.clone(),
                        Arc::clone(settings),
                    ));
                }
                Some(Err(error)) => break Err(error),
                None => break Err(lapin::ErrorKind::InvalidConnectionState(lapin::ConnectionState::Closed).into()),
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

/// What happened to one message's job.
enum Handled {
    /// Nothing to run (duplicate, unknown job), or done.
    Settled,
    Retry(ClaimedJob, Duration, String),
    Dead,
}

async fn handle<S>(
    delivery: Delivery,
    store: S,
    registry: Arc<Registry>,
    publisher: Publisher,
    settings: Arc<Settings>,
) where
    S: JobStore + TransportStore + Clone + Send + Sync + 'static,
{
    let Ok(Message { job_id }) = serde_json::from_slice::<Message>(&delivery.data) else {
        tracing::error!(routing_key = %delivery.routing_key, "worker: a message that is not a job; dead-lettered");
        let _ = delivery.acker.reject(BasicRejectOptions { requeue: false }).await;
        return;
    };
    let redelivered = delivery.redelivered;
    let (lease, policy) = (settings.lease, settings.policy);
    let run_store = store.clone();
    let handled = tokio::task::spawn_blocking(move || -> Result<Handled, incidents_core::RepositoryError> {
        let now = incidents_core::lifecycle::now;
        let Some(job) = run_store.start(job_id, redelivered, now(), lease)? else {
            tracing::debug!(job = job_id, "worker: nothing to run (duplicate message or finished job)");
            return Ok(Handled::Settled);
        };
        match attempt(&registry, policy, &job) {
            Outcome::Done => {
                run_store.complete(job.id, now())?;
                Ok(Handled::Settled)
            }
            Outcome::RetryIn(delay, error) => Ok(Handled::Retry(job, delay, error)),
            Outcome::Dead(error) => {
                run_store.bury(job.id, &error, now())?;
                Ok(Handled::Dead)
            }
        }
    })
    .await;
    let result = match handled {
        Ok(Ok(Handled::Settled)) => delivery.acker.ack(BasicAckOptions::default()).await.map(drop),
        Ok(Ok(Handled::Dead)) => delivery.acker.reject(BasicRejectOptions { requeue: false }).await.map(drop),
        Ok(Ok(Handled::Retry(job, delay, error))) => {
            retry_later(&delivery, &store, &publisher, &job, delay, error).await
        }
        Ok(Err(error)) => {
            tracing::warn!(job = job_id, %error, "worker: storage failed; the message goes back to its queue");
            tokio::time::sleep(AFTER_STORAGE_ERROR).await;
            delivery.acker.nack(BasicNackOptions { requeue: true, multiple: false }).await.map(drop)
        }
        Err(panic) => {
            tracing::error!(job = job_id, %panic, "worker: the job panicked; the message goes back to its queue");
            tokio::time::sleep(AFTER_STORAGE_ERROR).await;
            delivery.acker.nack(BasicNackOptions { requeue: true, multiple: false }).await.map(drop)
        }
    };
    if let Err(error) = result {
        // The channel is gone: the broker will deliver the message again, flagged redelivered.
        tracing::warn!(job = job_id, %error, "worker: cannot settle a message");
    }
}

/// Sends the job through a delay queue, then marks it queued, then acks: whatever the crash point,
/// the job keeps a message (the delayed one, or this unacked one).
async fn retry_later<S>(
    delivery: &Delivery,
    store: &S,
    publisher: &Publisher,
    job: &ClaimedJob,
    delay: Duration,
    error: String,
) -> lapin::Result<()>
where
    S: TransportStore + Clone + Send + Sync + 'static,
{
    let queue = delivery.routing_key.as_str();
    let message_id =
        delivery.properties.message_id().as_ref().map(|id| id.as_str().to_owned()).unwrap_or_default();
    match publisher.publish_delayed(job.id, queue, &message_id, &job.name, delay).await {
        Ok(true) => {}
        Ok(false) | Err(_) => {
            tracing::warn!(
                job = job.id,
                "worker: cannot publish the retry; the message goes back to its queue"
            );
            tokio::time::sleep(AFTER_STORAGE_ERROR).await;
            return delivery.acker.nack(BasicNackOptions { requeue: true, multiple: false }).await.map(drop);
        }
    }
    let (store, id) = (store.clone(), job.id);
    let recorded = tokio::task::spawn_blocking(move || {
        let now = incidents_core::lifecycle::now();
        store.requeue_at(id, now + to_chrono(delay), &error, now)
    })
    .await;
    if !matches!(recorded, Ok(Ok(()))) {
        // The row still says running: the delayed message takes the job over if the lease has run
        // out by then; otherwise the relay publishes the job again once it has.
        tracing::warn!(job = job.id, "worker: cannot record the retry");
    }
    delivery.acker.ack(BasicAckOptions::default()).await.map(drop)
}
