"""Streaming speech recognition with Vosk, and answer grammars per dialogue state.

``AsrModel`` is loaded once per process and shared by every session (a Vosk
model is read-only and thread-safe; recognisers are per utterance). When the
assistant waits for digits or a yes/no answer, the utterance is decoded with a
small Vosk grammar of that answer type in the model's language (grammars/*.yml);
when the grammar hears nothing it knows, the same audio is decoded again with
the open model, so an off-script answer ("我不记得了") still reaches Rasa.

Every method of ``Utterance`` blocks: callers run them in the gateway's bounded
executor, never on the event loop.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)

GRAMMAR_DIR = Path(__file__).resolve().parent / "grammars"
UNKNOWN = "[unk]"
_CJK_SPACE = re.compile(r"(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])")
# The assistant's dialogue slots that expect digits or a yes/no answer.
DIGITS, YES_NO = "digits", "yes_no"


class AsrUnavailable(RuntimeError):
    """No usable Vosk model: the gateway still serves text, not audio."""


@dataclass(frozen=True)
class Grammar:
    name: str
    # Phrase as the model spells it (words separated by spaces) -> meaning.
    phrases: dict[str, str]
    # "[unk]" soaks up off-script speech, when the model has it.
    with_unknown: bool = False

    def vosk_json(self) -> str:
        # ensure_ascii=False: Vosk does not decode \\u escapes, it would look
        # up "\\u4e00" as a word and drop it.
        phrases = [*self.phrases, UNKNOWN] if self.with_unknown else list(self.phrases)
        return json.dumps(phrases, ensure_ascii=False)

    def interpret(self, words: list[str]) -> str:
        """What the answer means, or "" when the grammar heard nothing it knows."""
        words = [w for w in words if w != UNKNOWN]
        if self.name == DIGITS:
            out, i = [], 0
            while i < len(words):  # longest phrase first (phrases may span words)
                for size in (3, 2, 1):
                    phrase = " ".join(words[i : i + size])
                    if phrase in self.phrases:
                        out.append(self.phrases[phrase])
                        i += size
                        break
                else:
                    i += 1
            return "".join(out)
        phrase = " ".join(words)
        if phrase in self.phrases:
            return self.phrases[phrase]
        return next((self.phrases[w] for w in words if w in self.phrases), "")


@dataclass(frozen=True)
class Recognition:
    text: str  # what the recogniser heard
    confidence: float
    message: str  # what goes to the assistant
    grammar: str | None = None
    fell_back: bool = False
    words: tuple[str, ...] = field(default_factory=tuple)


def _read_grammar_file(path: Path) -> dict[str, dict[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {
        name: {str(k): str(v) for k, v in (data.get(name) or {}).items()}
        for name in (DIGITS, YES_NO)
    }


class AsrModel:
    """A loaded Vosk model plus the answer grammars it can use."""

    def __init__(self, path: Path | str, language: str = "auto") -> None:
        import vosk  # imported here: loading libvosk is part of loading the model

        path = Path(path)
        if not (path / "am" / "final.mdl").is_file() and not (path / "final.mdl").is_file():
            raise AsrUnavailable(
                f"no Vosk model at {path}: run `make model` or set VOSK_MODEL_PATH "
                "to an unpacked model folder"
            )
        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self.path = path
        try:
            self.model = vosk.Model(str(path))
        except Exception as error:  # vosk raises a bare Exception on a broken model
            raise AsrUnavailable(f"Vosk could not load the model at {path}: {error}") from error
        self.language, self.grammars = self._pick_grammars(language)
        sizes = ", ".join(f"{g.name}={len(g.phrases)}" for g in self.grammars.values())
        logger.info("Vosk model %s loaded (grammars: %s %s)", path, self.language, sizes)

    def knows(self, word: str) -> bool:
        return self.model.vosk_model_find_word(word) >= 0

    def _phrase(self, word: str) -> str | None:
        """The word as this model spells it: itself, or its characters as a phrase."""
        if self.knows(word):
            return word
        if len(word) > 1 and all(self.knows(ch) for ch in word):
            return " ".join(word)
        return None

    def _pick_grammars(self, language: str) -> tuple[str, dict[str, Grammar]]:
        files = {p.stem: p for p in sorted(GRAMMAR_DIR.glob("*.yml"))}
        if language != "auto":
            if language not in files:
                raise AsrUnavailable(f"no answer grammar for {language!r} in {GRAMMAR_DIR}")
            candidates = {language: files[language]}
        else:
            candidates = files
        best: tuple[float, str, dict[str, Grammar]] | None = None
        for lang, path in candidates.items():
            spec = _read_grammar_file(path)
            grammars, known, total = {}, 0, 0
            for name, words in spec.items():
                phrases = {}
                for word, meaning in words.items():
                    total += 1
                    phrase = self._phrase(word)
                    if phrase is not None:
                        phrases[phrase] = meaning
                        known += 1
                grammars[name] = Grammar(name, phrases, with_unknown=self.knows(UNKNOWN))
            score = known / total if total else 0.0
            if best is None or score > best[0]:
                best = (score, lang, grammars)
        if best is None or best[0] == 0:
            logger.warning("the Vosk model knows no answer-grammar words: open recognition only")
            return "none", {}
        return best[1], {name: g for name, g in best[2].items() if g.phrases}

    def utterance(
        self,
        sample_rate: int,
        grammar: Grammar | None = None,
        *,
        max_seconds: float = 20,
        min_confidence: float = 0.0,
    ) -> Utterance:
        return Utterance(
            self, sample_rate, grammar, max_seconds=max_seconds, min_confidence=min_confidence
        )

    def recognizer(self, sample_rate: int, grammar: Grammar | None = None):
        if grammar is None:
            rec = self._vosk.KaldiRecognizer(self.model, sample_rate)
        else:
            rec = self._vosk.KaldiRecognizer(self.model, sample_rate, grammar.vosk_json())
        rec.SetWords(True)
        return rec


class Utterance:
    """One utterance: feed audio as it arrives, then finish for the transcript."""

    def __init__(
        self,
        model: AsrModel,
        sample_rate: int,
        grammar: Grammar | None,
        *,
        max_seconds: float,
        min_confidence: float,
    ) -> None:
        self.model = model
        self.min_confidence = min_confidence
        self.sample_rate = sample_rate
        self.grammar = grammar
        self._rec = model.recognizer(sample_rate, grammar)
        self._results: list[dict] = []
        self._last_partial = ""
        # Kept only while a grammar is active, for the open-model fallback.
        self._audio: list[bytes] = []
        self._audio_bytes = 0
        self._max_bytes = int(2 * sample_rate * max_seconds)
        self.audio_seconds = 0.0

    def accept(self, pcm: bytes) -> str | None:
        """Feed audio; return the partial transcript when it changed."""
        if not pcm:
            return None
        self.audio_seconds += len(pcm) / (2 * self.sample_rate)
        if self.grammar is not None and self._audio_bytes < self._max_bytes:
            self._audio.append(pcm)
            self._audio_bytes += len(pcm)
        if self._rec.AcceptWaveform(pcm):
            self._results.append(json.loads(self._rec.Result()))
            partial = ""
        else:
            partial = json.loads(self._rec.PartialResult()).get("partial", "")
        heard = _join(" ".join(r.get("text", "") for r in self._results) + " " + partial)
        if heard and heard != self._last_partial:
            self._last_partial = heard
            return heard
        return None

    def finish(self) -> Recognition:
        self._results.append(json.loads(self._rec.FinalResult()))
        words = [w for r in self._results for w in r.get("result", [])]
        text = _join(" ".join(r.get("text", "") for r in self._results))
        confidence = _confidence(words)
        if self.grammar is None:
            return Recognition(text, confidence, text, words=tuple(w["word"] for w in words))
        tokens = [w["word"] for w in words]
        meaning = self.grammar.interpret(tokens)
        if meaning and confidence >= self.min_confidence:
            return Recognition(text, confidence, meaning, self.grammar.name, words=tuple(tokens))
        return self._open_decode()

    def _open_decode(self) -> Recognition:
        rec = self.model.recognizer(self.sample_rate, None)
        rec.AcceptWaveform(b"".join(self._audio))
        result = json.loads(rec.FinalResult())
        words = result.get("result", [])
        text = _join(result.get("text", ""))
        return Recognition(
            text, _confidence(words), text, self.grammar.name if self.grammar else None,
            fell_back=True, words=tuple(w["word"] for w in words),
        )  # fmt: skip


def _join(text: str) -> str:
    text = " ".join(w for w in text.split() if w != UNKNOWN)
    return _CJK_SPACE.sub("", text)


def _confidence(words: list[dict]) -> float:
    if not words:
        return 0.0
    return round(sum(float(w.get("conf", 0.0)) for w in words) / len(words), 3)


def grammar_for_slot(
    model: AsrModel | None, slot: str | None, *, digit_slots: list[str], yes_no_slots: list[str]
) -> Grammar | None:
    if model is None or not slot:
        return None
    if slot in digit_slots:
        return model.grammars.get(DIGITS)
    if slot in yes_no_slots:
        return model.grammars.get(YES_NO)
    return None
