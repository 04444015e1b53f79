//! 人才库: search and filter (name, specialty, rank, unit, age), import of an XLSX or CSV file
//! with every bad row named before anything is saved, and export in the import's own columns.

use super::*;
use axum::extract::DefaultBodyLimit;
use chrono::Datelike;
use xuncha_api::tabular::{self, PrintRows, RowSink, SheetWriter};
use xuncha_domain::model::{Person, Rank, Specialty};
use xuncha_domain::roster::{ImportPersons, ROSTER_COLUMNS, RowError, parse_roster};

use crate::session::Upload;

/// The largest file the import takes (the file's rows are limited again when read).
const MAX_UPLOAD_BYTES: usize = 16 << 20;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/pool", get(pool_page))
        .route("/pool.xlsx", get(export))
        .route("/pool/print", get(print))
        .route("/pool/import", post(import).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)))
}

#[derive(Clone, Default, Deserialize)]
struct PoolQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    specialty: String,
    #[serde(default)]
    rank: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    age_min: String,
    #[serde(default)]
    age_max: String,
    #[serde(default)]
    leaders: Option<String>,
    #[serde(default)]
    inactive: Option<String>,
    #[serde(default)]
    page: Option<usize>,
}

impl PoolQuery {
    fn matches(&self, p: &Person, year: i32) -> bool {
        let age = year - p.birth_year;
        let q = self.q.trim();
        let bound = |t: &str| t.trim().parse::<i32>().ok();
        (q.is_empty() || p.name.contains(q) || p.work_unit.contains(q))
            && (self.unit.trim().is_empty() || p.work_unit.contains(self.unit.trim()))
            && Specialty::parse_label(&self.specialty).is_none_or(|s| p.specialties.contains(&s))
            && Rank::parse_label(&self.rank).is_none_or(|r| p.rank == r)
            && bound(&self.age_min).is_none_or(|m| age >= m)
            && bound(&self.age_max).is_none_or(|m| age <= m)
            && (self.leaders.is_none() || p.leader_qualified)
            && (self.inactive.is_some() || p.active)
    }

    /// The filters in words, for a print view's heading.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut add = |label: &str, v: &str| {
            if !v.trim().is_empty() {
                parts.push(format!("{label}{}", v.trim()));
            }
        };
        add("姓名或单位:", &self.q);
        add("专长:", &self.specialty);
        add("职级:", &self.rank);
        add("工作单位:", &self.unit);
        add("年龄从", &self.age_min);
        add("年龄到", &self.age_max);
        if self.leaders.is_some() {
            parts.push("只含组长库".into());
        }
        if self.inactive.is_some() {
            parts.push("含已出库".into());
        }
        parts.join(";")
    }

    /// The filters as a query string, for the pager and the export link.
    fn query_string(&self) -> String {
        let mut parts = Vec::new();
        let mut add = |k: &str, v: &str| {
            if !v.trim().is_empty() {
                parts.push(format!(
                    "{k}={}",
                    percent_encoding::utf8_percent_encode(v.trim(), percent_encoding::NON_ALPHANUMERIC)
                ));
            }
        };
        add("q", &self.q);
        add("specialty", &self.specialty);
        add("rank", &self.rank);
        add("unit", &self.unit);
        add("age_min", &self.age_min);
        add("age_max", &self.age_max);
        add("leaders", self.leaders.as_deref().unwrap_or_default());
        add("inactive", self.inactive.as_deref().unwrap_or_default());
        parts.join("&")
    }
}

struct PersonRow {
    name: String,
    gender: &'static str,
    age: i32,
    rank: &'static str,
    source: &'static str,
    work_unit: String,
    specialties: String,
    leader: bool,
    active: bool,
}

#[derive(Template)]
#[template(path = "pool.html")]
struct PoolPage {
    frame: Frame,
    filter: PoolQuery,
    query: String,
    /// What the pager's links keep of the filters.
    pager_tail: String,
    specialties: Vec<&'static str>,
    ranks: Vec<&'static str>,
    rows: Vec<PersonRow>,
    total: usize,
    page: usize,
    pages: usize,
    may_manage: bool,
    /// A refused import: its rows' problems, by row and column.
    bad_rows: Vec<RowError>,
    error: Option<String>,
    done: Option<String>,
}

