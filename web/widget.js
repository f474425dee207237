// The chat widget: typed questions go to /v1/chat, spoken ones stream over
// /v1/kiosk, every answer can be read aloud. All user-visible words are here
// (Chinese only) and every message is put on the page with textContent, never
// as HTML.

import { ChatError, fetchSpeech, healthy, sendChat } from "./js/chat.js";
import { MicCapture, microphoneSupported } from "./js/capture.js";
import { maskPersonal } from "./js/mask.js";
import { Player } from "./js/player.js";
import { ConversationStore } from "./js/store.js";
import { VoiceLink } from "./js/voice.js";

const PAYLOAD = { repeat: "/repeat", human: "/request_human", greet: "/greet" };

const WORDS = {
  bot: "助手：",
  me: "我说：",
  speak: "朗读",
  stopSpeaking: "停止朗读",
  repeat: "再说一遍",
  human: "转人工",
  micIdle: "按住说话",
  micHolding: "松开 结束",
  micToggled: "说完了，点这里",
  micHint: "按住按钮说话，说完松开。",
  micHintToggled: "正在听您说话。说完请再点一下按钮。",
  listening: "请说话……",
  recognising: "正在听写……",
  notHeard: "没有听清楚，请再说一次，或者打字。",
  micDenied: "没有拿到麦克风。请允许使用麦克风，或者打字提问。",
  micUnavailable: "这台设备不能用语音，请打字提问。",
  voiceUnavailable: "语音暂时用不了，请打字提问。",
  waiting: "还没发出去，连上后会自动发送。",
  noReply: "没有收到回复。请点“再说一遍”。",
  rejected: "这句话没有发出去，请换个说法再试。",
  // Too many messages (HTTP 429, or the microphone's rate_limited): the same
  // words the gateway says on its WebSocket (VOICE_RATE_LIMIT_TEXT).
  tooFast: "您说得太快了，请稍等一下再说。",
  tooFastNotSent: "您说得太快了，这句话没有发出去。请稍等一下再说。",
  empty: "请先输入您的问题。",
  offline: "连不上服务器。请检查网络，正在自动重新连接……",
  busy: "助手暂时没有回应，正在自动重试……",
  back: "已经重新连上了，可以继续。",
  speechFailed: "现在没法朗读，请稍后再试。",
  restart: "重新开始",
  restartConfirm: "确定清空对话？再点一次",
};

const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 15000];
const HOLD_THRESHOLD_MS = 400; // a shorter press toggles listening on/off instead
const MAX_LISTEN_MS = 20000;
const VOICE_IDLE_MS = 2500;
const VOICE_REPLY_WAIT_MS = 30000;

const $ = (id) => document.getElementById(id);

const ui = {
  root: document.documentElement,
  log: $("log"),
  typing: $("typing"),
  choices: $("choices"),
  choiceList: $("choice-list"),
  status: $("status"),
  statusText: $("status-text"),
  retry: $("retry"),
  form: $("text-form"),
  input: $("message-input"),
  inputHint: $("input-hint"),
  mic: $("mic"),
  micLabel: $("mic-label"),
  micHint: $("mic-hint"),
  transcript: $("live-transcript"),
  repeat: $("repeat"),
  human: $("human"),
  restart: $("restart"),
  sizeButtons: document.querySelectorAll(".size-button"),
};

const store = new ConversationStore();
const player = new Player();
const outbox = []; // questions not yet answered, sent one at a time in order
let sending = false;
let retryTimer = null;
let retryAttempt = 0;
let choices = [];
let autoplayNext = false;
let statusTimer = null;
let speaking = null; // the speaker-button request in flight; a newer one replaces it

// ---------------------------------------------------------------- rendering

function speakerIcon(name) {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "icon");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("viewBox", "0 0 24 24");
  const use = document.createElementNS("http://www.w3.org/2000/svg", "use");
  use.setAttribute("href", `icons/icons.svg#${name}`);
  svg.append(use);
  return svg;
}

