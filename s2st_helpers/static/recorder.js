// Microphone recorder for Jupyter (anywidget): 16 kHz mono float32 to Python,
// with a level meter, a timer, and a file-upload fallback.
const FLAGS = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };

function render({ model, el }) {
  el.classList.add("s2st-recorder");
  el.innerHTML = `
    <button class="s2st-record" type="button">● Record</button>
    <span class="s2st-meter"><span class="s2st-level"></span></span>
    <span class="s2st-time">0.0 s</span>
    <label class="s2st-upload">or upload a file <input type="file" accept="audio/*,video/webm"></label>
    <div class="s2st-message"></div>`;
  const button = el.querySelector(".s2st-record");
  const level = el.querySelector(".s2st-level");
  const time = el.querySelector(".s2st-time");
  const message = el.querySelector(".s2st-message");
  const input = el.querySelector("input[type=file]");
  let session = null;

  const say = (text) => { message.textContent = text; };
  const setStatus = (status, error = "") => {
    model.set("status", status);
    model.set("error", error);
    model.save_changes();
  };

  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.isSecureContext) {
    button.disabled = true;
    say("Recording is not possible here (the page needs localhost or https, and a browser that lends " +
        "its microphone; VS Code does not). Upload a file instead.");
  }

  async function start() {
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: FLAGS });
    } catch (err) {
      say(`No microphone: ${err.name}. Upload a file instead.`);
      setStatus("error", `microphone unavailable: ${err.name}`);
      return;
    }
    let ctx;
    try {
      ctx = new AudioContext({ sampleRate: model.get("target_rate") });
      var source = ctx.createMediaStreamSource(stream);
    } catch (err) { // Firefox will not mix rates: record at the device rate, Python resamples
      ctx = new AudioContext();
      var source = ctx.createMediaStreamSource(stream);
    }
    const node = ctx.createScriptProcessor(4096, 1, 1);
    const chunks = [];
    let samples = 0;
    node.onaudioprocess = (event) => {
      const data = event.inputBuffer.getChannelData(0);
      chunks.push(new Float32Array(data));
      samples += data.length;
      let sum = 0;
      for (let i = 0; i < data.length; i++) sum += data[i] * data[i];
      const db = 10 * Math.log10(sum / data.length + 1e-12);
      level.style.width = `${Math.max(0, Math.min(100, (db + 60) * 100 / 60))}%`;
      time.textContent = `${(samples / ctx.sampleRate).toFixed(1)} s`;
      if (samples / ctx.sampleRate >= model.get("max_seconds")) stop();
    };
    source.connect(node);
    node.connect(ctx.destination);
    session = { stream, ctx, node, source, chunks, get samples() { return samples; } };
    button.textContent = "■ Stop";
    el.classList.add("recording");
    say("Recording… press Stop when you are done.");
    setStatus("recording");
  }

  function stop() {
    if (!session) return;
    const { stream, ctx, node, source, chunks } = session;
    session = null;
    node.onaudioprocess = null;
    source.disconnect();
    node.disconnect();
    stream.getTracks().forEach((t) => t.stop());
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const pcm = new Float32Array(total);
    let offset = 0;
    for (const c of chunks) { pcm.set(c, offset); offset += c.length; }
    model.set("sample_rate", ctx.sampleRate);
    model.set("audio", new DataView(pcm.buffer));
    setStatus("recorded");
    ctx.close();
    button.textContent = "● Record";
    el.classList.remove("recording");
    level.style.width = "0%";
    say(`Recorded ${(total / ctx.sampleRate).toFixed(1)} s.`);
  }

  button.addEventListener("click", () => (session ? stop() : start()));
  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    const bytes = await file.arrayBuffer();
    model.set("upload_name", file.name);
    model.set("upload", new DataView(bytes));
    setStatus("uploaded");
    say(`Uploaded ${file.name} (${(bytes.byteLength / 1024).toFixed(0)} kB).`);
  });
  return () => stop();
}

export default { render };
