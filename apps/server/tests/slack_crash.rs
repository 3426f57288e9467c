//! The embedded mode under kills: `firefighter-server` (a process, SQLite) sets up incident channels
//! in a fake Slack while it is killed with SIGKILL at random moments and restarted. Every incident
//! ends with exactly one complete channel and no message twice.
#![expect(clippy::expect_used, reason = "test")]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::slack::FakeSlack;

const BINARY: &str = env!("CARGO_BIN_EXE_firefighter-server");
const TOKEN: &str = "xoxb-crash-test";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

struct Server {
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
    base: String,
}

impl Server {
    fn new(slack: &FakeSlack) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let env: Vec<(String, String)> = [
            ("DATABASE_URL", format!("sqlite://{}", dir.path().join("ff.db").display())),
            ("HTTP_PORT", port.to_string()),
            ("FF_DATA_DIR", dir.path().display().to_string()),
            ("SECRET_KEY", "a-test-secret-key-of-32-characters!!".to_owned()),
            ("BASE_URL", "https://ff.example.com".to_owned()),
            ("JOB_LEASE_SECONDS", "2".to_owned()),
            ("LOG_LEVEL", "warn".to_owned()),
            ("SLACK_BOT_TOKEN", TOKEN.to_owned()),
            ("SLACK_SIGNING_SECRET", "a-signing-secret".to_owned()),
            ("SLACK_API_URL", slack.api_url.clone()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
        Self { env, dir, base: format!("http://127.0.0.1:{port}/api/v2/firefighter") }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BINARY);
        command.args(args).env_clear().envs(self.env.iter().cloned()).current_dir(self.dir.path());
        command
    }

    fn run(&self, args: &[&str]) -> String {
        let output = self.command(args).stdin(Stdio::null()).output().expect("runs");
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    fn spawn(&self) -> Child {
        self.command(&["serve"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("serve")
    }

    async fn wait_ready(&self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while client.get(format!("{}/monitoring/healthcheck", self.base)).send().await.is_err() {
            assert!(Instant::now() < deadline, "the server did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The running server, killed when the test ends (or fails).
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        kill(&mut self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_server_during_channel_set_up_completes_every_channel_once() {
    const INCIDENTS: usize = 12;
    let slack = FakeSlack::start(TOKEN);
    slack.add_user("UADA0001", "ada", "ada@example.com");
    // A Slack answering in 15 ms: a channel's set-up takes a few hundred milliseconds to kill in.
    slack.state().delay_ms = 15;
    let server = Server::new(&slack);
    server.run(&["migrate"]);
    server.run(&["seed"]);
    server.run(&["create-user", "--email", "ada@example.com", "--name", "Ada", "--admin"]);
    let token = server.run(&["create-token", "--email", "ada@example.com"]);
    let token = token.lines().last().expect("a token").to_owned();
    let client = reqwest::Client::new();
    let mut child = Process(server.spawn());
    server.wait_ready(&client).await;
    let get = |path: &str| {
        let request = client.get(format!("{}{path}", server.base)).bearer_auth(&token);
        async move { request.send().await.expect("r").json::<Value>().await.expect("json") }
    };
    let pick = |list: &Value, field: &str, value: Value| -> String {
        let items = list.as_array().expect("a list");
        let item = items.iter().find(|item| value.is_null() || item[field] == value).expect("found");
        item["id"].as_str().expect("id").to_owned()
    };
    let body = json!({
        "title": "Checkout is down", "description": "Payments fail.",
        "environment_id": pick(&get("/environments").await, "value", json!("PRD")),
        "incident_category_id": pick(&get("/incident-categories").await, "", Value::Null),
        "priority_id": pick(&get("/priorities").await, "value", json!(1)),
        "created_by_email": "ada@example.com",
    });

    // Declare, and kill the server at a random moment of most channels' set-up (a declaration that
    // meets a dead server is sent again once it is back).
    let half_set_up = |slack: &FakeSlack| {
        slack
            .channels()
            .iter()
            .any(|channel| slack.messages_in(&channel.id).len() < 3 || channel.bookmarks.is_empty())
    };
    let (mut kills, mut kills_mid_set_up) = (0, 0);
    let mut declared = 0;
    while declared < INCIDENTS {
        let mut body = body.clone();
        body["title"] = json!(format!("Incident {declared}"));
        let sent =
            client.post(format!("{}/incidents", server.base)).bearer_auth(&token).json(&body).send().await;
        if !sent.is_ok_and(|response| response.status() == 201) {
            continue;
        }
        declared += 1;
        // Kill once this incident's set-up has begun (its channel is being created), at a random
        // moment of it: the fake Slack answers in 15 ms, so a set-up lasts a few hundred.
        let begun = Instant::now();
        while slack.calls_of("conversations.create").len() < declared
            && begun.elapsed() < Duration::from_secs(30)
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(rand_ms(150))).await;
        kill(&mut child.0);
        kills += 1;
        if half_set_up(&slack) {
            kills_mid_set_up += 1;
        }
        child = Process(server.spawn());
        server.wait_ready(&client).await;
    }
    eprintln!(
        "{INCIDENTS} incidents declared through {kills} kills, {kills_mid_set_up} with a channel half set up"
    );
    assert!(kills_mid_set_up > 0, "no kill fell in a channel's set-up: the test proved nothing");

    // Left alone, the server completes every channel.
    let complete = |slack: &FakeSlack| {
        let channels = slack.channels();
        channels.len() == INCIDENTS
            && channels.iter().all(|channel| {
                slack.messages_in(&channel.id).len() >= 3
                    && !channel.pins.is_empty()
                    && !channel.bookmarks.is_empty()
            })
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while !complete(&slack) {
        if Instant::now() > deadline {
            let summary: Vec<String> = slack
                .channels()
                .iter()
                .map(|c| {
                    format!(
                        "{}: {} messages, {} pins, {} bookmarks",
                        c.name,
                        slack.messages_in(&c.id).len(),
                        c.pins.len(),
                        c.bookmarks.len()
                    )
                })
                .collect();
            let jobs = server
                .command(&["jobs", "list"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
            panic!("channels not completed:\n{}\njobs:\n{}", summary.join("\n"), jobs.unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Nothing is left to run that could add to it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(child);

    let channels = slack.channels();
    let mut ids: Vec<String> =
        channels.iter().map(|c| c.name.split('-').nth(1).unwrap_or_default().to_owned()).collect();
    ids.sort_by_key(|id| id.parse::<u32>().unwrap_or_default());
    let expected: Vec<String> = (1..=INCIDENTS).map(|id| id.to_string()).collect();
    assert_eq!(ids, expected, "one channel per incident");
    for channel in &channels {
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
        assert!(channel.topic.starts_with("Incident - "), "{}", channel.name);
    }
    assert_eq!(slack.direct_messages("UADA0001").len(), 1, "the commander is told about the role once");
    slack.stop().await;
}

/// A pseudo-random number of milliseconds below `below` (the clock's nanoseconds are enough here).
fn rand_ms(below: u64) -> u64 {
    u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(7),
    ) % below
}
