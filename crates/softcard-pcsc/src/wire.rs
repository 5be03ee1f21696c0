//! The host protocol's codec: how a client process and the process that hosts the cards
//! (see [`host`](crate::host)) exchange PC/SC calls over a Unix socket. Pure: bytes in,
//! values out; the socket loops live in `host` and `remote`.
//!
//! Every message is a frame: a 4-byte big-endian length N (at most [`MAX_FRAME`]), then N
//! bytes. A request starts with its [`Op`] byte; a response starts with a 4-byte `SCARD_*`
//! code (0 for success) and carries its values only on success. Values: `u8`, `u32` and
//! `u64` big-endian; byte strings as a `u32` length and the bytes. One request, one
//! response, in order, on each connection.

use std::io::{self, Read, Write};

use crate::{Disposition, Dword, Error, Protocols, Scope, ShareMode};

/// The largest frame either side accepts: an extended APDU and its response fit.
pub const MAX_FRAME: usize = 1 << 20;

/// The calls a client makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    /// `SCardEstablishContext`: scope u8 -> context u64.
    Establish = 1,
    /// `SCardReleaseContext`: context.
    Release = 2,
    /// `SCardListReaders` -> count u32, names.
    ListReaders = 3,
    /// `SCardConnect`: context, reader, share u8, protocols u64 -> handle u64, protocol u32.
    Connect = 4,
    /// `SCardReconnect`: handle, share u8, protocols u64, disposition u8 -> protocol u32.
    Reconnect = 5,
    /// `SCardDisconnect`: handle, disposition u8.
    Disconnect = 6,
    /// `SCardBeginTransaction`: handle (the host waits).
    Begin = 7,
    /// `SCardEndTransaction`: handle, disposition u8.
    End = 8,
    /// `SCardTransmit`: handle, APDU -> response.
    Transmit = 9,
    /// `SCardStatus`: handle -> reader, powered u8, ATR.
    Status = 10,
    /// `SCardGetStatusChange`: context, timeout ms u64 (`u64::MAX`: none), count u32,
    /// then per reader its name and current state u64 -> per reader event state u64, ATR.
    StatusChange = 11,
    /// `SCardCancel`: context (sent on a connection of its own).
    Cancel = 12,
    /// Control: the readers with the image each serves -> count u32, then reader, image
    /// path (empty for none), present u8, the card's crypto backend (its name).
    CtlList = 20,
    /// Control: take the card out of a reader (kept by the host): reader.
    CtlRemove = 21,
    /// Control: put a reader's card back in: reader.
    CtlInsert = 22,
    /// Control: serve a card image in a new reader: path -> failed u8, then the reader's
    /// name (or, failed, the reason).
    CtlAttach = 23,
    /// Control: take a reader away with its card: reader.
    CtlDetach = 24,
    /// Control: power-cycle a reader's card: reader.
    CtlPowerCycle = 25,
    /// Control: inject faults: their lines (the text format of
    /// [`fault`](crate::fault)) -> failed u8, then the number injected u32 (or, failed,
    /// the reason).
    CtlFault = 26,
    /// Control: the faults in force -> count u32, then each as its line.
    CtlFaults = 27,
    /// Control: remove every injected fault.
    CtlClearFaults = 28,
}

impl Op {
    /// The op with this byte.
    pub fn from_u8(b: u8) -> Option<Op> {
        use Op::*;
        [
            Establish,
            Release,
            ListReaders,
            Connect,
            Reconnect,
            Disconnect,
            Begin,
            End,
            Transmit,
            Status,
            StatusChange,
            Cancel,
            CtlList,
            CtlRemove,
            CtlInsert,
            CtlAttach,
            CtlDetach,
            CtlPowerCycle,
            CtlFault,
            CtlFaults,
            CtlClearFaults,
        ]
        .into_iter()
        .find(|op| *op as u8 == b)
    }
}

