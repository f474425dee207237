// AudioWorklet: microphone samples -> 16 kHz Int16 chunks posted to the page.
import { Downsampler } from "./downsampler.js";

class PcmCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { outputRate = 16000, chunkSamples = 640 } = options.processorOptions || {};
    // `sampleRate` is the AudioWorkletGlobalScope's rate of this context.
    this.downsampler = new Downsampler(sampleRate, outputRate, chunkSamples);
    this.port.onmessage = (event) => {
      if (event.data === "flush") {
        const rest = this.downsampler.flush();
        this.port.postMessage({ pcm: rest, last: true }, rest ? [rest] : []);
      }
    };
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) {
      for (const pcm of this.downsampler.push(channel)) this.port.postMessage({ pcm }, [pcm]);
    }
    return true;
  }
}

registerProcessor("pcm-capture", PcmCapture);
