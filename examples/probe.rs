//! Performs an upgrade handshake and explains, step by step, what happened.
//!
//! ```text
//! cargo run --example probe -- ws://host:port/path   (or wss://, http://, https://)
//!     [--upgrade TOKEN]...        offer h2c or any token instead of websocket
//!     [--protocol NAME]...        WebSocket subprotocols to offer
//!     [--deflate]                 offer permessage-deflate (RFC 7692), as browsers do
//!     [--header 'Name: value']... extra request headers
//!     [--expect-continue]         send a small body with Expect: 100-continue
//!     [--timeout SECONDS]         how long to wait for the response (default 10)
//!     [--hold SECONDS]            after a WebSocket switch, keep the connection open
//!                                 that long and report whether (and how) it was ended
//!     [--ping-every SECONDS]      while holding, send a Ping at that interval
//!     [--proxy http://HOST:PORT]  through an HTTP proxy: a CONNECT tunnel first
//!     [--cafile FILE]             wss://: trust the PEM certificates in FILE
//!                                 (default: the system's roots)
//! ```
//!
//! Every run ends with a `VERDICT:` line naming the likely culprit (stripped
//! hop-by-hop headers, an HTTP/1.0 hop, an idle timeout, a WAF or proxy
//! reset, a bad accept key, ...) and the fix. Exit status 0 only for a
//! verified switch (held open for `--hold` when given); 1 when the server
//! did not switch, switched wrongly, or the connection was ended while
//! held; 2 for bad arguments.

#[path = "support/blocking_ws.rs"]
mod blocking_ws;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant as StdInstant};

use blocking_ws::Transport;
use protoswitch::upgrade::{
    ClientEvent, ClientHandshake, ClientRequest, ClientState, DeflateConfig, Diagnosis,
    MissingUpgrade,
};
use protoswitch::ws::{self, Config, Connection, Event, MIN_TRANSMIT_BUFFER};
use protoswitch::{Error, Header, Headers, PeerErrorKind, RecvBuffer, StdClock};

const BODY: &[u8] = b"probe\n";

struct Args {
    url: String,
    offers: Vec<String>,
    protocols: Vec<String>,
    headers: Vec<(String, String)>,
    expect_continue: bool,
    deflate: bool,
    timeout: Duration,
    hold: Option<Duration>,
    ping_every: Option<Duration>,
    proxy: Option<String>,
    cafile: Option<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: probe ws://host:port/path [--upgrade TOKEN]... [--protocol NAME]... \
         [--header 'Name: value']... [--expect-continue] [--deflate] [--timeout SECONDS] \
         [--hold SECONDS] [--ping-every SECONDS] [--proxy http://HOST:PORT] [--cafile FILE]"
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut args = std::env::args().skip(1);
    let mut a = Args {
        url: String::new(),
        offers: Vec::new(),
        protocols: Vec::new(),
        headers: Vec::new(),
        expect_continue: false,
        deflate: false,
        timeout: Duration::from_secs(10),
        hold: None,
        ping_every: None,
        proxy: None,
        cafile: None,
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match arg.as_str() {
            "--upgrade" => a.offers.push(value()),
            "--protocol" => a.protocols.push(value()),
            "--deflate" => a.deflate = true,
            "--header" => {
                let h = value();
                let Some((name, v)) = h.split_once(':') else {
                    usage()
                };
                a.headers
                    .push((name.trim().to_owned(), v.trim().to_owned()));
            }
            "--expect-continue" => a.expect_continue = true,
            "--timeout" => a.timeout = seconds(&value()),
            "--hold" => a.hold = Some(seconds(&value())),
            "--ping-every" => a.ping_every = Some(seconds(&value())),
            "--proxy" => a.proxy = Some(value()),
            "--cafile" => a.cafile = Some(value()),
            _ if a.url.is_empty()
                && ["ws://", "wss://", "http://", "https://"]
                    .iter()
                    .any(|s| arg.starts_with(s)) =>
            {
                a.url = arg
            }
            _ => usage(),
        }
    }
    if a.url.is_empty() {
        usage();
    }
    if a.offers.is_empty() {
        a.offers.push("websocket".to_owned());
    }
    a
}

/// A positive number of seconds.
fn seconds(text: &str) -> Duration {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() => Duration::from_secs_f64(s),
        _ => usage(),
    }
}

