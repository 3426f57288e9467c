//! Telling job runners there is new work, instead of having them poll.
//!
//! - In this process: each database has a [`WorkSignal`] (shared by every handle this process opens
//!   on the same database), bumped when a transaction that wrote outbox events or jobs commits. The
//!   embedded runner's outbox thread waits on it ([`jobs::JobStore::work_signal`]).
//! - Across processes, on PostgreSQL: statement triggers on `outbox_events` and `jobs` (migration
//!   `work_notifications`) `NOTIFY firefighter_jobs` for every insert, whoever makes it, which
//!   PostgreSQL delivers at the commit to every relay that LISTENs.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use jobs::WorkSignal;

/// The PostgreSQL channel the relays LISTEN on.
pub const CHANNEL: &str = "firefighter_jobs";

/// The signal of each database this process has open, by its address: two handles on one database
/// share it, handles on different databases (the tests' many SQLite files) do not wake each other.
static SIGNALS: Mutex<Option<HashMap<String, Weak<WorkSignal>>>> = Mutex::new(None);

thread_local! {
    /// The signal to bump when the transaction open on this thread commits, if it wrote outbox
    /// events or jobs.
    static WROTE: RefCell<Option<Arc<WorkSignal>>> = const { RefCell::new(None) };
}

/// The signal of the database at `address` (shared with this process's other handles on it).
pub(crate) fn for_database(address: &str) -> Arc<WorkSignal> {
    let mut signals = SIGNALS.lock().unwrap_or_else(PoisonError::into_inner);
    let signals = signals.get_or_insert_with(HashMap::new);
    if let Some(signal) = signals.get(address).and_then(Weak::upgrade) {
        return signal;
    }
    signals.retain(|_, signal| signal.strong_count() > 0);
    let signal = Arc::new(WorkSignal::default());
    signals.insert(address.to_owned(), Arc::downgrade(&signal));
    signal
}

/// Records that the current transaction wrote outbox events or jobs: `signal` is bumped once it
/// commits ([`committed`]).
pub(crate) fn wrote(signal: &Arc<WorkSignal>) {
    WROTE.with_borrow_mut(|wrote| *wrote = Some(Arc::clone(signal)));
}

/// The outermost transaction of this thread committed: wakes the waiters if it wrote work.
pub(crate) fn committed() {
    if let Some(signal) = WROTE.with_borrow_mut(Option::take) {
        signal.bump();
    }
}

/// The outermost transaction of this thread rolled back: nothing to tell.
pub(crate) fn rolled_back() {
    WROTE.with_borrow_mut(|wrote| *wrote = None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_on_one_database_share_a_signal_and_others_do_not() {
        let first = for_database("sqlite:///tmp/one.db");
        let again = for_database("sqlite:///tmp/one.db");
        let other = for_database("sqlite:///tmp/other.db");
        assert!(Arc::ptr_eq(&first, &again));
        assert!(!Arc::ptr_eq(&first, &other));
    }

    #[test]
    fn only_a_commit_bumps_and_only_the_written_database() {
        let signal = for_database("sqlite:///tmp/commit.db");
        let other = for_database("sqlite:///tmp/untouched.db");
        let (before, other_before) = (signal.current(), other.current());
        wrote(&signal);
        rolled_back();
        committed();
        assert_eq!(signal.current(), before, "a rolled back transaction told");
        wrote(&signal);
        committed();
        assert_ne!(signal.current(), before);
        assert_eq!(other.current(), other_before);
    }
}
