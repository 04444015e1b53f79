//! 巡察组: a round's groups, and forming one from the pool in two steps: choose the group's name
//! and the units it will inspect, then take or change the staffing suggestion (each choice with
//! its reasons, each person left out with why). Recusal (回避) and double bookings are shown
//! beside the people before saving, and a save that would break them is refused in Chinese.

use std::collections::BTreeMap;

use super::*;
use xuncha_domain::ids::{PersonId, RoundId, UnitId};
use xuncha_domain::model::TargetKind;
use xuncha_domain::round::{AddTarget, FormGroup};
use xuncha_domain::staffing::{SuggestRequest, bookings, overlapping_bookings, recusal_reason, suggest};

/// Units the first step lists before asking for a name to narrow them.
const LISTED_UNITS: usize = 200;

pub(super) fn routes() -> Router<App> {
    Router::new().route("/groups", get(groups_page).post(form_group))
}

/// The group being formed, as both steps carry it: fixed fields, and the chosen units and
/// members as `unit_<id>` / `member_<id>` keys (one checkbox each).
#[derive(Clone, Default, Deserialize)]
struct GroupForm {
    #[serde(default)]
    round: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    leader: String,
    #[serde(default)]
    reason: String,
    /// Narrows the units offered to those whose name holds this.
    #[serde(default)]
    unit_q: String,
    /// Set by the first step's button: show the suggestion.
    #[serde(default)]
    suggest: Option<String>,
    #[serde(flatten)]
    chosen: BTreeMap<String, String>,
}

impl GroupForm {
    fn ids<T>(&self, prefix: &str, parse: impl Fn(&str) -> Option<T>) -> Vec<T> {
        self.chosen.keys().filter_map(|k| k.strip_prefix(prefix)).filter_map(parse).collect()
    }
    fn units(&self) -> Vec<UnitId> {
        self.ids("unit_", |t| UnitId::parse("unit", t).ok())
    }
    fn members(&self) -> Vec<PersonId> {
        self.ids("member_", |t| PersonId::parse("members", t).ok())
    }
    fn kind(&self) -> TargetKind {
        TargetKind::parse_label(&self.kind).unwrap_or(TargetKind::Regular)
    }
}

struct GroupRow {
    name: String,
    leader: String,
    members: String,
    targets: String,
}

struct UnitChoice {
    id: String,
    name: String,
    checked: bool,
}

/// One person in the second step: chosen or not, and why.
struct PersonChoice {
    id: String,
    name: String,
    detail: String,
    leader_qualified: bool,
    is_leader: bool,
    is_member: bool,
    reasons: Vec<String>,
    /// Recusal or a clash: shown in red, and the save refused while chosen.
    blocked: bool,
}

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    frame: Frame,
    /// The round as the addresses name it (its number).
    round_key: String,
    round: String,
    groups: Vec<GroupRow>,
    may_plan: bool,
    form: GroupForm,
    units: Vec<UnitChoice>,
    /// Units left off the list (the name filter narrows it).
    more_units: usize,
    kinds: Vec<&'static str>,
    /// The second step, once the units are chosen.
    people: Vec<PersonChoice>,
    warnings: Vec<String>,
    error: Option<String>,
    done: Option<String>,
}

async fn groups_page(State(app): State<App>, signed: Signed, Query(form): Query<GroupForm>) -> Response {
    render(&app, &signed, form, None, None).await
}

