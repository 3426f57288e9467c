//! The status workflow: which transitions exist, which need a closure reason or a justification, and
//! what must hold before an incident may close. Pure rules, applied by the lifecycle service for every
//! entry point.
//!
//! ```text
//! Open ──► Investigating ──► Mitigating ──► Mitigated ──► Post-mortem ──► Closed
//!   │            │                            │    (when a post-mortem is needed)  ▲
//!   └────────────┴── Closed, with a closure reason   └──── Closed (otherwise) ──────┘
//! Mitigated, Post-mortem and Closed reopen to Investigating or Mitigating with a justification.
//! ```
//!
//! Decisions where the original was ambiguous are recorded in `docs/decisions.md`.

use std::fmt;

use serde::Serialize;

use crate::status::IncidentStatus;

/// Shortest justification accepted when reopening an incident.
pub const REOPEN_JUSTIFICATION_MIN_CHARS: usize = 10;

/// What a transition demands besides being allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransitionRequirement {
    /// Nothing more.
    None,
    /// Closing early (from Open or Investigating): a closure reason, and a message saying why.
    ClosureReason,
    /// Reopening: a message of at least [`REOPEN_JUSTIFICATION_MIN_CHARS`] characters.
    Justification,
}

/// The statuses an incident may move to from `current`, in workflow order, with what each demands.
///
/// `needs_postmortem` is true for incidents whose priority needs a post-mortem, in production, when a
/// post-mortem backend is configured (one predicate; the original had two that disagreed).
#[must_use]
pub fn allowed_transitions(
    current: IncidentStatus,
    needs_postmortem: bool,
) -> Vec<(IncidentStatus, TransitionRequirement)> {
    use IncidentStatus::*;
    use TransitionRequirement as Req;
    let reopen = [(Investigating, Req::Justification), (Mitigating, Req::Justification)];
    match current {
        Open => vec![(Investigating, Req::None), (Closed, Req::ClosureReason)],
        Investigating => vec![(Mitigating, Req::None), (Closed, Req::ClosureReason)],
        Mitigating => vec![(Mitigated, Req::None)],
        Mitigated => {
            let next = if needs_postmortem { PostMortem } else { Closed };
            let mut targets = reopen.to_vec();
            targets.push((next, Req::None));
            targets
        }
        PostMortem => {
            let mut targets = reopen.to_vec();
            targets.push((Closed, Req::None));
            targets
        }
        Closed => reopen.to_vec(),
    }
}

/// Why a status change was refused before any close check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("an incident cannot go from {from} to {to}; allowed: {allowed}")]
    NotAllowed { from: IncidentStatus, to: IncidentStatus, allowed: StatusList },
    #[error(
        "closing an incident from {from} needs a closure reason (duplicate, false_positive, superseded, external or cancelled)"
    )]
    ClosureReasonRequired { from: IncidentStatus },
    #[error("closing an incident early needs a message explaining why")]
    ClosureMessageRequired,
    #[error(
        "a detailed justification (minimum {REOPEN_JUSTIFICATION_MIN_CHARS} characters) is required when reopening an incident from {from}"
    )]
    JustificationRequired { from: IncidentStatus },
}

impl TransitionError {
    /// The stable machine code the API, Slack and the dashboard show.
    #[must_use]
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NotAllowed { .. } => "TRANSITION_NOT_ALLOWED",
            Self::ClosureReasonRequired { .. } => "CLOSURE_REASON_REQUIRED",
            Self::ClosureMessageRequired => "CLOSURE_MESSAGE_REQUIRED",
            Self::JustificationRequired { .. } => "REOPEN_JUSTIFICATION_REQUIRED",
        }
    }
}

/// A list of statuses, displayed as labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList(pub Vec<IncidentStatus>);

impl fmt::Display for StatusList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let labels: Vec<&str> = self.0.iter().map(|s| s.label()).collect();
        f.write_str(&labels.join(", "))
    }
}

/// Checks a status change: allowed from `current`, and carrying what it demands.
///
/// # Errors
/// [`TransitionError`] naming the first unmet rule.
pub fn check_transition(
    current: IncidentStatus,
    target: IncidentStatus,
    needs_postmortem: bool,
    has_closure_reason: bool,
    message: Option<&str>,
) -> Result<TransitionRequirement, TransitionError> {
    let allowed = allowed_transitions(current, needs_postmortem);
    let Some((_, requirement)) = allowed.iter().find(|(status, _)| *status == target) else {
        return Err(TransitionError::NotAllowed {
            from: current,
            to: target,
            allowed: StatusList(allowed.iter().map(|(status, _)| *status).collect()),
        });
    };
    let message = message.map(str::trim).unwrap_or_default();
    match requirement {
        TransitionRequirement::None => {}
        TransitionRequirement::ClosureReason => {
            if !has_closure_reason {
                return Err(TransitionError::ClosureReasonRequired { from: current });
            }
            if message.is_empty() {
                return Err(TransitionError::ClosureMessageRequired);
            }
        }
        TransitionRequirement::Justification => {
            if message.chars().count() < REOPEN_JUSTIFICATION_MIN_CHARS {
                return Err(TransitionError::JustificationRequired { from: current });
            }
        }
    }
    Ok(*requirement)
}