fn main() {
    let args = parse_args();
    let verified = probe(&args);
    std::process::exit(if verified { 0 } else { 1 });
}

fn step(n: u32, title: &str) {
    println!("== {n}. {title}");
}

fn fail(why: &str) -> bool {
    println!("   FAIL: {why}");
    false
}

/// The one-line conclusion: the likely culprit and the fix.
fn verdict(line: &str) {
    println!("   VERDICT: {line}");
}

fn print_head(prefix: &str, bytes: &[u8]) {
    for line in String::from_utf8_lossy(bytes).split("\r\n") {
        if !line.is_empty() {
            println!("   {prefix} {line}");
        }
    }
}

fn print_response(version: u8, status: u16, reason: &str, headers: &Headers<'_>) {
    println!("   < HTTP/1.{version} {status} {reason}");
    for h in headers {
        println!("   < {}: {}", h.name, String::from_utf8_lossy(h.value));
    }
}

/// Returns `true` only for a verified switch.
fn probe(args: &Args) -> bool {
    let (tls, rest) = match args.url.split_once("://") {
        Some(("wss" | "https", rest)) => (true, rest),
        Some((_, rest)) => (false, rest),
        None => return fail("a URL starts with ws://, wss://, http:// or https://"),
    };
    let (authority, path) = match blocking_ws::split_ws_url(&format!("ws://{rest}")) {
        Ok(v) => v,
        Err(e) => return fail(&e.to_string()),
    };
    // split_ws_url puts port 80 where none was given.
    let authority = match (tls, rest.split('/').next().is_some_and(|a| a.contains(':'))) {
        (true, false) => authority.replacen(":80", ":443", 1),
        _ => authority,
    };
    let mut early = Vec::new();
    let tcp = match &args.proxy {
        None => {
            step(1, &format!("connect to {authority}"));
            match TcpStream::connect(&authority) {
                Ok(s) => s,
                Err(e) => {
                    fail(&format!("cannot connect: {e}"));
                    verdict(&format!(
                        "nothing accepts connections at {authority}: check the address, that the server (or proxy) runs, and firewalls"
                    ));
                    return false;
                }
            }
        }
        Some(proxy) => match through_proxy(proxy, &authority) {
            Some((stream, bytes)) => {
                early = bytes;
                stream
            }
            None => return false,
        },
    };
    println!("   connected");
    let mut stream = if tls {
        if !early.is_empty() {
            return fail("the proxy sent bytes before the TLS handshake");
        }
        match tls_handshake(tcp, &authority, args.cafile.as_deref()) {
            Some(s) => s,
            None => return false,
        }
    } else {
        Transport::Plain(tcp)
    };

    step(2, "request");
    let clock = StdClock::new();
    let mut masks = blocking_ws::StdMasks::default();
    let offers: Vec<&str> = args.offers.iter().map(String::as_str).collect();
    let protocols: Vec<&str> = args.protocols.iter().map(String::as_str).collect();
    let headers: Vec<Header<'_>> = args
        .headers
        .iter()
        .map(|(n, v)| Header::new(n, v.as_bytes()))
        .collect();
    let deflate = DeflateConfig::new();
    let deflate_offer = deflate.offer();
    let extensions: &[&str] = if args.deflate {
        &[deflate_offer.as_str()]
    } else {
        &[]
    };
    let mut request = ClientRequest::new("GET", &path, &authority, &offers)
        .websocket_key(masks.random_16())
        .subprotocols(&protocols)
        .extensions(extensions)
        .h2c_settings(&[(3, 100), (4, 65535)])
        .headers(&headers);
    if args.expect_continue {
        request = request.body(BODY.len() as u64).expect_continue();
    }
    let mut out = [0u8; 4096];
    let (mut client, n) =
        match ClientHandshake::start(&request, Default::default(), clock.now(), &mut out) {
            Ok(v) => v,
            Err(e) => return fail(&format!("cannot build the request: {e}")),
        };
    print_head(">", &out[..n]);
    if let Err(e) = stream.write_all(&out[..n]) {
        return fail(&format!("cannot send the request: {e}"));
    }

    step(3, "response");
    let deadline = StdInstant::now() + args.timeout;
    let mut buf: Vec<u8> = early;
    loop {
        // The body goes out when allowed: after 100 Continue, or after the
        // client's wait for it ran out.
        if client.state() == ClientState::SendingBody {
            println!("   > ({} body bytes)", BODY.len());
            if stream.write_all(BODY).is_err() || client.body_sent().is_err() {
                return fail("cannot send the request body");
            }
        }
        match client.receive(&buf) {
            Ok(got) => {
                let consumed = got.consumed;
                match got.event {
                    Some(ClientEvent::Interim(head)) => {
                        print_response(
                            head.minor_version(),
                            head.status(),
                            head.reason(),
                            head.headers(),
                        );
                    }
                    Some(ClientEvent::Switched {
                        response: head,
                        negotiation: switch,
                    }) => {
                        print_response(
                            head.minor_version(),
                            head.status(),
                            head.reason(),
                            head.headers(),
                        );
                        step(4, "diagnosis");
                        let protocol = switch.protocol().to_string();
                        let mut line = format!("OK: switched to {protocol}");
                        if protocol.eq_ignore_ascii_case("websocket") {
                            line.push_str("; Sec-WebSocket-Accept verified");
                            match switch.subprotocol() {
                                Some(p) => line.push_str(&format!("; subprotocol {p}")),
                                None if !args.protocols.is_empty() => line.push_str(
                                    "; the server selected none of the offered subprotocols",
                                ),
                                None => {}
                            }
                            // What permessage-deflate agreed (the machine
                            // has checked it against the offer).
                            match deflate.agreed(&switch) {
                                Some(p) => line.push_str(&format!(
                                    "; permessage-deflate: server {} window {} bits, client {} window {} bits",
                                    if p.server_no_context_takeover { "resets its" } else { "keeps its" },
                                    p.server_max_window_bits,
                                    if p.client_no_context_takeover { "resets its" } else { "keeps its" },
                                    p.client_max_window_bits,
                                )),
                                None if args.deflate => line.push_str(
                                    "; the server did not accept permessage-deflate (messages go uncompressed)",
                                ),
                                None => {}
                            }
                        }
                        println!("   {line}");
                        if buf.len() > consumed {
                            println!(
                                "   ({} bytes of the new protocol arrived with the 101)",
                                buf.len() - consumed
                            );
                        }
                        let websocket = protocol.eq_ignore_ascii_case("websocket");
                        return match args.hold {
                            Some(hold) if websocket => {
                                buf.drain(..consumed);
                                hold_open(stream, client, &buf, hold, args.ping_every)
                            }
                            _ => {
                                verdict("the upgrade works through whatever sits on the way");
                                true
                            }
                        };
                    }
                    Some(ClientEvent::Declined {
                        response,
                        diagnosis,
                    }) => {
                        print_response(
                            response.minor_version(),
                            response.status(),
                            response.reason(),
                            response.headers(),
                        );
                        let requires: Vec<String> = response
                            .headers()
                            .list("upgrade")
                            .map(|p| String::from_utf8_lossy(p).into_owned())
                            .collect();
                        let version = response
                            .headers()
                            .get_str("sec-websocket-version")
                            .map(str::to_owned);
                        // What a server built on this crate says the
                        // request lacked (upgrade_server's 426).
                        let missing = response
                            .headers()
                            .get_str(blocking_ws::MISSING_UPGRADE_FIELD)
                            .and_then(|token| MissingUpgrade::parse(token.trim()));
                        let status = response.status();
                        buf.drain(..consumed);
                        let body = read_body(&mut client, &mut stream, &mut buf, deadline);
                        step(4, "diagnosis");
                        return explain_declined(
                            status,
                            diagnosis,
                            &requires,
                            version.as_deref(),
                            missing,
                            &body,
                        );
                    }
                    Some(_) => {}
                    None => {
                        buf.drain(..consumed);
                        match read_more(&mut stream, &mut buf, &mut client, &clock, deadline) {
                            Ok(()) => continue,
                            Err(why) => {
                                step(4, "diagnosis");
                                fail(&why);
                                // A TLS record (alert or handshake) where an
                                // HTTP response was expected.
                                let tls_answer = matches!(buf.first(), Some(0x15 | 0x16))
                                    && buf.get(1) == Some(&0x03);
                                verdict(if tls_answer {
                                    "this port speaks TLS: use wss:// (or https://)"
                                } else if why.starts_with("timeout") {
                                    "no response in time: a proxy holding the request (or not an HTTP server); raise --timeout or check the proxy's logs"
                                } else {
                                    "a WAF or proxy reset (or the server dropped) the request before any response: check the WAF or proxy logs for this request"
                                });
                                return false;
                            }
                        }
                    }
                }
                buf.drain(..consumed);
            }
            Err(Error::Peer(e)) => {
                step(4, "diagnosis");
                let hint = match e.kind() {
                    PeerErrorKind::AcceptMismatch | PeerErrorKind::AcceptMissing => {
                        " (the server's WebSocket implementation is broken, or a proxy rewrote the handshake)"
                    }
                    PeerErrorKind::SwitchInHttp10 => " (an HTTP/1.0 peer or proxy sits in between)",
                    _ => "",
                };
                fail(&format!(
                    "the server switched wrongly: {}{hint}",
                    e.message()
                ));
                verdict(match e.kind() {
                    PeerErrorKind::AcceptMismatch | PeerErrorKind::AcceptMissing => {
                        "a bad Sec-WebSocket-Accept: the server computes it wrongly, or a proxy answered or rewrote the handshake; test the server directly"
                    }
                    PeerErrorKind::SwitchInHttp10 => {
                        "an HTTP/1.0 hop: use HTTP/1.1 on every hop (nginx: proxy_http_version 1.1)"
                    }
                    _ => "the server's handshake is broken: see the failure above",
                });
                return false;
            }
            Err(e) => return fail(&e.to_string()),
        }
    }
}