async fn render(app: &App, signed: &Signed, form: GroupForm, error: Option<String>, done: Option<String>) -> Response {
    if !signed.who.holds(Permission::RoundRead) {
        return forbidden("您没有查看轮次的权限。");
    }
    if form.round.trim().is_empty() {
        return Redirect::to("/rounds").into_response();
    }
    let me = app.site.node.clone();
    let Some(round_id) = round_named(app, &form.round).await else {
        return message(StatusCode::NOT_FOUND, "未找到", "没有这个轮次,或您无权查看。");
    };
    let frame = Frame::of(app, signed, "/rounds").await;
    let who = signed.who.clone();
    let f = form.clone();
    let year = chrono::Datelike::year(&app.api.today());
    let view = app
        .api
        .engine()
        .read(move |s| {
            let round = s.rounds.get(&round_id).filter(|r| who.may(s, Permission::RoundRead, *r))?;
            let person = |id: &PersonId| s.persons.get(id).map(|p| p.name.clone()).unwrap_or_default();
            let mut groups: Vec<_> = s.groups_of_round(round.id).collect();
            groups.sort_by(|a, b| a.name.cmp(&b.name));
            let groups = groups
                .into_iter()
                .map(|g| GroupRow {
                    name: g.name.clone(),
                    leader: person(&g.leader),
                    members: g.members.iter().map(person).collect::<Vec<_>>().join("、"),
                    targets: s
                        .targets_of_group(g.id)
                        .map(|t| {
                            let unit = s.units.get(&t.unit).map(|u| u.name.as_str()).unwrap_or_default();
                            format!("{unit}({})", t.kind.label_zh())
                        })
                        .collect::<Vec<_>>()
                        .join("、"),
                })
                .collect();
            let chosen_units = f.units();
            let taken: std::collections::BTreeSet<UnitId> = s.targets_of_round(round.id).map(|t| t.unit).collect();
            let q = f.unit_q.trim();
            let mut units: Vec<_> = s
                .units
                .values()
                .filter(|u| u.meta.owner == me && !taken.contains(&u.id))
                .filter(|u| chosen_units.contains(&u.id) || q.is_empty() || u.name.contains(q))
                .collect();
            // The chosen first, then by name; a long list is cut for the page (filter by name).
            let first = |u: &&xuncha_domain::model::Unit| (!chosen_units.contains(&u.id), u.name.clone());
            units.sort_by_key(first);
            let more = units.len().saturating_sub(LISTED_UNITS);
            let units = units
                .into_iter()
                .take(LISTED_UNITS)
                .map(|u| UnitChoice {
                    id: u.id.to_string(),
                    name: u.name.clone(),
                    checked: chosen_units.contains(&u.id),
                })
                .collect();
            let (people, warnings) = if f.suggest.is_some() || !f.leader.is_empty() {
                people_of(s, &me, round, &f, year)
            } else {
                (Vec::new(), Vec::new())
            };
            let key = round_key(s, &me, round);
            Some((key, zh::round_ref(round.number) + " " + &round.name, groups, (units, more), people, warnings))
        })
        .await;
    let Some((round_key, round, groups, (units, more_units), people, warnings)) = view else {
        return message(StatusCode::NOT_FOUND, "未找到", "没有这个轮次,或您无权查看。");
    };
    let kinds = [TargetKind::Regular, TargetKind::Special, TargetKind::Revisit].map(|k| k.label_zh()).to_vec();
    let body = page(GroupsPage {
        frame,
        round_key,
        round,
        groups,
        may_plan: signed.who.holds(Permission::RoundPlan),
        form,
        units,
        more_units,
        kinds,
        people,
        warnings,
        error: error.clone(),
        done,
    });
    let status = if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, body).into_response()
}

/// The second step's people: the suggestion for the chosen units (or, after a refused save,
/// the choices as posted), everyone else in the pool with why they were left out.
fn people_of(
    s: &xuncha_domain::State,
    me: &xuncha_domain::NodeId,
    round: &xuncha_domain::model::Round,
    f: &GroupForm,
    year: i32,
) -> (Vec<PersonChoice>, Vec<String>) {
    let req = SuggestRequest { round: round.id, group: None, units: f.units(), leader: None, size: None };
    let Ok(suggestion) = suggest(s, me, &req) else {
        return (Vec::new(), vec!["无法生成建议:轮次不存在".into()]);
    };
    // After a refused save the person's own choices stand; on the first view, the suggestion's.
    let posted = f.suggest.is_none();
    let (leader, members): (Option<PersonId>, Vec<PersonId>) = if posted {
        (PersonId::parse("leader", &f.leader).ok(), f.members())
    } else {
        (suggestion.leader.as_ref().map(|c| c.person), suggestion.members.iter().map(|c| c.person).collect())
    };
    let choices = suggestion.leader.iter().chain(&suggestion.members).chain(&suggestion.not_chosen);
    let people = choices
        .filter_map(|c| {
            let p = s.persons.get(&c.person)?;
            let blocked = c.reasons.iter().any(|r| r.starts_with("需回避") || r.starts_with("时间冲突"))
                || c.reasons.iter().any(|r| r.contains("不可抽调") || r.contains("停用"));
            Some(PersonChoice {
                id: p.id.to_string(),
                name: p.name.clone(),
                detail: format!(
                    "{},{}岁,{},{}",
                    p.work_unit,
                    year - p.birth_year,
                    p.rank.label_zh(),
                    p.specialties.iter().map(|x| x.label_zh()).collect::<Vec<_>>().join("、")
                ),
                leader_qualified: p.leader_qualified,
                is_leader: leader == Some(p.id),
                is_member: members.contains(&p.id),
                reasons: c.reasons.clone(),
                blocked,
            })
        })
        .collect();
    (people, suggestion.warnings)
}

