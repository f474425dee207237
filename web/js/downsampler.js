// Turns float samples at the browser's rate into 16 kHz 16-bit PCM chunks for
// the kiosk WebSocket. Each output sample is the mean of the input samples it
// covers (a box filter), enough anti-aliasing for speech recognition and cheap
// on old kiosk hardware. Shared by the AudioWorklet and the ScriptProcessor
// fallback.

export class Downsampler {
  constructor(inputRate, outputRate = 16000, chunkSamples = 640) {
    this.ratio = inputRate / outputRate;
    this.chunk = new Int16Array(chunkSamples);
    this.filled = 0;
    this.phase = 0;
    this.sum = 0;
    this.count = 0;
  }

  /** Feed float samples; returns finished chunks (ArrayBuffers). */
  push(samples) {
    const done = [];
    for (let i = 0; i < samples.length; i += 1) {
      this.sum += samples[i];
      this.count += 1;
      this.phase += 1;
      if (this.phase >= this.ratio) {
        this.phase -= this.ratio;
        this.emit(this.sum / this.count, done);
        this.sum = 0;
        this.count = 0;
      }
    }
    return done;
  }

  emit(value, done) {
    const clipped = Math.max(-1, Math.min(1, value));
    this.chunk[this.filled] = clipped < 0 ? clipped * 0x8000 : clipped * 0x7fff;
    this.filled += 1;
    if (this.filled === this.chunk.length) {
      done.push(this.chunk.slice().buffer);
      this.filled = 0;
    }
  }

  /** The last partial chunk, or null. */
  flush() {
    if (!this.filled) return null;
    const rest = this.chunk.slice(0, this.filled).buffer;
    this.filled = 0;
    return rest;
  }
}
