//! The read side on both backends: one incident with its relations, the filters of reference §3.2,
//! full-text search, ordering and stable pages.
#![expect(clippy::expect_used, reason = "test helpers fail the test loudly")]

use firefighter_storage as storage;
use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use incidents_core::date_range::DateRange;
use incidents_core::incident::{CostInput, DeclareIncident, PriorityChoice, UpdateIncident};
use incidents_core::query::{IncidentFilter, IncidentQueries, OrderBy, OrderField, PageRequest};
use incidents_core::{
    Actor, Email, EntryPoint, IncidentId, IncidentLifecycle, IncidentStatus, NewUser, NoPostMortemBackend,
    UserId, UserRepository,
};
use storage::Database;
use storage::schema::{category_groups, environments, incident_categories, incident_cost_types, priorities};
use storage::testing::TestDatabase;

struct Fixture {
    test: TestDatabase,
    ids: HashMap<&'static str, IncidentId>,
    alice: UserId,
    bob: UserId,
    priority: HashMap<String, String>,
    environment: HashMap<String, String>,
    category: HashMap<String, String>,
    group: HashMap<String, String>,
}

fn user(database: &Database, email: &str) -> UserId {
    database
        .create_user(&NewUser {
            email: Email::parse(email).expect("email"),
            name: String::new(),
            is_admin: false,
            password_hash: None,
        })
        .expect("user")
        .id
}

/// Four incidents:
/// - "checkout": P1, PRD, Checkout (Marketplace), by alice, Mitigated
/// - "database": P3, STG, Database Problem (Platform), by bob, Open, mentions "replica lag"
/// - "network": P4, PRD, Network Issues (Platform), by alice, Closed early
/// - "ignored": P5, INT, Search (Marketplace), by bob, ignored
fn fixture(test: TestDatabase) -> Fixture {
    let test = test.seeded();
    let database = test.database.clone();
    let alice = user(&database, "alice@example.com");
    let bob = user(&database, "bob@example.com");
    let mut conn = database.connection().expect("connection");
    let priority: HashMap<String, String> = priorities::table
        .select((priorities::name, priorities::id))
        .load::<(String, String)>(&mut conn)
        .expect("p")
        .into_iter()
        .collect();
    let environment: HashMap<String, String> = environments::table
        .select((environments::value, environments::id))
        .load::<(String, String)>(&mut conn)
        .expect("e")
        .into_iter()
        .collect();
    let category: HashMap<String, String> = incident_categories::table
        .select((incident_categories::name, incident_categories::id))
        .load::<(String, String)>(&mut conn)
        .expect("c")
        .into_iter()
        .collect();
    let group: HashMap<String, String> = category_groups::table
        .select((category_groups::name, category_groups::id))
        .load::<(String, String)>(&mut conn)
        .expect("g")
        .into_iter()
        .collect();
    drop(conn);
    let service = IncidentLifecycle::new(database.clone(), NoPostMortemBackend);
    let declare =
        |who: UserId, title: &str, description: &str, p: &str, env: &str, cat: &str, ignored: bool| {
            service
                .declare(
                    Actor { user: who, entry_point: EntryPoint::Api },
                    &DeclareIncident {
                        title: title.into(),
                        description: description.into(),
                        priority: PriorityChoice::Given(priority[p].clone()),
                        category_id: category[cat].clone(),
                        environment_id: environment[env].clone(),
                        private: None,
                        dedup_key: None,
                        ignored,
                        custom_fields: serde_json::Map::new(),
                        created_by: None,
                    },
                )
                .expect("declare")
                .id()
        };
    let mut ids = HashMap::new();
    ids.insert(
        "checkout",
        declare(
            alice,
            "Checkout payments failing",
            "Card payments time out at the gateway.",
            "P1",
            "PRD",
            "Checkout",
            false,
        ),
    );
    ids.insert(
        "database",
        declare(
            bob,
            "Orders page slow",
            "Primary database replica lag above 30 s.",
            "P3",
            "STG",
            "Database Problem",
            false,
        ),
    );
    ids.insert(
        "network",
        declare(
            alice,
            "Intermittent DNS errors",
            "Some resolvers fail for internal names.",
            "P4",
            "PRD",
            "Network Issues",
            false,
        ),
    );
    ids.insert(
        "ignored",
        declare(
            bob,
            "Search facets missing",
            "Facet counts are empty on category pages.",
            "P5",
            "INT",
            "Search",
            true,
        ),
    );
    let actor = Actor { user: alice, entry_point: EntryPoint::Web };
    for status in [IncidentStatus::Investigating, IncidentStatus::Mitigating, IncidentStatus::Mitigated] {
        service
            .update(
                actor,
                ids["checkout"],
                &UpdateIncident { status: Some(status), ..UpdateIncident::default() },
            )
            .expect("move");
    }
    service
        .update(
            actor,
            ids["network"],
            &UpdateIncident {
                status: Some(IncidentStatus::Closed),
                closure_reason: Some(incidents_core::ClosureReason::FalsePositive),
                message: Some("Resolver maintenance, announced".into()),
                ..UpdateIncident::default()
            },
        )
        .expect("close early");
    Fixture { test, ids, alice, bob, priority, environment, category, group }
}

