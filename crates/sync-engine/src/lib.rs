//! The two-way mirror between an incident and an external record (a Jira issue today, another
//! tracker tomorrow), field by field, with one rule for loops and one for conflicts.
//!
//! For each mirrored field the integration keeps a [`FieldState`]: the value the external side held
//! when both sides last agreed, and the incident's value then (in the external side's terms). A sync
//! reads both sides as they are *now* and [`reconcile`]s them with that state:
//!
//! - neither side moved: nothing to do;
//! - only the incident moved: push its value (one write, whatever it takes there);
//! - only the external side moved: pull its value (through the lifecycle, by the caller);
//! - both moved to the same value: record it;
//! - both moved to different values (a **conflict**: both changed within one sync window): the
//!   field's [`Policy`] decides which side wins, and the other side is overwritten.
//!
//! Because a sync reads the current values instead of replaying the change that triggered it, jobs
//! may run late, twice or out of order and still converge; our own writes coming back (webhooks)
//! find nothing moved and never bounce. A pull the incident refuses (its workflow) records the
//! external value with the incident's unchanged, so the refusal is not retried until either side
//! moves again.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a mirrored field looks like on both sides: how an incident-side value is written on the
/// external side, and how an external value reads back as an incident-side one.
pub trait FieldMap {
    /// The incident side's value (a status, a priority, a title …).
    type Local;

    /// The field's name (`status`, `priority`, `title` …): the key of its state.
    fn field(&self) -> &'static str;

    /// The external value for `local`; `None`: this value is not mirrored.
    fn to_external(&self, local: &Self::Local) -> Option<String>;

    /// The incident-side value for `external`; `None`: not one the mirror knows (left alone).
    fn to_local(&self, external: &str) -> Option<Self::Local>;

    /// Whether two external values are the same. By default trimmed and case-insensitive (Jira's
    /// status and option names); texts compare exactly.
    fn same(&self, a: &str, b: &str) -> bool {
        same(a, b)
    }
}

/// What the mirror knows of one field of one record: the last point where both sides agreed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldState {
    /// The value the external side held, as far as we know.
    pub external: Option<String>,
    /// The incident's value then, in the external side's terms (`None`: not known; the external
    /// value stands in).
    pub local: Option<String>,
    /// The incident version of the last sync (0: none); informative.
    pub pushed_version: i64,
}

impl FieldState {
    /// Both sides hold `value` (written by us, or found equal).
    #[must_use]
    pub fn agreed(value: &str, version: i64) -> Self {
        Self { external: Some(value.to_owned()), local: Some(value.to_owned()), pushed_version: version }
    }

    /// The external side holds `external` and the incident `local` (a pull whose value maps back
    /// differently, or that the incident refused).
    #[must_use]
    pub fn seen(external: &str, local: Option<&str>, version: i64) -> Self {
        Self { external: Some(external.to_owned()), local: local.map(str::to_owned), pushed_version: version }
    }
}

/// Which side wins when both changed a field within one sync window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// The incident's value stands and is written to the external side (the default: FireFighter
    /// is where the response is run).
    #[default]
    FireFighter,
    /// The external side's value is applied to the incident.
    External,
}

impl FromStr for Policy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "firefighter" | "incident" => Ok(Self::FireFighter),
            "jira" | "external" => Ok(Self::External),
            other => Err(format!("{other:?} is not a policy (firefighter or jira)")),
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::FireFighter => "firefighter",
            Self::External => "jira",
        })
    }
}

/// What a sync of one field does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Both sides are as last agreed.
    InStep,
    /// Both sides hold the same value, not the one last recorded: record it.
    Record(String),
    /// Write this value on the external side.
    Push(String),
    /// Apply this external value to the incident.
    Pull(String),
}

/// A sync's decision, and whether it settled a conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    /// Both sides had changed to different values; the policy chose.
    pub conflict: bool,
}

