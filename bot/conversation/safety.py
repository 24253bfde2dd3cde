"""Safety routing that runs before retrieval: crisis signals and personal medical decisions.
Also the output guard that keeps replies from pinging anyone.

Patterns run on "flat" text: cleaned (NFKC, casefolded, invisible characters removed), words
only, apostrophes dropped ("I'm" -> "im"), single spaces.
"""

from __future__ import annotations

import functools
import re

from bot.engine.text import MAX_QUERY_CHARS, clean, strip_invisible, words

US_RESOURCES = (
    "• US: call or text **988** (Suicide & Crisis Lifeline), or chat at 988lifeline.org.",
    "• In immediate danger, or if you have taken something: call emergency services now "
    "(911 in the US and Canada, 112 in the EU, 999 in the UK).",
    "• Other countries: find a local helpline at findahelpline.com.",
)
DEFAULT_CRISIS_LEAD = ("It sounds like you may be going through something really painful, and "
                       "you deserve support right now. Please reach out to a person who can help:")
CRISIS_TAIL = ("I'm only an FAQ bot and can't help in a crisis, but the people at these lines "
               "can, any time of day.")


def flat(text: str) -> str:
    """Words of the cleaned text joined by single spaces."""
    return _flat(text[: MAX_QUERY_CHARS * 4])  # clean() reads no further; keeps the cache small


@functools.lru_cache(maxsize=1024)  # the same message is checked by several routes
def _flat(text: str) -> str:
    return " ".join(words(clean(text)))


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


