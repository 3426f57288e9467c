//! End-to-end tests of the built binaries. Every test here starts `firefighter-server` and
//! `firefighter-worker` as processes, configured by their environment alone, and talks to them
//! over HTTP as a user (or an operator) would; nothing of the product runs inside the test process.
//!
//! The binaries are the ones cargo built beside this package's tests (`target/<profile>/`):
//! `cargo test --workspace` (what `make test` runs) builds them in the same run, because the
//! `apps/*` packages have integration tests. Running this package alone
//! (`cargo test -p firefighter-e2e`) uses whatever is there: build the binaries first
//! (`cargo build --bins`), or point `FF_E2E_BIN_DIR` at another build.
//!
//! This library is the harness: [`binary`], [`Process`] (a running binary and its JSON log lines),
//! [`Deployment`] (an environment, a data directory and the commands run in it).

#![expect(clippy::expect_used, clippy::panic, reason = "a test harness: failing loudly is the point")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The built binary `name` (`firefighter-server`, `firefighter-worker`).
///
/// # Panics
/// When it has not been built.
#[must_use]
pub fn binary(name: &str) -> PathBuf {
    let dir = std::env::var_os("FF_E2E_BIN_DIR").map_or_else(
        || {
            // target/<profile>/deps/<this test> → target/<profile>
            let exe = std::env::current_exe().expect("the test's own path");
            exe.parent().and_then(Path::parent).expect("target/<profile>").to_path_buf()
        },
        PathBuf::from,
    );
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the binaries first (`cargo build --bins`; `make test` does it)",
        path.display()
    );
    path
}

/// A loopback port nobody listens on right now.
#[must_use]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

/// A running binary and its log lines (JSON, one per line, from standard error). Killed when dropped.
#[derive(Debug)]
pub struct Process {
    name: String,
    child: Child,
    /// The reader thread's lines (in a mutex only to make the process `Sync`).
    lines: std::sync::Mutex<mpsc::Receiver<String>>,
    seen: Vec<String>,
}

impl Process {
    /// Starts `command`, reading its standard error.
    ///
    /// # Panics
    /// When it cannot be started.
    #[must_use]
    pub fn spawn(name: &str, mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {name}: {error}"));
        let stderr = child.stderr.take().expect("stderr");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self { name: name.to_owned(), child, lines: std::sync::Mutex::new(lines), seen: Vec::new() }
    }

    fn lines(&mut self) -> &mpsc::Receiver<String> {
        self.lines.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The process id.
    #[must_use]
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits (20 s at most) for a log line whose message is `message`, and returns it.
    ///
    /// # Panics
    /// When none comes.
    pub fn wait_for(&mut self, message: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(remaining) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = self.lines().recv_timeout(remaining) else { break };
            self.seen.push(line.clone());
            if let Ok(value) = serde_json::from_str::<Value>(&line)
                && value["message"] == message
            {
                return value;
            }
        }
        panic!("{}: no log line {message:?}; saw {:#?}", self.name, self.seen);
    }

    /// The address a `serve` process listens on, from its log.
    pub fn address(&mut self) -> String {
        let listening = self.wait_for("FireFighter is listening");
        listening["address"].as_str().expect("an address field").to_owned()
    }

    /// Sends `signal` (`-TERM`, `-INT`, `-KILL`).
    ///
    /// # Panics
    /// When `kill` fails.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.id().to_string()]).status().expect("kill runs");
        assert!(status.success(), "kill {signal} {}", self.id());
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the process to exit (`within` at most) and returns its exit code and every log line.
    ///
    /// # Panics
    /// When it does not exit in time.
    pub fn wait_exit(mut self, within: Duration) -> (Option<i32>, Vec<String>) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // The reader thread may still hold the last lines: read to the end of the output.
                let mut seen = std::mem::take(&mut self.seen);
                while let Ok(line) = self.lines().recv_timeout(Duration::from_secs(5)) {
                    seen.push(line);
                }
                return (status.code(), seen);
            }
            assert!(Instant::now() < deadline, "{} did not exit within {within:?}", self.name);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            // The test failed: its processes' logs say why.
            while let Ok(line) = self.lines().try_recv() {
                self.seen.push(line);
            }
            #[expect(clippy::print_stderr, reason = "the failed test's evidence")]
            for line in self.seen.iter().rev().take(40).rev() {
                eprintln!("[{}] {line}", self.name);
            }
        }
    }
}

