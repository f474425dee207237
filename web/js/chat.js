// HTTP calls to the gateway: typed questions (/v1/chat), speech for the
// speaker button (/v1/tts) and the health probe used while reconnecting.
// URLs are relative to the page, so the widget also works behind a path prefix.

const CHAT_TIMEOUT_MS = 45000;
const TTS_TIMEOUT_MS = 30000;
// A 429 says how long to wait (Retry-After); an elderly user will not wait
// longer than this for one question, so the widget never waits more.
export const MAX_RETRY_AFTER_S = 10;
const DEFAULT_RETRY_AFTER_S = 3;

export class ChatError extends Error {
  /**
   * kind: "offline"  - the request never reached the gateway: safe to send again;
   *       "busy"     - the gateway answered 502/503/504 (assistant not reachable behind it);
   *       "timeout"  - no answer in time: the question may have been handled;
   *       "limited"  - too many messages (429): nothing was done; send it again
   *                    after `retryAfter` seconds (Retry-After, at most MAX_RETRY_AFTER_S);
   *       "rejected" - the gateway refused the question (other 4xx).
   */
  constructor(kind, status = 0, detail = "", retryAfter = 0) {
    super(`${kind} ${status} ${detail}`.trim());
    this.kind = kind;
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }

  get retryable() {
    return this.kind === "offline" || this.kind === "busy";
  }
}

/** Seconds to wait from a Retry-After header (seconds or an HTTP date), bounded. */
export function retryAfterSeconds(header, now = Date.now()) {
  let seconds = DEFAULT_RETRY_AFTER_S;
  const value = (header || "").trim();
  if (/^\d+$/.test(value)) seconds = Number(value);
  else if (value && !Number.isNaN(Date.parse(value))) seconds = (Date.parse(value) - now) / 1000;
  return Math.min(MAX_RETRY_AFTER_S, Math.max(1, Math.ceil(seconds)));
}

function endpoint(path) {
  return new URL(path, document.baseURI).toString();
}

async function request(path, init, timeoutMs) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let response;
  try {
    response = await fetch(endpoint(path), { ...init, signal: controller.signal, cache: "no-store" });
  } catch (error) {
    throw new ChatError(error.name === "AbortError" ? "timeout" : "offline");
  } finally {
    clearTimeout(timer);
  }
  if (response.status === 502 || response.status === 503 || response.status === 504) {
    throw new ChatError("busy", response.status);
  }
  if (!response.ok) {
    let detail = "";
    try {
      const body = await response.json();
      detail = typeof body.detail === "string" ? body.detail : body.title || "";
    } catch {
      // not JSON: the status says enough
    }
    if (response.status === 429) {
      const wait = retryAfterSeconds(response.headers.get("Retry-After"));
      throw new ChatError("limited", 429, detail, wait);
    }
    throw new ChatError(response.status >= 500 ? "busy" : "rejected", response.status, detail);
  }
  return response;
}

export async function sendChat(sender, text) {
  const response = await request(
    "v1/chat",
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ sender, text }) },
    CHAT_TIMEOUT_MS,
  );
  const body = await response.json();
  return {
    messages: Array.isArray(body.messages) ? body.messages : [],
    speechRate: Number(body.speech_rate) || 0,
    requestedSlot: typeof body.requested_slot === "string" ? body.requested_slot : null,
  };
}

/** WAV for `text`, at the conversation's own speech rate (slower after "说慢一点"). */
export async function fetchSpeech(text, sender) {
  const payload = { text, sender };
  const response = await request(
    "v1/tts",
    { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) },
    TTS_TIMEOUT_MS,
  );
  return response.arrayBuffer();
}

export async function healthy() {
  try {
    const response = await fetch(endpoint("health"), { cache: "no-store" });
    return response.ok;
  } catch {
    return false;
  }
}