/// The TLS handshake for wss://, with what was agreed printed. `None`
/// (with the verdict printed) when it fails.
fn tls_handshake(tcp: TcpStream, authority: &str, cafile: Option<&str>) -> Option<Transport> {
    println!("   TLS handshake with {}", blocking_ws::host_of(authority));
    match blocking_ws::tls_connect(tcp, authority, cafile) {
        Ok(tls) => {
            let conn = &tls.conn;
            println!(
                "   TLS: {:?}, {:?}, certificate verified",
                conn.protocol_version()
                    .unwrap_or(rustls::ProtocolVersion::Unknown(0)),
                conn.negotiated_cipher_suite().map(|s| s.suite())
            );
            Some(Transport::Tls(Box::new(tls)))
        }
        Err(blocking_ws::TlsFailure::CaFile(text)) => {
            fail(&text);
            verdict("give --cafile a PEM file of the certificates to trust");
            None
        }
        Err(blocking_ws::TlsFailure::Handshake(text)) => {
            fail(&format!("TLS handshake failed: {text}"));
            verdict(
                &if text.contains("UnknownIssuer") || text.contains("certificate") {
                    format!(
                        "a TLS failure: the server's certificate is not trusted ({text}); give its authority with --cafile, or fix the certificate chain"
                    )
                } else {
                    format!(
                        "a TLS failure ({text}): is the port speaking TLS? does a proxy terminate TLS here?"
                    )
                },
            );
            None
        }
    }
}

