//! How the pages write dates, numbers and references in Chinese.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use xuncha_domain::common::{DateWindow, OFFICE_UTC_OFFSET_HOURS, office_date};

/// 2026年12月5日
pub fn date(d: NaiveDate) -> String {
    format!("{}年{}月{}日", d.year(), d.month(), d.day())
}

/// A period, both days included: 2026年1月1日至2030年12月31日.
pub fn window(w: &DateWindow) -> String {
    format!("{}至{}", date(w.from), date(w.to))
}

/// A moment as the office's date and time: 2026年12月5日 14:03.
pub fn moment(t: DateTime<Utc>) -> String {
    let local = t + chrono::Duration::hours(OFFICE_UTC_OFFSET_HOURS);
    format!("{} {}", date(office_date(t)), local.format("%H:%M"))
}

/// 1 → 一, 7 → 七, 12 → 十二, 21 → 二十一, 105 → 一百零五 (round numbers, 第七轮).
pub fn numeral(n: u32) -> String {
    const DIGITS: [&str; 10] = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        0..=9 => DIGITS[n as usize].to_string(),
        10..=19 => format!("十{}", if n == 10 { "" } else { DIGITS[(n % 10) as usize] }),
        20..=99 => {
            format!(
                "{}十{}",
                DIGITS[(n / 10) as usize],
                if n.is_multiple_of(10) { "" } else { DIGITS[(n % 10) as usize] }
            )
        }
        100..=999 => {
            let rest = n % 100;
            let tail = match rest {
                0 => String::new(),
                1..=9 => format!("零{}", DIGITS[rest as usize]),
                // 一百一十, not 一百十.
                10..=19 => format!("一{}", numeral(rest)),
                _ => numeral(rest),
            };
            format!("{}百{tail}", DIGITS[(n / 100) as usize])
        }
        _ => n.to_string(),
    }
}

/// 第七轮: how the office names a round by its number.
pub fn round_ref(number: u32) -> String {
    format!("第{}轮", numeral(number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_the_office_writes_them() {
        let cases = [
            (1, "一"),
            (7, "七"),
            (10, "十"),
            (12, "十二"),
            (20, "二十"),
            (21, "二十一"),
            (100, "一百"),
            (105, "一百零五"),
            (110, "一百一十"),
            (999, "九百九十九"),
        ];
        for (n, zh) in cases {
            assert_eq!(numeral(n), zh, "{n}");
        }
        assert_eq!(round_ref(7), "第七轮");
        assert_eq!(date(NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()), "2026年12月5日");
    }
}
