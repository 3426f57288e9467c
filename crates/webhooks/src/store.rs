//! Webhook endpoints and their delivery log (`webhooks::WebhookStore`).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use incidents_core::RepositoryError;
use incidents_core::query::{Page, PageRequest};
use storage::{Database, repository_error, write_transaction};

use crate::schema::{webhook_deliveries, webhook_endpoints};
use crate::{Attempt, Delivery, Endpoint, WebhookStore};

type EndpointRow = (i64, String, String, String, NaiveDateTime);

fn endpoint((id, url, secret, events, created_at): EndpointRow) -> Endpoint {
    Endpoint { id, url, secret, events: serde_json::from_str(&events).unwrap_or_default(), created_at }
}

const ENDPOINT_COLUMNS: (
    webhook_endpoints::id,
    webhook_endpoints::url,
    webhook_endpoints::secret,
    webhook_endpoints::events,
    webhook_endpoints::created_at,
) = (
    webhook_endpoints::id,
    webhook_endpoints::url,
    webhook_endpoints::secret,
    webhook_endpoints::events,
    webhook_endpoints::created_at,
);

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
struct DeliveryRow {
    id: i64,
    endpoint_id: i64,
    event_id: String,
    event_type: String,
    state: String,
    attempts: i32,
    last_status: Option<i32>,
    last_error: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl WebhookStore for Database {
    fn create_endpoint(
        &self,
        url: &str,
        secret: &str,
        events: &[String],
        now: NaiveDateTime,
    ) -> Result<Endpoint, RepositoryError> {
        let mut conn = self.connection()?;
        let events_json =
            serde_json::to_string(events).map_err(|e| RepositoryError::Internal(e.to_string()))?;
        let id: i64 = diesel::insert_into(webhook_endpoints::table)
            .values((
                webhook_endpoints::url.eq(url),
                webhook_endpoints::secret.eq(secret),
                webhook_endpoints::events.eq(&events_json),
                webhook_endpoints::created_at.eq(now),
            ))
            .returning(webhook_endpoints::id)
            .get_result(&mut *conn)
            .map_err(repository_error)?;
        Ok(Endpoint {
            id,
            url: url.to_owned(),
            secret: secret.to_owned(),
            events: events.to_vec(),
            created_at: now,
        })
    }

    fn endpoints(&self) -> Result<Vec<Endpoint>, RepositoryError> {
        let mut conn = self.connection()?;
        let rows: Vec<EndpointRow> = webhook_endpoints::table
            .order(webhook_endpoints::id)
            .select(ENDPOINT_COLUMNS)
            .load(&mut *conn)
            .map_err(repository_error)?;
        Ok(rows.into_iter().map(endpoint).collect())
    }

    fn endpoint(&self, id: i64) -> Result<Option<Endpoint>, RepositoryError> {
        let mut conn = self.connection()?;
        let row: Option<EndpointRow> = webhook_endpoints::table
            .find(id)
            .select(ENDPOINT_COLUMNS)
            .first(&mut *conn)
            .optional()
            .map_err(repository_error)?;
        Ok(row.map(endpoint))
    }

    fn delete_endpoint(&self, id: i64) -> Result<bool, RepositoryError> {
        let mut conn = self.connection()?;
        write_transaction(&mut conn, |conn| {
            diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(id)))
                .execute(conn)?;
            diesel::delete(webhook_endpoints::table.find(id)).execute(conn).map(|n| n == 1)
        })
        .map_err(repository_error)
    }

    fn record_attempt(&self, attempt: &Attempt<'_>, now: NaiveDateTime) -> Result<(), RepositoryError> {
        let mut conn = self.connection()?;
        let attempts = i32::try_from(attempt.attempt).unwrap_or(i32::MAX);
        let status = attempt.status.map(i32::from);
        let error: Option<String> = attempt.error.map(|e| e.chars().take(2000).collect());
        write_transaction(&mut conn, |conn| {
            let updated = diesel::update(
                webhook_deliveries::table
                    .filter(webhook_deliveries::endpoint_id.eq(attempt.endpoint_id))
                    .filter(webhook_deliveries::event_id.eq(attempt.event_id)),
            )
            .set((
                webhook_deliveries::state.eq(attempt.state),
                webhook_deliveries::attempts.eq(attempts),
                webhook_deliveries::last_status.eq(status),
                webhook_deliveries::last_error.eq(&error),
                webhook_deliveries::updated_at.eq(now),
            ))
            .execute(conn)?;
            if updated == 0 {
                diesel::insert_into(webhook_deliveries::table)
                    .values((
                        webhook_deliveries::endpoint_id.eq(attempt.endpoint_id),
                        webhook_deliveries::event_id.eq(attempt.event_id),
                        webhook_deliveries::event_type.eq(attempt.event_type),
                        webhook_deliveries::state.eq(attempt.state),
                        webhook_deliveries::attempts.eq(attempts),
                        webhook_deliveries::last_status.eq(status),
                        webhook_deliveries::last_error.eq(&error),
                        webhook_deliveries::created_at.eq(now),
                        webhook_deliveries::updated_at.eq(now),
                    ))
                    .execute(conn)?;
            }
            Ok(())
        })
        .map_err(repository_error)
    }

    fn deliveries(&self, endpoint_id: i64, page: PageRequest) -> Result<Page<Delivery>, RepositoryError> {
        let mut conn = self.connection()?;
        let total = if page.with_total {
            let count: i64 = webhook_deliveries::table
                .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
                .count()
                .get_result(&mut *conn)
                .map_err(repository_error)?;
            Some(u64::try_from(count).unwrap_or_default())
        } else {
            None
        };
        // One row past the page says whether another follows.
        let mut rows: Vec<DeliveryRow> = webhook_deliveries::table
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .order(webhook_deliveries::id.desc())
            .limit(i64::from(page.limit) + 1)
            .offset(i64::try_from(page.offset).unwrap_or(i64::MAX))
            .select(DeliveryRow::as_select())
            .load(&mut *conn)
            .map_err(repository_error)?;
        let has_more = rows.len() > page.limit as usize;
        rows.truncate(page.limit as usize);
        let items = rows
            .into_iter()
            .map(|row| Delivery {
                id: row.id,
                endpoint_id: row.endpoint_id,
                event_id: row.event_id,
                event_type: row.event_type,
                state: row.state,
                attempts: u32::try_from(row.attempts).unwrap_or_default(),
                last_status: row.last_status.and_then(|s| u16::try_from(s).ok()),
                last_error: row.last_error,
                created_at: row.created_at,
                updated_at: row.updated_at,
            })
            .collect();
        Ok(Page { items, has_more, total })
    }
}
