"""Open a page in headless Chromium and check it the way a reader's browser would: it loads, logs
no console error or exception, fetches nothing but ``file:``/``data:`` URLs (works offline), and
renders to a screenshot. Talks the Chrome DevTools Protocol over ``--remote-debugging-pipe``
(JSON messages separated by NUL bytes on fds 3 and 4), so it needs no Python package, only a
Chromium binary (Debian: ``apt-get install chromium``; or set ``PRIORLAB_CHROMIUM``).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome", "headless_shell")
LOCAL_SCHEMES = ("file:", "data:", "about:")


def find_chromium() -> str | None:
    """``$PRIORLAB_CHROMIUM`` or the first Chromium-like binary on ``PATH``; None when there is none."""
    for name in filter(None, (os.environ.get("PRIORLAB_CHROMIUM"), *CANDIDATES)):
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageCheck:
    """What the browser saw. ``errors``: console errors, uncaught exceptions, failed loads;
    ``external``: URLs requested that are not ``file:``/``data:``; ``height``: page height in CSS px."""

    url: str
    loaded: bool = False
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    height: int = 0
    screenshot: Path | None = None

    @property
    def ok(self) -> bool:
        return self.loaded and not self.errors and not self.external


class _DevTools:
    """A CDP connection over a pipe: :meth:`call` sends a command and returns its result, routing
    every event that arrives meanwhile to ``on_event(method, params)``."""

    def __init__(self, proc: subprocess.Popen, write_fd: int, read_fd: int, on_event, deadline: float):
        self.proc, self.w, self.r, self.on_event, self.deadline = proc, write_fd, read_fd, on_event, deadline
        self.next_id, self.buf = 0, b""

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"Chromium: {method} failed: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.on_event(reply["method"], reply.get("params", {}))

    def wait_for(self, event: str) -> bool:
        """Route events until ``event`` arrives (True) or the deadline passes (False)."""
        try:
            while True:
                msg = self._read()
                if "method" in msg:
                    self.on_event(msg["method"], msg.get("params", {}))
                    if msg["method"] == event:
                        return True
        except TimeoutError:
            return False

    def _read(self) -> dict:
        while b"\0" not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.r], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium exited (code {self.proc.poll()})")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)


class _Recorder:
    """Routes DevTools events into a :class:`PageCheck`: console errors and warnings, uncaught
    exceptions, log entries, every requested URL (non-local ones flagged) and failed loads."""

    def __init__(self, check: PageCheck):
        self.check, self.urls = check, {}

    def __call__(self, method: str, p: dict) -> None:
        check = self.check
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert", "warning"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            (check.warnings if p["type"] == "warning" else check.errors).append(f"console.{p['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            check.errors.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
        elif method == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
            e = p["entry"]
            (check.errors if e["level"] == "error" else check.warnings).append(f"{e.get('text')} {e.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            self.urls[p.get("requestId")] = url
            if not url.startswith(LOCAL_SCHEMES):
                check.external.append(url)
        elif method == "Network.loadingFailed":
            check.errors.append(f"failed to load {self.urls.get(p.get('requestId'), '?')}: {p.get('errorText')}")


def _above(fd: int, low: int) -> int:
    """``fd`` moved to a descriptor number >= ``low`` (close-on-exec)."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, low)
    os.close(fd)
    return new


def _launch(chrome: str, profile: str) -> tuple[subprocess.Popen, int, int]:
    """Start headless Chromium with its DevTools pipe on fds 3 (commands in) and 4 (replies out)."""
    cmd_r, cmd_w = os.pipe()
    out_r, out_w = os.pipe()
    cmd_r, out_w = _above(cmd_r, 10), _above(out_w, 10)  # so that moving them to 3 and 4 cannot collide
    flags = ["--headless", "--remote-debugging-pipe", f"--user-data-dir={profile}", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
             "--disable-background-networking", "--disable-dev-shm-usage", "--mute-audio"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        flags.append("--no-sandbox")  # Chromium refuses to sandbox as root
    # bash moves the child's pipe ends to fds 3 and 4
    proc = subprocess.Popen(["bash", "-c", f'exec "$@" 3<&{cmd_r} 4>&{out_w} {cmd_r}<&- {out_w}>&-', "chromium",
                             chrome, *flags, "about:blank"], pass_fds=(cmd_r, out_w),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(cmd_r)
    os.close(out_w)
    return proc, cmd_w, out_r


def check_page(html: str | Path, screenshot: str | Path | None = None, width: int = 1280,
               max_height: int = 16000, timeout_s: float = 60.0, chrome: str | None = None) -> PageCheck:
    """Load ``html`` in headless Chromium at ``width`` CSS px; collect errors and non-local requests;
    write a full-page PNG (at most ``max_height`` px tall) to ``screenshot`` when given.

    Raises ``FileNotFoundError`` when no Chromium is found (see :func:`find_chromium`).
    """
    chrome = chrome or find_chromium()
    if chrome is None:
        raise FileNotFoundError("no Chromium found: apt-get install chromium, or set PRIORLAB_CHROMIUM")
    check = PageCheck(url=Path(html).resolve().as_uri())
    with tempfile.TemporaryDirectory(prefix="priorlab-chromium-") as profile:
        proc, w, r = _launch(chrome, profile)
        try:
            cdp = _DevTools(proc, w, r, _Recorder(check), time.monotonic() + timeout_s)
            target = cdp.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            s = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Runtime", "Log", "Network", "Page"):
                cdp.call(f"{domain}.enable", session=s)
            cdp.call("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=s)
            nav = cdp.call("Page.navigate", {"url": check.url}, session=s)
            if nav.get("errorText"):
                check.errors.append(f"navigation: {nav['errorText']}")
                return check
            check.loaded = cdp.wait_for("Page.loadEventFired")
            check.height = int(cdp.call("Page.getLayoutMetrics", session=s)["cssContentSize"]["height"])
            if screenshot is not None and check.loaded:
                clip = {"x": 0, "y": 0, "width": width, "height": min(check.height, max_height), "scale": 1}
                png = cdp.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                          "clip": clip}, session=s)["data"]
                check.screenshot = Path(screenshot)
                check.screenshot.write_bytes(base64.b64decode(png))
            try:
                cdp.call("Browser.close")
            except (RuntimeError, TimeoutError):
                pass  # it may exit before it answers
        finally:
            os.close(w)
            os.close(r)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return check
