"""The web page in real headless Chromium (Selenium with Debian's chromedriver), run by
tests/browser.rs: the first-run wizard, adding a user, that user's configuration profile
(checked as a plist), logging out and in, and a form whose CSRF token was removed.

Every page visited is saved as a PNG under ARTIFACTS. The environment gives WEB_PORT,
HOSTNAME_TLS, ARTIFACTS and DOWNLOADS.
"""

import glob
import os
import plistlib
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

WEB_PORT = int(os.environ["WEB_PORT"])
HOST = os.environ["HOSTNAME_TLS"]
ARTIFACTS = os.environ["ARTIFACTS"]
DOWNLOADS = os.environ["DOWNLOADS"]
BASE = "https://%s:%d" % (HOST, WEB_PORT)
ADMIN, ADMIN_PASSWORD = "boss@example.test", "correct horse battery"
USER, USER_PASSWORD = "dana@example.test", "dana's long password"


def check(cond, what, *context):
    if not cond:
        raise AssertionError(what + "".join("\n  " + repr(c)[:2000] for c in context))


def browser():
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                # The self-signed certificate of a fresh box, as its owner would accept it.
                "--ignore-certificate-errors",
                "--host-resolver-rules=MAP %s 127.0.0.1" % HOST,
                # A phone-sized window: every page must work there.
                "--window-size=412,915"):
        o.add_argument(arg)
    o.add_experimental_option("prefs", {"download.default_directory": DOWNLOADS,
                                        "download.prompt_for_download": False})
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
    d.set_page_load_timeout(30)
    return d


shots = []


def shot(d, name):
    path = os.path.join(ARTIFACTS, "%02d-%s.png" % (len(shots) + 1, name))
    d.save_screenshot(path)
    shots.append(path)


def form_of(d, button_text):
    """The form whose button says `button_text`."""
    return d.find_element(By.XPATH, "//form[.//button[normalize-space()='%s']]" % button_text)


def appears(d, text, what):
    """Waits until `text` is on the page."""
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            if text in d.page_source:
                return
        except Exception:
            pass
        time.sleep(0.1)
    check(False, what, d.page_source)


def fill(d, fields, button_text):
    form = form_of(d, button_text)
    for name, value in fields.items():
        e = form.find_element(By.NAME, name)
        e.clear()
        e.send_keys(value)


def submit(d, button_text):
    form_of(d, button_text).find_element(By.TAG_NAME, "button").click()


def h1(d):
    return d.find_element(By.TAG_NAME, "h1").text


def arrive(d, title, what):
    """Waits (a click returns before the next page loads) until the page's h1 is `title`."""
    deadline = time.time() + 15
    seen = None
    while time.time() < deadline:
        try:
            seen = h1(d)
            if seen == title:
                return
        except Exception:  # the old page went away mid-read
            pass
        time.sleep(0.1)
    check(False, what + ": got %r" % seen, d.current_url, d.page_source)


def login(d, email, password):
    d.get(BASE + "/login")
    arrive(d, "Log in", "login page")
    fill(d, {"email": email, "password": password}, "Log in")
    submit(d, "Log in")


def logout(d):
    d.find_element(By.XPATH, "//button[starts-with(normalize-space(), 'Log out')]").click()
    arrive(d, "Log in", "logged out")


def main():
    d = browser()
    try:
        # First run: any page leads to the wizard.
        d.get(BASE + "/")
        arrive(d, "Set up mailnook", "wizard first")
        check(d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"),
              "the wizard fits a phone screen")
        shot(d, "setup")
        fill(d, {"domain": "example.test", "hostname": HOST, "email": ADMIN,
                 "password": ADMIN_PASSWORD, "password2": ADMIN_PASSWORD}, "Set up")
        submit(d, "Set up")
        arrive(d, "Checks", "setup ends on the checks page")
        check("Outbound port 25" in d.page_source and "TLS certificate" in d.page_source, "findings")
        shot(d, "checks")
        d.find_element(By.LINK_TEXT, "Overview").click()
        arrive(d, "Overview", "overview")
        check(HOST in d.page_source, "overview names the host")
        shot(d, "overview")
        # A user, added on the users page.
        d.find_element(By.LINK_TEXT, "Users").click()
        arrive(d, "Users", "users page")
        fill(d, {"email": USER, "password": USER_PASSWORD}, "Add user")
        submit(d, "Add user")
        appears(d, "added " + USER, "user added")
        shot(d, "users")
        # A form without its CSRF token is refused, and nothing happens.
        fill(d, {"email": "mallory@example.test", "password": "mallory's password"}, "Add user")
        d.execute_script("for (const e of document.querySelectorAll('input[name=csrf]')) e.remove();")
        submit(d, "Add user")
        arrive(d, "Forbidden", "POST without CSRF token refused")
        shot(d, "csrf-refused")
        d.get(BASE + "/admin/users")
        check("mallory@example.test" not in d.page_source, "nothing added without a token")
        logout(d)
        shot(d, "login")
        # The new user: their page, and their phone's configuration profile.
        login(d, USER, USER_PASSWORD)
        arrive(d, "My account", "user's page")
        check(USER in d.page_source and HOST in d.page_source, "settings shown")
        shot(d, "my-account")
        d.find_element(By.PARTIAL_LINK_TEXT, "iPhone").click()
        deadline = time.time() + 20
        files = []
        while time.time() < deadline:
            files = [f for f in glob.glob(os.path.join(DOWNLOADS, "*.mobileconfig"))]
            if files and not glob.glob(os.path.join(DOWNLOADS, "*.crdownload")):
                break
            time.sleep(0.2)
        check(len(files) == 1, "one profile downloaded", os.listdir(DOWNLOADS))
        with open(files[0], "rb") as f:
            profile = plistlib.load(f)
        check(profile["PayloadType"] == "Configuration", "a configuration profile", profile)
        mail = [p for p in profile["PayloadContent"] if p["PayloadType"] == "com.apple.mail.managed"]
        check(len(mail) == 1, "one mail payload", profile)
        m = mail[0]
        check(m["IncomingMailServerHostName"] == HOST and m["OutgoingMailServerHostName"] == HOST,
              "servers", m)
        check(m["IncomingMailServerUsername"] == USER and m["EmailAddress"] == USER, "user", m)
        check(m["IncomingMailServerUseSSL"] and m["OutgoingMailServerUseSSL"], "TLS", m)
        logout(d)
        # And the administrator again.
        login(d, ADMIN, ADMIN_PASSWORD)
        arrive(d, "Overview", "admin back in")
        shot(d, "overview-again")
    finally:
        d.quit()
    for s in shots:
        check(os.path.getsize(s) > 1000, "screenshot saved", s)


if __name__ == "__main__":
    main()
    print("browser walk passed: %d screenshots" % len(shots))
