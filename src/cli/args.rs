//! Command-line grammar: argv → [`Command`]. Admin commands also travel over the control
//! socket as argv ([`AdminCommand::to_args`]) and are parsed here again by the server, so the two
//! paths cannot drift apart.

use lexopt::prelude::*;
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;

/// Default data folder.
pub const DEFAULT_DATA: &str = "./mailnook-data";

/// Environment variable naming the data folder when `--data` is not given (the Debian package's
/// operators set it to /var/lib/mailnook).
pub const DATA_ENV: &str = "MAILNOOK_DATA";

/// The data folder of a command line without `--data`: `$MAILNOOK_DATA` when set and not empty,
/// else [`DEFAULT_DATA`].
pub fn default_data() -> PathBuf {
    match std::env::var_os(DATA_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(DEFAULT_DATA),
    }
}

/// Options of `mailnook serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeArgs {
    /// Data folder.
    pub data: PathBuf,
    /// Port base (standard port P listens on base+P); `None` picks 0 as root, 10000 otherwise.
    pub port_base: Option<u16>,
    /// Bind address; `None` picks all interfaces for production ports, loopback for dev ports.
    pub bind: Option<IpAddr>,
    /// Mail domain for a first run.
    pub domain: Option<String>,
}

/// Commands that inspect or change the store, run locally or through the control socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminCommand {
    /// `init --domain D [--hostname H] [--admin EMAIL]`
    Init {
        /// Mail domain.
        domain: String,
        /// Host name.
        hostname: Option<String>,
        /// Postmaster recipient.
        admin: Option<String>,
    },
    /// `user add EMAIL [--password P]`
    UserAdd {
        /// Address.
        email: String,
        /// Password (read from stdin when absent).
        password: Option<String>,
    },
    /// `user del EMAIL`
    UserDel(String),
    /// `user passwd EMAIL [--password P]`
    UserPasswd {
        /// Address.
        email: String,
        /// Password (read from stdin when absent).
        password: Option<String>,
    },
    /// `user list`
    UserList,
    /// `alias add ALIAS TARGET…`
    AliasAdd {
        /// The alias address.
        alias: String,
        /// Users' addresses.
        targets: Vec<String>,
    },
    /// `alias del ALIAS [TARGET…]` (the whole alias without targets)
    AliasDel {
        /// The alias address.
        alias: String,
        /// Users' addresses.
        targets: Vec<String>,
    },
    /// `alias list`
    AliasList,
    /// `list add LIST [members|anyone|moderators] [reply-to-list]`: creates a mailing list or
    /// sets its policies.
    ListSet {
        /// The list address.
        list: String,
        /// Who may post (`members`, `anyone`, `moderators`).
        posting: String,
        /// Replies go to the list.
        reply_to_list: bool,
    },
    /// `list del LIST`
    ListDel(String),
    /// `list join|leave LIST ADDR…` and `list moderator add|del LIST ADDR…`
    ListMembers {
        /// The list address.
        list: String,
        /// Add (or remove).
        add: bool,
        /// Moderators rather than members.
        moderators: bool,
        /// Addresses.
        addresses: Vec<String>,
    },
    /// `list show [LIST]`: one list with its members, or every list.
    ListShow(Option<String>),
    /// `sieve put USER NAME FILE`: stores (compiled first) the script in FILE.
    SievePut {
        /// The user.
        user: String,
        /// Script name.
        name: String,
        /// The script file (absolute: the server may be the one reading it).
        file: PathBuf,
    },
    /// `sieve get USER NAME`
    SieveGet {
        /// The user.
        user: String,
        /// Script name.
        name: String,
    },
    /// `sieve list USER`
    SieveList(String),
    /// `sieve activate USER NAME` or, with `None`, `sieve deactivate USER`
    SieveActivate {
        /// The user.
        user: String,
        /// Script name.
        name: Option<String>,
    },
    /// `sieve del USER NAME`
    SieveDel {
        /// The user.
        user: String,
        /// Script name.
        name: String,
    },
    /// `quota set EMAIL SIZE` (the size as typed: checked when run, like the web form's)
    QuotaSet {
        /// Address.
        email: String,
        /// `500M`, `2G`, a number of bytes; 0 for unlimited.
        size: String,
    },
    /// `quota show [EMAIL]`: one user's usage and quota, or every user's.
    QuotaShow(Option<String>),
    /// `domain add D`
    DomainAdd(String),
    /// `domain del D`
    DomainDel(String),
    /// `domain list`
    DomainList,
    /// `config get KEY`
    ConfigGet(String),
    /// `config set KEY VALUE`
    ConfigSet(String, String),
    /// `config unset KEY`
    ConfigUnset(String),
    /// `config list`
    ConfigList,
    /// `mail list USER [MAILBOX]`
    MailList {
        /// The user's address.
        user: String,
        /// Mailbox; all mailboxes when absent.
        mailbox: Option<String>,
    },
    /// `mail show USER MAILBOX UID`
    MailShow {
        /// The user's address.
        user: String,
        /// Mailbox name.
        mailbox: String,
        /// UID.
        uid: u32,
    },
    /// `check`
    Check,
    /// `reparse`
    Reparse,
    /// `queue list`
    QueueList,
    /// `queue show ID` (the id as typed: checked when run, so a bad one is a one-line error)
    QueueShow(String),
    /// `queue retry ID` or, with `None`, `queue retry --all`
    QueueRetry(Option<String>),
    /// `queue delete ID`
    QueueDelete(String),
    /// `dns records [--ip ADDR]...`
    DnsRecords {
        /// This server's public addresses (A/AAAA records for the host name).
        ips: Vec<IpAddr>,
    },
    /// `check outbound [--domain D]`
    CheckOutbound {
        /// The domain whose mail exchanger is tried (`gmail.com` when absent).
        domain: Option<String>,
    },
    /// `export`, `import`, `import-imap` ([`super::transfer`]).
    Transfer(super::transfer::TransferCommand),
    /// `collect add|list|del|run` ([`super::collect`]).
    Collect(super::collect::CollectCommand),
    /// `backup [FILE|-]`: the backup is the command's output.
    Backup {
        /// Where the command line writes it (`-`: standard output; absent: a dated file in the
        /// current folder). Not sent over the control socket: the server writes the backup to
        /// the connection and the command line to this file.
        file: Option<String>,
    },
    /// `restore FILE` (into an empty store; the command line sends an absolute path).
    Restore(String),
}