/// Whether two external values are the same (trimmed, case-insensitive).
#[must_use]
pub fn same(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Decides one field from what was last agreed (`state`), the incident's value now in external
/// terms (`local`; `None`: not mirrored, so never pushed) and the external value now (`remote`).
pub fn reconcile<M: FieldMap>(
    map: &M,
    state: &FieldState,
    local: Option<&str>,
    remote: &str,
    policy: Policy,
) -> Decision {
    let plain = |action| Decision { action, conflict: false };
    let known_external = state.external.as_deref();
    let known_local = state.local.as_deref().or(known_external);
    let remote_moved = known_external.is_none_or(|known| !map.same(known, remote));
    let Some(local) = local else {
        return plain(if remote_moved { Action::Pull(remote.to_owned()) } else { Action::InStep });
    };
    if map.same(local, remote) {
        let recorded = known_external.is_some_and(|k| map.same(k, remote))
            && state.local.as_deref().is_some_and(|k| map.same(k, local));
        return plain(if recorded { Action::InStep } else { Action::Record(remote.to_owned()) });
    }
    let local_moved = known_local.is_none_or(|known| !map.same(known, local));
    match (local_moved, remote_moved) {
        (false, false) => plain(Action::InStep),
        (true, false) => plain(Action::Push(local.to_owned())),
        (false, true) => plain(Action::Pull(remote.to_owned())),
        (true, true) => Decision {
            action: match policy {
                Policy::FireFighter => Action::Push(local.to_owned()),
                Policy::External => Action::Pull(remote.to_owned()),
            },
            conflict: true,
        },
    }
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

    fn decide(state: &FieldState, local: Option<&str>, remote: &str, policy: Policy) -> Decision {
        reconcile(&Letters, state, local, remote, policy)
    }

    #[test]
    fn one_side_moved_is_copied_to_the_other() {
        let state = FieldState::agreed("One", 1);
        assert_eq!(decide(&state, Some("One"), "One", Policy::default()).action, Action::InStep);
        assert_eq!(decide(&state, Some("Two"), "One", Policy::default()).action, Action::Push("Two".into()));
        assert_eq!(decide(&state, Some("One"), "Two", Policy::default()).action, Action::Pull("Two".into()));
        // Investigating → Mitigating: the same external value, nothing to write.
        let state = FieldState::agreed("Two", 2);
        assert_eq!(decide(&state, Some("two"), "Two", Policy::default()).action, Action::InStep);
        // Not mirrored locally: only pulls.
        assert_eq!(decide(&state, None, "Two", Policy::default()).action, Action::InStep);
        assert_eq!(decide(&state, None, "One", Policy::default()).action, Action::Pull("One".into()));
    }

    #[test]
    fn our_own_write_coming_back_does_not_bounce() {
        // We wrote "Two"; Jira's webhook for it, or a job run twice, finds both sides as recorded.
        let state = FieldState::agreed("Two", 3);
        let decision = decide(&state, Some("Two"), "Two", Policy::External);
        assert_eq!(decision, Decision { action: Action::InStep, conflict: false });
        // A write whose answer was lost (state not saved): found there, recorded, not written again.
        let before = FieldState::agreed("One", 2);
        assert_eq!(
            decide(&before, Some("Two"), "Two", Policy::default()).action,
            Action::Record("Two".into())
        );
    }

    #[test]
    fn a_pull_the_incident_refused_is_not_retried_until_a_side_moves() {
        // Jira went to "Two"; the incident refused and stays "One".
        let state = FieldState::seen("Two", Some("One"), 4);
        assert_eq!(decide(&state, Some("One"), "Two", Policy::default()).action, Action::InStep);
        // The incident moves on: pushed.
        assert_eq!(
            decide(&state, Some("Three"), "Two", Policy::default()).action,
            Action::Push("Three".into())
        );
        // Jira moves again: pulled.
        assert_eq!(
            decide(&state, Some("One"), "Four", Policy::default()).action,
            Action::Pull("Four".into())
        );
    }

    #[test]
    fn conflicts_follow_the_policy() {
        let state = FieldState::agreed("One", 1);
        let firefighter = decide(&state, Some("Two"), "Three", Policy::FireFighter);
        assert_eq!(firefighter, Decision { action: Action::Push("Two".into()), conflict: true });
        let jira = decide(&state, Some("Two"), "Three", Policy::External);
        assert_eq!(jira, Decision { action: Action::Pull("Three".into()), conflict: true });
        // Both moved to the same value: no conflict.
        assert_eq!(decide(&state, Some("Two"), "two", Policy::External).action, Action::Record("two".into()));
        // Nothing known yet (an issue linked by hand): any difference is a conflict.
        let unknown = FieldState::default();
        assert!(decide(&unknown, Some("Two"), "One", Policy::External).conflict);
    }

    #[test]
    fn policies_parse() {
        assert_eq!("Jira".parse::<Policy>(), Ok(Policy::External));
        assert_eq!("firefighter".parse::<Policy>(), Ok(Policy::FireFighter));
        assert!("latest".parse::<Policy>().is_err());
        assert_eq!(Policy::External.to_string(), "jira");
    }
}
