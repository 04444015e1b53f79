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

/// Limits on an imported table, checked before anything grows with the file's claims.
pub mod limits {
    /// Data rows after the header (a county's whole roster fits many times over).
    pub const MAX_ROWS: usize = 10_000;
    /// Columns of a row.
    pub const MAX_COLUMNS: usize = 64;
    /// Characters of one cell.
    pub const MAX_CELL_CHARS: usize = 8_000;
    /// Entries in an XLSX archive.
    pub const MAX_XLSX_ENTRIES: usize = 1_000;
    /// Bytes all entries of an XLSX archive inflate to, counted while inflating: a zip bomb
    /// stops here whatever sizes its directory declares.
    pub const MAX_XLSX_INFLATED_BYTES: u64 = 64 << 20;
}

use limits::*;

/// Reads a CSV file (UTF-8, optional BOM).
pub fn read_csv(bytes: &[u8]) -> Result<Table, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).has_headers(false).from_reader(bytes);
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(r)) => row_of(&r, 1)?,
        Some(Err(e)) => return Err(format!("文件不是有效的CSV:{e}")),
        None => return Err("the file is empty".into()),
    };
    let mut rows = Vec::new();
    for (i, r) in records.enumerate() {
        if i >= MAX_ROWS {
            return Err(format!("文件超过{MAX_ROWS}行数据,请拆分后再导入"));
        }
        let r = r.map_err(|e| format!("第{}行不是有效的CSV:{e}", i + 2))?;
        rows.push(row_of(&r, i + 2)?);
    }
    Ok(Table { header, rows })
}

fn row_of(r: &csv::StringRecord, row: usize) -> Result<Vec<String>, String> {
    if r.len() > MAX_COLUMNS {
        return Err(format!("第{row}行有{}列,超过{MAX_COLUMNS}列的上限", r.len()));
    }
    r.iter().enumerate().map(|(c, v)| checked_cell(v.to_string(), row, c)).collect()
}

fn checked_cell(text: String, row: usize, column: usize) -> Result<String, String> {
    // A char is at least one byte: a short cell needs no count.
    if text.len() > MAX_CELL_CHARS && text.chars().count() > MAX_CELL_CHARS {
        return Err(format!("第{row}行第{}列超过{MAX_CELL_CHARS}个字符", column + 1));
    }
    Ok(text)
}

/// Reads the first sheet of an XLSX workbook. The archive is inflated once under a byte budget
/// before calamine sees it, and the sheet is streamed cell by cell: a cell outside
/// `MAX_ROWS` x `MAX_COLUMNS` refuses the file, so a sheet claiming cells at A1 and XFD1048576
/// never allocates its dimension.
pub fn read_xlsx(bytes: &[u8]) -> Result<Table, String> {
    check_archive(bytes)?;
    let mut workbook: Xlsx<_> =
        Xlsx::new(Cursor::new(bytes)).map_err(|e| format!("the file is not an XLSX workbook: {e}"))?;
    let first = workbook.sheet_names().into_iter().next().ok_or("工作簿中没有工作表")?;
    let mut cells =
        workbook.worksheet_cells_reader(&first).map_err(|e| format!("the first sheet is not readable: {e}"))?;
    let mut grid: Vec<Vec<String>> = Vec::new();
    // Rows count from the sheet's first used row (cells come row by row); columns from A, so a
    // data cell left of the header's first cell stays in its column.
    let mut first_row: Option<u32> = None;
    while let Some(cell) = cells.next_cell().map_err(|e| format!("the first sheet is not readable: {e}"))? {
        let value = cell_text(&Data::from(cell.get_value().clone()));
        if value.is_empty() {
            continue;
        }
        let (r, c) = cell.get_position();
        let r0 = *first_row.get_or_insert(r);
        let (row, col) = (r.saturating_sub(r0) as usize, c as usize);
        if r < r0 || row > MAX_ROWS {
            return Err(format!("工作表第{}行仍有数据,超过{}行数据的上限,请拆分后再导入", r + 1, MAX_ROWS));
        }
        if col >= MAX_COLUMNS {
            return Err(format!("工作表第{}列仍有数据,超过{MAX_COLUMNS}列的上限", c + 1));
        }
        let value = checked_cell(value, r as usize + 1, col)?;
        if grid.len() <= row {
            grid.resize_with(row + 1, Vec::new);
        }
        let line = &mut grid[row];
        if line.len() <= col {
            line.resize(col + 1, String::new());
        }
        line[col] = value;
    }
    // Columns empty in every row, left of the first used one, are not part of the table.
    let unused = grid.iter().filter_map(|line| line.iter().position(|v| !v.is_empty())).min().unwrap_or(0);
    for line in &mut grid {
        line.drain(..unused.min(line.len()));
    }
    let width = grid.iter().map(Vec::len).max().unwrap_or(0);
    let mut rows = grid.into_iter().map(|mut line| {
        line.resize(width, String::new());
        line
    });
    let header = rows.next().ok_or("the first sheet is empty")?;
    Ok(Table { header, rows: rows.collect() })
}

