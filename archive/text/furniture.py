"""Newsroom furniture that every outlet writes in its own words, found by its form. Pure functions.

Learned boilerplate (``archive.text.boilerplate``) removes what one outlet repeats word for
word. Some furniture never repeats: each editorial note says what was corrected ("This story has
been updated to include comments from the White House."), each reader call-out asks its own
question before the newsroom's address ("Do you live in Finland or Sweden? ... Email
haveyoursay@bbc.co.uk."), each staff bio names its writer. What they share is their form, the
same at every outlet, and that form is what this module looks for, sentence by sentence (scraped
text often has no line breaks, so whole-line rules in ``archive.text.clean`` never see them):

- editorial notes: "This story/article has been (or was) updated/amended/corrected ...",
  "Correction: ...", "Editor's note: ...", "An earlier version of this story ...";
- reader call-outs: a sentence that gives an e-mail address and in which the newsroom asks the
  reader ("email us", "let us know", an opening "Email ..."), with the reader questions right
  before it ("Have you been affected ...? Email us at ...");
- staff bios at the end: "Jane Doe is a correspondent for ...", starting among the last sentences
  and followed only by more of the bio ("She joined ...", "Follow her on Twitter");
- link and promo markers: "Follow us/him on Twitter ...", "Download the ... app ...", "Click
  here ...", "Sign up to/for ..." up to the account handle, "Read more:" with the headline it
  links when the headline ends where glued text begins, copyright lines.

Each rule starts a sentence (or a glued piece of one, cut as ``boilerplate`` cuts them), so the same
words inside reporting ("citizens who download the app can type...") are left alone; a quotation is
never touched, nor words attributed to someone ("Download the Diia app ..., officials urged").
"""

from __future__ import annotations

import bisect
import re

from archive.text.boilerplate import OPENERS, drop_spans, glued_pieces, is_quotation
from archive.text.chunk import split_sentences

BIO_WITHIN_LAST = 4  # a staff bio starts among the last sentences of an article
QUESTIONS_BEFORE = 3  # reader questions taken with the call-out that follows them
SIGN_UP_MAX_WORDS = 30  # a sign-up promo glued to prose ends at its account handle within this many words
PROMO_MAX_WORDS = 20  # a promo piece this short is removed whole; a longer one is a promo glued to prose
# Leading punctuation ("\u2022 ", "[", "___ ") is bounded: unbounded runs of it, tried at every colon or
# rule of a long sentence, would make the search quadratic.
_NOTE = re.compile(
    r"(?:^|[:.]\s+|(?<!_)_{2,}\s*)[\W_]{0,8}(?:(?:editor['\u2019]?s note|editors['\u2019]? note|update[^:]{0,20}|clarification)\s*:\s*)?"
    r"(?:[\W_]{0,4}correction\s*:\s*)?"
    r"this (?:story|article|report|piece|post|headline) (?:has been|was|had been|have been) "
    r"(?:updated|amended|corrected|changed|edited|clarified)\b"
    r"|^[\W_]*(?:correction|clarification|editor['\u2019]?s note)\s*:"
    # "An earlier version of this article misstated ..." (not "An earlier version of this report, released in June")
    r"|(?:^|(?<!_)_{2,}\s*)[\W_]{0,8}(?:an?|the) (?:earlier|previous|prior) version of this (?:story|article|report|piece) "
    r"(?:\w+ly )?(?:said|stated|gave|identified|misidentified|misstated|misspelled|misattributed|reported|referred|"
    r"described|included|named|used|had|was|did)\b",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]+(?:\.[\w-]+)+\b")
