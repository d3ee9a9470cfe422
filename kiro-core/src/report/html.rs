//! The HTML renderer: one self-contained page.
//!
//! The page is complete without scripts (the table, the tests and the
//! summary are rendered here), and a small inline script adds sorting,
//! filtering and deep links. Nothing is loaded from anywhere: styles and
//! script are inline, and a Content-Security-Policy forbids every other
//! source, so the page can be archived as a CI artifact and opened offline.

use std::collections::HashSet;
use std::fmt::Write as _;

use super::text::html_escape;
use super::{
    ears_name, join_ids, json, location, status_name, test_status_name, Matrix, MatrixRow,
};
use crate::verify::{CriterionStatus, TestStatus};

const STYLE: &str = r#"
:root { color-scheme: light dark; --fg: #1f2328; --bg: #ffffff; --muted: #59636e; --line: #d1d9e0;
  --head: #f6f8fa; --pass: #1a7f37; --fail: #cf222e; --untested: #9a6700; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #3d444d; --head: #151b23;
    --pass: #3fb950; --fail: #f85149; --untested: #d29922; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 90rem; padding: 1.5rem; font: 14px/1.5 system-ui, sans-serif;
  color: var(--fg); background: var(--bg); }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; }
h3 { font-size: 1rem; margin: 1.5rem 0 .5rem; }
.summary span { margin-right: 1rem; }
#filters { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: center; margin: 1rem 0;
  padding: .75rem 1rem; border: 1px solid var(--line); border-radius: 6px; background: var(--head); }
#filters fieldset { border: 0; margin: 0; padding: 0; display: flex; gap: .75rem; align-items: center; }
#filters legend { float: left; margin-right: .5rem; font-weight: 600; }
#shown { color: var(--muted); margin-left: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid var(--line); padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: var(--head); white-space: nowrap; }
th button { font: inherit; font-weight: 600; color: inherit; background: none; border: 0; padding: 0;
  cursor: pointer; }
th[aria-sort="ascending"] button::after { content: " \25B2"; }
th[aria-sort="descending"] button::after { content: " \25BC"; }
tr[hidden] { display: none; }
tr.row-failed td:first-child { box-shadow: inset 3px 0 var(--fail); }
tr.row-untested td:first-child { box-shadow: inset 3px 0 var(--untested); }
td.text { white-space: pre-wrap; min-width: 20rem; }
.badge { display: inline-block; padding: 0 .4rem; border-radius: 1rem; font-size: .8rem; font-weight: 600;
  border: 1px solid currentColor; white-space: nowrap; }
.status-passed { color: var(--pass); }
.status-failed { color: var(--fail); }
.status-untested, .status-skipped, .status-none { color: var(--untested); }
.status-errored { color: var(--fail); }
.tests-cell ul, .tests ul { margin: 0; padding-left: 1.2rem; }
.loc, .muted { color: var(--muted); }
pre { margin: .25rem 0 .5rem; padding: .5rem; overflow-x: auto; background: var(--head);
  border: 1px solid var(--line); border-radius: 4px; white-space: pre-wrap; color: var(--fg); }
:target { outline: 2px solid var(--untested); outline-offset: 2px; }
"#;

