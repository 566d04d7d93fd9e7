"""Fills, dumps and compares IMAP accounts, and writes mail files with Python's own `mailbox`
writers, for tests/mail_transfer.rs and tests/import_imap.rs.

  fill HOST PORT CA TLSNAME USER PASSWORD [FROM=TO...]
                                                 APPEND the fixed test set over IMAPS
  append-one HOST PORT CA TLSNAME USER PASSWORD FOLDER
  dump HOST PORT CA TLSNAME USER PASSWORD OUT    every folder's messages (bytes, flags,
                                                 keywords, INTERNALDATE) as JSON
  same A.json B.json [FROM=TO...]                every folder of A is in B, equal message
                                                 by message (B may have more, empty, folders)
  write-mbox DIR OUT / write-maildir DIR OUT     Python's mailbox.mbox / mailbox.Maildir
                                                 with flags set through their APIs; OUT gets
                                                 the JSON an import must yield
"""

import base64, calendar, email.utils, imaplib, json, mailbox, os, re, ssl, sys, time

TIMEOUT = 30
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def mutf7_encode(s):
    out, run = [], []

    def flush():
        if run:
            b = "".join(run).encode("utf-16-be")
            out.append("&" + base64.b64encode(b).decode().rstrip("=").replace("/", ",") + "-")
            run.clear()

    for c in s:
        if " " <= c <= "~":
            flush()
            out.append("&-" if c == "&" else c)
        else:
            run.append(c)
    flush()
    return "".join(out)


def mutf7_decode(s):
    def dec(m):
        t = m.group(1)
        if t == "":
            return "&"
        t = t.replace(",", "/")
        t += "=" * (-len(t) % 4)
        return base64.b64decode(t).decode("utf-16-be")

    return re.sub(r"&([^-]*)-", dec, s)


def connect_named(host, port, ca, tlsname, user, password):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = True

    class Named(imaplib.IMAP4_SSL):
        def _create_socket(self, timeout):
            sock = imaplib.IMAP4._create_socket(self, timeout)
            return self.ssl_context.wrap_socket(sock, server_hostname=tlsname)

    c = Named(host, int(port), ssl_context=ctx, timeout=TIMEOUT)
    c.login(user, password)
    return c