/// A message being built, in its frame: the length is filled in by [`Writer::into_frame`],
/// so sending copies nothing.
#[derive(Debug)]
pub struct Writer(Vec<u8>);

impl Writer {
    /// A request for `op`.
    pub fn request(op: Op) -> Writer {
        Writer(vec![0, 0, 0, 0, op as u8])
    }

    /// A response with `result`'s code (values follow only on success).
    pub fn response(result: Result<(), Error>) -> Writer {
        let code = result.err().map_or(0, Error::code);
        let mut w = Writer(vec![0; 4]);
        w.0.extend_from_slice(&code.to_be_bytes());
        w
    }

    /// Appends a byte.
    pub fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }

    /// Appends a `u32`.
    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Appends a `u64`.
    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Appends a byte string.
    pub fn bytes(self, v: &[u8]) -> Self {
        let mut w = self.u32(v.len() as u32);
        w.0.extend_from_slice(v);
        w
    }

    /// The frame: the length, then the message.
    ///
    /// # Errors
    /// [`io::ErrorKind::InvalidInput`] for a message over [`MAX_FRAME`].
    pub fn into_frame(mut self) -> io::Result<Vec<u8>> {
        let len = self.0.len() - 4;
        if len > MAX_FRAME {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "frame too long",
            ));
        }
        if let Some(head) = self.0.get_mut(..4) {
            head.copy_from_slice(&(len as u32).to_be_bytes());
        }
        Ok(self.0)
    }

    /// Writes the frame to `stream`.
    ///
    /// # Errors
    /// Those of the stream and of [`Writer::into_frame`].
    pub fn send(self, stream: &mut impl Write) -> io::Result<()> {
        stream.write_all(&self.into_frame()?)
    }
}

