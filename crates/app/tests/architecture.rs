//! The dependency rules of docs/ARCHITECTURE.md, checked on `cargo metadata`: every workspace crate
//! sits in a layer, may depend only on the layers below it that the table allows, and never links an
//! I/O crate its layer forbids (directly or through another crate). A new crate must be given a
//! layer here, with the reason in ARCHITECTURE.md.
#![expect(clippy::expect_used, reason = "test helpers fail the test loudly")]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    /// The domain: no I/O.
    Core,
    /// I/O-free ports and the models they exchange.
    Ports,
    /// Adapters of our own infrastructure: database, cache, broker.
    Infrastructure,
    /// What integrations build on: the seam and the REST API's kit.
    Platform,
    /// Integrations (webhooks, Slack, Jira, the dashboard; PagerDuty, … later): never on each other.
    Integration,
    /// The composition root.
    Root,
    /// The binaries.
    App,
    /// Test helpers (dev-dependencies only).
    TestSupport,
    /// The end-to-end tests (the top-level `tests/` package): they build a worker with an
    /// integration of their own, as a private deployment would, so they may use any layer.
    EndToEnd,
}

fn layer(package: &str) -> Option<Layer> {
    Some(match package.strip_prefix("firefighter-")? {
        "incidents-core" => Layer::Core,
        // The dashboard's templates are I/O-free data and markup, like a port crate.
        "jobs" | "cache" | "dashboard-templates" | "sync-engine" => Layer::Ports,
        "storage" | "redis-cache" | "amqp-transport" => Layer::Infrastructure,
        "platform" | "http-api" => Layer::Platform,
        "webhooks" | "slack-adapter" | "dashboard" | "raid-jira" => Layer::Integration,
        "app" => Layer::Root,
        "server" | "worker" => Layer::App,
        "e2e" => Layer::EndToEnd,
        "test-support" => Layer::TestSupport,
        _ => return None,
    })
}

/// The layers a layer's crates may depend on.
fn allowed(from: Layer) -> &'static [Layer] {
    use Layer::{App, Core, EndToEnd, Infrastructure, Integration, Platform, Ports, Root, TestSupport};
    match from {
        Core | TestSupport => &[],
        Ports | Infrastructure => &[Core, Ports],
        Platform | Integration => &[Core, Ports, Infrastructure, Platform],
        Root => &[Core, Ports, Infrastructure, Platform, Integration],
        App => &[Root],
        EndToEnd => &[Core, Ports, Infrastructure, Platform, Integration, Root],
    }
}

/// External crates a layer must not link, even indirectly.
fn forbidden(package: &str, layer: Layer) -> &'static [&'static str] {
    const IO: &[&str] = &["actix-web", "diesel", "lapin", "redis", "deadpool-redis", "reqwest", "hyper"];
    match (package, layer) {
        (_, Layer::Core | Layer::Ports) => IO,
        ("firefighter-storage", _) => &["reqwest", "hyper", "lapin", "redis", "deadpool-redis", "actix-web"],
        ("firefighter-http-api", _) => &["reqwest", "lapin", "redis", "deadpool-redis", "diesel"],
        ("firefighter-platform", _) => &["reqwest", "lapin", "redis", "deadpool-redis"],
        _ => &[],
    }
}

fn metadata() -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // The dependencies of the machine's own platform: those are the ones built here.
    let rustc = Command::new("rustc").arg("-vV").output().expect("rustc -vV runs");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: ").map(str::to_owned))
        .expect("rustc names its host");
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--filter-platform", &host])
        .current_dir(&root)
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("cargo metadata answers JSON")
}

