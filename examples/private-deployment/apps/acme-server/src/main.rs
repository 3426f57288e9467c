//! ACME's server: FireFighter as shipped, with ACME's ticket router added. Every command of
//! `firefighter-server` works (`serve`, `migrate`, `create-user`, …), plus the router's own.

use std::process::ExitCode;

fn main() -> ExitCode {
    firefighter_app::AppBuilder::standard()
        .integration(acme_ticket_router::TicketRouter::default())
        .server_main()
}
