// MaiBot Cloud dashboard: the few behaviours pages need, no framework.
"use strict";

// Ask before destructive actions: any form with data-confirm asks first.
document.addEventListener("submit", (event) => {
  const text = event.target.dataset.confirm;
  if (text && !window.confirm(text)) event.preventDefault();
});

// Copy buttons: data-copy names the element whose text is copied.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const text = document.getElementById(button.dataset.copy).textContent.trim();
  const done = () => { button.textContent = "Copied"; };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done);
  } else {
    // Plain-http hosts have no clipboard API: select the text so Ctrl+C works.
    const range = document.createRange();
    range.selectNodeContents(document.getElementById(button.dataset.copy));
    window.getSelection().removeAllRanges();
    window.getSelection().addRange(range);
    document.execCommand && document.execCommand("copy");
    done();
  }
});

// The live view: messages, plans and replies of one agent as they happen.
function startLiveView(box) {
  const state = document.getElementById("live-state");
  const agentName = box.dataset.agentName;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  let delay = 1000;

  const add = (kind, who, text) => {
    const line = document.createElement("div");
    line.className = "msg " + kind;
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = new Date().toLocaleTimeString();
    line.appendChild(time);
    if (who) {
      const name = document.createElement("strong");
      name.textContent = who + ": ";
      line.appendChild(name);
    }
    line.appendChild(document.createTextNode(text));
    box.querySelector(".empty")?.remove();
    box.appendChild(line);
    box.scrollTop = box.scrollHeight;
  };
  const show = (text, cls) => { state.textContent = text; state.className = "badge " + cls; };

  const connect = () => {
    const socket = new WebSocket(`${scheme}://${location.host}${box.dataset.socket}`);
    socket.onopen = () => { show("live", "ok"); delay = 1000; };
    socket.onclose = (event) => {
      if (event.code === 4404) { show("not available", "critical"); return; }
      // Reconnect with a growing pause, so a restarting server is not hammered.
      show("reconnecting…", "off");
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
    socket.onmessage = (message) => {
      const e = JSON.parse(message.data);
      const where = e.platform ? ` (${e.platform})` : "";
      if (e.kind === "message_in") add("in", (e.speaker || e.user_id || "someone") + where, e.text || "");
      else if (e.kind === "message_out") add("out", agentName + where, e.text || "");
      else if (e.kind === "plan") add("plan", "", `plan: ${e.action}${e.reason ? " — " + e.reason : ""}`);
    };
  };
  connect();
}

document.addEventListener("DOMContentLoaded", () => {
  const box = document.getElementById("live");
  if (box && box.dataset.socket) startLiveView(box);
});
