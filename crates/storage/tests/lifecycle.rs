//! The incident lifecycle service on real databases: the rules of reference §2 and the behaviour
#![expect(clippy::expect_used, reason = "test helpers fail the test loudly")]
//! checklist of §7 ("Enums & model", "Workflow forms"), on SQLite and PostgreSQL.

use firefighter_storage as storage;
use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use incidents_core::incident::{CostInput, DeclareIncident, Declared, PriorityChoice, UpdateIncident};
use incidents_core::lifecycle::LifecycleError;
use incidents_core::workflow::PostMortemState;
use incidents_core::{
    Actor, Amount, ClosureReason, Email, EntryPoint, IncidentId, IncidentLifecycle, IncidentStatus, NewUser,
    PostMortemBackend, PostMortemRecords, UserId, UserRepository,
};
use storage::Database;
use storage::schema::{
    audit_log, environments, impact_levels, impact_types, incident_categories, incident_cost_types,
    incident_costs, incident_memberships, incident_metrics, incident_role_types, incident_roles,
    incident_updates, incidents, metric_types, outbox_events, priorities,
};
use storage::testing::TestDatabase;

/// A configured post-mortem backend: the states come from what the test records, as the post-mortem
/// integration's jobs would.
struct ConfiguredPostMortems;

impl PostMortemBackend for ConfiguredPostMortems {
    fn is_configured(&self) -> bool {
        true
    }
}

struct Refs {
    priorities: HashMap<String, String>,
    environments: HashMap<String, String>,
    categories: HashMap<String, String>,
    /// (impact type value, level code) → level id
    levels: HashMap<(String, String), String>,
    cost_types: HashMap<String, i64>,
}

fn refs(database: &Database) -> Refs {
    let mut conn = database.connection().expect("connection");
    let pairs = |rows: Vec<(String, String)>| rows.into_iter().collect::<HashMap<_, _>>();
    Refs {
        priorities: pairs(
            priorities::table.select((priorities::name, priorities::id)).load(&mut conn).expect("priorities"),
        ),
        environments: pairs(
            environments::table
                .select((environments::value, environments::id))
                .load(&mut conn)
                .expect("environments"),
        ),
        categories: pairs(
            incident_categories::table
                .select((incident_categories::name, incident_categories::id))
                .load(&mut conn)
                .expect("categories"),
        ),
        levels: impact_levels::table
            .inner_join(impact_types::table)
            .select((impact_types::value, impact_levels::value, impact_levels::id))
            .load::<(String, String, String)>(&mut conn)
            .expect("levels")
            .into_iter()
            .map(|(kind, code, id)| ((kind, code), id))
            .collect(),
        cost_types: incident_cost_types::table
            .select((incident_cost_types::name, incident_cost_types::id))
            .load::<(String, i64)>(&mut conn)
            .expect("cost types")
            .into_iter()
            .collect(),
    }
}

fn create_user(database: &Database, email: &str) -> UserId {
    database
        .create_user(&NewUser {
            email: Email::parse(email).expect("valid email"),
            name: String::new(),
            is_admin: false,
            password_hash: None,
        })
        .expect("user")
        .id
}

/// (event type, status, title, message) of a timeline entry.
type TimelineRow = (Option<String>, Option<i32>, Option<String>, Option<String>);

struct World {
    test: TestDatabase,
    refs: Refs,
    actor: Actor,
}

impl World {
    fn each_backend() -> Vec<Self> {
        TestDatabase::each_backend()
            .into_iter()
            .map(|test| {
                let test = test.seeded();
                let refs = refs(&test.database);
                let user = create_user(&test.database, "commander@example.com");
                Self { test, refs, actor: Actor { user, entry_point: EntryPoint::Api } }
            })
            .collect()
    }

    fn service(&self) -> IncidentLifecycle<Database, incidents_core::NoPostMortemBackend> {
        IncidentLifecycle::new(self.test.database.clone(), incidents_core::NoPostMortemBackend)
    }

    fn declaration(&self, priority: &str, environment: &str, category: &str) -> DeclareIncident {
        DeclareIncident {
            title: "Checkout is down".into(),
            description: "Payments fail with a 502 since 10:02.".into(),
            priority: PriorityChoice::Given(self.refs.priorities[priority].clone()),
            category_id: self.refs.categories[category].clone(),
            environment_id: self.refs.environments[environment].clone(),
            private: None,
            dedup_key: None,
            ignored: false,
            custom_fields: serde_json::Map::new(),
            created_by: None,
        }
    }

    fn declare(&self, priority: &str) -> IncidentId {
        self.service()
            .declare(self.actor, &self.declaration(priority, "PRD", "Checkout"))
            .expect("declared")
            .id()
    }

    fn conn(&self) -> storage::PooledDbConnection {
        self.test.database.connection().expect("connection")
    }

    fn status(&self, id: IncidentId) -> i32 {
        incidents::table.find(id.0).select(incidents::status).first(&mut self.conn()).expect("status")
    }

    fn timeline(&self, id: IncidentId) -> Vec<TimelineRow> {
        incident_updates::table
            .filter(incident_updates::incident_id.eq(id.0))
            .order((incident_updates::created_at, incident_updates::id))
            .select((
                incident_updates::event_type,
                incident_updates::status,
                incident_updates::title,
                incident_updates::message,
            ))
            .load(&mut self.conn())
            .expect("timeline")
    }

