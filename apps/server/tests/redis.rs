//! Redis as the shared cache (`REDIS_URL`): two servers share one rate limit, and with Redis gone
//! the servers keep serving (each limits on its own), readiness says degraded, and all is back to
//! normal once Redis returns. Needs `FF_TEST_REDIS_URL`; skipped without it.

#![expect(clippy::expect_used, clippy::unwrap_used, reason = "tests")]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use app::{AppBuilder, Application};
use incidents_core::access::AccessRepository;
use incidents_core::{Email, NewUser, UserRepository};
use serde_json::{Value, json};
use storage::testing::TestDatabase;
use test_support::TcpProxy;

fn redis_url() -> Option<String> {
    test_support::service_url("FF_TEST_REDIS_URL")
}

fn server(test: &TestDatabase, redis_url: &str) -> (String, actix_web::dev::ServerHandle) {
    let vars: HashMap<String, String> = [
        ("HTTP_PORT", "0"),
        ("SECRET_KEY", "a-test-secret-key-that-is-long-enough-0123"),
        ("REDIS_URL", redis_url),
        ("API_RATE_LIMIT_PER_MINUTE", "6"),
        ("EMBEDDED_JOBS", "false"),
        ("HEALTHCHECK_TIMEOUT_MS", "1000"),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value.to_owned()))
    .collect();
    let config = AppBuilder::standard().configure(&vars).expect("config");
    let application = Application::build(&config, test.database.clone()).expect("application");
    let base = format!("http://{}/api/v2/firefighter", application.address());
    let handle = application.handle();
    tokio::spawn(application.run_until(std::future::pending()));
    (base, handle)
}

async fn status(client: &reqwest::Client, url: &str, token: &str) -> u16 {
    client.get(url).bearer_auth(token).send().await.expect("the server answers").status().as_u16()
}

async fn readiness(client: &reqwest::Client, base: &str) -> (u16, Value) {
    let response = client.get(format!("{base}/monitoring/readiness")).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_share_the_rate_limit_through_redis_and_keep_serving_without_it() {
    let Some(url) = redis_url() else { return };
    let test = TestDatabase::sqlite().seeded();
    let user = test
        .database
        .create_user(&NewUser {
            email: Email::parse("admin@example.com").unwrap(),
            name: String::new(),
            is_admin: true,
            password_hash: None,
        })
        .unwrap();
    let upstream =
        url.trim_start_matches("redis://").trim_end_matches('/').split('/').next().unwrap().to_owned();
    let proxy = TcpProxy::start(tokio::net::lookup_host(&upstream).await.unwrap().next().unwrap()).await;
    let through_proxy = proxy.url("redis://", "/");
    let (first, first_handle) = server(&test, &through_proxy);
    let (second, second_handle) = server(&test, &through_proxy);
    let client = reqwest::Client::new();

    let (code, body) = readiness(&client, &first).await;
    assert_eq!(
        (code, &body["status"], &body["checks"]["redis"]),
        (200, &json!("ok"), &json!(true)),
        "{body}"
    );

    // Six requests a minute for the deployment, wherever they land. A minute boundary in the middle
    // resets the count: then the round is run again with a fresh token.
    let minute =
        || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 60;
    let mut checked = false;
    for _ in 0..2 {
        let token = http_api::new_token();
        test.database.create_api_token(user.id, "round", &http_api::hash_token(&token), None).unwrap();
        let before = minute();
        let mut codes = Vec::new();
        for n in 0..8 {
            let base = if n % 2 == 0 { &first } else { &second };
            codes.push(status(&client, &format!("{base}/priorities"), &token).await);
        }
        if minute() == before {
            assert_eq!(codes, [200, 200, 200, 200, 200, 200, 429, 429], "one budget for both servers");
            checked = true;
            break;
        }
    }
    assert!(checked, "two rounds straddled a minute boundary");

    // Redis goes away: every request is still answered (each server limits on its own now).
    proxy.cut();
    let other = http_api::new_token();
    test.database.create_api_token(user.id, "other", &http_api::hash_token(&other), None).unwrap();
    let started = Instant::now();
    for base in [&first, &second, &first, &second] {
        assert_eq!(status(&client, &format!("{base}/priorities"), &other).await, 200);
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "no request waits on Redis for long: {:?}",
        started.elapsed()
    );
    let (code, body) = readiness(&client, &first).await;
    assert_eq!(
        (code, &body["status"], &body["checks"]["redis"], &body["checks"]["db"]),
        (200, &json!("degraded"), &json!(false), &json!(true)),
        "{body}"
    );

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, body) = readiness(&client, &first).await;
        if code == 200 && body["status"] == "ok" {
            break;
        }
        assert!(Instant::now() < deadline, "Redis never counted as back: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(first_handle.stop(false));
    drop(second_handle.stop(false));
}
