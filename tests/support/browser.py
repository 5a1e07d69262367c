"""A real Chromium (Debian's ``chromium``) driven by Playwright, to see what a browser runs.

``ScriptWatch.load(document)`` shows a document and reports every script the browser ran that a
user would notice: ``alert``/``confirm``/``prompt`` dialogs, ``print()`` and the marker functions
some vectors call instead, and ``window.close()``. One page is reused (a fresh one per document
made the corpus run ten times slower); a document that crashes the browser (Chromium 156 hits a
CHECK on some sequences of hostile documents) is shown again in a relaunched one.

Playwright's sync API keeps an event loop running in the thread that starts it, which would stop
every later test from running its own (the app's TestClient, the dev inbox). So all of it lives
in one thread of its own, and the watch's methods hand their work to that thread.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from playwright.sync_api import Browser, BrowserContext, Dialog, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from tests.support.postfix_tools import find_binary

T = TypeVar("T")

# Runs in every frame before the page's own scripts (Playwright injects it; CSP does not apply to
# it): turns print() and the marker functions some vectors call into dialogs, so one listener sees
# them all.
_MARKERS = """
for (const name of ['print', 'xss', 'XSS', 'pwned']) {
  try { window[name] = (...args) => alert(name + ':' + args.join(',')); } catch (e) {}
}
"""

# Evaluated by Playwright (outside the page's CSP); the clicks themselves are the page's, and the
# navigations they start obey its policy like a reader's clicks would.
_CLICK_EVERYTHING = """() => {
  const targets = document.querySelectorAll(
    'a[href], area[href], button, input[type=submit], input[type=image], [onclick]');
  for (const element of targets) { try { element.click(); } catch (e) {} }
}"""


class _Watch:
    """The Playwright side; used only on the Playwright thread."""

    def __init__(self, playwright: Playwright, executable: str) -> None:
        self._playwright = playwright
        self._executable = executable
        self._browser: Browser | None = None
        self._context: BrowserContext | None = None
        self.page: Page | None = None  # the page of the last load
        self._ran: list[str] = []

    def load(self, document: str, *, settle_ms: int = 30, click: bool = False) -> list[str]:
        """Show ``document``; the dialogs its scripts opened (each dismissed), in order.

        ``click``: then click every link, area and submit button, as a curious reader would
        (``javascript:`` URLs and form actions run only then); a link may leave the document.
        """
        for _ in range(2):
            page = self._usable_page()
            self._ran = []
            try:
                # Scripts run while the document is parsed; handlers of failed loads (offline:
                # every load fails at once) and timers run in the settle time after it.
                page.set_content(document, wait_until="domcontentloaded", timeout=5_000)
                # Error handlers of failed loads run before "load"; a frame that never loads must
                # not hold the run up.
                with contextlib.suppress(PlaywrightTimeoutError):
                    page.wait_for_load_state("load", timeout=1_000)
                page.wait_for_timeout(settle_ms)
                if click:
                    page.evaluate(_CLICK_EVERYTHING)
                    page.wait_for_timeout(settle_ms)
                return self._ran
            except PlaywrightError:
                if self._browser is None or not self._browser.is_connected():
                    self._browser = self._context = self.page = None
                    continue  # the browser crashed: once more in a new one
                if page.is_closed():
                    return [*self._ran, "window.close()"]  # only a script closes the page
                self._close_context()  # stuck (a frame that never loads): the next load starts afresh
                return self._ran
        raise RuntimeError("Chromium crashed twice on the same document")

    def close(self) -> None:
        self._close_context()
        if self._browser is not None and self._browser.is_connected():
            self._browser.close()
        self._browser = None

    def _usable_page(self) -> Page:
        if self.page is not None and not self.page.is_closed():
            return self.page
        self._close_context()
        if self._browser is None:
            # Chromium's own sandbox needs user namespaces, which a root test run in a container lacks.
            args = ["--no-sandbox"] if os.geteuid() == 0 else []
            self._browser = self._playwright.chromium.launch(executable_path=self._executable, args=args)
        # Offline: a preview's images would be fetched from the internet.
        self._context = self._browser.new_context(offline=True)
        page = self.page = self._context.new_page()
        page.add_init_script(_MARKERS)
        page.on("dialog", self._on_dialog)
        return page

    def _close_context(self) -> None:
        context, self._context, self.page = self._context, None, None
        if context is not None and self._browser is not None and self._browser.is_connected():
            context.close()

    def _on_dialog(self, dialog: Dialog) -> None:
        self._ran.append(f"{dialog.type}: {dialog.message}")
        with contextlib.suppress(PlaywrightError):  # already gone with its page
            dialog.dismiss()


class ScriptWatch:
    """What scripts a document runs in Chromium, and what it shows (callable from any thread)."""

    def __init__(self, thread: ThreadPoolExecutor, watch: _Watch) -> None:
        self._thread = thread
        self._watch = watch

    def load(self, document: str, *, settle_ms: int = 30, click: bool = False) -> list[str]:
        return self._run(lambda: self._watch.load(document, settle_ms=settle_ms, click=click))

    def text(self) -> str:
        """The visible text of the last document's body."""
        return self._run(lambda: self._page().inner_text("body"))

    def evaluate(self, expression: str) -> Any:
        """A JavaScript expression's value in the last document (Playwright's, outside its CSP)."""
        return self._run(lambda: self._page().evaluate(expression))

    def _page(self) -> Page:
        assert self._watch.page is not None, "nothing loaded"
        return self._watch.page

    def _run(self, work: Callable[[], T]) -> T:
        return self._thread.submit(work).result()


@contextmanager
def script_watch() -> Iterator[ScriptWatch]:
    """A watch on the system Chromium; raises MissingBinaryError when it is not installed."""
    executable = find_binary("chromium")
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright") as thread:
        playwright = thread.submit(lambda: sync_playwright().start()).result()
        watch = _Watch(playwright, executable)
        try:
            yield ScriptWatch(thread, watch)
        finally:
            thread.submit(watch.close).result()
            thread.submit(playwright.stop).result()