function setSpeakerState(button, playing) {
  button.setAttribute("aria-pressed", String(playing));
  button.replaceChildren(speakerIcon(playing ? "stop" : "speaker"),
    document.createTextNode(playing ? WORDS.stopSpeaking : WORDS.speak));
}

/**
 * The message without the lines that list its own choices ("1. 办身份证"): the
 * big numbered buttons under it show them once (they are still read aloud).
 */
function withoutChoiceLines(text, buttons) {
  if (!buttons || !buttons.length) return text;
  const labels = new Set(buttons.filter((b) => b && b.title).map((b) => choiceLabel(b.title)));
  const kept = text.split("\n").filter((line) => !labels.has(choiceLabel(line)) || !LEADING_NUMBER.test(line));
  return kept.join("\n").trim() ? kept.join("\n") : text;
}

/** Put one message on the page. `shown` is the text to display (live replies unmasked). */
function renderMessage(record, text = record.text) {
  const shown = record.role === "bot" ? withoutChoiceLines(text, record.buttons) : text;
  const item = document.createElement("li");
  item.className = `message from-${record.role}`;
  item.dataset.id = String(record.id);
  const bubble = document.createElement("div");
  bubble.className = "message-bubble";
  const who = document.createElement("span");
  who.className = record.role === "bot" ? "message-who" : "message-who visually-hidden";
  who.textContent = record.role === "bot" ? WORDS.bot : WORDS.me;
  const body = document.createElement("span");
  body.className = "message-text";
  body.id = `message-text-${record.id}`;
  body.textContent = shown;
  bubble.append(who, body);
  item.append(bubble);
  if (record.role === "bot") {
    const tools = document.createElement("div");
    tools.className = "message-tools";
    const speak = document.createElement("button");
    speak.type = "button";
    speak.className = "button button-speak";
    speak.setAttribute("aria-describedby", body.id);
    setSpeakerState(speak, false);
    // Read as written when the text lists its choices itself, else with them added.
    const spoken = shown === text ? spokenText(text, record.buttons) : text.replace(/\*+/g, "，");
    item.dataset.spoken = spoken;
    speak.addEventListener("click", () => toggleSpeech(item, spoken));
    tools.append(speak);
    item.append(tools);
  } else {
    const note = document.createElement("p");
    note.className = "message-note";
    note.hidden = true;
    item.append(note);
    setNote(item, record.state);
  }
  ui.log.append(item);
  return item;
}

/** What the speaker button says: the message, then its numbered choices; masked digits are skipped. */
function spokenText(text, buttons) {
  const titles = (buttons || []).filter((b) => b && b.title).map((b, i) => numbered(b.title.trim(), i));
  const sentence = /[。？！?!.]$/.test(text) ? text : `${text}。`;
  const all = titles.length ? `${sentence}${titles.join("。")}。` : text;
  return all.replace(/\*+/g, "，");
}

function setNote(item, state) {
  const note = item.querySelector(".message-note");
  if (!note) return;
  const text = {
    waiting: WORDS.waiting,
    lost: WORDS.noReply,
    rejected: WORDS.rejected,
    slow: WORDS.tooFast,
    limited: WORDS.tooFastNotSent,
  }[state];
  note.textContent = text || "";
  note.hidden = !text;
}

function messageItem(id) {
  return ui.log.querySelector(`li[data-id="${id}"]`);
}

/**
 * Bring what just arrived into view: from ``first`` (the first new message)
 * to the choices under it. If it all fits above the controls it is shown
 * whole; if not, its beginning is shown (one reads from the top).
 */
function revealLatest(first = ui.log.lastElementChild) {
  const end = ui.choices.hidden ? ui.log.lastElementChild : ui.choices;
  if (!first || !end) return;
  const footer = document.querySelector(".composer");
  const covered = getComputedStyle(footer).position === "sticky" ? footer.offsetHeight : 0;
  const room = window.innerHeight - covered;
  const top = first.getBoundingClientRect().top + window.scrollY - 8;
  const bottom = end.getBoundingClientRect().bottom + window.scrollY + 16;
  window.scrollTo(0, Math.max(0, bottom - top <= room ? bottom - room : top));
}

