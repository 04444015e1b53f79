//! Who is calling: the identity in the client certificate (URI SAN `xuncha://city/<replica>`,
//! `xuncha://county/<code>`, `xuncha://operator/<name>`), never a request field. Which
//! callers each method admits is in [`crate::access`].

use tonic::{Request, Status};
use x509_parser::extensions::GeneralName;
use xuncha_domain::NodeId;

/// The authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peer {
    /// A city replica (raft, forwarded writes).
    Replica(u64),
    /// A county node (sync).
    County(String),
    /// A person or tool operating nodes and doing staff work (the CLI).
    Operator(String),
    /// No TLS on this node (development): no identity to check.
    Anonymous,
}

impl Peer {
    pub fn label(&self) -> String {
        match self {
            Peer::Replica(id) => format!("city replica {id}"),
            Peer::County(c) => format!("county/{c}"),
            Peer::Operator(n) => format!("operator {n}"),
            Peer::Anonymous => "an unauthenticated client".into(),
        }
    }

    /// The node id of a county caller.
    pub fn county(&self) -> Option<NodeId> {
        match self {
            Peer::County(c) => NodeId::county(c).ok(),
            _ => None,
        }
    }
}

/// The identity named in a certificate's URI SANs.
pub fn identity_of_der(der: &[u8]) -> Result<Peer, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| format!("unreadable certificate: {e}"))?;
    let san = cert.subject_alternative_name().map_err(|e| format!("unreadable subject alternative names: {e}"))?;
    let uris = san.map(|ext| {
        ext.value.general_names.iter().filter_map(|g| match g {
            GeneralName::URI(u) => Some(u.to_string()),
            _ => None,
        })
    });
    for uri in uris.into_iter().flatten() {
        let Some(rest) = uri.strip_prefix("xuncha://") else { continue };
        match rest.split_once('/') {
            Some(("city", id)) => {
                return id.parse().map(Peer::Replica).map_err(|_| format!("'{uri}' names no replica id"));
            }
            Some(("county", code)) => {
                xuncha_domain::ids::validate_county_code("certificate", code).map_err(|e| e.reason)?;
                return Ok(Peer::County(code.to_string()));
            }
            Some(("operator", name)) if !name.is_empty() => return Ok(Peer::Operator(name.to_string())),
            _ => {}
        }
    }
    Err("the certificate names no xuncha identity (URI SAN xuncha://...)".into())
}

/// The caller of `req`: from the verified client certificate, or anonymous without TLS.
pub fn peer_of<T>(req: &Request<T>) -> Result<Peer, Status> {
    match req.peer_certs() {
        None => Ok(Peer::Anonymous),
        Some(certs) => {
            let leaf = certs.first().ok_or_else(|| Status::unauthenticated("empty client certificate chain"))?;
            identity_of_der(leaf.as_ref()).map_err(Status::permission_denied)
        }
    }
}
