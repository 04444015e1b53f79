//! End-to-end tests: nodes in this process over real sockets (127.0.0.1:0) with real SQLite
//! files in temporary folders. Files by topic; fixtures in `fixtures`.

mod auth;
mod backup;
mod browser;
mod city;
mod city_cluster;
mod county_round;
mod cross_tier;
mod federation;
mod fixtures;
mod invalid;
mod ledger_chain;
mod linearizability;
mod metrics;
mod pool_import;
mod proxy;
mod restart;
mod retries;
mod scenario;
mod seed_scenario;
mod sync;
mod sync_random;
mod trust;
mod web;
mod web_office;
