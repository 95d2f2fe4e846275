//! `e2e`: echo servers over loopback TCP, end to end (issue 11).
//!
//! protoswitch-tokio against tokio-tungstenite, tokio-websockets and
//! fastwebsockets. Each server runs in a child process of this program
//! (`--serve NAME`), a current-thread tokio runtime pinned to CPU 1; the
//! load generator ([`load`]) runs here, pinned to CPU 0. See
//! `benches/COMPARE.md` for the method.

mod load;
mod servers;
mod sys;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use load::Load;
use protoswitch_bench::report::{cpu_model, median, today};
use servers::{SERVERS, supports_deflate};

const HELP: &str = "\
e2e: echo over loopback TCP, protoswitch-tokio against its peers

cargo run --release --manifest-path benches/Cargo.toml --bin e2e -- [FLAGS] [FILTER...]

  --quick            1 s per measurement, 3 rounds, 2,000 connections for memory
  --duration S       seconds measured per server per round (default 5)
  --rounds N         rounds (default 3; each server once per round, rotated)
  --together         every server at once in each round, all on the server CPU,
                     each with its own load thread on the load CPU: the machine's
                     slow and fast periods fall on all of them alike
  --no-memory        skip the memory-per-connection runs
  --memory-only      only the memory-per-connection runs
  --mem-conns N,N    connection counts for memory (default 2000,10000)
  FILTER             substrings of workload names (100x20B, 16KiB, deflate, ...)
                     and of server names (protoswitch, fastwebsockets, ...)";

struct Opts {
    duration: f64,
    rounds: usize,
    together: bool,
    throughput: bool,
    memory: bool,
    mem_conns: Vec<usize>,
    filters: Vec<String>,
}

impl Opts {
    fn parse(args: &[String]) -> Opts {
        let mut o = Opts {
            duration: 5.0,
            rounds: 3,
            together: false,
            throughput: true,
            memory: true,
            mem_conns: vec![2000, 10_000],
            filters: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = |flag: &str| -> String {
                it.next()
                    .cloned()
                    .unwrap_or_else(|| panic!("{flag} needs a value"))
            };
            match a.as_str() {
                "--quick" => {
                    o.duration = 1.0;
                    o.mem_conns = vec![2000];
                }
                "--duration" => o.duration = value(a).parse().expect("--duration S"),
                "--rounds" => o.rounds = value(a).parse().expect("--rounds N"),
                "--together" => o.together = true,
                "--no-memory" => o.memory = false,
                "--memory-only" => o.throughput = false,
                "--mem-conns" => {
                    o.mem_conns = value(a)
                        .split(',')
                        .map(|n| n.parse().expect("--mem-conns N,N"))
                        .collect();
                }
                "--bench" => {}
                "-h" | "--help" => {
                    println!("{HELP}");
                    std::process::exit(0);
                }
                f if f.starts_with("--") => panic!("unknown flag {f}"),
                f => o.filters.push(f.to_owned()),
            }
        }
        o
    }

    /// Filter words naming a workload restrict the workloads, words
    /// naming a server the servers.
    fn selects(&self, workload: &str, server: &str) -> bool {
        self.pick(true, workload) && self.pick(false, server)
    }

    /// `name` is picked by the filter words about workloads
    /// (`of_workloads`) or about servers: all are when there is none.
    fn pick(&self, of_workloads: bool, name: &str) -> bool {
        let names_workload = |f: &&String| workloads().iter().any(|w| w.name.contains(f.as_str()));
        let mut words = self
            .filters
            .iter()
            .filter(|f| names_workload(f) == of_workloads)
            .peekable();
        words.peek().is_none() || words.any(|f| name.contains(f.as_str()))
    }
}