# The newsroom asks the reader: "let us know", "email us", "you can also send ...", or an imperative opening.
_ADDRESSES_READER = re.compile(
    r"\b(?:e-?mail|contact|write to|tell|let|send|reach|join) (?:us|me)\b|\b(?:our|my) (?:team|newsroom|reporters?)\b"
    r"|\byou can (?:also )?(?:e-?mail|send|contact|reach|write|get in touch)"
    r"|^[\W_]*(?:please )?(?:e-?mail|send|contact|write to|get in touch)\b|^[\W_]*if you\b",
    re.IGNORECASE,
)
# Reported speech or a quoted appeal ("..., the SBU said on Telegram", "officials urged residents"): reporting.
_ATTRIBUTED = re.compile(
    r"\b(?:said|says|urged|urges|told|tells|wrote|writes|read|reads|added|announced|posted|tweeted|according to|"
    r"asked|warned|appealed|called on)\b",
    re.IGNORECASE,
)
_YOU = re.compile(r"\b(?:you|your)\b", re.IGNORECASE)
# "Jane Roe is an associate editor for Example News." -- a role at a newsroom, then only more of the bio.
_BIO = re.compile(
    r"^[A-Z][\w'\u2019.-]+(?: [A-Z][\w'\u2019.-]+){1,2} (?:is|has been) (?:a|an|the|[A-Z][\w'\u2019]+'s) "
    r"[^.]{0,60}?\b(?:editor|reporter|correspondent|writer|producer|contributor|columnist|journalist)s? "
    r"(?:for|at|with|based)\b"
)
_BIO_GOES_ON = re.compile(  # what may follow a bio and go with it
    r"^[\W_]*(?:(?:he|she|they) (?:joined|covers|has covered|previously|was previously|graduated|is based|lives|"
    r"reports|writes|can be reached|has worked|worked|has (?:previously|also) )|follow (?:him|her|them|me)|"
    r"you can (?:find|follow|reach)|(?:a|an) [\w ]{0,30}(?:journalist|reporter|writer|editor), (?:he|she)|"
    r"[A-Z]\w+ (?:covers|joined|graduated|previously|has covered|is based|lives))\b",
    re.IGNORECASE,
)
_PROMO = re.compile(
    r"^[\W_]*(?:follow (?:us|him|her|me) on \w+|follow our (?:live|latest|coverage|blog|updates)\b"
    r"|follow [\w' ]{0,40}? on (?:twitter|facebook|instagram|telegram|tiktok|youtube)\b"
    r"|follow \w+[\u00b4'\u2019]s coverage\b"
    r"|download (?:the|our) [\w' ]{0,40}\bapp\b"
    r"|click here\b"
    r"|\S{0,40}[\s\u2122&]{0,6}\u00a9\s?\d{4}\b)",  # "\u00a9 2022 BBC.", "The-Wire \u2122 & \u00a9 2022 ..."
    re.IGNORECASE,
)
_SIGN_UP = re.compile(r"^[\W_]*sign up (?:to|for|here)\b", re.IGNORECASE)
_HANDLE = re.compile(r"@\w+")
_READ_MORE = re.compile(r"^[\W_]*read more\s*:\s*", re.IGNORECASE)
_WORD = re.compile(r"\w+")
# Words after which a sentence cannot have ended ("follow the Mirror's live blog", "the war in Ukraine").
_LEADS_ON = frozenset(
    ["a", "an", "and", "at", "by", "for", "from", "in", "of", "on", "or", "our", "the", "to", "with", "your"]
)
_OPENING_QUOTES = "\"'\u201c\u2018\u00ab"
_READ_MORE_MAX_WORDS = 20  # a linked headline, not a paragraph
# Any rule above needs one of these (lowercase) cues: sentences holding none are not looked at.
_CUES = (
    "updated", "amended", "corrected", "changed", "edited", "clarified", "correction", "clarification", "note:",
    "version of this", "@", "\u00a9", "follow", "download", "click", "sign up", "read more", "editor", "reporter",
    "correspondent", "writer", "producer", "contributor", "columnist", "journalist",
)  # fmt: skip


def remove_furniture(text: str) -> tuple[str, int]:
    """``text`` without editorial notes, reader call-outs, staff bios and link markers; how many went.

    Idempotent: what one removal brings to the end of the text (a bio above a copyright line) is
    looked at again, so cleaning the output removes nothing more.
    """
    total = 0
    while True:  # each round that removes something shortens the text: this ends
        cleaned, removed = _remove_once(text)
        if not removed or cleaned == text:
            return text, total
        text, total = cleaned, total + removed


def _remove_once(text: str) -> tuple[str, int]:
    cues = _cue_positions(text)
    split = split_sentences(text) if cues else []
    spans: list[tuple[int, int]] = []
    last = len(split) - 1
    for index, (start, end) in enumerate(split):
        at = bisect.bisect_left(cues, start)
        if at == len(cues) or cues[at] >= end:
            continue  # no rule can apply: most sentences
        sentence = text[start:end]
        if is_quotation(sentence):
            continue
        if (note := _NOTE.search(sentence)) is not None:  # at the start, or after a colon or a rule ("___")
            spans.append((start + note.start() + (sentence[note.start()] in ":."), end))
        elif "@" in sentence and (email := _EMAIL.search(sentence)) and _ADDRESSES_READER.search(sentence):
            call_end = _call_out_end(text, start + email.end(), end)
            if _ATTRIBUTED.search(text, start, call_end) is None:
                first = index
                while first > 0 and index - first < QUESTIONS_BEFORE and _reader_question(text, *split[first - 1]):
                    first -= 1
                spans.append((split[first][0], call_end))
        elif index > 0 and index > last - BIO_WITHIN_LAST and _is_bio(text, split[index:]):
            spans.append((start, split[last][1]))
            break
        else:
            spans.extend(_piece_spans(text, glued_pieces(text, start, end)))
    if not spans:
        return text, 0
    return drop_spans(text, spans)


