"""What the browser tests do with the widget, in one place: open it, talk, read it, measure it."""

from __future__ import annotations

import re

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Locator, Page, expect

REPLY_TIMEOUT_MS = 60_000  # the first Rasa turns on a 2-core machine can be slow

# Measures every piece of visible text on the page: its contrast against the
# background actually behind it (transparent layers composited), its font size,
# and the size of every control. Returns plain data for the test to judge.
MEASURE_JS = r"""
() => {
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return [0, 0, 0, 0];
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, bottom) => {
    const a = top[3] + bottom[3] * (1 - top[3]);
    if (a === 0) return [0, 0, 0, 0];
    const mix = (i) => (top[i] * top[3] + bottom[i] * bottom[3] * (1 - top[3])) / a;
    return [mix(0), mix(1), mix(2), a];
  };
  const background = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let colour = [255, 255, 255, 1];
    for (const layer of layers.reverse()) colour = over(layer, colour);
    return colour;
  };
  const lum = (c) => {
    const ch = c.slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2];
  };
  const ratio = (a, b) => {
    const [l1, l2] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (l1 + 0.05) / (l2 + 0.05);
  };
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    const s = getComputedStyle(el);
    if (r.width <= 1 || r.height <= 1) return false;
    if (s.visibility === "hidden" || s.display === "none") return false;
    return !el.closest(".visually-hidden, [hidden]");
  };
  const describe = (el) => {
    const classes = typeof el.className === "string" ? el.className.trim().split(/\s+/) : [];
    return [el.tagName.toLowerCase() + (el.id ? "#" + el.id : ""), ...classes].join(".");
  };
  const texts = [];
  for (const el of document.body.querySelectorAll("*")) {
    const own = Array.from(el.childNodes).filter((n) => n.nodeType === 3 && n.textContent.trim());
    const isField = el.matches("input, textarea") && el.value;
    if ((!own.length && !isField) || !visible(el)) continue;
    const s = getComputedStyle(el);
    const fg = over(parse(s.color), background(el));
    texts.push({
      text: (isField ? el.value : own.map((n) => n.textContent.trim()).join(" ")).slice(0, 40),
      selector: describe(el),
      fontSize: parseFloat(s.fontSize),
      contrast: Math.round(ratio(fg, background(el)) * 100) / 100,
    });
  }
  const controls = [];
  for (const el of document.body.querySelectorAll("button, input, select, textarea, a[href]")) {
    if (!visible(el) || el.classList.contains("skip-link")) continue;
    const r = el.getBoundingClientRect();
    const text = (el.textContent || el.value || "").trim().slice(0, 20);
    controls.push({ selector: describe(el), text, width: r.width, height: r.height });
  }
  const doc = document.documentElement;
  return { texts, controls, scrollWidth: doc.scrollWidth, clientWidth: doc.clientWidth };
}
"""


def open_widget(page: Page, base_url: str, *, saved: dict | None = None) -> Page:
    """Open the widget on a new conversation, or on ``saved`` (its local-storage record)."""
    # Storage is set from a page of the same origin that runs no widget, so no
    # earlier widget page can write over it.
    page.goto(base_url + "/icons/favicon.svg")
    page.evaluate(
        """s => {
            localStorage.clear();
            if (s) localStorage.setItem('laoban.widget.v1', JSON.stringify(s));
        }""",
        saved,
    )
    page.goto(base_url + "/")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    return page


def bot_messages(page: Page) -> Locator:
    return page.locator("#log li.from-bot .message-text")


def user_messages(page: Page) -> Locator:
    return page.locator("#log li.from-user .message-text")


def choices(page: Page) -> Locator:
    return page.locator("#choice-list .choice")


def send_text(page: Page, text: str) -> None:
    page.locator("#message-input").fill(text)
    page.locator("#message-input").press("Enter")


def wait_for_reply(page: Page, before: int, timeout: float = REPLY_TIMEOUT_MS) -> str:
    """Wait until a new bot message arrived and the typing indicator is gone; its text."""
    expect(bot_messages(page)).not_to_have_count(before, timeout=timeout)
    expect(page.locator("#typing")).to_be_hidden(timeout=timeout)
    return bot_messages(page).last.inner_text()


def say(page: Page, text: str) -> str:
    """Type a question and wait for the answer (the whole reply, all bubbles)."""
    before = bot_messages(page).count()
    send_text(page, text)
    wait_for_reply(page, before)
    return "\n".join(bot_messages(page).all_inner_texts()[before:])


def choose(page: Page, pattern: str | re.Pattern) -> str:
    """Click the numbered choice whose title matches; the reply."""
    before = bot_messages(page).count()
    choices(page).filter(has_text=pattern).first.click()
    wait_for_reply(page, before)
    return "\n".join(bot_messages(page).all_inner_texts()[before:])


def sender(page: Page) -> str:
    return page.evaluate("JSON.parse(localStorage.getItem('laoban.widget.v1')).sender")


def measure(page: Page) -> dict:
    return page.evaluate(MEASURE_JS)


def axe_problems(page: Page, context: str | None = None, *, iframes: bool = True) -> list[dict]:
    """Serious or critical axe-core violations, with AAA (7:1) contrast switched on."""
    options = {
        "resultTypes": ["violations"],
        "rules": {"color-contrast-enhanced": {"enabled": True}},
        "iframes": iframes,
    }
    results = Axe().run(page, context=context, options=options)
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