/// Why the chosen people may not inspect the chosen units in this round, if they may not:
/// every recusal and every overlapping booking, named.
fn problems_of(s: &xuncha_domain::State, me: &xuncha_domain::NodeId, round: RoundId, f: &GroupForm) -> Vec<String> {
    let Some(round) = s.rounds.get(&round) else {
        return vec!["没有这个轮次".into()];
    };
    let window = round.dates.window();
    let all = bookings(s);
    let people = PersonId::parse("leader", &f.leader).ok().into_iter().chain(f.members());
    let mut out = Vec::new();
    for id in people {
        let Some(p) = s.persons.get(&id) else {
            continue;
        };
        for u in f.units() {
            if let Some(unit) = s.units.get(&u)
                && let Some(r) = recusal_reason(s, p, unit, window.from)
            {
                out.push(format!("需回避:{r}"));
            }
        }
        for b in overlapping_bookings(&all, id, &window, None, me) {
            out.push(format!("{}已被{}抽调({}),与本轮时间重叠", p.name, b.label, b.window));
        }
    }
    out
}

async fn form_group(State(app): State<App>, posted: Posted<GroupForm>) -> Response {
    let Posted { signed, form: mut f } = posted;
    f.suggest = None;
    let Some(round) = round_named(&app, &f.round).await else {
        return bad_request("请从轮次页面进入巡察组。");
    };
    let me = app.site.node.clone();
    let check = f.clone();
    let problems = app.api.engine().read(move |s| problems_of(s, &me, round, &check)).await;
    if !problems.is_empty() {
        let error = format!("未保存。{}", problems.join(";"));
        return render(&app, &signed, f, Some(error), None).await;
    }
    let outcome = async {
        let leader = PersonId::parse("leader", &f.leader)
            .map_err(|_| ApiError::Domain(DomainError::invalid("leader", "请选择组长")))?;
        let reason = Some(f.reason.trim().to_string()).filter(|r| !r.is_empty());
        let formed = run(
            &app,
            &signed.who,
            Command::FormGroup(FormGroup {
                round,
                name: f.name.trim().to_string(),
                leader,
                members: f.members(),
                reason: reason.clone(),
            }),
        )
        .await?;
        let group = formed
            .records
            .iter()
            .find_map(|r| r.as_group())
            .map(|g| g.id)
            .ok_or_else(|| ApiError::Internal("forming a group saved no group".into()))?;
        let scope = Some(f.scope.trim().to_string()).filter(|s| !s.is_empty());
        for unit in f.units() {
            let target = AddTarget {
                round,
                group,
                unit,
                kind: f.kind(),
                scope: scope.clone(),
                assignment: None,
                reason: reason.clone(),
            };
            run(&app, &signed.who, Command::AddTarget(target)).await?;
        }
        Ok::<_, ApiError>(())
    }
    .await;
    match outcome {
        Ok(()) => {
            let done = format!("已组建{}。", f.name.trim());
            let next = GroupForm { round: f.round.clone(), ..GroupForm::default() };
            render(&app, &signed, next, None, Some(done)).await
        }
        Err(e) => render(&app, &signed, f, Some(refusal(&e)), None).await,
    }
}

/// The round a form or an address names, by its number (see [`round_key`]).
async fn round_named(app: &App, key: &str) -> Option<RoundId> {
    let me = app.site.node.clone();
    let key = key.to_string();
    app.api.engine().read(move |s| round_by_key(s, &me, &key)).await
}
