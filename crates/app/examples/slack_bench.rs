//! Slack benchmarks against a running `firefighter-server` (`bench/slack.sh` starts everything):
//!
//! 1. **Events acknowledged**: `TOTAL` signed Events API deliveries (each with its own `event_id`),
//!    `CONCURRENCY` at a time; the latency of each acknowledgement, p50/p90/p99/max.
//! 2. **Declaration to channel**: `DECLARATIONS` P1 incidents declared through the API, one at a
//!    time; for each, the time from the API's 201 to its channel being complete in the fake Slack
//!    (announcement, roles and communication messages, pin, bookmark).
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
}