/// Inflates every entry under the budget, counting what comes out rather than trusting the
/// sizes the archive declares.
fn check_archive(bytes: &[u8]) -> Result<(), String> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| format!("the file is not an XLSX workbook: {e}"))?;
    if archive.len() > MAX_XLSX_ENTRIES {
        return Err(format!("工作簿含{}个部件,超过{MAX_XLSX_ENTRIES}个的上限", archive.len()));
    }
    let mut left = MAX_XLSX_INFLATED_BYTES;
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(|e| format!("the file is not an XLSX workbook: {e}"))?;
        let inflated = std::io::copy(&mut std::io::Read::take(entry, left + 1), &mut std::io::sink())
            .map_err(|e| format!("the file is not an XLSX workbook: {e}"))?;
        if inflated > left {
            return Err(format!("工作簿解压后超过{} MiB,请另存或拆分后再导入", MAX_XLSX_INFLATED_BYTES >> 20));
        }
        left -= inflated;
    }
    Ok(())
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

/// Data rows an exported sheet may hold: Excel's 1 048 576 rows less the header.
pub const MAX_EXPORT_ROWS: u32 = 1_048_575;

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("导出超过 {MAX_EXPORT_ROWS} 行(Excel 一张表的上限),请缩小范围后再导出")]
    TooManyRows,
    #[error("writing the workbook: {0}")]
    Xlsx(#[from] XlsxError),
    #[error("writing the workbook: {0}")]
    Io(#[from] std::io::Error),
}

/// One sheet written row by row in constant memory: each row goes to a temporary file once
/// the next begins, so an export of a million rows holds one row, not a million. The sheet
/// has a bold, frozen header row and column widths fitted to what was written.
pub struct SheetWriter {
    workbook: Workbook,
    rows: u32,
    widths: Vec<usize>,
}

impl SheetWriter {
    pub fn new(sheet_name: &str, header: &[&str]) -> Result<Self, ExportError> {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(sheet_name)?;
        sheet.set_freeze_panes(1, 0)?;
        let bold = Format::new().set_bold();
        for (c, h) in header.iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        let widths = header.iter().map(|h| display_width(h)).collect();
        Ok(Self { workbook, rows: 0, widths })
    }

    /// Appends a data row.
    pub fn push(&mut self, row: &[String]) -> Result<(), ExportError> {
        if self.rows >= MAX_EXPORT_ROWS {
            return Err(ExportError::TooManyRows);
        }
        self.rows += 1;
        let sheet = self.workbook.worksheet_from_index(0)?;
        for (c, value) in row.iter().enumerate() {
            sheet.write_string(self.rows, c as u16, value)?;
            if let Some(w) = self.widths.get_mut(c) {
                *w = (*w).max(display_width(value));
            }
        }
        Ok(())
    }

    /// Data rows written so far.
    pub fn rows(&self) -> u32 {
        self.rows
    }

    /// Writes the workbook to an anonymous temporary file (gone once closed), positioned at
    /// its start for reading.
    pub fn finish(mut self) -> Result<std::fs::File, ExportError> {
        use std::io::Seek;
        let sheet = self.workbook.worksheet_from_index(0)?;
        for (c, w) in self.widths.iter().enumerate() {
            sheet.set_column_width(c as u16, (*w as f64 + 2.0).min(60.0))?;
        }
        let mut file = tempfile::tempfile()?;
        self.workbook.save_to_writer(&mut file)?;
        file.rewind()?;
        Ok(file)
    }

    /// The finished workbook's bytes, for a file small enough to hold in memory.
    pub fn into_bytes(self) -> Result<Vec<u8>, ExportError> {
        use std::io::Read;
        let mut bytes = Vec::new();
        self.finish()?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }
}

/// Where a table's rows go: a workbook, or a print view.
pub trait RowSink {
    fn push_row(&mut self, row: &[String]) -> Result<(), ExportError>;
}

impl RowSink for SheetWriter {
    fn push_row(&mut self, row: &[String]) -> Result<(), ExportError> {
        self.push(row)
    }
}

/// A print view's rows: the first `cap` kept, every row counted.
#[derive(Debug, Default)]
pub struct PrintRows {
    pub rows: Vec<Vec<String>>,
    pub total: usize,
    cap: usize,
}

impl PrintRows {
    pub fn new(cap: usize) -> Self {
        Self { rows: Vec::new(), total: 0, cap }
    }
}

impl RowSink for PrintRows {
    fn push_row(&mut self, row: &[String]) -> Result<(), ExportError> {
        self.total += 1;
        if self.rows.len() < self.cap {
            self.rows.push(row.to_vec());
        }
        Ok(())
    }
}

/// Writes one small sheet whole, into memory (see [`SheetWriter`] for large ones).
pub fn write_xlsx(sheet_name: &str, header: &[&str], rows: &[Vec<String>]) -> Result<Vec<u8>, ExportError> {
    let mut sheet = SheetWriter::new(sheet_name, header)?;
    for row in rows {
        sheet.push(row)?;
    }
    sheet.into_bytes()
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

    /// A table set off from A1 reads from its first used row and column; a data cell left of
    /// the header's first cell keeps its column instead of refusing the file.
    #[test]
    fn a_table_off_the_corner_keeps_its_columns() {
        let sheet = |cells: &[(u32, u16, &str)]| {
            let mut workbook = Workbook::new();
            let ws = workbook.add_worksheet();
            for (r, c, v) in cells {
                ws.write_string(*r, *c, *v).unwrap();
            }
            read_xlsx(&workbook.save_to_buffer().unwrap()).unwrap()
        };
        let t = sheet(&[(2, 2, "姓名"), (2, 3, "出生年份"), (3, 2, "张三"), (3, 3, "1978")]);
        assert_eq!(
            (t.header, t.rows),
            (vec!["姓名".into(), "出生年份".into()], vec![vec!["张三".into(), "1978".into()]])
        );
        let t = sheet(&[(0, 1, "姓名"), (1, 0, "备注"), (1, 1, "张三")]);
        assert_eq!(t.header, vec!["", "姓名"]);
        assert_eq!(t.rows, vec![vec!["备注".to_string(), "张三".to_string()]]);
    }

    #[test]
    fn a_sheet_claiming_the_far_corner_is_refused_without_allocating_it() {
        // The attack: two cells, A1 and XFD1048576, whose range would be 1.7e10 cells.
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.write_string(0, 0, "姓名").unwrap();
        sheet.write_string(1_048_575, 16_383, "x").unwrap();
        let bytes = workbook.save_to_buffer().unwrap();
        let refused = read_xlsx(&bytes).err().expect("refused");
        assert!(refused.contains("第1048576行"), "{refused}");
    }

    #[test]
    fn a_row_wider_than_the_limit_is_refused() {
        let header: Vec<String> = (0..=MAX_COLUMNS).map(|c| format!("列{c}")).collect();
        let refs: Vec<&str> = header.iter().map(String::as_str).collect();
        let bytes = write_xlsx("表", &refs, &[]).unwrap();
        assert!(read_xlsx(&bytes).err().expect("refused").contains("列的上限"));
        let csv = header.join(",");
        assert!(read_csv(csv.as_bytes()).err().expect("refused").contains("列的上限"));
    }

    #[test]
    fn an_archive_inflating_past_the_budget_is_refused() {
        // A 70 MiB shared string compresses to well under 1 MiB: the bomb's shape.
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        sheet.write_string(0, 0, "姓名").unwrap();
        let big = "a".repeat(8_000);
        for r in 1..9_000u32 {
            sheet.write_string(r, 0, format!("{big}{r}")).unwrap();
        }
        let bytes = workbook.save_to_buffer().unwrap();
        assert!(bytes.len() < 4 << 20, "fits a request: {}", bytes.len());
        let refused = read_xlsx(&bytes).err().expect("refused");
        assert!(refused.contains("解压后超过"), "{refused}");
    }

    #[test]
    fn more_rows_than_the_limit_are_refused() {
        let rows: Vec<Vec<String>> = (0..=MAX_ROWS).map(|r| vec![r.to_string()]).collect();
        let bytes = write_xlsx("表", &["序号"], &rows).unwrap();
        assert!(read_xlsx(&bytes).err().expect("refused").contains("行数据"));
        let csv: String =
            std::iter::once("序号".to_string()).chain(rows.iter().map(|r| r[0].clone())).collect::<Vec<_>>().join("\n");
        assert!(read_csv(csv.as_bytes()).err().expect("refused").contains("行数据"));
    }

    #[test]
    fn csv_with_bom_reads() {
        let t = read_csv("\u{feff}姓名,职级\n李四,正科\n".as_bytes()).unwrap();
        assert_eq!(t.header, vec!["姓名", "职级"]);
        assert_eq!(t.rows.len(), 1);
    }
}
