//! `firefighter-worker`: the scaled mode's job process, with the standard integrations (it must know
//! the same jobs as the servers it works for).

fn main() -> std::process::ExitCode {
    app::AppBuilder::standard().worker_main()
}
