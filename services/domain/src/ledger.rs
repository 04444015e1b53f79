//! 台账: every state change leaves an event with who, when, from which node and why.

use std::collections::BTreeMap;

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
    /// Its place in its chain; none on events made before chains existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainLink>,
}

/// An event's place in its chain: the events of one node for one audience (what one peer
/// receives, or what stays local), numbered from 1, each hashing the one before it, so that an
/// event changed, dropped or slipped in is found (`xuncha ledger verify`, and the receiver of
/// every sync batch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    pub n: u64,
    /// The previous event's hash (empty for the first).
    pub prev: String,
    /// SHA-256, hex, of `n`, `prev` and the event without its link.
    pub hash: String,
}

/// Which chain an event is on: the node that made it and its audience column.
pub type ChainKey = (NodeId, String);

impl LedgerEvent {
    pub fn chain_key(&self) -> ChainKey {
        (self.node.clone(), self.audience.as_column())
    }

    /// The hash this event has at place `n` after `prev`.
    pub fn chain_hash(&self, n: u64, prev: &str) -> String {
        use sha2::{Digest, Sha256};
        let body = serde_json::to_vec(&LedgerEvent { chain: None, ..self.clone() }).unwrap_or_default();
        let mut h = Sha256::new();
        h.update(n.to_be_bytes());
        h.update(prev.as_bytes());
        h.update(&body);
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether this event, as held, follows `head` (the last link before it on its chain);
    /// the reason if not.
    pub fn follows(&self, head: Option<&ChainLink>) -> Result<(), String> {
        let Some(link) = &self.chain else {
            return match head {
                // Made before chains existed: only before the chain starts.
                None => Ok(()),
                Some(h) => Err(format!("事件 {} 缺少链接(该链已到第 {} 条)", self.id, h.n)),
            };
        };
        let (n, prev) = head.map(|h| (h.n + 1, h.hash.as_str())).unwrap_or((1, ""));
        if link.n != n {
            return Err(format!("事件 {} 编为第 {} 条,应为第 {n} 条", self.id, link.n));
        }
        if link.prev != prev {
            return Err(format!("事件 {} 所接的前一条哈希与链上第 {} 条不符", self.id, n - 1));
        }
        if link.hash != self.chain_hash(link.n, &link.prev) {
            return Err(format!("事件 {} 的内容与其哈希不符(被改动过)", self.id));
        }
        Ok(())
    }
}

/// The last link of every chain a node holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LedgerHeads(BTreeMap<ChainKey, ChainLink>);

impl LedgerHeads {
    pub fn get(&self, key: &ChainKey) -> Option<&ChainLink> {
        self.0.get(key)
    }

    /// Takes in an event's link (held events arrive in chain order; a lower one changes nothing).
    pub fn advance(&mut self, event: &LedgerEvent) {
        if let Some(link) = &event.chain {
            let key = event.chain_key();
            if self.0.get(&key).is_none_or(|h| h.n < link.n) {
                self.0.insert(key, link.clone());
            }
        }
    }

    /// Links new events, in order, onto their chains after these heads.
    pub fn link(&self, events: &mut [LedgerEvent]) {
        let mut heads = LedgerHeads::default();
        for e in events {
            let key = e.chain_key();
            let head = heads.0.get(&key).or_else(|| self.0.get(&key));
            let (n, prev) = head.map(|h| (h.n + 1, h.hash.clone())).unwrap_or((1, String::new()));
            e.chain = None;
            let hash = e.chain_hash(n, &prev);
            e.chain = Some(ChainLink { n, prev, hash });
            heads.advance(e);
        }
    }

    /// Checks received events, in order, against these heads; the first that does not follow.
    pub fn check(&self, events: &[&LedgerEvent]) -> Result<(), (EventId, String)> {
        let mut heads = LedgerHeads::default();
        for e in events {
            let key = e.chain_key();
            let head = heads.0.get(&key).or_else(|| self.0.get(&key));
            e.follows(head).map_err(|why| (e.id, why))?;
            heads.advance(e);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::EventId;

    fn event(node: &NodeId, audience: Audience, summary: &str) -> LedgerEvent {
        LedgerEvent {
            id: EventId(uuid::Uuid::now_v7()),
            node: node.clone(),
            at: Utc::now(),
            actor: Actor { account: None, username: String::new(), display_name: "测试".into(), role: None },
            action: "unit.registered".into(),
            subject_kind: Kind::Unit,
            subject_id: "u".into(),
            subject_version: 1,
            summary: summary.into(),
            reason: None,
            audience,
            chain: None,
        }
    }

    #[test]
    fn events_link_per_node_and_audience_and_a_receiver_finds_any_change() {
        let county = NodeId::county("anping").unwrap();
        let mut events = vec![
            event(&county, Audience::City, "一"),
            event(&county, Audience::Local, "本地"),
            event(&county, Audience::City, "二"),
        ];
        LedgerHeads::default().link(&mut events);
        let links: Vec<u64> = events.iter().map(|e| e.chain.as_ref().unwrap().n).collect();
        assert_eq!(links, [1, 1, 2], "one chain per audience");
        let city_bound: Vec<&LedgerEvent> = events.iter().filter(|e| e.audience == Audience::City).collect();
        assert_eq!(LedgerHeads::default().check(&city_bound), Ok(()));

        // Held heads continue: the next event links after them.
        let mut heads = LedgerHeads::default();
        city_bound.iter().for_each(|e| heads.advance(e));
        let mut next = vec![event(&county, Audience::City, "三")];
        heads.link(&mut next);
        assert_eq!(next[0].chain.as_ref().unwrap().n, 3);
        assert_eq!(heads.check(&[&next[0]]), Ok(()));

        let mut altered = city_bound[1].clone();
        altered.summary = "改过".into();
        assert!(LedgerHeads::default().check(&[city_bound[0], &altered]).unwrap_err().1.contains("哈希"));
        assert!(LedgerHeads::default().check(&[city_bound[1]]).is_err(), "a dropped first event");
        let mut bare = next[0].clone();
        bare.chain = None;
        assert!(heads.check(&[&bare]).is_err(), "an unlinked event once the chain began");
        assert_eq!(LedgerHeads::default().check(&[&bare]), Ok(()), "events from before chains");
    }
}
