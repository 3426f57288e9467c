//! The `firefighter-worker` binary's refusals: a configuration error exits 2 with one line per
//! problem; without `AMQP_URL` it says why it cannot run and exits 1; an unknown queue is refused.

#![expect(clippy::expect_used, reason = "test helpers fail the test loudly")]

use std::process::Command;

fn worker(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let data = tempfile::tempdir().expect("temporary directory");
    Command::new(env!("CARGO_BIN_EXE_firefighter-worker"))
        .args(args)
        .env_clear()
        .env("FF_DATA_DIR", data.path())
        .envs(env.iter().copied())
        .output()
        .expect("run firefighter-worker")
}

#[test]
fn a_bad_broker_url_is_a_configuration_error() {
    let output = worker(&[], &[("AMQP_URL", "http://not-a-broker")]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("AMQP_URL") && stderr.contains("amqp://"), "{stderr}");
}

#[test]
fn without_a_broker_the_worker_explains_the_embedded_mode() {
    let output = worker(&["relay"], &[]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("AMQP_URL is not set") && stderr.contains("embedded"), "{stderr}");
}

#[test]
fn an_unknown_queue_is_refused_with_the_known_ones() {
    let output =
        worker(&["consume", "--queues", "jira"], &[("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f")]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unknown queue \"jira\"") && stderr.contains("webhooks"), "{stderr}");
}
