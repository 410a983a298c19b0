//! The bisection report: Markdown for a CI summary, a self-contained HTML page
//! with an SVG timeline of the search, and JSON for machines. Output is
//! deterministic for the same trials (no run timestamps).

use super::ChangeInfo;
use super::engine::{BisectStatus, Outcome, Phase};
use super::timeaxis::TimeOutcome;
use crate::trial::builder::Verdict;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// Changes listed one by one in Markdown and HTML; the rest are counted (all are in JSON).
const MAX_LISTED: usize = 500;

/// Schema version of `report.json`.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// Everything a report shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Schema version, [`REPORT_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// What the good candidate was (a path or a timestamp).
    pub good: String,
    /// What the bad candidate was.
    pub bad: String,
    /// The builder's description.
    pub builder: String,
    /// The changes between good and bad, by index.
    pub changes: Vec<ChangeInfo>,
    /// Static requirements as (change, required change) pairs.
    pub requirements: Vec<(usize, usize)>,
    /// The time-axis step, when the bisection started from dates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<TimeOutcome>,
    /// The change-level search.
    pub outcome: Outcome,
}

/// Errors writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A report file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The timeline could not be drawn.
    #[error("drawing the timeline: {0}")]
    Draw(String),
}

fn status_words(s: BisectStatus) -> &'static str {
    match s {
        BisectStatus::Culprit => "culprit found",
        BisectStatus::BadPasses => "the bad candidate does not fail: nothing to bisect",
        BisectStatus::Flaky => "flaky: a final verdict did not reproduce",
        BisectStatus::Undecidable => "undecidable",
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Skip => "skip",
        Verdict::Abort => "abort",
    }
}

fn verdict_colour(v: Verdict) -> plotters::style::RGBColor {
    use plotters::style::RGBColor;
    match v {
        Verdict::Pass => RGBColor(46, 160, 67),
        Verdict::Fail => RGBColor(207, 34, 46),
        Verdict::Skip => RGBColor(150, 150, 150),
        Verdict::Abort => RGBColor(0, 0, 0),
    }
}

fn phase_word(p: Phase) -> &'static str {
    match p {
        Phase::Baseline => "baseline",
        Phase::Locate => "locate",
        Phase::Minimize => "minimize",
        Phase::Confirm => "confirm",
    }
}

fn md_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('\n', " ")
}

fn md_log(log: Option<&str>) -> String {
    log.map(|l| format!("[log]({})", l.replace(' ', "%20")))
        .unwrap_or_else(|| "-".into())
}

fn html_link(s: Option<&str>) -> String {
    match s {
        Some(s) if s.starts_with("http://") || s.starts_with("https://") => {
            format!("<a href=\"{0}\">{0}</a>", html_escape(s))
        }
        Some(s) => html_escape(s),
        None => "-".into(),
    }
}

fn html_log(log: Option<&str>) -> String {
    log.map(|l| format!("<a href=\"{}\">log</a>", html_escape(l)))
        .unwrap_or_else(|| "-".into())
}

fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

impl Report {
    fn change(&self, i: usize) -> Option<&ChangeInfo> {
        self.changes.get(i)
    }

    /// A compact description of a subset: `all`, `none`, or up to six change ids.
    pub fn subset_label(&self, s: &[usize]) -> String {
        if s.is_empty() {
            return "none (good)".into();
        }
        if s.len() == self.changes.len() {
            return "all (bad)".into();
        }
        let mut names: Vec<String> = s
            .iter()
            .take(6)
            .map(|&i| {
                self.change(i)
                    .map(|c| c.id.clone())
                    .unwrap_or_else(|| format!("#{i}"))
            })
            .collect();
        if s.len() > 6 {
            names.push(format!("... ({} changes)", s.len()));
        }
        names.join(", ")
    }