    fn move_to(&self, id: IncidentId, statuses: &[IncidentStatus]) {
        for status in statuses {
            self.service()
                .update(
                    self.actor,
                    id,
                    &UpdateIncident { status: Some(*status), ..UpdateIncident::default() },
                )
                .unwrap_or_else(|e| panic!("move to {status}: {e}"));
        }
    }

    fn record_required_key_events(&self, id: IncidentId) {
        let now = incidents_core::clock::now();
        self.service()
            .set_key_events(
                self.actor,
                id,
                &[
                    ("started".into(), Some(now - Duration::minutes(30))),
                    ("detected".into(), Some(now - Duration::minutes(20))),
                ],
            )
            .expect("key events");
    }
}

macro_rules! count {
    ($world:expr, $table:expr) => {
        $table.count().get_result::<i64>(&mut $world.conn()).expect("count")
    };
}

fn update(status: IncidentStatus, message: Option<&str>) -> UpdateIncident {
    UpdateIncident { status: Some(status), message: message.map(str::to_owned), ..UpdateIncident::default() }
}

fn code(result: Result<impl std::fmt::Debug, LifecycleError>) -> String {
    match result {
        Ok(value) => format!("ok: {value:?}"),
        Err(error) => error.code().to_owned(),
    }
}

#[test]
fn declaring_assigns_the_commander_and_writes_timeline_audit_and_event() {
    for world in World::each_backend() {
        let backend = world.test.backend();
        let id = world.declare("P2");
        assert_eq!(world.status(id), 10, "{backend:?}");

        let commander: String = incident_roles::table
            .inner_join(incident_role_types::table)
            .filter(incident_roles::incident_id.eq(id.0))
            .filter(incident_role_types::slug.eq("commander"))
            .select(incident_roles::user_id)
            .first(&mut world.conn())
            .expect("a commander");
        assert_eq!(commander, world.actor.user.to_string());
        let members: Vec<String> = incident_memberships::table
            .filter(incident_memberships::incident_id.eq(id.0))
            .select(incident_memberships::user_id)
            .load(&mut world.conn())
            .expect("members");
        assert_eq!(members, vec![world.actor.user.to_string()]);

        let timeline = world.timeline(id);
        assert_eq!(timeline.len(), 2, "{backend:?}: {timeline:?}");
        assert_eq!(timeline[0].1, Some(10));
        assert_eq!(timeline[0].2.as_deref(), Some("Checkout is down"));
        assert_eq!(timeline[1].0.as_deref(), Some("declared"));

        let audit: Vec<(String, String, String)> = audit_log::table
            .select((audit_log::action, audit_log::entry_point, audit_log::object_id))
            .load(&mut world.conn())
            .expect("audit");
        assert_eq!(audit, vec![("incident.declare".into(), "api".into(), id.0.to_string())]);
        let events: Vec<String> =
            outbox_events::table.select(outbox_events::event_type).load(&mut world.conn()).expect("events");
        assert_eq!(events, vec!["incident_created"]);
    }
}

#[test]
fn privacy_comes_from_the_category_unless_given() {
    for world in World::each_backend() {
        let service = world.service();
        let secret = service
            .declare(world.actor, &world.declaration("P3", "PRD", "Security Incident"))
            .expect("declared")
            .id();
        let public = service
            .declare(
                world.actor,
                &DeclareIncident {
                    private: Some(false),
                    ..world.declaration("P3", "PRD", "Security Incident")
                },
            )
            .expect("declared")
            .id();
        let private = |id: IncidentId| -> bool {
            incidents::table.find(id.0).select(incidents::private).first(&mut world.conn()).expect("private")
        };
        assert!(private(secret));
        assert!(!private(public));
    }
}

#[test]
fn priority_derives_from_impacts_and_no_impact_is_refused() {
    for world in World::each_backend() {
        let backend = world.test.backend();
        let service = world.service();
        let level = |kind: &str, code: &str| world.refs.levels[&(kind.to_owned(), code.to_owned())].clone();
        let declare_with = |levels: Vec<String>| {
            service.declare(
                world.actor,
                &DeclareIncident {
                    priority: PriorityChoice::FromImpacts(levels),
                    ..world.declaration("P1", "PRD", "Checkout")
                },
            )
        };
        let priority_of = |declared: Result<Declared, LifecycleError>| -> String {
            let id = declared.expect("declared").id();
            incidents::table
                .inner_join(priorities::table)
                .filter(incidents::id.eq(id.0))
                .select(priorities::name)
                .first(&mut world.conn())
                .expect("priority")
        };
        assert_eq!(
            priority_of(declare_with(vec![level("business_impact", "HT"), level("customers_impact", "LT")])),
            "P1",
            "{backend:?}"
        );
        assert_eq!(
            priority_of(declare_with(vec![level("customers_impact", "MD"), level("sellers_impact", "LO")])),
            "P3"
        );
        assert_eq!(priority_of(declare_with(vec![level("employees_impact", "LT")])), "P5");
        assert_eq!(
            code(declare_with(vec![level("business_impact", "NO"), level("employees_impact", "NO")])),
            "NO_IMPACT"
        );
        assert_eq!(code(declare_with(vec!["not-a-level".into()])), "DOES_NOT_EXIST");
        assert_eq!(
            code(declare_with(vec![level("business_impact", "HT"), level("business_impact", "MD")])),
            "INVALID"
        );
    }
}

