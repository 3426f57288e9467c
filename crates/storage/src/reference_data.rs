//! Seeding and reading the reference data.
//!
//! Seeding inserts what is missing, matched by natural key, and never updates a row. Child rows
//! (impact levels, categories) are seeded together with a parent the seed creates: once an operator
//! has edited an impact matrix or a group, a later seed leaves it alone.

use chrono::NaiveDateTime;
use diesel::dsl::exists;
use diesel::prelude::*;
use incidents_core::reference::{
    CostTypeDefinition, EnvironmentDefinition, GroupDefinition, ImpactTypeDefinition, KeyEventTypeDefinition,
    MetricTypeDefinition, PriorityDefinition, RoleTypeDefinition,
};
use incidents_core::{ReferenceData, ReferenceDataRepository, RepositoryError, SeedReport};

use crate::connection::{Database, DbConnection, write_transaction};
use crate::error::repository_error;
use crate::schema::{
    category_groups, environments, impact_levels, impact_types, incident_categories, incident_cost_types,
    incident_role_types, key_event_types, metric_types, priorities,
};
use crate::{now, postgres_transaction_lock, seconds, uuid_text};

impl ReferenceDataRepository for Database {
    fn seed(&self, data: &ReferenceData) -> Result<SeedReport, RepositoryError> {
        let mut conn = self.connection()?;
        let report = write_transaction(&mut conn, |conn| {
            postgres_transaction_lock(conn, SEED_LOCK_KEY)?;
            let now = now();
            let mut report = SeedReport {
                priorities: seed_priorities(conn, &data.priorities, now)?,
                environments: seed_environments(conn, &data.environments, now)?,
                role_types: seed_role_types(conn, &data.role_types)?,
                key_event_types: seed_key_event_types(conn, &data.key_event_types)?,
                metric_types: 0,
                cost_types: seed_cost_types(conn, &data.cost_types, now)?,
                ..SeedReport::default()
            };
            report.metric_types = seed_metric_types(conn, &data.metric_types)?;
            (report.impact_types, report.impact_levels) = seed_impact_types(conn, &data.impact_types)?;
            (report.groups, report.categories) = seed_groups(conn, &data.groups, now)?;
            Ok(report)
        })
        .map_err(repository_error);
        self.references().invalidate();
        report
    }

    fn reference_data_is_empty(&self) -> Result<bool, RepositoryError> {
        let mut conn = self.connection()?;
        let count: i64 = priorities::table.count().get_result(&mut *conn).map_err(repository_error)?;
        Ok(count == 0)
    }
}

/// Serialises concurrent seeds (several servers starting at once on one PostgreSQL database).
const SEED_LOCK_KEY: i64 = 0x4646_5345_4544; // "FFSEED"

/// `wanted` when free, otherwise one past the highest order in use.
fn free_order(taken: &[i32], wanted: i32) -> i32 {
    if taken.contains(&wanted) { taken.iter().max().map_or(wanted, |max| max + 1) } else { wanted }
}

#[derive(Insertable)]
#[diesel(table_name = priorities)]
struct NewPriority<'a> {
    id: String,
    name: &'a str,
    value: i32,
    emoji: &'a str,
    description: &'a str,
    sort_order: i32,
    is_default: bool,
    needs_postmortem: bool,
    enabled_create: bool,
    enabled_update: bool,
    reminder_time_seconds: i64,
    sla_seconds: i64,
    recommended_response_type: Option<&'a str>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

fn seed_priorities(
    conn: &mut DbConnection,
    defs: &[PriorityDefinition],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let mut inserted = 0;
    for def in defs {
        let present = diesel::select(exists(
            priorities::table.filter(priorities::name.eq(def.name).or(priorities::value.eq(def.value))),
        ))
        .get_result::<bool>(conn)?;
        if present {
            continue;
        }
        let taken: Vec<i32> = priorities::table.select(priorities::sort_order).load(conn)?;
        let has_default = diesel::select(exists(priorities::table.filter(priorities::is_default.eq(true))))
            .get_result::<bool>(conn)?;
        diesel::insert_into(priorities::table)
            .values(NewPriority {
                id: uuid_text(),
                name: def.name,
                value: def.value,
                emoji: def.emoji,
                description: def.description,
                sort_order: free_order(&taken, def.order),
                is_default: def.is_default && !has_default,
                needs_postmortem: def.needs_postmortem,
                enabled_create: def.enabled_create,
                enabled_update: def.enabled_update,
                reminder_time_seconds: seconds(def.reminder_time),
                sla_seconds: seconds(def.sla),
                recommended_response_type: None,
                created_at: now,
                updated_at: now,
            })
            .execute(conn)?;
        inserted += 1;
    }
    Ok(inserted)
}

