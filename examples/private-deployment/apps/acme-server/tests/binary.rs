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