#[test]
fn dedup_key_returns_the_open_holder_until_it_is_past_mitigated() {
    for world in World::each_backend() {
        let backend = world.test.backend();
        let service = world.service();
        let keyed = DeclareIncident {
            dedup_key: Some("alert-42".into()),
            ..world.declaration("P4", "PRD", "Checkout")
        };
        let first = service.declare(world.actor, &keyed.clone()).expect("first");
        assert!(matches!(first, Declared::Created(_)));
        let events_before = count!(world, outbox_events::table);
        let again = service.declare(world.actor, &keyed.clone()).expect("second");
        assert_eq!(again, Declared::Existing(first.id()), "{backend:?}");
        assert_eq!(count!(world, incidents::table), 1);
        assert_eq!(count!(world, outbox_events::table), events_before, "an idempotent hit writes nothing");

        world.move_to(
            first.id(),
            &[IncidentStatus::Investigating, IncidentStatus::Mitigating, IncidentStatus::Mitigated],
        );
        assert_eq!(
            service.declare(world.actor, &keyed.clone()).expect("third"),
            Declared::Existing(first.id())
        );
        world.move_to(first.id(), &[IncidentStatus::Closed]);
        let fresh = service.declare(world.actor, &keyed.clone()).expect("fresh");
        assert!(matches!(fresh, Declared::Created(id) if id != first.id()), "{backend:?}: {fresh:?}");

        // Reopening the old holder would give two open incidents one key.
        let reopen = service.update(
            world.actor,
            first.id(),
            &update(IncidentStatus::Investigating, Some("The alert fired again after the fix")),
        );
        assert_eq!(reopen, Err(LifecycleError::DedupKeyTaken { holder: Some(fresh.id()) }), "{backend:?}");
    }
}

#[test]
fn twenty_concurrent_declarations_with_one_key_make_one_incident() {
    for world in World::each_backend() {
        let keyed =
            DeclareIncident { dedup_key: Some("storm".into()), ..world.declaration("P2", "PRD", "Checkout") };
        let results: Vec<Declared> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..20)
                .map(|_| {
                    let service = world.service();
                    let keyed = keyed.clone();
                    let actor = world.actor;
                    scope.spawn(move || service.declare(actor, &keyed))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread").expect("declared")).collect()
        });
        let backend = world.test.backend();
        assert_eq!(count!(world, incidents::table), 1, "{backend:?}");
        assert_eq!(results.iter().filter(|d| !d.is_existing()).count(), 1, "{backend:?}: {results:?}");
        assert!(results.iter().all(|d| d.id() == results[0].id()));
        assert_eq!(count!(world, outbox_events::table), 1, "{backend:?}: one incident_created");
    }
}

#[test]
fn a_creator_named_by_e_mail_is_created_once_inside_the_declaration_with_the_responder_permissions() {
    use incidents_core::access::Permission;
    use incidents_core::incident::Creator;
    use storage::schema::users;
    for world in World::each_backend() {
        let email = Email::parse("new.responder@example.com").expect("email");
        let named = DeclareIncident {
            created_by: Some(Creator::Email(email.clone())),
            ..world.declaration("P3", "PRD", "Checkout")
        };
        // Ten declarations at once for someone nobody has seen: one user, ten incidents.
        let declared: Vec<IncidentId> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..10)
                .map(|_| {
                    let (service, named, actor) = (world.service(), named.clone(), world.actor);
                    scope.spawn(move || service.declare(actor, &named))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread").expect("declared").id()).collect()
        });
        let backend = world.test.backend();
        let creator = world.test.database.find_user_by_email(&email).expect("query").expect("created");
        assert_eq!(count!(world, users::table.filter(users::email.eq(email.as_str()))), 1, "{backend:?}");
        let creators: Vec<String> = incidents::table
            .filter(incidents::id.eq_any(declared.iter().map(|id| id.0)))
            .select(incidents::created_by_id)
            .load(&mut world.conn())
            .expect("creators");
        assert!(creators.len() == 10 && creators.iter().all(|c| *c == creator.id.to_string()), "{backend:?}");
        let mut held: Vec<String> = storage::schema::user_permissions::table
            .filter(storage::schema::user_permissions::user_id.eq(creator.id.to_string()))
            .select(storage::schema::user_permissions::codename)
            .load(&mut world.conn())
            .expect("permissions");
        let mut responder: Vec<String> = Permission::responder().iter().map(ToString::to_string).collect();
        held.sort();
        responder.sort();
        assert_eq!(held, responder, "{backend:?}");
        // The creation is audited once, as the actor's doing.
        let audited: Vec<(String, String)> = audit_log::table
            .filter(audit_log::action.eq("user.create"))
            .select((audit_log::object_id, audit_log::actor_user_id.assume_not_null()))
            .load(&mut world.conn())
            .expect("audit");
        assert_eq!(audited, vec![(creator.id.to_string(), world.actor.user.to_string())], "{backend:?}");
        // Named again: found, not created.
        world.service().declare(world.actor, &named).expect("declared");
        assert_eq!(count!(world, audit_log::table.filter(audit_log::action.eq("user.create"))), 1);
    }
}