impl Fixture {
    fn find(&self, filter: &IncidentFilter) -> Vec<IncidentId> {
        self.find_ordered(filter, OrderBy::default())
    }

    fn find_ordered(&self, filter: &IncidentFilter, order: OrderBy) -> Vec<IncidentId> {
        let page =
            self.test.database.incidents(filter, order, PageRequest::new(100, 0).counted()).expect("query");
        assert_eq!(page.total, Some(page.items.len() as u64));
        assert!(!page.has_more);
        page.items.into_iter().map(|incident| incident.id).collect()
    }

    fn set(&self, names: &[&str]) -> HashSet<IncidentId> {
        names.iter().map(|name| self.ids[name]).collect()
    }

    fn found(&self, filter: &IncidentFilter) -> HashSet<IncidentId> {
        self.find(filter).into_iter().collect()
    }
}

#[test]
fn one_incident_comes_with_its_relations() {
    for test in TestDatabase::each_backend() {
        let fixture = fixture(test);
        let database = &fixture.test.database;
        let service = IncidentLifecycle::new(database.clone(), NoPostMortemBackend);
        let actor = Actor { user: fixture.alice, entry_point: EntryPoint::Api };
        let revenue: i64 = incident_cost_types::table
            .filter(incident_cost_types::name.eq("Revenue loss"))
            .select(incident_cost_types::id)
            .first(&mut database.connection().expect("connection"))
            .expect("cost type");
        service
            .add_cost(
                actor,
                fixture.ids["checkout"],
                CostInput {
                    cost_type_id: revenue,
                    amount: Some("99.90".parse().expect("amount")),
                    currency: None,
                    details: None,
                },
            )
            .expect("cost");
        let incident = database.incident(fixture.ids["checkout"]).expect("query").expect("exists");
        assert_eq!(incident.status, IncidentStatus::Mitigated);
        assert_eq!(incident.priority.name, "P1");
        assert_eq!(incident.priority.sla_seconds, 7200);
        assert_eq!(incident.environment.value, "PRD");
        assert_eq!(incident.category.name, "Checkout");
        assert_eq!(incident.category.group.name, "Marketplace");
        assert_eq!(incident.created_by.email, "alice@example.com");
        assert_eq!(
            incident.roles.iter().map(|r| (r.slug.as_str(), r.user.id)).collect::<Vec<_>>(),
            vec![("commander", fixture.alice)]
        );
        assert_eq!(incident.metrics.iter().map(|m| m.slug.as_str()).collect::<Vec<_>>(), vec!["time_to_fix"]);
        assert_eq!(incident.costs.len(), 1);
        assert_eq!(incident.costs[0].amount.map(|a| a.to_string()), Some("99.90".into()));
        assert!(incident.mitigated_at.is_some());
        assert_eq!(database.incident(IncidentId(987_654)).expect("query"), None);

        let timeline =
            database.timeline(fixture.ids["checkout"], PageRequest::new(100, 0).counted()).expect("timeline");
        assert_eq!(timeline.total, Some(timeline.items.len() as u64));
        let statuses: Vec<Option<IncidentStatus>> =
            timeline.items.iter().map(|t| t.status).filter(Option::is_some).collect();
        assert_eq!(
            statuses,
            vec![
                Some(IncidentStatus::Open),
                Some(IncidentStatus::Investigating),
                Some(IncidentStatus::Mitigating),
                Some(IncidentStatus::Mitigated)
            ]
        );
        assert!(timeline.items.iter().all(|t| t.author.as_ref().is_some_and(|a| a.id == fixture.alice)));
        let second_page = database.timeline(fixture.ids["checkout"], PageRequest::new(2, 2)).expect("page");
        assert_eq!(second_page.items.len(), 2);
        assert!(second_page.has_more);
        assert_eq!(second_page.total, None, "counted only on request");
        assert!(second_page.has_more);
        assert_eq!(second_page.total, None, "counted only on request");
        assert_eq!(second_page.items[0].id, timeline.items[2].id);
    }
}

