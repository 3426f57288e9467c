//! The outbox relay: outbox events become jobs, jobs become confirmed messages.
//!
//! Each round, in order: enqueue the periodic jobs whose tick came (each tick once, however many
//! relays run: the idempotency key), turn unpublished outbox events into jobs, then publish the jobs
//! that need a message and mark them queued once confirmed. Rows are taken with `FOR UPDATE SKIP
//! LOCKED`, so several relays share the work. A relay killed between the broker's confirm and its
//! commit leaves the rows as they were: they are published again, and since both messages carry the
//! same generation, only one of them starts the job. A message the broker returns or refuses ends
//! the connection: the relay reconnects (declaring its queues again) and backs off.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jobs::{JobStore, Registry, Scheduler, TransportStore};
use tokio::sync::watch;

use crate::listen::Wakeup;
use crate::{Publisher, Settings, pause, reconnect_delay};

/// How long the relay waits after a storage failure.
const AFTER_STORAGE_ERROR: Duration = Duration::from_secs(1);
/// How long a batch waits for the broker's confirms (the rows stay locked meanwhile).
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// What a round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Round {
    events: usize,
    published: usize,
}

/// Runs the relay until `shutdown` turns true, reconnecting to the broker whenever it goes away.
/// Returns after the round in progress.
pub async fn run<S>(
    settings: Settings,
    store: S,
    registry: Arc<Registry>,
    mut scheduler: Option<Scheduler>,
    wakeup: Option<Arc<Wakeup>>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: JobStore + TransportStore + Clone + Send + Sync + 'static,
{
    let mut failures = 0;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let connection = match crate::connect(&settings).await {
            Ok(connection) => connection,
            Err(error) => {
                tracing::warn!(%error, "relay: cannot reach the broker; outbox events wait in the database");
                failures += 1;
                if pause(reconnect_delay(failures), &mut shutdown).await {
                    return;
                }
                continue;
            }
        };
        let publisher = match Publisher::open(&connection, settings.topology()).await {
            Ok(publisher) => publisher,
            Err(error) => {
                tracing::warn!(%error, "relay: cannot declare the topology");
                failures += 1;
                if pause(reconnect_delay(failures), &mut shutdown).await {
                    return;
                }
                continue;
            }
        };
        tracing::info!("relay: connected to the broker");
        failures = 0;
        loop {
            if *shutdown.borrow() {
                let _ = connection.close(200, "relay stopping".into()).await;
                return;
            }
            if let Some(scheduler) = scheduler.as_mut() {
                enqueue_periodic(&store, scheduler).await;
            }
            match round(&settings, &store, &registry, &publisher).await {
                Ok(round) if round.events + round.published > 0 => {
                    tracing::debug!(events = round.events, published = round.published, "relay round");
                }
                Ok(_) => {
                    // Woken by a notification; meanwhile polling as often as without one.
                    let stopping = match &wakeup {
                        Some(wakeup) => {
                            let idle =
                                if wakeup.listening() { settings.idle_listening } else { settings.idle };
                            wakeup.wait(idle, &mut shutdown).await
                        }
                        None => pause(settings.idle, &mut shutdown).await,
                    };
                    if stopping {
                        let _ = connection.close(200, "relay stopping".into()).await;
                        return;
                    }
                }
                Err(RoundError::Broker(error)) => {
                    tracing::warn!(%error, "relay: lost the broker; reconnecting");
                    break;
                }
                Err(RoundError::Storage(error)) => {
                    tracing::warn!(%error, "relay: storage failed; retrying");
                    if pause(AFTER_STORAGE_ERROR, &mut shutdown).await {
                        return;
                    }
                }
            }
        }
        failures += 1;
        if pause(reconnect_delay(failures), &mut shutdown).await {
            return;
        }
    }
}

enum RoundError {
    Broker(String),
    Storage(String),
}

async fn enqueue_periodic<S>(store: &S, scheduler: &mut Scheduler)
where
    S: JobStore + Clone + Send + Sync + 'static,
{
    let now = incidents_core::clock::now();
    let due = scheduler.due(now);
    if due.is_empty() {
        return;
    }
    let store = store.clone();
    let _ = tokio::task::spawn_blocking(move || {
        for (job, run_at) in due {
            if let Err(error) = store.enqueue(&job, run_at, now) {
                tracing::warn!(%error, job = job.name, "cannot enqueue a periodic job");
            }
        }
    })
    .await;
}

async fn round<S>(
    settings: &Settings,
    store: &S,
    registry: &Arc<Registry>,
    publisher: &Publisher,
) -> Result<Round, RoundError>
where
    S: JobStore + TransportStore + Clone + Send + Sync + 'static,
{
    let batch = settings.batch;
    let (events_store, events_registry) = (store.clone(), Arc::clone(registry));
    let events = tokio::task::spawn_blocking(move || {
        events_store
            .enqueue_outbox(batch, events_store.now(), &|events| events_registry.jobs_for_batch(events))
    })
    .await
    .map_err(|error| RoundError::Storage(error.to_string()))?
    .map_err(|error| RoundError::Storage(error.to_string()))?;

    let handle = tokio::runtime::Handle::current();
    let broken: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let (publish_store, publisher, seen) = (store.clone(), publisher.clone(), Arc::clone(&broken));
    let (requeue_after, policy) = (settings.requeue_after, settings.policy);
    let published = tokio::task::spawn_blocking(move || {
        // Jobs whose worker died are made pending again (or dead) first, by the retry policy.
        publish_store.reap_abandoned(publish_store.now(), policy, batch)?;
        publish_store.publish_due(batch, publish_store.now(), requeue_after, &mut |jobs| {
            // A blocking thread: waiting here on the broker's confirms keeps the rows locked.
            let (confirmed, error) =
                match handle.block_on(tokio::time::timeout(CONFIRM_TIMEOUT, publisher.publish_jobs(jobs))) {
                    Ok(published) => published,
                    Err(_) => (Vec::new(), Some(format!("no confirms within {CONFIRM_TIMEOUT:?}"))),
                };
            if let Some(error) = error
                && let Ok(mut slot) = seen.lock()
            {
                *slot = Some(error);
            }
            confirmed
        })
    })
    .await
    .map_err(|error| RoundError::Storage(error.to_string()))?
    .map_err(|error| RoundError::Storage(error.to_string()))?;
    if let Some(error) = broken.lock().ok().and_then(|mut slot| slot.take()) {
        return Err(RoundError::Broker(error));
    }
    Ok(Round { events: events.events, published })
}