#[test]
fn fifty_concurrent_updates_leave_a_consistent_incident_and_fifty_timeline_rows() {
    for world in World::each_backend() {
        let id = world.declare("P3");
        let before = world.timeline(id).len();
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..50)
                .map(|n| {
                    let service = world.service();
                    let actor = world.actor;
                    scope.spawn(move || {
                        service.update(
                            actor,
                            id,
                            &UpdateIncident {
                                title: Some(format!("Checkout is down (update {n})")),
                                message: Some(format!("Update number {n}")),
                                ..UpdateIncident::default()
                            },
                        )
                    })
                })
                .collect();
            for handle in handles {
                handle.join().expect("thread").expect("update");
            }
        });
        let backend = world.test.backend();
        let timeline = world.timeline(id);
        assert_eq!(timeline.len() - before, 50, "{backend:?}");
        let title: String =
            incidents::table.find(id.0).select(incidents::title).first(&mut world.conn()).expect("title");
        assert_eq!(
            timeline.last().and_then(|row| row.2.clone()),
            Some(title),
            "{backend:?}: the last write wins everywhere"
        );
        let audit = audit_log::table
            .filter(audit_log::action.eq("incident.update"))
            .count()
            .get_result::<i64>(&mut world.conn());
        assert_eq!(audit.ok(), Some(50));
    }
}

#[test]
fn only_changed_fields_are_recorded_and_empty_updates_refused() {
    for world in World::each_backend() {
        let service = world.service();
        let id = world.declare("P3");
        let same = UpdateIncident { title: Some("Checkout is down".into()), ..UpdateIncident::default() };
        assert_eq!(code(service.update(world.actor, id, &same)), "NO_CHANGE");
        assert_eq!(code(service.update(world.actor, id, &UpdateIncident::default())), "NO_CHANGE");

        let changed = service
            .update(
                world.actor,
                id,
                &UpdateIncident {
                    title: Some("Checkout is slow".into()),
                    description: Some("Payments fail with a 502 since 10:02.".into()),
                    ..UpdateIncident::default()
                },
            )
            .expect("update");
        assert_eq!(changed.changed, vec![incidents_core::incident::ChangedField::Title]);
        let last = world.timeline(id).pop().expect("an entry");
        assert_eq!((last.1, last.2.as_deref()), (None, Some("Checkout is slow")));

        service
            .update(
                world.actor,
                id,
                &UpdateIncident { message: Some("Still looking".into()), ..UpdateIncident::default() },
            )
            .expect("message-only update");
        let payload: String = outbox_events::table
            .order(outbox_events::id.desc())
            .select(outbox_events::payload)
            .first(&mut world.conn())
            .expect("event");
        let payload: serde_json::Value = serde_json::from_str(&payload).expect("json");
        assert_eq!(payload["changed_fields"], serde_json::json!([]));
        assert_eq!(payload["message"], "Still looking");
    }
}

#[test]
fn priority_change_carries_the_old_priority() {
    for world in World::each_backend() {
        let id = world.declare("P3");
        world
            .service()
            .update(
                world.actor,
                id,
                &UpdateIncident {
                    priority_id: Some(world.refs.priorities["P1"].clone()),
                    ..UpdateIncident::default()
                },
            )
            .expect("escalate");
        let payload: String = outbox_events::table
            .filter(outbox_events::event_type.eq("incident_updated"))
            .select(outbox_events::payload)
            .first(&mut world.conn())
            .expect("event");
        let payload: serde_json::Value = serde_json::from_str(&payload).expect("json");
        assert_eq!(payload["changed_fields"], serde_json::json!(["priority"]));
        assert_eq!(payload["old_priority"]["name"], "P3");
        assert_eq!(payload["priority"], "P1");
    }
}

#[test]
fn workflow_is_enforced_for_every_caller() {
    for world in World::each_backend() {
        let backend = world.test.backend();
        let service = world.service();
        let id = world.declare("P3");
        assert_eq!(
            code(service.update(world.actor, id, &update(IncidentStatus::Mitigated, None))),
            "TRANSITION_NOT_ALLOWED"
        );
        assert_eq!(
            code(service.update(world.actor, id, &update(IncidentStatus::PostMortem, None))),
            "TRANSITION_NOT_ALLOWED"
        );
        assert_eq!(
            code(service.update(world.actor, id, &update(IncidentStatus::Closed, Some("gone")))),
            "CLOSURE_REASON_REQUIRED"
        );
        world.move_to(id, &[IncidentStatus::Investigating, IncidentStatus::Mitigating]);
        assert_eq!(
            code(service.update(world.actor, id, &update(IncidentStatus::Closed, None))),
            "TRANSITION_NOT_ALLOWED",
            "{backend:?}: never from Mitigating"
        );
        world.move_to(id, &[IncidentStatus::Mitigated]);

        // Reopening needs a justification of at least ten characters.
        assert_eq!(
            code(service.update(world.actor, id, &update(IncidentStatus::Investigating, None))),
            "REOPEN_JUSTIFICATION_REQUIRED"
        );
        assert_eq!(
            code(service.update(world.actor, id, &update(IncidentStatus::Investigating, Some("short")))),
            "REOPEN_JUSTIFICATION_REQUIRED"
        );
        let reopened = service.update(
            world.actor,
            id,
            &update(IncidentStatus::Investigating, Some("Errors are back on checkout")),
        );
        assert!(reopened.is_ok(), "{backend:?}: {reopened:?}");
        assert_eq!(world.status(id), 20);
        // Investigating → Mitigating needs no message.
        assert!(service.update(world.actor, id, &update(IncidentStatus::Mitigating, None)).is_ok());
    }
}