#[test]
fn filters_narrow_the_list() {
    for test in TestDatabase::each_backend() {
        let f = fixture(test);
        let backend = f.test.backend();
        let all = IncidentFilter::default();
        assert_eq!(
            f.find(&all),
            vec![f.ids["ignored"], f.ids["network"], f.ids["database"], f.ids["checkout"]],
            "{backend:?}: newest first"
        );
        let cases: Vec<(IncidentFilter, Vec<&str>)> = vec![
            (
                IncidentFilter {
                    status: vec![IncidentStatus::Open, IncidentStatus::Mitigated],
                    ..all.clone()
                },
                vec!["checkout", "database", "ignored"],
            ),
            (
                IncidentFilter { status_lt: Some(IncidentStatus::Closed), ..all.clone() },
                vec!["checkout", "database", "ignored"],
            ),
            (
                IncidentFilter { status_gte: Some(IncidentStatus::Mitigated), ..all.clone() },
                vec!["checkout", "network"],
            ),
            (
                IncidentFilter { environment: vec![f.environment["PRD"].clone()], ..all.clone() },
                vec!["checkout", "network"],
            ),
            (
                IncidentFilter { environment_value: vec!["STG".into(), "INT".into()], ..all.clone() },
                vec!["database", "ignored"],
            ),
            (
                IncidentFilter {
                    priority: vec![f.priority["P1"].clone(), f.priority["P3"].clone()],
                    ..all.clone()
                },
                vec!["checkout", "database"],
            ),
            (
                IncidentFilter { group: vec![f.group["Platform"].clone()], ..all.clone() },
                vec!["database", "network"],
            ),
            (IncidentFilter { category: vec![f.category["Search"].clone()], ..all.clone() }, vec!["ignored"]),
            (IncidentFilter { created_by: vec![f.bob], ..all.clone() }, vec!["database", "ignored"]),
            (IncidentFilter { id: vec![f.ids["network"]], ..all.clone() }, vec!["network"]),
            (IncidentFilter { id_gt: Some(f.ids["database"].0), ..all.clone() }, vec!["network", "ignored"]),
            (
                IncidentFilter { id_lte: Some(f.ids["database"].0), ..all.clone() },
                vec!["checkout", "database"],
            ),
            (IncidentFilter { ignored: Some(true), ..all.clone() }, vec!["ignored"]),
            (
                IncidentFilter {
                    ignored: Some(false),
                    priority: vec![f.priority["P5"].clone()],
                    ..all.clone()
                },
                vec![],
            ),
        ];
        for (filter, expected) in cases {
            assert_eq!(f.found(&filter), f.set(&expected), "{backend:?}: {filter:?}");
        }
        let now = incidents_core::clock::now();
        let past =
            DateRange { start: now - chrono::Duration::days(30), end: now - chrono::Duration::days(1) };
        assert!(f.find(&IncidentFilter { created_at: Some(past), ..all.clone() }).is_empty());
        let today =
            DateRange { start: now - chrono::Duration::hours(1), end: now + chrono::Duration::hours(1) };
        assert_eq!(f.find(&IncidentFilter { created_at: Some(today), ..all.clone() }).len(), 4);
        assert_eq!(
            f.find(&IncidentFilter { created_at_lt: Some(now - chrono::Duration::hours(1)), ..all }).len(),
            0
        );
    }
}

