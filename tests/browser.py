"""Where the browser tests find Chromium, how they start it, and when they skip.

Debian's Chromium (`apt-get install chromium`, which .ci/run does), never a downloaded browser build.
"""

import os
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_EXECUTABLE = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
# Headless as root, in a machine with no outside network: no sandbox, no background fetches.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]

needs_chromium = pytest.mark.skipif(
    CHROMIUM_EXECUTABLE is None, reason=f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)"
)


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM_EXECUTABLE, headless=True, args=CHROMIUM_ARGS)


def watch_csp_violations(page) -> list[str]:
    """Collect, from now on, every Content-Security-Policy violation the page reports: its console
    messages ("Refused to ...") and its `securitypolicyviolation` events (read with `csp_violations`)."""
    seen: list[str] = []
    page.on("console", lambda message: seen.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.add_init_script(
        "window.__cspViolations = [];"
        "document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push("
        "e.violatedDirective + ' ' + e.blockedURI));"
    )
    return seen


def csp_violations(page, seen: list[str]) -> list[str]:
    return seen + page.evaluate("window.__cspViolations || []")
