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

/// A round's number from 第七轮, 第7轮, 七, 7 (None for anything else).
pub fn parse_round_number(text: &str) -> Option<u32> {
    let t = text.trim();
    let t = t.strip_prefix('第').unwrap_or(t);
    let t = t.strip_suffix("轮").unwrap_or(t).trim();
    if let Ok(n) = t.parse::<u32>() {
        return Some(n);
    }
    let digit = |c: char| "零一二三四五六七八九".chars().position(|d| d == c).map(|d| d as u32);
    let chars: Vec<char> = t.chars().collect();
    match chars.as_slice() {
        ['十'] => Some(10),
        [d] => digit(*d).filter(|n| *n > 0),
        ['十', d] => Some(10 + digit(*d)?),
        [t, '十'] => Some(digit(*t)? * 10),
        [t, '十', d] => Some(digit(*t)? * 10 + digit(*d)?),
        _ => None,
    }
}

/// The number in a round's name: 四届市委第七轮巡察 → 7.
fn round_number_in(name: &str) -> Option<u32> {
    let start = name.find('第')? + '第'.len_utf8();
    let end = start + name[start..].find('轮')?;
    parse_round_number(&name[start..end])
}

/// The one id whose label is `text`, or a refusal that names the choices.
fn one_named(what: &str, text: &str, found: Vec<(String, String)>) -> anyhow::Result<String> {
    match found.as_slice() {
        [(id, _)] => Ok(id.clone()),
        [] => anyhow::bail!("没有名为“{text}”的{what}(或您无权查看)"),
        many => anyhow::bail!(
            "“{text}”对应{}个{what}:{};请写得更具体,或用 --output json 查看后给出记录 id",
            many.len(),
            many.iter().map(|(_, label)| label.as_str()).collect::<Vec<_>>().join("、")
        ),
    }
}

/// Offices' names for nodes, as the connected node knows them.
#[derive(Clone, Debug, Default)]
pub struct NodeLabels {
    me: String,
    names: std::collections::HashMap<String, String>,
}

impl NodeLabels {
    /// From the node's status where the caller may read it (operators, the office), else from
    /// who the caller is (every signed-in person); with neither, nodes are shown by their codes.
    pub async fn of(channel: &Conn) -> anyhow::Result<Self> {
        use xuncha_proto::v1::auth_client::AuthClient;
        use xuncha_proto::v1::node_service_client::NodeServiceClient;
        let refused =
            |s: &tonic::Status| matches!(s.code(), tonic::Code::PermissionDenied | tonic::Code::Unauthenticated);
        match NodeServiceClient::new(channel.clone()).get_status(pb::GetStatusRequest {}).await {
            Ok(r) => {
                let status = r.into_inner();
                return Ok(Self { me: status.node, names: status.node_names.into_iter().collect() });
            }
            Err(s) if refused(&s) => {}
            Err(s) => return Err(s.into()),
        }
        match AuthClient::new(channel.clone()).who_am_i(pb::WhoAmIRequest {}).await {
            Ok(r) => {
                let who = r.into_inner();
                Ok(Self { me: who.organisation, names: who.node_names.into_iter().collect() })
            }
            Err(s) if refused(&s) => Ok(Self { me: String::new(), names: Default::default() }),
            Err(s) => Err(s.into()),
        }
    }

    /// 市委巡察办, 安平县, …; a county this node has no name for by its code.
    pub fn label(&self, node: &str) -> String {
        if let Some(name) = self.names.get(node) {
            return name.clone();
        }
        match node.strip_prefix("county/") {
            Some(code) => format!("县({code})"),
            None if node == "city" => "市委巡察办".into(),
            None => node.to_string(),
        }
    }

    /// A county's name from its code.
    pub fn county(&self, code: &str) -> String {
        self.label(&format!("county/{code}"))
    }

    /// The node the connection talks to.
    pub fn me(&self) -> &str {
        &self.me
    }
}

/// A round's id from its name, its number (第七轮, 7) or its id. A number names this node's
/// own round first; another node's round of that number is taken only if it is the only one.
pub async fn round(channel: &Conn, text: &str) -> anyhow::Result<String> {
    use xuncha_proto::v1::round_service_client::RoundServiceClient;
    if is_id(text) {
        return Ok(text.trim().to_string());
    }
    let rounds = RoundServiceClient::new(channel.clone())
        .list_rounds(pb::ListRoundsRequest::default())
        .await?
        .into_inner()
        .rounds;
    let owner = |r: &pb::Round| r.meta.as_ref().map(|m| m.owner.clone()).unwrap_or_default();
    let by_name: Vec<_> =
        rounds.iter().filter(|r| r.name == text.trim()).map(|r| (r.id.clone(), r.name.clone())).collect();
    if !by_name.is_empty() {
        return one_named("轮次", text, by_name);
    }
    let Some(number) = parse_round_number(text) else {
        anyhow::bail!("“{text}”不是轮次的名称或编号(如第七轮、7)");
    };
    let nodes = NodeLabels::of(channel).await?;
    let me = nodes.me();
    let numbered: Vec<&pb::Round> = rounds.iter().filter(|r| r.number == number).collect();
    let own: Vec<_> = numbered.iter().filter(|r| owner(r) == me).map(|r| (r.id.clone(), r.name.clone())).collect();
    if own.is_empty() {
        one_named("轮次", text, numbered.iter().map(|r| (r.id.clone(), r.name.clone())).collect())
    } else {
        one_named("轮次", text, own)
    }
}