const SCRIPT: &str = r#"
(function () {
  'use strict';
  var STATUSES = ['failed', 'untested', 'passed'];
  var table = document.getElementById('matrix');
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var boxes = Array.prototype.slice.call(document.querySelectorAll('#filters input[name="status"]'));
  var select = document.getElementById('filter-requirement');
  var shown = document.getElementById('shown');
  var state = defaults();

  function defaults() {
    return { status: STATUSES.slice(), requirement: '', sort: '', dir: 'asc' };
  }

  function decode(text) {
    try { return decodeURIComponent(text.replace(/\+/g, ' ')); } catch (e) { return text; }
  }

  // Reads filter state from `#status=failed,untested&requirement=2&sort=status&dir=desc`.
  // A fragment without `=` is an ordinary anchor and leaves the state alone.
  function fromHash() {
    var hash = window.location.hash.replace(/^#/, '');
    if (hash.indexOf('=') < 0) { return null; }
    var next = defaults();
    hash.split('&').forEach(function (part) {
      var at = part.indexOf('=');
      if (at < 0) { return; }
      var key = decode(part.slice(0, at)).toLowerCase();
      var value = decode(part.slice(at + 1));
      if (key === 'status') {
        next.status = value.toLowerCase().split(',').filter(function (s) {
          return STATUSES.indexOf(s) >= 0;
        });
        if (value.trim() === '' || value.toLowerCase() === 'all') { next.status = STATUSES.slice(); }
      } else if (key === 'requirement' || key === 'req') {
        next.requirement = value;
      } else if (key === 'sort') {
        if (value.charAt(0) === '-') { next.dir = 'desc'; value = value.slice(1); }
        next.sort = headFor(value) ? value : '';
      } else if (key === 'dir') {
        next.dir = value === 'desc' ? 'desc' : 'asc';
      }
    });
    return next;
  }

  function toHash() {
    var parts = [];
    if (state.status.length !== STATUSES.length) {
      parts.push('status=' + state.status.map(encodeURIComponent).join(','));
    }
    if (state.requirement) { parts.push('requirement=' + encodeURIComponent(state.requirement)); }
    if (state.sort) {
      parts.push('sort=' + encodeURIComponent(state.sort));
      if (state.dir === 'desc') { parts.push('dir=desc'); }
    }
    var url = window.location.pathname + window.location.search + (parts.length ? '#' + parts.join('&') : '');
    try {
      window.history.replaceState(null, '', url);
    } catch (e) {
      if (parts.length) { window.location.hash = parts.join('&'); }
    }
  }

  function headFor(key) {
    for (var i = 0; i < heads.length; i++) {
      if (heads[i].getAttribute('data-key') === key) { return heads[i]; }
    }
    return null;
  }

  // Compares digit runs as numbers so that criterion 1.10 sorts after 1.9.
  function natural(a, b) {
    var re = /(\d+|\D+)/g;
    var x = String(a).match(re) || [];
    var y = String(b).match(re) || [];
    for (var i = 0; i < Math.min(x.length, y.length); i++) {
      var p = x[i], q = y[i];
      var np = /^\d/.test(p), nq = /^\d/.test(q);
      if (np && nq) {
        var d = parseInt(p, 10) - parseInt(q, 10);
        if (d !== 0) { return d; }
      } else if (p !== q) {
        return p.localeCompare(q);
      }
    }
    return x.length - y.length;
  }

  function apply() {
    // Controls mirror the state, as attributes too, so that a saved or
    // dumped page shows the filters it was filtered by.
    boxes.forEach(function (box) {
      var on = state.status.indexOf(box.value) >= 0;
      box.checked = on;
      if (on) { box.setAttribute('checked', ''); } else { box.removeAttribute('checked'); }
    });
    if (select) {
      select.value = state.requirement;
      Array.prototype.forEach.call(select.options, function (o) {
        if (o.value === state.requirement) { o.setAttribute('selected', ''); } else { o.removeAttribute('selected'); }
      });
    }
    var visible = 0;
    rows.forEach(function (row) {
      var show = state.status.indexOf(row.getAttribute('data-status')) >= 0 &&
        (!state.requirement || row.getAttribute('data-requirement') === state.requirement);
      row.hidden = !show;
      if (show) { visible++; }
    });
    var head = state.sort ? headFor(state.sort) : null;
    var column = head ? heads.indexOf(head) : -1;
    var sign = state.dir === 'desc' ? -1 : 1;
    var order = rows.slice().sort(function (a, b) {
      if (column >= 0) {
        var c = natural(a.cells[column].getAttribute('data-sort'), b.cells[column].getAttribute('data-sort'));
        if (c !== 0) { return sign * c; }
      }
      return Number(a.getAttribute('data-index')) - Number(b.getAttribute('data-index'));
    });
    order.forEach(function (row) { tbody.appendChild(row); });
    heads.forEach(function (h) {
      h.setAttribute('aria-sort', h === head ? (state.dir === 'desc' ? 'descending' : 'ascending') : 'none');
    });
    shown.textContent = 'Showing ' + visible + ' of ' + rows.length + ' criteria';
    document.body.setAttribute('data-visible', String(visible));
  }

  function fromControls() {
    state.status = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; });
    state.requirement = select ? select.value : '';
    apply();
    toHash();
  }

  boxes.forEach(function (box) { box.addEventListener('change', fromControls); });
  if (select) { select.addEventListener('change', fromControls); }
  heads.forEach(function (h) {
    var button = h.querySelector('button');
    if (!button) { return; }
    button.addEventListener('click', function () {
      var key = h.getAttribute('data-key');
      if (state.sort === key) {
        state.dir = state.dir === 'asc' ? 'desc' : 'asc';
      } else {
        state.sort = key;
        state.dir = 'asc';
      }
      apply();
      toHash();
    });
  });
  window.addEventListener('hashchange', function () {
    var next = fromHash();
    if (next) { state = next; apply(); }
  });
  state = fromHash() || state;
  apply();
}());
"#;

