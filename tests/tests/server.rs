//! `firefighter-server` as a process, in the embedded mode (SQLite, jobs in the server): a fresh
//! directory with no configuration serves the product, and SIGTERM under load answers every request
//! it took, loses none, and leaves no side effect behind.

#![expect(clippy::expect_used, reason = "tests")]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use firefighter_e2e::{Deployment, declaration};
use serde_json::{Value, json};
use test_support::Receiver;

const EVENT_ID: &str = "x-firefighter-event-id";

async fn get(client: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the server answers");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

/// Every incident's title, read through the API.
async fn titles(client: &reqwest::Client, base: &str, token: &str) -> HashSet<String> {
    let (status, body) = get(client, &format!("{base}/incidents?limit=1000"), Some(token)).await;
    assert_eq!(status, 200, "{body}");
    let incidents: Vec<Value> = serde_json::from_str(&body).expect("a JSON array");
    incidents.iter().map(|incident| incident["title"].as_str().expect("a title").to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_directory_serves_the_product_with_no_configuration_and_keeps_it_across_restarts() {
    // Nothing but a port (0: any free one, so that tests can run side by side).
    let deployment = Deployment::new(&[("HTTP_PORT", "0")]);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let (server, base) = deployment.serve();
    let root = base.trim_end_matches("/api/v2/firefighter").to_owned();

    assert_eq!(
        get(&client, &format!("{base}/monitoring/healthcheck"), None).await,
        (200, r#"{"status":"ok"}"#.into())
    );
    let (status, readiness) = get(&client, &format!("{base}/monitoring/readiness"), None).await;
    assert_eq!(status, 200, "{readiness}");
    // The dashboard sends a stranger to sign in; the API refuses one.
    let (status, _) = get(&client, &format!("{root}/"), None).await;
    assert!(matches!(status, 302 | 303), "the dashboard's home for a stranger: {status}");
    assert_eq!(get(&client, &format!("{base}/incidents"), None).await.0, 401);
    let (status, schema) = get(&client, &format!("{root}/api/v2/firefighter/schema?format=json"), None).await;
    assert_eq!(status, 200, "the OpenAPI document");
    assert!(schema.contains("\"openapi\""), "{}", &schema[..schema.len().min(200)]);

    // An operator's first steps, with the server running: an administrator and a token.
    let token = deployment.admin_token("admin@example.com");
    let body = declaration(&client, &base, &token, "Checkout is down").await;
    let response =
        client.post(format!("{base}/incidents")).bearer_auth(&token).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let id = created["id"].as_i64().expect("an id");

    server.signal("-TERM");
    let (code, log) = server.wait_exit(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{log:#?}");
    let key =
        std::fs::read_to_string(deployment.dir().join("data/secret_key")).expect("the generated secret key");
    assert!(deployment.dir().join("data/firefighter.db").is_file(), "the database under ./data");

    // Started again: the same database and the same key.
    let (_server, base) = deployment.serve();
    let (status, incident) = get(&client, &format!("{base}/incidents/{id}"), Some(&token)).await;
    assert_eq!(status, 200, "{incident}");
    assert_eq!(serde_json::from_str::<Value>(&incident).unwrap()["title"], "Checkout is down");
    assert_eq!(std::fs::read_to_string(deployment.dir().join("data/secret_key")).unwrap(), key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_answers_every_request_it_took_and_loses_no_incident_or_webhook() {
    let receiver = Receiver::start();
    // Deliveries take a while, so that some are in flight when the signal comes.
    receiver.delay(Duration::from_millis(50));
    let deployment = Deployment::new(&[("HTTP_PORT", "0"), ("FF_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")]);
    let client = reqwest::Client::new();
    let token = deployment.admin_token("admin@example.com");
    let (server, base) = deployment.serve();
    let response = client
        .post(format!("{base}/webhooks"))
        .bearer_auth(&token)
        .json(
            &json!({"url": receiver.url, "secret": "a-secret-for-the-test", "events": ["incident_created"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body = Arc::new(declaration(&client, &base, &token, "").await);

    // Sixteen clients declare until the server stops taking requests.
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (client, base, token, body, next) =
            (client.clone(), base.clone(), token.clone(), Arc::clone(&body), Arc::clone(&next));
        clients.spawn(async move {
            let mut acknowledged = Vec::new();
            loop {
                let title = format!("Load {}", next.fetch_add(1, Ordering::SeqCst));
                let mut body = (*body).clone();
                body["title"] = json!(title);
                match client.post(format!("{base}/incidents")).bearer_auth(&token).json(&body).send().await {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        let text = response.text().await.unwrap_or_default();
                        assert_eq!(status, 201, "a request the server took must succeed: {text}");
                        acknowledged.push(title);
                    }
                    // Refused or closed before it was taken: the server is stopping.
                    Err(error) => return (acknowledged, error.to_string()),
                }
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while next.load(Ordering::SeqCst) < 200 {
        assert!(Instant::now() < deadline, "the load never got going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.signal("-TERM");
    let stopping = Instant::now();
    let mut acknowledged = HashSet::new();
    while let Some(result) = clients.join_next().await {
        let (titles, _why) = result.expect("a client saw a request fail half-way");
        acknowledged.extend(titles);
    }
    let (code, log) =
        tokio::task::spawn_blocking(move || server.wait_exit(Duration::from_secs(60))).await.unwrap();
    assert_eq!(code, Some(0), "{log:#?}");
    eprintln!(
        "{} incidents acknowledged; stopped {:?} after the signal",
        acknowledged.len(),
        stopping.elapsed()
    );

    // Started again: exactly the acknowledged incidents exist, and every one's webhook arrives.
    let (_server, base) = deployment.serve();
    assert_eq!(
        titles(&client, &base, &token).await,
        acknowledged,
        "acknowledged and stored incidents differ"
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let delivered: HashSet<String> = receiver.header_values(EVENT_ID).into_iter().collect();
        if delivered.len() == acknowledged.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} webhooks delivered after the restart",
            delivered.len(),
            acknowledged.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_webhook_receiver_gets_each_event_again_until_it_accepts_it() {
    let receiver = Receiver::start();
    receiver.answer(503);
    let deployment = Deployment::new(&[("HTTP_PORT", "0"), ("FF_WEBHOOKS_ALLOW_PRIVATE_TARGETS", "true")]);
    let client = reqwest::Client::new();
    let token = deployment.admin_token("admin@example.com");
    let (_server, base) = deployment.serve();
    let response = client
        .post(format!("{base}/webhooks"))
        .bearer_auth(&token)
        .json(
            &json!({"url": receiver.url, "secret": "a-secret-for-the-test", "events": ["incident_created"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let endpoint: Value = response.json().await.unwrap();
    let mut body = declaration(&client, &base, &token, "").await;
    for n in 0..3 {
        body["title"] = json!(format!("Refused {n}"));
        let created =
            client.post(format!("{base}/incidents")).bearer_auth(&token).json(&body).send().await.unwrap();
        assert_eq!(created.status(), 201);
    }
    // Each event is refused once (or more), then the receiver comes back.
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.header_values(EVENT_ID).iter().collect::<HashSet<_>>().len() < 3 {
        assert!(Instant::now() < deadline, "the first attempts never came");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = receiver.header_values(EVENT_ID);
    receiver.answer(200);
    let log_url = format!("{base}/webhooks/{}/deliveries", endpoint["id"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let log = loop {
        let (status, log) = get(&client, &log_url, Some(&token)).await;
        assert_eq!(status, 200, "{log}");
        let log: Vec<Value> = serde_json::from_str(&log).unwrap();
        if log.len() == 3 && log.iter().all(|delivery| delivery["state"] == "delivered") {
            break log;
        }
        assert!(
            Instant::now() < deadline,
            "not every event was delivered once the receiver was back: {log:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for delivery in &log {
        assert!(delivery["attempts"].as_u64() >= Some(2), "refused, then delivered: {delivery}");
        assert_eq!(delivery["last_status"], 200);
    }
    // The same events, by id, were offered again (the receiver deduplicates on the id).
    let again: HashSet<String> = receiver.header_values(EVENT_ID).into_iter().collect();
    assert_eq!(again, refused.into_iter().collect::<HashSet<_>>());
}
