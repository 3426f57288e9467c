//! The command line: `serve` (the default), `migrate`, `seed`, `create-user`, `create-token`,
//! `grant`, `groups`, `jobs`, `openapi`, and every integration's subcommands (`webhook`, …), added at run time.

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
    /// Create an API token for a user and print it (only the token, on standard output). It is shown
    /// this once; only its hash is stored.
    CreateToken {
        /// The user the token acts as.
        #[arg(long)]
        email: String,
        /// What the token is for.
        #[arg(long, default_value = "")]
        name: String,
        /// Days until the token expires (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// Permission groups (named permission sets; single sign-on's `roles` claim picks a user's):
    /// `groups list`, `groups put NAME --permission …`, `groups delete NAME`,
    /// `groups add|remove NAME --email …`.
    Groups {
        #[command(subcommand)]
        command: GroupsCommand,
    },
    /// The back-office's tables, with the same rules and audit as the dashboard's `/admin/`:
    /// `admin models`, `admin list MODEL [--search TEXT]`, `admin show MODEL ID`,
    /// `admin add MODEL --set FIELD=VALUE …`, `admin set MODEL ID --set FIELD=VALUE …`,
    /// `admin delete MODEL ID`. A reference may be given by id or by its row's name.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Background jobs: `jobs list [--state dead]`, `jobs retry ID`.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Print the OpenAPI document of the REST API (JSON, or YAML with `--yaml`). Needs no
    /// configuration and no database.
    Openapi {
        #[arg(long)]
        yaml: bool,
    },
    /// Grant permissions to a user, e.g. `--permission incidents.view_incident` (repeatable), or
    /// `--all-view` for every view permission.
    Grant {
        #[arg(long)]
        email: String,
        #[arg(long = "permission")]
        permissions: Vec<String>,
        #[arg(long)]
        all_view: bool,
    },
}

/// What to do with permission groups.
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// Every group: name, permissions, members.
    List,
    /// Create a group or replace its permissions (`--permission`, repeatable; none leaves it empty).
    Put {
        name: String,
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
    /// Delete a group; its members keep what was granted to them directly.
    Delete { name: String },
    /// Add a user to a group.
    Add {
        name: String,
        #[arg(long)]
        email: String,
    },
    /// Remove a user from a group.
    Remove {
        name: String,
        #[arg(long)]
        email: String,
    },
}

/// What to do with the back-office's tables.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Every table: its name here, and what it holds.
    Models,
    /// A table's rows (at most 100 a page): id, then the list's columns, tab-separated.
    List {
        model: String,
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 0)]
        page: i64,
    },
    /// One row, a field per line.
    Show { model: String, id: String },
    /// Add a row (fields left out take their defaults); prints its id.
    Add {
        model: String,
        /// `FIELD=VALUE` (repeatable).
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
    },
    /// Change fields of a row (only those given).
    Set {
        model: String,
        id: String,
        /// `FIELD=VALUE` (repeatable).
        #[arg(long = "set", value_name = "FIELD=VALUE")]
        set: Vec<String>,
    },
    /// Delete a row (refused while something uses it).
    Delete { model: String, id: String },
}

/// What to do with jobs.
#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first (at most 100): id, state, attempts, name, last error.
    List {
        /// pending, running, done or dead.
        #[arg(long)]
        state: Option<String>,
    },
    /// Give a dead job a new series of attempts, starting now.
    Retry { id: i64 },
}