    /// The report as Markdown.
    pub fn to_markdown(&self) -> String {
        let o = &self.outcome;
        let mut m = String::new();
        let _ = writeln!(m, "# Bisection: {}\n", status_words(o.status));
        let _ = writeln!(m, "- good: `{}`", self.good);
        let _ = writeln!(m, "- bad: `{}`", self.bad);
        let _ = writeln!(m, "- builder: `{}`", self.builder);
        let _ = writeln!(
            m,
            "- {} changes, {} builds in {} rounds ({} trials replayed from the journal)\n",
            self.changes.len(),
            o.builds,
            o.rounds,
            o.trials.len() - o.builds
        );
        if let Some(t) = &self.time {
            let _ = writeln!(
                m,
                "Time axis: last good snapshot `{}`, first bad snapshot `{}` ({} builds).\n",
                t.last_good, t.first_bad, t.builds
            );
            let _ = writeln!(m, "| snapshot | round | verdict | duration | log |");
            let _ = writeln!(m, "|---|---|---|---|---|");
            for tt in &t.trials {
                let _ = writeln!(
                    m,
                    "| `{}` | {} | {}{} | {:.1} s | {} |",
                    tt.timestamp,
                    tt.round,
                    verdict_word(tt.verdict),
                    if tt.replayed { " (journal)" } else { "" },
                    tt.duration_ms as f64 / 1000.0,
                    md_log(tt.log.as_deref())
                );
            }
            m.push('\n');
        }
        for (n, set) in o.culprit_sets.iter().enumerate() {
            let _ = writeln!(m, "## Culprit set {}\n", n + 1);
            if set.changes.len() > 1 {
                let _ = writeln!(m, "These changes fail only together:\n");
            }
            let _ = writeln!(m, "| change | kind | origin | old source | new source |");
            let _ = writeln!(m, "|---|---|---|---|---|");
            for &i in &set.changes {
                if let Some(c) = self.change(i) {
                    let _ = writeln!(
                        m,
                        "| {} | {} | {} | {} | {} |",
                        md_escape(&c.summary),
                        c.kind,
                        md_escape(c.origin.as_deref().unwrap_or("-")),
                        md_escape(c.old_source.as_deref().unwrap_or("-")),
                        md_escape(c.source.as_deref().unwrap_or("-"))
                    );
                }
            }
            if !set.applied_with.is_empty() {
                let _ = writeln!(
                    m,
                    "\nApplied with (required by the culprits, not blamed): {}",
                    md_escape(&self.subset_label(&set.applied_with))
                );
            }
            if let Some(c) = set.confirmation {
                let _ = writeln!(
                    m,
                    "\nConfirmed: good + culprits failed {}/{} re-runs; bad - culprits passed {}/{} runs.",
                    c.good_plus_culprits_failed, c.runs, c.bad_minus_culprits_passed, c.runs
                );
            }
            m.push('\n');
        }
        if !o.suspects.is_empty() {
            let _ = writeln!(
                m,
                "## Still suspected\n\n{}\n",
                md_escape(&self.subset_label(&o.suspects))
            );
        }
        if !o.notes.is_empty() {
            let _ = writeln!(m, "## Notes\n");
            for n in &o.notes {
                let _ = writeln!(m, "- {}", md_escape(n));
            }
            m.push('\n');
        }
        if !self.changes.is_empty() {
            let _ = writeln!(m, "## All changes ({})\n", self.changes.len());
            let _ = writeln!(
                m,
                "| # | change | kind | origin | old source | new source |"
            );
            let _ = writeln!(m, "|---|---|---|---|---|---|");
            for (i, c) in self.changes.iter().enumerate().take(MAX_LISTED) {
                let _ = writeln!(
                    m,
                    "| {i} | {} | {} | {} | {} | {} |",
                    md_escape(&c.summary),
                    c.kind,
                    md_escape(c.origin.as_deref().unwrap_or("-")),
                    md_escape(c.old_source.as_deref().unwrap_or("-")),
                    md_escape(c.source.as_deref().unwrap_or("-"))
                );
            }
            if self.changes.len() > MAX_LISTED {
                let _ = writeln!(
                    m,
                    "\n{} more in report.json.",
                    self.changes.len() - MAX_LISTED
                );
            }
            m.push('\n');
        }
        let _ = writeln!(m, "## Trials\n");
        let _ = writeln!(
            m,
            "| # | round | phase | changes applied | verdict | duration | log |"
        );
        let _ = writeln!(m, "|---|---|---|---|---|---|---|");
        for t in &o.trials {
            let log = md_log(t.log.as_deref());
            let _ = writeln!(
                m,
                "| {} | {} | {} | {} | {}{} | {:.1} s | {} |",
                t.seq,
                t.round,
                phase_word(t.phase),
                md_escape(&self.subset_label(&t.subset)),
                verdict_word(t.verdict),
                if t.replayed { " (journal)" } else { "" },
                t.duration_ms as f64 / 1000.0,
                log
            );
        }
        m
    }