/// Most targets one `alias` command names (the control socket bounds a request's arguments).
pub const MAX_ALIAS_TARGETS_PER_COMMAND: usize = 16;

fn alias_targets(targets: &[&str]) -> Result<Vec<String>, String> {
    if targets.len() > MAX_ALIAS_TARGETS_PER_COMMAND {
        return Err(format!(
            "at most {MAX_ALIAS_TARGETS_PER_COMMAND} targets per command; run it again for more"
        ));
    }
    Ok(targets.iter().map(|t| t.to_string()).collect())
}

/// Most `--ip` options of `dns records` (the control socket bounds a request's arguments).
pub const MAX_IPS: usize = 8;

/// Options of `mailnook spam eval`.
#[derive(Debug, Clone, PartialEq)]
pub struct SpamEvalArgs {
    /// Training messages: `ham/` and `spam/` folders of message files.
    pub train: PathBuf,
    /// Test messages, laid out the same way.
    pub test: PathBuf,
    /// Junk threshold; the default [`crate::spam::Thresholds`] when absent.
    pub threshold: Option<f64>,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// An admin command on the store in `data`.
    Admin {
        /// Data folder.
        data: PathBuf,
        /// The command.
        cmd: AdminCommand,
    },
    /// `spam eval`: train a fresh model on one folder, score another (no store).
    SpamEval(SpamEvalArgs),
    /// Print usage.
    Help,
    /// Print the version.
    Version,
}

/// Usage text.
pub const USAGE: &str = "\
mailnook — a complete mail server for small boards

