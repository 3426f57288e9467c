//! The `firefighter-server` binary as an operator runs it: commands, exit codes, one-line errors,
#![expect(clippy::expect_used, reason = "test helpers fail the test loudly")]
//! start-up, and graceful shutdown on signals.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use storage::DatabaseUrl;
use storage::testing::TestDatabase;

const BINARY: &str = env!("CARGO_BIN_EXE_firefighter-server");
const STRONG_KEY: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// The binary in `dir`, with nothing from the caller's environment but PATH.
fn command(dir: &Path, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BINARY);
    command.current_dir(dir).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (key, value) in vars {
        command.env(key, value);
    }
    command
}

/// Runs a command to completion; a command that hangs (a `serve` that should have refused to start)
/// is killed after 30 s and fails the test instead of hanging the suite.
fn run(dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut child = command(dir, vars)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("`firefighter-server {}` did not finish within 30 s", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("collect output")
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes).lines().map(str::to_owned).collect()
}

#[test]
fn bad_configuration_gives_one_line_per_problem_and_exit_code_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = run(dir.path(), &[("DATABASE_URL", "mysql://root@localhost/ff")], &["serve"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        lines(&output.stderr),
        vec![
            "firefighter-server: configuration error: DATABASE_URL: unsupported scheme 'mysql' (use sqlite:// or postgres://)"
        ]
    );

    let output = run(dir.path(), &[("ENV", "prod"), ("HTTP_PORT", "http")], &[]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = lines(&output.stderr);
    assert_eq!(stderr.len(), 2, "{stderr:?}");
    assert!(stderr[0].contains("HTTP_PORT: 'http' is not a port number"), "{stderr:?}");
    assert!(stderr[1].contains("SECRET_KEY: required when ENV=prod"), "{stderr:?}");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
}

#[test]
fn unreachable_database_is_one_line_without_the_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = run(dir.path(), &[("DATABASE_URL", "postgres://ff:hunter2@127.0.0.1:1/ff")], &["migrate"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = lines(&output.stderr);
    assert_eq!(stderr.len(), 1, "{stderr:?}");
    assert!(
        stderr[0]
            .starts_with("firefighter-server: error: cannot connect to postgres://ff:***@127.0.0.1:1/ff: "),
        "{stderr:?}"
    );
    assert!(!stderr[0].contains("hunter2") && !stderr[0].contains("panicked"));

    // A SQLite file that cannot be created is reported the same way.
    let output = run(dir.path(), &[("DATABASE_URL", "sqlite:///proc/firefighter/ff.db")], &["serve"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = lines(&output.stderr);
    assert_eq!(stderr.len(), 1, "{stderr:?}");
    assert!(stderr[0].contains("cannot connect to sqlite:///proc/firefighter/ff.db"), "{stderr:?}");
}

#[test]
fn migrate_seed_and_create_user_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vars = [("DATABASE_URL", "sqlite://./ff.db")];

    let first = run(dir.path(), &vars, &["migrate"]);
    assert!(first.status.success(), "{first:?}");
    assert!(lines(&first.stdout)[0].starts_with("applied 27 migration(s)"), "{first:?}");
    let again = run(dir.path(), &vars, &["migrate"]);
    assert_eq!(lines(&again.stdout), vec!["database schema is up to date"]);

    let seed = run(dir.path(), &vars, &["seed"]);
    assert!(seed.status.success(), "{seed:?}");
    assert!(
        lines(&seed.stdout)[0].starts_with("seeded 6 priorities, 3 environments, 2 role types"),
        "{seed:?}"
    );
    let seed_again = run(dir.path(), &vars, &["seed"]);
    assert_eq!(lines(&seed_again.stdout), vec!["reference data already present: nothing to do"]);

    let mut child = command(dir.path(), &vars)
        .args(["create-user", "--email", "Admin@Example.com", "--admin", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn create-user");
    child.stdin.take().expect("stdin").write_all(b"correct horse battery staple\n").expect("write password");
    let output = child.wait_with_output().expect("create-user finishes");
    assert!(output.status.success(), "{output:?}");
    assert!(
        lines(&output.stdout)[0].starts_with("created admin user admin@example.com (username admin, id ")
    );

    let duplicate = run(dir.path(), &vars, &["create-user", "--email", "admin@example.com"]);
    assert_eq!(duplicate.status.code(), Some(1));
    assert_eq!(
        lines(&duplicate.stderr).last().map(String::as_str),
        Some("firefighter-server: error: a user with e-mail admin@example.com already exists")
    );
    let bad_email = run(dir.path(), &vars, &["create-user", "--email", "not-an-email"]);
    assert_eq!(bad_email.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_email.stderr).contains("invalid e-mail address"));

    let mut child = command(dir.path(), &vars)
        .args(["create-user", "--email", "short@example.com", "--password-stdin"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn create-user");
    child.stdin.take().expect("stdin").write_all(b"short\n").expect("write password");
    let output = child.wait_with_output().expect("create-user finishes");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("at least 12 characters"));
}

/// A `serve` process and its log lines.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    fn start(dir: &Path, vars: &[(&str, &str)]) -> Self {
        let mut all = vec![("HTTP_PORT", "0"), ("LOG_FORMAT", "json")];
        all.extend_from_slice(vars);
        let mut child = command(dir, &all)
            .arg("serve")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn serve");
        let stderr = child.stderr.take().expect("stderr");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, lines, seen: Vec::new() }
    }

    /// Waits for a JSON log line whose message is `message`.
    fn wait_for(&mut self, message: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(remaining) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(remaining) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    let value: serde_json::Value = serde_json::from_str(&line)
                        .unwrap_or_else(|_| panic!("a JSON log line, got {line:?}"));
                    if value["message"] == message {
                        return value;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no log line {message:?}; saw {:#?}", self.seen);
    }

    fn address(&mut self) -> String {
        let listening = self.wait_for("FireFighter is listening");
        listening["address"].as_str().expect("address field").to_owned()
    }

    fn signal(&self, signal: &str) {
        let status =
            Command::new("kill").args([signal, &self.child.id().to_string()]).status().expect("kill runs");
        assert!(status.success());
    }

    fn wait_exit(mut self) -> (Option<i32>, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // The reader thread may still hold the last lines: read until it reaches the end of
                // the output (the channel closes), not just what has arrived so far.
                let mut seen = std::mem::take(&mut self.seen);
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
                    seen.push(line);
                }
                return (status.code(), seen);
            }
            assert!(Instant::now() < deadline, "the server did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn healthcheck(address: &str) -> (u16, String) {
    raw_http::get(&format!("http://{address}/api/v2/firefighter/monitoring/healthcheck"))
}

mod raw_http {
    //! A tiny blocking GET over a raw socket: the tests need nothing more and no second runtime.
    use std::io::{Read, Write};
    use std::net::TcpStream;

    pub fn get(url: &str) -> (u16, String) {
        let rest = url.strip_prefix("http://").expect("http URL");
        let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
        let mut stream = TcpStream::connect(host).expect("connect");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        (status, body)
    }
}

#[test]
fn serve_starts_on_an_empty_directory_and_stops_gracefully_on_sigterm_and_sigint() {
    let dir = tempfile::tempdir().expect("tempdir");
    for signal in ["-TERM", "-INT"] {
        let mut server = Server::start(dir.path(), &[]);
        let address = server.address();
        assert_eq!(healthcheck(&address), (200, r#"{"status":"ok"}"#.to_owned()));
        server.signal(signal);
        let (code, log) = server.wait_exit();
        assert_eq!(code, Some(0), "{signal}: {log:#?}");
        assert!(log.iter().any(|line| line.contains("finishing in-flight requests")), "{log:#?}");
        assert!(log.iter().any(|line| line.contains(r#""message":"stopped""#)), "{log:#?}");
    }
    // The embedded default keeps its database and its generated secret key under ./data.
    assert!(dir.path().join("data/firefighter.db").exists());
    let key = std::fs::read_to_string(dir.path().join("data/secret_key")).expect("kept secret key");
    assert_eq!(key.trim().len(), 64);
}

#[test]
fn prod_logs_are_json_with_request_ids_and_never_the_secret_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(dir.path(), &[("ENV", "prod"), ("SECRET_KEY", STRONG_KEY)]);
    let address = server.address();
    assert_eq!(healthcheck(&address).0, 200);
    let request = server.wait_for("request");
    assert_eq!(request["status"], 200);
    assert!(request["span"]["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{request}");
    assert_eq!(request["span"]["path"], "/api/v2/firefighter/monitoring/healthcheck");
    server.signal("-TERM");
    let (code, log) = server.wait_exit();
    assert_eq!(code, Some(0));
    assert!(log.iter().all(|line| serde_json::from_str::<serde_json::Value>(line).is_ok()), "{log:#?}");
    assert!(log.iter().all(|line| !line.contains(STRONG_KEY)));
}

#[test]
fn postgres_migrate_then_serve_and_restart() {
    let Some(test) = TestDatabase::postgres_unmigrated() else {
        return;
    };
    let DatabaseUrl::Postgres { url } = &test.url else { unreachable!("a PostgreSQL test database") };
    let dir = tempfile::tempdir().expect("tempdir");
    let vars = [("DATABASE_URL", url.as_str()), ("DATABASE_AUTO_MIGRATE", "false")];

    // With automatic migration off, serve refuses a schema that is behind, in one line.
    let refused = run(dir.path(), &vars, &["serve"]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        lines(&refused.stderr).last().map(String::as_str),
        Some(
            "firefighter-server: error: the database schema is behind this version: 27 pending migration(s); \
             run `firefighter-server migrate`"
        )
    );

    let migrate = run(dir.path(), &vars, &["migrate"]);
    assert!(migrate.status.success(), "{migrate:?}");
    let seed = run(dir.path(), &vars, &["seed"]);
    assert!(seed.status.success(), "{seed:?}");

    for _restart in 0..2 {
        let mut server = Server::start(dir.path(), &[("DATABASE_URL", url.as_str())]);
        let address = server.address();
        assert_eq!(healthcheck(&address), (200, r#"{"status":"ok"}"#.to_owned()));
        server.signal("-TERM");
        assert_eq!(server.wait_exit().0, Some(0));
    }
}

#[test]
fn create_token_prints_only_the_token_and_grant_checks_codenames() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vars = [("DATABASE_URL", "sqlite://./ff.db"), ("LOG_LEVEL", "warn")];
    let missing = run(dir.path(), &vars, &["create-token", "--email", "ghost@example.com"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no user with e-mail ghost@example.com"));

    assert!(run(dir.path(), &vars, &["create-user", "--email", "bot@example.com"]).status.success());
    let created = run(
        dir.path(),
        &vars,
        &["create-token", "--email", "bot@example.com", "--name", "ci", "--expires-in-days", "30"],
    );
    assert!(created.status.success(), "{created:?}");
    let stdout = String::from_utf8_lossy(&created.stdout).into_owned();
    let token = stdout.trim_end_matches('\n');
    assert!(
        token.len() == 40 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "stdout is the token alone: {stdout:?}"
    );
    assert!(!String::from_utf8_lossy(&created.stderr).contains(token), "the token is never logged");

    let granted = run(
        dir.path(),
        &vars,
        &["grant", "--email", "bot@example.com", "--permission", "incidents.view_incident"],
    );
    assert_eq!(lines(&granted.stdout), vec!["granted incidents.view_incident to bot@example.com"]);
    let bad = run(
        dir.path(),
        &vars,
        &["grant", "--email", "bot@example.com", "--permission", "incidents.fly_incident"],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown permission"));
}

#[test]
fn jobs_list_and_retry_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vars = [("DATABASE_URL", "sqlite://./ff.db")];
    let listed = run(dir.path(), &vars, &["jobs", "list", "--state", "dead"]);
    assert!(listed.status.success(), "{listed:?}");
    assert!(lines(&listed.stdout).is_empty(), "no job yet: {listed:?}");
    let unknown = run(dir.path(), &vars, &["jobs", "list", "--state", "broken"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown state \"broken\""), "{unknown:?}");
    let missing = run(dir.path(), &vars, &["jobs", "retry", "5"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no job 5"), "{missing:?}");
}

#[test]
fn webhook_endpoints_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vars = [("DATABASE_URL", "sqlite://./ff.db")];
    let secret = "a-shared-secret-of-some-length";
    let args = ["webhook", "add", "--url", "https://hooks.example.com/ff", "--secret", secret];
    let added = run(
        dir.path(),
        &vars,
        &[&args[..], &["--event", "incident_created", "--event", "incident_closed"]].concat(),
    );
    assert!(added.status.success(), "{added:?}");
    let id = lines(&added.stdout)[0].clone();
    let listed = run(dir.path(), &vars, &["webhook", "list"]);
    assert_eq!(
        lines(&listed.stdout),
        vec![format!("{id}\thttps://hooks.example.com/ff\tincident_created,incident_closed")],
        "the secret is not printed"
    );
    let bad = run(dir.path(), &vars, &[&args[..], &["--event", "incident_exploded"]].concat());
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("\"incident_exploded\" is not one of incident_created"),
        "the API's message: {bad:?}"
    );
    assert!(run(dir.path(), &vars, &["webhook", "remove", &id]).status.success());
    assert_eq!(run(dir.path(), &vars, &["webhook", "remove", &id]).status.code(), Some(1));
    assert!(lines(&run(dir.path(), &vars, &["webhook", "list"]).stdout).is_empty());
}

#[test]
fn slack_manifest_prints_an_app_manifest_without_any_slack_configuration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vars = [("SLACK_INCIDENT_COMMAND_ALIASES", "/ff"), ("BASE_URL", "https://ff.example.com")];
    let output = run(dir.path(), &vars, &["slack-manifest"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let manifest: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let endpoint = "https://ff.example.com/api/v2/firefighter/slack/incident/";
    assert_eq!(manifest["settings"]["interactivity"]["request_url"], endpoint);
    let commands: Vec<&str> = manifest["features"]["slash_commands"]
        .as_array()
        .expect("commands")
        .iter()
        .filter_map(|c| c["command"].as_str())
        .collect();
    assert_eq!(commands, ["/incident", "/ff"]);
    let socket = run(dir.path(), &vars, &["slack-manifest", "--socket-mode", "--yaml"]);
    assert!(socket.status.success());
    let yaml = String::from_utf8_lossy(&socket.stdout);
    assert!(yaml.contains("socket_mode_enabled: true") && !yaml.contains("request_url"), "{yaml}");
}

#[test]
fn sos_targets_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vars = [("DATABASE_URL", "sqlite://./ff.db")];
    let unknown = run(dir.path(), &vars, &["slack", "sos", "--name", "SRE", "--channel", "C0SRE001"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("C0SRE001 is not known"), "{unknown:?}");
    let tagged =
        run(dir.path(), &vars, &["slack", "tag", "--channel", "C0SRE001", "--name", "sre", "--tag", "sre"]);
    assert!(tagged.status.success(), "{tagged:?}");
    let group = run(dir.path(), &vars, &["slack", "group", "--id", "S0SRE001", "--handle", "sre-oncall"]);
    assert!(group.status.success(), "{group:?}");
    let added = run(
        dir.path(),
        &vars,
        &["slack", "sos", "--name", "SRE", "--channel", "C0SRE001", "--group", "S0SRE001"],
    );
    assert!(added.status.success(), "{added:?}");
    assert_eq!(lines(&added.stdout), ["SRE\t#sre\t@sre-oncall"]);
    let here = run(dir.path(), &vars, &["slack", "sos", "--name", "Everyone", "--channel", "C0SRE001"]);
    assert!(here.status.success(), "{here:?}");
    let listed = run(dir.path(), &vars, &["slack", "sos-targets"]);
    assert_eq!(lines(&listed.stdout), ["Everyone\tC0SRE001\t#sre\t@here", "SRE\tC0SRE001\t#sre\tS0SRE001"]);
    assert!(run(dir.path(), &vars, &["slack", "sos-remove", "SRE"]).status.success());
    assert_eq!(run(dir.path(), &vars, &["slack", "sos-remove", "SRE"]).status.code(), Some(1));
    assert_eq!(lines(&run(dir.path(), &vars, &["slack", "sos-targets"]).stdout).len(), 1);
}

#[test]
fn permission_groups_from_the_command_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vars = [("DATABASE_URL", "sqlite://./ff.db")];
    let created = run(
        dir.path(),
        &vars,
        &[
            "groups",
            "put",
            "responders",
            "--permission",
            "incidents.view_incident",
            "--permission",
            "incidents.add_incident",
        ],
    );
    assert!(created.status.success(), "{created:?}");
    assert_eq!(lines(&created.stdout), ["created group responders with 2 permission(s)"]);
    let bad = run(dir.path(), &vars, &["groups", "put", "x", "--permission", "incidents.fly_incident"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown permission"), "{bad:?}");
    assert!(run(dir.path(), &vars, &["create-user", "--email", "ada@example.com"]).status.success());
    let added = run(dir.path(), &vars, &["groups", "add", "responders", "--email", "ada@example.com"]);
    assert_eq!(lines(&added.stdout), ["ada@example.com is a member of responders"], "{added:?}");
    let listed = run(dir.path(), &vars, &["groups", "list"]);
    assert_eq!(
        lines(&listed.stdout),
        [
            "responders\tpermissions: incidents.add_incident, incidents.view_incident\tmembers: ada@example.com"
        ]
    );
    assert_eq!(
        run(dir.path(), &vars, &["groups", "add", "ghosts", "--email", "ada@example.com"]).status.code(),
        Some(1)
    );
    assert!(
        run(dir.path(), &vars, &["groups", "remove", "responders", "--email", "ada@example.com"])
            .status
            .success()
    );
    assert!(run(dir.path(), &vars, &["groups", "delete", "responders"]).status.success());
    let audited = lines(
        &run(dir.path(), &vars, &["admin", "list", "audit-log", "--search", "permission_group"]).stdout,
    );
    for action in [
        "permission_group.put",
        "permission_group.add_member",
        "permission_group.remove_member",
        "permission_group.delete",
    ] {
        assert!(
            audited.iter().any(|line| line.contains(&format!("\t{action}\t"))),
            "{action} in {audited:?}"
        );
    }
    assert!(audited.iter().all(|line| line == &audited[0] || line.ends_with("\tcli")), "{audited:?}");
    assert_eq!(run(dir.path(), &vars, &["groups", "delete", "responders"]).status.code(), Some(1));
}

#[test]
fn reference_tables_from_the_command_line_follow_the_back_offices_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let vars = [("DATABASE_URL", "sqlite://./ff.db")];
    let models = run(dir.path(), &vars, &["admin", "models"]);
    let models = lines(&models.stdout);
    for slug in ["environments", "incident-categories", "priorities", "slack-conversations", "webhooks"] {
        assert!(models.iter().any(|line| line.starts_with(&format!("{slug}\t"))), "{slug} in {models:?}");
    }
    let added = run(
        dir.path(),
        &vars,
        &[
            "admin",
            "add",
            "environments",
            "--set",
            "value=QA",
            "--set",
            "name=Quality",
            "--set",
            "description=QA",
        ],
    );
    assert!(added.status.success(), "{added:?}");
    let qa = lines(&added.stdout).pop().expect("the new id");
    let twice =
        run(dir.path(), &vars, &["admin", "add", "environments", "--set", "value=QA", "--set", "name=Q2"]);
    assert_eq!(twice.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&twice.stderr).contains("Another environment already has this value"),
        "{twice:?}"
    );
    let bad = run(dir.path(), &vars, &["admin", "set", "environments", &qa, "--set", "sort_order=high"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("sort_order: A whole number is required."),
        "{bad:?}"
    );
    let fixed = run(dir.path(), &vars, &["admin", "set", "priorities", "1", "--set", "value=9"]);
    assert_eq!(fixed.status.code(), Some(1));
    let changed =
        run(dir.path(), &vars, &["admin", "set", "environments", &qa, "--set", "name=Quality assurance"]);
    assert!(changed.status.success(), "{changed:?}");
    let listed = lines(&run(dir.path(), &vars, &["admin", "list", "environments", "--search", "qa"]).stdout);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed[1].starts_with(&format!("{qa}\tQA\tQuality assurance\t")), "{listed:?}");
    // A reference by its row's name.
    let category = run(
        dir.path(),
        &vars,
        &["admin", "add", "incident-categories", "--set", "name=Parcels", "--set", "group_id=Platform"],
    );
    assert!(category.status.success(), "{category:?}");
    let unknown = run(
        dir.path(),
        &vars,
        &["admin", "add", "incident-categories", "--set", "name=X", "--set", "group_id=Nope"],
    );
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("group_id: No group \"Nope\"."), "{unknown:?}");
    assert!(run(dir.path(), &vars, &["admin", "delete", "environments", &qa]).status.success());
    assert_eq!(run(dir.path(), &vars, &["admin", "show", "environments", &qa]).status.code(), Some(1));
    assert_eq!(run(dir.path(), &vars, &["admin", "list", "nothing"]).status.code(), Some(1));
}
