//! `xuncha certs`: a development CA and node certificates (rcgen). Each certificate carries the
//! node's identity as a URI SAN (`xuncha://city/<replica>`, `xuncha://county/<code>`,
//! `xuncha://operator/<name>`) and serves as both server and client certificate. An existing
//! `ca.pem` + `ca-key.pem` in the folder (the operators' own CA) is used instead of a new one.
//!
//! Node certificates are short-lived ([`NODE_CERT_DAYS`]): a certificate already there is kept
//! until it is within [`RENEW_WITHIN_DAYS`] of expiry, then re-issued with a new key and the
//! names it had (so running `xuncha certs` or `xuncha up` again rotates what is due); `--renew`
//! re-issues at once. A node reads its certificate at start: restart it to present the new one.

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
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

/// How long a node certificate is valid.
pub const NODE_CERT_DAYS: i64 = 90;
/// A certificate this close to expiry is re-issued by `make`.
pub const RENEW_WITHIN_DAYS: i64 = 30;
/// How long a development CA made here is valid.
pub const CA_YEARS: i32 = 10;

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

fn ca(dir: &Path, now: DateTime<Utc>) -> anyhow::Result<Issuer<'static, KeyPair>> {
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
    p.not_before = asn1_time(now - Duration::days(1))?;
    p.not_after = asn1_time(now + Duration::days(365 * i64::from(CA_YEARS)))?;
    let key = KeyPair::generate()?;
    let cert = p.self_signed(&key)?;
    write_private(&key_path, &key.serialize_pem())?;
    std::fs::write(&cert_path, cert.pem())?;
    Ok(Issuer::new(p, key))
}

/// A private key, readable by its owner only from the first byte on.
fn write_private(path: &Path, pem: &str) -> anyhow::Result<()> {
    replace(path, pem.as_bytes(), 0o600)
}

/// Whether `make` re-issues certificates that are not yet due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renew {
    /// Only missing ones and those within [`RENEW_WITHIN_DAYS`] of expiry.
    WhenDue,
    /// Every named one, now.
    Now,
}

/// What `make` did with a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Issued,
    Renewed,
    Kept,
}

impl Action {
    /// For the operator's table.
    pub fn label(self) -> &'static str {
        match self {
            Action::Issued => "新签发",
            Action::Renewed => "已续期",
            Action::Kept => "保留",
        }
    }
}

/// One certificate after `make`.
#[derive(Clone, Debug)]
pub struct Made {
    pub identity: Identity,
    pub files: TlsFiles,
    pub not_after: DateTime<Utc>,
    pub action: Action,
}

/// Makes, renews or keeps a certificate for each identity in `dir`, valid for `hosts` (names and
/// addresses clients dial; localhost and 127.0.0.1 are always included). Returns their files.
pub fn make(dir: &Path, identities: &[Identity], hosts: &[String]) -> anyhow::Result<Vec<TlsFiles>> {
    Ok(make_at(dir, identities, hosts, Renew::WhenDue, Utc::now())?.into_iter().map(|m| m.files).collect())
}

/// [`make`] as of `now`, saying what it did. A renewed certificate keeps the names it had,
/// plus `hosts`, and gets a new key.
pub fn make_at(
    dir: &Path,
    identities: &[Identity],
    hosts: &[String],
    renew: Renew,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Made>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let issuer = ca(dir, now)?;
    let mut out = Vec::new();
    for identity in identities {
        let f = files(dir, identity);
        let held = if f.cert.exists() { Some(read_cert(&f.cert)?) } else { None };
        let due = |h: &HeldCert| renew == Renew::Now || h.not_after - now < Duration::days(RENEW_WITHIN_DAYS);
        let action = match &held {
            None => Action::Issued,
            Some(h) if due(h) => Action::Renewed,
            Some(h) => {
                out.push(Made { identity: identity.clone(), files: f, not_after: h.not_after, action: Action::Kept });
                continue;
            }
        };
        let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), identity.name()];
        if let Identity::Replica(_) = identity {
            // What a county checks it reached: some replica of the city (tonic checks the
            // server by name; the URI SAN names a client to the server).
            names.push(xuncha_replication::raft::CITY_SERVER_NAME.into());
        }
        names.extend(held.iter().flat_map(|h| h.names.iter().cloned()));
        names.extend(hosts.iter().cloned());
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        let mut p = CertificateParams::new(names)?;
        p.subject_alt_names.push(SanType::URI(Ia5String::try_from(identity.uri())?));
        p.distinguished_name = DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, identity.name());
        p.is_ca = IsCa::ExplicitNoCa;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        p.use_authority_key_identifier_extension = true;
        // An hour back for clocks a little behind the issuer's.
        p.not_before = asn1_time(now - Duration::hours(1))?;
        let not_after = now + Duration::days(NODE_CERT_DAYS);
        p.not_after = asn1_time(not_after)?;
        let key = KeyPair::generate()?;
        let cert = p.signed_by(&key, &issuer)?;
        // Key first: a crash between the two leaves the old certificate with a key it does not
        // match, which the node refuses at start, rather than a silent mix.
        write_private(&f.key, &key.serialize_pem())?;
        replace(&f.cert, cert.pem().as_bytes(), 0o644)?;
        out.push(Made { identity: identity.clone(), files: f, not_after, action });
    }
    Ok(out)
}

