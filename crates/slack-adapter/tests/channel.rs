//! The channel job against a fake Slack: whatever step fails, and even when the job dies after Slack
//! acted but before we recorded it, running it again ends with exactly one complete channel and no
//! message twice — on every backend.
#![expect(clippy::expect_used, reason = "test")]

use std::sync::Arc;

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use firefighter_slack_adapter as slack_adapter;
use incidents_core::incident::{DeclareIncident, PriorityChoice};
use incidents_core::ports::SharedPostMortems;
use incidents_core::{
    Actor, Email, EntryPoint, IncidentLifecycle, NewUser, NoPostMortemBackend, UserRepository,
};
use jobs::JobError;
use platform::{Integration, Secret};
use slack_adapter::channel::{BotIdentity, ChannelSettings, ChannelWorker, IncidentChannelJob};
use slack_adapter::client::{ClientSettings, SlackClient};
use slack_adapter::store::SlackStore;
use storage::testing::TestDatabase;
use test_support::slack::{Failure, FakeSlack};

const TOKEN: &str = "xoxb-channel-tests";

struct Setup {
    test: TestDatabase,
    worker: ChannelWorker,
    lifecycle: IncidentLifecycle<storage::Database, SharedPostMortems>,
    actor: Actor,
}

fn setup(test: TestDatabase, slack: &FakeSlack) -> Setup {
    let set = slack_adapter::Slack::default().migrations().expect("Slack has tables");
    let test = test.seeded().with_migrations(&[set]);
    let user = test
        .database
        .create_user(&NewUser {
            email: Email::parse("ada@example.com").expect("email"),
            name: "Ada Lovelace".into(),
            is_admin: true,
            password_hash: None,
        })
        .expect("user");
    let client = SlackClient::new(ClientSettings::new(
        url::Url::parse(&slack.api_url).expect("url"),
        Secret::new(TOKEN),
    ))
    .expect("client");
    let postmortems: SharedPostMortems = Arc::new(NoPostMortemBackend);
    let lifecycle = IncidentLifecycle::new(test.database.clone(), postmortems);
    let worker = ChannelWorker {
        slack: Arc::new(client),
        bot: Arc::new(BotIdentity::default()),
        database: test.database.clone(),
        store: SlackStore::new(test.database.clone()),
        settings: Arc::new(ChannelSettings {
            base_url: "https://ff.example.com".into(),
            app_name: "FireFighter".into(),
            app_emoji: ":fire_extinguisher:".into(),
            time_zone: chrono_tz::UTC,
            emergency_communication_guide_url: None,
            emergency_usergroup_id: None,
            postmortems_configured: false,
            postmortem_help_url: None,
            role_reminder_min_days_interval: 90,
        }),
        lifecycle: lifecycle.clone(),
    };
    Setup { worker, lifecycle, actor: Actor { user: user.id, entry_point: EntryPoint::Api }, test }
}

impl Setup {
    /// Declares a P1 in production and returns the job of its `incident_created` event.
    fn declare(&self, title: &str) -> IncidentChannelJob {
        let mut conn = self.test.database.connection().expect("connection");
        use storage::schema::{environments, incident_categories, priorities};
        let environment: String = environments::table
            .filter(environments::value.eq("PRD"))
            .select(environments::id)
            .first(&mut conn)
            .expect("env");
        let category: String =
            incident_categories::table.select(incident_categories::id).first(&mut conn).expect("cat");
        let priority: String = priorities::table
            .filter(priorities::value.eq(1))
            .select(priorities::id)
            .first(&mut conn)
            .expect("p1");
        let declared = self
            .lifecycle
            .declare(
                self.actor,
                &DeclareIncident {
                    title: title.into(),
                    description: "Orders fail at payment.".into(),
                    priority: PriorityChoice::Given(priority.clone()),
                    category_id: category.clone(),
                    environment_id: environment,
                    private: None,
                    dedup_key: None,
                    ignored: false,
                    custom_fields: serde_json::Map::new(),
                    created_by: None,
                },
            )
            .expect("declared");
        IncidentChannelJob {
            incident_id: declared.id().0,
            event_id: format!("event-{}", declared.id().0),
            event_type: "incident_created".into(),
            entry_point: Some("api".into()),
            actor_user_id: None,
            schema_version: 1,
            payload: serde_json::json!({"title": title, "priority": "P1", "category_id": category,
                "environment": "PRD", "private": false, "dedup_key": null, "created_by": self.actor.user.0.to_string()}),
        }
    }

