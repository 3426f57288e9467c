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
    /// The signals to bump when the transaction open on this thread commits: those of the
    /// databases it wrote outbox events or jobs to.
    static WROTE: RefCell<Vec<Arc<WorkSignal>>> = const { RefCell::new(Vec::new()) };
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
/// commits.
pub(crate) fn wrote(signal: &Arc<WorkSignal>) {
    WROTE.with_borrow_mut(|wrote| {
        if !wrote.iter().any(|known| Arc::ptr_eq(known, signal)) {
            wrote.push(Arc::clone(signal));
        }
    });
}

/// An outermost transaction begins on this thread. Returns what an enclosing transaction (on
/// another connection: the SQLite write gate allows that) had recorded, for [`end`] to give back.
pub(crate) fn begin() -> Vec<Arc<WorkSignal>> {
    WROTE.take()
}

/// The outermost transaction begun with [`begin`] ended: if it committed, wakes the waiters of
/// what it wrote; the enclosing transaction's record is restored either way.
pub(crate) fn end(enclosing: Vec<Arc<WorkSignal>>, committed: bool) {
    let mine = WROTE.replace(enclosing);
    if committed {
        for signal in mine {
            signal.bump();
        }
    }
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
    fn only_a_commit_bumps_and_only_the_written_databases() {
        let signal = for_database("sqlite:///tmp/commit.db");
        let other = for_database("sqlite:///tmp/untouched.db");
        let (before, other_before) = (signal.current(), other.current());
        let enclosing = begin();
        wrote(&signal);
        end(enclosing, false);
        assert_eq!(signal.current(), before, "a rolled back transaction told");
        let enclosing = begin();
        wrote(&signal);
        wrote(&signal);
        end(enclosing, true);
        assert_eq!(signal.current(), before.wrapping_add(1), "once per commit");
        assert_eq!(other.current(), other_before);
    }

    #[test]
    fn a_transaction_inside_another_keeps_the_enclosing_ones_record() {
        let outer_db = for_database("sqlite:///tmp/outer.db");
        let inner_db = for_database("sqlite:///tmp/inner.db");
        let (outer_before, inner_before) = (outer_db.current(), inner_db.current());
        let enclosing = begin();
        wrote(&outer_db);
        // Another connection's transaction, begun and rolled back inside the first.
        let inner = begin();
        wrote(&inner_db);
        end(inner, false);
        assert_eq!(outer_db.current(), outer_before, "not yet: the outer one has not committed");
        end(enclosing, true);
        assert_ne!(outer_db.current(), outer_before, "the outer commit still tells");
        assert_eq!(inner_db.current(), inner_before);
    }
}
