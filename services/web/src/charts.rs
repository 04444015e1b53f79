//! Charts drawn on the server as SVG: horizontal bars of shares (0..1), each split into
//! coloured segments, with the node's name on the left and a figure on the right. Colours come
//! from the stylesheet's classes, so the charts print and need no script.

/// Pixels of the drawing.
const WIDTH: u32 = 760;
const LABEL_WIDTH: u32 = 150;
const FIGURE_WIDTH: u32 = 130;
const ROW_HEIGHT: u32 = 28;
const BAR_HEIGHT: u32 = 18;

/// One coloured part of a bar.
pub struct Segment {
    pub x: u32,
    pub width: u32,
    /// The stylesheet class that colours it (`covered`, `active`, `open`, ...).
    pub class: &'static str,
    /// What a pointer over it shows.
    pub title: String,
    share: f64,
}

impl Segment {
    pub fn new(share: f64, class: &'static str, title: String) -> Self {
        Segment { x: 0, width: 0, class, title, share: share.clamp(0.0, 1.0) }
    }
}

pub struct Bar {
    pub label: String,
    pub segments: Vec<Segment>,
    pub figure: String,
    /// The baseline of the row's text.
    pub y: u32,
    /// The top of the bar.
    pub bar_y: u32,
}

pub struct BarChart {
    pub title: &'static str,
    pub bars: Vec<Bar>,
    /// What each colour means: (class, words).
    pub legend: Vec<(&'static str, &'static str)>,
}

impl BarChart {
    pub fn new(title: &'static str, legend: Vec<(&'static str, &'static str)>) -> Self {
        BarChart { title, bars: Vec::new(), legend }
    }

    /// Adds a row; its segments are laid end to end in the order given.
    pub fn bar(&mut self, label: String, mut segments: Vec<Segment>, figure: String) {
        let row = self.bars.len() as u32;
        let mut x = LABEL_WIDTH;
        let track = f64::from(self.track());
        for s in &mut segments {
            s.x = x;
            s.width = (s.share * track).round() as u32;
            x += s.width;
        }
        let top = row * ROW_HEIGHT + 4;
        self.bars.push(Bar { label, segments, figure, y: top + BAR_HEIGHT - 4, bar_y: top });
    }

    pub fn width(&self) -> u32 {
        WIDTH
    }

    pub fn height(&self) -> u32 {
        (self.bars.len() as u32 * ROW_HEIGHT).max(ROW_HEIGHT) + 4
    }

    /// Where a bar's full length ends, and the figures begin.
    pub fn track_end(&self) -> u32 {
        LABEL_WIDTH + self.track()
    }

    pub fn figure_x(&self) -> u32 {
        self.track_end() + 8
    }

    pub fn label_x(&self) -> u32 {
        LABEL_WIDTH - 8
    }

    pub fn bar_height(&self) -> u32 {
        BAR_HEIGHT
    }

    fn track(&self) -> u32 {
        WIDTH - LABEL_WIDTH - FIGURE_WIDTH
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_lie_end_to_end_within_the_track() {
        let mut c = BarChart::new("t", vec![]);
        c.bar(
            "安平县".into(),
            vec![Segment::new(0.5, "covered", "".into()), Segment::new(0.25, "active", "".into())],
            "50%".into(),
        );
        c.bar("清河县".into(), vec![Segment::new(1.5, "covered", "".into())], "100%".into());
        let a = &c.bars[0].segments;
        assert_eq!(a[0].x, LABEL_WIDTH);
        assert_eq!(a[1].x, a[0].x + a[0].width);
        assert_eq!(a[0].width, c.track() / 2);
        assert_eq!(c.bars[1].segments[0].width, c.track(), "a share above one is drawn full, not past the track");
        assert!(c.bars[1].bar_y > c.bars[0].bar_y);
    }
}
