//! Permission groups on real databases: a user holds what is granted to them and what their groups
//! hold; single sign-on's roles set their groups exactly; deleting a group leaves direct grants.
#![expect(clippy::expect_used, reason = "test helpers fail the test loudly")]

use firefighter_storage as storage;

use incidents_core::access::{AccessRepository, Action, Permission, Resource};
use incidents_core::{Email, NewUser, UserId, UserRepository};
use storage::Database;
use storage::testing::TestDatabase;

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

fn held(database: &Database, user: UserId) -> Vec<String> {
    let mut held: Vec<String> =
        database.principal(user).expect("principal").expect("exists").permissions.into_iter().collect();
    held.sort();
    held
}

#[test]
fn groups_add_their_permissions_and_roles_set_membership_exactly() {
    let view = Permission::new(Action::View, Resource::Incident);
    let add = Permission::new(Action::Add, Resource::Incident);
    let tokens = Permission::new(Action::View, Resource::ApiToken);
    for test in TestDatabase::each_backend() {
        let backend = test.backend();
        let database = &test.database;
        let ada = user(database, "ada@example.com");
        database.grant_permissions(ada, &[view]).expect("grant");

        let (group, created) = database.put_permission_group("responders", &[view, add]).expect("put");
        assert!(created, "{backend:?}");
        assert_eq!(group.permissions, ["incidents.add_incident", "incidents.view_incident"], "{backend:?}");
        let (_, created) = database.put_permission_group("auditors", &[tokens]).expect("put");
        assert!(created);
        // Replacing a group's permissions is not creating it.
        let (again, created) = database.put_permission_group("responders", &[add, view, add]).expect("put");
        assert!(!created && again.id == group.id && again.permissions.len() == 2, "{backend:?}");

        assert_eq!(held(database, ada), ["incidents.view_incident"], "{backend:?}");
        // Single sign-on's roles: the known ones become the groups, the unknown are answered.
        let unknown = database
            .sync_user_groups(ada, &["responders".into(), "ghosts".into(), "auditors".into()])
            .expect("sync");
        assert_eq!(unknown, ["ghosts"], "{backend:?}");
        assert_eq!(
            held(database, ada),
            ["api.view_apitoken", "incidents.add_incident", "incidents.view_incident"],
            "{backend:?}"
        );
        // The token path sees the same permissions as the session path.
        let token = incidents_core::access::hash_token("group-test-token");
        database.create_api_token(ada, "t", &token, None).expect("token");
        let principal =
            database.authenticate_token(&token, incidents_core::clock::now()).expect("query").expect("valid");
        assert!(principal.can(tokens) && principal.can(add), "{backend:?}");

        // A later sign-in without a role removes the group.
        assert!(database.sync_user_groups(ada, &["responders".into()]).expect("sync").is_empty());
        assert_eq!(held(database, ada), ["incidents.add_incident", "incidents.view_incident"], "{backend:?}");
        let groups = database.permission_groups().expect("groups");
        let names: Vec<(&str, &[String])> =
            groups.iter().map(|g| (g.name.as_str(), g.members.as_slice())).collect();
        assert_eq!(names, [("auditors", &[][..]), ("responders", &["ada@example.com".to_owned()][..])]);

        // Membership by hand, idempotent.
        assert_eq!(database.set_group_member("auditors", ada, true).expect("add"), Some(true));
        assert_eq!(database.set_group_member("auditors", ada, true).expect("add"), Some(false));
        assert_eq!(database.set_group_member("nobody", ada, true).expect("add"), None);
        assert_eq!(database.set_group_member("auditors", ada, false).expect("remove"), Some(true));

        // Deleting a group takes its permissions away, not what was granted directly.
        assert!(database.delete_permission_group("responders").expect("delete"));
        assert!(!database.delete_permission_group("responders").expect("delete"));
        assert_eq!(held(database, ada), ["incidents.view_incident"], "{backend:?}");
        // An empty roles list leaves no group.
        database.set_group_member("auditors", ada, true).expect("add");
        assert!(database.sync_user_groups(ada, &[]).expect("sync").is_empty());
        assert_eq!(held(database, ada), ["incidents.view_incident"], "{backend:?}");
    }
}
