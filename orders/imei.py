"""What an IMEI is: 15 ASCII digits whose last is the Luhn check digit of the first 14.

The one definition the import, the IMEI search, the fake provider and the tests share.
"""

import re

IMEI_LENGTH = 15
# Excel writes long numbers as 3.52E+14 (or 3,52E+14 where the comma is the decimal mark).
SCIENTIFIC = re.compile(r"[0-9]+([.,][0-9]*)?[eE]\+?[0-9]+")
# Staff write IMEIs as `35 337008 008945 9` or `35-337008-008945-9`.
SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")
ASCII_DIGITS = re.compile(r"[0-9]*")


def check_digit(body):
    """The Luhn check digit (a one-character string) for the 14 digits of `body`."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (1 if i % 2 else 2)
        total += d - 9 if d > 9 else d
    return str(-total % 10)


def luhn_valid(digits):
    return check_digit(digits[:-1]) == digits[-1]


def with_check_digit(body):
    return body + check_digit(body)


def check(raw):
    """(imei, None) for a good value, (None, what is wrong) for a bad one."""
    imei, _, problem = diagnose(raw)
    return imei, problem


EXCEL_NOTATION = (
    "was turned into scientific notation by Excel; the digits are lost. "
    "Format the column as Text and export again."
)


class Problem:
    """The kinds of bad value, for counting them (`diagnose`'s second item)."""

    SCIENTIFIC = "scientific"
    CHARACTERS = "characters"
    LENGTH = "length"
    CHECK_DIGIT = "check_digit"


def diagnose(raw):
    """(imei, None, None) for a good value, (None, Problem kind, what is wrong) for a bad one.

    A value that fails only its check digit names the check digit its first 14 digits need:
    a typo in the last digit is then fixed at a glance.
    """
    if SCIENTIFIC.fullmatch(raw):
        return None, Problem.SCIENTIFIC, EXCEL_NOTATION
    value = SEPARATORS.sub("", raw)
    if not ASCII_DIGITS.fullmatch(value):
        return None, Problem.CHARACTERS, "contains characters other than digits"
    if len(value) != IMEI_LENGTH:
        digits = "digit" if len(value) == 1 else "digits"
        return None, Problem.LENGTH, f"has {len(value)} {digits}; an IMEI has {IMEI_LENGTH}"
    if not luhn_valid(value):
        expected = f"expected check digit {check_digit(value[:-1])}, not {value[-1]}"
        return None, Problem.CHECK_DIGIT, f"fails the IMEI check digit (Luhn): {expected}"
    return value, None, None


# Between values staff paste: line breaks, commas, semicolons, tabs (a column or a row copied
# from Excel). Spaces and dashes may also sit inside one IMEI (`351-669784 801844`).
PASTE_SEPARATORS = re.compile(r"[,;\t]+")


def pasted_values(text):
    """(line number, value) of each value in pasted text, in the order pasted.

    Words split by spaces are joined while together they make at most 15 digits, so
    `35 337008 008945 9` is one value and `353370080089459 353370080089467` two. A word
    with other characters than digits and dashes stands alone (and fails the check).
    """
    for number, line in enumerate(text.splitlines(), start=1):
        for piece in PASTE_SEPARATORS.split(line):
            for value in join_split_words(piece.split()):
                yield number, value


def join_split_words(words):
    group, digits = [], 0
    for word in words:
        bare = SEPARATORS.sub("", word)
        if not bare or not ASCII_DIGITS.fullmatch(bare):
            if group:
                yield " ".join(group)
            group, digits = [], 0
            yield word
            continue
        if group and digits + len(bare) > IMEI_LENGTH:
            yield " ".join(group)
            group, digits = [], 0
        group.append(word)
        digits += len(bare)
        if digits >= IMEI_LENGTH:
            yield " ".join(group)
            group, digits = [], 0
    if group:
        yield " ".join(group)