// A choice title may come with its number ("1 老人自己办", "2. 成都市") or without.
const LEADING_NUMBER = /^\s*(\d{1,2})(?:\s*[.、．):：]\s*|\s+)(\S.*)$/;

/** The title without its number: what the user's bubble shows after choosing. */
function choiceLabel(title) {
  const match = LEADING_NUMBER.exec(title);
  return (match ? match[2] : title).trim();
}

/** "1. 北京市" style, whatever number style the title came with. */
function numbered(title, index) {
  const match = LEADING_NUMBER.exec(title);
  return match ? `${match[1]}. ${match[2].trim()}` : `${index + 1}. ${title.trim()}`;
}

function showChoices(buttons, { focus = false } = {}) {
  choices = (buttons || []).filter((b) => b && typeof b.title === "string" && b.title.trim());
  ui.choiceList.replaceChildren();
  choices.forEach((choice, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "choice";
    button.textContent = numbered(choice.title.trim(), index);
    button.addEventListener("click", () => ask(choiceLabel(choice.title), choice.payload || choice.title));
    ui.choiceList.append(button);
  });
  ui.choices.hidden = choices.length === 0;
  if (focus && choices.length) ui.choices.focus({ preventScroll: true });
}

function setTyping(on) {
  ui.typing.hidden = !on;
}

function showStatus(text, { ok = false, retry = false } = {}) {
  clearTimeout(statusTimer);
  ui.status.classList.toggle("is-ok", ok);
  ui.statusText.textContent = text;
  ui.retry.hidden = !retry;
  ui.status.hidden = false;
  if (ok) statusTimer = setTimeout(hideStatus, 5000);
}

function hideStatus() {
  ui.status.hidden = true;
  ui.statusText.textContent = "";
}

function setInputMode(slot) {
  // Phones show the number pad when the assistant asks for digits.
  const digits = ["phone_last4"].includes(slot);
  ui.input.inputMode = digits ? "numeric" : "text";
  ui.input.dataset.slot = slot || "";
}

// ---------------------------------------------------------------- asking

/** The user asked something: typed text, a choice, 再说一遍 or 转人工. */
function ask(shown, message = shown, { autoplay = false } = {}) {
  stopSpeaking();
  autoplayNext = autoplay;
  // A question holding an ID or phone number is never stored in full, so it
  // cannot be re-sent after a reload; it is marked "lost" then (see restore).
  const storable = maskPersonal(message) === message;
  const record = store.add("user", shown, { message: storable ? message : null, state: "sending" });
  const item = renderMessage(record, maskPersonal(shown));
  showChoices([]);
  outbox.push({ id: record.id, message });
  revealLatest(item);
  pump();
}

async function pump() {
  if (sending || retryTimer) return;
  sending = true;
  while (outbox.length) {
    const next = outbox[0];
    setTyping(true);
    let reply;
    try {
      reply = await sendChat(store.sender, next.message);
    } catch (error) {
      setTyping(false);
      if (error instanceof ChatError && error.kind === "limited") {
        // Not a failure: the gateway asks us to wait. Wait as long as it says
        // (bounded) and send the question once more; refused again, it is left
        // for the user to send when ready.
        if (!next.limited) {
          next.limited = true;
          markMessage(next.id, "slow");
          waitThenSend(error.retryAfter);
          sending = false;
          return;
        }
        outbox.shift();
        markMessage(next.id, "limited");
        continue;
      }
      if (error instanceof ChatError && error.retryable) {
        markMessage(next.id, "waiting");
        scheduleRetry(error.kind);
        sending = false;
        return;
      }
      outbox.shift();
      markMessage(next.id, error.kind === "rejected" ? "rejected" : "lost");
      continue;
    }
    outbox.shift();
    markMessage(next.id, "sent");
    if (retryAttempt) {
      retryAttempt = 0;
      showStatus(WORDS.back, { ok: true });
    }
    setTyping(false);
    receiveReplies(reply.messages, { slot: reply.requestedSlot });
  }
  sending = false;
}

