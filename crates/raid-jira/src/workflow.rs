//! A Jira workflow as a graph of statuses, read from the workflow designer's layout (what the
//! original read, firefighter-integrations.md §3.2), and the shortest way from one status to
//! another: breadth-first, by transition name, `Closed` never an intermediate hop.

use std::collections::{HashMap, VecDeque};

use serde_json::Value;

/// Statuses a path may end at but never pass through.
pub const TERMINAL_STATUSES: [&str; 1] = ["Closed"];

/// The graph: statuses by id, and the transitions out of each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workflow {
    /// Status id → name.
    pub statuses: HashMap<i64, String>,
    /// Status id → (transition name, target status id), in the layout's order.
    pub edges: HashMap<i64, Vec<(String, i64)>>,
}

/// `S<12>` / `S12` / `I<3>` / `12` → 12.
fn number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim_matches(|c: char| !c.is_ascii_digit()).parse().ok(),
        _ => None,
    }
}

impl Workflow {
    /// Reads `{"layout": {"statuses": [...], "transitions": [...]}}` (camelCase keys).
    ///
    /// # Errors
    /// A layout without statuses.
    pub fn from_layout(body: &Value) -> Result<Self, String> {
        let layout = body.get("layout").unwrap_or(body);
        let statuses =
            layout.get("statuses").and_then(Value::as_array).ok_or("the layout has no statuses")?;
        let mut step_to_status = HashMap::new();
        let mut workflow = Self::default();
        for status in statuses {
            let Some(step) =
                status.get("id").and_then(number).or_else(|| status.get("stepId").and_then(number))
            else {
                continue;
            };
            let id = status.get("statusId").and_then(number).unwrap_or(step);
            step_to_status.insert(step, id);
            if let Some(name) = status.get("name").and_then(Value::as_str) {
                workflow.statuses.insert(id, name.to_owned());
            }
        }
        for transition in layout.get("transitions").and_then(Value::as_array).into_iter().flatten() {
            if transition.get("initial").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            let Some(name) = transition.get("name").and_then(Value::as_str) else { continue };
            let Some(target) =
                transition.get("targetId").and_then(number).and_then(|s| step_to_status.get(&s).copied())
            else {
                continue;
            };
            if transition.get("globalTransition").and_then(Value::as_bool) == Some(true) {
                let sources: Vec<i64> = workflow.statuses.keys().copied().filter(|s| *s != target).collect();
                for source in sources {
                    workflow.edges.entry(source).or_default().push((name.to_owned(), target));
                }
                continue;
            }
            let Some(source) =
                transition.get("sourceId").and_then(number).and_then(|s| step_to_status.get(&s).copied())
            else {
                continue;
            };
            workflow.edges.entry(source).or_default().push((name.to_owned(), target));
        }
        Ok(workflow)
    }

    /// The id of the status named exactly `name`.
    #[must_use]
    pub fn status_id(&self, name: &str) -> Option<i64> {
        let mut ids: Vec<i64> = self.statuses.iter().filter(|(_, n)| *n == name).map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.first().copied()
    }

    /// The transition names leading from status `from` to the status named `target`, shortest
    /// first; empty when it is there; `None` when there is no way (or no such status).
    #[must_use]
    pub fn path(&self, from: i64, target: &str) -> Option<Vec<String>> {
        let goal = self.status_id(target)?;
        if from == goal {
            return Some(Vec::new());
        }
        let mut previous: HashMap<i64, (i64, String)> = HashMap::new();
        let mut queue = VecDeque::from([from]);
        while let Some(status) = queue.pop_front() {
            // A terminal status is a dead end, except as the start.
            let terminal = TERMINAL_STATUSES.contains(&self.statuses.get(&status).map_or("", String::as_str));
            if terminal && status != from {
                continue;
            }
            for (name, next) in self.edges.get(&status).into_iter().flatten() {
                if *next == from || previous.contains_key(next) {
                    continue;
                }
                previous.insert(*next, (status, name.clone()));
                if *next == goal {
                    let mut hops = vec![name.clone()];
                    let mut at = status;
                    while at != from {
                        let (before, hop) = &previous[&at];
                        hops.push(hop.clone());
                        at = *before;
                    }
                    hops.reverse();
                    return Some(hops);
                }
                queue.push_back(*next);
            }
        }
        None
    }
}

