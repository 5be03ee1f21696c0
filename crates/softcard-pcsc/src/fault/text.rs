//! The text format of faults: one fault (or a set of latencies) per line, words
//! `key=value` after a verb. Used by `--faults FILE` and `softcard ctl fault`.
//!
//! ```text
//! fail [count=N|always] error=SCARD_NAME [reader="NAME"]
//! answer (ins=XX | prefix=HEX | op=OPERATION) sw=XXXX [times=N|always] [reader="NAME"]
//! latency OPERATION=DURATION... [reader="NAME"]
//! latency profile=tpm [reader="NAME"]
//! remove (ins=XX | prefix=HEX | op=OPERATION) [back=DURATION] [times=N|always] [reader="NAME"]
//! reset (ins=XX | prefix=HEX | op=OPERATION) [times=N|always] [reader="NAME"]
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::{CardEvent, Fault, FaultKind, LatencyProfile, Operation, Pattern, Times};
use crate::Error;

/// A fault line that does not parse: its number (from 1) and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultParseError {
    /// The line number, from 1 (1 for a single line).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FaultParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for FaultParseError {}

/// Parses a file of faults: one per line; empty lines and lines starting with `#` are
/// ignored.
///
/// # Errors
/// The first line that does not parse.
pub fn parse_plan(text: &str) -> Result<Vec<Fault>, FaultParseError> {
    let mut faults = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        faults.extend(parse_line(line).map_err(|message| FaultParseError {
            line: i + 1,
            message,
        })?);
    }
    Ok(faults)
}

impl FromStr for Fault {
    type Err = FaultParseError;

    /// One line of the format giving one fault (`latency` with several operations, or
    /// with a profile, gives several: use [`parse_plan`]).
    fn from_str(s: &str) -> Result<Fault, FaultParseError> {
        let err = |message: String| FaultParseError { line: 1, message };
        let mut faults = parse_line(s.trim()).map_err(err)?;
        match (faults.pop(), faults.is_empty()) {
            (Some(f), true) => Ok(f),
            _ => Err(err(format!(
                "{s:?} is not one fault; parse it with parse_plan"
            ))),
        }
    }
}

/// Splits a line into words; a double-quoted part may hold spaces (`reader="softcard PIV
/// 00 00"`).
fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err("a quote is not closed".into());
    }
    if any {
        out.push(word);
    }
    Ok(out)
}

fn hex(value: &str) -> Result<Vec<u8>, String> {
    hex::decode(value)
        .ok()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| format!("{value:?} is not hex bytes"))
}

fn count(value: &str) -> Result<Times, String> {
    if value == "always" {
        return Ok(Times::Always);
    }
    match value.parse::<u32>() {
        Ok(n) if n > 0 => Ok(Times::Count(n)),
        _ => Err(format!(
            "{value:?} is not a count (a number from 1, or always)"
        )),
    }
}

/// A duration: a number (decimals allowed) and a unit, `us`, `ms` or `s`.
fn duration(value: &str) -> Result<Duration, String> {
    let bad = || format!("{value:?} is not a duration (e.g. 200ms, 1.5s, 500us)");
    let (number, scale) = if let Some(n) = value.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = value.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1.0)
    } else {
        return Err(bad());
    };
    let n: f64 = number.parse().map_err(|_| bad())?;
    if !n.is_finite() || n < 0.0 || n * scale > 3600.0 {
        return Err(format!("{value:?}: a duration is from 0 to 1 hour"));
    }
    Ok(Duration::from_secs_f64(n * scale))
}

