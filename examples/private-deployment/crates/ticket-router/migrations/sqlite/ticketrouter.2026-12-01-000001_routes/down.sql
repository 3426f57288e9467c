DROP TABLE acme_ticket_routes;