#[test]
fn full_text_search_matches_words_in_title_and_description() {
    for test in TestDatabase::each_backend() {
        let f = fixture(test);
        let backend = f.test.backend();
        let search =
            |term: &str| f.found(&IncidentFilter { search: Some(term.into()), ..IncidentFilter::default() });
        assert_eq!(search("checkout"), f.set(&["checkout"]), "{backend:?}: title");
        assert_eq!(search("replica"), f.set(&["database"]), "{backend:?}: description");
        assert_eq!(search("payments gateway"), f.set(&["checkout"]), "{backend:?}: every word must match");
        assert_eq!(search("payment"), f.set(&["checkout"]), "{backend:?}: stemmed");
        assert_eq!(search("kubernetes"), f.set(&[]));
        assert_eq!(
            search(&f.ids["network"].0.to_string()),
            f.set(&["network"]),
            "{backend:?}: a number is an id"
        );
        assert_eq!(search("\" OR 1=1 --"), f.set(&[]), "{backend:?}: hostile input is just words");
        assert_eq!(
            search("   "),
            f.set(&["checkout", "database", "network", "ignored"]),
            "blank search filters nothing"
        );
    }
}

#[test]
fn ordering_and_pages_are_stable() {
    for test in TestDatabase::each_backend() {
        let f = fixture(test);
        let backend = f.test.backend();
        let by = |field: OrderField, descending: bool| {
            f.find_ordered(&IncidentFilter::default(), OrderBy { field, descending })
        };
        assert_eq!(
            by(OrderField::Priority, false),
            vec![f.ids["checkout"], f.ids["database"], f.ids["network"], f.ids["ignored"]],
            "{backend:?}"
        );
        assert_eq!(
            by(OrderField::Title, false),
            vec![f.ids["checkout"], f.ids["network"], f.ids["database"], f.ids["ignored"]],
            "{backend:?}"
        );
        assert_eq!(
            by(OrderField::Title, true),
            vec![f.ids["ignored"], f.ids["database"], f.ids["network"], f.ids["checkout"]]
        );
        assert_eq!(
            by(OrderField::Id, false),
            vec![f.ids["checkout"], f.ids["database"], f.ids["network"], f.ids["ignored"]]
        );
        let by_creator = by(OrderField::CreatedBy, false);
        assert_eq!(
            by_creator,
            vec![f.ids["checkout"], f.ids["network"], f.ids["database"], f.ids["ignored"]],
            "{backend:?}: alice, then bob, ties by id"
        );

        let mut seen = Vec::new();
        for offset in (0..4).step_by(3) {
            let page = f
                .test
                .database
                .incidents(
                    &IncidentFilter::default(),
                    OrderBy::default(),
                    PageRequest::new(3, offset).counted(),
                )
                .expect("page");
            assert_eq!(page.total, Some(4));
            assert_eq!(page.has_more, offset == 0);
            seen.extend(page.items.into_iter().map(|i| i.id));
        }
        assert_eq!(seen, f.find(&IncidentFilter::default()), "{backend:?}: pages cover everything once");
        assert!(OrderBy::parse("-priority").is_ok_and(|o| o.descending && o.field == OrderField::Priority));
        assert!(OrderBy::parse("severity").is_err());
    }
}