/// Whether moving from `current` to `target` is an early closure that needs a closure reason.
#[must_use]
pub fn requires_closure_reason(current: IncidentStatus, target: IncidentStatus) -> bool {
    target == IncidentStatus::Closed
        && matches!(current, IncidentStatus::Open | IncidentStatus::Investigating)
}

/// What the post-mortem backend says about an incident's post-mortem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostMortemState {
    /// No post-mortem is linked to the incident.
    NotLinked,
    /// Linked and ready: the incident may close.
    Ready { key: String },
    /// Linked but not ready yet.
    NotReady { key: String, status: String },
    /// The backend could not be asked.
    Unknown { error: String },
}

/// One reason an incident may not close yet, with its stable code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CloseBlocker {
    pub code: &'static str,
    pub message: String,
}

/// Everything the close guard looks at.
#[derive(Debug, Clone)]
pub struct CloseCheck<'a> {
    pub status: IncidentStatus,
    pub priority_value: i32,
    pub has_closure_reason: bool,
    pub ignored: bool,
    pub needs_postmortem: bool,
    /// Asked only when a post-mortem is needed.
    pub postmortem: Option<&'a PostMortemState>,
    /// Required key events the incident has not recorded, by event type.
    pub missing_key_events: &'a [String],
}

/// Priorities below this value (P1–P3) must record every required key event before closing.
pub const KEY_EVENTS_REQUIRED_BELOW_PRIORITY: i32 = 4;

/// The reasons an incident may not close, in the original's order; empty when it may.
#[must_use]
pub fn close_blockers(check: &CloseCheck<'_>) -> Vec<CloseBlocker> {
    if check.has_closure_reason || check.ignored {
        return Vec::new();
    }
    let mut blockers = Vec::new();
    if check.needs_postmortem {
        if check.status == IncidentStatus::PostMortem {
            match check.postmortem {
                None | Some(PostMortemState::NotLinked) => blockers.push(CloseBlocker {
                    code: "POSTMORTEM_NOT_LINKED",
                    message: "No post-mortem is linked to this incident.".to_owned(),
                }),
                Some(PostMortemState::Ready { .. }) => {}
                Some(PostMortemState::NotReady { key, status }) => blockers.push(CloseBlocker {
                    code: "POSTMORTEM_NOT_READY",
                    message: format!("Post-mortem {key} is not ready (current status: {status})."),
                }),
                Some(PostMortemState::Unknown { error }) => blockers.push(CloseBlocker {
                    code: "POSTMORTEM_STATUS_UNKNOWN",
                    message: format!("Could not check the post-mortem status: {error}"),
                }),
            }
        } else {
            blockers.push(CloseBlocker {
                code: "STATUS_NOT_POST_MORTEM",
                message: format!(
                    "Incident is not in Post-mortem status (currently {}), and needs one because of its priority and environment.",
                    check.status
                ),
            });
        }
    } else if check.status < IncidentStatus::Mitigated {
        blockers.push(CloseBlocker {
            code: "STATUS_NOT_MITIGATED",
            message: format!("Incident is not in Mitigated status (currently {}).", check.status),
        });
    }
    if check.priority_value < KEY_EVENTS_REQUIRED_BELOW_PRIORITY && !check.missing_key_events.is_empty() {
        blockers.push(CloseBlocker {
            code: "MISSING_REQUIRED_KEY_EVENTS",
            message: format!("Missing key events: {}", check.missing_key_events.join(", ")),
        });
    }
    blockers
}

#[cfg(test)]
mod tests {
    use IncidentStatus::*;

    use super::*;

    fn targets(current: IncidentStatus, needs_postmortem: bool) -> Vec<IncidentStatus> {
        allowed_transitions(current, needs_postmortem).into_iter().map(|(s, _)| s).collect()
    }

    #[test]
    fn transition_table_with_a_postmortem() {
        assert_eq!(targets(Open, true), vec![Investigating, Closed]);
        assert_eq!(targets(Investigating, true), vec![Mitigating, Closed]);
        assert_eq!(targets(Mitigating, true), vec![Mitigated]);
        assert_eq!(targets(Mitigated, true), vec![Investigating, Mitigating, PostMortem]);
        assert_eq!(targets(PostMortem, true), vec![Investigating, Mitigating, Closed]);
        assert_eq!(targets(Closed, true), vec![Investigating, Mitigating]);
    }