    /// The timeline as SVG. With a time axis, the upper panel has one row per
    /// timestamp trial, a mark at the snapshot it built (green pass, red fail, grey
    /// skip) and the last good / first bad window shaded; the lower panel has one row
    /// per change-set trial, a bar over each change it applied (in search order),
    /// coloured by verdict, with the culprits marked by vertical lines.
    pub fn timeline_svg(&self) -> Result<String, ReportError> {
        use plotters::prelude::*;
        let o = &self.outcome;
        let rows = o.trials.len().max(1);
        let change_h = (90 + 16 * rows).min(4000) as u32;
        let time_h = match &self.time {
            Some(t) if !t.trials.is_empty() => (100 + 16 * t.trials.len()).min(2000) as u32,
            _ => 0,
        };
        let mut svg = String::new();
        {
            let root =
                SVGBackend::with_string(&mut svg, (900, time_h + change_h)).into_drawing_area();
            let err = |e: &dyn std::fmt::Display| ReportError::Draw(e.to_string());
            root.fill(&WHITE).map_err(|e| err(&e))?;
            let (upper, lower) = root.split_vertically(time_h);
            if let Some(t) = self.time.as_ref().filter(|_| time_h > 0) {
                self.draw_time_panel(&upper, t)?;
            }
            self.draw_change_panel(&lower)?;
            root.present().map_err(|e| err(&e))?;
        }
        Ok(svg)
    }