#[test]
fn mitigation_stamps_mitigated_at_once_and_records_recovery() {
    for world in World::each_backend() {
        let id = world.declare("P4");
        world.move_to(
            id,
            &[IncidentStatus::Investigating, IncidentStatus::Mitigating, IncidentStatus::Mitigated],
        );
        let mitigated_at = |world: &World| -> Option<NaiveDateTime> {
            incidents::table
                .find(id.0)
                .select(incidents::mitigated_at)
                .first(&mut world.conn())
                .expect("mitigated_at")
        };
        let first = mitigated_at(&world);
        assert!(first.is_some(), "{:?}", world.test.backend());
        let recovered = world.timeline(id).iter().filter(|row| row.0.as_deref() == Some("recovered")).count();
        assert_eq!(recovered, 1, "→ Mitigated records the recovered key event");
        let ttf: i64 = incident_metrics::table
            .inner_join(metric_types::table)
            .filter(incident_metrics::incident_id.eq(id.0))
            .filter(metric_types::slug.eq("time_to_fix"))
            .count()
            .get_result(&mut world.conn())
            .expect("metric");
        assert_eq!(ttf, 1, "time to fix is computed from declared → recovered");

        world
            .service()
            .update(
                world.actor,
                id,
                &update(IncidentStatus::Mitigating, Some("Not fixed after all, errors again")),
            )
            .expect("reopen");
        world.move_to(id, &[IncidentStatus::Mitigated]);
        assert_eq!(mitigated_at(&world), first, "mitigated_at keeps the first mitigation");
    }
}

#[test]
fn early_closure_records_the_reason_and_reopening_clears_it() {
    for world in World::each_backend() {
        let service = world.service();
        let id = world.declare("P2");
        assert_eq!(
            code(service.update(
                world.actor,
                id,
                &UpdateIncident {
                    closure_reason: Some(ClosureReason::Duplicate),
                    ..update(IncidentStatus::Closed, None)
                }
            )),
            "CLOSURE_MESSAGE_REQUIRED"
        );
        assert_eq!(
            code(service.update(
                world.actor,
                id,
                &UpdateIncident {
                    closure_reason: Some(ClosureReason::Resolved),
                    ..update(IncidentStatus::Closed, Some("All good now"))
                }
            )),
            "INVALID",
            "an early closure is never \"resolved\""
        );
        let closed = service.update(
            world.actor,
            id,
            &UpdateIncident {
                closure_reason: Some(ClosureReason::Duplicate),
                closure_reference: Some("#12".into()),
                ..update(IncidentStatus::Closed, Some("Same as #12"))
            },
        );
        assert!(closed.is_ok(), "{:?}: {closed:?}", world.test.backend());
        let row: (i32, Option<NaiveDateTime>, Option<String>, String) = incidents::table
            .find(id.0)
            .select((
                incidents::status,
                incidents::closed_at,
                incidents::closure_reason,
                incidents::closure_reference,
            ))
            .first(&mut world.conn())
            .expect("row");
        assert_eq!(
            (row.0, row.1.is_some(), row.2.as_deref(), row.3.as_str()),
            (60, true, Some("duplicate"), "#12")
        );
        assert_eq!(world.timeline(id).pop().and_then(|r| r.0), Some("closure_reason".into()));
        let closed_events: i64 = outbox_events::table
            .filter(outbox_events::event_type.eq("incident_closed"))
            .count()
            .get_result(&mut world.conn())
            .expect("count");
        assert_eq!(closed_events, 1);

        service
            .update(
                world.actor,
                id,
                &update(IncidentStatus::Investigating, Some("It was not a duplicate after all")),
            )
            .expect("reopen");
        let row: (i32, Option<NaiveDateTime>, Option<String>) = incidents::table
            .find(id.0)
            .select((incidents::status, incidents::closed_at, incidents::closure_reason))
            .first(&mut world.conn())
            .expect("row");
        assert_eq!(row, (20, None, None));
        // A closure reason only makes sense when closing.
        assert_eq!(
            code(service.update(
                world.actor,
                id,
                &UpdateIncident {
                    closure_reason: Some(ClosureReason::Cancelled),
                    ..update(IncidentStatus::Mitigating, None)
                }
            )),
            "INVALID"
        );
    }
}

