/*
 * Put the assistant on another site with one tag:
 *
 *   <script src="http://GATEWAY:8080/embed.js" async></script>
 *
 * The widget appears where the tag is (or inside data-target="#some-id"), in
 * an iframe served by the gateway: the host page's styles cannot shrink the
 * large text, and the widget talks only to its own server (no CORS needed).
 * Options on the tag: data-target, data-height (CSS length, default 760px or
 * the screen height if smaller), data-title (the frame's accessible name).
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script) {
    var candidates = document.querySelectorAll('script[src*="embed.js"]');
    script = candidates[candidates.length - 1];
  }
  if (!script || script.dataset.laobanMounted) return;
  script.dataset.laobanMounted = "true";

  var base = new URL("./", script.src);
  var frame = document.createElement("iframe");
  frame.src = base.toString();
  frame.title = script.dataset.title || "政务服务助手";
  frame.setAttribute("allow", "microphone; autoplay");
  frame.setAttribute("loading", "eager");
  frame.className = "laoban-assistant-frame";
  frame.style.cssText = [
    "display:block",
    "width:100%",
    "max-width:100%",
    "height:" + (script.dataset.height || "min(760px, 100vh)"),
    "border:3px solid #0a3d7a",
    "border-radius:8px",
    "background:#ffffff",
    "box-sizing:border-box",
  ].join(";");

  var target = script.dataset.target && document.querySelector(script.dataset.target);
  if (target) {
    target.appendChild(frame);
  } else {
    var holder = document.createElement("div");
    holder.className = "laoban-assistant";
    holder.appendChild(frame);
    script.parentNode.insertBefore(holder, script.nextSibling);
  }
})();
