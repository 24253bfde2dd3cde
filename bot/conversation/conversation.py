"""Conversation: one message in, one `Reply` out. Pure (no I/O); the engine is injected and
can be swapped atomically (hot reload).

Order for every message: invalid input -> risk (crisis or emergency: resources instead of an
answer) -> personal medical decision -> small talk -> follow-up on the previous turn ->
retrieval. A message whose risk reading is "concern" (the topic, with nobody at risk now) gets
its normal reply with one resources line; so does one that retrieval cannot answer and that
carries any risk signal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import replace

from rapidfuzz import fuzz

from bot.conversation import language, safety, smalltalk
from bot.conversation.reply import Reply, Suggestion, bounded
from bot.conversation.safety import SafetyNet
from bot.conversation.sessions import Session, SessionStore
from bot.engine.decide import Match, Scored
from bot.engine.engine import Engine
from bot.engine.risk import NO_RISK, Risk
from bot.engine.text import MAX_QUERY_CHARS, clean, words

HOW_TO_ASK = ("Please type a question about {topic}, for example: “{example}”. "
              "Type “help” to see what you can ask.")
PERSONAL = ("I can't advise on your own dose, your medicines, or whether a treatment is safe "
            "for you: that depends on your health history. Please ask your prescriber or the "
            "clinic treating you. I can share general information about {topic}.")
UNKNOWN = "Sorry, I don't have an answer to that in the {topic} FAQ."


def route_before_retrieval(message: str, risk: Risk = NO_RISK) -> str | None:
    """"crisis", "emergency", "personal" or a small-talk kind for a message answered without
    retrieval, in this order of precedence; None for one that goes on (to follow-ups and
    retrieval). `risk` is the message's risk reading."""
    if risk.alarm:
        return risk.level
    if safety.is_personal_decision(message):
        return "personal"
    return smalltalk.small_talk_kind(message)