/// A unit's id from its exact name or its id.
pub async fn unit(channel: &Conn, text: &str) -> anyhow::Result<String> {
    use xuncha_proto::v1::unit_service_client::UnitServiceClient;
    if is_id(text) || text.trim().is_empty() {
        return Ok(text.trim().to_string());
    }
    let units = UnitServiceClient::new(channel.clone())
        .list_units(pb::ListUnitsRequest { owner: String::new() })
        .await?
        .into_inner()
        .units;
    one_named("单位", text, units.into_iter().filter(|u| u.name == text.trim()).map(|u| (u.id, u.name)).collect())
}

/// Several units' ids, each from its name or id.
pub async fn units(channel: &Conn, texts: &[String]) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for t in texts {
        ids.push(unit(channel, t).await?);
    }
    Ok(ids)
}

/// A pool person's id from their name or id; namesakes are told apart by birth year and work
/// unit ("王伟(1980,县财政局)" also names one).
pub async fn person(channel: &Conn, text: &str) -> anyhow::Result<String> {
    use xuncha_proto::v1::talent_pool_service_client::TalentPoolServiceClient;
    if is_id(text) || text.trim().is_empty() {
        return Ok(text.trim().to_string());
    }
    let persons = TalentPoolServiceClient::new(channel.clone())
        .list_persons(pb::ListPersonsRequest { owner: String::new(), leaders_only: false, include_inactive: true })
        .await?
        .into_inner()
        .persons;
    let labelled = persons.into_iter().filter_map(|p| {
        let f = p.fields?;
        Some((p.id, f.name.clone(), format!("{}({},{})", f.name, f.birth_year, f.work_unit)))
    });
    // Typed with full-width brackets and comma (（，）) or ASCII ones: the same.
    let wanted = text.trim().replace('\u{ff08}', "(").replace('\u{ff09}', ")").replace('\u{ff0c}', ",");
    let found = labelled.filter(|(_, name, label)| *name == wanted || *label == wanted).map(|(id, _, l)| (id, l));
    one_named("人员", text, found.collect())
}

/// Several persons' ids.
pub async fn persons(channel: &Conn, texts: &[String]) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for t in texts {
        ids.push(person(channel, t).await?);
    }
    Ok(ids)
}

/// A term's id from its name or id.
pub async fn term(channel: &Conn, text: &str) -> anyhow::Result<String> {
    use xuncha_proto::v1::unit_service_client::UnitServiceClient;
    if is_id(text) || text.trim().is_empty() {
        return Ok(text.trim().to_string());
    }
    let terms = UnitServiceClient::new(channel.clone()).list_terms(pb::ListTermsRequest {}).await?.into_inner().terms;
    one_named("届次", text, terms.into_iter().filter(|t| t.name == text.trim()).map(|t| (t.id, t.name)).collect())
}

/// The plans of the rounds `text` may mean: "第七轮:X" names round 第七轮; a bare X is looked
/// for in every round not yet closed. Returns (plans, X).
async fn plans_for(channel: &Conn, text: &str) -> anyhow::Result<(Vec<pb::RoundPlan>, String)> {
    use xuncha_proto::v1::round_service_client::RoundServiceClient;
    let mut client = RoundServiceClient::new(channel.clone());
    let (round_ids, name) = match text.split_once([':', '\u{ff1a}']) {
        Some((r, name)) => (vec![round(channel, r).await?], name.trim().to_string()),
        None => {
            let rounds = client.list_rounds(pb::ListRoundsRequest::default()).await?.into_inner().rounds;
            let open = rounds.into_iter().filter(|r| r.status != pb::RoundStatus::Closed as i32);
            (open.map(|r| r.id).collect(), text.trim().to_string())
        }
    };
    let mut plans = Vec::new();
    for id in round_ids {
        plans.push(client.get_round(pb::GetRoundRequest { id }).await?.into_inner());
    }
    Ok((plans, name))
}

fn round_name(plan: &pb::RoundPlan) -> String {
    plan.round.as_ref().map(|r| r.name.clone()).unwrap_or_default()
}