function markMessage(id, state) {
  store.update(id, { state });
  const item = messageItem(id);
  if (item) setNote(item, state);
}

function waitThenSend(seconds) {
  retryTimer = setTimeout(() => {
    retryTimer = null;
    pump();
  }, seconds * 1000);
}

function scheduleRetry(kind) {
  const delay = RETRY_DELAYS_MS[Math.min(retryAttempt, RETRY_DELAYS_MS.length - 1)];
  retryAttempt += 1;
  showStatus(kind === "offline" ? WORDS.offline : WORDS.busy, { retry: true });
  retryTimer = setTimeout(retryNow, delay);
}

async function retryNow() {
  clearTimeout(retryTimer);
  retryTimer = null;
  if (!(await healthy())) {
    scheduleRetry("offline");
    return;
  }
  pump();
}

/**
 * Show the assistant's messages; the last one with buttons gives the choices.
 * `spoken`: they arrive one by one over the voice link, so a message without
 * buttons keeps the choices an earlier message of the same answer brought.
 */
function receiveReplies(messages, { slot = null, spoken = false } = {}) {
  setInputMode(slot);
  const records = [];
  let buttons = [];
  for (const message of messages) {
    const text = typeof message.text === "string" ? message.text : "";
    const messageButtons = Array.isArray(message.buttons) ? message.buttons : [];
    if (!text && !messageButtons.length) continue;
    const record = store.add("bot", text, { buttons: messageButtons });
    records.push(renderMessage(record, text));
    if (messageButtons.length) buttons = messageButtons;
  }
  if (buttons.length || !spoken) showChoices(buttons);
  revealLatest(records[0]);
  if (autoplayNext && !spoken && records.length) {
    autoplayNext = false;
    playInOrder(records);
  }
  return records;
}

async function playInOrder(items) {
  for (const item of items) {
    const finished = await speak(item, item.dataset.spoken);
    if (!finished) return;
  }
}

// ---------------------------------------------------------------- reading aloud

function speakerOf(item) {
  return item && item.querySelector(".button-speak");
}

player.onidle = (owner) => {
  for (const button of ui.log.querySelectorAll('.button-speak[aria-pressed="true"]')) {
    if (!owner || speakerOf(owner) === button || !player.playing) setSpeakerState(button, false);
  }
};

function stopSpeaking() {
  speaking = null;
  player.stop();
}

function toggleSpeech(item, text) {
  const button = speakerOf(item);
  if (button && button.getAttribute("aria-pressed") === "true") {
    stopSpeaking(); // its "停止朗读" state: also while the speech is still being fetched
    setSpeakerState(button, false);
    return;
  }
  player.unlock(); // inside the click: browsers only start audio from a gesture
  speak(item, text);
}

/** Read one message aloud with /v1/tts; resolves true when it played to the end. */
async function speak(item, text) {
  const button = speakerOf(item);
  player.stop();
  if (button) setSpeakerState(button, true);
  const token = {};
  speaking = token;
  try {
    const wav = await fetchSpeech(text, store.sender);
    if (speaking !== token) return false; // another message, or the microphone, took over
    return await player.playWav(wav, item);
  } catch {
    if (speaking === token) {
      showStatus(WORDS.speechFailed);
      statusTimer = setTimeout(hideStatus, 5000);
    }
    return false;
  } finally {
    if (speaking === token) speaking = null;
    if (button && player.owner !== item) setSpeakerState(button, false);
  }
}

// ---------------------------------------------------------------- microphone

const mic = {
  capture: null,
  link: null,
  state: "idle", // idle | holding | toggled | finishing
  pressedAt: 0,
  limitTimer: null,
  idleTimer: null,
  lastBot: null,
};