    fn draw_time_panel<DB: plotters::prelude::DrawingBackend>(
        &self,
        area: &plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
        t: &TimeOutcome,
    ) -> Result<(), ReportError> {
        use super::timeaxis::{from_epoch, to_epoch};
        use plotters::prelude::*;
        use plotters::style::text_anchor::{HPos, VPos};
        let err = |e: &dyn std::fmt::Display| ReportError::Draw(e.to_string());
        let epoch = |ts: &str| to_epoch(ts).map(|v| v as f64).ok();
        let points: Vec<(f64, &super::timeaxis::TimeTrial)> = t
            .trials
            .iter()
            .filter_map(|tt| epoch(&tt.timestamp).map(|x| (x, tt)))
            .collect();
        let (good, bad) = (epoch(&t.last_good), epoch(&t.first_bad));
        let xs = points.iter().map(|p| p.0).chain(good).chain(bad);
        let lo = xs.clone().fold(f64::INFINITY, f64::min);
        let hi = xs.fold(f64::NEG_INFINITY, f64::max);
        if !lo.is_finite() || !hi.is_finite() {
            return Ok(());
        }
        let pad = ((hi - lo) * 0.03).max(3600.0);
        let rows = points.len().max(1);
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!(
                    "time axis: one row per snapshot trial (green pass, red fail, grey skip); shaded: last good {} .. first bad {}",
                    t.last_good, t.first_bad
                ),
                ("sans-serif", 13),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d((lo - pad)..(hi + pad), (rows as f64)..0f64)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("snapshot timestamp")
            .y_desc("trial")
            .x_labels(6)
            .y_labels(rows.min(20))
            .x_label_formatter(&|v| from_epoch(*v as i64)[..8].to_string())
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(|e| err(&e))?;
        if let (Some(g), Some(b)) = (good, bad) {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(g, 0.0), (b, rows as f64)],
                    RGBColor(9, 105, 218).mix(0.15).filled(),
                )))
                .map_err(|e| err(&e))?;
        }
        let mut marks = Vec::new();
        let mut labels = Vec::new();
        let middle = (lo + hi) / 2.0;
        for (row, (x, tt)) in points.iter().enumerate() {
            let y = row as f64 + 0.5;
            marks.push(Circle::new((*x, y), 5, verdict_colour(tt.verdict).filled()));
            // Labels point inwards, so none runs off the picture.
            let words = format!(
                "{} {}{}",
                tt.timestamp,
                verdict_word(tt.verdict),
                if tt.replayed { " (journal)" } else { "" }
            );
            let nudge = (hi - lo + 2.0 * pad) * 0.012;
            let (h, lx) = if *x > middle {
                (HPos::Right, x - nudge)
            } else {
                (HPos::Left, x + nudge)
            };
            let style = TextStyle::from(("sans-serif", 11).into_font())
                .pos(plotters::style::text_anchor::Pos::new(h, VPos::Center));
            labels.push(Text::new(words, (lx, y), style));
        }
        chart.draw_series(marks).map_err(|e| err(&e))?;
        chart.draw_series(labels).map_err(|e| err(&e))?;
        Ok(())
    }

    fn draw_change_panel<DB: plotters::prelude::DrawingBackend>(
        &self,
        area: &plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    ) -> Result<(), ReportError> {
        use plotters::prelude::*;
        let err = |e: &dyn std::fmt::Display| ReportError::Draw(e.to_string());
        let o = &self.outcome;
        let n = o.order.len().max(1);
        let rows = o.trials.len().max(1);
        let mut pos = vec![0usize; self.changes.len().max(n)];
        for (p, &i) in o.order.iter().enumerate() {
            if i < pos.len() {
                pos[i] = p;
            }
        }
        let mut chart = ChartBuilder::on(area)
            .caption(
                "change search: one row per trial, bars over the changes applied (green pass, red fail, grey skip); blue: culprits",
                ("sans-serif", 13),
            )
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(0f64..n as f64, (rows as f64)..0f64)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("change position in search order")
            .x_labels((n + 1).min(12))
            .y_desc("trial")
            .y_labels(rows.min(20))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()
            .map_err(|e| err(&e))?;
        let mut bars = Vec::new();
        for (row, t) in o.trials.iter().enumerate() {
            let colour = verdict_colour(t.verdict);
            let mut ps: Vec<usize> = t
                .subset
                .iter()
                .filter_map(|&i| pos.get(i).copied())
                .collect();
            ps.sort_unstable();
            let (y0, y1) = (row as f64 + 0.15, row as f64 + 0.85);
            if ps.is_empty() {
                // G itself: an outline at the left edge.
                bars.push(Rectangle::new(
                    [(0.0, y0), (n as f64 / 200.0 + 0.05, y1)],
                    colour.stroke_width(1),
                ));
                continue;
            }
            let mut start = ps[0];
            for w in 0..ps.len() {
                let end_run = w + 1 == ps.len() || ps[w + 1] != ps[w] + 1;
                if end_run {
                    bars.push(Rectangle::new(
                        [(start as f64, y0), (ps[w] as f64 + 1.0, y1)],
                        colour.filled(),
                    ));
                    if w + 1 < ps.len() {
                        start = ps[w + 1];
                    }
                }
            }
        }
        chart.draw_series(bars).map_err(|e| err(&e))?;
        let mut marks = Vec::new();
        for set in &o.culprit_sets {
            for &c in &set.changes {
                if let Some(&p) = pos.get(c) {
                    let x = p as f64 + 0.5;
                    marks.push(PathElement::new(
                        vec![(x, 0.0), (x, rows as f64)],
                        BLUE.stroke_width(2),
                    ));
                }
            }
        }
        chart.draw_series(marks).map_err(|e| err(&e))?;
        Ok(())
    }

    /// The report as one self-contained HTML page (styles and SVG inline).
    pub fn to_html(&self) -> Result<String, ReportError> {
        let o = &self.outcome;
        let svg = self.timeline_svg()?;
        let mut h = String::new();
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
        let _ = writeln!(
            h,
            "<title>sonic-lock bisect: {}</title>",
            html_escape(status_words(o.status))
        );
        h.push_str("<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}\
table{border-collapse:collapse;width:100%;font-size:90%}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.pass{color:#2ea043}.fail{color:#cf222e;font-weight:bold}.skip{color:#888}.abort{color:#000}\
code{background:#f6f8fa;padding:1px 3px}</style></head><body>\n");
        let _ = writeln!(
            h,
            "<h1>Bisection: {}</h1>",
            html_escape(status_words(o.status))
        );
        let _ = writeln!(
            h,
            "<ul><li>good: <code>{}</code></li><li>bad: <code>{}</code></li><li>builder: <code>{}</code></li><li>{} changes, {} builds in {} rounds ({} replayed)</li></ul>",
            html_escape(&self.good),
            html_escape(&self.bad),
            html_escape(&self.builder),
            self.changes.len(),
            o.builds,
            o.rounds,
            o.trials.len() - o.builds
        );
        if let Some(t) = &self.time {
            let _ = writeln!(
                h,
                "<p>Time axis: last good snapshot <code>{}</code>, first bad snapshot <code>{}</code> ({} builds).</p>",
                html_escape(&t.last_good),
                html_escape(&t.first_bad),
                t.builds
            );
            h.push_str("<table><tr><th>snapshot</th><th>round</th><th>verdict</th><th>duration</th><th>log</th></tr>\n");
            for tt in &t.trials {
                let _ = writeln!(
                    h,
                    "<tr><td><code>{}</code></td><td>{}</td><td class=\"{v}\">{v}{}</td><td>{:.1} s</td><td>{}</td></tr>",
                    html_escape(&tt.timestamp),
                    tt.round,
                    if tt.replayed { " (journal)" } else { "" },
                    tt.duration_ms as f64 / 1000.0,
                    html_log(tt.log.as_deref()),
                    v = verdict_word(tt.verdict),
                );
            }
            h.push_str("</table>\n");
        }
        for (n, set) in o.culprit_sets.iter().enumerate() {
            let _ = writeln!(h, "<h2>Culprit set {}</h2>", n + 1);
            if set.changes.len() > 1 {
                h.push_str("<p>These changes fail only together.</p>\n");
            }
            h.push_str(
                "<table><tr><th>change</th><th>kind</th><th>origin</th><th>old source</th><th>new source</th></tr>\n",
            );
            for &i in &set.changes {
                if let Some(c) = self.change(i) {
                    let _ = writeln!(
                        h,
                        "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                        html_escape(&c.summary),
                        html_escape(&c.kind),
                        html_escape(c.origin.as_deref().unwrap_or("-")),
                        html_link(c.old_source.as_deref()),
                        html_link(c.source.as_deref())
                    );
                }
            }
            h.push_str("</table>\n");
            if !set.applied_with.is_empty() {
                let _ = writeln!(
                    h,
                    "<p>Applied with (required, not blamed): {}</p>",
                    html_escape(&self.subset_label(&set.applied_with))
                );
            }
            if let Some(c) = set.confirmation {
                let _ = writeln!(
                    h,
                    "<p>Confirmed: good + culprits failed {}/{} re-runs; bad - culprits passed {}/{} runs.</p>",
                    c.good_plus_culprits_failed, c.runs, c.bad_minus_culprits_passed, c.runs
                );
            }
        }
        if !o.suspects.is_empty() {
            let _ = writeln!(
                h,
                "<h2>Still suspected</h2><p>{}</p>",
                html_escape(&self.subset_label(&o.suspects))
            );
        }
        if !o.notes.is_empty() {
            h.push_str("<h2>Notes</h2><ul>\n");
            for n in &o.notes {
                let _ = writeln!(h, "<li>{}</li>", html_escape(n));
            }
            h.push_str("</ul>\n");
        }
        if !self.changes.is_empty() {
            let _ = writeln!(
                h,
                "<details><summary>All changes ({})</summary>\n<table><tr><th>#</th><th>change</th><th>kind</th><th>origin</th><th>old source</th><th>new source</th></tr>",
                self.changes.len()
            );
            for (i, c) in self.changes.iter().enumerate().take(MAX_LISTED) {
                let _ = writeln!(
                    h,
                    "<tr><td>{i}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    html_escape(&c.summary),
                    html_escape(&c.kind),
                    html_escape(c.origin.as_deref().unwrap_or("-")),
                    html_link(c.old_source.as_deref()),
                    html_link(c.source.as_deref())
                );
            }
            h.push_str("</table>\n");
            if self.changes.len() > MAX_LISTED {
                let _ = writeln!(
                    h,
                    "<p>{} more in report.json.</p>",
                    self.changes.len() - MAX_LISTED
                );
            }
            h.push_str("</details>\n");
        }
        h.push_str("<h2>Timeline</h2>\n");
        h.push_str(svg.trim_start_matches(|c| c != '<'));
        h.push_str("\n<h2>Trials</h2>\n<table><tr><th>#</th><th>round</th><th>phase</th><th>changes applied</th><th>verdict</th><th>duration</th><th>log</th></tr>\n");
        for t in &o.trials {
            let log = html_log(t.log.as_deref());
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{v}\">{v}{}</td><td>{:.1} s</td><td>{}</td></tr>",
                t.seq,
                t.round,
                phase_word(t.phase),
                html_escape(&self.subset_label(&t.subset)),
                if t.replayed { " (journal)" } else { "" },
                t.duration_ms as f64 / 1000.0,
                log,
                v = verdict_word(t.verdict),
            );
        }
        h.push_str("</table>\n</body></html>\n");
        Ok(h)
    }

    /// Writes `report.md`, `report.html`, `report.json` and `timeline.svg` into `dir`,
    /// atomically each, with the trials' build logs copied to `dir/logs/` and linked
    /// relatively, so the directory can be published as it is (a CI artifact).
    pub fn write(&self, dir: &Path) -> Result<(), ReportError> {
        let mut copy = self.clone();
        for t in copy.outcome.trials.iter_mut() {
            copy_log(&mut t.log, dir, &format!("logs/trial-{:04}.log", t.seq))?;
        }
        if let Some(time) = copy.time.as_mut() {
            for (n, t) in time.trials.iter_mut().enumerate() {
                copy_log(&mut t.log, dir, &format!("logs/time-{n:04}.log"))?;
            }
        }
        copy.write_documents(dir)
    }

    fn write_documents(&self, dir: &Path) -> Result<(), ReportError> {
        let io = |p: &Path, source| ReportError::Io {
            path: p.display().to_string(),
            source,
        };
        let json = serde_json::to_string_pretty(self)
            .map_err(|e| ReportError::Draw(e.to_string()))?
            + "\n";
        let files = [
            ("report.md", self.to_markdown()),
            ("report.html", self.to_html()?),
            ("report.json", json),
            ("timeline.svg", self.timeline_svg()?),
        ];
        for (name, text) in files {
            let p = dir.join(name);
            crate::fsio::write_atomic(&p, text.as_bytes()).map_err(|e| io(&p, e))?;
        }
        Ok(())
    }
}

