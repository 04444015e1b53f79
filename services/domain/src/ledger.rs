//! 台账: every state change leaves an event with who, when, from which node and why.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::common::Actor;
use crate::ids::{EventId, NodeId};
use crate::record::{Audience, Kind};

/// One entry of the ledger. Events are immutable and travel with the record they are about
/// (same audience), so the city's copy of a county holds that county's ledger too.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEvent {
    pub id: EventId,
    /// The node where the change was made (the record's owner).
    pub node: NodeId,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// Dotted action name, e.g. `round.approved`.
    pub action: String,
    pub subject_kind: Kind,
    pub subject_id: String,
    /// The subject's version after the change.
    pub subject_version: u64,
    /// A readable line for the ledger table (Chinese).
    pub summary: String,
    pub reason: Option<String>,
    pub audience: Audience,
}
