//! The Sieve grammar (RFC 5228 §8.2) over tokens: commands with arguments, tests and blocks.
//! What each command and test means is checked later (`super::compile`).
//!
//! Invariants: pure; never panics; recursion is bounded by `max_depth` (blocks and test nesting
//! together), and the number of commands and tests by `max_nodes`, so a hostile script costs
//! at most its own size in memory and bounded stack.

use super::lex::{Spanned, Token};

/// An argument (RFC 5228 §2.6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    /// A string or a string list.
    Strings(Vec<String>),
    /// A number.
    Number(u64),
    /// A tag, lower-case, without its colon.
    Tag(String),
}

/// A test: `name arguments [test / test-list]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Test {
    /// Lower-case name.
    pub name: String,
    /// Arguments.
    pub args: Vec<Arg>,
    /// Nested tests (`not`, `allof`, `anyof`).
    pub tests: Vec<Test>,
    /// Line.
    pub line: usize,
}

/// A command: `name arguments [test / test-list] (";" / block)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Lower-case name.
    pub name: String,
    /// Arguments.
    pub args: Vec<Arg>,
    /// Its tests (`if`, `elsif`).
    pub tests: Vec<Test>,
    /// Its block, if it has one.
    pub block: Option<Vec<Command>>,
    /// Line.
    pub line: usize,
}

/// A syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Line.
    pub line: usize,
    /// What.
    pub message: String,
}

struct Parser<'a> {
    t: &'a [Spanned],
    pos: usize,
    max_depth: usize,
    nodes_left: usize,
}

