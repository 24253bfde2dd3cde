"""Small talk and follow-up commands recognised without retrieval."""

from __future__ import annotations

import re

from bot.conversation.safety import flat

_GREETING = r"(?:hi|hello|hey|heya|hiya|howdy|yo|sup|good (?:morning|afternoon|evening)|greetings)"
_THANKS = r"(?:thanks|thank you|thx|ty|cheers|much appreciated|thanks a lot|thank you so much)"
_BYE = r"(?:bye|goodbye|good bye|see you|see ya|cya|later|im done|that s all|thats all)"
_HELP = (r"(?:help|commands|what can i ask|what can you do|what do you know|how does this work|"
         r"what can i ask you|what should i ask|how do i use this|menu|options)")
_WHO = (r"(?:who are you|what are you|are you a bot|are you human|are you a person|"
        r"are you real|whats your name|what is your name|who made you|are you a doctor|"
        r"are you ai)")
_TAIL = r"(?: there| all| everyone| bot| faqbot| again| so much| very much)?"

KINDS = {
    "greeting": re.compile(rf"^(?:{_GREETING}){_TAIL}$"),
    "thanks": re.compile(rf"^(?:(?:ok|okay|great|awesome|perfect|cool) )?{_THANKS}{_TAIL}$"),
    "goodbye": re.compile(rf"^(?:(?:ok|okay) )?(?:{_BYE}){_TAIL}$"),
    "help": re.compile(rf"^(?:{_HELP})$"),
    "who": re.compile(rf"^(?:{_WHO})$"),
}
_LEADING_GREETING = re.compile(rf"^\W*{_GREETING}{_TAIL}\b[\s,.!:;-]*", re.IGNORECASE)

YES = re.compile(r"^(?:yes|yeah|yep|yup|y|sure|correct|right|exactly|that one|yes please|"
                 r"ya|yea|ok|okay)$")
NO = re.compile(r"^(?:no|nope|nah|n|not really|neither|none|none of them|none of these)$")
MORE = re.compile(r"^(?:more|related|tell me more|what else|anything else|show related|"
                  r"related questions|more like this|see also)$")
WHY = re.compile(r"^(?:why|why that|why that answer|how did you pick that|explain|"
                 r"why this answer|how did you match that)$")
_ORDINALS = {"first": 1, "second": 2, "third": 3, "1st": 1, "2nd": 2, "3rd": 3, "one": 1,
             "two": 2, "three": 3}
_PICK = re.compile(r"^(?:option |number |no |#)?(\d{1,2}|first|second|third|1st|2nd|3rd|one|"
                   r"two|three)(?: one| option| please)?$")


def small_talk_kind(text: str) -> str | None:
    """'greeting', 'thanks', 'goodbye', 'help' or 'who' when the whole message is that."""
    flat_text = flat(text)
    for kind, pattern in KINDS.items():
        if pattern.match(flat_text):
            return kind
    return None


def strip_greeting(text: str) -> str:
    """'Hi there! How do infusions work?' -> 'How do infusions work?'"""
    stripped = _LEADING_GREETING.sub("", text, count=1)
    return stripped if stripped.strip() else text


def picked_number(text: str) -> int | None:
    """1-based option number in "2", "#2", "option 2", "the second one"."""
    match = _PICK.match(re.sub(r"^the ", "", flat(text)))
    if not match:
        return None
    token = match.group(1)
    return int(token) if token.isdigit() else _ORDINALS[token]


def is_match(pattern: re.Pattern[str], text: str) -> bool:
    return bool(pattern.match(flat(text)))