/// A message being read. Reading past its end is [`Error::InternalError`]: the peer does
/// not speak this protocol.
#[derive(Debug)]
pub struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// Reads `body`.
    pub fn new(body: &'a [u8]) -> Reader<'a> {
        Reader(body)
    }

    /// Reads a response's values, after its code.
    pub fn values(response: &'a [u8]) -> Reader<'a> {
        Reader(response.get(4..).unwrap_or_default())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.0.len() < n {
            return Err(Error::InternalError);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        self.take(N)?.try_into().map_err(|_| Error::InternalError)
    }

    /// A byte.
    pub fn u8(&mut self) -> Result<u8, Error> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    /// A `u32`.
    pub fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A `u64`.
    pub fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A byte string.
    pub fn bytes(&mut self) -> Result<&'a [u8], Error> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    /// A response's code: `Ok` on success, the error otherwise.
    pub fn result(&mut self) -> Result<(), Error> {
        match self.u32()? {
            0 => Ok(()),
            code => Err(Error::from_code(code).unwrap_or(Error::InternalError)),
        }
    }

    /// A share mode byte.
    pub fn share(&mut self) -> Result<ShareMode, Error> {
        ShareMode::try_from(Dword::from(self.u8()?))
    }

    /// A disposition byte.
    pub fn disposition(&mut self) -> Result<Disposition, Error> {
        Disposition::try_from(Dword::from(self.u8()?))
    }

    /// A scope byte.
    pub fn scope(&mut self) -> Result<Scope, Error> {
        Scope::try_from(Dword::from(self.u8()?))
    }

    /// A protocol set.
    pub fn protocols(&mut self) -> Result<Protocols, Error> {
        Ok(Protocols::from_bits_retain(self.u64()?))
    }
}

/// Reads one frame; `None` at a clean end of stream (before a frame starts).
///
/// Give it a buffered stream (`BufReader`): the length and the body are read separately,
/// which is then one read of the stream per frame instead of two (one system call less
/// on each side of every call).
///
/// # Errors
/// Those of the stream; [`io::ErrorKind::InvalidData`] for a length over [`MAX_FRAME`];
/// [`io::ErrorKind::UnexpectedEof`] for a frame cut short.
pub fn read_frame(stream: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < len.len() {
        let n = match stream.read(len.get_mut(got..).unwrap_or(&mut [])) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        got += n;
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "frame too long"));
    }
    let mut body = vec![0; len];
    stream.read_exact(&mut body)?;
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip() {
        let frame = Writer::request(Op::Connect)
            .u64(7)
            .bytes(b"softcard PIV 00 00")
            .u8(2)
            .u64(3)
            .into_frame()
            .unwrap();
        let body = read_frame(&mut io::Cursor::new(frame)).unwrap().unwrap();
        let mut r = Reader::new(&body);
        assert_eq!(Op::from_u8(r.u8().unwrap()), Some(Op::Connect));
        assert_eq!(r.u64().unwrap(), 7);
        assert_eq!(r.bytes().unwrap(), b"softcard PIV 00 00");
        assert_eq!(r.share().unwrap(), ShareMode::Shared);
        assert_eq!(r.protocols().unwrap(), Protocols::T0 | Protocols::T1);
        assert_eq!(r.u8(), Err(Error::InternalError), "reading past the end");
    }

    #[test]
    fn responses_carry_the_scard_code() {
        let ok = Writer::response(Ok(())).u64(5).into_frame().unwrap();
        let ok = read_frame(&mut io::Cursor::new(ok)).unwrap().unwrap();
        let mut r = Reader::new(&ok);
        assert_eq!(r.result(), Ok(()));
        assert_eq!(r.u64().unwrap(), 5);
        assert_eq!(Reader::values(&ok).u64().unwrap(), 5);
        let err = Writer::response(Err(Error::SharingViolation))
            .into_frame()
            .unwrap();
        let err = read_frame(&mut io::Cursor::new(err)).unwrap().unwrap();
        assert_eq!(Reader::new(&err).result(), Err(Error::SharingViolation));
    }

    /// A stream that counts the reads made of it.
    struct Counted<R>(R, usize);

    impl<R: Read> Read for Counted<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.1 += 1;
            self.0.read(buf)
        }
    }

    #[test]
    fn a_buffered_stream_gives_a_frame_in_one_read() {
        let frame = Writer::request(Op::Transmit)
            .u64(3)
            .bytes(&[0, 0xFD, 0, 0, 0])
            .into_frame()
            .unwrap();
        let mut stream = io::BufReader::new(Counted(io::Cursor::new(frame.clone()), 0));
        assert_eq!(read_frame(&mut stream).unwrap().unwrap(), frame[4..]);
        assert_eq!(
            stream.get_ref().1,
            1,
            "one read for the length and the body"
        );
        let mut raw = Counted(io::Cursor::new(frame), 0);
        read_frame(&mut raw).unwrap().unwrap();
        assert_eq!(raw.1, 2, "unbuffered: the length, then the body");
    }

    #[test]
    fn frames_round_trip_and_refuse_oversized_lengths() {
        let mut buf = Vec::new();
        Writer::request(Op::Begin).u64(9).send(&mut buf).unwrap();
        Writer::request(Op::ListReaders).send(&mut buf).unwrap();
        let mut cursor = io::Cursor::new(buf);
        assert_eq!(
            read_frame(&mut cursor).unwrap().unwrap(),
            [7, 0, 0, 0, 0, 0, 0, 0, 9]
        );
        assert_eq!(read_frame(&mut cursor).unwrap().unwrap(), [3]);
        assert!(read_frame(&mut cursor).unwrap().is_none(), "clean end");
        assert_eq!(
            Writer::request(Op::Transmit)
                .bytes(&vec![0; MAX_FRAME])
                .into_frame()
                .unwrap_err()
                .kind(),
            io::ErrorKind::InvalidInput
        );
        let mut huge = io::Cursor::new((MAX_FRAME as u32 + 1).to_be_bytes().to_vec());
        assert_eq!(
            read_frame(&mut huge).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        let mut cut = io::Cursor::new(vec![0, 0, 0, 5, 1, 2]);
        assert_eq!(
            read_frame(&mut cut).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }
}
