//! The database enforces the model's invariants itself, identically on both backends.

use chrono::Utc;
use diesel::prelude::*;
use firefighter_storage as storage;
use incidents_core::{Email, NewUser, RepositoryError, UserRepository};
use storage::schema::{
    audit_log, environments, incident_categories, incident_role_types, incident_roles, incidents, priorities,
};
use storage::testing::TestDatabase;
use storage::{DbConnection, write_transaction};

struct Fixture {
    priority: String,
    category: String,
    environment: String,
    user: String,
}

fn fixture(test: &TestDatabase) -> Fixture {
    let user = test
        .database
        .create_user(&NewUser {
            email: Email::parse("owner@example.com").unwrap_or_else(|e| panic!("{e}")),
            name: "Owner".into(),
            is_admin: false,
            password_hash: None,
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let mut conn = test.database.connection().unwrap_or_else(|e| panic!("{e}"));
    let priority =
        priorities::table.select(priorities::id).first(&mut conn).unwrap_or_else(|e| panic!("{e}"));
    let category = incident_categories::table
        .select(incident_categories::id)
        .first(&mut conn)
        .unwrap_or_else(|e| panic!("{e}"));
    let environment =
        environments::table.select(environments::id).first(&mut conn).unwrap_or_else(|e| panic!("{e}"));
    Fixture { priority, category, environment, user: user.id.to_string() }
}

fn insert_incident(
    conn: &mut DbConnection,
    fixture: &Fixture,
    dedup_key: Option<&str>,
    status: i32,
) -> QueryResult<i64> {
    let now = Utc::now().naive_utc();
    diesel::insert_into(incidents::table)
        .values((
            incidents::title.eq("Checkout is down"),
            incidents::description.eq("Payments fail with a 502."),
            incidents::status.eq(status),
            incidents::priority_id.eq(&fixture.priority),
            incidents::incident_category_id.eq(&fixture.category),
            incidents::environment_id.eq(&fixture.environment),
            incidents::created_by_id.eq(&fixture.user),
            incidents::created_at.eq(now),
            incidents::updated_at.eq(now),
            incidents::dedup_key.eq(dedup_key),
        ))
        .returning(incidents::id)
        .get_result(conn)
}

fn is_unique_violation(result: &QueryResult<i64>) -> bool {
    matches!(
        result,
        Err(diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
    )
}

#[test]
fn open_dedup_keys_are_unique_until_post_mortem() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let backend = test.backend();
        let fixture = fixture(&test);
        let mut conn = test.database.connection().unwrap_or_else(|e| panic!("{e}"));

        let first =
            insert_incident(&mut conn, &fixture, Some("alert-42"), 10).unwrap_or_else(|e| panic!("{e}"));
        assert!(first > 0);
        assert!(
            is_unique_violation(&insert_incident(&mut conn, &fixture, Some("alert-42"), 10)),
            "{backend:?}: two open incidents cannot share a key"
        );
        diesel::update(incidents::table.find(first))
            .set(incidents::status.eq(40))
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            is_unique_violation(&insert_incident(&mut conn, &fixture, Some("alert-42"), 10)),
            "{backend:?}: a Mitigated holder still blocks the key"
        );
        diesel::update(incidents::table.find(first))
            .set(incidents::status.eq(50))
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        let second = insert_incident(&mut conn, &fixture, Some("alert-42"), 10);
        assert!(second.is_ok(), "{backend:?}: after Post-mortem the key is free: {second:?}");

        for _ in 0..2 {
            let manual = insert_incident(&mut conn, &fixture, None, 10);
            assert!(manual.is_ok(), "{backend:?}: NULL keys never collide");
        }
    }
}

#[test]
fn incident_ids_are_never_reused() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let fixture = fixture(&test);
        let mut conn = test.database.connection().unwrap_or_else(|e| panic!("{e}"));
        let first = insert_incident(&mut conn, &fixture, None, 10).unwrap_or_else(|e| panic!("{e}"));
        diesel::delete(incidents::table.find(first)).execute(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        let second = insert_incident(&mut conn, &fixture, None, 10).unwrap_or_else(|e| panic!("{e}"));
        assert!(second > first, "{:?}: #{first} must never be handed out again", test.backend());
    }
}

#[test]
fn check_constraints_refuse_invalid_values() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let backend = test.backend();
        let fixture = fixture(&test);
        let mut conn = test.database.connection().unwrap_or_else(|e| panic!("{e}"));
        let id = insert_incident(&mut conn, &fixture, None, 10).unwrap_or_else(|e| panic!("{e}"));

        let bad_status = insert_incident(&mut conn, &fixture, None, 35);
        assert!(bad_status.is_err(), "{backend:?}: status 35 is not a status");
        let bad_reason = diesel::update(incidents::table.find(id))
            .set(incidents::closure_reason.eq("bored"))
            .execute(&mut conn);
        assert!(bad_reason.is_err(), "{backend:?}: unknown closure reason");
        let good_reason = diesel::update(incidents::table.find(id))
            .set(incidents::closure_reason.eq("duplicate"))
            .execute(&mut conn);
        assert!(good_reason.is_ok(), "{backend:?}: {good_reason:?}");
        let long_title = diesel::update(incidents::table.find(id))
            .set(incidents::title.eq("x".repeat(129)))
            .execute(&mut conn);
        assert!(long_title.is_err(), "{backend:?}: titles stop at 128 characters");
        let bad_slug = diesel::insert_into(incident_role_types::table)
            .values((incident_role_types::slug.eq("Scribe Role"), incident_role_types::name.eq("Scribe")))
            .execute(&mut conn);
        assert!(bad_slug.is_err(), "{backend:?}: role slugs are [a-z0-9_]+");
        let second_default = diesel::update(priorities::table.filter(priorities::name.eq("P1")))
            .set(priorities::is_default.eq(true))
            .execute(&mut conn);
        assert!(second_default.is_err(), "{backend:?}: only one default priority");
        let dangling = diesel::update(incidents::table.find(id))
            .set(incidents::priority_id.eq("00000000-0000-0000-0000-000000000000"))
            .execute(&mut conn);
        assert!(dangling.is_err(), "{backend:?}: foreign keys are enforced");
    }
}

