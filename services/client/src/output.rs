//! Printing results: readable tables (Chinese shown properly) or JSON (`--output json`).

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde::Serialize;

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
    use std::io::Write;
    let text = match format {
        Format::Json => serde_json::to_string_pretty(value)?,
        Format::Table => render(value),
    };
    match writeln!(std::io::stdout().lock(), "{text}") {
        // The reader went away (`| head`, `| grep -q`): nothing more to show, not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// A gRPC error for people: code, message, every field problem, the permission refused.
pub use xuncha_wire::describe;

/// "name(role)" for a ledger row.
pub fn actor_label(a: &xuncha_proto::v1::Actor) -> String {
    if a.role_label.is_empty() { a.display_name.clone() } else { format!("{}({})", a.display_name, a.role_label) }
}
