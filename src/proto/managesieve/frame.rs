//! ManageSieve command framing and tokens (RFC 5804 §4).
//!
//! A command is one or more lines, each but the last ending in a literal header `{n+}` (or the
//! `{n}` some clients send: ManageSieve has no continuation request, so both mean "n octets follow
//! the CRLF at once", RFC 5804 §4 `literal-c2s`). [`Assembler`] collects such a command into
//! [`Part`]s and [`tokens`] turns the parts into atoms and strings.
//!
//! Invariants:
//! - a line (without its literals) is at most `max_line` octets; a longer one is dropped up to its
//!   LF and reported once as [`Failure::LineTooLong`];
//! - the literals of one command hold at most `max_literals` octets together; a larger literal is
//!   counted off the input without being kept and reported as [`Failure::TooLarge`];
//! - literal octets are never read as commands, not even those of a dropped line or literal: the
//!   tail of a line too long to keep is still checked for a literal header, so a flood cannot
//!   desynchronise the session (the hazard imap-codec's fragmentizer warns about).

/// Octets of a dropped line's end kept to find a literal header in it (`{4294967295+}` is 13).
const TAIL: usize = 16;
/// Octets of a dropped command's first line kept for its verb (the longest is `RENAMESCRIPT`).
const VERB: usize = 16;

/// One piece of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Line text without its literal header or line ending.
    Text(Vec<u8>),
    /// A literal's octets.
    Literal(Vec<u8>),
}

/// Why a command was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// A line exceeded the line limit.
    LineTooLong,
    /// Its literals exceeded the literal limit.
    TooLarge,
}

/// What [`Assembler::next`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Assembled {
    /// The command is incomplete: feed more input.
    Incomplete,
    /// A whole command.
    Command(Vec<Part>),
    /// A whole command that was dropped; its first line's text as far as it was kept (for the
    /// verb).
    Dropped(Failure, Vec<u8>),
    /// A literal length beyond 32 bits (RFC 5804 §4 `number`): the stream cannot be followed.
    Unframeable,
}

/// Collects the lines and literals of one command at a time.
#[derive(Debug, Clone)]
pub struct Assembler {
    max_line: usize,
    max_literals: usize,
    parts: Vec<Part>,
    literals: usize,
    /// Literal octets still to come.
    literal_left: u64,
    failure: Option<Failure>,
    /// Inside a line too long to keep: its last octets so far.
    dropping_line: Option<Vec<u8>>,
    /// Verb text of a dropped command.
    first: Vec<u8>,
}

/// The length of a literal header ending `line` (`{n}` or `{n+}`), and where it starts.
/// `Err(())` when the number does not fit 32 bits or has more than 10 digits: a line may end in
/// such a run only as a literal header, and the decision must be the same whether the whole line
/// or only its last [`TAIL`] octets were kept.
fn literal_header(line: &[u8]) -> Result<Option<(usize, u64)>, ()> {
    let Some(body) = line.strip_suffix(b"}") else {
        return Ok(None);
    };
    let body = body.strip_suffix(b"+").unwrap_or(body);
    let digits = body.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits > 10 {
        return Err(());
    }
    let start = body.len() - digits;
    if digits == 0 || start == 0 || body[start - 1] != b'{' {
        return Ok(None);
    }
    let text = std::str::from_utf8(&body[start..]).map_err(|_| ())?;
    match text.parse::<u64>() {
        Ok(n) if n <= u64::from(u32::MAX) => Ok(Some((start - 1, n))),
        _ => Err(()),
    }
}

impl Assembler {
    /// Lines of at most `max_line` octets (CRLF included); literals of one command of at most
    /// `max_literals` octets together.
    pub fn new(max_line: usize, max_literals: usize) -> Assembler {
        Assembler {
            max_line: max_line.max(16),
            max_literals,
            parts: Vec::new(),
            literals: 0,
            literal_left: 0,
            failure: None,
            dropping_line: None,
            first: Vec::new(),
        }
    }

