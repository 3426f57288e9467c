//! `firefighter-server`: the platform with its standard integrations. A private deployment writes
//! the same line with its own `.integration(…)` calls.

fn main() -> std::process::ExitCode {
    app::AppBuilder::standard().server_main()
}
