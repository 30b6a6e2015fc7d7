//! The report as one self-contained HTML file: inline CSS and an inline SVG
//! chart, no script and no network, so it opens from a mail attachment.

use super::{ReportData, RunLine, CHART_DAYS};
use std::fmt::Write;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}\
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}\
th{background:#f3f3f3}td.n{text-align:right}.up{color:#b00}.down{color:#070}\
.error{color:#b00;font-weight:bold}.warning{color:#a60}.info{color:#555}\
code{font-size:.85em;word-break:break-all}.bar{fill:#3b6fb6}.axis{stroke:#888}\
svg text{font-size:11px;fill:#333}";

/// Chart geometry, in SVG units.
const WIDTH: u32 = 960;
const HEIGHT: u32 = 260;
const LEFT: u32 = 40;
const BOTTOM: u32 = 40;
const TOP: u32 = 20;

/// Renders the whole report.
pub fn render(data: &ReportData) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let when = data.generated_at.format("%Y-%m-%d %H:%M UTC");
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>rekon morning report {when}</title><style>{STYLE}</style></head><body>\
         <h1>rekon morning report</h1><p>Generated {when}.</p>"
    );
    counts(&mut out, data);
    chart(&mut out, data);
    newest(&mut out, data);
    health(&mut out, data);
    out.push_str("</body></html>\n");
    out
}

fn counts(out: &mut String, data: &ReportData) {
    let previous = data.reconciles.get(1).map(|run| run.run_id);
    let _ = write!(
        out,
        "<h2>Open findings</h2><table id=\"counts\"><tr><th>kind</th><th>severity</th><th>now</th>\
         <th>previous run{}</th><th>change</th></tr>",
        previous.map(|id| format!(" ({id})")).unwrap_or_default()
    );
    for (kind, now, before) in data.counts() {
        let change = match before {
            Some(before) if now > before => format!("<span class=\"up\">+{}</span>", now - before),
            Some(before) if now < before => {
                format!("<span class=\"down\">−{}</span>", before - now)
            }
            Some(_) => "=".to_owned(),
            None => "new".to_owned(),
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"{sev}\">{sev}</td><td class=\"n\">{now}</td><td class=\"n\">{}</td><td class=\"n\">{change}</td></tr>",
            kind.as_str(),
            before.map(|b| b.to_string()).unwrap_or_else(|| "–".to_owned()),
            sev = kind.severity(),
        );
    }
    out.push_str("</table>");
}

/// A bar per day with trials ending; days without any are left empty.
fn chart(out: &mut String, data: &ReportData) {
    let total: u64 = data.expiring_per_day.iter().map(|(_, n)| n).sum();
    let max = data
        .expiring_per_day
        .iter()
        .map(|(_, n)| *n)
        .max()
        .unwrap_or(0)
        .max(1);
    let plot_height = HEIGHT - TOP - BOTTOM;
    let slot = (WIDTH - LEFT) / (data.expiring_per_day.len().max(1) as u32);
    let _ = write!(
        out,
        "<h2>Trials expiring per day, next {CHART_DAYS} days ({total} in all)</h2>\
         <svg id=\"expiring-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"Trials expiring per day\">\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{base}\" x2=\"{WIDTH}\" y2=\"{base}\"/>\
         <text x=\"4\" y=\"{top}\">{max}</text><text x=\"4\" y=\"{base}\">0</text>",
        base = HEIGHT - BOTTOM,
        top = TOP + 4,
    );
    for (index, (day, count)) in data.expiring_per_day.iter().enumerate() {
        let x = LEFT + index as u32 * slot;
        if *count > 0 {
            let height = ((*count as f64 / max as f64) * f64::from(plot_height))
                .round()
                .max(1.0) as u32;
            let _ = write!(
                out,
                "<rect class=\"bar\" data-day=\"{day}\" data-count=\"{count}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{height}\">\
                 <title>{day}: {count}</title></rect>\
                 <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{count}</text>",
                x + 2,
                HEIGHT - BOTTOM - height,
                slot - 4,
                x + slot / 2,
                HEIGHT - BOTTOM - height - 3,
            );
        }
        if index % 5 == 0 {
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x + slot / 2,
                HEIGHT - BOTTOM + 16,
                day.format("%m-%d")
            );
        }
    }
    out.push_str("</svg>");
}

fn newest(out: &mut String, data: &ReportData) {
    let _ = write!(
        out,
        "<h2>Newest open findings ({} shown)</h2><table id=\"newest\"><tr><th>raised</th><th>kind</th>\
         <th>severity</th><th>partner</th><th>id</th><th>customer</th><th>detail</th></tr>",
        data.newest.len()
    );
    for finding in &data.newest {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            escape(&finding.first_seen_at),
            escape(&finding.kind),
            escape(&finding.severity),
            escape(&finding.severity),
            escape(&finding.provider),
            escape(&finding.external_id),
            escape(&finding.customer),
            escape(&finding.detail),
        );
    }
    out.push_str("</table>");
}

fn health(out: &mut String, data: &ReportData) {
    out.push_str(
        "<h2>Run health</h2><table id=\"health\"><tr><th>run</th><th>job</th><th>status</th><th>pages</th>\
         <th>retries</th><th>drift rounds</th><th>rows</th><th>duration</th><th>error</th></tr>",
    );
    for run in data.sync.iter().chain(data.reconciles.first()) {
        run_row(out, run);
    }
    out.push_str("</table>");
}

fn run_row(out: &mut String, run: &RunLine) {
    let _ = write!(
        out,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
         <td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
        run.run_id,
        escape(&run.job),
        escape(&run.status),
        run.pages,
        run.retries,
        run.drift_rounds,
        run.loaded,
        run.seconds.map(|s| format!("{s:.1} s")).unwrap_or_else(|| "running".to_owned()),
        escape(run.error.as_deref().unwrap_or("")),
    );
}

/// Text made safe for HTML content and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};

    fn data() -> ReportData {
        let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
        ReportData {
            generated_at: Utc.with_ymd_and_hms(2026, 11, 1, 6, 0, 0).unwrap(),
            reconciles: vec![],
            sync: None,
            expiring_per_day: (1..=30)
                .map(|d| (day(d), if d % 10 == 3 { 2 } else { 0 }))
                .collect(),
            newest: vec![super::super::FindingLine {
                kind: "field_mismatch".into(),
                severity: "warning".into(),
                provider: "qm".into(),
                external_id: "Q<1>".into(),
                customer: "Toko \"Murah\" & D'Jawa".into(),
                detail: "{}".into(),
                first_seen_at: "2026-11-01T06:00:00Z".into(),
            }],
        }
    }

    #[test]
    fn the_chart_has_one_bar_per_day_with_trials_and_text_is_escaped() {
        let html = render(&data());
        assert_eq!(html.matches("<rect class=\"bar\"").count(), 3);
        assert!(html.contains("data-day=\"2026-11-13\" data-count=\"2\""));
        assert!(html.contains("Toko &quot;Murah&quot; &amp; D&#39;Jawa"));
        assert!(html.contains("Q&lt;1&gt;"));
        assert!(!html.contains("<script"));
    }
}
