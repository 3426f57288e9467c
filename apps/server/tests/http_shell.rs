//! The HTTP shell, driven over real HTTP against the assembled application, on every backend.
#![expect(clippy::expect_used, reason = "test helpers fail the test loudly")]

use std::collections::HashMap;
use std::time::Duration;

use app::{AppBuilder, Application, http::REQUEST_ID_HEADER};
use storage::testing::TestDatabase;
use storage::{Database, PoolOptions};

const HEALTH: &str = "/api/v2/firefighter/monitoring/healthcheck";
const READINESS: &str = "/api/v2/firefighter/monitoring/readiness";

struct TestApp {
    base: String,
    client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
}

impl TestApp {
    async fn spawn(database: Database, extra: &[(&str, &str)]) -> Self {
        let mut vars: HashMap<String, String> = HashMap::from([
            ("HTTP_PORT".into(), "0".into()),
            ("SECRET_KEY".into(), "a-test-secret-key-that-is-long-enough-0123".into()),
        ]);
        vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let config = AppBuilder::standard().configure(&vars).expect("test configuration is valid");
        let application = Application::build(&config, database).expect("the application builds");
        let base = format!("http://{}", application.address());
        let handle = application.handle();
        tokio::spawn(application.run_until(std::future::pending()));
        Self { base, client: reqwest::Client::new(), handle }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

#[tokio::test]
async fn healthcheck_and_readiness_answer_ok_with_a_request_id() {
    for test in TestDatabase::each_backend() {
        let backend = test.backend();
        let app = TestApp::spawn(test.database.clone(), &[]).await;

        let response = app.get(HEALTH).await;
        assert_eq!(response.status(), 200, "{backend:?}");
        let id = response.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert!(id.as_deref().is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()), "generated id: {id:?}");
        assert_eq!(
            response.headers().get("x-content-type-options").map(reqwest::header::HeaderValue::as_bytes),
            Some(&b"nosniff"[..])
        );
        assert_eq!(
            response.headers().get("x-frame-options").map(reqwest::header::HeaderValue::as_bytes),
            Some(&b"DENY"[..])
        );
        assert_eq!(response.text().await.ok().as_deref(), Some(r#"{"status":"ok"}"#));

        let response = app.get(READINESS).await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.expect("JSON body");
        assert_eq!(body, serde_json::json!({"status": "ok", "checks": {"db": true}}));

        // The original's routers use trailing slashes: both forms work.
        assert_eq!(app.get(&format!("{HEALTH}/")).await.status(), 200);
    }
}

#[tokio::test]
async fn an_incoming_request_id_is_kept_and_a_malformed_one_replaced() {
    let test = TestDatabase::sqlite();
    let app = TestApp::spawn(test.database.clone(), &[]).await;
    let response = app
        .client
        .get(app.url(HEALTH))
        .header(REQUEST_ID_HEADER, "lb-7f3a.9")
        .send()
        .await
        .expect("request sent");
    assert_eq!(
        response.headers().get(REQUEST_ID_HEADER).map(reqwest::header::HeaderValue::as_bytes),
        Some(&b"lb-7f3a.9"[..])
    );

    let response = app
        .client
        .get(app.url(HEALTH))
        .header(REQUEST_ID_HEADER, "<script>alert(1)</script>")
        .send()
        .await
        .expect("request sent");
    let id = response.headers().get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "replaced with a fresh id, got {id:?}");
}

#[tokio::test]
async fn head_works_and_other_methods_are_refused() {
    let test = TestDatabase::sqlite();
    let app = TestApp::spawn(test.database.clone(), &[]).await;
    let head = app.client.head(app.url(HEALTH)).send().await.expect("request sent");
    assert_eq!(head.status(), 200);
    assert!(head.bytes().await.expect("body").is_empty());

    let post = app.client.post(app.url(HEALTH)).body("{}").send().await.expect("request sent");
    assert_eq!(post.status(), 405);
    assert_eq!(
        post.headers().get("allow").map(reqwest::header::HeaderValue::as_bytes),
        Some(&b"GET, HEAD"[..])
    );
    assert!(post.headers().get(REQUEST_ID_HEADER).is_some());

    let missing = app.get("/api/v2/firefighter/nothing-here").await;
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.expect("JSON body");
    assert_eq!(body["error"]["app_code"], "NOT_FOUND");
}

#[tokio::test]
async fn health_fails_with_503_when_the_database_cannot_answer() {
    for test in TestDatabase::each_backend() {
        let backend = test.backend();
        // A pool of one connection, held by the test: the health check cannot get a connection in time.
        let tiny = Database::connect(
            &test.url,
            PoolOptions { max_size: 1, connect_timeout: Duration::from_secs(1) },
        )
        .expect("second pool on the test database");
        let app = TestApp::spawn(tiny.clone(), &[("HEALTHCHECK_TIMEOUT_MS", "200")]).await;
        assert_eq!(app.get(HEALTH).await.status(), 200, "{backend:?}: healthy while the connection is free");

        let held = tiny.connection().expect("the only connection");
        let response = app.get(HEALTH).await;
        assert_eq!(response.status(), 503, "{backend:?}");
        assert_eq!(response.text().await.ok().as_deref(), Some(r#"{"status":"fail"}"#));
        let response = app.get(READINESS).await;
        assert_eq!(response.status(), 503);
        let body: serde_json::Value = response.json().await.expect("JSON body");
        assert_eq!(body, serde_json::json!({"status": "fail", "checks": {"db": false}}));

        drop(held);
        assert_eq!(app.get(HEALTH).await.status(), 200, "{backend:?}: recovers once the connection is back");
    }
}

#[tokio::test]
async fn health_fails_when_postgres_goes_away() {
    let Some(test) = TestDatabase::postgres() else {
        return;
    };
    let app = TestApp::spawn(test.database.clone(), &[("HEALTHCHECK_TIMEOUT_MS", "500")]).await;
    assert_eq!(app.get(HEALTH).await.status(), 200);
    let name = match &test.url {
        storage::DatabaseUrl::Postgres { url } => url.rsplit('/').next().unwrap_or_default().to_owned(),
        storage::DatabaseUrl::Sqlite { .. } => unreachable!("a PostgreSQL test database"),
    };
    let admin = std::env::var("FF_TEST_DATABASE_URL").expect("set for PostgreSQL tests");
    tokio::task::spawn_blocking(move || {
        use diesel::Connection;
        use diesel::connection::SimpleConnection;
        let mut conn = diesel::PgConnection::establish(&admin).expect("admin connection");
        conn.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .expect("drop the database under the server");
    })
    .await
    .expect("drop task");
    assert_eq!(app.get(HEALTH).await.status(), 503);
}
