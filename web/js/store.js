// The conversation kept in the browser's local storage, so a reload (or a
// dropped connection) continues the same conversation with the same sender id.
// ID and phone numbers are stored masked; an idle conversation is forgotten
// after a while because hall computers are shared.

import { maskPersonal } from "./mask.js";

const KEY = "laoban.widget.v1";
const SIZE_KEY = "laoban.widget.size";
export const IDLE_LIMIT_MS = 30 * 60 * 1000;
const MAX_MESSAGES = 80;

// The sender id is the only key to the conversation (the gateway keeps web
// conversations apart by it), so it must be unguessable: 128 random bits.
const SENDER = /^web-[0-9a-f]{32}$/;

function randomId() {
  // crypto.randomUUID needs a secure context; a kiosk may open the widget over
  // plain http on the hall network, where getRandomValues still works.
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function readJson(storage, key) {
  try {
    const raw = storage && storage.getItem(key);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

function safeStorage() {
  try {
    const storage = window.localStorage;
    storage.setItem("laoban.probe", "1");
    storage.removeItem("laoban.probe");
    return storage;
  } catch {
    return null; // storage disabled: the conversation lives as long as the page
  }
}

export class ConversationStore {
  constructor(now = () => Date.now()) {
    this.now = now;
    this.storage = safeStorage();
    const saved = readJson(this.storage, KEY);
    // A stored id of an older, shorter kind starts a new conversation.
    const fresh = saved && typeof saved.sender === "string" && SENDER.test(saved.sender) &&
      Array.isArray(saved.messages) && this.now() - (saved.updatedAt || 0) < IDLE_LIMIT_MS;
    this.state = fresh ? saved : this.blank();
    this.resumed = Boolean(fresh && saved.messages.length);
    this.save();
  }

  blank() {
    return { sender: randomId(), updatedAt: this.now(), messages: [], greeted: false };
  }

  get sender() {
    return this.state.sender;
  }

  get messages() {
    return this.state.messages;
  }

  get greeted() {
    return Boolean(this.state.greeted);
  }

  markGreeted() {
    this.state.greeted = true;
    this.save();
  }

  /** Add a message; text is stored masked. Returns the stored record. */
  add(role, text, extra = {}) {
    const record = { id: this.nextId(), role, text: maskPersonal(text), at: this.now(), ...extra };
    this.state.messages.push(record);
    if (this.state.messages.length > MAX_MESSAGES) {
      this.state.messages.splice(0, this.state.messages.length - MAX_MESSAGES);
    }
    this.save();
    return record;
  }

  update(id, changes) {
    const record = this.state.messages.find((m) => m.id === id);
    if (record) {
      Object.assign(record, changes);
      this.save();
    }
    return record;
  }

  nextId() {
    const last = this.state.messages[this.state.messages.length - 1];
    return last ? last.id + 1 : 1;
  }

  /** Start a new conversation (new sender id) and forget the old one. */
  reset() {
    this.state = this.blank();
    this.resumed = false;
    this.save();
  }

  touch() {
    this.save();
  }

  save() {
    this.state.updatedAt = this.now();
    if (!this.storage) return;
    try {
      this.storage.setItem(KEY, JSON.stringify(this.state));
    } catch {
      // Quota or privacy mode: keep going in memory.
    }
  }

  get size() {
    const value = this.storage && this.storage.getItem(SIZE_KEY);
    return value === "large" ? "large" : "standard";
  }

  set size(value) {
    try {
      if (this.storage) this.storage.setItem(SIZE_KEY, value);
    } catch {
      // ignore: the choice then lasts for this page only
    }
  }
}