#[test]
fn one_holder_per_role_and_incident() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let fixture = fixture(&test);
        let other = test
            .database
            .create_user(&NewUser {
                email: Email::parse("other@example.com").unwrap_or_else(|e| panic!("{e}")),
                name: String::new(),
                is_admin: false,
                password_hash: None,
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let mut conn = test.database.connection().unwrap_or_else(|e| panic!("{e}"));
        let incident = insert_incident(&mut conn, &fixture, None, 10).unwrap_or_else(|e| panic!("{e}"));
        let commander: i64 = incident_role_types::table
            .filter(incident_role_types::slug.eq("commander"))
            .select(incident_role_types::id)
            .first(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        let now = Utc::now().naive_utc();
        let assign = |conn: &mut DbConnection, user: &str| {
            diesel::insert_into(incident_roles::table)
                .values((
                    incident_roles::incident_id.eq(incident),
                    incident_roles::role_type_id.eq(commander),
                    incident_roles::user_id.eq(user),
                    incident_roles::created_at.eq(now),
                    incident_roles::updated_at.eq(now),
                ))
                .execute(conn)
        };
        assert!(assign(&mut conn, &fixture.user).is_ok());
        assert!(assign(&mut conn, &other.id.to_string()).is_err(), "{:?}", test.backend());
    }
}

#[test]
fn audit_log_is_append_only() {
    for test in TestDatabase::each_backend() {
        let backend = test.backend();
        let mut conn = test.database.connection().unwrap_or_else(|e| panic!("{e}"));
        diesel::insert_into(audit_log::table)
            .values((
                audit_log::occurred_at.eq(Utc::now().naive_utc()),
                audit_log::entry_point.eq("cli"),
                audit_log::action.eq("seed"),
                audit_log::object_type.eq("reference_data"),
                audit_log::object_id.eq("defaults"),
            ))
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        let update =
            diesel::update(audit_log::table).set(audit_log::action.eq("tampered")).execute(&mut conn);
        assert!(update.is_err(), "{backend:?}: audit rows cannot be changed");
        let delete = diesel::delete(audit_log::table).execute(&mut conn);
        assert!(delete.is_err(), "{backend:?}: audit rows cannot be deleted");
        let bad_entry_point = diesel::insert_into(audit_log::table)
            .values((
                audit_log::occurred_at.eq(Utc::now().naive_utc()),
                audit_log::entry_point.eq("carrier-pigeon"),
                audit_log::action.eq("seed"),
                audit_log::object_type.eq("reference_data"),
                audit_log::object_id.eq("defaults"),
            ))
            .execute(&mut conn);
        assert!(bad_entry_point.is_err(), "{backend:?}: entry points are a fixed set");
        let count: i64 = audit_log::table.count().get_result(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(count, 1);
    }
}

#[test]
fn transactions_roll_back_as_a_whole() {
    for test in TestDatabase::each_backend() {
        let test = test.seeded();
        let fixture = fixture(&test);
        let mut conn = test.database.connection().unwrap_or_else(|e| panic!("{e}"));
        let result: Result<(), diesel::result::Error> = write_transaction(&mut conn, |conn| {
            insert_incident(conn, &fixture, Some("rolled-back"), 10)?;
            Err(diesel::result::Error::RollbackTransaction)
        });
        assert!(result.is_err());
        let count: i64 = incidents::table.count().get_result(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(count, 0, "{:?}", test.backend());
    }
}

#[test]
fn users_get_unique_usernames_and_unique_emails() {
    for test in TestDatabase::each_backend() {
        let backend = test.backend();
        let new_user = |email: &str| NewUser {
            email: Email::parse(email).unwrap_or_else(|e| panic!("{e}")),
            name: String::new(),
            is_admin: false,
            password_hash: None,
        };
        let jane = test.database.create_user(&new_user("jane@example.com")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(jane.username, "jane");
        let other_jane =
            test.database.create_user(&new_user("Jane@Other.example")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(other_jane.username, "jane2", "{backend:?}: the original failed here with a 500");
        assert_eq!(other_jane.email, "jane@other.example");
        let duplicate = test.database.create_user(&new_user("JANE@example.com"));
        assert_eq!(
            duplicate,
            Err(RepositoryError::Conflict { constraint: "users.email".into() }),
            "{backend:?}"
        );
        let found = test
            .database
            .find_user_by_email(&Email::parse("jane@example.com").unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.map(|u| u.id), Some(jane.id));
    }
}
