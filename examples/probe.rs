//! Performs an upgrade handshake and explains, step by step, what happened.
//!
//! ```text
//! cargo run --example probe -- ws://host:port/path   (or wss://, http://, https://)
//!     [--upgrade TOKEN]...        offer h2c or any token instead of websocket
//!     [--protocol NAME]...        WebSocket subprotocols to offer
//!     [--deflate]                 offer permessage-deflate (RFC 7692), as browsers do
//!     [--header 'Name: value']... extra request headers
//!     [--origin ORIGIN]           the Origin a browser would send (servers that
//!                                 check it answer 403 without it)
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
//! hop-by-hop headers, an HTTP/1.0 hop, an idle timeout, a lifetime limit
//! that Pings do not reset, a WAF or proxy reset, a WAF rejecting frames,
//! a bad accept key, a TLS port spoken to in plain HTTP, ...) and the fix.
//! After a WebSocket switch the connection is watched for a second (for
//! `--hold` when given; the server's Pings answered, compressed messages
//! inflated): a switch closed at once is no working upgrade. Exit status 0
//! only for a verified switch that stayed open; 1 when the server did not
//! switch, switched wrongly, or the connection was ended; 2 for bad
//! arguments.

#[path = "support/blocking_ws.rs"]
mod blocking_ws;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant as StdInstant};

use blocking_ws::Transport;
use protoswitch::upgrade::{
    ClientEvent, ClientHandshake, ClientRequest, ClientState, DeflateConfig, DeflateParams,
    Diagnosis, MissingUpgrade,
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
    origin: Option<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: probe ws://host:port/path [--upgrade TOKEN]... [--protocol NAME]... \
         [--header 'Name: value']... [--origin ORIGIN] [--expect-continue] [--deflate] [--timeout SECONDS] \
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
        origin: None,
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
            "--origin" => a.origin = Some(value()),
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

/// A positive number of seconds, at most a day.
fn seconds(text: &str) -> Duration {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 86_400.0 => Duration::from_secs_f64(s),
        _ => usage(),
    }
}

/// A URL's `host[:port]`: the address to connect to (the scheme's port
/// when none is given) and the `Host` header (without a default port, as
/// browsers send it: a router matching the host exactly would not find
/// `example.com:443`). IPv6 addresses in brackets.
fn authority_parts(authority: &str, tls: bool) -> Result<(String, String), String> {
    if authority.contains('@') {
        return Err(
            "user:password@ in a URL is not sent: give credentials with --header 'Authorization: ...'"
                .to_owned(),
        );
    }
    let default = if tls { 443 } else { 80 };
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => {
            let (address, after) = rest
                .split_once(']')
                .ok_or("an IPv6 address goes in brackets: ws://[::1]:8080/")?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or("a port follows the ] after a colon")?,
                ),
            };
            (format!("[{address}]"), port)
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (authority.to_owned(), None),
        },
    };
    if host.is_empty() || host == "[]" {
        return Err("no host in the URL".to_owned());
    }
    let port = match port {
        None => default,
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("invalid port {p:?}"))?,
    };
    let connect = format!("{host}:{port}");
    let header = if port == default {
        host
    } else {
        connect.clone()
    };
    Ok((connect, header))
}

