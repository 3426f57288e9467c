DROP TABLE incident_postmortems;
