//! Jira under kills: `firefighter-server` (a process, SQLite, jobs embedded) creates the tickets of
//! incidents in a fake Jira while it is killed with SIGKILL at random moments of their creation and
//! restarted. Every incident ends with exactly one ticket, recorded.
#![expect(clippy::expect_used, reason = "test")]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::jira::{FakeJira, SERVICE_ACCOUNT};

const BINARY: &str = env!("CARGO_BIN_EXE_firefighter-server");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

struct Server {
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
    base: String,
}

impl Server {
    fn new(jira: &FakeJira) -> Self {
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
            ("ENABLE_JIRA", "true".to_owned()),
            ("ENABLE_RAID", "true".to_owned()),
            ("RAID_JIRA_API_URL", jira.url.clone()),
            ("RAID_JIRA_API_USER", "firefighter@example.com".to_owned()),
            ("RAID_JIRA_API_PASSWORD", "jira-api-token".to_owned()),
            ("RAID_DEFAULT_JIRA_QRAFT_USER_ID", SERVICE_ACCOUNT.to_owned()),
            ("RAID_JIRA_PROJECT_KEY", "INCIDENT".to_owned()),
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
async fn killing_the_server_during_ticket_creation_makes_exactly_one_ticket_per_incident() {
    const INCIDENTS: usize = 10;
    let jira = FakeJira::start(
        "firefighter@example.com",
        "jira-api-token",
        raid_jira::workflow::incident_workflow_layout(),
    );
    // A Jira answering in 30 ms: a ticket's creation takes a few calls to kill in.
    jira.state().delay_ms = 30;
    let server = Server::new(&jira);
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
        "priority_id": pick(&get("/priorities").await, "value", json!(4)),
        "created_by_email": "ada@example.com",
    });
    let searches =
        |jira: &FakeJira| jira.state().calls.iter().filter(|c| c.path.contains("/search/jql")).count();
    let (mut kills, mut declared) = (0, 0);
    while declared < INCIDENTS {
        let mut body = body.clone();
        body["title"] = json!(format!("Incident {declared}"));
        let before = searches(&jira);
        let sent =
            client.post(format!("{}/incidents", server.base)).bearer_auth(&token).json(&body).send().await;
        if !sent.is_ok_and(|response| response.status() == 201) {
            continue;
        }
        declared += 1;
        // Kill once a creation has begun (its search was made), at a random moment of it.
        let begun = Instant::now();
        while searches(&jira) == before && begun.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // Within the creation call (Jira answers in 30 ms), mostly: a kill after it proves less.
        tokio::time::sleep(Duration::from_millis(rand_ms(40))).await;
        kill(&mut child.0);
        kills += 1;
        child = Process(server.spawn());
        server.wait_ready(&client).await;
    }
    // Left alone, the server records every ticket.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let list = get("/incidents?limit=100").await;
        let items =
            list.as_array().cloned().or_else(|| list["results"].as_array().cloned()).unwrap_or_default();
        let recorded = items.iter().filter(|incident| incident["jira_ticket_key"].is_string()).count();
        if recorded == INCIDENTS {
            break;
        }
        if Instant::now() > deadline {
            let jobs = server
                .command(&["jobs", "list"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
            panic!("{recorded} of {INCIDENTS} tickets recorded; jobs:\n{}", jobs.unwrap_or_default());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(child);
    {
        let state = jira.state();
        let mut labels: Vec<String> = state
            .issues
            .iter()
            .flat_map(|issue| issue.fields["labels"].as_array().cloned().unwrap_or_default())
            .filter_map(|label| label.as_str().map(str::to_owned))
            .collect();
        labels.sort();
        let mut expected: Vec<String> =
            (1..=INCIDENTS).map(|id| format!("firefighter-incident-{id}")).collect();
        expected.sort();
        let (searched, posted) = (
            state.calls.iter().filter(|c| c.path.contains("/search/jql")).count(),
            state.calls.iter().filter(|c| c.method == "POST" && c.path == "/rest/api/2/issue").count(),
        );
        eprintln!(
            "{INCIDENTS} incidents, {kills} kills, {searched} searches, {posted} creations, {} issues",
            state.issues.len()
        );
        assert!(
            searched > INCIDENTS,
            "no creation was interrupted and taken up again: the test proved nothing"
        );
        assert_eq!(labels, expected, "exactly one ticket per incident");
    }
    jira.stop().await;
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