/// A TCP connection to `authority`, each of its addresses tried for at
/// most `timeout`.
fn connect_within(authority: &str, timeout: Duration) -> std::io::Result<TcpStream> {
    use std::net::ToSocketAddrs;
    let mut last = std::io::Error::new(ErrorKind::NotFound, "the name resolves to no address");
    for address in authority.to_socket_addrs()? {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
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
    let (url_authority, path) = match rest.find(['/', '?']) {
        Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
        Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
        None => (rest, "/".to_owned()),
    };
    let (authority, host_header) = match authority_parts(url_authority, tls) {
        Ok(v) => v,
        Err(e) => {
            fail(&e);
            verdict("fix the URL: ws://host[:port]/path, wss://[::1]:8443/path, ...");
            return false;
        }
    };
    let mut early = Vec::new();
    let tcp = match &args.proxy {
        None => {
            step(1, &format!("connect to {authority}"));
            match connect_within(&authority, args.timeout) {
                Ok(s) => s,
                Err(e) if e.kind() == ErrorKind::TimedOut => {
                    fail(&format!(
                        "cannot connect: no answer within {:.1} s",
                        args.timeout.as_secs_f64()
                    ));
                    verdict(&format!(
                        "nothing answers the connection attempts to {authority}: a firewall drops them (or the host is down); check firewalls and security groups"
                    ));
                    return false;
                }
                Err(e) => {
                    fail(&format!("cannot connect: {e}"));
                    verdict(&format!(
                        "nothing accepts connections at {authority}: check the address, that the server (or proxy) runs, and firewalls"
                    ));
                    return false;
                }
            }
        }
        Some(proxy) => match through_proxy(proxy, &authority, args.timeout) {
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
            fail("the proxy sent bytes after its 2xx, before the TLS handshake");
            verdict(
                "the proxy answered CONNECT with content (a 2xx to CONNECT has none, RFC 9110 §9.3.6): it is not a CONNECT proxy, or a broken one",
            );
            return false;
        }
        match tls_handshake(tcp, &authority, args.cafile.as_deref(), args.timeout) {
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
    let mut request = ClientRequest::new("GET", &path, &host_header, &offers)
        .websocket_key(masks.random_16())
        .subprotocols(&protocols)
        .extensions(extensions)
        .h2c_settings(&[(3, 100), (4, 65535)])
        .headers(&headers);
    if let Some(origin) = &args.origin {
        request = request.origin(origin);
    }
    if args.expect_continue {
        request = request.body(BODY.len() as u64).expect_continue();
    }
    let mut out = [0u8; 4096];
    let (mut client, n) = match ClientHandshake::start(
        &request,
        Default::default(),
        clock.now(),
        &mut out,
    ) {
        Ok(v) => v,
        Err(e) => {
            fail(&format!("cannot build the request: {e}"));
            verdict(
                "fix the arguments (Origin goes with --origin; Host, Upgrade, Connection and Sec-WebSocket-* are the probe's)",
            );
            return false;
        }
    };
    print_head(">", &out[..n]);
    if let Err(e) = stream.write_all(&out[..n]) {
        fail(&format!("cannot send the request: {e}"));
        verdict(
            "the connection was cut as soon as it opened: a firewall, WAF or proxy refuses this client (or the server is overloaded); check their logs",
        );
        return false;
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
                        if !protocol.eq_ignore_ascii_case("websocket") {
                            if args.hold.is_some() {
                                println!("   (--hold watches WebSocket connections only)");
                            }
                            verdict("the upgrade works through whatever sits on the way");
                            return true;
                        }
                        // Watched a moment even without --hold: a switch
                        // closed at once is no working upgrade.
                        let agreed = deflate.agreed(&switch).map(|p| (&deflate, p));
                        buf.drain(..consumed);
                        return hold_open(stream, client, &buf, args.hold, args.ping_every, agreed);
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
                        let retry_after = response
                            .headers()
                            .get_str("retry-after")
                            .map(|v| v.trim().to_owned());
                        let status = response.status();
                        buf.drain(..consumed);
                        let body = read_body(&mut client, &mut stream, &mut buf, deadline);
                        if !body.is_empty() {
                            println!("   < ({} body bytes) {}", body.len(), snippet(&body));
                        }
                        step(4, "diagnosis");
                        return explain_declined(
                            status,
                            diagnosis,
                            &requires,
                            version.as_deref(),
                            missing,
                            retry_after.as_deref(),
                            &body,
                        );
                    }
                    Some(_) => {}
                    None => {
                        buf.drain(..consumed);
                        match read_more(&mut stream, &mut buf, &mut client, &clock, deadline) {
                            Ok(()) => continue,
                            Err(why) => {
                                // What came of the head, unless a TLS record.
                                if buf.first().is_some_and(|&b| b >= 0x20) {
                                    print_head("<", &buf[..buf.len().min(4096)]);
                                }
                                step(4, "diagnosis");
                                fail(&why.describe());
                                verdict(why.verdict(&buf));
                                return false;
                            }
                        }
                    }
                }
                buf.drain(..consumed);
            }
            Err(Error::Peer(e)) => {
                // The head the machine refused, as it came.
                let head_end = buf
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .unwrap_or(buf.len().min(4096));
                print_head("<", &buf[..head_end]);
                let accepts = String::from_utf8_lossy(&buf[..head_end])
                    .split("\r\n")
                    .filter(|l| l.to_ascii_lowercase().starts_with("sec-websocket-accept:"))
                    .count();
                step(4, "diagnosis");
                let hint = match e.kind() {
                    PeerErrorKind::AcceptMismatch if accepts > 1 => {
                        " (the 101 has several Sec-WebSocket-Accept fields, where one is allowed: the server, or a proxy, added one)"
                    }
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
fn tls_handshake(
    tcp: TcpStream,
    authority: &str,
    cafile: Option<&str>,
    timeout: Duration,
) -> Option<Transport> {
    println!("   TLS handshake with {}", blocking_ws::host_of(authority));
    match blocking_ws::tls_connect(tcp, authority, cafile, timeout) {
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
        Err(blocking_ws::TlsFailure::TimedOut(after)) => {
            fail(&format!(
                "no TLS handshake within {:.1} s",
                after.as_secs_f64()
            ));
            verdict(
                "no TLS answer in time: is the port speaking TLS (a plain HTTP server waits silently for a request)? a proxy holding the connection? raise --timeout for a slow server",
            );
            None
        }
        Err(blocking_ws::TlsFailure::Handshake(text)) => {
            fail(&format!("TLS handshake failed: {text}"));
            verdict(&if text.contains("NotValidForName") {
                format!(
                    "a TLS failure: the server's certificate does not name {} ({text}); use a name the certificate lists, or add it to the certificate's subjectAltName",
                    blocking_ws::host_of(authority)
                )
            } else if text.contains("Expired") {
                format!("a TLS failure: the server's certificate has expired ({text}); renew it")
            } else if text.contains("UnknownIssuer") || text.contains("certificate") {
                format!(
                    "a TLS failure: the server's certificate is not trusted ({text}); give its authority with --cafile, or fix the certificate chain"
                )
            } else {
                format!(
                    "a TLS failure ({text}): is the port speaking TLS? does a proxy terminate TLS here?"
                )
            });
            None
        }
    }
}

/// Step 1 through an HTTP proxy: connect to it and ask for a tunnel to
/// `authority`; prints both heads. `None` (with the verdict printed) when
/// the proxy cannot be reached or refuses.
fn through_proxy(proxy: &str, authority: &str, timeout: Duration) -> Option<(TcpStream, Vec<u8>)> {
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
    let mut stream = match connect_within(&proxy_at, timeout) {
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
    let _ = stream.set_read_timeout(Some(timeout));
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

/// Why no complete response head came.
enum NoResponse {
    /// Nothing complete before the deadline.
    TimedOut,
    /// The connection closed (a FIN, or TLS without close_notify) before
    /// any byte of a response.
    ClosedBeforeResponse,
    /// The connection closed after `received` bytes of a head.
    ClosedInHead { received: usize },
    /// The read failed (a reset, most often).
    Failed(std::io::Error),
}

impl NoResponse {
    /// The failure line.
    fn describe(&self) -> String {
        match self {
            NoResponse::TimedOut => "timeout: no complete response in time (is this an HTTP server? a proxy holding the request?)".into(),
            NoResponse::ClosedBeforeResponse => {
                "the connection closed before a response: the server or a proxy dropped the request".into()
            }
            NoResponse::ClosedInHead { received } => {
                format!("the connection closed in the middle of the response head, after {received} bytes")
            }
            NoResponse::Failed(e) => format!("reading the response failed: {e}"),
        }
    }

    /// What it most likely means (`received`: the bytes that came).
    fn verdict(&self, received: &[u8]) -> &'static str {
        // A TLS record (alert or handshake) where an HTTP response was
        // expected.
        if matches!(received.first(), Some(0x15 | 0x16)) && received.get(1) == Some(&0x03) {
            return "this port speaks TLS: use wss:// (or https://)";
        }
        match self {
            NoResponse::TimedOut => {
                "no response in time: a proxy holding the request (or not an HTTP server); raise --timeout or check the proxy's logs"
            }
            NoResponse::ClosedBeforeResponse => {
                "the server or a proxy closed the connection without answering: a WAF or proxy dropping the request, or a server refusing it silently; check their logs for this request"
            }
            NoResponse::ClosedInHead { .. } => {
                "the response was cut off in its head: the server crashed or a proxy closed the connection mid-response (a response size or time limit); check the server's and the proxy's logs"
            }
            NoResponse::Failed(e) if e.kind() == ErrorKind::ConnectionReset => {
                "a WAF or proxy reset the connection (or the server crashed) before a complete response: check the WAF or proxy logs for this request"
            }
            NoResponse::Failed(_) => {
                "the connection failed before a complete response: see the failure above"
            }
        }
    }
}

/// Reads more of the response into `buf`, running the machine's timer
/// (the 100 Continue wait) when the read times out first.
fn read_more(
    stream: &mut Transport,
    buf: &mut Vec<u8>,
    client: &mut ClientHandshake<'_>,
    clock: &StdClock,
    deadline: StdInstant,
) -> Result<(), NoResponse> {
    let now = StdInstant::now();
    if now >= deadline {
        return Err(NoResponse::TimedOut);
    }
    let mut wait = deadline - now;
    if let Some(t) = client.poll_timeout() {
        wait = wait.min(clock.to_std(t).saturating_duration_since(now));
    }
    let _ = stream.set_read_timeout(Some(wait.max(Duration::from_millis(1))));
    let mut chunk = [0u8; 4096];
    let closed = || match buf.len() {
        0 => NoResponse::ClosedBeforeResponse,
        received => NoResponse::ClosedInHead { received },
    };
    match stream.read(&mut chunk) {
        Ok(0) => Err(closed()),
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
        // rustls: the TCP connection ended without a close_notify alert,
        // an end as plain as a FIN for this purpose.
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => Err(closed()),
        Err(e) => Err(NoResponse::Failed(e)),
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

/// The start of a body on one line: at most 200 characters, control
/// characters shown as spaces.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > 200 {
        format!("{line}...")
    } else {
        line
    }
}

/// What a declined response's body says about the request, as servers and
/// proxies word it: that the port speaks TLS (Go, nginx), or that the
/// upgrade headers did not arrive (gorilla/websocket, Node's ws, ...).
fn body_says(body: &[u8]) -> Option<&'static str> {
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    let any = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if any(&[
        "http request to an https server",
        "plain http request was sent to https port",
        "speak plain http to an ssl-enabled",
    ]) {
        Some("tls")
    } else if any(&[
        "'upgrade' token not found",
        "'websocket' token not found",
        "not using the websocket protocol",
        "invalid upgrade header",
        "missing upgrade header",
        "connection header",
        "upgrade header",
        "can \"upgrade\" only to \"websocket\"",
    ]) {
        Some("stripped")
    } else {
        None
    }
}

fn explain_declined(
    status: u16,
    diagnosis: Diagnosis,
    requires: &[String],
    version: Option<&str>,
    missing: Option<MissingUpgrade>,
    retry_after: Option<&str>,
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
    let retry = retry_after.map_or(String::new(), |r| format!(" (Retry-After: {r})"));
    verdict(&match diagnosis {
        _ if body_says(body) == Some("tls") => {
            "this port speaks TLS (its answer says so): use wss:// (or https://)".to_owned()
        }
        Diagnosis::OfferStripped | Diagnosis::UpgradeRequired
            if missing == Some(MissingUpgrade::Http10) =>
        {
            "an HTTP/1.0 hop: a proxy forwarded the upgrade as HTTP/1.0, which cannot switch protocols; fix: HTTP/1.1 to the upstream (nginx: proxy_http_version 1.1)".to_owned()
        }
        _ if arrived_stripped
            || diagnosis == Diagnosis::OfferStripped
            || body_says(body) == Some("stripped") =>
        {
            "stripped hop-by-hop headers: an intermediary removed Upgrade/Connection before the server (or spoke HTTP/1.0 to it); fix: forward them (nginx: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\")".to_owned()
        }
        Diagnosis::Http10Peer => {
            "an HTTP/1.0 hop or server answered: use HTTP/1.1 end to end".to_owned()
        }
        Diagnosis::UpgradeIgnored => {
            "stripped hop-by-hop headers, or a server that does not upgrade at this path: forward Upgrade/Connection on every proxy, check the path".to_owned()
        }
        Diagnosis::GatewayProblem => format!(
            "the gateway ({status}){retry}: the proxy could not reach the server or does not pass upgrades (or the server is down for maintenance); check the upstream and the proxy's upgrade settings"
        ),
        _ if status == 429 => format!(
            "rate limited (429) by the server or a proxy{retry}: connect less often, or raise the limit"
        ),
        Diagnosis::NotAuthorized => format!(
            "refused with {status}: authentication, a WAF rule, or an Origin check; send the credentials (--header), the Origin a browser would (--origin), or check the WAF log"
        ),
        Diagnosis::UpgradeRequired => {
            "a protocol or version mismatch: offer what the server's Upgrade (and Sec-WebSocket-Version) name".to_owned()
        }
        _ => format!("the server declined with {status}: {}", diagnosis.explain()),
    });
    false
}

/// How long the connection is watched after a WebSocket switch when no
/// `--hold` is given: long enough to see a Close, an end or a reset that
/// follows the 101 at once (a backend that refused the WebSocket behind a
/// proxy that already answered, a WAF), short enough not to slow a check.
const WATCH: Duration = Duration::from_secs(1);

/// An end within this long after our Ping is blamed on the Ping.
const AFTER_PING: Duration = Duration::from_millis(500);

/// After a WebSocket switch: keeps the connection open for `hold` (or
/// [`WATCH`]), answering the server's Pings at once and sending a Ping
/// every `ping_every` when given, and reports whether the connection
/// survived — and if not, when and how it ended: a Close from the server,
/// an end right after the switch, right after our Ping, despite answered
/// Pings, or after silence (an intermediary's idle timeout). `true` when
/// it stayed open.
fn hold_open(
    mut stream: Transport,
    client: ClientHandshake<'_>,
    leftover: &[u8],
    hold: Option<Duration>,
    ping_every: Option<Duration>,
    deflate: Option<(&DeflateConfig, DeflateParams)>,
) -> bool {
    let watching = hold.is_none();
    let hold = hold.unwrap_or(WATCH);
    let ping_every = ping_every.filter(|_| !watching);
    if watching {
        step(
            5,
            &format!("watch the connection for {:.1} s", hold.as_secs_f64()),
        );
    } else {
        let pinging = match ping_every {
            Some(p) => format!(", a Ping every {:.1} s", p.as_secs_f64()),
            None => ", silent".to_owned(),
        };
        step(5, &format!("hold for {:.1} s{pinging}", hold.as_secs_f64()));
    }
    let clock = StdClock::new();
    let masks = blocking_ws::StdMasks::default();
    let mut conn =
        match Connection::from_client_handshake(client, Config::new(), clock.now(), masks) {
            Ok(c) => c,
            Err(e) => return fail(&e.to_string()),
        };
    // Compressed messages are inflated (and their RSV1 bit allowed).
    let mut inflated = Vec::new();
    if let Some((config, params)) = deflate {
        conn = conn.with_deflate(config, params);
        inflated = vec![0; 64 * 1024];
    }
    let start = StdInstant::now();
    let end = start + hold;
    let mut next_ping = ping_every.map(|p| start + p);
    let mut last_ping: Option<StdInstant> = None;
    let (mut pings, mut pongs, mut frames) = (0u32, 0u32, 0u32);
    let mut buf = RecvBuffer::with_capacity(4096);
    buf.spare_mut()[..leftover.len()].copy_from_slice(leftover);
    buf.filled(leftover.len());
    let mut out = [0u8; MIN_TRANSMIT_BUFFER];
    let ended = loop {
        // Frames received so far (and what an inflater still holds).
        let mut again = !buf.is_empty();
        let mut close = None;
        while again {
            match conn.receive_into(buf.data_mut(), &mut inflated, clock.now()) {
                Ok(got) => {
                    again = got.event.is_some();
                    let consumed = got.consumed;
                    match got.event {
                        Some(Event::Pong(_)) => pongs += 1,
                        Some(Event::Close { code, reason }) => {
                            close = Some(format!("Close {code:?} {reason:?}"));
                        }
                        Some(Event::Ping(_) | Event::Data(_)) => frames += 1,
                        _ => {}
                    }
                    buf.consume(consumed);
                    if close.is_some() {
                        break;
                    }
                }
                Err(e) => {
                    let at = start.elapsed().as_secs_f64();
                    fail(&format!(
                        "the server broke the WebSocket protocol after {at:.1} s: {e}"
                    ));
                    verdict(
                        "broken WebSocket frames after the switch: the server's WebSocket is broken, or something on the way (a proxy that does not pass WebSocket after the 101) rewrote the bytes; test the server directly",
                    );
                    return false;
                }
            }
        }
        // What the machine owes (Pongs to the server's Pings, a Close
        // echo) goes out now, before any wait: a server that pings
        // expects its Pong in time.
        loop {
            let n = conn.poll_transmit(&mut out);
            if n == 0 || stream.write_all(&out[..n]).is_err() {
                break;
            }
        }
        if let Some(close) = close {
            let at = start.elapsed().as_secs_f64();
            println!("   the server sent {close} after {at:.1} s");
            break Some(Ended::Close(at));
        }
        let now = StdInstant::now();
        if now >= end {
            break None;
        }
        if next_ping.is_some_and(|t| now >= t) {
            match conn.send_ping(b"probe", clock.now(), &mut out) {
                Ok(n) if stream.write_all(&out[..n]).is_ok() => {
                    pings += 1;
                    last_ping = Some(StdInstant::now());
                }
                _ => {}
            }
            next_ping = next_ping.zip(ping_every).map(|(t, p)| t + p);
            continue;
        }
        let until = next_ping.map_or(end, |t| t.min(end));
        let _ = stream.set_read_timeout(Some((until - now).max(Duration::from_millis(1))));
        let read = stream.read(buf.spare_mut());
        let at = StdInstant::now();
        let how = match read {
            Ok(0) => "closed",
            Ok(n) => {
                buf.filled(n);
                continue;
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            // rustls: TCP ended without a close_notify alert.
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => "closed",
            Err(_) => "reset",
        };
        let since_ping = last_ping.map(|t| at.saturating_duration_since(t));
        break Some(Ended::Cut {
            how,
            at: at.duration_since(start).as_secs_f64(),
            after_unanswered_ping: since_ping
                .filter(|d| *d <= AFTER_PING && pongs < pings)
                .map(|d| d.as_secs_f64()),
        });
    };
    println!("   {pings} Pings sent, {pongs} Pongs received, {frames} frames from the server");
    match ended {
        None if watching => {
            println!(
                "   OK: still open {:.1} s after the switch",
                hold.as_secs_f64()
            );
            close_politely(&mut conn, &mut stream, &clock);
            verdict("the upgrade works through whatever sits on the way");
            true
        }
        None => {
            println!(
                "   OK: the connection stayed open for {:.1} s",
                hold.as_secs_f64()
            );
            close_politely(&mut conn, &mut stream, &clock);
            verdict(&match ping_every {
                Some(p) if pings > 0 => format!(
                    "the upgrade works, and Pings every {:.1} s keep the connection open",
                    p.as_secs_f64()
                ),
                _ if frames > 0 => format!(
                    "the upgrade works and the connection stayed open {:.1} s; the server sent {frames} frames meanwhile, so this did not test silence (an idle timeout may still cut a quiet connection)",
                    hold.as_secs_f64()
                ),
                _ => format!(
                    "the upgrade works, and the connection survives {:.1} s of silence",
                    hold.as_secs_f64()
                ),
            });
            true
        }
        Some(Ended::Close(at)) => {
            fail(&format!(
                "the server closed the connection after {at:.1} s with a Close frame"
            ));
            verdict(if at < WATCH.as_secs_f64() {
                "the server ended the connection right after the switch: see its Close code and reason (a policy, an authentication or an origin check after the handshake)"
            } else {
                "the server ended the connection: see its Close code and reason"
            });
            false
        }
        Some(Ended::Cut {
            how,
            at,
            after_unanswered_ping,
        }) => {
            fail(&format!(
                "the connection was {how} after {at:.1} s without a Close frame"
            ));
            verdict(&if let Some(after) = after_unanswered_ping {
                format!(
                    "the connection was {how} {:.0} ms after our Ping, which got no Pong: something on the way rejects WebSocket frames (a WAF inspecting them, or a proxy that does not pass WebSocket after the 101); check its logs",
                    after * 1000.0
                )
            } else if at < WATCH.as_secs_f64() && pings == 0 {
                format!(
                    "the connection was {how} right after the switch ({at:.1} s) without a Close: the server, or a backend behind a proxy that answered the handshake, dropped it; check the server's and the proxy's logs"
                )
            } else if let (Some(p), true) = (ping_every, pongs > 0) {
                format!(
                    "a connection lifetime limit, or a timeout that Ping/Pong traffic does not reset: Pings every {:.1} s were answered, yet the connection was {how} after {at:.1} s; raise that timeout (nginx: proxy_read_timeout and proxy_send_timeout; HAProxy: timeout tunnel; a load balancer's idle or maximum connection time)",
                    p.as_secs_f64()
                )
            } else {
                let silent = if ping_every.is_some() {
                    ""
                } else {
                    " of silence"
                };
                format!(
                    "an idle timeout: an intermediary ended the connection after {at:.1} s{silent} without a Close from the server; send Pings more often than that (probe --ping-every), or raise the proxy's timeout (nginx: proxy_read_timeout; HAProxy: timeout tunnel)"
                )
            });
            false
        }
    }
}

/// How a held connection ended.
enum Ended {
    /// The server's Close frame, after this many seconds.
    Close(f64),
    /// The transport was `closed` or `reset` without a Close, after `at`
    /// seconds; `after_unanswered_ping`: that long after a Ping of ours
    /// that got no Pong.
    Cut {
        how: &'static str,
        at: f64,
        after_unanswered_ping: Option<f64>,
    },
}

/// Ends a connection that stayed open with Close 1000 (best effort).
fn close_politely<M: ws::MaskSource>(
    conn: &mut Connection<M>,
    stream: &mut Transport,
    clock: &StdClock,
) {
    let mut out = [0u8; MIN_TRANSMIT_BUFFER];
    let n = conn
        .send_close(Some(1000), "", clock.now(), &mut out)
        .unwrap_or(0);
    let _ = stream.write_all(&out[..n]);
}
