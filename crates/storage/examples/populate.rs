//! Fills a migrated, seeded database with a synthetic incident history, for load tests:
//! `cargo run --release -p storage --features testing --example populate -- <DATABASE_URL> <COUNT> <EMAIL>`.
//! The incidents are created by the user with EMAIL (created when missing).

use firefighter_storage as storage;
use std::process::ExitCode;

use incidents_core::{Email, NewUser, UserRepository};
use storage::{Database, DatabaseUrl, PoolOptions};

fn run() -> Result<usize, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, count, email] = args.as_slice() else {
        return Err("usage: populate <DATABASE_URL> <COUNT> <EMAIL>".into());
    };
    let url = DatabaseUrl::parse(url).map_err(|e| format!("{e}"))?;
    let count: usize = count.parse().map_err(|_| format!("not a count: {count}"))?;
    let email = Email::parse(email).map_err(|e| format!("{e}"))?;
    let database = Database::connect(&url, PoolOptions::default()).map_err(|e| format!("{e}"))?;
    let user = match database.find_user_by_email(&email).map_err(|e| format!("{e}"))? {
        Some(user) => user,
        None => database
            .create_user(&NewUser { email, name: "Load test".into(), is_admin: false, password_hash: None })
            .map_err(|e| format!("{e}"))?,
    };
    storage::testing::populate_history(&database, user.id, count).map_err(|e| format!("{e}"))?;
    Ok(count)
}

fn main() -> ExitCode {
    match run() {
        Ok(count) => {
            #[expect(clippy::print_stdout, reason = "a command-line tool")]
            {
                println!("inserted {count} incidents");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            #[expect(clippy::print_stderr, reason = "a command-line tool")]
            {
                eprintln!("populate: {error}");
            }
            ExitCode::FAILURE
        }
    }
}
