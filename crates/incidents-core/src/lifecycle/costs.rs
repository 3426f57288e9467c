//! Adding, changing and removing an incident's costs, each recorded on the timeline, in the audit log
//! and as a `costs_updated` event.

use chrono::NaiveDateTime;

use super::{IncidentLifecycle, LifecycleError, now, optional_text, record_change};
use crate::events::{Actor, CostChange, CostsUpdated, DomainEvent};
use crate::incident::{CostInput, CostRecord, IncidentId, TimelineEntry};
use crate::ports::{IncidentStore, IncidentTransaction, PostMortemBackend, RepositoryError};

impl<S: IncidentStore, P: PostMortemBackend> IncidentLifecycle<S, P> {
    /// Adds a cost to an incident.
    ///
    /// # Errors
    /// Unknown incident or cost type, invalid currency, or a storage failure.
    pub fn add_cost(
        &self,
        actor: Actor,
        id: IncidentId,
        input: CostInput,
    ) -> Result<CostRecord, LifecycleError> {
        let input = validate_cost(input)?;
        self.store.write(&mut |tx| {
            let version = tx.lock_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?.version;
            let now = now();
            let record = tx
                .insert_cost(id, &input, now)
                .map_err(|error| cost_type_error(error, input.cost_type_id))?;
            record_cost_change(tx, actor, (id, version), "added", &record, now)?;
            Ok(record)
        })
    }

    /// Changes a cost of an incident.
    ///
    /// # Errors
    /// Unknown incident, cost or cost type, invalid currency, or a storage failure.
    pub fn update_cost(
        &self,
        actor: Actor,
        id: IncidentId,
        cost_id: i64,
        input: CostInput,
    ) -> Result<CostRecord, LifecycleError> {
        let input = validate_cost(input)?;
        self.store.write(&mut |tx| {
            let version = tx.lock_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?.version;
            let now = now();
            tx.cost(id, cost_id)?.ok_or_else(|| unknown_cost(cost_id))?;
            let record = tx
                .update_cost(cost_id, &input, now)
                .map_err(|error| cost_type_error(error, input.cost_type_id))?;
            record_cost_change(tx, actor, (id, version), "changed", &record, now)?;
            Ok(record)
        })
    }

    /// Removes a cost from an incident.
    ///
    /// # Errors
    /// Unknown incident or cost, or a storage failure.
    pub fn remove_cost(&self, actor: Actor, id: IncidentId, cost_id: i64) -> Result<(), LifecycleError> {
        self.store.write(&mut |tx| {
            let version = tx.lock_incident(id)?.ok_or(LifecycleError::IncidentNotFound(id))?.version;
            let now = now();
            let record = tx.cost(id, cost_id)?.ok_or_else(|| unknown_cost(cost_id))?;
            tx.delete_cost(cost_id)?;
            record_cost_change(tx, actor, (id, version), "removed", &record, now)
        })
    }
}

fn unknown_cost(cost_id: i64) -> LifecycleError {
    LifecycleError::invalid("cost_id", "DOES_NOT_EXIST", format!("this incident has no cost {cost_id}"))
}

fn cost_type_error(error: RepositoryError, cost_type_id: i64) -> LifecycleError {
    match error {
        RepositoryError::Conflict { .. } => LifecycleError::invalid(
            "cost_type_id",
            "DOES_NOT_EXIST",
            format!("no cost type with id {cost_type_id}"),
        ),
        other => other.into(),
    }
}

fn validate_cost(mut input: CostInput) -> Result<CostInput, LifecycleError> {
    if let Some(currency) = &input.currency {
        let currency = currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(LifecycleError::invalid("currency", "INVALID", "an ISO 4217 code such as EUR"));
        }
        input.currency = Some(currency);
    }
    input.details = optional_text(input.details.as_deref());
    Ok(input)
}

fn record_cost_change(
    tx: &mut dyn IncidentTransaction,
    actor: Actor,
    (id, version): (IncidentId, i64),
    verb: &str,
    record: &CostRecord,
    now: NaiveDateTime,
) -> Result<(), LifecycleError> {
    let amount = record.amount.map_or_else(|| "no amount".to_owned(), |a| format!("{a} {}", record.currency));
    tx.insert_timeline_entry(
        id,
        &TimelineEntry {
            message: Some(format!("Cost {verb}: {} ({amount})", record.cost_type_name)),
            event_type: Some(format!("cost_{verb}")),
            ..TimelineEntry::default()
        },
        Some(actor.user),
        now,
        now,
    )?;
    let event = DomainEvent::CostsUpdated(CostsUpdated {
        changed_fields: vec!["costs".to_owned()],
        cost: CostChange {
            id: record.id,
            change: verb.to_owned(),
            cost_type: record.cost_type_name.clone(),
            amount: record.amount.map(|a| a.to_string()),
            currency: record.currency.clone(),
        },
    });
    record_change(
        tx,
        actor,
        (id, version),
        "incident.cost",
        ("incident_cost", record.id.to_string()),
        event,
        now,
    )?;
    Ok(())
}
