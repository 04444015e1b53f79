//! 总览.

use super::*;

struct CountyRow {
    name: String,
    last_contact: String,
    backlog: u64,
    refused: String,
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
    counties: Vec<CountyRow>,
    is_city: bool,
}

pub(super) async fn overview(State(app): State<App>, signed: Signed) -> Response {
    let frame = Frame::of(&app, &signed, "/").await;
    let who = signed.who.clone();
    let today = app.api.today();
    let figures = app
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
            vec![
                Figure { label: "轮次", value: rounds.to_string() },
                Figure { label: "进行中的轮次", value: open_rounds.to_string() },
                Figure { label: "整改事项", value: items.len().to_string() },
                Figure {
                    label: "整改完成率",
                    value: if items.is_empty() { "—".into() } else { format!("{}%", done * 100 / items.len()) },
                },
                Figure { label: "逾期未完成", value: overdue.to_string() },
            ]
        })
        .await;
    let counties = if app.site.is_city() { county_rows(&app).await } else { Vec::new() };
    page(OverviewPage { frame, figures, counties, is_city: app.site.is_city() })
}

async fn county_rows(app: &App) -> Vec<CountyRow> {
    let statuses = app.api.engine().store().peer_statuses().await.unwrap_or_default();
    statuses
        .into_iter()
        .filter_map(|p| {
            let code = p.node.county_code()?.to_string();
            Some(CountyRow {
                name: app.site.county_names.get(&code).cloned().unwrap_or(code),
                last_contact: p.last_contact.map(zh::moment).unwrap_or_else(|| "从未联系".into()),
                backlog: p.backlog,
                refused: p.refused.map(|r| r.0).unwrap_or_default(),
            })
        })
        .collect()
}
