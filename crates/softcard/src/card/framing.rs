//! Framing: the class byte, command chaining (CLA bit 0x10), response chaining with 61xx
//! and GET RESPONSE, and 6Cxx (ISO 7816-4 sections 5.1 to 5.3 and 11.6.1). Applets see
//! whole commands and give whole responses; everything between them and the bytes is here.

#![warn(clippy::arithmetic_side_effects)]

use zeroize::{Zeroize, Zeroizing};

use super::{CHAIN_LIMIT, Card};
use crate::{Command, Status};

const INS_GET_RESPONSE: u8 = 0xC0;
const INS_MANAGE_CHANNEL: u8 = 0x70;

/// What framing keeps between commands: a command chain being received and the rest of a
/// long response. Both may hold secrets and are wiped when dropped or replaced.
#[derive(Default)]
pub(super) struct Framing {
    chain: Option<Chain>,
    pending: Zeroizing<Vec<u8>>,
}

struct Chain {
    header: [u8; 4],
    data: Zeroizing<Vec<u8>>,
}

impl Framing {
    /// Forgets the chain and the pending response (power on or off, reset).
    pub(super) fn clear(&mut self) {
        self.chain = None;
        self.pending.zeroize();
    }
}

/// Appends to a buffer of secrets; when it must grow, the old allocation is wiped rather
/// than left behind by a reallocation.
fn append_wiping(buf: &mut Zeroizing<Vec<u8>>, data: &[u8]) {
    let needed = buf.len().saturating_add(data.len());
    if needed > buf.capacity() {
        let mut grown = Zeroizing::new(Vec::with_capacity(
            needed.max(buf.capacity().saturating_mul(2)),
        ));
        grown.extend_from_slice(buf);
        *buf = grown;
    }
    buf.extend_from_slice(data);
}

impl Card {
    /// Sends one command APDU; returns the response (data || SW1 SW2). A command sent to an
    /// unpowered card powers it first, as a reader does.
    pub fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
        if !self.powered {
            self.power_on();
        }
        let cmd = match Command::parse(apdu) {
            Ok(c) => c,
            Err(s) => {
                self.framing.clear();
                return s.to_bytes().to_vec();
            }
        };
        if let Err(s) = check_class(cmd.cla) {
            self.framing.pending.zeroize();
            return s.to_bytes().to_vec();
        }
        if cmd.ins == INS_GET_RESPONSE && !cmd.is_chained() && self.framing.chain.is_none() {
            return self.framing.get_response(&cmd);
        }
        self.framing.pending.zeroize();
        let ne = cmd.ne_or_max();
        match self.dispatch(&cmd) {
            Ok(data) => self.framing.respond(data, ne),
            Err(s) => s.to_bytes().to_vec(),
        }
    }

    /// Keeps a chain part, or runs a whole command (a lone one or a chain's last part).
    fn dispatch(&mut self, cmd: &Command<'_>) -> Result<Vec<u8>, Status> {
        let chain = &mut self.framing.chain;
        if cmd.ins == INS_MANAGE_CHANNEL {
            *chain = None;
            return Err(Status::LogicalChannelNotSupported);
        }
        let header = [cmd.cla & !0x10, cmd.ins, cmd.p1, cmd.p2];
        if cmd.is_chained() {
            let part = chain.get_or_insert_with(|| Chain {
                header,
                data: Zeroizing::new(Vec::new()),
            });
            if part.header != header {
                *chain = None;
                return Err(Status::LastCommandOfChainExpected);
            }
            if part.data.len().saturating_add(cmd.data.len()) > CHAIN_LIMIT {
                *chain = None;
                return Err(Status::NotEnoughMemory);
            }
            append_wiping(&mut part.data, cmd.data);
            return Ok(Vec::new());
        }
        match chain.take() {
            Some(chain) if chain.header != header => Err(Status::LastCommandOfChainExpected),
            Some(mut chain) => {
                if chain.data.len().saturating_add(cmd.data.len()) > CHAIN_LIMIT {
                    return Err(Status::NotEnoughMemory);
                }
                append_wiping(&mut chain.data, cmd.data);
                let whole = Command {
                    data: chain.data.as_slice(),
                    ..*cmd
                };
                self.execute(&whole)
            }
            None => self.execute(cmd),
        }
    }
}

impl Framing {
    /// The response to a whole command: all of it with 9000 if it fits `ne`, else its first
    /// `ne` bytes with 61xx, the rest kept for GET RESPONSE.
    fn respond(&mut self, mut data: Vec<u8>, ne: usize) -> Vec<u8> {
        if data.len() <= ne {
            data.extend_from_slice(&Status::Success.to_bytes());
            return data;
        }
        let Some(rest) = data.get_mut(ne..) else {
            return Status::Unknown.to_bytes().to_vec();
        };
        self.pending = Zeroizing::new(rest.to_vec());
        // What stays in `data`'s spare capacity is wiped before `data` leaves the card.
        rest.zeroize();
        data.truncate(ne);
        data.extend_from_slice(&remaining_status(self.pending.len()).to_bytes());
        data
    }

    /// GET RESPONSE (ISO 7816-4 section 11.6.1): the next part of a long response.
    fn get_response(&mut self, cmd: &Command<'_>) -> Vec<u8> {
        if cmd.p1 != 0 || cmd.p2 != 0 {
            return Status::IncorrectP1P2.to_bytes().to_vec();
        }
        if self.pending.is_empty() {
            return Status::ConditionsNotSatisfied.to_bytes().to_vec();
        }
        let available = self.pending.len();
        let ne = cmd.ne_or_max();
        if !cmd.extended && cmd.le.is_some_and(|le| le < 256 && le > available) {
            return Status::WrongLe(available as u8).to_bytes().to_vec();
        }
        let take = ne.min(available);
        let mut out = Vec::with_capacity(take.saturating_add(2));
        out.extend(self.pending.drain(..take));
        let sw = if self.pending.is_empty() {
            Status::Success
        } else {
            remaining_status(self.pending.len())
        };
        out.extend_from_slice(&sw.to_bytes());
        out
    }
}

fn remaining_status(n: usize) -> Status {
    Status::BytesRemaining(if n >= 256 { 0 } else { n as u8 })
}

/// The class byte (ISO 7816-4 section 5.1.1): logical channels and secure messaging are
/// not supported.
fn check_class(cla: u8) -> Result<(), Status> {
    if cla == 0xFF {
        return Err(Status::ClaNotSupported);
    }
    if cla & 0x03 != 0 {
        return Err(Status::LogicalChannelNotSupported);
    }
    if cla & 0x0C != 0 {
        return Err(Status::SecureMessagingNotSupported);
    }
    if cla & 0xE0 != 0 && cla & 0x80 == 0 {
        // 0x20..0x7F: further interindustry classes (channels 4-19) are not supported.
        return Err(Status::ClaNotSupported);
    }
    Ok(())
}
