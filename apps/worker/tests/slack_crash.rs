//! The scaled mode under kills, with Slack: the server (in this process) takes incidents; the
//! `firefighter-worker` processes relay the outbox to RabbitMQ and set up the channels in a fake
//! Slack while the consumer is killed with SIGKILL at random moments of the set-up and restarted.
//! Every incident ends with exactly one complete channel and no message twice. Needs
//! `FF_TEST_DATABASE_URL` and `FF_TEST_AMQP_URL`; skipped without them.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use app::{AppBuilder, Application};
use diesel::prelude::*;
use incidents_core::access::AccessRepository;
use incidents_core::{Email, NewUser, UserRepository};
use serde_json::json;
use storage::schema::{environments, incident_categories, priorities};
use storage::testing::TestDatabase;
use test_support::slack::FakeSlack;

const TOKEN: &str = "xoxb-scaled-crash";

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rand_ms(below: u64) -> u64 {
    rand::random::<u64>() % below
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_worker_during_channel_set_up_completes_every_channel_once() {
    const INCIDENTS: usize = 12;
    let Some(amqp) = test_support::service_url("FF_TEST_AMQP_URL") else { return };
    let Some(test) = TestDatabase::postgres() else { return };
    let test = test.seeded();
    let storage::DatabaseUrl::Postgres { url: database_url } = test.url.clone() else { panic!("PostgreSQL") };
    let slack = FakeSlack::start(TOKEN);
    slack.add_user("UADA0001", "ada", "ada@example.com");
    slack.state().delay_ms = 15;

    let user = test
        .database
        .create_user(&NewUser {
            email: Email::parse("ada@example.com").expect("email"),
            name: "Ada".into(),
            is_admin: true,
            password_hash: None,
        })
        .expect("user");
    let token = http_api::new_token();
    test.database.create_api_token(user.id, "test", &http_api::hash_token(&token), None).expect("token");
    let (environment, category, priority): (String, String, String) = {
        let mut conn = test.database.connection().expect("connection");
        (
            environments::table
                .filter(environments::value.eq("PRD"))
                .select(environments::id)
                .first(&mut conn)
                .expect("env"),
            incident_categories::table.select(incident_categories::id).first(&mut conn).expect("category"),
            priorities::table
                .filter(priorities::value.eq(1))
                .select(priorities::id)
                .first(&mut conn)
                .expect("p1"),
        )
    };
    let data = tempfile::tempdir().expect("tempdir");
    let prefix = format!("ffslack{:08x}", rand::random::<u32>());
    let env: Vec<(String, String)> = [
        ("DATABASE_URL", database_url.as_str()),
        ("DATABASE_AUTO_MIGRATE", "false"),
        ("AMQP_URL", amqp.as_str()),
        ("AMQP_PREFIX", prefix.as_str()),
        ("JOB_LEASE_SECONDS", "2"),
        ("FF_DATA_DIR", data.path().to_str().expect("path")),
        ("LOG_LEVEL", "warn"),
        ("HTTP_PORT", "0"),
        ("BASE_URL", "https://ff.example.com"),
        ("SECRET_KEY", "a-test-secret-key-of-32-characters!!"),
        ("SLACK_BOT_TOKEN", TOKEN),
        ("SLACK_SIGNING_SECRET", "a-signing-secret"),
        ("SLACK_API_URL", slack.api_url.as_str()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect();
    let config = AppBuilder::standard().configure(&env.iter().cloned().collect()).expect("config");
    test.database.run_integration_migrations(&config.migration_sets()).expect("the integrations' tables");
    let application = Application::build(&config, test.database.clone()).expect("application");
    let base = format!("http://{}/api/v2/firefighter", application.address());
    let handle = application.handle();
    tokio::spawn(application.run_until(std::future::pending()));
    let worker = |command: &str| {
        Process(
            Command::new(env!("CARGO_BIN_EXE_firefighter-worker"))
                .arg(command)
                .env_clear()
                .envs(env.iter().cloned())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start firefighter-worker"),
        )
    };
    let _relay = worker("relay");
    let mut consumer = worker("consume");

    let client = reqwest::Client::new();
    let half_set_up = |slack: &FakeSlack| {
        slack
            .channels()
            .iter()
            .any(|channel| slack.messages_in(&channel.id).len() < 3 || channel.bookmarks.is_empty())
    };
    let (mut kills, mut kills_mid_set_up) = (0, 0);
    for n in 0..INCIDENTS {
        let response = client
            .post(format!("{base}/incidents"))
            .bearer_auth(&token)
            .json(&json!({"title": format!("Incident {n}"), "description": "Payments fail.", "environment_id": environment,
                "incident_category_id": category, "priority_id": priority, "created_by_email": "ada@example.com"}))
            .send()
            .await
            .expect("the API answers");
        assert_eq!(response.status(), 201);
        // Kill once this incident's set-up has begun (its channel is being created), at a random
        // moment of it: the fake Slack answers in 15 ms, so a set-up lasts a few hundred.
        let begun = Instant::now();
        while slack.calls_of("conversations.create").len() <= n && begun.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(rand_ms(150))).await;
        drop(consumer);
        kills += 1;
        if half_set_up(&slack) {
            kills_mid_set_up += 1;
        }
        consumer = worker("consume");
    }
    eprintln!(
        "{INCIDENTS} incidents declared through {kills} kills of the worker, {kills_mid_set_up} mid set-up"
    );

    let complete = |slack: &FakeSlack| {
        let channels = slack.channels();
        channels.len() == INCIDENTS
            && channels
                .iter()
                .all(|c| slack.messages_in(&c.id).len() >= 3 && !c.pins.is_empty() && !c.bookmarks.is_empty())
    };
    // A job killed twice or more comes back after the retry policy's delays (5–10 s, then 10–20 s …:
    // `RetryPolicy::after_abandoned`), so completing every channel can take a few minutes here.
    let deadline = Instant::now() + Duration::from_secs(420);
    while !complete(&slack) {
        assert!(Instant::now() < deadline, "channels not completed: {} channels", slack.channels().len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(consumer);
    for channel in slack.channels() {
        let kinds: Vec<String> = slack
            .messages_in(&channel.id)
            .iter()
            .map(|m| m.metadata.as_ref().and_then(|m| m["event_type"].as_str()).unwrap_or("none").to_owned())
            .collect();
        assert_eq!(
            kinds,
            [
                "ff_incident_declared",
                "ff_incident_roles_updated",
                "ff_incident_com_process",
                "ff_incident_key_events_form"
            ],
            "{}",
            channel.name
        );
        assert_eq!((channel.pins.len(), channel.bookmarks.len()), (1, 1), "{}", channel.name);
    }
    assert_eq!(slack.direct_messages("UADA0001").len(), 1);
    assert!(kills_mid_set_up > 0, "no kill fell in a channel's set-up: the test proved nothing");
    handle.stop(false).await;
    slack.stop().await;
}