function setMicState(state) {
  mic.state = state;
  const listening = state === "holding" || state === "toggled";
  ui.mic.classList.toggle("is-listening", listening);
  ui.mic.setAttribute("aria-pressed", String(listening));
  ui.micLabel.textContent = state === "holding" ? WORDS.micHolding
    : state === "toggled" ? WORDS.micToggled : WORDS.micIdle;
  ui.micHint.textContent = state === "toggled" ? WORDS.micHintToggled : WORDS.micHint;
  ui.mic.dataset.state = state;
}

function showTranscript(text) {
  ui.transcript.textContent = text;
  ui.transcript.hidden = !text;
}

function voiceHandlers() {
  return {
    ready: (message) => {
      if (message.asr === false) failVoice(WORDS.voiceUnavailable);
    },
    partial: (message) => showTranscript(message.text || WORDS.recognising),
    transcript: (message, link) => {
      const text = (message.text || "").trim();
      if (!text) {
        // end_of_audio after the server already ended the utterance on silence
        // also yields an empty transcript: only "not heard" if nothing was.
        if (!link.heard) {
          link.pending = false;
          showTranscript(WORDS.notHeard);
          setTyping(false);
        }
        touchVoiceIdle();
        return;
      }
      link.heard = true;
      link.pending = true;
      showTranscript("");
      const record = store.add("user", text, { state: "sent" });
      const item = renderMessage(record, maskPersonal(text));
      showChoices([]);
      setTyping(true);
      revealLatest(item);
      touchVoiceIdle();
    },
    bot: (message, link) => {
      link.pending = false;
      setTyping(false);
      const [item] = receiveReplies([message], { spoken: true });
      if (item) mic.lastBot = item;
      if (link.limited) {
        closeVoice(); // the polite "too fast" message was the whole answer
        return;
      }
      touchVoiceIdle();
    },
    audio_start: (message) => {
      player.startStream(message.sample_rate || 16000, mic.lastBot);
      const button = speakerOf(mic.lastBot);
      if (button && message.kind !== "filler") setSpeakerState(button, true);
      touchVoiceIdle();
    },
    audio: (data) => {
      player.pushPcm(data);
      touchVoiceIdle();
    },
    audio_end: (message) => {
      // interrupted: the server heard the user over it; what is still queued must not play.
      if (message.interrupted) player.stop();
      else player.endStream();
      touchVoiceIdle();
    },
    error: (message, link) => {
      setTyping(false);
      if (message.code === "rate_limited") {
        // The question was not taken (too many messages): the gateway's polite
        // bot message follows and says so. Not "not heard", and stop listening.
        link.limited = true;
        link.pending = false;
        stopCapture();
        showTranscript("");
        setMicState("idle");
        return;
      }
      if (message.code === "no_speech" || message.code === "empty") showTranscript(WORDS.notHeard);
      else if (message.code === "asr_unavailable") failVoice(WORDS.voiceUnavailable);
      else showTranscript(WORDS.notHeard);
      touchVoiceIdle();
    },
    end: () => closeVoice(),
    close: ({ expected, code }) => {
      if (!expected && mic.state !== "idle") {
        stopCapture();
        // 4429: too many new connections from this address (voice/PROTOCOL.md).
        failVoice(code === 4429 ? WORDS.tooFast : WORDS.voiceUnavailable);
      }
      setTyping(false);
      mic.link = null;
    },
  };
}

function touchVoiceIdle() {
  clearTimeout(mic.idleTimer);
  const link = mic.link;
  if (!link) return;
  // The answer and its speech are over when the server has been quiet a while;
  // while a transcript or an answer is still due, wait as long as Rasa may take.
  mic.idleTimer = setTimeout(() => {
    if (mic.link !== link || mic.state !== "finishing") return;
    if (player.streaming) {
      touchVoiceIdle();
      return;
    }
    if (link.pending) {
      setTyping(false);
      showTranscript(WORDS.noReply);
    }
    closeVoice();
  }, link.pending ? VOICE_REPLY_WAIT_MS : VOICE_IDLE_MS);
}