async fn pool_page(State(app): State<App>, signed: Signed, Query(q): Query<PoolQuery>) -> Response {
    render(&app, &signed, q, Vec::new(), None, None).await
}

/// The persons `who` may read that match `q`, by name.
fn matching<'s>(s: &'s xuncha_domain::State, who: &Principal, q: &PoolQuery, year: i32) -> Vec<&'s Person> {
    let mut people: Vec<_> =
        s.persons.values().filter(|p| who.may(s, Permission::PoolRead, *p)).filter(|p| q.matches(p, year)).collect();
    people.sort_by(|a, b| (&a.name, &a.work_unit).cmp(&(&b.name, &b.work_unit)));
    people
}

fn labels_of<T: Labelled + Copy + PartialEq + 'static>() -> Vec<&'static str> {
    T::VARIANTS.iter().map(|(_, zh, _)| *zh).collect()
}

async fn render(
    app: &App,
    signed: &Signed,
    filter: PoolQuery,
    bad_rows: Vec<RowError>,
    error: Option<String>,
    done: Option<String>,
) -> Response {
    if !signed.who.holds(Permission::PoolRead) {
        return forbidden("您没有查看人才库的权限。");
    }
    let frame = Frame::of(app, signed, "/pool").await;
    let who = signed.who.clone();
    let year = app.api.today().year();
    let page_no = filter.page.unwrap_or(1).max(1);
    let q = filter.clone();
    let (rows, total) = app
        .api
        .engine()
        .read(move |s| {
            let people = matching(s, &who, &q, year);
            let total = people.len();
            let rows = people
                .into_iter()
                .skip((page_no - 1) * PAGE_ROWS)
                .take(PAGE_ROWS)
                .map(|p| PersonRow {
                    name: p.name.clone(),
                    gender: p.gender.map(|g| g.label_zh()).unwrap_or(""),
                    age: year - p.birth_year,
                    rank: p.rank.label_zh(),
                    source: p.source.label_zh(),
                    work_unit: p.work_unit.clone(),
                    specialties: p.specialties.iter().map(|s| s.label_zh()).collect::<Vec<_>>().join("、"),
                    leader: p.leader_qualified,
                    active: p.active,
                })
                .collect();
            (rows, total)
        })
        .await;
    let failed = error.is_some() || !bad_rows.is_empty();
    let body = page(PoolPage {
        frame,
        query: filter.query_string(),
        pager_tail: format!("&{}", filter.query_string()),
        filter,
        specialties: labels_of::<Specialty>(),
        ranks: labels_of::<Rank>(),
        rows,
        total,
        page: page_no,
        pages: total.div_ceil(PAGE_ROWS).max(1),
        may_manage: signed.who.holds(Permission::PoolManage),
        bad_rows,
        error,
        done,
    });
    let status = if failed { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    (status, body).into_response()
}

/// Reads a talent-pool file: every row is checked first, and a file with any bad row imports
/// nothing; the page then lists each bad row by its number and column.
async fn import(State(app): State<App>, upload: Upload) -> Response {
    let Upload { signed, file } = upload;
    let refuse = |why: &str| Some(why.to_string());
    let Some((file_name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return render(&app, &signed, PoolQuery::default(), Vec::new(), refuse("请选择要导入的文件。"), None).await;
    };
    // An XLSX file is a zip archive; anything else is read as CSV.
    let table = if bytes.starts_with(b"PK") { tabular::read_xlsx(&bytes) } else { tabular::read_csv(&bytes) };
    let table = match table {
        Ok(t) => t,
        Err(e) => {
            let why = format!("文件「{file_name}」无法读取:{e}");
            return render(&app, &signed, PoolQuery::default(), Vec::new(), Some(why), None).await;
        }
    };
    let me_is_city = app.site.is_city();
    let today = app.api.today();
    let parsed = app.api.engine().read(move |s| parse_roster(s, me_is_city, today, &table.header, &table.rows)).await;
    match parsed {
        Err(bad_rows) => {
            let why = format!("文件「{file_name}」有{}处问题,未导入任何人员。请修改后重新导入。", bad_rows.len());
            render(&app, &signed, PoolQuery::default(), bad_rows, Some(why), None).await
        }
        Ok(persons) => {
            let count = persons.len();
            match run(&app, &signed.who, Command::ImportPersons(ImportPersons { persons })).await {
                Ok(_) => {
                    let done = format!("已从「{file_name}」导入{count}人。");
                    render(&app, &signed, PoolQuery::default(), Vec::new(), None, Some(done)).await
                }
                Err(e) => render(&app, &signed, PoolQuery::default(), Vec::new(), Some(refusal(&e)), None).await,
            }
        }
    }
}

/// The matching persons as an XLSX file in the import's columns, so it can be edited and read
/// back.
async fn export(State(app): State<App>, signed: Signed, Query(q): Query<PoolQuery>) -> Response {
    if !signed.who.holds(Permission::PoolRead) {
        return forbidden("您没有查看人才库的权限。");
    }
    let who = signed.who.clone();
    let today = app.api.today();
    let workbook = app
        .api
        .engine()
        .read(move |s| {
            let header: Vec<&str> = ROSTER_COLUMNS.iter().map(|(_, zh, _)| *zh).collect();
            let mut sheet = SheetWriter::new("人才库", &header)?;
            // The county's code, as the import reads it back.
            roster_rows(s, &who, &q, today.year(), &|c| c.to_string(), &mut sheet)?;
            Ok::<_, tabular::ExportError>(sheet)
        })
        .await;
    workbook_download(&app, "人才库", workbook).await
}

/// The persons the filters select, in the import's own columns.
fn roster_rows(
    s: &xuncha_domain::State,
    who: &Principal,
    q: &PoolQuery,
    year: i32,
    county: &dyn Fn(&xuncha_domain::ids::CountyCode) -> String,
    sink: &mut dyn RowSink,
) -> Result<(), tabular::ExportError> {
    for p in matching(s, who, q, year) {
        let conflicts = p.declared_conflicts.iter().filter_map(|u| s.units.get(u)).map(|u| u.name.as_str());
        sink.push_row(&[
            p.name.clone(),
            p.gender.map(|g| g.label_zh()).unwrap_or_default().to_string(),
            p.birth_year.to_string(),
            p.rank.label_zh().to_string(),
            p.source.label_zh().to_string(),
            p.work_unit.clone(),
            p.specialties.iter().map(|s| s.label_zh()).collect::<Vec<_>>().join("、"),
            if p.leader_qualified { "是" } else { "否" }.to_string(),
            conflicts.collect::<Vec<_>>().join("、"),
            p.from_county.as_ref().map(county).unwrap_or_default(),
        ])?;
    }
    Ok(())
}

/// The persons the filters select, as an A4 page to print (counties by name).
async fn print(State(app): State<App>, signed: Signed, Query(q): Query<PoolQuery>) -> Response {
    if !signed.who.holds(Permission::PoolRead) {
        return forbidden("您没有查看人才库的权限。");
    }
    let who = signed.who.clone();
    let year = app.api.today().year();
    let site = app.site.clone();
    let scope = q.describe();
    let back = format!("/pool?{}", q.query_string());
    let rows = app
        .api
        .engine()
        .read(move |s| {
            let mut rows = PrintRows::new(PRINT_ROWS);
            let county = |c: &xuncha_domain::ids::CountyCode| {
                site.county_names.get(&c.to_string()).cloned().unwrap_or_else(|| c.to_string())
            };
            roster_rows(s, &who, &q, year, &county, &mut rows)?;
            Ok(rows)
        })
        .await;
    let columns: Vec<&str> = ROSTER_COLUMNS.iter().map(|(_, zh, _)| *zh).collect();
    print_view(&app, &signed, "人才库名册", &scope, &columns, rows, &back)
}