/// Copies the log at `log` (when it is a file) to `dir/rel` and points `log` there.
fn copy_log(log: &mut Option<String>, dir: &Path, rel: &str) -> Result<(), ReportError> {
    let Some(src) = log.as_deref().map(Path::new).filter(|p| p.is_file()) else {
        return Ok(());
    };
    let dst = dir.join(rel);
    let bytes = std::fs::read(src).map_err(|source| ReportError::Io {
        path: src.display().to_string(),
        source,
    })?;
    crate::fsio::write_atomic(&dst, &bytes).map_err(|source| ReportError::Io {
        path: dst.display().to_string(),
        source,
    })?;
    *log = Some(rel.to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bisect::Requirements;
    use crate::bisect::engine::{Config, Observation, Oracle, bisect};
    use std::time::Duration;

    struct Fails(usize);
    impl Oracle for Fails {
        fn judge(&self, s: &[usize], _a: u32) -> Result<Observation, crate::bisect::BisectError> {
            let verdict = if s.contains(&self.0) {
                Verdict::Fail
            } else {
                Verdict::Pass
            };
            Ok(Observation {
                verdict,
                exit_code: Some(verdict as i32),
                duration: Duration::from_millis(1500),
                log: Some("trials/x/build.log".into()),
                replayed: false,
            })
        }
    }

    fn sample() -> Report {
        let changes: Vec<ChangeInfo> = (0..12)
            .map(|i| ChangeInfo {
                id: format!("py:pkg{i}"),
                summary: format!("pkg{i} 1.0 -> 1.{i} <b>|x"),
                kind: "upgraded".into(),
                origin: Some(format!("dockers/docker-{i}/Dockerfile.j2:{}", i + 3)),
                source: Some(format!("https://pypi.org/project/pkg{i}/")),
                old_source: (i != 5).then(|| format!("https://pypi.org/project/pkg{i}/1.0/")),
            })
            .collect();
        let req = Requirements::new(12, &[(5, 1)]).unwrap();
        let outcome = bisect(
            &Fails(5),
            &req,
            &Config {
                confirm: 1,
                ..Config::default()
            },
        )
        .unwrap();
        Report {
            schema_version: REPORT_SCHEMA_VERSION,
            good: "good.lock".into(),
            bad: "bad.lock".into(),
            builder: "command: ./check".into(),
            changes,
            requirements: vec![(5, 1)],
            time: None,
            outcome,
        }
    }

    #[test]
    fn report_names_culprit_with_origin_and_is_deterministic() {
        let r = sample();
        let md = r.to_markdown();
        assert!(md.contains("# Bisection: culprit found"));
        assert!(md.contains("pkg5 1.0 -> 1.5 <b>\\|x | upgraded | dockers/docker-5/Dockerfile.j2:8 | - | https://pypi.org/project/pkg5/ |"));
        assert!(md.contains("Applied with (required by the culprits, not blamed): py:pkg1"));
        assert!(md.contains("[log](trials/x/build.log)"));
        let html = r.to_html().unwrap();
        assert!(html.contains("pkg5 1.0 -&gt; 1.5 &lt;b&gt;|x"));
        assert!(!html.contains("<b>|x"));
        assert!(html.contains("<svg") && html.contains("</svg>"));
        assert!(html.contains("<a href=\"https://pypi.org/project/pkg5/\">"));
        assert_eq!(html, r.to_html().unwrap());
        let svg = r.timeline_svg().unwrap();
        assert!(svg.contains("<rect"));
        let dir = tempfile::tempdir().unwrap();
        r.write(dir.path()).unwrap();
        let back: Report =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
                .unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn markdown_html_and_json_carry_the_same_culprit_facts() {
        let r = sample();
        let md = r.to_markdown();
        let html = r.to_html().unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert!(md.contains("## All changes (12)") && html.contains("All changes (12)"));
        for set in &r.outcome.culprit_sets {
            for &i in &set.changes {
                let c = &r.changes[i];
                for fact in [Some(&c.origin), Some(&c.source), Some(&c.old_source)]
                    .into_iter()
                    .flatten()
                    .flatten()
                {
                    assert!(md.contains(fact.as_str()), "md lacks {fact}");
                    assert!(html.contains(&html_escape(fact)), "html lacks {fact}");
                    assert!(json.contains(fact.as_str()), "json lacks {fact}");
                }
            }
        }
        for c in &r.changes {
            if let Some(o) = &c.old_source {
                assert!(md.contains(o.as_str()) && html.contains(o.as_str()));
            }
        }
    }

    #[test]
    fn timeline_draws_time_trials_above_change_trials_and_logs_are_copied() {
        use crate::bisect::timeaxis::TimeTrial;
        let mut r = sample();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("t.log");
        std::fs::write(&log, "snapshot build\n").unwrap();
        let tt = |ts: &str, verdict| TimeTrial {
            timestamp: ts.into(),
            round: 0,
            verdict,
            duration_ms: 1000,
            replayed: false,
            log: Some(log.display().to_string()),
        };
        r.time = Some(TimeOutcome {
            status: BisectStatus::Culprit,
            last_good: "20221119T000000Z".into(),
            first_bad: "20221120T000000Z".into(),
            trials: vec![
                tt("20221201T000000Z", Verdict::Fail),
                tt("20221116T000000Z", Verdict::Pass),
                tt("20221120T000000Z", Verdict::Fail),
                tt("20221119T000000Z", Verdict::Pass),
            ],
            builds: 4,
            rounds: 4,
        });
        let svg = r.timeline_svg().unwrap();
        assert!(svg.contains("time axis: one row per snapshot trial"));
        assert!(
            svg.contains("20221116T000000Z pass"),
            "each time trial is labelled"
        );
        assert!(svg.contains("change search: one row per trial"));
        assert!(svg.contains("<circle"));
        let out = dir.path().join("report");
        r.write(&out).unwrap();
        let md = std::fs::read_to_string(out.join("report.md")).unwrap();
        assert!(
            md.contains("| `20221116T000000Z` | 0 | pass | 1.0 s | [log](logs/time-0001.log) |"),
            "{md}"
        );
        assert!(out.join("logs/time-0003.log").is_file());
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        assert!(html.contains("<a href=\"logs/time-0000.log\">log</a>"));
        assert!(html.contains("<a href=\"https://pypi.org/project/pkg5/\">"));
    }
}
