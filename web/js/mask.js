// Personal numbers never stay on screen or in local storage in full: the same
// rules as common/idcard.py `mask` (first 6 + last 4 of an ID number) and
// common/redact.py (mobile numbers). People type ID numbers in groups
// ("110105 19490312 0021"), so spaces and dashes between digits are allowed.

const ID_NUMBER = /(?<![0-9])[1-9](?:[\s\-－—]?\d){16}[\s\-－—]?[\dXx](?![0-9])/g;
// The assistant reads an ID number back in Chinese digits, in groups:
// "一一零一零五，一九四九零三一二，零零二一". Kept on screen for that read-back,
// masked like the others once stored.
const CN = "零〇一幺二两三四五六七八九";
const CN_VALUE = { 零: "0", 〇: "0", 一: "1", 幺: "1", 二: "2", 两: "2", 三: "3", 四: "4", 五: "5", 六: "6", 七: "7", 八: "8", 九: "9" };
const CN_ID_NUMBER = new RegExp(
  `(?<![${CN}])[${CN}](?:[，,、\\s]?[${CN}]){16}[，,、\\s]?[${CN}Xx叉](?![${CN}])`, "g");
const PHONE = /(?<![0-9])(?:\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?![0-9])/g;

function maskIdNumber(match) {
  const number = match.replace(/[\s\-－—]/g, "").toUpperCase();
  return number.slice(0, 6) + "*".repeat(number.length - 10) + number.slice(-4);
}

function maskChineseIdNumber(match) {
  const digits = Array.from(match.replace(/[，,、\s]/g, ""), (c) => CN_VALUE[c] || "X").join("");
  return maskIdNumber(digits);
}

function maskPhone(match) {
  const digits = match.replace(/\D/g, "").slice(-11);
  return digits.slice(0, 3) + "****" + digits.slice(-4);
}

/** Mask ID and mobile numbers inside free text. */
export function maskPersonal(text) {
  return String(text)
    .replace(ID_NUMBER, maskIdNumber)
    .replace(CN_ID_NUMBER, maskChineseIdNumber)
    .replace(PHONE, maskPhone);
}
