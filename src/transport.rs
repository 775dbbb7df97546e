//! The byte streams connections run on: the [`Transport`] trait, plain TCP's impls of it and of
//! [`Output`] (with the `sendfile` and `MSG_MORE` system calls), and [`Wire`], a stream with the
//! connection's read buffer.
//!
//! TLS implements the same two traits in `tls.rs`; everything above this module sees only
//! them, so plain and TLS connections run the very same loop.

use std::fs::File;
use std::io::{self, BufRead, Read, Seek, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::http::response::Output;
use crate::request::BodyWire;

/// How many bytes a socket read asks for while a head is arriving. A body read at least this
/// large bypasses the buffer once it is empty.
const HEAD_READ_CHUNK: usize = 4096;

/// A byte stream the connection loop can run on.
pub trait Transport: Read + Output {
    /// Bounds the next blocking reads; `None` waits forever.
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// Bounds each blocking write, so a client that stops reading cannot hold a thread.
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    /// Ends the connection cleanly before the socket closes (TLS: `close_notify`).
    fn finish(&mut self) {}
}

impl Transport for TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }
}

impl Output for TcpStream {
    fn send_file(&mut self, file: &mut File, len: u64) -> Option<io::Result<u64>> {
        Some(sendfile_all(self, file, len))
    }

    /// `MSG_MORE`: with `TCP_NODELAY` set the head would otherwise leave as a packet of its
    /// own; this way the kernel fills it up with the first bytes `sendfile` queues.
    fn write_head_before_file(&mut self, head: &[u8]) -> io::Result<()> {
        let mut rest = head;
        while !rest.is_empty() {
            match rustix::net::send(&*self, rest, rustix::net::SendFlags::MORE) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// `sendfile(2)` until `len` bytes are out. The kernel copies page cache to the socket, so
/// a large body costs neither a user-space buffer nor a copy.
fn sendfile_all(socket: &TcpStream, file: &mut File, len: u64) -> io::Result<u64> {
    let mut offset = file.stream_position()?;
    let end = offset + len;
    while offset < end {
        // Linux caps one call at about 2 GiB.
        let want = (end - offset).min(1 << 30) as usize;
        let n = rustix::fs::sendfile(socket, &*file, Some(&mut offset), want)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank"));
        }
    }
    Ok(len)
}

/// The socket plus its read buffer: what the head parser reads and a body reader borrows.
pub struct Wire<S> {
    stream: S,
    buf: Vec<u8>,
    pos: usize,
    /// The read timeout last set on the socket: most requests need no new `setsockopt`.
    read_timeout: Option<Duration>,
}

impl<S> Wire<S> {
    /// Wraps `stream` with an empty read buffer.
    pub fn new(stream: S) -> Wire<S> {
        Wire {
            stream,
            buf: Vec::with_capacity(HEAD_READ_CHUNK),
            pos: 0,
            read_timeout: None,
        }
    }

    /// The stream itself, for writing responses past the buffer.
    pub fn stream(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Bytes read from the socket and not yet consumed (the start of a pipelined request).
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.pos..]
    }
}

impl<S: Transport> Wire<S> {
    /// Bounds the next blocking reads, with a system call only when the bound changes.
    pub fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        if self.read_timeout != Some(timeout) {
            self.stream.set_read_timeout(Some(timeout))?;
            self.read_timeout = Some(timeout);
        }
        Ok(())
    }
}

impl<S: Transport> BodyWire for Wire<S> {
    fn set_read_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        Wire::set_read_timeout(self, timeout)
    }
}

impl<S: Read> Wire<S> {
    /// Appends one socket read to the buffer; returns how many bytes came (0 = EOF).
    pub fn read_more(&mut self) -> io::Result<usize> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 0 {
            // Move a pipelined remainder to the front so the parser sees it at offset 0.
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let start = self.buf.len();
        self.buf.resize(start + HEAD_READ_CHUNK, 0);
        let result = self.stream.read(&mut self.buf[start..]);
        let n = *result.as_ref().unwrap_or(&0);
        self.buf.truncate(start + n);
        result
    }
}

impl<S: Read> Read for Wire<S> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.buf.len() && out.len() >= HEAD_READ_CHUNK {
            return self.stream.read(out);
        }
        let n = self.fill_buf()?.read(out)?;
        self.consume(n);
        Ok(n)
    }
}

impl<S: Read> BufRead for Wire<S> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            self.read_more()?;
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

impl<S: Write> Write for Wire<S> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.stream.write(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}
