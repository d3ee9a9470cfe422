//! The CSV renderer (RFC 4180).

use super::{ears_name, join_ids, location, status_name, test_status_name, Matrix};

/// The columns of [`csv`] output, in order.
pub const CSV_COLUMNS: [&str; 10] = [
    "requirement",
    "requirement_title",
    "criterion",
    "text",
    "ears",
    "status",
    "tasks",
    "properties",
    "tests",
    "failing_tests",
];

/// The matrix as CSV: a header row ([`CSV_COLUMNS`]) and one record per
/// criterion, CRLF line ends as RFC 4180 prescribes.
///
/// Fields holding a comma, a double quote or a line break are quoted, with
/// inner quotes doubled. List columns join ids with `, `; `tests` joins
/// `name [status] file:line` entries with `; `. Text is written as is: the
/// file is data, and a spreadsheet that evaluates a cell starting with `=`
/// is the reader's concern.
pub fn csv(matrix: &Matrix) -> String {
    let mut out = String::new();
    record(&mut out, CSV_COLUMNS.iter().map(|c| (*c).to_owned()));
    for r in &matrix.rows {
        let tests = r
            .tests
            .iter()
            .map(|t| {
                let loc = location(t);
                if loc.is_empty() {
                    format!("{} [{}]", t.test, test_status_name(t.status))
                } else {
                    format!("{} [{}] {loc}", t.test, test_status_name(t.status))
                }
            })
            .collect::<Vec<_>>()
            .join("; ");
        let failing = r
            .tests
            .iter()
            .filter(|t| {
                matches!(
                    t.status,
                    Some(crate::verify::TestStatus::Failed | crate::verify::TestStatus::Errored)
                )
            })
            .map(|t| t.test.clone())
            .collect::<Vec<_>>()
            .join("; ");
        record(
            &mut out,
            [
                r.requirement.to_string(),
                r.requirement_title.clone(),
                r.criterion.to_string(),
                r.text.clone(),
                r.ears.map(ears_name).unwrap_or_default().to_owned(),
                status_name(r.status).to_owned(),
                join_ids(&r.tasks),
                join_ids(&r.properties),
                tests,
                failing,
            ]
            .into_iter(),
        );
    }
    out
}

fn record(out: &mut String, fields: impl Iterator<Item = String>) {
    for (i, f) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        if f.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&f);
        }
    }
    out.push_str("\r\n");
}
