//! Retries: exponential backoff with jitter, up to a maximum number of attempts.

use std::time::Duration;

/// How a failed job is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay before the second attempt (before jitter).
    pub base: Duration,
    /// No delay is longer than this (before jitter).
    pub max_delay: Duration,
    /// Attempts in all, the first included; after the last failure the job is dead.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 10 s, 20 s, 40 s … capped at 1 h, 12 attempts: about 6 hours before a job is dead.
    fn default() -> Self {
        Self { base: Duration::from_secs(10), max_delay: Duration::from_secs(3600), max_attempts: 12 }
    }
}

/// What happens after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Run again after this delay.
    RetryIn(Duration),
    /// No attempt left: the job is dead and keeps its last error until an operator retries it.
    Dead,
}

/// What follows an attempt whose runner died: its lease ran out (a crash, a kill, a lost machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAbandoned {
    /// Run again at once.
    Now,
    /// Run again after this delay.
    RetryIn(Duration),
    /// No attempt left.
    Dead,
}

impl RetryPolicy {
    /// After the `attempt`-th attempt (1 for the first) was abandoned by a runner that died. The
    /// first death is taken for a restart (a deploy, a SIGKILL): the job runs again at once. A later
    /// one counts as a failure: the job waits the policy's delay, with its jitter, so that a job that
    /// kills its runner, and the jobs that die with it, do not come back together crash after crash
    /// (the innocent ones then run while the culprit waits); after the last attempt the job is dead.
    #[must_use]
    pub fn after_abandoned(&self, attempt: u32, jitter: f64) -> AfterAbandoned {
        if attempt >= self.max_attempts {
            AfterAbandoned::Dead
        } else if attempt <= 1 {
            AfterAbandoned::Now
        } else {
            match self.after_failure(attempt - 1, jitter) {
                AfterFailure::RetryIn(delay) => AfterAbandoned::RetryIn(delay),
                AfterFailure::Dead => AfterAbandoned::Dead,
            }
        }
    }

    /// After the `attempts`-th attempt failed (1 for the first), with `jitter` drawn uniformly from
    /// `[0, 1)`: the delay is `base × 2^(attempts − 1)`, capped at `max_delay`, then scaled into
    /// `[½, 1)` of itself so that jobs failing together do not come back together.
    #[must_use]
    pub fn after_failure(&self, attempts: u32, jitter: f64) -> AfterFailure {
        if attempts >= self.max_attempts {
            return AfterFailure::Dead;
        }
        let exponent = attempts.saturating_sub(1).min(31);
        let delay = self.base.saturating_mul(1 << exponent).min(self.max_delay);
        let jitter = if jitter.is_finite() { jitter.clamp(0.0, 1.0) } else { 0.0 };
        AfterFailure::RetryIn(delay.mul_f64(0.5 + jitter / 2.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_abandoned_attempt_runs_again_at_once_later_ones_back_off_the_last_is_dead() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.after_abandoned(1, 0.3), AfterAbandoned::Now);
        assert_eq!(policy.after_abandoned(2, 0.0), AfterAbandoned::RetryIn(Duration::from_secs(5)));
        assert_eq!(policy.after_abandoned(3, 0.0), AfterAbandoned::RetryIn(Duration::from_secs(10)));
        assert_eq!(policy.after_abandoned(12, 0.0), AfterAbandoned::Dead);
        // Jobs abandoned together come back apart.
        assert_ne!(policy.after_abandoned(2, 0.1), policy.after_abandoned(2, 0.9));
    }

    fn delay(outcome: AfterFailure) -> Duration {
        match outcome {
            AfterFailure::RetryIn(delay) => delay,
            AfterFailure::Dead => Duration::MAX,
        }
    }

    #[test]
    fn delays_double_up_to_the_cap_then_the_job_is_dead() {
        let policy = RetryPolicy {
            base: Duration::from_secs(10),
            max_delay: Duration::from_secs(60),
            max_attempts: 6,
        };
        // Jitter 1.0 (the top of the range) shows the undiscounted delay.
        let delays: Vec<u64> = (1..6).map(|n| delay(policy.after_failure(n, 1.0)).as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 60, 60]);
        assert_eq!(policy.after_failure(6, 0.5), AfterFailure::Dead);
        assert_eq!(policy.after_failure(60, 0.5), AfterFailure::Dead);
    }

    #[test]
    fn jitter_keeps_the_delay_between_half_and_all_of_it() {
        let policy = RetryPolicy::default();
        assert_eq!(delay(policy.after_failure(1, 0.0)), Duration::from_secs(5));
        assert_eq!(delay(policy.after_failure(1, 0.5)), Duration::from_millis(7500));
        assert_eq!(delay(policy.after_failure(1, f64::NAN)), Duration::from_secs(5), "bad jitter is none");
        assert_eq!(delay(policy.after_failure(1, 7.0)), Duration::from_secs(10), "clamped");
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let policy = RetryPolicy { max_attempts: u32::MAX, ..RetryPolicy::default() };
        assert_eq!(delay(policy.after_failure(u32::MAX - 1, 1.0)), Duration::from_secs(3600));
    }
}
