//! The two-way mirror between an incident and an external record (a Jira issue today, another
//! tracker tomorrow), field by field, with one loop rule.
//!
//! For each mirrored field the integration keeps a [`FieldState`]: the value the external side holds
//! as far as we know (the last one we wrote, or the last one it told us), and the incident version of
//! the last change we pushed. Every decision is a pure function of that state:
//!
//! - **Outbound** ([`outbound`]): an incident-side change at version `v` whose mapped value is `x`.
//!   A change whose origin is the other side is never pushed back ([`Origin::External`]); a change
//!   older than one already pushed is stale (the last change wins, whatever order the jobs run in);
//!   a value the external side already holds is not written (Investigating and Mitigating both map
//!   to Jira's "in progress"). Otherwise: exactly one write.
//! - **Inbound** ([`inbound`]): a change reported by the external side. One made by our own service
//!   account is the echo of our write and is ignored; a value equal to the one we know it holds is a
//!   no-op. Otherwise it is applied to the incident (through the lifecycle, by the caller).
//!
//! The state is saved after each decision that changes it ([`FieldState::written`],
//! [`FieldState::received`]), in the integration's own table, next to the external record.

use serde::{Deserialize, Serialize};

/// What a mirrored field looks like on both sides: how an incident-side value is written on the
/// external side, and how an external value reads back as an incident-side one.
pub trait FieldMap {
    /// The incident side's value (a status, a priority).
    type Local;

    /// The field's name (`status`, `priority`): the key of its state.
    fn field(&self) -> &'static str;

    /// The external value for `local`; `None`: this value is not mirrored.
    fn to_external(&self, local: &Self::Local) -> Option<String>;

    /// The incident-side value for `external`; `None`: not one the mirror knows (left alone).
    fn to_local(&self, external: &str) -> Option<Self::Local>;
}

/// What the mirror knows of one field of one record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldState {
    /// The value the external side holds, as far as we know (normalised with [`same`]).
    pub external: Option<String>,
    /// The incident version of the last incident-side change pushed (0: none).
    pub pushed_version: i64,
}

impl FieldState {
    /// After writing `value` for the change at `version`.
    #[must_use]
    pub fn written(&self, version: i64, value: &str) -> Self {
        Self { external: Some(value.to_owned()), pushed_version: version.max(self.pushed_version) }
    }

    /// After learning the external side holds `value` (it told us, or it was already there).
    #[must_use]
    pub fn received(&self, value: &str) -> Self {
        Self { external: Some(value.to_owned()), pushed_version: self.pushed_version }
    }

    /// After a change at `version` that needed no write (the value was there, or is not mirrored).
    #[must_use]
    pub fn skipped(&self, version: i64) -> Self {
        Self { external: self.external.clone(), pushed_version: version.max(self.pushed_version) }
    }
}

/// Where an incident-side change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A person or a system of ours (the API, Slack, the dashboard …).
    Local,
    /// The external side itself: applying its change made this one.
    External,
}

/// What to do with an incident-side change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// Write this value on the external side (one write, whatever it takes there).
    Write(String),
    /// The external side already holds the value.
    AlreadyThere,
    /// A newer change was already pushed: the last change wins.
    Stale,
    /// The change came from the external side: never echoed back.
    FromThere,
    /// The value is not mirrored.
    NotMirrored,
}

/// Whether two external values are the same (trimmed, case-insensitive: Jira's status names are
/// compared as the original compared them).
#[must_use]
pub fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Decides an incident-side change at `version` to `local`.
pub fn outbound<M: FieldMap>(
    map: &M,
    state: &FieldState,
    origin: Origin,
    version: i64,
    local: &M::Local,
) -> Outbound {
    if origin == Origin::External {
        return Outbound::FromThere;
    }
    if version <= state.pushed_version {
        return Outbound::Stale;
    }
    let Some(value) = map.to_external(local) else { return Outbound::NotMirrored };
    if state.external.as_deref().is_some_and(|held| same(held, &value)) {
        return Outbound::AlreadyThere;
    }
    Outbound::Write(value)
}

/// What to do with a change the external side reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound<L> {
    /// Apply this value to the incident.
    Apply(L),
    /// Our own write, coming back: nothing to do.
    OwnEcho,
    /// The value we know it holds already.
    Unchanged,
    /// A value the mirror does not know.
    Unmapped,
}

/// Decides a change to `value` reported by the external side, made by `by_service_account` (our
/// own account there) or someone else.
pub fn inbound<M: FieldMap>(
    map: &M,
    state: &FieldState,
    by_service_account: bool,
    value: &str,
) -> Inbound<M::Local> {
    if by_service_account {
        return Inbound::OwnEcho;
    }
    if state.external.as_deref().is_some_and(|held| same(held, value)) {
        return Inbound::Unchanged;
    }
    map.to_local(value).map_or(Inbound::Unmapped, Inbound::Apply)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three local states; "b" and "c" share an external value, as Investigating and Mitigating do.
    struct Letters;

    impl FieldMap for Letters {
        type Local = char;
        fn field(&self) -> &'static str {
            "letter"
        }
        fn to_external(&self, local: &char) -> Option<String> {
            match local {
                'a' => Some("One".into()),
                'b' | 'c' => Some("Two".into()),
                _ => None,
            }
        }
        fn to_local(&self, external: &str) -> Option<char> {
            match external.trim().to_lowercase().as_str() {
                "one" => Some('a'),
                "two" => Some('c'),
                _ => None,
            }
        }
    }

    #[test]
    fn one_write_per_change_that_moves_the_external_value() {
        let mut state = FieldState::default();
        assert_eq!(outbound(&Letters, &state, Origin::Local, 1, &'a'), Outbound::Write("One".into()));
        state = state.written(1, "One");
        assert_eq!(outbound(&Letters, &state, Origin::Local, 2, &'b'), Outbound::Write("Two".into()));
        state = state.written(2, "Two");
        // b → c maps to the same external value: no write.
        assert_eq!(outbound(&Letters, &state, Origin::Local, 3, &'c'), Outbound::AlreadyThere);
        state = state.skipped(3);
        assert_eq!(outbound(&Letters, &state, Origin::Local, 4, &'z'), Outbound::NotMirrored);
    }

    #[test]
    fn the_last_change_wins_whatever_order_the_jobs_run_in() {
        let state = FieldState::default().written(5, "Two");
        assert_eq!(outbound(&Letters, &state, Origin::Local, 4, &'a'), Outbound::Stale);
        assert_eq!(outbound(&Letters, &state, Origin::Local, 5, &'a'), Outbound::Stale);
        assert_eq!(outbound(&Letters, &state, Origin::Local, 6, &'a'), Outbound::Write("One".into()));
    }

    #[test]
    fn nothing_bounces() {
        let state = FieldState::default().written(1, "One");
        // Our write comes back as a webhook by our service account.
        assert_eq!(inbound(&Letters, &state, true, "Two"), Inbound::OwnEcho);
        // The value we know is there.
        assert_eq!(inbound(&Letters, &state, false, " one "), Inbound::Unchanged);
        // A person's change is applied ...
        assert_eq!(inbound(&Letters, &state, false, "Two"), Inbound::Apply('c'));
        let state = state.received("Two");
        // ... and the incident change it makes is not pushed back.
        assert_eq!(outbound(&Letters, &state, Origin::External, 2, &'c'), Outbound::FromThere);
        assert_eq!(inbound(&Letters, &state, false, "Code Review"), Inbound::Unmapped);
    }
}