    /// Forgets any partly received command (after STARTTLS).
    pub fn reset(&mut self) {
        *self = Assembler::new(self.max_line, self.max_literals);
    }

    /// Whether part of a command has been received.
    pub fn in_command(&self) -> bool {
        !self.parts.is_empty()
            || self.literal_left > 0
            || self.dropping_line.is_some()
            || self.failure.is_some()
    }

    /// Consumes from `input`; returns how many octets were used and what was found. Call again
    /// with the rest while it returns something other than [`Assembled::Incomplete`].
    pub fn next(&mut self, input: &[u8]) -> (usize, Assembled) {
        let mut used = 0;
        loop {
            let rest = &input[used..];
            if self.literal_left > 0 {
                let n = (self.literal_left.min(rest.len() as u64)) as usize;
                if self.failure.is_none()
                    && let Some(Part::Literal(bytes)) = self.parts.last_mut()
                {
                    bytes.extend_from_slice(&rest[..n]);
                }
                used += n;
                self.literal_left -= n as u64;
                if self.literal_left > 0 {
                    return (used, Assembled::Incomplete);
                }
                continue;
            }
            let Some(nl) = memchr::memchr(b'\n', rest) else {
                if let Some(tail) = self.dropping_line.as_mut() {
                    keep_tail(tail, rest);
                    return (input.len(), Assembled::Incomplete);
                }
                if rest.len() >= self.max_line {
                    let mut tail = Vec::with_capacity(TAIL);
                    keep_tail(&mut tail, rest);
                    self.drop_line_start(rest);
                    self.dropping_line = Some(tail);
                    return (input.len(), Assembled::Incomplete);
                }
                return (used, Assembled::Incomplete);
            };
            used += nl + 1;
            let raw = &rest[..nl];
            let line = raw.strip_suffix(b"\r").unwrap_or(raw);
            let header = if let Some(mut tail) = self.dropping_line.take() {
                // The line's end as received: its CR may have come in an earlier read than
                // its LF, and only that one CR is not part of the line.
                keep_tail(&mut tail, raw);
                if tail.last() == Some(&b'\r') {
                    tail.pop();
                }
                literal_header(&tail).map(|h| h.map(|(_, n)| (None, n)))
            } else if nl + 1 > self.max_line {
                self.drop_line_start(line);
                literal_header(line).map(|h| h.map(|(_, n)| (None, n)))
            } else {
                literal_header(line).map(|h| h.map(|(at, n)| (Some(at), n)))
            };
            let header = match header {
                Ok(h) => h,
                Err(()) => {
                    self.reset();
                    return (used, Assembled::Unframeable);
                }
            };
            if self.failure.is_none() {
                let text = match header {
                    Some((Some(at), _)) => &line[..at],
                    _ => line,
                };
                self.parts.push(Part::Text(text.to_vec()));
            }
            match header {
                Some((_, n)) => {
                    self.literal_left = n;
                    if self.failure.is_none() {
                        if self.literals as u64 + n > self.max_literals as u64 {
                            self.fail(Failure::TooLarge);
                        } else {
                            self.literals += n as usize;
                            self.parts
                                .push(Part::Literal(Vec::with_capacity(n as usize)));
                        }
                    }
                }
                None => {
                    let found = match self.failure {
                        None => Assembled::Command(std::mem::take(&mut self.parts)),
                        Some(f) => Assembled::Dropped(f, std::mem::take(&mut self.first)),
                    };
                    self.reset();
                    return (used, found);
                }
            }
        }
    }

    /// A line is being dropped: the command fails, keeping its start for the verb.
    fn drop_line_start(&mut self, start: &[u8]) {
        if self.failure.is_none() && self.parts.is_empty() {
            self.first = start[..start.len().min(VERB)].to_vec();
        }
        self.fail(Failure::LineTooLong);
    }

    fn fail(&mut self, f: Failure) {
        if self.failure.is_none() {
            if let Some(Part::Text(t)) = self.parts.first()
                && self.first.is_empty()
            {
                self.first = t[..t.len().min(VERB)].to_vec();
            }
            self.parts.clear();
            self.failure = Some(f);
        }
    }
}

