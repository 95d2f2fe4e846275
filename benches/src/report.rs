//! What both programs share: their command line, and in their reports the
//! machine, the date, medians.

/// The median of `v` (sorted in place).
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The CPU model from /proc/cpuinfo.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Today (UTC) as YYYY-MM-DD, from the system clock.
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Days to civil date (proleptic Gregorian).
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The command line both programs take:
/// `[--quick] [--rounds N] [--budget-ms MS] [FILTER...]`.
pub struct Args {
    /// Rounds (every implementation once per round; 21 by default, 15
    /// with `--quick`).
    pub rounds: usize,
    /// Time one measurement aims at (300 ms; 10 ms with `--quick`).
    pub budget_ms: f64,
    /// Substrings of workload names; none runs every workload.
    pub filters: Vec<String>,
}

impl Args {
    /// Parses the process's arguments; `help` is printed for `-h`.
    pub fn parse(help: &str) -> Args {
        let mut args = Args {
            rounds: 21,
            budget_ms: 300.0,
            filters: Vec::new(),
        };
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => {
                    args.rounds = 15;
                    args.budget_ms = 10.0;
                }
                "--rounds" => {
                    args.rounds = it.next().and_then(|v| v.parse().ok()).expect("--rounds N");
                }
                "--budget-ms" => {
                    args.budget_ms = it
                        .next()
                        .and_then(|v| v.parse().ok())
                        .expect("--budget-ms MS");
                }
                "--bench" => {} // passed by `cargo bench`
                "-h" | "--help" => {
                    println!("{help}");
                    std::process::exit(0);
                }
                f if f.starts_with("--") => panic!("unknown flag {f}"),
                f => args.filters.push(f.to_string()),
            }
        }
        if args.rounds < 15 {
            eprintln!(
                "note: {} rounds (the method asks for at least 15)",
                args.rounds
            );
        }
        args
    }

    /// `name` is selected by the filters.
    pub fn selects(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}
