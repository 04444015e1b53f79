//! `xuncha certs`: a development CA and node certificates (rcgen). Each certificate carries the
//! node's identity as a URI SAN (`xuncha://city/<replica>`, `xuncha://county/<code>`,
//! `xuncha://operator/<name>`) and serves as both server and client certificate. An existing
//! `ca.pem` + `ca-key.pem` in the folder (the operators' own CA) is used instead of a new one,
//! and certificates already there are kept.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

use crate::config::TlsFiles;

/// What a certificate is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    Replica(u64),
    County(String),
    Operator(String),
}

impl Identity {
    /// The file stem: `city-1`, `county-anping`, `operator-admin`.
    pub fn name(&self) -> String {
        match self {
            Identity::Replica(id) => format!("city-{id}"),
            Identity::County(c) => format!("county-{c}"),
            Identity::Operator(n) => format!("operator-{n}"),
        }
    }

    pub fn uri(&self) -> String {
        match self {
            Identity::Replica(id) => format!("xuncha://city/{id}"),
            Identity::County(c) => format!("xuncha://county/{c}"),
            Identity::Operator(n) => format!("xuncha://operator/{n}"),
        }
    }
}

/// The revocation list beside the certificates (`xuncha certs revoke` writes it).
pub const REVOKED_FILE: &str = "revoked.txt";

/// The files of `identity` in `dir`.
pub fn files(dir: &Path, identity: &Identity) -> TlsFiles {
    let name = identity.name();
    TlsFiles {
        ca: dir.join("ca.pem"),
        cert: dir.join(format!("{name}.pem")),
        key: dir.join(format!("{name}-key.pem")),
        revoked: Some(dir.join(REVOKED_FILE)),
    }
}

fn ca(dir: &Path) -> anyhow::Result<Issuer<'static, KeyPair>> {
    let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
    if cert_path.exists() {
        let cert = std::fs::read_to_string(&cert_path)?;
        let key = std::fs::read_to_string(&key_path)
            .with_context(|| format!("{} has no key beside it", cert_path.display()))?;
        return Issuer::from_ca_cert_pem(&cert, KeyPair::from_pem(&key)?).context("reading the CA");
    }
    let mut p = CertificateParams::default();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, "xuncha development CA");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    p.not_before = rcgen::date_time_ymd(2024, 1, 1);
    p.not_after = rcgen::date_time_ymd(2036, 1, 1);
    let key = KeyPair::generate()?;
    let cert = p.self_signed(&key)?;
    write_private(&key_path, &key.serialize_pem())?;
    std::fs::write(&cert_path, cert.pem())?;
    Ok(Issuer::new(p, key))
}

fn write_private(path: &Path, pem: &str) -> anyhow::Result<()> {
    std::fs::write(path, pem)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Makes (or keeps) a certificate for each identity in `dir`, valid for `hosts` (names and
/// addresses clients dial; localhost and 127.0.0.1 are always included). Returns their files.
pub fn make(dir: &Path, identities: &[Identity], hosts: &[String]) -> anyhow::Result<Vec<TlsFiles>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let issuer = ca(dir)?;
    let mut out = Vec::new();
    for identity in identities {
        let f = files(dir, identity);
        if !f.cert.exists() {
            let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), identity.name()];
            if let Identity::Replica(_) = identity {
                // What a county checks it reached: some replica of the city (tonic checks the
                // server by name; the URI SAN names a client to the server).
                names.push(xuncha_replication::raft::CITY_SERVER_NAME.into());
            }
            names.extend(hosts.iter().cloned());
            names.dedup();
            let mut p = CertificateParams::new(names)?;
            p.subject_alt_names.push(SanType::URI(Ia5String::try_from(identity.uri())?));
            p.distinguished_name = DistinguishedName::new();
            p.distinguished_name.push(DnType::CommonName, identity.name());
            p.is_ca = IsCa::ExplicitNoCa;
            p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
            p.use_authority_key_identifier_extension = true;
            p.not_before = rcgen::date_time_ymd(2024, 1, 1);
            p.not_after = rcgen::date_time_ymd(2034, 1, 1);
            let key = KeyPair::generate()?;
            let cert = p.signed_by(&key, &issuer)?;
            write_private(&f.key, &key.serialize_pem())?;
            std::fs::write(&f.cert, cert.pem())?;
        }
        out.push(f);
    }
    Ok(out)
}

/// Adds the certificates in `certs` (PEM files) to the revocation list `list` (created if need
/// be), each as its SHA-256 fingerprint with the identity and the date as a comment. Nodes
/// re-read the list within seconds. Returns (fingerprint, identity) of each.
pub fn revoke(list: &Path, certs: &[PathBuf]) -> anyhow::Result<Vec<(String, String)>> {
    use std::io::Write;
    let held = std::fs::read_to_string(list).unwrap_or_default();
    let (already, _) = xuncha_api::revocation::parse_list(&held);
    let mut lines = String::new();
    let mut out = Vec::new();
    for path in certs {
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let (_, pem) = x509_parser::pem::parse_x509_pem(&pem)
            .map_err(|e| anyhow::anyhow!("{}: not a PEM certificate: {e}", path.display()))?;
        let print = xuncha_api::revocation::fingerprint(&pem.contents);
        let who = xuncha_api::identity::identity_of_der(&pem.contents)
            .map(|p| p.label())
            .unwrap_or_else(|e| format!("unknown identity ({e})"));
        if !already.contains(&print) {
            lines.push_str(&format!("{print}  # {who}, revoked {}\n", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")));
        }
        out.push((print, who));
    }
    if !lines.is_empty() {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(list)
            .with_context(|| format!("opening {}", list.display()))?;
        if !held.is_empty() && !held.ends_with('\n') {
            f.write_all(b"\n")?;
        }
        f.write_all(lines.as_bytes())?;
        f.sync_all()?;
    }
    Ok(out)
}

/// The default certificate folder under a data folder.
pub fn dir_in(data: &Path) -> PathBuf {
    data.join("certs")
}
