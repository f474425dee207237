// Agent view: open handover requests with the dialogue summary; a staff member
// takes one. Data comes from /v1/agent/handovers (same password as the page).
// Everything from a conversation is put on the page with textContent.

const REFRESH_MS = 10000;

const SERVICES = {
  find_service_hall: "查找办事大厅",
  renew_id_card: "换领身份证",
  transfer_social_insurance: "社保跨省转移",
  pension_certification: "养老金资格认证",
  medical_insurance_filing: "异地就医备案",
  social_security_card: "社保卡挂失补办",
  query_pension_payment: "养老金发放查询",
  check_application_status: "办理进度查询",
  apply_senior_card: "老年人优待证申领",
};

const SLOTS = {
  person_name: "姓名",
  id_number: "身份证号",
  identity_verified: "身份已核实",
  phone_last4: "手机尾号",
  city: "城市",
  from_province: "转出省份",
  from_city: "转出城市",
  to_province: "转入省份",
  to_city: "转入城市",
  destination_province: "就医省份",
  destination_city: "就医城市",
  filing_reason: "备案原因",
  id_card_reason: "换证原因",
  appointment_date: "预约日期",
  card_request_type: "社保卡业务",
  card_delivery: "优待证领取方式",
  application_number: "受理编号",
  service: "事项",
  by_proxy: "代办",
  proxy_name: "代办人",
  proxy_relation: "代办人关系",
  requested_slot: "正在问",
};

const CHANNELS = { web: "网页", kiosk: "自助机器人", phone: "电话" };
const ROLES = { user: "群众", bot: "助手", assistant: "助手", agent: "工作人员" };

const $ = (id) => document.getElementById(id);
const ui = {
  name: $("agent-name"),
  summary: $("summary"),
  refresh: $("refresh"),
  error: $("error"),
  notice: $("notice"),
  queue: $("queue"),
  empty: $("empty"),
};

let timer = null;
let lastIds = "";

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function serviceName(service) {
  if (!service) return "未确定的事项";
  return SERVICES[service] || String(service);
}

function formatTime(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value || "");
  const two = (n) => String(n).padStart(2, "0");
  return `${date.getMonth() + 1}月${date.getDate()}日 ${two(date.getHours())}:${two(date.getMinutes())}`;
}

function waited(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  const minutes = Math.max(0, Math.round((Date.now() - date.getTime()) / 60000));
  if (minutes < 1) return "刚刚提交";
  if (minutes < 60) return `已等 ${minutes} 分钟`;
  const rest = minutes % 60;
  return `已等 ${Math.floor(minutes / 60)} 小时${rest ? ` ${rest} 分钟` : ""}`;
}

function slotValue(value) {
  if (value === true) return "是";
  if (value === false) return "否";
  if (Array.isArray(value)) return value.join("、");
  if (value && typeof value === "object") return JSON.stringify(value);
  return String(value);
}

// Button payloads the citizen sent, in words.
const PAYLOADS = {
  "/greet": "（打开了对话）",
  "/request_human": "转人工",
  "/repeat": "再说一遍",
  "/affirm": "对",
  "/deny": "不对",
};

function turnText(turn) {
  const text = String(turn.text || "");
  if (turn.role !== "user" || !text.startsWith("/")) return text;
  return PAYLOADS[text.split("{")[0]] || "（点了一个按钮）";
}

/** Last turns as [{role, text}]: the queue's shape, or the assistant's {user, bot: [...]}. */
function turnsOf(summary) {
  if (Array.isArray(summary.last_turns)) return summary.last_turns;
  const turns = [];
  for (const turn of Array.isArray(summary.turns) ? summary.turns : []) {
    if (turn.user) turns.push({ role: "user", text: turn.user });
    for (const text of Array.isArray(turn.bot) ? turn.bot : []) turns.push({ role: "bot", text });
  }
  return turns;
}

function slotText(name, value) {
  if (name === "service") return serviceName(value);
  if (name === "requested_slot") return SLOTS[value] || String(value);
  return slotValue(value);
}

function definitionList(pairs, className) {
  const list = element("dl", className);
  for (const [term, value] of pairs) {
    list.append(element("dt", "", term), element("dd", "", value));
  }
  return list;
}