/// Step 1 through an HTTP proxy: connect to it and ask for a tunnel to
/// `authority`; prints both heads. `None` (with the verdict printed) when
/// the proxy cannot be reached or refuses.
fn through_proxy(proxy: &str, authority: &str) -> Option<(TcpStream, Vec<u8>)> {
    step(
        1,
        &format!("connect to {authority} through the proxy {proxy}"),
    );
    let proxy_at = match blocking_ws::proxy_authority(proxy) {
        Ok(a) => a,
        Err(e) => {
            fail(&e.to_string());
            verdict("give the proxy as http://HOST:PORT");
            return None;
        }
    };
    let mut stream = match TcpStream::connect(&proxy_at) {
        Ok(s) => s,
        Err(e) => {
            fail(&format!("cannot connect to the proxy: {e}"));
            verdict(&format!(
                "nothing accepts connections at the proxy {proxy_at}: check its address and that it runs"
            ));
            return None;
        }
    };
    println!("   > CONNECT {authority} HTTP/1.1");
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    match blocking_ws::open_tunnel(&mut stream, authority) {
        Ok(Ok(early)) => {
            println!("   < 2xx: tunnel to {authority} open");
            let _ = stream.set_read_timeout(None);
            Some((stream, early))
        }
        Ok(Err(refused)) => {
            println!("   < {} {}", refused.status, refused.reason);
            let body = String::from_utf8_lossy(&refused.body);
            fail(&format!(
                "the proxy refused the tunnel with {}{}",
                refused.status,
                match body.trim() {
                    "" => String::new(),
                    text => format!(": {text}"),
                }
            ));
            verdict(&match refused.status {
                407 => "the proxy wants credentials (407) for CONNECT: check its authentication settings".to_owned(),
                403 => format!("the proxy does not allow tunnels to {authority} (403): add it to the proxy's allowed destinations"),
                502 | 504 => format!("the proxy could not reach {authority} ({}): check the server and the proxy's route to it", refused.status),
                status => format!("the proxy refused the tunnel ({status}): see its answer above"),
            });
            None
        }
        Err(e) => {
            fail(&format!("CONNECT failed: {e}"));
            verdict("the proxy did not answer CONNECT: is it an HTTP proxy that allows CONNECT?");
            None
        }
    }
}

