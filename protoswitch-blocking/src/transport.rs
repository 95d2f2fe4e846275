//! What the adapter needs of a stream beyond `Read + Write`.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

/// Read and write timeouts (for the timers) and shutdown (to end the
/// connection).
///
/// The timers of a [`WebSocket`](crate::WebSocket) — keepalive, close
/// timeout — run on read and write timeouts: the adapter sets the read
/// timeout to the next deadline before each read, and the write timeout
/// to it before each write, so that a peer that stops reading (a write
/// that would block forever) is found by the same timers. The methods have
/// defaults that do nothing, so any stream works with an empty impl;
/// without timeouts the timers only run when bytes arrive (a silent peer
/// then blocks `read` until the transport ends, and a peer that does not
/// read blocks every write).
///
/// Implemented for [`TcpStream`] (and `UnixStream` on Unix).
///
/// ```
/// use std::io::{Read, Write};
/// use protoswitch_blocking::Transport;
///
/// /// An in-memory stream: no timers, no shutdown.
/// struct Pipe(std::io::Cursor<Vec<u8>>);
/// impl Read for Pipe {
///     fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> { self.0.read(b) }
/// }
/// impl Write for Pipe {
///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.write(b) }
///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// }
/// impl Transport for Pipe {}
/// ```
pub trait Transport {
    /// Makes the next reads give up after `timeout` (`None`: wait without
    /// limit) with [`io::ErrorKind::WouldBlock`] or
    /// [`io::ErrorKind::TimedOut`]. Returns `false` when the stream has no
    /// read timeouts (the default).
    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        let _ = timeout;
        Ok(false)
    }

    /// Makes the next writes give up after `timeout` (`None`: wait without
    /// limit) with [`io::ErrorKind::WouldBlock`] or
    /// [`io::ErrorKind::TimedOut`], having written nothing (a write that
    /// wrote part returns its count). Returns `false` when the stream has
    /// no write timeouts (the default).
    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        let _ = timeout;
        Ok(false)
    }

    /// The read timeout now set on the stream, if it has one (the default:
    /// none known). A rate-limit pause, which reads nothing, waits at most
    /// this long per `read` when it is the caller's own.
    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(None)
    }

    /// Ends the transport in both directions, once the connection is over.
    /// The default does nothing (dropping the stream ends it).
    fn shutdown(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Transport for TcpStream {
    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        TcpStream::set_read_timeout(self, timeout).map(|()| true)
    }

    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        TcpStream::read_timeout(self)
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        TcpStream::set_write_timeout(self, timeout).map(|()| true)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        TcpStream::shutdown(self, Shutdown::Both)
    }
}

#[cfg(unix)]
impl Transport for std::os::unix::net::UnixStream {
    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        std::os::unix::net::UnixStream::set_read_timeout(self, timeout).map(|()| true)
    }

    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        std::os::unix::net::UnixStream::read_timeout(self)
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        std::os::unix::net::UnixStream::set_write_timeout(self, timeout).map(|()| true)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        std::os::unix::net::UnixStream::shutdown(self, Shutdown::Both)
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        (**self).set_timeout(timeout)
    }

    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        (**self).read_timeout()
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        (**self).set_write_timeout(timeout)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        (**self).shutdown()
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        (**self).set_timeout(timeout)
    }

    fn read_timeout(&self) -> io::Result<Option<Duration>> {
        (**self).read_timeout()
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<bool> {
        (**self).set_write_timeout(timeout)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        (**self).shutdown()
    }
}