function renderHandover(handover, index) {
  const id = String(handover.handover_id);
  const summary = handover.summary || {};
  const item = element("li", "handover");
  item.dataset.handoverId = id;
  item.dataset.conversationId = String(handover.conversation_id || "");
  const article = element("article", "handover-card");
  const titleId = `handover-title-${index}`;
  article.setAttribute("aria-labelledby", titleId);

  const title = element("h2", "handover-title");
  title.id = titleId;
  item.dataset.service = serviceName(summary.service || handover.service);
  title.append(element("span", "handover-number", `${index + 1}. `),
    document.createTextNode(item.dataset.service));
  const wait = waited(handover.created_at);
  if (wait) title.append(element("span", "handover-wait", `（${wait}）`));
  article.append(title);

  article.append(definitionList([
    ["来源", CHANNELS[handover.channel] || String(handover.channel || "未知")],
    ["提交时间", formatTime(handover.created_at)],
    ["对话编号", String(handover.conversation_id || "")],
  ], "meta"));

  const slots = Object.entries(summary.slots || {}).filter(([, v]) => v !== null && v !== "");
  article.append(element("h3", "section-title", "已了解的信息"));
  if (slots.length) {
    article.append(definitionList(slots.map(([k, v]) => [SLOTS[k] || k, slotText(k, v)]), "slots"));
  } else {
    article.append(element("p", "muted", "还没有填写的信息。"));
  }

  const turns = turnsOf(summary);
  article.append(element("h3", "section-title", "最近的对话"));
  if (turns.length) {
    const list = element("ol", "turns");
    for (const turn of turns) {
      const row = element("li", `turn turn-${turn.role === "user" ? "user" : "bot"}`);
      row.append(element("span", "turn-role", `${ROLES[turn.role] || turn.role}：`),
        document.createTextNode(turnText(turn)));
      list.append(row);
    }
    article.append(list);
  } else {
    article.append(element("p", "muted", "没有对话记录。"));
  }

  const take = element("button", "button button-take", "接单");
  take.type = "button";
  take.setAttribute("aria-describedby", titleId);
  take.addEventListener("click", () => takeHandover(item, take));
  const result = element("p", "take-result");
  result.setAttribute("role", "status");
  article.append(take, result);
  item.append(article);
  return item;
}

function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = !text;
}

async function load() {
  clearTimeout(timer);
  try {
    const response = await fetch(new URL("v1/agent/handovers", document.baseURI), {
      cache: "no-store", credentials: "same-origin",
    });
    if (response.status === 401) {
      showError("登录已失效，请刷新页面重新登录。");
      return;
    }
    if (!response.ok) throw new Error(String(response.status));
    const body = await response.json();
    showError("");
    render(body);
  } catch {
    showError("暂时读不到转人工请求，稍后会自动重试。");
  }
  timer = setTimeout(load, REFRESH_MS);
}

function render(body) {
  const handovers = Array.isArray(body.handovers) ? body.handovers : [];
  if (body.agent) ui.name.textContent = body.agent;
  const ids = handovers.map((h) => h.handover_id).join(",");
  const focused = document.activeElement && document.activeElement.closest(".handover");
  // Keep the page still while nothing changed, so a reader or a focused button is not disturbed.
  if (ids !== lastIds || !focused) {
    ui.queue.replaceChildren(...handovers.map(renderHandover));
  }
  lastIds = ids;
  ui.empty.hidden = handovers.length > 0;
  const now = new Date();
  const time = `${String(now.getHours()).padStart(2, "0")}:${String(now.getMinutes()).padStart(2, "0")}`;
  ui.summary.textContent = handovers.length
    ? `共有 ${handovers.length} 条请求等待处理（${time} 更新）`
    : `没有等待处理的请求（${time} 更新）`;
  document.body.dataset.loaded = "true";
}

async function takeHandover(item, button) {
  button.disabled = true;
  const result = item.querySelector(".take-result");
  result.textContent = "正在接单……";
  const id = encodeURIComponent(item.dataset.handoverId);
  try {
    const response = await fetch(new URL(`v1/agent/handovers/${id}/take`, document.baseURI), {
      method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" }, body: "{}",
    });
    const body = await response.json().catch(() => ({}));
    if (response.ok) {
      item.classList.add("is-taken");
      item.dataset.status = "taken";
      const who = body.agent || ui.name.textContent;
      result.textContent = `已由 ${who} 接单，请尽快联系群众。`;
      // Kept above the list: the next refresh drops the taken card.
      const { service, conversationId } = item.dataset;
      ui.notice.textContent = `已由 ${who} 接单：${service}（对话编号 ${conversationId}）。`;
      button.remove();
      return;
    }
    result.textContent = response.status === 409
      ? "这条请求已经有人接了。"
      : "接单没有成功，请再试一次。";
  } catch {
    result.textContent = "网络不通，接单没有成功，请再试一次。";
  }
  button.disabled = false;
}

ui.refresh.addEventListener("click", load);
load();