#[test]
fn p1_to_p3_need_their_key_events_before_closing() {
    for world in World::each_backend() {
        let service = world.service();
        let id = world.declare("P3");
        world.move_to(
            id,
            &[IncidentStatus::Investigating, IncidentStatus::Mitigating, IncidentStatus::Mitigated],
        );
        match service.update(world.actor, id, &update(IncidentStatus::Closed, None)) {
            Err(LifecycleError::CannotClose { blockers }) => {
                assert_eq!(blockers.len(), 1);
                assert_eq!(blockers[0].code, "MISSING_REQUIRED_KEY_EVENTS");
                assert_eq!(blockers[0].message, "Missing key events: started, detected");
            }
            other => panic!("{:?}: expected close blockers, got {other:?}", world.test.backend()),
        }
        world.record_required_key_events(id);
        assert!(service.close_blockers(id).expect("blockers").is_empty());
        service.update(world.actor, id, &update(IncidentStatus::Closed, None)).expect("close");
        assert_eq!(world.status(id), 60);

        // P4 closes without key events.
        let p4 = world.declare("P4");
        world.move_to(
            p4,
            &[
                IncidentStatus::Investigating,
                IncidentStatus::Mitigating,
                IncidentStatus::Mitigated,
                IncidentStatus::Closed,
            ],
        );
        assert_eq!(world.status(p4), 60);
    }
}

#[test]
fn postmortem_gate_with_a_configured_backend() {
    for world in World::each_backend() {
        let backend = world.test.backend();
        let service = IncidentLifecycle::new(world.test.database.clone(), ConfiguredPostMortems);
        let record = |id, state: PostMortemState| {
            world
                .test
                .database
                .record_postmortem_state(id, &state, incidents_core::clock::now())
                .expect("record");
        };
        let id =
            service.declare(world.actor, &world.declaration("P1", "PRD", "Checkout")).expect("declare").id();
        for status in [IncidentStatus::Investigating, IncidentStatus::Mitigating, IncidentStatus::Mitigated] {
            service.update(world.actor, id, &update(status, None)).expect("move");
        }
        world.record_required_key_events(id);
        assert_eq!(
            code(service.update(world.actor, id, &update(IncidentStatus::Closed, None))),
            "TRANSITION_NOT_ALLOWED",
            "{backend:?}: P1 in PRD cannot skip the post-mortem"
        );
        service.update(world.actor, id, &update(IncidentStatus::PostMortem, None)).expect("post-mortem");

        assert_eq!(
            code(service.update(world.actor, id, &update(IncidentStatus::Closed, None))),
            "POSTMORTEM_NOT_LINKED"
        );
        record(id, PostMortemState::NotReady { key: "PM-7".into(), status: "Draft".into() });
        assert_eq!(
            code(service.update(world.actor, id, &update(IncidentStatus::Closed, None))),
            "POSTMORTEM_NOT_READY"
        );
        record(id, PostMortemState::Unknown { error: "JIRA error 503: unavailable".into() });
        assert_eq!(
            code(service.update(world.actor, id, &update(IncidentStatus::Closed, None))),
            "POSTMORTEM_STATUS_UNKNOWN"
        );
        assert_eq!(
            service.close_blockers(id).expect("blockers").first().map(|blocker| blocker.code),
            Some("POSTMORTEM_STATUS_UNKNOWN"),
            "the close guard reads the recorded state"
        );
        record(id, PostMortemState::Ready { key: "PM-7".into() });
        service.update(world.actor, id, &update(IncidentStatus::Closed, None)).expect("close once ready");

        // A P3 in production needs no post-mortem either.
        let p3 =
            service.declare(world.actor, &world.declaration("P3", "PRD", "Checkout")).expect("declare").id();
        for status in [IncidentStatus::Investigating, IncidentStatus::Mitigating, IncidentStatus::Mitigated] {
            service.update(world.actor, p3, &update(status, None)).expect("move");
        }
        world.record_required_key_events(p3);
        service
            .update(world.actor, p3, &update(IncidentStatus::Closed, None))
            .expect("P3 closes from Mitigated");

        // The same P1 in staging needs no post-mortem.
        let staging =
            service.declare(world.actor, &world.declaration("P1", "STG", "Checkout")).expect("declare").id();
        for status in [IncidentStatus::Investigating, IncidentStatus::Mitigating, IncidentStatus::Mitigated] {
            service.update(world.actor, staging, &update(status, None)).expect("move");
        }
        world.record_required_key_events(staging);
        service
            .update(world.actor, staging, &update(IncidentStatus::Closed, None))
            .expect("close from Mitigated");
    }
}

#[test]
fn ignored_incidents_close_without_checks() {
    for world in World::each_backend() {
        let service = world.service();
        let id = service
            .declare(
                world.actor,
                &DeclareIncident { ignored: true, ..world.declaration("P1", "PRD", "Checkout") },
            )
            .expect("declare")
            .id();
        world.move_to(
            id,
            &[
                IncidentStatus::Investigating,
                IncidentStatus::Mitigating,
                IncidentStatus::Mitigated,
                IncidentStatus::Closed,
            ],
        );
        assert_eq!(world.status(id), 60);
    }
}