/// Reads more response bytes, running the 100-continue timer.
fn read_more(
    stream: &mut Transport,
    buf: &mut Vec<u8>,
    client: &mut ClientHandshake<'_>,
    clock: &StdClock,
    deadline: StdInstant,
) -> Result<(), String> {
    let now = StdInstant::now();
    if now >= deadline {
        return Err("timeout: no complete response in time (is this an HTTP server? a proxy holding the request?)".into());
    }
    let mut wait = deadline - now;
    if let Some(t) = client.poll_timeout() {
        wait = wait.min(clock.to_std(t).saturating_duration_since(now));
    }
    let _ = stream.set_read_timeout(Some(wait.max(Duration::from_millis(1))));
    let mut chunk = [0u8; 4096];
    match stream.read(&mut chunk) {
        Ok(0) => Err(match buf.is_empty() {
            true => {
                "the connection closed before a response: the server or a proxy dropped the request"
                    .into()
            }
            false => "the connection closed in the middle of the response head".into(),
        }),
        Ok(n) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            let before = client.state();
            client.handle_timeout(clock.now());
            if before == ClientState::WaitingForContinue
                && client.state() == ClientState::SendingBody
            {
                println!("   (no 100 Continue within 1 s: sending the body anyway)");
            }
            Ok(())
        }
        Err(e) => Err(format!("reading the response failed: {e}")),
    }
}

