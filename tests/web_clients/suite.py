"""Web page scenarios run by tests/web.rs: `python3 suite.py NAME`.

Each scenario drives the real server's web page with Python's http.client over HTTPS (the
self-signed certificate verified, host name included) and raises AssertionError on the first
difference. The environment gives WEB_PORT (HTTPS), HTTP_PORT, IMAP_PORT, CA, HOSTNAME_TLS and
PASSWORD; ADMIN is the address the wizard creates.
"""

import http.client
import imaplib
import smtplib
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clientlib import CA, HOSTNAME, PASSWORD, TIMEOUT, check, eq, tls_context  # noqa: E402

WEB_PORT = int(os.environ["WEB_PORT"])
HTTP_PORT = int(os.environ["HTTP_PORT"])
IMAP_PORT = int(os.environ["IMAP_PORT"])
SUBMISSION_PORT = IMAP_PORT - 143 + 587
ADMIN = "boss@example.test"
ADMIN_PASSWORD = "correct horse battery"
SCENARIOS = {}
# Every administrator's page: refused to anonymous visitors and to mail users who are not admins.
ADMIN_PAGES = ("/admin", "/admin/users", "/admin/aliases", "/admin/lists", "/admin/domains", "/admin/checks",
               "/admin/tls", "/admin/queue", "/admin/settings", "/admin/backup", "/admin/backup/download",
               "/admin/log")


def scenario(f):
    SCENARIOS[f.__name__] = f
    return f


