//! Seeding the reference data, on every backend.

use diesel::prelude::*;
use firefighter_storage as storage;
use incidents_core::{ReferenceData, ReferenceDataRepository};
use storage::schema::{
    environments, impact_levels, impact_types, incident_role_types, metric_types, priorities,
};
use storage::testing::TestDatabase;

#[test]
fn seed_loads_the_defaults_once() {
    for test in TestDatabase::each_backend() {
        let backend = test.backend();
        let database = &test.database;
        assert!(database.reference_data_is_empty().unwrap_or(false), "{backend:?}");

        let first = database.seed(&ReferenceData::defaults()).unwrap_or_else(|e| panic!("{backend:?}: {e}"));
        assert_eq!(first.priorities, 6, "{backend:?}");
        assert_eq!(first.environments, 3, "{backend:?}");
        assert_eq!(first.role_types, 2, "{backend:?}");
        assert_eq!(first.key_event_types, 6, "{backend:?}");
        assert_eq!(first.metric_types, 7, "{backend:?}");
        assert_eq!(first.impact_types, 4, "{backend:?}");
        assert_eq!(first.impact_levels, 20, "{backend:?}");
        assert!(first.groups >= 3 && first.categories >= first.groups, "{backend:?}");
        assert!(!database.reference_data_is_empty().unwrap_or(true), "{backend:?}");

        let second = database.seed(&ReferenceData::defaults()).unwrap_or_else(|e| panic!("{backend:?}: {e}"));
        assert_eq!(second.total(), 0, "{backend:?}: a second seed changes nothing");

        let mut conn = database.connection().unwrap_or_else(|e| panic!("{e}"));
        let rows: Vec<(String, i32, i64, bool, bool)> = priorities::table
            .order(priorities::sort_order)
            .select((
                priorities::name,
                priorities::value,
                priorities::sla_seconds,
                priorities::is_default,
                priorities::needs_postmortem,
            ))
            .load(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            rows,
            vec![
                ("P1".into(), 1, 7_200, false, true),
                ("P2".into(), 2, 14_400, false, true),
                ("P3".into(), 3, 86_400, false, false),
                ("P4".into(), 4, 432_000, true, false),
                ("P5".into(), 5, 864_000, false, false),
                ("GAMEDAY".into(), 20, 3_600, false, false),
            ],
            "{backend:?}"
        );
        let default_env: String = environments::table
            .filter(environments::is_default.eq(true))
            .select(environments::value)
            .first(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(default_env, "PRD");
        let required: Vec<String> = incident_role_types::table
            .filter(incident_role_types::required.eq(true))
            .select(incident_role_types::slug)
            .load(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(required, vec!["commander".to_owned()]);
        let employee_levels: Vec<String> = impact_levels::table
            .inner_join(impact_types::table)
            .filter(impact_types::value.eq("employees_impact"))
            .order(impact_levels::sort_order.desc())
            .select(impact_levels::value)
            .load(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(employee_levels, vec!["MD", "LO", "LT", "NO"], "{backend:?}: employees cap at P3");
        let ttf: i64 = metric_types::table
            .filter(metric_types::slug.eq("time_to_fix"))
            .count()
            .get_result(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ttf, 1);
    }
}

#[test]
fn seed_never_overwrites_an_operators_edit() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let mut conn = test.database.connection().unwrap_or_else(|e| panic!("{e}"));
        diesel::update(priorities::table.filter(priorities::name.eq("P1")))
            .set(priorities::description.eq("Edited by an operator"))
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        diesel::delete(priorities::table.filter(priorities::name.eq("GAMEDAY")))
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        drop(conn);

        let report = test.database.seed(&ReferenceData::defaults()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.priorities, 1, "{:?}: only the deleted GAMEDAY comes back", test.backend());

        let mut conn = test.database.connection().unwrap_or_else(|e| panic!("{e}"));
        let description: String = priorities::table
            .filter(priorities::name.eq("P1"))
            .select(priorities::description)
            .first(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(description, "Edited by an operator");
    }
}

#[test]
fn concurrent_seeds_insert_everything_exactly_once() {
    for test in TestDatabase::each_backend() {
        let reports: Vec<usize> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| test.database.seed(&ReferenceData::defaults()).map(|r| r.total())))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| panic!("seed thread panicked")))
                .collect::<Result<_, _>>()
        })
        .unwrap_or_else(|e| panic!("{:?}: {e}", test.backend()));
        let first = ReferenceData::defaults();
        let expected = first.priorities.len()
            + first.environments.len()
            + first.role_types.len()
            + first.key_event_types.len()
            + first.metric_types.len()
            + first.impact_types.len()
            + first.impact_types.iter().map(|t| t.levels.len()).sum::<usize>()
            + first.groups.len()
            + first.groups.iter().map(|g| g.categories.len()).sum::<usize>()
            + first.cost_types.len();
        assert_eq!(reports.iter().sum::<usize>(), expected, "{:?}: {reports:?}", test.backend());
    }
}