#[derive(Insertable)]
#[diesel(table_name = environments)]
struct NewEnvironment<'a> {
    id: String,
    value: &'a str,
    name: &'a str,
    description: &'a str,
    sort_order: i32,
    is_default: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

fn seed_environments(
    conn: &mut DbConnection,
    defs: &[EnvironmentDefinition],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let mut inserted = 0;
    for def in defs {
        let present = diesel::select(exists(
            environments::table.filter(
                environments::value
                    .eq(def.value)
                    .or(environments::name.eq(def.name))
                    .or(environments::description.eq(def.description)),
            ),
        ))
        .get_result::<bool>(conn)?;
        if present {
            continue;
        }
        let has_default =
            diesel::select(exists(environments::table.filter(environments::is_default.eq(true))))
                .get_result::<bool>(conn)?;
        diesel::insert_into(environments::table)
            .values(NewEnvironment {
                id: uuid_text(),
                value: def.value,
                name: def.name,
                description: def.description,
                sort_order: def.order,
                is_default: def.is_default && !has_default,
                created_at: now,
                updated_at: now,
            })
            .execute(conn)?;
        inserted += 1;
    }
    Ok(inserted)
}

fn seed_role_types(conn: &mut DbConnection, defs: &[RoleTypeDefinition]) -> QueryResult<usize> {
    let mut inserted = 0;
    for def in defs {
        if diesel::select(exists(incident_role_types::table.filter(incident_role_types::slug.eq(def.slug))))
            .get_result::<bool>(conn)?
        {
            continue;
        }
        diesel::insert_into(incident_role_types::table)
            .values((
                incident_role_types::slug.eq(def.slug),
                incident_role_types::name.eq(def.name),
                incident_role_types::emoji.eq(def.emoji),
                incident_role_types::required.eq(def.required),
                incident_role_types::sort_order.eq(def.order),
                incident_role_types::summary.eq(def.summary),
                incident_role_types::summary_first_person.eq(Some(def.summary_first_person)),
                incident_role_types::description.eq(def.description),
                incident_role_types::aka.eq(def.aka),
            ))
            .execute(conn)?;
        inserted += 1;
    }
    Ok(inserted)
}

fn seed_key_event_types(conn: &mut DbConnection, defs: &[KeyEventTypeDefinition]) -> QueryResult<usize> {
    let mut inserted = 0;
    for def in defs {
        if diesel::select(exists(
            key_event_types::table.filter(key_event_types::event_type.eq(def.event_type)),
        ))
        .get_result::<bool>(conn)?
        {
            continue;
        }
        diesel::insert_into(key_event_types::table)
            .values((
                key_event_types::event_type.eq(def.event_type),
                key_event_types::name.eq(def.name),
                key_event_types::summary.eq(def.summary),
                key_event_types::description.eq((!def.description.is_empty()).then_some(def.description)),
                key_event_types::user_editable.eq(def.user_editable),
                key_event_types::required.eq(def.required),
                key_event_types::asked_for.eq(def.asked_for),
            ))
            .execute(conn)?;
        inserted += 1;
    }
    Ok(inserted)
}

fn seed_metric_types(conn: &mut DbConnection, defs: &[MetricTypeDefinition]) -> QueryResult<usize> {
    let mut inserted = 0;
    for def in defs {
        let present = diesel::select(exists(
            metric_types::table.filter(metric_types::code.eq(def.code).or(metric_types::slug.eq(def.slug))),
        ))
        .get_result::<bool>(conn)?;
        if present {
            continue;
        }
        let event_id = |conn: &mut DbConnection, event_type: &str| -> QueryResult<Option<i64>> {
            key_event_types::table
                .filter(key_event_types::event_type.eq(event_type))
                .select(key_event_types::id)
                .first(conn)
                .optional()
        };
        let (Some(end), Some(start)) = (event_id(conn, def.end_event)?, event_id(conn, def.start_event)?)
        else {
            tracing::warn!(metric = def.code, "metric not seeded: one of its key events does not exist");
            continue;
        };
        diesel::insert_into(metric_types::table)
            .values((
                metric_types::code.eq(def.code),
                metric_types::slug.eq(def.slug),
                metric_types::name.eq(def.name),
                metric_types::description.eq(def.description),
                metric_types::end_event_type_id.eq(end),
                metric_types::start_event_type_id.eq(start),
            ))
            .execute(conn)?;
        inserted += 1;
    }
    Ok(inserted)
}

