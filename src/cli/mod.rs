//! Subcommands: argv → [`args::Command`] → the server or an admin command.
//!
//! Admin commands run against the store directly when the server is stopped, or through the
//! server's control socket when it runs; the output is the same either way. Errors print one line
//! (`mailnook: …`) and exit non-zero; nothing here panics on bad input.

pub mod admin;
pub mod args;
pub mod backup;
pub mod collect;
pub mod control;
pub mod dns_records;
pub mod import_imap;
pub mod outbound;
pub mod queue;
pub mod spam_eval;
pub mod transfer;

use args::{AdminCommand, Command};
use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Exit code for usage errors.
pub const EXIT_USAGE: i32 = 2;

/// Runs the command line; returns the process exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    crate::logger::init();
    let cmd = match args::parse(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mailnook: {e}");
            return EXIT_USAGE;
        }
    };
    match cmd {
        Command::Help => {
            println!("{}", transfer::usage());
            0
        }
        Command::Version => {
            println!("mailnook {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Command::Serve(a) => match crate::server::run(a) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("mailnook: {e}");
                1
            }
        },
        Command::Admin { data, cmd } => run_admin(&data, cmd),
        Command::SpamEval(a) => spam_eval::run(&a),
    }
}

/// Reads a password: from the terminal without echo, else one line of stdin.
fn read_password(prompt: &str) -> Result<String, String> {
    let stdin = std::io::stdin();
    let mut line = String::new();
    if stdin.is_terminal() {
        eprint!("{prompt}");
        let saved = rustix::termios::tcgetattr(&stdin).map_err(|e| format!("terminal: {e}"))?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &quiet);
        let read = stdin.read_line(&mut line);
        let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &saved);
        eprintln!();
        read.map_err(|e| format!("reading password: {e}"))?;
    } else {
        std::io::BufReader::new(stdin.lock().take(4096))
            .read_line(&mut line)
            .map_err(|e| format!("reading password: {e}"))?;
    }
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    if pw.is_empty() {
        return Err("no password given (pass --password or write it to stdin)".into());
    }
    Ok(pw)
}

/// Runs an admin command through the control socket if the server is up, else on the store.
fn run_admin(data: &Path, mut cmd: AdminCommand) -> i32 {
    match &mut cmd {
        AdminCommand::UserAdd { password, .. } | AdminCommand::UserPasswd { password, .. }
            if password.is_none() =>
        {
            match read_password("Password: ") {
                Ok(p) => *password = Some(p),
                Err(e) => {
                    eprintln!("mailnook: {e}");
                    return 1;
                }
            }
        }
        AdminCommand::Collect(c) => {
            if let Err(e) = c.prepare(read_password) {
                eprintln!("mailnook: {e}");
                return 1;
            }
        }
        AdminCommand::Transfer(t) => {
            if let Err(e) = t.prepare(read_password) {
                eprintln!("mailnook: {e}");
                return 1;
            }
        }
        _ => {}
    }
    if let AdminCommand::Restore(file) = &mut cmd {
        // The server may run in another folder: it gets the file's absolute path.
        match std::fs::canonicalize(&*file) {
            Ok(p) => match p.into_os_string().into_string() {
                Ok(p) => *file = p,
                Err(_) => {
                    eprintln!("mailnook: {file}: the path is not valid UTF-8");
                    return 1;
                }
            },
            Err(e) => {
                eprintln!("mailnook: {file}: {e}");
                return 1;
            }
        }
    }
    if let AdminCommand::Backup { file } = &cmd {
        return backup_to(data, &cmd, file.as_deref());
    }
    run_to(data, &cmd, &mut std::io::stdout().lock())
}

/// Runs an admin command, through the control socket or on the store, with its output to `out`.
fn run_to(data: &Path, cmd: &AdminCommand, out: &mut dyn Write) -> i32 {
    let sock = data.join(control::SOCKET_NAME);
    match UnixStream::connect(&sock) {
        Ok(mut conn) => {
            let sent = control::write_request(&mut conn, &cmd.to_args());
            let answer =
                sent.and_then(|_| control::read_response(&mut conn, out, &mut std::io::stderr()));
            match answer {
                Ok(code) => i32::from(code),
                Err(e) => {
                    eprintln!("mailnook: control socket {}: {e}", sock.display());
                    1
                }
            }
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            run_local(data, cmd, out)
        }
        Err(e) => {
            eprintln!("mailnook: control socket {}: {e}", sock.display());
            1
        }
    }
}