#[test]
fn roles_are_assigned_replaced_and_required_ones_kept() {
    for world in World::each_backend() {
        let backend = world.test.backend();
        let service = world.service();
        let id = world.declare("P2");
        let lead = create_user(&world.test.database, "lead@example.com");
        service.set_roles(world.actor, id, &[("communication_lead".into(), Some(lead))]).expect("assign");
        let members: i64 = incident_memberships::table
            .filter(incident_memberships::incident_id.eq(id.0))
            .count()
            .get_result(&mut world.conn())
            .expect("members");
        assert_eq!(members, 2, "{backend:?}: assigning a role makes a member");
        assert_eq!(code(service.set_roles(world.actor, id, &[("commander".into(), None)])), "REQUIRED_ROLE");
        assert_eq!(
            code(service.set_roles(world.actor, id, &[("scribe".into(), Some(lead))])),
            "UNKNOWN_ROLE"
        );
        assert_eq!(
            code(service.set_roles(world.actor, id, &[("communication_lead".into(), Some(lead))])),
            "NO_CHANGE"
        );
        service
            .set_roles(
                world.actor,
                id,
                &[("commander".into(), Some(lead)), ("communication_lead".into(), None)],
            )
            .expect("swap");
        let holders: Vec<(String, String)> = incident_roles::table
            .inner_join(incident_role_types::table)
            .filter(incident_roles::incident_id.eq(id.0))
            .select((incident_role_types::slug, incident_roles::user_id))
            .load(&mut world.conn())
            .expect("roles");
        assert_eq!(holders, vec![("commander".to_owned(), lead.to_string())]);
        let events: Vec<String> = outbox_events::table
            .filter(outbox_events::event_type.eq("roles_updated"))
            .select(outbox_events::event_type)
            .load(&mut world.conn())
            .expect("events");
        assert_eq!(events.len(), 2);
    }
}

#[test]
fn key_events_drive_metrics_and_respect_the_order_rule() {
    for world in World::each_backend() {
        let backend = world.test.backend();
        let service = world.service();
        let id = world.declare("P2");
        let now = incidents_core::clock::now();
        let metrics = |world: &World| -> Vec<(String, i64)> {
            incident_metrics::table
                .inner_join(metric_types::table)
                .filter(incident_metrics::incident_id.eq(id.0))
                .order(metric_types::slug)
                .select((metric_types::slug, incident_metrics::duration_micros))
                .load(&mut world.conn())
                .expect("metrics")
        };
        service
            .set_key_events(
                world.actor,
                id,
                &[
                    ("started".into(), Some(now - Duration::minutes(60))),
                    ("detected".into(), Some(now - Duration::minutes(45))),
                ],
            )
            .expect("set");
        let computed = metrics(&world);
        let slugs: Vec<&str> = computed.iter().map(|(slug, _)| slug.as_str()).collect();
        assert_eq!(slugs, vec!["time_to_detect", "time_to_internal_response"], "{backend:?}");
        assert_eq!(computed[0].1, 15 * 60 * 1_000_000);

        service.set_key_events(world.actor, id, &[("detected".into(), None)]).expect("clear");
        assert_eq!(metrics(&world).len(), 1, "clearing a key event removes its metrics");

        assert_eq!(
            code(service.set_key_events(
                world.actor,
                id,
                &[("detected".into(), Some(now - Duration::minutes(90)))]
            )),
            "KEY_EVENTS_OUT_OF_ORDER"
        );
        assert_eq!(
            code(service.set_key_events(world.actor, id, &[("declared".into(), Some(now))])),
            "KEY_EVENT_NOT_EDITABLE"
        );
        assert_eq!(
            code(service.set_key_events(world.actor, id, &[("teatime".into(), Some(now))])),
            "UNKNOWN_KEY_EVENT"
        );
        assert_eq!(
            code(service.set_key_events(world.actor, IncidentId(999_999), &[("started".into(), Some(now))])),
            "INCIDENT_NOT_FOUND"
        );
    }
}

#[test]
fn costs_are_exact_and_audited() {
    for world in World::each_backend() {
        let backend = world.test.backend();
        let service = world.service();
        let id = world.declare("P2");
        let revenue = world.refs.cost_types["Revenue loss"];
        let cost = service
            .add_cost(
                world.actor,
                id,
                CostInput {
                    cost_type_id: revenue,
                    amount: Some("1234.56".parse::<Amount>().expect("amount")),
                    currency: None,
                    details: Some("2 h of checkout".into()),
                },
            )
            .expect("add");
        assert_eq!(
            (cost.amount.map(|a| a.to_string()), cost.currency.as_str()),
            (Some("1234.56".to_owned()), "EUR")
        );
        let stored: Option<i64> = incident_costs::table
            .find(cost.id)
            .select(incident_costs::amount_cents)
            .first(&mut world.conn())
            .expect("stored");
        assert_eq!(stored, Some(123_456), "{backend:?}");

        let changed = service
            .update_cost(
                world.actor,
                id,
                cost.id,
                CostInput {
                    cost_type_id: revenue,
                    amount: Some("0.10".parse().expect("amount")),
                    currency: Some("usd".into()),
                    details: None,
                },
            )
            .expect("update");
        assert_eq!((changed.amount.map(Amount::cents), changed.currency.as_str()), (Some(10), "USD"));
        assert_eq!(
            code(service.add_cost(
                world.actor,
                id,
                CostInput { cost_type_id: 424_242, amount: None, currency: None, details: None }
            )),
            "DOES_NOT_EXIST"
        );
        assert_eq!(
            code(service.add_cost(
                world.actor,
                id,
                CostInput {
                    cost_type_id: revenue,
                    amount: None,
                    currency: Some("euro".into()),
                    details: None
                }
            )),
            "INVALID"
        );
        let other = world.declare("P4");
        assert_eq!(
            code(service.remove_cost(world.actor, other, cost.id)),
            "DOES_NOT_EXIST",
            "a cost belongs to its incident"
        );
        service.remove_cost(world.actor, id, cost.id).expect("remove");
        assert_eq!(count!(world, incident_costs::table), 0);
        let markers: Vec<Option<String>> = world
            .timeline(id)
            .into_iter()
            .map(|row| row.0)
            .filter(|e| e.as_deref().is_some_and(|e| e.starts_with("cost_")))
            .collect();
        assert_eq!(
            markers,
            vec![Some("cost_added".into()), Some("cost_changed".into()), Some("cost_removed".into())]
        );
        let audits: i64 = audit_log::table
            .filter(audit_log::action.eq("incident.cost"))
            .count()
            .get_result(&mut world.conn())
            .expect("audit");
        assert_eq!(audits, 3);
    }
}