function closeVoice() {
  clearTimeout(mic.idleTimer);
  if (mic.link) mic.link.close();
  mic.link = null;
  if (mic.state === "finishing") setMicState("idle");
}

function failVoice(text) {
  showTranscript(text);
  stopCapture();
  closeVoice();
  setMicState("idle");
}

async function startListening(mode) {
  if (mic.state === "holding" || mic.state === "toggled") return;
  stopSpeaking(); // barge-in: the user talks, the assistant stops
  player.unlock();
  closeVoice();
  setMicState(mode);
  mic.pressedAt = performance.now();
  showTranscript(WORDS.listening);
  const link = new VoiceLink(store.sender, voiceHandlers());
  mic.link = link;
  link.open();
  const capture = new MicCapture();
  mic.capture = capture;
  try {
    await capture.start((chunk) => link.sendAudio(chunk));
  } catch (error) {
    const cancelled = mic.capture !== capture || (error && error.name === "AbortError");
    capture.release();
    if (cancelled) return; // already stopped on purpose; that path said what to say
    mic.capture = null;
    failVoice(error && error.name === "NotAllowedError" ? WORDS.micDenied : WORDS.micUnavailable);
    return;
  }
  if (mic.capture !== capture) {
    capture.release(); // released before the microphone was ready
    return;
  }
  clearTimeout(mic.limitTimer);
  mic.limitTimer = setTimeout(finishListening, MAX_LISTEN_MS);
}

async function finishListening() {
  if (mic.state !== "holding" && mic.state !== "toggled") return;
  clearTimeout(mic.limitTimer);
  setMicState("finishing");
  ui.mic.setAttribute("aria-pressed", "false");
  ui.micLabel.textContent = WORDS.micIdle;
  showTranscript(WORDS.recognising);
  const capture = mic.capture;
  mic.capture = null;
  if (capture) await capture.stop();
  store.touch();
  if (mic.link) {
    autoplayNext = false; // the spoken answer comes with the reply itself
    if (!mic.link.heard) mic.link.pending = true;
    mic.link.endAudio();
    setTyping(true);
    touchVoiceIdle();
  } else {
    setMicState("idle");
  }
}

function stopCapture() {
  clearTimeout(mic.limitTimer);
  if (mic.capture) mic.capture.release();
  mic.capture = null;
}

function pressMic() {
  if (mic.state === "toggled") {
    finishListening();
    return;
  }
  startListening("holding");
}

function releaseMic() {
  if (mic.state !== "holding") return;
  if (performance.now() - mic.pressedAt < HOLD_THRESHOLD_MS) {
    // A short tap (also what a screen reader's "activate" does): keep listening
    // until the button is pressed again.
    setMicState("toggled");
    showTranscript(WORDS.micHintToggled);
    return;
  }
  finishListening();
}

function wireMicrophone() {
  if (!microphoneSupported()) {
    // No microphone here (or not a secure page): say so where the button would be.
    ui.micHint.textContent = WORDS.micUnavailable;
    ui.micHint.className = "mic-hint-visible";
    ui.mic.after(ui.micHint);
    return;
  }
  ui.mic.hidden = false;
  setMicState("idle");
  ui.mic.addEventListener("pointerdown", (event) => {
    if (event.button !== 0) return;
    event.preventDefault();
    ui.mic.setPointerCapture(event.pointerId);
    pressMic();
  });
  ui.mic.addEventListener("pointerup", releaseMic);
  ui.mic.addEventListener("pointercancel", releaseMic);
  ui.mic.addEventListener("contextmenu", (event) => event.preventDefault());
  ui.mic.addEventListener("keydown", (event) => {
    if (event.key !== " " && event.key !== "Enter") return;
    event.preventDefault();
    if (!event.repeat) pressMic();
  });
  ui.mic.addEventListener("keyup", (event) => {
    if (event.key !== " " && event.key !== "Enter") return;
    event.preventDefault();
    releaseMic();
  });
  ui.mic.addEventListener("click", (event) => {
    // Pointer and keys are handled above; a bare click comes from assistive
    // technology and works as a tap.
    if (event.detail !== 0) return;
    if (mic.state === "idle") {
      startListening("toggled");
      showTranscript(WORDS.micHintToggled);
    } else if (mic.state === "toggled") {
      finishListening();
    }
  });
}

