//! ACME's binary: FireFighter's commands with the router's tables and command in it.

use std::process::Command;

#[test]
fn the_binary_migrates_the_routers_table_and_knows_its_command() {
    let dir = std::env::temp_dir().join(format!("acme-server-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_acme-server"))
            .args(args)
            .env_clear()
            .env("DATABASE_URL", format!("sqlite://{}", dir.join("acme.db").display()))
            .env("FF_DATA_DIR", &dir)
            .current_dir(&dir)
            .output()
            .expect("runs")
    };
    let migrated = run(&["migrate"]);
    assert!(migrated.status.success(), "{migrated:?}");
    assert!(
        String::from_utf8_lossy(&migrated.stdout).contains("ticketrouter.20261201000001"),
        "{migrated:?}"
    );
    let help = run(&["--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("reroute"), "{help:?}");
    let refused = run(&["reroute", "--incident", "1", "--queue", "Not A Queue"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--queue"), "{refused:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `acme-server serve` as ACME runs it, on SQLite and on PostgreSQL: migrated and seeded with its
/// own commands, it serves FireFighter's API plus the router's route, runs the router's job on a
/// declared incident, and shows its facet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_product_and_the_router_on_every_backend() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    use firefighter_storage::testing::TestDatabase;
    use serde_json::{Value, json};

    for test in [Some(TestDatabase::sqlite()), TestDatabase::postgres_unmigrated()].into_iter().flatten() {
        let url = match &test.url {
            firefighter_storage::DatabaseUrl::Sqlite { path } => format!("sqlite://{}", path.display()),
            firefighter_storage::DatabaseUrl::Postgres { url } => url.clone(),
        };
        let dir = std::env::temp_dir().join(format!(
            "acme-serve-{}-{}",
            std::process::id(),
            format!("{:?}", test.backend()).to_lowercase()
        ));
        std::fs::create_dir_all(&dir).expect("a directory");
        let command = |args: &[&str]| {
            let mut command = Command::new(env!("CARGO_BIN_EXE_acme-server"));
            command
                .args(args)
                .env_clear()
                .env("DATABASE_URL", &url)
                .env("FF_DATA_DIR", &dir)
                .env("HTTP_PORT", "0")
                .env("LOG_FORMAT", "json")
                .env("ACME_ROUTER_DEFAULT_QUEUE", "acme-support")
                .current_dir(&dir);
            command
        };
        let run = |args: &[&str]| {
            let output = command(args).output().expect("runs");
            assert!(output.status.success(), "{args:?}: {output:?}");
            String::from_utf8_lossy(&output.stdout).trim().to_owned()
        };
        let _ = run(&["migrate"]);
        let _ = run(&["seed"]);
        let _ = run(&["create-user", "--email", "admin@acme.example", "--admin"]);
        let token = run(&["create-token", "--email", "admin@acme.example"]);

        let mut server =
            command(&["serve"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("serve");
        let mut lines = BufReader::new(server.stderr.take().expect("stderr")).lines();
        let address = loop {
            let line = lines.next().expect("the server logs until it listens").expect("a line");
            let value: Value = serde_json::from_str(&line).unwrap_or_default();
            if value["message"] == "FireFighter is listening" {
                break value["address"].as_str().expect("address").to_owned();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        let base = format!("http://{address}");
        let api = format!("{base}/api/v2/firefighter");
        let client = reqwest::Client::new();
        let get = |path: String| {
            let request = client.get(path).bearer_auth(&token);
            async move { request.send().await.expect("the server answers").json::<Value>().await.expect("JSON") }
        };
        let first = |items: Value, pick: &dyn Fn(&Value) -> bool| {
            items.as_array().and_then(|items| items.iter().find(|item| pick(item)).cloned()).expect("an item")
                ["id"]
                .clone()
        };
        let body = json!({
            "title": "Checkout is down", "description": "Payments fail.",
            "environment_id": first(get(format!("{api}/environments")).await, &|e| e["value"] == "PRD"),
            "incident_category_id": first(get(format!("{api}/incident-categories")).await, &|_| true),
            "priority_id": first(get(format!("{api}/priorities")).await, &|p| p["value"] == 2),
            "created_by_email": "admin@acme.example",
        });
        let created = client
            .post(format!("{api}/incidents"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("post");
        assert_eq!(created.status(), 201, "{:?}", test.backend());
        let id = created.json::<Value>().await.expect("JSON")["id"].as_i64().expect("an id");

        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let routed = client.get(format!("{base}/acme/routes/{id}")).send().await.expect("route");
            if routed.status() == 200 {
                assert_eq!(
                    routed.json::<Value>().await.expect("JSON"),
                    json!({"incident_id": id, "queue": "acme-support"})
                );
                break;
            }
            assert!(Instant::now() < deadline, "the router's job never ran on {:?}", test.backend());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let shown = get(format!("{api}/incidents/{id}")).await;
        let facets = shown["facets"].as_array().cloned().unwrap_or_default();
        assert!(
            facets.iter().any(|facet| facet["kind"] == "support_queue" && facet["label"] == "acme-support"),
            "{shown}"
        );
        let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
        let status = server.wait().expect("the server exits");
        assert!(status.success(), "{status:?}");
        let _ = std::fs::remove_dir_all(&dir);
        eprintln!("acme-server served, routed and stopped on {:?}", test.backend());
    }
}