/// Keeps the last [`TAIL`] octets of `tail` followed by `more`.
fn keep_tail(tail: &mut Vec<u8>, more: &[u8]) {
    tail.extend_from_slice(&more[more.len().saturating_sub(TAIL)..]);
    let excess = tail.len().saturating_sub(TAIL);
    tail.drain(..excess);
}

/// A command's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An atom (RFC 5804 §4 `atom`): a command name, `ACTIVE`, a number.
    Atom(String),
    /// A quoted string or a literal, as octets.
    Str(Vec<u8>),
}

/// RFC 5804 §4 ATOM-CHAR: any CHAR except atom-specials `(`, `)`, `{`, SP, CTL, `%`, `*`, `"`,
/// `\`, `]`.
fn atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !b"(){%*\"\\]".contains(&b)
}

/// Splits a command into tokens; `Err` names the syntax error.
pub fn tokens(parts: &[Part]) -> Result<Vec<Token>, &'static str> {
    let mut out = Vec::new();
    for part in parts {
        let text = match part {
            Part::Literal(bytes) => {
                out.push(Token::Str(bytes.clone()));
                continue;
            }
            Part::Text(text) => text,
        };
        let mut i = 0;
        while i < text.len() {
            match text[i] {
                b' ' => i += 1,
                b'"' => {
                    // RFC 5804 §4: quoted = DQUOTE *QUOTED-CHAR DQUOTE; QUOTED-CHAR is a
                    // SAFE-UTF8-CHAR or "\" followed by DQUOTE or "\".
                    let mut s = Vec::new();
                    i += 1;
                    loop {
                        match text.get(i) {
                            None => return Err("Unterminated quoted string"),
                            Some(b'"') => break,
                            Some(b'\\') => match text.get(i + 1) {
                                Some(&c @ (b'"' | b'\\')) => {
                                    s.push(c);
                                    i += 2;
                                }
                                _ => return Err("Invalid escape in quoted string"),
                            },
                            Some(0 | b'\r' | b'\n') => {
                                return Err("Invalid character in quoted string");
                            }
                            Some(&c) => {
                                s.push(c);
                                i += 1;
                            }
                        }
                    }
                    i += 1;
                    if text.get(i).is_some_and(|&b| b != b' ') {
                        return Err("Missing space after quoted string");
                    }
                    out.push(Token::Str(s));
                }
                b if atom_char(b) => {
                    let start = i;
                    while i < text.len() && atom_char(text[i]) {
                        i += 1;
                    }
                    if text.get(i).is_some_and(|&b| b != b' ') {
                        return Err("Invalid character in atom");
                    }
                    let atom = std::str::from_utf8(&text[start..i]).expect("atom chars are ASCII");
                    out.push(Token::Atom(atom.to_string()));
                }
                _ => return Err("Invalid character"),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `pieces` one read at a time, keeping what was not consumed, as a driver does; every
    /// input here ends a command, so nothing may be left.
    fn feed(a: &mut Assembler, pieces: &[&[u8]]) -> Vec<Assembled> {
        let (mut found, mut held) = (Vec::new(), Vec::new());
        for piece in pieces {
            held.extend_from_slice(piece);
            loop {
                let (used, got) = a.next(&held);
                held.drain(..used);
                if got == Assembled::Incomplete {
                    break;
                }
                found.push(got);
            }
        }
        assert!(held.is_empty(), "{} octets left unread", held.len());
        found
    }

    fn run(a: &mut Assembler, input: &[u8]) -> Vec<Assembled> {
        feed(a, &[input])
    }

    fn text(s: &str) -> Part {
        Part::Text(s.as_bytes().to_vec())
    }

    #[test]
    fn literals_follow_their_header_at_once() {
        let mut a = Assembler::new(64, 100);
        let got = run(
            &mut a,
            b"PUTSCRIPT \"a\" {5+}\r\nkeep;\r\nRENAMESCRIPT {1}\r\nx {1+}\r\ny\r\nNOOP\n",
        );
        assert_eq!(
            got,
            vec![
                Assembled::Command(vec![
                    text("PUTSCRIPT \"a\" "),
                    Part::Literal(b"keep;".to_vec()),
                    text(""),
                ]),
                Assembled::Command(vec![
                    text("RENAMESCRIPT "),
                    Part::Literal(b"x".to_vec()),
                    text(" "),
                    Part::Literal(b"y".to_vec()),
                    text(""),
                ]),
                Assembled::Command(vec![text("NOOP")]),
            ]
        );
    }

    #[test]
    fn a_large_literal_is_counted_off_not_kept() {
        let mut a = Assembler::new(64, 10);
        let mut input = b"PUTSCRIPT \"a\" {20+}\r\n".to_vec();
        input.extend_from_slice(&[b'\n'; 20]);
        input.extend_from_slice(b"\r\nNOOP\r\n");
        assert_eq!(
            run(&mut a, &input),
            vec![
                Assembled::Dropped(Failure::TooLarge, b"PUTSCRIPT \"a\" ".to_vec()),
                Assembled::Command(vec![text("NOOP")]),
            ]
        );
    }

    #[test]
    fn a_long_line_ending_in_a_literal_header_still_skips_the_literal() {
        let mut a = Assembler::new(16, 100);
        let mut input = b"NOOP ".to_vec();
        input.extend_from_slice(&[b'x'; 40]);
        input.extend_from_slice(b" {6+}\r\nNOOP\r\n\r\nCAPABILITY\r\n");
        // Byte by byte too: the header may straddle the reads.
        for chunked in [false, true] {
            let got = if chunked {
                let bytes: Vec<&[u8]> = input.chunks(1).collect();
                feed(&mut a, &bytes)
            } else {
                run(&mut a, &input)
            };
            assert_eq!(
                got,
                vec![
                    Assembled::Dropped(Failure::LineTooLong, b"NOOP xxxxxxxxxxx".to_vec()),
                    Assembled::Command(vec![text("CAPABILITY")]),
                ]
            );
        }
    }

    #[test]
    fn only_one_cr_before_the_lf_ends_a_long_line() {
        // "{6+}\r" is no literal header, however the reads split the CRs.
        let mut input = b"NOOP ".to_vec();
        input.extend_from_slice(&[b'x'; 40]);
        input.extend_from_slice(b" {6+}\r\r\nCAPABILITY\r\n");
        for split in 1..input.len() {
            let mut a = Assembler::new(16, 100);
            let got = feed(&mut a, &[&input[..split], &input[split..]]);
            assert_eq!(
                got.last(),
                Some(&Assembled::Command(vec![text("CAPABILITY")])),
                "split at {split}"
            );
        }
    }

    #[test]
    fn a_literal_beyond_32_bits_is_unframeable() {
        let mut a = Assembler::new(64, 10);
        assert_eq!(
            run(&mut a, b"NOOP {4294967296+}\r\n"),
            vec![Assembled::Unframeable]
        );
    }

    #[test]
    fn tokens_of_atoms_quoted_strings_and_literals() {
        let parts = vec![
            text("HAVESPACE \"a \\\"b\\\\\" 100 "),
            Part::Literal(b"{x}".to_vec()),
            text(""),
        ];
        assert_eq!(
            tokens(&parts).unwrap(),
            vec![
                Token::Atom("HAVESPACE".into()),
                Token::Str(b"a \"b\\".to_vec()),
                Token::Atom("100".into()),
                Token::Str(b"{x}".to_vec()),
            ]
        );
        for bad in [
            "NOOP \"x",
            "NOOP \"\\n\"",
            "NOOP \"a\"b",
            "NOOP (x)",
            "NOOP a\"b\"",
        ] {
            assert!(tokens(&[text(bad)]).is_err(), "{bad}");
        }
    }
}