_ME = r"(?:myself|my self|me)"
_SOON = r"(?:tonight|today|now|right now|rn|this weekend|tomorrow|soon|after (?:this|i send this))"
_CRISIS = _any(
    # intent, in first person
    rf"\b(?:kill|hang|shoot|drown|poison|stab|starve) {_ME}\b",
    r"\bkms\b", r"\bunalive\b", r"\bunaliving\b",
    r"\b(?:end|take|ending|taking) (?:my|my own) life\b",
    rf"\bend (?:it|it all|things|everything)(?: \w+)? {_SOON}\b",
    r"\b(?:going to|gonna|about to|want to|wanna|ready to|decided to|plan to|planning to|"
    r"made a plan to|trying to) (?:end it|end everything|end things|die|be dead|not wake up)\b",
    r"\b(?:want|wanna|wish|hope) (?:to die|i was dead|i were dead|i could die|to be dead)\b",
    r"\b(?:dont|do not|no longer) want to (?:live|be alive|exist|wake up|be here)\b",
    r"\bwont be (?:alive|around|here) (?:by|for|much|next|anymore|tomorrow)\b",
    r"\b(?:commit|committing|attempt|attempting) suicide\b",
    r"\b(?:thinking|think|thought) (?:about|of) (?:suicide|killing myself|ending (?:it|my life))\b",
    r"\b(?:im|i am|i feel|i ve been|ive been|feeling|i keep feeling|i get|so|been) "
    r"(?:\w+ ){0,3}suicidal\b",
    r"\bsuicidal (?:rn|right now|tonight|today|again|af|and)\b", r"^suicidal\b",
    r"\bsuicide (?:note|letter|plan)\b",
    r"\b(?:plan|planning|planned|writing|prepare|preparing) (?:my|a) suicide\b",
    r"\b(?:im|i am|i m) (?:\w+ )?ending (?:it|it all|my life|everything|things)\b",
    r"\bending it (?:all|tonight|today|now|soon)\b",
    r"\b(?:never|not|dont) wake up\b",
    r"\b(?:disappear|vanish) forever\b",
    r"\b(?:done|finished) with (?:life|living)\b", r"\bdone living\b",
    r"\b(?:life|living) (?:isnt|is not|aint|is no longer) worth (?:it|living)\b",
    r"\bnot worth living\b",
    r"\bpoint (?:of|in) (?:living|going on|being alive|staying alive)\b",
    # farewells and hopelessness
    r"\b(?:this is|this will be|these are) my (?:last|final) (?:message|post|words|goodbye)\b",
    r"\bgoodbye (?:letter|letters|note|notes|message|messages)\b",
    r"\b(?:better off|happier|fine) without me\b",
    r"\b(?:no|dont see a|dont have a|cant see a|cant find a|dont see any|see no|without a) "
    r"(?:reason|point) (?:to|in|for) (?:keep )?(?:live|living|going on|being alive|be alive|"
    r"staying alive|stay alive)\b",
    r"\b(?:nobody|no one|noone) (?:will|would|is going to|gonna|is gonna) (?:even )?"
    r"(?:miss|notice|care)\b",
    r"\bbetter off (?:if i (?:was|were|am) )?(?:gone|dead|not here|not around)\b",
    r"\b(?:im|i am|i feel like|i feel like im|feel like) (?:\w+ )?(?:a burden|such a burden)\b",
    r"\bnice knowing (?:you|everyone|everybody|all of you)\b",
    r"\bgoodbye (?:world|forever|cruel world)\b",
    r"\bcant (?:go on|do this anymore|take it anymore|take this anymore|keep going|live like "
    r"this)\b",
    r"\bnobody would (?:even )?(?:notice|care|miss me)\b",
    # means and danger
    r"\b(?:took|taken|swallowed|ate|downed|drank) (?:\w+ ){0,3}(?:bottle|pack|packet|box|"
    r"handful|bunch|all) (?:of )?(?:my |the |sleeping |\w+ )?(?:pills|tablets|meds|"
    r"medication|lozenges|sleeping pills)\b",
    r"\b(?:took|taken|swallowed) (?:a |the )?whole bottle\b",
    r"\b(?:take|taking|swallow|swallowing|took|taken|swallowed|ate|downed) (?:all|every one|"
    r"\d+|a lot|too many|way too many) (?:of )?(?:my |the |these |those )?(?:\w+ )?"
    r"(?:pills|tablets|meds|medication|lozenges)\b",
    r"\b(?:overdose|overdosing|od) (?:on|tonight|today|now)\b",
    r"\b(?:going to|gonna|want to|about to|will) (?:overdose|od)\b",
    r"\bi (?:just |have |ve )?(?:overdosed|od d)\b",
    r"\bpills (?:are )?(?:lined up|ready|counted|in my hand)\b",
    r"\b(?:rope|noose) (?:is )?(?:already )?(?:tied|ready|up|around)\b",
    r"\bgun (?:in my hand|to my head|in my mouth)\b", r"\busing it on myself\b",
    r"\b(?:edge|top|side) of (?:the|a) (?:bridge|roof|building|cliff|overpass)\b",
    r"\bjump (?:off|from) (?:the|a|this) (?:bridge|roof|building|cliff|overpass)\b",
    r"\b(?:standing|sitting) on (?:the|a) (?:ledge|edge|railing)\b",
    # self-harm
    r"\b(?:cut|cutting|burn|burning|burned|hurt|hurting|harm|harming|slit|slitting|scratch|"
    r"scratching|hit|hitting) (?:myself|my self|my wrists?|my arms?|my legs?|my thighs?|"
    r"my skin)\b",
    r"\b(?:i|im|i ve|ive|been|keep|started|still) (?:\w+ ){0,2}self ?harm",
    r"\bcutting (?:again|myself|my self)\b", r"\b(?:started|start) cutting\b",
    # other languages
    r"\b(?:suicidarme|matarme|quitarme la vida|quiero morir|me quiero morir|no quiero vivir)\b",
    r"\b(?:me suicider|me tuer|en finir avec (?:la vie|ma vie)|envie de mourir|"
    r"veux mourir)\b",
    r"\b(?:mich umbringen|will sterben|nicht mehr leben)\b",
    r"\b(?:me matar|quero morrer|suicidar me)\b", r"\b(?:uccidermi|suicidarmi|voglio morire)\b",
)

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
)


def is_crisis(text: str) -> bool:
    """True when the message signals suicide or self-harm risk (the person's own)."""
    return bool(_CRISIS.search(flat(text)))


def is_personal_decision(text: str) -> bool:
    """True for personal dosing, medication changes, "is it safe for me", self-diagnosis."""
    return bool(_PERSONAL.search(flat(text)))


def crisis_text(lead: str = "") -> str:
    """The crisis reply: a lead-in (configurable) and resources that cannot be switched off."""
    return "\n".join([lead.strip() or DEFAULT_CRISIS_LEAD, *US_RESOURCES, CRISIS_TAIL])


_MASS_MENTION = re.compile(r"@(everyone|here)\b", re.IGNORECASE)
_ENTITY_MENTION = re.compile(r"<(@[!&]?|#)(\d+)>")


def neutralize_mentions(text: str) -> str:
    """Break @everyone, @here and <@…>/<@&…>/<#…> mentions so they can never ping."""
    text = strip_invisible(text)
    text = _MASS_MENTION.sub(lambda m: "@\u02cc" + m.group(1), text)
    return _ENTITY_MENTION.sub(lambda m: f"‹{m.group(1)}{m.group(2)}›", text)