class Conversation:
    """Routes each message and keeps a bounded session per key (user, or user+channel)."""

    def __init__(self, engine: Engine, *, safety_net: SafetyNet | None = None,
                 max_sessions: int = 10_000, idle_seconds: float = 1800.0,
                 clock: Callable[[], float] = time.monotonic,
                 max_input_chars: int = MAX_QUERY_CHARS):
        self.engine = engine
        self.safety = safety_net or SafetyNet()
        # Related entries depend only on the engine; the Discord bot shows them under every
        # answer, and each costs a full ranking of a question plus its answer.
        self._related_cache: dict[tuple[str, int], tuple[Suggestion, ...]] = {}
        self.sessions = SessionStore(max_sessions=max_sessions, idle_seconds=idle_seconds,
                                     clock=clock)
        self.max_input_chars = max_input_chars

    # ------------------------------------------------------------------ helpers
    @property
    def knowledge(self):
        return self.engine.knowledge

    @property
    def topic(self) -> str:
        return self.knowledge.title.removesuffix(" FAQ")

    def swap_engine(self, engine: Engine) -> None:
        """Serve a new engine from the next message on (sessions are kept)."""
        self.engine = engine
        self._related_cache = {}

    def examples(self, n: int = 4) -> list[str]:
        """Example questions from the knowledge (spread over it)."""
        entries = self.knowledge.entries
        step = max(len(entries) // n, 1)
        return [e.question for e in entries[::step][:n]]

    def _disclaimer(self) -> str:
        return self.knowledge.disclaimer

    def _suggestion(self, scored: Scored) -> Suggestion:
        e = scored.entry
        return Suggestion(entry=e.id, question=e.question, answer=e.answer)

    # ------------------------------------------------------------------ entry point
    def reply(self, key: Hashable, message: str) -> Reply:
        """Handle one message from the session `key`."""
        session = self.sessions.get(key)
        notice = None
        if len(message) > self.max_input_chars:
            message = message[: self.max_input_chars]
            notice = (f"Your message was long, so I only read its first "
                      f"{self.max_input_chars} characters.")
        reply = self._route(session, message)
        if notice:
            reply = _with_notice(reply, notice)
        if reply.route in ("retrieval", "followup"):  # what "why" and "more" refer to
            session.last = reply
        if reply.route != "why":
            session.options = reply.suggestions if reply.status in ("clarify", "unknown") \
                else ()
        return reply

    def _route(self, session: Session, message: str) -> Reply:
        if not words(clean(message)):
            return self._invalid()
        risk = self.safety.assess(message)
        route = route_before_retrieval(message, risk)
        if route == "crisis":
            return self._crisis()
        if route == "emergency":
            return self._emergency()
        if route == "personal":
            return _with_resources(self._personal(), risk)
        if route:
            return self._small_talk(route)
        followed = self._follow_up(session, message)
        if followed is not None:
            return followed
        reply = self.answer(smalltalk.strip_greeting(message))
        if reply.status == "unknown" and language.is_other_language(message):
            return Reply("unknown", safety.ENGLISH_ONLY, route="language",
                         notice=safety.RESOURCES_LINE)
        return _with_resources(reply, risk)

    # ------------------------------------------------------------------ handlers
    def _invalid(self) -> Reply:
        example = self.examples(1)[0] if self.knowledge.entries else "…"
        return Reply("invalid", HOW_TO_ASK.format(topic=self.topic, example=example),
                     route="invalid")

    def _crisis(self) -> Reply:
        return Reply("crisis", safety.crisis_text(self.knowledge.crisis_message), route="crisis")

    def _emergency(self) -> Reply:
        return Reply("crisis", safety.emergency_text(), route="emergency")

    def _personal(self) -> Reply:
        text = "\n\n".join([PERSONAL.format(topic=self.topic), self._disclaimer()])
        return Reply("unknown", text, route="personal", disclaimer=self._disclaimer())

    def _small_talk(self, kind: str) -> Reply:
        texts = {
            "greeting": f"Hi! I answer questions about {self.topic}. Ask me anything about it, "
                        "or type “help” for examples.",
            "thanks": "You're welcome! Ask another question any time.",
            "goodbye": "Take care! Come back any time you have a question.",
            "who": f"I'm an FAQ bot that answers common questions about {self.topic}. I match "
                   "your question to stored answers and show which question I answered; I'm "
                   "not a doctor and can't give personal medical advice.",
        }
        if kind == "help":
            lines = [f"I answer common questions about {self.topic}. You could ask:"]
            lines += [f"• {q}" for q in self.examples()]
            lines.append("After an answer, say “more” for related questions or “why” to see "
                         "how I matched it. Pick a suggestion by its number.")
            return Reply("chitchat", "\n".join(lines), route="smalltalk")
        return Reply("chitchat", texts[kind], route="smalltalk")

    def _follow_up(self, session: Session, message: str) -> Reply | None:
        last = session.last
        options = session.options
        number = smalltalk.picked_number(message)
        if options and number is not None:
            if 1 <= number <= len(options):
                return self.answer_entry(options[number - 1].entry, route="followup",
                                          terms=last.terms if last else ())
            return Reply("invalid", f"Please pick a number from 1 to {len(options)}, or ask "
                         "a new question.", route="followup", suggestions=options)
        if number is not None and not options:
            return Reply("chitchat", "There is no list to pick from right now. Ask a "
                         "question, or type “help” for examples.", route="smalltalk")
        if options:
            for option in options:
                if fuzz.ratio(clean(message), clean(option.question)) >= 90:
                    return self.answer_entry(option.entry, route="followup",
                                              terms=last.terms if last else ())
        if options and len(options) == 1 and smalltalk.is_match(smalltalk.YES, message):
            return self.answer_entry(options[0].entry, route="followup",
                                      terms=last.terms if last else ())
        if smalltalk.is_match(smalltalk.NO, message) or smalltalk.is_match(smalltalk.YES,
                                                                           message):
            return Reply("chitchat", "OK. Ask me another question, or type “help” for "
                         "examples.", route="smalltalk")
        if last is not None and smalltalk.is_match(smalltalk.MORE, message):
            return self._related(last)
        if last is not None and smalltalk.is_match(smalltalk.WHY, message):
            return self._why(last)
        return None

    # ------------------------------------------------------------------ retrieval
    def answer(self, query: str) -> Reply:
        """Retrieval only (no safety routing): what the engine decides for `query`."""
        return self.render_match(self.engine.match(query))

    def render_match(self, match: Match) -> Reply:
        if match.status == "invalid":
            return self._invalid()
        if match.status == "answer":
            return self._answer_reply(match.candidates[0], match.confidence, "retrieval")
        suggestions = tuple(self._suggestion(s) for s in match.candidates)
        best = match.best
        common = {"confidence": match.confidence, "suggestions": suggestions,
                  "disclaimer": self._disclaimer(),
                  "matched_phrasing": best.phrasing if best else None,
                  "terms": best.terms if best else ()}
        if match.status == "clarify":
            if len(suggestions) == 1:
                text = (f"Did you mean: “{suggestions[0].question}”?\n"
                        "Reply “yes” to see the answer, or ask in other words.")
            else:
                text = _options_text("I'm not sure which of these you mean:", suggestions,
                                     "Reply with a number, or ask in other words.")
            return Reply("clarify", self._with_disclaimer(text), **common)
        lead = UNKNOWN.format(topic=self.topic)
        text = _options_text(lead + (" Related questions I can answer:" if suggestions else
                                     " Try asking in other words, or type “help”."),
                             suggestions, "Reply with a number to see one." if suggestions
                             else "")
        return Reply("unknown", self._with_disclaimer(text), **common)

    def _with_disclaimer(self, text: str) -> str:
        return bounded(f"{text}\n\n{self._disclaimer()}")

    def _answer_reply(self, scored: Scored, confidence: float, route: str) -> Reply:
        entry = scored.entry
        lead = f"Answering: “{entry.question}”"
        text = bounded(f"{lead}\n\n{entry.answer}\n\n{self._disclaimer()}")
        return Reply("answer", safety.neutralize_mentions(text), route=route,
                     answer=entry.answer, entry=entry.id, question=entry.question,
                     confidence=confidence, disclaimer=self._disclaimer(),
                     matched_phrasing=scored.phrasing, terms=scored.terms, lead=lead)

    def answer_entry(self, entry_id: str, *, route: str = "followup", terms: tuple[str, ...] = ()
                      ) -> Reply:
        entry = self.knowledge.get(entry_id)
        if entry is None:  # the knowledge was reloaded without this entry
            return Reply("unknown", "That question is no longer in the knowledge base. "
                         "Please ask again.", route=route)
        return self._answer_reply(Scored(entry, 1.0, entry.question, terms), 1.0, route)

    def related(self, entry_id: str, n: int = 3) -> tuple[Suggestion, ...]:
        """Entries close to `entry_id` (shared tags first, then by matching its text)."""
        cached = self._related_cache.get((entry_id, n))
        if cached is not None:
            return cached
        entry = self.knowledge.get(entry_id)
        if entry is None:
            return ()
        ranked = self.engine.rank(f"{entry.question} {entry.answer}", explain=0)
        others = [s.entry for s in ranked if s.entry.id != entry_id]
        tagged = [e for e in others if set(e.tags) & set(entry.tags)]
        ordered = list(dict.fromkeys(tagged[:2] + others))[:n]
        found = tuple(Suggestion(e.id, e.question, e.answer) for e in ordered)
        self._related_cache[(entry_id, n)] = found  # bounded by the number of entries
        return found

    def _related(self, last: Reply) -> Reply:
        if not last.entry:
            return Reply("chitchat", "Ask a question first; then “more” shows related ones.",
                         route="related")
        options = self.related(last.entry)
        text = _options_text("Related questions:", options, "Reply with a number to see one.")
        return Reply("clarify", self._with_disclaimer(text), route="related",
                     suggestions=options, disclaimer=self._disclaimer(), confidence=1.0)

    def _why(self, last: Reply) -> Reply:
        if last.status not in ("answer", "clarify", "unknown"):
            return Reply("chitchat", "There is no matched answer to explain yet: ask a "
                         "question first.", route="why")
        parts = []
        if last.question:
            parts.append(f"I answered the stored question: “{last.question}”.")
        elif not last.suggestions:
            return Reply("chitchat", "I could not match your last question to a stored one "
                         f"closely enough to answer it (best confidence {last.confidence:.0%}).",
                         route="why")
        else:
            parts.append(f"My best guess was: “{last.suggestions[0].question}” (I was not "
                         "sure enough to answer it outright).")
        if last.route == "followup":
            parts.append("You picked it from my suggestions.")
        else:
            if last.matched_phrasing:
                parts.append(f"The closest stored phrasing: “{last.matched_phrasing}”.")
            parts.append(f"Confidence: {last.confidence:.0%}.")
        if last.terms:
            parts.append("Words that matched: " + ", ".join(last.terms) + ".")
        return Reply("chitchat", " ".join(parts), route="why",
                     entry=last.entry, question=last.question, confidence=last.confidence)


def _options_text(lead: str, options: tuple[Suggestion, ...], tail: str) -> str:
    lines = [lead] + [f"  {i}. {s.question}" for i, s in enumerate(options, start=1)]
    if tail:
        lines.append(tail)
    return "\n".join(lines)


def _with_resources(reply: Reply, risk: Risk) -> Reply:
    """The reply with the resources line under it when the topic (concern) or, for a question
    it cannot answer, any risk signal calls for one."""
    if risk.level == "concern" or (risk.signal and reply.status == "unknown"):
        return replace(reply, notice=safety.RESOURCES_LINE,
                       text=bounded(f"{reply.text}\n\n{safety.RESOURCES_LINE}"))
    return reply


def _with_notice(reply: Reply, notice: str) -> Reply:
    joined = f"{notice} {reply.notice}" if reply.notice else notice
    if reply.status == "crisis":  # crisis resources always come first
        return replace(reply, notice=joined, text=bounded(f"{reply.text}\n\n({notice})"))
    return replace(reply, notice=joined, text=bounded(f"({notice})\n\n{reply.text}"))