/// What `make` needs of a certificate already there.
struct HeldCert {
    not_after: DateTime<Utc>,
    /// Its DNS and IP subject names.
    names: Vec<String>,
}

fn read_cert(path: &Path) -> anyhow::Result<HeldCert> {
    use x509_parser::extensions::GeneralName;
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem)
        .map_err(|e| anyhow::anyhow!("{}: not a PEM certificate: {e}", path.display()))?;
    let cert = pem.parse_x509().map_err(|e| anyhow::anyhow!("{}: unreadable certificate: {e}", path.display()))?;
    let not_after = DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
        .ok_or_else(|| anyhow::anyhow!("{}: expiry out of range", path.display()))?;
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for n in &san.value.general_names {
            match n {
                GeneralName::DNSName(d) => names.push(d.to_string()),
                GeneralName::IPAddress(ip) => match ip.len() {
                    4 => names.push(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*ip).unwrap_or_default()).to_string()),
                    16 => {
                        names.push(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*ip).unwrap_or_default()).to_string())
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
    Ok(HeldCert { not_after, names })
}

/// When the certificate in `path` (PEM) expires.
pub fn expiry(path: &Path) -> anyhow::Result<DateTime<Utc>> {
    Ok(read_cert(path)?.not_after)
}

/// When a certificate (DER) expires.
pub fn expiry_of_der(der: &[u8]) -> anyhow::Result<DateTime<Utc>> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| anyhow::anyhow!("unreadable certificate: {e}"))?;
    DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0).context("expiry out of range")
}

fn asn1_time(t: DateTime<Utc>) -> anyhow::Result<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp()).context("certificate date out of range")
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader sees the old
/// file or the new one, never half of one.
fn replace(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp).with_context(|| format!("writing {}", tmp.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificates_are_short_lived_and_renewed_when_due_with_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let who = [Identity::County("anping".into())];
        let now = Utc::now();
        let first = make_at(dir.path(), &who, &["anping.example".into()], Renew::WhenDue, now).unwrap();
        assert_eq!(first[0].action, Action::Issued);
        assert_eq!((first[0].not_after - now).num_days(), NODE_CERT_DAYS, "{}", first[0].not_after);
        let key = std::fs::read(&first[0].files.key).unwrap();

        // Not due: kept, key and all.
        let later = make_at(dir.path(), &who, &[], Renew::WhenDue, now + Duration::days(30)).unwrap();
        assert_eq!(later[0].action, Action::Kept);
        assert_eq!(std::fs::read(&first[0].files.key).unwrap(), key);

        // Within 30 days of expiry: a new certificate and key, still valid for the host it had.
        let due = now + Duration::days(NODE_CERT_DAYS - RENEW_WITHIN_DAYS + 1);
        let renewed = make_at(dir.path(), &who, &[], Renew::WhenDue, due).unwrap();
        assert_eq!(renewed[0].action, Action::Renewed);
        assert!(renewed[0].not_after > first[0].not_after);
        assert_ne!(std::fs::read(&first[0].files.key).unwrap(), key);
        let held = read_cert(&renewed[0].files.cert).unwrap();
        assert!(held.names.contains(&"anping.example".to_string()), "{:?}", held.names);
        assert!(held.names.contains(&"127.0.0.1".to_string()), "{:?}", held.names);
        assert_eq!(expiry(&renewed[0].files.cert).unwrap().timestamp(), renewed[0].not_after.timestamp());

        // --renew: at once.
        let forced = make_at(dir.path(), &who, &[], Renew::Now, due).unwrap();
        assert_eq!(forced[0].action, Action::Renewed);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&forced[0].files.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
