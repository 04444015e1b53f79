//! Domain rules of xuncha (巡察联动): the records, their lifecycles and every rule of
//! DOMAIN.md, as pure functions. `decide(state, node, envelope)` returns the new versions of
//! records and the ledger events, or a [`DomainError`] naming the field and the reason. Nothing
//! here does I/O; the store persists outcomes and replication carries them between nodes.

pub mod account;
pub mod authz;
pub mod command;
pub mod common;
pub mod error;
pub mod finding;
pub mod ids;
pub mod labels;
pub mod ledger;
pub mod linkage;
pub mod model;
pub mod oversight;
pub mod record;
pub mod rectification;
pub mod request;
pub mod roster;
pub mod round;
pub mod staffing;
pub mod state;
pub mod term;
pub mod validate;

pub use authz::{Permission, Principal, RoleCode};
pub use command::{Caller, Command, Envelope, Outcome, decide};
pub use common::{Actor, DateWindow, Meta};
pub use error::{DomainError, DomainResult, ErrorKind};
pub use ids::NodeId;
pub use ledger::LedgerEvent;
pub use record::{Audience, ChangeKind, Kind, LEDGER_EVENT_KIND, Record};
pub use request::{Decided, RequestId, RequestMark, decide_once};
pub use state::State;
