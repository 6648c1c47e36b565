//! A small column table rendered as aligned text or as a GitHub Markdown table.
//!
//! Cells hold raw text; escaping for the target (terminal or Markdown) happens here at render time,
//! so no caller can forget it. This module knows nothing about records or units.

use crate::text::{inline, markdown_cell, width};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub headers: Vec<(String, Align)>,
    pub rows: Vec<Vec<String>>,
    /// A last row set off by a rule (text) or bold (Markdown), e.g. totals.
    pub footer: Option<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[(&str, Align)]) -> Self {
        Table {
            headers: headers.iter().map(|(h, a)| (h.to_string(), *a)).collect(),
            rows: Vec::new(),
            footer: None,
        }
    }

    /// Aligned text, columns two spaces apart, a dashed rule under the header (and above the footer).
    pub fn text(&self) -> String {
        let esc = |r: &Vec<String>| r.iter().map(|c| inline(c)).collect::<Vec<_>>();
        let header: Vec<String> = self.headers.iter().map(|(h, _)| h.clone()).collect();
        let rows: Vec<Vec<String>> = self.rows.iter().map(esc).collect();
        let footer = self.footer.as_ref().map(esc);
        let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
        for r in rows.iter().chain(footer.iter()) {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(width(c));
            }
        }
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, ((c, w), (_, align))) in
                cells.iter().zip(&widths).zip(&self.headers).enumerate()
            {
                if i > 0 {
                    s.push_str("  ");
                }
                let pad = " ".repeat(w.saturating_sub(width(c)));
                match align {
                    Align::Left => {
                        s.push_str(c);
                        s.push_str(&pad);
                    }
                    Align::Right => {
                        s.push_str(&pad);
                        s.push_str(c);
                    }
                }
            }
            let mut s = s.trim_end().to_string();
            s.push('\n');
            s
        };
        let rule = {
            let total = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
            let mut r = "-".repeat(total);
            r.push('\n');
            r
        };
        let mut out = line(&header);
        out.push_str(&rule);
        for r in &rows {
            out.push_str(&line(r));
        }
        if let Some(f) = &footer {
            if !rows.is_empty() {
                out.push_str(&rule);
            }
            out.push_str(&line(f));
        }
        out
    }

    /// A GitHub-flavoured Markdown table; the footer's cells are bold.
    pub fn markdown(&self) -> String {
        let row = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
        let mut out = row(&self
            .headers
            .iter()
            .map(|(h, _)| markdown_cell(h))
            .collect::<Vec<_>>());
        out.push_str(&row(&self
            .headers
            .iter()
            .map(|(_, a)| match a {
                Align::Left => ":---".to_string(),
                Align::Right => "---:".to_string(),
            })
            .collect::<Vec<_>>()));
        for r in &self.rows {
            out.push_str(&row(&r
                .iter()
                .map(|c| markdown_cell(c))
                .collect::<Vec<_>>()));
        }
        if let Some(f) = &self.footer {
            out.push_str(&row(&f
                .iter()
                .map(|c| {
                    if c.is_empty() {
                        String::new()
                    } else {
                        format!("**{}**", markdown_cell(c))
                    }
                })
                .collect::<Vec<_>>()));
        }
        out
    }

    /// An HTML table (in a scrolling box), cells escaped, right-aligned columns numeric; the
    /// footer in `<tfoot>`.
    pub fn html(&self) -> String {
        use crate::html::esc;
        let class = |a: &Align| match a {
            Align::Left => "",
            Align::Right => " class=\"n\"",
        };
        let cells = |tag: &str, cells: &[String]| -> String {
            let mut s = String::from("<tr>");
            for (c, (_, a)) in cells.iter().zip(&self.headers) {
                s.push_str(&format!("<{tag}{}>{}</{tag}>", class(a), esc(c)));
            }
            s.push_str("</tr>");
            s
        };
        let header: Vec<String> = self.headers.iter().map(|(h, _)| h.clone()).collect();
        let mut out = format!(
            "<div class=\"scroll\"><table><thead>{}</thead><tbody>",
            cells("th", &header)
        );
        for r in &self.rows {
            out.push_str(&cells("td", r));
        }
        out.push_str("</tbody>");
        if let Some(f) = &self.footer {
            out.push_str(&format!("<tfoot>{}</tfoot>", cells("td", f)));
        }
        out.push_str("</table></div>\n");
        out
    }
}