/// A server child process, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(name: &str, cpu: usize) -> Server {
        let exe = std::env::current_exe().expect("current_exe");
        let mut child = Command::new(exe)
            .args(["--serve", name, "--cpu", &cpu.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the server's port");
        let port = line.trim().parse().expect("a port");
        Server { child, port }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Workload {
    name: &'static str,
    what: &'static str,
    load: Load,
}

fn workloads() -> Vec<Workload> {
    let w = |name, what, conns, size, deflate| Workload {
        name,
        what,
        load: Load {
            conns,
            size,
            deflate,
        },
    };
    vec![
        w("100x20B", "100 connections x 20 B", 100, 20, false),
        w("10x16KiB", "10 connections x 16 KiB", 10, 16 * 1024, false),
        w("100x1KiB", "100 connections x 1 KiB", 100, 1024, false),
        w(
            "100x1KiB_deflate",
            "100 connections x 1 KiB JSON-like, permessage-deflate",
            100,
            1024,
            true,
        ),
    ]
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// `1234567.8` as `1,234,568`.
fn thousands(x: f64) -> String {
    let s = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        let cpu = args
            .iter()
            .position(|a| a == "--cpu")
            .and_then(|i| args.get(i + 1)?.parse().ok())
            .unwrap_or(1);
        servers::serve(&args[1], cpu);
    }
    let opts = Opts::parse(&args);
    let cpus = sys::cpus();
    let (gen_cpu, server_cpu) = if cpus >= 2 { (0, 1) } else { (0, 0) };
    sys::pin_to_cpu(gen_cpu);
    let nofile = sys::raise_nofile();

    println!("Machine: {} ({cpus} CPUs online)", cpu_model());
    println!("Compiler: {}", env!("BENCH_RUSTC_VERSION"));
    println!("Date: {}", today());
    println!(
        "Servers: protoswitch-tokio (this tree), {}",
        env!("BENCH_E2E_VERSIONS")
    );
    let order = if opts.together {
        format!(
            "every server at once in each round (sharing CPU {server_cpu}, each with its own \
             load thread, sharing CPU {gen_cpu}; the load column is all of them)"
        )
    } else {
        "each server once per round in rotated order".to_owned()
    };
    println!(
        "Method: echo over 127.0.0.1; each server a current-thread tokio runtime in its own \
         process pinned to CPU {server_cpu}, the load generator (one current-thread runtime \
         per server) pinned to CPU {gen_cpu}; one message in flight per connection; {} rounds, \
         {order}, {} s measured after 0.5 s of warm-up; medians over rounds",
        opts.rounds, opts.duration
    );
    println!("Load average at start: {}", load_average());

    let mut summary: Vec<(String, Vec<Option<f64>>, Option<f64>)> = Vec::new();
    if opts.throughput {
        for w in workloads() {
            let servers: Vec<&str> = SERVERS
                .iter()
                .copied()
                .filter(|s| opts.selects(w.name, s) && (!w.load.deflate || supports_deflate(s)))
                .collect();
            if servers.is_empty() {
                continue;
            }
            let row = throughput(&w, &servers, &opts, server_cpu);
            summary.push(row);
        }
        if !summary.is_empty() {
            println!("\n== summary: median msgs/s; last column protoswitch-tokio / best peer\n");
            println!(
                "| workload | {} | protoswitch / best peer |",
                SERVERS.join(" | ")
            );
            println!("|---|{}---|", "---:|".repeat(SERVERS.len()));
            for (name, rates, ratio) in &summary {
                let cells: Vec<String> = rates
                    .iter()
                    .map(|r| r.map_or("n/a".into(), thousands))
                    .collect();
                let ratio = ratio.map_or("n/a".into(), |r| format!("{r:.2}"));
                println!("| {name} | {} | {ratio} |", cells.join(" | "));
            }
        }
    }
    if opts.memory {
        memory(&opts, nofile, server_cpu);
    }
    println!("\nLoad average at end: {}", load_average());
}

/// Rounds of one workload; prints its table and returns its summary row.
fn throughput(
    w: &Workload,
    servers: &[&str],
    opts: &Opts,
    cpu: usize,
) -> (String, Vec<Option<f64>>, Option<f64>) {
    println!(
        "\n== {} — {}, binary messages, {} rounds of {} s",
        w.name, w.what, opts.rounds, opts.duration
    );
    let n = servers.len();
    let mut rates = vec![Vec::new(); n];
    let mut cpu_use = vec![Vec::new(); n];
    let mut load_use = vec![Vec::new(); n];
    let mut cost = vec![Vec::new(); n];
    let mut user_cost = vec![Vec::new(); n];
    let mut ratios = vec![Vec::new(); n];
    let mut failures = Vec::new();
    let warmup = Duration::from_millis(500);
    let duration = Duration::from_secs_f64(opts.duration);
    for round in 0..opts.rounds {
        let mut this_round = vec![None; n];
        let measured: Vec<(usize, Result<load::Measured, String>)> = if opts.together {
            // All at once: a load thread per server (pinned like this
            // one), measuring the same window; servers, then load threads,
            // started in the round's rotated order, so none is always first.
            let order: Vec<usize> = (0..n).map(|k| (k + round) % n).collect();
            let started: Vec<(usize, Server)> = order
                .iter()
                .map(|&i| (i, Server::start(servers[i], cpu)))
                .collect();
            std::thread::scope(|scope| {
                let runs: Vec<_> = started
                    .iter()
                    .map(|(i, server)| {
                        let run = scope.spawn(|| {
                            load::run(server.port, server.pid(), &w.load, warmup, duration)
                        });
                        (*i, run)
                    })
                    .collect();
                runs.into_iter()
                    .map(|(i, run)| {
                        let result = run.join();
                        (
                            i,
                            result.unwrap_or_else(|_| Err("load thread panicked".into())),
                        )
                    })
                    .collect()
            })
        } else {
            (0..n)
                .map(|k| {
                    let i = (k + round) % n;
                    let server = Server::start(servers[i], cpu);
                    (
                        i,
                        load::run(server.port, server.pid(), &w.load, warmup, duration),
                    )
                })
                .collect()
        };
        for (i, result) in measured {
            match result {
                Ok(m) => {
                    this_round[i] = Some(m.msgs_per_s);
                    rates[i].push(m.msgs_per_s);
                    cpu_use[i].push(m.server_cpu);
                    load_use[i].push(m.load_cpu);
                    cost[i].push(1e6 * m.server_cpu / m.msgs_per_s);
                    user_cost[i].push(1e6 * m.server_user / m.msgs_per_s);
                }
                Err(e) => failures.push(format!("round {round}, {}: {e}", servers[i])),
            }
        }
        // Ratios against the best peer of this round (protoswitch-tokio is
        // not a peer of itself).
        for i in 0..n {
            let best_peer = (0..n)
                .filter(|&j| servers[j] != "protoswitch-tokio" && j != i)
                .filter_map(|j| this_round[j])
                .fold(f64::NAN, f64::max);
            if let Some(r) = this_round[i]
                && best_peer.is_finite()
            {
                ratios[i].push(r / best_peer);
            }
        }
    }
    println!(
        "   server                  msgs/s   x best other peer   CPU server/load   server CPU us/msg (user)   msgs/s per round"
    );
    let mut medians = vec![None; n];
    for i in 0..n {
        let per_round: Vec<String> = rates[i].iter().map(|&r| thousands(r)).collect();
        let m = (!rates[i].is_empty()).then(|| median(&mut rates[i].clone()));
        medians[i] = m;
        let ratio = (!ratios[i].is_empty()).then(|| median(&mut ratios[i]));
        let cpu = (!cpu_use[i].is_empty()).then(|| median(&mut cpu_use[i]));
        let load = (!load_use[i].is_empty()).then(|| median(&mut load_use[i]));
        let us = (!cost[i].is_empty()).then(|| median(&mut cost[i]));
        let user = (!user_cost[i].is_empty()).then(|| median(&mut user_cost[i]));
        println!(
            "   {:<20} {:>11} {:>19} {:>17} {:>26}   {}",
            servers[i],
            m.map_or("failed".into(), thousands),
            ratio.map_or("n/a".into(), |r| format!("{r:.2}")),
            match (cpu, load) {
                (Some(c), Some(l)) => format!("{:.0} / {:.0} %", 100.0 * c, 100.0 * l),
                _ => "?".into(),
            },
            match (us, user) {
                (Some(u), Some(v)) => format!("{u:.2} ({v:.2})"),
                _ => "?".into(),
            },
            per_round.join(" / "),
        );
    }
    for f in &failures {
        println!("   FAILED {f}");
    }
    if n == 1 {
        println!("   (no peer supports permessage-deflate in its current release: no ratio)");
    }
    let row = SERVERS
        .iter()
        .map(|s| servers.iter().position(|x| x == s).and_then(|i| medians[i]))
        .collect();
    let ours = servers.iter().position(|s| *s == "protoswitch-tokio");
    let ratio = ours.and_then(|i| (!ratios[i].is_empty()).then(|| median(&mut ratios[i])));
    (w.name.to_owned(), row, ratio)
}

/// Peak RSS per connection: a fresh server, its resident set before any
/// connection, then `conns` connections echoing 1 KiB messages for a few
/// seconds, then its peak (VmHWM).
fn memory(opts: &Opts, nofile: u64, cpu: usize) {
    println!(
        "\n== memory per connection: (peak RSS with N connections echoing 1 KiB messages - \
         RSS before the first connection) / N; KiB = 1024 B"
    );
    println!("   server                       conns   base KiB   peak KiB   KiB/conn      msgs/s");
    for &conns in &opts.mem_conns {
        if (conns as u64) + 64 > nofile {
            println!(
                "   {conns} connections skipped: the open-file limit is {nofile} (raise the hard \
                 limit, `ulimit -Hn`)"
            );
            continue;
        }
        let mut rows: Vec<(&str, bool)> = SERVERS.iter().map(|s| (*s, false)).collect();
        rows.insert(1, ("protoswitch-tokio", true));
        for (name, deflate) in rows {
            let label = if deflate {
                format!("{name} (deflate)")
            } else {
                name.to_owned()
            };
            if !opts.pick(false, name) {
                continue;
            }
            let server = Server::start(name, cpu);
            std::thread::sleep(Duration::from_millis(200));
            let base = sys::status_kib(server.pid(), "VmRSS").unwrap_or(0);
            let load = Load {
                conns,
                size: 1024,
                deflate,
            };
            let r = load::run(
                server.port,
                server.pid(),
                &load,
                Duration::from_millis(500),
                Duration::from_secs(2),
            );
            let peak = sys::status_kib(server.pid(), "VmHWM").unwrap_or(0);
            drop(server);
            match r {
                Ok(m) => println!(
                    "   {label:<27} {conns:>6} {base:>10} {peak:>10} {:>10.1} {:>11}",
                    (peak.saturating_sub(base)) as f64 / conns as f64,
                    thousands(m.msgs_per_s)
                ),
                Err(e) => println!("   {label:<27} {conns:>6} FAILED {e}"),
            }
        }
    }
}
