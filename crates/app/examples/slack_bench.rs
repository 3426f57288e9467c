//! Slack benchmarks against a running `firefighter-server` (`bench/slack.sh` starts everything):
//!
//! 1. **Events acknowledged**: `TOTAL` signed Events API deliveries (each with its own `event_id`),
//!    `CONCURRENCY` at a time; the latency of each acknowledgement, p50/p90/p99/max.
//! 2. **Declaration to channel**: `DECLARATIONS` P1 incidents declared through the API, one at a
//!    time; for each, the time from the API's 201 to its channel being complete in the fake Slack
//!    (announcement, roles and communication messages, pin, bookmark).
//! 3. **Modal submissions acknowledged**: `SUBMISSIONS` "Update status" submissions with a message (each
//!    one a lifecycle update: a timeline entry, an audit row, an outbox event, then the channel's
//!    status message), in rounds where `USERS` Slack users submit at the same moment, `PAUSE_MS`
//!    apart, over the incidents declared in 2; the latency of each acknowledgement.
//!
//! Usage: `slack_bench <fake Slack port> <server base URL> <API token> <signing secret>`; the server
//! must use the fake Slack (`SLACK_API_URL=http://127.0.0.1:<port>/api/`, `SLACK_BOT_TOKEN=xoxb-bench`).
#![expect(clippy::expect_used, clippy::print_stdout, reason = "a benchmark program")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_support::slack::FakeSlack;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index"
    )]
    let index = ((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1).min(sorted.len() - 1);
    sorted[index]
}

