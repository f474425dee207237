// Plays the assistant's voice with Web Audio: whole WAV files from /v1/tts
// (the speaker button) and 16-bit PCM frames streamed over the kiosk
// WebSocket (audio_start / binary frames / audio_end). `stop()` silences
// everything at once: the user pressed the microphone (barge-in) or another
// speaker button.

export class Player {
  constructor() {
    this.context = null;
    this.sources = new Set();
    this.streamRate = 0;
    this.nextTime = 0;
    this.streaming = false;
    this.onidle = null;
    this.owner = null;
  }

  /** Create or wake the AudioContext; call from a user gesture. */
  unlock() {
    if (!this.context) {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return null;
      this.context = new Context();
    }
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    return this.context;
  }

  get playing() {
    return this.sources.size > 0 || this.streaming;
  }

  /**
   * Play a complete WAV (ArrayBuffer) instead of whatever plays now.
   * Resolves true when it played to the end, false when it was stopped.
   */
  async playWav(data, owner = null) {
    const context = this.unlock();
    if (!context) throw new Error("no Web Audio");
    const buffer = await context.decodeAudioData(data);
    this.silence();
    this.owner = owner;
    return new Promise((resolve) => {
      const source = context.createBufferSource();
      source.buffer = buffer;
      source.connect(context.destination);
      source.onended = () => {
        this.sources.delete(source);
        resolve(!source.stoppedEarly);
        // A source stopped early was already reported by stop(); reporting it
        // again would reset whatever started playing since.
        if (!source.stoppedEarly) this.checkIdle();
      };
      this.sources.add(source);
      source.start();
    });
  }

  startStream(sampleRate, owner = null) {
    const context = this.unlock();
    if (!context) return;
    this.owner = owner;
    this.streamRate = sampleRate;
    this.streaming = true;
    this.nextTime = Math.max(this.nextTime, context.currentTime + 0.05);
  }

  /** Queue one binary frame of 16-bit little-endian mono PCM. */
  pushPcm(arrayBuffer) {
    if (!this.streaming || !this.context) return;
    const samples = new Int16Array(arrayBuffer, 0, Math.floor(arrayBuffer.byteLength / 2));
    if (!samples.length) return;
    const buffer = this.context.createBuffer(1, samples.length, this.streamRate);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < samples.length; i += 1) channel[i] = samples[i] / 32768;
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    const startAt = Math.max(this.nextTime, this.context.currentTime + 0.02);
    source.onended = () => {
      this.sources.delete(source);
      if (!source.stoppedEarly) this.checkIdle();
    };
    this.sources.add(source);
    source.start(startAt);
    this.nextTime = startAt + buffer.duration;
  }

  endStream() {
    this.streaming = false;
    this.checkIdle();
  }

  /** Stop everything now (barge-in, another speaker button, a new question). */
  stop() {
    this.silence();
    this.checkIdle();
  }

  silence() {
    this.streaming = false;
    // Each stopped source still fires `onended`, which settles its playWav promise.
    for (const source of this.sources) {
      source.stoppedEarly = true;
      try {
        source.stop();
      } catch {
        // already stopped
      }
    }
    this.sources.clear();
    this.nextTime = 0;
  }

  checkIdle() {
    if (!this.playing) {
      const owner = this.owner;
      this.owner = null;
      if (this.onidle) this.onidle(owner);
    }
  }
}