// ---------------------------------------------------------------- controls

function pickTypedChoice(text) {
  const match = /^\s*(\d{1,2})\s*[.、．]?\s*$/.exec(text);
  if (!match || !choices.length) return null;
  const index = Number(match[1]) - 1;
  return choices[index] || null;
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.input.value.trim();
  if (!text) {
    ui.inputHint.textContent = WORDS.empty;
    ui.inputHint.hidden = false;
    ui.input.focus();
    return;
  }
  ui.inputHint.hidden = true;
  ui.input.value = "";
  const choice = pickTypedChoice(text);
  if (choice) ask(choiceLabel(choice.title), choice.payload || choice.title);
  else ask(text);
});

ui.repeat.addEventListener("click", () => {
  player.unlock();
  ask(WORDS.repeat, PAYLOAD.repeat, { autoplay: true });
});

ui.human.addEventListener("click", () => ask(WORDS.human, PAYLOAD.human));

ui.retry.addEventListener("click", () => {
  retryAttempt = Math.max(retryAttempt, 1);
  retryNow();
});

let restartTimer = null;
ui.restart.addEventListener("click", () => {
  // Two presses, no dialog: a pop-up would confuse, one slip would lose the conversation.
  if (!ui.restart.classList.contains("is-confirming")) {
    ui.restart.classList.add("is-confirming");
    ui.restart.textContent = WORDS.restartConfirm;
    restartTimer = setTimeout(resetRestart, 6000);
    return;
  }
  resetRestart();
  stopSpeaking();
  closeVoice();
  outbox.length = 0;
  store.reset();
  ui.log.replaceChildren();
  showChoices([]);
  setTyping(false);
  hideStatus();
  greet();
  ui.input.focus();
});

function resetRestart() {
  clearTimeout(restartTimer);
  ui.restart.classList.remove("is-confirming");
  ui.restart.textContent = WORDS.restart;
}

function applySize(size) {
  ui.root.dataset.size = size;
  for (const button of ui.sizeButtons) {
    button.setAttribute("aria-pressed", String(button.dataset.size === size));
  }
}

for (const button of ui.sizeButtons) {
  button.addEventListener("click", () => {
    store.size = button.dataset.size;
    applySize(button.dataset.size);
  });
}

// ---------------------------------------------------------------- start

async function greet() {
  // A new conversation starts with the assistant's own greeting and menu.
  if (store.greeted) return;
  try {
    const reply = await sendChat(store.sender, PAYLOAD.greet);
    store.markGreeted();
    receiveReplies(reply.messages, { slot: reply.requestedSlot });
  } catch {
    // The intro on the page already says what to do; the greeting is a bonus.
  }
}

function restore() {
  let lastBot = null;
  for (const record of store.messages) {
    if (record.role === "user" && record.state === "sending") {
      // The page was closed while waiting: the answer may never have come.
      record.state = "lost";
    }
    if (record.role === "user" && (record.state === "waiting" || record.state === "slow")) {
      if (record.message) outbox.push({ id: record.id, message: record.message });
      else record.state = "lost";
      if (record.state === "slow") record.state = "waiting";
    }
    renderMessage(record);
    lastBot = record.role === "bot" ? record : null;
  }
  store.touch();
  if (lastBot) showChoices(lastBot.buttons);
}

applySize(store.size);
restore();
// The log becomes a live region only now, so restored history is not read out again.
$("log-region").setAttribute("role", "log");
wireMicrophone();
document.body.dataset.ready = "true";
if (outbox.length) pump();
if (!store.messages.length) greet();
revealLatest();
