//! Table files: reading talent-pool imports (CSV, XLSX) and writing XLSX exports of the ledger
//! and the rectification table (整改台账).

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// A header row and data rows, every cell as text.
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Reads a CSV file (UTF-8, optional BOM).
pub fn read_csv(bytes: &[u8]) -> Result<Table, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(bytes);
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(r)) => r.iter().map(str::to_string).collect(),
        Some(Err(e)) => return Err(format!("the file is not readable CSV: {e}")),
        None => return Err("the file is empty".into()),
    };
    let mut rows = Vec::new();
    for (i, r) in records.enumerate() {
        let r = r.map_err(|e| format!("row {} is not readable CSV: {e}", i + 2))?;
        rows.push(r.iter().map(str::to_string).collect());
    }
    Ok(Table { header, rows })
}

/// Reads the first sheet of an XLSX workbook.
pub fn read_xlsx(bytes: &[u8]) -> Result<Table, String> {
    let mut workbook: Xlsx<_> =
        Xlsx::new(Cursor::new(bytes.to_vec())).map_err(|e| format!("the file is not an XLSX workbook: {e}"))?;
    let range = workbook
        .worksheet_range_at(0)
        .ok_or("the workbook has no sheets")?
        .map_err(|e| format!("the first sheet is not readable: {e}"))?;
    let mut rows = range.rows().map(|r| r.iter().map(cell_text).collect::<Vec<String>>());
    let header = rows.next().ok_or("the first sheet is empty")?;
    Ok(Table { header, rows: rows.collect() })
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        // Spreadsheets store years and counts as floats; show whole numbers without ".0".
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "是" } else { "否" }.to_string(),
        Data::DateTime(d) => d.as_datetime().map(|t| t.date().to_string()).unwrap_or_else(|| d.to_string()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// Writes one sheet with a bold, frozen header row and sensible column widths.
pub fn write_xlsx(sheet_name: &str, header: &[&str], rows: &[Vec<String>]) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name(sheet_name)?;
    let bold = Format::new().set_bold();
    for (c, h) in header.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    let mut widths: Vec<usize> = header.iter().map(|h| display_width(h)).collect();
    for (r, row) in rows.iter().enumerate() {
        for (c, value) in row.iter().enumerate() {
            sheet.write_string(r as u32 + 1, c as u16, value)?;
            if let Some(w) = widths.get_mut(c) {
                *w = (*w).max(display_width(value));
            }
        }
    }
    for (c, w) in widths.iter().enumerate() {
        sheet.set_column_width(c as u16, (*w as f64 + 2.0).min(60.0))?;
    }
    sheet.set_freeze_panes(1, 0)?;
    workbook.save_to_buffer()
}

/// Columns a string takes: CJK characters are two wide.
fn display_width(s: &str) -> usize {
    s.chars().map(|c| if (c as u32) >= 0x2E80 { 2 } else { 1 }).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xlsx_round_trips_through_calamine() {
        let bytes = write_xlsx("人才库", &["姓名", "出生年份"], &[vec!["张三".into(), "1978".into()]]).unwrap();
        let t = read_xlsx(&bytes).unwrap();
        assert_eq!(t.header, vec!["姓名", "出生年份"]);
        assert_eq!(t.rows, vec![vec!["张三".to_string(), "1978".to_string()]]);
    }

    #[test]
    fn csv_with_bom_reads() {
        let t = read_csv("\u{feff}姓名,职级\n李四,正科\n".as_bytes()).unwrap();
        assert_eq!(t.header, vec!["姓名", "职级"]);
        assert_eq!(t.rows.len(), 1);
    }
}
