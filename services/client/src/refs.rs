//! Records named the way offices cite them: a command given 整改〔2026〕42号 (or 整改[2026]42,
//! 2026-42) finds the one record with that number; an id is taken as it is.

use xuncha_proto::v1 as pb;
use xuncha_proto::v1::finding_service_client::FindingServiceClient;
use xuncha_proto::v1::rectification_service_client::RectificationServiceClient;

use crate::Conn;

/// The year and number in a cited reference, however it was typed: 整改〔2026〕42号,
/// 整改[2026]42, 问题(2026)7号, 2026-42.
pub fn parse_reference(text: &str) -> Option<(i32, u32)> {
    let runs: Vec<&str> = text.split(|c: char| !c.is_ascii_digit()).filter(|r| !r.is_empty()).collect();
    match runs.as_slice() {
        [year, number] if year.len() == 4 => Some((year.parse().ok()?, number.parse().ok()?)),
        _ => None,
    }
}

fn is_id(text: &str) -> bool {
    uuid::Uuid::parse_str(text.trim()).is_ok()
}

/// The one id among `candidates` (id, cited reference) whose number is `text`'s.
fn pick(what: &str, text: &str, candidates: impl Iterator<Item = (String, String)>) -> anyhow::Result<String> {
    let wanted = parse_reference(text)
        .ok_or_else(|| anyhow::anyhow!("{what}: “{text}”既不是编号(如{what}〔2026〕42号)也不是记录 id"))?;
    let found: Vec<String> =
        candidates.filter(|(_, reference)| parse_reference(reference) == Some(wanted)).map(|(id, _)| id).collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => anyhow::bail!("没有编号为{what}〔{}〕{}号的记录(或您无权查看)", wanted.0, wanted.1),
        many => anyhow::bail!(
            "编号{what}〔{}〕{}号对应{}条记录(不同县各自编号),请用 --output json 查看后给出记录 id",
            wanted.0,
            wanted.1,
            many.len()
        ),
    }
}

/// A rectification item's id from its number or id.
pub async fn rectification_item(channel: &Conn, text: &str) -> anyhow::Result<String> {
    if is_id(text) {
        return Ok(text.trim().to_string());
    }
    let items = RectificationServiceClient::new(channel.clone())
        .list_items(pb::ListRectificationRequest::default())
        .await?
        .into_inner()
        .items;
    pick("整改", text, items.into_iter().map(|i| (i.id, i.reference)))
}

/// A finding's id from its number or id.
pub async fn finding(channel: &Conn, text: &str) -> anyhow::Result<String> {
    if is_id(text) {
        return Ok(text.trim().to_string());
    }
    let findings = FindingServiceClient::new(channel.clone())
        .list_findings(pb::ListFindingsRequest::default())
        .await?
        .into_inner();
    pick("问题", text, findings.findings.into_iter().map(|f| (f.id, f.reference)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reference_reads_however_it_was_typed() {
        for text in ["整改〔2026〕42号", "整改[2026]42", "问题(2026)42号", "2026-42", " 2026 42 "] {
            assert_eq!(parse_reference(text), Some((2026, 42)), "{text}");
        }
        for text in ["42", "整改〔26〕42号", "abc", ""] {
            assert_eq!(parse_reference(text), None, "{text}");
        }
    }

    #[test]
    fn a_number_names_one_record_or_says_why_not() {
        let list = || {
            vec![
                ("a".to_string(), "整改〔2026〕1号".to_string()),
                ("b".into(), "整改〔2026〕2号".into()),
                ("c".into(), "整改〔2026〕2号".into()),
            ]
            .into_iter()
        };
        assert_eq!(pick("整改", "整改[2026]1", list()).unwrap(), "a");
        assert!(pick("整改", "整改〔2026〕9号", list()).unwrap_err().to_string().contains("没有编号"));
        assert!(pick("整改", "2026-2", list()).unwrap_err().to_string().contains("2条记录"));
        assert!(pick("整改", "下周", list()).is_err());
    }
}
