//! Enqueueing from request handlers, durably and in bulk: an inbound delivery (a Slack event, a
//! Jira webhook) is answered only once its job is committed, so nothing acknowledged is lost, and
//! concurrent requests share one commit instead of queueing for the database's write lock one by
//! one.

use std::sync::Mutex;

use crate::{Enqueue, JobStore};

type Pending = (Enqueue, tokio::sync::oneshot::Sender<Result<(), String>>);

/// Jobs written per commit, at most.
const BATCH: usize = 256;

/// A thread that writes the jobs handed to it, many per commit.
#[derive(Debug)]
pub struct EnqueueWriter {
    sender: Mutex<std::sync::mpsc::Sender<Pending>>,
}

impl EnqueueWriter {
    /// Starts the writer's thread (named `name`) on `store`.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub fn start<S: JobStore + Send + 'static>(store: S, name: &str) -> std::io::Result<Self> {
        let (sender, receiver) = std::sync::mpsc::channel::<Pending>();
        std::thread::Builder::new().name(name.to_owned()).spawn(move || {
            while let Ok(first) = receiver.recv() {
                let mut batch = vec![first];
                while batch.len() < BATCH {
                    match receiver.try_recv() {
                        Ok(more) => batch.push(more),
                        Err(_) => break,
                    }
                }
                let jobs: Vec<Enqueue> = batch.iter().map(|(job, _)| job.clone()).collect();
                let now = store.now();
                let written =
                    store.enqueue_many(&jobs, now, now).map(drop).map_err(|error| error.to_string());
                for (_, done) in batch {
                    let _ = done.send(written.clone());
                }
            }
        })?;
        Ok(Self { sender: Mutex::new(sender) })
    }

    /// Stores `job` (nothing when a job with its idempotency key exists), with whatever else arrives
    /// meanwhile.
    ///
    /// # Errors
    /// The database refused the batch, or the writer is gone.
    pub async fn write(&self, job: Enqueue) -> Result<(), String> {
        let (done, written) = tokio::sync::oneshot::channel();
        self.sender
            .lock()
            .map_err(|_| "the job writer is gone".to_owned())?
            .send((job, done))
            .map_err(|_| "the job writer is gone".to_owned())?;
        written.await.map_err(|_| "the job writer is gone".to_owned())?
    }
}