    #[test]
    fn transition_table_without_a_postmortem() {
        assert_eq!(targets(Mitigated, false), vec![Investigating, Mitigating, Closed]);
        for status in IncidentStatus::ALL {
            assert!(
                !targets(status, false).contains(&PostMortem),
                "P3+ never see Post-mortem (from {status})"
            );
        }
    }

    #[test]
    fn never_closes_from_mitigating_and_never_skips_the_postmortem() {
        assert!(!targets(Mitigating, true).contains(&Closed));
        assert!(!targets(Mitigating, false).contains(&Closed));
        assert!(!targets(Mitigated, true).contains(&Closed));
        assert!(matches!(
            check_transition(Mitigated, Closed, true, false, None),
            Err(TransitionError::NotAllowed { .. })
        ));
    }

    #[test]
    fn early_closure_needs_a_reason_and_a_message() {
        for from in [Open, Investigating] {
            assert!(requires_closure_reason(from, Closed));
            assert_eq!(
                check_transition(from, Closed, false, false, Some("dup")),
                Err(TransitionError::ClosureReasonRequired { from })
            );
            assert_eq!(
                check_transition(from, Closed, true, true, Some("  ")),
                Err(TransitionError::ClosureMessageRequired)
            );
            assert_eq!(
                check_transition(from, Closed, true, true, Some("duplicate of #12")),
                Ok(TransitionRequirement::ClosureReason)
            );
        }
        for from in [Mitigating, Mitigated, PostMortem] {
            assert!(!requires_closure_reason(from, Closed));
        }
        assert!(!requires_closure_reason(Open, Investigating));
    }

    #[test]
    fn reopening_needs_a_justification_of_ten_characters() {
        assert_eq!(
            check_transition(Mitigated, Investigating, false, false, None),
            Err(TransitionError::JustificationRequired { from: Mitigated })
        );
        assert_eq!(
            check_transition(Mitigated, Investigating, false, false, Some("  short   ")),
            Err(TransitionError::JustificationRequired { from: Mitigated })
        );
        assert_eq!(
            check_transition(Mitigated, Investigating, false, false, Some("The error rate is back up")),
            Ok(TransitionRequirement::Justification)
        );
        assert_eq!(
            check_transition(Investigating, Mitigating, false, false, None),
            Ok(TransitionRequirement::None)
        );
    }

    #[test]
    fn close_guard_follows_the_original_order() {
        let none: Vec<String> = Vec::new();
        let base = CloseCheck {
            status: Investigating,
            priority_value: 3,
            has_closure_reason: false,
            ignored: false,
            needs_postmortem: false,
            postmortem: None,
            missing_key_events: &none,
        };
        let codes =
            |check: &CloseCheck<'_>| close_blockers(check).into_iter().map(|b| b.code).collect::<Vec<_>>();
        assert_eq!(codes(&base), vec!["STATUS_NOT_MITIGATED"]);
        assert!(close_blockers(&base)[0].message.contains("Mitigated"));
        assert!(codes(&CloseCheck { status: Mitigated, ..base.clone() }).is_empty());
        assert!(codes(&CloseCheck { has_closure_reason: true, ..base.clone() }).is_empty());
        assert!(codes(&CloseCheck { ignored: true, ..base.clone() }).is_empty());

        let pm = CloseCheck { status: PostMortem, priority_value: 1, needs_postmortem: true, ..base.clone() };
        let not_ready = PostMortemState::NotReady { key: "PM-1".into(), status: "In review".into() };
        let ready = PostMortemState::Ready { key: "PM-1".into() };
        let unknown = PostMortemState::Unknown { error: "JIRA error 503: unavailable".into() };
        assert_eq!(
            codes(&CloseCheck { postmortem: Some(&not_ready), ..pm.clone() }),
            vec!["POSTMORTEM_NOT_READY"]
        );
        assert!(codes(&CloseCheck { postmortem: Some(&ready), ..pm.clone() }).is_empty());
        assert_eq!(
            codes(&CloseCheck { postmortem: Some(&unknown), ..pm.clone() }),
            vec!["POSTMORTEM_STATUS_UNKNOWN"]
        );
        assert_eq!(codes(&pm), vec!["POSTMORTEM_NOT_LINKED"]);
        assert_eq!(codes(&CloseCheck { status: Mitigated, ..pm.clone() }), vec!["STATUS_NOT_POST_MORTEM"]);

        let missing = vec!["detected".to_owned(), "recovered".to_owned()];
        let p2 =
            CloseCheck { status: Mitigated, priority_value: 2, missing_key_events: &missing, ..base.clone() };
        assert_eq!(codes(&p2), vec!["MISSING_REQUIRED_KEY_EVENTS"]);
        assert_eq!(close_blockers(&p2)[0].message, "Missing key events: detected, recovered");
        assert!(codes(&CloseCheck { priority_value: 4, ..p2.clone() }).is_empty(), "P4+ skip key events");
        assert!(codes(&CloseCheck { priority_value: 20, ..p2 }).is_empty(), "GAMEDAY skips key events");
    }
}
