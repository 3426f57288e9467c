//! Telling job runners there is new work, instead of having them poll: in this process at once (a
//! generation number and a condition variable, bumped when a transaction that wrote outbox events or
//! jobs commits), and on PostgreSQL across processes too: statement triggers on `outbox_events` and
//! `jobs` (migration `work_notifications`) `NOTIFY firefighter_jobs` for every insert, whoever makes
//! it, which PostgreSQL delivers at the commit to every relay that LISTENs.

use std::cell::Cell;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::connection::DbConnection;

/// The PostgreSQL channel the relays LISTEN on.
pub const CHANNEL: &str = "firefighter_jobs";

static GENERATION: Mutex<u64> = Mutex::new(0);
static BUMPED: Condvar = Condvar::new();

thread_local! {
    /// Whether the transaction open on this thread wrote outbox events or jobs.
    static WROTE: Cell<bool> = const { Cell::new(false) };
}

/// Records that the current transaction wrote outbox events or jobs: this process's waiters are
/// woken once it commits ([`committed`]). (Other processes learn it from PostgreSQL's triggers.)
pub(crate) fn wrote(_conn: &mut DbConnection) -> diesel::QueryResult<()> {
    WROTE.set(true);
    Ok(())
}

/// The outermost transaction of this thread committed: wakes the waiters if it wrote work.
pub(crate) fn committed() {
    if WROTE.replace(false) {
        bump();
    }
}

/// The outermost transaction of this thread rolled back: nothing to tell.
pub(crate) fn rolled_back() {
    WROTE.set(false);
}

/// Wakes every waiter (new work, or a runner stopping).
pub fn bump() {
    let mut generation = GENERATION.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    *generation = generation.wrapping_add(1);
    BUMPED.notify_all();
}

/// The current generation: pass it to [`wait`] after looking for work.
#[must_use]
pub fn current() -> u64 {
    *GENERATION.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Waits until the generation moves past `seen` (work was committed in this process since it was
/// read), or `timeout`.
pub fn wait(seen: u64, timeout: Duration) {
    let generation = GENERATION.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let _ = BUMPED.wait_timeout_while(generation, timeout, |generation| *generation == seen);
}