/// The original's incident workflow ("Incident workflow - v2023.03.13") as a designer layout, with
/// its live status ids: what the fake Jira serves and the tests walk.
#[must_use]
pub fn incident_workflow_layout() -> Value {
    let statuses = [
        (1, "Incoming"),
        (10873, "Pending resolution"),
        (3, "in progress"),
        (10300, "Code Review"),
        (10874, "Reporter validation"),
        (6, "Closed"),
    ];
    let transitions = [
        ("Route", 1, 10873),
        ("Reject", 1, 6),
        ("Start resolution", 10873, 3),
        ("Go back to incoming", 10873, 1),
        ("Cancel routing", 10873, 1),
        ("Complete resolution", 3, 10874),
        ("Cancel resolution", 3, 10873),
        ("Code Review", 3, 10300),
        ("Go back to resolution", 10300, 3),
        ("Validate", 10874, 6),
        ("Cancel validation", 10874, 3),
        ("Reopen", 6, 1),
    ];
    serde_json::json!({
        "layout": {
            "statuses": statuses.iter().map(|(id, name)| serde_json::json!({
                "id": format!("S<{id}>"), "stepId": id, "statusId": id, "name": name,
            })).collect::<Vec<_>>(),
            "transitions": std::iter::once(serde_json::json!({
                "id": "A<1>", "name": "Create", "initial": true, "sourceId": "I<1>", "targetId": "S<1>",
            })).chain(transitions.iter().enumerate().map(|(i, (name, from, to))| serde_json::json!({
                "id": format!("A<{}>", i + 11), "name": name, "sourceId": format!("S<{from}>"),
                "targetId": format!("S<{to}>"), "initial": false, "globalTransition": false,
            }))).collect::<Vec<_>>(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workflow() -> Workflow {
        Workflow::from_layout(&incident_workflow_layout()).expect("layout")
    }

    #[test]
    fn ids_are_read_through_their_wrapping() {
        let workflow = workflow();
        assert_eq!(workflow.status_id("Reporter validation"), Some(10874));
        assert_eq!(workflow.status_id("reporter validation"), None, "names match exactly");
        assert!(
            !workflow.edges.values().flatten().any(|(name, _)| name == "Create"),
            "initial transitions are skipped"
        );
    }

    #[test]
    fn the_shortest_path_never_passes_through_closed() {
        let workflow = workflow();
        assert_eq!(
            workflow.path(1, "in progress"),
            Some(vec!["Route".to_owned(), "Start resolution".to_owned()])
        );
        assert_eq!(workflow.path(3, "in progress"), Some(Vec::new()));
        assert_eq!(
            workflow.path(3, "Closed"),
            Some(vec!["Complete resolution".to_owned(), "Validate".to_owned()])
        );
        // From Reporter validation back to Incoming: not through Closed → Reopen (2 hops), but the
        // long way round.
        assert_eq!(
            workflow.path(10874, "Incoming"),
            Some(vec![
                "Cancel validation".to_owned(),
                "Cancel resolution".to_owned(),
                "Go back to incoming".to_owned()
            ])
        );
        // Closed may be the start.
        assert_eq!(workflow.path(6, "Incoming"), Some(vec!["Reopen".to_owned()]));
        assert_eq!(workflow.path(1, "Nowhere"), None);
    }

    #[test]
    fn a_global_transition_leads_from_everywhere() {
        let mut layout = incident_workflow_layout();
        layout["layout"]["transitions"].as_array_mut().expect("array").push(serde_json::json!({
            "id": "A<99>", "name": "Escalate", "targetId": "S<10300>", "globalTransition": true,
        }));
        let workflow = Workflow::from_layout(&layout).expect("layout");
        assert_eq!(workflow.path(1, "Code Review"), Some(vec!["Escalate".to_owned()]));
    }
}