Usage: mailnook <command> [--data DIR]

  serve [--port-base N] [--bind ADDR] [--domain D]
                                 run every role (creates DIR on first run)
  init --domain D [--hostname H] [--admin EMAIL]
                                 set up DIR: domain, host name, TLS certificate
  user add EMAIL [--password P]  add a user (password from stdin if not given)
  user del EMAIL                 delete a user and all their mail
  user passwd EMAIL [--password P]
  user list
  alias add ALIAS TARGET...      deliver ALIAS's mail to these users or outside addresses
  alias del ALIAS [TARGET...]    remove targets, or the whole alias without any
  alias list
  list add LIST [members|anyone|moderators] [reply-to-list]
                                 make a mailing list, or set who may post and where replies go
  list join|leave LIST ADDR...   add or remove members; list moderator add|del LIST ADDR...
  list show [LIST], list del LIST
  sieve put USER NAME FILE       store a Sieve script (checked first); sieve get USER NAME
  sieve list USER                a user's scripts, the active one marked
  sieve activate USER NAME, sieve deactivate USER, sieve del USER NAME
  quota set EMAIL SIZE           storage quota, e.g. 500M or 2G (0: unlimited); mail
                                 beyond it is refused, nothing stored is removed
  quota show [EMAIL]             usage and quota of one user or all
  domain add|del D, domain list  local mail domains
  config get KEY | set KEY VALUE | unset KEY | list
  mail list USER [MAILBOX]       list mailboxes, or the messages in one
  mail show USER MAILBOX UID     write a stored message to stdout
  check                          verify the store's invariants and that each message's
                                 stored summary (ENVELOPE, BODYSTRUCTURE) matches it
  reparse                        rewrite the summaries `check` finds stale (the server
                                 does it by itself after an upgrade of its parser)
  queue list                     messages waiting for remote delivery
  queue show ID                  one queued message: recipients, results, header
  queue retry ID | --all         try again now
  queue delete ID                drop a queued message (nobody is told)
  dns records [--ip ADDR]...     the DNS records to publish (MX, SPF, DKIM, DMARC, SRV)
  check outbound [--domain D]    can this machine reach remote mail servers on port 25?
  backup [FILE|-]                write a backup of the whole box (server running or not);
                                 default FILE mailnook-backup-DATE.mnb, - for stdout
  restore FILE                   restore a backup into a new box (no users, no mail)
  spam eval --train DIR --test DIR [--threshold X]
                                 train the spam filter on DIR/{ham,spam}, score the
                                 other DIR's messages; false positive/negative rates

  --data DIR                     data folder (default $MAILNOOK_DATA, else ./mailnook-data)

Admin commands work with the server stopped (they open the store) or running
(they go through DIR/control.sock).";

fn take_string(v: OsString, what: &str) -> Result<String, String> {
    v.into_string()
        .map_err(|_| format!("{what} is not valid UTF-8"))
}

