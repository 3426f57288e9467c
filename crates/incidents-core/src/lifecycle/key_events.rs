//! Setting and clearing the key events people record (started, detected, recovered …), which the
//! incident's metrics are computed from; the events the system records stay out of reach.

use std::collections::HashMap;

use chrono::NaiveDateTime;

use super::{IncidentLifecycle, LifecycleError, now, recompute_metrics, record_change};
use crate::events::{Actor, DomainEvent, KeyEventChange, KeyEventsUpdated};
use crate::incident::IncidentId;
use crate::ports::{IncidentStore, PostMortemBackend};

impl<S: IncidentStore, P: PostMortemBackend> IncidentLifecycle<S, P> {
    /// Sets or clears user-editable key events, then recomputes every metric.
    ///
    /// Ordering rule: every key event is at or after `started`, and `recovered` is at or after
    /// `detected`. (Other pairs may legitimately be inverted: an incident can be declared after it
    /// recovered; such metrics are simply not computed.)
    ///
    /// # Errors
    /// Unknown or system key event, an ordering violation, nothing changed, or a storage failure.
    pub fn set_key_events(
        &self,
        actor: Actor,
        id: IncidentId,
        changes: &[(String, Option<NaiveDateTime>)],
    ) -> Result<(), LifecycleError> {
        self.store.write(&mut |tx| {
            let current = tx.lock_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?;
            let now = now();
            let types = tx.key_event_types()?;
            let mut events = tx.key_events(id)?;
            let mut applied = Vec::new();
            for (event_type, timestamp) in changes {
                let kind = types.iter().find(|kind| kind.event_type == *event_type).ok_or_else(|| {
                    LifecycleError::invalid(
                        "key_events",
                        "UNKNOWN_KEY_EVENT",
                        format!("no key event {event_type:?}"),
                    )
                })?;
                if !kind.user_editable {
                    return Err(LifecycleError::invalid(
                        "key_events",
                        "KEY_EVENT_NOT_EDITABLE",
                        format!("key event {event_type} is recorded by the system and cannot be edited"),
                    ));
                }
                if events.get(event_type) == timestamp.as_ref() {
                    continue;
                }
                match timestamp {
                    Some(ts) => {
                        events.insert(event_type.clone(), *ts);
                    }
                    None => {
                        events.remove(event_type);
                    }
                }
                applied.push((event_type.clone(), *timestamp));
            }
            if applied.is_empty() {
                return Err(LifecycleError::NothingToUpdate);
            }
            check_key_event_order(&events)?;
            for (event_type, timestamp) in &applied {
                match timestamp {
                    Some(ts) => tx.set_key_event(id, event_type, *ts, Some(actor.user), now)?,
                    None => tx.clear_key_event(id, event_type)?,
                }
            }
            recompute_metrics(tx, id, now)?;
            let event = DomainEvent::KeyEventsUpdated(KeyEventsUpdated {
                changes: applied
                    .iter()
                    .map(|(event_type, ts)| KeyEventChange {
                        event_type: event_type.clone(),
                        timestamp: ts.map(|t| t.and_utc().to_rfc3339()),
                    })
                    .collect(),
            });
            record_change(
                tx,
                actor,
                (id, current.version),
                "incident.key_events",
                ("incident", id.0.to_string()),
                event,
                now,
            )?;
            Ok(())
        })
    }
}

fn check_key_event_order(events: &HashMap<String, NaiveDateTime>) -> Result<(), LifecycleError> {
    let out_of_order =
        |message: String| LifecycleError::invalid("key_events", "KEY_EVENTS_OUT_OF_ORDER", message);
    if let Some(started) = events.get("started") {
        let mut before: Vec<&String> =
            events.iter().filter(|(_, ts)| *ts < started).map(|(kind, _)| kind).collect();
        before.sort();
        if let Some(first) = before.first() {
            return Err(out_of_order(format!("{first} cannot be before started")));
        }
    }
    if let (Some(detected), Some(recovered)) = (events.get("detected"), events.get("recovered"))
        && recovered < detected
    {
        return Err(out_of_order("recovered cannot be before detected".to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, NaiveDate};

    use super::*;

    fn at(minutes: i64) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default()
            + Duration::minutes(minutes)
    }

    #[test]
    fn key_event_order_rule() {
        let events = |pairs: &[(&str, i64)]| pairs.iter().map(|(k, m)| ((*k).to_owned(), at(*m))).collect();
        assert!(check_key_event_order(&events(&[("started", 0), ("detected", 5), ("recovered", 9)])).is_ok());
        assert!(check_key_event_order(&events(&[("started", 10), ("declared", 5)])).is_err());
        assert!(check_key_event_order(&events(&[("detected", 10), ("recovered", 5)])).is_err());
        // Declared after recovery (a retroactive declaration) is fine.
        assert!(
            check_key_event_order(&events(&[("started", 0), ("recovered", 5), ("declared", 60)])).is_ok()
        );
    }
}
