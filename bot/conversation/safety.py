"""Safety routing that runs before retrieval: the graded risk reading of a message (crisis,
emergency, concern), personal medical decisions, and the output guard that keeps replies from
pinging anyone.

The risk reading comes from the learned risk model (bot.engine.risk). Without one (its file
missing or broken) a short list of explicit phrases stands in, so a crisis is never missed
for want of a file; the operator is warned about that at start-up.
"""

from __future__ import annotations

import functools
import re

from bot.engine.risk import NO_RISK, Risk, RiskModel
from bot.engine.text import MAX_QUERY_CHARS, clean, strip_invisible, words

CRISIS_RESOURCES = (
    "• US: call or text **988** (Suicide & Crisis Lifeline), or chat at 988lifeline.org.",
    "• In immediate danger, or if you have taken something: call emergency services now "
    "(911 in the US and Canada, 112 in the EU, 999 in the UK).",
    "• Other countries: find a local helpline at findahelpline.com.",
)
US_RESOURCES = CRISIS_RESOURCES  # the name the Discord /about card uses
DEFAULT_CRISIS_LEAD = ("It sounds like you may be going through something really painful, and "
                       "you deserve support right now. Please reach out to a person who can help:")
CRISIS_TAIL = ("I'm only an FAQ bot and can't help in a crisis, but the people at these lines "
               "can, any time of day.")
EMERGENCY_LEAD = ("This sounds like it could be a medical emergency. If someone has taken too "
                  "much of something, or has trouble breathing, chest pain, blue lips, a "
                  "racing heart or can't stay awake:")
EMERGENCY_RESOURCES = (
    "• Call emergency services now: **911** in the US and Canada, **112** in the EU, **999** "
    "in the UK. Stay with the person and tell them exactly what was taken.",
    "• Poison Help (US): **1-800-222-1222**, any time; elsewhere, your local poison centre.",
    "• If this is about wanting to hurt yourself: call or text **988** (US), or find a local "
    "helpline at findahelpline.com.",
)
EMERGENCY_TAIL = "I'm only an FAQ bot and can't help in an emergency: please call now."
RESOURCES_LINE = ("If this touches you or someone close to you, support is there any time: "
                  "call or text 988 (US), or find a local helpline at findahelpline.com.")
ENGLISH_ONLY = ("Sorry, I can only answer in English. If you need support in your own "
                "language, you can find a local helpline at findahelpline.com.")


def flat(text: str) -> str:
    """Words of the cleaned text joined by single spaces."""
    return _flat(text[: MAX_QUERY_CHARS * 4])  # clean() reads no further; keeps the cache small


@functools.lru_cache(maxsize=1024)  # the same message is checked by several routes
def _flat(text: str) -> str:
    return " ".join(words(clean(text)))


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


# Only used when no risk model could be loaded: explicit first-person phrases, nothing subtle.
_FALLBACK_CRISIS = _any(
    r"\b(?:kill|hurt|cut) (?:myself|my self)\b", r"\bsuicid", r"\b(?:end|take) my (?:own )?life\b",
    r"\b(?:want|wanna|going) to die\b", r"\bkms\b", r"\bunalive\b")
_FALLBACK_EMERGENCY = _any(
    r"\boverdos", r"\b(?:took|taken|swallowed) (?:all|the whole|a bottle|\d+)",
    r"\b(?:cant|can t|not) breath", r"\bturning blue\b", r"\bwont wake up\b")


class SafetyNet:
    """Reads each message for risk. `model` is the trained risk model (None: fallback list)."""

    def __init__(self, model: RiskModel | None = None):
        self.model = model

    @functools.lru_cache(maxsize=1024)  # noqa: B019  (one per process; bounded)
    def assess(self, text: str) -> Risk:
        """The graded reading of `text` (only its first few thousand characters)."""
        text = text[: MAX_QUERY_CHARS * 4]
        if self.model is not None:
            return self.model.assess(text)
        flat_text = flat(text)
        if _FALLBACK_EMERGENCY.search(flat_text):
            return Risk("emergency", 1.0, 1.0, signal=True)
        if _FALLBACK_CRISIS.search(flat_text):
            return Risk("crisis", 1.0, 1.0, signal=True)
        return NO_RISK


def crisis_text(lead: str = "") -> str:
    """The crisis reply: a lead-in (configurable) and resources that cannot be switched off."""
    return "\n".join([lead.strip() or DEFAULT_CRISIS_LEAD, *CRISIS_RESOURCES, CRISIS_TAIL])


def emergency_text() -> str:
    """The emergency reply: emergency services first, then Poison Help and the crisis lines."""
    return "\n".join([EMERGENCY_LEAD, *EMERGENCY_RESOURCES, EMERGENCY_TAIL])