#[test]
fn statistics_and_mtbf_follow_the_filter() {
    use incidents_core::query::IncidentQueries as _;
    for test in TestDatabase::each_backend() {
        let f = fixture(test);
        let backend = f.test.backend();
        let now = incidents_core::clock::now();
        let stats = f.test.database.statistics(&IncidentFilter::default(), now).expect("statistics");
        let by_priority: Vec<(&str, u64, u64)> =
            stats.by_priority.iter().map(|p| (p.priority.name.as_str(), p.total, p.closed)).collect();
        assert_eq!(by_priority, vec![("P1", 1, 0), ("P3", 1, 0), ("P4", 1, 1), ("P5", 1, 0)], "{backend:?}");
        assert_eq!((stats.totals.total, stats.totals.closed, stats.totals.closed_percent), (4, 1, 25.0));
        assert_eq!(stats.age_by_priority.len(), 6, "{backend:?}: every priority, GAMEDAY included");
        assert_eq!(stats.age_by_priority[0].counts[0], 1, "the P1 is open and new");
        assert_eq!(stats.time_to_fix_by_priority.len(), 0, "a fix under one second does not count");
        assert_eq!(stats.by_group.get("Platform"), Some(&2));
        assert_eq!(stats.by_status.iter().find(|(label, _)| label == "Mitigated").map(|(_, n)| *n), Some(1));

        let platform =
            IncidentFilter { group: vec![f.group["Platform"].clone()], ..IncidentFilter::default() };
        let stats = f.test.database.statistics(&platform, now).expect("statistics");
        assert_eq!(stats.totals.total, 2, "{backend:?}: statistics use the filter");

        let mtbf = f
            .test
            .database
            .category_mtbf(now - chrono::Duration::days(30), now + chrono::Duration::days(30), now)
            .expect("mtbf");
        let checkout = mtbf.iter().find(|c| c.category_name == "Checkout").expect("checkout category");
        assert_eq!(checkout.incident_count, 1);
        assert!(
            checkout.mtbf_seconds.is_some_and(|s| s > 29 * 86_400 && s <= 30 * 86_400),
            "{backend:?}: {checkout:?}"
        );
        let other = mtbf.iter().find(|c| c.category_name == "Other").expect("other category");
        assert_eq!((other.incident_count, other.mtbf_seconds), (0, None), "every category is listed");
    }
}

#[test]
fn category_search_matches_names_descriptions_and_groups() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let database = &test.database;
        let names = |term: Option<&str>| -> Vec<String> {
            database.categories(term).expect("categories").into_iter().map(|c| c.name).collect()
        };
        let all = names(None);
        assert!(all.len() >= 9);
        assert_eq!(names(Some("")), all, "a blank term filters nothing");
        assert_eq!(names(Some("   ")), all);
        assert!(names(Some("infrastructure")).contains(&"Infrastructure Issue".to_owned()));
        assert_eq!(
            names(Some("infrastructure compute")),
            vec!["Infrastructure Issue"],
            "every word, anywhere"
        );
        assert_eq!(names(Some("DATABASE")), vec!["Database Problem"]);
        assert_eq!(names(Some("network")), vec!["Network Issues"]);
        assert_eq!(
            names(Some("platform")),
            vec!["Database Problem", "Infrastructure Issue", "Network Issues"],
            "by group name"
        );
        assert_eq!(names(Some("dns load")), vec!["Network Issues"], "by description, every word");
        assert!(names(Some("100%_")).is_empty(), "LIKE wildcards are literal");
    }
}

