//! Sieve tokens (RFC 5228 §8.1): identifiers, tags, numbers with K/M/G quantifiers, quoted and
//! multi-line strings, and punctuation; comments and white space are skipped.
//!
//! Invariants: pure; never panics on any input; every token carries the line it starts on (for
//! error messages); a string's text is unescaped (RFC 5228 §2.4.2: a backslash takes the next
//! character literally) or dot-unstuffed (multi-line), and must be UTF-8; a number that does
//! not fit in a u64 after its quantifier is an error, never a wrap.

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// `identifier`
    Ident(String),
    /// `:identifier`
    Tag(String),
    /// A number, quantifier applied.
    Number(u64),
    /// A quoted or multi-line string, unescaped.
    Str(String),
    /// One of `[ ] ( ) { } , ;`
    Punct(u8),
}

/// A token and the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned {
    /// The token.
    pub token: Token,
    /// Its line.
    pub line: usize,
}

/// A lexical error: its line and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    /// Line.
    pub line: usize,
    /// What.
    pub message: &'static str,
}

struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
    line: usize,
}

impl Lexer<'_> {
    fn err(&self, message: &'static str) -> LexError {
        LexError {
            line: self.line,
            message,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
        }
        Some(b)
    }

    /// Skips white space and comments.
    fn skip(&mut self) -> Result<(), LexError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\r' | b'\n') => {
                    self.bump();
                }
                Some(b'#') => {
                    while let Some(b) = self.bump() {
                        if b == b'\n' {
                            break;
                        }
                    }
                }
                Some(b'/') if self.s.get(self.pos + 1) == Some(&b'*') => {
                    self.pos += 2;
                    loop {
                        match self.bump() {
                            None => return Err(self.err("unterminated comment")),
                            Some(b'*') if self.peek() == Some(b'/') => {
                                self.pos += 1;
                                break;
                            }
                            Some(_) => {}
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while matches!(self.peek(), Some(b) if b.is_ascii_alphanumeric() || b == b'_') {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.pos]).into_owned()
    }

    fn utf8(&self, bytes: Vec<u8>) -> Result<String, LexError> {
        String::from_utf8(bytes).map_err(|_| self.err("a string is not UTF-8"))
    }

    fn quoted(&mut self) -> Result<String, LexError> {
        let mut out = Vec::new();
        loop {
            match self.bump() {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => return self.utf8(out),
                Some(b'\\') => match self.bump() {
                    None => return Err(self.err("unterminated string")),
                    Some(b) => out.push(b),
                },
                Some(b) => out.push(b),
            }
        }
    }

    /// After `text:`: optional blanks and a comment or line end, then lines up to a lone `.`.
    fn multiline(&mut self) -> Result<String, LexError> {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.bump();
        }
        match self.peek() {
            Some(b'#') => {
                while let Some(b) = self.bump() {
                    if b == b'\n' {
                        break;
                    }
                }
            }
            Some(b'\r') if self.s.get(self.pos + 1) == Some(&b'\n') => {
                self.bump();
                self.bump();
            }
            Some(b'\n') => {
                self.bump();
            }
            _ => return Err(self.err("`text:` must end its line")),
        }
        let mut out = Vec::new();
        loop {
            let start = self.pos;
            let Some(nl) = self.s[start..].iter().position(|&b| b == b'\n') else {
                return Err(self.err("unterminated multi-line string"));
            };
            let mut line = &self.s[start..start + nl];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            self.pos = start + nl + 1;
            self.line += 1;
            if line == b"." {
                return self.utf8(out);
            }
            let line = line
                .strip_prefix(b".")
                .filter(|l| l.starts_with(b"."))
                .unwrap_or(line);
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }

    fn number(&mut self) -> Result<u64, LexError> {
        let start = self.pos;
        while matches!(self.peek(), Some(b) if b.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
        let n: u64 = digits.parse().map_err(|_| self.err("number too large"))?;
        let shift = match self.peek() {
            Some(b'K' | b'k') => 10,
            Some(b'M' | b'm') => 20,
            Some(b'G' | b'g') => 30,
            _ => 0,
        };
        if shift > 0 {
            self.pos += 1;
        }
        n.checked_mul(1 << shift)
            .ok_or_else(|| self.err("number too large"))
    }
}

/// Splits `script` into tokens.
pub fn tokens(script: &str) -> Result<Vec<Spanned>, LexError> {
    let mut l = Lexer {
        s: script.as_bytes(),
        pos: 0,
        line: 1,
    };
    let mut out = Vec::new();
    loop {
        l.skip()?;
        let line = l.line;
        let Some(b) = l.peek() else {
            return Ok(out);
        };
        let token = match b {
            b'[' | b']' | b'(' | b')' | b'{' | b'}' | b',' | b';' => {
                l.bump();
                Token::Punct(b)
            }
            b'"' => {
                l.bump();
                Token::Str(l.quoted()?)
            }
            b':' => {
                l.bump();
                if !matches!(l.peek(), Some(c) if c.is_ascii_alphabetic() || c == b'_') {
                    return Err(l.err("a tag needs a name after `:`"));
                }
                Token::Tag(l.word().to_ascii_lowercase())
            }
            b'0'..=b'9' => Token::Number(l.number()?),
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let word = l.word();
                if word.eq_ignore_ascii_case("text") && l.peek() == Some(b':') {
                    l.bump();
                    Token::Str(l.multiline()?)
                } else {
                    Token::Ident(word.to_ascii_lowercase())
                }
            }
            _ => return Err(l.err("unexpected character")),
        };
        out.push(Spanned { token, line });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Token> {
        tokens(s).unwrap().into_iter().map(|t| t.token).collect()
    }

    #[test]
    fn strings_numbers_tags_and_comments() {
        assert_eq!(
            toks("if size :over 100K { fileinto \"a\\\"b\\\\c\\d\"; } # x\n/* y\n */ stop;"),
            vec![
                Token::Ident("if".into()),
                Token::Ident("size".into()),
                Token::Tag("over".into()),
                Token::Number(100 * 1024),
                Token::Punct(b'{'),
                Token::Ident("fileinto".into()),
                Token::Str("a\"b\\cd".into()),
                Token::Punct(b';'),
                Token::Punct(b'}'),
                Token::Ident("stop".into()),
                Token::Punct(b';'),
            ]
        );
        assert_eq!(
            toks("vacation text: # c\r\nHello\r\n..dot\r\n.\r\n;"),
            vec![
                Token::Ident("vacation".into()),
                Token::Str("Hello\r\n.dot\r\n".into()),
                Token::Punct(b';'),
            ]
        );
        let spans = tokens("a\n\nb").unwrap();
        assert_eq!((spans[0].line, spans[1].line), (1, 3));
    }

    #[test]
    fn errors_name_their_line() {
        for (s, line) in [
            ("\n\"open", 2),
            ("/* x", 1),
            ("x\n\n99999999999999999999", 3),
            ("1G G 18446744073709551615G", 1),
            ("\n:", 2),
            ("@", 1),
            ("text: x", 1),
            ("text:\nno end", 2),
        ] {
            let e = tokens(s).unwrap_err();
            assert_eq!(e.line, line, "{s:?}: {e:?}");
        }
    }
}