/// The matrix as one self-contained HTML page.
///
/// The page has a summary, filters by status (checkboxes) and requirement
/// (a select), a matrix sortable by clicking a column header, and a tests
/// section; each criterion links to its tests and back. Filter and sort
/// state live in the URL fragment, so a page can be deep-linked:
/// `report.html#status=failed,untested&requirement=2&sort=criterion&dir=desc`
/// (`sort=-status` is short for a descending sort). Rows hidden by a filter
/// get the `hidden` attribute.
///
/// The matrix is also embedded as JSON in
/// `<script type="application/json" id="kiro-matrix">` for tools that
/// scrape the page; `<` is written as `\u003c` there so that no text can
/// close the script element. Everything else is HTML-escaped.
pub fn html(matrix: &Matrix) -> String {
    let anchors = anchors(matrix);
    let spec = if matrix.spec.trim().is_empty() {
        "spec"
    } else {
        matrix.spec.trim()
    };
    let title = html_escape(&format!("Verification: {spec}"));
    let t = &matrix.totals;
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n",
    );
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(out, "<title>{title}</title>");
    let _ = writeln!(out, "<style>{STYLE}</style>\n</head>\n<body>");
    let _ = writeln!(out, "<h1>{title}</h1>");
    let _ = writeln!(
        out,
        "<p class=\"summary\" id=\"summary\"><span><strong>{}</strong> criteria</span>\
         <span class=\"status-passed\"><strong>{}</strong> passed</span>\
         <span class=\"status-failed\"><strong>{}</strong> failed</span>\
         <span class=\"status-untested\"><strong>{}</strong> untested</span>\
         <span class=\"muted\">{} linked to tasks, {} linked to tests</span></p>",
        t.criteria, t.passed, t.failed, t.untested, t.with_tasks, t.with_tests
    );

    // Filters.
    out.push_str("<div id=\"filters\" role=\"search\">\n<fieldset><legend>Status</legend>\n");
    for (status, count) in [
        (CriterionStatus::Failed, t.failed),
        (CriterionStatus::Untested, t.untested),
        (CriterionStatus::Passed, t.passed),
    ] {
        let name = status_name(status);
        let _ = writeln!(
            out,
            "<label class=\"status-{name}\"><input type=\"checkbox\" name=\"status\" value=\"{name}\" checked> {name} ({count})</label>"
        );
    }
    out.push_str("</fieldset>\n<label>Requirement <select id=\"filter-requirement\" name=\"requirement\">\n<option value=\"\">All requirements</option>\n");
    for (id, title) in matrix.requirements() {
        let label = if title.is_empty() {
            id.to_string()
        } else {
            format!("{id}: {title}")
        };
        let _ = writeln!(
            out,
            "<option value=\"{}\">{}</option>",
            html_escape(id.as_str()),
            html_escape(&label)
        );
    }
    let _ = writeln!(
        out,
        "</select></label>\n<span id=\"shown\">Showing {n} of {n} criteria</span>\n</div>",
        n = matrix.rows.len()
    );

    // The matrix.
    out.push_str("<table id=\"matrix\">\n<thead><tr>");
    for (key, label) in [
        ("status", "Status"),
        ("criterion", "Criterion"),
        ("requirement", "Requirement"),
        ("text", "Text"),
        ("ears", "EARS"),
        ("tasks", "Tasks"),
        ("properties", "Properties"),
        ("tests", "Tests"),
    ] {
        let _ = write!(
            out,
            "<th scope=\"col\" data-key=\"{key}\" aria-sort=\"none\"><button type=\"button\">{label}</button></th>"
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (i, (r, anchor)) in matrix.rows.iter().zip(&anchors).enumerate() {
        row(&mut out, i, r, anchor);
    }
    out.push_str("</tbody>\n</table>\n");

    // The tests of each criterion.
    out.push_str("<section id=\"tests\" class=\"tests\">\n<h2>Tests</h2>\n");
    if matrix.rows.iter().all(|r| r.tests.is_empty()) {
        out.push_str("<p class=\"muted\">No test is linked to any criterion.</p>\n");
    }
    for (r, anchor) in matrix.rows.iter().zip(&anchors) {
        tests_section(&mut out, r, anchor);
    }
    out.push_str("</section>\n");

    let data = json(matrix)
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let _ = writeln!(
        out,
        "<script type=\"application/json\" id=\"kiro-matrix\">{}</script>",
        data.trim_end()
    );
    let _ = writeln!(out, "<script>{SCRIPT}</script>\n</body>\n</html>");
    out
}

fn row(out: &mut String, index: usize, r: &MatrixRow, anchor: &str) {
    let status = status_name(r.status);
    let _ = write!(
        out,
        "<tr id=\"row-{anchor}\" data-index=\"{index}\" data-status=\"{status}\" \
         data-requirement=\"{}\" data-criterion=\"{}\" class=\"row-{status}\">",
        html_escape(r.requirement.as_str()),
        html_escape(r.criterion.as_str()),
    );
    // Failed first when sorting by status ascending: the most urgent rows.
    let rank = match r.status {
        CriterionStatus::Failed => 0,
        CriterionStatus::Untested => 1,
        CriterionStatus::Passed => 2,
    };
    let _ = write!(
        out,
        "<td data-sort=\"{rank}\"><span class=\"badge status-{status}\">{status}</span></td>"
    );
    let criterion = html_escape(r.criterion.as_str());
    let _ = write!(
        out,
        "<td data-sort=\"{criterion}\"><a href=\"#tests-{anchor}\">{criterion}</a></td>"
    );
    let requirement = if r.requirement_title.is_empty() {
        r.requirement.to_string()
    } else {
        format!("{} {}", r.requirement, r.requirement_title)
    };
    let _ = write!(
        out,
        "<td data-sort=\"{}\">{}</td>",
        html_escape(r.requirement.as_str()),
        html_escape(&requirement)
    );
    let text = html_escape(&r.text);
    let _ = write!(out, "<td class=\"text\" data-sort=\"{text}\">{text}</td>");
    let ears = r.ears.map(ears_name).unwrap_or_default();
    let _ = write!(out, "<td data-sort=\"{ears}\">{ears}</td>");
    let tasks = html_escape(&join_ids(&r.tasks));
    let _ = write!(out, "<td data-sort=\"{tasks}\">{tasks}</td>");
    let props = html_escape(&join_ids(&r.properties));
    let _ = write!(out, "<td data-sort=\"{props}\">{props}</td>");
    let _ = write!(
        out,
        "<td class=\"tests-cell\" data-sort=\"{}\">",
        r.tests.len()
    );
    if r.tests.is_empty() {
        out.push_str("<span class=\"muted\">none</span>");
    } else {
        out.push_str("<ul>");
        for (n, t) in r.tests.iter().enumerate() {
            let ts = test_class(t.status);
            let _ = write!(
                out,
                "<li><a class=\"status-{ts}\" href=\"#test-{anchor}-{n}\">{}</a> <span class=\"status-{ts}\">({})</span></li>",
                html_escape(&t.test),
                test_status_name(t.status)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</td></tr>\n");
}

fn tests_section(out: &mut String, r: &MatrixRow, anchor: &str) {
    let status = status_name(r.status);
    let _ = write!(
        out,
        "<div id=\"tests-{anchor}\" class=\"criterion-tests\" data-criterion=\"{}\">\
         <h3><a href=\"#row-{anchor}\">{}</a> <span class=\"badge status-{status}\">{status}</span> {}</h3>",
        html_escape(r.criterion.as_str()),
        html_escape(r.criterion.as_str()),
        html_escape(&r.text)
    );
    if r.tests.is_empty() {
        out.push_str("<p class=\"muted\">No linked tests.</p></div>\n");
        return;
    }
    out.push_str("<ul>\n");
    for (n, t) in r.tests.iter().enumerate() {
        let ts = test_class(t.status);
        let _ = write!(
            out,
            "<li id=\"test-{anchor}-{n}\" class=\"test\" data-status=\"{ts}\">\
             <span class=\"badge status-{ts}\">{}</span> <code>{}</code>",
            test_status_name(t.status),
            html_escape(&t.test)
        );
        let loc = location(t);
        if !loc.is_empty() {
            let _ = write!(out, " <span class=\"loc\">{}</span>", html_escape(&loc));
        }
        if let Some(ex) = &t.excerpt {
            let _ = write!(out, "<pre>{}</pre>", html_escape(ex.trim_end()));
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ul></div>\n");
}

fn test_class(status: Option<TestStatus>) -> &'static str {
    match status {
        None => "none",
        Some(_) => test_status_name(status),
    }
}

/// A unique, attribute-safe anchor per row, derived from the criterion id
/// (`1.2` stays `1.2`) so that links like `#tests-1.2` are readable.
fn anchors(matrix: &Matrix) -> Vec<String> {
    let mut used: HashSet<String> = HashSet::new();
    matrix
        .rows
        .iter()
        .map(|r| {
            let mut base = String::new();
            for c in r.criterion.as_str().chars() {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    base.push(c);
                } else {
                    let _ = write!(base, "_{:x}_", u32::from(c));
                }
            }
            if base.is_empty() {
                base.push_str("criterion");
            }
            let mut anchor = base.clone();
            let mut n = 2;
            while !used.insert(anchor.clone()) {
                anchor = format!("{base}~{n}");
                n += 1;
            }
            anchor
        })
        .collect()
}
