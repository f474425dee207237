#!/usr/bin/env bash
# Download and unpack the Mandarin Vosk model (`make model`), checking its sha256.
# Safe to run again: does nothing when the model folder is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

NAME="vosk-model-small-cn-0.22"
URL="https://alphacephei.com/vosk/models/${NAME}.zip"
SHA256="3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba"
TARGET="${VOSK_MODEL_PATH:-models/${NAME}}"
DOWNLOADS="${VOSK_DOWNLOAD_DIR:-models}"  # where the zip is kept until it is checked

say() { printf '[model] %s\n' "$*"; }

if [ -f "${TARGET}/am/final.mdl" ]; then
  say "already there: ${TARGET}"
  exit 0
fi

mkdir -p "$DOWNLOADS"
zip="${DOWNLOADS}/${NAME}.zip"
part="${zip}.part"
if [ ! -f "$zip" ]; then
  say "downloading ${URL}"
  if ! curl -fsSL --retry 2 --connect-timeout 15 -o "$part" "$URL"; then
    rm -f "$part"
    echo "[model] Offline: download ${NAME}.zip from https://alphacephei.com/vosk/models on a connected machine, unpack it and put the ${NAME} folder at ${TARGET} (or point VOSK_MODEL_PATH at it)." >&2
    exit 1
  fi
  mv "$part" "$zip"
fi

actual=$(sha256sum "$zip" | cut -d' ' -f1)
if [ "$actual" != "$SHA256" ]; then
  rm -f "$zip"
  echo "[model] ${zip} has sha256 ${actual}, expected ${SHA256}: the download is damaged or not the official file; it was deleted, run \`make model\` again." >&2
  exit 1
fi

say "checksum ok, unpacking"
tmp=$(mktemp -d "${DOWNLOADS}/.unpack.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
python3 -m zipfile -e "$zip" "$tmp"
mkdir -p "$(dirname "$TARGET")"
mv "$tmp/${NAME}" "$TARGET"
rm -f "$zip"
say "ready: ${TARGET}"
