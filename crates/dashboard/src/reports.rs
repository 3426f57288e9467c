//! Reports: `/incident-category/` (every category's incidents, downtime and MTBF over a period, in
//! the date-range language of the incident filters) and `/incident-category/<id>/`.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDateTime, TimeDelta};
use dashboard_templates::{CategoriesPage, CategoryPage, CategoryRow};
use incidents_core::access::Action;
use incidents_core::query::{CategoryView, IncidentQueries as _};
use incidents_core::statistics::CategoryMtbf;
use serde::Deserialize;

use crate::State;
use crate::render::{PageError, html, respond, visitor};

/// The period shown when none is asked for.
const DEFAULT_DAYS: i64 = 90;

pub(crate) fn configure(routes: &mut web::ServiceConfig) {
    routes
        .service(web::resource("/incident-category").route(web::get().to(categories)))
        .service(web::resource("/incident-category/{id}").route(web::get().to(category)));
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Query {
    search: String,
    metrics_period: String,
}

/// Now, rounded up to the next minute: a period that runs to now stays the same for a minute, so its
/// downtimes are counted once (storage keeps them while no incident changes), not on every view, and
/// it still holds the incidents of the last seconds.
fn minute() -> NaiveDateTime {
    use chrono::Timelike as _;
    let now = incidents_core::clock::now();
    now.with_second(0)
        .and_then(|at| at.with_nanosecond(0))
        .map_or(now, |minute| minute + TimeDelta::minutes(1))
}

/// The period asked for (or the default), its label, and why the one asked for was refused.
struct Period {
    start: NaiveDateTime,
    end: NaiveDateTime,
    label: String,
    error: Option<String>,
}

fn period(text: &str, tz: chrono_tz::Tz) -> Period {
    let now = minute();
    let default = |error| Period {
        start: now - TimeDelta::days(DEFAULT_DAYS),
        end: now,
        label: format!("the last {DEFAULT_DAYS} days"),
        error,
    };
    match incidents_core::date_range::parse_date_range(text, now, tz) {
        // The uptime runs to now at most: the future has no incidents yet.
        Ok(Some(range)) if range.start < now => {
            Period { start: range.start, end: range.end.min(now), label: text.trim().to_owned(), error: None }
        }
        Ok(Some(_)) => default(Some("That period has not begun yet.".to_owned())),
        Ok(None) => default(None),
        Err(error) => default(Some(error.to_string())),
    }
}

fn row(category: &CategoryView, record: Option<&CategoryMtbf>) -> CategoryRow {
    CategoryRow {
        id: category.id.clone(),
        name: category.name.clone(),
        group: category.group.name.clone(),
        private: category.private,
        incidents: record.map_or(0, |r| i64::try_from(r.incident_count).unwrap_or(i64::MAX)),
        downtime: record.and_then(|r| r.downtime_micros).map(crate::pages::duration).unwrap_or_default(),
        mtbf: record
            .and_then(|r| r.mtbf_seconds)
            .map(|seconds| crate::pages::duration(seconds.saturating_mul(1_000_000)))
            .unwrap_or_default(),
    }
}

/// Every category (matching `search`) and each one's record over the period.
async fn load(
    state: &State,
    search: Option<String>,
    period: &Period,
) -> Result<(Vec<CategoryView>, Vec<CategoryMtbf>), PageError> {
    let database = state.context.database.clone();
    let (start, end) = (period.start, period.end);
    web::block(move || -> Result<_, PageError> {
        Ok((database.categories(search.as_deref())?, database.category_mtbf(start, end, minute())?))
    })
    .await?
}

async fn categories(request: HttpRequest, state: web::Data<State>, query: web::Query<Query>) -> HttpResponse {
    let result = async {
        let visitor = visitor(&request, &state, None).await?;
        visitor.require(Action::View, "see incidents")?;
        let query = query.into_inner();
        let period = period(&query.metrics_period, state.context.config.time_zone);
        let search = Some(query.search.trim().to_owned()).filter(|s| !s.is_empty());
        let (categories, records) = load(&state, search, &period).await?;
        let rows = categories
            .iter()
            .map(|category| row(category, records.iter().find(|r| r.category_id == category.id)))
            .collect();
        html(&CategoriesPage {
            layout: visitor.layout(&state, "Incident categories", "categories"),
            period: query.metrics_period.trim().to_owned(),
            period_label: period.label.clone(),
            period_error: period.error.clone(),
            search: query.search,
            rows,
        })
    }
    .await;
    respond(&request, result)
}

async fn category(
    request: HttpRequest,
    state: web::Data<State>,
    id: web::Path<String>,
    query: web::Query<Query>,
) -> HttpResponse {
    let result = async {
        let visitor = visitor(&request, &state, None).await?;
        visitor.require(Action::View, "see incidents")?;
        let query = query.into_inner();
        let period = period(&query.metrics_period, state.context.config.time_zone);
        let (categories, records) = load(&state, None, &period).await?;
        let id = id.into_inner();
        let category = categories.iter().find(|c| c.id == id).ok_or(PageError::NotFound)?;
        let siblings = categories
            .iter()
            .filter(|c| c.group.id == category.group.id && c.id != category.id)
            .map(|c| (c.id.clone(), c.name.clone()))
            .collect();
        let title = format!("{} Incident Category", category.name);
        let (database, catalog, target) =
            (state.context.database.clone(), state.context.catalog.clone(), category.id.clone());
        let linked = web::block(move || -> Result<_, PageError> {
            let Some(categories) = catalog.get("incident-categories") else { return Ok(Vec::new()) };
            Ok(database
                .backoffice_linked_to(&catalog, categories, &target)?
                .into_iter()
                .map(|(model, rows)| {
                    (model.plural.to_owned(), rows.into_iter().map(|(_, title)| title).collect())
                })
                .collect())
        })
        .await??;
        let user = &visitor.principal.user;
        let edit_url = (user.is_staff || user.is_superuser)
            .then(|| format!("/admin/incident-categories/{}/", category.id));
        html(&CategoryPage {
            layout: visitor.layout(&state, &title, "categories"),
            row: row(category, records.iter().find(|r| r.category_id == category.id)),
            description: category.description.clone(),
            deploy_warning: category.deploy_warning,
            period: query.metrics_period.trim().to_owned(),
            period_label: period.label,
            siblings,
            linked,
            edit_url,
        })
    }
    .await;
    respond(&request, result)
}
