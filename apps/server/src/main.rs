//! `firefighter-server`: parses the command line and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    firefighter_server::run(firefighter_server::cli::Cli::parse())
}