#[test]
fn a_refused_change_writes_nothing() {
    for world in World::each_backend() {
        let id = world.declare("P3");
        let counts = |world: &World| {
            (
                count!(world, incident_updates::table),
                count!(world, audit_log::table),
                count!(world, outbox_events::table),
            )
        };
        let before = counts(&world);
        let refused = world.service().update(
            world.actor,
            id,
            &UpdateIncident { title: Some("A new title".into()), ..update(IncidentStatus::Mitigated, None) },
        );
        assert_eq!(code(refused), "TRANSITION_NOT_ALLOWED");
        assert_eq!(counts(&world), before, "{:?}", world.test.backend());
        let title: String =
            incidents::table.find(id.0).select(incidents::title).first(&mut world.conn()).expect("title");
        assert_eq!(title, "Checkout is down", "the title change was rolled back with the refusal");
    }
}

#[test]
fn every_change_bumps_the_version_and_a_refusal_does_not() {
    use incidents_core::query::IncidentQueries;
    for world in World::each_backend() {
        let id = world.declare("P3");
        let version =
            |world: &World| world.test.database.incident_key(id).expect("key").expect("exists").version;
        let mut last = version(&world);
        let service = world.service();
        let mut expect_bump = |what: &str, world: &World| {
            let now = version(world);
            assert!(now > last, "{what} did not bump the version ({:?})", world.test.backend());
            last = now;
        };
        service
            .update(
                world.actor,
                id,
                &UpdateIncident { title: Some("Renamed".into()), ..UpdateIncident::default() },
            )
            .expect("update");
        expect_bump("an update", &world);
        let cost_type = world.refs.cost_types.values().next().copied().expect("a cost type");
        let cost = service
            .add_cost(
                world.actor,
                id,
                CostInput { cost_type_id: cost_type, amount: None, currency: None, details: None },
            )
            .expect("cost");
        expect_bump("a new cost", &world);
        service.remove_cost(world.actor, id, cost.id).expect("remove");
        expect_bump("removing a cost", &world);
        let other = create_user(&world.test.database, "other@example.com");
        service.set_roles(world.actor, id, &[("communication_lead".into(), Some(other))]).expect("roles");
        expect_bump("a role", &world);
        let now = incidents_core::clock::now();
        service.set_key_events(world.actor, id, &[("detected".into(), Some(now))]).expect("key event");
        expect_bump("a key event", &world);

        let before = version(&world);
        let refused = service.update(world.actor, id, &update(IncidentStatus::Closed, None));
        assert!(refused.is_err());
        assert_eq!(version(&world), before, "a refused change leaves the version");
        let view = world.test.database.incident(id).expect("view").expect("exists");
        assert_eq!(view.version, before, "the view carries its version");
    }
}

#[test]
fn invalid_declarations_are_refused_with_the_field_named() {
    for world in World::each_backend() {
        let service = world.service();
        let base = world.declaration("P3", "PRD", "Checkout");
        let field = |result: Result<Declared, LifecycleError>| match result {
            Err(LifecycleError::Invalid { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        };
        assert_eq!(
            field(service.declare(world.actor, &DeclareIncident { title: "  ".into(), ..base.clone() })),
            "title"
        );
        assert_eq!(
            field(service.declare(world.actor, &DeclareIncident { title: "x".repeat(129), ..base.clone() })),
            "title"
        );
        assert_eq!(
            field(
                service.declare(world.actor, &DeclareIncident { description: String::new(), ..base.clone() })
            ),
            "description"
        );
        assert_eq!(
            field(
                service.declare(world.actor, &DeclareIncident { category_id: "nope".into(), ..base.clone() })
            ),
            "incident_category_id"
        );
        assert_eq!(
            field(
                service
                    .declare(world.actor, &DeclareIncident { environment_id: "nope".into(), ..base.clone() })
            ),
            "environment_id"
        );
        assert_eq!(
            field(service.declare(
                world.actor,
                &DeclareIncident { priority: PriorityChoice::Given("nope".into()), ..base.clone() }
            )),
            "priority_id"
        );
        assert_eq!(
            field(
                service.declare(
                    world.actor,
                    &DeclareIncident { dedup_key: Some("k".repeat(161)), ..base.clone() }
                )
            ),
            "dedup_key"
        );
        assert_eq!(count!(world, incidents::table), 0);
    }
}