impl Parser<'_> {
    fn line(&self) -> usize {
        self.t.get(self.pos).or(self.t.last()).map_or(1, |s| s.line)
    }

    fn err(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            line: self.line(),
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<&Token> {
        self.t.get(self.pos).map(|s| &s.token)
    }

    fn punct(&mut self, p: u8) -> bool {
        if self.peek() == Some(&Token::Punct(p)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn node(&mut self, depth: usize) -> Result<(), SyntaxError> {
        if depth > self.max_depth {
            return Err(self.err("nested too deeply"));
        }
        if self.nodes_left == 0 {
            return Err(self.err("too many commands and tests"));
        }
        self.nodes_left -= 1;
        Ok(())
    }

    fn commands(&mut self, depth: usize) -> Result<Vec<Command>, SyntaxError> {
        let mut out = Vec::new();
        while let Some(Token::Ident(_)) = self.peek() {
            out.push(self.command(depth)?);
        }
        Ok(out)
    }

    fn command(&mut self, depth: usize) -> Result<Command, SyntaxError> {
        self.node(depth)?;
        let line = self.line();
        let Some(Token::Ident(name)) = self.peek().cloned() else {
            return Err(self.err("a command name was expected"));
        };
        self.pos += 1;
        let args = self.arguments()?;
        let tests = self.tests(depth)?;
        let block = if self.punct(b';') {
            None
        } else if self.punct(b'{') {
            let body = self.commands(depth + 1)?;
            if !self.punct(b'}') {
                return Err(self.err("`}` was expected"));
            }
            Some(body)
        } else {
            return Err(self.err(format!("`;` or a block was expected after `{name}`")));
        };
        Ok(Command {
            name,
            args,
            tests,
            block,
            line,
        })
    }

    fn arguments(&mut self) -> Result<Vec<Arg>, SyntaxError> {
        let mut args = Vec::new();
        loop {
            match self.peek().cloned() {
                Some(Token::Str(s)) => {
                    self.pos += 1;
                    args.push(Arg::Strings(vec![s]));
                }
                Some(Token::Number(n)) => {
                    self.pos += 1;
                    args.push(Arg::Number(n));
                }
                Some(Token::Tag(t)) => {
                    self.pos += 1;
                    args.push(Arg::Tag(t));
                }
                Some(Token::Punct(b'[')) => {
                    self.pos += 1;
                    let mut list = Vec::new();
                    loop {
                        match self.peek().cloned() {
                            Some(Token::Str(s)) => {
                                self.pos += 1;
                                list.push(s);
                            }
                            _ => return Err(self.err("a string was expected in the list")),
                        }
                        if self.punct(b']') {
                            break;
                        }
                        if !self.punct(b',') {
                            return Err(self.err("`,` or `]` was expected"));
                        }
                    }
                    args.push(Arg::Strings(list));
                }
                _ => return Ok(args),
            }
        }
    }

    /// A single test or a parenthesized test list, if one follows.
    fn tests(&mut self, depth: usize) -> Result<Vec<Test>, SyntaxError> {
        if self.punct(b'(') {
            let mut list = vec![self.test(depth + 1)?];
            while self.punct(b',') {
                list.push(self.test(depth + 1)?);
            }
            if !self.punct(b')') {
                return Err(self.err("`,` or `)` was expected"));
            }
            return Ok(list);
        }
        match self.peek() {
            Some(Token::Ident(_)) => Ok(vec![self.test(depth + 1)?]),
            _ => Ok(Vec::new()),
        }
    }

    fn test(&mut self, depth: usize) -> Result<Test, SyntaxError> {
        self.node(depth)?;
        let line = self.line();
        let Some(Token::Ident(name)) = self.peek().cloned() else {
            return Err(self.err("a test was expected"));
        };
        self.pos += 1;
        let args = self.arguments()?;
        let tests = self.tests(depth)?;
        Ok(Test {
            name,
            args,
            tests,
            line,
        })
    }
}

/// Parses a token stream into commands.
pub fn parse(
    tokens: &[Spanned],
    max_depth: usize,
    max_nodes: usize,
) -> Result<Vec<Command>, SyntaxError> {
    let mut p = Parser {
        t: tokens,
        pos: 0,
        max_depth,
        nodes_left: max_nodes,
    };
    let commands = p.commands(0)?;
    if p.pos < tokens.len() {
        return Err(p.err("a command was expected"));
    }
    Ok(commands)
}

#[cfg(test)]
mod tests {
    use super::super::lex::tokens;
    use super::*;

    fn parsed(s: &str) -> Result<Vec<Command>, SyntaxError> {
        parse(&tokens(s).unwrap(), 8, 100)
    }

    #[test]
    fn commands_tests_and_blocks() {
        let c = parsed(
            "require [\"fileinto\", \"envelope\"];\nif anyof (header :contains \"subject\" \"x\", not exists \"to\") { fileinto \"X\"; } else { keep; }",
        )
        .unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(
            c[0].args,
            vec![Arg::Strings(vec!["fileinto".into(), "envelope".into()])]
        );
        assert_eq!(c[1].name, "if");
        assert_eq!(c[1].line, 2);
        assert_eq!(c[1].tests[0].name, "anyof");
        assert_eq!(c[1].tests[0].tests.len(), 2);
        assert_eq!(c[1].tests[0].tests[1].tests[0].name, "exists");
        assert_eq!(c[2].name, "else");
        assert_eq!(c[2].block.as_ref().unwrap()[0].name, "keep");
    }

    #[test]
    fn errors_and_bounds() {
        for bad in [
            "keep",
            "if true { keep;",
            "fileinto [\"a\" \"b\"];",
            "fileinto [];",
            "if anyof (true, ) { }",
            "; keep;",
            "keep; }",
        ] {
            assert!(parsed(bad).is_err(), "{bad}");
        }
        let deep = "if true { ".repeat(9) + &"}".repeat(9);
        assert!(parsed(&deep).unwrap_err().message.contains("deeply"));
        let nested = format!("if {}true{} {{}}", "not ".repeat(20), "");
        assert!(parsed(&nested).unwrap_err().message.contains("deeply"));
        let many = "keep;".repeat(101);
        assert!(parsed(&many).unwrap_err().message.contains("too many"));
    }
}
