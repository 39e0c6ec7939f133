//! Line reading: lines of at most a cap of bytes, with the digest of the whole input.

use std::io::{BufRead, Read};

use sha2::{Digest, Sha256};

/// Reads lines of at most `cap` bytes; a longer line is consumed (hashed, not buffered) and
/// reported as too long. Every byte also feeds the file digest.
pub(super) struct LineReader<R> {
    inner: R,
    cap: usize,
    file_hash: Sha256,
}

/// One line as read, borrowed from the reader's buffer until it is classified.
pub(super) struct RawLine<'a> {
    pub(super) bytes: &'a [u8],
    /// Set when the line was longer than the cap: (total length, sha256 of the whole line).
    pub(super) too_long: Option<(u64, String)>,
}

impl<R: Read> LineReader<std::io::BufReader<R>> {
    /// Reads `reader` through a 256 KiB buffer; lines longer than `cap` bytes are cut.
    pub(super) fn new(reader: R, cap: usize) -> Self {
        LineReader {
            inner: std::io::BufReader::with_capacity(256 * 1024, reader),
            cap,
            file_hash: Sha256::new(),
        }
    }
}

impl<R: BufRead> LineReader<R> {
    /// `sha256:<hex>` of every byte read.
    pub(super) fn digest(self) -> String {
        format!("sha256:{}", hex::encode(self.file_hash.finalize()))
    }

    /// The next line (without its `\n` or `\r\n`) in `buf`, `None` at the end of the input.
    pub(super) fn next_line<'b>(
        &mut self,
        buf: &'b mut Vec<u8>,
    ) -> std::io::Result<Option<RawLine<'b>>> {
        buf.clear();
        let mut total: u64 = 0;
        let mut overflow: Option<Sha256> = None;
        let mut saw_any = false;
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if avail.is_empty() {
                break;
            }
            saw_any = true;
            let (chunk, done) = match memchr_nl(avail) {
                Some(i) => (&avail[..=i], true),
                None => (avail, false),
            };
            self.file_hash.update(chunk);
            let body = if done {
                &chunk[..chunk.len() - 1]
            } else {
                chunk
            };
            total += body.len() as u64;
            match &mut overflow {
                Some(h) => h.update(body),
                None if buf.len() + body.len() > self.cap => {
                    let mut h = Sha256::new();
                    h.update(&buf[..]);
                    h.update(body);
                    let room = 200usize.saturating_sub(buf.len());
                    buf.extend_from_slice(&body[..room.min(body.len())]);
                    buf.truncate(200);
                    overflow = Some(h);
                }
                None => buf.extend_from_slice(body),
            }
            let n = chunk.len();
            self.inner.consume(n);
            if done {
                break;
            }
        }
        if !saw_any {
            return Ok(None);
        }
        if overflow.is_none() && buf.last() == Some(&b'\r') {
            buf.pop();
        }
        let too_long = overflow.map(|h| (total, format!("sha256:{}", hex::encode(h.finalize()))));
        Ok(Some(RawLine {
            bytes: buf,
            too_long,
        }))
    }
}

fn memchr_nl(b: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', b)
}