#[test]
fn open_incidents_are_counted_per_status_for_each_viewer_and_again_once_one_changes() {
    for test in TestDatabase::each_backend() {
        let fixture = fixture(test);
        let database = fixture.test.database.clone();
        let open: Vec<IncidentStatus> =
            IncidentStatus::ALL.into_iter().filter(|status| *status != IncidentStatus::Closed).collect();
        let counts = |viewer: Option<UserId>| -> HashMap<IncidentStatus, i64> {
            database
                .status_counts(&IncidentFilter {
                    status: open.clone(),
                    visible_to: viewer,
                    ..IncidentFilter::default()
                })
                .expect("counts")
                .into_iter()
                .collect()
        };
        let expected = |pairs: &[(IncidentStatus, i64)]| pairs.iter().copied().collect::<HashMap<_, _>>();
        // "checkout" is Mitigated, "database" and "ignored" Open; "network" is closed.
        let before = expected(&[(IncidentStatus::Mitigated, 1), (IncidentStatus::Open, 2)]);
        assert_eq!(counts(None), before, "{:?}", fixture.test.backend());
        assert_eq!(counts(Some(fixture.bob)), before);

        // A private incident of alice's: counted for her and for staff, not for bob.
        let service = IncidentLifecycle::new(database.clone(), NoPostMortemBackend);
        let secret = service
            .declare(
                Actor { user: fixture.alice, entry_point: EntryPoint::Api },
                &DeclareIncident {
                    title: "Leaked credentials".into(),
                    description: "Rotate them.".into(),
                    priority: PriorityChoice::Given(fixture.priority["P2"].clone()),
                    category_id: fixture.category["Checkout"].clone(),
                    environment_id: fixture.environment["PRD"].clone(),
                    private: Some(true),
                    dedup_key: None,
                    ignored: false,
                    custom_fields: serde_json::Map::new(),
                    created_by: None,
                },
            )
            .expect("declare")
            .id();
        let with_secret = expected(&[(IncidentStatus::Mitigated, 1), (IncidentStatus::Open, 3)]);
        assert_eq!(counts(None), with_secret, "the cached counts were not used after a change");
        assert_eq!(counts(Some(fixture.alice)), with_secret);
        assert_eq!(counts(Some(fixture.bob)), before);

        // A status change moves it, at once.
        service
            .update(
                Actor { user: fixture.alice, entry_point: EntryPoint::Api },
                secret,
                &UpdateIncident { status: Some(IncidentStatus::Investigating), ..UpdateIncident::default() },
            )
            .expect("investigate");
        let moved = expected(&[
            (IncidentStatus::Mitigated, 1),
            (IncidentStatus::Open, 2),
            (IncidentStatus::Investigating, 1),
        ]);
        assert_eq!(counts(None), moved);
        assert_eq!(counts(Some(fixture.alice)), moved);
        assert_eq!(counts(Some(fixture.bob)), before);
    }
}