/// Every violation of the rules, as the messages a developer reads.
fn violations(metadata: &Value) -> Vec<String> {
    let packages = metadata["packages"].as_array().expect("packages");
    let names: BTreeMap<&str, &str> =
        packages.iter().map(|p| (p["id"].as_str().expect("id"), p["name"].as_str().expect("name"))).collect();
    let members: BTreeSet<&str> = metadata["workspace_members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|id| id.as_str().expect("id"))
        .collect();
    // Normal and build dependencies (dev-dependencies do not ship).
    let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in metadata["resolve"]["nodes"].as_array().expect("resolve") {
        let from = node["id"].as_str().expect("id");
        for dep in node["deps"].as_array().expect("deps") {
            let shipped = dep["dep_kinds"]
                .as_array()
                .expect("dep_kinds")
                .iter()
                .any(|kind| kind["kind"].is_null() || kind["kind"] == "build");
            if shipped {
                edges.entry(from).or_default().push(dep["pkg"].as_str().expect("pkg"));
            }
        }
    }
    let mut found = Vec::new();
    for id in &members {
        let name = names[id];
        let Some(from) = layer(name) else {
            found.push(format!("{name} has no layer: give it one in crates/app/tests/architecture.rs and say why in docs/ARCHITECTURE.md"));
            continue;
        };
        for dep in edges.get(id).into_iter().flatten().filter(|dep| members.contains(*dep)) {
            let dep_name = names[dep];
            let Some(to) = layer(dep_name) else { continue };
            let integration_pair = from == Layer::Integration && to == Layer::Integration;
            if !allowed(from).contains(&to) || integration_pair {
                found.push(format!(
                    "{name} ({from:?}) depends on {dep_name} ({to:?}): {from:?} crates may depend only on {:?}{}",
                    allowed(from),
                    if integration_pair { "; integrations react to each other through outbox events" } else { "" }
                ));
            }
        }
        let bad = forbidden(name, from);
        let mut seen = BTreeSet::from([*id]);
        let mut queue: VecDeque<(&str, Vec<&str>)> = VecDeque::from([(*id, vec![name])]);
        while let Some((at, path)) = queue.pop_front() {
            for dep in edges.get(at).into_iter().flatten() {
                if !seen.insert(*dep) {
                    continue;
                }
                let dep_name = names[dep];
                let mut path = path.clone();
                path.push(dep_name);
                if bad.contains(&dep_name) {
                    found.push(format!(
                        "{name} links {dep_name}, which its layer forbids: {}",
                        path.join(" -> ")
                    ));
                }
                queue.push_back((dep, path));
            }
        }
    }
    found
}

#[test]
fn the_workspace_follows_the_dependency_rules() {
    let found = violations(&metadata());
    assert!(found.is_empty(), "dependency rules broken (docs/ARCHITECTURE.md):\n{}", found.join("\n"));
}

#[test]
fn a_forbidden_edge_is_reported_with_its_path() {
    // storage -> webhooks -> reqwest, as it was before the seams: both rules fire.
    let mut metadata = metadata();
    let id_of = |metadata: &Value, name: &str| {
        metadata["packages"]
            .as_array()
            .and_then(|packages| packages.iter().find(|p| p["name"] == name))
            .and_then(|p| p["id"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("{name} is in the workspace"))
    };
    let (storage, webhooks) =
        (id_of(&metadata, "firefighter-storage"), id_of(&metadata, "firefighter-webhooks"));
    let nodes = metadata["resolve"]["nodes"].as_array_mut().expect("nodes");
    let node = nodes.iter_mut().find(|node| node["id"] == storage.as_str()).expect("storage node");
    node["deps"].as_array_mut().expect("deps").push(serde_json::json!({
        "name": "webhooks", "pkg": webhooks, "dep_kinds": [{"kind": null, "target": null}]
    }));
    let found = violations(&metadata);
    assert!(
        found.iter().any(|line| line
            == "firefighter-storage (Infrastructure) depends on firefighter-webhooks (Integration): Infrastructure crates may depend only on [Core, Ports]"),
        "{found:#?}"
    );
    assert!(
        found.iter().any(|line| line.starts_with("firefighter-storage links reqwest, which its layer forbids: firefighter-storage -> firefighter-webhooks -> reqwest")),
        "{found:#?}"
    );
}
