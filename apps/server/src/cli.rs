//! The command line: `serve` (the default), `migrate`, `seed`, `create-user`.

use clap::{Parser, Subcommand};

/// FireFighter: incident management. Configuration comes from the environment (see .env.example).
#[derive(Debug, Parser)]
#[command(name = "firefighter-server", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (the default). On an empty database it migrates and seeds it first,
    /// unless DATABASE_AUTO_MIGRATE=false.
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Load the default reference data (priorities, environments, roles, key events, metrics, impacts,
    /// example groups and categories). Only inserts what is missing: running it twice changes nothing.
    Seed,
    /// Create a user.
    CreateUser {
        /// The user's e-mail address (also their login).
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
        /// Give the user every permission.
        #[arg(long)]
        admin: bool,
        /// Read a password from the first line of standard input (for the web login).
        #[arg(long)]
        password_stdin: bool,
    },
}
