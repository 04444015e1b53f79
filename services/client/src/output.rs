//! Printing results: readable tables (Chinese shown properly) or JSON (`--output json`).

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;
use tonic::Status;
use tonic_types::StatusExt;

/// How to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable tables.
    Table,
    /// The response message as proto3 JSON.
    Json,
}

/// A table with a header row.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic).set_header(header.to_vec());
    t
}

/// Prints `value` as JSON, or the table `render` makes.
pub fn print<T: Serialize>(format: Format, value: &T, render: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(value)?),
        Format::Table => println!("{}", render(value)),
    }
    Ok(())
}

/// A gRPC error for people: code, message, and every field problem.
pub fn describe(status: &Status) -> String {
    let mut out = format!("{:?}: {}", status.code(), status.message());
    if let Some(bad) = status.get_details_bad_request()
        && bad.field_violations.len() > 1
    {
        for v in &bad.field_violations {
            out.push_str(&format!("\n  {}: {}", v.field, v.description));
        }
    }
    if let Some(leader) = status.metadata().get(xuncha_api::LEADER_METADATA) {
        out.push_str(&format!("\n  leader: {}", leader.to_str().unwrap_or("?")));
    }
    out
}