/// A group's id from its name (第一巡察组, unique among rounds not closed, or 第七轮:第一巡察组)
/// or its id.
pub async fn group(channel: &Conn, text: &str) -> anyhow::Result<String> {
    if is_id(text) {
        return Ok(text.trim().to_string());
    }
    let (plans, name) = plans_for(channel, text).await?;
    let found = plans.iter().flat_map(|p| {
        p.groups.iter().filter(|g| g.name == name).map(move |g| (g.id.clone(), format!("{}:{}", round_name(p), g.name)))
    });
    one_named("巡察组", text, found.collect())
}

/// A group's id within a known round.
pub async fn group_in(channel: &Conn, round_id: &str, text: &str) -> anyhow::Result<String> {
    if is_id(text) {
        return Ok(text.trim().to_string());
    }
    group(channel, &format!("{round_id}:{}", text.trim())).await
}

/// A target's id from its unit's name (unique among rounds not closed, or 第七轮:单位名) or id.
pub async fn target(channel: &Conn, text: &str) -> anyhow::Result<String> {
    use xuncha_proto::v1::unit_service_client::UnitServiceClient;
    if is_id(text) || text.trim().is_empty() {
        return Ok(text.trim().to_string());
    }
    let (plans, name) = plans_for(channel, text).await?;
    let units = UnitServiceClient::new(channel.clone())
        .list_units(pb::ListUnitsRequest { owner: String::new() })
        .await?
        .into_inner()
        .units;
    let named: Vec<String> = units.into_iter().filter(|u| u.name == name).map(|u| u.id).collect();
    let found = plans.iter().flat_map(|p| {
        p.targets
            .iter()
            .filter(|t| named.contains(&t.unit))
            .map(|t| (t.id.clone(), format!("{}:{}", round_name(p), name)))
    });
    one_named("巡察对象", text, found.collect())
}

/// A lead's id from its finding's number (问题〔2026〕3号) or its id.
pub async fn lead(channel: &Conn, text: &str) -> anyhow::Result<String> {
    if is_id(text) {
        return Ok(text.trim().to_string());
    }
    let finding = finding(channel, text).await?;
    let leads = xuncha_proto::v1::lead_service_client::LeadServiceClient::new(channel.clone())
        .list_leads(pb::ListLeadsRequest::default())
        .await?
        .into_inner()
        .leads;
    let found = leads.into_iter().filter(|l| l.finding == finding).map(|l| (l.id, l.summary)).collect();
    one_named("问题线索", text, found)
}

/// A notice's id from its rectification item's number (the item's open notice) or its id.
pub async fn notice(channel: &Conn, text: &str) -> anyhow::Result<String> {
    if is_id(text) {
        return Ok(text.trim().to_string());
    }
    let item = rectification_item(channel, text).await?;
    let notices = xuncha_proto::v1::supervision_service_client::SupervisionServiceClient::new(channel.clone())
        .list_notices(pb::ListNoticesRequest { open_only: true })
        .await?
        .into_inner()
        .notices;
    let found = notices.into_iter().filter(|n| n.subject_rectification == item).map(|n| (n.id, n.text)).collect();
    one_named("督办通知", text, found)
}

/// A linked assignment's id from its city round (第七轮, at a county) or county code (at the
/// city, 县:第七轮 or the code alone when one assignment is the county's), or its id.
pub async fn assignment(channel: &Conn, text: &str) -> anyhow::Result<String> {
    use xuncha_proto::v1::linkage_service_client::LinkageServiceClient;
    if is_id(text) || text.trim().is_empty() {
        return Ok(text.trim().to_string());
    }
    let all = LinkageServiceClient::new(channel.clone())
        .list_assignments(pb::ListAssignmentsRequest::default())
        .await?
        .into_inner()
        .assignments;
    let (county, round_text) = match text.split_once([':', '\u{ff1a}']) {
        Some((c, r)) => (Some(c.trim()), Some(r.trim())),
        None if parse_round_number(text).is_some() || text.contains('轮') => (None, Some(text.trim())),
        None => (Some(text.trim()), None),
    };
    let number = round_text.and_then(parse_round_number);
    let found = all
        .into_iter()
        .filter(|a| county.is_none_or(|c| a.county == c))
        .filter(|a| {
            let r = a.round.as_ref();
            // A summary carries the round's name (…第七轮巡察): its number is read from it.
            round_text.is_none_or(|t| {
                r.is_some_and(|r| r.name == t || number.is_some_and(|n| round_number_in(&r.name) == Some(n)))
            })
        })
        .map(|a| (a.id.clone(), format!("{}:{}", a.county, a.round.map(|r| r.name).unwrap_or_default())))
        .collect();
    one_named("联动任务", text, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_number_reads_in_chinese_or_digits() {
        for (text, n) in
            [("第七轮", 7), ("第7轮", 7), ("7", 7), ("七", 7), ("第十轮", 10), ("十二", 12), ("二十一", 21)]
        {
            assert_eq!(parse_round_number(text), Some(n), "{text}");
        }
        for text in ["第轮", "十四届县委", "abc", "零"] {
            assert_eq!(parse_round_number(text), None, "{text}");
        }
    }

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
