//! [`WorkSignal`]: how a runner waits for new work instead of polling. A generation number that
//! moves whenever work is committed (or a runner is asked to stop), and a condition variable to
//! wait on it.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Duration;

/// A generation number and a condition variable. Read [`WorkSignal::current`] before looking for
/// work, then [`WorkSignal::wait`] with it: work committed in between is never missed.
#[derive(Debug, Default)]
pub struct WorkSignal {
    generation: Mutex<u64>,
    bumped: Condvar,
}

impl WorkSignal {
    /// Wakes every waiter (new work, or a runner stopping).
    pub fn bump(&self) {
        let mut generation = self.generation.lock().unwrap_or_else(PoisonError::into_inner);
        *generation = generation.wrapping_add(1);
        self.bumped.notify_all();
    }

    /// The current generation.
    #[must_use]
    pub fn current(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until the generation moves past `seen`, or `timeout`.
    pub fn wait(&self, seen: u64, timeout: Duration) {
        let generation = self.generation.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = self.bumped.wait_timeout_while(generation, timeout, |generation| *generation == seen);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_bump_after_the_generation_was_read_is_not_missed() {
        let signal = WorkSignal::default();
        let seen = signal.current();
        signal.bump();
        let started = std::time::Instant::now();
        signal.wait(seen, Duration::from_secs(3600));
        assert!(started.elapsed() < Duration::from_secs(60));
    }

    #[test]
    fn a_waiter_is_woken_by_another_thread() {
        let signal = Arc::new(WorkSignal::default());
        let seen = signal.current();
        let bumper = Arc::clone(&signal);
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            bumper.bump();
        });
        signal.wait(seen, Duration::from_secs(3600));
        assert_ne!(signal.current(), seen);
        thread.join().expect("bumper");
    }
}
