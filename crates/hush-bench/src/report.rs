//! How a scenario's outcome is printed: a readable block (figure, floor measured in the same
//! run, ratio, target, met or not), then one `RESULT key=value …` line that scripts can grep.
//! Values in the RESULT line never hold spaces; units go in keys or in the value's suffix.

use std::fmt::Write as _;
use std::sync::Mutex;

/// The machine's load when the current scenario started (see [`mark_start`]).
static LOAD_BEFORE: Mutex<Option<String>> = Mutex::new(None);

/// Notes the 1-minute load average and the core count as the scenario starts: another
/// process busy on the machine skews every figure, and the RESULT line then says so.
pub fn mark_start() {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    eprintln!("hush-bench: {cores} cores, load average {load} before the run");
    *LOAD_BEFORE.lock().unwrap_or_else(|e| e.into_inner()) =
        Some(format!("cores={cores} loadavg_before={load}"));
}

/// A scenario's outcome.
pub struct Report {
    /// The scenario's name (the RESULT line's `scenario=`).
    pub scenario: String,
    /// The figure, readable (e.g. `1234.5 req/s`).
    pub figure: String,
    /// The floor measured in the same run, readable, or `none`.
    pub floor: String,
    /// figure / floor, readable, or `none`.
    pub ratio: String,
    /// The target, readable (e.g. `ratio >= 0.5 and p99 <= 5 ms`).
    pub target: String,
    /// Whether the target is met.
    pub met: bool,
    /// The RESULT line's figure, floor, ratio and target values (no spaces).
    pub result: ResultFields,
    /// More readable lines printed before the verdict.
    pub notes: Vec<String>,
    /// More `key=value` pairs for the RESULT line (no spaces).
    pub extra: Vec<(String, String)>,
}

/// The machine-readable figure, floor, ratio and target.
pub struct ResultFields {
    /// `figure=`.
    pub figure: String,
    /// `floor=`.
    pub floor: String,
    /// `ratio=`.
    pub ratio: String,
    /// `target=`.
    pub target: String,
}

impl Report {
    /// Adds a `key=value` pair to the RESULT line.
    pub fn extra(&mut self, key: &str, value: impl ToString) {
        self.extra
            .push((key.to_string(), value.to_string().replace(' ', "_")));
    }

    /// The readable block and the RESULT line.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "---- {} ----", self.scenario);
        for n in &self.notes {
            let _ = writeln!(s, "{n}");
        }
        let _ = writeln!(s, "figure: {}", self.figure);
        let _ = writeln!(s, "floor:  {}", self.floor);
        let _ = writeln!(s, "ratio:  {}", self.ratio);
        let _ = writeln!(s, "target: {}", self.target);
        let _ = writeln!(s, "{}", if self.met { "met" } else { "NOT met" });
        let _ = write!(
            s,
            "RESULT scenario={} figure={} floor={} ratio={} target={} met={}",
            self.scenario,
            self.result.figure,
            self.result.floor,
            self.result.ratio,
            self.result.target,
            if self.met { "yes" } else { "no" }
        );
        for (k, v) in &self.extra {
            let _ = write!(s, " {k}={v}");
        }
        if let Some(m) = LOAD_BEFORE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_deref()
        {
            let _ = write!(s, " {m}");
        }
        s.push('\n');
        s
    }

    /// Prints it on stdout.
    pub fn print(&self) {
        print!("{}", self.render());
    }
}

/// `x` with two decimals.
pub fn f2(x: f64) -> String {
    format!("{x:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_result_line_is_last_and_has_no_spaces_in_values() {
        let mut r = Report {
            scenario: "read".into(),
            figure: "10 req/s".into(),
            floor: "20 req/s".into(),
            ratio: "0.50".into(),
            target: "ratio >= 0.5".into(),
            met: true,
            result: ResultFields {
                figure: "10".into(),
                floor: "20".into(),
                ratio: "0.50".into(),
                target: "ratio>=0.5".into(),
            },
            notes: vec![],
            extra: vec![],
        };
        r.extra("unit", "req / s");
        let out = r.render();
        let last = out.lines().last().unwrap_or_default();
        assert_eq!(
            last,
            "RESULT scenario=read figure=10 floor=20 ratio=0.50 target=ratio>=0.5 met=yes unit=req_/_s"
        );
        assert!(out.contains("\nmet\n"));
    }
}
