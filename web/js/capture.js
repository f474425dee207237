// Microphone capture: getUserMedia -> AudioWorklet (ScriptProcessor where
// AudioWorklet is missing) -> 16 kHz 16-bit mono PCM chunks for /v1/kiosk.

import { Downsampler } from "./downsampler.js";

export const TARGET_RATE = 16000;
const CHUNK = 640; // 40 ms: small enough for live partial transcripts

export function microphoneSupported() {
  return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia &&
    (window.AudioContext || window.webkitAudioContext));
}

export class MicCapture {
  constructor() {
    this.stream = null;
    this.context = null;
    this.node = null;
    this.source = null;
    this.onchunk = null;
  }

  async start(onchunk) {
    this.onchunk = onchunk;
    this.released = false;
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    if (this.released) {
      // Let go (button released, or no speech service) while the browser was asking.
      for (const track of stream.getTracks()) track.stop();
      throw new DOMException("capture cancelled", "AbortError");
    }
    this.stream = stream;
    const Context = window.AudioContext || window.webkitAudioContext;
    try {
      // Let the browser resample to 16 kHz itself when it can (best quality).
      this.context = new Context({ sampleRate: TARGET_RATE });
    } catch {
      this.context = new Context();
    }
    const context = this.context;
    if (context.state === "suspended") await context.resume();
    this.checkReleased();
    this.source = context.createMediaStreamSource(this.stream);
    if (context.audioWorklet) {
      await context.audioWorklet.addModule(new URL("./pcm-worklet.js", import.meta.url));
      this.checkReleased();
      this.node = new AudioWorkletNode(this.context, "pcm-capture", {
        numberOfInputs: 1,
        numberOfOutputs: 0,
        channelCount: 1,
        processorOptions: { outputRate: TARGET_RATE, chunkSamples: CHUNK },
      });
      this.node.port.onmessage = (event) => {
        if (event.data.pcm && this.onchunk) this.onchunk(event.data.pcm);
        if (event.data.last && this.flushed) this.flushed();
      };
      this.source.connect(this.node);
    } else {
      this.useScriptProcessor();
    }
  }

  checkReleased() {
    if (this.released) throw new DOMException("capture cancelled", "AbortError");
  }

  useScriptProcessor() {
    const downsampler = new Downsampler(this.context.sampleRate, TARGET_RATE, CHUNK);
    this.node = this.context.createScriptProcessor(2048, 1, 1);
    this.node.onaudioprocess = (event) => {
      for (const pcm of downsampler.push(event.inputBuffer.getChannelData(0))) {
        if (this.onchunk) this.onchunk(pcm);
      }
    };
    this.downsampler = downsampler;
    this.source.connect(this.node);
    // A ScriptProcessor only runs while connected to the output; it writes silence.
    this.node.connect(this.context.destination);
  }

  /** Stop capturing; resolves after the last chunk has been delivered. */
  async stop() {
    if (this.node && this.node.port) {
      await new Promise((resolve) => {
        this.flushed = resolve;
        this.node.port.postMessage("flush");
        setTimeout(resolve, 300);
      });
    } else if (this.downsampler) {
      const rest = this.downsampler.flush();
      if (rest && this.onchunk) this.onchunk(rest);
    }
    this.release();
  }

  release() {
    this.released = true;
    this.onchunk = null;
    this.flushed = null;
    if (this.source) this.source.disconnect();
    if (this.node) this.node.disconnect();
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    if (this.context) this.context.close().catch(() => {});
    this.stream = this.context = this.node = this.source = this.downsampler = null;
  }
}