fn show_duration(d: Duration) -> String {
    if !d.subsec_micros().is_multiple_of(1000) {
        format!("{}us", d.as_micros())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The pattern a `key=value` word gives (`ins=`, `prefix=`, `op=`), `None` for another key.
fn pattern_word(k: &str, v: &str) -> Result<Option<Pattern>, String> {
    Ok(match k {
        "ins" => match hex(v)?.as_slice() {
            [ins] => Some(Pattern::Ins(*ins)),
            _ => return Err(format!("ins={v}: one byte in hex, e.g. ins=87")),
        },
        "prefix" => Some(Pattern::Prefix(hex(v)?)),
        "op" => Some(Pattern::Operation(Operation::from_name(v).ok_or_else(
            || format!("op={v}: one of sign, decrypt, keygen, verify-pin, apdu"),
        )?)),
        _ => None,
    })
}

/// Sets `slot` to the pattern `p`, refusing a second one.
fn one_pattern(verb: &str, slot: &mut Option<Pattern>, p: Pattern) -> Result<(), String> {
    if slot.is_some() {
        return Err(format!("{verb}: give one of ins=, prefix=, op="));
    }
    *slot = Some(p);
    Ok(())
}

/// Parses one line (not empty, not a comment) into its faults.
fn parse_line(line: &str) -> Result<Vec<Fault>, String> {
    let words = words(line)?;
    let (verb, rest) = words.split_first().ok_or("an empty line")?;
    let mut reader = None;
    let mut pairs = Vec::new();
    for w in rest {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("{w:?}: expected key=value"))?;
        if k == "reader" {
            reader = Some(v.to_string());
        } else {
            pairs.push((k, v));
        }
    }
    let unknown = |k: &str| format!("{verb}: unknown key {k:?}");
    let kinds = match verb.as_str() {
        "fail" => {
            let (mut n, mut error) = (Times::Count(1), None);
            for (k, v) in pairs {
                match k {
                    "count" => n = count(v)?,
                    "error" => {
                        error = Some(Error::from_name(v).ok_or_else(|| {
                            format!(
                                "{v:?} is not an SCARD error name (e.g. SCARD_E_COMM_DATA_LOST)"
                            )
                        })?)
                    }
                    _ => return Err(unknown(k)),
                }
            }
            let error = error.ok_or("fail: error=SCARD_... is missing")?;
            vec![Fault::fail_transmit(1, error).times(n).kind]
        }
        "answer" => {
            let (mut pattern, mut sw, mut times) = (None, None, Times::Count(1));
            for (k, v) in pairs {
                if let Some(p) = pattern_word(k, v)? {
                    one_pattern(verb, &mut pattern, p)?;
                    continue;
                }
                match k {
                    "sw" => {
                        sw = match hex(v)?.as_slice() {
                            [a, b] => Some(u16::from_be_bytes([*a, *b])),
                            _ => return Err(format!("sw={v}: two bytes in hex, e.g. sw=6982")),
                        };
                    }
                    "times" => times = count(v)?,
                    _ => return Err(unknown(k)),
                }
            }
            vec![FaultKind::Answer {
                pattern: pattern.ok_or("answer: ins=, prefix= or op= is missing")?,
                sw: sw.ok_or("answer: sw= is missing")?,
                times,
            }]
        }
        "latency" => {
            let mut kinds = Vec::new();
            for (k, v) in pairs {
                if k == "profile" {
                    let profile = LatencyProfile::from_name(v)
                        .ok_or_else(|| format!("profile={v}: the profiles are: tpm"))?;
                    kinds.extend(profile.faults().into_iter().map(|f| f.kind));
                } else {
                    let operation = Operation::from_name(k).ok_or_else(|| {
                        format!(
                            "latency: {k:?} is not an operation (sign, decrypt, keygen, verify-pin, apdu) or profile"
                        )
                    })?;
                    kinds.push(FaultKind::Latency {
                        operation,
                        delay: duration(v)?,
                    });
                }
            }
            if kinds.is_empty() {
                return Err("latency: give OPERATION=DURATION or profile=tpm".into());
            }
            kinds
        }
        "remove" | "reset" => {
            let event = if verb == "remove" {
                CardEvent::Remove
            } else {
                CardEvent::Reset
            };
            let (mut pattern, mut times, mut back) = (None, Times::Count(1), None);
            for (k, v) in pairs {
                if let Some(p) = pattern_word(k, v)? {
                    one_pattern(verb, &mut pattern, p)?;
                    continue;
                }
                match k {
                    "times" => times = count(v)?,
                    "back" if event == CardEvent::Remove => back = Some(duration(v)?),
                    _ => return Err(unknown(k)),
                }
            }
            vec![FaultKind::Event {
                pattern: pattern
                    .ok_or_else(|| format!("{verb}: ins=, prefix= or op= is missing"))?,
                event,
                times,
                back,
            }]
        }
        other => {
            return Err(format!(
                "{other:?} is not a fault (fail, answer, latency, remove, reset)"
            ));
        }
    };
    Ok(kinds
        .into_iter()
        .map(|kind| Fault {
            kind,
            reader: reader.clone(),
        })
        .collect())
}

impl fmt::Display for Fault {
    /// The fault as a line of the format (it parses back to the same fault).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            FaultKind::FailTransmit { count, error } => {
                let count = match count {
                    &u32::MAX => "always".to_string(),
                    n => n.to_string(),
                };
                write!(f, "fail count={count} error={}", error.name())?;
            }
            FaultKind::Answer { pattern, sw, times } => {
                write!(
                    f,
                    "answer {} sw={sw:04x} times={}",
                    show_pattern(pattern),
                    show_times(*times)
                )?;
            }
            FaultKind::Event {
                pattern,
                event,
                times,
                back,
            } => {
                let verb = match event {
                    CardEvent::Remove => "remove",
                    CardEvent::Reset => "reset",
                };
                write!(f, "{verb} {}", show_pattern(pattern))?;
                if let Some(back) = back {
                    write!(f, " back={}", show_duration(*back))?;
                }
                write!(f, " times={}", show_times(*times))?;
            }
            FaultKind::Latency { operation, delay } => {
                write!(f, "latency {}={}", operation.name(), show_duration(*delay))?;
            }
        }
        if let Some(r) = &self.reader {
            write!(f, " reader=\"{r}\"")?;
        }
        Ok(())
    }
}

fn show_pattern(pattern: &Pattern) -> String {
    match pattern {
        Pattern::Ins(ins) => format!("ins={ins:02x}"),
        Pattern::Prefix(p) => format!("prefix={}", hex::encode(p)),
        Pattern::Operation(o) => format!("op={}", o.name()),
    }
}

fn show_times(times: Times) -> String {
    match times {
        Times::Always => "always".to_string(),
        Times::Count(n) => n.to_string(),
    }
}