class Loopback(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 that verifies the certificate for HOSTNAME."""

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", WEB_PORT), TIMEOUT)
        self.sock = self._context.wrap_socket(sock, server_hostname=HOSTNAME)


class Browser:
    """Keeps cookies like a browser would (only the ones the server sets); no redirects."""

    def __init__(self):
        self.cookies = {}
        # The certificate the server is trusted with (its self-signed one unless a test installs another).
        self.cafile = CA

    def context(self):
        ctx = ssl.create_default_context(cafile=self.cafile)
        ctx.check_hostname = True
        return ctx

    def request(self, method, path, fields=None, headers=None, body=None):
        c = Loopback(HOSTNAME, WEB_PORT, context=self.context(), timeout=TIMEOUT)
        h = {"Host": "%s:%d" % (HOSTNAME, WEB_PORT)}
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        if fields is not None:
            body = urllib.parse.urlencode(fields)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        self.last_body = r.read()
        text = self.last_body.decode("utf-8", "replace")
        for value in r.headers.get_all("Set-Cookie") or []:
            attrs = [a.strip() for a in value.split(";")]
            name, _, val = attrs[0].partition("=")
            lower = [a.lower() for a in attrs[1:]]
            check({"secure", "httponly", "samesite=strict", "path=/"} <= set(lower), "cookie flags", value)
            if "max-age=0" in lower:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = val
        c.close()
        self.check_security(r)
        return r.status, r.headers, text

    @staticmethod
    def check_security(r):
        csp = r.headers.get("Content-Security-Policy", "")
        check("default-src 'none'" in csp and "frame-ancestors 'none'" in csp, "CSP", csp)
        eq(r.headers.get("X-Frame-Options"), "DENY", "X-Frame-Options")
        eq(r.headers.get("X-Content-Type-Options"), "nosniff", "nosniff")
        eq(r.headers.get("Referrer-Policy"), "same-origin", "Referrer-Policy")

    def get(self, path):
        return self.request("GET", path)

    def csrf(self, path):
        status, _, text = self.get(path)
        eq(status, 200, "GET " + path)
        m = re.search(r'name="csrf" value="([^"]+)"', text)
        check(m, "no CSRF token on " + path, text[:500])
        return m.group(1)

    def post(self, path, fields, form_page=None):
        token = self.csrf(form_page or path)
        return self.request("POST", path, dict(fields, csrf=token))

    def upload(self, path, parts, form_page=None, token_first=True):
        """POSTs `parts` ((name, bytes, filename or None), ...) as multipart/form-data, the page's
        CSRF token first (as the page's forms send it)."""
        token = ("csrf", self.csrf(form_page or path).encode(), None)
        parts = [token] + list(parts) if token_first else list(parts) + [token]
        boundary = "----mailnook-test-%d" % time.time_ns()
        body = b""
        for name, value, filename in parts:
            disp = 'form-data; name="%s"' % name
            if filename is not None:
                disp += '; filename="%s"' % filename
            body += b"--%s\r\nContent-Disposition: %s\r\n" % (boundary.encode(), disp.encode())
            if filename is not None:
                body += b"Content-Type: application/octet-stream\r\n"
            body += b"\r\n" + value + b"\r\n"
        body += b"--%s--\r\n" % boundary.encode()
        return self.request("POST", path, body=body,
                            headers={"Content-Type": "multipart/form-data; boundary=" + boundary})


def imap_login(user, password):
    """Logs in over IMAP with STARTTLS; True when accepted."""
    c = imaplib.IMAP4("127.0.0.1", IMAP_PORT, timeout=TIMEOUT)
    c.host = HOSTNAME
    c.starttls(tls_context())
    try:
        c.login(user, password)
        c.logout()
        return True
    except imaplib.IMAP4.error:
        return False


def setup(b):
    eq(b.get("/")[0:2][0], 303, "/ before setup")
    eq(b.get("/")[1]["Location"], "/setup", "/ goes to setup")
    status, headers, text = b.post("/setup", {"domain": "example.test", "hostname": HOSTNAME, "email": ADMIN,
                                              "password": ADMIN_PASSWORD, "password2": ADMIN_PASSWORD})
    eq(status, 303, "setup answer")
    eq(headers["Location"], "/admin/checks", "setup ends on the checks page")
    check("mn_session" in b.cookies, "logged in after setup", b.cookies)


@scenario
def wizard():
    b = Browser()
    # Mistakes are explained and change nothing.
    status, _, text = b.post("/setup", {"domain": "example.test", "hostname": HOSTNAME, "email": ADMIN,
                                        "password": ADMIN_PASSWORD, "password2": "something else"})
    eq(status, 400, "differing passwords")
    check("differ" in text, "says why", text[-800:])
    status, _, text = b.post("/setup", {"domain": "example.test", "hostname": HOSTNAME, "email": ADMIN,
                                        "password": "short", "password2": "short"})
    eq(status, 400, "short password")
    status, _, text = b.post("/setup", {"domain": "example.test", "hostname": HOSTNAME,
                                        "email": "boss@elsewhere.test", "password": ADMIN_PASSWORD,
                                        "password2": ADMIN_PASSWORD})
    eq(status, 400, "address outside the domain")
    setup(b)
    status, headers, text = b.get("/admin")
    eq(status, 200, "overview")
    for what in ("Host name", HOSTNAME, "example.test", "Memory in use", "Free space", "Outbound queue"):
        check(what in text, "overview shows " + what, text[-1500:])
    # Setup is over: the page is gone, for everyone.
    eq(b.get("/setup")[0], 303, "setup after setup")
    eq(Browser().get("/setup")[0], 303, "setup for a stranger after setup")
    # The account works for mail too.
    check(imap_login(ADMIN, ADMIN_PASSWORD), "the wizard's account logs in over IMAP")


@scenario
def users_and_sessions():
    admin = Browser()
    setup(admin)
    # Add a user, who can then read mail over IMAP.
    status, _, text = admin.post("/admin/users", {"action": "add", "email": "carol@example.test",
                                                  "password": "carol's password"})
    eq(status, 200, "add user")
    check("added carol@example.test" in text and "carol@example.test</td>" in text, "user listed", text[-2000:])
    check(imap_login("carol@example.test", "carol's password"), "new user logs in over IMAP")
    status, _, text = admin.post("/admin/users", {"action": "add", "email": "carol@example.test",
                                                  "password": "carol's password"})
    eq(status, 400, "adding a user twice")
    # Carol logs in on the web: her own page, not the admin's.
    carol = Browser()
    status, _, text = carol.post("/login", {"email": "carol@example.test", "password": "wrong password"})
    eq(status, 200, "wrong password page")
    check("Wrong address or password" in text and "mn_session" not in carol.cookies, "refused", text[-600:])
    status, headers, _ = carol.post("/login", {"email": "Carol@Example.test", "password": "carol's password"})
    eq((status, headers["Location"]), (303, "/"), "login")
    eq(carol.get("/")[1]["Location"], "/me", "a user's home is /me")
    status, _, text = carol.get("/me")
    eq(status, 200, "/me")
    base = IMAP_PORT - 143
    for want in ("carol@example.test", "port %d, SSL/TLS" % (base + 993), "port %d, SSL/TLS" % (base + 465),
                 "%d with STARTTLS" % (base + 587), HOSTNAME):
        check(want in text, "client settings show " + want, text[-1500:])
    for path in ADMIN_PAGES:
        eq(carol.get(path)[0], 403, path + " for a non-admin")
    # She changes her password: the old one stops working everywhere.
    status, _, text = carol.post("/me", {"current": "carol's password", "password": "carol's new one",
                                         "password2": "carol's new one"})
    eq(status, 200, "password change")
    check("Password changed" in text, "confirmed", text[-800:])
    check(not imap_login("carol@example.test", "carol's password"), "old password refused over IMAP")
    check(imap_login("carol@example.test", "carol's new one"), "new password works over IMAP")
    status, _, text = carol.post("/me", {"current": "not it", "password": "x" * 10, "password2": "x" * 10})
    eq(status, 400, "wrong current password")
    # The admin resets it: Carol's web session ends.
    status, _, _ = admin.post("/admin/users", {"action": "password", "email": "carol@example.test",
                                               "password": "reset by admin"})
    eq(status, 200, "reset")
    eq(carol.get("/me")[1].get("Location"), "/login", "session ended by the reset")
    check(imap_login("carol@example.test", "reset by admin"), "reset password works")
    # Deleting needs the address typed again.
    status, _, text = admin.post("/admin/users", {"action": "delete", "email": "carol@example.test",
                                                  "confirm": "nope"})
    eq(status, 400, "delete unconfirmed")
    status, _, text = admin.post("/admin/users", {"action": "delete", "email": "carol@example.test",
                                                  "confirm": "carol@example.test"})
    eq(status, 200, "delete")
    check("carol@example.test</td>" not in text, "gone from the list", text[-1500:])
    check(not imap_login("carol@example.test", "reset by admin"), "deleted user cannot log in")
    # Logging out ends the session; its cookie is useless afterwards.
    old = dict(admin.cookies)
    status, headers, _ = admin.post("/logout", {}, form_page="/admin")
    eq((status, headers["Location"]), (303, "/login"), "logout")
    check("mn_session" not in admin.cookies, "cookie cleared")
    replay = Browser()
    replay.cookies = old
    eq(replay.get("/admin")[1].get("Location"), "/login", "old session cookie after logout")
    # And back in.
    status, _, _ = admin.post("/login", {"email": ADMIN, "password": ADMIN_PASSWORD})
    eq(status, 303, "login again")
    eq(admin.get("/admin")[0], 200, "admin again")


@scenario
def quotas():
    admin = Browser()
    setup(admin)
    status, _, text = admin.post("/admin/users", {"action": "add", "email": "dora@example.test",
                                                  "password": "dora's password"})
    eq(status, 200, "add user")
    check("no quota" in text, "a new user has no quota", text[-2500:])
    # Without the form's token the change is refused and nothing changes.
    status, _, _ = admin.request("POST", "/admin/users", {"action": "quota", "email": "dora@example.test",
                                                          "quota": "1M"})
    eq(status, 403, "quota POST without CSRF token")
    status, _, text = admin.get("/admin/users")
    check("of 1.0 MiB" not in text, "the refused POST set nothing", text[-2500:])
    # A bad size is explained; a good one is set and listed.
    status, _, text = admin.post("/admin/users", {"action": "quota", "email": "dora@example.test",
                                                  "quota": "lots"})
    eq(status, 400, "bad size")
    check("is not a quota" in text, "bad size explained", text[-2500:])
    status, _, text = admin.post("/admin/users", {"action": "quota", "email": "dora@example.test",
                                                  "quota": "1M"})
    eq(status, 200, "set quota")
    check("quota of dora@example.test set to 1M (1048576 bytes)" in text, "confirmed", text[-2500:])
    check(re.search(r"dora@example\.test</td>.*?<td>0 B of 1\.0 MiB \(0%\)</td>", text, re.S),
          "usage and quota listed", text[-2500:])
    check('type="text" name="quota" value="1M"' in text, "the form shows the quota", text[-2500:])
    # The quota holds for mail: IMAP reports it, and a message bigger than it is refused.
    c = imaplib.IMAP4("127.0.0.1", IMAP_PORT, timeout=TIMEOUT)
    c.host = HOSTNAME
    c.starttls(tls_context())
    c.login("dora@example.test", "dora's password")
    typ, data = c.getquotaroot("INBOX")
    eq(typ, "OK", "GETQUOTAROOT")
    eq(data[1], [b'"" (STORAGE 0 1024)'], "QUOTA answer")
    typ, data = c.append("INBOX", None, None, b"Subject: big\r\n\r\n" + b"x" * (1100 * 1024) + b"\r\n")
    eq(typ, "NO", "APPEND over quota")
    check(b"[OVERQUOTA]" in data[0], "OVERQUOTA code", data)
    typ, _ = c.append("INBOX", None, None, b"Subject: small\r\n\r\n" + b"y" * 2000 + b"\r\n")
    eq(typ, "OK", "APPEND under quota")
    c.logout()
    # Dora sees her own usage on her page.
    dora = Browser()
    status, _, _ = dora.post("/login", {"email": "dora@example.test", "password": "dora's password"})
    eq(status, 303, "login")
    status, _, text = dora.get("/me")
    eq(status, 200, "/me")
    check(re.search(r'<p id="storage">Your mail takes 2\.0 KiB of your 1\.0 MiB quota \(0%\)\.</p>', text),
          "own usage on /me", text[:3000])
    # Back to unlimited.
    status, _, text = admin.post("/admin/users", {"action": "quota", "email": "dora@example.test",
                                                  "quota": "0"})
    eq(status, 200, "remove quota")
    check("dora@example.test has no quota now" in text, "removed", text[-2500:])
    status, _, text = dora.get("/me")
    check(re.search(r'<p id="storage">Your mail takes 2\.0 KiB\.</p>', text), "no quota on /me", text[:3000])


@scenario
def csrf_and_origin():
    b = Browser()
    setup(b)
    # A POST without the token, with another session's token, or from another site: refused.
    status, _, text = b.request("POST", "/admin/users", {"action": "add", "email": "x@example.test",
                                                         "password": "password123"})
    eq(status, 403, "POST without CSRF token")
    other = Browser()
    token = other.csrf("/login")
    status, _, _ = b.request("POST", "/admin/users", {"action": "add", "email": "x@example.test",
                                                      "password": "password123", "csrf": token})
    eq(status, 403, "POST with another cookie's token")
    token = b.csrf("/admin/users")
    status, _, _ = b.request("POST", "/admin/users", {"action": "add", "email": "x@example.test",
                                                      "password": "password123", "csrf": token},
                             headers={"Origin": "https://evil.example"})
    eq(status, 403, "POST from another origin")
    status, _, text = b.request("POST", "/admin/users", {"action": "add", "email": "x@example.test",
                                                         "password": "password123", "csrf": token},
                                headers={"Origin": "https://%s:%d" % (HOSTNAME, WEB_PORT)})
    eq(status, 200, "POST from our origin")
    check("added x@example.test" in text, "added", text[-800:])
    # A login form's token is tied to the pre-login cookie it was shown with.
    stranger = Browser()
    status, _, _ = stranger.request("POST", "/login", {"email": ADMIN, "password": ADMIN_PASSWORD,
                                                        "csrf": "forged"})
    eq(status, 403, "login without a real token")


@scenario
def no_setup_once_users_exist():
    b = Browser()
    eq(b.get("/")[1]["Location"], "/login", "a box with users but no administrator goes to login")
    eq(b.get("/setup")[1]["Location"], "/", "no setup page")
    status, _, _ = b.request("POST", "/setup", {"domain": "example.test", "hostname": HOSTNAME,
                                                "email": "mallory@example.test", "password": "x" * 12,
                                                "password2": "x" * 12, "csrf": b.csrf("/login")})
    eq(status, 303, "a setup POST is turned away")


@scenario
def routes_and_errors():
    b = Browser()
    for path in ADMIN_PAGES + ("/me",):
        status, headers, _ = b.get(path)
        check(status == 303 and headers["Location"] in ("/login", "/setup"), "anonymous " + path, status)
    status, _, text = b.get("/no/such/page")
    eq(status, 404, "unknown page")
    check("<h1>Not Found</h1>" in text, "error page", text[:400])
    status, headers, _ = b.request("PUT", "/admin")
    eq(status, 405, "PUT")
    eq(headers.get("Allow"), "GET, HEAD, POST", "Allow")
    status, headers, css = b.get("/static/style.css")
    check(status == 200 and headers["Content-Type"].startswith("text/css") and "body" in css, "stylesheet")
    # Plain HTTP only points at HTTPS, keeping path and query.
    c = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=TIMEOUT)
    c.request("GET", "/me/x%20y?a=1", headers={"Host": "mail.example.test"})
    r = c.getresponse()
    r.read()
    eq((r.status, r.headers["Location"]), (301, "https://mail.example.test:%d/me/x%%20y?a=1" % WEB_PORT),
       "redirect to HTTPS")
    check(r.headers.get("Set-Cookie") is None, "no cookie over plain HTTP")


def submit_remote():
    """Sends one message from ADMIN to a remote address over submission (it waits in the queue)."""
    c = smtplib.SMTP("127.0.0.1", SUBMISSION_PORT, timeout=TIMEOUT)
    c._host = HOSTNAME
    c.starttls(context=tls_context())
    c.login(ADMIN, ADMIN_PASSWORD)
    c.sendmail(ADMIN, ["friend@remote.test"],
               "From: %s\r\nTo: friend@remote.test\r\nSubject: queued\r\n\r\nhello\r\n" % ADMIN)
    c.quit()


@scenario
def admin_pages():
    b = Browser()
    setup(b)
    # Settings: a relay, validated; a secret never shown and kept when left empty.
    fields = {"group": "Outbound mail", "smarthost.host": "relay.example.net", "smarthost.port": "2525",
              "smarthost.tls": "starttls", "smarthost.tls_verify": "1", "smarthost.user": "me",
              "smarthost.password": "relay secret"}
    status, _, text = b.get("/admin/settings")
    check("Spam models" in text and "shared (all users&#39; lessons)</td><td>0</td><td>0</td>" in text
          and "boss@example.test</td><td>0</td>" in text, "spam models listed", text[:3000])
    status, _, text = b.post("/admin/settings", fields)
    eq(status, 200, "save outbound")
    check("4 settings changed" in text, "host, port, user and password changed", text[:3000])
    check("relay secret" not in text, "the secret is not shown back")
    check('value="relay.example.net"' in text and 'value="2525"' in text, "values shown", text[-3000:])
    status, _, text = b.post("/admin/settings", dict(fields, **{"smarthost.password": ""}))
    eq(status, 200, "save again without the secret")
    check("0 settings changed" in text, "nothing changed", text[:3000])
    status, _, text = b.post("/admin/settings", {"group": "Spam", "spam.junk_tenths": "lots"})
    eq(status, 400, "invalid value")
    check("lots" in text, "the error names the value", text[-3000:])
    # A provider preset fills in the relay's address; the account stays.
    status, _, text = b.post("/admin/settings", {"group": "preset", "preset": "Fastmail"})
    eq(status, 200, "preset")
    check('value="smtp.fastmail.com"' in text and 'value="465"' in text and 'name="smarthost.tls" value="tls"' in text,
          "preset applied", text[:4000])
    check('name="smarthost.user" value="me"' in text, "account kept", text[:4000])
    eq(b.post("/admin/settings", {"group": "preset", "preset": "Nowhere"})[0], 400, "unknown preset")
    status, _, text = b.post("/admin/settings", dict(fields, **{"smarthost.password": ""}))
    # The queue: a message waiting for a remote domain, retried, then deleted.
    eq("empty" in b.get("/admin/queue")[2], True, "empty queue")
    submit_remote()
    status, _, text = b.get("/admin")
    check("Recent deliveries" in text and "maillog: accepted cid=" in text, "the overview lists the message",
          text[-2000:])
    status, _, text = b.get("/admin/queue")
    check("friend@remote.test" in text or "&lt;boss@example.test&gt;" in text, "queued message listed", text[-3000:])
    m = re.search(r'name="id" value="([^"]+)"', text)
    check(m, "an id", text[-3000:])
    status, _, text = b.post("/admin/queue", {"action": "retry", "id": m.group(1)})
    check(status == 200, "retry", status, re.findall(r"notice[^>]*>([^<]*)", text))
    status, _, text = b.post("/admin/queue", {"action": "delete", "id": m.group(1)})
    eq(status, 200, "delete")
    check("The outbound queue is empty" in text, "deleted", text[-2000:])
    # The recent log shows what happened, escaped.
    status, _, text = b.get("/admin/log")
    eq(status, 200, "log page")
    check("web: setup done" in text and "settings reloaded" in text, "log lines", text[-3000:])


def print_checks(b):
    """Prints each finding of the checks page as `class|what|detail` for the Rust side."""
    status, _, text = b.get("/admin/checks")
    eq(status, 200, "checks page")
    import html as h
    for cls, what, detail in re.findall(r'<tr class="(\w+)"><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td></tr>', text):
        print("%s|%s|%s" % (cls, h.unescape(what), h.unescape(detail)))


@scenario
def checks():
    b = Browser()
    setup(b)
    print_checks(b)


@scenario
def checks_again():
    b = Browser()
    status, _, _ = b.post("/login", {"email": ADMIN, "password": ADMIN_PASSWORD})
    eq(status, 303, "login")
    print_checks(b)


@scenario
def client_setup():
    import plistlib
    import xml.etree.ElementTree as ET
    base = IMAP_PORT - 143
    admin = Browser()
    setup(admin)
    status, _, _ = admin.post("/admin/users", {"action": "add", "email": "carol@example.test",
                                               "password": "carol's password"})
    eq(status, 200, "add carol")
    # Thunderbird: autoconfig.<domain> over plain HTTP, and the well-known path over HTTPS.
    c = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=TIMEOUT)
    c.request("GET", "/mail/config-v1.1.xml", headers={"Host": "autoconfig.example.test"})
    r = c.getresponse()
    body = r.read()
    eq(r.status, 200, "autoconfig over HTTP")
    check(r.headers["Content-Type"].startswith("text/xml") or r.headers["Content-Type"].startswith("application/xml"),
          "XML", r.headers["Content-Type"])
    root = ET.fromstring(body)
    provider = root.find("emailProvider")
    eq(provider.get("id"), "example.test", "provider id")
    servers = {(s.get("type"), s.findtext("socketType")): (s.findtext("hostname"), int(s.findtext("port")))
               for s in root.iter() if s.tag in ("incomingServer", "outgoingServer")}
    eq(servers[("imap", "SSL")], (HOSTNAME, base + 993), "IMAP over TLS")
    eq(servers[("smtp", "SSL")], (HOSTNAME, base + 465), "submission over TLS")
    eq(servers[("smtp", "STARTTLS")], (HOSTNAME, base + 587), "submission with STARTTLS")
    status, _, text = Browser().get("/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=carol%40example.test")
    eq(status, 200, "autoconfig over HTTPS")
    check("%EMAILADDRESS%" in text, "username placeholder", text[:500])
    eq(Browser().get("/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=x%40other.test")[0], 404,
       "autoconfig for a domain not served here")
    # Outlook: autodiscover POX.
    def autodiscover(address):
        req = ('<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/'
               'exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>%s</EMailAddress>'
               '<AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/'
               'responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>' % address)
        c = Loopback(HOSTNAME, WEB_PORT, context=tls_context(), timeout=TIMEOUT)
        c.request("POST", "/Autodiscover/Autodiscover.xml", body=req.encode(),
                  headers={"Host": HOSTNAME, "Content-Type": "text/xml"})
        r = c.getresponse()
        return r.status, r.read().decode()
    status, text = autodiscover("carol@example.test")
    eq(status, 200, "autodiscover")
    root = ET.fromstring(text)
    protocols = {p.findtext("{*}Type"): p for p in root.iter() if p.tag.endswith("}Protocol")}
    eq(protocols["IMAP"].findtext("{*}Server"), HOSTNAME, "IMAP server")
    eq(int(protocols["IMAP"].findtext("{*}Port")), base + 993, "IMAP port")
    eq(protocols["SMTP"].findtext("{*}LoginName"), "carol@example.test", "login name")
    status, text = autodiscover("someone@other.test")
    check("<ErrorCode>500</ErrorCode>" in text, "unknown domain refused", text)
    # Carol's page: a QR code, the profile.
    carol = Browser()
    eq(carol.get("/me/mailnook.mobileconfig")[1].get("Location"), "/login", "profile needs a login")
    status, _, _ = carol.post("/login", {"email": "carol@example.test", "password": "carol's password"})
    eq(status, 303, "carol logs in")
    status, _, text = carol.get("/me")
    check("<svg" in text and 'href="/me/mailnook.mobileconfig"' in text, "QR code and profile link", text[-3000:])
    status, headers, body = carol.get("/me/mailnook.mobileconfig")
    eq(status, 200, "profile")
    eq(headers["Content-Type"], "application/x-apple-aspen-config", "profile type")
    check("attachment" in headers["Content-Disposition"], "a download", headers["Content-Disposition"])
    profile = plistlib.loads(body.encode())
    mail = [p for p in profile["PayloadContent"] if p["PayloadType"] == "com.apple.mail.managed"][0]
    eq((mail["IncomingMailServerHostName"], mail["IncomingMailServerPortNumber"]), (HOSTNAME, base + 993),
       "profile's IMAP server")
    eq((mail["OutgoingMailServerHostName"], mail["OutgoingMailServerPortNumber"]), (HOSTNAME, base + 465),
       "profile's SMTP server")
    eq(mail["IncomingMailServerUsername"], "carol@example.test", "profile's user")