fn report(name: &str, mut samples: Vec<Duration>, elapsed: Duration) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    #[expect(clippy::cast_precision_loss, reason = "a rate")]
    let rate = samples.len() as f64 / elapsed.as_secs_f64();
    println!(
        "{name}: n={} p50={:.1} ms p90={:.1} ms p99={:.1} ms max={:.1} ms ({rate:.0}/s)",
        samples.len(),
        ms(percentile(&samples, 0.50)),
        ms(percentile(&samples, 0.90)),
        ms(percentile(&samples, 0.99)),
        ms(samples.last().copied().unwrap_or_default()),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [port, base, token, secret] = args.as_slice() else {
        panic!("usage: slack_bench <fake Slack port> <server base URL> <API token> <signing secret>")
    };
    let total: usize = std::env::var("TOTAL").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let concurrency: usize = std::env::var("CONCURRENCY").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let declarations: usize = std::env::var("DECLARATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(15);
    let slack = Arc::new(FakeSlack::start_on("xoxb-bench", port.parse().expect("a port")));
    slack.add_user("UADA0001", "ada", "bench@example.com");
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().expect("client");
    let endpoint = format!("{base}/api/v2/firefighter/slack/incident/");
    // Wait for the server.
    let deadline = Instant::now() + Duration::from_secs(60);
    while client.get(format!("{base}/api/v2/firefighter/monitoring/healthcheck")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server does not answer");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 1. Events, signed one by one (each has its own id, so each is queued).
    let bodies: Vec<(String, String, String)> = (0..total)
        .map(|n| {
            let body = json!({"type": "event_callback", "team_id": "T0FAKE01", "event_id": format!("EvBENCH{n:08}"),
                "event": {"type": "channel_rename", "channel": {"id": format!("CBENCH{n:05}"), "name": format!("bench-{n}")}}})
            .to_string();
            let timestamp = chrono::Utc::now().timestamp().to_string();
            let signature = slack_adapter::verify::sign(secret, &timestamp, body.as_bytes());
            (body, timestamp, signature)
        })
        .collect();
    let queue = Arc::new(tokio::sync::Mutex::new(bodies));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (queue, client, endpoint) = (Arc::clone(&queue), client.clone(), endpoint.clone());
        tasks.spawn(async move {
            let mut samples = Vec::new();
            loop {
                let Some((body, timestamp, signature)) = queue.lock().await.pop() else { break };
                let sent = Instant::now();
                let response = client
                    .post(&endpoint)
                    .header("content-type", "application/json")
                    .header("x-slack-request-timestamp", timestamp)
                    .header("x-slack-signature", signature)
                    .body(body)
                    .send()
                    .await
                    .expect("the server answers");
                assert_eq!(response.status(), 200);
                let _ = response.bytes().await;
                samples.push(sent.elapsed());
            }
            samples
        });
    }
    let mut samples = Vec::new();
    while let Some(done) = tasks.join_next().await {
        samples.extend(done.expect("a client task"));
    }
    report(&format!("events acknowledged ({concurrency} concurrent)"), samples, started.elapsed());

    // 2. Declaration to channel.
    let get = |path: &str| {
        let request = client.get(format!("{base}/api/v2/firefighter{path}")).bearer_auth(token);
        async move { request.send().await.expect("r").json::<Value>().await.expect("json") }
    };
    let first_id = |list: Value, field: &str, value: Value| -> String {
        let items = list.as_array().cloned().unwrap_or_default();
        let item = items.iter().find(|item| value.is_null() || item[field] == value).cloned().expect("found");
        item["id"].as_str().expect("id").to_owned()
    };
    let body = json!({
        "title": "Benchmark", "description": "Declaration to channel.",
        "environment_id": first_id(get("/environments").await, "value", json!("PRD")),
        "incident_category_id": first_id(get("/incident-categories").await, "", Value::Null),
        "priority_id": first_id(get("/priorities").await, "value", json!(1)),
        "created_by_email": "bench@example.com",
    });
    let mut samples = Vec::new();
    let started = Instant::now();
    for _ in 0..declarations {
        let response = client
            .post(format!("{base}/api/v2/firefighter/incidents"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("r");
        let declared = Instant::now();
        let created: Value = response.json().await.expect("json");
        let id = created["id"].as_i64().expect("an id").to_string();
        loop {
            let done = slack.channels().iter().any(|channel| {
                channel.name.split('-').nth(1) == Some(id.as_str())
                    && !channel.bookmarks.is_empty()
                    && slack.messages_in(&channel.id).len() >= 3
            });
            if done {
                break;
            }
            assert!(declared.elapsed() < Duration::from_secs(60), "incident {id}: no channel after a minute");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        samples.push(declared.elapsed());
        // Within Slack's tier-2 rate (20 channels a minute) the client never has to wait.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    report("declaration to complete channel", samples, started.elapsed());

    // 3. Modal submissions, after each user's first one (which makes them a user) is out of the way.
    let users: usize = std::env::var("USERS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let submissions: usize = std::env::var("SUBMISSIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    for n in 0..users {
        slack.add_user(&format!("UBENCH{n:04}"), &format!("bench{n}"), &format!("bench{n}@example.com"));
    }
    // Every incident declared in 2 is still Open (status 10).
    let incidents: Vec<Value> = get("/incidents?limit=100").await.as_array().cloned().unwrap_or_default();
    assert!(!incidents.is_empty(), "no incidents to update");
    let payload = |n: usize| {
        let incident = &incidents[n % incidents.len()];
        let values = json!({
            "message": {"message": {"type": "plain_text_input", "value": format!("Benchmark update number {n}")}},
            "status": {"status": {"type": "static_select", "selected_option": {"value": "10"}}},
            "priority": {"priority": {"type": "static_select", "selected_option": {"value": incident["priority"]["id"]}}},
            "incident_category": {"incident_category": {"type": "static_select",
                "selected_option": {"value": incident["incident_category"]["id"]}}},
        });
        let payload = json!({"type": "view_submission", "user": {"id": format!("UBENCH{:04}", n % users)},
            "team": {"id": "T0FAKE01"}, "trigger_id": "1.2.3",
            "view": {"id": format!("VBENCH{n}"), "callback_id": "incident_update_status", "hash": "1.hash",
                "private_metadata": incident["id"].to_string(), "state": {"values": values}}});
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).expect("form");
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature = slack_adapter::verify::sign(secret, &timestamp, body.as_bytes());
        (body, timestamp, signature)
    };
    let (submit_client, submit_endpoint) = (client.clone(), endpoint.clone());
    let submit = move |(body, timestamp, signature): (String, String, String)| {
        let request = submit_client
            .post(&submit_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", timestamp)
            .header("x-slack-signature", signature)
            .body(body);
        async move {
            let sent = Instant::now();
            let response = request.send().await.expect("the server answers");
            assert_eq!(response.status(), 200);
            let answer = response.bytes().await.expect("body");
            assert!(answer.is_empty(), "refused: {}", String::from_utf8_lossy(&answer));
            sent.elapsed()
        }
    };
    for n in 0..users {
        submit(payload(submissions.div_ceil(users) * users + n)).await;
    }
    // Rounds: every user submits at the same moment, then people read for a while (PAUSE_MS).
    let pause =
        Duration::from_millis(std::env::var("PAUSE_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000));
    let mut samples = Vec::new();
    let mut busy = Duration::ZERO;
    for round in 0..submissions.div_ceil(users) {
        let round_started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for user in 0..users {
            tasks.spawn(submit(payload(round * users + user)));
        }
        while let Some(done) = tasks.join_next().await {
            samples.push(done.expect("a client task"));
        }
        busy += round_started.elapsed();
        tokio::time::sleep(pause).await;
    }
    report(
        &format!(
            "modal submissions acknowledged ({users} users at once, rounds {} ms apart)",
            pause.as_millis()
        ),
        samples,
        busy,
    );
    // Every acknowledged update is on its incident's timeline (they are applied right after the answer).
    let expected = submissions.div_ceil(users) * users + users;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut applied = 0;
        for incident in &incidents {
            let entries = get(&format!("/incidents/{}/updates?limit=1000", incident["id"])).await;
            applied += entries.as_array().map_or(0, |entries| {
                entries
                    .iter()
                    .filter(|e| e["message"].as_str().is_some_and(|m| m.starts_with("Benchmark update")))
                    .count()
            });
        }
        if applied == expected {
            println!("modal submissions applied: {applied} of {expected}");
            break;
        }
        assert!(Instant::now() < deadline, "only {applied} of {expected} updates applied after two minutes");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