/// Parses argv (without the program name).
pub fn parse(args: Vec<OsString>) -> Result<Command, String> {
    if let Some(cmd) = super::transfer::parse(&args) {
        return cmd;
    }
    if let Some(cmd) = super::collect::parse(&args) {
        return cmd;
    }
    let mut p = lexopt::Parser::from_args(args);
    let mut data: Option<PathBuf> = None;
    let mut positional: Vec<String> = Vec::new();
    let mut port_base = None;
    let mut bind = None;
    let mut domain = None;
    let mut hostname = None;
    let mut admin = None;
    let mut password = None;
    let mut all = false;
    let mut ips: Vec<IpAddr> = Vec::new();
    let mut train: Option<PathBuf> = None;
    let mut test: Option<PathBuf> = None;
    let mut threshold: Option<f64> = None;
    let mut help = false;
    let mut version = false;
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("data") | Short('d') => {
                data = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?))
            }
            Long("port-base") => {
                let v = take_string(p.value().map_err(|e| e.to_string())?, "--port-base")?;
                port_base = Some(
                    v.parse::<u16>()
                        .map_err(|_| format!("--port-base: `{v}` is not a port number"))?,
                );
            }
            Long("bind") => {
                let v = take_string(p.value().map_err(|e| e.to_string())?, "--bind")?;
                bind = Some(
                    v.parse::<IpAddr>()
                        .map_err(|_| format!("--bind: `{v}` is not an IP address"))?,
                );
            }
            Long("domain") => {
                domain = Some(take_string(
                    p.value().map_err(|e| e.to_string())?,
                    "--domain",
                )?)
            }
            Long("hostname") => {
                hostname = Some(take_string(
                    p.value().map_err(|e| e.to_string())?,
                    "--hostname",
                )?)
            }
            Long("admin") => {
                admin = Some(take_string(
                    p.value().map_err(|e| e.to_string())?,
                    "--admin",
                )?)
            }
            Long("password") => {
                password = Some(take_string(
                    p.value().map_err(|e| e.to_string())?,
                    "--password",
                )?)
            }
            Long("all") => all = true,
            Long("ip") => {
                let v = take_string(p.value().map_err(|e| e.to_string())?, "--ip")?;
                ips.push(
                    v.parse::<IpAddr>()
                        .map_err(|_| format!("--ip: `{v}` is not an IP address"))?,
                );
                if ips.len() > MAX_IPS {
                    return Err(format!("at most {MAX_IPS} --ip options"));
                }
            }
            Long("train") => train = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?)),
            Long("test") => test = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?)),
            Long("threshold") => {
                let v = take_string(p.value().map_err(|e| e.to_string())?, "--threshold")?;
                threshold = Some(
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| format!("--threshold: `{v}` is not a number"))?,
                );
            }
            Long("help") | Short('h') => help = true,
            Long("version") | Short('V') => version = true,
            Value(v) => positional.push(take_string(v, "argument")?),
            other => return Err(other.unexpected().to_string()),
        }
    }
    if help {
        return Ok(Command::Help);
    }
    if version {
        return Ok(Command::Version);
    }
    let words: Vec<&str> = positional.iter().map(String::as_str).collect();
    let unused = |flags: &[(&str, bool)]| -> Result<(), String> {
        match flags.iter().find(|(_, set)| *set) {
            Some((name, _)) => Err(format!("{name} does not apply to this command")),
            None => Ok(()),
        }
    };
    let eval_flags = [
        ("--train", train.is_some()),
        ("--test", test.is_some()),
        ("--threshold", threshold.is_some()),
    ];
    if words == ["spam", "eval"] {
        unused(&[
            ("--data", data.is_some()),
            ("--port-base", port_base.is_some()),
            ("--bind", bind.is_some()),
            ("--domain", domain.is_some()),
            ("--hostname", hostname.is_some()),
            ("--admin", admin.is_some()),
            ("--password", password.is_some()),
            ("--all", all),
            ("--ip", !ips.is_empty()),
        ])?;
        return Ok(Command::SpamEval(SpamEvalArgs {
            train: train.ok_or("spam eval needs --train DIR")?,
            test: test.ok_or("spam eval needs --test DIR")?,
            threshold,
        }));
    }
    unused(&eval_flags)?;
    let data = data.unwrap_or_else(default_data);
    let serve_flags = [
        ("--port-base", port_base.is_some()),
        ("--bind", bind.is_some()),
    ];
    let init_flags = [
        ("--hostname", hostname.is_some()),
        ("--admin", admin.is_some()),
    ];
    let pw_flag = [("--password", password.is_some())];
    let other_flags = [("--all", all), ("--ip", !ips.is_empty())];
    let cmd = match words.as_slice() {
        ["serve"] => {
            unused(&init_flags)?;
            unused(&pw_flag)?;
            unused(&other_flags)?;
            return Ok(Command::Serve(ServeArgs {
                data,
                port_base,
                bind,
                domain,
            }));
        }
        ["help"] | [] => return Ok(Command::Help),
        ["version"] => return Ok(Command::Version),
        ["init"] => {
            unused(&serve_flags)?;
            unused(&pw_flag)?;
            let domain = domain.take().ok_or("init needs --domain D")?;
            AdminCommand::Init {
                domain,
                hostname: hostname.take(),
                admin: admin.take(),
            }
        }
        ["user", "add", email] => AdminCommand::UserAdd {
            email: email.to_string(),
            password: password.take(),
        },
        ["user", "passwd", email] => AdminCommand::UserPasswd {
            email: email.to_string(),
            password: password.take(),
        },
        ["user", "del", email] => AdminCommand::UserDel(email.to_string()),
        ["user", "list"] => AdminCommand::UserList,
        ["alias", "add", alias, targets @ ..] if !targets.is_empty() => AdminCommand::AliasAdd {
            alias: alias.to_string(),
            targets: alias_targets(targets)?,
        },
        ["alias", "del", alias, targets @ ..] => AdminCommand::AliasDel {
            alias: alias.to_string(),
            targets: alias_targets(targets)?,
        },
        ["alias", "list"] => AdminCommand::AliasList,
        ["list", "add", list, rest @ ..] if rest.len() <= 2 => AdminCommand::ListSet {
            list: list.to_string(),
            posting: rest
                .iter()
                .find(|w| **w != "reply-to-list")
                .unwrap_or(&"members")
                .to_string(),
            reply_to_list: rest.contains(&"reply-to-list"),
        },
        ["list", "del", list] => AdminCommand::ListDel(list.to_string()),
        ["list", verb @ ("join" | "leave"), list, addresses @ ..] if !addresses.is_empty() => {
            AdminCommand::ListMembers {
                list: list.to_string(),
                add: *verb == "join",
                moderators: false,
                addresses: alias_targets(addresses)?,
            }
        }
        [
            "list",
            "moderator",
            verb @ ("add" | "del"),
            list,
            addresses @ ..,
        ] if !addresses.is_empty() => AdminCommand::ListMembers {
            list: list.to_string(),
            add: *verb == "add",
            moderators: true,
            addresses: alias_targets(addresses)?,
        },
        ["list", "show"] => AdminCommand::ListShow(None),
        ["list", "show", list] => AdminCommand::ListShow(Some(list.to_string())),
        ["sieve", "put", user, name, file] => AdminCommand::SievePut {
            user: user.to_string(),
            name: name.to_string(),
            file: std::path::absolute(file).map_err(|e| format!("{file}: {e}"))?,
        },
        ["sieve", "get", user, name] => AdminCommand::SieveGet {
            user: user.to_string(),
            name: name.to_string(),
        },
        ["sieve", "list", user] => AdminCommand::SieveList(user.to_string()),
        ["sieve", "activate", user, name] => AdminCommand::SieveActivate {
            user: user.to_string(),
            name: Some(name.to_string()),
        },
        ["sieve", "deactivate", user] => AdminCommand::SieveActivate {
            user: user.to_string(),
            name: None,
        },
        ["sieve", "del", user, name] => AdminCommand::SieveDel {
            user: user.to_string(),
            name: name.to_string(),
        },
        ["quota", "set", email, size] => AdminCommand::QuotaSet {
            email: email.to_string(),
            size: size.to_string(),
        },
        ["quota", "show"] => AdminCommand::QuotaShow(None),
        ["quota", "show", email] => AdminCommand::QuotaShow(Some(email.to_string())),
        ["domain", "add", d] => AdminCommand::DomainAdd(d.to_string()),
        ["domain", "del", d] => AdminCommand::DomainDel(d.to_string()),
        ["domain", "list"] => AdminCommand::DomainList,
        ["config", "get", k] => AdminCommand::ConfigGet(k.to_string()),
        ["config", "set", k, v] => AdminCommand::ConfigSet(k.to_string(), v.to_string()),
        ["config", "unset", k] => AdminCommand::ConfigUnset(k.to_string()),
        ["config", "list"] => AdminCommand::ConfigList,
        ["mail", "list", u] => AdminCommand::MailList {
            user: u.to_string(),
            mailbox: None,
        },
        ["mail", "list", u, m] => AdminCommand::MailList {
            user: u.to_string(),
            mailbox: Some(m.to_string()),
        },
        ["mail", "show", u, m, uid] => AdminCommand::MailShow {
            user: u.to_string(),
            mailbox: m.to_string(),
            uid: uid
                .parse()
                .map_err(|_| format!("UID `{uid}` is not a number"))?,
        },
        ["check"] => AdminCommand::Check,
        ["reparse"] => AdminCommand::Reparse,
        ["queue", "list"] => AdminCommand::QueueList,
        ["queue", "show", id] => AdminCommand::QueueShow(id.to_string()),
        ["queue", "retry", id] if !all => AdminCommand::QueueRetry(Some(id.to_string())),
        ["queue", "retry"] if all => {
            all = false;
            AdminCommand::QueueRetry(None)
        }
        ["queue", "retry", _] => return Err("give a queue id or --all, not both".into()),
        ["queue", "delete", id] => AdminCommand::QueueDelete(id.to_string()),
        ["dns", "records"] => AdminCommand::DnsRecords {
            ips: std::mem::take(&mut ips),
        },
        ["check", "outbound"] => AdminCommand::CheckOutbound {
            domain: domain.take(),
        },
        ["backup"] => AdminCommand::Backup { file: None },
        ["backup", f] => AdminCommand::Backup {
            file: Some(f.to_string()),
        },
        ["restore", f] => AdminCommand::Restore(f.to_string()),
        [first, ..] => {
            let known = [
                "serve", "init", "user", "alias", "list", "sieve", "quota", "domain", "config",
                "mail", "check", "reparse", "queue", "dns", "spam", "help", "version", "backup",
                "restore",
            ];
            return Err(if known.contains(first) {
                format!(
                    "incomplete or wrong arguments for `{}` (see `mailnook help`)",
                    words.join(" ")
                )
            } else {
                format!("unknown command `{first}` (see `mailnook help`)")
            });
        }
    };
    if !matches!(cmd, AdminCommand::Init { .. }) {
        unused(&serve_flags)?;
        unused(&init_flags)?;
        unused(&[("--domain", domain.is_some())])?;
    }
    if !matches!(
        cmd,
        AdminCommand::UserAdd { .. } | AdminCommand::UserPasswd { .. }
    ) {
        unused(&[("--password", password.is_some())])?;
    }
    // Flags the command took were consumed above; any left over does not apply.
    unused(&[("--all", all), ("--ip", !ips.is_empty())])?;
    Ok(Command::Admin { data, cmd })
}

