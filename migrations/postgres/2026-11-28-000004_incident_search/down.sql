DROP INDEX incidents_search;
