// One spoken question over the gateway's kiosk WebSocket (voice/PROTOCOL.md):
// start -> ready, binary 16 kHz PCM while the button is held, end_of_audio,
// then partial / transcript / bot / audio_start + binary + audio_end from the
// server. A link lives for one question and its spoken answer; the widget
// opens a new one for the next question, so an idle page keeps no socket and
// the server never waits on a silent browser.

import { TARGET_RATE } from "./capture.js";

export class VoiceLink {
  constructor(sender, handlers) {
    this.sender = sender;
    this.handlers = handlers;
    this.socket = null;
    this.ready = false;
    this.backlog = [];
    this.closed = false;
  }

  open() {
    const url = new URL("v1/kiosk", document.baseURI);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => {
      socket.send(JSON.stringify({
        type: "start", sender: this.sender, sample_rate: TARGET_RATE, channel: "web", speak: true,
      }));
    };
    socket.onmessage = (event) => this.receive(event.data);
    socket.onerror = () => {};
    socket.onclose = (event) => {
      const wasClosed = this.closed;
      this.closed = true;
      this.ready = false;
      this.emit("close", { expected: wasClosed, code: event.code });
    };
  }

  receive(data) {
    if (data instanceof ArrayBuffer) {
      this.emit("audio", data);
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message.type === "ready") {
      this.ready = true;
      for (const frame of this.backlog) this.socket.send(frame);
      this.backlog = [];
    }
    this.emit(message.type, message);
  }

  emit(name, value) {
    const handler = this.handlers[name];
    if (handler) handler(value, this);
  }

  /** Send one chunk of PCM; chunks captured before the server is ready wait. */
  sendAudio(chunk) {
    if (this.closed) return;
    if (this.ready && this.socket.readyState === WebSocket.OPEN) this.socket.send(chunk);
    else this.backlog.push(chunk);
  }

  sendJson(message) {
    if (this.closed) return;
    const frame = JSON.stringify(message);
    if (this.ready && this.socket.readyState === WebSocket.OPEN) this.socket.send(frame);
    else this.backlog.push(frame);
  }

  endAudio() {
    this.sendJson({ type: "end_of_audio" });
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.backlog = [];
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) this.socket.close(1000);
  }
}