    async fn run(&self, job: &IncidentChannelJob, attempt: u32) -> Result<(), JobError> {
        let (worker, job) = (self.worker.clone(), job.clone());
        tokio::task::spawn_blocking(move || worker.handle(&job, attempt)).await.expect("the job thread")
    }

    /// Forgets everything the job recorded about the incident, as if it died right after Slack acted.
    fn lose_records(&self, incident: i64) {
        let mut conn = self.test.database.connection().expect("connection");
        for table in ["slack_messages", "slack_conversations", "slack_incident_work"] {
            diesel::sql_query(format!("DELETE FROM {table} WHERE incident_id = $1"))
                .bind::<BigInt, _>(incident)
                .execute(&mut conn)
                .expect("delete");
        }
    }
}

/// What Slack holds about the incident: channels named after it, and for each its message kinds,
/// pins and bookmarks.
fn slack_state(slack: &FakeSlack, incident: i64) -> Vec<(String, Vec<String>, usize, usize, bool)> {
    slack
        .channels()
        .into_iter()
        .filter(|channel| channel.name.split('-').nth(1) == Some(&incident.to_string()))
        .map(|channel| {
            let kinds = slack
                .messages_in(&channel.id)
                .iter()
                .map(|m| {
                    m.metadata.as_ref().and_then(|m| m["event_type"].as_str()).unwrap_or("none").to_owned()
                })
                .collect();
            (
                channel.name.clone(),
                kinds,
                channel.pins.len(),
                channel.bookmarks.len(),
                channel.topic.is_empty(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_died_after_slack_acted_does_not_repeat_anything() {
    for test in TestDatabase::each_backend() {
        let slack = FakeSlack::start(TOKEN);
        slack.add_user("UADA0001", "ada", "ada@example.com");
        let setup = setup(test, &slack);
        let job = setup.declare("Checkout is down");
        setup.run(&job, 1).await.expect("set up");
        let complete = slack_state(&slack, job.incident_id);
        assert_eq!(complete.len(), 1, "one channel");
        assert_eq!(
            complete[0].1,
            [
                "ff_incident_declared",
                "ff_incident_roles_updated",
                "ff_incident_com_process",
                "ff_incident_key_events_form"
            ]
        );
        assert_eq!(
            (complete[0].2, complete[0].3, complete[0].4),
            (1, 1, false),
            "pinned, bookmarked, topic set"
        );

        // The worst crash: every record lost. The channel our bot made is adopted, and each message
        // is found by its metadata instead of being posted again.
        setup.lose_records(job.incident_id);
        let posted = slack.calls_of("chat.postMessage").len();
        setup.run(&job, 2).await.expect("run again");
        assert_eq!(slack_state(&slack, job.incident_id), complete, "{:?}", setup.test.backend());
        assert_eq!(slack.calls_of("chat.postMessage").len(), posted, "nothing posted twice");
        assert_eq!(slack.calls_of("conversations.create").len(), 2, "tried once more, adopted on name_taken");
        let recorded = setup.worker.store.channel_of(job.incident_id).expect("read").expect("recorded again");
        assert_eq!(recorded.name, complete[0].0);
        slack.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whichever_step_fails_the_retry_completes_the_channel_exactly_once() {
    let methods = [
        "auth.test",
        "users.lookupByEmail",
        "conversations.create",
        "conversations.join",
        "conversations.setTopic",
        "conversations.invite",
        "chat.postMessage",
        "pins.add",
        "bookmarks.add",
    ];
    for test in TestDatabase::each_backend() {
        let slack = FakeSlack::start(TOKEN);
        slack.add_user("UADA0001", "ada", "ada@example.com");
        let setup = setup(test, &slack);
        for (n, method) in methods.iter().enumerate() {
            let job = setup.declare(&format!("Failure at {method}"));
            // A user's Slack id, once found, is kept: forget it so that every run looks it up.
            diesel::sql_query("DELETE FROM slack_users")
                .execute(&mut setup.test.database.connection().expect("connection"))
                .expect("forget Slack ids");
            // Three 500s: more than the client's own retries, so the attempt fails and is retried.
            slack.fail(method, &Failure::Status(500), 3);
            let first = setup.run(&job, 1).await;
            assert!(matches!(first, Err(JobError::Retryable(_))), "{method}: {first:?}");
            // Half of the retries also find their records lost, as after a crash.
            if n % 2 == 1 {
                setup.lose_records(job.incident_id);
            }
            setup.run(&job, 2).await.unwrap_or_else(|error| panic!("{method}: {error}"));
            let state = slack_state(&slack, job.incident_id);
            assert_eq!(state.len(), 1, "{method}: one channel ({:?})", setup.test.backend());
            assert_eq!(
                state[0].1,
                [
                    "ff_incident_declared",
                    "ff_incident_roles_updated",
                    "ff_incident_com_process",
                    "ff_incident_key_events_form"
                ],
                "{method}: each message once"
            );
            assert_eq!(
                (state[0].2, state[0].3, state[0].4),
                (1, 1, false),
                "{method}: pinned, bookmarked, topic"
            );
        }
        slack.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_sync_brings_the_responders_a_channel_invites() {
    for test in TestDatabase::each_backend() {
        let slack = FakeSlack::start(TOKEN);
        for (id, name) in
            [("UADA0001", "ada"), ("UBOB0001", "bob"), ("UCAROL01", "carol"), ("UDAVE001", "dave")]
        {
            slack.add_user(id, name, &format!("{name}@example.com"));
        }
        let team_channel = slack.add_channel("platform-team");
        {
            let mut state = slack.state();
            state.user_groups.push(("S0PLAT01".into(), "oncall-platform".into(), vec!["UBOB0001".into()]));
            state.user_groups.push(("S0EXEC01".into(), "executives".into(), vec!["UDAVE001".into()]));
            state.user_groups.push(("S0OTHER1".into(), "unrelated".into(), vec!["UCAROL01".into()]));
            let channel = state.channels.iter_mut().find(|c| c.id == team_channel).expect("channel");
            channel.members.push("UCAROL01".into());
        }
        let setup = setup(test, &slack);
        let category: String = {
            use storage::schema::incident_categories;
            let mut conn = setup.test.database.connection().expect("connection");
            incident_categories::table.select(incident_categories::id).first(&mut conn).expect("category")
        };
        let store = &setup.worker.store;
        let now = incidents_core::clock::now();
        store
            .upsert_user_group(
                "S0PLAT01",
                "oncall-platform",
                "",
                "",
                Some(std::slice::from_ref(&category)),
                now,
            )
            .expect("group");
        store
            .upsert_user_group("S0EXEC01", "executives", "", "invited_for_all_public_p1", None, now)
            .expect("group");
        store.upsert_tagged(&team_channel, "platform-team", "public", "", now).expect("conversation");
        store
            .set_conversation_categories(&team_channel, std::slice::from_ref(&category))
            .expect("categories");

        let sync = slack_adapter::sync::DirectorySync {
            slack: Arc::clone(&setup.worker.slack),
            store: store.clone(),
        };
        let report = tokio::task::spawn_blocking(move || sync.run()).await.expect("thread").expect("synced");
        assert_eq!((report.users_linked, report.user_groups, report.conversations), (1, 2, 1), "{report:?}");
        // The bot is a member of the conversation too: invites leave it out.
        let all = ["UBOT0001", "UCAROL01", "UBOB0001", "UDAVE001"];
        assert_eq!(store.responders(&category, true).expect("responders"), all);
        assert_eq!(store.responders(&category, false).expect("responders"), all[..3]);

        let job = setup.declare("Checkout is down");
        setup.run(&job, 1).await.expect("set up");
        let channel = slack
            .channels()
            .into_iter()
            .find(|c| c.name.split('-').nth(1) == Some(&job.incident_id.to_string()))
            .expect("the incident's channel");
        for member in ["UADA0001", "UBOB0001", "UCAROL01", "UDAVE001"] {
            assert!(channel.members.contains(&member.to_owned()), "{member} invited: {:?}", channel.members);
        }
        assert_eq!(channel.members.len(), 5, "the bot and the four responders, nobody else");
        slack.stop().await;
    }
}

fn at(text: &str) -> chrono::NaiveDateTime {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").expect("a time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_incidents_are_reminded_once_per_silence_and_overdue_post_mortems_once() {
    use incidents_core::IncidentStatus;
    use incidents_core::incident::UpdateIncident;
    for test in TestDatabase::each_backend() {
        let slack = FakeSlack::start(TOKEN);
        let setup = setup(test, &slack);
        let job = setup.declare("Checkout is down");
        setup.run(&job, 1).await.expect("set up");
        let id = incidents_core::IncidentId(job.incident_id);
        let reminders = |worker: &ChannelWorker, now: chrono::NaiveDateTime, postmortem: bool| {
            let worker = worker.clone();
            tokio::task::spawn_blocking(move || {
                if postmortem { worker.postmortem_reminders(now) } else { worker.update_reminders(now) }
            })
        };
        let channel = setup.worker.store.channel_of(id.0).expect("read").expect("channel").channel_id;
        let reminders_in_channel = || {
            slack.messages_in(&channel).iter().filter(|m| m.text.starts_with("Reminder to update")).count()
        };

        // A week later, on a Tuesday morning: one reminder, however often the scheduler asks.
        let tuesday = at("2026-12-08 10:00");
        assert_eq!(reminders(&setup.worker, tuesday, false).await.expect("thread").expect("pass"), 1);
        assert_eq!(reminders(&setup.worker, tuesday, false).await.expect("thread").expect("pass"), 0);
        assert_eq!(
            reminders(&setup.worker, at("2026-12-08 20:00"), false).await.expect("thread").expect("pass"),
            0,
            "evening"
        );
        assert_eq!(reminders_in_channel(), 1);
        // An update starts a new silence, which gets its own reminder.
        let note = UpdateIncident { message: Some("Still looking".into()), ..UpdateIncident::default() };
        setup.lifecycle.update(setup.actor, id, &note).expect("update");
        assert_eq!(reminders(&setup.worker, tuesday, false).await.expect("thread").expect("pass"), 1);
        assert_eq!(reminders_in_channel(), 2);

        // Mitigated, with a post-mortem backend: five days later, the post-mortem reminder, once.
        for status in [IncidentStatus::Investigating, IncidentStatus::Mitigating, IncidentStatus::Mitigated] {
            let update = UpdateIncident { status: Some(status), ..UpdateIncident::default() };
            setup.lifecycle.update(setup.actor, id, &update).expect("status");
        }
        let mut worker = setup.worker.clone();
        assert_eq!(
            reminders(&worker, at("2027-01-01 10:00"), true).await.expect("thread").expect("pass"),
            0,
            "no backend"
        );
        worker.settings =
            Arc::new(ChannelSettings { postmortems_configured: true, ..(*worker.settings).clone() });
        let soon = chrono::Utc::now().naive_utc() + chrono::Duration::days(4);
        assert_eq!(reminders(&worker, soon, true).await.expect("thread").expect("pass"), 0, "not yet due");
        assert_eq!(reminders(&worker, at("2027-01-01 10:00"), true).await.expect("thread").expect("pass"), 1);
        assert_eq!(reminders(&worker, at("2027-01-01 15:00"), true).await.expect("thread").expect("pass"), 0);
        let overdue = slack.messages_in(&channel).iter().filter(|m| m.text.contains("post-mortem")).count();
        assert_eq!(overdue, 1);
        slack.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_messages_follow_the_throttle() {
    let slack = FakeSlack::start(TOKEN);
    slack.add_user("UADA0001", "ada", "ada@example.com");
    let mut setup = setup(TestDatabase::sqlite(), &slack);
    let with_interval = |setup: &mut Setup, days: i64| {
        setup.worker.settings = Arc::new(ChannelSettings {
            role_reminder_min_days_interval: days,
            ..(*setup.worker.settings).clone()
        });
    };
    // The default (90 days): the commander hears about the role once, not again for the next incident.
    for title in ["First", "Second"] {
        let job = setup.declare(title);
        setup.run(&job, 1).await.expect("set up");
    }
    assert_eq!(slack.direct_messages("UADA0001").len(), 1, "told once within 90 days");
    // 0: every time; -1: never.
    with_interval(&mut setup, 0);
    let job = setup.declare("Third");
    setup.run(&job, 1).await.expect("set up");
    assert_eq!(slack.direct_messages("UADA0001").len(), 2);
    with_interval(&mut setup, -1);
    let job = setup.declare("Fourth");
    setup.run(&job, 1).await.expect("set up");
    assert_eq!(slack.direct_messages("UADA0001").len(), 2);
    slack.stop().await;
}