/// `backup [FILE|-]`: the command's output goes to a new owner-only file (removed again if the
/// backup fails), or to standard output.
fn backup_to(data: &Path, cmd: &AdminCommand, file: Option<&str>) -> i32 {
    use std::os::unix::fs::OpenOptionsExt;
    if file == Some("-") {
        return run_to(data, cmd, &mut std::io::stdout().lock());
    }
    let path = file.map_or_else(
        || backup::file_name(crate::time::unix_now()),
        str::to_string,
    );
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path);
    let mut f = match f {
        Ok(f) => f,
        Err(e) => {
            eprintln!("mailnook: {path}: {e}");
            return 1;
        }
    };
    let code = run_to(data, cmd, &mut f);
    let synced = f.sync_all();
    if code != 0 || synced.is_err() {
        if let Err(e) = synced {
            eprintln!("mailnook: {path}: {e}");
        }
        let _ = std::fs::remove_file(&path);
        return code.max(1);
    }
    eprintln!("mailnook: backup written to {path}");
    0
}

/// Runs an admin command on the store directly (server stopped).
fn run_local(data: &Path, cmd: &AdminCommand, out: &mut dyn Write) -> i32 {
    // `init` and `restore` make a new box's store.
    let is_init = matches!(cmd, AdminCommand::Init { .. } | AdminCommand::Restore(_));
    if !data.join(crate::server::STORE_FILE).exists() && !is_init {
        eprintln!(
            "mailnook: no store in {} (run `mailnook init --domain D --data {0}` or `mailnook serve`)",
            data.display()
        );
        return 1;
    }
    if let Err(e) = admin::create_data_dir(data) {
        eprintln!("mailnook: {}: {e}", data.display());
        return 1;
    }
    let store = match crate::server::open_sized(
        &data.join(crate::server::STORE_FILE),
        crate::config::board::detect(),
    ) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mailnook: {e}");
            return 1;
        }
    };
    let result = admin::execute(cmd, &store, data, out);
    let _ = out.flush();
    store.close();
    match result {
        Ok(_) => 0,
        Err(admin::AdminError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("mailnook: {e}");
            1
        }
    }
}

/// The end of a control-socket answer, sent once the server has applied what the command
/// changed (so a client that sees success also sees the new settings in force).
pub struct PendingAnswer {
    conn: Option<UnixStream>,
    result: Result<(), String>,
    code: u8,
}

impl PendingAnswer {
    /// Sends the outcome frames (blocking).
    pub fn send(self) {
        if let Some(mut conn) = self.conn
            && let Err(e) = control::FrameWriter::new(&mut conn).finish(self.result, self.code)
        {
            log::debug!("control: client went away: {e}");
        }
    }
}

/// Serves one control-socket connection up to its outcome (blocking; runs on a worker thread of
/// the server). Returns what the command changed and the outcome still to be sent.
pub fn serve_control(
    mut conn: UnixStream,
    store: &crate::store::Store,
    data: &Path,
) -> (admin::Changed, PendingAnswer) {
    let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(10)));
    let nothing = |conn| {
        (
            admin::Changed::default(),
            PendingAnswer {
                conn,
                result: Ok(()),
                code: 1,
            },
        )
    };
    let request = match control::read_request(&mut conn) {
        Ok(r) => r,
        Err(e) => {
            log::info!("control: bad request: {e}");
            return nothing(None);
        }
    };
    let parsed = args::parse(request.into_iter().map(OsString::from).collect());
    let mut out = control::FrameWriter::new(&mut conn);
    let (result, code, changed) = match parsed {
        Ok(Command::Admin { cmd, .. }) => match admin::execute(&cmd, store, data, &mut out) {
            Ok(changed) => (Ok(()), 0, changed),
            Err(e) => (Err(format!("mailnook: {e}")), 1, admin::Changed::default()),
        },
        Ok(_) => (
            Err("mailnook: not an admin command".to_string()),
            EXIT_USAGE as u8,
            admin::Changed::default(),
        ),
        Err(e) => (
            Err(format!("mailnook: {e}")),
            EXIT_USAGE as u8,
            admin::Changed::default(),
        ),
    };
    if let Err(e) = out.flush() {
        log::debug!("control: client went away: {e}");
        return nothing(None);
    }
    (
        changed,
        PendingAnswer {
            conn: Some(conn),
            result,
            code,
        },
    )
}