def body(i, folder, size=0):
    lines = [
        "From: Sender %d <sender%d@example.org>" % (i, i),
        "To: someone@example.test",
        "Subject: message %d in %s" % (i, folder),
        "Message-ID: <%d.%d@example.org>" % (i, abs(hash(folder)) % 100000),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        "",
        "Hello %d, Grüße." % i,
        "From the start of a line, mbox must quote this.",
        ">From an already quoted line.",
        ">>From twice.",
        "",
        "Status: RO is body text here, not a header.",
    ]
    text = "\r\n".join(lines) + "\r\n"
    if size:
        row = "0123456789abcdefghijklmnopqrstuvwxyz" * 2 + "\r\n"
        text += row * (size // len(row))
    return text.encode()


# (folder, flags, date) per message; keywords are IMAP atoms.
SET = [
    ("INBOX", r"\Seen", "01-Jan-2020 10:00:00 +0000", 0),
    ("INBOX", r"\Answered \Flagged $Label1", "15-Mar-2021 23:59:59 +0200", 0),
    ("INBOX", "", "29-Feb-2024 12:34:56 -0500", 300_000),
    ("INBOX", r"\Deleted \Seen $Forwarded", "02-Jun-2019 01:02:03 +0000", 0),
    ("Work", r"\Seen work", "03-Jul-2022 04:05:06 +0000", 0),
    ("Work/Projects", r"\Draft", "04-Aug-2023 07:08:09 +0100", 0),
    ("Work/Projects", r"\Seen \Flagged work urgent", "05-Sep-2023 10:11:12 +0000", 0),
    ("Entwürfe", r"\Draft \Seen", "06-Oct-2023 13:14:15 +0000", 0),
    ("Sent", r"\Seen", "07-Nov-2023 16:17:18 +0000", 0),
]


def renames(pairs):
    return dict(p.split("=", 1) for p in pairs)


def fill(host, port, ca, tlsname, user, password, *rename):
    """APPENDs SET; `FROM=TO` arguments put FROM's messages into folder TO instead."""
    rename = renames(rename)
    c = connect_named(host, port, ca, tlsname, user, password)
    made = set()
    for i, (folder, flags, date, size) in enumerate(SET):
        folder = rename.get(folder, folder)
        wire = '"%s"' % mutf7_encode(folder)
        if folder != "INBOX" and folder not in made:
            typ, _ = c.create(wire)
            made.add(folder)
        typ, data = c.append(wire, "(%s)" % flags if flags else None, '"%s"' % date, body(i, folder, size))
        assert typ == "OK", (folder, typ, data)
    c.logout()


def epoch(date):
    m = re.match(r" ?(\d+)-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", date)
    d, mon, y, hh, mm, ss, sign, zh, zm = m.groups()
    t = calendar.timegm((int(y), MONTHS.index(mon) + 1, int(d), int(hh), int(mm), int(ss)))
    off = (int(zh) * 3600 + int(zm) * 60) * (1 if sign == "+" else -1)
    return t - off


def norm_flags(flags):
    return sorted(f for f in flags if f.lower() != r"\recent")


def dump(host, port, ca, tlsname, user, password, out):
    c = connect_named(host, port, ca, tlsname, user, password)
    typ, lines = c.list('""', "*")
    assert typ == "OK", lines
    folders = {}
    for line in lines:
        if isinstance(line, tuple):
            head, name = line[0].decode(), line[1].decode()
            attrs = re.match(r"\(([^)]*)\)", head).group(1)
        else:
            m = re.match(r'\(([^)]*)\) (?:"[^"]*"|NIL) (.*)$', line.decode())
            attrs, name = m.group(1), m.group(2)
            if name.startswith('"'):
                name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        if "\\noselect" in attrs.lower() or "\\nonexistent" in attrs.lower():
            continue
        typ, _ = c.select('"%s"' % name, readonly=True)
        assert typ == "OK", name
        msgs = []
        typ, data = c.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
        assert typ == "OK", data
        for part in data:
            if not isinstance(part, tuple):
                continue
            meta = part[0].decode()
            flags = re.search(r"FLAGS \(([^)]*)\)", meta).group(1).split()
            date = re.search(r'INTERNALDATE "([^"]+)"', meta).group(1)
            msgs.append({
                "flags": norm_flags(flags),
                "date": epoch(date),
                "body": base64.b64encode(part[1]).decode(),
            })
        folders[mutf7_decode(name)] = msgs
    c.logout()
    with open(out, "w") as f:
        json.dump(folders, f, indent=1, sort_keys=True)


def append_one(host, port, ca, tlsname, user, password, folder):
    c = connect_named(host, port, ca, tlsname, user, password)
    typ, data = c.append('"%s"' % mutf7_encode(folder), r"(\Flagged)", '"08-Dec-2023 19:20:21 +0000"', body(99, folder))
    assert typ == "OK", data
    c.logout()


def same(a_path, b_path, *rename):
    """`FROM=TO` arguments: A's folder FROM is B's folder TO."""
    rename = renames(rename)
    a, b = json.load(open(a_path)), json.load(open(b_path))
    a = {rename.get(k, k): v for k, v in a.items()}
    problems = []
    for folder, msgs in sorted(a.items()):
        if folder not in b:
            problems.append("folder %r missing" % folder)
            continue
        other = b[folder]
        if len(msgs) != len(other):
            problems.append("%r: %d messages, want %d" % (folder, len(other), len(msgs)))
            continue
        for i, (x, y) in enumerate(zip(msgs, other)):
            for key in ("flags", "date", "body"):
                if x[key] != y[key]:
                    shown = (x[key], y[key]) if key != "body" else (
                        base64.b64decode(x[key])[:300], base64.b64decode(y[key])[:300])
                    problems.append("%r message %d: %s differs: want %r got %r" % (folder, i + 1, key, *shown))
    for folder, msgs in sorted(b.items()):
        if folder not in a and msgs:
            problems.append("unexpected non-empty folder %r" % folder)
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print("same: %d folders, %d messages" % (len(a), sum(len(m) for m in a.values())))


def same_folder(a_path, a_folder, b_path, b_folder, keys):
    """A's folder `a_folder` has exactly B's `b_folder` messages; `keys`: comma-separated
    fields compared (flags, date, body)."""
    a, b = json.load(open(a_path)), json.load(open(b_path))
    x, y = a.get(a_folder, []), b.get(b_folder, [])
    if len(x) != len(y):
        print("%d messages in %r, want %d" % (len(y), b_folder, len(x)))
        sys.exit(1)
    for i, (m, n) in enumerate(zip(x, y)):
        for key in keys.split(","):
            if m[key] != n[key]:
                print("message %d: %s differs" % (i + 1, key))
                sys.exit(1)
    print("same: %d messages" % len(x))


def count(path, folder):
    print(len(json.load(open(path)).get(folder, [])))


def crlf(b):
    return b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def plain(i, folder):
    return (
        "From: Writer <w@example.org>\nSubject: python %d in %s\n\nline one\nline two %d\n" % (i, folder, i)
    ).encode()


MBOX_FLAGS = {"R": r"\Seen", "A": r"\Answered", "F": r"\Flagged", "D": r"\Deleted"}


def write_mbox(root, out):
    os.makedirs(root, exist_ok=True)
    expected = {}
    for folder, sets in [("INBOX", ["RO", "ROAF", "O", "D"]), ("Archive", ["R", ""])]:
        box = mailbox.mbox(os.path.join(root, folder))
        box.lock()
        for i, fl in enumerate(sets):
            m = mailbox.mboxMessage(plain(i, folder))
            m.set_flags(fl)
            t = 1_600_000_000 + i * 86_400 + 7
            m.set_from("w@example.org", time.gmtime(t))
            box.add(m)
        box.flush()
        box.unlock()
        msgs = []
        for key in box.keys():
            m = box.get_message(key)
            raw = box.get_bytes(key)
            raw = b"".join(l for l in raw.splitlines(True)
                           if not re.match(rb"(?i)(status|x-status):", l))
            date = m.get_from().split(None, 1)[1]
            msgs.append({
                "flags": sorted(MBOX_FLAGS[c] for c in m.get_flags() if c in MBOX_FLAGS),
                "date": calendar.timegm(time.strptime(date, "%a %b %d %H:%M:%S %Y")),
                "body": base64.b64encode(crlf(raw)).decode(),
            })
        box.close()
        expected[folder] = msgs
    json.dump(expected, open(out, "w"), indent=1, sort_keys=True)


MAILDIR_FLAGS = {"S": r"\Seen", "R": r"\Answered", "F": r"\Flagged", "T": r"\Deleted", "D": r"\Draft"}


def write_maildir(root, out):
    md = mailbox.Maildir(root, create=True)
    expected = {}
    for folder, sets in [("INBOX", ["S", "RS", "", "FT"]), ("Lists", ["Sa", "D"]), ("Lists/Python", ["Fab"])]:
        box = md if folder == "INBOX" else md.add_folder(folder.replace("/", "."))
        # Dovecot's keyword letters: a = todo, b = $Label2.
        with open(os.path.join(box._path, "dovecot-keywords"), "w") as f:
            f.write("0 todo\n1 $Label2\n")
        msgs = []
        for i, fl in enumerate(sets):
            m = mailbox.MaildirMessage(plain(i, folder))
            m.set_subdir("cur")
            m.set_flags(fl)
            t = 1_650_000_000 + i * 3_600
            m.set_date(t)
            raw = box.get_bytes(box.add(m))
            flags = sorted([MAILDIR_FLAGS[c] for c in fl if c in MAILDIR_FLAGS]
                           + [{"a": "todo", "b": "$Label2"}[c] for c in fl if c in "ab"])
            msgs.append({"flags": flags, "date": t, "body": base64.b64encode(crlf(raw)).decode()})
        expected[folder] = msgs
    json.dump(expected, open(out, "w"), indent=1, sort_keys=True)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"fill": fill, "append-one": append_one, "dump": dump, "same": same, "same-folder": same_folder, "count": count, "write-mbox": write_mbox, "write-maildir": write_maildir}[cmd](*args)