/// Reads up to 4 KiB of a declined response's body.
fn read_body(
    client: &mut ClientHandshake<'_>,
    stream: &mut Transport,
    buf: &mut Vec<u8>,
    deadline: StdInstant,
) -> Vec<u8> {
    let mut body = Vec::new();
    let mut chunk = [0u8; 4096];
    while client.state() == ClientState::ReadingBody && body.len() < 4096 {
        match client.receive(buf) {
            Ok(got) => {
                if let Some(ClientEvent::Body(b)) = got.event {
                    body.extend_from_slice(b);
                }
                let consumed = got.consumed;
                let idle = got.event.is_none();
                buf.drain(..consumed);
                if !idle {
                    continue;
                }
            }
            Err(_) => break,
        }
        let now = StdInstant::now();
        if now >= deadline {
            break;
        }
        let _ = stream.set_read_timeout(Some((deadline - now).min(Duration::from_secs(2))));
        match stream.read(&mut chunk) {
            Ok(0) => {
                let _ = client.receive_eof();
                break;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => break,
        }
    }
    body
}

fn explain_declined(
    status: u16,
    diagnosis: Diagnosis,
    requires: &[String],
    version: Option<&str>,
    missing: Option<MissingUpgrade>,
    body: &[u8],
) -> bool {
    println!("   no 101: the server answered {status}");
    let detail = match diagnosis {
        Diagnosis::UpgradeRequired => {
            let mut d = format!("{}: Upgrade: {}", diagnosis.explain(), requires.join(", "));
            if let Some(v) = version {
                d.push_str(&format!("; Sec-WebSocket-Version: {v}"));
            }
            d
        }
        Diagnosis::Rejected if !body.is_empty() => {
            format!(
                "{}; the server's reason: {}",
                diagnosis.explain(),
                String::from_utf8_lossy(body).trim()
            )
        }
        Diagnosis::OfferStripped if !body.is_empty() => {
            format!(
                "{}; the server says: {}",
                diagnosis.explain(),
                String::from_utf8_lossy(body).trim()
            )
        }
        _ => diagnosis.explain().to_owned(),
    };
    fail(&detail);
    // A server built on this crate names in its 426 what the request
    // lacked when it arrived.
    let missing = missing.filter(|_| status == 426);
    let arrived_stripped = matches!(
        missing,
        Some(MissingUpgrade::NoUpgrade | MissingUpgrade::NoConnectionUpgrade)
    );
    verdict(&match diagnosis {
        Diagnosis::OfferStripped | Diagnosis::UpgradeRequired
            if missing == Some(MissingUpgrade::Http10) =>
        {
            "an HTTP/1.0 hop: a proxy forwarded the upgrade as HTTP/1.0, which cannot switch protocols; fix: HTTP/1.1 to the upstream (nginx: proxy_http_version 1.1)".to_owned()
        }
        _ if arrived_stripped || diagnosis == Diagnosis::OfferStripped => {
            "stripped hop-by-hop headers: an intermediary removed Upgrade/Connection before the server (or spoke HTTP/1.0 to it); fix: forward them (nginx: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\")".to_owned()
        }
        Diagnosis::Http10Peer => {
            "an HTTP/1.0 hop or server answered: use HTTP/1.1 end to end".to_owned()
        }
        Diagnosis::UpgradeIgnored => {
            "stripped hop-by-hop headers, or a server that does not upgrade at this path: forward Upgrade/Connection on every proxy, check the path".to_owned()
        }
        Diagnosis::GatewayProblem => format!(
            "the gateway ({status}): the proxy could not reach the server or does not pass upgrades; check the upstream and the proxy's upgrade settings"
        ),
        Diagnosis::NotAuthorized => format!(
            "refused with {status}: authentication, or a WAF rule; send the credentials or check the WAF log"
        ),
        Diagnosis::UpgradeRequired => {
            "a protocol or version mismatch: offer what the server's Upgrade (and Sec-WebSocket-Version) name".to_owned()
        }
        _ => format!("the server declined with {status}: {}", diagnosis.explain()),
    });
    false
}

/// After a WebSocket switch: keeps the connection open for `hold`,
/// sending a Ping every `ping_every` when given, and reports whether the
/// connection survived — and if not, when and how it ended: a Close from
/// the server, or the transport cut without one (an intermediary's idle
/// timeout). `true` when it stayed open.
fn hold_open(
    mut stream: Transport,
    client: ClientHandshake<'_>,
    leftover: &[u8],
    hold: Duration,
    ping_every: Option<Duration>,
) -> bool {
    let pinging = match ping_every {
        Some(p) => format!(", a Ping every {:.1} s", p.as_secs_f64()),
        None => ", silent".to_owned(),
    };
    step(5, &format!("hold for {:.1} s{pinging}", hold.as_secs_f64()));
    let clock = StdClock::new();
    let masks = blocking_ws::StdMasks::default();
    let mut conn =
        match Connection::from_client_handshake(client, Config::new(), clock.now(), masks) {
            Ok(c) => c,
            Err(e) => return fail(&e.to_string()),
        };
    let start = StdInstant::now();
    let end = start + hold;
    let mut next_ping = ping_every.map(|p| start + p);
    let (mut pings, mut pongs) = (0u32, 0u32);
    let mut buf = RecvBuffer::with_capacity(4096);
    buf.spare_mut()[..leftover.len()].copy_from_slice(leftover);
    buf.filled(leftover.len());
    let mut out = [0u8; MIN_TRANSMIT_BUFFER];
    let ended = loop {
        // What the machine owes (Pongs, a Close echo) goes out first.
        loop {
            let n = conn.poll_transmit(&mut out);
            if n == 0 {
                break;
            }
            if stream.write_all(&out[..n]).is_err() {
                break;
            }
        }
        // Frames received so far.
        while !buf.is_empty() {
            match conn.receive(buf.data_mut(), clock.now()) {
                Ok(got) => {
                    let consumed = got.consumed;
                    let event = got.event.map(|e| match e {
                        Event::Pong(_) => None,
                        Event::Close { code, reason } => Some(format!("Close {code:?} {reason:?}")),
                        _ => Some(String::new()),
                    });
                    buf.consume(consumed);
                    match event {
                        None => break,
                        Some(None) => pongs += 1,
                        Some(Some(close)) if !close.is_empty() => {
                            let at = start.elapsed().as_secs_f64();
                            println!("   the server sent {close} after {at:.1} s");
                            break;
                        }
                        Some(Some(_)) => {}
                    }
                }
                Err(e) => return fail(&format!("the server broke the protocol: {e}")),
            }
        }
        if conn.state() != ws::State::Open {
            let at = start.elapsed().as_secs_f64();
            break Some(format!(
                "the server closed the connection after {at:.1} s with a Close frame"
            ));
        }
        let now = StdInstant::now();
        if now >= end {
            break None;
        }
        if next_ping.is_some_and(|t| now >= t) {
            match conn.send_ping(b"probe", clock.now(), &mut out) {
                Ok(n) if stream.write_all(&out[..n]).is_ok() => pings += 1,
                _ => {}
            }
            next_ping = next_ping.zip(ping_every).map(|(t, p)| t + p);
            continue;
        }
        let until = next_ping.map_or(end, |t| t.min(end));
        let _ = stream.set_read_timeout(Some((until - now).max(Duration::from_millis(1))));
        match stream.read(buf.spare_mut()) {
            Ok(0) => {
                let at = start.elapsed().as_secs_f64();
                break Some(format!(
                    "the connection was closed after {at:.1} s without a Close frame"
                ));
            }
            Ok(n) => buf.filled(n),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => {
                let at = start.elapsed().as_secs_f64();
                break Some(format!("the connection was reset after {at:.1} s ({e})"));
            }
        }
    };
    println!("   {pings} Pings sent, {pongs} Pongs received");
    match ended {
        None => {
            println!(
                "   OK: the connection stayed open for {:.1} s",
                hold.as_secs_f64()
            );
            let n = conn
                .send_close(Some(1000), "", clock.now(), &mut out)
                .unwrap_or(0);
            let _ = stream.write_all(&out[..n]);
            verdict(&match ping_every {
                Some(p) => format!(
                    "the upgrade works, and Pings every {:.1} s keep the connection open",
                    p.as_secs_f64()
                ),
                None => "the upgrade works, and the connection survives silence".to_owned(),
            });
            true
        }
        Some(how) => {
            fail(&how);
            let silent = if ping_every.is_some() {
                ""
            } else {
                " of silence"
            };
            verdict(
                &if how.contains("Close frame") && !how.contains("without") {
                    "the server ended the connection: see its Close code and reason".to_owned()
                } else {
                    format!(
                        "an idle timeout: an intermediary ended the connection after {}{silent} without a Close from the server; send Pings more often than that (probe --ping-every), or raise the proxy's timeout (nginx: proxy_read_timeout; HAProxy: timeout tunnel)",
                        how.split(" after ")
                            .nth(1)
                            .and_then(|t| t.split(' ').next())
                            .map_or("a while".to_owned(), |t| format!("{t} s"))
                    )
                },
            );
            false
        }
    }
}