impl AdminCommand {
    /// The argv that parses back to this command (passwords included: only for the owner-only
    /// control socket, never for logs).
    pub fn to_args(&self) -> Vec<String> {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let mut a = match self {
            AdminCommand::Init { domain, .. } => s(&["init", "--domain", domain]),
            AdminCommand::UserAdd { email, .. } => s(&["user", "add", email]),
            AdminCommand::UserDel(e) => s(&["user", "del", e]),
            AdminCommand::UserPasswd { email, .. } => s(&["user", "passwd", email]),
            AdminCommand::UserList => s(&["user", "list"]),
            AdminCommand::AliasAdd { alias, targets } => {
                let mut v = s(&["alias", "add", alias]);
                v.extend(targets.iter().cloned());
                v
            }
            AdminCommand::AliasDel { alias, targets } => {
                let mut v = s(&["alias", "del", alias]);
                v.extend(targets.iter().cloned());
                v
            }
            AdminCommand::AliasList => s(&["alias", "list"]),
            AdminCommand::ListSet {
                list,
                posting,
                reply_to_list,
            } => {
                let mut v = s(&["list", "add", list, posting]);
                if *reply_to_list {
                    v.push("reply-to-list".into());
                }
                v
            }
            AdminCommand::ListDel(list) => s(&["list", "del", list]),
            AdminCommand::ListMembers {
                list,
                add,
                moderators,
                addresses,
            } => {
                let mut v = match (moderators, add) {
                    (false, true) => s(&["list", "join", list]),
                    (false, false) => s(&["list", "leave", list]),
                    (true, true) => s(&["list", "moderator", "add", list]),
                    (true, false) => s(&["list", "moderator", "del", list]),
                };
                v.extend(addresses.iter().cloned());
                v
            }
            AdminCommand::ListShow(None) => s(&["list", "show"]),
            AdminCommand::ListShow(Some(list)) => s(&["list", "show", list]),
            AdminCommand::SievePut { user, name, file } => {
                s(&["sieve", "put", user, name, &file.to_string_lossy()])
            }
            AdminCommand::SieveGet { user, name } => s(&["sieve", "get", user, name]),
            AdminCommand::SieveList(user) => s(&["sieve", "list", user]),
            AdminCommand::SieveActivate {
                user,
                name: Some(name),
            } => s(&["sieve", "activate", user, name]),
            AdminCommand::SieveActivate { user, name: None } => s(&["sieve", "deactivate", user]),
            AdminCommand::SieveDel { user, name } => s(&["sieve", "del", user, name]),
            AdminCommand::QuotaSet { email, size } => s(&["quota", "set", email, size]),
            AdminCommand::QuotaShow(None) => s(&["quota", "show"]),
            AdminCommand::QuotaShow(Some(e)) => s(&["quota", "show", e]),
            AdminCommand::DomainAdd(d) => s(&["domain", "add", d]),
            AdminCommand::DomainDel(d) => s(&["domain", "del", d]),
            AdminCommand::DomainList => s(&["domain", "list"]),
            AdminCommand::ConfigGet(k) => s(&["config", "get", k]),
            AdminCommand::ConfigSet(k, v) => s(&["config", "set", k, v]),
            AdminCommand::ConfigUnset(k) => s(&["config", "unset", k]),
            AdminCommand::ConfigList => s(&["config", "list"]),
            AdminCommand::MailList { user, mailbox } => {
                let mut v = s(&["mail", "list", user]);
                v.extend(mailbox.clone());
                v
            }
            AdminCommand::MailShow { user, mailbox, uid } => {
                s(&["mail", "show", user, mailbox, &uid.to_string()])
            }
            AdminCommand::Check => s(&["check"]),
            AdminCommand::Reparse => s(&["reparse"]),
            AdminCommand::QueueList => s(&["queue", "list"]),
            AdminCommand::QueueShow(id) => s(&["queue", "show", id]),
            AdminCommand::QueueRetry(Some(id)) => s(&["queue", "retry", id]),
            AdminCommand::QueueRetry(None) => s(&["queue", "retry", "--all"]),
            AdminCommand::QueueDelete(id) => s(&["queue", "delete", id]),
            AdminCommand::DnsRecords { ips } => {
                let mut v = s(&["dns", "records"]);
                for ip in ips {
                    v.extend(s(&["--ip", &ip.to_string()]));
                }
                v
            }
            AdminCommand::CheckOutbound { domain } => {
                let mut v = s(&["check", "outbound"]);
                if let Some(d) = domain {
                    v.extend(s(&["--domain", d]));
                }
                v
            }
            AdminCommand::Transfer(t) => t.to_args(),
            AdminCommand::Collect(c) => c.to_args(),
            AdminCommand::Backup { .. } => s(&["backup"]),
            AdminCommand::Restore(f) => s(&["restore", f]),
        };
        match self {
            AdminCommand::Init {
                hostname, admin, ..
            } => {
                if let Some(h) = hostname {
                    a.extend(s(&["--hostname", h]));
                }
                if let Some(e) = admin {
                    a.extend(s(&["--admin", e]));
                }
            }
            AdminCommand::UserAdd {
                password: Some(p), ..
            }
            | AdminCommand::UserPasswd {
                password: Some(p), ..
            } => {
                a.extend(s(&["--password", p]));
            }
            _ => {}
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn parses_commands_and_round_trips_admin_argv() {
        assert_eq!(
            parse(argv("serve")).unwrap(),
            Command::Serve(ServeArgs {
                data: default_data(),
                port_base: None,
                bind: None,
                domain: None
            })
        );
        for line in [
            "init --domain example.test --hostname mx.example.test --admin a@example.test",
            "user add a@example.test --password secret123",
            "user passwd a@example.test",
            "user del a@example.test",
            "user list",
            "quota set a@example.test 500M",
            "quota set a@example.test 0",
            "quota show",
            "quota show a@example.test",
            "domain add x.test",
            "alias add info@x.test a@x.test b@x.test",
            "alias del info@x.test b@x.test",
            "alias del info@x.test",
            "alias list",
            "list add l@x.test anyone reply-to-list",
            "list add l@x.test members",
            "list del l@x.test",
            "list join l@x.test a@x.test b@y.test",
            "list leave l@x.test a@x.test",
            "list moderator add l@x.test m@x.test",
            "list moderator del l@x.test m@x.test",
            "list show",
            "list show l@x.test",
            "sieve put a@x.test vacation /tmp/v.sieve",
            "sieve get a@x.test vacation",
            "sieve list a@x.test",
            "sieve activate a@x.test vacation",
            "sieve deactivate a@x.test",
            "sieve del a@x.test vacation",
            "config set smtp.max_errors 5",
            "config list",
            "mail list a@example.test INBOX",
            "mail show a@example.test INBOX 7",
            "check",
            "reparse",
            "queue list",
            "queue show 1a",
            "queue retry 1a",
            "queue retry --all",
            "queue delete ff",
            "dns records",
            "dns records --ip 192.0.2.1 --ip 2001:db8::1",
            "check outbound",
            "check outbound --domain remote.test",
        ] {
            let Command::Admin { cmd, .. } = parse(argv(&format!("{line} --data /tmp/d"))).unwrap()
            else {
                panic!("{line}")
            };
            let back = parse(cmd.to_args().into_iter().map(OsString::from).collect()).unwrap();
            assert_eq!(
                back,
                Command::Admin {
                    data: default_data(),
                    cmd
                },
                "{line}"
            );
        }
    }

    #[test]
    fn parses_spam_eval() {
        assert_eq!(
            parse(argv("spam eval --train /a --test /b --threshold 4.5")).unwrap(),
            Command::SpamEval(SpamEvalArgs {
                train: "/a".into(),
                test: "/b".into(),
                threshold: Some(4.5)
            })
        );
        assert_eq!(
            parse(argv("spam eval --test /b --train /a")).unwrap(),
            Command::SpamEval(SpamEvalArgs {
                train: "/a".into(),
                test: "/b".into(),
                threshold: None
            })
        );
        assert!(
            parse(argv("spam eval --test /b"))
                .unwrap_err()
                .contains("--train")
        );
        assert!(
            parse(argv("spam eval --train /a --test /b --threshold x"))
                .unwrap_err()
                .contains("not a number")
        );
        assert!(
            parse(argv("spam eval --train /a --test /b --data /d"))
                .unwrap_err()
                .contains("--data does not apply")
        );
        assert!(
            parse(argv("user list --train /a"))
                .unwrap_err()
                .contains("--train does not apply")
        );
        assert!(parse(argv("spam")).unwrap_err().contains("incomplete"));
    }

    #[test]
    fn refuses_bad_input_with_a_message() {
        assert!(
            parse(argv("frobnicate"))
                .unwrap_err()
                .contains("unknown command")
        );
        assert!(parse(argv("user add")).unwrap_err().contains("incomplete"));
        assert!(
            parse(argv("alias add a@x.test"))
                .unwrap_err()
                .contains("incomplete")
        );
        let many = format!("alias add a@x.test{}", " b@x.test".repeat(17));
        assert!(
            parse(argv(&many))
                .unwrap_err()
                .contains("at most 16 targets")
        );
        assert!(
            parse(argv("serve --port-base x"))
                .unwrap_err()
                .contains("not a port")
        );
        assert!(
            parse(argv("user list --password x"))
                .unwrap_err()
                .contains("does not apply")
        );
        assert!(
            parse(argv("mail show a@b.test INBOX x"))
                .unwrap_err()
                .contains("not a number")
        );
        assert!(parse(argv("init")).unwrap_err().contains("--domain"));
        assert!(
            parse(argv("queue retry 1a --all"))
                .unwrap_err()
                .contains("not both")
        );
        assert!(
            parse(argv("queue retry"))
                .unwrap_err()
                .contains("incomplete")
        );
        assert!(
            parse(argv("queue list --all"))
                .unwrap_err()
                .contains("--all does not apply")
        );
        assert!(
            parse(argv("dns records --ip nope"))
                .unwrap_err()
                .contains("not an IP address")
        );
        assert!(
            parse(argv("user list --ip 192.0.2.1"))
                .unwrap_err()
                .contains("--ip does not apply")
        );
        assert!(
            parse(argv("queue list --domain x.test"))
                .unwrap_err()
                .contains("--domain does not apply")
        );
        let many = (0..=MAX_IPS)
            .map(|i| format!("--ip 192.0.2.{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            parse(argv(&format!("dns records {many}")))
                .unwrap_err()
                .contains("at most")
        );
    }
}
