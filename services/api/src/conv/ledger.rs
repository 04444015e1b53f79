//! Ledger events and oversight figures.

use xuncha_domain::LedgerEvent;
use xuncha_domain::labels::Labelled;
use xuncha_domain::oversight::{Coverage, NodeOversight};
use xuncha_proto::v1 as pb;

use super::{ToPb, timestamp};

impl ToPb for LedgerEvent {
    type Pb = pb::LedgerEvent;
    fn to_pb(&self) -> pb::LedgerEvent {
        pb::LedgerEvent {
            id: self.id.to_string(),
            node: self.node.to_string(),
            at: Some(timestamp(self.at)),
            actor: Some(self.actor.to_pb()),
            action: self.action.clone(),
            subject_kind: self.subject_kind.as_str().into(),
            subject_id: self.subject_id.clone(),
            subject_version: self.subject_version,
            summary: self.summary.clone(),
            reason: self.reason.clone().unwrap_or_default(),
            chain_n: self.chain.as_ref().map(|c| c.n).unwrap_or(0),
            chain_hash: self.chain.as_ref().map(|c| c.hash.clone()).unwrap_or_default(),
        }
    }
}

impl ToPb for Coverage {
    type Pb = pb::Coverage;
    fn to_pb(&self) -> pb::Coverage {
        pb::Coverage {
            term: self.term.to_string(),
            term_name: self.term_name.clone(),
            owner: self.owner.to_string(),
            planned: self.planned as u32,
            covered: self.covered as u32,
            in_progress: self.in_progress as u32,
            percent: self.percent,
            uncovered: self.uncovered.iter().map(|u| u.to_string()).collect(),
        }
    }
}

impl ToPb for NodeOversight {
    type Pb = pb::NodeOversight;
    fn to_pb(&self) -> pb::NodeOversight {
        pb::NodeOversight {
            node: self.node.to_string(),
            rounds: self.rounds as u32,
            rounds_open: self.rounds_open as u32,
            targets: self.targets as u32,
            findings: self.findings as u32,
            leads: self.leads,
            rectification: Some(self.rectification.to_pb()),
            overdue_reports: self.overdue_reports as u32,
            coverage: self.coverage.iter().map(ToPb::to_pb).collect(),
            assignments: self
                .assignments
                .iter()
                .map(|(stage, n)| pb::StageCount { stage: stage.code().into(), count: *n as u32 })
                .collect(),
            last_contact: None,
            backlog: 0,
            lag: 0,
        }
    }
}