def make_certificate():
    """A self-made certificate for HOSTNAME and its key, as PEM files: (folder, cert, key)."""
    work = tempfile.mkdtemp()
    cert, key = (os.path.join(work, n) for n in ("cert.pem", "key.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=" + HOSTNAME,
                    "-addext", "subjectAltName=DNS:" + HOSTNAME], check=True, capture_output=True)
    return work, cert, key


@scenario
def tls_page():
    b = Browser()
    setup(b)
    status, headers, text = b.get("/admin/tls")
    check(status == 200 and "self-signed" in text, "self-signed in use", text[-2000:])
    eq(headers.get("Strict-Transport-Security"), None, "no HSTS with the self-signed certificate")
    work, cert, key = make_certificate()
    other = os.path.join(work, "other-key.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", other],
                   check=True, capture_output=True)
    cert_pem, key_pem, other_pem = (open(p).read() for p in (cert, key, other))
    # A key that does not belong to the certificate is refused, and nothing changes.
    status, _, text = b.post("/admin/tls", {"action": "upload", "cert": cert_pem, "key": other_pem})
    eq(status, 400, "mismatched key")
    check("BEGIN PRIVATE KEY" not in text and other_pem.splitlines()[1] not in text, "the key is never shown back")
    status, _, text = b.post("/admin/tls", {"action": "upload", "cert": cert_pem.replace("\n", "\r\n"),
                                            "key": key_pem.replace("\n", "\r\n")})
    eq(status, 200, "install")
    check("Certificate installed" in text, "installed", text[-2000:])
    # The server presents it within its reload interval; the page then trusts only it.
    want = ssl.PEM_cert_to_DER_cert(cert_pem)
    deadline = time.time() + 20
    while ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", WEB_PORT))) != want:
        check(time.time() < deadline, "the new certificate is served")
        time.sleep(0.2)
    b.cafile = cert
    status, headers, text = b.get("/admin/tls")
    check(status == 200 and "your own certificate, valid until" in text, "own certificate in use", text[-2000:])
    eq(headers.get("Strict-Transport-Security"), "max-age=31536000", "HSTS with a real certificate")
    status, _, text = b.post("/admin/tls", {"action": "self-signed"})
    eq(status, 200, "back to self-signed")
    deadline = time.time() + 20
    while ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", WEB_PORT))) == want:
        check(time.time() < deadline, "the self-signed certificate is served again")
        time.sleep(0.2)