def _is_bio(text: str, tail: list[tuple[int, int]]) -> bool:
    """Does ``tail`` (to the end of the text) open with a staff bio and hold nothing but more of it?"""
    (start, end), *rest = tail
    return _BIO.search(text[start:end]) is not None and all(_BIO_GOES_ON.search(text[a:b]) for a, b in rest)


def _cue_positions(text: str) -> list[int]:
    """Where the cues start in ``text``, in order (plain substring scans: far faster than one regex)."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters lowercase to two ("\u0130"): keep positions aligned
        lowered = "".join(ch.lower()[:1] for ch in text)
    found = []
    for cue in _CUES:
        at = lowered.find(cue)
        while at >= 0:
            found.append(at)
            at = lowered.find(cue, at + 1)
    return sorted(found)


def _reader_question(text: str, start: int, end: int) -> bool:
    """A short sentence asking the reader something ("Are you part of a Ukrainian family ...?")."""
    sentence = text[start:end]
    return (
        sentence.rstrip("\"'\u201d\u2019) ").endswith("?")
        and _YOU.search(sentence) is not None
        and len(_WORD.findall(sentence)) <= 30
        and not is_quotation(sentence)
    )


def _call_out_end(text: str, after_address: int, end: int) -> int:
    """Where a call-out ends: at its address when capitalised text is glued on after it, else with its sentence."""
    rest = text[after_address:end].lstrip(" .,;:)")
    return end if not rest or rest[0].islower() else end - len(rest)


def _promo_end(text: str, start: int, end: int) -> int | None:
    """Where a promo piece ends: where prose run on to it without a full stop begins, else all of it
    when short, else None (left alone).

    Prose begins at a capitalised word followed by a lowercase one (or a number), after a lowercase
    word that cannot lead on into it ("... our live blog for updates Among the wreckage ..."), or at a
    sentence opener after a word in capitals ("... at 7am BST On 31 May ...").
    """
    found = list(_WORD.finditer(text, start, end))
    words = [word.group() for word in found]
    for n in range(4, min(len(words) - 1, PROMO_MAX_WORDS + 1)):
        before, word, after = words[n - 1], words[n], words[n + 1]
        if not word[0].isupper() or word == "I" or not (after[0].islower() or after[0].isdigit()):
            continue
        after_lowercase = before.islower() and before not in _LEADS_ON
        after_capitals = before.isupper() and len(before) > 1 and word in OPENERS
        if (after_lowercase or after_capitals) and text[found[n].start() - 1] != "'":
            cut = found[n].start()
            while cut > start and text[cut - 1] in _OPENING_QUOTES:
                cut -= 1  # the quotation the prose opens with stays
            return cut
    return end if len(words) <= PROMO_MAX_WORDS else None


def _piece_spans(text: str, pieces: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Promo and link pieces of one sentence (each piece is a sentence or a glued part of one)."""
    found = []
    for start, end in pieces:
        piece = text[start:end]
        promo_end = _promo_piece_end(text, start, end)
        if promo_end is not None and _ATTRIBUTED.search(text, start, promo_end) is None:
            found.append((start, promo_end))  # (an attributed one is somebody's appeal: "..., officials urged")
        elif (marker := _READ_MORE.search(piece)) is not None:  # its headline may well say who "says" what
            headline_words = len(_WORD.findall(piece, marker.end()))
            found.append((start, end) if headline_words <= _READ_MORE_MAX_WORDS else (start, start + marker.end()))
    return found


def _promo_piece_end(text: str, start: int, end: int) -> int | None:
    """Where the promo that opens the piece ``text[start:end]`` ends; None when it opens with none."""
    piece = text[start:end]
    if _SIGN_UP.search(piece):
        handle = _HANDLE.search(text, start, end)
        if handle is not None and len(_WORD.findall(text, start, handle.start())) <= SIGN_UP_MAX_WORDS:
            return handle.end()
        return _promo_end(text, start, end)
    return _promo_end(text, start, end) if _PROMO.search(piece) else None
