//! Small charts drawn on the server as SVG: no script, styled by presentation attributes
//! (the CSP allows no inline styles), each with a title, a description and its values in
//! text so a screen reader can read what the picture shows.

use std::fmt::Write;

/// Text for use inside SVG markup.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A line chart of one value per labelled point (e.g. a 30-day trend).
pub fn line_chart(id: &str, title: &str, y_label: &str, points: &[(String, i64)]) -> String {
    let (width, height, left, right, top, bottom) = (640.0, 220.0, 48.0, 12.0, 16.0, 36.0);
    let max = points.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let step = if points.len() > 1 {
        plot_w / (points.len() - 1) as f64
    } else {
        0.0
    };
    let x = |i: usize| left + step * i as f64;
    let y = |v: i64| top + plot_h - (v as f64 / max) * plot_h;
    let first = points
        .first()
        .map(|(l, v)| format!("{l}: {v}"))
        .unwrap_or_default();
    let last = points
        .last()
        .map(|(l, v)| format!("{l}: {v}"))
        .unwrap_or_default();
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="{id}" class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{id}-title {id}-desc" xmlns="http://www.w3.org/2000/svg">"#
    );
    let _ = write!(
        svg,
        r#"<title id="{id}-title">{}</title><desc id="{id}-desc">{} from {} to {}; highest {}.</desc>"#,
        escape(title),
        escape(y_label),
        escape(&first),
        escape(&last),
        max as i64
    );
    // Axes and a few gridlines with their values.
    for tick in 0..=4 {
        let value = (max * tick as f64 / 4.0).round() as i64;
        let ty = y(value);
        let _ = write!(
            svg,
            r##"<line x1="{left}" y1="{ty:.1}" x2="{}" y2="{ty:.1}" stroke="#d1d5db" stroke-width="1"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end" fill="#374151">{value}</text>"##,
            width - right,
            left - 6.0,
            ty + 4.0
        );
    }
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| format!("{:.1},{:.1}", x(i), y(*v)))
        .collect();
    let _ = write!(
        svg,
        r##"<polyline fill="none" stroke="#1d4ed8" stroke-width="2.5" points="{}"/>"##,
        path.join(" ")
    );
    for (i, (label, value)) in points.iter().enumerate() {
        let _ = write!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="#1d4ed8"><title>{}: {value}</title></circle>"##,
            x(i),
            y(*value),
            escape(label)
        );
        if i % 5 == 0 || i + 1 == points.len() {
            let _ = write!(
                svg,
                r##"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle" fill="#374151">{}</text>"##,
                x(i),
                height - bottom + 16.0,
                escape(label)
            );
        }
    }
    let _ = write!(
        svg,
        r##"<text x="12" y="{:.1}" font-size="11" fill="#374151" transform="rotate(-90 12 {:.1})" text-anchor="middle">{}</text>"##,
        top + plot_h / 2.0,
        top + plot_h / 2.0,
        escape(y_label)
    );
    svg.push_str("</svg>");
    svg
}

/// A horizontal bar chart of labelled values (e.g. top products); `unit` is singular.
pub fn bar_chart(id: &str, title: &str, unit: &str, bars: &[(String, i64)]) -> String {
    let row = 26.0;
    let (width, left, right, top) = (640.0, 210.0, 60.0, 8.0);
    let height = top * 2.0 + row * bars.len().max(1) as f64;
    let max = bars.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="{id}" class="chart" viewBox="0 0 {width} {height}" role="img" aria-labelledby="{id}-title {id}-desc" xmlns="http://www.w3.org/2000/svg">"#
    );
    let summary: Vec<String> = bars
        .iter()
        .map(|(l, v)| format!("{l}: {v} {unit}{}", if *v == 1 { "" } else { "s" }))
        .collect();
    let _ = write!(
        svg,
        r#"<title id="{id}-title">{}</title><desc id="{id}-desc">{}</desc>"#,
        escape(title),
        escape(&summary.join("; "))
    );
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = top + row * i as f64;
        let w = (*value as f64 / max) * (width - left - right);
        let _ = write!(
            svg,
            r##"<text x="{}" y="{:.1}" font-size="12" text-anchor="end" fill="#111827">{}</text><rect x="{left}" y="{:.1}" width="{w:.1}" height="{}" fill="#1d4ed8" rx="3"/><text x="{:.1}" y="{:.1}" font-size="12" fill="#111827">{value}</text>"##,
            left - 8.0,
            y + row * 0.65,
            escape(label),
            y + 4.0,
            row - 8.0,
            left + w + 6.0,
            y + row * 0.65
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_escape_their_text_and_carry_a_title() {
        let svg = bar_chart(
            "top",
            "Top <SKUs>",
            "customers",
            &[("<script>".to_owned(), 3)],
        );
        assert!(svg.contains("<title id=\"top-title\">Top &lt;SKUs&gt;</title>"));
        assert!(!svg.contains("<script>"));
        let svg = line_chart(
            "trend",
            "Open lines",
            "lines",
            &[("1 Nov".to_owned(), 2), ("2 Nov".to_owned(), 5)],
        );
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("1 Nov: 2"));
    }
}
