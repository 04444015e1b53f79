//! 总览: the figures of the node's own work; at the city, every county's standing (last contact,
//! backlog, coverage of its term plan, rectification, linked assignments by stage), with two
//! charts drawn on the server as SVG (no script, nothing fetched).

use super::*;
use crate::charts::{BarChart, Segment};
use xuncha_domain::oversight::{Coverage, NodeOversight, oversight};

struct CountyRow {
    name: String,
    last_contact: String,
    backlog: u64,
    refused: String,
    coverage: String,
    completion: String,
    overdue: usize,
    assignments: String,
}

struct Figure {
    label: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    frame: Frame,
    figures: Vec<Figure>,
    /// This node's term plans: "十四届县委:已覆盖12/40个单位(30%)".
    coverage: Vec<(String, u32)>,
    counties: Vec<CountyRow>,
    is_city: bool,
    coverage_chart: Option<BarChart>,
    rectification_chart: Option<BarChart>,
}

/// The term that counts now (the coverage lists are put in that order when read).
fn current_term(c: &[Coverage]) -> Option<&Coverage> {
    c.first()
}

fn percent(part: usize, whole: usize) -> String {
    (part * 100).checked_div(whole).map(|p| format!("{p}%")).unwrap_or_else(|| "—".into())
}

fn completion(o: &NodeOversight) -> String {
    let r = &o.rectification;
    percent(r.done + r.signed_off + r.long_term, r.total)
}

pub(super) async fn overview(State(app): State<App>, signed: Signed) -> Response {
    let frame = Frame::of(&app, &signed, "/").await;
    let who = signed.who.clone();
    let today = app.api.today();
    let me = app.site.node.clone();
    let (figures, nodes) = app
        .api
        .engine()
        .read(move |s| {
            let rounds = s.rounds.values().filter(|r| who.may(s, Permission::RoundRead, *r)).count();
            let open_rounds = s
                .rounds
                .values()
                .filter(|r| who.may(s, Permission::RoundRead, *r))
                .filter(|r| !matches!(r.status, RoundStatus::Closed))
                .count();
            let items: Vec<_> =
                s.rectifications.values().filter(|i| who.may(s, Permission::RectificationRead, *i)).collect();
            let done = items.iter().filter(|i| !i.status.is_pending()).count();
            let overdue = items.iter().filter(|i| i.status.is_pending() && i.deadline < today).count();
            let mut figures = vec![
                Figure { label: "轮次", value: rounds.to_string() },
                Figure { label: "进行中的轮次", value: open_rounds.to_string() },
                Figure { label: "整改事项", value: items.len().to_string() },
                Figure { label: "整改完成率", value: percent(done, items.len()) },
                Figure { label: "逾期未完成", value: overdue.to_string() },
            ];
            // What waits on this person: 督办 addressed here and not yet answered.
            if who.holds(Permission::NoticeRespond) && !who.holds(Permission::NoticeIssue) {
                let waiting = s
                    .notices
                    .values()
                    .filter(|n| n.status == xuncha_domain::model::NoticeStatus::Open)
                    .filter(|n| !s.notice_responses.contains_key(&n.id))
                    .filter(|n| notices::addressed_here(&me, n) && who.may(s, Permission::NoticeRespond, *n))
                    .count();
                figures.push(Figure { label: "待回复督办", value: waiting.to_string() });
            }
            // Each node's standing, for the nodes the person oversees as a whole: a liaison or a
            // group member, whose scope is one unit or one group, sees only their own figures.
            let whole = |node: &xuncha_domain::NodeId| {
                who.holds(Permission::OversightRead)
                    && who.may(s, Permission::OversightRead, &xuncha_domain::authz::Position::node(node))
            };
            let mut nodes: Vec<NodeOversight> = oversight(s, today).into_iter().filter(|o| whole(&o.node)).collect();
            // Planned terms only; the one whose window holds today first, then the later ones.
            for o in &mut nodes {
                o.coverage.retain(|c| c.planned > 0);
                o.coverage.sort_by_key(|c| {
                    let w = s.terms.get(&c.term).map(|t| t.window);
                    (!w.is_some_and(|w| w.contains(today)), std::cmp::Reverse(w.map(|w| w.from)))
                });
            }
            (figures, nodes)
        })
        .await;
    let own = nodes.iter().find(|o| o.node == app.site.node);
    let coverage = own
        .map(|o| {
            o.coverage
                .iter()
                .filter(|c| c.planned > 0)
                .map(|c| {
                    let mut line = format!("{}:已覆盖{}/{}个单位", c.term_name, c.covered, c.planned);
                    if c.in_progress > 0 {
                        // What the rounds under way bring once they give feedback.
                        let after = (c.covered + c.in_progress) as f64 * 100.0 / c.planned as f64;
                        line.push_str(&format!(",正在巡察{}个,本轮结束后覆盖{after:.2}%", c.in_progress));
                    }
                    (line, c.percent.round() as u32)
                })
                .collect()
        })
        .unwrap_or_default();
    let is_city = app.site.is_city();
    let (counties, coverage_chart, rectification_chart) = if is_city && signed.who.holds(Permission::OversightRead) {
        let rows = county_rows(&app, &nodes).await;
        (rows, Some(coverage_chart(&app, &nodes)), Some(rectification_chart(&app, &nodes)))
    } else {
        (Vec::new(), None, None)
    };
    page(OverviewPage { frame, figures, coverage, counties, is_city, coverage_chart, rectification_chart })
}