def totp(key_b32, at):
    """RFC 6238 with SHA-1, 30 s steps, 6 digits (RFC 4226 §5.3 truncation)."""
    import base64, hashlib, hmac, struct
    key = base64.b32decode(key_b32 + "=" * (-len(key_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    o = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7fffffff) % 1000000)


@scenario
def two_step():
    b = Browser()
    setup(b)
    status, _, text = b.post("/me", {"action": "totp-start"})
    eq(status, 200, "start")
    m = re.search(r"Key: <code>([A-Z2-7]+)</code>", text)
    check(m and "<svg" in text, "key and QR code shown", text[-3000:])
    key = m.group(1)
    status, _, text = b.post("/me", {"action": "totp-confirm", "code": "000000" if totp(key, time.time()) != "000000" else "111111"})
    eq(status, 400, "a wrong first code")
    now = time.time()
    status, _, text = b.post("/me", {"action": "totp-confirm", "code": totp(key, now)})
    eq(status, 200, "confirm")
    check("Two-step login is on" in text and key not in text, "on, and the key is not shown again", text[:3000])
    b.post("/logout", {}, form_page="/me")
    # The password alone now opens only the code page.
    status, headers, _ = b.post("/login", {"email": ADMIN, "password": ADMIN_PASSWORD})
    eq((status, headers["Location"]), (303, "/login/code"), "code asked")
    eq(b.get("/admin")[1].get("Location"), "/login", "nothing else opens before the code")
    status, _, text = b.post("/login/code", {"code": "12345x"})
    check(status == 200 and "not right" in text, "wrong code", text[-1000:])
    # The code already used to turn it on is not accepted again; the next one is.
    status, _, text = b.post("/login/code", {"code": totp(key, now)})
    check("not right" in text, "a code is single-use", text[-1000:])
    status, headers, _ = b.post("/login/code", {"code": totp(key, now + 30)})
    eq((status, headers["Location"]), (303, "/"), "the next code logs in")
    eq(b.get("/admin")[0], 200, "logged in")
    # Five wrong codes end a half-done login.
    other = Browser()
    status, headers, _ = other.post("/login", {"email": ADMIN, "password": ADMIN_PASSWORD})
    eq(headers["Location"], "/login/code", "code asked again")
    for _ in range(5):
        status, headers, _ = other.post("/login/code", {"code": "999999" if totp(key, time.time()) != "999999" else "888888"},
                                        form_page="/login/code")
    eq((status, headers.get("Location")), (303, "/login"), "ended after five wrong codes")
    eq(other.get("/login/code")[1].get("Location"), "/login", "no code page any more")
    # An administrator turns it off (a lost phone): the password is enough again.
    status, _, text = b.post("/admin/users", {"action": "totp-off", "email": ADMIN})
    check(status == 200 and "two-step login is off" in text, "turned off", text[:2000])
    status, headers, _ = Browser().post("/login", {"email": ADMIN, "password": ADMIN_PASSWORD})
    eq((status, headers["Location"]), (303, "/"), "password alone")
    # Mail programs never needed a code.
    check(imap_login(ADMIN, ADMIN_PASSWORD), "IMAP login with the password")


@scenario
def domains_and_vacation():
    b = Browser()
    setup(b)
    status, _, text = b.post("/admin/domains", {"action": "add", "domain": "Second.Example"})
    eq(status, 200, "add domain")
    check("second.example</td>" in text, "listed, lowercased", text[-2000:])
    eq(b.post("/admin/domains", {"action": "add", "domain": "not a domain"})[0], 400, "bad domain")
    # A domain with a user in it stays.
    status, _, _ = b.post("/admin/users", {"action": "add", "email": "eve@second.example", "password": "eve's password"})
    eq(status, 200, "user in the new domain")
    check(imap_login("eve@second.example", "eve's password"), "the new domain's user reads mail")
    eq(b.post("/admin/domains", {"action": "delete", "domain": "second.example"})[0], 400, "domain in use")
    b.post("/admin/users", {"action": "delete", "email": "eve@second.example", "confirm": "eve@second.example"})
    status, _, text = b.post("/admin/domains", {"action": "delete", "domain": "second.example"})
    eq(status, 200, "remove domain")
    check("second.example</td>" not in text, "gone", text[-2000:])
    # The vacation reply is kept as written.
    status, _, text = b.post("/me", {"action": "vacation", "on": "1", "subject": "Away <until> Monday",
                                     "body": "Back on Monday.\r\nUrgent: call the office."})
    check(status == 200 and "saved and on" in text, "vacation saved", text[:2000])
    status, _, text = b.get("/me")
    check('value="Away &lt;until&gt; Monday"' in text and "Back on Monday.\nUrgent: call the office.</textarea>" in text
          and 'value="1" checked' in text, "shown back, escaped", text[-3000:])
    eq(b.post("/me", {"action": "vacation", "on": "1", "subject": "x", "body": ""})[0], 400, "empty reply refused")
    eq(b.post("/me", {"action": "vacation", "subject": "y" * 201, "body": "z"})[0], 400, "long subject refused")
    status, _, text = b.post("/me", {"action": "vacation", "subject": "Away", "body": "Back soon."})
    check(status == 200 and "saved and off" in text, "turned off", text[:2000])


@scenario
def aliases_page():
    """Leaves info@example.test delivering to the administrator and carol."""
    b = Browser()
    setup(b)
    eq(b.post("/admin/users", {"action": "add", "email": "carol@example.test", "password": "carol's password"})[0],
       200, "add carol")
    status, _, text = b.get("/admin/aliases")
    check(status == 200 and "No aliases yet." in text, "empty list", text[-2000:])
    status, _, text = b.post("/admin/aliases", {"action": "add", "alias": "Info@Example.test",
                                                "targets": ADMIN + ", carol@example.test"})
    eq(status, 200, "add alias")
    check("info@example.test now delivers to boss@example.test, carol@example.test" in text
          and "<td>info@example.test</td><td>boss@example.test, carol@example.test</td>" in text,
          "listed, lowercased", text[-2500:])
    b.post("/admin/aliases", {"action": "add", "alias": "old@example.test", "targets": "carol@example.test"})
    # Mistakes are explained and change nothing.
    for fields, why in (({"alias": "x@elsewhere.test", "targets": ADMIN}, "no such domain"),
                        ({"alias": "carol@example.test", "targets": ADMIN}, "is a user&#39;s address"),
                        ({"alias": "y@example.test", "targets": "dave@example.test"}, "no such user"),
                        ({"alias": "y@example.test", "targets": ""}, "Name at least one user"),
                        ({"alias": "not an address", "targets": ADMIN}, "not a valid email address")):
        status, _, text = b.post("/admin/aliases", dict(fields, action="add"))
        check(status == 400 and why in text, "refused: " + why, (status, text[-1500:]))
    status, _, _ = b.request("POST", "/admin/aliases", {"action": "add", "alias": "z@example.test",
                                                        "targets": ADMIN})
    eq(status, 403, "no CSRF token")
    status, _, text = b.post("/admin/aliases", {"action": "delete", "alias": "old@example.test"})
    check(status == 200 and "deleted alias old@example.test" in text and "<td>old@example.test" not in text,
          "removed", text[-2000:])
    carol = Browser()
    eq(carol.post("/login", {"email": "carol@example.test", "password": "carol's password"})[0], 303, "carol")
    eq(carol.get("/admin/aliases")[0], 403, "not for a non-admin")


@scenario
def page_filters():
    """Leaves boss@example.test with a vacation reply and a rule filing "invoice" mail in Bills."""
    b = Browser()
    setup(b)
    c = imaplib.IMAP4("127.0.0.1", IMAP_PORT, timeout=TIMEOUT)
    c.host = HOSTNAME
    c.starttls(tls_context())
    c.login(ADMIN, ADMIN_PASSWORD)
    eq(c.create("Bills")[0], "OK", "IMAP CREATE Bills")
    c.logout()
    status, _, text = b.post("/me", {"action": "rule-add", "field": "subject", "contains": "Invoice",
                                     "rule": "move", "target": "Bills"})
    check(status == 200 and "Rule added." in text and "Subject contains “Invoice”" in text, "rule", text[-3000:])
    status, _, text = b.post("/me", {"action": "rule-add", "field": "from", "contains": "x",
                                     "rule": "forward", "target": "not an address"})
    check(status == 400 and "is not an email address" in text, "bad forward refused", text[-3000:])
    status, _, text = b.post("/me", {"action": "rule-add", "field": "from", "contains": "ads@",
                                     "rule": "delete", "target": ""})
    eq(status, 200, "second rule")
    status, _, text = b.post("/me", {"action": "rule-del", "index": "1"})
    check(status == 200 and "Rule removed." in text and "ads@" not in text, "removed", text[-3000:])
    eq(b.post("/me", {"action": "rule-del", "index": "7"})[0], 400, "no such rule")
    status, _, text = b.post("/me", {"action": "vacation", "on": "1", "subject": "Out of office",
                                     "body": "Back on Monday."})
    check(status == 200 and "saved and on" in text, "vacation on", text[-3000:])
    status, _, _ = b.request("POST", "/me", {"action": "rule-add", "field": "subject", "contains": "y",
                                             "rule": "read", "target": ""})
    eq(status, 403, "no CSRF token")


@scenario
def lists_page():
    """Leaves club@example.test, open to anyone, with the administrator and an outside member."""
    b = Browser()
    setup(b)
    status, _, text = b.get("/admin/lists")
    check(status == 200 and "No mailing lists yet." in text, "empty", text[-2000:])
    status, _, text = b.post("/admin/lists", {"action": "set", "list": "Club@Example.test", "posting": "anyone"})
    check(status == 200 and "list club@example.test: anyone may post, replies go to the sender" in text,
          "made", text[-3000:])
    status, _, text = b.post("/admin/lists", {"action": "join", "list": "club@example.test",
                                              "addresses": ADMIN + ", friend@far.test, gone@far.test"})
    check(status == 200 and "3 members" in text and "<li>friend@far.test" in text, "members", text[-3000:])
    status, _, text = b.post("/admin/lists", {"action": "leave", "list": "club@example.test",
                                              "addresses": "gone@far.test"})
    check(status == 200 and "gone@far.test" not in text, "member removed", text[-3000:])
    for fields, why in (({"action": "set", "list": "x@elsewhere.test", "posting": "anyone"}, "no such domain"),
                        ({"action": "set", "list": ADMIN, "posting": "anyone"}, "is a user&#39;s address"),
                        ({"action": "set", "list": "y@example.test", "posting": "everyone"}, "who may post"),
                        ({"action": "join", "list": "club@example.test", "addresses": ""}, "at least one"),
                        ({"action": "join", "list": "nope@example.test", "addresses": ADMIN}, "no such list")):
        status, _, text = b.post("/admin/lists", fields)
        check(status == 400 and why in text, "refused: " + why, (status, text[-2000:]))
    eq(b.request("POST", "/admin/lists", {"action": "delete", "list": "club@example.test"})[0], 403,
       "no CSRF token")


@scenario
def move_in():
    """Alice copies her account on another IMAP server (DOVECOT_PORT, DOVECOT_CA, OLD_USER,
    OLD_PASSWORD) from her page, twice: the second run copies nothing new."""
    b = Browser()
    eq(b.post("/login", {"email": "alice@example.test", "password": PASSWORD})[0], 303, "login")
    with open(os.environ["DOVECOT_CA"]) as f:
        ca = f.read()
    form = {"action": "import-imap", "host": "127.0.0.1", "port": os.environ["DOVECOT_PORT"],
            "security": "tls", "login": os.environ["OLD_USER"], "password": os.environ["OLD_PASSWORD"]}
    status, _, text = b.post("/me", dict(form, password="wrong", ca=ca))
    check(status == 400 and "logging in as" in text, "wrong password explained", text[:3000])
    check(os.environ["OLD_PASSWORD"] not in text, "the password is not shown back")
    status, _, text = b.post("/me", dict(form, ca=""))
    check(status == 400 and "certificate" in text, "an unknown authority refused", text[:3000])
    status, _, text = b.post("/me", dict(form, ca=ca))
    check(status == 200 and "copied 9 new messages" in text, "copied", text[:3000])
    status, _, text = b.post("/me", dict(form, ca=ca))
    check(status == 200 and "copied 0 new messages" in text, "nothing new", text[:3000])
    eq(b.request("POST", "/me", dict(form, ca=ca))[0], 403, "no CSRF token")


@scenario
def chart():
    """Alice (an administrator by setting) reads the overview; prints the chart's titles."""
    b = Browser()
    status, _, _ = b.post("/login", {"email": "alice@example.test", "password": PASSWORD})
    eq(status, 303, "login")
    status, _, text = b.get("/admin")
    eq(status, 200, "overview")
    check('<svg class="chart"' in text, "a chart", text[-3000:])
    for title in re.findall(r"<title>([^<]*)</title>", text):
        print(title)
    print(re.search(r"received \d+ · .*? in \d+ days", text).group(0))


@scenario
def app_passwords():
    b = Browser()
    setup(b)
    status, _, text = b.post("/me", {"action": "app-new", "name": "phone"})
    eq(status, 200, "make")
    m = re.search(r'<code class="secret">([a-z0-9 ]+)</code>', text)
    check(m, "shown once", text[:3000])
    shown = m.group(1)
    password = shown.replace(" ", "")
    eq(len(password), 20, "length")
    check("phone</td>" in text, "listed by name", text[-3000:])
    check(shown not in b.get("/me")[2], "not shown again")
    # Mail protocols take it (as shown, with spaces, too); the main password still works.
    check(imap_login(ADMIN, password), "IMAP with the app password")
    check(imap_login(ADMIN, shown), "IMAP with the app password as shown")
    check(imap_login(ADMIN, ADMIN_PASSWORD), "IMAP with the main password")
    c = smtplib.SMTP("127.0.0.1", SUBMISSION_PORT, timeout=TIMEOUT)
    c._host = HOSTNAME
    c.starttls(context=tls_context())
    c.login(ADMIN, password)
    c.quit()
    # Not the web page.
    status, _, text = Browser().post("/login", {"email": ADMIN, "password": password})
    check(status == 200 and "Wrong address or password" in text, "web refuses app passwords", text[-1000:])
    # Revoked: refused at once (nothing cached).
    m = re.search(r'name="action" value="app-revoke"><input type="hidden" name="id" value="([0-9a-f]+)"', b.get("/me")[2])
    status, _, text = b.post("/me", {"action": "app-revoke", "id": m.group(1)})
    check(status == 200 and "revoked" in text, "revoke", text[:2000])
    check(not imap_login(ADMIN, password), "revoked app password refused")
    check(imap_login(ADMIN, ADMIN_PASSWORD), "main password still works")
    eq(b.post("/me", {"action": "app-new", "name": ""})[0], 400, "a name is needed")
    # An administrator revokes all of a user's app passwords (a lost laptop with several).
    status, _, text = b.post("/me", {"action": "app-new", "name": "laptop"})
    laptop = re.search(r'<code class="secret">([a-z0-9 ]+)</code>', text).group(1)
    check(imap_login(ADMIN, laptop), "the laptop's app password works")
    status, _, text = b.post("/admin/users", {"action": "apppw-revoke", "email": ADMIN})
    check(status == 200 and "every app password of" in text, "revoked by the administrator", text[:2000])
    check(not imap_login(ADMIN, laptop), "refused after the administrator revoked it")
    print("app password " + password)


@scenario
def download_mail():
    """/me offers the signed-in user's mail as a .tar of mbox files; Python's tarfile and
    mailbox read it. DOWNLOAD_DIR receives the unpacked files for the Rust side to compare."""
    import mailbox
    import tarfile
    eq(Browser().get("/me/mail.tar")[1]["Location"], "/login", "only for a signed-in user")
    b = Browser()
    setup(b)
    c = imaplib.IMAP4("127.0.0.1", IMAP_PORT, timeout=TIMEOUT)
    c.host = HOSTNAME
    c.starttls(tls_context())
    c.login(ADMIN, ADMIN_PASSWORD)
    c.create("Work/Projects")
    big = "Subject: big\r\n\r\n" + ("0123456789" * 10 + "\r\n") * 3000
    for box, flags, date, text in [
        ("INBOX", r"(\Seen)", '"01-Jan-2020 10:00:00 +0000"', "Subject: one\r\n\r\nFrom me\r\n"),
        ("INBOX", r"(\Flagged $Label1)", '"02-Jan-2020 10:00:00 +0000"', big),
        ("Work/Projects", r"(\Answered)", '"03-Jan-2020 10:00:00 +0000"', "Subject: three\r\n\r\nhi\r\n"),
    ]:
        typ, data = c.append(box, flags, date, text.encode())
        eq(typ, "OK", "append")
    c.logout()
    check('href="/me/mail.tar"' in b.get("/me")[2], "the page offers the download")
    conn = Loopback(HOSTNAME, WEB_PORT, context=b.context(), timeout=TIMEOUT)
    conn.request("GET", "/me/mail.tar", headers={
        "Host": "%s:%d" % (HOSTNAME, WEB_PORT),
        "Cookie": "; ".join("%s=%s" % kv for kv in b.cookies.items())})
    r = conn.getresponse()
    eq(r.status, 200, "download")
    eq(r.headers["Content-Type"], "application/x-tar", "type")
    eq(r.headers["Transfer-Encoding"], "chunked", "streamed")
    check("attachment" in r.headers["Content-Disposition"], "a download", r.headers["Content-Disposition"])
    data = r.read()
    conn.close()
    out = os.environ["DOWNLOAD_DIR"]
    with tarfile.open(fileobj=__import__("io").BytesIO(data)) as t:
        names = sorted(t.getnames())
        t.extractall(out, filter="data")
    check({"mail/INBOX", "mail/Work.sbd/Projects", "mail/Work", "mail/Sent"} <= set(names), "members", names)
    inbox = mailbox.mbox(os.path.join(out, "mail/INBOX"))
    msgs = [inbox.get_message(k) for k in inbox.keys()]
    eq([m["Subject"] for m in msgs], ["one", "big"], "subjects")
    eq(sorted(msgs[0].get_flags()), ["O", "R"], "seen")
    eq(sorted(msgs[1].get_flags()), ["F", "O"], "flagged")
    eq(msgs[0].get_from(), "MAILER-DAEMON Wed Jan  1 10:00:00 2020", "date")
    eq(len(mailbox.mbox(os.path.join(out, "mail/Work.sbd/Projects"))), 1, "nested")
    # The downloaded INBOX uploaded again into a new folder: the same messages and flags.
    with open(os.path.join(out, "mail/INBOX"), "rb") as f:
        inbox_bytes = f.read()
    status, _, text = b.upload("/me/import", [("mailbox", b"Imported", None), ("mbox", inbox_bytes, "INBOX")],
                               form_page="/me")
    check(status == 200 and "Imported\t2 messages imported" in text, "imported", text[-2000:])
    status, _, _ = b.upload("/me/import", [("mailbox", b"Imported", None), ("mbox", b"From x\r\n\r\n", "x")],
                            form_page="/me", token_first=False)
    eq(status, 403, "token not first")
    status, _, text = b.upload("/me/import", [("mailbox", b"Bad", None), ("mbox", b"not an mbox\r\n", "x")],
                               form_page="/me")
    check(status == 400, "not an mbox", text[-2000:])
    c = imaplib.IMAP4("127.0.0.1", IMAP_PORT, timeout=TIMEOUT)
    c.host = HOSTNAME
    c.starttls(tls_context())
    c.login(ADMIN, ADMIN_PASSWORD)
    c.select("Imported", readonly=True)
    typ, data = c.fetch("1:*", "(FLAGS RFC822.SIZE)")
    got = [d.decode() for d in data]
    check(len(got) == 2 and "\\Seen" in got[0] and "\\Flagged" in got[1] and "$Label1" in got[1],
          "flags kept", got)
    c.logout()


@scenario
def collect_accounts():
    """/me adds and removes accounts to collect mail from; the password never comes back."""
    b = Browser()
    setup(b)
    secret = "ext-Secret-42"
    check("Collect mail from other accounts" in b.get("/me")[2], "the section is on the page")
    status, _, text = b.post("/me", {"action": "collect-add", "protocol": "pop3", "host": "pop.other.example",
                                     "port": "", "login": "me@other.example", "password": secret,
                                     "mailbox": "Other", "delete": "1"})
    check(status == 200 and "added account 1" in text, "added", text[:3000])
    status, _, text = b.post("/me", {"action": "collect-add", "protocol": "imap", "host": "imap.other.example",
                                     "port": "1993", "starttls": "1", "login": "me2", "password": secret,
                                     "mailbox": ""})
    check(status == 200 and "added account 2" in text, "added", text[:3000])
    page = b.get("/me")[2]
    check(secret not in page, "the password is not in the page")
    check("pop3 me@other.example@pop.other.example:995 tls -&gt; Other, deleted on the server" in page,
          "listed", page[-4000:])
    check("imap me2@imap.other.example:1993 starttls -&gt; INBOX, kept on the server" in page, "listed", page[-4000:])
    check(page.count("password ********") == 2, "masked", page[-4000:])
    eq(b.post("/me", {"action": "collect-add", "protocol": "smtp", "host": "h", "login": "l",
                      "password": "p"})[0], 400, "pop3 or imap only")
    eq(b.post("/me", {"action": "collect-add", "protocol": "pop3", "host": "h", "login": "l",
                      "password": ""})[0], 400, "a password is needed")
    # Without the CSRF token nothing happens.
    status, _, _ = b.request("POST", "/me", {"action": "collect-del", "id": "1"})
    eq(status, 403, "no CSRF token")
    status, _, text = b.post("/me", {"action": "collect-del", "id": "1"})
    check(status == 200 and "removed account 1" in text, "removed", text[:3000])
    check("pop.other.example" not in b.get("/me")[2], "gone from the page")
    eq(b.post("/me", {"action": "collect-del", "id": "1"})[0], 400, "already removed")


@scenario
def keep_session():
    b = Browser()
    setup(b)
    eq(b.get("/admin")[0], 200, "logged in")
    with open(os.environ["COOKIES"], "w") as f:
        f.write(b.cookies["mn_session"])


@scenario
def reuse_session():
    b = Browser()
    b.cookies["mn_session"] = open(os.environ["COOKIES"]).read()
    eq(b.get("/admin")[0], 200, "still logged in after the restart")
    b.post("/logout", {}, form_page="/admin")
    again = Browser()
    again.cookies["mn_session"] = open(os.environ["COOKIES"]).read()
    eq(again.get("/admin")[1].get("Location"), "/login", "ended by logout")


@scenario
def backup_download():
    """Downloads a backup with an administrator's session into BACKUP; refused without one."""
    b = Browser()
    setup(b)
    status, _, text = b.get("/admin/backup")
    check(status == 200 and "Download a backup" in text, "backup page", text[-1500:])
    check('action="/admin/backup"' not in text, "no restore form on a box in use", text[-1500:])
    status, headers, _ = Browser().get("/admin/backup/download")
    eq((status, headers.get("Location")), (303, "/login"), "download without a session")
    status, headers, _ = b.get("/admin/backup/download")
    eq(status, 200, "download")
    check(re.fullmatch(r'attachment; filename="mailnook-backup-\d{4}-\d\d-\d\d\.mnb"',
                       headers.get("Content-Disposition", "")), "attachment", headers.get("Content-Disposition"))
    eq(headers.get("Transfer-Encoding"), "chunked", "streamed")
    eq(headers.get("Content-Length"), None, "no length up front")
    data = b.last_body
    check(data.startswith(b"MAILNOOK-BACKUP\n") and len(data) > 1000, "a backup", data[:40])
    with open(os.environ["BACKUP"], "wb") as f:
        f.write(data)


@scenario
def restore_upload():
    """On a new box: a damaged backup and a form without its token first are refused; the
    backup from BACKUP is restored by upload, and the restored administrator logs in."""
    data = open(os.environ["BACKUP"], "rb").read()
    b = Browser()
    status, _, text = b.get("/setup")
    check(status == 200 and 'action="/setup/restore"' in text and 'enctype="multipart/form-data"' in text,
          "the setup page offers a restore", text[-1500:])
    status, _, text = b.upload("/setup/restore", [("backup", data[:-50], "box.mnb")], form_page="/setup")
    eq(status, 400, "truncated backup")
    check("nothing was restored" in text, "says why", text[-1500:])
    status, _, text = b.upload("/setup/restore", [("backup", data, "box.mnb")], form_page="/setup",
                               token_first=False)
    eq(status, 403, "token not first")
    eq(b.get("/setup")[0], 200, "still a new box")
    status, _, text = b.upload("/setup/restore", [("backup", data, "box.mnb")], form_page="/setup")
    check(status == 200 and "restored" in text, "restored", text[-1500:])
    # The restored box presents the restored certificate (CA names it) within its reload
    # interval; then its administrator logs in with the restored password.
    deadline = time.time() + 20
    want = ssl.PEM_cert_to_DER_cert(open(CA).read())
    while ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", WEB_PORT))) != want:
        check(time.time() < deadline, "the restored certificate is served")
        time.sleep(0.2)
    b = Browser()
    eq(b.get("/setup")[0], 303, "setup is over once restored")
    status, headers, text = b.post("/login", {"email": ADMIN, "password": ADMIN_PASSWORD})
    eq((status, headers.get("Location")), (303, "/"), "the restored administrator logs in")
    check("mn_session" in b.cookies, "a session", b.cookies)
    eq(b.get("/admin/backup")[0], 200, "and reaches the backup page")
    check(imap_login(ADMIN, ADMIN_PASSWORD), "and logs in over IMAP")


@scenario
def tls_files_upload():
    """Installs a certificate and key chosen as files (multipart), then goes back."""
    b = Browser()
    setup(b)
    status, _, text = b.get("/admin/tls")
    check('type="file" name="cert_file"' in text and 'enctype="multipart/form-data"' in text,
          "file inputs", text[-2000:])
    _, cert, key = make_certificate()
    cert_pem, key_pem = (open(p, "rb").read() for p in (cert, key))
    status, _, text = b.upload("/admin/tls", [("action", b"upload", None), ("cert_file", cert_pem, "cert.pem"),
                                              ("cert", b"", None), ("key_file", key_pem, "key.pem"),
                                              ("key", b"", None)])
    check(status == 200 and "Certificate installed" in text, "installed from files", text[-2000:])
    want = ssl.PEM_cert_to_DER_cert(cert_pem.decode())
    deadline = time.time() + 20
    while ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", WEB_PORT))) != want:
        check(time.time() < deadline, "the uploaded certificate is served")
        time.sleep(0.2)
    b.cafile = cert
    status, _, text = b.upload("/admin/tls", [("action", b"self-signed", None)])
    eq(status, 200, "back to self-signed")



@scenario
def login_brute_force():
    """Past auth.max_failures_per_ip (4, set by tests/hostile.rs) the login page answers 429 even
    for the right password, and IMAP from the same address is refused too."""
    b = Browser()
    for i in range(1, 5):
        status, _, text = b.post("/login", {"email": "alice@example.test", "password": "wrong-%d" % i})
        eq(status, 200, "failure %d" % i)
        check("Wrong address or password" in text, "refused %d" % i, text[-600:])
    status, headers, text = b.post("/login", {"email": "alice@example.test", "password": PASSWORD})
    eq(status, 429, "the right password while blocked")
    eq(headers.get("Retry-After"), "60", "Retry-After")
    check("try again later" in text and "mn_session" not in b.cookies, "blocked", text[-600:])
    check(not imap_login("alice@example.test", PASSWORD), "IMAP from the same address is blocked")

if __name__ == "__main__":
    SCENARIOS[sys.argv[1]]()
    print("scenario %s passed" % sys.argv[1])