/// One deployment: an environment (nothing else of the caller's but `PATH`), a data directory that
/// is also the working directory, and the binaries run in it.
#[derive(Debug)]
pub struct Deployment {
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

impl Deployment {
    /// A deployment with the variables `vars` (`LOG_FORMAT=json` is added: the harness reads the logs).
    ///
    /// # Panics
    /// When no temporary directory can be made.
    #[must_use]
    pub fn new(vars: &[(&str, &str)]) -> Self {
        let mut env = vec![("LOG_FORMAT".to_owned(), "json".to_owned())];
        env.extend(vars.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())));
        Self { env, dir: tempfile::tempdir().expect("a temporary directory") }
    }

    /// The working (and data) directory.
    #[must_use]
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sets (or replaces) a variable for the processes started from now on.
    pub fn set(&mut self, key: &str, value: &str) {
        self.env.retain(|(name, _)| name != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// `binary args…` as a command of this deployment.
    #[must_use]
    pub fn command(&self, binary_name: &str, args: &[&str]) -> Command {
        let mut command = Command::new(binary(binary_name));
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().cloned());
        command
    }

    /// Runs `firefighter-server args…` to completion (60 s at most) and returns its output.
    ///
    /// # Panics
    /// When it hangs.
    #[must_use]
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut child = self
            .command("firefighter-server", args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("firefighter-server runs");
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write standard input");
        }
        drop(input);
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().expect("wait").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("`firefighter-server {}` did not finish within 60 s", args.join(" "));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        child.wait_with_output().expect("collect output")
    }

    /// Runs `firefighter-server args…`, which must succeed, and returns its standard output, trimmed.
    ///
    /// # Panics
    /// When it fails.
    #[must_use]
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let output = self.cli(args, None);
        assert!(
            output.status.success(),
            "`firefighter-server {}`: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Creates an administrator and returns an API token acting as them.
    #[must_use]
    pub fn admin_token(&self, email: &str) -> String {
        let _ = self.cli_ok(&["create-user", "--email", email, "--admin"]);
        self.cli_ok(&["create-token", "--email", email, "--name", "e2e"])
    }

    /// Starts `firefighter-server serve` and waits until it listens; returns it with its API's base
    /// URL (`http://…/api/v2/firefighter`).
    #[must_use]
    pub fn serve(&self) -> (Process, String) {
        let mut server = Process::spawn("server", self.command("firefighter-server", &["serve"]));
        let base = format!("http://{}/api/v2/firefighter", server.address());
        (server, base)
    }

    /// Starts `firefighter-worker command` (`run`, `relay`, `consume`).
    #[must_use]
    pub fn worker(&self, command: &str) -> Process {
        self.worker_from("firefighter-worker", command)
    }

    /// Starts another worker binary (one built like `firefighter-worker`, with more integrations).
    #[must_use]
    pub fn worker_from(&self, binary_name: &str, command: &str) -> Process {
        Process::spawn(&format!("{binary_name} {command}"), self.command(binary_name, &[command]))
    }
}

/// The body of a declaration from the reference lists of the API at `base` (the first environment,
/// category and priority 2): what a client would do.
///
/// # Panics
/// When a list is empty or the API does not answer.
pub async fn declaration(client: &reqwest::Client, base: &str, token: &str, title: &str) -> Value {
    let first = |path: &'static str| {
        let request = client.get(format!("{base}/{path}")).bearer_auth(token);
        async move {
            let body: Value = request.send().await.expect("the API answers").json().await.expect("JSON");
            body.get("results").or(body.get("items")).unwrap_or(&body).clone()
        }
    };
    let environments = first("environments").await;
    let categories = first("incident-categories").await;
    let priorities = first("priorities").await;
    let id = |items: &Value, pick: &dyn Fn(&Value) -> bool| -> Value {
        items.as_array().and_then(|items| items.iter().find(|item| pick(item))).expect("a reference item")["id"]
            .clone()
    };
    serde_json::json!({
        "title": title,
        "description": "Declared by the end-to-end tests.",
        "environment_id": id(&environments, &|item| item["value"] == "PRD"),
        "incident_category_id": id(&categories, &|_| true),
        "priority_id": id(&priorities, &|item| item["value"] == 2),
        "created_by_email": "oncall@example.com",
    })
}