async fn county_rows(app: &App, nodes: &[NodeOversight]) -> Vec<CountyRow> {
    let statuses = app.api.engine().store().peer_statuses().await.unwrap_or_default();
    let mut rows: Vec<CountyRow> = statuses
        .into_iter()
        .filter(|p| p.node.county_code().is_some())
        .map(|p| {
            let o = nodes.iter().find(|o| o.node == p.node);
            CountyRow {
                name: app.site.node_name(&p.node),
                last_contact: p.last_contact.map(zh::moment).unwrap_or_else(|| "从未联系".into()),
                backlog: p.backlog,
                refused: p.refused.map(|r| r.0).unwrap_or_default(),
                coverage: o
                    .and_then(|o| current_term(&o.coverage))
                    .map(|c| format!("{}%({}/{})", c.percent.round(), c.covered, c.planned))
                    .unwrap_or_else(|| "未制定规划".into()),
                completion: o.map(completion).unwrap_or_else(|| "—".into()),
                overdue: o.map(|o| o.rectification.overdue).unwrap_or(0),
                assignments: o
                    .map(|o| {
                        o.assignments
                            .iter()
                            .map(|(stage, n)| format!("{}{n}", stage.label_zh()))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "—".into()),
            }
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// 全覆盖 per node: the share of its current term plan inspected.
fn coverage_chart(app: &App, nodes: &[NodeOversight]) -> BarChart {
    let mut chart = BarChart::new("各地巡察全覆盖进度", vec![("covered", "已覆盖"), ("active", "正在巡察")]);
    for o in nodes {
        let Some(c) = current_term(&o.coverage) else {
            continue;
        };
        let covered = c.covered as f64;
        let active = c.in_progress as f64;
        let planned = c.planned.max(1) as f64;
        chart.bar(
            app.site.node_name(&o.node),
            vec![
                Segment::new(covered / planned, "covered", format!("已覆盖{}个单位", c.covered)),
                Segment::new(active / planned, "active", format!("正在巡察{}个单位", c.in_progress)),
            ],
            format!("{}%", c.percent.round()),
        );
    }
    chart
}

/// Rectification items per node by status, as shares of the node's items.
fn rectification_chart(app: &App, nodes: &[NodeOversight]) -> BarChart {
    let mut chart = BarChart::new(
        "各地整改事项状态",
        vec![("signed-off", "已销号"), ("done", "待销号或长期坚持"), ("active", "整改中"), ("open", "未开始")],
    );
    for o in nodes {
        let r = &o.rectification;
        if r.total == 0 {
            continue;
        }
        let share = |n: usize| n as f64 / r.total as f64;
        chart.bar(
            app.site.node_name(&o.node),
            vec![
                Segment::new(share(r.signed_off), "signed-off", format!("已销号{}项", r.signed_off)),
                Segment::new(
                    share(r.done + r.long_term),
                    "done",
                    format!("待销号或长期坚持{}项", r.done + r.long_term),
                ),
                Segment::new(share(r.in_progress), "active", format!("整改中{}项", r.in_progress)),
                Segment::new(share(r.open), "open", format!("未开始{}项", r.open)),
            ],
            format!("{}项,逾期{}", r.total, r.overdue),
        );
    }
    chart
}
