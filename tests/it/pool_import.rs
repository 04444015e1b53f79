//! Talent-pool import from CSV and XLSX: all rows or none, with a report of every bad row.

use tonic::Code;
use tonic_types::StatusExt;
use xuncha_proto::v1 as pb;

use crate::fixtures::{Clients, county};

const HEADER: &str = "姓名,性别,出生年份,职级,来源,工作单位,专长,组长库,回避单位\n";

#[tokio::test]
async fn a_malformed_row_imports_nothing_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let node = county(dir.path(), "c04").await;
    let mut c = Clients::connect(node.addr()).await;
    let csv = format!(
        "{HEADER}张三,男,1978,正科,纪委监委,县纪委,财务,是,\n李四,女,197x,正科,组织部,县委组织部,,否,\n王五,男,1980,大科长,巡察办,县委巡察办,审计,否,不存在的单位\n"
    );
    let before = c.footprint().await;
    let status = c
        .pool
        .import_persons(pb::ImportPersonsRequest {
            format: pb::TableFormat::Csv as i32,
            content: csv.clone().into_bytes(),
            dry_run: false,
        })
        .await
        .expect_err("a bad row refuses the file");
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> =
        status.get_details_bad_request().unwrap().field_violations.into_iter().map(|v| v.field).collect();
    assert_eq!(fields, ["row 3 column 出生年份", "row 4 column 职级", "row 4 column 回避单位"]);
    assert_eq!(c.footprint().await, before, "nothing imported");

    // A dry run reports the same problems without failing.
    let r = c
        .pool
        .import_persons(pb::ImportPersonsRequest {
            format: pb::TableFormat::Csv as i32,
            content: csv.into_bytes(),
            dry_run: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.errors.len(), 3);
    assert_eq!(r.imported, 0);
    node.stop().await;
}

#[tokio::test]
async fn good_files_import_from_csv_and_xlsx() {
    let dir = tempfile::tempdir().unwrap();
    let node = county(dir.path(), "c05").await;
    let mut c = Clients::connect(node.addr()).await;
    let csv = format!(
        "\u{feff}{HEADER}张三,男,1978,正科,纪委监委,县纪委,财务、审计,是,\n李四,女,1985,副科,组织部,县委组织部,,否,\n"
    );
    let r = c
        .pool
        .import_persons(pb::ImportPersonsRequest {
            format: pb::TableFormat::Csv as i32,
            content: csv.into_bytes(),
            dry_run: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.imported, 2);

    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (col, h) in ["姓名", "出生年份", "职级", "来源", "工作单位", "专长", "组长库"].iter().enumerate()
    {
        sheet.write_string(0, col as u16, *h).unwrap();
    }
    sheet.write_string(1, 0, "王五").unwrap();
    sheet.write_number(1, 1, 1980.0).unwrap();
    for (col, v) in ["副处", "巡察办", "县委巡察办", "审计", "是"].iter().enumerate() {
        sheet.write_string(1, col as u16 + 2, *v).unwrap();
    }
    let r = c
        .pool
        .import_persons(pb::ImportPersonsRequest {
            format: pb::TableFormat::Xlsx as i32,
            content: book.save_to_buffer().unwrap(),
            dry_run: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.imported, 1);
    let pool = c
        .pool
        .list_persons(pb::ListPersonsRequest { leaders_only: true, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    let names: Vec<String> = pool.persons.into_iter().map(|p| p.fields.unwrap().name).collect();
    assert_eq!(names, ["张三", "王五"]);

    // The same person again is refused, naming the row.
    let again = format!("{HEADER}张三,男,1978,正科,纪委监委,县纪委,财务,是,\n");
    let status = c
        .pool
        .import_persons(pb::ImportPersonsRequest {
            format: pb::TableFormat::Csv as i32,
            content: again.into_bytes(),
            dry_run: false,
        })
        .await
        .unwrap_err();
    assert!(status.message().contains("row 2"), "{}", status.message());
    node.stop().await;
}

/// The crafted workbook of the trust review: cells at A1 and XFD1048576, whose range would be
/// 1.7e10 cells. It is refused by the real import path, quickly and without holding that much.
#[tokio::test]
async fn a_workbook_claiming_the_far_corner_is_refused_before_any_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let node = county(dir.path(), "c05").await;
    let mut c = Clients::connect(node.addr()).await;
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (col, title) in HEADER.trim_end().split(',').enumerate() {
        sheet.write_string(0, col as u16, title).unwrap();
    }
    sheet.write_string(1_048_575, 16_383, "x").unwrap();
    let content = workbook.save_to_buffer().unwrap();
    let before = c.footprint().await;
    let t0 = std::time::Instant::now();
    let status = c
        .pool
        .import_persons(pb::ImportPersonsRequest { format: pb::TableFormat::Xlsx as i32, content, dry_run: true })
        .await
        .expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("第1048576行"), "{status:?}");
    // Generous for a slow machine; a dense range of that size would not finish at all.
    assert!(t0.elapsed() < std::time::Duration::from_secs(20), "{:?}", t0.elapsed());
    assert_eq!(c.footprint().await, before, "nothing imported");
}
