//! The caller-buffer contract of the crate, once for the examples: a
//! machine call that writes into a buffer too small for its output writes
//! nothing and returns `Error::BufferTooSmall { needed }`.

use protoswitch::Error;

/// Runs a machine call that writes into a caller buffer and returns the
/// bytes it wrote. If the buffer is too small, the machine wrote nothing
/// and said how much it needs: grow to that and call again.
pub fn emit(mut write: impl FnMut(&mut [u8]) -> Result<usize, Error>) -> Result<Vec<u8>, Error> {
    let mut out = vec![0u8; 1024];
    loop {
        match write(&mut out) {
            Ok(n) => {
                out.truncate(n);
                return Ok(out);
            }
            // Growing only: a machine that asked for no more than it had
            // would otherwise be called forever.
            Err(Error::BufferTooSmall { needed }) if needed > out.len() => out.resize(needed, 0),
            Err(e) => return Err(e),
        }
    }
}
