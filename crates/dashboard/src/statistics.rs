//! `/statistics/`: the original's report (firefighter-core.md §3.6) over the incidents the list's
//! filters select: by priority, the age of those not closed (each count a link to them), the time to
//! fix, and charts by priority, by group and by status, drawn as SVG by the server. The arithmetic
//! is `incidents_core::statistics`'.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{NaiveDateTime, TimeDelta};
use dashboard_templates::{Bar, Chart, CountLine, StatLine, StatisticsPage};
use incidents_core::IncidentStatus;
use incidents_core::access::Action;
use incidents_core::query::IncidentQueries as _;
use incidents_core::statistics::{AGE_BUCKETS, PriorityCounts, Statistics, TTR_BUCKETS};

use crate::State;
use crate::pages::{encode, filters, query_without_offset};
use crate::render::{html, respond, visitor};

pub(crate) fn configure(routes: &mut web::ServiceConfig) {
    routes.service(web::resource("/statistics").route(web::get().to(statistics)));
}

fn line(counts: &PriorityCounts) -> StatLine {
    StatLine {
        label: counts.priority.name.clone(),
        total: counts.total,
        opened: counts.opened,
        closed: counts.closed,
        closed_percent: format!("{:.1}", counts.closed_percent),
    }
}

fn chart(id: &str, title: &str, bars: Vec<(String, u64)>) -> Chart {
    let longest = bars.iter().map(|(_, count)| *count).max().unwrap_or_default().max(1);
    Chart {
        id: id.to_owned(),
        title: title.to_owned(),
        bars: bars
            .into_iter()
            .filter(|(_, count)| *count > 0)
            .map(|(label, count)| Bar { label, count, width: count * 100 / longest })
            .collect(),
    }
}

/// The list's address for the incidents of `priority` not closed and declared in an age bucket.
fn age_link(priority: &str, (from_days, to_days): (i64, Option<i64>), now: NaiveDateTime) -> String {
    let at = |days: i64| (now - TimeDelta::days(days)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut pairs = vec![
        ("priority".to_owned(), priority.to_owned()),
        ("status__lt".to_owned(), IncidentStatus::Closed.value().to_string()),
        ("created_at__lte".to_owned(), at(from_days)),
    ];
    if let Some(to_days) = to_days {
        pairs.push(("created_at__gt".to_owned(), at(to_days)));
    }
    format!("/incident/?{}", encode(&pairs))
}

fn page_of(
    stats: &Statistics,
    now: NaiveDateTime,
) -> (StatLine, Vec<StatLine>, Vec<CountLine>, Vec<CountLine>, Vec<Chart>) {
    let totals = StatLine {
        label: "Total".to_owned(),
        total: stats.totals.total,
        opened: stats.totals.opened,
        closed: stats.totals.closed,
        closed_percent: format!("{:.1}", stats.totals.closed_percent),
    };
    let age = stats
        .age_by_priority
        .iter()
        .map(|row| CountLine {
            label: row.priority.name.clone(),
            total: row.counts.iter().sum(),
            cells: row
                .counts
                .iter()
                .zip(AGE_BUCKETS)
                .map(|(count, (_, from, to))| {
                    (*count, String::new(), age_link(&row.priority.id, (from, to), now))
                })
                .collect(),
        })
        .collect();
    let ttr = stats
        .time_to_fix_by_priority
        .iter()
        .map(|row| CountLine {
            label: row.priority.name.clone(),
            total: row.total,
            cells: row
                .counts
                .iter()
                .zip(&row.percents)
                .map(|(count, percent)| (*count, format!("{percent:.1}"), String::new()))
                .collect(),
        })
        .collect();
    let charts = vec![
        chart(
            "chart-priority",
            "Incidents by priority",
            stats.by_priority.iter().map(|p| (p.priority.name.clone(), p.total)).collect(),
        ),
        chart(
            "chart-group",
            "Incidents by group",
            stats.by_group.iter().map(|(g, n)| (g.clone(), *n)).collect(),
        ),
        chart("chart-status", "Incidents by status", stats.by_status.clone()),
    ];
    (totals, stats.by_priority.iter().map(line).collect(), age, ttr, charts)
}

async fn statistics(request: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let result = async {
        let visitor = visitor(&request, &state, None).await?;
        visitor.require(Action::View, "see incidents")?;
        let tz = state.context.config.time_zone;
        let pairs = query_without_offset(request.query_string());
        let now = incidents_core::clock::now();
        let (stats, error) = match http_api::incidents::parse_list_query(request.query_string(), tz) {
            Ok(mut query) => {
                query.filter.visible_to = visitor.principal.visibility();
                let database = state.context.database.clone();
                (web::block(move || database.statistics(&query.filter, now)).await??, None)
            }
            Err(error) => (Statistics::compute(&[], &[], now), Some(error.to_string())),
        };
        let (totals, by_priority, age, ttr, charts) = page_of(&stats, now);
        html(&StatisticsPage {
            layout: visitor.layout(&state, "Statistics", "statistics"),
            filters: filters(&state, &pairs).await?,
            query: encode(&pairs),
            error,
            totals,
            by_priority,
            age_headers: AGE_BUCKETS.iter().map(|(label, _, _)| (*label).to_owned()).collect(),
            age,
            ttr_headers: TTR_BUCKETS
                .iter()
                .map(|(label, _)| (*label).to_owned())
                .chain(["≥ 1 day".to_owned()])
                .collect(),
            ttr,
            charts,
        })
    }
    .await;
    respond(&request, result)
}