/// The statistics' grouped queries count exactly what the reference count of every row finds
/// (`StatisticsCounts::from_rows`), ages and times to fix included, on both backends.
#[test]
fn statistics_counts_in_sql_match_counting_every_incident() {
    use incidents_core::IncidentStatus;
    use incidents_core::query::IncidentQueries as _;
    use incidents_core::statistics::{StatisticsCounts, StatisticsRow};
    use storage::schema::{incident_metrics, incidents, metric_types};
    for test in TestDatabase::each_backend() {
        let f = fixture(test);
        let backend = f.test.backend();
        let now = incidents_core::clock::now();
        let mut conn = f.test.database.connection().expect("connection");
        let priorities: Vec<&String> = f.priority.values().collect();
        let categories: Vec<&String> = f.category.values().collect();
        let ttf: i64 = metric_types::table
            .filter(metric_types::slug.eq("time_to_fix"))
            .select(metric_types::id)
            .first(&mut conn)
            .expect("time_to_fix");
        let durations = [
            500_000_i64,
            600_000_000,
            1_200_000_000,
            2_700_000_000,
            7_200_000_000,
            18_000_000_000,
            172_800_000_000,
        ];
        for i in 0..90_i64 {
            let created = now - chrono::Duration::days((i * 37) % 200) - chrono::Duration::hours(i % 23);
            let status = IncidentStatus::ALL[usize::try_from(i).expect("i") % IncidentStatus::ALL.len()];
            let id: i64 = diesel::insert_into(incidents::table)
                .values((
                    incidents::title.eq(format!("Incident {i}")),
                    incidents::description.eq("Generated."),
                    incidents::status.eq(status.value()),
                    incidents::priority_id
                        .eq(priorities[usize::try_from(i / 7).expect("i") % priorities.len()]),
                    incidents::incident_category_id
                        .eq(categories[usize::try_from(i * 7).expect("i") % categories.len()]),
                    incidents::environment_id.eq(&f.environment["PRD"]),
                    incidents::created_by_id.eq(f.alice.to_string()),
                    incidents::created_at.eq(created),
                    incidents::updated_at.eq(created),
                    incidents::closure_reference.eq(""),
                    incidents::custom_fields.eq("{}"),
                    incidents::ignored.eq(false),
                    incidents::private.eq(false),
                    incidents::version.eq(1),
                ))
                .returning(incidents::id)
                .get_result(&mut conn)
                .expect("incident");
            if i % 3 != 0 {
                diesel::insert_into(incident_metrics::table)
                    .values((
                        incident_metrics::incident_id.eq(id),
                        incident_metrics::metric_type_id.eq(ttf),
                        incident_metrics::duration_micros
                            .eq(durations[usize::try_from(i).expect("i") % durations.len()]),
                        incident_metrics::created_at.eq(now),
                        incident_metrics::updated_at.eq(now),
                    ))
                    .execute(&mut conn)
                    .expect("metric");
            }
        }
        // Every incident, read one by one, then counted in Rust.
        let group_of: HashMap<String, String> = incident_categories::table
            .inner_join(category_groups::table)
            .select((incident_categories::id, category_groups::name))
            .load::<(String, String)>(&mut conn)
            .expect("groups")
            .into_iter()
            .collect();
        let fixes: HashMap<i64, i64> = incident_metrics::table
            .filter(incident_metrics::metric_type_id.eq(ttf))
            .select((incident_metrics::incident_id, incident_metrics::duration_micros))
            .load::<(i64, i64)>(&mut conn)
            .expect("fixes")
            .into_iter()
            .collect();
        let rows: Vec<StatisticsRow> = incidents::table
            .select((
                incidents::id,
                incidents::priority_id,
                incidents::status,
                incidents::created_at,
                incidents::incident_category_id,
            ))
            .load::<(i64, String, i32, chrono::NaiveDateTime, String)>(&mut conn)
            .expect("incidents")
            .into_iter()
            .map(|(id, priority_id, status, created_at, category)| StatisticsRow {
                priority_id,
                status: IncidentStatus::from_value(status).expect("status"),
                created_at,
                group_name: group_of[&category].clone(),
                time_to_fix_micros: fixes.get(&id).copied(),
            })
            .collect();
        drop(conn);
        let counted = f.test.database.statistics_counts(&IncidentFilter::default(), now).expect("counts");
        assert_eq!(counted, StatisticsCounts::from_rows(&rows, now), "{backend:?}");
        assert!(counted.ages.values().flatten().filter(|n| **n > 0).count() >= 5, "{backend:?}: {counted:?}");
        assert!(counted.fixes.len() >= 3, "{backend:?}: {counted:?}");
        // Kept while nothing changes (the raw rows inserted here bypassed the outbox: not seen yet)…
        let mut conn = f.test.database.connection().expect("connection");
        diesel::update(incidents::table)
            .set(incidents::status.eq(IncidentStatus::Open.value()))
            .execute(&mut conn)
            .expect("raw");
        drop(conn);
        assert_eq!(
            f.test.database.statistics_counts(&IncidentFilter::default(), now).expect("counts"),
            counted
        );
        // … and counted again once an incident changes through the lifecycle (an outbox event).
        IncidentLifecycle::new(f.test.database.clone(), NoPostMortemBackend)
            .update(
                Actor { user: f.alice, entry_point: EntryPoint::Api },
                f.ids["checkout"],
                &UpdateIncident { status: Some(IncidentStatus::Investigating), ..UpdateIncident::default() },
            )
            .expect("investigate");
        let recounted = f.test.database.statistics_counts(&IncidentFilter::default(), now).expect("counts");
        assert!(
            recounted.incidents.iter().all(|(_, status, _, _)| *status <= IncidentStatus::Investigating),
            "{backend:?}"
        );
        // And with a filter.
        // (of a priority other than the changed incident's)
        let mut conn = f.test.database.connection().expect("connection");
        let changed: String = incidents::table
            .find(f.ids["checkout"].0)
            .select(incidents::priority_id)
            .first(&mut conn)
            .expect("checkout");
        drop(conn);
        let one =
            priorities.iter().find(|p| ***p != changed).map(|p| (*p).clone()).expect("another priority");
        let filter = IncidentFilter { priority: vec![one.clone()], ..IncidentFilter::default() };
        let mine: Vec<StatisticsRow> = rows
            .into_iter()
            .filter(|row| row.priority_id == one)
            .map(|row| StatisticsRow { status: IncidentStatus::Open, ..row })
            .collect();
        assert_eq!(
            f.test.database.statistics_counts(&filter, now).expect("counts"),
            StatisticsCounts::from_rows(&mine, now),
            "{backend:?}"
        );
    }
}