_PERSONAL = _any(
    r"\bhow (?:much|many) (?:\w+ ){0,2}(?:should|can|do|would|must|could) i (?:take|use|give|"
    r"have to take|need to take)\b",
    r"\b(?:what|which) (?:dose|dosage|amount|strength) (?:\w+ ){0,3}(?:should|do|would|can|"
    r"could) i\b",
    r"\b(?:right|correct|safe|best|ideal|my) (?:dose|dosage) (?:is )?for me\b",
    r"\bdose for (?:me|my|someone my)\b", r"\b\d+ ?(?:kg|kgs|lbs|pounds)\b",
    r"\b(?:double|increase|raise|lower|reduce|up|change|skip|split|halve) my (?:dose|dosage|"
    r"medication|medications|meds|prescription)\b",
    r"\b(?:can|should|could|do i have to|do i need to) i? ?(?:stop|quit|come off|go off|taper|"
    r"skip|halve|reduce|increase|double|mix|combine|pause) (?:my|taking)\b",
    r"\b(?:can|should|could) i take (?:my )?(?:\w+ ){1,2}(?:with|before|after|alongside|on "
    r"the same day as) (?:ketamine|k|my infusion|an infusion|the infusion|infusions|"
    r"my ketamine)\b",
    r"\bis (?:it|ketamine|an infusion|this|that|the treatment) (?:\w+ )?(?:safe|ok|okay|"
    r"dangerous|risky) for me\b",
    r"\b(?:safe|ok|okay|dangerous|risky) for me (?:with|given|if|since|because|to)\b",
    r"\bshould i (?:get|try|do|have|start|go for|book|stop) (?:ketamine|an infusion|"
    r"infusions|treatment|the treatment|this)\b",
    r"\b(?:do|could|might) i have (?:depression|ptsd|ocd|bipolar|crps|fibromyalgia|anxiety|"
    r"trd|treatment resistant depression)\b",
    r"\bam i (?:depressed|bipolar|addicted)\b",
    r"\bdiagnose me\b",
    # decisions about one's own medicines, doses and treatment plan
    r"\bshould i (?:take|skip|stop|keep taking|come off|go off|taper|pause|"
    r"ask for|push for|get them|double|halve|up|lower|increase|reduce)\b",
    r"\b(?:can|could|should) i (?:still )?(?:take|give|share|split|double) (?:my|two|\d+|"
    r"them|it|these|those|leftover|the rest)\b",
    r"\b(?:is it|would it be|its) (?:ok|okay|safe|fine|alright) (?:for me )?to (?:take|give|"
    r"use|mix|combine|skip|stop|drink|drive)\b",
    r"\b(?:ok|okay|safe|fine|alright) (?:with|before|after) my (?:infusion|treatment|session|"
    r"appointment)\b",
    r"\b(?:dose|dosage|amount|mg) (?:\w+ ){0,3}(?:is )?(?:safe|right|best|ok|okay) for me\b",
    r"\bgood idea for me\b", r"\bsafe for me\b",
    r"\b(?:what|which) (?:dose|dosage|amount) (?:is|would be) (?:safe|right|best) for\b",
    r"\b(?:i have|i ve got|ive got|i m|im|i am) (?:\w+ ){0,4}(?:can|could|should) i (?:still )?"
    r"(?:get|do|have|go|try|start|continue)\b",
    r"\bdo i need to (?:stop|come off|taper|skip|pause) (?:my|taking|the)\b",
    # whether it is safe with one's own medicines: a safety or interaction word and "my meds"
    # or "i'm on <something>" in one message
    r"\b(?:safe|ok|okay|fine|dangerous|risky|interact|interaction|interactions|mix|combine)\b"
    r".*\b(?:my (?:meds|medications?|medicines?|pills|prescriptions?|antidepressants?)|"
    r"(?:im|i am|i m) (?:on|taking) \w+)",
    r"\b(?:my (?:meds|medications?|medicines?|pills|prescriptions?|antidepressants?)|"
    r"(?:im|i am|i m) (?:on|taking) \w+)\b.*\b(?:safe|ok|okay|dangerous|risky|interact|"
    r"interaction|interactions|mix|combine)\b",
)


def is_personal_decision(text: str) -> bool:
    """True for personal dosing, medication changes, "is it safe for me", self-diagnosis."""
    return bool(_PERSONAL.search(flat(text)))


_MASS_MENTION = re.compile(r"@(everyone|here)\b", re.IGNORECASE)
_ENTITY_MENTION = re.compile(r"<(@[!&]?|#)(\d+)>")


def neutralize_mentions(text: str) -> str:
    """Break @everyone, @here and <@…>/<@&…>/<#…> mentions so they can never ping."""
    text = strip_invisible(text)
    text = _MASS_MENTION.sub(lambda m: "@\u02cc" + m.group(1), text)
    return _ENTITY_MENTION.sub(lambda m: f"‹{m.group(1)}{m.group(2)}›", text)