fn seed_impact_types(conn: &mut DbConnection, defs: &[ImpactTypeDefinition]) -> QueryResult<(usize, usize)> {
    let (mut types, mut levels) = (0, 0);
    for def in defs {
        if diesel::select(exists(impact_types::table.filter(impact_types::value.eq(def.value))))
            .get_result::<bool>(conn)?
        {
            continue;
        }
        let impact_type_id: i64 = diesel::insert_into(impact_types::table)
            .values((
                impact_types::value.eq(def.value),
                impact_types::name.eq(def.name),
                impact_types::emoji.eq(def.emoji),
                impact_types::help_text.eq(def.help_text),
                impact_types::sort_order.eq(def.order),
            ))
            .returning(impact_types::id)
            .get_result(conn)?;
        types += 1;
        for level in &def.levels {
            diesel::insert_into(impact_levels::table)
                .values((
                    impact_levels::id.eq(uuid_text()),
                    impact_levels::impact_type_id.eq(impact_type_id),
                    impact_levels::value.eq(level.code.code()),
                    impact_levels::name.eq(Some(level.name)),
                    impact_levels::emoji.eq(level.emoji),
                    impact_levels::sort_order.eq(level.order),
                ))
                .execute(conn)?;
            levels += 1;
        }
    }
    Ok((types, levels))
}

fn seed_groups(
    conn: &mut DbConnection,
    defs: &[GroupDefinition],
    now: NaiveDateTime,
) -> QueryResult<(usize, usize)> {
    let (mut groups, mut categories) = (0, 0);
    for def in defs {
        if diesel::select(exists(category_groups::table.filter(category_groups::name.eq(def.name))))
            .get_result::<bool>(conn)?
        {
            continue;
        }
        let taken: Vec<i32> = category_groups::table.select(category_groups::sort_order).load(conn)?;
        let group_id = uuid_text();
        diesel::insert_into(category_groups::table)
            .values((
                category_groups::id.eq(&group_id),
                category_groups::name.eq(def.name),
                category_groups::description.eq(def.description),
                category_groups::sort_order.eq(free_order(&taken, def.order)),
                category_groups::created_at.eq(now),
                category_groups::updated_at.eq(now),
            ))
            .execute(conn)?;
        groups += 1;
        for category in &def.categories {
            diesel::insert_into(incident_categories::table)
                .values((
                    incident_categories::id.eq(uuid_text()),
                    incident_categories::group_id.eq(&group_id),
                    incident_categories::name.eq(category.name),
                    incident_categories::description.eq(category.description),
                    incident_categories::sort_order.eq(category.order),
                    incident_categories::private.eq(category.private),
                    incident_categories::deploy_warning.eq(category.deploy_warning),
                    incident_categories::created_at.eq(now),
                    incident_categories::updated_at.eq(now),
                ))
                .execute(conn)?;
            categories += 1;
        }
    }
    Ok((groups, categories))
}

fn seed_cost_types(
    conn: &mut DbConnection,
    defs: &[CostTypeDefinition],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let mut inserted = 0;
    for def in defs {
        if diesel::select(exists(incident_cost_types::table.filter(incident_cost_types::name.eq(def.name))))
            .get_result::<bool>(conn)?
        {
            continue;
        }
        diesel::insert_into(incident_cost_types::table)
            .values((
                incident_cost_types::name.eq(def.name),
                incident_cost_types::description.eq(Some(def.description)),
                incident_cost_types::category.eq(Some(def.category)),
                incident_cost_types::is_default.eq(def.is_default),
                incident_cost_types::editable.eq(true),
                incident_cost_types::created_at.eq(now),
                incident_cost_types::updated_at.eq(now),
            ))
            .execute(conn)?;
        inserted += 1;
    }
    Ok(inserted)
}
